"""Running an import: the file streamed in batches, each batch planned, applied and
checkpointed in one transaction, so a run that dies resumes after its last committed row
without doubling one; and undoing it.

New records go through the bulk create path (records.create_rows: the same cleaning,
defaults, tags and events as a single create, from values rather than model instances);
their search documents are built after the rows, in a second checkpointed pass. Updates of
matched records go through each kind's update service one by one.
"""

import contextlib
import gc
import itertools
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from rapport.contacts import services as contact_services
from rapport.contacts.selectors import company_visible
from rapport.core import bulk, search
from rapport.core.errors import Conflict, NotFound, RapportError, ValidationFailed, VersionConflict
from rapport.core.normalise import email_domain
from rapport.transfer.kinds import kind_of
from rapport.transfer.models import (
    ChangeAction,
    ImportChange,
    ImportFailure,
    ImportJob,
    ImportStatus,
    OnMatch,
)
from rapport.transfer.pipeline import cleaned_batches
from rapport.transfer.plan import EMPTY, Action, RowPlan, Settings, match_batch
from rapport.transfer.readers import open_table

logger = logging.getLogger(__name__)

# Rows a transaction. Each commit writes every index page its rows touched, and the random
# ones (email, names) touch most of their pages whatever the count: at 200,000 rows, 5,000
# a batch halved the commits' share of a row (22 µs to 11) against 1,000. It is also the
# most rows a run that dies has to write again.
BATCH = 5000
# An import that updates the records it matches does so through each kind's update service,
# a row at a time (about 4 ms a row on SQLite): its batches stay small, so SQLite's write
# lock is never held for long (other writers wait at most the 20 s busy timeout).
UPDATE_BATCH = 1000
INDEX_BATCH = 2000  # new records made searchable a transaction


# The planner's statistics of the table an import fills are refreshed when it has grown
# this much and then four times over: matching queries on a table the planner still thought
# empty scanned it whole, every batch (an import of 100,000 rows slowed to 334 rows/s).
ANALYZE_FIRST = 5_000


def _analyze(model) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


class LostClaim(Exception):
    """Another run took this import over; this one stops without committing its batch."""


def settings_for(job: ImportJob) -> Settings:
    return Settings(kind=kind_of(job.object_type), actor=job.created_by, headers=job.headers,
                    mapping=job.mapping, match_on=job.match_on, on_match=job.on_match, job_id=job.pk)


