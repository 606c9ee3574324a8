"""Settings → Imports in the browser's place (Django's test client): upload a file, choose its
columns (suggested for you, or from a saved mapping), preview what will happen to each row, start,
watch the progress, download the rows that failed, undo; and nobody sees another user's import."""

import csv
import datetime
import io
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from rapport.contacts.models import Contact
from rapport.transfer import engine, services
from rapport.transfer.models import ImportJob, ImportStatus, SavedMapping
from tests import transfer_files as files

HEADERS = files.CONTACT_HEADERS  # First Name, Last Name, Email, Phone, Company
SUGGESTED = {"column-0": "first_name", "column-1": "last_name", "column-2": "email",
             "column-3": "phone", "column-4": "company"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.fixture
def broken_csv(tmp_path):
    """12 contacts, file rows 2-13: row 6 has an invalid email, row 11 a value too many."""
    path = files.csv_with_broken_row(tmp_path / "leads.csv", rows=12)

    def make(name="leads.csv"):
        return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")
    make.rows = list(csv.reader(io.StringIO(path.read_text())))
    return make


class Form(HTMLParser):
    """What a page's form controls hold: the chosen option of each select, checked boxes and radios."""

    def __init__(self, html: str):
        super().__init__()
        self.selects: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self.checked: dict[str, list[str]] = {}
        self._select = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self._select = attrs.get("name")
            self.options[self._select] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(attrs.get("value"))
            if "selected" in attrs:
                self.selects[self._select] = attrs.get("value")
        elif tag == "input" and attrs.get("type") in {"checkbox", "radio"} and "checked" in attrs:
            self.checked.setdefault(attrs["name"], []).append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            # With no option marked, a browser shows (and submits) the first.
            self.selects.setdefault(self._select, self.options[self._select][0])
            self._select = None


def upload(client, file, object_type="contact") -> ImportJob:
    response = client.post(reverse("imports:list"), {"file": file, "object_type": object_type})
    job = ImportJob.objects.latest("pk")
    assert response.status_code == 302 and response.url == reverse("imports:columns", args=[job.pk])
    return job


def columns_form(mapping=None, **fields) -> dict:
    mapping = {**SUGGESTED, **(mapping or {})}
    return {**mapping, "match_on": ["email"], "on_match": "skip", "save_as": "", **fields}


def configured(client, file) -> ImportJob:
    job = upload(client, file)
    response = client.post(reverse("imports:columns", args=[job.pk]), columns_form())
    assert response.status_code == 302 and response.url == reverse("imports:preview", args=[job.pk])
    return job


def finished(org, file) -> ImportJob:
    """An import already run, as the worker would have run it."""
    job = services.import_create(actor=org.admin, upload=file, object_type="contact")
    services.import_start(actor=org.admin, job_id=job.pk, in_background=False)
    return engine.run(job.pk)


def test_the_imports_page_lists_imports_and_has_the_upload_form(admin_client, org, broken_csv):
    done = finished(org, broken_csv("done.csv"))
    services.import_create(actor=org.admin, upload=broken_csv("draft.csv"), object_type="contact")

    page = admin_client.get(reverse("imports:list")).content.decode()

    assert 'enctype="multipart/form-data"' in page and 'type="file" name="file"' in page
    assert Form(page).checked["object_type"] == ["contact"]
    assert f'href="{reverse("imports:detail", args=[done.pk])}">done.csv</a>' in page
    assert "10 / 0 / 2" in page  # created / updated / failed
    draft = ImportJob.objects.get(file_name="draft.csv")
    assert f'href="{reverse("imports:columns", args=[draft.pk])}">draft.csv</a>' in page  # not started yet
    companies = admin_client.get(reverse("imports:list") + "?type=company").content.decode()
    assert Form(companies).checked["object_type"] == ["company"]


def test_uploading_a_file_opens_the_columns_page_with_the_suggested_fields_chosen(admin_client, broken_csv):
    job = upload(admin_client, broken_csv())

    page = admin_client.get(reverse("imports:columns", args=[job.pk])).content.decode()

    form = Form(page)
    assert form.selects == SUGGESTED
    assert form.options["column-0"][:3] == ["", "first_name", "last_name"]  # "Don't import" first
    assert form.checked == {"match_on": ["email"], "on_match": ["skip"]}
    assert "5 columns" in page and "leads.csv" in page
    first, second = broken_csv.rows[1], broken_csv.rows[2]
    assert f"{first[2]} · {second[2]}" in page  # sample values to recognise a column by


def test_a_file_that_cannot_be_imported_is_refused_with_the_reason(admin_client):
    url = reverse("imports:list")
    for file, reason in [
        (SimpleUploadedFile("contacts.pdf", b"%PDF-1.7"),
         "Import a CSV, Excel (.xlsx) or vCard (.vcf) file."),
        (SimpleUploadedFile("contacts.csv", b""), "The file is empty."),
        (SimpleUploadedFile("contacts.xlsx", b"%PDF-1.7\n" + b"x" * 100),
         "This Excel file is damaged and cannot be opened."),
    ]:
        response = admin_client.post(url, {"file": file, "object_type": "contact"})
        assert response.status_code == 200 and reason in response.content.decode(), reason
    assert not ImportJob.objects.exists()


def test_a_bad_mapping_shows_the_problem_and_stays_on_the_columns_page(admin_client, broken_csv):
    job = upload(admin_client, broken_csv())
    url = reverse("imports:columns", args=[job.pk])

    nothing = admin_client.post(url, columns_form({key: "" for key in SUGGESTED}))
    assert nothing.status_code == 200
    assert "Map a column to First name, Last name, Full name or Email" in nothing.content.decode()

    twice = admin_client.post(url, columns_form({"column-1": "email"}, on_match="fill"))
    page = twice.content.decode()
    assert twice.status_code == 200 and "all go to Email; choose one of them" in page
    form = Form(page)
    assert form.selects["column-1"] == "email" and form.checked["on_match"] == ["fill"]  # as posted
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT and job.mapping["Last Name"] == "last_name"  # unchanged


def test_a_saved_mapping_is_offered_for_the_next_file_and_applied(admin_client, broken_csv):
    first = upload(admin_client, broken_csv())
    response = admin_client.post(reverse("imports:columns", args=[first.pk]), columns_form(
        {"column-4": ""}, match_on=["email", "phone"], on_match="fill", save_as="Trade show leads"))
    assert response.status_code == 302
    saved = SavedMapping.objects.get(name="Trade show leads")
    assert saved.mapping["Company"] == "" and saved.on_match == "fill"

    second = upload(admin_client, broken_csv("more-leads.csv"))
    url = reverse("imports:columns", args=[second.pk])
    offered = admin_client.get(url).content.decode()
    assert "Use a saved mapping" in offered and Form(offered).options["saved"] == [str(saved.pk)]

    applied = Form(admin_client.get(f"{url}?saved={saved.pk}").content.decode())
    assert applied.selects == {**SUGGESTED, "column-4": "", "saved": str(saved.pk)}
    assert applied.checked == {"match_on": ["email", "phone"], "on_match": ["fill"]}


def test_the_preview_shows_what_each_row_will_do_and_its_problems(admin_client, broken_csv):
    job = configured(admin_client, broken_csv())

    page = admin_client.get(reverse("imports:preview", args=[job.pk])).content.decode()

    assert page.count('<span class="badge badge-done">Create</span>') == 10
    assert page.count('<span class="badge badge-overdue">Fail</span>') == 2
    assert "2 of them have problems" in page
    assert "<strong>Email</strong> (“not-an-email”): An email address must have an @-sign." in page
    assert "Row has 6 values but the header has 5 columns." in page
    assert page.count('class="row-problem"') == 2
    assert Contact.objects.count() == 0  # a preview stores nothing
    assert "Import the file" in page


@pytest.mark.django_db(transaction=True)  # the import runs after commit, as on a worker
def test_starting_the_import_runs_it_and_opens_its_page(admin_client, broken_csv):
    job = configured(admin_client, broken_csv())

    response = admin_client.post(reverse("imports:start", args=[job.pk]))

    assert response.status_code == 302 and response.url == reverse("imports:detail", args=[job.pk])
    page = admin_client.get(response.url).content.decode()
    assert "Finished" in page and 'max="100" value="100"' in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    assert '<span class="stat-value">10</span><span class="stat-label">Created</span>' in page
    assert '<span class="stat-value">2</span><span class="stat-label">Failed</span>' in page
    assert "<td>6</td><td>Email</td>" in page and "<td>11</td><td>—</td>" in page
    assert Contact.objects.count() == 10
    # Started once: a second press changes nothing.
    again = admin_client.post(reverse("imports:start", args=[job.pk]), follow=True)
    assert "This import has already started." in again.content.decode()
    assert Contact.objects.count() == 10


def test_the_progress_poll_gets_only_the_progress_and_keeps_polling_while_running(admin_client, org,
                                                                                   broken_csv):
    job = finished(org, broken_csv())
    url = reverse("imports:detail", args=[job.pk])
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, rows_done=3)

    running = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert running.lstrip().startswith('<div id="import-progress"') and "<html" not in running
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-swap="outerHTML"' in running
    assert 'value="25"' in running and "Importing…" in running  # 3 of 12 rows
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, rows_done=12)
    done = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Finished" in done and "hx-trigger" not in done  # the last poll: it stops
    full = admin_client.get(url).content.decode()
    assert "<html" in full and "Import of leads.csv" in full


