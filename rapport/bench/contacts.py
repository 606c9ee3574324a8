"""`rapport bench contacts`: seed N contacts, then measure the API against the raw engine.

For every endpoint the same work is timed twice: over HTTP (gunicorn, bearer token,
keep-alive connections) and as the bare SQL that the selector runs, replayed on the
DB-API cursor. The gap between the two is Rapport's own cost.
"""

import datetime
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.http import QueryDict

from rapport.bench import http, seed
from rapport.core.search import fold
from rapport.web.serving import default_threads, default_workers

# (name, figure, limit, kind) - kind "max": value must be below limit; "min": at least.
TARGETS = [
    ("detail p95 < 15 ms", "detail", "p95_ms", 15.0, "max"),
    ("filtered+sorted list p95 < 50 ms", "list_filtered", "p95_ms", 50.0, "max"),
    ("search p95 < 100 ms", "search", "p95_ms", 100.0, "max"),
    ("detail throughput >= 40% of hello-world", "detail", "pct_of_hello", 40.0, "min"),
]
API = "/api/v1/contacts"
THROUGHPUT_ROUNDS = 3


class BenchRefused(Exception):
    pass


def run(*, rows: int, requests: int, concurrency: int, reuse: bool, max_seconds: float = 20.0,
        out=print) -> dict:
    from rapport.accounts.services import token_create
    from rapport.contacts.models import Contact

    existing = Contact.all_objects.count()
    if existing and not reuse:
        raise BenchRefused(
            f"The database already holds {existing} contacts. The benchmark writes rows in bulk; "
            "point it at a scratch database (RAPPORT_DATA_DIR=/tmp/bench, or DATABASE_URL) "
            "or pass --reuse to benchmark the contacts already there.")
    engine = connection.vendor
    result: dict = {
        "engine": engine,
        "engine_version": _engine_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "requests": requests,
        "concurrency": concurrency,
        "max_seconds_per_figure": max_seconds,
    }
    admin, owner_ids = seed.seed_owners()
    if existing:
        out(f"Reusing the {existing:,} contacts already in the database (no insert figures).")
        result["insert"] = None
    else:
        result["insert"] = _seed(rows, owner_ids, out)
    result["rows"] = Contact.all_objects.count()

    endpoints = _endpoints(result["rows"])
    out("")
    out(f"Raw database timings ({requests} runs of each selector's SQL on the DB-API cursor)...")
    for endpoint in endpoints.values():
        if endpoint["capture"]:
            endpoint["db"] = _db_timing(endpoint["capture"](admin), requests, max_seconds)

    _, token = token_create(user=admin, name="bench")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connection.close()
    out(f"HTTP: gunicorn as `rapport serve` runs it ({default_workers()} workers x "
        f"{default_threads()} threads); {requests} requests per figure, "
        f"latency at concurrency 1, throughput at concurrency {concurrency} "
        f"(median of {THROUGHPUT_ROUNDS} interleaved rounds)...")
    http_results = {}
    with http.Server(cwd=Path(settings.BASE_DIR)) as server:
        # Warm every worker thread first (its DB connection, URL resolver, first-query
        # caches): the connections of a later figure may land on any of them.
        every_path = [path for endpoint in endpoints.values() for path in endpoint["paths"][:3]]
        http.load(server.port, every_path, requests=len(every_path) * 10, headers=headers,
                  concurrency=2 * default_workers() * default_threads(), max_seconds=max_seconds)
        serial = {name: http.load(server.port, endpoint["paths"], requests=requests,
                                  concurrency=1, headers=headers, max_seconds=max_seconds)
                  for name, endpoint in endpoints.items()}
        # Throughput in interleaved rounds, the median kept: one run per figure swung
        # by half between identical runs on this shared machine, and a neighbour's
        # burst should hit every figure alike rather than one of them.
        loaded = {name: [] for name in endpoints}
        for _ in range(THROUGHPUT_ROUNDS):
            for name, endpoint in endpoints.items():
                loaded[name].append(http.load(
                    server.port, endpoint["paths"], requests=requests * concurrency // THROUGHPUT_ROUNDS,
                    concurrency=concurrency, headers=headers, max_seconds=max_seconds / THROUGHPUT_ROUNDS))
        for name, endpoint in endpoints.items():
            runs = [serial[name], *loaded[name]]
            if any(run.errors for run in runs):
                failed = next(run for run in runs if run.errors)
                raise RuntimeError(f"{name}: {sum(run.errors for run in runs)} failed requests, "
                                   f"e.g. {failed.first_error}")
            under_load = http.Run([t for run in loaded[name] for t in run.latencies],
                                  sum(run.elapsed for run in loaded[name]), 0)
            rps = statistics.median(run.rps for run in loaded[name])
            db = endpoint.get("db") or {}
            http_results[name] = {
                "path": endpoint["paths"][0],
                "p50_ms": round(serial[name].pct(50), 3),
                "p95_ms": round(serial[name].pct(95), 3),
                "rps": round(rps, 1),
                "rps_rounds": [round(run.rps, 1) for run in loaded[name]],
                "loaded_p50_ms": round(under_load.pct(50), 3),
                "loaded_p95_ms": round(under_load.pct(95), 3),
                "db_p50_ms": db.get("p50_ms"),
                "db_p95_ms": db.get("p95_ms"),
                "db_queries": db.get("queries"),
                "samples": len(serial[name].latencies),
                "loaded_samples": len(under_load.latencies),
                "db_samples": db.get("samples"),
            }
            out(f"  {name}: p95 {serial[name].pct(95):.1f} ms, {rps:.0f} req/s "
                f"(rounds: {', '.join(f'{run.rps:.0f}' for run in loaded[name])})")
    hello = http_results["hello"]["rps"]
    for figures in http_results.values():
        figures["pct_of_hello"] = round(100 * figures["rps"] / hello, 1) if hello else None
    result["http"] = http_results
    result["targets"] = _targets(http_results, result["rows"])
    out("")
    out(report(result))
    return result


