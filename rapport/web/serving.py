"""How Rapport runs under gunicorn: one definition for `rapport serve` and `rapport bench`."""

import os
import sys
from pathlib import Path


def default_workers() -> int:
    # Processes, not threads, carry the load: the GIL made 4 threads per worker no faster
    # than 1 in the benchmark. gunicorn's rule of thumb: two per core, plus one.
    return int(os.environ.get("RAPPORT_WEB_WORKERS") or 2 * (os.cpu_count() or 1) + 1)


def default_threads() -> int:
    return int(os.environ.get("RAPPORT_WEB_THREADS") or 2)


def gunicorn_command(*, app: str = "rapport.wsgi:application", bind: str,
                     workers: int | None = None, threads: int | None = None,
                     access_log: bool = False) -> list[str]:
    command = [
        str(Path(sys.executable).parent / "gunicorn"), app, "--bind", bind,
        "--workers", str(workers or default_workers()),
        "--threads", str(threads or default_threads()), "--worker-class", "gthread",
        "--keep-alive", "30", "--log-level", "warning",
    ]
    return command + (["--access-logfile", "-"] if access_log else [])
