"""The rule builder: plain forms for the trigger, rows of conditions and rows of actions.

The forms only gather; rapport.workflows.spec decides what is valid, so the builder and
the API accept exactly the same rules. An If / else is a row with one condition; the rows
after it marked "if yes" or "otherwise" are its two sides. Deeper nesting, or a branch on
several conditions, is edited as JSON.
"""

import json

from django import forms

from rapport.workflows import spec

CONDITION_ROWS = 4
ACTION_ROWS = 6


def _field_choices():
    """Each object type's fields under its own heading (the rule's type decides which apply)."""
    return [("", "—")] + [
        (f"{object_type.title()} fields",
         [(n, n.replace("_", " ")) for n in sorted({*spec.FIELDS[object_type],
                                                    *spec.READABLE[object_type]})])
        for object_type in spec.OBJECT_TYPES]


class RuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=300, required=False)
    object_type = forms.ChoiceField(label="Acts on", choices=[(t, t.title() + "s")
                                                             for t in spec.OBJECT_TYPES])
    trigger_type = forms.ChoiceField(label="When", choices=list(spec.TRIGGERS.items()))
    trigger_field = forms.CharField(label="Field", required=False, max_length=80,
                                    help_text="For a field change or a date: lifecycle_stage, "
                                              "a lead's status, created_at, "
                                              "custom_fields.renewal…")
    trigger_from = forms.CharField(label="Changed from", required=False, max_length=200,
                                   help_text="Leave empty for any value.")
    trigger_to = forms.CharField(label="Changed to", required=False, max_length=200,
                                 help_text="Leave empty for any value.")
    trigger_event_type = forms.CharField(label="Event type", required=False, max_length=64,
                                         help_text="For “any event”: email.sent, contact.*, "
                                                   "lead.converted…")
    trigger_offset_days = forms.IntegerField(label="Days after the date", required=False,
                                             help_text="-3 means three days before.")
    trigger_every = forms.ChoiceField(label="Every", required=False,
                                      choices=[("", "—")] + [(s, s) for s in spec.SCHEDULES])
    match = forms.ChoiceField(label="Run only if", choices=[
        ("all", "all conditions hold"), ("any", "any condition holds")])
    trigger_json = forms.CharField(label="Trigger as JSON", required=False,
                                   widget=forms.Textarea(attrs={"rows": 3, "class": "mono"}),
                                   help_text="Used instead of the fields above when filled in "
                                             "(needed to compare with an empty or non-text value).")
    conditions_json = forms.CharField(label="Conditions as JSON", required=False,
                                      widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
                                      help_text="Used instead of the rows above when filled in "
                                                "(needed for nested AND / OR groups).")
    actions_json = forms.CharField(label="Actions as JSON", required=False,
                                   widget=forms.Textarea(attrs={"rows": 8, "class": "mono"}),
                                   help_text="Used instead of the rows above when filled in "
                                             "(needed for If / else).")
    is_active = forms.BooleanField(label="Switched on", required=False)


class ConditionForm(forms.Form):
    field = forms.ChoiceField(required=False, choices=_field_choices)
    op = forms.ChoiceField(required=False, choices=list(spec.OPERATORS.items()))
    value = forms.CharField(required=False, max_length=500)


PLACES = [("main", "In order"), ("then", "If yes (the If / else above)"),
          ("else", "Otherwise (the If / else above)")]


class ActionForm(forms.Form):
    type = forms.ChoiceField(required=False, choices=[("", "—")] + list(spec.ACTIONS.items()))
    place = forms.ChoiceField(required=False, choices=PLACES, initial="main")
    if_field = forms.ChoiceField(required=False, choices=_field_choices)
    if_op = forms.ChoiceField(required=False, choices=list(spec.OPERATORS.items()))
    if_value = forms.CharField(required=False, max_length=500)
    field = forms.CharField(required=False, max_length=80)
    value = forms.CharField(required=False, max_length=500)
    tag = forms.CharField(required=False, max_length=50)
    team_id = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    template_id = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    webhook_id = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    subject = forms.CharField(required=False, max_length=200)
    due_in_days = forms.IntegerField(required=False, min_value=0, max_value=365)
    priority = forms.ChoiceField(required=False, choices=[("normal", "Normal"), ("high", "High"),
                                                          ("low", "Low")])
    minutes = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args, choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, options in (choices or {}).items():
            self.fields[name].choices = [("", "—")] + options


