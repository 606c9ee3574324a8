"""Sending jobs: one as each message is queued, and a sweep for retries and lost jobs."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.mail import services


@db_task()
def send_emails(email_ids: list[int]):
    for start in range(0, len(email_ids), services.BATCH):
        services.deliver(email_ids[start:start + services.BATCH])


@db_periodic_task(crontab(minute="*"))
def send_due_emails():
    """Retries whose time has come, messages whose job was lost, and sends cut off mid-way."""
    services.interrupted()
    send_emails.call_local(services.due_email_ids())
