"""The lead pages and Settings → Lead assignment: they render, write through the services,
keep to the user's scope, and fit a phone."""

import re

import pytest
from django.urls import reverse

from rapport.activities.services import activity_create
from rapport.contacts.models import Company, Contact
from rapport.contacts.services import company_create, contact_create
from rapport.core.services import custom_field_create
from rapport.sales import lead_services
from rapport.sales.models import AssignmentRule, Deal, Lead, LeadSettings, Pipeline
from rapport.web.context import NAVIGATION
from tests.conftest import PASSWORD


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.fixture
def seller(client, org):
    client.force_login(org.sales_a1)
    return client


def make(actor, **data):
    return lead_services.lead_create(actor=actor, data={"first_name": "Ada", "last_name": "Lead",
                                                        **data})


def test_leads_sit_before_deals_in_the_navigation():
    keys = [key for key, _, _ in NAVIGATION]
    assert keys.index("leads") == keys.index("deals") - 1


def test_every_lead_page_renders(admin_client, org):
    custom_field_create(actor=org.admin, object_type="lead", key="budget", label="Budget",
                        type="select", options=["Small", "Big"])
    lead = make(org.admin, email="ada@engines.example", company_name="Engines", tags=["hot"],
                custom_fields={"budget": "Big"})
    activity_create(actor=org.admin, data={"kind": "note", "body": "Met at **the fair**",
                                           "lead_id": lead.pk})
    rule = lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "DACH", "action": "user", "user_id": org.sales_a1.pk,
        "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT"]}]})
    urls = [
        reverse("leads:list"), reverse("leads:list") + "?sort=-score&status=new&q=ada",
        reverse("leads:list") + "?custom__budget=Big", reverse("leads:create"),
        reverse("leads:detail", args=[lead.pk]), reverse("leads:edit", args=[lead.pk]),
        reverse("leads:convert", args=[lead.pk]), reverse("leads:delete", args=[lead.pk]),
        reverse("leads:trash"), reverse("lead_assignment:list"), reverse("lead_assignment:create"),
        reverse("lead_assignment:edit", args=[rule.pk]),
        reverse("lead_assignment:delete", args=[rule.pk]),
        reverse("activities:composer") + f"?kind=call&lead_id={lead.pk}",
        reverse("settings:custom_fields"), reverse("settings:roles"),
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    detail = admin_client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "<strong>the fair</strong>" in detail and "Big" in detail and "Convert" in detail
    assert 'name="lead_id"' in detail  # the composer logs on the lead
    assert ">Leads<" in admin_client.get(reverse("settings:roles")).content.decode()
    listed = admin_client.get(reverse("leads:list")).content.decode()
    assert f'href="/leads/{lead.pk}/"' in listed and "Engines" in listed
    settings_page = admin_client.get(reverse("lead_assignment:list")).content.decode()
    assert "DACH" in settings_page and "is one of" in settings_page and "DE, AT" in settings_page


def test_an_empty_list_says_what_leads_are(seller):
    page = seller.get(reverse("leads:list")).content.decode()
    assert "No leads yet" in page and reverse("leads:create") in page
    filtered = seller.get(reverse("leads:list"), {"status": "working"}).content.decode()
    assert "No leads match" in filtered
    broken = seller.get(reverse("leads:list"), {"sort": "email"}).content.decode()
    assert "could not be applied" in broken


def test_the_list_reads_in_a_fixed_number_of_queries(seller, org, django_assert_max_num_queries):
    for i in range(20):
        make(org.sales_a1, last_name=f"L{i}", tags=["a"])
    with django_assert_max_num_queries(12):
        response = seller.get(reverse("leads:list"))
    assert response.status_code == 200 and response.content.decode().count('name="ids"') == 20


def test_creating_a_lead_goes_through_the_rules_and_errors_stay_on_the_form(seller, org):
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "Mine", "action": "user", "user_id": org.sales_a1.pk})
    bad = seller.post(reverse("leads:create"), {
        "first_name": "", "last_name": "", "email": "nope", "status": "new", "source": "other"})
    assert bad.status_code == 200 and not Lead.objects.exists()
    assert "has-error" in bad.content.decode()
    response = seller.post(reverse("leads:create"), {
        "first_name": "grace", "last_name": "hopper", "email": "grace@navy.example",
        "country": "United States", "status": "new", "source": "event", "score": "70",
        "owner_id": "", "tags": "navy, vip"})
    created = Lead.objects.get()
    assert response.status_code == 302 and response.url == reverse("leads:detail", args=[created.pk])
    assert (created.first_name, created.country, created.owner_id, created.source) == \
        ("Grace", "US", org.sales_a1.pk, "event")
    edit = seller.post(reverse("leads:edit", args=[created.pk]), {
        "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example",
        "status": "disqualified", "disqualified_reason": "", "source": "event", "score": "70",
        "owner_id": org.sales_a1.pk, "version": created.version})
    assert edit.status_code == 200 and "Say why" in edit.content.decode()
    stale = seller.post(reverse("leads:edit", args=[created.pk]), {
        "first_name": "G", "status": "new", "source": "event", "version": created.version + 5})
    assert "Someone else changed" in stale.content.decode()


