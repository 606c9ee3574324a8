"""Files imports and exports leave behind, deleted once nobody needs them.

An export's file is a copy of customer data sitting on disk: it goes after EXPORT_DAYS,
and the export shows as expired (export the list again for a fresh one). An import's
uploaded file is needed only while it runs or could resume; a finished import keeps its
counts, its failed rows (stored with their values) and its undo, and loses the file after
IMPORT_DAYS. A draft nobody started goes whole after DRAFT_DAYS.
"""

import datetime

from django.db import transaction
from django.utils import timezone

from rapport.transfer.models import ExportJob, ExportStatus, ImportJob, ImportStatus

EXPORT_DAYS = 7
IMPORT_DAYS = 30
DRAFT_DAYS = 7
FINISHED = (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.UNDONE)


def purge_old_files(*, now: datetime.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"exports": 0, "imports": 0, "drafts": 0}
    for job in ExportJob.objects.filter(status=ExportStatus.DONE,
                                        finished_at__lt=now - datetime.timedelta(days=EXPORT_DAYS)):
        _drop_file(job)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.EXPIRED, file="")
        counts["exports"] += 1
    for job in (ImportJob.objects.filter(status__in=FINISHED,
                                         created_at__lt=now - datetime.timedelta(days=IMPORT_DAYS))
                .exclude(file="")):
        _drop_file(job)
        ImportJob.objects.filter(pk=job.pk).update(file="")
        counts["imports"] += 1
    for job in ImportJob.objects.filter(status=ImportStatus.DRAFT,
                                        created_at__lt=now - datetime.timedelta(days=DRAFT_DAYS)):
        with transaction.atomic():
            # Only if still a draft: a user may start it this very moment.
            if ImportJob.objects.filter(pk=job.pk, status=ImportStatus.DRAFT).delete()[0]:
                _drop_file(job)
                counts["drafts"] += 1
    return counts


def _drop_file(job) -> None:
    if job.file:
        job.file.delete(save=False)
