"""Importing leads: other CRMs' lead exports matched column by column, each new lead without an
owner assigned by the lead assignment rules row by row (as one typed in is), bad rows reported,
rows repeated in the file merged, existing leads matched by email or phone, undo, scopes, the
terminal command, the API, the pages, and exporting leads back."""

import csv
import io
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from rapport.accounts.roles import Role
from rapport.accounts.services import team_create, user_create
from rapport.core.models import Event, SearchDocument
from rapport.sales import lead_services
from rapport.sales.models import AssignmentRule, Lead
from rapport.transfer import engine, exporting, services
from rapport.transfer.models import ExportJob, ImportJob, ImportStatus
from rapport.transfer.selectors import failed_rows_csv, preview
from tests.conftest import PASSWORD
from tests.test_imports import csv_file, run_import

# A Salesforce lead report, as it writes its headers.
SALESFORCE = ["First Name", "Last Name", "Title", "Company / Account", "Email", "Phone",
              "Lead Source", "Lead Status", "No. of Employees", "Country", "Rating"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def pair(org):
    """A team of two sellers (ids ascending) and a round robin rule over it."""
    team = team_create(actor=org.admin, name="Inbound")
    members = [user_create(actor=org.admin, email=f"in{i}@acme.example", full_name=f"Inbound {i}",
                           role=Role.SALES, team_id=team.pk, password=PASSWORD) for i in range(2)]
    return team, members


def salesforce_row(i, **overrides):
    row = {"First Name": f"grace{i}", "Last Name": "HOPPER", "Title": "Rear Admiral",
           "Company / Account": "  Navy  Labs ", "Email": f"Grace{i}@Navy.example",
           "Phone": "+1 415 555 0123", "Lead Source": "Trade Show", "Lead Status": "Open - Not Contacted",
           "No. of Employees": "120", "Country": "United States", "Rating": "Hot"}
    row.update(overrides)
    return [row[h] for h in SALESFORCE]


def leads_csv(rows, headers=SALESFORCE, name="leads.csv"):
    return csv_file(headers, rows, name=name)


def import_leads(actor, rows, headers=SALESFORCE, **options):
    return run_import(actor, leads_csv(rows, headers), object_type="lead", **options)


def event_types(lead):
    return list(Event.objects.filter(object_type="lead", object_id=lead.pk).order_by("id")
                .values_list("type", flat=True))


# Columns and cleaning --------------------------------------------------------------------

def test_lead_export_headers_are_matched_to_lead_fields(org):
    job = services.import_create(actor=org.admin, upload=leads_csv([salesforce_row(1)]),
                                 object_type="lead")
    assert job.mapping == {
        "First Name": "first_name", "Last Name": "last_name", "Title": "title",
        "Company / Account": "company_name", "Email": "email", "Phone": "phone",
        "Lead Source": "source", "Lead Status": "status", "No. of Employees": "company_size",
        "Country": "country", "Rating": ""}
    assert job.match_on == ["email"]

    hubspot = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
               "Company Name", "Job Title", "Lead Status", "Original Source", "Contact owner",
               "HubSpot Score", "Street Address", "Lifecycle Stage"]
    job = services.import_create(actor=org.admin, upload=csv_file(hubspot, []),
                                 object_type="lead")
    assert job.mapping == {
        "Record ID": "", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Phone Number": "phone", "Mobile Phone Number": "", "Company Name": "company_name",
        "Job Title": "title", "Lead Status": "status", "Original Source": "source",
        "Contact owner": "owner", "HubSpot Score": "score", "Street Address": "",
        "Lifecycle Stage": ""}


def test_a_salesforce_lead_report_imports_cleaned_like_a_typed_lead(org):
    job = import_leads(org.admin, [salesforce_row(1), salesforce_row(2, **{
        "Lead Status": "Working - Contacted", "Lead Source": "", "No. of Employees": ""})])

    assert (job.status, job.created_count, job.failed_count) == (ImportStatus.DONE, 2, 0)
    grace = Lead.objects.get(email="grace1@navy.example")
    assert (grace.first_name, grace.last_name, grace.title) == ("grace1", "Hopper", "Rear Admiral")
    assert grace.company_name == "Navy Labs" and grace.company_size == "51-200"
    assert (grace.phone, grace.country) == ("+14155550123", "US")
    assert (grace.status, grace.source) == ("new", "event")
    assert grace.created_by == org.admin
    other = Lead.objects.get(email="grace2@navy.example")
    assert (other.status, other.source) == ("working", "import")  # no source: an import's
    assert SearchDocument.objects.filter(object_type="lead", object_id=grace.pk).exists()
    assert event_types(grace)[0] == "lead.created"


