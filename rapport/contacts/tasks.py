"""The duplicate scan: on demand from the review queue, and every night."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.contacts import duplicates


@db_task()
def scan_duplicates(object_type: str):
    duplicates.scan(object_type)


@db_periodic_task(crontab(hour="3", minute="10"))
def scan_duplicates_nightly():
    for object_type in duplicates.MODELS:
        duplicates.scan(object_type)
