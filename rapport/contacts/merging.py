"""Merging two contacts (or two companies) into one, and undoing it.

The surviving record takes, field by field, the value the user picks (by default its own,
or the other's where its own is empty); it keeps every email, phone and tag of both. Every
row of any model that points at the merged record (activities, contacts of a company, and
whatever later apps add: deals, tickets) is moved to the survivor, found from the model
relations rather than listed here. The merged record goes to the trash. All of it is one
transaction, recorded as a `<type>.merged` event, and can be undone.
"""

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from rapport.contacts import duplicates
from rapport.contacts.models import Company, Contact, MergeRecord
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core import records
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.events import record_event
from rapport.core.history import snapshot

MERGEABLE = {"contact": (Contact, contact_visible), "company": (Company, company_visible)}
# A list of further values beside its primary field: both records' values are all kept.
PAIRED = {"emails": "email", "phones": "phone"}
SURVIVOR, OTHER = "survivor", "other"
EMPTY = ("", None, [], {})


def choosable_fields(model) -> list[str]:
    """The fields a user picks a side for (lists and tags are always combined)."""
    return [name for name in records.tracked_fields(model()) if name not in PAIRED
            and name != "custom_fields"]


def _clean_choices(model, choices, custom_keys: set[str]) -> dict[str, str]:
    if choices is None:
        return {}
    if not isinstance(choices, dict):
        raise ValidationFailed(fields={"fields": ["Send an object of field: survivor|other."]})
    allowed = set(choosable_fields(model)) | {f"custom_fields.{k}" for k in custom_keys}
    errors = {}
    for name, side in choices.items():
        if name not in allowed:
            errors[f"fields.{name}"] = ["Not a field you can choose for a merge."]
        elif side not in (SURVIVOR, OTHER):
            errors[f"fields.{name}"] = ["Choose survivor or other."]
    if errors:
        raise ValidationFailed(fields=errors)
    return choices


def _locked_pair(model, visible, actor, survivor_id: int, other_id: int):
    if survivor_id == other_id:
        raise ValidationFailed(fields={"other_id": ["Choose a different record to merge in."]})
    seen = set(visible(user=actor).filter(pk__in=[survivor_id, other_id]).values_list("pk", flat=True))
    if seen != {survivor_id, other_id}:
        raise NotFound()
    # Locked in id order, so two merges of the same pair cannot deadlock.
    locked = {r.pk: r for r in model.objects.select_for_update().filter(
        pk__in=[survivor_id, other_id]).order_by("pk")}
    return locked[survivor_id], locked[other_id]


@transaction.atomic
def merge_records(*, actor, object_type: str, survivor_id: int, other_id, choices=None):
    """Merge record `other_id` into `survivor_id`. Returns (survivor, MergeRecord)."""
    model, visible = MERGEABLE[object_type]
    try:
        other_id = int(other_id)
    except (TypeError, ValueError):
        other_id = 0
    if not 1 <= other_id < 2**63:
        raise ValidationFailed(fields={"other_id": ["Enter the id of the record to merge in."]})
    survivor, other = _locked_pair(model, visible, actor, survivor_id, other_id)
    choices = _clean_choices(model, choices, set(other.custom_fields) | set(survivor.custom_fields))
    before = snapshot(survivor, records.tracked_fields(survivor))
    other_tags = sorted(t.name for t in other.tags.all())

    for name in choosable_fields(model):
        field = model._meta.get_field(name)
        mine, theirs = getattr(survivor, field.attname), getattr(other, field.attname)
        side = choices.get(name) or (OTHER if mine in EMPTY and theirs not in EMPTY else SURVIVOR)
        if side == OTHER:
            setattr(survivor, field.attname, theirs)
    for list_name, primary in PAIRED.items():
        if hasattr(survivor, list_name):
            _combine(survivor, other, primary, list_name, before)
    survivor.custom_fields = _custom_fields(survivor, other, choices)

    moved = _move_related(model, other, survivor)
    records.trash_record(other, actor=actor)
    survivor = records.update_record(survivor, actor=actor, before=before,
                                     tags=sorted(set(before["tags"]) | set(other_tags), key=str.casefold))
    merge = MergeRecord.objects.create(
        object_type=object_type, survivor_id=survivor.pk, merged_id=other.pk, survivor_before=before,
        survivor_version=survivor.version, moved=moved,
        created_by=actor if getattr(actor, "pk", None) else None)
    duplicates.mark_merged(actor=actor, object_type=object_type, survivor_id=survivor.pk,
                           merged_id=other.pk)
    record_event(type=f"{object_type}.merged", obj=survivor, actor=actor, data={
        "merged_id": other.pk, "merge_id": merge.pk, "merged_name": str(other),
        "moved": {key: len(ids) for key, ids in moved.items()}})
    return survivor, merge


