"""The products, price books and quotes API, per the API conventions (shared/docs/API.md),
with the approval bypass attempts an integrator might make."""

import datetime

import pytest
from django.utils import timezone

from rapport.contacts.services import company_create, contact_create
from rapport.core.models import Event
from rapport.sales.models import Quote, QuoteStatus
from rapport.sales.services import deal_contact_add, deal_create


@pytest.fixture
def deal(org):
    company = company_create(actor=org.sales_a1, data={"name": "Globex"})
    hank = contact_create(actor=org.sales_a1, data={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example",
        "company_id": company.pk})
    deal = deal_create(actor=org.sales_a1, data={"name": "Globex renewal", "currency": "EUR",
                                                  "company_id": company.pk})
    deal_contact_add(actor=org.sales_a1, deal_id=deal.pk, contact_id=hank.pk)
    return deal


@pytest.fixture
def book(org, api):
    response = api(org.admin).post("/price-books", {"name": "Standard EUR", "currency": "EUR"})
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def widget(org, api, book):
    response = api(org.manager_a).post("/products", {
        "name": "Widget Pro", "sku": "WID-1", "tax_rate": "20",
        "prices": [{"price_book_id": book["id"], "unit_price": "120.00"}]})
    assert response.status_code == 201, response.json()
    return response.json()


def new_quote(client, deal, lines=None, **body):
    lines = lines if lines is not None else [{"name": "Consulting", "unit_price": "100.00"}]
    response = client.post("/quotes", {"deal_id": deal.pk, "lines": lines, **body})
    assert response.status_code == 201, response.json()
    return response.json()


def error(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    return response.json()["error"]


# Products and price books -----------------------------------------------------------------

def test_products_are_read_by_everyone_and_written_by_managers(org, api, book, widget):
    assert widget["sku"] == "WID-1" and widget["tax_rate"] == "20.00" and widget["active"]
    assert widget["prices"] == [{"price_book_id": book["id"], "price_book_name": "Standard EUR",
                                 "currency": "EUR", "unit_price": "120.00"}]
    listed = api(org.sales_b1).get("/products", q="widg")
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["items"]] == [widget["id"]]
    assert api(org.marketing).get(f"/products/{widget['id']}").json()["name"] == "Widget Pro"
    refused = error(api(org.sales_a1).post("/products", {"name": "Mine"}), 403)
    assert refused["code"] == "forbidden"
    error(api(org.sales_a1).patch(f"/products/{widget['id']}", {"name": "Cheap"}), 403)
    error(api(org.sales_a1).delete(f"/products/{widget['id']}"), 403)


def test_a_sku_is_unique_whatever_its_case(org, api, widget):
    taken = error(api(org.admin).post("/products", {"name": "Copy", "sku": "wid-1"}), 409)
    assert taken["code"] == "conflict" and "sku" in taken["fields"]


