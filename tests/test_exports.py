"""Exporting lists: the list's filters, search and sort, every field (custom ones too), safe
cells, a file the import takes back without changing anything, scopes, API, pages, terminal;
and the deal list, with its own columns."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.http import QueryDict
from openpyxl import load_workbook

from rapport.contacts.models import Contact
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import BadRequest, ValidationFailed
from rapport.core.services import custom_field_create
from rapport.sales.services import deal_create, deal_move
from rapport.transfer import engine, exporting, services
from rapport.transfer.models import ExportJob


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def people(org):
    custom_field_create(actor=org.admin, object_type="contact", key="tier", label="Tier",
                        type="multi_select", options=["gold", "silver"])
    custom_field_create(actor=org.admin, object_type="contact", key="renewal", label="Renewal",
                        type="date")
    acme = company_create(actor=org.admin, data={"name": "Acme", "website": "acme.example"})
    made = [
        contact_create(actor=org.admin, data={
            "first_name": "Ada", "last_name": "Lovelace", "email": "ada@acme.example",
            "emails": ["ada@home.example"], "phone": "+442079460958", "title": "=HYPERLINK(\"x\")",
            "lifecycle_stage": "customer", "company_id": acme.pk, "country": "GB",
            "owner_id": org.sales_a1.pk, "tags": ["vip", "Board"],
            "custom_fields": {"tier": ["gold", "silver"], "renewal": "2027-01-31"}}),
        contact_create(actor=org.admin, data={"first_name": "Bea", "last_name": "Zed",
                                              "email": "bea@acme.example", "lifecycle_stage": "lead",
                                              "owner_id": org.sales_b1.pk}),
        contact_create(actor=org.admin, data={"first_name": "Cy", "last_name": "Young",
                                              "email": "cy@acme.example", "lifecycle_stage": "customer",
                                              "owner_id": org.sales_a1.pk}),
    ]
    return made


def export_rows(actor, query="", fmt="csv"):
    job = services.export_create(actor=actor, object_type="contact", format=fmt,
                                 params=QueryDict(query), in_background=False)
    job = exporting.run(job.pk)
    if fmt == "xlsx":
        with job.file.open("rb") as handle:
            sheet = load_workbook(handle).active
            return [[c.value or "" for c in row] for row in sheet.iter_rows()], sheet
    with job.file.open("rb") as handle:
        text = handle.read().decode("utf-8")
    assert text.startswith("\ufeff")  # Excel needs the mark to read UTF-8 accents
    return list(csv.reader(io.StringIO(text[1:]))), None


def test_an_export_has_the_lists_filters_and_sort_and_every_field(org, people):
    rows, _ = export_rows(org.admin, "lifecycle_stage=customer&sort=first_name")
    headers, *body = rows
    assert headers[:4] == ["First name", "Last name", "Email", "Further emails"]
    assert {"Company", "Owner", "Tags", "External ID", "Tier", "Renewal"} <= set(headers)
    assert [r[0] for r in body] == ["Ada", "Cy"]
    ada = dict(zip(headers, body[0], strict=True))
    assert ada["Further emails"] == "ada@home.example" and ada["Company"] == "Acme"
    assert ada["Owner"] == "sales.a1@acme.example" and ada["Tags"] == "Board, vip"
    assert ada["Lifecycle stage"] == "Customer" and ada["Tier"] == "gold, silver"
    assert ada["Renewal"] == "2027-01-31" and ada["Country"] == "GB"


def test_cells_that_spreadsheets_would_run_are_neutralised(org, people):
    rows, _ = export_rows(org.admin, "email=ada@acme.example")
    ada = dict(zip(rows[0], rows[1], strict=True))
    assert ada["Job title"] == "'=HYPERLINK(\"x\")" and ada["Phone"] == "'+442079460958"

    rows, sheet = export_rows(org.admin, "email=ada@acme.example", fmt="xlsx")
    column = rows[0].index("Job title") + 1
    cell = sheet.cell(row=2, column=column)
    assert cell.value == "=HYPERLINK(\"x\")" and cell.data_type == "s"  # text, never a formula


def test_an_export_holds_only_what_its_user_may_see(org, people):
    rows, _ = export_rows(org.sales_a1)
    assert sorted(r[0] for r in rows[1:]) == ["Ada", "Cy"]  # Bea belongs to team B


def test_a_bad_filter_or_format_is_refused_before_any_job(org, people):
    with pytest.raises(BadRequest) as caught:
        services.export_create(actor=org.admin, object_type="contact", params=QueryDict("shoe_size=9"))
    assert "shoe_size" in caught.value.fields
    with pytest.raises(ValidationFailed):
        services.export_create(actor=org.admin, object_type="contact", format="pdf")
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exporting_and_importing_back_with_overwrite_changes_nothing(org, people, fmt):
    before = {c.pk: (c.version, c.updated_at) for c in Contact.objects.all()}
    job = services.export_create(actor=org.admin, object_type="contact", format=fmt,
                                 in_background=False)
    job = exporting.run(job.pk)
    with job.file.open("rb") as handle:
        upload = SimpleUploadedFile(job.file_name, handle.read())
    imported = services.import_create(actor=org.admin, upload=upload, object_type="contact")
    assert "" not in {imported.mapping[h] for h in imported.headers}  # every column found its field
    services.import_configure(actor=org.admin, job_id=imported.pk, mapping=imported.mapping,
                              match_on=["email"], on_match="overwrite")
    services.import_start(actor=org.admin, job_id=imported.pk, in_background=False)
    imported = engine.run(imported.pk)

    assert (imported.created_count, imported.updated_count, imported.failed_count) == (0, 0, 0)
    assert imported.skipped_count == 3
    assert {c.pk: (c.version, c.updated_at) for c in Contact.objects.all()} == before


def test_a_long_list_is_read_in_keyset_batches_in_order(org, django_assert_max_num_queries):
    for i in range(25):
        contact_create(actor=org.admin, data={"first_name": f"P{i:02d}", "email": f"p{i}@x.example"})
    job = services.export_create(actor=org.admin, object_type="contact",
                                 params=QueryDict("sort=-first_name"), in_background=False)
    from rapport.contacts.selectors import list_for_export

    records, batches = list_for_export(user=org.admin, object_type="contact",
                                       params=QueryDict(job.query), batch_size=10)
    with django_assert_max_num_queries(3):  # one keyset page per batch of 10, however wide
        names = [c.first_name for batch in batches for c in batch]
    assert names == [f"P{i:02d}" for i in range(24, -1, -1)] and records.count() == 25


@pytest.mark.django_db(transaction=True)  # the job runs after commit, as on a worker
def test_the_api_exports_in_the_background_and_hands_back_the_file(org, people, api):
    client = api(org.admin)
    response = client.post("/exports", {"object_type": "contact", "format": "csv",
                                        "filters": {"lifecycle_stage": "customer"}, "sort": "first_name"})
    assert response.status_code == 202, response.content
    job = client.get(f"/exports/{response.json()['id']}").json()
    assert job["status"] == "done" and job["rows_done"] == 2
    download = client.get(job["download_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert b"Ada" in b"".join(download.streaming_content)
    assert api(org.sales_b1).get(f"/exports/{job['id']}").status_code == 404

    bad = client.post("/exports", {"object_type": "contact", "filters": {"shoe_size": "9"}})
    assert bad.status_code == 400 and "shoe_size" in bad.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)
def test_the_list_page_exports_what_it_shows(client, org, people):
    client.force_login(org.admin)
    page = client.get("/contacts/?lifecycle_stage=customer")
    assert b"Export CSV" in page.content
    response = client.post("/settings/exports/new/", {
        "object_type": "contact", "format": "xlsx", "query": "lifecycle_stage=customer"})
    job = ExportJob.objects.get()
    assert response.url == f"/settings/exports/{job.pk}/"
    detail = client.get(response.url)
    assert b"Your file is ready" in detail.content
    download = client.get(f"/settings/exports/{job.pk}/download/")
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get("/settings/exports/").status_code == 200


def test_the_command_writes_a_filtered_export(org, people, tmp_path, capsys):
    output = tmp_path / "customers.csv"
    call_command("export", "contacts", "--filter", "lifecycle_stage=customer", "--output", str(output))
    assert "2 contacts written" in capsys.readouterr().out
    assert output.read_text(encoding="utf-8-sig").count("acme.example") >= 2


@pytest.fixture
def deals(org):
    custom_field_create(actor=org.admin, object_type="deal", key="region", label="Region", type="text")
    acme = company_create(actor=org.sales_a1, data={"name": "Acme"})
    big = deal_create(actor=org.sales_a1, data={
        "name": "=Big renewal", "amount": "5000", "currency": "EUR", "company_id": acme.pk,
        "expected_close_date": "2027-03-31", "tags": ["q1"], "custom_fields": {"region": "EMEA"}})
    small = deal_create(actor=org.sales_a1, data={"name": "Small", "amount": "100", "currency": "EUR"})
    deal_move(actor=org.sales_a1, deal_id=small.pk, status="won")
    deal_create(actor=org.sales_b1, data={"name": "Theirs", "amount": "900", "currency": "EUR"})
    return big, small


def test_the_deal_list_exports_with_its_filters_sort_and_custom_fields_in_scope(org, deals):
    job = services.export_create(actor=org.sales_a1, object_type="deal", params=QueryDict("sort=-amount"),
                                 in_background=False)
    with exporting.run(job.pk).file.open("rb") as handle:
        headers, *body = csv.reader(io.StringIO(handle.read().decode("utf-8-sig")))

    assert headers[:6] == ["Deal name", "Amount", "Currency", "Pipeline", "Stage", "Status"]
    assert headers[-1] == "Region" and job.file_name.startswith("deals-")
    assert [row[0] for row in body] == ["'=Big renewal", "Small"]  # not another team's; neutralised
    big = dict(zip(headers, body[0], strict=True))
    assert (big["Amount"], big["Company"], big["Owner"]) == ("5000.00", "Acme", "sales.a1@acme.example")
    assert (big["Expected close date"], big["Tags"], big["Region"], big["Status"]) == (
        "2027-03-31", "q1", "EMEA", "Open")
    won, sheet = export_deals_xlsx(org.sales_a1, "status=won")
    assert sheet.title == "Deals"
    assert [(r[0], r[5], r[6]) for r in won[1:]] == [("Small", "Won", "100")]
    with pytest.raises(BadRequest):
        services.export_create(actor=org.admin, object_type="deal", params=QueryDict("stale=maybe"))


def export_deals_xlsx(actor, query):
    job = services.export_create(actor=actor, object_type="deal", format="xlsx", params=QueryDict(query),
                                 in_background=False)
    with exporting.run(job.pk).file.open("rb") as handle:
        sheet = load_workbook(handle).active
        return [[c.value or "" for c in row] for row in sheet.iter_rows()], sheet


@pytest.mark.django_db(transaction=True)  # the job runs after commit, as on a worker
def test_the_api_exports_deals_and_an_import_still_takes_no_deals(org, deals, api):
    client = api(org.sales_a1)
    response = client.post("/exports", {"object_type": "deal", "filters": {"status": "open"}})
    assert response.status_code == 202, response.content
    job = client.get(f"/exports/{response.json()['id']}").json()
    assert job["status"] == "done" and job["rows_done"] == 1  # their own open deal only
    assert b"Big renewal" in b"".join(client.get(job["download_url"]).streaming_content)
    with pytest.raises(ValidationFailed) as caught:
        services.import_create(actor=org.admin, upload=SimpleUploadedFile("d.csv", b"Name\nx\n"),
                               object_type="deal")
    assert "contact, company, lead" in caught.value.fields["object_type"][0]


@pytest.mark.django_db(transaction=True)
def test_the_deal_list_page_and_the_command_export_deals(client, org, deals, tmp_path, capsys):
    client.force_login(org.admin)
    assert b"Export CSV" in client.get("/deals/list/?status=open").content
    response = client.post("/settings/exports/new/", {"object_type": "deal", "format": "csv",
                                                      "query": "status=open"})
    job = ExportJob.objects.get()
    assert job.rows_done == 2 and str(job) == "Export of deals"
    ExportJob.objects.filter(pk=job.pk).update(status="expired")  # a week later
    assert b'href="/deals/list/?status=open"' in client.get(response.url).content  # export it again

    output = tmp_path / "open.csv"
    call_command("export", "deals", "--filter", "status=open", "--output", str(output))
    assert "2 deals written" in capsys.readouterr().out
    assert "Theirs" in output.read_text(encoding="utf-8-sig")


def test_a_batch_of_deals_is_written_from_one_query_whatever_it_shows(org, deals, django_assert_num_queries):
    _, batches = exporting.list_for_export(user=org.admin, object_type="deal", params=QueryDict(""))
    cols = exporting.columns("deal")
    with django_assert_num_queries(1):  # pipeline, stage, company, owner, lost reason, tags joined
        rows = [[value(deal) for _, value in cols] for deal in next(batches)]
    assert sorted(row[0] for row in rows) == ["=Big renewal", "Small", "Theirs"]  # an admin sees all
