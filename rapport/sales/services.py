"""Every write to pipelines, stages, lost reasons and deals: the UI, the API, imports, lead
conversion and jobs all come here.

A deal's stage decides its status: a stage of kind `won` or `lost` closes it, an open stage
(re)opens it. Every stage change, through `deal_move` or a PATCH that sends `stage_id`, closes
the deal's current StageHistory row and opens the next, and records `deal.stage_changed`
(and `deal.won` or `deal.lost`) beside the `deal.updated` that holds the field changes.
"""

import contextlib
import datetime
from decimal import Decimal, InvalidOperation

import pycountry
from django.apps import apps as global_apps
from django.conf import settings
from django.db import IntegrityError, router, transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date

from rapport.accounts.services import active_user_id
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.contacts.services import clean_record
from rapport.core import records
from rapport.core.cleaning import clean_fields, flag, position, reference, required_text, text
from rapport.core.errors import Conflict, NotFound, ValidationFailed, VersionConflict
from rapport.core.events import record_event
from rapport.core.history import snapshot
from rapport.core.permissions import require_admin
from rapport.sales.choices import OWN_CATEGORIES, ContactRole, DealStatus, StageKind
from rapport.sales.models import (
    ACTIVE,
    CENT,
    Deal,
    DealContact,
    LostReason,
    Pipeline,
    Stage,
    StageHistory,
)
from rapport.sales.selectors import deal_visible

DEFAULT_PIPELINE = "Sales pipeline"
DEFAULT_STAGES = [
    {"name": "Qualification", "probability": 10, "kind": StageKind.OPEN},
    {"name": "Meeting", "probability": 25, "kind": StageKind.OPEN},
    {"name": "Proposal", "probability": 50, "kind": StageKind.OPEN},
    {"name": "Negotiation", "probability": 75, "kind": StageKind.OPEN},
    {"name": "Won", "probability": 100, "kind": StageKind.WON},
    {"name": "Lost", "probability": 0, "kind": StageKind.LOST},
]
DEFAULT_LOST_REASONS = ["Price", "Chose a competitor", "No budget", "No decision", "Timing",
                        "Missing features", "Other"]
CLOSED_PROBABILITY = {StageKind.WON: 100, StageKind.LOST: 0}
MAX_AMOUNT = Decimal("9999999999999.99")  # max_digits=15, decimal_places=2
MAX_ROTTING_DAYS = 3650
MAX_STAGES = 30
# Codes ISO 4217 reserves for testing and for "no currency".
_NOT_MONEY = {"XTS", "XXX"}
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY


def default_currency() -> str:
    """A deal sent without a currency is in the company's (RAPPORT_CURRENCY)."""
    return settings.COMPANY_CURRENCY


# Cleaners --------------------------------------------------------------------------------


def _amount(value) -> Decimal:
    if value in (None, ""):
        return Decimal("0.00")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("Enter an amount, such as \"1250.00\".")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("Enter an amount, such as \"1250.00\".") from None
    if not amount.is_finite():
        raise ValueError("Enter an amount, such as \"1250.00\".")
    if amount < 0:
        raise ValueError("Enter an amount of 0 or more.")
    if amount > MAX_AMOUNT:
        raise ValueError("Enter an amount below 10,000,000,000,000.")
    if amount != amount.quantize(CENT):
        raise ValueError("Enter at most 2 decimal places.")
    return amount.quantize(CENT)


def clean_currency(value) -> str:
    if value in (None, ""):
        return default_currency()
    if not isinstance(value, str):
        raise ValueError("Enter an ISO 4217 currency code, such as EUR.")
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise ValueError("Enter an ISO 4217 currency code, such as EUR.")
    return code


def _percent(value, *, allow_none: bool = True) -> int | None:
    if value in (None, "") and allow_none:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValueError("Enter a whole number from 0 to 100.")
    return value


