"""The import's fast path: rows written from cleaned values (no model instances), cleaned in
a forked process beside the writer, undo records as runs of ids, and search documents built
after the rows. Each must store exactly what the one-record services store."""

import datetime
import gc
import json
import os
import pickle
import signal
import time

import pytest
from django.db import connection

from rapport.contacts.models import Company, Contact
from rapport.contacts.services import (
    clean_record,
    company_create,
    contact_cleaners,
    contact_create,
    new_contact_values,
    record_delete,
)
from rapport.core import bulk, records
from rapport.core.context import caused_by
from rapport.core.history import snapshot
from rapport.core.models import Event, SearchDocument
from rapport.core.search import matching_ids
from rapport.core.services import custom_field_create
from rapport.core.tags import get_or_create_tags
from rapport.transfer import engine, pipeline, plan, services
from rapport.transfer.models import ChangeAction, ImportChange, ImportJob, ImportStatus
from tests.test_imports import HUBSPOT, csv_file, hubspot_row, run_import

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _stored(contact) -> dict:
    skip = {"id", "created_at", "updated_at"}
    return {f.attname: getattr(contact, f.attname) for f in Contact._meta.concrete_fields
            if f.attname not in skip}


def test_create_rows_stores_what_create_record_stores_with_the_same_event(org):
    data = {"first_name": "ada", "last_name": "LOVELACE", "email": "Ada@Example.com",
            "emails": ["ada@example.com", "countess@example.com"], "phone": "+44 20 7946 0958",
            "country": "United Kingdom", "title": "Engineer"}
    one = contact_create(actor=org.admin, data=data)
    one.email, one.emails = "other@example.com", ["countess2@example.com"]
    values, _ = clean_record(contact_cleaners(org.admin), {**data, "email": "Other@example.com",
                                                           "emails": ["countess2@example.com"]},
                             "contact")
    [pk] = records.create_rows(Contact, [new_contact_values(values)], actor=org.admin,
                               tags=[["vip"]])

    many = Contact.objects.get(pk=pk)
    assert _stored(many) == _stored(one)
    created = Event.objects.get(type="contact.created", object_id=pk)
    assert created.data["values"] == {**snapshot(many, records.tracked_fields(many)),
                                      "tags": ["vip"]}
    assert sorted(created.data["values"]) == sorted(
        Event.objects.get(type="contact.created", object_id=one.pk).data["values"])
    assert [t.name for t in many.tags.all()] == ["vip"]


def test_an_event_head_worked_out_ahead_makes_the_same_event_as_one_worked_out_when_written(org):
    acme = company_create(actor=org.admin, data={"name": "Acme"})
    values, _ = clean_record(contact_cleaners(org.admin), {
        "first_name": "Zoë", "last_name": "Ørsted", "email": "zoe@example.com",
        "emails": ["zoë@example.com"], "title": "Chef 😀"}, "contact")
    row = {**new_contact_values(values), "company_id": acme.pk}
    ahead = records.created_event_head(Contact, new_contact_values(values), owner_id=org.admin.pk)

    [first, second] = records.create_rows(Contact, [row, dict(row, email="zoe2@example.com")],
                                          actor=org.admin, tags=[["vip"], ["vip"]],
                                          event_heads=[ahead, None])

    for pk in (first, second):
        contact = Contact.objects.get(pk=pk)
        event = Event.objects.get(type="contact.created", object_id=pk)
        assert event.data == {"values": {**snapshot(contact, records.tracked_fields(contact)),
                                         "tags": ["vip"]}}
        assert event.data["values"]["company"] == acme.pk
    if connection.vendor == "sqlite":  # stored as save() stores JSON: escaped, found alike
        assert Event.objects.filter(data__values__first_name="Zoë").count() == 2


def test_bulk_created_events_carry_the_rule_that_caused_them(org):
    values, _ = clean_record(contact_cleaners(org.admin), {"first_name": "Ada"}, "contact")

    with caused_by(rule=7):
        [pk] = records.create_rows(Contact, [new_contact_values(values)], actor=org.admin)

    data = Event.objects.get(type="contact.created", object_id=pk).data
    assert data["caused_by"] == {"rule": 7} and data["values"]["first_name"] == "Ada"


