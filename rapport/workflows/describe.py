"""Rules in words, for the rule pages: "When lifecycle stage changes to customer…"."""

import json

from rapport.workflows import spec


def _name(field: str) -> str:
    return field.replace("custom_fields.", "").replace("_id", "").replace("_", " ").replace(".", " ")


def trigger(rule) -> str:
    t = rule.trigger
    what = f"a {rule.object_type}"
    kind = t["type"]
    if kind == "created":
        return f"When {what} is created"
    if kind == "updated":
        return f"When {what} is updated"
    if kind == "field_changed":
        text = f"When {_name(t['field'])} of {what} changes"
        if "from" in t:
            text += f" from “{t['from']}”"
        if "to" in t:
            text += f" to “{t['to']}”"
        return text
    if kind == "event":
        return f"When an event {t['event_type']} happens to {what}"
    if kind == "date":
        days = t["offset_days"]
        when = ("on" if days == 0 else f"{abs(days)} day{'s' if abs(days) != 1 else ''} "
                f"{'before' if days < 0 else 'after'}")
        return f"{when[0].upper()}{when[1:]} the {_name(t['field'])} date of {what}"
    return f"Every {t['every']}, for each {rule.object_type}"


def condition(c: dict) -> str:
    if "rules" in c:
        joined = f" {'and' if c['match'] == 'all' else 'or'} ".join(condition(r) for r in c["rules"])
        return f"({joined})"
    text = f"{_name(c['field'])} {spec.OPERATORS[c['op']]}"
    if "value" in c:
        value = c["value"]
        text += " " + (", ".join(map(str, value)) if isinstance(value, list) else f"“{value}”")
    return text


def conditions(rule) -> str:
    doc = rule.conditions or {}
    if not doc:
        return ""
    return f" {'and' if doc['match'] == 'all' else 'or'} ".join(condition(c) for c in doc["rules"])


def action(a: dict) -> str:
    kind = a["type"]
    if kind == "set_field":
        return f"Set {_name(a['field'])} to {json.dumps(a['value'])}"
    if kind == "add_tag":
        return f"Add the tag “{a['tag']}”"
    if kind == "remove_tag":
        return f"Remove the tag “{a['tag']}”"
    if kind == "assign_round_robin":
        return f"Assign an owner in turn from team #{a['team_id']}"
    if kind == "create_task":
        return f"Create the task “{a['subject']}”, due in {a.get('due_in_days', 0)} days"
    if kind == "send_email":
        return f"Send email template #{a['template_id']}"
    if kind == "call_webhook":
        return f"Call webhook #{a['webhook_id']}"
    if kind == "wait":
        minutes = a["minutes"]
        if minutes % 1440 == 0:
            return f"Wait {minutes // 1440} day(s)"
        if minutes % 60 == 0:
            return f"Wait {minutes // 60} hour(s)"
        return f"Wait {minutes} minute(s)"
    then = "; ".join(action(x) for x in a["then"]) or "nothing"
    otherwise = "; ".join(action(x) for x in a["else"]) or "nothing"
    return f"If {condition(a['conditions'])}: {then}. Otherwise: {otherwise}"
