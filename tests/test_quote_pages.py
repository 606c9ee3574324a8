"""Quote pages: the list, a new quote, the editor (lines added, removed and totalled by the
server through htmx), a quote's page and its actions, and Settings → Products."""

import datetime
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.contacts.services import company_create, contact_create
from rapport.sales import quote_services
from rapport.sales.models import PriceBook, Product, Quote, QuoteSettings, QuoteStatus
from rapport.sales.services import deal_contact_add, deal_create

HTMX = {"HX-Request": "true"}


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
def widget(org):
    book = quote_services.price_book_create(actor=org.admin, data={"name": "Standard EUR",
                                                                   "currency": "EUR"})
    return quote_services.product_create(actor=org.admin, data={
        "name": "Widget Pro", "sku": "WID-1", "tax_rate": "20",
        "prices": [{"price_book_id": book.pk, "unit_price": "120.00"}]})


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def quote(org, deal, *lines):
    return quote_services.quote_create(actor=org.sales_a1, data={
        "deal_id": deal.pk, "lines": list(lines) or [{"name": "Consulting", "unit_price": "100"}]})


def row(name="", product="", quantity="1", price="", discount="", tax="", line_id="",
        description=""):
    return {"line_id": line_id, "line_product_id": product, "line_name": name,
            "line_quantity": quantity, "line_unit_price": price, "line_discount_percent": discount,
            "line_tax_rate": tax, "line_description": description}


def rows(*given, **header) -> dict:
    data = {key: [r[key] for r in given] for key in row()} if given else {}
    return {"version": "1", "valid_until": "", "terms": "", "contact_id": "", "price_book_id": "",
            **header, **data}


def assert_csp_clean(html: str) -> None:
    """No inline script or style: the Content-Security-Policy would block both."""
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert ' style="' not in html and "<style" not in html and " onclick=" not in html


# The list and a new quote ------------------------------------------------------------------

def test_the_list_shows_the_quotes_of_deals_you_can_see(org, deal):
    mine = quote(org, deal)
    page = browser(org.sales_a1).get("/quotes/")
    html = page.content.decode()
    assert page.status_code == 200 and mine.number in html and "Globex renewal" in html
    assert_csp_clean(html)
    assert mine.number not in browser(org.sales_a2).get("/quotes/").content.decode()
    filtered = browser(org.sales_a1).get("/quotes/", {"status": "sent"}).content.decode()
    assert mine.number not in filtered and "No quotes match" in filtered
    assert browser(org.sales_a1).get("/quotes/", {"status": "nope"}).status_code == 200


def test_a_new_quote_is_made_from_a_deal_then_edited(org, deal):
    client = browser(org.sales_a1)
    form = client.get(f"/quotes/new/?deal_id={deal.pk}").content.decode()
    assert f'<option value="{deal.pk}" selected>' in form
    response = client.post("/quotes/new/", {"deal_id": deal.pk})
    created = Quote.objects.get()
    assert response.status_code == 302 and response.url == f"/quotes/{created.pk}/edit/"
    assert created.deal == deal and created.status == QuoteStatus.DRAFT
    assert browser(org.sales_b1).post("/quotes/new/", {"deal_id": deal.pk}).status_code == 200
    assert Quote.objects.count() == 1


# The editor --------------------------------------------------------------------------------

