"""Every write to leads, lead assignment rules and the lead settings, and lead conversion: the
UI, the API, imports and jobs all come here.

Assignment: a lead created without an owner goes through the active assignment rules in
order; the first whose conditions hold assigns it (to a user; round robin within a team; or
to the team member with the fewest open leads). A rule whose user is inactive or whose team has
no active member passes the lead on to the next rule. When no rule takes it, the fallback
owner (Settings → Lead assignment) gets it; without one, its creator; with no creator (a
job), the first admin. Each automatic assignment is a `lead.assigned` event saying how.

Conversion (`lead_convert`): in one transaction, the lead's contact is linked (same email) or
created, its company linked (website or business-email domain, then name) or created, a deal
optionally created in the chosen pipeline with the contact on it, the lead's activities join
the contact's timeline, and the lead is marked converted (`lead.converted`).
"""

import dataclasses
import datetime

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from rapport.accounts import selectors as account_selectors
from rapport.accounts.services import active_user_id
from rapport.activities.services import activities_follow_conversion
from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.contacts.models import Company, Contact
from rapport.contacts.selectors import company_visible
from rapport.contacts.services import (
    clean_record,
    company_create,
    contact_cleaners,
    contact_create,
    contact_update,
)
from rapport.core import records
from rapport.core.choices import CustomFieldType, Source
from rapport.core.cleaning import (
    choice,
    clean_fields,
    flag,
    optional_choice,
    position,
    required_text,
    text,
)
from rapport.core.context import current_source
from rapport.core.countries import normalise_country
from rapport.core.customfields import TYPES, definitions_for
from rapport.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)
from rapport.core.events import record_event
from rapport.core.history import snapshot
from rapport.core.normalise import domain_of_url
from rapport.core.permissions import require_admin
from rapport.core.tags import add_tags, clean_tag_names
from rapport.sales import lead_selectors as selectors
from rapport.sales.choices import AssignmentAction, AssignmentMatch, LeadSource, LeadStatus
from rapport.sales.models import AssignmentRule, Deal, Lead, LeadSettings
from rapport.sales.services import deal_contact_add, deal_create

MAX_SCORE = 100_000
MAX_BULK = 1000
MAX_CONDITIONS = 20
MAX_RULES = 200
# A lead created without a source says where it came in.
SOURCE_DEFAULTS = {Source.API: LeadSource.API, Source.IMPORT: LeadSource.IMPORT}
# The lifecycle stages before a customer, in order: converting moves a contact up this list
# (to sales qualified, or opportunity with a deal), never down, and leaves the others alone.
PRE_CUSTOMER = (LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD,
                LifecycleStage.MARKETING_QUALIFIED, LifecycleStage.SALES_QUALIFIED,
                LifecycleStage.OPPORTUNITY)


# Cleaners ---------------------------------------------------------------------------------

def _score(value) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not -MAX_SCORE <= value <= MAX_SCORE:
        raise ValueError(f"Enter a whole number from -{MAX_SCORE:,} to {MAX_SCORE:,}.")
    return value


def lead_cleaners(actor):
    """A lead's fields; names, email, phone, title, website and country are cleaned exactly as
    a contact's are (the lead becomes one)."""
    person = contact_cleaners(actor)
    return {
        **{name: person[name] for name in ("first_name", "last_name", "email", "phone", "title",
                                           "website", "country")},
        "company_name": text(200), "source": choice(LeadSource), "status": choice(LeadStatus),
        "disqualified_reason": text(500), "score": _score, "owner_id": active_user_id,
        "company_size": optional_choice(CompanySize),
    }


def _check(lead: dict, errors: dict) -> None:
    """What must hold of a lead (its values) as a whole: a name or an email; a reason when
    disqualified."""
    if not (lead.get("first_name") or lead.get("last_name") or lead.get("email")):
        errors.setdefault("first_name", ["Enter a name or an email address."])
    disqualified = lead.get("status") == LeadStatus.DISQUALIFIED
    if disqualified and not lead.get("disqualified_reason"):
        errors.setdefault("disqualified_reason", ["Say why the lead is disqualified."])
    elif not disqualified and lead.get("disqualified_reason"):
        errors.setdefault("disqualified_reason", ["Only a disqualified lead has a reason."])


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


# Leads ------------------------------------------------------------------------------------

