"""Users, teams, custom fields, tags, events and activities over the API."""

import pytest

from rapport.activities.models import Activity
from rapport.core.models import CustomFieldDefinition, Event


def test_admins_manage_users_and_teams_others_get_403(org, api):
    created = api().post("/users", {"email": "New@Acme.example", "full_name": "Nia New",
                                    "role": "support", "team_id": org.team_b.pk})
    assert created.status_code == 201
    assert created.json()["email"] == "new@acme.example"
    assert api().post("/users", {"email": "new@acme.example", "full_name": "X"}).status_code == 409
    bad = api().post("/users", {"email": "x", "full_name": "", "role": "king"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"email", "full_name", "role"}

    denied = api(org.sales_a1).post("/users", {"email": "y@acme.example", "full_name": "Y"})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert api(org.sales_a1).post("/teams", {"name": "Rogue"}).status_code == 403
    assert api().post("/teams", {"name": "Team A"}).status_code == 409
    assert api().post("/teams", {"name": "Team C"}).status_code == 201
    names = [t["name"] for t in api(org.sales_a1).get("/teams").json()]
    assert names == ["Team A", "Team B", "Team C"]
    me = api(org.sales_a1).get("/users/me").json()
    assert me["email"] == "sales.a1@acme.example" and me["role"] == "sales"


def test_custom_field_types_validate_values(org, api):
    definitions = [
        ("budget", "decimal", None), ("seats", "number", None), ("renewal", "date", None),
        ("signed_at", "datetime", None), ("active", "boolean", None),
        ("channels", "multi_select", ["email", "phone"]), ("billing_email", "email", None),
        ("portal", "url", None), ("hotline", "phone", None), ("notes", "long_text", None),
    ]
    for key, type_, options in definitions:
        response = api().post("/custom-fields", {"object_type": "contact", "key": key,
                                                 "label": key.title(), "type": type_,
                                                 "options": options})
        assert response.status_code == 201, response.json()
    good = api().post("/contacts", {"first_name": "C", "custom_fields": {
        "budget": "1250.50", "seats": 12, "renewal": "2027-01-31",
        "signed_at": "2026-11-22T09:30:00+01:00", "active": True,
        "channels": ["phone", "email"], "billing_email": "AP@Corp.example",
        "portal": "portal.corp.example", "hotline": "+44 20 7946 0958", "notes": "Long\ntext",
    }})
    assert good.status_code == 201, good.json()
    assert good.json()["custom_fields"] == {
        "budget": "1250.50", "seats": 12, "renewal": "2027-01-31",
        "signed_at": "2026-11-22T08:30:00Z", "active": True, "channels": ["email", "phone"],
        "billing_email": "ap@corp.example", "portal": "https://portal.corp.example",
        "hotline": "+442079460958", "notes": "Long\ntext",
    }
    bad = api().post("/contacts", {"first_name": "C", "custom_fields": {
        "budget": "lots", "seats": 1.5, "renewal": "31/01/2027", "active": "maybe",
        "channels": ["fax"], "billing_email": "nope", "portal": "ftp://x", "hotline": "12",
    }})
    assert bad.status_code == 422
    assert len(bad.json()["error"]["fields"]) == 8
    assert api().get("/contacts", custom__seats="12").json()["items"][0]["first_name"] == "C"
    assert api().get("/contacts", custom__active="true").json()["items"]


def test_custom_field_definitions_are_validated_and_admin_only(org, api):
    assert api(org.sales_a1).post("/custom-fields", {
        "object_type": "contact", "key": "x", "label": "X", "type": "text"}).status_code == 403
    bad = api().post("/custom-fields", {"object_type": "planet", "key": "Bad Key",
                                        "label": "", "type": "colour"})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["fields"]) == {"object_type", "key", "label", "type"}
    assert api().post("/custom-fields", {"object_type": "contact", "key": "tier",
                                         "label": "Tier", "type": "select"}).status_code == 422
    ok = api().post("/custom-fields", {"object_type": "company", "key": "tier", "label": "Tier",
                                       "type": "text", "is_required": True})
    assert ok.status_code == 201
    assert api().post("/custom-fields", {"object_type": "company", "key": "tier",
                                         "label": "Tier", "type": "text"}).status_code == 409
    missing = api().post("/companies", {"name": "No Tier"})
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"] == {"custom_fields.tier": ["This field is required."]}
    assert api().delete(f"/custom-fields/{ok.json()['id']}").status_code == 204
    assert not CustomFieldDefinition.objects.exists()


def test_event_log_filters_by_pattern_and_is_admin_only(org, api):
    api().post("/contacts", {"first_name": "E"})
    api().post("/companies", {"name": "Co"})
    types = [e["type"] for e in api().get("/events", type="contact.*").json()["items"]]
    assert types == ["contact.created"]
    both = api().get("/events", type=["contact.created", "company.created"]).json()["items"]
    assert [e["type"] for e in both] == ["contact.created", "company.created"]
    assert api(org.sales_a1).get("/events").status_code == 403
    assert api().get("/events", since="not-a-date").status_code == 400


