"""Forms for the lead pages and Settings → Lead assignment. They only shape input: the lead
services validate it."""

from django import forms

from rapport.contacts.choices import CompanySize
from rapport.core.customfields import TYPES
from rapport.sales.choices import AssignmentAction, AssignmentMatch, LeadSource, LeadStatus

ASSIGN_BY_RULES = "— Assign by the rules —"
CONDITION_ROWS = 4


def _text(label, max_length=200, **kwargs):
    return forms.CharField(label=label, required=False, max_length=max_length, **kwargs)


class LeadForm(forms.Form):
    first_name = _text("First name", 100)
    last_name = _text("Last name", 100)
    title = _text("Job title", 150)
    company_name = _text("Company", 200)
    company_size = forms.ChoiceField(label="Company size", required=False,
                                     choices=[("", "—")] + list(CompanySize.choices))
    website = _text("Website", 500, help_text="Such as https://example.com")
    email = _text("Email", 254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phone = _text("Phone", 40, widget=forms.TextInput(attrs={"type": "tel"}))
    country = _text("Country", 100, help_text="A name or a code, such as Germany or DE.")
    status = forms.ChoiceField(label="Status", choices=LeadStatus.choices, initial=LeadStatus.NEW)
    disqualified_reason = _text("Disqualified because", 500,
                                help_text="Required when the status is Disqualified.")
    source = forms.ChoiceField(label="Source", choices=LeadSource.choices,
                               initial=LeadSource.OTHER)
    score = forms.IntegerField(label="Score", required=False, initial=0)
    owner_id = forms.ChoiceField(label="Owner", required=False)
    tags = _text("Tags", 2000, help_text="Separate tags with commas.")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    FIELDS = ("first_name", "last_name", "title", "company_name", "company_size", "website",
              "email", "phone", "country", "status", "disqualified_reason", "source")
    groups = [
        ("Person", ["first_name", "last_name", "title", "company_name", "company_size",
                    "website"]),
        ("Reach", ["email", "phone", "country"]),
        ("Qualification", ["status", "disqualified_reason", "source", "score", "owner_id",
                           "tags"]),
    ]

    def __init__(self, *args, owners=(), definitions=(), editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # A new lead without an owner goes through the assignment rules.
        empty = "— Nobody —" if editing else ASSIGN_BY_RULES
        self.fields["owner_id"].choices = [("", empty)] + [(u.pk, str(u)) for u in owners]
        self.definitions = list(definitions)
        for definition in self.definitions:
            self.fields[f"cf_{definition.key}"] = TYPES[definition.type].form_field(definition)

    def grouped(self):
        groups = [(title, [self[n] for n in names]) for title, names in self.groups]
        if self.definitions:
            groups.append(("Custom fields", [self[f"cf_{d.key}"] for d in self.definitions]))
        return groups

    @classmethod
    def initial_for(cls, lead) -> dict:
        initial = {name: getattr(lead, name) for name in cls.FIELDS}
        initial.update(score=lead.score, owner_id=lead.owner_id or "", version=lead.version,
                       tags=", ".join(t.name for t in lead.tags.all()))
        return initial

    def custom_initial(self, lead) -> dict:
        return {f"cf_{d.key}": TYPES[d.type].to_form(lead.custom_fields.get(d.key))
                for d in self.definitions}

    def to_data(self) -> dict:
        data = self.cleaned_data
        values = {name: data[name] for name in self.FIELDS}
        values["score"] = data["score"] if data["score"] is not None else 0
        values["owner_id"] = data["owner_id"] or None
        values["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
        custom = {}
        for definition in self.definitions:
            value = data.get(f"cf_{definition.key}")
            custom[definition.key] = None if value in ("", None, []) and \
                definition.type != "boolean" else value
        values["custom_fields"] = custom
        return values


class ConvertForm(forms.Form):
    company_id = forms.ChoiceField(label="Company", required=False,
                                   help_text="Leave as found, or choose the company to link.")
    create_deal = forms.BooleanField(label="Create a deal", required=False, initial=True)
    pipeline_id = forms.ChoiceField(label="Pipeline", required=False)
    deal_name = _text("Deal name", 200)
    amount = _text("Amount", 30, widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                   help_text="Such as 1250.00")
    currency = _text("Currency", 3, help_text="ISO 4217, such as EUR. Empty: USD.")
    expected_close_date = forms.DateField(label="Expected close date", required=False,
                                          widget=forms.DateInput(attrs={"type": "date"}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    DEAL_FIELDS = ("pipeline_id", "deal_name", "amount", "currency", "expected_close_date")

    def __init__(self, *args, pipelines=(), companies=(), found_company: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline_id"].choices = [(p.pk, p.name) for p in pipelines]
        self.fields["company_id"].choices = [("", found_company or "— As found —")] + [
            (c.pk, c.name) for c in companies]

    def deal_fields(self):
        return [self[name] for name in self.DEAL_FIELDS]

    def to_arguments(self) -> dict:
        data = self.cleaned_data
        arguments = {"create_deal": data["create_deal"],
                     "company_id": int(data["company_id"]) if data["company_id"] else None}
        if data["create_deal"]:
            arguments.update(
                pipeline_id=int(data["pipeline_id"]) if data["pipeline_id"] else None,
                deal_name=data["deal_name"] or None, amount=data["amount"] or None,
                currency=data["currency"] or None,
                expected_close_date=data["expected_close_date"])
        return arguments


FIELD_CHOICES = [("", "—"), ("country", "Country"), ("source", "Source"),
                 ("company_size", "Company size"), ("score", "Score"), ("title", "Job title"),
                 ("company_name", "Company name"), ("email_domain", "Email domain"),
                 ("tags", "Tag")]
OP_CHOICES = [("eq", "is"), ("ne", "is not"), ("in", "is one of"), ("not_in", "is none of"),
              ("contains", "contains"), ("not_contains", "does not contain"),
              ("starts_with", "starts with"), ("gt", ">"), ("gte", "≥"), ("lt", "<"),
              ("lte", "≤"), ("is_empty", "is empty"), ("is_not_empty", "is not empty")]


class AssignmentRuleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    active = forms.BooleanField(label="Active", required=False, initial=True)
    match = forms.ChoiceField(label="Leads that meet", choices=AssignmentMatch.choices)
    action = forms.ChoiceField(label="Assign", choices=AssignmentAction.choices)
    user_id = forms.ChoiceField(label="User", required=False,
                                help_text="For “Assign to a user”.")
    team_id = forms.ChoiceField(label="Team", required=False,
                                help_text="For round robin and least loaded.")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, users=(), teams=(), definitions=(), rows: int = CONDITION_ROWS,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user_id"].choices = [("", "—")] + [(u.pk, str(u)) for u in users]
        self.fields["team_id"].choices = [("", "—")] + [(t.pk, t.name) for t in teams]
        fields = FIELD_CHOICES + [(f"custom_fields.{d.key}", d.label) for d in definitions]
        self.rows = rows
        for i in range(rows):
            self.fields[f"c{i}_field"] = forms.ChoiceField(label="Field", required=False,
                                                           choices=fields)
            self.fields[f"c{i}_op"] = forms.ChoiceField(label="Comparison", required=False,
                                                        choices=OP_CHOICES)
            self.fields[f"c{i}_value"] = _text("Value", 1000)

    def rule_fields(self):
        return [self[n] for n in ("name", "active", "match", "action", "user_id", "team_id")]

    def condition_rows(self):
        return [(self[f"c{i}_field"], self[f"c{i}_op"], self[f"c{i}_value"])
                for i in range(self.rows)]

    @staticmethod
    def initial_for(rule) -> dict:
        initial = {"name": rule.name, "active": rule.active, "match": rule.match,
                   "action": rule.action, "user_id": rule.user_id or "",
                   "team_id": rule.team_id or "", "version": rule.version}
        for i, condition in enumerate(rule.conditions):
            value = condition.get("value")
            initial[f"c{i}_field"] = condition["field"]
            initial[f"c{i}_op"] = condition["op"]
            initial[f"c{i}_value"] = ", ".join(str(v) for v in value) \
                if isinstance(value, list) else "" if value is None else str(value)
        return initial

    def to_data(self) -> dict:
        data = self.cleaned_data
        conditions = []
        for i in range(self.rows):
            field = data.get(f"c{i}_field")
            if not field:
                continue
            op, value = data.get(f"c{i}_op") or "eq", data.get(f"c{i}_value", "")
            if op in {"in", "not_in"}:
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif op in {"is_empty", "is_not_empty"}:
                value = None
            conditions.append({"field": field, "op": op, "value": value})
        return {"name": data["name"], "active": data["active"], "match": data["match"],
                "action": data["action"], "user_id": data["user_id"] or None,
                "team_id": data["team_id"] or None, "conditions": conditions}


class FallbackForm(forms.Form):
    fallback_owner_id = forms.ChoiceField(
        label="Fallback owner", required=False,
        help_text="Gets every new lead that no rule takes. Nobody: whoever created the lead.")

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fallback_owner_id"].choices = [("", "— Nobody —")] + [
            (u.pk, str(u)) for u in users]
