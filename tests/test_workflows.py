"""Automation rules end to end: events fire rules, steps are logged, loops are refused.

Jobs run at once (conftest) and tests commit for real, so a change fires the event
consumer after commit, which starts the run, which runs its steps: as in production.
"""

import datetime

import pytest
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.automation.models import Delivery
from rapport.automation.services import webhook_create
from rapport.contacts.models import Contact
from rapport.contacts.services import contact_create, contact_update
from rapport.core.errors import PermissionDenied, ValidationFailed
from rapport.core.models import Event
from rapport.mail import services as mail
from rapport.mail.models import OutboundEmail
from rapport.workflows import engine, services
from rapport.workflows.models import Rule, RuleRun, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)

BECAME_CUSTOMER = {"type": "field_changed", "field": "lifecycle_stage", "to": "customer"}


@pytest.fixture
def welcome(org):
    return mail.template_create(actor=org.admin, data={
        "name": "Welcome aboard", "subject": "Welcome, {{ contact.first_name|default:'friend' }}",
        "body": "Glad to have {{ company.name|default:'you' }} with us."})


@pytest.fixture
def contact(org):
    return contact_create(actor=org.sales_a1, data={
        "first_name": "Nora", "last_name": "Batty", "email": "nora@example.com",
        "lifecycle_stage": "opportunity"})


def rule(org, **data):
    return services.rule_create(actor=org.admin, data={
        "name": "Rule", "object_type": "contact", "is_active": True, **data})


def test_a_stage_change_sends_an_email_and_creates_a_task_exactly_once(org, smtp, welcome, contact):
    onboarding = rule(org, name="Onboard new customers", trigger=BECAME_CUSTOMER, actions=[
        {"type": "send_email", "template_id": welcome.pk},
        {"type": "create_task", "subject": "Book the kick-off call", "due_in_days": 2,
         "priority": "high"},
        {"type": "add_tag", "tag": "onboarding"},
    ])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"lifecycle_stage": "customer"})

    [run] = RuleRun.objects.filter(rule=onboarding)
    assert run.status == RunStatus.DONE
    assert [s["outcome"] for s in run.steps] == ["done", "done", "done"]
    [received] = smtp.messages
    assert received["parsed"]["Subject"] == "Welcome, Nora"
    task = Activity.objects.get(kind="task", contact=contact)
    assert task.subject == "Book the kick-off call" and task.assignee == org.sales_a1
    assert task.due_date == timezone.localdate() + datetime.timedelta(days=2)
    assert sorted(t.name for t in Contact.objects.get(pk=contact.pk).tags.all()) == ["onboarding"]

    # The same event dispatched again, and other changes, start nothing more.
    stage_change = Event.objects.get(type="contact.updated", object_id=contact.pk,
                                     data__changes__has_key="lifecycle_stage")
    assert engine.runs_for_event(stage_change) == []
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Buyer"})
    assert RuleRun.objects.filter(rule=onboarding).count() == 1
    assert len(smtp.messages) == 1 and Activity.objects.filter(kind="task").count() == 1


