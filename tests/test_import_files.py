"""Importing the files people really bring: exports from HubSpot, Salesforce, Pipedrive, Zoho and
Google Contacts, a phone's vCards, an Excel workbook, a CSV with a broken row, a 50,000-row file and
a companies file, end to end (upload, columns as suggested, start, run). What the file says is what
is stored; what cannot be stored is reported by row and column; importing a file again changes
nothing; and an import never reaches past its user's scope."""

import csv
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict

from rapport.accounts.roles import Role
from rapport.accounts.services import user_create
from rapport.contacts.models import Company, Contact
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.contacts.services import company_create, contact_create
from rapport.core.models import Tag
from rapport.core.services import custom_field_create
from rapport.transfer import engine, services
from rapport.transfer.models import ImportJob, ImportStatus
from tests import transfer_files as files

COUNTRY_CODES = {"United States": "US", "Germany": "DE", "United Kingdom": "GB", "France": "FR"}
HUBSPOT_STAGES = {
    "Subscriber": "subscriber", "Lead": "lead", "Marketing Qualified Lead": "marketing_qualified",
    "Sales Qualified Lead": "sales_qualified", "Opportunity": "opportunity", "Customer": "customer",
    "Evangelist": "evangelist",
}
HUBSPOT_COMPANY_HEADERS = ["Record ID", "Company name", "Company Domain Name", "Website URL", "Industry",
                           "Number of Employees", "Phone Number", "City", "Country/Region"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def owners(org):
    """The people the vendor exports name as owners have Rapport accounts under the same names."""
    return {name: user_create(actor=org.admin, email=f"{name.split()[0].lower()}@acme.example",
                              full_name=name, role=Role.SALES, password="Owner-pass-2026")
            for name in ("Dana Whitfield", "Marco Bianchi")}


def run_import(actor, path, *, object_type="contact", on_match="skip", match_on=None,
               mapping=None) -> ImportJob:
    """What the Imports pages do: upload, keep the suggested columns (or change some), start, run."""
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    job = services.import_create(actor=actor, upload=upload, object_type=object_type)
    services.import_configure(actor=actor, job_id=job.pk, mapping={**job.mapping, **(mapping or {})},
                              match_on=job.match_on if match_on is None else match_on,
                              on_match=on_match)
    services.import_start(actor=actor, job_id=job.pk, in_background=False)
    return engine.run(job.pk)


def outcome(job: ImportJob) -> dict:
    return {"status": job.status, "created": job.created_count, "updated": job.updated_count,
            "merged": job.merged_count, "skipped": job.skipped_count, "failed": job.failed_count}


def done(created=0, *, updated=0, merged=0, skipped=0, failed=0) -> dict:
    return {"status": ImportStatus.DONE, "created": created, "updated": updated, "merged": merged,
            "skipped": skipped, "failed": failed}


def rows_of(path, encoding="utf-8") -> list[dict]:
    with open(path, encoding=encoding, newline="") as stream:
        return list(csv.DictReader(stream))


def e164(us_number: str) -> str:
    """"+1 212 200-0001" as stored: "+12122000001"."""
    return "+" + re.sub(r"\D", "", us_number)


def tags_of(record) -> set[str]:
    return {tag.name for tag in record.tags.all()}


def everything_stored() -> dict:
    """Every field of every contact and company, with tags, version and last change."""
    return {
        (type(record).__name__, record.pk): {**model_to_dict(record, exclude=["tags"]),
                                             "tags": sorted(tags_of(record)), "version": record.version,
                                             "updated_at": record.updated_at}
        for model in (Contact, Company) for record in model.all_objects.order_by("pk")
    }


# Vendor exports ---------------------------------------------------------------------------------

def test_a_hubspot_export_is_stored_as_the_file_says(org, owners, tmp_path):
    path = files.hubspot_contacts_csv(tmp_path / "hubspot-contacts.csv", rows=25)
    job = run_import(org.admin, path)

    assert outcome(job) == done(created=25)
    rows = rows_of(path)
    for row in rows:
        contact = Contact.objects.get(external_id=row["Record ID"])
        assert (contact.first_name, contact.last_name) == (row["First Name"], row["Last Name"])
        assert contact.email == row["Email"].lower() and contact.phone == e164(row["Phone Number"])
        assert contact.phones == ([e164(row["Mobile Phone Number"])] if row["Mobile Phone Number"] else [])
        assert contact.title == row["Job Title"] and contact.company.name == row["Company Name"]
        assert contact.lifecycle_stage == HUBSPOT_STAGES[row["Lifecycle Stage"]]
        assert contact.owner == (owners[row["Contact owner"]] if row["Contact owner"] else org.admin)
        assert (contact.street, contact.city, contact.region, contact.postal_code) == (
            row["Street Address"], row["City"], row["State/Region"], row["Postal Code"])
        assert contact.country == COUNTRY_CODES[row["Country/Region"]]
        assert contact.website == row["Website URL"]
    # One company per name, however many contacts work there.
    assert sorted(Company.objects.values_list("name", flat=True)) == sorted({r["Company Name"] for r in rows})


def test_a_salesforce_report_in_windows_1252_keeps_its_accented_names(org, owners, tmp_path):
    path = files.salesforce_contacts_csv(tmp_path / "report.csv", rows=25, encoding="cp1252")
    assert b"M\xfcller" in path.read_bytes()  # really Windows-1252, not UTF-8

    job = run_import(org.admin, path)

    assert outcome(job) == done(created=25) and job.encoding == "cp1252"
    names = set(Contact.objects.values_list("first_name", "last_name"))
    assert {("Jürgen", "Müller"), ("José", "García"), ("Zoë", "Brontë")} <= names
    for row in rows_of(path, encoding="cp1252"):
        contact = Contact.objects.get(external_id=row["Contact ID"])
        assert (contact.first_name, contact.last_name) == (row["First Name"], row["Last Name"])
        assert contact.city == row["Mailing City"] and contact.region == row["Mailing State/Province"]
        assert contact.postal_code == row["Mailing Zip/Postal Code"]
        assert contact.company.name == row["Account Name"] and contact.owner == owners["Dana Whitfield"]
    assert Contact.objects.filter(city="München").exists()


def test_a_pipedrive_export_splits_names_and_turns_labels_into_tags(org, owners, tmp_path):
    path = files.pipedrive_people_csv(tmp_path / "people.csv", rows=25)
    job = run_import(org.admin, path)

    assert outcome(job) == done(created=25)
    for row in rows_of(path):
        contact = Contact.objects.get(external_id=row["Person - ID"])
        assert f"{contact.first_name} {contact.last_name}" == row["Person - Name"]
        assert contact.email == row["Person - Email - Work"]
        assert contact.emails == ([row["Person - Email - Home"]] if row["Person - Email - Home"] else [])
        assert contact.phone == e164(row["Person - Phone - Work"])
        assert contact.phones == [e164(row["Person - Phone - Mobile"])]
        assert contact.company.name == row["Person - Organization"]
        labels = {label.strip() for label in row["Person - Labels"].split(",") if label.strip()}
        assert tags_of(contact) == labels
    vip = Contact.objects.filter(tags__name="VIP").first()
    assert vip is not None and tags_of(vip) == {"Customer", "VIP"}  # "Customer, VIP" is two labels


def test_a_zoho_export_keeps_secondary_emails_addresses_and_record_ids(org, owners, tmp_path):
    path = files.zoho_contacts_csv(tmp_path / "Contacts_2026.csv", rows=25)
    job = run_import(org.admin, path)

    assert outcome(job) == done(created=25)
    for row in rows_of(path):
        contact = Contact.objects.get(external_id=row["Record Id"])
        assert contact.email == row["Email"]
        assert contact.emails == ([row["Secondary Email"]] if row["Secondary Email"] else [])
        assert (contact.phone, contact.phones) == (e164(row["Phone"]), [e164(row["Mobile"])])
        assert (contact.street, contact.city, contact.postal_code, contact.country) == (
            row["Mailing Street"], row["Mailing City"], row["Mailing Zip"],
            COUNTRY_CODES[row["Mailing Country"]])
        assert contact.company.name == row["Account Name"] and contact.owner == owners["Marco Bianchi"]
    assert Company.objects.filter(name="Soylent, Inc.").exists()  # a comma inside a quoted value


GOOGLE_LABELS_AS_TAGS = {"* myContacts": set(), "* myContacts ::: Friends": {"Friends"},
                         "* starred ::: * myContacts ::: Work": {"Work"},
                         "* myContacts ::: Family ::: Friends": {"Family", "Friends"}}


def test_a_google_contacts_export_takes_the_users_labels_but_not_my_contacts_or_starred(org, tmp_path):
    path = files.google_contacts_csv(tmp_path / "contacts.csv", rows=24)
    job = run_import(org.admin, path)

    assert outcome(job) == done(created=24)
    for row in rows_of(path):
        contact = Contact.objects.get(email=row["E-mail 1 - Value"])
        assert (contact.first_name, contact.last_name) == (row["First Name"], row["Last Name"])
        assert tags_of(contact) == GOOGLE_LABELS_AS_TAGS[row["Labels"]]
        # "a ::: b" is two numbers in one cell: the first is the phone, the rest further phones,
        # each number once.
        numbers = [*row["Phone 1 - Value"].split(" ::: "), row["Phone 2 - Value"]]
        assert [contact.phone, *contact.phones] == list(dict.fromkeys(e164(n) for n in numbers if n))
        assert (contact.title, contact.company.name) == (row["Organization Title"], row["Organization Name"])
        assert contact.city == row["Address 1 - City"]
        assert contact.postal_code == row["Address 1 - Postal Code"]
    assert set(Tag.objects.values_list("name", flat=True)) == {"Friends", "Work", "Family"}


def test_a_phones_vcards_are_imported_and_the_broken_card_is_reported_by_number(org, tmp_path):
    path = files.phone_vcards(tmp_path / "contacts.vcf", broken=True)
    job = run_import(org.admin, path)

    assert outcome(job) == done(created=3, failed=1) and job.format == "vcf"
    johnny = Contact.objects.get(email="johnny.appleseed@acme.example")  # the preferred address (v3.0)
    assert (johnny.first_name, johnny.last_name, johnny.title) == ("Johnny", "Appleseed", "Account Executive")
    assert johnny.emails == ["johnny@home.example"]
    assert (johnny.phone, johnny.phones) == ("+14152345678", ["+12122349876"])
    assert johnny.company.name == "Acme" and tags_of(johnny) == {"Customers", "VIP"}
    assert (johnny.street, johnny.city, johnny.region, johnny.postal_code, johnny.country) == (
        "1 Infinite Loop", "Cupertino", "CA", "95014", "US")

    zoe = Contact.objects.get(email="zoe@example.dk")  # vCard 2.1, quoted-printable UTF-8
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "Ærøskøbing")
    assert (zoe.phone, zoe.phones) == ("+4533123456", ["+4520123456"])
    assert (zoe.city, zoe.country, zoe.company) == ("København", "DK", None)

    ana = Contact.objects.get(email="ana@home.example")  # vCard 4.0, PREF=1 first
    assert (ana.first_name, ana.last_name) == ("Ana", "Souza") and ana.emails == ["ana.souza@clinic.example"]
    assert (ana.phone, ana.phones) == ("+5511912345678", ["+551131234567"])
    assert ana.company.name == "Clínica Souza" and (ana.city, ana.country) == ("São Paulo", "BR")

    failure = job.failures.get()
    assert failure.row_number == files.BROKEN_CARD_NUMBER
    assert "TEL;type=CELL;type=VOICE" in failure.problems[0]["reason"]
    assert not Contact.objects.filter(email="bill@broken.example").exists()


