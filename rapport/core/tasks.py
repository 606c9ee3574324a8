"""The kernel's jobs: event dispatch, recovery of interrupted jobs, and housekeeping."""

import datetime

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.core import jobs
from rapport.core.dispatch import dispatch_pending
from rapport.core.housekeeping import forget_idempotency_keys, forget_receipts, purge_trash


@db_task()
def dispatch_events():
    """Queued when a transaction that recorded events commits."""
    dispatch_pending()


@db_periodic_task(crontab(minute="*"))
def dispatch_events_sweep():
    """Retries failed consumers when due, and picks up what a crash left undispatched."""
    dispatch_pending()


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_trash_daily():
    purge_trash(older_than=datetime.timedelta(days=30))
    forget_idempotency_keys()
    forget_receipts()
    jobs.forget_finished()


@db_periodic_task(crontab(minute="*"))
def recover_interrupted_jobs():
    """Jobs whose worker died (killed, crashed, machine lost) are queued again."""
    jobs.recover_interrupted()
