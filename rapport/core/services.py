"""Writes to the kernel's own tables: custom field definitions, saved views."""

import re

from django.db import IntegrityError, transaction
from django.db.models import Max

from rapport.core.choices import CustomFieldType
from rapport.core.errors import Conflict, PermissionDenied, ValidationFailed
from rapport.core.events import record_event
from rapport.core.models import CustomFieldDefinition, SavedView
from rapport.core.permissions import is_admin

CUSTOMISABLE = {"contact", "company", "deal", "lead"}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _clean_definition(*, object_type, key, label, type, options, errors):
    if object_type not in CUSTOMISABLE:
        errors["object_type"] = [f"Choose one of: {', '.join(sorted(CUSTOMISABLE))}."]
    if not _KEY.match(key or ""):
        errors["key"] = ["Use lower-case letters, digits and underscores, starting with a letter."]
    label = " ".join((label or "").split())
    if not label or len(label) > 100:
        errors["label"] = ["Enter a label of 1 to 100 characters."]
    if type not in CustomFieldType.values:
        errors["type"] = [f"Choose one of: {', '.join(CustomFieldType.values)}."]
    options = options or []
    if type in {CustomFieldType.SELECT, CustomFieldType.MULTI_SELECT}:
        cleaned = [" ".join(str(o).split()) for o in options if str(o).strip()]
        if not cleaned:
            errors["options"] = ["List at least one option."]
        elif len(set(cleaned)) != len(cleaned) or any(len(o) > 100 for o in cleaned):
            errors["options"] = ["Options must be distinct and at most 100 characters."]
        options = cleaned
    else:
        options = []
    return label, options


@transaction.atomic
def custom_field_create(*, actor, object_type: str, key: str, label: str, type: str,
                        options=None, is_required: bool = False,
                        help_text: str = "") -> CustomFieldDefinition:
    if not is_admin(actor):
        raise PermissionDenied("Only admins define custom fields.")
    errors: dict = {}
    label, options = _clean_definition(object_type=object_type, key=key, label=label,
                                       type=type, options=options, errors=errors)
    if len(help_text or "") > 200:
        errors["help_text"] = ["Enter at most 200 characters."]
    if errors:
        raise ValidationFailed(fields=errors)
    position = (CustomFieldDefinition.objects.filter(object_type=object_type)
                .aggregate(m=Max("position"))["m"] or 0) + 1
    try:
        with transaction.atomic():
            definition = CustomFieldDefinition.objects.create(
                object_type=object_type, key=key, label=label, type=type, options=options,
                is_required=is_required, help_text=help_text or "", position=position,
            )
    except IntegrityError:
        raise Conflict(fields={"key": [f"A {object_type} field with key “{key}” exists."]}) from None
    record_event(type="custom_field.created", object_type="custom_field",
                 object_id=definition.pk, actor=actor,
                 data={"object_type": object_type, "key": key, "type": type})
    return definition


@transaction.atomic
def custom_field_update(*, actor, definition: CustomFieldDefinition, label: str | None = None,
                        options=None, is_required: bool | None = None,
                        help_text: str | None = None) -> CustomFieldDefinition:
    """Label, options, required and help text change; key and type are fixed once data exists."""
    if not is_admin(actor):
        raise PermissionDenied("Only admins change custom fields.")
    errors: dict = {}
    new_label, new_options = _clean_definition(
        object_type=definition.object_type, key=definition.key,
        label=label if label is not None else definition.label, type=definition.type,
        options=options if options is not None else definition.options, errors=errors,
    )
    if help_text is not None and len(help_text) > 200:
        errors["help_text"] = ["Enter at most 200 characters."]
    if errors:
        raise ValidationFailed(fields=errors)
    definition.label, definition.options = new_label, new_options
    if is_required is not None:
        definition.is_required = is_required
    if help_text is not None:
        definition.help_text = help_text
    definition.save()
    record_event(type="custom_field.updated", object_type="custom_field",
                 object_id=definition.pk, actor=actor, data={"key": definition.key})
    return definition


@transaction.atomic
def custom_field_delete(*, actor, definition: CustomFieldDefinition) -> None:
    if not is_admin(actor):
        raise PermissionDenied("Only admins delete custom fields.")
    record_event(type="custom_field.deleted", object_type="custom_field",
                 object_id=definition.pk, actor=actor, data={"key": definition.key})
    definition.delete()


def saved_view_save(*, user, object_type: str, name: str, query: str) -> SavedView:
    name = " ".join((name or "").split())
    if not name or len(name) > 80:
        raise ValidationFailed(fields={"name": ["Enter a name of 1 to 80 characters."]})
    if len(query) > 2000:
        raise ValidationFailed(fields={"query": ["This view has too many filters."]})
    query = "&".join(p for p in query.split("&") if p and not p.startswith("cursor="))
    view, _ = SavedView.objects.update_or_create(
        user=user, object_type=object_type, name=name, defaults={"query": query}
    )
    return view


def saved_view_delete(*, user, view_id: int) -> None:
    SavedView.objects.filter(user=user, pk=view_id).delete()
