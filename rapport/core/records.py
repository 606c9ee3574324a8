"""The lifecycle every CRM record shares: create, update, trash, restore.

Each app's services validate their own fields, then call these, so history,
version checks, search indexing and events happen the same way everywhere.
Callers run inside `transaction.atomic()`.
"""

from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from rapport.core import bulk, search
from rapport.core.errors import NotFound, VersionConflict
from rapport.core.events import record_event, record_events
from rapport.core.history import changes_between, snapshot
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


def create_many(instances: list, *, actor, tags: list[list[str]] | None = None) -> list:
    """create_record for a batch (an import): the same defaults, tags, search documents and
    `<type>.created` events, written with a few bulk statements instead of several per record.
    `tags[i]` holds the tag names of `instances[i]`."""
    if not instances:
        return instances
    user = actor if getattr(actor, "pk", None) else None
    fields = tracked_fields(instances[0])
    values = []
    for i, instance in enumerate(instances):
        instance.created_by = user
        if instance.owner_id is None and user:
            instance.owner_id = user.pk
        values.append({**snapshot(instance, fields), "tags": sorted(tags[i]) if tags else []})
    bulk.insert(type(instances[0]), instances)
    if tags and any(tags):
        _link_tags(instances, tags)
    search.index_many(instances)
    record_events([{"type": f"{instance.object_type}.created", "object_type": instance.object_type,
                    "object_id": instance.pk, "actor": actor, "data": {"values": v}}
                   for instance, v in zip(instances, values, strict=True)])
    return instances


def _link_tags(instances, tags: list[list[str]]) -> None:
    through = type(instances[0]).tags.through
    source = f"{type(instances[0])._meta.model_name}_id"
    by_slug = {t.slug: t for t in get_or_create_tags(sorted({n for ns in tags for n in ns}))}
    through.objects.bulk_create([
        through(**{source: instance.pk, "tag_id": by_slug[slugify(name)].pk})
        for instance, names in zip(instances, tags, strict=True) for name in names
    ], ignore_conflicts=True)


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
