"""What an import will do with each row: its cleaned values, the record it matches, and every
problem named by column. The preview shows plans; the run applies them (rapport.transfer.engine).

A batch of rows is planned together so that matching costs one query per key, not per row.
"""

import re
from dataclasses import dataclass, field, fields

from django.db.models import Q

from rapport.accounts.models import User
from rapport.contacts.services import clean_record
from rapport.core import bulk, records
from rapport.core.customfields import definitions_for
from rapport.core.errors import ValidationFailed
from rapport.sales.choices import LeadSource, LeadStatus
from rapport.transfer.cells import restored
from rapport.transfer.kinds import MATCH_LABELS, Kind
from rapport.transfer.mapping import (
    company_size_of,
    lead_source_of,
    lead_status_of,
    lifecycle_stage_of,
)
from rapport.transfer.models import ChangeAction, ImportChange, OnMatch

EMPTY = ("", None, [], {})
# Targets whose cell is the create service's input as it is.
_PLAIN = frozenset({"first_name", "last_name", "title", "city", "street", "region", "postal_code",
                    "country", "website", "external_id", "linkedin_url", "twitter_url", "name",
                    "domain", "industry", "description"})
_SPLIT_LIST = re.compile(r"\s*(?:;|\n|:::)\s*")
_SPLIT_TAGS = re.compile(r"\s*(?:,|;|\n|:::)\s*")
# Google Contacts puts every contact in these groups; they are not the user's labels.
_SYSTEM_LABELS = {"mycontacts", "starred", "other contacts"}


class Action:
    CREATE = "create"
    UPDATE = "update"
    MERGE = "merge"      # into a record this import created from an earlier row
    SKIP = "skip"
    FAIL = "fail"


@dataclass
class RowPlan:
    number: int
    values: list[str]
    action: str = Action.CREATE
    data: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    company: str = ""
    record: object = None           # the existing record matched; a new one is `data`
    merge_into: "RowPlan | None" = None
    problems: list[dict] = field(default_factory=list)
    note: str = ""
    # The head of a new record's created event, worked out with its values (where the kind
    # takes it ahead): the cleaning process has the time, the writer has not.
    event_head: str | None = None

    def fail(self, column: str, value: str, reason: str) -> None:
        self.problems.append({"column": column, "value": value, "reason": reason})
        self.action = Action.FAIL

    def __reduce__(self):
        # Pickled as its fields in order (the cleaning process sends thousands a second):
        # a quarter faster to read back than a dataclass's state dict.
        return RowPlan, tuple(getattr(self, name) for name in _ROW_PLAN_FIELDS)


_ROW_PLAN_FIELDS = tuple(f.name for f in fields(RowPlan))


@dataclass
class Settings:
    """Everything a batch needs that does not change between batches, built once per run."""

    kind: Kind
    actor: object
    headers: list[str]
    mapping: dict[str, str]
    match_on: list[str]
    on_match: str
    job_id: int | None
    cleaners: dict = field(init=False)
    cells: list = field(init=False)     # (position, header, target) of each mapped column
    definitions: list = field(init=False)
    owners: dict = field(init=False)
    actor_id: int | None = field(init=False)
    columns: dict = field(init=False)   # target -> the header(s) mapped to it, for messages
    # A contact import's companies found or created so far: folded name -> id.
    companies: dict = field(init=False, default_factory=dict)

    def __post_init__(self):
        self.actor_id = getattr(self.actor, "pk", None)
        cleaners = self.kind.cleaners(self.actor)
        # Owner and company are resolved per batch (by email and by name), not per row by id.
        self.cleaners = {k: v for k, v in cleaners.items() if k not in {"owner_id", "company_id"}}
        self.definitions = definitions_for(self.kind.object_type)
        self.owners = _owner_lookup()
        self.cells = [(index, header, self.mapping[header])
                      for index, header in enumerate(self.headers) if self.mapping.get(header)]
        self.columns = {}
        for header, target in self.mapping.items():
            if target:
                self.columns.setdefault(target, []).append(header)

    def column_for(self, field_name: str) -> str:
        target = f"custom:{field_name.split('.', 1)[1]}" if field_name.startswith("custom_fields.") \
            else field_name
        if target in {"first_name", "last_name"} and target not in self.columns:
            target = "full_name"
        return ", ".join(self.columns.get(target, [])) or field_name


