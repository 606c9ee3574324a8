"""What each action does, always through the owning app's services (the one write path).

Each returns a line for the run's log. RapportError means the step cannot succeed as
it stands (bad value, missing address); anything else may be passing and is retried.
"""

import datetime
import json

from django.utils import timezone

from rapport.accounts.models import User
from rapport.activities.services import activity_create
from rapport.automation.services import queue_delivery
from rapport.contacts.services import company_update, contact_update
from rapport.core.errors import ValidationFailed
from rapport.mail.services import email_send
from rapport.sales.lead_services import lead_update
from rapport.sales.services import deal_update
from rapport.workflows import conditions
from rapport.workflows.models import Rule

UPDATERS = {
    "contact": lambda actor, pk, data: contact_update(actor=actor, contact_id=pk, data=data),
    "company": lambda actor, pk, data: company_update(actor=actor, company_id=pk, data=data),
    "deal": lambda actor, pk, data: deal_update(actor=actor, deal_id=pk, data=data),
    "lead": lambda actor, pk, data: lead_update(actor=actor, lead_id=pk, data=data),
}


def perform(action: dict, *, rule: Rule, record, actor) -> str:
    return HANDLERS[action["type"]](action, rule, record, actor)


def _update(rule, record, actor, data: dict) -> None:
    UPDATERS[rule.object_type](actor, record.pk, data)


def set_field(action, rule, record, actor) -> str:
    field, value = action["field"], action["value"]
    if field.startswith("custom_fields."):
        _update(rule, record, actor, {"custom_fields": {field.split(".", 1)[1]: value}})
    else:
        _update(rule, record, actor, {field: value})
    return f"Set {field} to {json.dumps(value)}."


def add_tag(action, rule, record, actor) -> str:
    names = [tag.name for tag in record.tags.all()]
    if action["tag"].lower() in (n.lower() for n in names):
        return f"Already tagged “{action['tag']}”."
    _update(rule, record, actor, {"tags": [*names, action["tag"]]})
    return f"Added the tag “{action['tag']}”."


def remove_tag(action, rule, record, actor) -> str:
    names = [tag.name for tag in record.tags.all()]
    kept = [n for n in names if n.lower() != action["tag"].lower()]
    if kept == names:
        return f"Not tagged “{action['tag']}”: nothing to remove."
    _update(rule, record, actor, {"tags": kept})
    return f"Removed the tag “{action['tag']}”."


def assign_round_robin(action, rule, record, actor) -> str:
    members = list(User.objects.filter(team_id=action["team_id"], is_active=True).order_by("id"))
    if not members:
        raise ValidationFailed("The team has no active members to assign.",
                               fields={"team_id": ["No active members."]})
    # The lock makes two runs at once take consecutive turns, never the same one.
    locked = Rule.objects.select_for_update().get(pk=rule.pk)
    chosen = members[locked.round_robin_position % len(members)]
    Rule.objects.filter(pk=rule.pk).update(round_robin_position=locked.round_robin_position + 1)
    _update(rule, record, actor, {"owner_id": chosen.pk})
    return f"Assigned to {chosen} (round robin in the team)."


def create_task(action, rule, record, actor) -> str:
    assignee = record.owner_id if action["assign_to"] == "owner" else action["assign_to"]
    due = timezone.localdate() + datetime.timedelta(days=action["due_in_days"])
    task = activity_create(actor=actor, data={
        "kind": "task", "subject": action["subject"], "body": action["body"],
        f"{rule.object_type}_id": record.pk, "due_date": due.isoformat(),
        "priority": action["priority"], "assignee_id": assignee or actor.pk,
    })
    return f"Created the task “{task.subject}” due {due:%b %-d} for {task.assignee}."


def send_email(action, rule, record, actor) -> str:
    # To the contact, the deal's first contact or the lead (a lead without an address fails
    # the step naming lead_id, as a contact without one fails it naming `to`).
    email = email_send(actor=actor, data={f"{rule.object_type}_id": record.pk,
                                          "template_id": action["template_id"]})
    return f"Queued “{email.subject}” to {', '.join(email.to)}."


def call_webhook(action, rule, record, actor) -> str:
    delivery = queue_delivery(webhook_id=action["webhook_id"], event_type="rule.webhook", data={
        "rule": {"id": rule.pk, "name": rule.name},
        "object_type": rule.object_type, "object_id": record.pk,
        "record": {field: conditions.value_of(record, field) for field in _snapshot_fields(rule)},
    })
    return f"Queued a signed POST to {delivery.webhook.url}."


def _snapshot_fields(rule) -> list[str]:
    from rapport.workflows.spec import FIELDS

    return [f for f in FIELDS[rule.object_type]] + ["tags"]


def branch(action, rule, record, actor) -> str:
    taken = "then" if conditions.met(action["conditions"], record) else "else"
    lines = []
    for inner in action[taken]:
        record = conditions.load(rule.object_type, record.pk)  # see the previous step's change
        if record is None:
            raise ValidationFailed("The record was deleted during the run.")
        lines.append(perform(inner, rule=rule, record=record, actor=actor))
    label = "If" if taken == "then" else "Else"
    return f"{label}: " + (" ".join(lines) if lines else "nothing to do.")


HANDLERS = {
    "set_field": set_field, "add_tag": add_tag, "remove_tag": remove_tag,
    "assign_round_robin": assign_round_robin, "create_task": create_task,
    "send_email": send_email, "call_webhook": call_webhook, "branch": branch,
}
