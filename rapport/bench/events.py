"""`rapport bench events`: events dispatched per second through webhooks and rules.

Sets up one webhook subscribed to `contact.*` and one active rule (a title change to a
"chief" title tags the contact), records N `contact.updated` events for N contacts, then
times `dispatch_pending()` as one worker runs it: for every event, a signed delivery row
for the webhook and a receipt, and a run for the rule where its condition holds (one in
ten), each with its receipt, plus the jobs that send and run them queued. Beside it, the
raw engine writes the same rows with plain executemany in the same batches.
Run it on a scratch database (RAPPORT_DATA_DIR=/tmp/x); what it creates is deleted.
"""

import os
import platform
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

TARGET_PER_S = 1000
BENCH_USER = "bench-events@rapport.invalid"


def run(*, events: int, out=print) -> dict:
    from rapport.accounts.models import User
    from rapport.automation.models import Delivery, Webhook
    from rapport.automation.services import webhook_create
    from rapport.contacts.models import Contact
    from rapport.core.dispatch import dispatch_pending
    from rapport.core.events import record_events
    from rapport.core.models import Event
    from rapport.workflows.models import Rule, RuleRun
    from rapport.workflows.services import rule_create

    if Event.objects.filter(dispatched_at__isnull=True).exists():
        raise RuntimeError("Undispatched events are waiting in this database; run the bench on a "
                           "scratch database (RAPPORT_DATA_DIR=/tmp/bench-events).")
    owner = User.objects.filter(email=BENCH_USER).first() or User.objects.create_superuser(
        BENCH_USER, None, full_name="Bench Events")
    previous = settings.OUTBOUND_ALLOWED_NETWORKS
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    webhook, _ = webhook_create(actor=owner, data={"url": "http://127.0.0.1:9/bench",
                                                   "events": ["contact.*"]})
    settings.OUTBOUND_ALLOWED_NETWORKS = previous
    rule = rule_create(actor=owner, data={
        "name": "Bench: tag chiefs", "object_type": "contact", "is_active": True,
        "trigger": {"type": "field_changed", "field": "title"},
        "conditions": {"match": "all", "rules": [{"field": "title", "op": "contains",
                                                  "value": "chief"}]},
        "actions": [{"type": "add_tag", "tag": "chief"}]})
    dispatch_pending()  # the set-up's own events
    first_id = (Contact.all_objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    Contact.objects.bulk_create([Contact(id=first_id + n, first_name=f"Bench{n}", owner=owner,
                                         title="Chief Buyer" if n % 10 == 0 else "Buyer")
                                 for n in range(events)], batch_size=1000)
    contact_ids = list(range(first_id, first_id + events))
    try:
        recorded = record_events([{"type": "contact.updated", "object_type": "contact", "object_id": pk,
                        "data": {"changes": {"title": ["", "Chief Buyer" if n % 10 == 0
                                                       else "Buyer"]}}}
                       for n, pk in enumerate(contact_ids)])
        started = time.perf_counter()
        report = dispatch_pending()
        rapport_s = time.perf_counter() - started
        deliveries = Delivery.objects.filter(webhook=webhook).count()
        runs = RuleRun.objects.filter(rule=rule).count()
        out(f"Rapport, one worker: {report.events:,} events in {rapport_s:.2f} s = "
            f"{report.events / rapport_s:,.0f} events/s ({deliveries:,} deliveries, "
            f"{runs:,} rule runs, {report.failed} failures)")
        raw_s = _raw(events, webhook.pk, rule.pk, contact_ids, recorded)
        out(f"raw engine, same rows: {events / raw_s:,.0f} events/s")
    finally:
        _forget(owner, contact_ids)
    result = {
        "date": timezone.now().isoformat(timespec="seconds"), "events": events,
        "engine": connection.vendor,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rapport_events_per_s": round(report.events / rapport_s),
        "raw_events_per_s": round(events / raw_s),
        "deliveries": deliveries, "rule_runs": runs, "failures": report.failed,
    }
    result["pct_of_raw"] = round(100 * result["rapport_events_per_s"] / result["raw_events_per_s"], 1)
    result["targets"] = [{"target": f"events dispatched >= {TARGET_PER_S:,}/s per worker",
                          "value": result["rapport_events_per_s"], "limit": TARGET_PER_S,
                          "pass": result["rapport_events_per_s"] >= TARGET_PER_S}]
    Webhook.objects.filter(pk=webhook.pk).delete()
    Rule.objects.filter(pk=rule.pk).delete()
    return result


def _raw(events: int, webhook_id: int, rule_id: int, contact_ids: list[int],
         event_ids: list[int]) -> float:
    """The same rows (receipts, deliveries, runs, events marked dispatched) by executemany."""
    table = "bench_raw_dispatch"
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}_delivery")
        cursor.execute(f"DROP TABLE IF EXISTS {table}_receipt")
        cursor.execute(f"DROP TABLE IF EXISTS {table}_run")
        cursor.execute(f"CREATE TABLE {table}_delivery (id INTEGER PRIMARY KEY, webhook_id INTEGER, "
                       "event_id INTEGER, event_type VARCHAR(64), body TEXT, UNIQUE (webhook_id, event_id))")
        cursor.execute(f"CREATE TABLE {table}_receipt (id INTEGER PRIMARY KEY, event_id INTEGER, "
                       "consumer VARCHAR(64), UNIQUE (event_id, consumer))")
        cursor.execute(f"CREATE TABLE {table}_run (id INTEGER PRIMARY KEY, rule_id INTEGER, "
                       "key VARCHAR(120), object_id INTEGER, UNIQUE (rule_id, key))")
    body = '{"id":1,"type":"contact.updated","data":{"changes":{"title":["","Buyer"]}}}'
    started = time.perf_counter()
    for start in range(0, events, 500):
        chunk = range(start, min(start + 500, events))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table}_delivery (id, webhook_id, event_id, event_type, body) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s)",
                [(n + 1, webhook_id, n, "contact.updated", body) for n in chunk])
            cursor.executemany(f"INSERT INTO {table}_receipt (id, event_id, consumer) "  # noqa: S608
                               "VALUES (%s, %s, %s)",
                               [(2 * n + 1 + k, n, c) for n in chunk
                                for k, c in enumerate(("webhooks", "workflows"))])
            cursor.executemany(f"INSERT INTO {table}_run (id, rule_id, key, object_id) "  # noqa: S608
                               "VALUES (%s, %s, %s, %s)",
                               [(n + 1, rule_id, f"event:{n}", contact_ids[n]) for n in chunk
                                if n % 10 == 0])
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"UPDATE core_event SET dispatched_at = %s WHERE id IN ({marks})",  # noqa: S608
                           [now, *(event_ids[n] for n in chunk)])
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        for suffix in ("delivery", "receipt", "run"):
            cursor.execute(f"DROP TABLE {table}_{suffix}")
    return elapsed


def _forget(owner, contact_ids: list[int]) -> None:
    from rapport.contacts.models import Contact
    from rapport.core.models import Event

    for start in range(0, len(contact_ids), 500):
        chunk = contact_ids[start:start + 500]
        Event.objects.filter(object_type="contact", object_id__in=chunk).delete()
        Contact.all_objects.filter(pk__in=chunk).delete()


def report(result: dict) -> str:
    check = result["targets"][0]
    return (f"\nTargets:\n  {'PASS' if check['pass'] else 'MISS'}  {check['target']:<40}"
            f"measured {check['value']:,}/s ({result['pct_of_raw']}% of the raw engine)")
