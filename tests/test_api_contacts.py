"""The contacts and companies API, per docs/api conventions (shared/docs/API.md)."""

import pytest

from rapport.contacts.models import Contact
from rapport.core.models import Event


def test_create_then_read_a_contact(org, api):
    response = api().post("/contacts", {
        "first_name": "  Grace ", "last_name": "Hopper", "email": "Grace@Navy.MIL",
        "phone": "(415) 555-0123", "tags": ["VIP", "vip", "pioneer"],
        "lifecycle_stage": "customer", "country": "us",
    })
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "grace@navy.mil"
    assert body["phone"] == "+14155550123"
    assert body["first_name"] == "Grace"
    assert body["country"] == "US"
    assert sorted(body["tags"]) == ["VIP", "pioneer"]
    assert body["version"] == 1 and body["owner_id"] == org.admin.pk
    assert body["created_at"].endswith("Z")
    assert response.headers["ETag"] == '"1"'

    fetched = api().get(f"/contacts/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_validation_errors_name_every_bad_field_and_write_nothing(org, api):
    response = api().post("/contacts", {
        "email": "not-an-email", "phone": "12", "lifecycle_stage": "royalty",
        "website": "javascript:alert(1)",
    })
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"email", "phone", "lifecycle_stage", "website"}
    assert error["message"] == "4 fields are invalid"
    assert not Contact.all_objects.exists()
    assert not Event.objects.filter(type="contact.created").exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"first_name": 12}, "first_name"),
    ({"first_name": "A", "shoe_size": 44}, "shoe_size"),
    ({"first_name": "A", "emails": "x@y.example"}, "emails"),
    ({"first_name": "x" * 10_000}, "first_name"),
    ({"first_name": "A", "company_id": 999999}, "company_id"),
    ({"first_name": "A", "owner_id": 999999}, "owner_id"),
    ({"first_name": "A", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"first_name": "A", "tags": ["<>"]}, "tags"),
    ({}, "first_name"),
])
def test_bad_input_is_a_422_naming_the_field(org, api, body, field):
    response = api().post("/contacts", body)
    assert response.status_code == 422, response.content
    assert field in response.json()["error"]["fields"]
    assert not Contact.all_objects.exists()


