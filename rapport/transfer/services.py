"""Every write of imports: upload, choosing columns, starting, undoing, saved mappings.

Anyone who may create contacts (companies, leads) may import them. An import acts as the user who uploaded
it: it matches only records that user can see, and its rows go through the same cleaning
as a record typed into the form.
"""

from pathlib import PurePath

from django.conf import settings
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone

from rapport.core.cleaning import clean_fields, text
from rapport.core.customfields import definitions_for
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.permissions import is_admin
from rapport.transfer.kinds import KINDS, kind_of
from rapport.transfer.mapping import suggest, validate_mapping
from rapport.transfer.models import (
    EXPORTED,
    ExportFormat,
    ExportJob,
    ImportJob,
    ImportStatus,
    OnMatch,
    SavedMapping,
)
from rapport.transfer.readers import UnreadableFile, open_table
from rapport.transfer.selectors import list_for_export

# .xls is let through to the reader, which explains how to save it as .xlsx (or reads it when
# it is really tab-separated text, as some exporters write).
ALLOWED_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xls", ".vcf", ".vcard"}


def custom_field_choices(object_type: str) -> list[tuple[str, str]]:
    return [(d.key, d.label) for d in definitions_for(object_type)]


def _object_type(value, choices=KINDS) -> str:
    if value not in choices:
        raise ValidationFailed(fields={"object_type": [f"Choose one of: {', '.join(choices)}."]})
    return value


@transaction.atomic
def import_create(*, actor, upload, object_type: str) -> ImportJob:
    """Store the uploaded file and read its header; the columns are suggested, not yet chosen."""
    object_type = _object_type(object_type)
    if upload is None:
        raise ValidationFailed(fields={"file": ["Choose a file to import."]})
    name = PurePath(upload.name or "upload").name[:255]
    if PurePath(name).suffix.lower() not in ALLOWED_SUFFIXES:
        raise ValidationFailed(fields={"file": [
            "Import a CSV, Excel (.xlsx) or vCard (.vcf) file."]})
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise ValidationFailed(fields={"file": [
            f"The file is {upload.size / 1048576:,.0f} MB; the limit is "
            f"{settings.IMPORT_MAX_BYTES // 1048576:,} MB (RAPPORT_IMPORT_MAX_MB)."]})
    job = ImportJob(object_type=object_type, file_name=name, file_size=upload.size, created_by=actor)
    job.file.save(name, upload, save=False)
    try:
        table = open_table(job.file.path, filename=name)
    except UnreadableFile as exc:
        job.file.delete(save=False)
        raise ValidationFailed(fields={"file": [str(exc)]}) from None
    job.format, job.encoding, job.delimiter = table.format, table.encoding or "", table.delimiter or ""
    job.headers = table.headers
    job.mapping = suggest(table.headers, object_type, custom_field_choices(object_type))
    job.match_on = list(kind_of(object_type).default_match_on)
    job.save()
    return job


def _draft(actor, job_id) -> ImportJob:
    job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or not can_see(actor, job):
        raise NotFound()
    return job


def can_see(user, job: ImportJob) -> bool:
    return job.created_by_id == user.pk or is_admin(user)


def _match_on(object_type: str, value) -> list[str]:
    allowed = list(kind_of(object_type).match_fields)
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, list) or any(v not in allowed for v in value):
        raise ValueError(f"Choose any of: {', '.join(allowed)}.")
    return [v for v in allowed if v in value]


def _on_match(value) -> str:
    if value not in OnMatch.values:
        raise ValueError(f"Choose one of: {', '.join(OnMatch.values)}.")
    return value