# Assignment ------------------------------------------------------------------------------

def test_each_imported_lead_without_an_owner_is_assigned_by_the_rules_row_by_row(org, pair):
    team, (first, second) = pair
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "German leads to Sue", "conditions": [{"field": "country", "op": "eq", "value": "DE"}],
        "action": "user", "user_id": org.sales_a2.pk})
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "Everyone else in turn", "action": "round_robin", "team_id": team.pk})
    headers = [*SALESFORCE, "Lead Owner"]
    rows = [[*salesforce_row(i, Country="Germany" if i == 3 else "France"),
             "sales.b1@acme.example" if i == 5 else ""] for i in range(1, 8)]

    job = import_leads(org.admin, rows, headers=headers, batch_size=3)

    assert job.created_count == 7
    owners = [lead.owner_id for lead in Lead.objects.order_by("email")]
    # Row 3 matches the first rule, row 5 names its owner; the rest alternate.
    assert owners == [first.pk, second.pk, org.sales_a2.pk, first.pk, org.sales_b1.pk,
                      second.pk, first.pk]
    alternating = Lead.objects.get(email="grace2@navy.example")
    assert event_types(alternating) == ["lead.created", "lead.assigned"]
    assigned = Event.objects.get(type="lead.assigned", object_id=alternating.pk)
    assert assigned.data["method"] == "rule" and assigned.data["owner_id"] == second.pk
    named = Lead.objects.get(email="grace5@navy.example")
    assert event_types(named) == ["lead.created"]  # its owner came with it


def test_least_loaded_counts_the_leads_the_same_import_just_assigned(org, pair):
    team, members = pair
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "Least loaded", "action": "least_loaded", "team_id": team.pk})
    job = import_leads(org.admin, [salesforce_row(i) for i in range(10)])
    assert job.created_count == 10
    assert Counter(Lead.objects.values_list("owner_id", flat=True)) == {m.pk: 5 for m in members}


def test_without_rules_the_fallback_owner_and_then_the_importer_get_the_leads(org):
    job = import_leads(org.sales_a1, [salesforce_row(1)])
    assert Lead.objects.get().owner == org.sales_a1 and job.created_count == 1
    lead_services.lead_settings_update(actor=org.admin, data={"fallback_owner_id": org.manager_a.pk})
    import_leads(org.sales_a1, [salesforce_row(2)])
    fallback = Lead.objects.get(email="grace2@navy.example")
    assert fallback.owner == org.manager_a
    assert Event.objects.get(type="lead.assigned", object_id=fallback.pk).data["method"] == "fallback"


# Bad rows, repeated rows, existing leads -------------------------------------------------

def test_bad_rows_are_reported_by_row_column_and_reason_and_nothing_is_written_for_them(org):
    rows = [salesforce_row(1), salesforce_row(2, Email="not-an-email"),
            salesforce_row(3, **{"Lead Status": "Zombie"}),
            salesforce_row(4, **{"First Name": "", "Last Name": "", "Email": ""}),
            salesforce_row(5, **{"Lead Status": "Closed - Not Converted"}),
            salesforce_row(6, **{"Lead Source": "Carrier pigeon"}), salesforce_row(7)]
    job = import_leads(org.admin, rows)

    assert (job.created_count, job.failed_count) == (2, 5)
    assert set(Lead.objects.values_list("email", flat=True)) == {
        "grace1@navy.example", "grace7@navy.example"}
    problems = {f.row_number: f.problems for f in job.failures.all()}
    assert problems[3][0]["column"] == "Email" and problems[3][0]["value"] == "not-an-email"
    assert problems[4][0]["column"] == "Lead Status" and problems[4][0]["value"] == "Zombie"
    assert problems[4][0]["reason"].startswith("Unknown lead status; use one of: New, Working")
    assert problems[5][0]["column"] == "First Name"
    assert problems[5][0]["reason"] == "Enter a name or an email address."
    assert problems[6][0]["reason"] == "Say why the lead is disqualified."
    assert problems[7][0]["column"] == "Lead Source"
    text = "".join(failed_rows_csv(job)).lstrip("\ufeff")
    assert list(csv.reader(io.StringIO(text)))[1][-1].startswith("Row 3: Email:")
    assert Event.objects.filter(type="lead.created").count() == 2


def test_rows_repeated_in_the_file_are_merged_into_one_lead(org):
    rows = [salesforce_row(1, Title=""), salesforce_row(2),
            salesforce_row(1, Email="GRACE1@navy.example", Title="Admiral", Phone="")]
    job = import_leads(org.admin, rows, batch_size=2)  # the repeat comes in the next batch
    assert (job.created_count, job.merged_count) == (2, 1)
    assert Lead.objects.get(email="grace1@navy.example").title == "Admiral"


