"""Tags: shared by every taggable record, matched case-insensitively by slug."""

from django.db import connection
from django.db.models import JSONField
from django.db.models.expressions import RawSQL
from django.utils.text import slugify

from rapport.core.errors import ValidationFailed
from rapport.core.models import Tag

MAX_TAGS = 50


def clean_tag_names(names) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    if not isinstance(names, list | tuple):
        raise ValidationFailed(fields={"tags": ["Enter a list of tag names."]})
    cleaned, seen = [], set()
    for name in names:
        if not isinstance(name, str):
            raise ValidationFailed(fields={"tags": ["Each tag must be text."]})
        name = " ".join(name.split())
        if not name:
            continue
        if len(name) > 64 or not slugify(name):
            raise ValidationFailed(fields={"tags": [f"“{name[:64]}” is not a valid tag name."]})
        if slugify(name) not in seen:
            seen.add(slugify(name))
            cleaned.append(name)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(fields={"tags": [f"Use at most {MAX_TAGS} tags."]})
    return cleaned


def get_or_create_tags(names: list[str]) -> list[Tag]:
    tags = []
    for name in clean_tag_names(names):
        tag, _ = Tag.objects.get_or_create(slug=slugify(name), defaults={"name": name})
        tags.append(tag)
    return tags


def set_tags(instance, names: list[str]) -> None:
    instance.tags.set(get_or_create_tags(names))


def add_tags(instance, names: list[str]) -> None:
    instance.tags.add(*get_or_create_tags(names))


def tag_names(model) -> RawSQL:
    """An annotation: the record's tag names, sorted, as a list, in the record's own query.

    Detail and list reads all carry tags; a correlated subquery on the link table saves
    them a second round trip (and the ORM the work of building one).
    """
    through = model.tags.through
    quote = connection.ops.quote_name
    source = quote(through._meta.get_field(model._meta.model_name).column)
    target = quote(through._meta.get_field("tag").column)
    joined = (f"FROM {quote(through._meta.db_table)} link "
              f"JOIN {quote(Tag._meta.db_table)} tag ON tag.{quote('id')} = link.{target} "
              f"WHERE link.{source} = {quote(model._meta.db_table)}.{quote('id')}")
    # Identifiers come from the models, quoted; there are no values in this SQL.
    if connection.vendor == "postgresql":
        sql = f"SELECT COALESCE(jsonb_agg(tag.name ORDER BY tag.name), '[]'::jsonb) {joined}"
    else:
        sql = f"SELECT json_group_array(name) FROM (SELECT tag.name AS name {joined} ORDER BY tag.name)"  # noqa: S608
    return RawSQL(sql, (), output_field=JSONField())  # noqa: S611
