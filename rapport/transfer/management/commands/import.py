"""`rapport import contacts|companies|leads FILE [--mapping M] [--dry-run]`: an import from the terminal,
with a progress bar; the same services and engine as the import pages."""

import json
import sys
import time
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from rapport.core.context import write_source
from rapport.core.errors import RapportError
from rapport.transfer import engine, selectors, services
from rapport.transfer.kinds import KINDS
from rapport.transfer.management.acting import acting_user, command_error
from rapport.transfer.models import ImportJob

# `rapport import contacts|companies|leads`: each importable kind by its plural.
OBJECT_TYPES = {kind.label: key for key, kind in KINDS.items()}


class DryRun(Exception):
    """Raised to roll a dry run back once its figures are printed."""


class Command(BaseCommand):
    help = "Import contacts, companies or leads from a CSV, .xlsx or .vcf file."

    def add_arguments(self, parser):
        parser.add_argument("object_type", choices=sorted(OBJECT_TYPES))
        parser.add_argument("file")
        parser.add_argument("--mapping", default="",
                            help="A saved mapping's name, or a JSON file of {column: field}. "
                                 "Without it the columns are matched from their headers.")
        parser.add_argument("--match-on", default=None,
                            help="Comma list of email, phone, external_id, domain.")
        parser.add_argument("--on-match", default=None, choices=["skip", "fill", "overwrite"])
        parser.add_argument("--as", dest="as_user", default="",
                            help="The user the import acts as (default: the first admin).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check every row and print what would happen; store nothing.")

    def handle(self, *args, object_type, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        actor = acting_user(options["as_user"])
        with write_source("import"):
            try:
                if options["dry_run"]:
                    try:
                        with transaction.atomic():
                            job = self._import(actor, OBJECT_TYPES[object_type], path, options)
                            raise DryRun()
                    except DryRun:
                        self.stdout.write("Dry run: nothing was stored.")
                        job.file.delete(save=False)
                else:
                    self._import(actor, OBJECT_TYPES[object_type], path, options)
            except RapportError as exc:
                raise command_error(exc) from None

    def _import(self, actor, object_type: str, path: Path, options) -> ImportJob:
        with path.open("rb") as handle:
            job = services.import_create(actor=actor, upload=File(handle, name=path.name),
                                         object_type=object_type)
        mapping, match_on, on_match = self._policy(job, options)
        job = services.import_configure(actor=actor, job_id=job.pk, mapping=mapping,
                                        match_on=match_on, on_match=on_match)
        job = services.import_start(actor=actor, job_id=job.pk, in_background=False)
        bar = ProgressBar(self.stderr)
        job = engine.run(job.pk, progress=bar.update)
        bar.finish(job)
        self._report(job)
        return job

    def _policy(self, job, options):
        mapping, match_on, on_match = job.mapping, job.match_on, job.on_match
        name = options["mapping"]
        if name:
            saved = selectors.saved_mappings(object_type=job.object_type).filter(name=name).first()
            if saved is not None:
                mapping, match_on, on_match = ({h: saved.mapping.get(h, "") for h in job.headers},
                                               saved.match_on, saved.on_match)
            elif Path(name).is_file():
                try:
                    mapping = json.loads(Path(name).read_text())
                except json.JSONDecodeError as exc:
                    raise CommandError(f"{name} is not JSON: {exc}") from None
            else:
                raise CommandError(f"No saved mapping or file named {name}.")
        if options["match_on"] is not None:
            match_on = options["match_on"]
        return mapping, match_on, options["on_match"] or on_match

    def _report(self, job: ImportJob) -> None:
        self.stdout.write(f"{job.rows_done:,} rows: {job.created_count:,} created, "
                          f"{job.updated_count:,} updated, {job.merged_count:,} merged, "
                          f"{job.skipped_count:,} skipped, {job.failed_count:,} failed.")
        for failure in job.failures.all()[:20]:
            for problem in failure.problems:
                column = f"{problem['column']}: " if problem.get("column") else ""
                self.stdout.write(f"  row {failure.row_number}: {column}{problem['reason']}")
        if job.failed_count > 20:
            self.stdout.write(f"  … see all {job.failed_count:,} under Settings → Imports "
                              f"(import #{job.pk}).")


class ProgressBar:
    """`[#######.....] 58%  580,000 of 1,000,000 rows  21,400 rows/s  20 s left` on a terminal,
    a line every few seconds in a log."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = getattr(sys.stderr, "isatty", lambda: False)()
        self.started = time.monotonic()
        self.stored_at = None   # when the last row was stored; search indexing follows
        self.last_line = 0.0

    def update(self, job: ImportJob) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last_line < 5:
            return
        self.last_line = now
        total = job.total_rows or 0
        if total and job.rows_done >= total and self.stored_at is None:
            self.stored_at = now
        share = job.rows_done / total if total else 0
        rate = (job.rows_done - job.run_started_rows) / max((self.stored_at or now) - self.started, 1e-6)
        left = f"  {(total - job.rows_done) / rate:,.0f} s left" \
            if rate and total and not self.stored_at else ""
        indexed = f"  {job.indexed_count:,} new records indexed for search" \
            if job.indexed_count else ""
        filled = int(share * self.WIDTH)
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%}  {job.rows_done:,} of "
                f"{total:,} rows  {rate:,.0f} rows/s{left}{indexed}")
        self.stream.write(f"\r{line}" if self.tty else line, ending="" if self.tty else "\n")
        self.stream.flush()

    def finish(self, job: ImportJob) -> None:
        self.update(job)
        if self.tty:
            self.stream.write("")
