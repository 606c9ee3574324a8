"""Lead capture forms ("web-to-lead"): admins build them in Settings → Lead forms (or the API),
anyone fills them in at /f/<key>/, and each submission becomes one lead through lead_create,
with the form's source and tags and the assignment rules' owner. Bots are kept out by a
honeypot, a signed render time and a per-address rate limit instead of CSRF."""

import re
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rapport.core.errors import Conflict, PermissionDenied, ValidationFailed
from rapport.core.models import Event
from rapport.core.services import custom_field_create
from rapport.sales import lead_form_services as services
from rapport.sales.lead_services import assignment_rule_create
from rapport.sales.models import Lead, LeadForm

EMAIL_AND_NAME = [{"field": "first_name", "required": False},
                  {"field": "email", "required": True},
                  {"field": "company_name", "required": False}]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rule(org):
    """Every lead without an owner goes to Sam."""
    return assignment_rule_create(actor=org.admin, data={
        "name": "All to Sam", "action": "user", "user_id": org.sales_a1.pk})


def make_form(org, **data):
    return services.lead_form_create(actor=org.admin, data={
        "name": "Book a demo", "fields": EMAIL_AND_NAME, "lead_tags": ["website", "demo"],
        "thank_you_message": "Thanks, we will call you.", **data})


def url(form) -> str:
    return f"/f/{form.public_key}/"


def submit(form, data, *, seconds_ago=10, client=None, **extra):
    """Post the form as a browser would after `seconds_ago` on the page."""
    body = {"rendered": services.render_token(form, at=time.time() - seconds_ago), "url": "",
            **data}
    return (client or Client(enforce_csrf_checks=True)).post(url(form), body, **extra)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Submitting -----------------------------------------------------------------------------------

def test_a_valid_submission_makes_one_lead_with_the_forms_source_tags_and_the_rules_owner(
        org, rule):
    form = make_form(org)
    page = Client().get(url(form))
    assert page.status_code == 200
    assert 'name="rendered"' in page.content.decode() and 'name="url"' in page.content.decode()

    response = submit(form, {"first_name": " Ada ", "email": "ADA@Example.com",
                             "company_name": "Analytical Engines"})

    assert response.status_code == 302 and response.url == f"{url(form)}thanks/"
    lead = Lead.objects.get()
    assert (lead.first_name, lead.email, lead.company_name) == (
        "Ada", "ada@example.com", "Analytical Engines")
    assert lead.source == "web_form" and lead.owner == org.sales_a1 and lead.created_by is None
    assert sorted(lead.tags.values_list("name", flat=True)) == ["demo", "website"]
    form.refresh_from_db()
    assert form.submission_count == 1 and form.last_submitted_at is not None
    event = Event.objects.get(type="lead_form.submitted")
    assert event.object_id == form.pk and event.data["lead_id"] == lead.pk
    assert form.public_key not in str(event.data)
    assert Event.objects.filter(type="lead.assigned", object_id=lead.pk).exists()
    thanks = Client().get(response.url).content.decode()
    assert "Thanks, we will call you." in thanks


def test_the_forms_own_owner_takes_its_leads_and_its_source_is_kept(org, rule):
    form = make_form(org, lead_owner_id=org.sales_b1.pk, lead_source="event")
    submit(form, {"email": "bo@example.com"})
    lead = Lead.objects.get()
    assert lead.owner == org.sales_b1 and lead.source == "event"


def test_fields_not_on_the_form_are_ignored(org, rule):
    form = make_form(org)
    response = submit(form, {"email": "eve@example.com", "owner_id": str(org.admin.pk),
                             "status": "qualified", "score": "100", "phone": "+44 20 7946 0958",
                             "source": "referral", "tags": "vip", "custom_fields.x": "1",
                             "disqualified_reason": "no"})
    assert response.status_code == 302
    lead = Lead.objects.get()
    assert lead.owner == org.sales_a1 and lead.status == "new" and lead.score == 0
    assert lead.phone == "" and lead.source == "web_form" and not lead.tags.filter(name="vip").exists()


def test_a_missing_required_field_is_named_and_nothing_is_written(org, rule):
    form = make_form(org)
    response = submit(form, {"first_name": "Ada", "email": "  "})
    assert response.status_code == 422
    page = response.content.decode()
    assert re.search(r'id="lf-email-error".*This field is required', page, re.S)
    assert 'value="Ada"' in page  # what was typed stays
    assert Lead.objects.count() == 0
    form.refresh_from_db()
    assert form.submission_count == 0