def _date(value) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    try:
        parsed = parse_date(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError("Enter a date as YYYY-MM-DD.")
    return parsed


def _rotting_days(value) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROTTING_DAYS:
        raise ValueError(f"Enter a whole number of days from 1 to {MAX_ROTTING_DAYS}, or null.")
    return value


def _role(value) -> str:
    if value in (None, ""):
        return ""
    if value not in ContactRole.values:
        raise ValueError(f"Choose one of: {', '.join(ContactRole.values)}.")
    return value




def deal_cleaners(actor):
    return {
        "name": required_text(200), "amount": _amount, "currency": clean_currency,
        "pipeline_id": reference(Pipeline.objects.filter(ACTIVE), "pipeline"),
        "stage_id": reference(Stage.objects.filter(ACTIVE), "stage"),
        "probability": _percent, "expected_close_date": _date,
        "company_id": reference(company_visible(user=actor), "company"),
        "owner_id": active_user_id, "next_step": text(200),
        "lost_reason_id": reference(LostReason.objects.filter(active=True), "lost reason"),
        "lost_note": text(2000, multiline=True),
        "forecast_category": _forecast_category,
    }


# Deals ------------------------------------------------------------------------------------

# Fields that place the deal in a stage: they go through the move, not a plain assignment.
PLACEMENT = ("pipeline_id", "stage_id", "lost_reason_id", "lost_note")


@transaction.atomic
def deal_create(*, actor, data: dict) -> Deal:
    """A new deal, in `stage_id`, else the first open stage of `pipeline_id`, else of the
    default pipeline. Created in a won or lost stage it is closed at once (a lost one needs
    its reason)."""
    try:
        values, tags = clean_record(deal_cleaners(actor), data, "deal")
    except ValidationFailed as exc:
        if "name" not in exc.fields and not (isinstance(data, dict) and data.get("name")):
            exc.fields["name"] = ["This field is required."]
        raise ValidationFailed(fields=exc.fields) from None
    placement = {k: values.pop(k) for k in PLACEMENT if k in values}
    errors = {}
    if not values.get("name"):
        errors["name"] = ["This field is required."]
    values.setdefault("currency", default_currency())
    stage = _target_stage(None, placement, errors)
    if stage is not None:
        _check_lost(None, stage, placement, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    now = timezone.now()
    deal = Deal(**values, pipeline_id=stage.pipeline_id, stage=stage, stage_entered_at=now)
    _close(deal, stage, placement, now)
    records.create_record(deal, actor=actor, tags=tags)
    StageHistory.objects.create(deal=deal, stage=stage, entered_at=now, user=_user(actor))
    _record_closing(deal, actor)
    return deal


@transaction.atomic
def deal_update(*, actor, deal_id: int, data: dict, expected_version: int | None = None) -> Deal:
    """Only the fields in `data` change. `stage_id` (or `pipeline_id`) moves the deal, exactly
    as deal_move does."""
    deal = _lock_visible(actor, deal_id, expected_version)
    before = snapshot(deal, records.tracked_fields(deal))
    values, tags = clean_record(deal_cleaners(actor), data, "deal", deal.custom_fields)
    placement = {k: values.pop(k) for k in PLACEMENT if k in values}
    for field, value in values.items():
        setattr(deal, field, value)
    errors = {}
    if "name" in values and not deal.name:
        errors["name"] = ["This field is required."]
    return _save_with_move(deal, before, placement, errors, actor=actor, tags=tags)


@transaction.atomic
def deal_move(*, actor, deal_id: int, stage_id=None, status: str | None = None,
              expected_version: int | None = None, lost_reason_id=None, lost_note=None) -> Deal:
    """Move the deal to `stage_id`, or by `status`: `won` and `lost` to its pipeline's won or
    lost stage, `open` back to the open stage it was last in. A stale `expected_version` is a
    VersionConflict and changes nothing; so is every refusal."""
    deal = _lock_visible(actor, deal_id, expected_version)
    before = snapshot(deal, records.tracked_fields(deal))
    errors: dict[str, list[str]] = {}
    if stage_id is not None and status is not None:
        errors["status"] = ["Send stage_id or status, not both."]
    elif stage_id is None and status is None:
        errors["stage_id"] = ["Choose the stage to move the deal to."]
    elif status is not None:
        if status not in DealStatus.values:
            errors["status"] = [f"Choose one of: {', '.join(DealStatus.values)}."]
        else:
            stage_id = _stage_for_status(deal, status).pk
    if errors:
        raise ValidationFailed(fields=errors)
    data = {"stage_id": stage_id}
    if lost_reason_id is not None:
        data["lost_reason_id"] = lost_reason_id
    if lost_note is not None:
        data["lost_note"] = lost_note
    placement = clean_fields(deal_cleaners(actor), data)
    return _save_with_move(deal, before, placement, {}, actor=actor)


def _lock_visible(actor, deal_id: int, expected_version: int | None) -> Deal:
    if not deal_visible(user=actor, pk=deal_id).exists():
        raise NotFound()
    return records.lock(Deal, deal_id, expected_version=expected_version)


def _stage_for_status(deal: Deal, status: str) -> Stage:
    stages = Stage.objects.filter(ACTIVE, pipeline_id=deal.pipeline_id)
    if status != DealStatus.OPEN:
        return stages.get(kind=status)
    if deal.status == DealStatus.OPEN:
        return deal.stage
    last_open = (StageHistory.objects.filter(deal=deal, stage__kind=StageKind.OPEN,
                                             stage__archived_at__isnull=True,
                                             stage__pipeline_id=deal.pipeline_id)
                 .order_by("-entered_at", "-id").select_related("stage").first())
    return last_open.stage if last_open else stages.filter(kind=StageKind.OPEN).order_by(
        "position", "id").first()


def _save_with_move(deal: Deal, before: dict, placement: dict, errors: dict, *, actor, tags=None):
    old_stage = deal.stage
    stage = _target_stage(deal, placement, errors)
    if stage is not None:
        _check_lost(deal, stage, placement, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    moved = stage.pk != old_stage.pk
    now = timezone.now()
    from_status, seconds_in_stage = deal.status, int((now - deal.stage_entered_at).total_seconds())
    if moved:
        deal.stage, deal.pipeline_id, deal.stage_entered_at = stage, stage.pipeline_id, now
        _close(deal, stage, placement, now)
    elif deal.status == DealStatus.LOST:
        if "lost_reason_id" in placement:
            deal.lost_reason_id = placement["lost_reason_id"]
        if "lost_note" in placement:
            deal.lost_note = placement["lost_note"]
    records.update_record(deal, actor=actor, before=before, tags=tags)
    if moved:
        StageHistory.objects.filter(deal=deal, left_at__isnull=True).update(left_at=now)
        StageHistory.objects.create(deal=deal, stage=stage, entered_at=now, user=_user(actor))
        record_event(type="deal.stage_changed", obj=deal, actor=actor, data={
            "from_stage_id": old_stage.pk, "to_stage_id": stage.pk,
            "from_pipeline_id": old_stage.pipeline_id, "to_pipeline_id": stage.pipeline_id,
            "from_status": from_status, "to_status": deal.status,
            "seconds_in_stage": seconds_in_stage,
        })
        if deal.status != from_status:
            _record_closing(deal, actor)
    return deal


def _target_stage(deal: Deal | None, placement: dict, errors: dict) -> Stage | None:
    """The stage the deal goes to (its own when nothing moves it), or None with `errors` said."""
    stage_id, pipeline_id = placement.get("stage_id"), placement.get("pipeline_id")
    if stage_id is not None:
        stage = Stage.objects.get(pk=stage_id)
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            errors["stage_id"] = ["Choose a stage of the pipeline in pipeline_id."]
            return None
        return stage
    if deal is not None and pipeline_id in (None, deal.pipeline_id):
        return deal.stage
    if pipeline_id is None:
        pipeline = Pipeline.objects.filter(ACTIVE, is_default=True).first()
        if pipeline is None:
            errors["pipeline_id"] = ["There is no default pipeline; choose one."]
            return None
        pipeline_id = pipeline.pk
    first_open = (Stage.objects.filter(ACTIVE, pipeline_id=pipeline_id, kind=StageKind.OPEN)
                  .order_by("position", "id").first())
    if first_open is None:
        errors["pipeline_id"] = ["This pipeline has no open stage."]
    return first_open


def _check_lost(deal: Deal | None, stage: Stage, placement: dict, errors: dict) -> None:
    """A lost deal needs a reason from the list (when the list has any); only a lost deal
    has one."""
    if stage.kind == StageKind.LOST:
        if "lost_reason_id" in placement:
            reason = placement["lost_reason_id"]
        else:  # a lost deal staying lost keeps its reason
            reason = deal.lost_reason_id if deal and deal.status == DealStatus.LOST else None
        if reason is None and LostReason.objects.filter(active=True).exists():
            errors["lost_reason_id"] = ["Choose why the deal was lost."]
        return
    if placement.get("lost_reason_id") is not None:
        errors["lost_reason_id"] = ["Only a lost deal has a lost reason."]
    if placement.get("lost_note"):
        errors["lost_note"] = ["Only a lost deal has a lost note."]


def _close(deal: Deal, stage: Stage, placement: dict, now) -> None:
    """Status and the closing fields for a deal entering `stage`."""
    was = deal.status
    deal.status = stage.kind
    if stage.kind == StageKind.OPEN:
        deal.won_at = deal.lost_at = deal.closed_at = deal.lost_reason_id = None
        deal.lost_note = ""
    elif stage.kind == StageKind.WON:
        if was != DealStatus.WON:
            deal.won_at = deal.closed_at = now
        deal.lost_at, deal.lost_reason_id, deal.lost_note = None, None, ""
    else:
        if was != DealStatus.LOST:
            deal.lost_at = deal.closed_at = now
        deal.won_at = None
        deal.lost_reason_id = placement.get("lost_reason_id", deal.lost_reason_id)
        deal.lost_note = placement.get("lost_note", deal.lost_note)


def _record_closing(deal: Deal, actor) -> None:
    money = {"amount": str(deal.amount), "currency": deal.currency, "stage_id": deal.stage_id,
             "pipeline_id": deal.pipeline_id}
    if deal.status == DealStatus.WON:
        record_event(type="deal.won", obj=deal, actor=actor, data=money)
    elif deal.status == DealStatus.LOST:
        reason = LostReason.objects.filter(pk=deal.lost_reason_id).values_list("name", flat=True)
        record_event(type="deal.lost", obj=deal, actor=actor, data={
            **money, "lost_reason_id": deal.lost_reason_id,
            "lost_reason": reason.first() or "", "lost_note": deal.lost_note})


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


@transaction.atomic
def deal_delete(*, actor, deal_id: int) -> Deal:
    """To the trash (restorable for 30 days, then purged with its history and contacts)."""
    return records.trash_record(_lock_visible(actor, deal_id, None), actor=actor)


@transaction.atomic
def deal_restore(*, actor, deal_id: int) -> Deal:
    deal = deal_visible(user=actor, trashed=True).select_for_update().filter(pk=deal_id).first()
    if deal is None:
        raise NotFound()
    return records.restore_record(deal, actor=actor)


def deal_touch(*, deal_ids, at: datetime.datetime) -> int:
    """Activity was logged on these deals at `at` (for the activities app to call): the
    rotting clock restarts. Not an edit of the deal, so no version or event of its own."""
    return Deal.objects.filter(Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at),
                               pk__in=list(deal_ids)).update(last_activity_at=at)


# A deal's contacts ------------------------------------------------------------------------

@transaction.atomic
def deal_contact_add(*, actor, deal_id: int, contact_id, role=None) -> tuple[DealContact, bool]:
    """Put a contact the actor can see on the deal, with a role; a contact already on it gets
    the new role. Returns (link, created)."""
    deal = _lock_visible(actor, deal_id, None)
    values = clean_fields({"contact_id": reference(contact_visible(user=actor), "contact"),
                           "role": _role}, {"contact_id": contact_id, "role": role})
    if values["contact_id"] is None:
        raise ValidationFailed(fields={"contact_id": ["Choose a contact."]})
    link = DealContact.objects.filter(deal=deal, contact_id=values["contact_id"]).first()
    if link is None:
        link = DealContact.objects.create(deal=deal, contact_id=values["contact_id"],
                                          role=values["role"], created_by=_user(actor))
        record_event(type="deal.contact_added", obj=deal, actor=actor,
                     data={"contact_id": link.contact_id, "role": link.role})
        return link, True
    if role is not None and link.role != values["role"]:
        record_event(type="deal.contact_updated", obj=deal, actor=actor, data={
            "contact_id": link.contact_id, "changes": {"role": [link.role, values["role"]]}})
        DealContact.objects.filter(deal=deal, contact_id=link.contact_id).update(role=values["role"])
        link.role = values["role"]
    return link, False


@transaction.atomic
def deal_contact_remove(*, actor, deal_id: int, contact_id: int) -> None:
    deal = _lock_visible(actor, deal_id, None)
    links = DealContact.objects.filter(deal=deal, contact_id=contact_id,
                                       contact__in=contact_visible(user=actor).values("pk"))
    if not links.delete()[0]:
        raise NotFound()
    record_event(type="deal.contact_removed", obj=deal, actor=actor, data={"contact_id": contact_id})


# Pipelines and stages ---------------------------------------------------------------------

def _clean_stage(data, index: str, errors: dict, *, current: Stage | None = None,
                 with_position: bool = False) -> dict:
    """One stage's fields; problems go into `errors` as `stages[1].probability` (`index` is
    the prefix, "" for a stage sent alone)."""
    cleaners = {"name": required_text(100), "probability": lambda v: _percent(v, allow_none=False),
                "kind": lambda v: _choice(v, StageKind), "rotting_days": _rotting_days,
                "forecast_category": _forecast_category}
    if with_position:
        cleaners["position"] = position
    try:
        values = clean_fields(cleaners, data, required=("name",) if current is None else ())
    except ValidationFailed as exc:
        errors.update({f"{index}{name}": messages for name, messages in exc.fields.items()})
        return {}
    kind = values.get("kind", current.kind if current else StageKind.OPEN)
    if current is not None and kind != current.kind:
        errors[f"{index}kind"] = ["A stage's kind cannot change; add a stage instead."]
    if kind in CLOSED_PROBABILITY:
        expected = CLOSED_PROBABILITY[kind]
        if values.setdefault("probability", expected) != expected:
            errors[f"{index}probability"] = [f"A {kind} stage has probability {expected}."]
    else:
        values.setdefault("probability", current.probability if current else 0)
    values["kind"] = kind
    return values


def _forecast_category(value) -> str:
    """A deal's or stage's own category; empty: the default (its stage's, its probability's)."""
    if value in (None, ""):
        return ""
    if value not in OWN_CATEGORIES:
        raise ValueError(f"Choose one of: {', '.join(OWN_CATEGORIES)}, or leave it empty.")
    return value


def _choice(value, choices):
    if value not in choices.values:
        raise ValueError(f"Choose one of: {', '.join(choices.values)}.")
    return value


def _check_stage_set(stages: list[dict], field: str = "stages") -> list[str]:
    """What is wrong with a pipeline's stages as a whole, in their order."""
    problems = []
    kinds = [s["kind"] for s in stages]
    if kinds.count(StageKind.OPEN) < 1:
        problems.append("A pipeline needs at least one open stage.")
    if kinds.count(StageKind.WON) != 1 or kinds.count(StageKind.LOST) != 1:
        problems.append("A pipeline has exactly one won and one lost stage.")
    closed_seen = False
    for kind in kinds:
        if kind != StageKind.OPEN:
            closed_seen = True
        elif closed_seen:
            problems.append("Won and lost stages come after the open stages.")
            break
    names = [s["name"].lower() for s in stages]
    if len(set(names)) != len(names):
        problems.append("Give each stage a different name.")
    if len(stages) > MAX_STAGES:
        problems.append(f"A pipeline has at most {MAX_STAGES} stages.")
    return problems


def _clean_pipeline(data, errors: dict, *, creating: bool) -> dict:
    cleaners = {"name": required_text(100), "is_default": flag}
    if not creating:
        cleaners["position"] = position
    try:
        return clean_fields(cleaners, data, extra_ok=("stages",),
                            required=("name",) if creating else ())
    except ValidationFailed as exc:
        errors.update(exc.fields)
        return {}


def _name_free(model, name: str, taken: str, *, exclude_id=None, **lookups) -> None:
    """Conflict naming `name` if another row (among `lookups`) has it, whatever the case."""
    queryset = model.objects.filter(**lookups).annotate(lname=Lower("name"))
    if queryset.filter(lname=name.lower()).exclude(pk=exclude_id).exists():
        raise Conflict(fields={"name": [taken]})


@contextlib.contextmanager
def _unique(taken: str):
    """A write a unique constraint may refuse (a name taken a moment ago by another request):
    the same Conflict as the check before it, not a server error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise Conflict(fields={"name": [taken]}) from None


@transaction.atomic
def pipeline_create(*, actor, data: dict) -> Pipeline:
    """A pipeline with `stages` (a list of {name, probability, kind, rotting_days}: open
    stages, then one won and one lost), or the standard stages when none are sent."""
    require_admin(actor, "manage pipelines")
    if not isinstance(data, dict):
        raise ValidationFailed(fields={"__all__": ["Send an object of fields."]})
    errors: dict = {}
    values = _clean_pipeline(data, errors, creating=True)
    raw_stages = data.get("stages")
    if raw_stages is None:
        stages = [dict(s) for s in DEFAULT_STAGES]
    elif not isinstance(raw_stages, list) or not raw_stages:
        errors["stages"] = ["Send a list of stages."]
        stages = []
    else:
        stages = [_clean_stage(s, f"stages[{i}].", errors) for i, s in enumerate(raw_stages)]
        if not any(k.startswith("stages[") for k in errors):
            problems = _check_stage_set(stages)
            if problems:
                errors["stages"] = problems
    taken = f"A pipeline named “{values.get('name')}” exists."
    if values.get("name"):
        _name_free(Pipeline, values["name"], taken, archived_at__isnull=True)
    if errors:
        raise ValidationFailed(fields=errors)
    make_default = values.get("is_default", False) or not Pipeline.objects.filter(
        ACTIVE, is_default=True).exists()
    if make_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    position = (Pipeline.objects.filter(ACTIVE).aggregate(m=Max("position"))["m"] or 0) + 1
    with _unique(taken):
        pipeline = Pipeline.objects.create(name=values["name"], is_default=make_default,
                                           position=position)
    Stage.objects.bulk_create([Stage(pipeline=pipeline, position=i + 1, **stage)
                               for i, stage in enumerate(stages)])
    record_event(type="pipeline.created", obj=pipeline, actor=actor, data={
        "name": pipeline.name, "is_default": make_default,
        "stages": [s["name"] for s in stages]})
    return pipeline


def _lock_pipeline(pipeline_id: int, expected_version: int | None = None) -> Pipeline:
    pipeline = Pipeline.objects.select_for_update().filter(ACTIVE, pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound()
    if expected_version is not None and pipeline.version != expected_version:
        raise VersionConflict(current_version=pipeline.version)
    return pipeline


def _bump(pipeline: Pipeline) -> None:
    Pipeline.objects.filter(pk=pipeline.pk).update(version=F("version") + 1, updated_at=timezone.now())
    pipeline.refresh_from_db(fields=["version", "updated_at"])


@transaction.atomic
def pipeline_update(*, actor, pipeline_id: int, data: dict,
                    expected_version: int | None = None) -> Pipeline:
    """Name, `is_default` (true makes it the default; the default stays so until another
    takes over) and `position` (0 first) change; stages have their own calls."""
    require_admin(actor, "manage pipelines")
    pipeline = _lock_pipeline(pipeline_id, expected_version)
    errors: dict = {}
    if isinstance(data, dict) and "stages" in data:
        errors["stages"] = ["Change stages through /pipelines/{id}/stages."]
    values = _clean_pipeline(data, errors, creating=False)
    if values.get("is_default") is False and pipeline.is_default:
        errors["is_default"] = ["Make another pipeline the default instead."]
    if errors:
        raise ValidationFailed(fields=errors)
    changes = {}
    if "name" in values and values["name"] != pipeline.name:
        _name_free(Pipeline, values["name"], f"A pipeline named “{values['name']}” exists.",
                   exclude_id=pipeline.pk, archived_at__isnull=True)
        changes["name"] = [pipeline.name, values["name"]]
        pipeline.name = values["name"]
    if values.get("is_default") and not pipeline.is_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
        changes["is_default"] = [False, True]
        pipeline.is_default = True
    if "position" in values:
        order = list(Pipeline.objects.filter(ACTIVE).exclude(pk=pipeline.pk)
                     .order_by("position", "id").values_list("pk", flat=True))
        old = list(Pipeline.objects.filter(ACTIVE).order_by("position", "id")
                   .values_list("pk", flat=True)).index(pipeline.pk)
        order.insert(min(values["position"], len(order)), pipeline.pk)
        if order.index(pipeline.pk) != old:
            changes["position"] = [old, order.index(pipeline.pk)]
            for position, pk in enumerate(order, start=1):
                Pipeline.objects.filter(pk=pk).update(position=position)
            pipeline.position = order.index(pipeline.pk) + 1
    if not changes:
        return pipeline
    with _unique(f"A pipeline named “{pipeline.name}” exists."):
        pipeline.save(update_fields=["name", "is_default", "position"])
    _bump(pipeline)
    record_event(type="pipeline.updated", obj=pipeline, actor=actor, data={"changes": changes})
    return pipeline


def _deals_in(**lookups) -> tuple[int, int]:
    """(live deals, deals in the trash) matching `lookups`."""
    counts = Deal.all_objects.filter(**lookups).aggregate(
        live=Count("id", filter=Q(deleted_at__isnull=True)),
        trashed=Count("id", filter=Q(deleted_at__isnull=False)))
    return counts["live"], counts["trashed"]


def _deals_block(live: int, trashed: int, where: str, then: str) -> str:
    total = live + trashed
    return (f"{total} deal{'s are' if total != 1 else ' is'} in this {where}"
            f"{f' ({trashed} in the trash)' if trashed else ''}; {then}")


@transaction.atomic
def pipeline_delete(*, actor, pipeline_id: int) -> None:
    """Refused for the default pipeline and while any deal (even in the trash) is in it.
    A pipeline whose stages appear in some deal's history is archived, not deleted."""
    require_admin(actor, "manage pipelines")
    pipeline = _lock_pipeline(pipeline_id)
    if pipeline.is_default:
        raise Conflict("The default pipeline cannot be deleted; make another pipeline the "
                       "default first.", fields={"is_default": ["This is the default pipeline."]})
    live, trashed = _deals_in(pipeline=pipeline)
    if live or trashed:
        raise Conflict(_deals_block(live, trashed, "pipeline", "move them to another pipeline first."))
    record_event(type="pipeline.deleted", obj=pipeline, actor=actor, data={"name": pipeline.name})
    if StageHistory.objects.filter(stage__pipeline=pipeline).exists():
        now = timezone.now()
        Stage.objects.filter(pipeline=pipeline, archived_at__isnull=True).update(archived_at=now)
        pipeline.archived_at = now
        pipeline.save(update_fields=["archived_at"])
    else:
        pipeline.delete()


def _active_stage_list(pipeline: Pipeline) -> list[Stage]:
    return list(Stage.objects.filter(ACTIVE, pipeline=pipeline).order_by("position", "id"))


def _renumber(stages: list[Stage]) -> None:
    for place, stage in enumerate(stages, start=1):
        if stage.position != place:
            stage.position = place
            Stage.objects.filter(pk=stage.pk).update(position=place)


@transaction.atomic
def stage_create(*, actor, pipeline_id: int, data: dict) -> Stage:
    """An open stage, at `position` (0 first) or after the last open stage."""
    require_admin(actor, "manage pipelines")
    pipeline = _lock_pipeline(pipeline_id)
    errors: dict = {}
    values = _clean_stage(data, "", errors, with_position=True)
    stages = _active_stage_list(pipeline)
    if not errors:
        if values["kind"] != StageKind.OPEN:
            errors["kind"] = ["A pipeline has exactly one won and one lost stage; add open stages."]
        elif len(stages) >= MAX_STAGES:
            errors["__all__"] = [f"A pipeline has at most {MAX_STAGES} stages."]
    open_count = sum(1 for s in stages if s.kind == StageKind.OPEN)
    position = values.pop("position", open_count)
    if not errors and position > open_count:
        errors["position"] = ["Open stages come before the won and lost stages."]
    if errors:
        raise ValidationFailed(fields=errors)
    taken = f"This pipeline has a stage named “{values['name']}”."
    _name_free(Stage, values["name"], taken, pipeline=pipeline, archived_at__isnull=True)
    with _unique(taken):
        stage = Stage.objects.create(pipeline=pipeline, position=0, **values)
    stages.insert(position, stage)
    _renumber(stages)
    _bump(pipeline)
    record_event(type="stage.created", obj=stage, actor=actor, data={
        "pipeline_id": pipeline.pk, "name": stage.name, "probability": stage.probability,
        "kind": stage.kind, "rotting_days": stage.rotting_days})
    return stage


def _stage_of(pipeline: Pipeline, stage_id: int) -> Stage:
    stage = Stage.objects.filter(ACTIVE, pipeline=pipeline, pk=stage_id).first()
    if stage is None:
        raise NotFound()
    return stage


@transaction.atomic
def stage_update(*, actor, pipeline_id: int, stage_id: int, data: dict) -> Stage:
    """Name, probability and rotting days change; the kind is fixed. Open deals without their
    own probability are weighted by the new one at once."""
    require_admin(actor, "manage pipelines")
    pipeline = _lock_pipeline(pipeline_id)
    stage = _stage_of(pipeline, stage_id)
    errors: dict = {}
    values = _clean_stage(data, "", errors, current=stage)
    if errors:
        raise ValidationFailed(fields=errors)
    taken = f"This pipeline has a stage named “{values.get('name')}”."
    if "name" in values:
        _name_free(Stage, values["name"], taken, exclude_id=stage.pk, pipeline=pipeline,
                   archived_at__isnull=True)
    changes = {f: [getattr(stage, f), v] for f, v in values.items() if getattr(stage, f) != v}
    if not changes:
        return stage
    for field, (_, new) in changes.items():
        setattr(stage, field, new)
    with _unique(taken):
        stage.save(update_fields=list(changes))
    _bump(pipeline)
    record_event(type="stage.updated", obj=stage, actor=actor,
                 data={"pipeline_id": pipeline.pk, "changes": changes})
    return stage


@transaction.atomic
def stage_delete(*, actor, pipeline_id: int, stage_id: int) -> None:
    """Refused for the won and lost stages, the last open stage, and a stage any deal (even
    in the trash) is in. A stage in some deal's history is archived, not deleted."""
    require_admin(actor, "manage pipelines")
    pipeline = _lock_pipeline(pipeline_id)
    stage = _stage_of(pipeline, stage_id)
    stages = _active_stage_list(pipeline)
    if stage.kind != StageKind.OPEN:
        raise Conflict(f"A pipeline needs its {stage.kind} stage.")
    if sum(1 for s in stages if s.kind == StageKind.OPEN) == 1:
        raise Conflict("A pipeline needs at least one open stage.")
    live, trashed = _deals_in(stage=stage)
    if live or trashed:
        raise Conflict(_deals_block(live, trashed, "stage", "move them to another stage first."))
    record_event(type="stage.deleted", obj=stage, actor=actor,
                 data={"pipeline_id": pipeline.pk, "name": stage.name})
    if StageHistory.objects.filter(stage=stage).exists():
        stage.archived_at = timezone.now()
        stage.save(update_fields=["archived_at"])
    else:
        stage.delete()  # which clears stage.pk
    _renumber([s for s in stages if s.pk != stage_id])
    _bump(pipeline)


@transaction.atomic
def stages_reorder(*, actor, pipeline_id: int, stage_ids, expected_version: int | None = None) -> Pipeline:
    """Put the pipeline's stages in the order of `stage_ids` (every stage once; open stages
    before the won and lost ones)."""
    require_admin(actor, "manage pipelines")
    pipeline = _lock_pipeline(pipeline_id, expected_version)
    stages = {s.pk: s for s in _active_stage_list(pipeline)}
    if not isinstance(stage_ids, list) or sorted(
            i for i in stage_ids if isinstance(i, int)) != sorted(stages) or len(stage_ids) != len(stages):
        raise ValidationFailed(fields={"stage_ids": ["List every stage of the pipeline once."]})
    ordered = [stages[pk] for pk in stage_ids]
    problems = _check_stage_set([{"kind": s.kind, "name": s.name} for s in ordered])
    if problems:
        raise ValidationFailed(fields={"stage_ids": problems})
    old = list(stages)
    if old == stage_ids:
        return pipeline
    _renumber(ordered)
    _bump(pipeline)
    record_event(type="pipeline.updated", obj=pipeline, actor=actor,
                 data={"changes": {"stage_ids": [old, stage_ids]}})
    return pipeline


# Lost reasons -----------------------------------------------------------------------------

@transaction.atomic
def lost_reason_create(*, actor, data: dict) -> LostReason:
    require_admin(actor, "manage lost reasons")
    values = clean_fields({"name": required_text(100), "active": flag}, data, required=("name",))
    taken = f"A lost reason named “{values['name']}” exists."
    _name_free(LostReason, values["name"], taken)
    position = (LostReason.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    with _unique(taken):
        reason = LostReason.objects.create(position=position, **values)
    record_event(type="lost_reason.created", obj=reason, actor=actor,
                 data={"name": reason.name, "active": reason.active})
    return reason


@transaction.atomic
def lost_reason_update(*, actor, reason_id: int, data: dict) -> LostReason:
    """Name, `active` (an inactive reason is offered no more; deals keep it) and `position`."""
    require_admin(actor, "manage lost reasons")
    reason = LostReason.objects.select_for_update().filter(pk=reason_id).first()
    if reason is None:
        raise NotFound()
    values = clean_fields({"name": required_text(100), "active": flag, "position": position}, data)
    taken = f"A lost reason named “{values.get('name')}” exists."
    if "name" in values:
        _name_free(LostReason, values["name"], taken, exclude_id=reason.pk)
    changes = {f: [getattr(reason, f), v] for f, v in values.items() if getattr(reason, f) != v}
    if not changes:
        return reason
    for field, (_, new) in changes.items():
        setattr(reason, field, new)
    with _unique(taken):
        reason.save(update_fields=list(changes))
    record_event(type="lost_reason.updated", obj=reason, actor=actor, data={"changes": changes})
    return reason


@transaction.atomic
def lost_reason_delete(*, actor, reason_id: int) -> None:
    """Only a reason no deal was lost for; a used one is switched off (`active: false`)."""
    require_admin(actor, "manage lost reasons")
    reason = LostReason.objects.select_for_update().filter(pk=reason_id).first()
    if reason is None:
        raise NotFound()
    if Deal.all_objects.filter(lost_reason=reason).exists():
        raise Conflict("Deals were lost for this reason; switch it off (active: false) instead.",
                       fields={"active": ["Set to false instead of deleting."]})
    record_event(type="lost_reason.deleted", obj=reason, actor=actor, data={"name": reason.name})
    reason.delete()


# Defaults ---------------------------------------------------------------------------------

def ensure_defaults(*, using: str = "default", models=(Pipeline, Stage, LostReason)) -> None:
    """The default pipeline with the standard stages when there is no pipeline at all, and the
    standard lost reasons when there are none. Idempotent: what an admin changed, archived or
    switched off stays so. `models` may be a migration's historical models."""
    pipeline_model, stage_model, reason_model = models
    with transaction.atomic(using=using):
        if not pipeline_model.objects.using(using).exists():
            try:
                with transaction.atomic(using=using):
                    pipeline = pipeline_model.objects.using(using).create(
                        name=DEFAULT_PIPELINE, is_default=True, position=1)
            except IntegrityError:  # another process seeded it a moment ago
                pass
            else:
                stage_model.objects.using(using).bulk_create([
                    stage_model(pipeline_id=pipeline.pk, position=i + 1, **stage)
                    for i, stage in enumerate(DEFAULT_STAGES)])
        if not reason_model.objects.using(using).exists():
            reason_model.objects.using(using).bulk_create([
                reason_model(name=name, position=i + 1) for i, name in enumerate(DEFAULT_LOST_REASONS)])


def seed_after_migrate(app_config=None, using: str = "default", apps=global_apps, **kwargs) -> None:
    """post_migrate: seed the defaults once the sales tables exist."""
    try:
        models = tuple(apps.get_model("sales", name) for name in ("Pipeline", "Stage", "LostReason"))
    except LookupError:
        return
    if router.allow_migrate_model(using, models[0]):
        ensure_defaults(using=using, models=models)
