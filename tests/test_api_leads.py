"""The leads, lead conversion and lead assignment API, per the API conventions (API.md)."""

import pytest

from rapport.activities.models import Activity
from rapport.contacts.models import Company, Contact
from rapport.core.models import Event
from rapport.sales.models import AssignmentRule, Deal, Lead, Pipeline


def create(client, **body):
    response = client.post("/leads", {"first_name": "Ada", "last_name": "Lead", **body})
    assert response.status_code == 201, response.json()
    return response.json()


# Creating and reading ---------------------------------------------------------------------

def test_create_read_update_delete_restore(org, api):
    client = api(org.sales_a1)
    response = client.post("/leads", {
        "first_name": "ada", "last_name": "LOVELACE", "email": "Ada@Engines.example",
        "company_name": "Analytical Engines", "country": "United Kingdom", "score": 40,
        "tags": ["hot"], "title": "Countess"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["first_name"], body["last_name"], body["email"], body["country"]) == \
        ("Ada", "Lovelace", "ada@engines.example", "GB")
    assert (body["status"], body["source"], body["score"]) == ("new", "api", 40)
    assert body["owner_id"] == org.sales_a1.pk and body["version"] == 1
    assert body["tags"] == ["hot"] and body["converted_at"] is None
    assert response.headers["ETag"] == '"1"'
    assert client.get(f"/leads/{body['id']}").json() == body

    patched = client.patch(f"/leads/{body['id']}", {"status": "working", "score": 55},
                           headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = client.patch(f"/leads/{body['id']}", {"score": 1}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_conflict"
    assert client.get(f"/leads/{body['id']}").json()["score"] == 55

    assert client.delete(f"/leads/{body['id']}").status_code == 204
    assert client.get(f"/leads/{body['id']}").status_code == 404
    restored = client.post(f"/leads/{body['id']}/restore")
    assert restored.status_code == 200 and restored.json()["id"] == body["id"]
    assert list(Event.objects.filter(object_type="lead").values_list("type", flat=True)
                .order_by("id")) == ["lead.created", "lead.assigned", "lead.updated",
                                     "lead.deleted", "lead.restored"]


def test_idempotency_key_creates_once(org, api):
    client = api()
    first = client.post("/leads", {"email": "once@corp.example"}, headers={"Idempotency-Key": "k1"})
    again = client.post("/leads", {"email": "once@corp.example"}, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({}, "first_name"),
    ({"email": "nope"}, "email"),
    ({"first_name": 12}, "first_name"),
    ({"first_name": "A", "status": "disqualified"}, "disqualified_reason"),
    ({"first_name": "A", "score": "high"}, "score"),
    ({"first_name": "A", "source": "tv"}, "source"),
    ({"first_name": "A", "country": "Narnia"}, "country"),
    ({"first_name": "A", "owner_id": 999999}, "owner_id"),
    ({"first_name": "A", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"first_name": "A", "converted_at": "2026-01-01T00:00:00Z"}, "converted_at"),
])
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(org, api, body, field):
    response = api().post("/leads", body)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert not Lead.all_objects.exists()
    assert not Event.objects.filter(object_type="lead").exists()


# Scopes -----------------------------------------------------------------------------------

def test_a_seller_cannot_reach_another_sellers_lead(org, api):
    theirs = create(api(org.sales_a2), email="theirs@corp.example")
    mine = create(api(org.sales_a1))
    seller = api(org.sales_a1)
    assert seller.get(f"/leads/{theirs['id']}").status_code == 404
    assert seller.patch(f"/leads/{theirs['id']}", {"score": 1}).status_code == 404
    assert seller.delete(f"/leads/{theirs['id']}").status_code == 404
    assert seller.post(f"/leads/{theirs['id']}/convert", {}).status_code == 404
    assert [lead["id"] for lead in seller.get("/leads").json()["items"]] == [mine["id"]]
    # Their manager sees both (team), marketing sees every lead, Team B's seller neither.
    assert {lead["id"] for lead in api(org.manager_a).get("/leads").json()["items"]} == \
        {mine["id"], theirs["id"]}
    assert len(api(org.marketing).get("/leads").json()["items"]) == 2
    assert api(org.sales_b1).get("/leads").json()["items"] == []


def test_a_lead_assigned_away_is_answered_once_then_hidden(org, api):
    api().post("/lead-assignment-rules", {"name": "All to Sue", "action": "user",
                                          "user_id": org.sales_a2.pk})
    response = api(org.sales_a1).post("/leads", {"first_name": "Routed"})
    assert response.status_code == 201 and response.json()["owner_id"] == org.sales_a2.pk
    assert api(org.sales_a1).get(f"/leads/{response.json()['id']}").status_code == 404


# Lists --------------------------------------------------------------------------------------

def test_filters_sorts_and_pages(org, api):
    client = api()
    for i, (status, source, country, score) in enumerate([
            ("new", "web_form", "DE", 10), ("working", "event", "FR", 80),
            ("new", "event", "DE", 55), ("disqualified", "referral", "US", 90)]):
        create(client, last_name=f"L{i}", status=status, source=source, country=country,
               score=score, disqualified_reason="Spam" if status == "disqualified" else "")

    def names(**params):
        return [lead["last_name"] for lead in client.get("/leads", **params).json()["items"]]

    assert names(status="new", sort="last_name") == ["L0", "L2"]
    assert names(source="event", country="DE") == ["L2"]
    assert names(score__gte="50", sort="-score") == ["L3", "L1", "L2"]
    assert names(status__in="new,working", sort="score") == ["L0", "L2", "L1"]
    assert names(owner_id=str(org.admin.pk), q="L3") == ["L3"]
    assert client.get("/leads", shoe_size="44").status_code == 400
    assert client.get("/leads", sort="email").status_code == 400
    assert client.get("/leads", status="hot").status_code == 400

    seen, cursor = [], None
    while True:
        body = client.get("/leads", sort="-last_name", limit="3",
                          **({"cursor": cursor} if cursor else {})).json()
        seen += [lead["last_name"] for lead in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == ["L3", "L2", "L1", "L0"]
    assert client.get("/leads", count="true").json()["count"] == 4


def test_the_list_does_not_grow_queries_with_rows(org, api, django_assert_max_num_queries):
    client = api()
    for i in range(30):
        create(client, last_name=f"L{i}", tags=["a", f"t{i % 3}"])
    with django_assert_max_num_queries(3):  # token, user, the page
        body = client.get("/leads").json()
    assert len(body["items"]) == 30
    with django_assert_max_num_queries(4):
        assert len(client.get("/leads", q="L1", status="new").json()["items"]) == 11


# Conversion -------------------------------------------------------------------------------

def test_convert_links_what_exists_creates_the_rest_and_answers_once(org, api):
    client = api(org.sales_a1)
    contact = client.post("/contacts", {"first_name": "Hank", "email": "HANK@globex.example"}).json()
    company = client.post("/companies", {"name": "Globex", "domain": "globex.example"}).json()
    lead = create(client, first_name="Hank", last_name="Scorpio", email="hank@Globex.example")
    client.post("/activities", {"kind": "note", "body": "Wants a volcano", "lead_id": lead["id"]})
    pipeline = Pipeline.objects.get(is_default=True)

    response = client.post(f"/leads/{lead['id']}/convert", {
        "create_deal": True, "pipeline_id": pipeline.pk, "deal_name": "Volcano lair",
        "amount": "99000.00", "currency": "USD", "expected_close_date": "2027-01-31"},
        headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["contact_id"], body["contact_created"]) == (contact["id"], False)
    assert (body["company_id"], body["company_created"]) == (company["id"], False)
    assert body["activities_moved"] == 1
    deal = Deal.objects.get(pk=body["deal_id"])
    assert (deal.name, str(deal.amount), str(deal.expected_close_date)) == \
        ("Volcano lair", "99000.00", "2027-01-31")
    assert body["lead"]["status"] == "qualified" and body["lead"]["converted_at"]
    assert body["lead"]["converted_deal_id"] == deal.pk
    assert Contact.objects.count() == 1 and Company.objects.count() == 1
    assert Activity.objects.get().contact_id == contact["id"]
    deal_page = client.get(f"/deals/{deal.pk}").json()
    assert [c["contact_id"] for c in deal_page["contacts"]] == [contact["id"]]

    again = client.post(f"/leads/{lead['id']}/convert", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert Deal.objects.count() == 1


def test_convert_refusals_change_nothing(org, api):
    client = api(org.sales_a1)
    lead = create(client, email="x@corp.example", company_name="Corp")
    stale = client.post(f"/leads/{lead['id']}/convert", {}, headers={"If-Match": '"9"'})
    assert stale.status_code == 412
    no_deal = client.post(f"/leads/{lead['id']}/convert", {"deal_name": "Deal"})
    assert no_deal.status_code == 422 and "deal_name" in no_deal.json()["error"]["fields"]
    bad_deal = client.post(f"/leads/{lead['id']}/convert", {"create_deal": True, "currency": "EURO"})
    assert bad_deal.status_code == 422 and "currency" in bad_deal.json()["error"]["fields"]
    api(org.sales_b1).post("/contacts", {"first_name": "X", "email": "x@corp.example"})
    hidden = client.post(f"/leads/{lead['id']}/convert", {})
    assert hidden.status_code == 409 and "email" in hidden.json()["error"]["fields"]
    assert Contact.objects.count() == 1 and not Company.objects.exists() and not Deal.objects.exists()
    assert Lead.objects.get().converted_at is None


# Assignment rules and settings ------------------------------------------------------------

def test_assignment_rules_crud_reorder_and_settings(org, api):
    admin = api()
    response = admin.post("/lead-assignment-rules", {
        "name": "DACH", "conditions": [{"field": "country", "op": "in", "value": ["DE", "austria"]}],
        "action": "round_robin", "team_id": org.team_a.pk})
    assert response.status_code == 201, response.json()
    dach = response.json()
    assert dach["conditions"] == [{"field": "country", "op": "in", "value": ["DE", "AT"]}]
    assert (dach["position"], dach["active"], dach["match"], dach["user_id"]) == (1, True, "all", None)
    other = admin.post("/lead-assignment-rules", {"name": "Rest", "action": "user",
                                                  "user_id": org.sales_b1.pk}).json()
    reordered = admin.post("/lead-assignment-rules/reorder", {"rule_ids": [other["id"], dach["id"]]})
    assert [r["name"] for r in reordered.json()["items"]] == ["Rest", "DACH"]
    version = reordered.json()["items"][1]["version"]
    assert version == dach["version"] + 1  # moving a rule is a change of it
    patched = admin.patch(f"/lead-assignment-rules/{dach['id']}", {"active": False},
                          headers={"If-Match": f'"{version}"'})
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert admin.patch(f"/lead-assignment-rules/{dach['id']}", {"active": True},
                       headers={"If-Match": f'"{version}"'}).status_code == 412

    bad = admin.post("/lead-assignment-rules", {"name": "Bad", "action": "user", "user_id": org.admin.pk,
                                                "conditions": [{"field": "score", "op": "starts_with",
                                                                "value": "1"}]})
    assert bad.status_code == 422 and "conditions[0].op" in bad.json()["error"]["fields"]
    assert api(org.manager_a).post("/lead-assignment-rules", {"name": "X", "action": "user",
                                                              "user_id": org.admin.pk}).status_code == 403
    assert len(api(org.sales_a1).get("/lead-assignment-rules").json()["items"]) == 2

    assert admin.get("/lead-settings").json()["fallback_owner_id"] is None
    assert admin.patch("/lead-settings", {"fallback_owner_id": org.manager_a.pk}).json() \
        ["fallback_owner_id"] == org.manager_a.pk
    assert api(org.sales_a1).patch("/lead-settings", {"fallback_owner_id": None}).status_code == 403
    assert admin.delete(f"/lead-assignment-rules/{other['id']}").status_code == 204
    assert admin.get(f"/lead-assignment-rules/{other['id']}").status_code == 404
    assert AssignmentRule.objects.count() == 1
    # No rule matches a French lead now: the fallback owner gets it.
    assert create(api(org.sales_a1), country="FR")["owner_id"] == org.manager_a.pk


def test_activities_attach_to_a_lead_and_filter_by_it(org, api):
    client = api(org.sales_a1)
    lead = create(client)
    note = client.post("/activities", {"kind": "note", "body": "Hi", "lead_id": lead["id"]})
    assert note.status_code == 201 and note.json()["lead_id"] == lead["id"]
    assert [a["id"] for a in client.get("/activities", lead_id=str(lead["id"])).json()["items"]] == \
        [note.json()["id"]]
    other = create(api(org.sales_b1))
    refused = client.post("/activities", {"kind": "note", "body": "Hi", "lead_id": other["id"]})
    assert refused.status_code == 422 and "lead_id" in refused.json()["error"]["fields"]
