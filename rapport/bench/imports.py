"""`rapport bench import --rows N`: a CSV import's rows/s beside the raw database's bulk
insert of the same rows into the same indexed table, in the same run.

The file is written first (streamed: names from small pools, unique emails, valid phone
numbers, a company from a pool of 500, a country name). Then:

- raw: the same rows, already clean, into contacts_contact with executemany (SQLite) or COPY
  (PostgreSQL), in one transaction that is rolled back, so the table is the same one the
  import writes, with all its indexes;
- import: `rapport import` as a worker runs it: read, map, clean every row with the create
  service's own cleaners, match on email (one query per batch), create companies, write
  contacts, search documents and events in bulk, checkpoint every batch.

Memory: the peak of Python's allocations (tracemalloc) during imports of 5,000 and 20,000
more rows; streaming keeps the two the same. (Tracing slows Python several times, so the
speed figure comes from the untraced import of all the rows.) Run it on a scratch database
(RAPPORT_DATA_DIR=/tmp/bench-import).
"""

import csv
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

TARGET_SHARE = 40.0
# Two file sizes, four times apart: flat memory means the same peak for both.
MEMORY_SIZES = (5_000, 20_000)
BENCH_USER = "bench-import@rapport.invalid"
HEADERS = ["First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company Name",
           "City", "Country/Region", "Lifecycle Stage"]
COUNTRIES = ["United States", "United Kingdom", "Germany", "France", "Canada", "Netherlands"]
STAGES = ["Lead", "Subscriber", "Marketing Qualified Lead", "Customer", "Opportunity"]
RAW_COLUMNS = ["created_at", "updated_at", "version", "custom_fields", "street", "city", "region",
               "postal_code", "country", "first_name", "last_name", "email", "emails", "phone",
               "phones", "title", "lifecycle_stage", "linkedin_url", "twitter_url", "website",
               "external_id", "company_id", "created_by_id", "owner_id"]


def write_csv(path: Path, rows: int, *, offset: int = 0, seed: int = 7) -> None:
    pools = Pools(seed)
    rng = random.Random(seed)
    companies = [f"{pools.last[i % len(pools.last)]} {suffix}"
                 for i, suffix in enumerate(["Ltd", "GmbH", "Inc", "SA", "BV"] * 100)]
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


def raw_insert(path: Path, owner_id: int) -> float:
    """The engine's own rate for these rows, clean, into contacts_contact. Returns rows/s."""
    from rapport.core.bulk import insert_rows

    now = "2026-01-01 00:00:00" + ("+00:00" if connection.vendor == "postgresql" else "")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        rows = [(now, now, 1, "{}", "", city, "", "", "US", first, last, email.lower(), "[]",
                 phone.replace(" ", "").replace("-", ""), "[]", title, "lead", "", "", "", "", None,
                 owner_id, owner_id)
                for first, last, email, phone, title, _company, city, _country, _stage in reader]
    started = time.perf_counter()
    try:
        with transaction.atomic():
            insert_rows("contacts_contact", RAW_COLUMNS, rows)
            elapsed = time.perf_counter() - started
            raise _Rollback()
    except _Rollback:
        pass
    return len(rows) / elapsed


class _Rollback(Exception):
    pass


def import_file(path: Path, actor, *, trace_memory: bool = False) -> tuple[float, int, object]:
    """Rows/s of the whole import, its peak traced memory in bytes (when traced: tracing
    slows Python down several times, so the speed figure comes from an untraced run), and
    the job."""
    from rapport.transfer import engine, services

    with path.open("rb") as handle:
        job = services.import_create(actor=actor, upload=File(handle, name=path.name),
                                     object_type="contact")
    job = services.import_configure(actor=actor, job_id=job.pk, mapping=job.mapping,
                                    match_on=["email"], on_match="skip")
    services.import_start(actor=actor, job_id=job.pk, in_background=False)
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    job = engine.run(job.pk)
    elapsed = time.perf_counter() - started
    peak = 0
    if trace_memory:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return job.rows_done / elapsed, peak, job


def run(*, rows: int, out=print) -> dict:
    from rapport.contacts.models import Contact

    if Contact.all_objects.exists():
        raise RuntimeError("This database holds contacts; run the bench on a scratch database "
                           "(RAPPORT_DATA_DIR=/tmp/bench-import).")
    actor = _actor()
    with tempfile.TemporaryDirectory(prefix="rapport-bench-import-") as folder:
        big_path = Path(folder) / "contacts.csv"
        out(f"Writing a {rows:,}-row CSV…")
        write_csv(big_path, rows)
        out(f"  {big_path.stat().st_size / 1048576:,.0f} MB")
        out("Raw bulk insert of the same rows (rolled back)…")
        raw = raw_insert(big_path, actor.pk)
        out(f"  {raw:,.0f} rows/s")
        out(f"Import of {rows:,} rows…")
        rate, _, job = import_file(big_path, actor)
        out(f"  {rate:,.0f} rows/s")
        peaks = {}
        for size in MEMORY_SIZES:
            out(f"Import of {size:,} more rows with memory traced…")
            path = Path(folder) / f"contacts-{size}.csv"
            write_csv(path, size, offset=rows + sum(peaks))
            peaks[size] = import_file(path, actor, trace_memory=True)[1]
    share = 100 * rate / raw if raw else 0.0
    return {
        "target": "import", "engine": connection.vendor, "rows": rows,
        "raw_rows_per_s": round(raw), "import_rows_per_s": round(rate),
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
    return "\n".join([
        "",
        f"Import of {result['rows']:,} contacts on {result['engine']} "
        f"({result['created']:,} created, {result['failed']:,} failed)",
        f"  {'raw bulk insert':<28}{result['raw_rows_per_s']:>12,} rows/s",
        f"  {'rapport import':<28}{result['import_rows_per_s']:>12,} rows/s  "
        f"{result['share_of_raw_pct']:.1f}% of raw  (target ≥ {result['target_pct']:.0f}%) {verdict}",
        f"  peak Python memory during the import: {memory}",
    ])
