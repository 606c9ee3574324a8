"""The lifecycle every CRM record shares: create, update, trash, restore.

Each app's services validate their own fields, then call these, so history,
version checks, search indexing and events happen the same way everywhere.
Callers run inside `transaction.atomic()`.
"""

import functools

from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from rapport.core import bulk, search
from rapport.core.errors import NotFound, VersionConflict
from rapport.core.events import record_event, record_events_of
from rapport.core.history import changes_between, snapshot, to_json
from rapport.core.tags import get_or_create_tags, set_tags


def tracked_fields(instance) -> list[str]:
    skip = {"id", "created_at", "updated_at", "created_by", "version", "deleted_at", "tags"}
    # Generated columns (a deal's sort keys) follow from the fields they are computed from.
    return [
        f.name for f in instance._meta.concrete_fields if f.name not in skip and not f.generated
    ]


def lock(model, pk, *, expected_version: int | None = None):
    """The live row, locked for this transaction; a stale `expected_version` is a 412."""
    instance = model.objects.select_for_update().filter(pk=pk).first()
    if instance is None:
        raise NotFound()
    if expected_version is not None and instance.version != expected_version:
        raise VersionConflict(current_version=instance.version)
    return instance


def create_record(instance, *, actor, tags: list[str] | None = None):
    instance.created_by = actor if getattr(actor, "pk", None) else None
    if instance.owner_id is None and getattr(actor, "pk", None):
        instance.owner = actor
    instance.save()
    if tags:
        set_tags(instance, tags)
    search.index(instance)
    record_event(
        type=f"{instance.object_type}.created", obj=instance, actor=actor,
        data={"values": snapshot(instance, tracked_fields(instance))},
    )
    return instance


def create_rows(model, rows: list[dict], *, actor, tags: list[list[str]] | None = None,
                event_heads: list[str | None] | None = None) -> list[int]:
    """create_record for a batch of cleaned values (an import's rows): the same defaults,
    owner, tags and `<type>.created` events, written with a few bulk statements and no model
    instances. `tags[i]` holds the tag names of `rows[i]`; `event_heads[i]`, where given, is
    its created_event_head, worked out ahead (an import's cleaning process does it beside
    the writer). Returns the new ids.

    Search documents are the caller's to build (search.index_new): an import builds them
    after its rows, since indexing costs more than storing a row."""
    if not rows:
        return []
    count = len(rows)
    user_id = actor.pk if getattr(actor, "pk", None) else None
    # The values a column at a time; what every row shares (its creator, the batch's
    # timestamps, a default) is one value.
    defaults = {**bulk.new_row_defaults(model), "created_by_id": user_id, "owner_id": user_id}
    columns = bulk.columns_of(rows, defaults)
    columns.pop("created_by_id", None)
    if "owner_id" in columns:
        columns["owner_id"] = [user_id if owner is None else owner for owner in columns["owner_id"]]
    ids = bulk.insert_columns(model, count, columns, defaults=defaults)
    # The names as stored: "vip" typed for an existing "VIP" is that tag.
    tags = _link_tags(model, ids, tags) if tags and any(tags) else None
    _, links = _snapshot_plan(model)
    # Each event's data: its head (worked out ahead, or here), then the record's links to
    # other records and its tags.
    end = "".join(f'"{name}":{{}},' for name, _ in links) + '"tags":{}}}}}'
    owners = columns.get("owner_id") or [user_id] * count
    linked = [columns.get(attname) or [defaults[attname]] * count for _, attname in links]
    data = [(head or created_event_head(model, row, owner_id=owner_id)) + end.format(
                *(str(pk) if type(pk) is int else bulk.json_text(pk) or "null" for pk in pks),
                bulk.json_text(sorted(names)) if names else "[]")
            for row, head, owner_id, names, *pks in zip(
                rows, event_heads or [None] * count, owners, tags or [None] * count, *linked,
                strict=True)]
    record_events_of(f"{model.object_type}.created", model.object_type, ids, actor=actor, data=data)
    return ids


