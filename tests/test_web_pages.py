"""The server-rendered UI: every page renders, forms write through the services, scopes hold."""

import datetime

import pytest
from django.urls import reverse

from rapport.activities import services as activity_services
from rapport.activities.models import Activity
from rapport.contacts import services as contact_services
from rapport.contacts.models import Company, Contact
from rapport.core.services import custom_field_create
from tests.conftest import PASSWORD


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.fixture
def records(org):
    admin = org.admin
    company = contact_services.company_create(actor=admin, data={"name": "Acme Ltd",
                                                                 "domain": "acme.example"})
    contact = contact_services.contact_create(actor=admin, data={
        "first_name": "Grace", "last_name": "Hopper", "email": "grace@acme.example",
        "phone": "+14155550123", "company_id": company.pk, "tags": ["vip"],
    })
    contact_services.contact_update(actor=admin, contact_id=contact.pk,
                                    data={"title": "Rear Admiral"})
    meeting = activity_services.activity_create(actor=admin, data={
        "kind": "meeting", "contact_id": contact.pk, "subject": "Kick-off",
        "starts_at": "2030-01-02T10:00:00Z", "ends_at": "2030-01-02T11:00:00Z",
        "attendees": ["grace@acme.example"],
    })
    task = activity_services.activity_create(actor=admin, data={
        "kind": "task", "contact_id": contact.pk, "subject": "Send the proposal",
        "due_date": (datetime.date.today() - datetime.timedelta(days=2)).isoformat(),
    })
    return {"company": company, "contact": contact, "meeting": meeting, "task": task}