@transaction.atomic
def import_configure(*, actor, job_id: int, mapping, match_on, on_match: str,
                     save_as: str = "") -> ImportJob:
    """The columns to import and what to do with rows that match existing records."""
    job = _draft(actor, job_id)
    if job.status != ImportStatus.DRAFT:
        raise Conflict("This import has started; its columns can no longer change.")
    choices = custom_field_choices(job.object_type)
    errors = {}
    try:
        job.mapping = validate_mapping(mapping, job.headers, job.object_type, choices)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    try:
        policy = clean_fields({"match_on": lambda v: _match_on(job.object_type, v),
                               "on_match": _on_match, "save_as": text(120)},
                              {"match_on": match_on, "on_match": on_match, "save_as": save_as})
    except ValidationFailed as exc:
        errors.update(exc.fields)
        policy = {}
    if errors:
        raise ValidationFailed(fields=errors)
    job.match_on, job.on_match = policy["match_on"], policy["on_match"]
    job.save(update_fields=["mapping", "match_on", "on_match"])
    if policy["save_as"]:
        mapping_save(actor=actor, name=policy["save_as"], object_type=job.object_type,
                     mapping=job.mapping, match_on=job.match_on, on_match=job.on_match)
    return job


@transaction.atomic
def import_start(*, actor, job_id: int, in_background: bool = True) -> ImportJob:
    """Queue the import for a worker (or, from the terminal, for the caller to run)."""
    job = _draft(actor, job_id)
    if job.status != ImportStatus.DRAFT:
        raise Conflict("This import has already started.")
    validate_mapping(job.mapping, job.headers, job.object_type, custom_field_choices(job.object_type))
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["status"])
    if in_background:
        transaction.on_commit(lambda: _enqueue_run(job.pk))
    return job


def _enqueue_run(job_id: int) -> None:
    from rapport.transfer.tasks import run_import

    run_import(job_id)


@transaction.atomic
def import_undo(*, actor, job_id: int) -> ImportJob:
    job = _draft(actor, job_id)
    if job.status not in {ImportStatus.DONE, ImportStatus.FAILED}:
        raise Conflict("Only a finished import can be undone.")
    job.status = ImportStatus.UNDOING
    job.save(update_fields=["status"])

    def enqueue():
        from rapport.transfer.tasks import undo_import

        undo_import(job.pk)
    transaction.on_commit(enqueue)
    return job


@transaction.atomic
def import_discard(*, actor, job_id: int) -> None:
    """A draft the user gave up on: its file goes too."""
    job = _draft(actor, job_id)
    if job.status != ImportStatus.DRAFT:
        raise Conflict("Only an import that has not started can be discarded.")
    job.file.delete(save=False)
    job.delete()


@transaction.atomic
def mapping_save(*, actor, name: str, object_type: str, mapping: dict, match_on: list,
                 on_match: str) -> SavedMapping:
    """Saved under its name for everyone importing this kind of record (same name: replaced)."""
    name = " ".join(str(name or "").split())[:120]
    if not name:
        raise ValidationFailed(fields={"name": ["Name the mapping."]})
    saved, _ = SavedMapping.objects.update_or_create(
        object_type=_object_type(object_type), name=name,
        defaults={"mapping": mapping, "match_on": match_on, "on_match": on_match,
                  "created_by": actor, "created_at": timezone.now()})
    return saved


# Exports -------------------------------------------------------------------------------

@transaction.atomic
def export_create(*, actor, object_type: str, format: str = ExportFormat.CSV, params=None,
                  in_background: bool = True) -> ExportJob:
    """An export of the list `params` describe (filters, search, tags, sort: the list page's own
    query string), as the actor sees it. The filters are checked now, so a bad one is a 400
    here rather than a failed job later."""
    object_type = _object_type(object_type, EXPORTED)
    if format not in ExportFormat.values:
        raise ValidationFailed(fields={"format": [f"Choose one of: {', '.join(ExportFormat.values)}."]})
    query = QueryDict(mutable=True)
    for key, values in (params.lists() if hasattr(params, "lists") else (params or {}).items()):
        if key not in {"cursor", "limit", "count", "view", "format", "object_type"}:
            query.setlist(key, values if isinstance(values, list) else [values])
    list_for_export(user=actor, object_type=object_type, params=query)  # BadRequest if unknown
    job = ExportJob.objects.create(object_type=object_type, format=format, query=query.urlencode(),
                                   created_by=actor)
    if in_background:
        def enqueue():
            from rapport.transfer.tasks import run_export

            run_export(job.pk)
        transaction.on_commit(enqueue)
    return job
