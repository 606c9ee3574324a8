"""Custom field types: each type validates values, makes its form field and parses filters.

A new field type is one class here. Values live in the record's `custom_fields`
JSON column, stored in their JSON form (dates as ISO strings, decimals as strings).
"""

import datetime
import decimal

from django import forms
from django.utils.dateparse import parse_date, parse_datetime

from rapport.core.choices import CustomFieldType
from rapport.core.errors import ValidationFailed
from rapport.core.models import CustomFieldDefinition
from rapport.core.normalise import normalise_email, normalise_phone, normalise_url

MAX_TEXT = 255
MAX_LONG_TEXT = 10_000


class FieldType:
    form_class = forms.CharField

    def clean(self, value, definition):
        """The JSON value to store, or ValueError naming the problem."""
        return self.clean_one(value, definition)

    def clean_one(self, value, definition):
        if not isinstance(value, str):
            raise ValueError("Enter text.")
        value = value.strip()
        if len(value) > MAX_TEXT:
            raise ValueError(f"Enter at most {MAX_TEXT} characters.")
        return value

    def parse_filter(self, raw: str, definition):
        return self.clean_one(raw, definition)

    def form_field(self, definition) -> forms.Field:
        return self.form_class(
            label=definition.label, required=definition.is_required,
            help_text=definition.help_text,
        )

    def to_form(self, value):
        return value

    def display(self, value, definition) -> str:
        return "" if value in (None, "", []) else str(value)


class LongText(FieldType):
    def clean_one(self, value, definition):
        if not isinstance(value, str):
            raise ValueError("Enter text.")
        if len(value) > MAX_LONG_TEXT:
            raise ValueError(f"Enter at most {MAX_LONG_TEXT} characters.")
        return value.strip()

    def form_field(self, definition):
        field = super().form_field(definition)
        field.widget = forms.Textarea(attrs={"rows": 3})
        return field


class Number(FieldType):
    form_class = forms.IntegerField

    def clean_one(self, value, definition):
        if isinstance(value, bool):
            raise ValueError("Enter a whole number.")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise ValueError("Enter a whole number.")


class Decimal(FieldType):
    form_class = forms.DecimalField

    def clean_one(self, value, definition):
        if isinstance(value, bool):
            raise ValueError("Enter a number.")
        try:
            number = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            raise ValueError("Enter a number.") from None
        if not number.is_finite():
            raise ValueError("Enter a number.")
        return str(number)


class Date(FieldType):
    form_class = forms.DateField

    def clean_one(self, value, definition):
        if isinstance(value, datetime.date):
            return value.isoformat()
        parsed = parse_date(value) if isinstance(value, str) else None
        if not parsed:
            raise ValueError("Enter a date as YYYY-MM-DD.")
        return parsed.isoformat()

    def form_field(self, definition):
        field = super().form_field(definition)
        field.widget = forms.DateInput(attrs={"type": "date"})
        return field


class DateTime(FieldType):
    form_class = forms.DateTimeField

    def clean_one(self, value, definition):
        if isinstance(value, datetime.datetime):
            parsed = value
        else:
            try:
                parsed = parse_datetime(value) if isinstance(value, str) else None
            except ValueError:
                parsed = None
        if not parsed:
            raise ValueError("Enter a date and time in ISO 8601.")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")

    def form_field(self, definition):
        field = super().form_field(definition)
        field.widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
        return field


class Boolean(FieldType):
    def clean_one(self, value, definition):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on"}:
            return True
        if isinstance(value, str) and value.lower() in {"false", "0", "no", "off", ""}:
            return False
        raise ValueError("Enter true or false.")

    def form_field(self, definition):
        return forms.BooleanField(label=definition.label, required=False,
                                  help_text=definition.help_text)

    def display(self, value, definition):
        return "" if value is None else ("Yes" if value else "No")


class Select(FieldType):
    def clean_one(self, value, definition):
        if value not in definition.options:
            raise ValueError(f"Choose one of: {', '.join(definition.options)}.")
        return value

    def form_field(self, definition):
        choices = [("", "—")] + [(o, o) for o in definition.options]
        return forms.ChoiceField(label=definition.label, required=definition.is_required,
                                 choices=choices, help_text=definition.help_text)


class MultiSelect(Select):
    def clean(self, value, definition):
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if not isinstance(value, list):
            raise ValueError("Enter a list of options.")
        return sorted({self.clean_one(v, definition) for v in value},
                      key=definition.options.index)

    def form_field(self, definition):
        return forms.MultipleChoiceField(
            label=definition.label, required=definition.is_required,
            choices=[(o, o) for o in definition.options],
            widget=forms.CheckboxSelectMultiple, help_text=definition.help_text,
        )

    def display(self, value, definition):
        return ", ".join(value or [])


class Email(FieldType):
    form_class = forms.EmailField

    def clean_one(self, value, definition):
        return normalise_email(super().clean_one(value, definition))


class Url(FieldType):
    form_class = forms.CharField

    def clean_one(self, value, definition):
        return normalise_url(super().clean_one(value, definition))


class Phone(FieldType):
    def clean_one(self, value, definition):
        return normalise_phone(super().clean_one(value, definition))


TYPES: dict[str, FieldType] = {
    CustomFieldType.TEXT: FieldType(),
    CustomFieldType.LONG_TEXT: LongText(),
    CustomFieldType.NUMBER: Number(),
    CustomFieldType.DECIMAL: Decimal(),
    CustomFieldType.DATE: Date(),
    CustomFieldType.DATETIME: DateTime(),
    CustomFieldType.BOOLEAN: Boolean(),
    CustomFieldType.SELECT: Select(),
    CustomFieldType.MULTI_SELECT: MultiSelect(),
    CustomFieldType.EMAIL: Email(),
    CustomFieldType.URL: Url(),
    CustomFieldType.PHONE: Phone(),
}


def definitions_for(object_type: str) -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.filter(object_type=object_type))


def clean_custom_fields(object_type: str, values, current: dict | None = None,
                        definitions: list[CustomFieldDefinition] | None = None) -> dict:
    """Validate `values` over `current`; returns the whole new dict or raises ValidationFailed.

    A key set to null (or "") removes the value. Unknown keys are errors, so a typo
    never silently stores nothing.
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValidationFailed(fields={"custom_fields": ["Enter an object keyed by field key."]})
    definitions = definitions if definitions is not None else definitions_for(object_type)
    by_key = {d.key: d for d in definitions}
    result = dict(current or {})
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors[f"custom_fields.{key}"] = ["Unknown custom field."]
            continue
        if value is None or value == "" or value == []:
            result.pop(key, None)
            continue
        try:
            result[key] = TYPES[definition.type].clean(value, definition)
        except ValueError as exc:
            errors[f"custom_fields.{key}"] = [str(exc)]
    for definition in definitions:
        if definition.is_required and result.get(definition.key) in (None, "", []) \
                and f"custom_fields.{definition.key}" not in errors:
            errors[f"custom_fields.{definition.key}"] = ["This field is required."]
    # Values of fields whose definition was deleted are dropped on the next write.
    result = {k: v for k, v in result.items() if k in by_key}
    if errors:
        raise ValidationFailed(fields=errors)
    return result


def display_values(obj, definitions) -> list[tuple[str, str]]:
    return [
        (d.label, TYPES[d.type].display(obj.custom_fields.get(d.key), d))
        for d in definitions
    ]