def test_values_are_cleaned_by_the_lead_cleaners(org, rule):
    form = make_form(org, fields=[{"field": "email", "required": True},
                                  {"field": "country", "required": False}])
    response = submit(form, {"email": "not an email", "country": "Narnia"})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="lf-email-error"' in page and 'id="lf-country-error"' in page
    assert Lead.objects.count() == 0
    submit(form, {"email": "hans@example.de", "country": "Germany"})
    assert Lead.objects.get().country == "DE"


def test_a_filled_honeypot_is_thanked_but_makes_nothing(org, rule):
    form = make_form(org)
    response = submit(form, {"email": "bot@spam.example", "url": "http://spam.example"})
    assert response.status_code == 302 and response.url.endswith("/thanks/")
    assert Lead.objects.count() == 0
    form.refresh_from_db()
    assert (form.submission_count, form.spam_count) == (0, 1)


@pytest.mark.parametrize("seconds_ago", [0, 1])
def test_a_submission_faster_than_a_person_types_is_refused(org, rule, seconds_ago):
    form = make_form(org)
    response = submit(form, {"email": "quick@example.com"}, seconds_ago=seconds_ago)
    assert response.status_code == 422
    assert "That was quick" in response.content.decode()
    assert 'value="quick@example.com"' in response.content.decode()
    assert Lead.objects.count() == 0


def test_a_post_without_a_valid_render_time_is_refused(org, rule):
    form = make_form(org)
    other = make_form(org, name="Other")
    for token in ["", "garbage", services.render_token(other, at=time.time() - 60)]:
        response = Client().post(url(form), {"email": "x@example.com", "rendered": token})
        assert response.status_code == 422
    stale = submit(form, {"email": "x@example.com"}, seconds_ago=services.MAX_AGE + 10)
    assert stale.status_code == 422 and "open for a long time" in stale.content.decode()
    assert Lead.objects.count() == 0


def test_one_page_makes_one_lead_however_often_it_is_posted(org, rule):
    form = make_form(org)
    token = services.render_token(form, at=time.time() - 10)
    first = Client().post(url(form), {"email": "a@example.com", "rendered": token, "url": ""})
    again = Client().post(url(form), {"email": "b@example.com", "rendered": token, "url": ""})
    assert first.status_code == 302
    assert again.status_code == 422 and "sent already" in again.content.decode()
    assert list(Lead.objects.values_list("email", flat=True)) == ["a@example.com"]
    assert LeadForm.objects.get(pk=form.pk).spam_count == 1


