"""Housekeeping jobs: empty the trash after 30 days, forget old idempotency keys."""

import datetime

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from rapport.core.housekeeping import forget_idempotency_keys, purge_trash


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_trash_daily():
    purge_trash(older_than=datetime.timedelta(days=30))
    forget_idempotency_keys()
