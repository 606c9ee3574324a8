"""`rapport worker`: a background job consumer (Huey); run as many as you like, anywhere.

Besides Huey's consumer it keeps a heartbeat, so jobs left running by a worker that
died are found and queued again (rapport.core.jobs), starting with this worker's start.
"""

import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection


class Command(BaseCommand):
    help = "Run a background job worker (SQLite queue by default, Redis with REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, workers, **options):
        from rapport.core import jobs

        jobs.heartbeat()
        jobs.recover_interrupted()
        stop = threading.Event()
        beating = threading.Thread(target=self._beat, args=(stop,), daemon=True,
                                   name="rapport-heartbeat")
        beating.start()
        try:
            call_command("run_huey", workers=workers, worker_type="thread")
        finally:
            stop.set()
            beating.join(timeout=5)
            jobs.stop_heartbeat()

    @staticmethod
    def _beat(stop: threading.Event):
        from rapport.core import jobs

        while not stop.wait(jobs.HEARTBEAT_SECONDS):
            try:
                jobs.heartbeat()
            except Exception:  # a missed beat must not stop the worker
                jobs.logger.exception("Could not write the worker heartbeat")
            finally:
                connection.close()