def test_every_page_renders(admin_client, records):
    contact, company = records["contact"], records["company"]
    urls = [
        reverse("home"), reverse("search"), reverse("search") + "?q=grace",
        reverse("contacts:list"), reverse("contacts:list") + "?sort=last_name&q=grace",
        reverse("contacts:create"), reverse("contacts:detail", args=[contact.pk]),
        reverse("contacts:edit", args=[contact.pk]), reverse("contacts:delete", args=[contact.pk]),
        reverse("companies:list"), reverse("companies:create"),
        reverse("companies:detail", args=[company.pk]),
        reverse("companies:edit", args=[company.pk]),
        reverse("activities:tasks"),
        reverse("activities:composer") + f"?kind=meeting&contact_id={contact.pk}",
        reverse("settings:profile"), reverse("settings:tokens"), reverse("settings:users"),
        reverse("settings:custom_fields"), reverse("settings:roles"), reverse("trash:list"),
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    htmx = admin_client.get(reverse("search") + "?q=grace", HTTP_HX_REQUEST="true")
    assert "Grace Hopper" in htmx.content.decode()
    assert "<html" not in htmx.content.decode()


def test_pages_show_the_data(admin_client, records):
    page = admin_client.get(reverse("contacts:detail", args=[records["contact"].pk])).content.decode()
    assert "Acme Ltd" in page
    assert "+1 415-555-0123" in page  # formatted for people
    assert "Kick-off" in page and "invite.ics" in page
    assert "Rear Admiral" in page and "changed" in page  # history event
    assert "Overdue" in page


def test_anonymous_is_sent_to_login(client, db):
    for url in (reverse("home"), reverse("contacts:list"), reverse("settings:tokens")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert client.get(reverse("login")).status_code == 200


def test_login_by_email_and_logout(client, org):
    response = client.post(reverse("login"), {"username": org.admin.email,
                                              "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_contact_form_shows_inline_errors_and_writes_nothing(admin_client):
    response = admin_client.post(reverse("contacts:create"), {
        "first_name": "Bad", "email": "not-an-email", "phone": "12", "lifecycle_stage": "lead",
    })
    assert response.status_code == 200
    html = response.content.decode()
    assert "field-errors" in html
    assert "Enter a valid phone number." in html
    assert Contact.all_objects.count() == 0


def test_the_form_warns_of_a_duplicate_links_it_and_saves_anyway_only_when_asked(admin_client, org):
    ada = Contact.objects.get(pk=admin_client.post(reverse("contacts:create"), {
        "first_name": "Ada", "email": "ada@example.com", "lifecycle_stage": "lead"}).url.split("/")[-2])
    again = {"first_name": "Ada L.", "email": "ADA@example.com", "lifecycle_stage": "lead"}

    warned = admin_client.post(reverse("contacts:create"), again).content.decode()

    assert "A contact with this email already exists." in warned
    assert f'href="{reverse("contacts:detail", args=[ada.pk])}"' in warned
    assert 'name="allow_duplicate" value="1"' in warned and Contact.objects.count() == 1
    saved = admin_client.post(reverse("contacts:create"), {**again, "allow_duplicate": "1"})
    assert saved.status_code == 302 and Contact.objects.filter(email="ada@example.com").count() == 2
    grace = Contact.objects.create(first_name="Grace", email="grace@example.com")
    edit = admin_client.post(reverse("contacts:edit", args=[grace.pk]), {
        "first_name": "Grace", "email": "ada@example.com", "lifecycle_stage": "lead",
        "version": grace.version}).content.decode()
    assert "A contact with this email already exists." in edit
    assert "allow_duplicate" not in edit  # an edit is never saved as a duplicate
    grace.refresh_from_db()
    assert grace.email == "grace@example.com"


def test_create_contact_and_company_through_forms(admin_client, org):
    custom_field_create(actor=org.admin, object_type="contact", key="tier", label="Tier",
                        type="select", options=["Gold", "Silver"])
    response = admin_client.post(reverse("companies:create"), {
        "name": "Initech", "website": "initech.example", "owner_id": org.admin.pk,
        "tags": "prospect, big",
    })
    company = Company.objects.get(name="Initech")
    assert response.status_code == 302
    assert response.url == reverse("companies:detail", args=[company.pk])
    assert company.domain == "initech.example"
    response = admin_client.post(reverse("contacts:create"), {
        "first_name": "Peter", "last_name": "Gibbons", "email": "Peter@Initech.example",
        "emails": "peter.g@example.com", "phone": "+1 415 555 0199", "lifecycle_stage": "customer",
        "company_id": company.pk, "owner_id": org.admin.pk, "tags": "vip, tps",
        "cf_tier": "Gold",
    })
    assert response.status_code == 302
    contact = Contact.objects.get(last_name="Gibbons")
    assert contact.email == "peter@initech.example"
    assert contact.company == company
    assert contact.custom_fields == {"tier": "Gold"}
    assert sorted(t.name for t in contact.tags.all()) == ["tps", "vip"]
    page = admin_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    assert "Gold" in page and "Initech" in page


def test_edit_with_a_stale_version_is_refused(admin_client, records):
    contact = records["contact"]
    response = admin_client.post(reverse("contacts:edit", args=[contact.pk]), {
        "first_name": "Grace", "last_name": "Changed", "lifecycle_stage": "lead",
        "version": contact.version - 1 if contact.version > 1 else 99,
    })
    assert response.status_code == 200
    assert "Someone else changed this record" in response.content.decode()
    contact.refresh_from_db()
    assert contact.last_name == "Hopper"


def test_duplicate_email_links_to_the_existing_contact(admin_client, records):
    response = admin_client.post(reverse("contacts:create"), {
        "first_name": "Other", "email": "grace@acme.example", "lifecycle_stage": "lead",
    })
    assert response.status_code == 200
    assert reverse("contacts:detail", args=[records["contact"].pk]) in response.content.decode()


def test_note_added_with_htmx_appears_in_timeline(admin_client, records):
    contact = records["contact"]
    response = admin_client.post(reverse("activities:create"), {
        "kind": "note", "contact_id": contact.pk, "body": "Met at **the conference**",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-swap-oob="afterbegin:#timeline"' in html
    assert "<strong>the conference</strong>" in html
    assert Activity.objects.filter(kind="note", contact=contact).count() == 1
    page = admin_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    assert "<strong>the conference</strong>" in page


def test_empty_note_shows_an_inline_error(admin_client, records):
    response = admin_client.post(reverse("activities:create"), {
        "kind": "note", "contact_id": records["contact"].pk, "body": "",
    }, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "field-errors" in response.content.decode()
    assert not Activity.objects.filter(kind="note").exists()


def test_task_done_and_meeting_invite(admin_client, records):
    task = records["task"]
    response = admin_client.post(reverse("activities:done", args=[task.pk]),
                                 {"done": "on", "fmt": "task"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.completed_at is not None
    invite = admin_client.get(reverse("activities:ics", args=[records["meeting"].pk]))
    assert invite["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in invite.content


def test_html_in_a_name_is_escaped(admin_client, org):
    contact = contact_services.contact_create(actor=org.admin, data={
        "first_name": "<script>alert(1)</script>", "last_name": "X"})
    html = admin_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_contact_outside_scope_is_404_and_not_listed(client, org):
    hidden = contact_services.contact_create(actor=org.sales_b1, data={
        "first_name": "Hidden", "last_name": "Person"})
    mine = contact_services.contact_create(actor=org.sales_a1, data={
        "first_name": "Visible", "last_name": "Person"})
    client.force_login(org.sales_a1)
    assert client.get(reverse("contacts:detail", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("contacts:edit", args=[hidden.pk])).status_code == 404
    listing = client.get(reverse("contacts:list")).content.decode()
    assert "Visible" in listing and "Hidden" not in listing
    assert client.get(reverse("contacts:detail", args=[mine.pk])).status_code == 200


def test_bulk_tag_and_delete(admin_client, org):
    ids = [contact_services.contact_create(actor=org.admin, data={"first_name": f"P{i}"}).pk
           for i in range(3)]
    response = admin_client.post(reverse("contacts:bulk"), {
        "ids": ids[:2], "action": "tag", "tags": "conference",
    })
    assert response.status_code == 302
    tagged = Contact.objects.filter(tags__slug="conference").values_list("pk", flat=True)
    assert sorted(tagged) == sorted(ids[:2])
    confirm = admin_client.post(reverse("contacts:bulk"), {"ids": ids, "action": "delete"})
    assert confirm.status_code == 200 and "Move to trash" in confirm.content.decode()
    assert Contact.objects.count() == 3
    admin_client.post(reverse("contacts:bulk"), {"ids": ids, "action": "delete",
                                                 "confirm": "yes"})
    assert Contact.objects.count() == 0
    trash = admin_client.get(reverse("trash:list")).content.decode()
    assert "P0" in trash


def test_bad_filter_shows_a_message(admin_client):
    response = admin_client.get(reverse("contacts:list") + "?sort=nonsense&lifecycle_stage=x")
    assert response.status_code == 200
    assert "could not be applied" in response.content.decode()


def test_saved_view_round_trip(admin_client):
    response = admin_client.post(reverse("contacts:views"),
                                 {"name": "Leads", "query": "lifecycle_stage=lead"})
    assert response.status_code == 302
    page = admin_client.get(reverse("contacts:list")).content.decode()
    assert "Leads" in page and "?lifecycle_stage=lead" in page


def test_list_page_runs_a_bounded_number_of_queries(admin_client, org,
                                                    django_assert_max_num_queries):
    company = contact_services.company_create(actor=org.admin, data={"name": "Big Co"})
    for i in range(30):
        contact_services.contact_create(actor=org.admin, data={
            "first_name": f"Person{i}", "email": f"p{i}@example.com", "company_id": company.pk,
            "tags": ["a", "b"]})
    with django_assert_max_num_queries(15):
        response = admin_client.get(reverse("contacts:list"))
    assert response.content.decode().count('name="ids"') == 30
    with django_assert_max_num_queries(15):
        admin_client.get(reverse("companies:list"))


def test_settings_admin_actions(admin_client, org):
    response = admin_client.post(reverse("settings:tokens"), {"name": "script"})
    assert response.status_code == 200 and "rap_" in response.content.decode()
    response = admin_client.post(reverse("settings:users"), {
        "add_user": "1", "user-full_name": "New Person", "user-email": "new@example.com",
        "user-role": "sales", "user-team_id": "", "user-password": ""})
    assert response.status_code == 302
    response = admin_client.post(reverse("settings:custom_fields"), {
        "object_type": "contact", "label": "Tier", "key": "tier", "type": "select",
        "options": "Gold, Silver"})
    assert response.status_code == 302
    page = admin_client.get(reverse("contacts:list")).content.decode()
    assert 'name="custom__tier"' in page


def test_non_admin_settings_are_read_only(client, org):
    client.force_login(org.sales_a1)
    page = client.get(reverse("settings:users")).content.decode()
    assert "Only admins" in page and "Add a user" not in page
    response = client.post(reverse("settings:custom_fields"), {
        "object_type": "contact", "label": "Tier", "key": "tier", "type": "text"})
    assert response.status_code == 302


def test_repeated_failed_logins_show_the_lockout_page(client, org, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post(reverse("login"), {"username": org.admin.email,
                                                  "password": "wrong-password"})
    assert "Too many failed logins" in response.content.decode()