def test_a_repeated_row_that_would_make_the_lead_invalid_fails_within_a_batch_as_across(org):
    headers = [*SALESFORCE, "Disqualified Reason"]
    # New (its status left empty), then disqualified with a reason: each valid alone.
    rows = [[*salesforce_row(1, **{"Lead Status": ""}), ""],
            [*salesforce_row(1, **{"Lead Status": "Disqualified"}), "Student"],
            [*salesforce_row(2, **{"Lead Status": ""}), ""],
            [*salesforce_row(2, **{"Lead Status": "Disqualified"}), "Student"]]

    previewed = preview(services.import_create(actor=org.admin, upload=leads_csv(rows, headers),
                                               object_type="lead"))

    job = import_leads(org.admin, rows, headers=headers, batch_size=3)  # rows 1-2 together

    assert (job.created_count, job.merged_count, job.failed_count) == (2, 0, 2)
    assert set(Lead.objects.values_list("status", "disqualified_reason")) == {("new", "")}
    together = job.failures.get(row_number=3).problems[0]   # the header is row 1
    assert (together["column"], together["value"]) == ("Disqualified Reason", "Student")
    assert previewed[1].action == "fail" and previewed[1].problems == [together]  # foretold

    assert together["reason"] == ("Together with row 2 (the same record): "
                                  "Only a disqualified lead has a reason.")


@pytest.mark.parametrize(("policy", "title", "phone"), [
    ("skip", "Countess", ""), ("fill", "Countess", "+14155550123"),
    ("overwrite", "Rear Admiral", "+14155550123")])
def test_a_row_matching_an_existing_lead_by_email_follows_the_chosen_policy(org, policy, title, phone):
    existing = lead_services.lead_create(actor=org.admin, data={
        "first_name": "Grace", "email": "grace1@navy.example", "title": "Countess"})
    job = import_leads(org.admin, [salesforce_row(1), salesforce_row(2)], on_match=policy)

    existing.refresh_from_db()
    assert Lead.objects.count() == 2 and job.created_count == 1
    assert (existing.title, existing.phone) == (title, phone)
    if policy == "skip":
        assert (job.skipped_count, job.updated_count) == (1, 0) and existing.version == 1
    else:
        assert (job.skipped_count, job.updated_count) == (0, 1)
        assert event_types(existing)[-1] == "lead.updated"
    assert existing.owner == org.admin  # matched leads keep their owner: no reassignment


def test_a_lead_can_be_matched_on_phone_and_a_repeated_email_is_not_refused(org):
    existing = lead_services.lead_create(actor=org.admin, data={
        "first_name": "Grace", "email": "old@navy.example", "phone": "+1 415 555 0123"})
    job = import_leads(org.admin, [salesforce_row(1)], match_on=["phone"], on_match="fill")
    assert (job.updated_count, job.created_count) == (1, 0)
    existing.refresh_from_db()
    assert existing.email == "old@navy.example" and existing.title == "Rear Admiral"

    # Not matching on email: a lead with the same email is created (leads are not unique).
    lead_services.lead_create(actor=org.admin, data={"first_name": "G", "email": "grace2@navy.example"})
    job = import_leads(org.admin, [salesforce_row(2, Phone="")], match_on=[])
    assert job.created_count == 1
    assert Lead.objects.filter(email="grace2@navy.example").count() == 2


def test_an_import_never_matches_or_updates_leads_its_user_may_not_see(org):
    theirs = lead_services.lead_create(actor=org.sales_b1, data={
        "first_name": "Bob's", "email": "grace1@navy.example"})
    job = import_leads(org.sales_a1, [salesforce_row(1), salesforce_row(2)], on_match="overwrite")
    assert (job.created_count, job.failed_count) == (1, 1)
    assert "lead you cannot see" in job.failures.get().problems[0]["reason"]
    theirs.refresh_from_db()
    assert theirs.first_name == "Bob's" and theirs.version == 1


def test_the_preview_shows_lead_rows_as_stored_and_writes_nothing(org, pair):
    team, _ = pair
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "In turn", "action": "round_robin", "team_id": team.pk})
    job = services.import_create(actor=org.admin, object_type="lead", upload=leads_csv(
        [salesforce_row(1), salesforce_row(2, Email="bad"), salesforce_row(1)]))
    plans = preview(job)
    assert [p.action for p in plans] == ["create", "fail", "merge"]
    assert plans[0].data["status"] == "new" and plans[0].data["company_name"] == "Navy Labs"
    assert Lead.objects.count() == 0 and not Event.objects.filter(type__startswith="lead.").exists()
    assert AssignmentRule.objects.get().round_robin_position == 0  # no turn was taken


