"""Email jobs: sending (one job per message queued, a sweep for retries) and polling mailboxes."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.mail import inbound, services


@db_task()
def send_emails(email_ids: list[int]):
    for start in range(0, len(email_ids), services.BATCH):
        services.deliver(email_ids[start:start + services.BATCH])


@db_periodic_task(crontab(minute="*"))
def send_due_emails():
    """Retries whose time has come, messages whose job was lost, and sends cut off mid-way."""
    services.interrupted()
    send_emails.call_local(services.due_email_ids())


@db_task()
def poll_now(mailbox_id: int):
    """One mailbox's poll, now: queued by a Resync, a new mailbox or one switched on."""
    inbound.poll_mailbox(mailbox_id)


@db_periodic_task(crontab(minute="*/2"))
def poll_mailboxes():
    """Every active mailbox, in this job like the other sweeps (the job log keeps a sweep only
    when it fails). A sweep still running when the next starts is no problem: each mailbox is
    claimed while it is read, so the next sweep takes the ones not being read."""
    failure = None
    for mailbox_id in inbound.active_mailbox_ids():
        try:
            inbound.poll_mailbox(mailbox_id)
        except Exception as exc:  # on that mailbox's health already; the others still run
            failure = failure or exc
    if failure is not None:
        raise failure
