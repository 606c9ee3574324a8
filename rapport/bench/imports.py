"""`rapport bench import --rows N`: a CSV import's rows/s beside the raw database's bulk
insert of the same rows into the same indexed table, in the same run.

The file is written first (streamed: names from small pools, unique emails, valid phone
numbers, a company from a pool of 500, a country name). Then:

- raw: the same rows, already clean (with the ids of their companies, created first: the
  import finds them by name), into contacts_contact with executemany (SQLite) or COPY
  (PostgreSQL) and committed, into the table the import writes, with all its indexes (and
  deleted again, untimed);
- raw with events: the same, plus the `contact.created` outbox row an import writes for
  each record: what any import that keeps the event spine must write, with no Python;
- import: `rapport import` as a worker runs it: read, map and clean every row with the
  create service's own cleaners (in a second process beside the writer), match on email
  (one query per batch), find each row's company by name (they exist, as a CRM's
  companies mostly do when their people are imported), write contacts, events and undo
  records in bulk, checkpoint every batch; then build the new records' search documents. The rows/s
  the target is measured on is until every row is stored; indexing is shown beside it.

Memory: the peak of Python's allocations (tracemalloc) during imports of 5,000 and 20,000
more rows (fewer for a small --rows); streaming keeps the two the same. (Tracing slows
Python several times, so the speed figures come from the untraced import of all the rows.)
Run it on a scratch database (RAPPORT_DATA_DIR=/tmp/bench-import).
"""

import csv
import json
import os
import platform
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.core.files import File
from django.db import connection, transaction

from rapport.bench.seed import DOMAINS, Pools
from rapport.contacts.models import Contact

TARGET_SHARE = 40.0
# Memory is probed with imports of this many rows and four times as many: flat memory means
# the same peak for both.
MEMORY_PROBE = 5_000
BENCH_USER = "bench-import@rapport.invalid"
HEADERS = ["First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company Name",
           "City", "Country/Region", "Lifecycle Stage"]
COUNTRIES = ["United States", "United Kingdom", "Germany", "France", "Canada", "Netherlands"]
STAGES = ["Lead", "Subscriber", "Marketing Qualified Lead", "Customer", "Opportunity"]
RAW_COLUMNS = ["created_at", "updated_at", "version", "custom_fields", "street", "city", "region",
               "postal_code", "country", "first_name", "last_name", "email", "emails", "phone",
               "phones", "title", "lifecycle_stage", "linkedin_url", "twitter_url", "website",
               "external_id", "company_id", "created_by_id", "owner_id"]


EVENT_COLUMNS = ["id", "type", "object_type", "object_id", "actor_id", "source", "data", "created_at",
                 "dispatched_at", "dispatch_attempts", "dispatch_error", "retry_at"]
# A created event's data as an import writes it for a row of this file.
_EVENT_DATA = json.dumps({"values": {
    "owner": 1, "custom_fields": {}, "street": "", "city": "East Andrea", "region": "",
    "postal_code": "", "country": "US", "first_name": "Jill", "last_name": "Thies",
    "email": "jill.19999@corp.example", "emails": [], "phone": "+12012019999", "phones": [],
    "title": "Engineer", "lifecycle_stage": "lead", "company": 500, "linkedin_url": "",
    "twitter_url": "", "website": "", "external_id": "", "tags": []}})


def company_names(pools: Pools) -> list[str]:
    return [f"{pools.last[i % len(pools.last)]} {suffix}"
            for i, suffix in enumerate(["Ltd", "GmbH", "Inc", "SA", "BV"] * 100)]


def write_csv(path: Path, rows: int, *, offset: int = 0, seed: int = 7) -> None:
    pools = Pools(seed)
    rng = random.Random(seed)
    companies = company_names(pools)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(offset, offset + rows):
            first, last = rng.choice(pools.first), rng.choice(pools.last)
            # +1 201-555-01xx style numbers are not valid; 201 2xx-xxxx ones are.
            phone = f"+1 201 2{(i // 10000) % 100:02d}-{i % 10000:04d}"
            writer.writerow([first, last, f"{pools.first_mail[pools.first.index(first)]}.{i}@"
                             f"{DOMAINS[i % len(DOMAINS)]}", phone, rng.choice(pools.titles),
                             companies[i % len(companies)], rng.choice(pools.cities),
                             rng.choice(COUNTRIES), rng.choice(STAGES)])