def _owner_lookup() -> dict[str, int]:
    owners = {}
    for pk, email, name in User.objects.filter(is_active=True).values_list("pk", "email", "full_name"):
        owners[email.casefold()] = pk
        if name:
            owners.setdefault(name.casefold(), pk)
    return owners


def split_full_name(value: str) -> tuple[str, str]:
    """"Ada Lovelace" and "Lovelace, Ada" alike -> ("Ada", "Lovelace")."""
    if "," in value:
        last, _, first = value.partition(",")
        return first.strip(), last.strip()
    first, _, last = value.strip().partition(" ")
    return first, last.strip()


def row_data(settings: Settings, plan: RowPlan) -> None:
    """The row's cells as the create service's input (plus company and owner), on `plan`."""
    data: dict = {}
    custom: dict = {}
    lists: dict[str, list[str]] = {"emails": [], "phones": [], "tags": []}
    values = plan.values
    for index, header, target in settings.cells:
        if index >= len(values):
            break
        value = restored(values[index].strip())
        if not value:
            continue
        if target in _PLAIN:
            data[target] = value
        elif target in {"email", "phone"}:
            first, *more = _listed(value) or [""]
            data[target] = first
            lists[f"{target}s"].extend(more)
        elif target in {"emails", "phones"}:
            lists[target].extend(_listed(value))
        elif target == "tags":
            lists["tags"].extend(t.lstrip("* ") for t in _SPLIT_TAGS.split(value)
                                 if t and t.lstrip("* ").casefold() not in _SYSTEM_LABELS)
        elif target == "full_name":
            first, last = split_full_name(value)
            data.setdefault("first_name", first)
            data.setdefault("last_name", last)
        elif target in _CHOICE_CELLS:
            read, problem = _CHOICE_CELLS[target]
            choice = read(value)
            if choice is None:
                plan.fail(header, value, problem())
            else:
                data[target] = choice
        elif target == "owner":
            owner = settings.owners.get(value.casefold())
            if owner is None:
                plan.fail(header, value, "No active user has this email or name.")
            else:
                data["owner_id"] = owner
        elif target == "company":
            plan.company = " ".join(value.split())[:200]
        elif target.startswith("custom:"):
            custom[target.removeprefix("custom:")] = value
        else:
            data[target] = value
    for name in ("emails", "phones"):
        if lists[name]:
            data[name] = lists[name]
    if lists["tags"]:
        data["tags"] = lists["tags"]
    if custom:
        data["custom_fields"] = custom
    plan.data = data


def _listed(value: str) -> list[str]:
    """A cell's several values ("a@x.com; b@y.com"); most cells hold one, without a split."""
    if ";" in value or "\n" in value or ":::" in value:
        return [v for v in _SPLIT_LIST.split(value) if v]
    return [value]


def _labels(choices) -> str:
    return ", ".join(str(label) for label in choices.labels)


# Cells read as one of our choices (other CRMs' words too): target -> (reader, its problem).
_CHOICE_CELLS = {
    "lifecycle_stage": (lifecycle_stage_of, lambda: "Unknown lifecycle stage."),
    "size": (company_size_of, lambda: "Enter a company size such as 11-50, or a head count."),
    "status": (lead_status_of,
               lambda: f"Unknown lead status; use one of: {_labels(LeadStatus)}."),
    "source": (lead_source_of,
               lambda: f"Unknown lead source; use one of: {_labels(LeadSource)}."),
}
_CHOICE_CELLS["company_size"] = _CHOICE_CELLS["size"]


def clean_row(settings: Settings, plan: RowPlan) -> None:
    """Cleaned through the create service's own cleaners; a failure names the column."""
    owner_id = plan.data.pop("owner_id", None)
    try:
        values, tags = clean_record(settings.cleaners, plan.data, settings.kind.object_type,
                                    definitions=settings.definitions)
        if owner_id is not None:
            values["owner_id"] = owner_id
        values = settings.kind.new_values(values)
    except ValidationFailed as exc:
        for name, messages in exc.fields.items():
            raw = plan.data.get(name, (plan.data.get("custom_fields") or {}).get(
                name.removeprefix("custom_fields."), ""))
            plan.fail(settings.column_for(name), shown(raw), " ".join(messages))
        return
    plan.data = values
    plan.tags = tags or []
    if settings.kind.event_heads_ahead:
        owner_id = values.get("owner_id")
        plan.event_head = records.created_event_head(
            settings.kind.model, values, owner_id=settings.actor_id if owner_id is None else owner_id)


