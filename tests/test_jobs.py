"""Background jobs: the job log, the retry button, and a worker killed in the middle of a job.

The last test runs real `rapport worker` processes against the configured queue: the
SQLite file by default, Redis when REDIS_URL is set (as in CI's second pass).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from rapport.automation.models import Delivery
from rapport.automation.services import webhook_create
from rapport.core import jobs
from rapport.core.events import record_events
from rapport.core.models import Event, EventReceipt, JobRun, JobStatus, WorkerHeartbeat
from rapport.mail.tasks import send_emails
from tests.test_webhooks import Receiver

ROOT = Path(__file__).resolve().parent.parent
SEND = "rapport.mail.tasks.send_emails"
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failing_job_is_logged_with_its_error_and_can_be_retried(org):
    send_emails("not a list of ids")  # bad arguments: the job raises
    [run] = JobRun.objects.filter(name=SEND)
    assert run.status == JobStatus.FAILED
    assert run.args == ["not a list of ids"]
    assert "ValueError" in run.error and run.worker == jobs.worker_name()

    assert jobs.retry(run.pk)
    run.refresh_from_db()
    assert run.status == JobStatus.REQUEUED and "Queued again by hand." in run.error
    again = JobRun.objects.filter(name=SEND).exclude(pk=run.pk).get()
    assert again.name == run.name and again.args == run.args and again.status == JobStatus.FAILED
    assert not jobs.retry(run.pk)  # a run is retried once


def test_a_job_that_succeeds_is_logged_done(org):
    send_emails([])
    [run] = JobRun.objects.filter(name=SEND)
    assert run.status == JobStatus.DONE and run.finished_at is not None


def test_a_job_left_running_by_a_dead_worker_is_queued_again(org):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone = f"{jobs.socket.gethostname()}:{dead.stdout.strip()}:abcd1234"
    restarted = f"{jobs.socket.gethostname()}:{jobs.os.getpid()}:0ld70ken"  # our pid, before
    elsewhere_alive, elsewhere_silent = "other-host:10:aaaa", "other-host:11:bbbb"
    WorkerHeartbeat.objects.create(name=elsewhere_alive)
    WorkerHeartbeat.objects.create(name=elsewhere_silent,
                                   last_seen=timezone.now() - jobs.STALE_AFTER * 2)
    for task_id, worker in (("a", gone), ("b", elsewhere_alive), ("c", elsewhere_silent),
                            ("d", jobs.worker_name()), ("e", restarted)):
        JobRun.objects.create(task_id=task_id, name=SEND, args=[[]],
                              status=JobStatus.RUNNING, worker=worker)

    recovered = jobs.recover_interrupted()

    assert sorted(run.task_id for run in recovered) == ["a", "c", "e"]
    assert set(JobRun.objects.filter(status=JobStatus.RUNNING)
               .values_list("task_id", flat=True)) == {"b", "d"}
    # Each was queued again (and, jobs running at once in tests, ran to the end).
    assert JobRun.objects.filter(name=SEND, status=JobStatus.DONE).count() == 3
    assert jobs.recover_interrupted() == []


def test_the_jobs_page_shows_failures_with_a_retry_and_is_for_admins(client, org):
    send_emails("broken")
    client.force_login(org.admin)
    page = client.get(reverse("jobs:list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "mail: send emails" in body and "ValueError" in body and "Retry" in body
    assert "No worker is running" in body
    run = JobRun.objects.get(name=SEND)
    assert client.post(reverse("jobs:retry", args=[run.pk])).status_code == 302
    assert JobRun.objects.filter(name=SEND).count() == 2

    client.force_login(org.sales_a1)
    assert client.get(reverse("jobs:list")).status_code == 403


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _start_worker(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rapport", "worker", "--workers", "2"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"Timed out waiting for {what}")


def test_a_worker_killed_mid_job_loses_nothing_and_doubles_nothing(org, settings):
    """Thousands of events are being dispatched when the worker is killed (SIGKILL): a new
    worker finds the interrupted job and runs it again, and every event ends with exactly
    one webhook delivery and one receipt."""
    HUEY.immediate = False
    HUEY.flush()
    receiver = Receiver()
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    webhook, _ = webhook_create(actor=org.admin, data={"url": receiver.url,
                                                       "events": ["contact.*"]})
    total = 4000
    record_events([{"type": "contact.updated", "object_type": "contact", "object_id": n,
                    "data": {"fields": ["title"]}} for n in range(1, total + 1)])
    env = {**os.environ, "DATABASE_URL": _database_url(),
           "RAPPORT_DATA_DIR": str(django_settings.DATA_DIR),
           "RAPPORT_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32"}
    ours = EventReceipt.objects.filter(event__type="contact.updated", consumer="webhooks")
    first = _start_worker(env)
    try:
        _wait(lambda: 0 < ours.count() < total, 60, "dispatch to begin")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert ours.count() < total
        assert JobRun.objects.filter(status=JobStatus.RUNNING,
                                     name="rapport.core.tasks.dispatch_events").exists()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    second = _start_worker(env)
    try:
        _wait(lambda: not Event.objects.filter(dispatched_at__isnull=True).exists(), 120,
              "every event to be dispatched")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        HUEY.flush()

    assert ours.count() == total
    assert EventReceipt.objects.filter(event__type="contact.updated",
                                       consumer="workflows").count() == total
    assert Delivery.objects.filter(webhook=webhook).count() == total
    assert Delivery.objects.values("event_id").distinct().count() == total
    interrupted = JobRun.objects.filter(status=JobStatus.REQUEUED,
                                        name="rapport.core.tasks.dispatch_events")
    assert interrupted and all("stopped during this job" in run.error for run in interrupted)