def _actor():
    from rapport.accounts.models import User

    return User.objects.filter(email=BENCH_USER).first() or User.objects.create_superuser(
        BENCH_USER, None, full_name="Bench Import")


def create_companies(actor, *, seed: int = 7) -> dict[str, int]:
    """The file's companies, as they exist before the import (which finds them by name) and
    the raw inserts' rows refer to them: name -> id."""
    from rapport.contacts.services import companies_create_named

    names = list(dict.fromkeys(company_names(Pools(seed))))
    with transaction.atomic():
        return dict(zip(names, companies_create_named(actor=actor, names=names), strict=True))


def raw_insert(path: Path, owner_id: int, companies: dict[str, int], *,
               with_events: bool = False) -> float:
    """The engine's own rate for these rows, clean, into contacts_contact: inserted with
    executemany or COPY and committed, as a bulk load is (then deleted again, untimed).
    Returns rows/s.

    With `with_events`, each row also writes the `contact.created` outbox row an import
    writes for it (prepared in advance, as the contacts are): the floor of any import that
    keeps the event spine, with no Python at all."""
    from rapport.core.bulk import allocate_ids, insert_rows
    from rapport.core.models import Event

    rows = _raw_rows(path, owner_id, companies)
    with transaction.atomic():
        ids = allocate_ids(Contact, len(rows))
        event_ids = allocate_ids(Event, len(rows)) if with_events else []
    events = [(event_id, "contact.created", "contact", pk, owner_id, "import", _EVENT_DATA,
               rows[0][0], None, 0, "", None) for event_id, pk in zip(event_ids, ids, strict=False)]
    started = time.perf_counter()
    with transaction.atomic():
        insert_rows(Contact._meta.db_table, ["id", *RAW_COLUMNS],
                    [(pk, *row) for pk, row in zip(ids, rows, strict=True)])
        insert_rows(Event._meta.db_table, EVENT_COLUMNS, events)
    elapsed = time.perf_counter() - started
    # Plain deletes: nothing refers to these rows, and Django's would list every id.
    with transaction.atomic(), connection.cursor() as cursor:
        for model, span in [(Contact, ids), (Event, event_ids)]:
            if span:
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE id BETWEEN %s AND %s",  # noqa: S608
                               [span[0], span[-1]])
    return len(rows) / elapsed


def _raw_rows(path: Path, owner_id: int, companies: dict[str, int]) -> list[tuple]:
    """The rows as the import stores them (worked out here, untimed: the raw insert is the
    engine's own rate for the same rows, with nothing to work out)."""
    from rapport.core.countries import normalise_country
    from rapport.transfer.mapping import lifecycle_stage_of

    now = "2026-01-01 00:00:00" + ("+00:00" if connection.vendor == "postgresql" else "")
    countries = {name: normalise_country(name) for name in COUNTRIES}
    stages = {word: lifecycle_stage_of(word) for word in STAGES}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(now, now, 1, "{}", "", city, "", "", countries[country], first, last, email.lower(),
                 "[]", phone.replace(" ", "").replace("-", ""), "[]", title, stages[stage], "", "",
                 "", "", companies[company], owner_id, owner_id)
                for first, last, email, phone, title, company, city, country, stage in reader]


def import_file(path: Path, actor, *, trace_memory: bool = False) -> dict:
    """One import as a worker runs it: its rows/s until every row is stored, the rows/s of
    the search indexing after them, the whole job's rows/s, its peak traced memory in bytes
    (when traced: tracing slows Python several times, so the speed figures come from an
    untraced run), and the job."""
    from rapport.transfer import engine, services

    with path.open("rb") as handle:
        job = services.import_create(actor=actor, upload=File(handle, name=path.name),
                                     object_type="contact")
    job = services.import_configure(actor=actor, job_id=job.pk, mapping=job.mapping,
                                    match_on=["email"], on_match="skip")
    services.import_start(actor=actor, job_id=job.pk, in_background=False)
    rows_stored = []

    def progress(job):
        # The last report before indexing: every row stored and the write-ahead log copied.
        if job.rows_done == job.total_rows and not job.indexed_count:
            rows_stored[:] = [time.perf_counter()]

    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    job = engine.run(job.pk, progress=progress)
    elapsed = time.perf_counter() - started
    peak = 0
    if trace_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    stored = rows_stored[0] - started
    return {"rows_per_s": job.rows_done / stored,
            "indexed_per_s": job.indexed_count / max(elapsed - stored, 1e-9),
            "whole_rows_per_s": job.rows_done / elapsed, "peak": peak, "job": job}