def test_a_running_import_shows_its_rate_and_time_left_on_the_page_and_in_the_api(admin_client, org,
                                                                                  broken_csv, api):
    job = finished(org, broken_csv())
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, total_rows=1_000_000, rows_done=400_000, run_started_rows=100_000,
        run_started_at=timezone.now() - datetime.timedelta(seconds=100))  # 300,000 rows in this run

    page = admin_client.get(reverse("imports:detail", args=[job.pk]),
                            headers={"HX-Request": "true"}).content.decode()
    body = api(org.admin).get(f"/imports/{job.pk}").json()

    # About 3,000 rows/s, and 600,000 rows to go: 200 s. (The rate falls as the clock runs on
    # through the requests: the bounds leave them half a minute on a slow machine.)
    rate, left = re.search(r"· ([\d,]+) rows/s\s*· about (\d+) min left", page).groups()
    assert 2_300 <= int(rate.replace(",", "")) <= 3_000 and left in {"3", "4"}
    assert 2_300 <= body["rows_per_second"] <= 3_000 and 200 <= body["seconds_left"] <= 260
    ImportJob.objects.filter(pk=job.pk).update(rows_done=1_000_000)  # stored; now indexing for search
    indexing = admin_client.get(reverse("imports:detail", args=[job.pk]),
                                headers={"HX-Request": "true"}).content.decode()
    assert "rows/s" not in indexing and "left" not in indexing