# Undo ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # the undo job runs after commit, as on a worker
def test_undo_trashes_the_leads_created_and_puts_back_the_ones_updated(org, pair):
    team, _ = pair
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "In turn", "action": "round_robin", "team_id": team.pk})
    kept = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Kept", "email": "grace2@navy.example", "owner_id": org.sales_a1.pk})
    touched = lead_services.lead_create(actor=org.sales_a1, data={
        "first_name": "Touched", "email": "grace3@navy.example", "owner_id": org.sales_a1.pk})
    # A seller imports: round robin hands the new leads to colleagues the seller cannot see.
    job = import_leads(org.sales_a1, [salesforce_row(1), salesforce_row(2), salesforce_row(3),
                                      salesforce_row(4)], on_match="overwrite")
    assert (job.created_count, job.updated_count) == (2, 2)
    assert not Lead.objects.filter(email="grace1@navy.example", owner=org.sales_a1).exists()
    lead_services.lead_update(actor=org.sales_a1, lead_id=touched.pk, data={"country": "FR"})

    services.import_undo(actor=org.sales_a1, job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportStatus.UNDONE and "1 updated record was changed" in job.undo_note
    assert not Lead.objects.filter(email__in=["grace1@navy.example", "grace4@navy.example"]).exists()
    assert Lead.all_objects.filter(email="grace1@navy.example", deleted_at__isnull=False).exists()
    kept.refresh_from_db()
    assert (kept.first_name, kept.title, kept.phone) == ("Kept", "", "")
    touched.refresh_from_db()
    assert touched.first_name == "grace3" and touched.country == "FR"


# The terminal, the API, the pages --------------------------------------------------------

def test_the_command_imports_leads_with_a_dry_run_first(org, pair, tmp_path, capsys):
    team, members = pair
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "In turn", "action": "round_robin", "team_id": team.pk})
    path = tmp_path / "leads.csv"
    path.write_bytes(leads_csv([salesforce_row(1), salesforce_row(2, Email="bad"),
                                salesforce_row(3)]).read())

    call_command("import", "leads", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "2 created" in out and "1 failed" in out and "row 3: Email:" in out
    assert "nothing was stored" in out and Lead.objects.count() == 0

    call_command("import", "leads", str(path), "--on-match", "fill")
    assert "2 created" in capsys.readouterr().out
    assert [lead.owner_id for lead in Lead.objects.order_by("email")] == [m.pk for m in members]
    assert set(Event.objects.filter(type="lead.created").values_list("source", flat=True)) == {"import"}


@pytest.mark.django_db(transaction=True)  # the import job runs after commit, as on a worker
def test_the_api_imports_leads(org, api, pair):
    team, members = pair
    lead_services.assignment_rule_create(actor=org.admin, data={
        "name": "In turn", "action": "round_robin", "team_id": team.pk})
    client = api(org.admin)
    upload = leads_csv([salesforce_row(1), salesforce_row(2), salesforce_row(3, Email="bad")])
    response = client.client.post("/api/v1/imports", {
        "file": upload, "object_type": "lead", "match_on": "email,phone", "on_match": "fill"},
        headers=client.headers)
    assert response.status_code == 202, response.content
    job = client.get(f"/imports/{response.json()['id']}").json()
    assert (job["object_type"], job["status"], job["created"], job["failed"]) == ("lead", "done", 1, 1), job
    # Rows 1 and 2 share a phone number: matched on it, the second is merged into the first.
    assert job["merged"] == 1 and job["match_on"] == ["email", "phone"]
    assert job["errors"][0]["row"] == 4 and job["errors"][0]["column"] == "Email"
    lead = Lead.objects.get()
    assert lead.owner == members[0] and lead.source == "event"

    bad = client.client.post("/api/v1/imports", {
        "file": leads_csv([salesforce_row(1)]), "object_type": "lead", "match_on": "external_id"},
        headers=client.headers)
    assert bad.status_code == 422 and "match_on" in bad.json()["error"]["fields"]

    undo = client.post(f"/imports/{job['id']}/undo")
    assert undo.status_code == 202
    assert client.get(f"/imports/{job['id']}").json()["status"] == "undone"
    assert Lead.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # the import runs after commit, as on a worker
def test_the_lead_list_links_to_an_import_of_leads(client, org):
    client.force_login(org.admin)
    page = client.get(reverse("leads:list")).content.decode()
    assert f'href="{reverse("imports:list")}?type=lead"' in page
    chooser = client.get(reverse("imports:list"), {"type": "lead"}).content.decode()
    assert 'value="lead" checked' in chooser and "Leads" in chooser

    response = client.post(reverse("imports:list"), {
        "object_type": "lead", "file": leads_csv([salesforce_row(1)])})
    job = ImportJob.objects.get()
    assert job.object_type == "lead" and response.url == reverse("imports:columns", args=[job.pk])
    columns = client.get(response.url).content.decode()
    assert "Lead status" in columns and "lead assignment rules" in columns
    chosen = {f"column-{i}": job.mapping[h] for i, h in enumerate(job.headers)}
    response = client.post(reverse("imports:columns", args=[job.pk]), {
        **chosen, "match_on": ["email", "phone"], "on_match": "fill"})
    assert response.url == reverse("imports:preview", args=[job.pk])
    preview_page = client.get(response.url).content.decode()
    assert "Navy Labs" in preview_page and Lead.objects.count() == 0
    client.post(reverse("imports:start", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Lead.objects.count() == 1
    detail = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "See leads" in detail and f'href="{reverse("leads:list")}"' in detail


# Exporting leads -------------------------------------------------------------------------

def test_leads_export_with_the_list_filters_and_import_back_unchanged(org, tmp_path, capsys):
    lead_services.lead_create(actor=org.admin, data={
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.example",
        "company_name": "Engines", "company_size": "11-50", "status": "working", "source": "referral",
        "score": 0, "country": "GB", "owner_id": org.sales_a1.pk, "tags": ["vip"]})
    lead_services.lead_create(actor=org.admin, data={
        "first_name": "Bea", "email": "bea@x.example", "status": "disqualified",
        "disqualified_reason": "Student", "owner_id": org.sales_b1.pk})
    before = {lead.pk: lead.version for lead in Lead.objects.all()}

    job = services.export_create(actor=org.admin, object_type="lead", in_background=False)
    job = exporting.run(job.pk)
    with job.file.open("rb") as handle:
        content = handle.read()
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["First name", "Last name", "Email"] and "Lead status" in rows[0]
    ada = dict(zip(rows[0], next(r for r in rows if r[0] == "Ada"), strict=True))
    assert (ada["Lead status"], ada["Lead source"], ada["Owner"]) == (
        "Working", "Referral", "sales.a1@acme.example")
    assert (ada["Score"], ada["Company size"], ada["Tags"]) == ("0", "11-50", "vip")

    imported = services.import_create(actor=org.admin, object_type="lead",
                                      upload=SimpleUploadedFile(job.file_name, content))
    assert "" not in set(imported.mapping.values())
    services.import_configure(actor=org.admin, job_id=imported.pk, mapping=imported.mapping,
                              match_on=["email"], on_match="overwrite")
    services.import_start(actor=org.admin, job_id=imported.pk, in_background=False)
    imported = engine.run(imported.pk)
    assert (imported.created_count, imported.updated_count, imported.skipped_count) == (0, 0, 2)
    assert {lead.pk: lead.version for lead in Lead.objects.all()} == before

    seller = services.export_create(actor=org.sales_a1, object_type="lead", in_background=False)
    assert exporting.run(seller.pk).rows_done == 1  # their own leads only

    output = tmp_path / "working.csv"
    call_command("export", "leads", "--filter", "status=working", "--output", str(output))
    assert "1 leads written" in capsys.readouterr().out
    assert "ada@engines.example" in output.read_text(encoding="utf-8-sig")


@pytest.mark.django_db(transaction=True)  # the export job runs after commit, as on a worker
def test_the_leads_page_exports_what_it_shows(client, org):
    for name, status in (("Ada", "working"), ("Bea", "new")):
        lead_services.lead_create(actor=org.admin, data={
            "first_name": name, "email": f"{name.lower()}@x.example", "status": status})
    client.force_login(org.admin)
    page = client.get(reverse("leads:list") + "?status=working").content.decode()
    assert "Export CSV" in page and 'name="query" value="status=working"' in page
    response = client.post(reverse("exports:create"), {
        "object_type": "lead", "format": "csv", "query": "status=working"})
    job = ExportJob.objects.get()
    assert response.url == reverse("exports:detail", args=[job.pk])
    download = client.get(reverse("exports:download", args=[job.pk]))
    content = b"".join(download.streaming_content if download.streaming else [download.content])
    assert b"ada@x.example" in content and b"bea@x.example" not in content