def test_the_editor_adds_removes_and_totals_lines_on_the_server(org, deal, widget):
    draft = quote(org, deal)
    client = browser(org.sales_a1)
    page = client.get(f"/quotes/{draft.pk}/edit/")
    html = page.content.decode()
    assert page.status_code == 200 and 'hx-post="/quotes/' in html and "Consulting" in html
    assert_csp_clean(html)
    first = draft.lines.get()

    added = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row("Consulting", price="100.00", line_id=str(first.pk)), action="add"), headers=HTMX)
    assert added.status_code == 200 and added.content.decode().startswith('<div id="quote-lines"')
    assert added.content.decode().count('name="line_name"') == 2

    # A change in the form: the amounts and totals alone come back, out of band, so nothing
    # being typed is replaced. A product's price comes from the book when none is typed.
    totals = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row("Consulting", price="100.00", line_id=str(first.pk)),
        row(product=str(widget.pk), quantity="2", discount="25")), headers=HTMX).content.decode()
    assert 'name="line_name"' not in totals and 'id="line-1-result"' in totals
    assert totals.count('hx-swap-oob="true"') == 3  # two lines and the summary
    assert "Widget Pro: €120.00 each, 20 % tax" in totals
    assert "€180.00" in totals and "€36.00 tax" in totals  # 240 − 25 %, then 20 % tax
    assert "€316.00" in totals  # 100 + 180 + 36
    assert "will need a manager's approval" in totals
    # The Recalculate button (or no JavaScript at all) answers with the whole lines block.
    button = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row(product=str(widget.pk)), action="recalculate"), headers=HTMX).content.decode()
    assert button.startswith('<div id="quote-lines"') and "€120.00" in button
    plain = client.post(f"/quotes/{draft.pk}/edit/", rows(row(product=str(widget.pk)),
                                                          action="recalculate"))
    assert plain.status_code == 200 and "<html" in plain.content.decode()

    removed = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row("Consulting", price="100.00", line_id=str(first.pk)),
        row(product=str(widget.pk)), action="remove-0"), headers=HTMX).content.decode()
    assert removed.count('name="line_name"') == 1 and "Consulting" not in removed
    assert Quote.objects.get(pk=draft.pk).version == 1  # nothing saved yet


def test_saving_the_editor_stores_the_lines(org, deal, widget):
    soon = timezone.localdate() + datetime.timedelta(days=60)
    draft = quote(org, deal)
    client = browser(org.sales_a1)
    response = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row(product=str(widget.pk), quantity="2"), row("Setup", price="50"),
        terms="Net 30", valid_until=str(soon), win_deal_on_accept="on", action="save"))
    assert response.status_code == 302 and response.url == f"/quotes/{draft.pk}/"
    saved = Quote.objects.get(pk=draft.pk)
    assert saved.total == Decimal("338.00") and saved.terms == "Net 30"
    assert [line.name for line in saved.lines.order_by("position")] == ["Widget Pro", "Setup"]
    assert saved.valid_until == soon and saved.win_deal_on_accept


def test_the_editor_takes_a_discount_on_the_whole_quote(org, deal, widget):
    draft = quote(org, deal)
    client = browser(org.sales_a1)
    page = client.get(f"/quotes/{draft.pk}/edit/").content.decode()
    assert 'name="discount_percent"' in page and "Discount on the whole quote (%)" in page
    first = draft.lines.get()
    # As it is typed: the totals show the quote's discount before tax.
    totals = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row("Consulting", price="100.00", line_id=str(first.pk)),
        row(product=str(widget.pk), quantity="2", discount="15"), discount_percent="10"),
        headers=HTMX).content.decode()
    # 100 + 204 = 304; 10 % off = 30.40 (10.00 and 20.40); 20 % tax on 183.60 = 36.72.
    assert "Line discounts" in totals and "−€36.00" in totals
    assert "Quote discount (10 %)" in totals and "−€30.40" in totals
    assert "€36.72" in totals and "€310.32" in totals
    # 15 % on the line and 10 % on the quote: 23.5 %, over the 20 % limit.
    assert "a line is discounted 23.5 % with the quote&#x27;s 10 % discount" in totals
    bad = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row("Consulting", price="100.00", line_id=str(first.pk)), discount_percent="150",
        action="save"))
    assert bad.status_code == 422 and "Enter a number of at most 100" in bad.content.decode()
    saved = client.post(f"/quotes/{draft.pk}/edit/", rows(
        row("Consulting", price="100.00", line_id=str(first.pk)), discount_percent="5",
        action="save"))
    assert saved.status_code == 302
    stored = Quote.objects.get(pk=draft.pk)
    assert stored.discount_percent == Decimal("5.00") and stored.total == Decimal("95.00")
    detail = client.get(f"/quotes/{draft.pk}/").content.decode()
    assert "Quote discount (5 %)" in detail and "−€5.00" in detail
    assert 'value="5"' in client.get(f"/quotes/{draft.pk}/edit/").content.decode()


def test_the_editor_shows_what_is_wrong_with_a_line(org, deal):
    draft = quote(org, deal)
    response = browser(org.sales_a1).post(f"/quotes/{draft.pk}/edit/", rows(
        row("Fine", price="10"), row("", price=""), action="save"))
    html = response.content.decode()
    assert response.status_code == 422 and "Some lines need attention" in html
    assert "Name the product or service" in html and "Enter a unit price" in html
    assert Quote.objects.get(pk=draft.pk).lines.get().name == "Consulting"


