"""Import and export files are deleted once nobody needs them; what they did stays."""

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from rapport.contacts.models import Contact
from rapport.transfer import engine, exporting, housekeeping, services
from rapport.transfer.models import ExportJob, ExportStatus, ImportJob

pytestmark = pytest.mark.django_db

CSV = b"First name,Last name,Email\nAda,Lovelace,ada@example.com\n,,not-an-email\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def finished_import(org):
    job = services.import_create(actor=org.admin, upload=SimpleUploadedFile("people.csv", CSV),
                                 object_type="contact")
    services.import_configure(actor=org.admin, job_id=job.pk, mapping=job.mapping,
                              match_on=["email"], on_match="skip")
    services.import_start(actor=org.admin, job_id=job.pk, in_background=False)
    return engine.run(job.pk)


def finished_export(org):
    job = services.export_create(actor=org.admin, object_type="contact", in_background=False)
    return exporting.run(job.pk)


def age(model, job, **delta):
    then = timezone.now() - datetime.timedelta(**delta)
    model.objects.filter(pk=job.pk).update(created_at=then)
    if model is ExportJob:
        model.objects.filter(pk=job.pk).update(finished_at=then)


def test_old_files_go_and_what_the_jobs_did_stays(org, media, client):
    old_import, new_import = finished_import(org), finished_import(org)
    old_export, new_export = finished_export(org), finished_export(org)
    draft = services.import_create(actor=org.admin, upload=SimpleUploadedFile("late.csv", CSV),
                                   object_type="contact")
    fresh_draft = services.import_create(actor=org.admin,
                                         upload=SimpleUploadedFile("fresh.csv", CSV),
                                         object_type="contact")
    age(ImportJob, old_import, days=31)
    age(ExportJob, old_export, days=8)
    age(ImportJob, draft, days=8)
    paths = {name: Path(job.file.path) for name, job in (
        ("old_import", old_import), ("new_import", new_import), ("old_export", old_export),
        ("new_export", new_export), ("draft", draft), ("fresh_draft", fresh_draft))}

    assert housekeeping.purge_old_files() == {"exports": 1, "imports": 1, "drafts": 1}

    assert {name for name, path in paths.items() if path.exists()} == {
        "new_import", "new_export", "fresh_draft"}
    expired = ExportJob.objects.get(pk=old_export.pk)
    assert expired.status == ExportStatus.EXPIRED and not expired.file
    kept = ImportJob.objects.get(pk=old_import.pk)
    assert not kept.file and kept.created_count == 1 and kept.failures.count() == 1
    assert not ImportJob.objects.filter(pk=draft.pk).exists()
    assert housekeeping.purge_old_files() == {"exports": 0, "imports": 0, "drafts": 0}

    # A purged import still undoes, and still hands back its failed rows.
    client.force_login(org.admin)
    failed = client.get(reverse("imports:failed_rows", args=[old_import.pk]))
    assert failed.status_code == 200 and b"not-an-email" in b"".join(failed.streaming_content)
    services.import_undo(actor=org.admin, job_id=old_import.pk)
    engine.undo(old_import.pk)
    assert not Contact.objects.filter(email="ada@example.com").exists()  # in the trash

    # An expired export says why there is no file, and how to get a fresh one.
    assert client.get(reverse("exports:download", args=[old_export.pk])).status_code == 404
    page = client.get(reverse("exports:detail", args=[old_export.pk])).content.decode()
    assert "The file was deleted" in page and "export it again" in page
