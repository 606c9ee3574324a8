"""Running rules: from an event (or a date, or a schedule) to a logged run of actions.

A run is created once per rule and trigger (`RuleRun.key` is unique), in the same
transaction as the event consumer's receipt, so a replayed event never starts it twice.
Each step commits with the run's new position, so a crash repeats at most the step it
was in, and that step's writes rolled back with it. Writes made by a rule's actions carry
the rule (rapport.core.context.caused_by): a rule never fires on its own changes, and a
chain of rules firing each other stops at MAX_DEPTH.
"""

import datetime
import logging
import uuid

from django.db import models, transaction
from django.utils import timezone

from rapport.core.context import caused_by
from rapport.core.dispatch import matches
from rapport.core.errors import RapportError
from rapport.core.models import Event
from rapport.workflows import actions, conditions
from rapport.workflows.models import Rule, RuleRun, RunStatus

log = logging.getLogger(__name__)

MAX_DEPTH = 5
STEP_ATTEMPTS = 3
LEASE = datetime.timedelta(minutes=5)
SCHEDULE_CAP = 1000  # runs one schedule or date rule may start in one pass
SCHEDULE_SCAN_CAP = 100_000  # records it may read to find them


def step_retry_delay(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=30 * 2 ** (attempts - 1))


# Triggering ---------------------------------------------------------------------------

def fires(trigger: dict, event: Event, object_type: str) -> bool:
    kind = trigger["type"]
    if kind == "event":
        return matches(trigger["event_type"], event.type)
    if event.object_type != object_type:
        return False
    if kind == "created":
        return event.type == f"{object_type}.created"
    if kind == "updated":
        return event.type == f"{object_type}.updated"
    if kind == "field_changed" and event.type == f"{object_type}.updated":
        # History names a relation by its field (owner), not its column (owner_id).
        field = trigger["field"].removesuffix("_id")
        change = (event.data.get("changes") or {}).get(field)
        if change is None:
            return False
        before, after = (_lower(value) for value in change)
        return (("from" not in trigger or conditions._same(before, trigger["from"]))
                and ("to" not in trigger or conditions._same(after, trigger["to"])))
    return False


EVENT_TRIGGERS = ("created", "updated", "field_changed", "event")


def _lower(value):
    """Tag lists compare without case, as conditions do."""
    return [str(v).lower() for v in value] if isinstance(value, list) else value


def runs_for_event(event: Event) -> list[RuleRun]:
    """The event consumer's effect: a run for every active rule the event fires."""
    return runs_for_events([event])


def runs_for_events(events: list[Event]) -> list[RuleRun]:
    """The same for a batch: rules read once, records read in bulk, runs in one INSERT."""
    rules = [rule for rule in Rule.objects.filter(is_active=True)
             if rule.trigger["type"] in EVENT_TRIGGERS]
    if not rules:
        return []
    planned = []  # (rule, event, object_id, depth)
    for event in events:
        cause = event.data.get("caused_by") or {}
        depth = cause.get("depth", -1) + 1 if cause else 0
        for rule in rules:
            if event.object_type != rule.object_type or cause.get("rule_id") == rule.pk:
                continue  # another kind of record; or the rule's own change, never news to it
            if fires(rule.trigger, event, rule.object_type):
                planned.append((rule, event, event.object_id, depth))
    if not planned:
        return []
    records = {}
    for object_type in {rule.object_type for rule, *_ in planned}:
        ids = {object_id for rule, _, object_id, _ in planned if rule.object_type == object_type}
        records[object_type] = conditions.load_many(object_type, ids)
    taken = set(RuleRun.objects.filter(
        rule__in={rule.pk for rule, *_ in planned},
        key__in={f"event:{event.pk}" for _, event, _, _ in planned}).values_list("rule_id", "key"))
    runs = []
    for rule, event, object_id, depth in planned:
        key = f"event:{event.pk}"
        if (rule.pk, key) in taken:
            continue  # this event already started this rule
        base = {"rule": rule, "key": key, "object_type": rule.object_type,
                "object_id": object_id, "depth": depth, "actions": rule.actions,
                "resume_at": timezone.now()}
        if depth > MAX_DEPTH:
            runs.append(RuleRun(**base, status=RunStatus.SKIPPED, finished_at=timezone.now(),
                                error=f"Not run: rules had set each other off {MAX_DEPTH} times "
                                      "in a row. This stops loops."))
            continue
        record = records[rule.object_type].get(object_id)
        if record is not None and conditions.met(rule.conditions, record):
            runs.append(RuleRun(**base))
    created = RuleRun.objects.bulk_create(runs)
    to_run = [run.pk for run in created if run.status == RunStatus.RUNNING]
    if to_run:
        transaction.on_commit(lambda: _enqueue(to_run))
    return created




JOB_SIZE = 25  # runs per job: a burst spreads over the worker threads