def test_the_failed_rows_download_is_a_csv_to_fix_and_import_again(admin_client, org, broken_csv):
    job = finished(org, broken_csv())

    response = admin_client.get(reverse("imports:failed_rows", args=[job.pk]))

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="import-{job.pk}-failed-rows.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [*HEADERS, "Import problems"]
    assert [row[-1].split(":")[0] for row in rows[1:]] == ["Row 6", "Row 11"]
    assert rows[1][2] == "not-an-email" and "Email: An email address must have an @-sign." in rows[1][-1]


@pytest.mark.django_db(transaction=True)  # the undo runs after commit, as on a worker
def test_the_undo_button_takes_the_import_back(admin_client, org, broken_csv):
    job = finished(org, broken_csv())
    assert Contact.objects.count() == 10
    detail = admin_client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert f'action="{reverse("imports:undo", args=[job.pk])}"' in detail

    response = admin_client.post(reverse("imports:undo", args=[job.pk]), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("imports:detail", args=[job.pk])
    assert "Undone" in page and "Undo import" not in page
    assert Contact.objects.count() == 0 and Contact.all_objects.count() == 10  # in the trash
    job.refresh_from_db()
    assert job.status == ImportStatus.UNDONE


def test_another_users_import_is_not_found(client, org, broken_csv):
    job = services.import_create(actor=org.sales_a1, upload=broken_csv(), object_type="contact")
    client.force_login(org.sales_b1)

    for name in ("detail", "columns", "preview", "failed_rows"):
        assert client.get(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    for name in ("start", "undo", "discard"):
        assert client.post(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    assert "leads.csv" not in client.get(reverse("imports:list")).content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT

    client.force_login(org.sales_a1)
    assert client.get(reverse("imports:columns", args=[job.pk])).status_code == 200


def test_the_contact_and_company_lists_link_to_imports(admin_client):
    contacts = admin_client.get(reverse("contacts:list")).content.decode()
    assert f'<a class="btn" href="{reverse("imports:list")}?type=contact">Import</a>' in contacts
    companies = admin_client.get(reverse("companies:list")).content.decode()
    assert f'href="{reverse("imports:list")}?type=company">Import</a>' in companies
