"""An import whose worker process is killed (SIGKILL) mid-file resumes in a new worker from
its last committed batch: every row stored once, none lost.

Real `rapport worker` processes against the configured queue (the SQLite file by default,
Redis when REDIS_URL is set) and database, as tests/test_jobs.py does for events.
"""

import os
import signal

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from huey.contrib.djhuey import HUEY

from rapport.contacts.models import Contact
from rapport.core.models import JobRun, JobStatus, SearchDocument
from rapport.transfer import services
from rapport.transfer.models import ImportChange, ImportJob, ImportStatus
from tests.test_jobs import _database_url, _start_worker, _wait

pytestmark = pytest.mark.django_db(transaction=True)

RUN = "rapport.transfer.tasks.run_import"
ROWS = 6000  # six batches of 1,000


def people_csv(rows: int) -> bytes:
    lines = ["First name,Last name,Email,City"]
    lines += [f"Person{n},Number{n},person{n}@kill-test.example,Leeds" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_an_import_killed_mid_file_resumes_in_a_new_worker_and_stores_each_row_once(org):
    HUEY.immediate = False
    HUEY.flush()
    job = services.import_create(actor=org.admin, object_type="contact",
                                 upload=SimpleUploadedFile("people.csv", people_csv(ROWS)))
    services.import_configure(actor=org.admin, job_id=job.pk, mapping=job.mapping,
                              match_on=["email"], on_match="skip")
    services.import_start(actor=org.admin, job_id=job.pk)  # queued for a worker on commit
    env = {**os.environ, "DATABASE_URL": _database_url(),
           "RAPPORT_DATA_DIR": str(django_settings.DATA_DIR)}
    progress = ImportJob.objects.filter(pk=job.pk)

    first = _start_worker(env)
    try:
        _wait(lambda: 0 < progress.get().rows_done < ROWS, 120, "the import to commit a batch")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        stopped = progress.get()
        assert stopped.status == ImportStatus.RUNNING and stopped.rows_done < ROWS
        assert JobRun.objects.filter(status=JobStatus.RUNNING, name=RUN).exists()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    second = _start_worker(env)
    try:
        _wait(lambda: progress.get().status == ImportStatus.DONE, 180, "the import to finish")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
        HUEY.flush()

    done = progress.get()
    assert (done.rows_done, done.created_count, done.failed_count) == (ROWS, ROWS, 0)
    imported = Contact.objects.filter(email__endswith="@kill-test.example")
    assert imported.count() == ROWS
    assert imported.values("email").distinct().count() == ROWS
    # Undo's runs of new ids cover each record once, and every record got its search document.
    covered = [pk for run in ImportChange.objects.filter(job=done) for pk in run.object_ids]
    assert sorted(covered) == sorted(imported.values_list("pk", flat=True))
    assert done.indexed_count == ROWS
    assert SearchDocument.objects.filter(object_type="contact", object_id__in=covered).count() == ROWS
    assert JobRun.objects.filter(status=JobStatus.REQUEUED, name=RUN).exists()