def test_an_excel_workbook_keeps_dates_numbers_and_leading_zeros(org, tmp_path):
    for key, label, kind in [("signed_up", "Signed up", "date"), ("employees", "Employees", "number"),
                             ("last_contacted", "Last contacted", "datetime"), ("score", "Score", "decimal"),
                             ("customer", "Customer", "boolean"), ("notes", "Notes", "long_text")]:
        custom_field_create(actor=org.admin, object_type="contact", key=key, label=label, type=kind)
    job = run_import(org.admin, files.excel_contacts_xlsx(tmp_path / "contacts.xlsx"))

    assert outcome(job) == done(created=3) and job.total_rows == 3  # the blank row is no contact
    ann = Contact.objects.get(email="ann@archer.example")
    assert (ann.first_name, ann.last_name, ann.postal_code) == ("Ann", "Archer", "02134")  # text, not 2134
    assert ann.custom_fields == {"signed_up": "2024-03-01", "last_contacted": "2024-03-05T14:30:00Z",
                                 "employees": 250, "score": "4.5", "customer": True}
    bob = Contact.objects.get(email="bob@baker.example")
    assert bob.postal_code == "00501" and bob.custom_fields["signed_up"] == "2023-11-20"
    assert bob.custom_fields["customer"] is False and bob.custom_fields["notes"] == "Prefers email"
    cara = Contact.objects.get(email="cara@cole.example")
    assert cara.custom_fields["score"] == "0.3"  # not 0.30000000000000004
    assert cara.custom_fields["notes"] == "Line one\nLine two"


