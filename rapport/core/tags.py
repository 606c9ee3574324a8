"""Tags: shared by every taggable record, matched case-insensitively by slug."""

from collections import defaultdict

from django.db import connection
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


def with_tag_names(records: list) -> list:
    """Sets `tag_names`, sorted, on each record of one model, in one query.

    Every detail and list read runs this, so it is plain SQL on the link table: through
    the ORM (or `prefetch_related`) building the query cost more than running it.
    """
    if not records:
        return records
    model = type(records[0])
    through = model.tags.through
    quote = connection.ops.quote_name
    source = quote(through._meta.get_field(model._meta.model_name).column)
    target = quote(through._meta.get_field("tag").column)
    ids = [record.pk for record in records]
    # Identifiers come from the models, quoted; every value is a bound parameter.
    sql = (f"SELECT link.{source}, tag.{quote('name')} "  # noqa: S608
           f"FROM {quote(through._meta.db_table)} link "
           f"JOIN {quote(Tag._meta.db_table)} tag ON tag.{quote('id')} = link.{target} "
           f"WHERE link.{source} IN ({', '.join(['%s'] * len(ids))}) "
           f"ORDER BY tag.{quote('name')}")
    names = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        for record_id, name in cursor.fetchall():
            names[record_id].append(name)
    for record in records:
        record.tag_names = names.get(record.pk, [])
    return records