def test_a_product_is_patched_with_if_match_and_deleted_until_a_quote_uses_it(org, api, book,
                                                                             widget, deal):
    client = api(org.admin)
    path = f"/products/{widget['id']}"
    changed = client.patch(path, {"tax_rate": "7.5", "prices": [
        {"price_book_id": book["id"], "unit_price": "99.90"}]}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert changed.json()["prices"][0]["unit_price"] == "99.90"
    error(client.patch(path, {"name": "Stale"}, headers={"If-Match": '"1"'}), 412)
    new_quote(api(org.sales_a1), deal, [{"product_id": widget["id"]}])
    assert error(client.delete(path), 409)["fields"] == {"active": ["Set to false instead of deleting."]}
    spare = client.post("/products", {"name": "Spare"}).json()
    assert client.delete(f"/products/{spare['id']}").status_code == 204
    error(client.get(f"/products/{spare['id']}"), 404)


@pytest.mark.parametrize(("body", "field"), [
    ({}, "name"),
    ({"name": "X", "tax_rate": "101"}, "tax_rate"),
    ({"name": "X", "tax_rate": "1.234"}, "tax_rate"),
    ({"name": "X", "prices": [{"price_book_id": 999999, "unit_price": "1"}]},
     "prices[0].price_book_id"),
    ({"name": "X", "colour": "red"}, "colour"),
])
def test_bad_products_are_422s_naming_the_field(org, api, book, body, field):
    assert field in error(api(org.admin).post("/products", body), 422)["fields"]


def test_price_books_and_their_prices(org, api, book, widget):
    client = api(org.manager_a)
    assert book["is_default"] and book["price_count"] == 0
    partners = client.post("/price-books", {"name": "Partners", "currency": "EUR",
                                            "is_default": True}).json()
    books = {b["name"]: b for b in client.get("/price-books").json()["items"]}
    assert books["Partners"]["is_default"] and not books["Standard EUR"]["is_default"]
    path = f"/price-books/{partners['id']}/entries"
    created = client.post(path, {"product_id": widget["id"], "unit_price": "99.00"})
    assert created.status_code == 201 and created.json()["currency"] == "EUR"
    again = client.post(path, {"product_id": widget["id"], "unit_price": "98.00"})
    assert again.status_code == 200 and again.json()["unit_price"] == "98.00"
    page = client.get(path).json()
    assert [e["product_name"] for e in page["items"]] == ["Widget Pro"]
    patched = client.patch(f"{path}/{widget['id']}", {"unit_price": "97.50"})
    assert patched.status_code == 200 and patched.json()["unit_price"] == "97.50"
    assert client.delete(f"{path}/{widget['id']}").status_code == 204
    error(client.get(f"{path}/{widget['id']}"), 404)
    error(client.post("/price-books", {"name": "standard eur", "currency": "EUR"}), 409)
    error(client.post("/price-books", {"name": "Bad", "currency": "EURO"}), 422)
    error(api(org.sales_a1).post(path, {"product_id": widget["id"], "unit_price": "1"}), 403)


# Quotes -----------------------------------------------------------------------------------

def test_create_and_read_a_quote(org, api, deal, widget):
    body = new_quote(api(org.sales_a1), deal, [
        {"product_id": widget["id"], "quantity": "2"},
        {"name": "Setup", "unit_price": 49.99, "discount_percent": "10", "tax_rate": 0}])
    year = timezone.localdate().year
    assert body["number"] == f"Q-{year}-0001" and body["status"] == "draft"
    assert body["currency"] == "EUR" and body["deal_id"] == deal.pk
    assert (body["subtotal"], body["discount_total"], body["tax_total"], body["total"]) == (
        "289.99", "5.00", "48.00", "332.99")
    assert body["approval_required"] is False and body["approval_reasons"] == []
    assert body["public_url"] is None and body["version"] == 1
    assert [(line["name"], line["total"]) for line in body["lines"]] == [
        ("Widget Pro", "288.00"), ("Setup", "44.99")]
    assert body["valid_until"] == (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    fetched = api(org.manager_a).get(f"/quotes/{body['id']}")
    assert fetched.status_code == 200 and fetched.json() == body
    assert fetched.headers["ETag"] == '"1"'


def test_quotes_are_seen_by_whoever_sees_the_deal(org, api, deal):
    quote = new_quote(api(org.sales_a1), deal)
    for user, visible in ((org.sales_a1, True), (org.manager_a, True), (org.admin, True),
                          (org.sales_a2, False), (org.sales_b1, False)):
        listed = [q["id"] for q in api(user).get("/quotes").json()["items"]]
        assert (quote["id"] in listed) is visible
        assert api(user).get(f"/quotes/{quote['id']}").status_code == (200 if visible else 404)
    error(api(org.sales_b1).post("/quotes", {"deal_id": deal.pk}), 422)
    error(api(org.sales_b1).get(f"/quotes/{quote['id']}/pdf"), 404)


def test_the_quote_list_filters_and_pages(org, api, deal):
    client = api(org.sales_a1)
    ids = [new_quote(client, deal)["id"] for _ in range(3)]
    first = client.get("/quotes", limit="2", sort="number").json()
    second = client.get("/quotes", limit="2", sort="number", cursor=first["next_cursor"]).json()
    assert [q["id"] for q in first["items"] + second["items"]] == ids
    assert client.get("/quotes", status="sent", count="true").json()["count"] == 0
    assert len(client.get("/quotes", deal_id=str(deal.pk)).json()["items"]) == 3
    number = Quote.objects.get(pk=ids[1]).number
    assert [q["id"] for q in client.get("/quotes", q=number).json()["items"]] == [ids[1]]
    error(client.get("/quotes", colour="red"), 400)


def test_a_draft_is_patched_with_if_match_and_its_lines_replaced(org, api, deal):
    client = api(org.sales_a1)
    quote = new_quote(client, deal, [{"name": "A", "unit_price": "10"},
                                     {"name": "B", "unit_price": "20"}])
    keep = quote["lines"][1]["id"]
    changed = client.patch(f"/quotes/{quote['id']}", {
        "terms": "Net 30", "lines": [{"id": keep, "name": "B", "unit_price": "25", "quantity": 2}]},
        headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert body["version"] == 2 and body["total"] == "50.00" and body["terms"] == "Net 30"
    assert [line["id"] for line in body["lines"]] == [keep]
    stale = error(client.patch(f"/quotes/{quote['id']}", {"terms": "Net 60"},
                               headers={"If-Match": '"1"'}), 412)
    assert stale["code"] == "version_conflict"
    error(client.patch(f"/quotes/{quote['id']}", {"lines": [{"id": 999999, "name": "X",
                                                             "unit_price": "1"}]}), 422)
    twice = error(client.patch(f"/quotes/{quote['id']}", {"lines": [
        {"id": keep, "name": "B", "unit_price": "1"}, {"id": keep, "name": "C", "unit_price": "2"}]}),
        422)
    assert twice["fields"] == {"lines[1].id": ["This line is listed twice."]}
    past = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    assert "valid_until" in error(client.patch(f"/quotes/{quote['id']}", {"valid_until": past}),
                                  422)["fields"]


def test_approval_bypass_attempts_through_the_api(org, api, deal, smtp):
    seller, manager = api(org.sales_a1), api(org.manager_a)
    quote = new_quote(seller, deal, [{"name": "Licence", "unit_price": "1000",
                                      "discount_percent": "35"}])
    qid = quote["id"]
    assert quote["approval_required"] and "35 %" in quote["approval_reasons"][0]

    # 1. Send it anyway: 409 with the reason.
    refused = error(seller.post(f"/quotes/{qid}/send", {}), 409)
    assert "needs a manager's approval" in refused["message"] and "35 %" in refused["message"]
    # 2. Set the status by hand, on update or on create: not a field.
    assert error(seller.patch(f"/quotes/{qid}", {"status": "approved"}), 422)["fields"] == {
        "status": ["Unknown field."]}
    assert "status" in error(seller.post("/quotes", {"deal_id": deal.pk, "status": "approved",
                                                     "approved_by_id": org.manager_a.pk}),
                             422)["fields"]
    # 3. Approve it yourself, or before anyone asked.
    error(seller.post(f"/quotes/{qid}/approve", {}), 403)
    error(manager.post(f"/quotes/{qid}/approve", {}), 409)
    # 4. Send while it waits for approval.
    submitted = seller.post(f"/quotes/{qid}/submit", {"comment": "Strategic account"})
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending_approval"
    assert "once a manager approves" in error(seller.post(f"/quotes/{qid}/send", {}), 409)["message"]
    error(seller.patch(f"/quotes/{qid}", {"lines": [{"name": "Licence", "unit_price": "1000"}]}),
          409)
    # 5. Someone without sight of the deal approves, or rejects: it does not exist for them.
    error(api(org.sales_b1).post(f"/quotes/{qid}/approve", {}), 404)
    error(api(org.marketing).post(f"/quotes/{qid}/reject", {"comment": "No"}), 404)
    # 6. Approved, then made worse: it is no longer a draft.
    approved = manager.post(f"/quotes/{qid}/approve", {"comment": "Fine"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["approved_by_id"] == org.manager_a.pk
    error(seller.patch(f"/quotes/{qid}", {"lines": [{"name": "Licence", "unit_price": "1000",
                                                     "discount_percent": "90"}]}), 409)
    # 7. Back to a draft, and the approval no longer counts.
    assert seller.post(f"/quotes/{qid}/revise").json()["status"] == "draft"
    error(seller.post(f"/quotes/{qid}/send", {}), 409)
    assert smtp.messages == [] and Quote.objects.get(pk=qid).sent_at is None
    assert not Event.objects.filter(type="quote.sent").exists()


@pytest.mark.django_db(transaction=True)
def test_submit_approve_send_through_the_api(org, api, deal, smtp):
    seller, manager = api(org.sales_a1), api(org.manager_a)
    qid = new_quote(seller, deal, [{"name": "Licence", "unit_price": "1000",
                                    "discount_percent": "35"}])["id"]
    seller.post(f"/quotes/{qid}/submit", {})
    rejected = error(manager.post(f"/quotes/{qid}/reject", {}), 422)
    assert "comment" in rejected["fields"]
    assert manager.post(f"/quotes/{qid}/reject", {"comment": "Too much"}).json()["status"] == "draft"
    seller.post(f"/quotes/{qid}/submit", {})
    manager.post(f"/quotes/{qid}/approve", {})
    sent = seller.post(f"/quotes/{qid}/send", {"to": ["buyer@globex.example"],
                                               "win_deal_on_accept": False})
    assert sent.status_code == 200, sent.json()
    body = sent.json()
    assert body["status"] == "sent" and body["sent_to"] == ["buyer@globex.example"]
    assert body["public_url"].startswith("http://testserver/q/") and not body["win_deal_on_accept"]
    assert body["email_id"] and smtp.messages[-1]["rcpt_tos"] == ["buyer@globex.example"]
    # Before it: the approver asked twice, and the seller told of each decision.
    assert [m["rcpt_tos"] for m in smtp.messages[:-1]] == [
        [org.manager_a.email], [org.sales_a1.email], [org.manager_a.email], [org.sales_a1.email]]
    assert f"http://testserver/quotes/{qid}/" in smtp.messages[0]["raw"].decode()
    assert [e.type for e in Event.objects.filter(object_type="quote", object_id=qid).order_by("id")] == [
        "quote.created", "quote.submitted", "quote.rejected", "quote.submitted", "quote.approved",
        "quote.sent"]
    error(seller.delete(f"/quotes/{qid}"), 409)


def test_send_is_refused_for_bad_addresses_and_expired_dates(org, api, deal, smtp):
    seller = api(org.sales_a1)
    qid = new_quote(seller, deal)["id"]
    assert "to" in error(seller.post(f"/quotes/{qid}/send", {"to": ["not an address"]}),
                         422)["fields"]
    Quote.objects.filter(pk=qid).update(valid_until=timezone.localdate() - datetime.timedelta(days=2))
    assert "valid_until" in error(seller.post(f"/quotes/{qid}/send", {}), 409)["fields"]
    assert smtp.messages == []


def test_the_pdf_endpoint(org, api, deal):
    quote = new_quote(api(org.sales_a1), deal)
    response = api(org.sales_a1).get(f"/quotes/{quote['id']}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == f'attachment; filename="{quote["number"]}.pdf"'


def test_a_draft_is_deleted(org, api, deal):
    quote = new_quote(api(org.sales_a1), deal)
    assert api(org.sales_a1).delete(f"/quotes/{quote['id']}").status_code == 204
    error(api(org.sales_a1).get(f"/quotes/{quote['id']}"), 404)
    assert Event.objects.filter(type="quote.deleted", object_id=quote["id"]).exists()


def test_creating_a_quote_is_idempotent(org, api, deal):
    client = api(org.sales_a1)
    body = {"deal_id": deal.pk, "lines": [{"name": "A", "unit_price": "1"}]}
    first = client.post("/quotes", body, headers={"Idempotency-Key": "q-1"})
    again = client.post("/quotes", body, headers={"Idempotency-Key": "q-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and Quote.objects.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({}, "deal_id"),
    ({"deal_id": 999999}, "deal_id"),
    ({"deal_id": "x"}, "deal_id"),
    ({"lines": [{"name": "A", "unit_price": "1", "quantity": "-2"}]}, "lines[0].quantity"),
    ({"lines": "nope"}, "lines"),
    ({"terms": "x" * 10_001}, "terms"),
    ({"discount_percent": "100.01"}, "discount_percent"),
    ({"discount_percent": "-1"}, "discount_percent"),
    ({"discount_percent": "12.345"}, "discount_percent"),
    ({"discount_percent": "ten"}, "discount_percent"),
    ({"discount_percent": "NaN"}, "discount_percent"),
])
def test_bad_quotes_are_422s(org, api, deal, body, field):
    if "deal_id" not in body and field != "deal_id":
        body = {"deal_id": deal.pk, **body}
    assert field in error(api(org.sales_a1).post("/quotes", body), 422)["fields"]


def test_a_discount_on_the_whole_quote(org, api, deal):
    client = api(org.sales_a1)
    quote = new_quote(client, deal, [
        {"name": "A", "quantity": "3", "unit_price": "33.33", "tax_rate": "20"},
        {"name": "B", "unit_price": "100.00", "discount_percent": "10"}], discount_percent="12.5")
    # 99.99 and 90.00 after the line's 10 %: 12.5 % of 189.99 = 23.75, shared out by the nets.
    assert quote["discount_percent"] == "12.50" and quote["quote_discount_amount"] == "23.75"
    a, b = quote["lines"]
    assert (a["net_amount"], a["quote_discount_amount"], a["tax_amount"], a["total"]) == (
        "99.99", "12.50", "17.50", "104.99")
    assert (b["net_amount"], b["quote_discount_amount"], b["tax_amount"], b["total"]) == (
        "90.00", "11.25", "0.00", "78.75")
    assert (quote["subtotal"], quote["discount_total"], quote["tax_total"], quote["total"]) == (
        "199.99", "33.75", "17.50", "183.74")
    # 10 % on B and 12.5 % on everything: 21.25 % on B, over the 20 % limit.
    assert quote["max_discount_percent"] == "21.25" and quote["approval_required"]
    assert quote["approval_reasons"] == [
        "a line is discounted 21.25 % with the quote's 12.5 % discount, over the 20 % limit"]

    # The discount alone changes: the stored lines are priced again.
    changed = client.patch(f"/quotes/{quote['id']}", {"discount_percent": None},
                           headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert body["discount_percent"] == "0.00" and body["quote_discount_amount"] == "0.00"
    assert body["total"] == "209.99" and not body["approval_required"] and body["version"] == 2
    bad = error(client.patch(f"/quotes/{quote['id']}", {"discount_percent": "101"}), 422)
    assert list(bad["fields"]) == ["discount_percent"]
    assert client.get(f"/quotes/{quote['id']}").json()["version"] == 2  # nothing changed

    only_quote = new_quote(client, deal, discount_percent=25)
    assert only_quote["approval_reasons"] == ["the quote is discounted 25 %, over the 20 % limit"]


def test_quote_settings(org, api, deal):
    current = api(org.sales_a1).get("/quote-settings").json()
    assert {k: v for k, v in current.items() if k != "updated_at"} == {
        "approval_discount_limit": "20.00", "approval_total_limit": None,
        "default_valid_days": 30, "default_terms": ""}
    error(api(org.manager_a).patch("/quote-settings", {"approval_discount_limit": "50"}), 403)
    changed = api(org.admin).patch("/quote-settings", {"approval_discount_limit": "10",
                                                       "approval_total_limit": "5000",
                                                       "default_valid_days": 14,
                                                       "default_terms": "Net 30."})
    assert changed.status_code == 200 and changed.json()["approval_total_limit"] == "5000.00"
    quote = new_quote(api(org.sales_a1), deal, [{"name": "A", "unit_price": "100",
                                                 "discount_percent": "15"}])
    assert quote["approval_required"] and quote["terms"] == "Net 30."
    assert quote["valid_until"] == (timezone.localdate() + datetime.timedelta(days=14)).isoformat()
    error(api(org.admin).patch("/quote-settings", {"approval_discount_limit": "120"}), 422)
    assert quote["status"] == QuoteStatus.DRAFT
