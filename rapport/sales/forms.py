"""Forms for deals and pipeline settings. They only shape input: the services validate it."""

from django import forms

from rapport.core.customfields import TYPES
from rapport.sales.choices import OWN_CATEGORIES, ContactRole


def _text(label, max_length=200, **kwargs):
    return forms.CharField(label=label, required=False, max_length=max_length, **kwargs)


def _whole(label, **kwargs):
    return forms.IntegerField(label=label, required=False, **kwargs)


class DealForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    amount = _text("Amount", 20, widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                                "placeholder": "0.00"}))
    currency = forms.ChoiceField(label="Currency")
    stage_id = forms.TypedChoiceField(label="Pipeline and stage", coerce=int, empty_value=None)
    probability = _whole("Win probability override (%)", min_value=0, max_value=100,
                         help_text="Leave empty to use the stage's probability.")
    expected_close_date = forms.DateField(label="Expected close date", required=False,
                                          widget=forms.DateInput(attrs={"type": "date"}))
    forecast_category = forms.ChoiceField(
        label="Forecast category", required=False,
        choices=[("", "From the stage")] + [(c.value, c.label) for c in OWN_CATEGORIES],
        help_text="Where the deal counts in the forecast while open.")
    company_id = forms.ChoiceField(label="Company", required=False)
    owner_id = forms.ChoiceField(label="Owner")
    next_step = _text("Next step", 200)
    tags = _text("Tags", 2000, help_text="Separate tags with commas.")
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    groups = [
        ("Deal", ["name", "amount", "currency", "stage_id", "probability",
                  "expected_close_date", "forecast_category"]),
        ("People and next step", ["company_id", "owner_id", "next_step", "tags"]),
    ]

    def __init__(self, *args, pipelines=(), currencies=(), companies=(), owners=(),
                 definitions=(), **kwargs):
        super().__init__(*args, **kwargs)
        # One select for both: each pipeline an option group of its stages.
        several = len(pipelines) > 1
        self.fields["stage_id"].choices = [
            (pipeline.name, [(stage.pk, f"{f'{pipeline.name} › ' if several else ''}{stage.name} "
                                        f"({stage.probability} %)")
                             for stage in pipeline.form_stages])
            for pipeline in pipelines]
        self.fields["currency"].choices = list(currencies)
        self.fields["company_id"].choices = [("", "— No company —")] + [
            (c.pk, c.name) for c in companies]
        self.fields["owner_id"].choices = [(u.pk, str(u)) for u in owners]
        self.definitions = list(definitions)
        for definition in self.definitions:
            self.fields[f"cf_{definition.key}"] = TYPES[definition.type].form_field(definition)

    def grouped(self):
        groups = [(title, [self[n] for n in names]) for title, names in self.groups]
        if self.definitions:
            groups.append(("Custom fields", [self[f"cf_{d.key}"] for d in self.definitions]))
        return groups

    @staticmethod
    def initial_for(deal) -> dict:
        return {
            "name": deal.name, "amount": f"{deal.amount:.2f}", "currency": deal.currency,
            "stage_id": deal.stage_id, "probability": deal.probability,
            "expected_close_date": deal.expected_close_date, "company_id": deal.company_id or "",
            "owner_id": deal.owner_id or "", "next_step": deal.next_step,
            "forecast_category": deal.forecast_category,
            "tags": ", ".join(deal.tag_names or []), "version": deal.version,
        }

    def custom_initial(self, deal) -> dict:
        return {f"cf_{d.key}": TYPES[d.type].to_form(deal.custom_fields.get(d.key))
                for d in self.definitions}

    def to_data(self) -> dict:
        data = self.cleaned_data
        values = {name: data[name] for name in ("name", "amount", "currency", "stage_id",
                                                 "probability", "expected_close_date",
                                                 "next_step", "forecast_category")}
        values["company_id"] = data["company_id"] or None
        values["owner_id"] = data["owner_id"] or None
        values["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
        values["custom_fields"] = {
            d.key: None if data.get(f"cf_{d.key}") in ("", None, []) and d.type != "boolean"
            else data.get(f"cf_{d.key}")
            for d in self.definitions}
        return values


class MoveForm(forms.Form):
    """A move from the board, a card's "Move to…" select, or the deal page's Won/Lost buttons."""

    stage_id = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, choices=[("", ""), ("open", "Open"),
                                                        ("won", "Won"), ("lost", "Lost")])
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lost_reason_id = forms.TypedChoiceField(label="Why was it lost?", required=False, coerce=int,
                                            empty_value=None)
    lost_note = forms.CharField(label="Note", required=False, max_length=2000,
                                widget=forms.Textarea(attrs={"rows": 3}),
                                help_text="Optional: what would have won it.")

    def __init__(self, *args, stages=(), reasons=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage_id"].choices = [("", "")] + [(s.pk, s.name) for s in stages]
        self.fields["lost_reason_id"].choices = [("", "Choose a reason…")] + [
            (r.pk, r.name) for r in reasons]


class DealContactForm(forms.Form):
    contact_id = forms.TypedChoiceField(label="Contact", coerce=int, empty_value=None)
    role = forms.ChoiceField(label="Role", required=False,
                             choices=[("", "— No role —")] + list(ContactRole.choices))

    def __init__(self, *args, at_company=(), others=(), company_name="", **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Choose a contact…")]
        if at_company:
            choices.append((f"At {company_name}", [(c.pk, _label(c)) for c in at_company]))
            if others:
                choices.append(("Everyone else", [(c.pk, _label(c)) for c in others]))
        else:
            choices += [(c.pk, _label(c)) for c in others]
        self.fields["contact_id"].choices = choices


def _label(contact) -> str:
    name = contact.full_name
    return f"{name} ({contact.email})" if contact.email and contact.email != name else name


# Settings → Pipelines ------------------------------------------------------------------

class PipelineForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, required=False)
    is_default = forms.BooleanField(label="Make it the default pipeline", required=False)


# A stage's own forecast category; empty, its deals count by the stage's probability.
STAGE_CATEGORIES = [(c.value, c.label) for c in OWN_CATEGORIES]


class StageForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, required=False)
    probability = _whole("Probability (%)", min_value=0, max_value=100)
    rotting_days = _whole("Stale after (days)", min_value=1, max_value=3650,
                          help_text="Empty: deals never go stale here.")
    forecast_category = forms.ChoiceField(
        label="Forecast category", required=False,
        choices=[("", "From the probability")] + STAGE_CATEGORIES,
        help_text="Where its open deals count in the forecast, unless a deal has its own. "
                  "From the probability: commit from 70 %, best case from 40 %.")

    def to_data(self, *, creating: bool) -> dict:
        data = dict(self.cleaned_data)
        if data["probability"] is None:
            data.pop("probability")
        if creating and data["rotting_days"] is None:
            data.pop("rotting_days")
        if self.add_prefix("forecast_category") not in self.data:
            data.pop("forecast_category")  # a form without the field leaves it as it is
        return data


class LostReasonForm(forms.Form):
    name = forms.CharField(label="Reason", max_length=100, required=False)