def new_lead_values(values: dict, *, source: str = "") -> dict:
    """Cleaned values as a new lead stores them, or ValidationFailed. Without a source in
    `values`, `source`, else what the call came through (an API call says `api`, an import
    `import`)."""
    if "source" not in values:
        values = {**values,
                  "source": source or SOURCE_DEFAULTS.get(current_source(), LeadSource.OTHER)}
    errors: dict = {}
    _check({"status": Lead._meta.get_field("status").get_default(), **values}, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return values


@transaction.atomic
def lead_create(*, actor, data: dict) -> Lead:
    """A new lead. Without `owner_id` it is assigned (rules, fallback owner, creator, first
    admin). Without `source`, an API call says `api` and an import `import`; otherwise
    `other`."""
    values, tags = clean_record(lead_cleaners(actor), data, "lead")
    lead = Lead(**new_lead_values(values))
    assignment = None
    if lead.owner_id is None:
        lead.owner_id, assignment = assign(lead, tags or [], actor)
    records.create_record(lead, actor=actor, tags=tags)
    if assignment:
        record_event(type="lead.assigned", obj=lead, actor=actor, data=assignment)
    return lead


def _lock_visible(actor, lead_id: int, expected_version: int | None = None) -> Lead:
    if not selectors.lead_visible(user=actor, pk=lead_id).exists():
        raise NotFound()
    return records.lock(Lead, lead_id, expected_version=expected_version)


@transaction.atomic
def lead_update(*, actor, lead_id: int, data: dict, expected_version: int | None = None) -> Lead:
    """Only the fields in `data` change. Leaving `disqualified` clears the reason; a converted
    lead stays qualified."""
    lead = _lock_visible(actor, lead_id, expected_version)
    before = snapshot(lead, records.tracked_fields(lead))
    values, tags = clean_record(lead_cleaners(actor), data, "lead", lead.custom_fields)
    errors: dict = {}
    if lead.is_converted and values.get("status", lead.status) != lead.status:
        errors["status"] = ["A converted lead stays qualified."]
    was_disqualified = lead.status == LeadStatus.DISQUALIFIED
    for field, value in values.items():
        setattr(lead, field, value)
    if was_disqualified and lead.status != LeadStatus.DISQUALIFIED \
            and "disqualified_reason" not in values:
        lead.disqualified_reason = ""
    _check(vars(lead), errors)
    if errors:
        raise ValidationFailed(fields=errors)
    records.update_record(lead, actor=actor, before=before, tags=tags)
    if lead.owner_id != before["owner"]:
        owner = account_selectors.user_list().filter(pk=lead.owner_id).first() \
            if lead.owner_id else None
        record_event(type="lead.assigned", obj=lead, actor=actor, data={
            "method": "manual", "from_owner_id": before["owner"], "owner_id": lead.owner_id,
            "owner_name": str(owner) if owner else ""})
    return lead


@transaction.atomic
def lead_delete(*, actor, lead_id: int) -> Lead:
    """To the trash (restorable for 30 days, then purged)."""
    return records.trash_record(_lock_visible(actor, lead_id), actor=actor)


@transaction.atomic
def lead_restore(*, actor, lead_id: int) -> Lead:
    lead = selectors.lead_visible(user=actor, trashed=True).select_for_update().filter(
        pk=lead_id).first()
    if lead is None:
        raise NotFound()
    return records.restore_record(lead, actor=actor)


@transaction.atomic
def leads_create_many(*, actor, rows: list[dict], tags: list[list[str]]) -> list[int]:
    """Save new leads (an import's, from values checked by new_lead_values); returns their
    ids in the order given. Those with an owner are written together (their search documents
    are the caller's to build, as for records.create_rows); each of the others is assigned
    as lead_create assigns it and then saved, one after the other in the given order, so
    every rule takes its turns and "least loaded" counts the leads just assigned. Each
    assignment records `lead.assigned` after `lead.created`."""
    owned = [i for i, row in enumerate(rows) if row.get("owner_id")]
    ids = dict(zip(owned, records.create_rows(
        Lead, [rows[i] for i in owned], actor=actor, tags=[tags[i] for i in owned]), strict=True))
    for i, (row, names) in enumerate(zip(rows, tags, strict=True)):
        if i in ids:
            continue
        lead = Lead(**row)
        lead.owner_id, assignment = assign(lead, names, actor)
        records.create_record(lead, actor=actor, tags=names)
        if assignment:
            record_event(type="lead.assigned", obj=lead, actor=actor, data=assignment)
        ids[i] = lead.pk
    return [ids[i] for i in range(len(rows))]


@transaction.atomic
def leads_trash_created(*, actor, ids) -> None:
    """Undo an import's new leads: all of them go to the trash, also one the assignment rules
    handed to a user whose leads `actor` cannot see (the import made it on their behalf)."""
    for lead in Lead.objects.select_for_update().filter(pk__in=list(ids)):
        records.trash_record(lead, actor=actor)


def _bulk_ids(ids) -> list[int]:
    if not isinstance(ids, list | tuple) or not ids:
        raise ValidationFailed(fields={"ids": ["Choose at least one lead."]})
    if len(ids) > MAX_BULK:
        raise ValidationFailed(fields={"ids": [f"Choose at most {MAX_BULK} leads."]})
    try:
        return [int(i) for i in ids]
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"ids": ["Ids must be whole numbers."]}) from None


