"""Every write to the timeline's activities and tasks."""

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date

from rapport.accounts.services import active_user_id
from rapport.activities.choices import ActivityKind, CallOutcome, Direction, Priority
from rapport.activities.models import Activity
from rapport.activities.rendering import render_markdown
from rapport.activities.selectors import activity_visible
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core import records
from rapport.core.cleaning import (
    choice,
    clean_fields,
    listed,
    optional_choice,
    reference,
    text,
)
from rapport.core.errors import BadRequest, NotFound, ValidationFailed
from rapport.core.history import snapshot
from rapport.core.listing import parse_when
from rapport.core.normalise import normalise_email
from rapport.sales.lead_selectors import lead_visible
from rapport.sales.selectors import deal_visible
from rapport.sales.services import deal_touch

MAX_DURATION = 24 * 3600


def _when(value):
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if not isinstance(value, str):
        raise ValueError("Enter an ISO 8601 date-time.")
    try:
        return parse_when("value", value)
    except BadRequest:
        raise ValueError("Enter an ISO 8601 date-time.") from None


def _date(value):
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError("Enter a date as YYYY-MM-DD.")
    return parsed


def _duration(value):
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError("Enter a number of seconds.")
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ValueError("Enter a number of seconds.") from None
    if not 0 <= seconds <= MAX_DURATION:
        raise ValueError("Enter a duration from 0 to 86,400 seconds.")
    return seconds


def _completed(value):
    if isinstance(value, bool):
        return timezone.now() if value else None
    raise ValueError("Enter true or false.")


def _cleaners(actor):
    return {
        "kind": choice(ActivityKind), "subject": text(200),
        "body": text(100_000, multiline=True),
        "contact_id": reference(contact_visible(user=actor), "contact"),
        "company_id": reference(company_visible(user=actor), "company"),
        "deal_id": reference(deal_visible(user=actor), "deal"),
        "lead_id": reference(lead_visible(user=actor), "lead"),
        "occurred_at": _when, "direction": optional_choice(Direction),
        "duration_seconds": _duration, "outcome": optional_choice(CallOutcome),
        "starts_at": _when, "ends_at": _when, "location": text(200),
        "attendees": listed(normalise_email, max_items=100),
        "email_from": lambda v: normalise_email(text(254)(v)) if v else "",
        "email_to": listed(normalise_email, max_items=100),
        "due_date": _date, "priority": choice(Priority), "assignee_id": active_user_id,
        "owner_id": active_user_id, "completed": _completed,
    }


def _check_kind_rules(activity: Activity):
    errors = {}
    if activity.kind != ActivityKind.TASK and not (activity.contact_id or activity.company_id
                                                   or activity.deal_id or activity.lead_id):
        errors["contact_id"] = ["Attach this to a contact, a company, a deal or a lead."]
    if activity.kind == ActivityKind.TASK and not activity.subject:
        errors["subject"] = ["Say what needs doing."]
    if activity.kind == ActivityKind.NOTE and not activity.body:
        errors["body"] = ["Write the note."]
    if activity.kind == ActivityKind.MEETING:
        if not activity.starts_at:
            errors["starts_at"] = ["Enter when the meeting starts."]
        elif activity.ends_at and activity.ends_at < activity.starts_at:
            errors["ends_at"] = ["The meeting cannot end before it starts."]
    if activity.kind == ActivityKind.CALL and not activity.direction:
        activity.direction = Direction.OUTBOUND
    if errors:
        raise ValidationFailed(fields=errors)


def _apply(activity: Activity, values: dict):
    completed = values.pop("completed", "unset")
    for field, value in values.items():
        setattr(activity, field, value)
    if completed != "unset":
        activity.completed_at = completed
    if activity.kind == ActivityKind.MEETING and activity.starts_at:
        activity.occurred_at = activity.starts_at
    if activity.occurred_at is None:
        activity.occurred_at = timezone.now()
    if activity.company_id is None and activity.contact_id:
        activity.company_id = activity.contact.company_id
    if activity.company_id is None and activity.deal_id:
        activity.company_id = activity.deal.company_id
    activity.body_html = render_markdown(activity.body)


@transaction.atomic
def activity_create(*, actor, data: dict) -> Activity:
    values = clean_fields(_cleaners(actor), data, required=("kind",))
    activity = Activity(kind=values.pop("kind"))
    _apply(activity, values)
    if activity.kind == ActivityKind.TASK and activity.assignee_id is None:
        activity.assignee = actor
    _check_kind_rules(activity)
    activity = records.create_record(activity, actor=actor)
    _touch_deal(activity)
    return activity


@transaction.atomic
def activity_update(*, actor, activity_id: int, data: dict,
                    expected_version: int | None = None) -> Activity:
    if not activity_visible(user=actor).filter(pk=activity_id).exists():
        raise NotFound()
    activity = records.lock(Activity, activity_id, expected_version=expected_version)
    before = snapshot(activity, records.tracked_fields(activity))
    values = clean_fields(_cleaners(actor), data)
    if "kind" in values and values["kind"] != activity.kind:
        raise ValidationFailed(fields={"kind": ["The kind of an activity cannot change."]})
    _apply(activity, values)
    _check_kind_rules(activity)
    activity = records.update_record(activity, actor=actor, before=before)
    _touch_deal(activity)
    return activity


def _touch_deal(activity: Activity) -> None:
    """Something happened on the deal: its rotting clock restarts (a task only once done)."""
    if not activity.deal_id:
        return
    if activity.kind == ActivityKind.TASK:
        if activity.completed_at:
            deal_touch(deal_ids=[activity.deal_id], at=activity.completed_at)
        return
    deal_touch(deal_ids=[activity.deal_id], at=min(activity.occurred_at, timezone.now()))


def activities_follow_conversion(*, lead_id: int, contact_id: int,
                                 company_id: int | None = None) -> int:
    """A lead was converted: its activities join the contact's timeline (and the company's,
    where they have none). They keep the lead, whose page still shows them. For the lead
    conversion to call, inside its transaction; returns how many moved."""
    now = timezone.now()
    activities = Activity.all_objects.filter(lead_id=lead_id)
    moved = activities.filter(contact__isnull=True).update(
        contact_id=contact_id, updated_at=now, version=F("version") + 1)
    if company_id:
        activities.filter(company__isnull=True).update(company_id=company_id)
    return moved


def task_set_done(*, actor, activity_id: int, done: bool) -> Activity:
    return activity_update(actor=actor, activity_id=activity_id, data={"completed": done})


@transaction.atomic
def activity_delete(*, actor, activity_id: int) -> Activity:
    if not activity_visible(user=actor).filter(pk=activity_id).exists():
        raise NotFound()
    return records.trash_record(records.lock(Activity, activity_id), actor=actor)