def test_a_stale_editor_is_not_saved_over_a_newer_version(org, deal):
    draft = quote(org, deal)
    quote_services.quote_update(actor=org.sales_a1, quote_id=draft.pk, data={"terms": "Newer"})
    response = browser(org.sales_a1).post(f"/quotes/{draft.pk}/edit/", rows(
        row("Older", price="1"), version="1", action="save"))
    assert response.status_code == 409 and "Someone else changed this quote" in response.content.decode()
    assert Quote.objects.get(pk=draft.pk).terms == "Newer"


def test_only_a_draft_opens_in_the_editor(org, deal):
    sent = quote(org, deal, {"name": "Big", "unit_price": "10", "discount_percent": "50"})
    quote_services.quote_submit(actor=org.sales_a1, quote_id=sent.pk)
    response = browser(org.sales_a1).get(f"/quotes/{sent.pk}/edit/")
    assert response.status_code == 302 and response.url == f"/quotes/{sent.pk}/"


# A quote's page and its actions ------------------------------------------------------------

def test_the_quote_page_offers_what_the_status_allows(org, deal):
    big = quote(org, deal, {"name": "Big", "unit_price": "1000", "discount_percent": "40"})
    seller = browser(org.sales_a1)
    html = seller.get(f"/quotes/{big.pk}/").content.decode()
    assert_csp_clean(html)
    assert "Submit for approval" in html and "Send quote" not in html
    assert "needs a manager's approval" in html and "40 %" in html

    response = seller.post(f"/quotes/{big.pk}/submit/")
    assert response.status_code == 302
    assert "Approve" not in seller.get(f"/quotes/{big.pk}/").content.decode().split("History")[0]
    manager = browser(org.manager_a)
    assert "Approve or reject" in manager.get(f"/quotes/{big.pk}/").content.decode()

    empty_reject = manager.post(f"/quotes/{big.pk}/reject/", {"comment": ""})
    assert empty_reject.status_code == 422 and "Say why" in empty_reject.content.decode()
    manager.post(f"/quotes/{big.pk}/approve/", {"comment": "Go"})
    assert Quote.objects.get(pk=big.pk).status == QuoteStatus.APPROVED
    approved = seller.get(f"/quotes/{big.pk}/").content.decode()
    assert "Approved by Mona Manager" in approved and "Send quote" in approved
    assert "Mona Manager approved it" in approved


def test_sending_from_the_page(org, deal, smtp):
    small = quote(org, deal)
    client = browser(org.sales_a1)
    response = client.post(f"/quotes/{small.pk}/send/", {
        "to": "hank@globex.example, boss@globex.example", "subject": "", "message": "",
        "win_deal_on_accept": "on"})
    assert response.status_code == 302
    sent = Quote.objects.get(pk=small.pk)
    assert sent.status == QuoteStatus.SENT and sent.sent_to == ["hank@globex.example",
                                                                 "boss@globex.example"]
    html = client.get(f"/quotes/{small.pk}/").content.decode()
    assert "is on its way to" in html and "Copy public link" in html
    assert quote_services.public_path(sent) in html and 'data-copy="#public-link"' in html
    assert Activity.objects.filter(kind="email", deal=deal).exists()

    bad = client.post(f"/quotes/{small.pk}/send/", {"to": "not-an-address"})
    assert bad.status_code == 422 and "not-an-address" not in Quote.objects.get(pk=small.pk).sent_to


def test_sending_an_unapproved_quote_from_the_page_is_refused(org, deal, smtp):
    big = quote(org, deal, {"name": "Big", "unit_price": "1000", "discount_percent": "40"})
    response = browser(org.sales_a1).post(f"/quotes/{big.pk}/send/", {"to": "hank@globex.example"},
                                          follow=True)
    assert "needs a manager&#x27;s approval" in response.content.decode()
    assert Quote.objects.get(pk=big.pk).status == QuoteStatus.DRAFT and smtp.messages == []