def shown(value) -> str:
    """A value as a problem report shows it."""
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def keys_of(settings: Settings, plan: RowPlan, key: str) -> list[str]:
    """The row's values of a duplicate key (an email: its primary and further emails)."""
    values = []
    for source in settings.kind.key_sources[key]:
        value = plan.data.get(source, "")
        values.extend(v for v in (value if isinstance(value, list) else [value]) if v)
    return values


def clean_batch(settings: Settings, source_rows) -> list[RowPlan]:
    """Plans for a batch of SourceRows, cleaned but not yet matched. Reads no database, so
    it may run in a process of its own beside the writer (rapport.transfer.pipeline)."""
    plans = []
    for row in source_rows:
        plan = RowPlan(number=row.number, values=row.values)
        if row.problem:
            plan.fail("", "", row.problem)
        else:
            row_data(settings, plan)
            if plan.action != Action.FAIL:
                clean_row(settings, plan)
        plans.append(plan)
    return plans


def match_batch(settings: Settings, plans: list[RowPlan]) -> list[RowPlan]:
    """Cleaned plans matched against the database and against earlier rows of the batch;
    a row repeating an earlier one is folded into it."""
    _match(settings, [p for p in plans if p.action != Action.FAIL])
    return plans


def plan_batch(settings: Settings, source_rows) -> list[RowPlan]:
    """What the import will do with each of a batch of SourceRows (the preview shows it)."""
    return match_batch(settings, clean_batch(settings, source_rows))


def _match(settings: Settings, plans: list[RowPlan]) -> None:
    kind = settings.kind
    pending: dict = {}  # (key, folded value) -> the plan creating it
    keys = list(settings.match_on)
    if kind.unique_key and kind.unique_key not in keys:
        keys.append(kind.unique_key)
    # Each plan's values of each key (folded as they are compared), and all of them.
    folded, wanted = [], {key: set() for key in keys}
    for plan in plans:
        mine = {}
        for key in keys:
            values = keys_of(settings, plan, key)
            wanted[key].update(values)
            mine[key] = [_fold(key, v) for v in values]
        folded.append(mine)
    existing = {key: _existing(settings, key, values) for key, values in wanted.items() if values}
    created_here = _created_by_this_import(settings, existing)
    for plan, values in zip(plans, folded, strict=True):
        for key in keys:
            hit = _first_hit(key, values[key], pending, existing)
            if hit is None:
                continue
            if key in settings.match_on or isinstance(hit, RowPlan):
                _apply_hit(settings, plan, hit, key, created_here)
            else:
                # Not a key the user matches on, but creating would still duplicate it.
                which = f" (#{hit.pk})" if hit != "hidden" else ""
                plan.fail(settings.column_for(key), ", ".join(keys_of(settings, plan, key)),
                          f"A {kind.object_type} with this {MATCH_LABELS[key]} exists{which}; "
                          f"match on {MATCH_LABELS[key]} to update it.")
            break
        if plan.action == Action.CREATE:
            for key in keys:
                for value in values[key]:
                    pending.setdefault((key, value), plan)
    for plan in plans:
        if plan.action == Action.MERGE and plan.merge_into is not None:
            _fold_into(settings, plan.merge_into, plan)


def _fold(key: str, value: str) -> str:
    return value.casefold() if key in {"external_id", "domain", "email"} else value


def _first_hit(key: str, values: list[str], pending: dict, existing: dict):
    found = existing.get(key, {})
    for value in values:
        hit = pending.get((key, value)) or found.get(value)
        if hit is not None:
            return hit
    return None


