"""Deals in the shared platform: activities and the timeline, email from a deal, and rules.

Jobs run at once (conftest) and these tests commit for real, so a deal's move fires the
event consumer after commit, which starts the rule's run, which sends and creates: as in
production.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.selectors import activity_visible, timeline
from rapport.activities.services import activity_create
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import ValidationFailed
from rapport.core.models import Event
from rapport.mail import services as mail
from rapport.mail.models import OutboundEmail
from rapport.sales.models import Deal, Stage
from rapport.sales.services import deal_contact_add, deal_create, deal_move
from rapport.workflows import engine
from rapport.workflows import services as rules
from rapport.workflows.models import RuleRun, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deal(org):
    company = company_create(actor=org.sales_a1, data={"name": "Initech"})
    buyer = contact_create(actor=org.sales_a1, data={
        "first_name": "Peter", "last_name": "Gibbons", "email": "peter@initech.example",
        "company_id": company.pk})
    deal = deal_create(actor=org.sales_a1, data={
        "name": "Initech: 25 seats", "amount": "12500.00", "currency": "EUR",
        "company_id": company.pk, "owner_id": org.sales_a1.pk})
    deal_contact_add(actor=org.sales_a1, deal_id=deal.pk, contact_id=buyer.pk,
                     role="decision_maker")
    return deal


def stage(deal, name):
    return Stage.objects.get(pipeline_id=deal.pipeline_id, name=name)


def test_an_activity_logged_on_a_deal_is_on_its_timeline_and_restarts_its_rotting_clock(
        org, deal):
    call = activity_create(actor=org.sales_a1, data={
        "kind": "call", "subject": "Pricing questions", "deal_id": deal.pk})
    assert call.company_id == deal.company_id  # the deal's company, as a contact's would be
    fresh = Deal.objects.get(pk=deal.pk)
    assert fresh.last_activity_at == call.occurred_at

    deal_move(actor=org.sales_a1, deal_id=deal.pk, stage_id=stage(deal, "Proposal").pk)
    items = timeline(record=Deal.objects.get(pk=deal.pk))
    assert any(i.activity and i.activity.pk == call.pk for i in items)
    assert any(i.event and i.event.type == "deal.updated" for i in items)


def test_an_open_task_does_not_count_as_activity_until_it_is_done(org, deal):
    task = activity_create(actor=org.sales_a1, data={
        "kind": "task", "subject": "Send the proposal", "deal_id": deal.pk})
    assert Deal.objects.get(pk=deal.pk).last_activity_at is None
    from rapport.activities.services import task_set_done
    task_set_done(actor=org.sales_a1, activity_id=task.pk, done=True)
    assert Deal.objects.get(pk=deal.pk).last_activity_at is not None


def test_a_deal_outside_the_users_scope_cannot_take_activities_and_hides_its_own(org, deal):
    with pytest.raises(ValidationFailed) as refused:
        activity_create(actor=org.sales_b1, data={
            "kind": "note", "body": "Sneaky", "deal_id": deal.pk})
    assert "deal_id" in refused.value.fields
    note = activity_create(actor=org.sales_a1, data={
        "kind": "note", "body": "Only for us", "deal_id": deal.pk})
    Activity.objects.filter(pk=note.pk).update(company=None)  # reachable only via the deal
    assert activity_visible(user=org.sales_a1).filter(pk=note.pk).exists()
    assert not activity_visible(user=org.sales_b1).filter(pk=note.pk).exists()


def test_the_deal_timeline_names_stages_and_the_lost_reason(client, org, deal):
    from rapport.sales.models import LostReason

    reason = LostReason.objects.filter(active=True).first()
    deal_move(actor=org.sales_a1, deal_id=deal.pk, stage_id=stage(deal, "Proposal").pk)
    deal_move(actor=org.sales_a1, deal_id=deal.pk, status="lost", lost_reason_id=reason.pk)
    client.force_login(org.sales_a1)
    from django.test import RequestFactory

    from rapport.activities.views import timeline_context

    request = RequestFactory().get("/")
    request.user = org.sales_a1
    items = timeline_context(request, Deal.objects.get(pk=deal.pk))["timeline"]
    lines = [line for item in items if item.event for line in getattr(item, "lines", [])]
    assert ("Stage", "Qualification", "Proposal") in lines
    verbs = [item.verb for item in items if item.event]
    assert f"marked this deal lost: {reason.name}" in verbs
    assert not any(item.event.type == "deal.stage_changed" for item in items if item.event)


def test_email_from_a_deal_goes_to_its_contact_with_deal_merge_fields(client, org, smtp, deal):
    client.force_login(org.sales_a1)
    url = reverse("compose:compose_deal", args=[deal.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'value="peter@initech.example"' in page.content

    response = client.post(url, {
        "to": "peter@initech.example", "cc": "",
        "subject": "{{ deal.name }}",
        "body": "Hi {{ contact.first_name }}, the {{ deal.amount }} {{ deal.currency }} "
                "proposal for {{ company.name }} is attached."})
    assert response.status_code == 302
    assert response["Location"] == reverse("deals:detail", args=[deal.pk])
    [received] = smtp.messages
    assert received["parsed"]["Subject"] == "Initech: 25 seats"
    assert ("Hi Peter, the 12,500.00 EUR proposal for Initech is attached."
            in received["parsed"].get_body(("plain",)).get_content())
    logged = Activity.objects.get(kind="email", deal=deal)
    assert logged.email_message_id == OutboundEmail.objects.get().message_id
    assert Deal.objects.get(pk=deal.pk).last_activity_at is not None


def test_someone_who_cannot_see_the_deal_cannot_email_from_it(client, org, deal):
    client.force_login(org.sales_b1)
    assert client.get(reverse("compose:compose_deal", args=[deal.pk])).status_code == 404
    with pytest.raises(ValidationFailed):
        mail.email_send(actor=org.sales_b1, data={
            "deal_id": deal.pk, "to": ["x@example.com"], "subject": "Hi", "body": "Hi"})
    assert not OutboundEmail.objects.exists()


def test_a_deal_stage_change_sends_an_email_and_creates_a_task_exactly_once(org, smtp, deal):
    template = mail.template_create(actor=org.admin, data={
        "name": "Proposal follow-up", "subject": "Your proposal, {{ contact.first_name }}",
        "body": "It is for {{ deal.name }}, now at {{ deal.stage }}."})
    proposal = stage(deal, "Proposal")
    follow_up = rules.rule_create(actor=org.admin, data={
        "name": "Follow up proposals", "object_type": "deal", "is_active": True,
        "trigger": {"type": "field_changed", "field": "stage_id", "to": proposal.pk},
        "actions": [
            {"type": "send_email", "template_id": template.pk},
            {"type": "create_task", "subject": "Call about the proposal", "due_in_days": 3},
        ]})

    deal_move(actor=org.sales_a1, deal_id=deal.pk, stage_id=proposal.pk)

    [run] = RuleRun.objects.filter(rule=follow_up)
    assert run.status == RunStatus.DONE, run.steps
    [received] = smtp.messages
    assert received["parsed"]["Subject"] == "Your proposal, Peter"
    assert ("It is for Initech: 25 seats, now at Proposal."
            in received["parsed"].get_body(("plain",)).get_content())
    task = Activity.objects.get(kind="task", deal=deal)
    assert task.subject == "Call about the proposal" and task.assignee == org.sales_a1
    assert task.due_date == timezone.localdate() + datetime.timedelta(days=3)

    # The same event again, and a move elsewhere, start nothing more.
    moved = Event.objects.get(type="deal.updated", object_id=deal.pk,
                              data__changes__has_key="stage")
    assert engine.runs_for_event(moved) == []
    deal_move(actor=org.sales_a1, deal_id=deal.pk, stage_id=stage(deal, "Negotiation").pk)
    assert RuleRun.objects.filter(rule=follow_up).count() == 1
    assert len(smtp.messages) == 1 and Activity.objects.filter(kind="task").count() == 1


def test_a_won_deal_event_rule_and_a_close_date_rule_fire_once(org, deal):
    rules.rule_create(actor=org.admin, data={
        "name": "Hand over won deals", "object_type": "deal", "is_active": True,
        "trigger": {"type": "event", "event_type": "deal.won"},
        "actions": [{"type": "create_task", "subject": "Hand over to onboarding"}]})
    rules.rule_create(actor=org.admin, data={
        "name": "Closing soon", "object_type": "deal", "is_active": True,
        "trigger": {"type": "date", "field": "expected_close_date", "offset_days": -3},
        "actions": [{"type": "create_task", "subject": "Closes in three days"}]})
    soon = timezone.localdate() + datetime.timedelta(days=3)
    Deal.objects.filter(pk=deal.pk).update(expected_close_date=soon)
    assert engine.fire_timed() == 1
    assert engine.fire_timed() == 0

    deal_move(actor=org.sales_a1, deal_id=deal.pk, status="won")
    subjects = sorted(Activity.objects.filter(kind="task", deal=deal).values_list("subject", flat=True))
    assert subjects == ["Closes in three days", "Hand over to onboarding"]


def test_an_email_rule_must_act_on_contacts_or_deals(org):
    with pytest.raises(ValidationFailed) as refused:
        rules.rule_create(actor=org.admin, data={
            "name": "Mail companies", "object_type": "company", "is_active": True,
            "trigger": {"type": "created"}, "actions": [{"type": "send_email", "template_id": 1}]})
    assert "actions[0].type" in refused.value.fields