def test_a_created_event_names_the_tags_as_stored_not_as_typed(org):
    get_or_create_tags(["VIP"])
    values, _ = clean_record(contact_cleaners(org.admin), {"first_name": "Ada"}, "contact")

    [pk] = records.create_rows(Contact, [new_contact_values(values)], actor=org.admin,
                               tags=[["vip", "Vip", "new one"]])

    created = Event.objects.get(type="contact.created", object_id=pk)
    assert created.data["values"]["tags"] == ["VIP", "new one"]
    assert sorted(t.name for t in Contact.objects.get(pk=pk).tags.all()) == ["VIP", "new one"]


def test_insert_values_fills_defaults_and_stores_json_and_times_as_save_does(org):
    [pk] = bulk.insert_values(Event, [{"type": "contact.noted", "object_type": "contact",
                                       "object_id": 1, "data": {"n": [1, "two"]}}])
    event = Event.objects.get(pk=pk)
    assert event.data == {"n": [1, "two"]} and event.source == "ui"
    assert event.dispatch_attempts == 0 and event.dispatched_at is None
    assert event.created_at is not None and event.created_at.tzinfo is not None


def _rows(count, **overrides):
    rows = [hubspot_row(i, **overrides) for i in range(1, count + 1)]
    rows[3] = hubspot_row(4, Email="not-an-email")                     # fails
    rows[7] = hubspot_row(2, **{"Record ID": "hs-8", "Phone Number": "+1 415 555 2671"})  # repeats 2
    return rows


def _outcome(job):
    contacts = Contact.objects.order_by("email")
    return ((job.status, job.created_count, job.merged_count, job.failed_count),
            [(c.email, c.emails, c.phone, c.phones, c.company.name) for c in contacts],
            list(job.failures.values_list("row_number", flat=True)))


def test_rows_cleaned_in_a_second_process_import_exactly_as_in_one(org, monkeypatch):
    serial = run_import(org.admin, csv_file(HUBSPOT, _rows(12)), batch_size=5)
    expected = _outcome(serial)
    assert expected[0] == (ImportStatus.DONE, 10, 1, 1)
    Contact.all_objects.all().delete()
    Company.all_objects.all().delete()
    children = _count_forks(monkeypatch)
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 1)

    parallel = run_import(org.admin, csv_file(HUBSPOT, _rows(12)), batch_size=5)

    assert len(children) == 1
    assert _outcome(parallel) == expected
    assert gc.get_freeze_count() == 0   # the run gives the collector its objects back


def _count_forks(monkeypatch) -> list[int]:
    children, fork = [], pipeline.os.fork

    def counted_fork():
        pid = fork()
        if pid:
            children.append(pid)
        return pid
    monkeypatch.setattr(pipeline.os, "fork", counted_fork)
    return children


def test_an_error_in_the_cleaning_process_fails_the_import_keeping_what_it_stored_findable(
        org, monkeypatch):
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 1)
    clean_batch = plan.clean_batch

    def breaks_on_the_third_batch(settings, rows):
        rows = list(rows)
        if rows[0].number > 11:   # file rows 12 on (row 1 is the header)
            raise RuntimeError("phone metadata unreadable")
        return clean_batch(settings, rows)
    monkeypatch.setattr(pipeline, "clean_batch", breaks_on_the_third_batch)

    with pytest.raises(pipeline.CleaningFailed, match="phone metadata unreadable"):
        run_import(org.admin, csv_file(HUBSPOT, _rows(14)), batch_size=5)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED and "phone metadata unreadable" in job.error
    assert (job.last_row, Contact.objects.count()) == (11, 8)   # two batches committed
    assert job.indexed_count == 9 and _found("ada1")            # and indexed: 8 and a company


def _killing_the_child_at_the_second_batch(monkeypatch, how):
    monkeypatch.setattr(pipeline, "PARALLEL_FROM", 1)
    clean_batch, parent = plan.clean_batch, os.getpid()

    def dies_at_the_second_batch(settings, rows):
        rows = list(rows)
        if os.getpid() != parent and rows[0].number > 6:
            how()
        return clean_batch(settings, rows)
    monkeypatch.setattr(pipeline, "clean_batch", dies_at_the_second_batch)


def test_a_cleaning_process_killed_midway_leaves_the_rest_to_the_writer(org, monkeypatch):
    _killing_the_child_at_the_second_batch(
        monkeypatch, lambda: os.kill(os.getpid(), signal.SIGKILL))   # the OOM killer, say

    job = run_import(org.admin, csv_file(HUBSPOT, _rows(14)), batch_size=5)

    assert (job.status, job.rows_done, job.created_count, job.failed_count) == (
        ImportStatus.DONE, 14, 12, 1)
    assert Contact.objects.count() == 12 == job.indexed_count - 1