def test_a_broken_row_is_reported_by_number_and_every_other_row_is_stored(org, tmp_path):
    path = files.csv_with_broken_row(tmp_path / "contacts.csv", rows=20)
    job = run_import(org.admin, path)

    assert outcome(job) == done(created=18, failed=2)
    problems = {failure.row_number: failure.problems for failure in job.failures.all()}
    assert set(problems) == {files.INVALID_EMAIL_ROW_NUMBER, files.BROKEN_ROW_NUMBER}
    assert problems[files.BROKEN_ROW_NUMBER][0]["reason"] == "Row has 6 values but the header has 5 columns."
    bad_email = problems[files.INVALID_EMAIL_ROW_NUMBER][0]
    assert (bad_email["column"], bad_email["value"]) == ("Email", "not-an-email")
    rows = rows_of(path)
    stored = {row["Email"] for number, row in enumerate(rows, start=2) if number not in problems}
    assert set(Contact.objects.values_list("email", flat=True)) == stored and len(stored) == 18


def test_fifty_thousand_rows_are_imported_completely(org, tmp_path):
    job = run_import(org.admin, files.big_contacts_csv(tmp_path / "big.csv", rows=50_000))

    assert outcome(job) == done(created=50_000)
    assert (job.total_rows, job.rows_done, job.last_row) == (50_000, 50_000, 50_001)
    assert Contact.objects.count() == 50_000 and not job.failures.exists()
    assert Company.objects.count() == len(files.COMPANIES)
    last = Contact.objects.get(email="person49999@example.com")
    assert last.phone == e164(files.us_phone(49_999)) and last.country == "US"