def test_a_seller_cannot_open_another_sellers_lead(seller, org):
    theirs = make(org.sales_a2)
    for name in ("detail", "edit", "convert", "delete"):
        assert seller.get(reverse(f"leads:{name}", args=[theirs.pk])).status_code == 404
    assert seller.post(reverse("leads:convert", args=[theirs.pk]), {}).status_code == 404
    assert f"/leads/{theirs.pk}/" not in seller.get(reverse("leads:list")).content.decode()


def test_convert_shows_what_it_will_do_then_does_it(seller, org):
    contact = contact_create(actor=org.sales_a1, data={"first_name": "Hank", "email": "hank@globex.example"})
    company = company_create(actor=org.sales_a1, data={"name": "Globex", "domain": "globex.example"})
    lead = make(org.sales_a1, first_name="Hank", last_name="Scorpio", email="hank@globex.example")
    activity_create(actor=org.sales_a1, data={"kind": "call", "lead_id": lead.pk})
    page = seller.get(reverse("leads:convert", args=[lead.pk])).content.decode()
    assert f'href="/contacts/{contact.pk}/"' in page and "same email" in page
    assert f'href="/companies/{company.pk}/"' in page and "same domain" in page
    assert "1 activity moves" in page

    pipeline = Pipeline.objects.get(is_default=True)
    response = seller.post(reverse("leads:convert", args=[lead.pk]), {
        "create_deal": "on", "pipeline_id": pipeline.pk, "deal_name": "Lair", "amount": "abc",
        "version": lead.version})
    assert response.status_code == 200 and "has-error" in response.content.decode()
    assert not Deal.objects.exists()
    response = seller.post(reverse("leads:convert", args=[lead.pk]), {
        "create_deal": "on", "pipeline_id": pipeline.pk, "deal_name": "Lair", "amount": "5000",
        "currency": "", "version": lead.version})
    assert response.status_code == 302 and response.url == reverse("contacts:detail", args=[contact.pk])
    deal = Deal.objects.get()
    assert (deal.name, deal.company_id) == ("Lair", company.pk)
    assert Contact.objects.count() == 1 and Company.objects.count() == 1
    detail = seller.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Converted on" in detail and "converted this lead" in detail
    assert seller.get(reverse("leads:convert", args=[lead.pk])).status_code == 302


def test_convert_without_a_deal_and_a_blocked_conversion(seller, org):
    lead = make(org.sales_a1, email="new@fresh.example", company_name="Fresh Ltd")
    page = seller.get(reverse("leads:convert", args=[lead.pk])).content.decode()
    assert "Creates <strong>Ada Lead</strong>" in page and "Creates <strong>Fresh Ltd</strong>" in page
    response = seller.post(reverse("leads:convert", args=[lead.pk]), {"version": lead.version})
    assert response.status_code == 302 and not Deal.objects.exists()
    assert Company.objects.get().domain == "fresh.example"

    contact_create(actor=org.sales_b1, data={"first_name": "Other", "email": "taken@corp.example"})
    blocked = make(org.sales_a1, email="taken@corp.example")
    page = seller.get(reverse("leads:convert", args=[blocked.pk])).content.decode()
    assert "A contact you cannot see" in page
    response = seller.post(reverse("leads:convert", args=[blocked.pk]), {"version": blocked.version})
    assert response.status_code == 200 and "cannot see" in response.content.decode()
    assert Contact.objects.filter(email="taken@corp.example").count() == 1


def test_delete_restore_and_bulk_actions(seller, org):
    first, second = make(org.sales_a1, last_name="One"), make(org.sales_a1, last_name="Two")
    assert seller.post(reverse("leads:delete", args=[first.pk])).status_code == 302
    assert "One" in seller.get(reverse("leads:trash")).content.decode()
    seller.post(reverse("leads:restore", args=[first.pk]))
    assert Lead.objects.count() == 2
    seller.post(reverse("leads:bulk"), {"ids": [first.pk, second.pk], "action": "tag", "tags": "vip"})
    assert Lead.objects.filter(tags__slug="vip").count() == 2
    seller.post(reverse("leads:bulk"), {"ids": [first.pk], "action": "assign",
                                        "owner_id": org.sales_a2.pk})
    assert Lead.objects.get(pk=first.pk).owner_id == org.sales_a2.pk
    confirm = seller.post(reverse("leads:bulk"), {"ids": [second.pk], "action": "delete"})
    assert "Move 1 lead to the trash?" in confirm.content.decode()
    seller.post(reverse("leads:bulk"), {"ids": [second.pk], "action": "delete", "confirm": "yes"})
    assert list(Lead.objects.values_list("pk", flat=True)) == [first.pk]  # handed to Sue
    seller.post(reverse("leads:views"), {"name": "Hot", "query": "status=new"})
    assert "Hot" in seller.get(reverse("leads:list")).content.decode()


