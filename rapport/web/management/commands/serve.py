"""`rapport serve`: the web app under gunicorn plus a background worker, until Ctrl-C."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from rapport.web.serving import gunicorn_command


class Command(BaseCommand):
    help = "Serve the UI and API with gunicorn and run a job worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=None,
                            help="Web processes (default: RAPPORT_WEB_WORKERS or 2 per core + 1).")
        parser.add_argument("--no-worker", action="store_true",
                            help="Serve only; run `rapport worker` elsewhere.")

    def handle(self, *args, host, port, workers, no_worker, **options):
        env = {**os.environ, "RAPPORT_DATA_DIR": str(settings.DATA_DIR)}
        web = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            gunicorn_command(bind=f"{host}:{port}", workers=workers, access_log=True), env=env,
        )
        processes = [web]
        if not no_worker:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "rapport", "worker"], env=env))
        self.stdout.write(self.style.SUCCESS(
            f"Rapport is running at http://{host}:{port}/  (API: /api/v1/docs)  Ctrl-C stops it."
        ))

        def stop(signum, frame):
            for process in processes:
                process.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        exit_code = web.wait()
        stop(None, None)
        for process in processes:
            process.wait()
        sys.exit(exit_code)
