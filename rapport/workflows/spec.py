"""What a rule may say, checked before it is saved: every problem names where it is.

A rule acts on one object type (OBJECT_TYPES) and is three JSON documents:
  trigger     {"type": "created" | "updated" | "field_changed" | "event" | "date" | "schedule", ...}
  conditions  {"match": "all" | "any", "rules": [{"field", "op", "value"} or a nested group]}
  actions     [{"type": "set_field" | "add_tag" | "remove_tag" | "assign_round_robin" |
               "create_task" | "send_email" | "call_webhook" | "wait" | "branch", ...}]
"""

import math
import re

from rapport.core.errors import ValidationFailed

OBJECT_TYPES = ("contact", "company", "deal", "lead")
COMMON_FIELDS = ("owner_id", "street", "city", "region", "postal_code", "country", "phone")
FIELDS = {
    "contact": ("first_name", "last_name", "email", "title", "lifecycle_stage", "company_id",
                "linkedin_url", "twitter_url", "website", *COMMON_FIELDS),
    "company": ("name", "domain", "website", "industry", "size", "description",
                "linkedin_url", "twitter_url", *COMMON_FIELDS),
    # A deal's stage_id moves it (history, events); won or lost by the stage it is put in.
    "deal": ("name", "amount", "currency", "stage_id", "probability", "expected_close_date",
             "company_id", "owner_id", "next_step"),
    # What lead_update takes. A converted lead stays qualified (lead_update refuses the rest).
    "lead": ("first_name", "last_name", "email", "phone", "company_name", "title", "website",
             "source", "status", "disqualified_reason", "score", "country", "company_size",
             "owner_id"),
}
# Read-only in conditions: set by Rapport, or reached through a relation.
READABLE = {
    "contact": ("created_at", "updated_at", "tags", "company.name", "company.industry",
                "company.size", "company.domain", "company.country", "owner.email",
                "owner.team_id"),
    "company": ("created_at", "updated_at", "tags", "owner.email", "owner.team_id"),
    "deal": ("created_at", "updated_at", "tags", "status", "pipeline_id", "stage.name",
             "stage.kind", "lost_reason.name", "won_at", "closed_at", "company.name",
             "company.industry", "company.size", "company.country", "owner.email",
             "owner.team_id"),
    # A converted lead reaches what it became.
    "lead": ("created_at", "updated_at", "tags", "is_converted", "converted_at",
             "converted_contact_id", "converted_company_id", "converted_deal_id",
             "converted_contact.email", "converted_contact.lifecycle_stage",
             "converted_company.name", "converted_company.industry", "converted_deal.name",
             "converted_deal.amount", "converted_deal.status", "owner.email", "owner.team_id"),
}
DATE_FIELDS = ("created_at", "updated_at")
# Calendar dates of one record type, for "3 days before the close date".
OWN_DATE_FIELDS = {"deal": ("expected_close_date",), "lead": ("converted_at",)}
# Actions an object type cannot take, and why (the message names the action).
UNSUPPORTED = {
    "send_email": {
        "company": "send_email: emails are sent to contacts; use a contact rule, or a deal rule "
                   "(to the deal's first contact).",
    },
}
OPERATORS = {
    "eq": "is", "ne": "is not", "contains": "contains", "not_contains": "does not contain",
    "starts_with": "starts with", "gt": "is greater than", "gte": "is at least",
    "lt": "is less than", "lte": "is at most", "in": "is one of",
    "is_empty": "is empty", "is_not_empty": "is not empty",
}
NO_VALUE = {"is_empty", "is_not_empty"}
TRIGGERS = {
    "created": "A record is created",
    "updated": "A record is updated",
    "field_changed": "A field changes (to or from a value)",
    "event": "Any event of a type",
    "date": "A time relative to a date field",
    "schedule": "On a schedule",
}
ACTIONS = {
    "set_field": "Set a field", "add_tag": "Add a tag", "remove_tag": "Remove a tag",
    "assign_round_robin": "Assign an owner by round robin in a team",
    "create_task": "Create a task", "send_email": "Send an email template",
    "call_webhook": "Call a webhook", "wait": "Wait, then continue",
    "branch": "If / else",
}
SCHEDULES = ("hour", "day", "week")
MAX_ACTIONS = 20
MAX_CONDITIONS = 20
MAX_WAIT_MINUTES = 60 * 24 * 365
MAX_BRANCH_DEPTH = 3
CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")  # no "__": it must not reach the ORM


