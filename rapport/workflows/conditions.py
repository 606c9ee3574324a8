"""Reading a record's fields for a rule, and testing conditions against them."""

import datetime

from rapport.contacts.models import Company, Contact
from rapport.sales.models import Deal, Lead

MODELS = {"contact": Contact, "company": Company, "deal": Deal, "lead": Lead}
# What conditions may read through each record (spec.READABLE), joined in the same query.
RELATED = {"contact": ("company", "owner"), "company": ("owner",),
           "deal": ("company", "owner", "stage", "lost_reason"),
           "lead": ("owner", "converted_contact", "converted_company", "converted_deal")}


def readable(object_type: str):
    return (MODELS[object_type].objects.select_related(*RELATED[object_type])
            .prefetch_related("tags"))


def load(object_type: str, object_id: int):
    """The live record with what conditions may read through it, or None if gone or trashed."""
    return readable(object_type).filter(pk=object_id).first()


def load_many(object_type: str, ids) -> dict:
    """Live records by id, read in three queries however many there are."""
    return {record.pk: record for record in readable(object_type).filter(pk__in=list(ids))}


def value_of(record, field: str):
    if field == "tags":
        return sorted(tag.name.lower() for tag in record.tags.all())
    if field.startswith("custom_fields."):
        return (record.custom_fields or {}).get(field.split(".", 1)[1])
    if "." in field:
        relation, name = field.split(".", 1)
        related = getattr(record, relation, None)
        return getattr(related, name, None) if related is not None else None
    value = getattr(record, field, None)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return value


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _same(actual, expected) -> bool:
    if isinstance(actual, list):
        return str(expected).lower() in actual
    if _empty(actual) or _empty(expected):
        return _empty(actual) and _empty(expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    try:
        return float(actual) == float(expected)
    except (TypeError, ValueError):
        return str(actual).strip().lower() == str(expected).strip().lower()


def _order(actual, expected) -> tuple:
    try:
        return float(actual), float(expected)
    except (TypeError, ValueError):
        return str(actual), str(expected)


def test(condition: dict, record) -> bool:
    actual = value_of(record, condition["field"])
    op, expected = condition["op"], condition.get("value")
    if op == "is_empty":
        return _empty(actual)
    if op == "is_not_empty":
        return not _empty(actual)
    if op == "eq":
        return _same(actual, expected)
    if op == "ne":
        return not _same(actual, expected)
    if op == "in":
        return any(_same(actual, option) for option in expected)
    if op in ("contains", "not_contains"):
        if isinstance(actual, list):
            found = str(expected).lower() in actual
        else:
            found = str(expected).lower() in str(actual or "").lower()
        return found if op == "contains" else not found
    if op == "starts_with":
        return str(actual or "").lower().startswith(str(expected).lower())
    if _empty(actual):
        return False
    left, right = _order(actual, expected)
    return {"gt": left > right, "gte": left >= right, "lt": left < right,
            "lte": left <= right}[op]


def met(conditions: dict, record) -> bool:
    """Every rule (match "all") or one of them ("any"); no conditions at all always holds."""
    if not conditions:
        return True
    results = (met(rule, record) if "rules" in rule else test(rule, record)
               for rule in conditions["rules"])
    return all(results) if conditions["match"] == "all" else any(results)
