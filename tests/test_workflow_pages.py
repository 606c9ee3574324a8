"""Automation in the UI and over the API: build a rule from rows, dry-run it, switch it on."""

import pytest
from django.urls import reverse

from rapport.contacts.models import Contact
from rapport.contacts.services import contact_create, contact_update
from rapport.workflows.models import Rule, RuleRun, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)


def builder_post(**changes) -> dict:
    data = {
        "name": "Tag new customers", "description": "", "object_type": "contact",
        "trigger_type": "field_changed", "trigger_field": "lifecycle_stage", "trigger_from": "",
        "trigger_to": "customer", "trigger_event_type": "", "trigger_offset_days": "",
        "trigger_every": "", "match": "all", "conditions_json": "", "actions_json": "",
        "c-TOTAL_FORMS": "2", "c-INITIAL_FORMS": "0", "c-MIN_NUM_FORMS": "0", "c-MAX_NUM_FORMS": "20",
        "c-0-field": "email", "c-0-op": "is_not_empty", "c-0-value": "",
        "c-1-field": "", "c-1-op": "eq", "c-1-value": "",
        "a-TOTAL_FORMS": "2", "a-INITIAL_FORMS": "0", "a-MIN_NUM_FORMS": "0", "a-MAX_NUM_FORMS": "20",
        "a-0-type": "add_tag", "a-0-tag": "customer",
        "a-1-type": "create_task", "a-1-subject": "Say thank you", "a-1-due_in_days": "1",
    }
    data.update(changes)
    return data


@pytest.fixture
def admin(client, org):
    client.force_login(org.admin)
    return client


def test_a_rule_built_from_rows_is_saved_off_tried_then_switched_on(admin, org):
    assert b"No rules yet" in admin.get(reverse("automation:list")).content
    created = admin.post(reverse("automation:create"), builder_post())
    rule = Rule.objects.get()
    assert created.status_code == 302 and created["Location"] == reverse("automation:detail",
                                                                          args=[rule.pk])
    assert rule.trigger == {"type": "field_changed", "field": "lifecycle_stage", "to": "customer"}
    assert rule.conditions == {"match": "all", "rules": [{"field": "email", "op": "is_not_empty"}]}
    assert [a["type"] for a in rule.actions] == ["add_tag", "create_task"]
    assert not rule.is_active

    contact = contact_create(actor=org.admin, data={"first_name": "Una", "email": "una@x.example"})
    page = admin.post(reverse("automation:test", args=[rule.pk]), {"object_id": contact.pk})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Dry run" in body and "Added the tag “customer”" in body and "Say thank you" in body
    assert not Contact.objects.get(pk=contact.pk).tags.exists()

    admin.post(reverse("automation:toggle", args=[rule.pk]))
    contact_update(actor=org.admin, contact_id=contact.pk, data={"lifecycle_stage": "customer"})
    run = RuleRun.objects.get(rule=rule, dry_run=False)
    assert run.status == RunStatus.DONE
    detail = admin.get(reverse("automation:detail", args=[rule.pk])).content.decode()
    assert "When lifecycle stage of a contact changes to “customer”" in detail
    assert "Say thank you" in detail


def test_the_builder_shows_what_is_wrong_and_saves_nothing(admin):
    page = admin.post(reverse("automation:create"), builder_post(**{
        "trigger_field": "salary", "a-0-type": "set_field", "a-0-field": "created_at"}))
    assert page.status_code == 200
    body = page.content.decode()
    assert "“salary” is not a contact field" in body and "a rule can set" in body
    assert not Rule.objects.exists()


def test_automation_is_for_admins(client, org):
    client.force_login(org.sales_a1)
    assert b"Only admins build automation rules" in client.get(reverse("automation:list")).content
    assert client.get(reverse("automation:create")).status_code == 404


def test_rules_over_the_api(api, org):
    client = api(org.admin)
    contact = contact_create(actor=org.admin, data={"first_name": "Api", "email": "a@x.example"})
    created = client.post("/rules", {
        "name": "Tag VIPs", "object_type": "contact", "trigger": {"type": "updated"},
        "conditions": {"match": "any", "rules": [{"field": "title", "op": "contains",
                                                  "value": "chief"}]},
        "actions": [{"type": "branch",
                     "conditions": {"rules": [{"field": "email", "op": "is_not_empty"}]},
                     "then": [{"type": "add_tag", "tag": "vip"}],
                     "else": [{"type": "create_task", "subject": "Find their email"}]}],
    })
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    tried = client.post(f"/rules/{rule_id}/test", {"object_id": contact.pk}).json()
    assert tried["status"] == "skipped" and "does not meet" in tried["error"]
    assert client.patch(f"/rules/{rule_id}", {"is_active": True}).json()["is_active"] is True
    contact_update(actor=org.admin, contact_id=contact.pk, data={"title": "Chief of Staff"})
    runs = client.get(f"/rules/{rule_id}/runs").json()
    assert [r["dry_run"] for r in runs] == [False, True]  # newest first: the live run, the try
    run = runs[0]
    assert run["status"] == "done" and run["steps"][0]["detail"].startswith("If: Added the tag")
    bad = client.post("/rules", {"name": "x", "object_type": "ticket", "trigger": {"type": "created"},
                                 "actions": [{"type": "add_tag", "tag": "x"}]})
    assert bad.status_code == 422 and "object_type" in bad.json()["error"]["fields"]
    refused = api(org.manager_a).get("/rules")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "Only admins build automation rules: a rule acts on every record.")