def run(job_id: int, *, batch_size: int | None = None,
        progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Run (or resume) an import to its end. Safe to call again after a crash."""
    job = _claim(job_id)
    if job is None:
        return ImportJob.objects.get(pk=job_id)
    batch_size = batch_size or (BATCH if job.on_match == OnMatch.SKIP else UPDATE_BATCH)
    try:
        if job.total_rows is None:
            job.total_rows = open_table(job.file.path, filename=job.file_name).count()
            ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
        settings = settings_for(job)
        analysed_at = job.created_count
        with _old_objects_frozen():
            with _checkpoints_spaced(), contextlib.closing(cleaned_batches(
                    settings, job.file.path, filename=job.file_name, after_row=job.last_row,
                    batch_size=batch_size, rows_left=job.total_rows - job.rows_done)) as batches:
                for plans in batches:
                    _run_batch(job, settings, plans)
                    if job.created_count >= max(ANALYZE_FIRST, 4 * analysed_at):
                        _analyze(settings.kind.model)
                        analysed_at = job.created_count
                    if progress:
                        progress(job)
            if progress:
                progress(job)  # every row stored and on disk
            _index_created(job, progress)
    except LostClaim:
        return ImportJob.objects.get(pk=job_id)
    except Exception as exc:
        _index_after_failure(job)
        ImportJob.objects.filter(pk=job.pk, claim=job.claim).update(
            status=ImportStatus.FAILED, error=f"The import stopped: {exc}"[:2000],
            finished_at=timezone.now(), claim="")
        raise
    ImportJob.objects.filter(pk=job.pk, claim=job.claim).update(
        status=ImportStatus.DONE, finished_at=timezone.now(), claim="")
    job.refresh_from_db()
    return job


# SQLite's write-ahead log is copied into the database when it reaches this many pages
# during an import, and otherwise (SQLite's default, which the settings keep).
IMPORT_WAL_PAGES = 10_000
SQLITE_WAL_PAGES = 1_000


@contextlib.contextmanager
def _checkpoints_spaced():
    """SQLite copies its write-ahead log into the database file whenever the log passes
    1,000 pages (4 MB). An import's batches write the same index pages again and again, so
    copying ten times less often copies each of them once where it was ten times: 6 µs a
    row less. At the end the whole log is copied, as a single bulk insert's would be.
    (Not inside an outer transaction, a dry run's: the log cannot be copied there.)"""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA wal_autocheckpoint={IMPORT_WAL_PAGES}")
    try:
        yield
    finally:
        # A connection too broken for these is closed, and a new one starts at 1,000.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES}")
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


_frozen = {"runs": 0}
_frozen_lock = threading.Lock()


@contextlib.contextmanager
def _old_objects_frozen():
    """Python's cyclic garbage collector, triggered by a batch's many new dicts and lists,
    walks every object in the process each full collection: the hundreds of thousands Django
    and the app hold. That made reading a cleaned batch five times slower (24 µs a row, not
    5). The objects there before the first of the process's running imports are set aside
    until the last one ends; new ones are still collected. (The cleaning process, forked
    inside, inherits this.)"""
    with _frozen_lock:
        _frozen["runs"] += 1
        if _frozen["runs"] == 1:
            gc.collect()
            gc.freeze()
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen["runs"] -= 1
            if _frozen["runs"] == 0:
                gc.unfreeze()


def _claim(job_id: int) -> ImportJob | None:
    """Take the import for this run: a queued one, or a running one whose run died (a new
    claim makes the old run's next checkpoint fail, so two runs never both commit)."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in {ImportStatus.QUEUED, ImportStatus.RUNNING}:
            return None
        job.claim = secrets.token_hex(8)
        job.status = ImportStatus.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.run_started_at, job.run_started_rows = timezone.now(), job.rows_done
        job.save(update_fields=["claim", "status", "started_at", "run_started_at", "run_started_rows"])
    return job


def _run_batch(job: ImportJob, settings: Settings, plans: list[RowPlan]) -> None:
    with transaction.atomic():
        counts = apply(settings, job, match_batch(settings, plans))
        done = ImportJob.objects.filter(pk=job.pk, claim=job.claim, last_row=job.last_row).update(
            last_row=plans[-1].number, rows_done=F("rows_done") + len(plans),
            created_count=F("created_count") + counts[Action.CREATE],
            updated_count=F("updated_count") + counts[Action.UPDATE],
            merged_count=F("merged_count") + counts[Action.MERGE],
            skipped_count=F("skipped_count") + counts[Action.SKIP],
            failed_count=F("failed_count") + counts[Action.FAIL])
        if not done:
            raise LostClaim()
    job.last_row = plans[-1].number
    job.rows_done += len(plans)
    job.created_count += counts[Action.CREATE]
    job.updated_count += counts[Action.UPDATE]
    job.merged_count += counts[Action.MERGE]
    job.skipped_count += counts[Action.SKIP]
    job.failed_count += counts[Action.FAIL]


def _index_created(job: ImportJob, progress) -> None:
    """Search documents for what the import created, after its rows (indexing costs more
    than storing a row, so the rows go in first). About INDEX_BATCH records a transaction,
    checkpointed like the rows: a resumed run goes on after the last committed one."""
    runs = ImportChange.objects.filter(job=job, action=ChangeAction.CREATED).order_by("pk")
    while page := list(runs.filter(pk__gt=job.indexed_through)[:100]):
        chunk, count = [], 0
        for run in page:
            chunk.append(run)
            count += len(run.object_ids)
            if count >= INDEX_BATCH:
                break
        with transaction.atomic():
            for run in chunk:
                search.index_new(kind_of(run.object_type).model, list(run.object_ids))
            if not ImportJob.objects.filter(pk=job.pk, claim=job.claim).update(
                    indexed_through=chunk[-1].pk, indexed_count=F("indexed_count") + count):
                raise LostClaim()
        job.indexed_through = chunk[-1].pk
        job.indexed_count += count
        if progress:
            progress(job)


def _index_after_failure(job: ImportJob) -> None:
    """A failed import is not run again, but what it stored stays: it must be findable too."""
    try:
        _index_created(job, None)
    except Exception:
        logger.exception("Building the search documents of failed import %s's records failed",
                         job.pk)


def apply(settings: Settings, job: ImportJob | None, plans: list[RowPlan]) -> Counter:
    """Write what the plans say; returns how many rows took each action. (A new record's
    values are as cleaned, but for its company: the head of its created event was worked
    out with them.)"""
    if settings.kind.object_type == "contact":
        _link_companies(settings, job, [p for p in plans if p.company and p.action in {
            Action.CREATE, Action.UPDATE, Action.MERGE}])
    creates = [p for p in plans if p.action == Action.CREATE]
    ids = settings.kind.create_many(settings.actor, [p.data for p in creates], [p.tags for p in creates],
                                    [p.event_head for p in creates]) if creates else []
    changes = _created(job, settings.kind.object_type, ids)
    for plan in plans:
        if plan.action in {Action.UPDATE, Action.MERGE} and plan.merge_into is None:
            change = _update(settings, job, plan)
            if change is not None:
                changes.append(change)
    if job is not None:
        bulk.insert_values(ImportChange, changes)
        ImportFailure.objects.bulk_create(
            [ImportFailure(job=job, row_number=p.number, values=p.values, problems=p.problems)
             for p in plans if p.action == Action.FAIL], ignore_conflicts=True)
    return Counter(p.action for p in plans)


def _link_companies(settings: Settings, job, plans: list[RowPlan]) -> None:
    """Each row's company name -> a visible company with that name (any case), created when
    there is none; an import that creates one remembers it, so undo removes it too. Names
    seen in earlier batches are not looked up again."""
    found = settings.companies
    named = {p.company.casefold(): p.company for p in plans}
    _forget_gone_companies(settings, named.keys())
    names = {folded: name for folded, name in named.items() if folded not in found}
    if names:
        # The database's lower() is not Python's casefold (SQLite's folds only ASCII, neither
        # turns ß into ss): it finds the candidates, by any of the rows' spellings lower-cased
        # or as written, and Python folds them as it folded the rows.
        spellings = {p.company for p in plans if p.company.casefold() in names}
        for company_id, name in company_visible(user=settings.actor).annotate(
                lower=Lower("name")).filter(
                Q(lower__in=sorted({s.lower() for s in spellings})) | Q(name__in=sorted(spellings))
        ).order_by("pk").values_list("pk", "name"):
            found.setdefault(name.casefold(), company_id)
    missing = [(folded, name) for folded, name in names.items() if folded not in found]
    if missing:
        domains = _domains_from_emails(plans)
        ids = contact_services.companies_create_named(
            actor=settings.actor, names=[name for _, name in missing],
            domains=[domains.get(folded, "") for folded, _ in missing])
        found.update(zip([folded for folded, _ in missing], ids, strict=True))
        if job is not None:
            bulk.insert_values(ImportChange, _created(job, "company", ids))
    for plan in plans:
        plan.data["company_id"] = found[plan.company.casefold()]


def _domains_from_emails(plans: list[RowPlan]) -> dict[str, str]:
    """Folded company name -> the business domain (not a free-mail one) of more than half of
    its rows' business emails, if one is: a new company's domain, as a lead's conversion
    takes it. One person at another company's address does not give it theirs."""
    seen: dict[str, Counter] = {}
    for plan in plans:
        domain = email_domain(plan.data.get("email") or "")
        if domain:
            seen.setdefault(plan.company.casefold(), Counter())[domain] += 1
    domains = {}
    for folded, counts in seen.items():
        domain, rows = counts.most_common(1)[0]
        if 2 * rows > counts.total():
            domains[folded] = domain
    return domains


def _forget_gone_companies(settings: Settings, folded_names) -> None:
    """A company remembered from an earlier batch that has since been trashed (or hidden
    from the importing user) is looked up again: one query a batch."""
    remembered = {settings.companies[n]: n for n in folded_names if n in settings.companies}
    if remembered:
        live = set(company_visible(user=settings.actor).filter(pk__in=list(remembered))
                   .values_list("pk", flat=True))
        for company_id in remembered.keys() - live:
            del settings.companies[remembered[company_id]]


def _created(job, object_type: str, ids: list[int]) -> list[dict]:
    """Undo's records of new ids: one per run of consecutive ids."""
    runs = []
    for pk in sorted(ids):
        if runs and runs[-1]["last_object_id"] == pk - 1:
            runs[-1]["last_object_id"] = pk
        else:
            runs.append({"job_id": getattr(job, "pk", None), "object_type": object_type,
                         "object_id": pk, "last_object_id": pk, "action": ChangeAction.CREATED})
    return runs


def _update(settings: Settings, job, plan: RowPlan) -> dict | None:
    """A matched record takes the row's values, as the duplicate policy says, through the
    kind's update service; returns what undo needs to put it back."""
    record = plan.record
    fill_only = plan.action == Action.MERGE or settings.on_match == OnMatch.FILL
    data, before = _changed_fields(settings.kind, record, plan, fill_only)
    if not data:
        if plan.action == Action.UPDATE:
            plan.action, plan.note = Action.SKIP, "Nothing new for the record in this row."
        return None
    try:
        updated = settings.kind.update(settings.actor, record.pk, data)
    except (ValidationFailed, Conflict, NotFound, VersionConflict) as exc:
        plan.action = Action.FAIL
        plan.problems.append({"column": "", "value": "", "reason": _reason(exc)})
        return None
    if plan.action == Action.MERGE:
        return None
    return {"job_id": getattr(job, "pk", None), "object_type": settings.kind.object_type,
            "object_id": record.pk, "action": ChangeAction.UPDATED, "before": before,
            "version": updated.version}


def _reason(exc: RapportError) -> str:
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in getattr(exc, "fields", {}).items())
    return f"{exc.message} {details}".strip()


def _changed_fields(kind, record, plan: RowPlan, fill_only: bool) -> tuple[dict, dict]:
    """The row's values the record takes: every value (overwrite) or only where the record
    has none (fill). Emails, phones and tags are never dropped: a replaced primary email or
    phone moves to the further ones, and tags are added."""
    data, before = {}, {}
    paired = {name.removesuffix("s") for name in kind.list_fields}
    for primary_name in paired:
        if primary_name not in plan.data and f"{primary_name}s" not in plan.data:
            continue
        primary, further = getattr(record, primary_name), getattr(record, f"{primary_name}s")
        incoming = [v for v in [plan.data.get(primary_name), *plan.data.get(f"{primary_name}s", [])] if v]
        new_primary = primary
        if incoming and incoming[0] != primary and (not primary or not fill_only):
            new_primary = incoming[0]
        merged = [v for v in dict.fromkeys([*further, primary, *incoming]) if v and v != new_primary]
        if new_primary != primary:
            data[primary_name], before[primary_name] = new_primary, primary
        if merged != further:
            data[f"{primary_name}s"], before[f"{primary_name}s"] = merged, further
    for name, value in plan.data.items():
        if name in paired or name in kind.list_fields:
            continue
        current = getattr(record, name, None)
        if name == "custom_fields":
            current = current or {}
            wanted = {k: v for k, v in value.items()
                      if current.get(k) != v and (not fill_only or current.get(k) in EMPTY)}
            if wanted:
                data[name], before[name] = wanted, {k: current.get(k) for k in wanted}
        elif value not in EMPTY and value != current and (not fill_only or current in EMPTY):
            data[name], before[name] = value, current
    current_tags = sorted(t.name for t in record.tags.all())
    if plan.tags and not {t.casefold() for t in plan.tags} <= {t.casefold() for t in current_tags}:
        data["tags"], before["tags"] = [*current_tags, *plan.tags], current_tags
    return data, before


# Undo -----------------------------------------------------------------------------------

def undo(job_id: int) -> ImportJob:
    """Trash what the import created and put back what it updated, unless changed since."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportStatus.UNDOING:
        return job
    actor, notes = job.created_by, []
    kept = 0
    created = ImportChange.objects.filter(job=job, action=ChangeAction.CREATED)
    # The import's own kind first, then what it made beside it (a contact import's companies).
    made = set(created.values_list("object_type", flat=True).distinct())
    for object_type in sorted(made, key=lambda t: (t != job.object_type, t)):
        ids = (pk for run in created.filter(object_type=object_type).order_by("pk").iterator()
               for pk in run.object_ids)
        while chunk := list(itertools.islice(ids, contact_services.MAX_BULK)):
            kind_of(object_type).delete_many(actor, chunk)
    kind = kind_of(job.object_type)
    for change in ImportChange.objects.filter(job=job, action=ChangeAction.UPDATED).iterator():
        current = kind.model.objects.filter(pk=change.object_id).values_list("version", flat=True).first()
        if current != change.version:
            kept += 1
            continue
        try:
            with transaction.atomic():
                kind.update(actor, change.object_id, dict(change.before))
        except (ValidationFailed, Conflict, NotFound, VersionConflict):
            kept += 1
    if kept:
        notes.append(f"{kept:,} updated record{'s were' if kept != 1 else ' was'} changed after "
                     "the import and kept as they are now.")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.UNDONE, undone_at=timezone.now(),
                                               undo_note=" ".join(notes))
    job.refresh_from_db()
    return job


def indexing(job: ImportJob) -> bool:
    """Every row is stored; the new records' search documents are being built."""
    return job.status == ImportStatus.RUNNING and job.total_rows is not None \
        and job.rows_done >= job.total_rows


def rows_per_second(job: ImportJob) -> float | None:
    if job.status != ImportStatus.RUNNING or job.run_started_at is None or indexing(job):
        return None
    elapsed = (timezone.now() - job.run_started_at).total_seconds()
    done = job.rows_done - job.run_started_rows
    return done / elapsed if elapsed > 0 and done else None


def seconds_left(job: ImportJob) -> float | None:
    rate = rows_per_second(job)
    if not rate or job.total_rows is None:
        return None
    return max(job.total_rows - job.rows_done, 0) / rate