def _enqueue(run_ids: list[int]) -> None:
    from rapport.workflows.tasks import run_rules

    for start in range(0, len(run_ids), JOB_SIZE):
        run_rules(run_ids[start:start + JOB_SIZE])


def fire_timed(now: datetime.datetime | None = None) -> int:
    """Date-relative and scheduled rules: start today's / this slot's runs (once each)."""
    now = now or timezone.now()
    started = 0
    for rule in Rule.objects.filter(is_active=True):
        try:
            started += _fire_timed_rule(rule, now)
        except Exception:  # one broken rule must not keep the others from firing
            log.exception("Timed rule %s could not fire", rule.pk)
    return started


def _fire_timed_rule(rule: Rule, now: datetime.datetime) -> int:
    kind = rule.trigger["type"]
    if kind == "date":
        target = timezone.localdate(now) - datetime.timedelta(days=rule.trigger["offset_days"])
        records, prefix = _records_on(rule, target), f"date:{target.isoformat()}"
    elif kind == "schedule":
        records = conditions.readable(rule.object_type)
        prefix = f"schedule:{_slot(now, rule.trigger['every'])}"
    else:
        return 0
    started, scanned, last_id = 0, 0, 0
    # Keyset pages until the cap of runs started, so every matching record gets its turn.
    while started < SCHEDULE_CAP and scanned < SCHEDULE_SCAN_CAP:
        page = list(records.filter(pk__gt=last_id).order_by("pk")[:500])
        if not page:
            break
        scanned += len(page)
        last_id = page[-1].pk
        keys = {f"{prefix}:{r.pk}": r for r in page if conditions.met(rule.conditions, r)}
        taken = set(RuleRun.objects.filter(rule=rule, key__in=list(keys))
                    .values_list("key", flat=True))
        fresh = [RuleRun(rule=rule, key=key, object_type=rule.object_type, object_id=r.pk,
                         actions=rule.actions, resume_at=timezone.now())
                 for key, r in keys.items() if key not in taken][:SCHEDULE_CAP - started]
        created = RuleRun.objects.bulk_create(fresh)
        if created:
            ids = [run.pk for run in created]
            transaction.on_commit(lambda ids=ids: _enqueue(ids))
        started += len(created)
    return started


def _records_on(rule: Rule, day: datetime.date):
    records = conditions.readable(rule.object_type)
    field = rule.trigger["field"]
    if field.startswith("custom_fields."):
        key = field.split(".", 1)[1]
        return records.filter(**{f"custom_fields__{key}": day.isoformat()})
    if isinstance(conditions.MODELS[rule.object_type]._meta.get_field(field),
                  models.DateTimeField):
        return records.filter(**{f"{field}__date": day})
    return records.filter(**{field: day})


def _slot(now: datetime.datetime, every: str) -> str:
    local = timezone.localtime(now)
    if every == "hour":
        return local.strftime("%Y-%m-%dT%H")
    if every == "day":
        return local.strftime("%Y-%m-%d")
    return f"{local.isocalendar().year}-W{local.isocalendar().week:02d}"


# Running ------------------------------------------------------------------------------

def execute(run_id: int) -> RuleRun | None:
    """Carry a run on from where it stands; None when it is not due or another worker has it."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = RuleRun.objects.filter(pk=run_id).filter(
        status__in=[RunStatus.RUNNING, RunStatus.WAITING, RunStatus.RETRYING]).exclude(
        resume_at__gt=now).update(status=RunStatus.RUNNING, resume_at=now + LEASE, claim=token)
    if not claimed:
        return None
    run = RuleRun.objects.select_related("rule", "rule__owner").get(pk=run_id)
    _carry_on(run)
    return run


class LostClaim(Exception):
    """Another worker took the run over (this one outlived its lease): stop without a trace."""


def _still_mine(run: RuleRun) -> None:
    """Inside the step's transaction: lock the run and check the claim and position hold."""
    held = RuleRun.objects.select_for_update().filter(
        pk=run.pk, claim=run.claim, position=run.position, status=RunStatus.RUNNING).exists()
    if not held:
        raise LostClaim()