def test_settings_add_edit_reorder_and_delete_rules_and_the_fallback(admin_client, org):
    response = admin_client.post(reverse("lead_assignment:create"), {
        "name": "Bad", "match": "all", "action": "user", "user_id": org.sales_a1.pk,
        "c0_field": "score", "c0_op": "gte", "c0_value": "lots"})
    assert response.status_code == 200 and "Enter a number." in response.content.decode()
    assert not AssignmentRule.objects.exists()
    for name, conditions in (("DACH", {"c0_field": "country", "c0_op": "in", "c0_value": "DE, Austria"}),
                             ("Events", {"c1_field": "source", "c1_op": "eq", "c1_value": "event"})):
        response = admin_client.post(reverse("lead_assignment:create"), {
            "name": name, "active": "on", "match": "all", "action": "round_robin",
            "team_id": org.team_a.pk, **conditions})
        assert response.status_code == 302, response.content.decode()
    dach, events = AssignmentRule.objects.order_by("position")
    assert dach.conditions == [{"field": "country", "op": "in", "value": ["DE", "AT"]}]
    admin_client.post(reverse("lead_assignment:move", args=[events.pk]), {"direction": "up"})
    assert list(AssignmentRule.objects.order_by("position").values_list("name", flat=True)) == \
        ["Events", "DACH"]
    admin_client.post(reverse("lead_assignment:edit", args=[dach.pk]), {
        "name": "DACH+", "match": "any", "action": "user", "user_id": org.sales_a2.pk,
        "c0_field": "country", "c0_op": "in", "c0_value": "DE, AT, CH", "version": dach.version})
    dach.refresh_from_db()
    assert (dach.name, dach.active, dach.action, dach.user_id, dach.team_id) == \
        ("DACH+", False, "user", org.sales_a2.pk, None)
    admin_client.post(reverse("lead_assignment:delete", args=[events.pk]))
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["DACH+"]
    admin_client.post(reverse("lead_assignment:list"), {"fallback_owner_id": org.manager_a.pk})
    assert LeadSettings.objects.get().fallback_owner_id == org.manager_a.pk


def test_only_admins_change_the_assignment_settings(seller, org):
    rule = lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "All", "action": "user", "user_id": org.sales_a1.pk})
    page = seller.get(reverse("lead_assignment:list")).content.decode()
    assert "Only admins" in page and reverse("lead_assignment:create") not in page
    seller.post(reverse("lead_assignment:create"), {"name": "Mine", "match": "all",
                                                    "action": "user", "user_id": org.sales_a1.pk})
    seller.post(reverse("lead_assignment:delete", args=[rule.pk]))
    seller.post(reverse("lead_assignment:list"), {"fallback_owner_id": org.sales_a1.pk})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["All"]
    assert not LeadSettings.objects.exists()


def test_lead_custom_fields_are_defined_in_settings(admin_client):
    response = admin_client.post(reverse("settings:custom_fields"), {
        "object_type": "lead", "label": "Budget", "key": "budget", "type": "text"})
    assert response.status_code == 302
    assert "Lead fields" in admin_client.get(reverse("settings:custom_fields")).content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_lead_pages_fit_a_phone(browser, live_server, org):
    lead = make(org.admin, email="ada@engines.example", company_name="Analytical Engines Limited",
                title="Countess of Lovelace and first programmer", tags=["hot", "conference-2026"])
    for n in range(3):  # a list wider than a phone, which has to scroll inside its frame
        make(org.admin, email=f"someone.with.a.long.address.{n}@analytical-engines-limited.example",
             company_name="Analytical Engines Limited", title="Pescador de agua dulce y en aguas")
    rule = lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "Germany, Austria and Switzerland by round robin", "action": "round_robin",
        "team_id": org.team_a.pk, "conditions": [{"field": "country", "op": "in",
                                                   "value": ["DE", "AT", "CH"]}]})
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login/")
    page.get_by_label("Email").fill(org.admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    for path in ["/leads/", "/leads/new/", f"/leads/{lead.pk}/", f"/leads/{lead.pk}/convert/",
                 f"/leads/{lead.pk}/edit/", "/settings/lead-assignment/",
                 "/settings/lead-assignment/rules/new/", f"/settings/lead-assignment/rules/{rule.pk}/",
                 "/settings/lead-forms/", "/settings/lead-forms/new/"]:
        page.goto(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 390px"
    context.close()
    assert errors == [], errors  # no CSP violations or script errors