def test_a_hubspot_companies_export_matches_existing_companies_on_their_domain(org, tmp_path):
    initech = company_create(actor=org.admin, data={"name": "Initech Inc", "domain": "initech.example"})
    path = files.write_csv(tmp_path / "hubspot-companies.csv", HUBSPOT_COMPANY_HEADERS, [
        ["101", "Initech", "INITECH.example", "https://www.initech.example", "Software", "201-1000", "",
         "Austin", "United States"],
        ["102", "Globex", "globex.example", "https://globex.example", "Energy", "12,000",
         "+1 212 200-0001", "Springfield", "United States"],
        ["103", "Hooli", "", "https://www.hooli.example/about", "Internet", "35", "", "Palo Alto", "US"],
        ["104", "Globex International", "www.globex.example", "", "", "", "", "", ""],
    ])
    job = services.import_create(actor=org.admin, object_type="company",
                                 upload=SimpleUploadedFile(path.name, path.read_bytes()))
    assert job.match_on == ["domain"] and job.mapping == {
        "Record ID": "external_id", "Company name": "name", "Company Domain Name": "domain",
        "Website URL": "website", "Industry": "industry", "Number of Employees": "size",
        "Phone Number": "phone", "City": "city", "Country/Region": "country"}

    job = run_import(org.admin, path, object_type="company", on_match="fill")

    assert outcome(job) == done(created=2, updated=1, merged=1)
    initech.refresh_from_db()
    assert initech.name == "Initech Inc"  # fill: what was set stays
    assert (initech.industry, initech.size, initech.city, initech.external_id) == (
        "Software", "201-1000", "Austin", "101")
    globex = Company.objects.get(domain="globex.example")  # row 5 was the same company
    assert (globex.name, globex.size, globex.phone, globex.country) == (
        "Globex", "5001+", "+12122000001", "US")
    hooli = Company.objects.get(name="Hooli")
    assert (hooli.domain, hooli.size) == ("hooli.example", "11-50")  # the domain from the website
    assert Company.objects.count() == 3


