"""`rapport bench contacts` end to end, on a throwaway SQLite database in tmp_path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rapport.bench import imports
from rapport.contacts.models import Company, Contact

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ["wsgi", "hello", "detail", "list_first", "list_deep", "list_filtered", "search"]


def test_bench_contacts_measures_every_figure(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["RAPPORT_DATA_DIR"] = str(tmp_path / "data")
    rapport = [sys.executable, "-m", "rapport"]
    subprocess.run([*rapport, "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    out = tmp_path / "out.json"
    bench = [*rapport, "bench", "contacts", "--rows", "2000", "--requests", "30",
             "--json", str(out)]
    done = subprocess.run(bench, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Targets" in done.stdout

    result = json.loads(out.read_text())
    assert result["engine"] == "sqlite"
    assert result["rows"] == 2000
    insert = result["insert"]
    for key in ("generation_rows_per_s", "raw_rows_per_s", "rapport_rows_per_s"):
        assert insert[key] > 0, key
    for name in ENDPOINTS:
        figures = result["http"][name]
        for key in ("p50_ms", "p95_ms", "rps", "loaded_p95_ms"):
            assert figures[key] > 0, (name, key)
        if name not in {"wsgi", "hello"}:
            assert figures["db_p50_ms"] > 0 and figures["db_p95_ms"] > 0, name
    assert [t["target"] for t in result["targets"]] and all(
        isinstance(t["pass"], bool) for t in result["targets"])

    # A database that already holds contacts is refused without --reuse.
    again = subprocess.run(bench, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0
    assert "already holds 2000 contacts" in again.stderr


def _bench(tmp_path, *args) -> tuple[subprocess.CompletedProcess, dict]:
    """`rapport bench <args>` on a fresh SQLite database in tmp_path: the run and its JSON."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["RAPPORT_DATA_DIR"] = str(tmp_path / "data")
    rapport = [sys.executable, "-m", "rapport"]
    subprocess.run([*rapport, "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    out = tmp_path / "bench.json"
    done = subprocess.run([*rapport, "bench", *args, "--json", str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(out.read_text())


def test_bench_email_compares_rapport_with_a_plain_smtplib_loop(tmp_path):
    done, result = _bench(tmp_path, "email", "--messages", "300", "--processes", "2")
    assert "plain smtplib, one connection" in done.stdout and "Targets" in done.stdout
    assert result["messages"] == 300
    for key in ("smtplib_msgs_per_s", "worker_msgs_per_s", "pooled_msgs_per_s"):
        assert result[key] > 0, key
    assert [t["target"] for t in result["targets"]] == [
        "one worker >= 80% of plain smtplib", "several pooled connections >= 1,000 msgs/s"]


def test_bench_events_dispatches_through_webhooks_and_rules(tmp_path):
    _, result = _bench(tmp_path, "events", "--events", "300")
    assert result["deliveries"] == 300 and result["rule_runs"] == 30 and result["failures"] == 0
    assert result["rapport_events_per_s"] > 0 and result["raw_events_per_s"] > 0
    assert result["targets"][0]["target"] == "events dispatched >= 1,000/s per worker"


def test_bench_duplicates_times_the_scan_and_finds_the_planted_twins(tmp_path):
    done, result = _bench(tmp_path, "duplicates", "--rows", "2000")
    assert (result["rows"], result["planted"]) == (2020, 20)  # one contact in a hundred twinned
    assert result["planted_found"] == 20 and result["pairs"] >= 20
    assert "2,020" in done.stdout


def test_bench_import_sets_the_import_beside_the_raw_insert_and_its_floor(tmp_path):
    done, result = _bench(tmp_path, "import", "--rows", "1000")
    assert "raw, with each created event" in done.stdout and "then search indexing" in done.stdout
    assert (result["rows"], result["created"], result["failed"]) == (1000, 1000, 0)
    for key in ("raw_rows_per_s", "raw_with_events_rows_per_s", "import_rows_per_s",
                "indexed_rows_per_s", "whole_job_rows_per_s"):
        assert result[key] > 0, key
    assert result["whole_job_rows_per_s"] < result["import_rows_per_s"]
    assert list(result["peak_memory_mb"]) == ["1,000 rows", "4,000 rows"]


@pytest.mark.django_db
def test_bench_import_raw_inserts_the_rows_the_import_stores(tmp_path):
    """The raw rate is the engine's for the same rows: the same values in every column."""
    path = tmp_path / "contacts.csv"
    imports.write_csv(path, 60)
    actor = imports._actor()
    raw = imports._raw_rows(path, actor.pk, imports.create_companies(actor))
    job = imports.import_file(path, actor)["job"]
    assert job.created_count == 60

    compared = [i for i, name in enumerate(imports.RAW_COLUMNS)
                if name not in {"created_at", "updated_at", "custom_fields", "emails", "phones"}]
    stored = Contact.objects.order_by("pk").values_list(
        *[imports.RAW_COLUMNS[i] for i in compared])
    assert [tuple(row[i] for i in compared) for row in raw] == list(stored)
    assert {row[imports.RAW_COLUMNS.index("company_id")] for row in raw} <= set(
        Company.objects.values_list("pk", flat=True))
