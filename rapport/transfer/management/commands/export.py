"""`rapport export contacts|companies|leads|deals [--format xlsx] [--filter stage=customer]
[--output FILE]`: a list written to a file from the terminal, with the same filters, scope and
columns as the pages."""

import shutil
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from rapport.core.errors import RapportError
from rapport.transfer import exporting, services
from rapport.transfer.management.acting import acting_user, command_error
from rapport.transfer.models import EXPORTED, PLURALS

# `rapport export contacts|companies|leads|deals`: each kind by its plural.
OBJECT_TYPES = {PLURALS[key]: key for key in EXPORTED}


class Command(BaseCommand):
    help = ("Export contacts, companies, leads or deals (optionally filtered, searched and sorted) "
            "to CSV or .xlsx.")

    def add_arguments(self, parser):
        parser.add_argument("object_type", choices=sorted(OBJECT_TYPES))
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                            help="As the list API takes them: lifecycle_stage=customer, tag=vip, "
                                 "country__in=DE,FR, custom__tier=gold. Repeatable.")
        parser.add_argument("--q", default="", help="Full-text search.")
        parser.add_argument("--sort", default="", help="A sortable field, - for descending.")
        parser.add_argument("--as", dest="as_user", default="",
                            help="The user whose view is exported (default: the first admin).")
        parser.add_argument("--output", "-o", default="",
                            help="Where to write the file (default: the export's own name here).")

    def handle(self, *args, object_type, **options):
        actor = acting_user(options["as_user"])
        params = QueryDict(mutable=True)
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--filter takes FIELD=VALUE, not {item!r}.")
            params.appendlist(key.strip(), value.strip())
        for key in ("q", "sort"):
            if options[key]:
                params[key] = options[key]
        try:
            job = services.export_create(actor=actor, object_type=OBJECT_TYPES[object_type],
                                         format=options["format"], params=params, in_background=False)
        except RapportError as exc:
            raise command_error(exc) from None
        job = exporting.run(job.pk, progress=self._progress)
        output = Path(options["output"] or job.file_name)
        with job.file.open("rb") as source, output.open("wb") as target:
            shutil.copyfileobj(source, target)
        self.stderr.write("")
        self.stdout.write(f"{job.rows_done:,} {object_type} written to {output}.")

    def _progress(self, job) -> None:
        if sys.stderr.isatty() and job.total_rows:
            self.stderr.write(f"\r{job.rows_done:,} of {job.total_rows:,} rows", ending="")
            self.stderr.flush()
