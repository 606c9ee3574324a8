"""Reads of imports and exports: a user's imports, the preview of a file, the rows that
failed, and the list an export writes."""

import csv
import io
import itertools

from django.db.models import F, Prefetch, Window
from django.db.models.functions import RowNumber

from rapport.contacts import selectors as contact_selectors
from rapport.core import listing
from rapport.core.customfields import definitions_for
from rapport.core.permissions import is_admin
from rapport.core.tags import tag_names
from rapport.sales import selectors as sales_selectors
from rapport.sales.lead_selectors import LEAD_LIST, lead_visible
from rapport.sales.models import Lead
from rapport.transfer.cells import neutralised
from rapport.transfer.engine import settings_for
from rapport.transfer.models import ExportJob, ImportFailure, ImportJob, SavedMapping
from rapport.transfer.plan import RowPlan, plan_batch
from rapport.transfer.readers import open_table

PREVIEW_ROWS = 20
PROBLEMS_HEADER = "Import problems"


def import_list(*, user, limit: int = 50, failures: int = 0):
    """The user's imports (an admin's: everyone's), newest first; with `failures`, each job's
    first that many failures come prefetched."""
    jobs = ImportJob.objects.select_related("created_by")
    if not is_admin(user):
        jobs = jobs.filter(created_by=user)
    if failures:
        jobs = with_first_failures(jobs, failures)
    return jobs.order_by("-created_at", "-id")[:limit]


def with_first_failures(jobs, limit: int):
    """Each job's first `limit` failures, prefetched in one query for a whole list of jobs
    (the API lists each job with its first problems)."""
    first = ImportFailure.objects.annotate(
        position=Window(RowNumber(), partition_by=[F("job_id")], order_by=F("row_number").asc()),
    ).filter(position__lte=limit).order_by("row_number")
    return jobs.prefetch_related(Prefetch("failures", queryset=first))


def import_get(*, user, job_id: int) -> ImportJob | None:
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or not (job.created_by_id == user.pk or is_admin(user)):
        return None
    return job


def preview(job: ImportJob, rows: int = PREVIEW_ROWS) -> list[RowPlan]:
    """The first rows as the import would store them, with every row's problems; writes nothing."""
    table = open_table(job.file.path, filename=job.file_name)
    return plan_batch(settings_for(job), list(itertools.islice(table.rows(), rows)))


def saved_mappings(*, object_type: str):
    return SavedMapping.objects.filter(object_type=object_type).order_by("name")


def failed_rows_csv(job: ImportJob):
    """The failed rows as a CSV to fix and import again: the file's own columns, then the
    problems. Streamed, so a file of many failures never sits in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    yield "\ufeff"  # Excel reads UTF-8 only with the byte-order mark
    writer.writerow([neutralised(h) for h in [*job.headers, PROBLEMS_HEADER]])
    yield flush()
    for failure in job.failures.order_by("row_number").iterator(chunk_size=2000):
        problems = "; ".join(
            f"{p['column']}: {p['reason']}" if p.get("column") else p["reason"] for p in failure.problems)
        values = list(failure.values) + [""] * (len(job.headers) - len(failure.values))
        writer.writerow([neutralised(v) for v in [*values[:len(job.headers)],
                                                  f"Row {failure.row_number}: {problems}"]])
        yield flush()


def export_list(*, user, limit: int = 50):
    jobs = ExportJob.objects.select_related("created_by")
    if not is_admin(user):
        jobs = jobs.filter(created_by=user)
    return jobs.order_by("-created_at", "-id")[:limit]


def export_get(*, user, job_id: int) -> ExportJob | None:
    job = ExportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or not (job.created_by_id == user.pk or is_admin(user)):
        return None
    return job


def list_for_export(*, user, object_type: str, params, batch_size: int = 2000):
    """The list an export writes, as its page or the API filters, searches and sorts it, scoped
    to `user`: (the records, unordered, to count; their batches in the list's order). Raises
    BadRequest for a filter or sort the list does not offer. Contacts, companies and deals come
    from their own selectors; leads from the lead list's spec, read the same way."""
    if object_type == "deal":
        return sales_selectors.deals_for_export(user=user, params=params, batch_size=batch_size)
    if object_type != "lead":
        return contact_selectors.list_for_export(user=user, object_type=object_type,
                                                 params=params, batch_size=batch_size)

    def rows(page_rows):
        return page_rows.select_related("owner").annotate(tag_names=tag_names(Lead))

    return listing.for_export(lead_visible(user=user), params, LEAD_LIST, definitions_for("lead"),
                              rows=rows, batch_size=batch_size)