def _engine_version() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return "PostgreSQL " + cursor.fetchone()[0]
        cursor.execute("SELECT sqlite_version()")
        return "SQLite " + cursor.fetchone()[0]


def _seed(rows: int, owner_ids: list[int], out) -> dict:
    out(f"Seeding {rows:,} contacts into {connection.vendor} "
        f"({settings.DATABASES['default']['NAME']})...")
    pools = seed.Pools()
    generation = seed.generation_rate(rows, owner_ids=owner_ids, pools=pools)
    out(f"  row generation alone: {generation:,.0f} rows/s")
    raw = seed.raw_insert(rows, owner_ids=owner_ids, pools=pools)
    out(f"  raw engine, plain table: {raw:,.0f} rows/s")
    step = max(rows // 10, seed.BATCH)
    marks = iter(range(step, rows + step, step))
    mark = [next(marks)]

    def progress(done, elapsed):
        if done >= mark[0]:
            out(f"    {done:,} contacts, {done / elapsed:,.0f} rows/s")
            mark[0] = next(marks, rows + 1)

    started = time.perf_counter()
    rapport_rate = seed.rapport_seed(rows, owner_ids=owner_ids, pools=pools, progress=progress)
    seeded_s = time.perf_counter() - started
    out(f"  Rapport seed: {rapport_rate:,.0f} rows/s")
    analyze_s = seed.analyze()
    out(f"  ANALYZE: {analyze_s:.1f} s")
    return {
        "rows": rows,
        "generation_rows_per_s": round(generation),
        "raw_rows_per_s": round(raw),
        "rapport_rows_per_s": round(rapport_rate),
        "rapport_pct_of_raw": round(100 * rapport_rate / raw, 1),
        "rapport_seconds": round(seeded_s, 1),
        "analyze_seconds": round(analyze_s, 2),
    }


def _endpoints(rows: int) -> dict:
    from rapport.contacts import selectors
    from rapport.contacts.models import Contact
    from rapport.core.listing import encode_cursor

    live = Contact.all_objects.filter(deleted_at__isnull=True)
    bounds = live.order_by("id").values_list("id", flat=True)
    low, high = bounds.first(), live.order_by("-id").values_list("id", flat=True).first()
    rng = random.Random(7)
    ids = []
    for _ in range(50):
        pick = bounds.filter(id__gte=rng.randint(low, high)).first()
        ids.append(pick or low)
    depth = int(rows * 0.9)
    deep = live.order_by("last_name", "id").values_list("last_name", "id")[depth:depth + 1].first() \
        or live.order_by("last_name", "id").values_list("last_name", "id").first()
    cursor = encode_cursor("last_name", deep[0], deep[1])
    common = live.values("last_name").annotate(n=Count("id")).order_by("-n").first()
    prefix = fold(common["last_name"] if common else "a")[:4]

    def listing(query: dict):
        def capture(user):
            return _capture(lambda: selectors.contact_list(user=user, params=QueryDict(urlencode(query))))
        return [f"{API}?{urlencode(query)}"], capture

    def detail_capture(user):
        return [_capture(lambda pk=pk: selectors.contact_get(user=user, contact_id=pk))[0]
                for pk in ids]

    first = listing({"limit": 50, "sort": "last_name"})
    deep_page = listing({"limit": 50, "sort": "last_name", "cursor": cursor})
    filtered = listing({"lifecycle_stage": "customer", "sort": "-created_at", "limit": 50})
    search = listing({"q": prefix, "limit": 50})
    return {
        "wsgi": {"paths": ["/__wsgi"], "capture": None},
        "hello": {"paths": ["/__hello"], "capture": None},
        "detail": {"paths": [f"{API}/{pk}" for pk in ids], "capture": detail_capture},
        "list_first": {"paths": first[0], "capture": first[1]},
        "list_deep": {"paths": deep_page[0], "capture": deep_page[1], "depth": depth},
        "list_filtered": {"paths": filtered[0], "capture": filtered[1]},
        "search": {"paths": search[0], "capture": search[1], "q": prefix},
    }


def _capture(call) -> list[list[tuple]]:
    """The (sql, params) a selector call sends to the database, as one replayable request."""
    queries: list[tuple] = []

    def wrapper(execute, sql, params, many, context):
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        call()
    return [queries]


def _db_timing(requests_sql: list[list[tuple]], runs: int, max_seconds: float = 20.0) -> dict:
    """Replay each request's queries on the raw DB-API cursor, fetching every row."""
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "postgresql":
        import psycopg

        cursor = psycopg.ClientCursor(raw)  # what Django uses: parameters bound client-side

        def convert(sql):
            return sql
    else:
        from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

        cursor = raw.cursor()

        def convert(sql):
            return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")

    prepared = [[(convert(sql), params) for sql, params in queries] for queries in requests_sql]
    timings = []
    deadline = time.perf_counter() + max_seconds
    for i in range(runs):
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        for sql, params in prepared[i % len(prepared)]:
            cursor.execute(sql, params)
            cursor.fetchall()
        timings.append(time.perf_counter() - started)
    cursor.close()
    if connection.vendor == "postgresql" and not raw.autocommit:
        raw.rollback()
    return {"p50_ms": round(http.percentile(timings, 50) * 1000, 3),
            "p95_ms": round(http.percentile(timings, 95) * 1000, 3),
            "queries": len(prepared[0]), "samples": len(timings)}


def _targets(figures: dict, rows: int) -> list[dict]:
    checks = []
    for label, endpoint, key, limit, kind in TARGETS:
        value = figures[endpoint][key]
        ok = value is not None and (value < limit if kind == "max" else value >= limit)
        checks.append({"target": label, "value": value, "limit": limit, "pass": ok,
                       "at_rows": rows})
    return checks


def report(result: dict) -> str:
    lines = [f"Rapport bench: {result['rows']:,} contacts on {result['engine_version']}, "
             f"{result['machine']['cpus']} CPUs, {result['date']}"]
    insert = result.get("insert")
    if insert:
        lines += [
            "",
            f"Bulk insert of {insert['rows']:,} rows              rows/s",
            f"  row generation alone (Python)      {insert['generation_rows_per_s']:>10,}",
            f"  raw engine, plain table + 2 idx    {insert['raw_rows_per_s']:>10,}",
            f"  Rapport seed (contacts + search)   {insert['rapport_rows_per_s']:>10,}"
            f"   ({insert['rapport_pct_of_raw']}% of raw)",
            f"  ANALYZE afterwards                 {insert['analyze_seconds']:>9} s",
        ]
    lines += [
        "",
        f"{'endpoint':<14}{'p50 ms':>8}{'p95 ms':>8}{'req/s':>8}{'%hello':>8}"
        f"{'p95@c' + str(result['concurrency']):>9}{'DB p50':>8}{'DB p95':>8}{'queries':>8}"
        "  n (c1/c" + str(result["concurrency"]) + "/DB)",
    ]

    def num(value, width, fmt="{:.1f}"):
        return f"{'-' if value is None else fmt.format(value):>{width}}"

    for name, f in result["http"].items():
        lines.append(f"{name:<14}{num(f['p50_ms'], 8)}{num(f['p95_ms'], 8)}"
                     f"{num(f['rps'], 8, '{:.0f}')}{num(f['pct_of_hello'], 8, '{:.0f}%')}"
                     f"{num(f['loaded_p95_ms'], 9)}{num(f['db_p50_ms'], 8, '{:.2f}')}"
                     f"{num(f['db_p95_ms'], 8, '{:.2f}')}{f['db_queries'] or '-':>8}"
                     f"{f['samples']:>5}/{f['loaded_samples']}/{f['db_samples'] or '-'}")
    lines += ["", "Targets (at 1M contacts; latency at concurrency 1):"]
    for check in result["targets"]:
        unit = "%" if "throughput" in check["target"] else " ms"
        lines.append(f"  {'PASS' if check['pass'] else 'MISS'}  {check['target']:<42}"
                     f"measured {check['value']}{unit}")
    if result["rows"] < 1_000_000:
        lines.append(f"  (measured at {result['rows']:,} rows, not 1M: indicative only)")
    lines.append(f"Each figure: up to {result['requests']} requests/runs, cut at "
                 f"{result['max_seconds_per_figure']:g} s (n = samples taken).")
    return "\n".join(lines)


def write_json(result: dict, path: str) -> None:
    Path(path).write_text(json.dumps(result, indent=2, default=str) + "\n")
