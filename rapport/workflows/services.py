"""Every write to automation rules: create, change, switch on (loop-checked), test, delete.

Rules act on every record, whoever owns it, so only admins manage them (as webhooks).
"""

from django.db import transaction
from django.utils import timezone

from rapport.core.cleaning import clean_fields, text
from rapport.core.dispatch import matches
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.events import record_event
from rapport.core.permissions import require_admin
from rapport.workflows import engine, spec
from rapport.workflows.models import Rule, RuleRun


def _object_type(value) -> str:
    if value not in spec.OBJECT_TYPES:
        raise ValueError(f"Choose one of: {', '.join(spec.OBJECT_TYPES)}.")
    return value


def _active(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Send true or false.")
    return value


ADMIN_ONLY = "build automation rules: a rule acts on every record"

CLEANERS = {
    "name": text(120), "description": text(300), "object_type": _object_type,
    "trigger": lambda v: v, "conditions": lambda v: v, "actions": lambda v: v,
    "is_active": _active,
}


def _apply(rule: Rule, data: dict, *, creating: bool) -> Rule:
    values = clean_fields(CLEANERS, data,
                          required=("name", "object_type") if creating else ())
    if not creating and "name" in values and not values["name"]:
        raise ValidationFailed(fields={"name": ["This field is required."]})
    for name, value in values.items():
        setattr(rule, name, value)
    rule.trigger, rule.conditions, rule.actions = spec.check_rule(
        rule.object_type, rule.trigger, rule.conditions, rule.actions)
    _check_references(rule)
    if rule.is_active:
        _refuse_loops(rule)
    return rule


def _check_references(rule: Rule) -> None:
    """Templates, webhooks, teams and users a rule names must exist when it is saved."""
    from rapport.accounts.models import Team, User
    from rapport.automation.models import Webhook
    from rapport.mail.models import EmailTemplate

    errors = {}
    for where, action in _walk(rule.actions, "actions"):
        checks = {"send_email": ("template_id", EmailTemplate, "template"),
                  "call_webhook": ("webhook_id", Webhook, "webhook"),
                  "assign_round_robin": ("team_id", Team, "team")}
        if action["type"] in checks:
            key, model, label = checks[action["type"]]
            if not model.objects.filter(pk=action[key]).exists():
                errors[f"{where}.{key}"] = [f"No such {label}."]
        if action["type"] == "create_task" and action["assign_to"] != "owner" and \
                not User.objects.filter(pk=action["assign_to"], is_active=True).exists():
            errors[f"{where}.assign_to"] = ["No such active user."]
    if errors:
        raise ValidationFailed(fields=errors)


def _walk(actions: list, where: str):
    for index, action in enumerate(actions):
        yield f"{where}[{index}]", action
        if action["type"] == "branch":
            yield from _walk(action["then"], f"{where}[{index}].then")
            yield from _walk(action["else"], f"{where}[{index}].else")


def _sets_off(first: Rule, second: Rule) -> bool:
    """Whether `first`'s actions can fire `second` (a rule never fires on its own changes)."""
    same = first is second or (first.pk is not None and first.pk == second.pk)
    if same or first.object_type != second.object_type:
        return False
    written = spec.written_fields(first.actions)
    if not written:
        return False
    trigger = second.trigger
    if trigger["type"] == "updated":
        return True
    if trigger["type"] == "field_changed":
        return trigger["field"] in written or (
            trigger["field"].startswith("custom_fields.") and trigger["field"] in written)
    if trigger["type"] == "event":
        return any(matches(trigger["event_type"], event)
                   for event in spec.written_events(first.object_type, first.actions))
    return False


def _refuse_loops(rule: Rule) -> None:
    """Switching on a rule that would set off a chain leading back to itself is refused."""
    others = list(Rule.objects.filter(is_active=True).exclude(pk=rule.pk))
    graph = [rule, *others]
    path = [rule]

    def reaches_back(current: Rule, seen: set) -> bool:
        for nxt in graph:
            if not _sets_off(current, nxt):
                continue
            if nxt is rule:
                return True
            if nxt.pk not in seen:
                seen.add(nxt.pk)
                path.append(nxt)
                if reaches_back(nxt, seen):
                    return True
                path.pop()
        return False

    if reaches_back(rule, set()):
        chain = " → ".join(f"“{r.name}”" for r in [*path, rule])
        raise ValidationFailed(
            "These rules would set each other off in a loop: " + chain + ". Change a trigger "
            "or an action so the chain ends.",
            fields={"is_active": [f"Would loop: {chain}."]})


@transaction.atomic
def rule_create(*, actor, data: dict) -> Rule:
    require_admin(actor, ADMIN_ONLY)
    rule = _apply(Rule(owner=actor, conditions={}), data, creating=True)
    rule.save()
    record_event(type="rule.created", object_type="rule", object_id=rule.pk, actor=actor,
                 data={"name": rule.name, "is_active": rule.is_active})
    return rule


@transaction.atomic
def rule_update(*, actor, rule_id: int, data: dict) -> Rule:
    require_admin(actor, ADMIN_ONLY)
    rule = Rule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    _apply(rule, data, creating=False)
    if rule.owner is None or not rule.owner.is_active:
        rule.owner = actor  # an admin saving the rule takes it over
    rule.updated_at = timezone.now()
    rule.save()
    record_event(type="rule.updated", object_type="rule", object_id=rule.pk, actor=actor,
                 data={"fields": sorted(data), "is_active": rule.is_active})
    return rule


@transaction.atomic
def rule_delete(*, actor, rule_id: int) -> None:
    require_admin(actor, ADMIN_ONLY)
    deleted, _ = Rule.objects.filter(pk=rule_id).delete()
    if not deleted:
        raise NotFound()
    record_event(type="rule.deleted", object_type="rule", object_id=rule_id, actor=actor)


def rule_test(*, actor, rule_id: int, object_id) -> RuleRun:
    """A dry run on the chosen record: the log says what each step would do; nothing stays."""
    require_admin(actor, ADMIN_ONLY)
    rule = Rule.objects.select_related("owner").filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"object_id": ["Enter a record id."]}) from None
    if not 1 <= object_id < 2**63:
        raise ValidationFailed(fields={"object_id": [f"No such {rule.object_type}."]})
    return engine.dry_run(rule, object_id)