def test_a_cleaning_process_that_stops_answering_is_stopped_and_replaced(org, monkeypatch):
    monkeypatch.setattr(pipeline, "STALL_SECONDS", 1)
    _killing_the_child_at_the_second_batch(monkeypatch, lambda: time.sleep(30))  # a held lock

    started = time.monotonic()
    job = run_import(org.admin, csv_file(HUBSPOT, _rows(14)), batch_size=5)

    assert job.status == ImportStatus.DONE and Contact.objects.count() == 12
    assert time.monotonic() - started < 20


def test_a_value_left_out_folds_the_same_within_a_batch_as_across_batches(org):
    headers = ["Email", "First Name", "Lifecycle Stage"]
    rows = [["ann@example.com", "Ann", ""], ["ann@example.com", "Ann", "Customer"]]
    stages = []
    for batch_size in (1, 2):
        Contact.all_objects.all().delete()
        run_import(org.admin, csv_file(headers, rows), batch_size=batch_size)
        stages.append(Contact.objects.get().lifecycle_stage)
    assert stages == ["lead", "lead"]   # the first row's default, kept as an update would


def test_old_objects_stay_frozen_until_the_last_of_overlapping_runs_ends():
    with engine._old_objects_frozen():
        frozen = gc.get_freeze_count()
        with engine._old_objects_frozen():
            pass
        assert gc.get_freeze_count() == frozen > 0
    assert gc.get_freeze_count() == 0


def test_undo_records_are_runs_of_ids_and_undo_trashes_every_one(org):
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(i) for i in range(1, 24)]),
                     batch_size=10)

    runs = ImportChange.objects.filter(job=job, object_type="contact", action=ChangeAction.CREATED)
    assert runs.count() == 3   # one a batch
    covered = sorted(pk for run in runs for pk in run.object_ids)
    assert covered == sorted(Contact.objects.values_list("pk", flat=True)) and len(covered) == 23

    job = engine.undo(_undoing(job))
    assert job.status == ImportStatus.UNDONE
    assert not Contact.objects.exists() and Contact.all_objects.count() == 23
    assert not Company.objects.exists()


def _undoing(job):
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.UNDOING)
    return job.pk


def test_new_records_become_searchable_after_the_rows_and_indexing_resumes(org):
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(i) for i in range(1, 8)]),
                     batch_size=3)
    assert job.indexed_count == 8   # 7 contacts and the company they name
    assert _found("ada5")

    # A run that died while indexing: the next one goes on, and writes no document twice.
    SearchDocument.objects.filter(object_type="contact", object_id__in=Contact.objects.filter(
        first_name__in=["ada6", "ada7"]).values("pk")).delete()
    assert not _found("ada7")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, claim="dead",
                                               indexed_through=0, indexed_count=0)
    job = engine.run(job.pk, batch_size=3)

    assert job.status == ImportStatus.DONE and job.indexed_count == 8
    assert SearchDocument.objects.filter(object_type="contact").count() == 7
    assert _found("ada7")


def _found(first_name: str) -> bool:
    return Contact.objects.filter(id__in=matching_ids("contact", first_name),
                                  first_name=first_name).exists()