def action_choices() -> dict:
    """Teams, templates and webhooks by name, for the action rows' menus."""
    from rapport.accounts.models import Team
    from rapport.automation.models import Webhook
    from rapport.mail.models import EmailTemplate

    return {"team_id": [(t.pk, t.name) for t in Team.objects.all()],
            "template_id": [(t.pk, t.name) for t in EmailTemplate.objects.all()],
            "webhook_id": [(w.pk, str(w)) for w in Webhook.objects.all()]}


class BaseActionFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        in_branch = False
        for number, row in enumerate(self.cleaned_data, 1):
            if not row.get("type"):
                continue
            place = row.get("place") or "main"
            if place != "main" and not in_branch:
                raise forms.ValidationError(
                    f"Action {number} is marked “{dict(PLACES)[place]}” but no If / else row "
                    "comes before it.")
            if place != "main" and row["type"] == "branch":
                raise forms.ValidationError(
                    f"Action {number}: an If / else inside another is edited as JSON.")
            if place == "main":
                in_branch = row["type"] == "branch"


ConditionFormSet = forms.formset_factory(ConditionForm, extra=CONDITION_ROWS, max_num=20)
ActionFormSet = forms.formset_factory(ActionForm, formset=BaseActionFormSet, extra=ACTION_ROWS,
                                      max_num=20)


def to_rule_data(form: RuleForm, conditions: ConditionFormSet, actions: ActionFormSet) -> dict:
    """The builder's rows as the rule documents the service checks."""
    data = form.cleaned_data
    trigger = {"type": data["trigger_type"]}
    if data["trigger_type"] in ("field_changed", "date"):
        trigger["field"] = data["trigger_field"]
    if data["trigger_type"] == "field_changed":
        for side in ("from", "to"):
            if data[f"trigger_{side}"]:
                trigger[side] = data[f"trigger_{side}"]
    if data["trigger_type"] == "event":
        trigger["event_type"] = data["trigger_event_type"]
    if data["trigger_type"] == "date":
        trigger["offset_days"] = data["trigger_offset_days"] or 0
    if data["trigger_type"] == "schedule":
        trigger["every"] = data["trigger_every"]
    if data["trigger_json"].strip():
        trigger = _json(data["trigger_json"])
    rows = [_condition(row["field"], row["op"], row["value"])
            for row in conditions.cleaned_data if row.get("field")]
    condition_doc = {"match": data["match"], "rules": rows} if rows else {}
    if data["conditions_json"].strip():
        condition_doc = _json(data["conditions_json"])
    if data["actions_json"].strip():
        action_list = _json(data["actions_json"])
    else:
        action_list = _actions(actions.cleaned_data)
    return {"name": data["name"], "description": data["description"],
            "object_type": data["object_type"], "trigger": trigger,
            "conditions": condition_doc, "actions": action_list, "is_active": data["is_active"]}