@transaction.atomic
def leads_bulk_tag(*, actor, ids, tags) -> int:
    names = clean_tag_names(tags)
    if not names:
        raise ValidationFailed(fields={"tags": ["Enter at least one tag."]})
    changed = 0
    for lead in selectors.lead_visible(user=actor).filter(pk__in=_bulk_ids(ids)).prefetch_related("tags"):
        before = snapshot(lead, records.tracked_fields(lead))
        add_tags(lead, names)
        records.update_record(lead, actor=actor, before=before)
        changed += 1
    return changed


@transaction.atomic
def leads_bulk_assign(*, actor, ids, owner_id) -> int:
    """Hand the leads to `owner_id` (each records `lead.updated` and `lead.assigned`)."""
    try:
        owner = active_user_id(owner_id)
    except ValueError as exc:
        raise ValidationFailed(fields={"owner_id": [str(exc)]}) from None
    if owner is None:
        raise ValidationFailed(fields={"owner_id": ["Choose an owner."]})
    changed = 0
    for lead_id in selectors.lead_visible(user=actor).filter(pk__in=_bulk_ids(ids)) \
            .values_list("pk", flat=True):
        lead_update(actor=actor, lead_id=lead_id, data={"owner_id": owner})
        changed += 1
    return changed


@transaction.atomic
def leads_bulk_delete(*, actor, ids) -> int:
    changed = 0
    for lead in selectors.lead_visible(user=actor).filter(pk__in=_bulk_ids(ids)):
        records.trash_record(lead, actor=actor)
        changed += 1
    return changed


# Assignment -------------------------------------------------------------------------------

def assign(lead: Lead, tags: list[str], actor) -> tuple[int | None, dict]:
    """The owner for a new lead and how it was chosen (the `lead.assigned` event's data).

    Round robin and least loaded lock their rule's row for the rest of the transaction, so
    leads created at the same moment take consecutive turns, never the same one, and a
    least-loaded count never misses a lead being assigned beside it."""
    for rule in selectors.assignment_rule_list(active_only=True):
        if not rule_matches(rule, lead, tags):
            continue
        owner = _take_turn(rule)
        if owner is not None:
            return owner.pk, {"method": "rule", "rule_id": rule.pk, "rule_name": rule.name,
                              "action": rule.action, "owner_id": owner.pk,
                              "owner_name": str(owner)}
    fallback = selectors.lead_settings().fallback_owner
    if fallback is not None and fallback.is_active:
        return fallback.pk, {"method": "fallback", "owner_id": fallback.pk,
                             "owner_name": str(fallback)}
    if _user(actor):
        return actor.pk, {"method": "creator", "owner_id": actor.pk, "owner_name": str(actor)}
    admin = selectors.first_admin()
    if admin is not None:
        return admin.pk, {"method": "first_admin", "owner_id": admin.pk, "owner_name": str(admin)}
    return None, {}


def _take_turn(rule: AssignmentRule):
    """The user `rule` gives the next lead to, or None when it cannot (nobody to give it to)."""
    if rule.action == AssignmentAction.USER:
        return rule.user if rule.user is not None and rule.user.is_active else None
    locked = AssignmentRule.objects.select_for_update().filter(pk=rule.pk).first()
    if locked is None or locked.team_id is None:
        return None
    members = selectors.team_members(locked.team_id)
    if not members:
        return None
    size, turn = len(members), locked.round_robin_position
    if locked.action == AssignmentAction.ROUND_ROBIN:
        chosen = members[turn % size]
    else:
        # Fewest open leads; between equals, the turn decides, so ties go round too.
        counts = selectors.open_lead_counts(m.pk for m in members)
        chosen = min(enumerate(members),
                     key=lambda pair: (counts.get(pair[1].pk, 0), (pair[0] - turn) % size))[1]
    AssignmentRule.objects.filter(pk=rule.pk).update(
        round_robin_position=F("round_robin_position") + 1)
    return chosen