def test_a_matched_company_takes_the_phone_number_from_the_file(org, tmp_path):
    initech = company_create(actor=org.admin, data={"name": "Initech", "domain": "initech.example"})
    path = files.write_csv(tmp_path / "hubspot-companies.csv", HUBSPOT_COMPANY_HEADERS, [
        ["101", "Initech", "initech.example", "", "Software", "", "+1 212 200-0001", "Austin", "US"],
        ["102", "Globex", "globex.example", "", "Energy", "", "", "", "US"]])

    job = run_import(org.admin, path, object_type="company", on_match="fill")

    assert outcome(job) == done(created=1, updated=1)
    initech.refresh_from_db()
    assert (initech.phone, initech.industry) == ("+12122000001", "Software")


# The same file again ----------------------------------------------------------------------------

AGAIN = {
    "hubspot": lambda path: files.hubspot_contacts_csv(path / "hubspot.csv", rows=25),
    "google": lambda path: files.google_contacts_csv(path / "google.csv", rows=12),
    "vcards": lambda path: files.phone_vcards(path / "phone.vcf"),
}


@pytest.mark.parametrize("source", AGAIN)
def test_importing_the_same_file_again_with_skip_creates_nothing(org, owners, tmp_path, source):
    path = AGAIN[source](tmp_path)
    first = run_import(org.admin, path)
    before = everything_stored()

    again = run_import(org.admin, path, on_match="skip")

    assert outcome(again) == done(skipped=first.created_count)
    assert everything_stored() == before


@pytest.mark.parametrize("source", AGAIN)
def test_importing_the_same_file_again_with_fill_changes_nothing(org, owners, tmp_path, source):
    path = AGAIN[source](tmp_path)
    run_import(org.admin, path)
    before = everything_stored()

    again = run_import(org.admin, path, on_match="fill")

    assert again.status == ImportStatus.DONE and (again.created_count, again.failed_count) == (0, 0)
    after = everything_stored()
    assert {key: record["version"] for key, record in after.items()} == \
           {key: record["version"] for key, record in before.items()}
    assert after == before
    assert not again.changes.exists()  # nothing for undo to put back


def test_a_round_trip_reports_no_record_as_updated(org, owners, tmp_path):
    path = files.hubspot_contacts_csv(tmp_path / "hubspot.csv", rows=25)
    run_import(org.admin, path)

    again = run_import(org.admin, path, on_match="fill")

    assert again.updated_count == 0


# Scopes -----------------------------------------------------------------------------------------

def test_a_sales_users_import_stays_inside_what_that_user_may_see(org, tmp_path):
    theirs = contact_create(actor=org.sales_b1, data={"first_name": "Bob's", "email": "taken@example.com"})
    their_company = company_create(actor=org.sales_b1, data={"name": "Globex"})
    mine = contact_create(actor=org.sales_a1, data={"first_name": "Mine", "email": "mine@example.com"})
    path = files.write_csv(tmp_path / "leads.csv", ["Name", "Email", "Company", "Owner"], [
        ["Tess Taken", "taken@example.com", "Globex", ""],
        ["Mia Mine", "mine@example.com", "Globex", ""],
        ["Nina New", "nina@example.com", "Globex", ""],
        ["Sue's Lead", "sue@example.com", "Initech", "sales.a2@acme.example"],
    ])

    job = run_import(org.sales_a1, path, on_match="overwrite")

    assert outcome(job) == done(created=2, updated=1, failed=1)
    failure = job.failures.get()
    assert failure.row_number == 2 and failure.problems[0]["column"] == "Email"
    assert "cannot see" in failure.problems[0]["reason"]
    theirs.refresh_from_db()
    assert (theirs.first_name, theirs.version, theirs.company) == ("Bob's", 1, None)
    their_company.refresh_from_db()
    assert their_company.version == 1 and not their_company.contacts.exists()

    mine.refresh_from_db()
    assert (mine.first_name, mine.last_name) == ("Mia", "Mine")
    nina = Contact.objects.get(email="nina@example.com")
    assert nina.owner == org.sales_a1 and nina in contact_visible(user=org.sales_a1)
    # The file's Globex is the user's own, not the one of team B the user cannot see.
    assert nina.company != their_company and nina.company in company_visible(user=org.sales_a1)
    assert mine.company == nina.company
    created = Company.objects.exclude(pk=their_company.pk)
    assert set(created.values_list("owner", flat=True)) == {org.sales_a1.pk}
    # Unless the Owner column says otherwise.
    assert Contact.objects.get(email="sue@example.com").owner == org.sales_a2