class SpecError(ValueError):
    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where


def check_rule(object_type: str, trigger, conditions, actions) -> tuple[dict, dict, list]:
    """The three documents, normalised; ValidationFailed naming each bad part otherwise."""
    errors: dict[str, list[str]] = {}
    results = []
    for name, check, value in (("trigger", _trigger, trigger),
                               ("conditions", _conditions, conditions),
                               ("actions", _actions, actions)):
        try:
            results.append(check(object_type, value, name))
        except SpecError as exc:
            errors.setdefault(exc.where, []).append(str(exc))
    if errors:
        raise ValidationFailed(fields=errors)
    return tuple(results)


def is_custom(name: str) -> bool:
    return name.startswith("custom_fields.") and bool(CUSTOM_KEY.match(name[len("custom_fields."):]))


def is_field(object_type: str, name: str, *, writable: bool = False) -> bool:
    if is_custom(name):
        return True
    return name in FIELDS[object_type] or (not writable and name in READABLE[object_type])


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(where, "Send an object.")
    return value


def _text(value, where: str, *, max_length: int = 200, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SpecError(where, "Enter text.")
    if len(value) > max_length:
        raise SpecError(where, f"Use at most {max_length} characters.")
    return value.strip()


def _int(value, where: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SpecError(where, "Enter a whole number.")
    try:
        number = int(value)
    except ValueError:
        raise SpecError(where, "Enter a whole number.") from None
    if not low <= number <= high:
        raise SpecError(where, f"Enter a number from {low:,} to {high:,}.")
    return number


def _field(object_type: str, value, where: str, *, writable: bool = False) -> str:
    name = _text(value, where, max_length=80)
    if not is_field(object_type, name, writable=writable):
        known = FIELDS[object_type] + (() if writable else READABLE[object_type])
        raise SpecError(where, f"“{name}” is not a {object_type} field"
                               f"{' a rule can set' if writable else ''}. Use one of: "
                               f"{', '.join(known)}, or custom_fields.<key>.")
    return name


def _scalar(value, where: str):
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(where, "Enter a finite number.")
    if value is None or isinstance(value, str | int | float | bool):
        if isinstance(value, str) and len(value) > 500:
            raise SpecError(where, "Use at most 500 characters.")
        return value
    raise SpecError(where, "Enter text, a number, true/false or null.")


def _trigger(object_type: str, value, where: str) -> dict:
    trigger = _object(value, where)
    kind = trigger.get("type")
    if kind not in TRIGGERS:
        raise SpecError(f"{where}.type", f"Choose one of: {', '.join(TRIGGERS)}.")
    clean = {"type": kind}
    if kind == "field_changed":
        field = _text(trigger.get("field"), f"{where}.field", max_length=80)
        if not (field == "tags" or is_field(object_type, field, writable=True)):
            raise SpecError(f"{where}.field", f"“{field}” is not a {object_type} field whose "
                                              f"changes are recorded. Use one of: "
                                              f"{', '.join(FIELDS[object_type])}, tags, or "
                                              "custom_fields.<key>.")
        clean["field"] = field
        for side in ("from", "to"):
            if side in trigger:
                clean[side] = _scalar(trigger[side], f"{where}.{side}")
    elif kind == "event":
        event_type = _text(trigger.get("event_type"), f"{where}.event_type", max_length=64)
        name = event_type.removesuffix(".*")
        if not (event_type == "*" or all(p and p.replace("_", "").isalnum()
                                         for p in name.split("."))):
            raise SpecError(f"{where}.event_type", "Enter an event type such as email.sent or "
                                                   "contact.*.")
        clean["event_type"] = event_type
    elif kind == "date":
        field = _text(trigger.get("field"), f"{where}.field", max_length=80)
        dates = DATE_FIELDS + OWN_DATE_FIELDS.get(object_type, ())
        if field not in dates and not is_custom(field):
            raise SpecError(f"{where}.field", f"“{field}” is not a date field of a {object_type}. "
                                              f"Use one of: {', '.join(dates)}, or a custom "
                                              "date field (custom_fields.<key>).")
        clean["field"] = field
        clean["offset_days"] = _int(trigger.get("offset_days", 0), f"{where}.offset_days",
                                    low=-365, high=365)
    elif kind == "schedule":
        every = trigger.get("every")
        if every not in SCHEDULES:
            raise SpecError(f"{where}.every", f"Choose one of: {', '.join(SCHEDULES)}.")
        clean["every"] = every
    return clean


def _conditions(object_type: str, value, where: str, depth: int = 0) -> dict:
    if value in (None, {}, []):
        return {}
    group = _object(value, where)
    match = group.get("match", "all")
    if match not in ("all", "any"):
        raise SpecError(f"{where}.match", "Choose all or any.")
    rules = group.get("rules")
    if not isinstance(rules, list) or not rules:
        raise SpecError(f"{where}.rules", "List at least one condition.")
    if len(rules) > MAX_CONDITIONS:
        raise SpecError(f"{where}.rules", f"Use at most {MAX_CONDITIONS} conditions per group.")
    clean = []
    for index, rule in enumerate(rules):
        at = f"{where}.rules[{index}]"
        rule = _object(rule, at)
        if "rules" in rule:
            if depth >= 2:
                raise SpecError(at, "Nest condition groups at most three deep.")
            clean.append(_conditions(object_type, rule, at, depth + 1))
            continue
        field = _field(object_type, rule.get("field"), f"{at}.field")
        op = rule.get("op")
        if op not in OPERATORS:
            raise SpecError(f"{at}.op", f"Choose one of: {', '.join(OPERATORS)}.")
        item = {"field": field, "op": op}
        if op == "in":
            options = rule.get("value")
            if not isinstance(options, list) or not options or len(options) > 50:
                raise SpecError(f"{at}.value", "List from 1 to 50 values.")
            item["value"] = [_scalar(v, f"{at}.value") for v in options]
        elif op not in NO_VALUE:
            if "value" not in rule:
                raise SpecError(f"{at}.value", "Enter the value to compare with.")
            item["value"] = _scalar(rule["value"], f"{at}.value")
        clean.append(item)
    return {"match": match, "rules": clean}


def _actions(object_type: str, value, where: str, *, top: bool = True, depth: int = 0) -> list:
    if not isinstance(value, list) or (top and not value):
        raise SpecError(where, "List at least one action.")
    if len(value) > MAX_ACTIONS:
        raise SpecError(where, f"Use at most {MAX_ACTIONS} actions.")
    return [_action(object_type, action, f"{where}[{index}]", top=top, depth=depth)
            for index, action in enumerate(value)]


def _action(object_type: str, value, where: str, *, top: bool, depth: int = 0) -> dict:
    action = _object(value, where)
    kind = action.get("type")
    if kind not in ACTIONS:
        raise SpecError(f"{where}.type", f"Choose one of: {', '.join(ACTIONS)}.")
    refused = UNSUPPORTED.get(kind, {}).get(object_type)
    if refused:
        raise SpecError(f"{where}.type", refused)
    clean = {"type": kind}
    if kind == "set_field":
        clean["field"] = _field(object_type, action.get("field"), f"{where}.field", writable=True)
        if "value" not in action:
            raise SpecError(f"{where}.value", "Enter the value to set (null empties the field).")
        clean["value"] = _scalar(action["value"], f"{where}.value")
    elif kind in ("add_tag", "remove_tag"):
        clean["tag"] = _text(action.get("tag"), f"{where}.tag", max_length=50)
    elif kind == "assign_round_robin":
        clean["team_id"] = _int(action.get("team_id"), f"{where}.team_id", low=1, high=2**62)
    elif kind == "create_task":
        clean["subject"] = _text(action.get("subject"), f"{where}.subject")
        clean["body"] = _text(action.get("body"), f"{where}.body", max_length=5000,
                              required=False)
        clean["due_in_days"] = _int(action.get("due_in_days", 0), f"{where}.due_in_days",
                                    low=0, high=365)
        priority = action.get("priority", "normal")
        if priority not in ("low", "normal", "high"):
            raise SpecError(f"{where}.priority", "Choose low, normal or high.")
        clean["priority"] = priority
        assignee = action.get("assign_to", "owner")
        if assignee != "owner":
            assignee = _int(assignee, f"{where}.assign_to", low=1, high=2**62)
        clean["assign_to"] = assignee
    elif kind == "send_email":
        clean["template_id"] = _int(action.get("template_id"), f"{where}.template_id",
                                    low=1, high=2**62)
    elif kind == "call_webhook":
        clean["webhook_id"] = _int(action.get("webhook_id"), f"{where}.webhook_id",
                                   low=1, high=2**62)
    elif kind == "wait":
        if not top:
            raise SpecError(where, "Wait only at the top level of a rule, not inside If / else.")
        minutes = (_int(action.get("minutes", 0), f"{where}.minutes", low=0, high=MAX_WAIT_MINUTES)
                   + 60 * _int(action.get("hours", 0), f"{where}.hours", low=0, high=24 * 365)
                   + 1440 * _int(action.get("days", 0), f"{where}.days", low=0, high=365))
        if not 1 <= minutes <= MAX_WAIT_MINUTES:
            raise SpecError(where, "Wait from 1 minute to 365 days.")
        clean["minutes"] = minutes
    elif kind == "branch":
        if depth >= MAX_BRANCH_DEPTH:
            raise SpecError(where, f"Nest If / else at most {MAX_BRANCH_DEPTH} deep.")
        clean["conditions"] = _conditions(object_type, action.get("conditions"),
                                          f"{where}.conditions")
        if not clean["conditions"]:
            raise SpecError(f"{where}.conditions", "Say when to take the first branch.")
        clean["then"] = _actions(object_type, action.get("then", []), f"{where}.then", top=False,
                                 depth=depth + 1)
        clean["else"] = _actions(object_type, action.get("else", []), f"{where}.else", top=False,
                                 depth=depth + 1)
        if not clean["then"] and not clean["else"]:
            raise SpecError(where, "Give the If / else at least one action.")
    return clean


# Events a record's service records beside `<type>.updated` when these fields change: an
# "any event" rule on them can be set off by an action that writes the field.
EVENTS_OF_FIELDS = {
    "deal": {"stage_id": ("deal.stage_changed", "deal.won", "deal.lost")},
    "lead": {"owner_id": ("lead.assigned",)},
}


def written_events(object_type: str, actions: list) -> set[str]:
    """The event types the actions may cause on the record itself."""
    written = written_fields(actions)
    if not written:
        return set()
    events = {f"{object_type}.updated"}
    for field, types in EVENTS_OF_FIELDS.get(object_type, {}).items():
        if field in written:
            events.update(types)
    return events


def written_fields(actions: list) -> set[str]:
    """Every field the actions may change (tags and owner included), branches and all."""
    fields = set()
    for action in actions:
        if action["type"] == "set_field":
            fields.add(action["field"])
        elif action["type"] in ("add_tag", "remove_tag"):
            fields.add("tags")
        elif action["type"] == "assign_round_robin":
            fields.add("owner_id")
        elif action["type"] == "branch":
            fields |= written_fields(action["then"]) | written_fields(action["else"])
    return fields
