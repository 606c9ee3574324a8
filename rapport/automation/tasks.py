"""Webhook delivery jobs: a few deliveries each as they are queued, and a sweep for retries."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.automation import services


@db_task()
def deliver_many(delivery_ids: list[int]):
    for delivery_id in delivery_ids:
        services.attempt(delivery_id)


@db_periodic_task(crontab(minute="*"))
def deliver_due():
    """Retries whose time has come, and any delivery whose job was lost with a worker."""
    for delivery_id in services.due_delivery_ids():
        services.attempt(delivery_id)
