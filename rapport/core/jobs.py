"""The job log: what the workers run, what failed and why, and running a job again.

Huey keeps the queue (SQLite or Redis); Huey's signals keep this log beside it. A job
whose worker died (killed, crashed, its machine gone) stays `running` here; recovery
finds it by its worker's missing heartbeat and queues it again. That is safe because
every job's effect is guarded by a key (a claim, a consumer receipt, a unique row), so
a second run finishes the work without doing any of it twice.

Periodic jobs (the minute sweeps) are logged only when they fail: a row per sweep per
minute would bury the jobs people look for.
"""

import datetime
import logging
import os
import secrets
import socket
import traceback

from django.db import close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from huey import signals
from huey.api import PeriodicTask
from huey.contrib.djhuey import HUEY

from rapport.core.models import JobRun, JobStatus, WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
STALE_AFTER = datetime.timedelta(seconds=45)  # several missed heartbeats: the worker is gone
KEEP_FINISHED = datetime.timedelta(days=3)


# A restarted container keeps its hostname and often its pid (1): the token tells this
# process from the one that ran before it in the same slot.
_PROCESS_TOKEN = secrets.token_hex(4)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}"


def task_name(task) -> str:
    return HUEY._registry.task_to_string(type(task))


def _json_args(task) -> tuple[list, dict]:
    return list(task.args or ()), dict(task.kwargs or {})


def _logged(handler):
    """Signal handlers run in the worker thread between jobs: they hold no connection open."""
    def run(signal, task, *args):
        try:
            handler(task, *args)
        finally:
            close_old_connections()
    run.__name__ = handler.__name__
    return run


@HUEY.signal(signals.SIGNAL_EXECUTING)
@_logged
def _started(task):
    if isinstance(task, PeriodicTask):
        return
    args, kwargs = _json_args(task)
    run, created = JobRun.objects.get_or_create(task_id=task.id, defaults={
        "name": task_name(task), "args": args, "kwargs": kwargs, "status": JobStatus.RUNNING,
        "attempts": 1, "worker": worker_name()})
    if not created:
        JobRun.objects.filter(pk=run.pk).update(
            status=JobStatus.RUNNING, attempts=run.attempts + 1, worker=worker_name(),
            started_at=timezone.now(), finished_at=None)


@HUEY.signal(signals.SIGNAL_COMPLETE)
@_logged
def _completed(task):
    if not isinstance(task, PeriodicTask):
        JobRun.objects.filter(task_id=task.id).update(status=JobStatus.DONE,
                                                      finished_at=timezone.now())


@HUEY.signal(signals.SIGNAL_ERROR)
@_logged
def _failed(task, exc):
    error = "".join(traceback.format_exception(exc))[-8000:]
    status = JobStatus.RETRYING if task.retries else JobStatus.FAILED
    args, kwargs = _json_args(task)
    updated = JobRun.objects.filter(task_id=task.id).update(
        status=status, error=error, finished_at=timezone.now())
    if not updated:  # a periodic job, logged only now that it failed
        JobRun.objects.create(task_id=task.id, name=task_name(task), args=args, kwargs=kwargs,
                              status=status, attempts=1, worker=worker_name(), error=error,
                              finished_at=timezone.now())


@HUEY.signal(signals.SIGNAL_INTERRUPTED)
@_logged
def _interrupted(task):
    """The worker was stopped (Ctrl-C, SIGTERM) with this job unfinished: queue it again."""
    run = JobRun.objects.filter(task_id=task.id, status=JobStatus.RUNNING).first()
    if run is not None:
        _run_again(run, reason=f"The worker {run.worker} was stopped during this job.")


def heartbeat() -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(name=worker_name(), defaults={"last_seen": now},
                                             create_defaults={"started_at": now, "last_seen": now})