def _as_post(response) -> dict:
    """What the browser would send back from the rendered builder, unchanged."""
    data = {}
    for form in [response.context["form"], *response.context["conditions"].forms,
                 *response.context["actions"].forms]:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    for formset in (response.context["conditions"], response.context["actions"]):
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


def test_saving_an_unchanged_rule_in_the_builder_changes_nothing(admin, org):
    rule = Rule.objects.create(name="Exact", object_type="contact", owner=org.admin,
                               trigger={"type": "field_changed", "field": "title", "to": None},
                               conditions={"match": "any", "rules": [
                                   {"field": "city", "op": "in", "value": ["Leeds, UK", "York"]},
                                   {"field": "tags", "op": "contains", "value": "vip"}]},
                               actions=[{"type": "create_task", "subject": "Call", "body": "Now",
                                         "due_in_days": 1, "priority": "high",
                                         "assign_to": org.sales_a1.pk},
                                        {"type": "set_field", "field": "city", "value": None}])
    before = (rule.trigger, rule.conditions, rule.actions)
    page = admin.get(reverse("automation:edit", args=[rule.pk]))
    saved = admin.post(reverse("automation:edit", args=[rule.pk]), _as_post(page))
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    rule.refresh_from_db()
    assert (rule.trigger, rule.conditions, rule.actions) == before

    simple = services_rule(org)
    page = admin.get(reverse("automation:edit", args=[simple.pk]))
    assert not page.context["form"]["actions_json"].value()  # plain rules stay in rows
    admin.post(reverse("automation:edit", args=[simple.pk]), _as_post(page))
    simple_before = (simple.trigger, simple.conditions, simple.actions)
    simple.refresh_from_db()
    assert (simple.trigger, simple.conditions, simple.actions) == simple_before


def services_rule(org):
    from rapport.workflows.services import rule_create

    return rule_create(actor=org.admin, data={
        "name": "Rows", "object_type": "contact", "trigger": {"type": "created"},
        "conditions": {"match": "all", "rules": [{"field": "email", "op": "is_not_empty"}]},
        "actions": [{"type": "add_tag", "tag": "new"},
                    {"type": "create_task", "subject": "Welcome call", "due_in_days": 2,
                     "priority": "high"}]})


def test_an_if_else_is_built_from_rows_and_edited_as_rows(admin, org):
    created = admin.post(reverse("automation:create"), builder_post(**{
        "name": "Sort new customers", "a-TOTAL_FORMS": "4", "c-0-field": "",
        "a-0-type": "branch", "a-0-place": "main",
        "a-0-if_field": "email", "a-0-if_op": "is_not_empty", "a-0-if_value": "",
        "a-1-type": "add_tag", "a-1-place": "then", "a-1-tag": "reachable",
        "a-2-type": "create_task", "a-2-place": "else", "a-2-subject": "Find their email",
        "a-2-due_in_days": "1", "a-2-priority": "normal",
        "a-3-type": "add_tag", "a-3-place": "main", "a-3-tag": "customer",
    }))
    assert created.status_code == 302, created.content.decode()[-3000:]
    rule = Rule.objects.get()
    assert rule.actions == [
        {"type": "branch", "conditions": {"match": "all", "rules": [
            {"field": "email", "op": "is_not_empty"}]},
         "then": [{"type": "add_tag", "tag": "reachable"}],
         "else": [{"type": "create_task", "subject": "Find their email", "due_in_days": 1,
                   "priority": "normal", "body": "", "assign_to": "owner"}]},
        {"type": "add_tag", "tag": "customer"}]

    page = admin.get(reverse("automation:edit", args=[rule.pk]))
    assert not page.context["form"]["actions_json"].value()  # shown as rows, not JSON
    before = rule.actions
    assert admin.post(reverse("automation:edit", args=[rule.pk]), _as_post(page)).status_code == 302
    rule.refresh_from_db()
    assert rule.actions == before

    admin.post(reverse("automation:toggle", args=[rule.pk]))
    contact = contact_create(actor=org.admin, data={"first_name": "Una"})
    contact_update(actor=org.admin, contact_id=contact.pk, data={"lifecycle_stage": "customer"})
    run = RuleRun.objects.get(rule=rule, dry_run=False)
    assert run.status == RunStatus.DONE
    assert run.steps[0]["detail"].startswith("Else: Created the task “Find their email”")
    assert sorted(t.name for t in Contact.objects.get(pk=contact.pk).tags.all()) == ["customer"]


def test_an_otherwise_row_without_an_if_else_above_is_refused(admin):
    page = admin.post(reverse("automation:create"), builder_post(**{
        "a-0-type": "add_tag", "a-0-place": "else", "a-0-tag": "lost"}))
    assert page.status_code == 200
    assert "Action 1 is marked “Otherwise (the If / else above)” but no If / else row" \
        in page.content.decode()
    assert not Rule.objects.exists()
