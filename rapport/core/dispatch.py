"""Event dispatch: the outbox's events, after commit, to every consumer that subscribed.

A consumer is a function registered for event type patterns (`contact.created`,
`deal.*`, `*`). It runs in a transaction together with its receipt
(`EventReceipt`, unique per event and consumer), so its database effect and the
note that it happened commit or roll back as one: a crash, a retry or a second
worker replaying the event finds the receipt and skips, or fails to insert it and
rolls its duplicate effect back. Effects outside the database (an HTTP call, an
email) are written as rows here and sent by their own idempotent jobs.

`record_event` asks for a dispatch when the writing transaction commits; a
periodic sweep picks up anything a crash left behind.
"""

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from rapport.core.models import Event, EventReceipt

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BATCH = 500


@dataclass(frozen=True)
class Consumer:
    name: str
    patterns: tuple[str, ...]
    handle: Callable[[Event], None]
    # Optional: the same effect for many events at once, in one transaction. Dispatch uses
    # it for a batch and falls back to `handle`, one event at a time, if it raises.
    handle_batch: Callable[[list[Event]], None] | None = None

    def wants(self, event_type: str) -> bool:
        return any(matches(pattern, event_type) for pattern in self.patterns)


_consumers: dict[str, Consumer] = {}


def matches(pattern: str, event_type: str) -> bool:
    """`*` matches everything, `deal.*` every deal event, anything else itself."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def consumer(name: str, *patterns: str, batch: Callable[[list[Event]], None] | None = None):
    """Register the decorated function as consumer `name` of events matching `patterns`.

    The name is stored in receipts: renaming a consumer makes it see every pending event anew.
    `batch`, if given, does the same work for a list of events (see Consumer.handle_batch).
    """
    if not patterns:
        raise ValueError("A consumer needs at least one event type pattern.")

    def register(handle: Callable[[Event], None]):
        _consumers[name] = Consumer(name, tuple(patterns), handle, batch)
        return handle
    return register


def request_dispatch() -> None:
    """Dispatch once the current transaction commits (at once outside a transaction).

    One request per transaction however many events it records: a bulk import of a
    thousand contacts queues one job, not a thousand.
    """
    pending = getattr(connection, "run_on_commit", ())
    if connection.in_atomic_block and any(func is _enqueue for _, func, _ in pending):
        return
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    from rapport.core.tasks import dispatch_events

    dispatch_events()


@dataclass
class Report:
    events: int = 0
    handled: int = 0
    skipped: int = 0
    failed: int = 0


def dispatch_pending(*, limit: int | None = None) -> Report:
    """Hand every due, undispatched event to its consumers, oldest first, once each."""
    report = Report()
    last_id = 0
    while limit is None or report.events < limit:
        due = Event.objects.filter(
            Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now()),
            dispatched_at__isnull=True, id__gt=last_id,
        ).order_by("id")
        batch = list(due[:BATCH if limit is None else min(BATCH, limit - report.events)])
        _dispatch_batch(batch, report)
        if len(batch) < BATCH:
            break
        last_id = batch[-1].pk
    return report


def _dispatch_batch(batch: list[Event], report: Report) -> None:
    done = defaultdict(set)
    for event_id, name in EventReceipt.objects.filter(
            event_id__in=[e.pk for e in batch]).values_list("event_id", "consumer"):
        done[event_id].add(name)
    errors = defaultdict(list)
    for item in _consumers.values():
        wanting = []
        for event in batch:
            if not item.wants(event.type):
                continue
            if item.name in done[event.pk]:
                report.skipped += 1
            else:
                wanting.append(event)
        if not (item.handle_batch and len(wanting) > 1 and _run_batch(item, wanting, report)):
            for event in wanting:
                error = _run_one(item, event, report)
                if error:
                    errors[event.pk].append(error)
    finished = []
    for event in batch:
        report.events += 1
        attempts = event.dispatch_attempts + 1
        if not errors[event.pk]:
            finished.append(event.pk)
            continue
        gave_up = attempts >= MAX_ATTEMPTS
        now = timezone.now()
        Event.objects.filter(pk=event.pk).update(
            dispatch_attempts=attempts, dispatch_error="\n".join(errors[event.pk]),
            dispatched_at=now if gave_up else None,
            retry_at=None if gave_up else now + retry_delay(attempts),
        )
    Event.objects.filter(pk__in=finished).update(
        dispatched_at=timezone.now(), dispatch_attempts=F("dispatch_attempts") + 1,
        dispatch_error="", retry_at=None)


def _run_batch(item: Consumer, events: list[Event], report: Report) -> bool:
    """The consumer's effect for every event and all their receipts, in one transaction.

    False if anything failed (a bad event, or another worker's receipt): everything rolled
    back, and the caller goes event by event, which isolates the one that fails.
    """
    try:
        with transaction.atomic():
            item.handle_batch(events)
            EventReceipt.objects.bulk_create(
                [EventReceipt(event=event, consumer=item.name) for event in events])
    except IntegrityError:
        # Another worker dispatched some of these events first (two dispatch jobs ran at
        # once): expected, and the one-by-one pass skips what it took.
        log.info("Consumer %s: another worker took part of a batch of %s events",
                 item.name, len(events))
        return False
    except Exception:
        log.warning("Consumer %s failed on a batch of %s events; going one by one",
                    item.name, len(events), exc_info=True)
        return False
    report.handled += len(events)
    return True


def _run_one(item: Consumer, event: Event, report: Report) -> str:
    """The consumer's effect for one event with its receipt; the error text if it failed."""
    try:
        with transaction.atomic():
            item.handle(event)
            EventReceipt.objects.create(event=event, consumer=item.name)
        report.handled += 1
    except IntegrityError as exc:
        if EventReceipt.objects.filter(event=event, consumer=item.name).exists():
            # Another worker took this event for this consumer first; its effect stands.
            report.skipped += 1
            return ""
        report.failed += 1
        return f"{item.name}: {type(exc).__name__}: {exc}"[:500]
    except Exception as exc:
        report.failed += 1
        log.exception("Consumer %s failed on event %s", item.name, event.pk)
        return f"{item.name}: {type(exc).__name__}: {exc}"[:500]
    return ""


def retry_delay(attempts: int) -> datetime.timedelta:
    """30 s, 1 min, 2 min, ... doubling: ten attempts span about eight hours."""
    return datetime.timedelta(seconds=30 * 2 ** (attempts - 1))
