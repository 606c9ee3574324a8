"""`rapport bench contacts --rows N`: bulk-seed a scratch database and measure the API.

Refuses a database that already holds contacts unless --reuse is given; see
docs/performance.md for how to point it at a scratch SQLite or PostgreSQL database.
"""

import signal
import sys

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Benchmark Rapport against the raw database: bulk seeding and API latency."

    def add_arguments(self, parser):
        parser.add_argument("target", choices=["contacts"], help="What to benchmark.")
        parser.add_argument("--rows", type=int, default=1_000_000,
                            help="Contacts to seed (default 1,000,000).")
        parser.add_argument("--requests", type=int, default=300,
                            help="Requests per HTTP figure, and runs per raw-SQL figure.")
        parser.add_argument("--concurrency", type=int, default=4,
                            help="Client connections for the throughput figures.")
        parser.add_argument("--max-seconds", type=float, default=20.0,
                            help="Cut each figure after this many seconds (fewer samples).")
        parser.add_argument("--reuse", action="store_true",
                            help="Allow a database that already holds contacts (they are "
                                 "benchmarked as they are, nothing is seeded).")
        parser.add_argument("--json", dest="json_path", default=None,
                            help="Also write the figures as JSON to this path.")

    def handle(self, *args, target, rows, requests, concurrency, reuse, json_path, max_seconds,
               **options):
        from rapport.bench import contacts

        if rows < 100:
            raise CommandError("--rows must be at least 100.")
        if requests < 1 or concurrency < 1:
            raise CommandError("--requests and --concurrency must be at least 1.")

        # SIGTERM unwinds like Ctrl-C, so the gunicorn subprocess is stopped in its `finally`.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

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