# Conditions: {"field", "op", "value"}. Text compares without case.
CONDITION_FIELDS = {
    "country": "country", "source": "source", "company_size": "company_size", "score": "number",
    "title": "text", "company_name": "text", "email_domain": "text", "tags": "text",
}
OPS = ("eq", "ne", "in", "not_in", "contains", "not_contains", "starts_with", "gt", "gte", "lt",
       "lte", "is_empty", "is_not_empty")
NUMBER_OPS = {"gt", "gte", "lt", "lte"}
TEXT_OPS = {"contains", "not_contains", "starts_with"}
LIST_OPS = {"in", "not_in"}
NO_VALUE_OPS = {"is_empty", "is_not_empty"}


def _value_of(lead: Lead, tags: list[str], field: str):
    if field == "tags":
        return [t.lower() for t in tags]
    if field == "email_domain":
        return lead.email.rpartition("@")[2] if "@" in lead.email else ""
    if field.startswith("custom_fields."):
        return (lead.custom_fields or {}).get(field.split(".", 1)[1])
    return getattr(lead, field)


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same(actual, expected) -> bool:
    if _number(actual) is not None and _number(expected) is not None \
            and not isinstance(actual, bool) and not isinstance(expected, bool):
        return _number(actual) == _number(expected)
    return str(actual).strip().lower() == str(expected).strip().lower()


def _holds(condition: dict, lead: Lead, tags: list[str]) -> bool:
    actual = _value_of(lead, tags, condition["field"])
    op, expected = condition["op"], condition.get("value")
    if op == "is_empty":
        return _empty(actual)
    if op == "is_not_empty":
        return not _empty(actual)
    if op in NUMBER_OPS:
        a, e = _number(actual), _number(expected)
        if a is None or e is None or isinstance(actual, bool):
            return False
        return {"gt": a > e, "gte": a >= e, "lt": a < e, "lte": a <= e}[op]
    values = actual if isinstance(actual, list) else [] if _empty(actual) else [actual]
    if op == "eq":
        return any(_same(v, expected) for v in values) or (_empty(actual) and _empty(expected))
    if op == "ne":
        return not any(_same(v, expected) for v in values)
    if op == "in":
        return any(_same(v, option) for v in values for option in expected)
    if op == "not_in":
        return not any(_same(v, option) for v in values for option in expected)
    needle = str(expected).lower()
    if op == "contains":
        return any(needle in str(v).lower() for v in values)
    if op == "not_contains":
        return not any(needle in str(v).lower() for v in values)
    if op == "starts_with":
        return any(str(v).lower().startswith(needle) for v in values)
    return False


def rule_matches(rule: AssignmentRule, lead: Lead, tags: list[str]) -> bool:
    """Whether the rule's conditions hold of the lead (a rule without conditions takes every
    lead)."""
    if not rule.conditions:
        return True
    results = (_holds(c, lead, tags) for c in rule.conditions)
    return any(results) if rule.match == AssignmentMatch.ANY else all(results)


def _condition_kinds() -> dict[str, str]:
    kinds = dict(CONDITION_FIELDS)
    for definition in definitions_for("lead"):
        kind = "number" if definition.type in {CustomFieldType.NUMBER, CustomFieldType.DECIMAL} \
            else "bool" if definition.type == CustomFieldType.BOOLEAN else "text"
        kinds[f"custom_fields.{definition.key}"] = kind
    return kinds


def _clean_scalar(kind: str, value):
    if isinstance(value, bool) and kind != "bool":
        raise ValueError("Enter text or a number.")
    if kind == "number":
        number = _number(value)
        if number is None or isinstance(value, bool):
            raise ValueError("Enter a number.")
        return int(number) if number.is_integer() else number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
            return value.strip().lower() == "true"
        raise ValueError("Enter true or false.")
    if not isinstance(value, str | int | float):
        raise ValueError("Enter text.")
    value = " ".join(str(value).split())
    if not value or len(value) > 255:
        raise ValueError("Enter a value of 1 to 255 characters.")
    if kind == "country":
        return normalise_country(value)
    if kind == "source" and value not in LeadSource.values:
        raise ValueError(f"Choose one of: {', '.join(LeadSource.values)}.")
    if kind == "company_size" and value not in CompanySize.values:
        raise ValueError(f"Choose one of: {', '.join(CompanySize.values)}.")
    return value