def _combine(survivor, other, primary: str, list_name: str, before: dict) -> None:
    """The chosen primary value, then every other value of both records, once each."""
    chosen = getattr(survivor, primary)
    everything = [before[primary], *before[list_name], getattr(other, primary), *getattr(other, list_name)]
    setattr(survivor, list_name, [v for v in dict.fromkeys(everything) if v and v != chosen])


def _custom_fields(survivor, other, choices: dict) -> dict:
    merged = {**other.custom_fields, **{k: v for k, v in survivor.custom_fields.items() if v not in EMPTY}}
    for key, value in other.custom_fields.items():
        if choices.get(f"custom_fields.{key}") == OTHER:
            merged[key] = value
    return merged


def _move_related(model, other, survivor) -> dict[str, list]:
    """Point every row of every model that refers to `other` at `survivor` instead."""
    moved = {}
    for relation in moved_relations(model):
        related = relation.related_model._base_manager
        field = relation.field
        ids = list(related.filter(**{field.name: other.pk}).values_list("pk", flat=True))
        if ids:
            related.filter(pk__in=ids).update(**{field.attname: survivor.pk})
            moved[f"{relation.related_model._meta.label}.{field.attname}"] = ids
    return moved


def moved_relations(model) -> list:
    """Every foreign key to `model` from another table, hidden ones (`related_name="+"`, a
    quote's contact) included: what a merge moves. Not the tables behind the model's own
    many-to-many fields (its tags), whose rows the merge joins itself. A relation of another
    kind (one-to-one, or another model's many-to-many, whose table allows a pair once)
    needs its own rule: it stops here, so that no merge leaves rows behind unnoticed."""
    own_tables = {f.remote_field.through for f in model._meta.local_many_to_many}
    relations = []
    for relation in model._meta.get_fields(include_hidden=True):
        if not relation.auto_created or relation.concrete or relation.related_model in own_tables:
            continue
        if not relation.one_to_many or relation.related_model._meta.auto_created:
            raise TypeError(f"Merging a {model.object_type} cannot yet move "
                            f"{relation.related_model._meta.label}.{relation.field.name} ("
                            f"{type(relation).__name__}): give that kind of relation its own "
                            "rule in rapport.contacts.merging.")
        relations.append(relation)
    return relations


@transaction.atomic
def merge_undo(*, actor, merge_id: int):
    """Put both records back as they were: the merged one out of the trash with its related
    rows, the survivor's fields and tags as before. Returns (survivor, restored)."""
    merge = MergeRecord.objects.select_for_update().filter(pk=merge_id).first()
    if merge is None:
        raise NotFound()
    model, visible = MERGEABLE[merge.object_type]
    if not visible(user=actor).filter(pk=merge.survivor_id).exists():
        raise NotFound()
    if merge.undone_at is not None:
        raise Conflict("This merge has already been undone.")
    other = visible(user=actor, trashed=True).select_for_update().filter(pk=merge.merged_id).first()
    if other is None:
        raise Conflict("The merged record is no longer in the trash, so the merge cannot be undone.")
    survivor = records.lock(model, merge.survivor_id)
    if survivor.version != merge.survivor_version:
        raise Conflict("The record was changed after the merge; undoing now would lose those "
                       "changes. Edit it by hand instead.")
    for key, ids in merge.moved.items():
        app_model, attname = key.rsplit(".", 1)
        apps.get_model(app_model)._base_manager.filter(pk__in=ids, **{attname: survivor.pk}).update(
            **{attname: other.pk})
    records.restore_record(other, actor=actor)
    now = snapshot(survivor, records.tracked_fields(survivor))
    for name, value in merge.survivor_before.items():
        if name != "tags":
            setattr(survivor, model._meta.get_field(name).attname, value)
    survivor = records.update_record(survivor, actor=actor, before=now,
                                     tags=merge.survivor_before.get("tags", []))
    merge.undone_at = timezone.now()
    merge.save(update_fields=["undone_at"])
    record_event(type=f"{merge.object_type}.merge_undone", obj=survivor, actor=actor,
                 data={"merged_id": other.pk, "merge_id": merge.pk})
    return survivor, other
