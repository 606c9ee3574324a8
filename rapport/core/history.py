"""Snapshots and diffs of a record's fields, stored on its events as its history."""

import datetime
import decimal

from django.db import models


def to_json(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance, field_names) -> dict:
    values = {}
    for name in field_names:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            continue
        attname = field.attname  # `company_id`, not the related object: no query
        values[name] = to_json(getattr(instance, attname))
    values["tags"] = sorted(t.name for t in instance.tags.all()) if instance.pk else []
    return values


def changes_between(before: dict, after: dict) -> dict:
    """`{field: [old, new]}` for every field whose value differs."""
    changed = {}
    for key in after:
        if key == "custom_fields":
            old, new = before.get(key) or {}, after.get(key) or {}
            for ck in sorted(set(old) | set(new)):
                if old.get(ck) != new.get(ck):
                    changed[f"custom_fields.{ck}"] = [old.get(ck), new.get(ck)]
        elif before.get(key) != after[key]:
            changed[key] = [before.get(key), after[key]]
    return changed
