"""`rapport bench contacts --rows N` (bulk-seed a scratch database and measure the API),
`rapport bench email --messages N` (sending against a plain smtplib loop) and
`rapport bench events --events N` (dispatch through webhooks and rules) and
`rapport bench import --rows N` (a CSV import beside the raw bulk insert) and
`rapport bench duplicates --rows N` (the duplicate scan's time).

Refuses a database that already holds contacts unless --reuse is given; see
docs/performance.md for how to point it at a scratch SQLite or PostgreSQL database.
"""

import signal
import sys

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Benchmark Rapport against the raw database: bulk seeding and API latency."

    def add_arguments(self, parser):
        parser.add_argument("target", choices=["contacts", "email", "events", "import", "duplicates"],
                            help="What to benchmark.")
        parser.add_argument("--rows", type=int, default=1_000_000,
                            help="Contacts to seed, or rows to import (default 1,000,000).")
        parser.add_argument("--requests", type=int, default=300,
                            help="Requests per HTTP figure, and runs per raw-SQL figure.")
        parser.add_argument("--concurrency", type=int, default=4,
                            help="Client connections for the throughput figures.")
        parser.add_argument("--max-seconds", type=float, default=20.0,
                            help="Cut each figure after this many seconds (fewer samples).")
        parser.add_argument("--reuse", action="store_true",
                            help="Allow a database that already holds contacts (they are "
                                 "benchmarked as they are, nothing is seeded).")
        parser.add_argument("--messages", type=int, default=10_000,
                            help="email: messages per figure (default 10,000).")
        parser.add_argument("--events", type=int, default=20_000,
                            help="events: events to dispatch (default 20,000).")
        parser.add_argument("--processes", type=int, default=4,
                            help="email: worker processes (one connection each) for the pooled "
                                 "figure.")
        parser.add_argument("--json", dest="json_path", default=None,
                            help="Also write the figures as JSON to this path.")

    def handle(self, *args, target, rows, requests, concurrency, reuse, json_path, max_seconds,
               messages, processes, events, **options):
        from rapport.bench import contacts

        # SIGTERM unwinds like Ctrl-C, so subprocesses (gunicorn, the SMTP sink) are stopped
        # in their `finally`.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        if target == "email":
            return self._email(messages, processes, json_path)
        if target == "events":
            return self._events(events, json_path)
        if target == "import":
            return self._import(rows, json_path)
        if target == "duplicates":
            return self._duplicates(rows, json_path)
        if rows < 100:
            raise CommandError("--rows must be at least 100.")
        if requests < 1 or concurrency < 1:
            raise CommandError("--requests and --concurrency must be at least 1.")

        def out(line=""):
            self.stdout.write(line)
            self.stdout.flush()

        try:
            result = contacts.run(rows=rows, requests=requests, concurrency=concurrency,
                                  reuse=reuse, max_seconds=max_seconds, out=out)
        except contacts.BenchRefused as exc:
            raise CommandError(str(exc)) from None
        if json_path:
            contacts.write_json(result, json_path)
            out(f"Figures written to {json_path}")

    def _email(self, messages: int, processes: int, json_path: str | None):
        from rapport.bench import contacts, email

        if messages < 10 or processes < 1:
            raise CommandError("--messages must be at least 10 and --processes at least 1.")
        result = email.run(messages=messages, processes=processes,
                           out=lambda line="": self.stdout.write(line))
        self.stdout.write(email.report(result))
        if json_path:
            contacts.write_json(result, json_path)

    def _events(self, events: int, json_path: str | None):
        from rapport.bench import contacts
        from rapport.bench import events as bench_events

        if events < 10:
            raise CommandError("--events must be at least 10.")
        try:
            result = bench_events.run(events=events, out=lambda line="": self.stdout.write(line))
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(bench_events.report(result))
        if json_path:
            contacts.write_json(result, json_path)

    def _import(self, rows: int, json_path: str | None):
        from rapport.bench import contacts
        from rapport.bench import imports as bench_imports

        if rows < 1000:
            raise CommandError("--rows must be at least 1,000.")
        try:
            result = bench_imports.run(rows=rows, out=lambda line="": self.stdout.write(line))
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(bench_imports.report(result))
        if json_path:
            contacts.write_json(result, json_path)

    def _duplicates(self, rows: int, json_path: str | None):
        from rapport.bench import contacts
        from rapport.bench import duplicates as bench_duplicates

        if rows < 1000:
            raise CommandError("--rows must be at least 1,000.")
        try:
            result = bench_duplicates.run(rows=rows, out=lambda line="": self.stdout.write(line))
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(bench_duplicates.report(result))
        if json_path:
            contacts.write_json(result, json_path)