def test_while_indexing_the_page_says_so_and_shows_no_time_left(org, client):
    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(i) for i in range(1, 4)]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, indexed_count=2)
    client.force_login(org.admin)

    page = client.get(f"/settings/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()

    assert "Making the new records searchable…" in page
    assert "2 new records indexed for search so far" in page and "left" not in page


@pytest.mark.parametrize("value", [{}, [], {"a": [1, 2.5, None, True]}, {"näme": "Zoë ✓"},
                                   {1: "int keys become text"}, {"big": 2**70}, "plain"])
def test_bulk_json_is_the_same_data_as_json_dumps_gives(value):
    assert json.loads(bulk._as_json(value)) == json.loads(json.dumps(value))
    if not value or not str(value).isascii():   # text lookups see what save() writes
        assert bulk._as_json(value).replace(" ", "") == json.dumps(value).replace(" ", "")


@pytest.mark.parametrize("text", ["Zoë", "😀 and 𝄞 beyond U+FFFF", "line\u2028sep \x7f del \x01",
                                  "中文", 'quotes " and \\ slashes', "plain"])
def test_bulk_json_escapes_text_exactly_as_json_dumps_does(text):
    value = {text: [text, {"k": text}]}
    assert bulk._as_json(value) == json.dumps(value, separators=(",", ":"))


def test_json_written_in_bulk_is_found_by_the_lookups_that_find_saved_json(org):
    custom_field_create(actor=org.admin, object_type="contact", key="note", label="Note",
                        type="text")
    values = {"first_name": "Zoë", "emails": ["zoë@exämple.com"], "custom_fields": {"note": "Café ✓"}}
    saved = contact_create(actor=org.admin, data={**values, "first_name": "Saved"})
    [bulk_id] = bulk.insert_values(Contact, [{**values, "owner_id": org.admin.pk}])

    # (On SQLite an icontains of non-ASCII text finds neither: the stored text escapes it.)
    for lookup in [{"emails__icontains": "zoë@exä"}, {"custom_fields__note__icontains": "café"},
                   {"custom_fields__note": "Café ✓"}]:
        found = set(Contact.objects.filter(**lookup).values_list("pk", flat=True))
        assert (saved.pk in found) == (bulk_id in found), lookup
    assert set(Contact.objects.filter(custom_fields__note="Café ✓").values_list("pk", flat=True)) \
        == {saved.pk, bulk_id}
    assert Contact.objects.get(pk=bulk_id).custom_fields == {"note": "Café ✓"}


def test_bulk_json_refuses_what_json_dumps_refuses():
    with pytest.raises(TypeError):
        bulk._as_json({"when": datetime.datetime(2026, 11, 24)})


def test_one_of_finds_what_in_finds_sending_the_values_as_one_parameter(org):
    for i in range(3):
        contact_create(actor=org.admin, data={"first_name": f"P{i}", "email": f"p{i}@example.com"})
    contact_create(actor=org.admin, data={"first_name": "Q", "email": "o'brien+q@example.com"})
    wanted = ["p0@example.com", "p2@example.com", "o'brien+q@example.com",
              *(f"nobody{i}@example.com" for i in range(2000))]

    found = Contact.objects.filter(email__one_of=wanted)

    assert sorted(found.values_list("email", flat=True)) == sorted(
        Contact.objects.filter(email__in=wanted).values_list("email", flat=True))
    assert found.count() == 3
    assert len(found.query.sql_with_params()[1]) == 1
    assert not Contact.objects.filter(email__one_of=[]).exists()
    assert Contact.objects.filter(email__one_of=[None, "p1@example.com"]).count() == 1


def _wal_autocheckpoint() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)  # as a worker runs it, outside any transaction
def test_sqlite_copies_its_log_less_often_during_an_import_and_as_before_after(org, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    usual, seen, run_batch = _wal_autocheckpoint(), [], engine._run_batch

    def noting(*args):
        seen.append(_wal_autocheckpoint())
        return run_batch(*args)
    monkeypatch.setattr(engine, "_run_batch", noting)

    job = run_import(org.admin, csv_file(HUBSPOT, [hubspot_row(i) for i in range(1, 5)]), batch_size=2)

    assert job.status == ImportStatus.DONE
    assert seen == [engine.IMPORT_WAL_PAGES, engine.IMPORT_WAL_PAGES]
    assert _wal_autocheckpoint() == usual


def test_a_row_plan_travels_between_processes_whole():
    row = plan.RowPlan(number=7, values=["a", "b"], action=plan.Action.FAIL, data={"x": 1},
                       tags=["t"], company="Acme", problems=[{"column": "c"}], note="n")

    assert pickle.loads(pickle.dumps(row)) == row  # noqa: S301 - our own bytes


def test_a_company_trashed_during_an_import_is_not_linked_by_later_batches(org):
    rows = [hubspot_row(i, **{"Company Name": "Analytical Engines"}) for i in range(1, 5)]
    upload = csv_file(HUBSPOT, rows)
    job = services.import_create(actor=org.admin, upload=upload, object_type="contact")
    services.import_start(actor=org.admin, job_id=job.pk, in_background=False)

    def trash_the_company_after_the_first_batch(job):
        company = Company.objects.filter(name="Analytical Engines").first()
        if job.rows_done == 2 and company is not None:
            record_delete(actor=org.admin, object_type="company", record_id=company.pk)

    engine.run(job.pk, batch_size=2, progress=trash_the_company_after_the_first_batch)

    later = Contact.objects.get(email="ada4@example.com")
    assert later.company is not None and later.company.deleted_at is None
    assert Company.all_objects.filter(name="Analytical Engines").count() == 2


@pytest.mark.parametrize(("on_match", "written"), [("skip", [3, 6]), ("fill", [2, 4, 6])])
def test_an_import_that_updates_what_it_matches_writes_smaller_batches(org, monkeypatch,
                                                                       on_match, written):
    monkeypatch.setattr(engine, "BATCH", 3)
    monkeypatch.setattr(engine, "UPDATE_BATCH", 2)
    job = services.import_create(actor=org.admin, object_type="contact",
                                 upload=csv_file(HUBSPOT, [hubspot_row(i) for i in range(1, 7)]))
    services.import_configure(actor=org.admin, job_id=job.pk, mapping=job.mapping,
                              match_on=["email"], on_match=on_match)
    services.import_start(actor=org.admin, job_id=job.pk, in_background=False)
    reports = []

    engine.run(job.pk, progress=lambda job: reports.append(job.rows_done))

    assert reports[:len(written)] == written


def test_a_row_folded_into_an_earlier_one_is_in_the_new_records_created_event(org):
    rows = [hubspot_row(1, **{"Job Title": "", "Company Name": "Analytical Engines"}),
            hubspot_row(1, **{"Job Title": "Countess", "Phone Number": "+44 20 7946 0959"})]

    job = run_import(org.admin, csv_file(HUBSPOT, rows))

    assert (job.created_count, job.merged_count) == (1, 1)
    contact = Contact.objects.get(email="ada1@example.com")
    event = Event.objects.get(type="contact.created", object_id=contact.pk)
    assert event.data["values"] == {**snapshot(contact, records.tracked_fields(contact)), "tags": []}
    assert event.data["values"]["title"] == "Countess" and event.data["values"]["company"]


def test_a_company_an_import_creates_takes_the_domain_most_of_its_rows_emails_share(org):
    company_create(actor=org.admin, data={"name": "Hooli", "domain": "hooli.example"})
    globex = company_create(actor=org.admin, data={"name": "Globex", "domain": "globex.example"})
    record_delete(actor=org.admin, object_type="company", record_id=globex.pk)
    emails = {"Initech": ["", "Peter@Initech.example", "milton@initech.example", "bob@bobs.example"],
              "Solo Consulting": ["solo@gmail.com", "solo@mac.com"],  # free mail says nothing
              "Hooli XYZ": ["gavin@hooli.example"],          # another company's: never doubled
              "Globex Corp": ["hank@globex.example"],         # a trashed one's too
              "Initrode": ["bill@initech.example"],           # taken by Initech, above
              "Mixed Ltd": ["a@one.example", "b@two.example"]}  # no majority: no domain
    rows = [hubspot_row(i, **{"Company Name": name, "Email": email})
            for i, (name, email) in enumerate(((n, e) for n, es in emails.items() for e in es), 1)]

    job = run_import(org.admin, csv_file(HUBSPOT, rows))

    assert job.created_count == len(rows)
    assert dict(Company.objects.values_list("name", "domain")) == {
        "Hooli": "hooli.example", "Initech": "initech.example", "Solo Consulting": "",
        "Hooli XYZ": "", "Globex Corp": "", "Initrode": "", "Mixed Ltd": ""}


def test_companies_with_letters_the_database_folds_differently_are_found_not_doubled(org):
    weiss = company_create(actor=org.admin, data={"name": "Weiß GmbH"})
    aerzte = company_create(actor=org.admin, data={"name": "Ärzte AG"})
    rows = [hubspot_row(1, **{"Company Name": "Weiß GmbH"}), hubspot_row(2, **{"Company Name": "WEISS GMBH"}),
            hubspot_row(3, **{"Company Name": "Ärzte AG"}), hubspot_row(4, **{"Company Name": "ärzte ag"})]

    job = run_import(org.admin, csv_file(HUBSPOT, rows))

    assert job.created_count == 4 and Company.objects.count() == 2
    assert list(Contact.objects.order_by("pk").values_list("company_id", flat=True)) == [
        weiss.pk, weiss.pk, aerzte.pk, aerzte.pk]
