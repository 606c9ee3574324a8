"""Reads of activities: scoped lists, the merged timeline, and the "My tasks" groups."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from rapport.activities.choices import ActivityKind
from rapport.activities.models import Activity
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core import listing
from rapport.core.events import events_for
from rapport.core.listing import Field, ListSpec
from rapport.core.permissions import owner_filter
from rapport.sales.lead_selectors import lead_visible
from rapport.sales.selectors import deal_visible

ACTIVITY_LIST = ListSpec(
    object_type="activity",
    default_sort="-occurred_at",
    fields={
        "kind": Field("choice", choices=tuple(ActivityKind.values)),
        "contact_id": Field("ref"), "company_id": Field("ref"), "deal_id": Field("ref"),
        "lead_id": Field("ref"),
        "owner_id": Field("ref"), "assignee_id": Field("ref"),
        "occurred_at": Field("datetime", sortable=True),
        "created_at": Field("datetime", sortable=True),
        "due_date": Field("date"), "subject": Field("text"),
        "is_open": Field("bool", path="completed_at__isnull"),
    },
)


def activity_visible(*, user):
    """Activities the user owns or is assigned, or that sit on records the user can see."""
    return Activity.objects.filter(
        owner_filter(user, "activity")
        | Q(assignee=user)
        | Q(contact__in=contact_visible(user=user).values("id"))
        | Q(company__in=company_visible(user=user).values("id"))
        | Q(deal__in=deal_visible(user=user).values("id"))
        | Q(lead__in=lead_visible(user=user).values("id"))
    )


def activity_list(*, user, params) -> listing.Page:
    query = listing.parse(params, ACTIVITY_LIST)
    queryset = listing.apply(activity_visible(user=user), query, ACTIVITY_LIST)
    return listing.paginate(
        queryset, query, ACTIVITY_LIST,
        rows=lambda rows: rows.select_related("owner", "assignee", "contact", "company"))


def activity_get(*, user, activity_id: int) -> Activity | None:
    return (activity_visible(user=user).select_related("owner", "assignee", "contact", "company")
            .filter(pk=activity_id).first())


@dataclass
class TimelineItem:
    when: object
    activity: Activity | None = None
    event: object | None = None


def timeline(*, record, limit: int = 50) -> list[TimelineItem]:
    """Activities and history events of a contact, company, deal or lead, newest first.

    The caller has already checked that the user may see `record`; everything
    on a visible record is visible with it.
    """
    if record.object_type == "company":
        activities = Activity.objects.filter(
            Q(company=record) | Q(contact__company=record)
        )
    elif record.object_type == "deal":
        activities = Activity.objects.filter(deal=record)
    elif record.object_type == "lead":
        activities = Activity.objects.filter(lead=record)
    else:
        activities = Activity.objects.filter(contact=record)
    activities = list(
        activities.select_related("owner", "assignee", "contact")
        .order_by("-occurred_at", "-id")[:limit]
    )
    items = [TimelineItem(when=a.occurred_at, activity=a) for a in activities]
    items += [TimelineItem(when=e.created_at, event=e) for e in events_for(record, limit)]
    items.sort(key=lambda i: i.when, reverse=True)
    return items[:limit]


@dataclass
class TaskGroups:
    overdue: list
    today: list
    upcoming: list
    someday: list
    done_recently: list

    @property
    def open_count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.upcoming) + len(self.someday)


def my_tasks(*, user, limit: int = 200) -> TaskGroups:
    today = timezone.localdate()
    base = (Activity.objects.filter(kind=ActivityKind.TASK, assignee=user)
            .select_related("contact", "company"))
    open_tasks = list(base.filter(completed_at__isnull=True)
                      .order_by("due_date", "-priority", "id")[:limit])
    done = list(base.filter(completed_at__isnull=False).order_by("-completed_at")[:10])
    return TaskGroups(
        overdue=[t for t in open_tasks if t.due_date and t.due_date < today],
        today=[t for t in open_tasks if t.due_date == today],
        upcoming=[t for t in open_tasks if t.due_date and t.due_date > today],
        someday=[t for t in open_tasks if t.due_date is None],
        done_recently=done,
    )


def recent_activity(*, user, limit: int = 15):
    """What happened lately: logged activities up to now (future meetings are not news)."""
    return list(activity_visible(user=user).exclude(kind=ActivityKind.TASK)
                .filter(occurred_at__lte=timezone.now())
                .select_related("owner", "contact", "company")
                .order_by("-occurred_at", "-id")[:limit])


def activity_daily_counts(*, user, days: int = 30) -> list[dict]:
    """Logged activities (not tasks) per day over the last `days`, zero days included."""
    today = timezone.localdate()
    start = today - datetime.timedelta(days=days - 1)
    rows = (activity_visible(user=user).exclude(kind=ActivityKind.TASK)
            .filter(occurred_at__date__gte=start, occurred_at__date__lte=today)
            .annotate(day=TruncDate("occurred_at")).order_by()
            .values("day", "kind").annotate(n=Count("id")))
    by_day: dict = {}
    for row in rows:
        by_day.setdefault(row["day"], {})[row["kind"]] = row["n"]
    return [{"day": start + datetime.timedelta(days=i),
             "counts": by_day.get(start + datetime.timedelta(days=i), {})}
            for i in range(days)]
