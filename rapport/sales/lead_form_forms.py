"""Forms for Settings → Lead forms, and the fields of a form's public page. They only shape
input: lead_form_services validates it (the public page's values through the lead cleaners)."""

import dataclasses

from django import forms

from rapport.sales.choices import LeadSource
from rapport.sales.lead_form_selectors import CUSTOM_PREFIX, Askable
from rapport.web.ui import split_list

ASSIGN_BY_RULES = "— Assign by the rules —"


def _text(label, max_length, **kwargs):
    return forms.CharField(label=label, required=False, max_length=max_length, **kwargs)


class LeadFormSettingsForm(forms.Form):
    """A form's settings, and for each askable field: asked? required? in which place?"""

    name = forms.CharField(label="Name", max_length=100,
                           help_text="Shown as the form's heading, such as “Book a demo”.")
    organisation_name = _text("Organisation", 200,
                              help_text="Your company's name, shown above the heading.")
    intro = _text("Introduction", 2000, widget=forms.Textarea(attrs={"rows": 2}),
                  help_text="A sentence under the heading (optional).")
    lead_source = forms.ChoiceField(label="Source of its leads", choices=LeadSource.choices,
                                    initial=LeadSource.WEB_FORM)
    lead_tags = _text("Tags for its leads", 2000, help_text="Separate tags with commas.")
    lead_owner_id = forms.ChoiceField(label="Owner of its leads", required=False)
    thank_you_message = _text("Thank-you message", 2000,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Shown after sending.")
    redirect_url = _text("Redirect to", 500, widget=forms.URLInput(
        attrs={"placeholder": "https://example.com/thanks"}),
        help_text="Instead of the thank-you message, send people to this page (optional).")
    is_active = forms.BooleanField(label="Active: the form takes submissions", required=False,
                                   initial=True)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    SETTINGS = ("name", "organisation_name", "intro", "lead_source", "lead_tags",
                "lead_owner_id", "thank_you_message", "redirect_url", "is_active")

    def __init__(self, *args, owners=(), askable: dict[str, Askable] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead_owner_id"].choices = [("", ASSIGN_BY_RULES)] + [
            (u.pk, str(u)) for u in owners]
        self.askable = askable or {}
        for number, (name, field) in enumerate(self.askable.items(), start=1):
            slug = self.slug(name)
            self.fields[f"ask_{slug}"] = forms.BooleanField(
                label=f"Ask for {field.label}", required=False)
            self.fields[f"required_{slug}"] = forms.BooleanField(
                label=f"{field.label} is required", required=False)
            self.fields[f"order_{slug}"] = forms.IntegerField(
                label=f"Place of {field.label}", required=False, min_value=1, max_value=99,
                initial=number)

    @staticmethod
    def slug(name: str) -> str:
        return name.replace(CUSTOM_PREFIX, "cf_")

    def settings_fields(self):
        return [self[name] for name in self.SETTINGS]

    def field_rows(self):
        """(label, ask, required, order, is custom) for the field picker's table."""
        return [(field.label, self[f"ask_{self.slug(name)}"],
                 self[f"required_{self.slug(name)}"], self[f"order_{self.slug(name)}"],
                 field.is_custom)
                for name, field in self.askable.items()]

    @classmethod
    def initial_for(cls, form, askable: dict[str, Askable]) -> dict:
        initial = {name: getattr(form, name) for name in cls.SETTINGS
                   if name not in ("lead_tags", "lead_owner_id")}
        initial.update(lead_tags=", ".join(form.lead_tags), version=form.version,
                       lead_owner_id=form.lead_owner_id or "")
        places = {item["field"]: (place, item["required"])
                  for place, item in enumerate(form.fields, start=1)}
        after = len(form.fields)
        for name in askable:
            slug = cls.slug(name)
            if name in places:
                initial[f"ask_{slug}"] = True
                initial[f"required_{slug}"] = places[name][1]
                initial[f"order_{slug}"] = places[name][0]
            else:
                after += 1
                initial[f"order_{slug}"] = after
        return initial

    def to_data(self) -> dict:
        data = self.cleaned_data
        chosen = [(data.get(f"order_{self.slug(name)}") or 99, position, name)
                  for position, name in enumerate(self.askable)
                  if data.get(f"ask_{self.slug(name)}")]
        return {
            "name": data["name"], "organisation_name": data["organisation_name"],
            "intro": data["intro"], "lead_source": data["lead_source"],
            "lead_tags": split_list(data["lead_tags"]),
            "lead_owner_id": int(data["lead_owner_id"]) if data["lead_owner_id"] else None,
            "thank_you_message": data["thank_you_message"],
            "redirect_url": data["redirect_url"], "is_active": data["is_active"],
            "fields": [{"field": name,
                        "required": bool(data.get(f"required_{self.slug(name)}"))}
                       for _, _, name in sorted(chosen)],
        }


# The public page ------------------------------------------------------------------------------

# Custom field types and the input each gets on the public page.
INPUT_KINDS = {"text": "text", "long_text": "textarea", "number": "number",
               "decimal": "decimal", "date": "date", "datetime": "datetime-local",
               "boolean": "checkbox", "select": "select", "multi_select": "checkboxes",
               "email": "email", "url": "url", "phone": "tel"}


@dataclasses.dataclass
class PublicField:
    """One input of a form's public page, with what was sent and what is wrong with it."""

    name: str
    label: str
    kind: str
    required: bool
    autocomplete: str = ""
    value: object = ""
    options: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    help_text: str = ""

    @property
    def id(self) -> str:
        return "lf-" + self.name.replace(".", "-")

    @property
    def values(self) -> list:
        return self.value if isinstance(self.value, list) else [self.value]


def public_fields(form, askable: dict[str, Askable], data=None, errors=None) -> list[PublicField]:
    """The inputs of `form`'s page in order; `data` (the post, as lists) and `errors` (by field
    name) refill them after a refused submission."""
    result = []
    for item in form.fields:
        field = askable.get(item["field"])
        if field is None:
            continue
        definition = field.definition
        kind = INPUT_KINDS.get(definition.type, "text") if definition else field.input_type
        sent = data.getlist(field.name) if data is not None else []
        value = sent if kind == "checkboxes" else (sent[-1] if sent else "")
        result.append(PublicField(
            name=field.name, label=field.label, kind=kind, required=item["required"],
            autocomplete=field.autocomplete, value=value,
            options=list(definition.options or []) if definition else [],
            errors=list((errors or {}).get(field.name, [])),
            help_text=definition.help_text if definition else ""))
    return result
