"""Writing a list to CSV or .xlsx, streamed batch by batch, so a million rows never sit in
memory. The headers are the import's field labels and the values are written the way the
import reads them, so a file exported and imported back with "overwrite" changes nothing.
"""

import csv
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from django.core.files import File
from django.http import QueryDict
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from rapport.contacts.choices import LifecycleStage
from rapport.core.customfields import definitions_for
from rapport.sales.choices import DealStatus, LeadSource, LeadStatus
from rapport.transfer.cells import neutralised
from rapport.transfer.mapping import targets
from rapport.transfer.models import ExportFormat, ExportJob, ExportStatus
from rapport.transfer.selectors import list_for_export

# Full name is for importing other systems' files; an export has first and last name.
SKIPPED = {"full_name"}
LIST_SEPARATOR = "; "
STAGE_LABELS = dict(LifecycleStage.choices)
LEAD_STATUS_LABELS = dict(LeadStatus.choices)
LEAD_SOURCE_LABELS = dict(LeadSource.choices)


def columns(object_type: str) -> list[tuple[str, Callable]]:
    """(header, value of a record) for every field a record of this type has."""
    definitions = {d.key: d for d in definitions_for(object_type)}
    if object_type == "deal":
        return [*DEAL_COLUMNS, *((d.label, _custom(d)) for d in definitions.values())]
    result = []
    for target in targets(object_type, [(d.key, d.label) for d in definitions.values()]):
        if target.key in SKIPPED:
            continue
        if target.key.startswith("custom:"):
            definition = definitions[target.key.removeprefix("custom:")]
            result.append((target.label, _custom(definition)))
        else:
            result.append((target.label, _GETTERS.get(target.key, _attribute(target.key))))
    return result


def _attribute(name: str) -> Callable:
    return lambda record: getattr(record, name) or ""


def _joined(name: str) -> Callable:
    return lambda record: LIST_SEPARATOR.join(getattr(record, name) or [])


_GETTERS = {
    "emails": _joined("emails"),
    "phones": _joined("phones"),
    "tags": lambda record: ", ".join(record.tag_names or []),
    "company": lambda record: record.company.name if record.company_id else "",
    "owner": lambda record: record.owner.email if record.owner_id else "",
    "lifecycle_stage": lambda record: STAGE_LABELS.get(record.lifecycle_stage, record.lifecycle_stage),
    # A lead's
    "status": lambda record: LEAD_STATUS_LABELS.get(record.status, record.status),
    "source": lambda record: LEAD_SOURCE_LABELS.get(record.source, record.source),
    "score": lambda record: str(record.score),
}


def _text(value) -> str:
    return "" if value is None else str(value)


def _when(name: str) -> Callable:
    return lambda record: getattr(record, name).isoformat() if getattr(record, name) else ""


DEAL_STATUS_LABELS = dict(DealStatus.choices)
# A deal's columns (deals are not imported: these are the list's, and what a report needs).
DEAL_COLUMNS = [
    ("Deal name", _attribute("name")),
    ("Amount", lambda deal: _text(deal.amount)),
    ("Currency", _attribute("currency")),
    ("Pipeline", lambda deal: deal.pipeline.name),
    ("Stage", lambda deal: deal.stage.name),
    ("Status", lambda deal: DEAL_STATUS_LABELS.get(deal.status, deal.status)),
    ("Probability (%)", lambda deal: _text(deal.effective_probability)),
    ("Expected close date", _when("expected_close_date")),
    ("Company", _GETTERS["company"]),
    ("Owner", _GETTERS["owner"]),
    ("Next step", _attribute("next_step")),
    ("Lost reason", lambda deal: deal.lost_reason.name if deal.lost_reason_id else ""),
    ("Tags", _GETTERS["tags"]),
    ("Created", _when("created_at")),
    ("Closed", _when("closed_at")),
]


def _custom(definition) -> Callable:
    key = definition.key

    def value(record):
        raw = (record.custom_fields or {}).get(key)
        if raw is None:
            return ""
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, list):
            return ", ".join(map(str, raw))
        return str(raw)
    return value


def write_csv(handle, headers: list[str], rows: Iterable[list]) -> None:
    """UTF-8 with a byte-order mark (so Excel reads accents right), every cell neutralised."""
    handle.write("\ufeff")
    writer = csv.writer(handle)
    writer.writerow([neutralised(h) for h in headers])
    for row in rows:
        writer.writerow([neutralised(v) for v in row])


def write_xlsx(path, headers: list[str], rows: Iterable[list], title: str) -> None:
    """A write-only workbook (streamed to disk). Every cell is typed as text, so a value that
    begins with = + - @ is shown as written and never evaluated as a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])

    def text_cells(values):
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value="" if value is None else str(value))
            cell.data_type = "s"
            cells.append(cell)
        return cells

    sheet.append(text_cells(headers))
    for row in rows:
        sheet.append(text_cells(row))
    workbook.save(path)


def run(job_id: int, *, progress: Callable | None = None):
    """Write the export's file; its status says how far it got. Run again after a crash, it
    starts over (an export changes nothing, so there is nothing to resume or undo)."""
    job = ExportJob.objects.filter(pk=job_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).first()
    if job is None:
        return None
    job.status, job.rows_done = ExportStatus.RUNNING, 0
    job.save(update_fields=["status", "rows_done"])
    try:
        records, batches = list_for_export(user=job.created_by, object_type=job.object_type,
                                           params=QueryDict(job.query))
        total = records.count()
        ExportJob.objects.filter(pk=job.pk).update(total_rows=total)
        job.total_rows = total
        cols = columns(job.object_type)

        def rows():
            for batch in batches:
                for record in batch:
                    yield [value(record) for _, value in cols]
                job.rows_done += len(batch)
                ExportJob.objects.filter(pk=job.pk).update(rows_done=job.rows_done)
                if progress:
                    progress(job)

        headers = [header for header, _ in cols]
        with tempfile.TemporaryDirectory(prefix="rapport-export-") as folder:
            path = Path(folder) / job.file_name
            if job.format == ExportFormat.XLSX:
                write_xlsx(path, headers, rows(), title=job.plural.capitalize())
            else:
                with path.open("w", newline="", encoding="utf-8") as handle:
                    write_csv(handle, headers, rows())
            with path.open("rb") as handle:
                job.file.save(job.file_name, File(handle), save=False)
    except Exception as exc:
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED,
                                                   error=f"The export stopped: {exc}"[:2000],
                                                   finished_at=timezone.now())
        raise
    job.status, job.finished_at = ExportStatus.DONE, timezone.now()
    job.save(update_fields=["file", "status", "finished_at", "rows_done", "total_rows"])
    return job
