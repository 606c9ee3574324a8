"""Webhook delivery jobs: one per delivery as it is queued, and a sweep for retries."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.automation import services


@db_task()
def deliver(delivery_id: int):
    services.attempt(delivery_id)


@db_periodic_task(crontab(minute="*"))
def deliver_due():
    """Retries whose time has come, and any delivery whose job was lost with a worker."""
    for delivery_id in services.due_delivery_ids():
        services.attempt(delivery_id)
