"""An import in real Chromium: from the contact list to the columns, a saved mapping, the preview,
live progress through htmx, the failed rows download and undo; and the import pages on a phone."""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.roles import Role
from rapport.accounts.services import user_create
from rapport.contacts.models import Contact
from rapport.transfer import engine, services
from rapport.transfer.models import ImportJob, SavedMapping
from tests import transfer_files as files

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Browser-pass-2026"
ROWS = 300
BAD_ROW = 152  # the file row (header = row 1) whose email is not one


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dana(db):
    return user_create(actor=None, email="dana@acme.example", full_name="Dana Demo", role=Role.ADMIN,
                       password=PASSWORD)


@pytest.fixture
def page(browser, live_server, dana):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())  # "Undo this import?"
    page.goto("/login/")
    page.get_by_label("Email").fill("dana@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    yield page
    context.close()
    assert errors == [], errors  # no CSP violations or script errors on any page


@pytest.fixture
def leads_csv(tmp_path):
    """ROWS contacts from a trade show, one of them (file row BAD_ROW) with a broken email."""
    data = [[files.FIRST_NAMES[i % 20], files.LAST_NAMES[i % 18],
             "not-an-email" if i + 2 == BAD_ROW else f"lead{i}@example.com", files.us_phone(i),
             files.COMPANIES[i % 10]] for i in range(ROWS)]
    return files.write_csv(tmp_path / "trade-show-leads.csv", files.CONTACT_HEADERS, data)


@pytest.fixture
def no_worker(monkeypatch):
    """Imports stay queued until the test itself runs them, as a worker would, so the page can be
    watched while it works."""
    queued = []
    monkeypatch.setattr(services, "_enqueue_run", queued.append)
    return queued


def test_importing_a_file_from_the_contact_list_to_undo(page, leads_csv, no_worker):
    from playwright.sync_api import expect

    page.goto("/contacts/")
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()
    page.get_by_label("File", exact=True).set_input_files(str(leads_csv))
    page.get_by_role("button", name="Upload and choose columns").click()

    # Step 2: every column matched for us.
    expect(page.get_by_role("heading", name="Choose columns")).to_be_visible()
    for header, field in zip(files.CONTACT_HEADERS, ["first_name", "last_name", "email", "phone", "company"],
                             strict=True):
        expect(page.get_by_role("combobox", name=header, exact=True)).to_have_value(field)
    expect(page.get_by_text("lead0@example.com · lead1@example.com")).to_be_visible()
    page.get_by_label("Name (optional)").fill("Trade show leads")
    page.get_by_role("button", name="Preview").click()

    # Step 3: the first rows as they will be stored; nothing stored yet.
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    expect(page.locator(".badge", has_text="Create")).to_have_count(20)
    assert SavedMapping.objects.filter(name="Trade show leads").exists()
    assert Contact.objects.count() == 0
    page.get_by_role("button", name=re.compile("^Import")).click()

    # Queued: the page polls for progress while the worker works through the file.
    expect(page.get_by_role("heading", name=re.compile("Waiting for a worker"))).to_be_visible()
    progress = page.locator("#import-progress")
    assert page.locator("progress.import-bar").count() == 1
    [job_id] = no_worker

    def batch_committed(job):
        if job.rows_done == 100:  # the page catches up by itself, a poll a second
            expect(progress).to_contain_text("100 of 300 rows")
            expect(page.locator("#progress-heading")).to_contain_text("Importing…")
            expect(page.locator("progress.import-bar")).to_have_attribute("value", "33")

    engine.run(job_id, batch_size=100, progress=batch_committed)

    expect(page.locator("#progress-heading")).to_contain_text("Finished")
    expect(page.locator("progress.import-bar")).to_have_attribute("value", "100")
    expect(progress.locator(".stat", has_text="Created").locator(".stat-value")).to_have_text("299")
    expect(progress.locator(".stat", has_text="Failed").locator(".stat-value")).to_have_text("1")
    expect(progress.get_by_role("row", name=re.compile(f"^{BAD_ROW} Email"))).to_be_visible()
    assert Contact.objects.count() == ROWS - 1

    # The failed rows, to fix in a spreadsheet and import again.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the failed rows (CSV)").click()
    assert download.value.suggested_filename == f"import-{job_id}-failed-rows.csv"
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0] == [*files.CONTACT_HEADERS, "Import problems"] and len(rows) == 2
    assert rows[1][2] == "not-an-email"
    assert rows[1][-1] == f"Row {BAD_ROW}: Email: An email address must have an @-sign."

    # Undo: what the import created goes to the trash.
    page.get_by_role("button", name="Undo import").click()
    expect(page.locator("#progress-heading")).to_contain_text("Undone")
    expect(page.get_by_role("button", name="Undo import")).to_have_count(0)
    assert Contact.objects.count() == 0 and Contact.all_objects.count() == ROWS - 1


def test_the_import_pages_fit_a_phone(page, dana, leads_csv):
    def upload():
        return services.import_create(actor=dana, object_type="contact", upload=SimpleUploadedFile(
            leads_csv.name, leads_csv.read_bytes()))

    done = upload()
    services.import_start(actor=dana, job_id=done.pk, in_background=False)
    engine.run(done.pk)
    draft = upload()
    assert ImportJob.objects.get(pk=done.pk).failed_count == 1

    page.set_viewport_size({"width": 390, "height": 844})
    for path in ["/settings/imports/", f"/settings/imports/{draft.pk}/columns/",
                 f"/settings/imports/{draft.pk}/preview/", f"/settings/imports/{done.pk}/"]:
        page.goto(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 390px"
        wide = page.evaluate("""() => [...document.querySelectorAll('table')]
            .filter(t => !t.closest('.table-wrap')).length""")
        assert wide == 0, f"{path} has a table outside .table-wrap"
    assert page.locator("progress.import-bar").bounding_box()["width"] > 250  # the whole width