def _json(text: str):
    """Parsed JSON, or the parse error as text for the spec check to refuse with its place."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at line {exc.lineno})"


def _condition(field: str, op: str, value: str) -> dict:
    item = {"field": field, "op": op}
    if op == "in":
        item["value"] = [v.strip() for v in value.split(",") if v.strip()]
    elif op not in spec.NO_VALUE:
        item["value"] = value
    return item


def _actions(rows: list[dict]) -> list:
    """The rows in order; "if yes" and "otherwise" rows go into the If / else before them."""
    actions, branch = [], None
    for row in rows:
        if not row.get("type"):
            continue
        place = row.get("place") or "main"
        if place == "main":
            action = _action(row)
            actions.append(action)
            branch = action if action["type"] == "branch" else None
        else:
            branch[place].append(_action(row))
    return actions


def _action(row: dict) -> dict:
    if row["type"] == "branch":
        rules = [_condition(row["if_field"], row["if_op"], row["if_value"])] \
            if row.get("if_field") else []
        return {"type": "branch", "conditions": {"match": "all", "rules": rules},
                "then": [], "else": []}
    keys = {"set_field": ("field", "value"), "add_tag": ("tag",), "remove_tag": ("tag",),
            "assign_round_robin": ("team_id",),
            "create_task": ("subject", "due_in_days", "priority"),
            "send_email": ("template_id",), "call_webhook": ("webhook_id",),
            "wait": ("minutes",)}[row["type"]]
    action = {"type": row["type"]}
    for key in keys:
        if row.get(key) not in (None, ""):
            action[key] = row[key]
        elif key == "value":
            action[key] = ""
    return action


def initial_from(rule) -> tuple[dict, list, list]:
    """The rule as the builder shows it. Whatever the rows cannot hold exactly (values that
    are not text, nested groups, If / else, a task's body or assignee) goes to the JSON
    fields instead, so saving an unchanged page never changes the rule."""
    trigger = rule.trigger
    initial = {"name": rule.name, "description": rule.description,
               "object_type": rule.object_type, "trigger_type": trigger["type"],
               "trigger_field": trigger.get("field", ""), "trigger_from": trigger.get("from", ""),
               "trigger_to": trigger.get("to", ""), "trigger_event_type": trigger.get("event_type", ""),
               "trigger_offset_days": trigger.get("offset_days"),
               "trigger_every": trigger.get("every", ""),
               "match": (rule.conditions or {}).get("match", "all"), "is_active": rule.is_active}
    if any(side in trigger and not _plain(trigger[side]) for side in ("from", "to")):
        initial["trigger_json"] = json.dumps(trigger, indent=2)
    rules = (rule.conditions or {}).get("rules", [])
    if all(_row_condition(c) for c in rules):
        conditions = [{"field": c["field"], "op": c["op"], "value": _shown_value(c)}
                      for c in rules]
    else:
        initial["conditions_json"] = json.dumps(rule.conditions, indent=2)
        conditions = []
    if all(_row_action(a) for a in rule.actions):
        return initial, conditions, _action_rows(rule.actions)
    initial["actions_json"] = json.dumps(rule.actions, indent=2)
    return initial, conditions, []


def _action_rows(actions: list) -> list[dict]:
    rows = []
    for action in actions:
        if action["type"] != "branch":
            rows.append({**action, "place": "main"})
            continue
        [condition] = action["conditions"]["rules"]
        rows.append({"type": "branch", "place": "main", "if_field": condition["field"],
                     "if_op": condition["op"], "if_value": _shown_value(condition)})
        rows += [{**inner, "place": side} for side in ("then", "else") for inner in action[side]]
    return rows


def _shown_value(condition: dict) -> str:
    return ", ".join(condition["value"]) if condition["op"] == "in" else condition.get("value", "")


def _plain(value) -> bool:
    """Text the builder's inputs give back exactly (an empty input means "any")."""
    return isinstance(value, str) and value != ""


def _row_condition(condition: dict) -> bool:
    if "rules" in condition:
        return False
    if condition["op"] == "in":
        return all(_plain(v) and "," not in v and v == v.strip() for v in condition["value"])
    return condition["op"] in spec.NO_VALUE or isinstance(condition.get("value"), str)


def _row_action(action: dict, *, nested: bool = False) -> bool:
    if action["type"] == "branch":
        rules = action["conditions"].get("rules", [])
        return (not nested and action["conditions"].get("match", "all") == "all"
                and len(rules) == 1 and _row_condition(rules[0])
                and all(_row_action(a, nested=True) for a in action["then"] + action["else"]))
    if action["type"] == "set_field":
        return isinstance(action["value"], str)
    if action["type"] == "create_task":
        return not action.get("body") and action.get("assign_to", "owner") == "owner"
    return True
