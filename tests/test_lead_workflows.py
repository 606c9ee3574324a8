"""Automation rules on leads: triggers, conditions, actions through lead_update, the builder.

Jobs run at once (conftest) and tests commit for real, so a lead change fires the event
consumer after commit, which starts the run, which runs its steps: as in production.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.selectors import timeline
from rapport.core.errors import ValidationFailed
from rapport.core.models import Event
from rapport.mail import services as mail
from rapport.sales import lead_services
from rapport.sales.models import Lead
from rapport.workflows import engine, services
from rapport.workflows.models import Rule, RuleRun, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)

QUALIFIED = {"type": "field_changed", "field": "status", "to": "qualified"}


def rule(org, **data):
    return services.rule_create(actor=org.admin, data={
        "name": "Lead rule", "object_type": "lead", "is_active": True, **data})


def new_lead(actor, **data):
    return lead_services.lead_create(actor=actor, data={
        "first_name": "Lena", "last_name": "Lead", "email": "lena@prospect.example", **data})


def tags_of(lead) -> list[str]:
    return sorted(t.name for t in Lead.objects.get(pk=lead.pk).tags.all())


def test_a_status_change_to_qualified_creates_a_task_and_tags_the_lead_exactly_once(org):
    qualifying = rule(org, name="Qualified leads", trigger=QUALIFIED, actions=[
        {"type": "create_task", "subject": "Call the qualified lead", "due_in_days": 1,
         "priority": "high"},
        {"type": "add_tag", "tag": "qualified"}])
    lead = new_lead(org.sales_a1)
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"status": "working"})
    assert not RuleRun.objects.filter(rule=qualifying).exists()  # another status: nothing

    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"status": "qualified"})

    [run] = RuleRun.objects.filter(rule=qualifying)
    assert run.status == RunStatus.DONE and run.object_type == "lead" and run.object_id == lead.pk
    assert [s["outcome"] for s in run.steps] == ["done", "done"]
    task = Activity.objects.get(kind="task", lead=lead)
    assert task.subject == "Call the qualified lead" and task.assignee == org.sales_a1
    assert task.due_date == timezone.localdate() + datetime.timedelta(days=1)
    assert tags_of(lead) == ["qualified"]
    # On the lead's timeline, beside the history of the change.
    assert task.pk in [item.activity.pk for item in timeline(record=lead) if item.activity]
    # The tag went through lead_update: history and an event that says the rule did it.
    tagged = Event.objects.filter(type="lead.updated", object_id=lead.pk,
                                  data__changes__has_key="tags").get()
    assert tagged.data["caused_by"]["rule_id"] == qualifying.pk

    # The same event dispatched again, and later changes, start nothing more.
    change = Event.objects.get(type="lead.updated", object_id=lead.pk,
                               data__changes__status=["working", "qualified"])
    assert engine.runs_for_event(change) == []
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"title": "CTO"})
    assert RuleRun.objects.filter(rule=qualifying).count() == 1
    assert Activity.objects.filter(kind="task", lead=lead).count() == 1


def test_a_condition_on_the_source_decides_whether_the_rule_runs(org):
    rule(org, trigger={"type": "created"},
         conditions={"match": "all", "rules": [
             {"field": "source", "op": "eq", "value": "web_form"},
             {"field": "score", "op": "gte", "value": 10}]},
         actions=[{"type": "add_tag", "tag": "inbound"},
                  {"type": "set_field", "field": "status", "value": "working"}])
    from_form = new_lead(org.sales_a1, source="web_form", score=20)
    referred = new_lead(org.sales_a1, source="referral", score=20, email="r@prospect.example")
    cold = new_lead(org.sales_a1, source="web_form", score=5, email="c@prospect.example")
    assert tags_of(from_form) == ["inbound"]
    assert Lead.objects.get(pk=from_form.pk).status == "working"
    assert tags_of(referred) == [] and tags_of(cold) == []
    assert Lead.objects.get(pk=referred.pk).status == "new"


def test_round_robin_assigns_new_leads_in_turn_within_the_team(org):
    assigning = rule(org, trigger={"type": "created"},
                     actions=[{"type": "assign_round_robin", "team_id": org.team_a.pk}])
    made = [new_lead(org.admin, email=f"p{n}@prospect.example") for n in range(4)]
    members = sorted([org.manager_a.pk, org.sales_a1.pk, org.sales_a2.pk])
    owners = [Lead.objects.get(pk=lead.pk).owner_id for lead in made]
    assert owners == [*members, members[0]]  # one each, in turn, then round again
    assert Rule.objects.get(pk=assigning.pk).round_robin_position == 4
    # lead_update recorded each hand-over as lead.assigned, caused by the rule.
    assigned = Event.objects.filter(type="lead.assigned", object_id=made[0].pk,
                                    data__caused_by__rule_id=assigning.pk).get()
    assert assigned.data["owner_id"] == members[0]


def test_a_dry_run_on_a_lead_shows_each_step_and_changes_nothing(org):
    lead = new_lead(org.sales_a1, source="web_form")
    draft = services.rule_create(actor=org.admin, data={
        "name": "Draft", "object_type": "lead", "trigger": QUALIFIED,
        "conditions": {"match": "all", "rules": [{"field": "source", "op": "eq",
                                                  "value": "web_form"}]},
        "actions": [{"type": "set_field", "field": "score", "value": 50},
                    {"type": "wait", "hours": 2},
                    {"type": "create_task", "subject": "Follow up"},
                    {"type": "set_field", "field": "status", "value": "disqualified"}]})
    run = services.rule_test(actor=org.admin, rule_id=draft.pk, object_id=lead.pk)
    assert run.dry_run and run.status == RunStatus.FAILED
    assert [s["outcome"] for s in run.steps] == ["done", "done", "done", "failed"]
    assert "Would wait 120 minutes" in run.steps[1]["detail"]
    assert "Created the task “Follow up”" in run.steps[2]["detail"]
    # lead_update's own validation: a disqualified lead needs a reason.
    assert "disqualified_reason" in run.error
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.score, stored.status) == (0, "new")
    assert not Activity.objects.filter(lead=lead).exists()

    referred = new_lead(org.sales_a1, source="referral", email="r@prospect.example")
    skipped = services.rule_test(actor=org.admin, rule_id=draft.pk, object_id=referred.pk)
    assert skipped.status == RunStatus.SKIPPED and "does not meet" in skipped.error


def test_a_lead_rule_emails_the_lead_at_the_top_level_and_inside_a_branch(org, smtp):
    template = mail.template_create(actor=org.admin, data={
        "name": "Lead hello", "subject": "Hello {{ contact.first_name|default:'there' }}",
        "body": "Hi {{ lead.first_name }} at {{ lead.company_name|default:'your company' }}."})
    emailing = rule(org, name="Email new leads", trigger={"type": "created"}, actions=[
        {"type": "send_email", "template_id": template.pk},
        {"type": "branch", "conditions": {"rules": [
            {"field": "status", "op": "eq", "value": "new"}]},
         "then": [{"type": "send_email", "template_id": template.pk}]}])

    lead = new_lead(org.sales_a1, company_name="Prospect")

    [run] = RuleRun.objects.filter(rule=emailing)
    assert run.status == RunStatus.DONE, run.steps
    assert [s["outcome"] for s in run.steps] == ["done", "done"]
    assert "Queued “Hello Lena” to lena@prospect.example." in run.steps[0]["detail"]
    assert [m["rcpt_tos"] for m in smtp.messages] == [["lena@prospect.example"]] * 2
    assert smtp.messages[0]["parsed"]["Subject"] == "Hello Lena"
    assert "Hi Lena at Prospect." in smtp.messages[0]["parsed"].get_body(("plain",)).get_content()
    emails = Activity.objects.filter(kind="email", lead=lead)
    assert emails.count() == 2 and all(a.email_message_id for a in emails)

    # A lead without an address fails the step, naming lead_id.
    silent = lead_services.lead_create(actor=org.sales_a1, data={"first_name": "Quiet"})
    failed = RuleRun.objects.get(rule=emailing, object_id=silent.pk)
    assert failed.status == RunStatus.FAILED and "lead_id" in failed.error
    assert "has no email address" in failed.error and len(smtp.messages) == 2


@pytest.mark.parametrize(("data", "where", "complaint"), [
    ({"trigger": {"type": "date", "field": "expected_close_date", "offset_days": -3}},
     "trigger.field", "“expected_close_date” is not a date field of a lead"),
    ({"trigger": {"type": "field_changed", "field": "lifecycle_stage"}}, "trigger.field",
     "“lifecycle_stage” is not a lead field"),
    ({"conditions": {"rules": [{"field": "company.name", "op": "eq", "value": "x"}]}},
     "conditions.rules[0].field", "“company.name” is not a lead field"),
    ({"actions": [{"type": "set_field", "field": "converted_at", "value": "x"}]},
     "actions[0].field", "a rule can set"),
])
def test_what_a_lead_rule_cannot_do_is_refused_naming_where(org, data, where, complaint):
    with pytest.raises(ValidationFailed) as refused:
        rule(org, **{"trigger": {"type": "created"}, "actions": [{"type": "add_tag", "tag": "x"}],
                     **data})
    assert any(complaint in message for message in refused.value.fields[where]), \
        refused.value.fields
    assert not Rule.objects.exists()


def test_a_rule_on_lead_converted_runs_once_for_the_conversion(org):
    converted = rule(org, name="Converted", trigger={"type": "event", "event_type": "lead.converted"},
                     conditions={"match": "all", "rules": [
                         {"field": "is_converted", "op": "eq", "value": True},
                         {"field": "converted_company.name", "op": "eq", "value": "Prospect"}]},
                     actions=[{"type": "create_task", "subject": "Hand over to account team"}])
    assigned = rule(org, name="Assigned", trigger={"type": "event", "event_type": "lead.assigned"},
                    actions=[{"type": "add_tag", "tag": "assigned"}])
    lead = new_lead(org.sales_a1, company_name="Prospect")  # assigned to its creator
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"title": "CEO"})
    assert not RuleRun.objects.filter(rule=converted).exists()
    assert RuleRun.objects.get(rule=assigned).status == RunStatus.DONE

    lead_services.lead_convert(actor=org.sales_a1, lead_id=lead.pk)
    [run] = RuleRun.objects.filter(rule=converted)
    assert run.status == RunStatus.DONE
    task = Activity.objects.get(kind="task", subject="Hand over to account team")
    assert task.lead_id == lead.pk and task.assignee == org.sales_a1
    assert RuleRun.objects.filter(rule=assigned).count() == 1  # conversion assigns nobody


def test_a_date_rule_on_the_conversion_date_fires_once(org):
    rule(org, trigger={"type": "date", "field": "converted_at", "offset_days": 0},
         actions=[{"type": "add_tag", "tag": "converted-today"}])
    lead = new_lead(org.sales_a1, company_name="Prospect")
    waiting = new_lead(org.sales_a1, email="w@prospect.example")
    lead_services.lead_convert(actor=org.sales_a1, lead_id=lead.pk)
    assert engine.fire_timed() == 1
    assert engine.fire_timed() == 0
    assert tags_of(lead) == ["converted-today"] and tags_of(waiting) == []


def test_a_daily_schedule_reaches_the_leads_that_meet_its_conditions(org):
    stale = new_lead(org.sales_a1, tags=["fresh"])
    working = new_lead(org.sales_a1, email="w@prospect.example", status="working",
                       tags=["fresh"])
    rule(org, trigger={"type": "schedule", "every": "day"},
         conditions={"match": "all", "rules": [{"field": "status", "op": "eq", "value": "new"}]},
         actions=[{"type": "branch",
                   "conditions": {"rules": [{"field": "owner.team_id", "op": "eq",
                                             "value": org.team_a.pk}]},
                   "then": [{"type": "remove_tag", "tag": "fresh"},
                            {"type": "add_tag", "tag": "nudge"}],
                   "else": []}])
    assert engine.fire_timed() == 1
    assert engine.fire_timed() == 0  # once per slot
    assert tags_of(stale) == ["nudge"] and tags_of(working) == ["fresh"]


def test_lead_rules_that_would_loop_through_lead_assigned_are_refused(org):
    """Assigning an owner records lead.assigned beside lead.updated: the loop check knows."""
    rule(org, name="Reassign", trigger={"type": "field_changed", "field": "title"},
         actions=[{"type": "assign_round_robin", "team_id": org.team_a.pk}])
    with pytest.raises(ValidationFailed) as refused:
        rule(org, name="Retitle", trigger={"type": "event", "event_type": "lead.assigned"},
             actions=[{"type": "set_field", "field": "title", "value": "Owner changed"}])
    assert "“Retitle” → “Reassign” → “Retitle”" in refused.value.message


def test_the_depth_limit_stops_a_chain_of_lead_rules(org):
    for name, field, value in (("A", "title", "One"), ("B", "company_name", "Two")):
        services.rule_create(actor=org.admin, data={
            "name": name, "object_type": "lead", "trigger": {"type": "updated"},
            "actions": [{"type": "set_field", "field": field, "value": value},
                        {"type": "set_field", "field": field, "value": ""}]})
    Rule.objects.update(is_active=True)  # switched on past the loop check
    lead = new_lead(org.sales_a1)
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"score": 1})
    skipped = RuleRun.objects.filter(status=RunStatus.SKIPPED)
    assert skipped.exists() and "This stops loops." in skipped.first().error
    assert RuleRun.objects.filter(depth__gt=engine.MAX_DEPTH + 1).count() == 0


def test_a_webhook_gets_the_leads_fields(org, settings):
    from rapport.automation.models import Delivery
    from rapport.automation.services import webhook_create

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    hook, _ = webhook_create(actor=org.admin, data={"url": "http://127.0.0.1:9/x",
                                                    "events": ["lead.*"]})
    rule(org, trigger=QUALIFIED, actions=[{"type": "wait", "minutes": 1},
                                          {"type": "call_webhook", "webhook_id": hook.pk}])
    lead = new_lead(org.sales_a1)
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"status": "qualified"})
    run = RuleRun.objects.get()
    assert run.status == RunStatus.WAITING
    RuleRun.objects.filter(pk=run.pk).update(resume_at=timezone.now())
    engine.execute(run.pk)
    delivery = Delivery.objects.get(webhook=hook, event_type="rule.webhook")
    assert '"object_type":"lead"' in delivery.body and '"status":"qualified"' in delivery.body


# The rule builder ---------------------------------------------------------------------------

def builder_post(**changes) -> dict:
    data = {
        "name": "Qualified web leads", "description": "", "object_type": "lead",
        "trigger_type": "field_changed", "trigger_field": "status", "trigger_from": "",
        "trigger_to": "qualified", "trigger_event_type": "", "trigger_offset_days": "",
        "trigger_every": "", "match": "all", "conditions_json": "", "actions_json": "",
        "c-TOTAL_FORMS": "1", "c-INITIAL_FORMS": "0", "c-MIN_NUM_FORMS": "0", "c-MAX_NUM_FORMS": "20",
        "c-0-field": "source", "c-0-op": "eq", "c-0-value": "web_form",
        "a-TOTAL_FORMS": "2", "a-INITIAL_FORMS": "0", "a-MIN_NUM_FORMS": "0", "a-MAX_NUM_FORMS": "20",
        "a-0-type": "create_task", "a-0-subject": "Book a demo", "a-0-due_in_days": "2",
        "a-0-priority": "normal",
        "a-1-type": "add_tag", "a-1-tag": "demo",
    }
    data.update(changes)
    return data


def test_the_builder_makes_a_lead_rule_and_dry_runs_it_on_a_chosen_lead(client, org, smtp):
    client.force_login(org.admin)
    form = client.get(reverse("automation:create")).content.decode()
    assert '<option value="lead">Leads</option>' in form
    assert 'label="Lead fields"' in form and '<option value="source">source</option>' in form

    created = client.post(reverse("automation:create"), builder_post())
    assert created.status_code == 302, created.content.decode()[-2000:]
    saved = Rule.objects.get()
    assert saved.object_type == "lead" and not saved.is_active
    assert saved.trigger == QUALIFIED
    assert saved.conditions == {"match": "all", "rules": [
        {"field": "source", "op": "eq", "value": "web_form"}]}

    lead = new_lead(org.sales_a1, source="web_form")
    detail = client.get(reverse("automation:detail", args=[saved.pk])).content.decode()
    assert "Try it on a lead" in detail and f'<option value="{lead.pk}"' in detail
    assert "When status of a lead changes to “qualified”" in detail
    page = client.post(reverse("automation:test", args=[saved.pk]), {"object_id": lead.pk})
    body = page.content.decode()
    assert page.status_code == 200 and "Created the task “Book a demo”" in body
    assert "Added the tag “demo”" in body
    assert tags_of(lead) == [] and not Activity.objects.filter(lead=lead).exists()

    # A lead rule may email the lead: saved from the page, and a try queues (then rolls back).
    template = mail.template_create(actor=org.admin, data={
        "name": "Demo invite", "subject": "A demo, {{ contact.first_name }}?", "body": "Hi!"})
    mailing = client.post(reverse("automation:create"), builder_post(**{
        "name": "Mail leads", "a-1-type": "send_email", "a-1-template_id": str(template.pk)}))
    assert mailing.status_code == 302, mailing.content.decode()[-2000:]
    mailer = Rule.objects.get(name="Mail leads")
    assert mailer.actions[1] == {"type": "send_email", "template_id": template.pk}
    tried = client.post(reverse("automation:test", args=[mailer.pk]), {"object_id": lead.pk})
    assert "Queued “A demo, Lena?” to lena@prospect.example." in tried.content.decode()
    assert smtp.messages == [] and not Activity.objects.filter(lead=lead).exists()


def test_lead_rules_over_the_api(api, org):
    client = api(org.admin)
    lead = new_lead(org.sales_a1, source="event")
    created = client.post("/rules", {
        "name": "Event leads", "object_type": "lead", "trigger": {"type": "updated"},
        "conditions": {"match": "all", "rules": [{"field": "source", "op": "eq",
                                                  "value": "event"}]},
        "actions": [{"type": "set_field", "field": "score", "value": 30}], "is_active": True})
    assert created.status_code == 201, created.content
    lead_services.lead_update(actor=org.sales_a1, lead_id=lead.pk, data={"title": "VP"})
    assert Lead.objects.get(pk=lead.pk).score == 30
    schema = client.get("/openapi.json").json()
    assert "lead" in schema["components"]["schemas"]["RuleIn"]["properties"]["object_type"][
        "description"]