def test_notes_are_sanitised_markdown(org, api):
    contact = api().post("/contacts", {"first_name": "N"}).json()
    response = api().post("/activities", {
        "kind": "note", "contact_id": contact["id"],
        "body": "**Bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=y>",
    })
    assert response.status_code == 201, response.json()
    html = response.json()["body_html"]
    assert "<strong>Bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_activity_kinds_validate_their_own_fields(org, api):
    contact = api().post("/contacts", {"first_name": "K"}).json()
    cases = [
        ({"kind": "note", "contact_id": contact["id"]}, "body"),
        ({"kind": "note", "body": "orphan"}, "contact_id"),
        ({"kind": "meeting", "contact_id": contact["id"]}, "starts_at"),
        ({"kind": "meeting", "contact_id": contact["id"], "starts_at": "2026-12-01T10:00:00Z",
          "ends_at": "2026-12-01T09:00:00Z"}, "ends_at"),
        ({"kind": "call", "contact_id": contact["id"], "duration_seconds": -5}, "duration_seconds"),
        ({"kind": "task"}, "subject"),
        ({"kind": "party", "contact_id": contact["id"]}, "kind"),
        ({"kind": "task", "subject": "x", "due_date": "tomorrow"}, "due_date"),
    ]
    for body, field in cases:
        response = api().post("/activities", body)
        assert response.status_code == 422, (body, response.json())
        assert field in response.json()["error"]["fields"], (body, response.json())
    assert not Activity.objects.exists()


def test_meeting_downloads_as_an_ics_invitation(org, api):
    from icalendar import Calendar

    contact = api().post("/contacts", {"first_name": "M", "email": "m@corp.example"}).json()
    meeting = api().post("/activities", {
        "kind": "meeting", "contact_id": contact["id"], "subject": "Kick-off",
        "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T11:00:00Z",
        "location": "Room 1", "attendees": ["M@Corp.example"],
    }).json()
    response = api().get(f"/activities/{meeting['id']}/ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    event = Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Kick-off"
    assert event["DTSTART"].dt.isoformat() == "2026-12-01T10:00:00+00:00"
    assert str(event["ATTENDEE"]) == "mailto:m@corp.example"
    assert api().get(f"/activities/{meeting['id'] + 999}/ics").status_code == 404


def test_tasks_complete_and_filter(org, api):
    task = api(org.sales_a1).post("/activities", {"kind": "task", "subject": "Call back",
                                                  "due_date": "2026-11-30"}).json()
    assert task["assignee_id"] == org.sales_a1.pk and task["completed_at"] is None
    done = api(org.sales_a1).patch(f"/activities/{task['id']}", {"completed": True}).json()
    assert done["completed_at"] is not None
    open_items = api(org.sales_a1).get("/activities", kind="task", is_open="true").json()
    assert open_items["items"] == []
    assert api(org.sales_b1).get(f"/activities/{task['id']}").status_code == 404
    assert Event.objects.filter(type="activity.updated", object_id=task["id"]).exists()


def test_timeline_merges_activities_and_history_newest_first(org, api):
    from rapport.activities.selectors import timeline
    from rapport.contacts.models import Contact

    contact = api().post("/contacts", {"first_name": "T", "title": "A"}).json()
    api().post("/activities", {"kind": "note", "contact_id": contact["id"], "body": "hello"})
    api().patch(f"/contacts/{contact['id']}", {"title": "B"})
    items = timeline(record=Contact.objects.get(pk=contact["id"]))
    kinds = [i.event.type if i.event else i.activity.kind for i in items]
    assert kinds == ["contact.updated", "note", "contact.created"]


@pytest.mark.parametrize("path", ["/contacts", "/companies", "/activities", "/users", "/teams",
                                  "/custom-fields", "/tags", "/events"])
def test_every_collection_needs_authentication(db, path):
    from django.test import Client

    response = Client().get(f"/api/v1{path}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_openapi_document_lists_every_resource(org, api):
    from django.test import Client

    spec = Client().get("/api/v1/openapi.json").json()
    for path in ["/api/v1/contacts", "/api/v1/contacts/{contact_id}", "/api/v1/contacts/bulk",
                 "/api/v1/companies", "/api/v1/activities", "/api/v1/users", "/api/v1/teams",
                 "/api/v1/custom-fields", "/api/v1/tags", "/api/v1/events"]:
        assert path in spec["paths"], path


def test_other_lists_do_not_grow_queries_with_rows(org, api, django_assert_max_num_queries):
    contact = api().post("/contacts", {"first_name": "Q"}).json()
    for i in range(25):
        api().post("/activities", {"kind": "note", "contact_id": contact["id"], "body": f"n{i}"})
        api().post("/activities", {"kind": "task", "subject": f"t{i}",
                                   "assignee_id": org.sales_a1.pk})
    client = api()
    for path, expected in [("/activities", 50), ("/events", 50), ("/users", 6),
                           ("/custom-fields", 0), ("/tags", 0), ("/teams", 2)]:
        with django_assert_max_num_queries(6):
            body = client.get(path).json()
        items = body["items"] if isinstance(body, dict) else body
        assert len(items) == expected, path


def test_activity_pages_walk_in_order_without_repeats(org, api):
    contact = api().post("/contacts", {"first_name": "P"}).json()
    for i in range(5):
        api().post("/activities", {"kind": "call", "contact_id": contact["id"],
                                   "occurred_at": f"2026-11-0{i + 1}T10:00:00Z"})
    first = api().get("/activities", limit="2", contact_id=str(contact["id"])).json()
    rest = api().get("/activities", limit="5", contact_id=str(contact["id"]),
                     cursor=first["next_cursor"]).json()
    days = [a["occurred_at"][:10] for a in first["items"] + rest["items"]]
    assert days == ["2026-11-05", "2026-11-04", "2026-11-03", "2026-11-02", "2026-11-01"]
    assert rest["next_cursor"] is None


def test_no_two_api_schemas_share_a_name():
    """The OpenAPI document keys schemas by class name: a second `PreviewOut` would silently
    replace the first, and clients would be generated against the wrong shape."""
    import importlib
    import pkgutil

    from ninja import Schema

    import rapport

    seen: dict[str, str] = {}
    for module_info in pkgutil.walk_packages(rapport.__path__, "rapport."):
        if not module_info.name.endswith(".schemas"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__:
                assert name not in seen, f"{name} is defined in {seen[name]} and {module.__name__}"
                seen[name] = module.__name__
