"""Importing contacts and companies: suggested columns, the same cleaning as a typed record,
duplicate policies, rows repeated in the file, failed rows to fix and send again, a run that
dies and resumes, undo, scopes, the API and the terminal command."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.contacts.models import Company, Contact
from rapport.contacts.services import contact_create, contact_update
from rapport.core.errors import ValidationFailed
from rapport.core.models import Event, SearchDocument
from rapport.transfer import engine, services
from rapport.transfer.cells import neutralised, restored
from rapport.transfer.models import ImportJob, ImportStatus
from rapport.transfer.plan import clean_batch
from rapport.transfer.readers import open_table
from rapport.transfer.selectors import failed_rows_csv, preview

HUBSPOT = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
           "Job Title", "Company Name", "Lifecycle Stage", "Contact owner", "Country/Region"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_file(headers, rows, name="contacts.csv", **fmt) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer, **fmt)
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def run_import(actor, upload, *, object_type="contact", mapping=None, match_on=None,
               on_match="skip", batch_size=engine.BATCH) -> ImportJob:
    job = services.import_create(actor=actor, upload=upload, object_type=object_type)
    services.import_configure(actor=actor, job_id=job.pk, mapping=mapping or job.mapping,
                              match_on=job.match_on if match_on is None else match_on,
                              on_match=on_match)
    services.import_start(actor=actor, job_id=job.pk, in_background=False)
    return engine.run(job.pk, batch_size=batch_size)


def hubspot_row(i, **overrides):
    row = {"Record ID": f"hs-{i}", "First Name": f"ada{i}", "Last Name": "LOVELACE",
           "Email": f"Ada{i}@Example.com", "Phone Number": "+44 20 7946 0958",
           "Mobile Phone Number": "", "Job Title": "Engineer", "Company Name": "Analytical Engines",
           "Lifecycle Stage": "Marketing Qualified Lead", "Contact owner": "sales.a1@acme.example",
           "Country/Region": "United Kingdom"}
    row.update(overrides)
    return [row[h] for h in HUBSPOT]


def test_a_hubspot_export_imports_with_its_columns_matched_and_values_cleaned(org):
    upload = csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2, **{"Company Name": "analytical ENGINES"})])
    job = services.import_create(actor=org.admin, upload=upload, object_type="contact")
    assert job.mapping["Email"] == "email" and job.mapping["Company Name"] == "company"
    assert job.mapping["Record ID"] == "external_id"

    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2)]))

    assert (job.status, job.created_count, job.failed_count) == (ImportStatus.DONE, 2, 0)
    ada = Contact.objects.get(email="ada1@example.com")
    assert (ada.first_name, ada.last_name) == ("ada1", "Lovelace")  # all-caps names tidied
    assert ada.phone == "+442079460958" and ada.country == "GB"
    assert ada.lifecycle_stage == "marketing_qualified" and ada.external_id == "hs-1"
    assert ada.owner == org.sales_a1 and ada.created_by == org.admin
    assert Company.objects.filter(name="Analytical Engines").count() == 1
    assert ada.company.name == "Analytical Engines"
    assert SearchDocument.objects.filter(object_type="contact", object_id=ada.pk).exists()
    assert Event.objects.filter(type="contact.created", object_id=ada.pk, source="ui").exists()


def test_bad_rows_are_reported_by_row_column_value_and_reason_and_good_rows_are_stored(org):
    rows = [hubspot_row(1), hubspot_row(2, Email="not-an-email"), hubspot_row(3),
            hubspot_row(4, **{"Phone Number": "12"}), hubspot_row(5, **{"Lifecycle Stage": "Zombie"})]
    job = run_import(org.admin, csv_file(HUBSPOT, rows))

    assert (job.created_count, job.failed_count) == (2, 3)
    problems = {f.row_number: f.problems for f in job.failures.all()}
    assert problems[3][0]["column"] == "Email" and problems[3][0]["value"] == "not-an-email"
    assert problems[5][0]["column"] == "Phone Number" and "phone" in problems[5][0]["reason"]
    assert problems[6][0] == {"column": "Lifecycle Stage", "value": "Zombie",
                              "reason": "Unknown lifecycle stage."}
    assert not Contact.objects.filter(email__in=["not-an-email"]).exists()


def test_the_failed_rows_download_can_be_fixed_and_imported_again(org):
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2, Email="nope@")]))
    text = "".join(failed_rows_csv(job)).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [*HUBSPOT, "Import problems"]
    assert rows[1][HUBSPOT.index("Email")] == "nope@" and rows[1][-1].startswith("Row 3: Email:")

    rows[1][HUBSPOT.index("Email")] = "fixed@example.com"
    again = run_import(org.admin, csv_file(rows[0], rows[1:]))
    assert again.mapping["Import problems"] == ""
    assert (again.created_count, again.failed_count) == (1, 0)
    assert Contact.objects.filter(email="fixed@example.com").exists()


@pytest.mark.parametrize(("policy", "title", "city_kept"), [
    ("skip", "Countess", True), ("fill", "Countess", True), ("overwrite", "Engineer", True)])
def test_a_row_matching_an_existing_contact_follows_the_chosen_policy(org, policy, title, city_kept):
    existing = contact_create(actor=org.admin, data={
        "first_name": "Ada", "email": "ada1@example.com", "title": "Countess", "city": "London"})
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1)]), on_match=policy)

    existing.refresh_from_db()
    assert Contact.objects.count() == 1
    assert existing.title == title and existing.city == "London"
    if policy == "skip":
        assert (job.skipped_count, job.updated_count) == (1, 0) and existing.phone == ""
    else:
        assert job.updated_count == 1 and existing.phone == "+442079460958"  # was empty: filled


def test_matching_on_phone_or_external_id_finds_the_same_record(org):
    existing = contact_create(actor=org.admin, data={"first_name": "Ada", "phone": "+442079460958",
                                                     "external_id": "hs-9"})
    run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1, **{"Record ID": "x"})]),
               match_on=["phone"], on_match="fill")
    existing.refresh_from_db()
    assert existing.email == "ada1@example.com" and Contact.objects.count() == 1

    run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(7, **{"Record ID": "hs-9", "Phone Number": ""})]),
               match_on=["external_id"], on_match="overwrite")
    existing.refresh_from_db()
    assert existing.email == "ada7@example.com" and "ada1@example.com" in existing.emails


def test_an_email_taken_by_an_existing_contact_is_not_duplicated_when_not_matching_on_email(org):
    contact_create(actor=org.admin, data={"first_name": "Ada", "email": "ada1@example.com"})
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1)]), match_on=["phone"])
    assert job.failed_count == 1 and "match on email" in job.failures.get().problems[0]["reason"]
    assert Contact.objects.count() == 1


def test_rows_repeated_in_the_file_are_merged_into_one_record_across_batches(org):
    rows = [hubspot_row(1, **{"Mobile Phone Number": "+44 7911 123456", "Job Title": ""}),
            hubspot_row(2), hubspot_row(3),
            hubspot_row(1, **{"Phone Number": "+44 20 7946 0000", "Job Title": "Analyst"})]
    job = run_import(org.admin, csv_file(HUBSPOT, rows), batch_size=2)

    assert (job.created_count, job.merged_count) == (3, 1)
    ada = Contact.objects.get(email="ada1@example.com")
    assert ada.title == "Analyst"  # empty in the first row, filled by the repeat
    assert set(ada.phones) == {"+447911123456", "+442079460000"}

    same_batch = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(8), hubspot_row(8)]))
    assert (same_batch.created_count, same_batch.merged_count) == (1, 1)


class Crash(BaseException):
    """A worker dying: not an Exception, so nothing in the engine catches it."""


def test_a_run_that_dies_resumes_after_its_last_committed_row_without_duplicates(org):
    rows = [hubspot_row(i) for i in range(10)]
    job = services.import_create(actor=org.admin, upload=csv_file(HUBSPOT, rows), object_type="contact")
    services.import_start(actor=org.admin, job_id=job.pk, in_background=False)

    def die_after_two_batches(progress):
        if progress.rows_done >= 6:
            raise Crash()

    with pytest.raises(Crash):
        engine.run(job.pk, batch_size=3, progress=die_after_two_batches)
    job.refresh_from_db()
    assert (job.status, job.last_row, Contact.objects.count()) == (ImportStatus.RUNNING, 7, 6)

    job = engine.run(job.pk, batch_size=3)
    assert (job.status, job.rows_done, job.created_count) == (ImportStatus.DONE, 10, 10)
    assert Contact.objects.count() == 10


def test_a_run_whose_import_was_taken_over_commits_nothing(org):
    job = services.import_create(actor=org.admin, upload=csv_file(HUBSPOT, [hubspot_row(1)]),
                                 object_type="contact")
    services.import_start(actor=org.admin, job_id=job.pk, in_background=False)
    stale = engine._claim(job.pk)
    engine._claim(job.pk)  # another worker takes it over
    settings = engine.settings_for(stale)
    plans = clean_batch(settings, open_table(stale.file.path, filename=stale.file_name).rows())
    with pytest.raises(engine.LostClaim):
        engine._run_batch(stale, settings, plans)
    assert Contact.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # the undo job runs after commit, as on a worker
def test_undo_trashes_what_was_created_and_puts_back_what_was_updated(org):
    kept = contact_create(actor=org.admin, data={"first_name": "Kept", "email": "ada2@example.com"})
    touched = contact_create(actor=org.admin, data={"first_name": "Touched", "email": "ada3@example.com"})
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2), hubspot_row(3)]),
                     on_match="overwrite")
    assert (job.created_count, job.updated_count) == (1, 2)
    contact_update(actor=org.admin, contact_id=touched.pk, data={"city": "Paris"})  # edited since

    services.import_undo(actor=org.admin, job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportStatus.UNDONE and "1 updated record was changed" in job.undo_note
    assert not Contact.objects.filter(email="ada1@example.com").exists()
    assert not Company.objects.filter(name="Analytical Engines").exists()  # created by the import
    kept.refresh_from_db()
    assert (kept.first_name, kept.title, kept.phone) == ("Kept", "", "")
    touched.refresh_from_db()
    assert touched.first_name == "ada3" and touched.city == "Paris"


def test_an_import_never_touches_records_its_user_may_not_see(org):
    theirs = contact_create(actor=org.sales_b1, data={"first_name": "Bob's", "email": "ada1@example.com"})
    job = run_import(org.sales_a1, csv_file(HUBSPOT, [hubspot_row(1)]), on_match="overwrite")
    assert job.failed_count == 1
    assert "cannot see" in job.failures.get().problems[0]["reason"]
    theirs.refresh_from_db()
    assert theirs.first_name == "Bob's" and theirs.version == 1


def test_the_preview_shows_rows_as_stored_and_writes_nothing(org):
    job = services.import_create(actor=org.admin, object_type="contact", upload=csv_file(
        HUBSPOT, [hubspot_row(1), hubspot_row(2, Email="bad"), hubspot_row(1)]))
    plans = preview(job)
    assert [p.action for p in plans] == ["create", "fail", "merge"]
    assert plans[0].data["email"] == "ada1@example.com" and plans[0].company == "Analytical Engines"
    assert Contact.objects.count() == 0 and Company.objects.count() == 0


def test_planning_a_batch_costs_the_same_queries_for_10_rows_as_for_200(org):
    contact_create(actor=org.admin, data={"first_name": "Ada", "email": "ada5@example.com"})

    def queries_for(count):
        job = services.import_create(actor=org.admin, object_type="contact", upload=csv_file(
            HUBSPOT, [hubspot_row(i) for i in range(count)]))
        with CaptureQueriesContext(connection) as captured:
            preview(job, rows=count)
        return len(captured)

    assert queries_for(10) == queries_for(200)


def test_the_mapping_and_policy_are_validated_and_name_the_problem(org):
    job = services.import_create(actor=org.admin, upload=csv_file(HUBSPOT, [hubspot_row(1)]),
                                 object_type="contact")
    with pytest.raises(ValidationFailed) as caught:
        services.import_configure(actor=org.admin, job_id=job.pk, mapping={"Nope": "email"},
                                  match_on=["fax"], on_match="explode")
    assert set(caught.value.fields) == {"mapping", "match_on", "on_match"}
    with pytest.raises(ValidationFailed) as caught:
        services.import_create(actor=org.admin, object_type="contact",
                               upload=SimpleUploadedFile("contacts.xls", b"\xd0\xcf\x11\xe0"))
    assert "file" in caught.value.fields


def test_formula_cells_are_neutralised_and_restored_on_the_way_back():
    for value in ["=HYPERLINK(\"http://evil\")", "+1 415 555", "-2", "@SUM(A1)", "\tx", "\rx"]:
        assert neutralised(value).startswith("'") and restored(neutralised(value)) == value
    assert neutralised("Ada") == "Ada" and restored("'quoted") == "'quoted"


@pytest.mark.django_db(transaction=True)  # the import job runs after commit, as on a worker
def test_the_api_takes_a_file_and_reports_the_job(org, api):
    client = api(org.admin)
    upload = csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2, Email="bad")])
    response = client.client.post("/api/v1/imports", {"file": upload, "object_type": "contact",
                                                      "match_on": "email", "on_match": "fill"},
                                  headers={**client.headers, "Idempotency-Key": "import-1"})
    assert response.status_code == 202, response.content
    body = response.json()
    job = client.get(f"/imports/{body['id']}").json()
    assert (job["status"], job["created"], job["failed"]) == ("done", 1, 1)
    assert job["errors"][0] == {"row": 3, "column": "Email", "value": "bad",
                                "reason": job["errors"][0]["reason"]}
    failed = client.get(job["failed_rows_url"])
    assert failed.status_code == 200 and b"Import problems" in b"".join(failed.streaming_content)
    assert api(org.sales_b1).get(f"/imports/{body['id']}").status_code == 404

    upload.seek(0)
    replay = client.client.post("/api/v1/imports", {"file": upload, "object_type": "contact",
                                                    "match_on": "email", "on_match": "fill"},
                                headers={**client.headers, "Idempotency-Key": "import-1"})
    assert replay.json()["id"] == body["id"] and ImportJob.objects.count() == 1


def test_the_api_imports_with_a_saved_mapping_named_and_refuses_an_unknown_one(org, api):
    services.mapping_save(actor=org.admin, name="Titles", object_type="contact",
                          mapping={"Email": "email", "Job Title": "title"}, match_on=["email"],
                          on_match="fill")
    client = api(org.admin)

    response = client.client.post("/api/v1/imports", {
        "file": csv_file(HUBSPOT, [hubspot_row(1)]), "saved_mapping": "Titles", "start": "false"},
        headers=client.headers)

    assert response.status_code == 201, response.content
    job = ImportJob.objects.get(pk=response.json()["id"])
    assert {h: t for h, t in job.mapping.items() if t} == {"Email": "email", "Job Title": "title"}
    assert (job.match_on, job.on_match) == (["email"], "fill")
    unknown = client.client.post("/api/v1/imports", {
        "file": csv_file(HUBSPOT, [hubspot_row(1)]), "saved_mapping": "Salesforce"}, headers=client.headers)
    assert unknown.status_code == 422 and "saved_mapping" in unknown.json()["error"]["fields"]
    assert ImportJob.objects.count() == 1


def test_the_api_refuses_a_bad_upload_with_the_field_named(org, api):
    client = api(org.admin)
    response = client.client.post("/api/v1/imports", {
        "file": csv_file(HUBSPOT, [hubspot_row(1)]), "object_type": "deal"}, headers=client.headers)
    assert response.status_code == 422 and "object_type" in response.json()["error"]["fields"]
    response = client.client.post("/api/v1/imports", {
        "file": csv_file(HUBSPOT, [hubspot_row(1)]), "mapping": "{not json"}, headers=client.headers)
    assert response.status_code == 422 and "mapping" in response.json()["error"]["fields"]
    assert ImportJob.objects.count() == 0


def test_the_command_imports_with_a_dry_run_first(org, tmp_path, capsys):
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2, Email="bad")]).read())

    call_command("import", "contacts", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "1 created" in out and "1 failed" in out and "row 3: Email:" in out
    assert "nothing was stored" in out and Contact.objects.count() == 0

    call_command("import", "contacts", str(path))
    assert Contact.objects.count() == 1


def test_the_command_takes_a_saved_mapping_or_a_json_file_and_shows_its_progress(org, tmp_path, capsys):
    contact_create(actor=org.admin, data={"email": "ada1@example.com", "title": ""})
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_file(HUBSPOT, [hubspot_row(1), hubspot_row(2)]).read())
    mapping = {"First Name": "first_name", "Email": "email", "Job Title": "title"}
    services.mapping_save(actor=org.admin, name="HubSpot, titles only", object_type="contact",
                          mapping=mapping, match_on=["email"], on_match="fill")

    call_command("import", "contacts", str(path), "--mapping", "HubSpot, titles only")

    out, err = capsys.readouterr()
    assert "1 created, 1 updated" in out
    assert "100%  2 of 2 rows" in err and "rows/s" in err  # the progress bar, on stderr
    ada1, ada2 = Contact.objects.order_by("pk")
    assert (ada1.title, ada1.last_name) == ("Engineer", "")  # filled from the row, by the saved policy
    assert (ada2.first_name, ada2.last_name, ada2.company_id) == ("ada2", "", None)  # only mapped columns

    (tmp_path / "mapping.json").write_text(json.dumps({"Email": "email", "Last Name": "last_name"}))
    call_command("import", "contacts", str(path), "--mapping", str(tmp_path / "mapping.json"),
                 "--on-match", "overwrite")
    assert Contact.objects.get(pk=ada1.pk).last_name == "Lovelace"
    with pytest.raises(CommandError, match="No saved mapping or file named Salesforce"):
        call_command("import", "contacts", str(path), "--mapping", "Salesforce")


def test_the_api_lists_imports_with_their_first_problems_in_a_fixed_number_of_queries(
        org, api, django_assert_max_num_queries):
    client = api(org.admin)
    client.get("/imports")  # the token's first use is written once; not part of the count
    for _ in range(3):
        run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(1, Email="bad"), hubspot_row(2, Email="x@")]))
    with django_assert_max_num_queries(4):  # token, jobs with their users, failures
        items = client.get("/imports").json()["items"]
    assert [len(item["errors"]) for item in items] == [2, 2, 2]
    assert items[0]["errors"][0]["row"] == 2