def stop_heartbeat() -> None:
    WorkerHeartbeat.objects.filter(name=worker_name()).delete()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_is_alive(name: str, fresh: set[str]) -> bool:
    """A recent heartbeat says so; on this machine a dead pid, or our own pid under another
    token (the process before a restart), says no at once."""
    if name == worker_name():
        return True
    host, pid, _ = (name.split(":") + ["", ""])[:3]
    here = host == socket.gethostname() and pid.isdigit()
    if here and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
        return False
    return name in fresh


def recover_interrupted() -> list[JobRun]:
    """Queue again every job left `running` by a worker that is gone; returns those runs."""
    fresh = set(WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - STALE_AFTER)
                .values_list("name", flat=True))
    recovered = []
    for run in JobRun.objects.filter(status=JobStatus.RUNNING):
        reason = f"The worker {run.worker} stopped during this job (killed or crashed)."
        if not worker_is_alive(run.worker, fresh) and _run_again(run, reason=reason):
            recovered.append(run)
    WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - STALE_AFTER * 20).delete()
    return recovered


def _run_again(run: JobRun, *, reason: str) -> bool:
    """Mark `run` requeued and queue its task afresh; False if someone else already did."""
    with transaction.atomic():
        claimed = JobRun.objects.filter(pk=run.pk, status__in=[
            JobStatus.RUNNING, JobStatus.FAILED]).update(
            status=JobStatus.REQUEUED, error=(run.error + "\n" if run.error else "") + reason,
            finished_at=timezone.now())
        if claimed:
            transaction.on_commit(lambda: enqueue(run.name, run.args, run.kwargs))
    return bool(claimed)


def enqueue(name: str, args: list, kwargs: dict):
    # The apps' task modules register their tasks when imported; a worker recovering jobs
    # at start-up runs before Huey's consumer has imported them.
    autodiscover_modules("tasks")
    task_class = HUEY._registry.string_to_task(name)
    return HUEY.enqueue(task_class(args=tuple(args), kwargs=kwargs))


def retry(run_id: int) -> bool:
    """The Retry button: a failed job queued again with the same arguments."""
    run = JobRun.objects.filter(pk=run_id, status=JobStatus.FAILED).first()
    return run is not None and _run_again(run, reason="Queued again by hand.")


def forget_finished() -> int:
    cutoff = timezone.now() - KEEP_FINISHED
    return JobRun.objects.filter(status__in=[JobStatus.DONE, JobStatus.REQUEUED],
                                 finished_at__lt=cutoff).delete()[0]


def short_name(name: str) -> str:
    return JobRun(name=name).short_name


def _queued(task) -> dict:
    eta = task.eta.replace(tzinfo=datetime.UTC) if task.eta and task.eta.tzinfo is None else task.eta
    return {"id": task.id, "name": short_name(task_name(task)), "args": task.args, "eta": eta}


def overview(*, limit: int = 50) -> dict:
    """Everything Settings → Jobs shows, in a fixed number of queries and queue reads."""
    fresh_since = timezone.now() - STALE_AFTER
    workers = list(WorkerHeartbeat.objects.order_by("name"))
    for worker in workers:
        worker.alive = worker.last_seen >= fresh_since
    return {
        "queued_count": HUEY.pending_count(),
        "scheduled_count": HUEY.scheduled_count(),
        "queued": [_queued(task) for task in HUEY.pending(limit)],
        "scheduled": sorted((_queued(task) for task in HUEY.scheduled(limit)),
                            key=lambda job: job["eta"] or timezone.now()),
        "running": list(JobRun.objects.filter(status=JobStatus.RUNNING)
                        .order_by("-started_at")[:limit]),
        "failed": list(JobRun.objects.filter(status__in=[JobStatus.FAILED, JobStatus.RETRYING])
                       .order_by("-started_at")[:limit]),
        "finished": list(JobRun.objects.filter(status__in=[JobStatus.DONE, JobStatus.REQUEUED])
                         .order_by("-finished_at")[:20]),
        "workers": workers,
    }