def test_malformed_json_is_a_400(org, api):
    response = api().post("/contacts", raw="{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_a_ten_megabyte_body_is_refused_cleanly(org, api):
    response = api().post("/contacts", {"first_name": "x" * 10_000_000})
    assert response.status_code in {413, 422}
    assert "error" in response.json()
    assert not Contact.all_objects.exists()


def test_html_in_a_name_is_stored_as_text(org, api):
    name = "<script>alert('x')</script>"
    response = api().post("/contacts", {"first_name": name})
    assert response.status_code == 201
    assert response.json()["first_name"] == name
    assert response["Content-Type"] == "application/json"


def test_missing_or_bad_token_is_a_401_in_the_error_shape(org, api):
    from django.test import Client

    for headers in ({}, {"Authorization": "Bearer rap_wrong"}, {"Authorization": "Basic x"}):
        response = Client().get("/api/v1/contacts", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


def test_duplicate_email_is_a_409_with_the_existing_id(org, api):
    first = api().post("/contacts", {"email": "dup@example.com"}).json()
    response = api().post("/contacts", {"email": "DUP@example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["fields"]["email"]
    assert response.json()["error"]["existing_id"] == first["id"]
    allowed = api().post("/contacts?allow_duplicate=true", {"email": "dup@example.com"})
    assert allowed.status_code == 201


def test_patch_changes_only_what_is_sent_and_records_history(org, api):
    contact = api().post("/contacts", {"first_name": "Ann", "email": "ann@x.example",
                                       "title": "CTO"}).json()
    response = api().patch(f"/contacts/{contact['id']}", {"title": "CEO"})
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "CEO" and body["email"] == "ann@x.example" and body["version"] == 2
    event = Event.objects.get(type="contact.updated", object_id=contact["id"])
    assert event.changes == {"title": ["CTO", "CEO"]}
    assert event.actor == org.admin and event.source == "api"


def test_a_stale_if_match_is_a_412_and_changes_nothing(org, api):
    contact = api().post("/contacts", {"first_name": "Ann"}).json()
    assert api().patch(f"/contacts/{contact['id']}", {"title": "A"},
                       headers={"If-Match": '"1"'}).status_code == 200
    stale = api().patch(f"/contacts/{contact['id']}", {"title": "B"},
                        headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_conflict"
    assert Contact.objects.get(pk=contact["id"]).title == "A"


def test_delete_sends_to_trash_and_restore_brings_back(org, api):
    contact = api().post("/contacts", {"first_name": "Ann"}).json()
    assert api().delete(f"/contacts/{contact['id']}").status_code == 204
    assert api().get(f"/contacts/{contact['id']}").status_code == 404
    assert api().get("/contacts").json()["items"] == []
    restored = api().post(f"/contacts/{contact['id']}/restore")
    assert restored.status_code == 200
    assert api().get(f"/contacts/{contact['id']}").status_code == 200
    types = list(Event.objects.filter(object_id=contact["id"], object_type="contact")
                 .order_by("id").values_list("type", flat=True))
    assert types == ["contact.created", "contact.deleted", "contact.restored"]


def test_idempotency_key_replays_the_first_response(org, api):
    headers = {"Idempotency-Key": "abc-123"}
    first = api().post("/contacts", {"first_name": "Once"}, headers=headers)
    again = api().post("/contacts", {"first_name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Contact.objects.count() == 1
    reused = api().post("/contacts", {"first_name": "Other"}, headers=headers)
    assert reused.status_code == 409


def test_cursor_pagination_walks_every_record_once(org, api):
    for i in range(7):
        api().post("/contacts", {"first_name": f"P{i}", "last_name": "Same"})
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "3", "sort": "last_name"}
        if cursor:
            params["cursor"] = cursor
        body = api().get("/contacts", **params).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen)  # equal last names: id breaks the tie


def test_descending_sort_on_a_datetime_pages_correctly(org, api):
    ids = [api().post("/contacts", {"first_name": f"D{i}"}).json()["id"] for i in range(5)]
    first = api().get("/contacts", limit="2", sort="-created_at").json()
    second = api().get("/contacts", limit="2", sort="-created_at",
                       cursor=first["next_cursor"]).json()
    assert [c["id"] for c in first["items"] + second["items"]] == ids[::-1][:4]


@pytest.mark.parametrize("params", [
    {"shoe_size": "44"}, {"email__regex": "x"}, {"sort": "password"}, {"limit": "0"},
    {"limit": "501"}, {"cursor": "garbage"}, {"lifecycle_stage": "royalty"},
    {"custom__nope": "1"}, {"created_at__gte": "yesterday"},
])
def test_unknown_or_bad_list_parameters_are_a_400(org, api, params):
    response = api().get("/contacts", **params)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_request"


def test_filters_tags_custom_fields_and_count(org, api):
    api().post("/custom-fields", {"object_type": "contact", "key": "tier", "label": "Tier",
                                  "type": "select", "options": ["gold", "silver"]})
    api().post("/contacts", {"first_name": "G", "lifecycle_stage": "customer",
                             "tags": ["vip"], "custom_fields": {"tier": "gold"}})
    api().post("/contacts", {"first_name": "S", "lifecycle_stage": "lead",
                             "custom_fields": {"tier": "silver"}})
    api().post("/contacts", {"first_name": "N", "lifecycle_stage": "customer"})

    def names(**params):
        return sorted(c["first_name"] for c in api().get("/contacts", **params).json()["items"])

    assert names(lifecycle_stage="customer") == ["G", "N"]
    assert names(lifecycle_stage__in="customer,lead") == ["G", "N", "S"]
    assert names(tag="vip") == ["G"]
    assert names(custom__tier="gold") == ["G"]
    assert names(first_name__contains="s") == ["S"]
    body = api().get("/contacts", count="true", lifecycle_stage="customer").json()
    assert body["count"] == 2 and body["count_is_capped"] is False
    bad = api().post("/contacts", {"first_name": "B", "custom_fields": {"tier": "bronze"}})
    assert bad.status_code == 422
    assert "custom_fields.tier" in bad.json()["error"]["fields"]


def test_search_matches_prefixes_and_ignores_accents(org, api):
    api().post("/contacts", {"first_name": "Zoë", "last_name": "Müller",
                             "email": "zoe@beispiel.example"})
    api().post("/contacts", {"first_name": "Otto", "last_name": "Other"})
    for query in ("mull", "Müll", "zoe", "ZOË muller", "beispiel"):
        items = api().get("/contacts", q=query).json()["items"]
        assert [c["last_name"] for c in items] == ["Müller"], query
    assert api().get("/contacts", q="nobody").json()["items"] == []


def test_bulk_create_reports_each_item_in_order(org, api):
    response = api().post("/contacts/bulk", {"items": [
        {"first_name": "Ok", "email": "ok@x.example"},
        {"email": "broken"},
        {"first_name": "Dup", "email": "ok@x.example"},
        {"first_name": "Extra", "bogus": 1},
        {"first_name": "Fine"},
    ]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, False, False, False, True]
    assert results[1]["error"]["fields"] == {"email": results[1]["error"]["fields"]["email"]}
    assert results[2]["error"]["code"] == "conflict"
    assert "bogus" in results[3]["error"]["fields"]
    assert Contact.objects.count() == 2


def test_bulk_refuses_more_than_a_thousand(org, api):
    response = api().post("/contacts/bulk", {"items": [{"first_name": "x"}] * 1001})
    assert response.status_code == 422
    assert Contact.objects.count() == 0


def test_list_queries_do_not_grow_with_rows(org, api, django_assert_max_num_queries):
    company = api().post("/companies", {"name": "Acme"}).json()
    for i in range(30):
        api().post("/contacts", {"first_name": f"C{i}", "company_id": company["id"],
                                 "tags": ["a", f"t{i % 3}"]})
    client = api()
    with django_assert_max_num_queries(8):
        body = client.get("/contacts", limit="30").json()
    assert len(body["items"]) == 30
    with django_assert_max_num_queries(8):
        assert len(client.get("/companies").json()["items"]) == 1


def test_company_crud_and_its_contacts(org, api):
    response = api().post("/companies", {"name": "Initech", "website": "WWW.Initech.com/about"})
    assert response.status_code == 201
    company = response.json()
    assert company["website"] == "https://www.initech.com/about"
    assert company["domain"] == "initech.com"
    api().post("/contacts", {"first_name": "Peter", "company_id": company["id"]})
    contacts = api().get(f"/companies/{company['id']}/contacts").json()["items"]
    assert [c["first_name"] for c in contacts] == ["Peter"]
    assert api().post("/companies", {"website": "x.com"}).status_code == 422
    assert api().patch(f"/companies/{company['id']}", {"name": ""}).status_code == 422
    assert api().delete(f"/companies/{company['id']}").status_code == 204
    assert api().get(f"/companies/{company['id']}").status_code == 404


def test_search_pages_follow_the_sort_and_stay_in_scope(org, api, django_assert_max_num_queries):
    acme = api(org.sales_a1).post("/companies", {"name": "Acme"}).json()
    mine = [api(org.sales_a1).post("/contacts", {
        "first_name": "Paged", "last_name": f"P{i:02}", "company_id": acme["id"], "tags": [f"t{i}"],
    }).json()["id"] for i in range(7)]
    api(org.sales_b1).post("/contacts", {"first_name": "Paged", "last_name": "Elsewhere"})

    seen, cursor = [], None
    while True:
        with django_assert_max_num_queries(8):
            body = api(org.sales_a1).get("/contacts", q="paged", sort="-last_name", limit=3,
                                         **({"cursor": cursor} if cursor else {})).json()
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [c["last_name"] for c in seen] == [f"P{i:02}" for i in reversed(range(7))]
    assert sorted(c["id"] for c in seen) == mine
    assert all(c["company_id"] == acme["id"] for c in seen)
    assert {c["last_name"]: c["tags"] for c in seen} == {f"P{i:02}": [f"t{i}"] for i in range(7)}


def test_a_very_broad_search_looks_at_the_newest_matches(org, api, monkeypatch):
    from django.db import connection

    from rapport.core import search

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite caps the matches it considers")

    monkeypatch.setattr(search, "MAX_MATCHES", 3)
    ids = [api().post("/contacts", {"first_name": "Broad", "last_name": f"N{i}"}).json()["id"]
           for i in range(5)]
    found = [c["id"] for c in api().get("/contacts", q="broad", sort="created_at").json()["items"]]
    assert found == ids[-3:]


def test_nul_characters_are_refused_before_reaching_the_database(org, api):
    assert api().post("/contacts", {"first_name": "a\u0000b"}).status_code == 422
    assert api().get("/contacts", city="a\u0000b").status_code == 422
    assert api().post("/teams", {"name": "x\u0000"}).json()["error"]["code"] == "validation_error"
    assert not Contact.all_objects.exists()


def test_writes_to_unknown_api_paths_are_json_404s_not_csrf_pages(org, api):
    for method in ("post", "patch", "delete"):
        response = getattr(api(), method)("/contacts/-1")
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"