def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit(org, rule, settings):
    settings.TRUSTED_PROXIES = 1
    form = make_form(org)
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(10):  # one visitor's spam: their own address, whatever they claim left of it
        assert submit(form, {"email": "a@example.com", "url": "spam"}, **proxy,
                      HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.7").status_code == 302
    assert submit(form, {"email": "a@example.com"}, **proxy,
                  HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    other = submit(form, {"email": "real@example.com"}, **proxy,
                   HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert other.status_code == 302 and Lead.objects.count() == 1


def test_posts_from_one_address_are_rate_limited(org, rule):
    form = make_form(org)
    for _ in range(10):
        assert submit(form, {"email": "a@example.com", "url": "spam"}).status_code == 302
    limited = submit(form, {"email": "real@example.com"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert Lead.objects.count() == 0
    other_address = submit(form, {"email": "real@example.com"}, REMOTE_ADDR="10.0.0.9")
    assert other_address.status_code == 302 and Lead.objects.count() == 1


def test_inactive_unknown_and_rotated_keys_are_not_found(org, rule):
    form = make_form(org)
    old_url = url(form)
    rotated = services.lead_form_rotate_key(actor=org.admin, form_id=form.pk)
    assert rotated.public_key != form.public_key
    assert Client().get(old_url).status_code == 404
    assert submit(form, {"email": "a@example.com"}).status_code == 404
    assert Client().get(url(rotated)).status_code == 200
    for path in ["/f/nope/", "/f/" + "x" * 32 + "/", "/f/../", f"{url(rotated)}x/"]:
        assert Client().get(path).status_code == 404
    services.lead_form_update(actor=org.admin, form_id=form.pk, data={"is_active": False})
    assert Client().get(url(rotated)).status_code == 404
    assert submit(rotated, {"email": "a@example.com"}).status_code == 404
    assert Lead.objects.count() == 0


def test_the_public_page_can_be_framed_and_needs_no_login_or_csrf_token(org, rule):
    form = make_form(org)
    response = Client(enforce_csrf_checks=True).get(url(form))
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in policy and "script-src 'self'" in policy
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "subnav" not in response.content.decode()  # no app navigation
    # The rest of the app still refuses to be framed.
    assert "frame-ancestors 'none'" in Client().get("/login/").headers["Content-Security-Policy"]


def test_a_custom_lead_field_can_be_asked(org, rule):
    custom_field_create(actor=org.admin, object_type="lead", key="budget", label="Budget",
                        type="select", options=["small", "large"])
    form = make_form(org, fields=[{"field": "email", "required": True},
                                  {"field": "custom_fields.budget", "required": True}])
    page = Client().get(url(form)).content.decode()
    assert 'name="custom_fields.budget"' in page and ">large</option>" in page
    wrong = submit(form, {"email": "c@example.com", "custom_fields.budget": "huge"})
    assert wrong.status_code == 422 and 'id="lf-custom_fields-budget-error"' in \
        wrong.content.decode()
    submit(form, {"email": "c@example.com", "custom_fields.budget": "large"})
    assert Lead.objects.get().custom_fields == {"budget": "large"}


def test_a_required_custom_field_must_be_on_the_form(org):
    custom_field_create(actor=org.admin, object_type="lead", key="region", label="Region",
                        type="text", is_required=True)
    with pytest.raises(ValidationFailed) as refused:
        make_form(org)
    assert "Region" in refused.value.fields["fields"][0]


# Settings of a form -----------------------------------------------------------------------------

@pytest.mark.parametrize("fields", [
    [], "email", [{"field": "owner_id", "required": True}], [{"field": "email"}],
    [{"field": "email", "required": "yes"}],
    [{"field": "email", "required": True}, {"field": "email", "required": False}],
    [{"field": "phone", "required": True}],
])
def test_a_form_asks_for_known_fields_and_requires_an_email_or_a_name(org, fields):
    with pytest.raises(ValidationFailed) as refused:
        make_form(org, fields=fields)
    assert "fields" in refused.value.fields
    assert LeadForm.objects.count() == 0


@pytest.mark.parametrize("address", ["javascript:alert(1)", "JavaScript:alert(1)",
                                     "data:text/html,hi", "/thanks", "ftp://example.com/x",
                                     "https://", "example.com", "https://exa mple.com"])
def test_the_redirect_address_is_http_or_https(org, address):
    with pytest.raises(ValidationFailed) as refused:
        make_form(org, redirect_url=address)
    assert refused.value.fields == {
        "redirect_url": ["Enter an address starting with http:// or https://."]}


def test_a_form_with_a_redirect_sends_people_there(org, rule):
    form = make_form(org, redirect_url="https://www.example.com/thanks?from=form")
    page = Client().get(url(form))
    assert "form-action 'self' https://www.example.com" in page.headers["Content-Security-Policy"]
    assert 'target="_top"' in page.content.decode()
    response = submit(form, {"email": "r@example.com"})
    assert response.status_code == 302
    assert response.url == "https://www.example.com/thanks?from=form"


def test_names_are_unique_and_updates_check_the_version(org):
    form = make_form(org)
    with pytest.raises(Conflict):
        make_form(org, name="BOOK A DEMO")
    services.lead_form_update(actor=org.admin, form_id=form.pk, data={"name": "Demo"},
                              expected_version=1)
    with pytest.raises(Exception) as stale:
        services.lead_form_update(actor=org.admin, form_id=form.pk, data={"name": "X"},
                                  expected_version=1)
    assert stale.value.status == 412
    assert Event.objects.filter(type="lead_form.updated").count() == 1


def test_only_admins_manage_forms(org):
    form = make_form(org)
    for user in (org.sales_a1, org.manager_a, org.marketing):
        for call, kwargs in [(services.lead_form_create, {"data": {"name": "X"}}),
                             (services.lead_form_update, {"form_id": form.pk, "data": {}}),
                             (services.lead_form_rotate_key, {"form_id": form.pk}),
                             (services.lead_form_delete, {"form_id": form.pk})]:
            with pytest.raises(PermissionDenied):
                call(actor=user, **kwargs)
    form.refresh_from_db()
    assert form.version == 1 and LeadForm.objects.count() == 1


# Settings → Lead forms ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/settings/lead-forms/", "/settings/lead-forms/new/",
                                  "/settings/lead-forms/{id}/",
                                  "/settings/lead-forms/{id}/rotate-key/",
                                  "/settings/lead-forms/{id}/delete/"])
def test_a_seller_gets_403_on_the_settings_pages(org, path):
    form = make_form(org)
    client = signed_in(org.sales_a1)
    assert client.get(path.format(id=form.pk)).status_code == 403
    assert client.post(path.format(id=form.pk), {"name": "Hacked"}).status_code == 403
    assert LeadForm.objects.get().name == "Book a demo" and LeadForm.objects.count() == 1
    assert "Lead forms" not in client.get("/settings/lead-assignment/").content.decode()


def test_the_settings_list_shows_an_empty_state_then_the_forms(org):
    client = signed_in(org.admin)
    empty = client.get("/settings/lead-forms/").content.decode()
    assert "No lead forms yet" in empty and 'href="/settings/lead-forms/new/"' in empty
    assert 'aria-current="page">Lead forms' in empty
    make_form(org)
    listed = client.get("/settings/lead-forms/").content.decode()
    assert "Book a demo" in listed and "No lead forms yet" not in listed


def test_a_form_is_built_with_the_field_picker(org, settings):
    settings.PUBLIC_URL = "https://crm.example.com"
    client = signed_in(org.admin)
    page = client.get("/settings/lead-forms/new/").content.decode()
    assert 'name="ask_email"' in page and 'name="required_email"' in page
    response = client.post("/settings/lead-forms/new/", {
        "name": "Contact sales", "lead_source": "web_form", "lead_tags": "inbound, sales",
        "lead_owner_id": "", "thank_you_message": "Thanks!", "redirect_url": "",
        "is_active": "on", "ask_email": "on", "required_email": "on", "order_email": "2",
        "ask_last_name": "on", "order_last_name": "1", "ask_phone": "on", "order_phone": "3"})
    form = LeadForm.objects.get()
    assert response.status_code == 302 and response.url == f"/settings/lead-forms/{form.pk}/"
    assert form.fields == [{"field": "last_name", "required": False},
                           {"field": "email", "required": True},
                           {"field": "phone", "required": False}]
    assert form.lead_tags == ["inbound", "sales"] and form.lead_owner is None
    edit = client.get(response.url).content.decode()
    assert f"https://crm.example.com/f/{form.public_key}/" in edit
    assert "&lt;iframe src=&quot;https://crm.example.com/f/" in edit  # the embed code, escaped
    assert 'data-copy="#lead-form-embed"' in edit


def test_the_settings_form_shows_what_is_wrong(org):
    client = signed_in(org.admin)
    response = client.post("/settings/lead-forms/new/", {
        "name": "Bad", "lead_source": "web_form", "redirect_url": "javascript:alert(1)",
        "ask_phone": "on"})
    page = response.content.decode()
    assert response.status_code == 200 and LeadForm.objects.count() == 0
    assert "Enter an address starting with http:// or https://." in page
    assert "Make the email or a name required" in page


def test_rotating_and_deleting_ask_first(org):
    form = make_form(org)
    client = signed_in(org.admin)
    confirm = client.get(f"/settings/lead-forms/{form.pk}/rotate-key/").content.decode()
    assert "stop working" in confirm and "csrfmiddlewaretoken" in confirm
    assert client.post(f"/settings/lead-forms/{form.pk}/rotate-key/").status_code == 302
    assert LeadForm.objects.get().public_key != form.public_key
    assert "Delete the lead form" in client.get(
        f"/settings/lead-forms/{form.pk}/delete/").content.decode()
    assert client.post(f"/settings/lead-forms/{form.pk}/delete/").status_code == 302
    assert LeadForm.objects.count() == 0
    assert Event.objects.filter(type__in=["lead_form.key_rotated", "lead_form.deleted"]).count() == 2


def test_settings_forms_need_the_csrf_token(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.admin)
    assert client.post("/settings/lead-forms/new/", {"name": "X"}).status_code == 403
    assert LeadForm.objects.count() == 0


def test_the_name_and_messages_are_escaped(org, rule):
    form = make_form(org, name="<script>alert(1)</script>",
                     thank_you_message="<b>Thanks</b>\nSee you", intro="<img src=x onerror=1>",
                     organisation_name="Acme & <i>Co</i>")
    public = Client().get(url(form)).content.decode()
    assert "<script>alert(1)</script>" not in public and "&lt;script&gt;alert(1)" in public
    assert "<img src=x" not in public and "&lt;i&gt;Co&lt;/i&gt;" in public
    thanks = Client().get(f"{url(form)}thanks/").content.decode()
    assert "<b>Thanks</b>" not in thanks and "&lt;b&gt;Thanks&lt;/b&gt;" in thanks
    listed = signed_in(org.admin).get("/settings/lead-forms/").content.decode()
    assert "<script>alert(1)</script>" not in listed


def test_the_settings_list_takes_the_same_queries_for_any_number_of_forms(org):
    client = signed_in(org.admin)
    make_form(org, lead_owner_id=org.sales_a1.pk)
    client.get("/settings/lead-forms/")
    with CaptureQueriesContext(connection) as few:
        client.get("/settings/lead-forms/")
    for number in range(5):
        make_form(org, name=f"Form {number}", lead_owner_id=org.sales_b1.pk)
    with CaptureQueriesContext(connection) as many:
        assert "Form 4" in client.get("/settings/lead-forms/").content.decode()
    assert len(many) == len(few)


# API ------------------------------------------------------------------------------------------------

def test_the_api_creates_reads_changes_rotates_and_deletes_forms(org, api, settings):
    settings.PUBLIC_URL = "https://crm.example.com"
    client = api(org.admin)
    created = client.post("/lead-forms", {"name": "API form", "fields": [
        {"field": "email", "required": True}, "first_name"], "lead_tags": ["api"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["fields"] == [{"field": "email", "required": True},
                              {"field": "first_name", "required": False}]
    assert body["public_url"] == f"https://crm.example.com/f/{body['public_key']}/"
    assert body["lead_source"] == "web_form" and body["is_active"] is True
    assert 'src="https://crm.example.com/f/' in body["embed_code"]
    form_id = body["id"]
    assert client.get("/lead-forms").json()["items"][0]["id"] == form_id
    assert client.get(f"/lead-forms/{form_id}").json()["name"] == "API form"
    stale = client.patch(f"/lead-forms/{form_id}", {"name": "X"}, headers={"If-Match": "9"})
    assert stale.status_code == 412
    bad = client.patch(f"/lead-forms/{form_id}", {"redirect_url": "javascript:alert(1)"})
    assert bad.status_code == 422 and "redirect_url" in bad.json()["error"]["fields"]
    changed = client.patch(f"/lead-forms/{form_id}", {"is_active": False},
                           headers={"If-Match": "1"})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    rotated = client.post(f"/lead-forms/{form_id}/rotate-key")
    assert rotated.status_code == 200 and rotated.json()["public_key"] != body["public_key"]
    assert client.post("/lead-forms", {"name": "api form", "fields": ["email"]}).status_code \
        in (409, 422)
    assert client.delete(f"/lead-forms/{form_id}").status_code == 204
    assert client.get(f"/lead-forms/{form_id}").status_code == 404


def test_the_api_is_for_admins_only(org, api):
    form = make_form(org)
    client = api(org.sales_a1)
    assert client.get("/lead-forms").status_code == 403
    assert client.get(f"/lead-forms/{form.pk}").status_code == 403
    assert client.post("/lead-forms", {"name": "X", "fields": ["email"]}).status_code == 403
    assert client.patch(f"/lead-forms/{form.pk}", {"name": "X"}).status_code == 403
    assert client.post(f"/lead-forms/{form.pk}/rotate-key").status_code == 403
    assert client.delete(f"/lead-forms/{form.pk}").status_code == 403
    assert api(org.admin).get("/lead-forms", ).json()["items"][0]["name"] == "Book a demo"
    form.refresh_from_db()
    assert form.version == 1 and LeadForm.objects.count() == 1