def test_conditions_decide_whether_a_rule_runs(org, contact):
    rule(org, trigger={"type": "updated"}, conditions={"match": "all", "rules": [
        {"field": "title", "op": "contains", "value": "director"},
        {"match": "any", "rules": [{"field": "email", "op": "is_empty"},
                                   {"field": "email", "op": "contains", "value": "@example.com"}]},
    ]}, actions=[{"type": "set_field", "field": "lifecycle_stage", "value": "sales_qualified"}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Buyer"})
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "opportunity"
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Sales Director"})
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "sales_qualified"


def test_a_branch_takes_one_side_and_round_robin_assigns_in_turn(org):
    rule(org, trigger={"type": "created"}, actions=[{
        "type": "branch",
        "conditions": {"match": "all", "rules": [{"field": "country", "op": "eq", "value": "DE"}]},
        "then": [{"type": "assign_round_robin", "team_id": org.team_a.pk}],
        "else": [{"type": "add_tag", "tag": "international"}],
    }])
    made = [contact_create(actor=org.admin, data={"first_name": f"P{n}", "country": "DE"})
            for n in range(3)]
    abroad = contact_create(actor=org.admin, data={"first_name": "Q", "country": "FR"})
    members = sorted([org.manager_a.pk, org.sales_a1.pk, org.sales_a2.pk])
    owners = [Contact.objects.get(pk=c.pk).owner_id for c in made]
    assert owners == members  # one each, in turn
    assert [t.name for t in Contact.objects.get(pk=abroad.pk).tags.all()] == ["international"]


def test_wait_pauses_the_run_and_the_sweep_carries_it_on(org, contact):
    waiting = rule(org, trigger=BECAME_CUSTOMER, actions=[
        {"type": "wait", "days": 3},
        {"type": "create_task", "subject": "Check in after three days"}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"lifecycle_stage": "customer"})
    run = RuleRun.objects.get(rule=waiting)
    assert run.status == RunStatus.WAITING and run.position == 1
    assert run.resume_at > timezone.now() + datetime.timedelta(days=2, hours=23)
    assert not Activity.objects.filter(kind="task").exists()

    RuleRun.objects.filter(pk=run.pk).update(resume_at=timezone.now())
    from rapport.workflows.tasks import resume_due_runs
    resume_due_runs.call_local()
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert Activity.objects.filter(kind="task", subject="Check in after three days").count() == 1


def test_a_failing_step_fails_the_run_with_the_reason_and_tells_the_owner(org, welcome):
    no_address = contact_create(actor=org.sales_a1, data={"first_name": "Silent"})
    failing = rule(org, trigger={"type": "updated"}, actions=[
        {"type": "add_tag", "tag": "touched"}, {"type": "send_email", "template_id": welcome.pk}])
    contact_update(actor=org.sales_a1, contact_id=no_address.pk, data={"title": "Ghost"})
    run = RuleRun.objects.get(rule=failing)
    assert run.status == RunStatus.FAILED and "Step 2 (send_email)" in run.error
    assert "to: This field is required." in run.error
    assert [s["outcome"] for s in run.steps] == ["done", "failed"]
    notice = Activity.objects.get(kind="task", assignee=org.admin)
    assert notice.subject == "Automation rule failed: Rule"


def test_a_rule_never_fires_on_its_own_change_and_chains_stop_at_the_depth_limit(org, contact):
    # Fires on any update and updates the record itself: without protection, forever.
    stamping = rule(org, trigger={"type": "updated"},
                    actions=[{"type": "add_tag", "tag": "seen"}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "A"})
    assert RuleRun.objects.filter(rule=stamping).count() == 1

    # Two rules that would feed each other are refused when the second is switched on.
    first = rule(org, name="Up", trigger={"type": "field_changed", "field": "title", "to": "x"},
                 actions=[{"type": "set_field", "field": "city", "value": "Leeds"}])
    with pytest.raises(ValidationFailed) as refused:
        rule(org, name="Down", trigger={"type": "field_changed", "field": "city"},
             actions=[{"type": "set_field", "field": "title", "value": "x"}])
    assert "“Down” → “Up” → “Down”" in refused.value.message
    assert not Rule.objects.filter(name="Down").exists()
    assert first.is_active


def test_the_runtime_depth_limit_stops_a_chain_the_static_check_cannot_see(org, contact):
    """Rules saved while off, then switched on directly in the database (as a migration or
    an import might): the depth limit still ends the chain."""
    for name, field, value in (("A", "city", "Leeds"), ("B", "region", "Yorkshire")):
        services.rule_create(actor=org.admin, data={
            "name": name, "object_type": "contact", "trigger": {"type": "updated"},
            "actions": [{"type": "set_field", "field": field, "value": value},
                        {"type": "set_field", "field": field, "value": ""}]})
    Rule.objects.update(is_active=True)
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Start"})
    skipped = RuleRun.objects.filter(status=RunStatus.SKIPPED)
    assert skipped.exists() and "This stops loops." in skipped.first().error
    assert RuleRun.objects.filter(depth__gt=engine.MAX_DEPTH + 1).count() == 0


def test_a_dry_run_shows_each_step_and_changes_nothing(org, smtp, welcome, contact):
    draft = services.rule_create(actor=org.admin, data={
        "name": "Draft", "object_type": "contact", "trigger": BECAME_CUSTOMER,
        "actions": [{"type": "set_field", "field": "title", "value": "Customer"},
                    {"type": "wait", "hours": 1},
                    {"type": "send_email", "template_id": welcome.pk},
                    {"type": "set_field", "field": "lifecycle_stage", "value": "not-a-stage"}]})
    run = services.rule_test(actor=org.admin, rule_id=draft.pk, object_id=contact.pk)
    assert run.dry_run and run.status == RunStatus.FAILED
    assert [s["outcome"] for s in run.steps] == ["done", "done", "done", "failed"]
    assert "Would wait 60 minutes" in run.steps[1]["detail"]
    assert "Queued “Welcome, Nora”" in run.steps[2]["detail"]
    assert "lifecycle_stage" in run.error
    assert Contact.objects.get(pk=contact.pk).title == ""
    assert not OutboundEmail.objects.exists() and smtp.messages == []
    assert not Activity.objects.filter(kind="email").exists()


def test_call_webhook_queues_a_signed_delivery(org, settings, contact):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    hook, _ = webhook_create(actor=org.admin, data={"url": "http://127.0.0.1:9/x",
                                                    "events": ["deal.*"]})
    rule(org, trigger=BECAME_CUSTOMER, actions=[{"type": "call_webhook", "webhook_id": hook.pk}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"lifecycle_stage": "customer"})
    delivery = Delivery.objects.get(webhook=hook, event_type="rule.webhook")
    assert f'"object_id":{contact.pk}' in delivery.body and '"lifecycle_stage":"customer"' in delivery.body


@pytest.mark.parametrize(("data", "where", "complaint"), [
    ({"trigger": {"type": "sometimes"}}, "trigger.type", "Choose one of"),
    ({"trigger": {"type": "field_changed", "field": "password"}}, "trigger.field",
     "“password” is not a contact field"),
    ({"actions": []}, "actions", "List at least one action"),
    ({"actions": [{"type": "set_field", "field": "created_at", "value": "x"}]},
     "actions[0].field", "a rule can set"),
    ({"actions": [{"type": "branch", "conditions": {"rules": [
        {"field": "city", "op": "eq", "value": "x"}]}, "then": [{"type": "wait", "minutes": 5}]}]},
     "actions[0].then[0]", "Wait only at the top level"),
    ({"conditions": {"match": "most", "rules": []}}, "conditions.match", "Choose all or any"),
    ({"actions": [{"type": "send_email", "template_id": 999999}]}, "actions[0].template_id",
     "No such template"),
])
def test_a_bad_rule_is_refused_naming_where(org, data, where, complaint):
    with pytest.raises(ValidationFailed) as refused:
        rule(org, **{"trigger": {"type": "created"}, "actions": [{"type": "add_tag", "tag": "x"}],
                     **data})
    assert any(complaint in message for message in refused.value.fields[where])
    assert not Rule.objects.exists()


def test_only_admins_manage_rules(org):
    with pytest.raises(PermissionDenied):
        services.rule_create(actor=org.manager_a, data={
            "name": "Mine", "object_type": "contact", "trigger": {"type": "created"},
            "actions": [{"type": "add_tag", "tag": "x"}]})


def test_date_rules_fire_once_per_record_and_day(org):
    rule(org, trigger={"type": "date", "field": "custom_fields.renewal", "offset_days": -3},
         actions=[{"type": "create_task", "subject": "Renewal in three days"}])
    from rapport.core.services import custom_field_create
    custom_field_create(actor=org.admin, object_type="contact", key="renewal", label="Renewal",
                        type="date")
    due = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    contact_create(actor=org.sales_a1, data={"first_name": "Renews", "custom_fields": {"renewal": due}})
    contact_create(actor=org.sales_a1, data={"first_name": "Later", "custom_fields": {
        "renewal": (timezone.localdate() + datetime.timedelta(days=30)).isoformat()}})
    assert engine.fire_timed() == 1
    assert engine.fire_timed() == 0
    assert Activity.objects.filter(subject="Renewal in three days").count() == 1


def test_a_run_whose_job_was_lost_is_picked_up_by_the_sweep(org, contact, monkeypatch):
    monkeypatch.setattr(engine, "_enqueue", lambda ids: None)  # the queue was down at commit
    tagging = rule(org, trigger={"type": "updated"}, actions=[{"type": "add_tag", "tag": "late"}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Lost"})
    run = RuleRun.objects.get(rule=tagging)
    assert run.status == RunStatus.RUNNING and run.position == 0
    from rapport.workflows.tasks import resume_due_runs
    resume_due_runs.call_local()
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert [t.name for t in Contact.objects.get(pk=contact.pk).tags.all()] == ["late"]


def test_a_worker_that_lost_its_claim_does_not_run_the_step_again(org, contact, monkeypatch):
    monkeypatch.setattr(engine, "_enqueue", lambda ids: None)
    tasking = rule(org, trigger={"type": "updated"},
                   actions=[{"type": "create_task", "subject": "Once only"}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Race"})
    run_id = RuleRun.objects.get(rule=tasking).pk
    slow = RuleRun.objects.select_related("rule", "rule__owner").get(pk=run_id)
    slow.claim = "slow-worker"
    RuleRun.objects.filter(pk=run_id).update(claim="the-sweep-took-it")
    engine._carry_on(slow)  # the slow worker wakes up after its lease ran out
    assert not Activity.objects.filter(subject="Once only").exists()
    assert RuleRun.objects.get(pk=run_id).position == 0


def test_an_owner_or_tag_change_fires_field_changed_rules(org, contact):
    owner_rule = rule(org, name="Owner", trigger={"type": "field_changed", "field": "owner_id"},
                      actions=[{"type": "create_task", "subject": "Introduce yourself"}])
    tag_rule = rule(org, name="Tag", trigger={"type": "field_changed", "field": "tags", "to": "VIP"},
                    actions=[{"type": "set_field", "field": "lifecycle_stage", "value": "customer"}])
    contact_update(actor=org.admin, contact_id=contact.pk, data={"owner_id": org.sales_a2.pk})
    contact_update(actor=org.admin, contact_id=contact.pk, data={"tags": ["vip"]})
    assert RuleRun.objects.get(rule=owner_rule).status == RunStatus.DONE
    assert RuleRun.objects.get(rule=tag_rule).status == RunStatus.DONE
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == "customer"


def test_editing_a_rule_does_not_move_a_waiting_run_onto_another_step(org, contact):
    waiting = rule(org, trigger={"type": "updated"}, actions=[
        {"type": "wait", "minutes": 5}, {"type": "add_tag", "tag": "after-wait"}])
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Wait"})
    services.rule_update(actor=org.admin, rule_id=waiting.pk, data={"actions": [
        {"type": "create_task", "subject": "Inserted first"}, {"type": "wait", "minutes": 5},
        {"type": "add_tag", "tag": "after-wait"}]})
    run = RuleRun.objects.get(rule=waiting)
    RuleRun.objects.filter(pk=run.pk).update(resume_at=timezone.now())
    engine.execute(run.pk)
    assert RuleRun.objects.get(pk=run.pk).status == RunStatus.DONE
    assert not Activity.objects.filter(subject="Inserted first").exists()
    assert [t.name for t in Contact.objects.get(pk=contact.pk).tags.all()] == ["after-wait"]


def test_a_schedule_reaches_matching_records_beyond_the_first_page(org, monkeypatch):
    monkeypatch.setattr(engine, "SCHEDULE_CAP", 3)
    for n in range(8):
        contact_create(actor=org.admin, data={"first_name": f"S{n}",
                                              "title": "Chief" if n >= 5 else "Clerk"})
    rule(org, trigger={"type": "schedule", "every": "day"},
         conditions={"match": "all", "rules": [{"field": "title", "op": "eq", "value": "chief"}]},
         actions=[{"type": "add_tag", "tag": "daily"}])
    assert engine.fire_timed() == 3
    assert engine.fire_timed() == 0  # once per slot
    assert Contact.objects.filter(tags__name="daily").count() == 3


@pytest.mark.parametrize(("data", "where"), [
    ({"trigger": {"type": "date", "field": "custom_fields.a__contains", "offset_days": 0}},
     "trigger.field"),
    ({"actions": [{"type": "set_field", "field": "city", "value": float("nan")}]},
     "actions[0].value"),
])
def test_values_that_could_break_a_query_or_the_json_are_refused(org, data, where):
    with pytest.raises(ValidationFailed) as refused:
        rule(org, **{"trigger": {"type": "created"}, "actions": [{"type": "add_tag", "tag": "x"}],
                     **data})
    assert where in refused.value.fields


def test_if_else_nests_at_most_three_deep(org):
    deep = {"type": "add_tag", "tag": "x"}
    for _ in range(4):
        deep = {"type": "branch", "conditions": {"rules": [{"field": "city", "op": "is_empty"}]},
                "then": [deep]}
    with pytest.raises(ValidationFailed) as refused:
        rule(org, trigger={"type": "created"}, actions=[deep])
    assert "at most 3 deep" in str(refused.value.fields)


def test_a_rule_cannot_call_a_switched_off_webhook(org, settings, contact):
    from rapport.automation.services import webhook_update

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    hook, _ = webhook_create(actor=org.admin, data={"url": "http://127.0.0.1:9/x",
                                                    "events": ["deal.*"]})
    calling = rule(org, trigger={"type": "updated"},
                   actions=[{"type": "call_webhook", "webhook_id": hook.pk}])
    webhook_update(actor=org.admin, webhook_id=hook.pk, data={"is_active": False})
    contact_update(actor=org.sales_a1, contact_id=contact.pk, data={"title": "Off"})
    run = RuleRun.objects.get(rule=calling)
    assert run.status == RunStatus.FAILED and "switched off" in run.error
    assert not Delivery.objects.filter(webhook=hook).exists()