def run(*, rows: int, out=print) -> dict:
    if Contact.all_objects.exists():
        raise RuntimeError("This database holds contacts; run the bench on a scratch database "
                           "(RAPPORT_DATA_DIR=/tmp/bench-import).")
    actor = _actor()
    with tempfile.TemporaryDirectory(prefix="rapport-bench-import-") as folder:
        big_path = Path(folder) / "contacts.csv"
        out(f"Writing a {rows:,}-row CSV…")
        write_csv(big_path, rows)
        out(f"  {big_path.stat().st_size / 1048576:,.0f} MB")
        companies = create_companies(actor)
        out("Raw bulk insert of the same rows (committed, then deleted)…")
        raw = raw_insert(big_path, actor.pk, companies)
        out(f"  {raw:,.0f} rows/s")
        out("Raw bulk insert of the same rows with their created events…")
        floor = raw_insert(big_path, actor.pk, companies, with_events=True)
        out(f"  {floor:,.0f} rows/s")
        out(f"Import of {rows:,} rows…")
        imported = import_file(big_path, actor)
        out(f"  {imported['rows_per_s']:,.0f} rows/s stored, then "
            f"{imported['indexed_per_s']:,.0f} rows/s indexed for search")
        peaks, offset = {}, rows
        small = min(MEMORY_PROBE, rows)
        for size in (small, 4 * small):
            out(f"Import of {size:,} more rows with memory traced…")
            path = Path(folder) / f"contacts-{offset}.csv"
            write_csv(path, size, offset=offset)
            offset += size
            peaks[size] = import_file(path, actor, trace_memory=True)["peak"]
    job = imported["job"]
    share = 100 * imported["rows_per_s"] / raw if raw else 0.0
    return {
        "target": "import", "engine": connection.vendor, "rows": rows,
        "raw_rows_per_s": round(raw), "raw_with_events_rows_per_s": round(floor),
        "import_rows_per_s": round(imported["rows_per_s"]),
        "indexed_rows_per_s": round(imported["indexed_per_s"]),
        "whole_job_rows_per_s": round(imported["whole_rows_per_s"]),
        "share_of_raw_pct": round(share, 1), "target_pct": TARGET_SHARE,
        "passed": share >= TARGET_SHARE,
        "created": job.created_count, "failed": job.failed_count,
        "peak_memory_mb": {f"{size:,} rows": round(peak / 1048576, 1) for size, peak in peaks.items()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
    }


def report(result: dict) -> str:
    verdict = "PASS" if result["passed"] else "MISS"
    memory = ", ".join(f"{k}: {v} MB" for k, v in result["peak_memory_mb"].items())
    raw = result["raw_rows_per_s"]
    return "\n".join([
        "",
        f"Import of {result['rows']:,} contacts on {result['engine']} "
        f"({result['created']:,} created, {result['failed']:,} failed)",
        f"  {'raw bulk insert':<34}{raw:>10,} rows/s",
        f"  {'raw, with each created event':<34}{result['raw_with_events_rows_per_s']:>10,} rows/s  "
        f"{100 * result['raw_with_events_rows_per_s'] / raw:.1f}% of raw (no Python at all)",
        f"  {'rapport import, rows stored':<34}{result['import_rows_per_s']:>10,} rows/s  "
        f"{result['share_of_raw_pct']:.1f}% of raw  (target ≥ {result['target_pct']:.0f}%) {verdict}",
        f"  {'then search indexing':<34}{result['indexed_rows_per_s']:>10,} rows/s",
        f"  {'whole job':<34}{result['whole_job_rows_per_s']:>10,} rows/s",
        f"  peak Python memory during the import: {memory}",
    ])
