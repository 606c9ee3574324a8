"""Forms for contacts and companies. They only shape input: the services validate it."""

from django import forms

from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.core.customfields import TYPES

URL_HELP = "A full address, such as https://example.com"


def _text(label, max_length=200, **kwargs):
    return forms.CharField(label=label, required=False, max_length=max_length, **kwargs)


class RecordForm(forms.Form):
    """Shared by contacts and companies: owner, tags, address, social links, custom fields."""

    groups: list[tuple[str, list[str]]] = []

    owner_id = forms.ChoiceField(label="Owner", required=False)
    tags = _text("Tags", 2000, help_text="Separate tags with commas.")
    street = _text("Street")
    city = _text("City", 100)
    region = _text("Region or state", 100)
    postal_code = _text("Postal code", 20)
    country = _text("Country code", 2, help_text="Two letters, such as US or DE.")
    linkedin_url = _text("LinkedIn URL", 500)
    twitter_url = _text("X / Twitter URL", 500)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, owners=(), definitions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_id"].choices = [("", "— Nobody —")] + [(u.pk, str(u)) for u in owners]
        self.definitions = list(definitions)
        for definition in self.definitions:
            self.fields[f"cf_{definition.key}"] = TYPES[definition.type].form_field(definition)

    def grouped(self):
        groups = [(title, [self[n] for n in names]) for title, names in self.groups]
        if self.definitions:
            groups.append(("Custom fields", [self[f"cf_{d.key}"] for d in self.definitions]))
        return groups

    @staticmethod
    def initial_from(obj) -> dict:
        initial = {
            name: getattr(obj, name) for name in
            ("street", "city", "region", "postal_code", "country", "linkedin_url", "twitter_url")
        }
        initial["owner_id"] = obj.owner_id or ""
        initial["tags"] = ", ".join(t.name for t in obj.tags.all())
        initial["version"] = obj.version
        return initial

    def custom_initial(self, obj) -> dict:
        return {f"cf_{d.key}": TYPES[d.type].to_form(obj.custom_fields.get(d.key))
                for d in self.definitions}

    def common_data(self) -> dict:
        data = self.cleaned_data
        values = {name: data[name] for name in
                  ("street", "city", "region", "postal_code", "country",
                   "linkedin_url", "twitter_url")}
        values["owner_id"] = data["owner_id"] or None
        values["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
        custom = {}
        for definition in self.definitions:
            value = data.get(f"cf_{definition.key}")
            custom[definition.key] = None if value in ("", None, []) and \
                definition.type != "boolean" else value
        values["custom_fields"] = custom
        return values


class ContactForm(RecordForm):
    first_name = _text("First name", 100)
    last_name = _text("Last name", 100)
    title = _text("Job title", 150)
    email = _text("Email", 254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    emails = _text("Other emails", 2000, help_text="Separate addresses with commas.")
    phone = _text("Phone", 40, widget=forms.TextInput(attrs={"type": "tel"}))
    phones = _text("Other phones", 2000, help_text="Separate numbers with commas.")
    company_id = forms.ChoiceField(label="Company", required=False)
    lifecycle_stage = forms.ChoiceField(label="Lifecycle stage", choices=LifecycleStage.choices,
                                        initial=LifecycleStage.LEAD)
    website = _text("Website", 500, help_text=URL_HELP)

    groups = [
        ("Person", ["first_name", "last_name", "title", "company_id", "lifecycle_stage",
                    "owner_id", "tags"]),
        ("Reach", ["email", "emails", "phone", "phones", "website", "linkedin_url",
                   "twitter_url"]),
        ("Address", ["street", "city", "region", "postal_code", "country"]),
    ]

    def __init__(self, *args, companies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["company_id"].choices = [("", "— No company —")] + [
            (c.pk, c.name) for c in companies]

    @classmethod
    def initial_for(cls, contact) -> dict:
        initial = cls.initial_from(contact)
        for name in ("first_name", "last_name", "title", "email", "phone", "lifecycle_stage",
                     "website"):
            initial[name] = getattr(contact, name)
        initial["emails"] = ", ".join(contact.emails)
        initial["phones"] = ", ".join(contact.phones)
        initial["company_id"] = contact.company_id or ""
        return initial

    def to_data(self) -> dict:
        data = self.cleaned_data
        values = self.common_data()
        for name in ("first_name", "last_name", "title", "email", "phone", "lifecycle_stage",
                     "website"):
            values[name] = data[name]
        values["emails"] = [e.strip() for e in data["emails"].replace(";", ",").split(",")
                            if e.strip()]
        values["phones"] = [p.strip() for p in data["phones"].replace(";", ",").split(",")
                            if p.strip()]
        values["company_id"] = data["company_id"] or None
        return values


class CompanyForm(RecordForm):
    name = _text("Name", 200)
    domain = _text("Domain", 253, help_text="Such as example.com; taken from the website if empty.")
    website = _text("Website", 500, help_text=URL_HELP)
    industry = _text("Industry", 100)
    size = forms.ChoiceField(label="Size", required=False,
                             choices=[("", "—")] + list(CompanySize.choices))
    phone = _text("Phone", 40, widget=forms.TextInput(attrs={"type": "tel"}))
    description = forms.CharField(label="Description", required=False, max_length=10_000,
                                  widget=forms.Textarea(attrs={"rows": 4}))

    groups = [
        ("Company", ["name", "domain", "website", "industry", "size", "owner_id", "tags",
                     "description"]),
        ("Reach", ["phone", "linkedin_url", "twitter_url"]),
        ("Address", ["street", "city", "region", "postal_code", "country"]),
    ]

    FIELDS = ("name", "domain", "website", "industry", "size", "phone", "description")

    @classmethod
    def initial_for(cls, company) -> dict:
        initial = cls.initial_from(company)
        for name in cls.FIELDS:
            initial[name] = getattr(company, name)
        return initial

    def to_data(self) -> dict:
        values = self.common_data()
        for name in self.FIELDS:
            values[name] = self.cleaned_data[name]
        return values