def _apply_hit(settings: Settings, plan: RowPlan, hit, key: str, created_here: set) -> None:
    label = MATCH_LABELS[key]
    if isinstance(hit, RowPlan):
        target = hit.merge_into or hit
        plan.action, plan.merge_into = Action.MERGE, target
        plan.note = f"Same {label} as row {target.number}: merged into it."
        return
    if hit == "hidden":
        plan.fail(settings.column_for(key), ", ".join(keys_of(settings, plan, key)),
                  f"A {settings.kind.object_type} you cannot see has this {label}.")
        return
    plan.record, plan.note = hit, f"Matches {hit} (#{hit.pk}) on {label}."
    if hit.pk in created_here:
        plan.action = Action.MERGE
        plan.note = f"Same {label} as a row earlier in the file: merged into #{hit.pk}."
    elif settings.on_match == OnMatch.SKIP:
        plan.action = Action.SKIP
    else:
        plan.action = Action.UPDATE


def _fold_into(settings: Settings, target: RowPlan, plan: RowPlan) -> None:
    """A later row of the same record fills what the first one left empty, and adds its
    further emails, phones and tags (a different primary one among them). If what the two
    make together is not a valid record (a new lead with a disqualification reason), the
    later row fails, as it would against the record in a later batch."""
    record = dict(target.data)
    paired = {name.removesuffix("s") for name in settings.kind.list_fields}
    # A field the first row left out holds its default, as a later batch's row would find.
    defaults = bulk.new_row_defaults(settings.kind.model)
    for name in paired:
        incoming = [plan.data.get(name), *plan.data.get(f"{name}s", [])]
        primary = record.get(name) or next((v for v in incoming if v), "")
        further = [v for v in [*record.get(f"{name}s", []), *incoming] if v and v != primary]
        record[name], record[f"{name}s"] = primary, list(dict.fromkeys(further))
    for name, value in plan.data.items():
        current = record.get(name, defaults.get(name))
        if name in paired or name in settings.kind.list_fields:
            continue
        if name == "custom_fields":
            record["custom_fields"] = {**value, **(current or {})}
        elif current in EMPTY and value not in EMPTY:
            record[name] = value
    try:
        target.data, target.event_head = settings.kind.new_values(record), None
    except ValidationFailed as exc:
        for name, messages in exc.fields.items():
            plan.fail(settings.column_for(name), shown(plan.data.get(name)),
                      f"Together with row {target.number} (the same record): {' '.join(messages)}")
        plan.note, plan.merge_into = "", None  # not merged after all
        return
    target.tags = list(dict.fromkeys([*target.tags, *plan.tags]))
    target.company = target.company or plan.company


def _existing(settings: Settings, key: str, values: set[str]) -> dict:
    """key value -> the visible record holding it (the oldest, if several do), or "hidden"
    when only records the user may not see hold it. One query over the key's index, and
    the visibility of the few records found after it."""
    column = settings.kind.match_fields[key]
    holders: dict[str, list[int]] = {}
    # No ORDER BY: with one, PostgreSQL walked the primary key instead of the key's index.
    for pk, value in settings.kind.model.objects.filter(**{f"{column}__one_of": sorted(values)}) \
            .values_list("pk", column):
        holders.setdefault(_fold(key, value), []).append(pk)
    if not holders:
        return {}
    visible = {record.pk: record for record in settings.kind.visible(settings.actor).filter(
        pk__in=[pk for pks in holders.values() for pk in pks])}
    found = {}
    for folded, pks in holders.items():
        seen = [pk for pk in sorted(pks) if pk in visible]
        found[folded] = visible[seen[0]] if seen else "hidden"
    return found


def _created_by_this_import(settings: Settings, existing: dict) -> set[int]:
    """Which of the records found were created by this import, from earlier rows."""
    if settings.job_id is None:
        return set()
    ids = {r.pk for found in existing.values() for r in found.values() if r != "hidden"}
    if not ids:
        return set()
    runs = ImportChange.objects.filter(
        job_id=settings.job_id, object_type=settings.kind.object_type, action=ChangeAction.CREATED,
        object_id__lte=max(ids)).filter(
        Q(last_object_id__gte=min(ids)) | Q(last_object_id=None, object_id__gte=min(ids)))
    return {pk for run in runs for pk in ids if pk in run.object_ids}
