"""A gunicorn subprocess and a small keep-alive HTTP client (threads + http.client)."""

import http.client
import os
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rapport.web.serving import gunicorn_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving rapport.bench.hello_wsgi on a free localhost port; always stopped."""

    def __init__(self, *, workers: int | None = None, threads: int | None = None,
                 cwd: Path | None = None):
        self.port = free_port()
        self.workers, self.threads, self.cwd = workers, threads, cwd
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        command = gunicorn_command(app="rapport.bench.hello_wsgi:application",
                                   bind=f"127.0.0.1:{self.port}",
                                   workers=self.workers, threads=self.threads)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rapport.bench.settings"}
        self.process = subprocess.Popen(command, env=env, cwd=self.cwd)  # noqa: S603
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.process.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/__hello")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within a minute")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Run:
    latencies: list[float]  # seconds
    elapsed: float
    errors: int
    first_error: str = ""

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def load(port: int, paths: list[str], *, requests: int, concurrency: int,
         headers: dict[str, str], max_seconds: float = 20.0) -> Run:
    """`requests` GETs over `concurrency` keep-alive connections, cycling through `paths`;
    stops early (with fewer samples) once `max_seconds` have passed."""
    counter = iter(range(requests))
    deadline = time.perf_counter() + max_seconds
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None or time.perf_counter() > deadline:
                    break
                path = paths[i % len(paths)]
                started = time.perf_counter()
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    errors.append(f"{path}: {exc!r}")
                    continue
                mine.append(time.perf_counter() - started)
                if response.status != 200:
                    errors.append(f"{path}: HTTP {response.status}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Run(latencies, elapsed, len(errors), errors[0] if errors else "")