def test_the_pdf_and_the_deletion_of_a_draft(org, deal):
    draft = quote(org, deal)
    client = browser(org.sales_a1)
    pdf = client.get(f"/quotes/{draft.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert browser(org.sales_b1).get(f"/quotes/{draft.pk}/").status_code == 404
    assert browser(org.sales_b1).get(f"/quotes/{draft.pk}/pdf/").status_code == 404
    response = client.post(f"/quotes/{draft.pk}/delete/")
    assert response.status_code == 302 and response.url == f"/deals/{deal.pk}/"
    assert not Quote.objects.exists()


# Settings → Products -----------------------------------------------------------------------

def test_sellers_read_the_catalogue_and_managers_change_it(org, widget):
    read_only = browser(org.sales_a1).get("/settings/products/").content.decode()
    assert "Widget Pro" in read_only and "Only admins and managers" in read_only
    assert "Add a product" not in read_only
    manager = browser(org.manager_a)
    page = manager.get("/settings/products/").content.decode()
    assert "Add a product" in page and "Price in Standard EUR (EUR)" in page
    assert_csp_clean(page)
    book = PriceBook.objects.get()
    response = manager.post("/settings/products/new/", {
        "name": "Gadget", "sku": "GAD-1", "tax_rate": "7", "description": "", "active": "on",
        f"price_{book.pk}": "15.50"})
    assert response.status_code == 302
    gadget = Product.objects.get(sku="GAD-1")
    assert gadget.prices.get().unit_price == Decimal("15.50") and gadget.tax_rate == Decimal("7")
    taken = manager.post("/settings/products/new/", {"name": "Copy", "sku": "gad-1",
                                                     "tax_rate": "", "active": "on"})
    assert taken.status_code == 422 and "exists" in taken.content.decode()
    refused = browser(org.sales_a1).post("/settings/products/new/", {"name": "Mine"}, follow=True)
    assert "Only admins and managers" in refused.content.decode()
    assert not Product.objects.filter(name="Mine").exists()


def test_a_product_is_edited_with_its_prices(org, widget):
    book = PriceBook.objects.get()
    client = browser(org.admin)
    form = client.get(f"/settings/products/{widget.pk}/").content.decode()
    assert 'value="120.00"' in form
    response = client.post(f"/settings/products/{widget.pk}/", {
        "name": "Widget Pro 2", "sku": "WID-1", "tax_rate": "20", "description": "",
        "active": "on", "version": "1", f"price_{book.pk}": ""})
    assert response.status_code == 302
    widget.refresh_from_db()
    assert widget.name == "Widget Pro 2" and not widget.prices.exists()
    bad = client.post(f"/settings/products/{widget.pk}/", {
        "name": "Widget", "tax_rate": "20", "version": str(widget.version),
        f"price_{book.pk}": "1.234"})
    assert bad.status_code == 200 and "2 decimal places" in bad.content.decode()


def test_price_books_and_approval_settings_from_the_page(org):
    admin = browser(org.admin)
    admin.post("/settings/products/price-books/", {"name": "US list", "currency": "USD",
                                                    "is_default": "on"})
    book = PriceBook.objects.get(name="US list")
    assert book.is_default and book.currency == "USD"
    admin.post(f"/settings/products/price-books/{book.pk}/", {"action": "rename",
                                                               "name": "US prices"})
    assert PriceBook.objects.get(pk=book.pk).name == "US prices"
    response = admin.post("/settings/products/quote-settings/", {
        "approval_discount_limit": "12.5", "approval_total_limit": "25000",
        "default_valid_days": "45", "default_terms": "Net 30."})
    assert response.status_code == 302
    rules = QuoteSettings.objects.get(pk=1)
    assert rules.approval_discount_limit == Decimal("12.50")
    assert rules.approval_total_limit == Decimal("25000.00") and rules.default_valid_days == 45
    manager = browser(org.manager_a)
    manager.post("/settings/products/quote-settings/", {
        "approval_discount_limit": "90", "default_valid_days": "45"})
    assert QuoteSettings.objects.get(pk=1).approval_discount_limit == Decimal("12.50")
    bad = admin.post("/settings/products/quote-settings/", {
        "approval_discount_limit": "150", "default_valid_days": "45"})
    assert bad.status_code == 422


def test_the_settings_menu_links_products(org):
    html = browser(org.sales_a1).get("/settings/products/").content.decode()
    assert 'href="/settings/products/" aria-current="page"' in html