def created_event_head(model, values: dict, *, owner_id) -> str:
    """The start of a new record's `<type>.created` event data, as its JSON column stores it:
    what `snapshot` holds of the record with these cleaned values, but for its links to other
    records and its tags, which create_rows adds after them (an import finds a row's company
    in the writer, after its cleaning process has worked this out). Nothing may change the
    record's other values after this."""
    fields, _ = _snapshot_plan(model)
    snapshot_values = {}
    for name, attname, as_text, default in fields:
        value = owner_id if attname == "owner_id" else values.get(attname, default)
        if value is _FRESH:
            value = bulk.new_row_defaults(model)[attname]
        snapshot_values[name] = to_json(value) if as_text else value
    return '{"values":' + bulk.json_text(snapshot_values)[:-1] + ("," if snapshot_values else "")


@functools.cache
def _snapshot_plan(model) -> tuple[list[tuple], list[tuple[str, str]]]:
    """What `snapshot` holds of a new record, read from its values: for each field, its name,
    its attname (`company_id` for `company`), whether to_json turns its value into text
    (dates, decimals) and its default (_FRESH where that is worked out anew: a time); apart,
    its links to other records but its owner."""
    fields = [f for f in map(model._meta.get_field, tracked_fields(model)) if not f.many_to_many]
    defaults = bulk.new_row_defaults(model)
    own = [(f.name, f.attname, f.get_internal_type() in _AS_TEXT,
            defaults[f.attname] if _constant_default(f) else _FRESH)
           for f in fields if not f.many_to_one or f.name == "owner"]
    return own, [(f.name, f.attname) for f in fields if f.many_to_one and f.name != "owner"]


_FRESH = object()


def _constant_default(field) -> bool:
    # An empty dict or list is the same every time; timezone.now is not.
    return not field.has_default() or not callable(field.default) or field.default in (dict, list)


_AS_TEXT = {"DateField", "DateTimeField", "TimeField", "DecimalField"}


def _link_tags(model, ids: list[int], tags: list[list[str]]) -> list[list[str]]:
    """Tags each new record (creating the tags none has yet); returns each one's tag names
    as the tags are named."""
    through = model.tags.through
    source = f"{model._meta.model_name}_id"
    by_slug = {t.slug: t for t in get_or_create_tags(sorted({n for ns in tags for n in ns}))}
    linked = [list(dict.fromkeys(by_slug[slugify(name)] for name in names)) for names in tags]
    through.objects.bulk_create([
        through(**{source: pk, "tag_id": tag.pk})
        for pk, row_tags in zip(ids, linked, strict=True) for tag in row_tags
    ], ignore_conflicts=True)
    return [[tag.name for tag in row_tags] for row_tags in linked]


def update_record(instance, *, actor, before: dict, tags: list[str] | None = None):
    """Save `instance` (already changed in memory) and record what changed since `before`."""
    if tags is not None:
        set_tags(instance, tags)
    after = snapshot(instance, tracked_fields(instance))
    changes = changes_between(before, after)
    if not changes:
        return instance
    instance.updated_at = timezone.now()
    instance.version = F("version") + 1
    instance.save()
    instance.refresh_from_db(fields=["version"])
    search.index(instance)
    record_event(type=f"{instance.object_type}.updated", obj=instance, actor=actor,
                 data={"changes": changes})
    return instance


def trash_record(instance, *, actor):
    instance.deleted_at = timezone.now()
    instance.version = F("version") + 1
    instance.save(update_fields=["deleted_at", "version"])
    instance.refresh_from_db(fields=["version"])
    search.unindex(instance.object_type, instance.pk)
    record_event(type=f"{instance.object_type}.deleted", obj=instance, actor=actor)
    return instance


def restore_record(instance, *, actor):
    instance.deleted_at = None
    instance.version = F("version") + 1
    instance.save(update_fields=["deleted_at", "version"])
    instance.refresh_from_db(fields=["version"])
    search.index(instance)
    record_event(type=f"{instance.object_type}.restored", obj=instance, actor=actor)
    return instance
