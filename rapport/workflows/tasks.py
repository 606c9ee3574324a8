"""Rule jobs: one per run as it starts, a sweep for waits and retries, and the timed triggers."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.workflows import engine


@db_task()
def run_rules(run_ids: list[int]):
    for run_id in run_ids:
        engine.execute(run_id)


@db_periodic_task(crontab(minute="*"))
def resume_due_runs():
    """Waits that are over, steps due a retry, and runs a dead worker left behind."""
    for run_id in engine.due_run_ids():
        engine.execute(run_id)


@db_periodic_task(crontab(minute="*/15"))
def fire_timed_rules():
    """Date-relative ("3 days before …") and scheduled rules; each fires once per slot."""
    engine.fire_timed()
