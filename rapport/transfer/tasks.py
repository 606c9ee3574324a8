"""Import jobs. A worker killed mid-import has its job queued again (rapport.core.jobs), and
the run resumes after the last committed row."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from rapport.core.context import write_source
from rapport.transfer import engine, exporting, housekeeping


@db_task()
def run_import(job_id: int):
    with write_source("import"):
        engine.run(job_id)


@db_task()
def undo_import(job_id: int):
    with write_source("import"):
        engine.undo(job_id)


@db_task()
def run_export(job_id: int):
    exporting.run(job_id)


@db_periodic_task(crontab(minute="40", hour="3"))
def purge_old_files_daily():
    housekeeping.purge_old_files()