def clean_conditions(raw, errors: dict) -> list[dict]:
    """A rule's conditions, each `{"field", "op", "value"}`; problems go into `errors` as
    `conditions[1].op`."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors["conditions"] = ["Send a list of conditions."]
        return []
    if len(raw) > MAX_CONDITIONS:
        errors["conditions"] = [f"Use at most {MAX_CONDITIONS} conditions."]
        return []
    kinds = _condition_kinds()
    cleaned = []
    for i, condition in enumerate(raw):
        where = f"conditions[{i}]"
        if not isinstance(condition, dict) or set(condition) - {"field", "op", "value"}:
            errors[where] = ["Send an object with field, op and value."]
            continue
        field, op, value = condition.get("field"), condition.get("op"), condition.get("value")
        kind = kinds.get(field) if isinstance(field, str) else None
        if kind is None:
            errors[f"{where}.field"] = [
                f"Choose one of: {', '.join(CONDITION_FIELDS)}, or custom_fields.<key> of a "
                "lead custom field."]
            continue
        if op not in OPS:
            errors[f"{where}.op"] = [f"Choose one of: {', '.join(OPS)}."]
            continue
        if op in NUMBER_OPS and kind != "number":
            errors[f"{where}.op"] = ["Only number fields compare with gt, gte, lt and lte."]
            continue
        if op in TEXT_OPS and kind in {"number", "bool"}:
            errors[f"{where}.op"] = ["Only text fields compare with contains and starts_with."]
            continue
        try:
            if op in NO_VALUE_OPS:
                if value not in (None, "", []):
                    raise ValueError(f"{op} takes no value.")
                value = None
            elif op in LIST_OPS:
                if isinstance(value, str):
                    value = [v for v in value.split(",") if v.strip()]
                if not isinstance(value, list) or not value or len(value) > 100:
                    raise ValueError("Enter a list of 1 to 100 values.")
                value = [_clean_scalar(kind, v) for v in value]
            else:
                value = _clean_scalar(kind, value)
        except ValueError as exc:
            errors[f"{where}.value"] = [str(exc)]
            continue
        cleaned.append({"field": field, "op": op, "value": value})
    return cleaned


# Assignment rules -------------------------------------------------------------------------




def _team_id(value):
    if value in (None, ""):
        return None
    try:
        team_id = int(value)
    except (TypeError, ValueError):
        raise ValueError("Enter a team id.") from None
    if not account_selectors.team_list().filter(pk=team_id).exists():
        raise ValueError("No such team.")
    return team_id


RULE_CLEANERS = {
    "name": required_text(100), "active": flag, "match": choice(AssignmentMatch),
    "action": choice(AssignmentAction), "user_id": active_user_id, "team_id": _team_id,
    "position": position,
}
RULE_FIELDS = ("name", "active", "match", "conditions", "action", "user_id", "team_id")


def _clean_rule(data, *, current: AssignmentRule | None) -> tuple[dict, int | None]:
    """(the rule's new field values, the position asked for), or ValidationFailed."""
    errors: dict = {}
    try:
        values = clean_fields(RULE_CLEANERS, data, extra_ok=("conditions",),
                              required=("name", "action") if current is None else ())
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    if isinstance(data, dict) and "conditions" in data:
        values["conditions"] = clean_conditions(data["conditions"], errors)
    action = values.get("action", current.action if current else None)
    user_id = values.get("user_id", current.user_id if current else None)
    team_id = values.get("team_id", current.team_id if current else None)
    if action == AssignmentAction.USER:
        if user_id is None and "user_id" not in errors:
            errors["user_id"] = ["Choose the user the leads go to."]
        values["team_id"] = None
    elif action in (AssignmentAction.ROUND_ROBIN, AssignmentAction.LEAST_LOADED):
        if team_id is None and "team_id" not in errors:
            errors["team_id"] = ["Choose the team whose members share the leads."]
        values["user_id"] = None
    if errors:
        raise ValidationFailed(fields=errors)
    return values, values.pop("position", None)


def _rule_snapshot(rule: AssignmentRule) -> dict:
    return {"name": rule.name, "active": rule.active, "match": rule.match,
            "conditions": rule.conditions, "action": rule.action, "user_id": rule.user_id,
            "team_id": rule.team_id}


def _place(rule: AssignmentRule, position: int | None) -> bool:
    """Put `rule` at `position` (0 first; None: where it is, or last when new) and number
    every rule 1, 2, 3... Returns whether its place changed."""
    order = list(AssignmentRule.objects.select_for_update().exclude(pk=rule.pk)
                 .order_by("position", "id").values_list("pk", flat=True))
    all_rules = list(AssignmentRule.objects.order_by("position", "id").values_list("pk", flat=True))
    old = all_rules.index(rule.pk) if rule.pk in all_rules else None
    new = len(order) if position is None and old is None else old if position is None \
        else min(position, len(order))
    order.insert(new, rule.pk)
    for number, pk in enumerate(order, start=1):
        AssignmentRule.objects.filter(pk=pk).exclude(position=number).update(position=number)
    rule.position = new + 1
    return old != new


@transaction.atomic
def assignment_rule_create(*, actor, data: dict) -> AssignmentRule:
    """A rule, last in the order unless `position` (0 first) says otherwise."""
    require_admin(actor, "manage lead assignment rules")
    values, position = _clean_rule(data, current=None)
    if AssignmentRule.objects.count() >= MAX_RULES:
        raise ValidationFailed(fields={"__all__": [f"There can be at most {MAX_RULES} rules."]})
    rule = AssignmentRule.objects.create(
        position=(AssignmentRule.objects.aggregate(m=Max("position"))["m"] or 0) + 1, **values)
    _place(rule, position)
    record_event(type="lead_assignment_rule.created", obj=rule, actor=actor,
                 data={"values": _rule_snapshot(rule), "position": rule.position - 1})
    return rule


def _lock_rule(rule_id: int, expected_version: int | None = None) -> AssignmentRule:
    rule = AssignmentRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    if expected_version is not None and rule.version != expected_version:
        raise VersionConflict(current_version=rule.version)
    return rule


@transaction.atomic
def assignment_rule_update(*, actor, rule_id: int, data: dict,
                           expected_version: int | None = None) -> AssignmentRule:
    """Only the fields in `data` change; `position` moves the rule (0 first)."""
    require_admin(actor, "manage lead assignment rules")
    rule = _lock_rule(rule_id, expected_version)
    before = _rule_snapshot(rule)
    values, position = _clean_rule(data, current=rule)
    for field, value in values.items():
        setattr(rule, field, value)
    after = _rule_snapshot(rule)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    old_position = rule.position
    if position is not None and _place(rule, position):
        changes["position"] = [old_position - 1, rule.position - 1]
    if not changes:
        return rule
    rule.version, rule.updated_at = rule.version + 1, timezone.now()
    rule.save()
    record_event(type="lead_assignment_rule.updated", obj=rule, actor=actor,
                 data={"changes": changes})
    return rule


@transaction.atomic
def assignment_rule_delete(*, actor, rule_id: int) -> None:
    require_admin(actor, "manage lead assignment rules")
    rule = _lock_rule(rule_id)
    record_event(type="lead_assignment_rule.deleted", obj=rule, actor=actor,
                 data={"name": rule.name})
    rule.delete()
    for number, pk in enumerate(AssignmentRule.objects.order_by("position", "id")
                                .values_list("pk", flat=True), start=1):
        AssignmentRule.objects.filter(pk=pk).exclude(position=number).update(position=number)


@transaction.atomic
def assignment_rules_reorder(*, actor, rule_ids) -> list[AssignmentRule]:
    """Put the rules in the order of `rule_ids` (every rule once)."""
    require_admin(actor, "manage lead assignment rules")
    current = list(AssignmentRule.objects.select_for_update().order_by("position", "id")
                   .values_list("pk", flat=True))
    if not isinstance(rule_ids, list) or len(rule_ids) != len(current) \
            or sorted(i for i in rule_ids if isinstance(i, int) and not isinstance(i, bool)) \
            != sorted(current):
        raise ValidationFailed(fields={"rule_ids": ["List every rule once."]})
    if rule_ids != current:
        for number, pk in enumerate(rule_ids, start=1):
            AssignmentRule.objects.filter(pk=pk).update(position=number, version=F("version") + 1,
                                                        updated_at=timezone.now())
        record_event(type="lead_assignment_rule.reordered", object_type="lead_assignment_rule",
                     object_id=0, actor=actor, data={"changes": {"rule_ids": [current, rule_ids]}})
    return list(selectors.assignment_rule_list())


@transaction.atomic
def assignment_rule_move(*, actor, rule_id: int, offset: int) -> AssignmentRule:
    """One place up (-1) or down (+1): the settings page's arrows."""
    require_admin(actor, "manage lead assignment rules")
    rule = _lock_rule(rule_id)
    order = list(AssignmentRule.objects.order_by("position", "id").values_list("pk", flat=True))
    index = max(0, min(len(order) - 1, order.index(rule.pk) + offset))
    return assignment_rule_update(actor=actor, rule_id=rule.pk, data={"position": index})


@transaction.atomic
def lead_settings_update(*, actor, data: dict) -> LeadSettings:
    """`fallback_owner_id`: who gets a lead no rule takes (null: its creator)."""
    require_admin(actor, "change the lead settings")
    values = clean_fields({"fallback_owner_id": active_user_id}, data)
    current = LeadSettings.objects.select_for_update().filter(pk=1).first() or LeadSettings(pk=1)
    changes = {k: [getattr(current, k), v] for k, v in values.items() if getattr(current, k) != v}
    if not changes and not current._state.adding:
        return current
    for field, value in values.items():
        setattr(current, field, value)
    current.updated_at = timezone.now()
    current.save()
    if changes:
        record_event(type="lead_settings.updated", obj=current, actor=actor,
                     data={"changes": changes})
    return current


# Conversion -------------------------------------------------------------------------------

@dataclasses.dataclass
class Conversion:
    lead: Lead
    contact: Contact
    contact_created: bool
    company: Company | None
    company_created: bool
    deal: Deal | None
    activities_moved: int


DEAL_ARGUMENTS = ("pipeline_id", "stage_id", "deal_name", "amount", "currency",
                  "expected_close_date")


def _conversion_errors(actor, create_deal, deal_arguments: dict, company_id) -> dict:
    errors: dict = {}
    if not isinstance(create_deal, bool):
        errors["create_deal"] = ["Enter true or false."]
    elif not create_deal:
        for name, value in deal_arguments.items():
            if value not in (None, ""):
                errors[name] = ["Set create_deal to true to create a deal."]
    if company_id is not None and (isinstance(company_id, bool) or not isinstance(company_id, int)
                                   or not company_visible(user=actor, pk=company_id).exists()):
        errors["company_id"] = ["No such company."]
    return errors


def _hidden_conflict(lead: Lead, plan) -> Conflict:
    if plan.contact_hidden:
        message = ("A contact you cannot see has this email address; ask its owner or an "
                   "admin to convert this lead, so that no duplicate contact is created.")
        return Conflict(message, fields={"email": [message]})
    field = "website" if lead.website and domain_of_url(lead.website) == plan.domain else "email"
    message = (f"A company you cannot see has the domain {plan.domain}; ask its owner or an "
               "admin to convert this lead, or choose the company to link (company_id).")
    return Conflict(message, fields={field: [message]})


def _carried_custom_fields(lead: Lead) -> dict:
    """The lead's custom field values that a contact custom field with the same key and type
    takes (values it would refuse are left behind)."""
    lead_types = {d.key: d.type for d in definitions_for("lead")}
    carried = {}
    for definition in definitions_for("contact"):
        value = (lead.custom_fields or {}).get(definition.key)
        if value in (None, "", []) or lead_types.get(definition.key) != definition.type:
            continue
        try:
            carried[definition.key] = TYPES[definition.type].clean(value, definition)
        except ValueError:
            continue
    return carried


def _company_for(actor, lead: Lead, plan, owner_id: int) -> tuple[Company | None, bool]:
    if plan.company is not None:
        return plan.company, False
    if not plan.new_company_name:
        return None, False
    return company_create(actor=actor, data={
        "name": plan.new_company_name, "domain": plan.domain, "website": lead.website,
        "size": lead.company_size, "country": lead.country, "owner_id": owner_id}), True


def _contact_for(actor, lead: Lead, plan, company, owner_id: int, stage: str,
                 tags: list[str]) -> tuple[Contact, bool]:
    if plan.contact is None:
        return contact_create(actor=actor, data={
            "first_name": lead.first_name, "last_name": lead.last_name, "email": lead.email,
            "phone": lead.phone, "title": lead.title, "website": lead.website,
            "country": lead.country, "company_id": company.pk if company else None,
            "owner_id": owner_id, "lifecycle_stage": stage, "tags": tags,
            "custom_fields": _carried_custom_fields(lead)}), True
    contact = plan.contact
    # Fill what the contact lacks; what it has stays.
    fill = {name: getattr(lead, name) for name in ("first_name", "last_name", "phone", "title",
                                                   "website", "country")
            if getattr(lead, name) and not getattr(contact, name)}
    if company is not None and contact.company_id is None:
        fill["company_id"] = company.pk
    if contact.lifecycle_stage in PRE_CUSTOMER and \
            PRE_CUSTOMER.index(contact.lifecycle_stage) < PRE_CUSTOMER.index(stage):
        fill["lifecycle_stage"] = stage
    if fill:
        contact = contact_update(actor=actor, contact_id=contact.pk, data=fill)
    return contact, False


def _deal_for(actor, lead: Lead, contact: Contact, company, owner_id: int, args: dict) -> Deal:
    default_name = f"{company.name if company else lead.full_name} deal"
    data = {"name": args["deal_name"] or default_name, "owner_id": owner_id,
            "company_id": company.pk if company else None}
    data.update({k: v for k, v in args.items() if k != "deal_name" and v not in (None, "")})
    if isinstance(data.get("expected_close_date"), datetime.date):
        data["expected_close_date"] = data["expected_close_date"].isoformat()
    try:
        deal = deal_create(actor=actor, data=data)
    except ValidationFailed as exc:
        raise ValidationFailed(fields={("deal_name" if k == "name" else k): v
                                       for k, v in exc.fields.items()}) from None
    try:
        deal_contact_add(actor=actor, deal_id=deal.pk, contact_id=contact.pk)
    except NotFound:
        raise PermissionDenied("Your role may not work on deals owned by the lead's owner; ask "
                               "them or an admin to convert this lead.") from None
    return deal


@transaction.atomic
def lead_convert(*, actor, lead_id: int, create_deal=False, pipeline_id=None, stage_id=None,
                 deal_name=None, amount=None, currency=None, expected_close_date=None,
                 company_id=None, expected_version: int | None = None) -> Conversion:
    """Convert the lead, all or nothing (see the module's docstring and `conversion_plan`).

    A converted lead is a 409; so is a disqualified one, and one whose email or company
    domain belongs to a contact or company the actor cannot see (converting it would make a
    duplicate or reach outside their scope). Deal fields need `create_deal`. The contact, the
    company and the deal belong to the lead's owner (the actor's, if it has none)."""
    deal_arguments = {"pipeline_id": pipeline_id, "stage_id": stage_id, "deal_name": deal_name,
                      "amount": amount, "currency": currency,
                      "expected_close_date": expected_close_date}
    errors = _conversion_errors(actor, create_deal, deal_arguments, company_id)
    lead = _lock_visible(actor, lead_id, expected_version)
    if lead.is_converted:
        raise Conflict(f"This lead was converted on {lead.converted_at:%Y-%m-%d}.",
                       fields={"status": ["This lead is converted already."]})
    if lead.status == LeadStatus.DISQUALIFIED:
        raise Conflict("A disqualified lead cannot be converted; set its status to working "
                       "first.", fields={"status": ["The lead is disqualified."]})
    if errors:
        raise ValidationFailed(fields=errors)
    plan = selectors.conversion_plan(user=actor, lead=lead, company_id=company_id)
    if plan.blocked:
        raise _hidden_conflict(lead, plan)

    owner_id = lead.owner_id or actor.pk
    tags = sorted(lead.tags.values_list("name", flat=True))
    stage = LifecycleStage.OPPORTUNITY if create_deal else LifecycleStage.SALES_QUALIFIED
    company, company_created = _company_for(actor, lead, plan, owner_id)
    contact, contact_created = _contact_for(actor, lead, plan, company, owner_id, stage, tags)
    deal = _deal_for(actor, lead, contact, company, owner_id, deal_arguments) \
        if create_deal else None
    moved = activities_follow_conversion(lead_id=lead.pk, contact_id=contact.pk,
                                         company_id=company.pk if company else None)

    before = snapshot(lead, records.tracked_fields(lead))
    lead.status, lead.disqualified_reason = LeadStatus.QUALIFIED, ""
    lead.converted_at = timezone.now()
    lead.converted_contact, lead.converted_company, lead.converted_deal = contact, company, deal
    records.update_record(lead, actor=actor, before=before)
    record_event(type="lead.converted", obj=lead, actor=actor, data={
        "contact_id": contact.pk, "contact_created": contact_created,
        "company_id": company.pk if company else None, "company_created": company_created,
        "company_match": plan.company_match, "deal_id": deal.pk if deal else None,
        "activities_moved": moved})
    return Conversion(lead=lead, contact=contact, contact_created=contact_created,
                      company=company, company_created=company_created, deal=deal,
                      activities_moved=moved)
