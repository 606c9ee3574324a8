from datetime import datetime

from ninja import Schema

from rapport.transfer import engine
from rapport.transfer.selectors import PREVIEW_ROWS

ERRORS_SHOWN = 100


class ProblemOut(Schema):
    row: int
    column: str
    value: str
    reason: str


class ImportOut(Schema):
    id: int
    object_type: str
    status: str
    file_name: str
    format: str
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: dict[str, str]
    match_on: list[str]
    on_match: str
    total_rows: int | None
    rows_done: int
    created: int
    updated: int
    merged: int
    skipped: int
    failed: int
    indexed: int
    rows_per_second: float | None
    seconds_left: float | None
    error: str
    undo_note: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    undone_at: datetime | None
    errors: list[ProblemOut]
    failed_rows_url: str | None

    @staticmethod
    def resolve_created(job):
        return job.created_count

    @staticmethod
    def resolve_updated(job):
        return job.updated_count

    @staticmethod
    def resolve_merged(job):
        return job.merged_count

    @staticmethod
    def resolve_skipped(job):
        return job.skipped_count

    @staticmethod
    def resolve_failed(job):
        return job.failed_count

    @staticmethod
    def resolve_indexed(job):
        return job.indexed_count

    @staticmethod
    def resolve_rows_per_second(job):
        rate = engine.rows_per_second(job)
        return round(rate, 1) if rate else None

    @staticmethod
    def resolve_seconds_left(job):
        left = engine.seconds_left(job)
        return round(left) if left is not None else None

    @staticmethod
    def resolve_errors(job):
        return [{"row": f.row_number, **p} for f in job.failures.all()[:ERRORS_SHOWN]
                for p in f.problems][:ERRORS_SHOWN]

    @staticmethod
    def resolve_failed_rows_url(job):
        return f"/api/v1/imports/{job.pk}/failed-rows" if job.failed_count else None


class ImportPage(Schema):
    items: list[ImportOut]


class ImportPreviewRowOut(Schema):
    row: int
    action: str
    note: str
    values: dict
    company: str
    tags: list[str]
    problems: list[ProblemOut]


class ImportPreviewOut(Schema):
    rows: list[ImportPreviewRowOut]
    shown: int = PREVIEW_ROWS


class ExportIn(Schema):
    object_type: str = "contact"
    format: str = "csv"
    filters: dict[str, str | list[str]] = {}
    q: str = ""
    sort: str = ""


class ExportOut(Schema):
    id: int
    object_type: str
    format: str
    query: str
    status: str
    total_rows: int | None
    rows_done: int
    error: str
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None

    @staticmethod
    def resolve_download_url(job):
        return f"/api/v1/exports/{job.pk}/download" if job.status == "done" else None


class ExportPage(Schema):
    items: list[ExportOut]