def _carry_on(run: RuleRun, *, dry_run: bool = False) -> None:
    rule = run.rule
    actor = rule.owner
    if actor is None or not actor.is_active:
        return _fail(run, "The rule's owner is no longer an active user; give the rule a new "
                          "owner (edit and save it as an admin).")
    while run.position < len(run.actions):
        action = run.actions[run.position]
        if action["type"] == "wait":
            until = timezone.now() + datetime.timedelta(minutes=action["minutes"])
            run.position += 1
            if dry_run:
                _log(run, action, "done", f"Would wait {action['minutes']:,} minutes here.")
                continue
            _log(run, action, "waiting", f"Waiting until {timezone.localtime(until):%b %-d %H:%M}.")
            run.status, run.resume_at = RunStatus.WAITING, until
            _save_if_mine(run)
            return None
        record = conditions.load(rule.object_type, run.object_id)
        if record is None:
            return _fail(run, "The record was deleted or moved to the trash.")
        try:
            with transaction.atomic(), caused_by(rule_id=rule.pk, run_id=run.pk, depth=run.depth):
                if not dry_run:
                    _still_mine(run)
                detail = actions.perform(action, rule=rule, record=record, actor=actor)
                _log(run, action, "done", detail)
                run.position += 1
                run.attempts = 0
                run.resume_at = timezone.now() + LEASE
                if not dry_run:
                    run.save(update_fields=["position", "attempts", "steps", "resume_at"])
        except LostClaim:
            log.warning("Rule run %s was taken over by another worker; this one stops", run.pk)
            return None
        except RapportError as exc:
            _log(run, action, "failed", _explain(exc))
            return _fail(run, f"Step {run.position + 1} ({action['type']}): {_explain(exc)}")
        except Exception as exc:  # a passing failure: a lock, a lost connection
            log.exception("Rule %s run %s step %s failed", rule.pk, run.pk, run.position)
            run.attempts += 1
            _log(run, action, "failed", f"{type(exc).__name__}: {exc}"[:500])
            if dry_run or run.attempts >= STEP_ATTEMPTS:
                return _fail(run, f"Step {run.position + 1} ({action['type']}) failed "
                                  f"{run.attempts} times: {type(exc).__name__}: {exc}"[:2000])
            run.status = RunStatus.RETRYING
            run.resume_at = timezone.now() + step_retry_delay(run.attempts)
            _save_if_mine(run)
            return None
    run.status, run.finished_at, run.resume_at = RunStatus.DONE, timezone.now(), None
    if not dry_run:
        _save_if_mine(run)
    return None


def _save_if_mine(run: RuleRun) -> bool:
    """Save the run's new state only while this worker still holds it."""
    fields = ["status", "resume_at", "position", "attempts", "steps", "error", "finished_at"]
    return bool(RuleRun.objects.filter(pk=run.pk, claim=run.claim).update(
        **{name: getattr(run, name) for name in fields}))


def _explain(exc: RapportError) -> str:
    fields = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.fields.items())
    return f"{exc.message} {fields}".strip()[:1000]


def _log(run: RuleRun, action: dict, outcome: str, detail: str) -> None:
    run.steps = [*run.steps, {"step": run.position + 1, "action": action["type"],
                              "outcome": outcome, "detail": detail,
                              "at": timezone.now().isoformat(timespec="seconds")}]


def _fail(run: RuleRun, reason: str) -> None:
    run.status, run.error, run.finished_at, run.resume_at = (
        RunStatus.FAILED, reason, timezone.now(), None)
    if run.dry_run or not _save_if_mine(run):
        return
    _notify_owner(run)


def _notify_owner(run: RuleRun) -> None:
    """A failed run puts a task on the rule owner's list, once per rule per day."""
    from rapport.activities.models import Activity
    from rapport.activities.services import activity_create

    owner = run.rule.owner
    if owner is None or not owner.is_active:
        return
    subject = f"Automation rule failed: {run.rule.name}"[:200]
    if Activity.objects.filter(kind="task", assignee=owner, subject=subject,
                               completed_at__isnull=True,
                               created_at__date=timezone.localdate()).exists():
        return
    activity_create(actor=owner, data={
        "kind": "task", "subject": subject, "priority": "high",
        "body": f"{run.error}\n\nSee the rule's run log under Automation.",
        "assignee_id": owner.pk, "due_date": timezone.localdate().isoformat()})


def due_run_ids(limit: int = 500) -> list[int]:
    """Waits that are over, steps due a retry, and runs whose worker died (lease expired)."""
    return list(RuleRun.objects.filter(
        status__in=[RunStatus.WAITING, RunStatus.RETRYING, RunStatus.RUNNING],
        resume_at__lte=timezone.now()).order_by("resume_at").values_list("id", flat=True)[:limit])


def dry_run(rule: Rule, object_id: int) -> RuleRun:
    """Run the rule on one record for real, then roll every write back; keep only the log.

    Values are validated, templates rendered and round robins turned exactly as a live run
    would, so what the log says is what switching the rule on will do. Waits are skipped.
    """
    run = RuleRun(rule=rule, key=f"test:{uuid.uuid4().hex}", object_type=rule.object_type,
                  object_id=object_id, dry_run=True, actions=rule.actions)
    record = conditions.load(rule.object_type, object_id)
    if record is None:
        run.status, run.error = RunStatus.FAILED, "No such record."
    elif not conditions.met(rule.conditions, record):
        run.status = RunStatus.SKIPPED
        run.error = "The record does not meet the rule's conditions: a live run would stop here."
    else:
        with transaction.atomic():
            _carry_on(run, dry_run=True)
            transaction.set_rollback(True)
    run.finished_at = timezone.now()
    run.save()
    return run
