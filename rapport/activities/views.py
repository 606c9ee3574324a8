"""Timeline, activity composer, tasks page, task completion and meeting invitations."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts import selectors as account_selectors
from rapport.activities import selectors, services
from rapport.activities.choices import ActivityKind
from rapport.activities.forms import ActivityForm
from rapport.activities.ics import meeting_ics
from rapport.contacts import selectors as contact_selectors
from rapport.core import selectors as core_selectors
from rapport.core.errors import NotFound, RapportError
from rapport.sales import lead_selectors
from rapport.sales import selectors as sales_selectors
from rapport.web.ui import apply_errors, record_page, safe_next

KINDS = [ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL,
         ActivityKind.TASK]
EVENT_VERBS = {"created": "created this record", "deleted": "moved this record to the trash",
               "restored": "restored this record from the trash", "merged": "merged a record in",
               "won": "marked this deal won", "lost": "marked this deal lost",
               "contact_added": "added a contact to this deal",
               "contact_removed": "removed a contact from this deal",
               "contact_updated": "changed a contact's role on this deal",
               "converted": "converted this lead", "assigned": "assigned this lead"}
# Shown by the change they follow from (a move's stage and status), or by an event of their
# own (deal.won, deal.lost, lead.converted): listing them again would only repeat it.
HIDDEN_CHANGES = {"stage_entered_at", "won_at", "lost_at", "closed_at", "last_activity_at",
                  "converted_at", "converted_contact", "converted_company", "converted_deal"}
HIDDEN_EVENTS = {"stage_changed"}
FIELD_LABELS = {"owner": "Owner", "company": "Company", "tags": "Tags",
                "custom_fields": "Custom fields"}


# Timeline ---------------------------------------------------------------------

def _field_label(model, name: str, definitions: dict) -> str:
    if name.startswith("custom_fields."):
        key = name.split(".", 1)[1]
        return definitions.get(key, key)
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    try:
        return str(model._meta.get_field(name).verbose_name).capitalize()
    except Exception:
        return name.replace("_", " ").capitalize()


def _shown(value, name: str, names: dict) -> str:
    if value in (None, "", [], {}):
        return "—"
    if name in names:
        return str(names[name].get(value, f"{name.replace('_', ' ')} #{value}"))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def describe_events(request, record, items) -> None:
    """Give each event item `.verb` and `.lines` [(label, old, new)] for the template."""
    events = [i.event for i in items if i.event is not None]
    if not events:
        return
    definitions = {d.key: d.label for d in
                   core_selectors.custom_field_list(object_type=record.object_type)}
    owner_ids, company_ids = set(), set()
    for event in events:
        for name, pair in event.changes.items():
            target = owner_ids if name == "owner" else company_ids if name == "company" else None
            if target is not None:
                target.update(v for v in pair if isinstance(v, int))
    names = {
        "owner": {u.pk: u for u in account_selectors.user_list().filter(pk__in=owner_ids)}
        if owner_ids else {},
        "company": {c.pk: c.name for c in contact_selectors.records_by_ids(
            user=request.user, object_type="company", ids=company_ids)} if company_ids else {},
    }
    if record.object_type == "deal":
        names.update(sales_selectors.reference_names())
    model = type(record)
    items[:] = [i for i in items
                if i.event is None or i.event.type.rsplit(".", 1)[-1] not in HIDDEN_EVENTS]
    for item in items:
        event = item.event
        if event is None:
            continue
        action = event.type.rsplit(".", 1)[-1]
        item.verb = EVENT_VERBS.get(action, "changed")
        if action == "lost" and event.data.get("lost_reason"):
            item.verb += f": {event.data['lost_reason']}"
        if action == "assigned" and event.data.get("owner_name"):
            item.verb += f" to {event.data['owner_name']}"
            if event.data.get("rule_name"):
                item.verb += f" (rule “{event.data['rule_name']}”)"
            elif event.data.get("method") == "fallback":
                item.verb += " (fallback owner)"
        item.lines = [
            (_field_label(model, name, definitions), _shown(old, name, names),
             _shown(new, name, names))
            for name, (old, new) in event.changes.items() if name not in HIDDEN_CHANGES
        ] if action == "updated" else []


def timeline_context(request, record) -> dict:
    items = selectors.timeline(record=record)
    describe_events(request, record, items)
    return {
        "record": record,
        "timeline": items,
        "composer": _composer(request, record, ActivityKind.NOTE),
    }


def _users():
    return list(account_selectors.user_list(active_only=True))


def _composer(request, record, kind, form=None) -> dict:
    return {
        "kind": kind,
        "kind_label": ActivityKind(kind).label,
        "kinds": [(k.value, k.label) for k in KINDS],
        "form": form or ActivityForm(kind=kind, users=_users() if kind == "task" else ()),
        "record_field": f"{record.object_type}_id",
        "record": record,
    }


def _record_from(request, source):
    """The contact, company, deal or lead an activity is being added to, if the user may see
    it."""
    for field, getter, arg in (
        ("contact_id", contact_selectors.contact_get, "contact_id"),
        ("company_id", contact_selectors.company_get, "company_id"),
        ("deal_id", sales_selectors.deal_get, "deal_id"),
        ("lead_id", lead_selectors.lead_get, "lead_id"),
    ):
        raw = source.get(field, "")
        if raw.isdigit():
            record = getter(user=request.user, **{arg: int(raw)})
            if record is None:
                raise Http404()
            return record
    raise Http404()


def composer(request):
    """GET: the composer for one kind (the tabs load it with htmx)."""
    record = _record_from(request, request.GET)
    kind = request.GET.get("kind", ActivityKind.NOTE)
    if kind not in ActivityKind.values:
        kind = ActivityKind.NOTE
    return render(request, "activities/_composer.html", {"composer": _composer(request, record,
                                                                               kind)})


@require_POST
def activity_create(request):
    record = _record_from(request, request.POST)
    kind = request.POST.get("kind", "")
    if kind not in ActivityKind.values:
        raise Http404()
    users = _users() if kind == "task" else ()
    form = ActivityForm(request.POST, kind=kind, users=users)
    activity = None
    if form.is_valid():
        data = form.to_data()
        data[f"{record.object_type}_id"] = record.pk
        try:
            activity = services.activity_create(actor=request.user, data=data)
        except RapportError as exc:
            apply_errors(form, exc)
    if not request.htmx:
        if activity:
            messages.success(request, f"{activity.get_kind_display()} added.")
        else:
            messages.error(request, "The activity could not be added: "
                           + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect(safe_next(request, record_page(record.object_type, record.pk)))
    context = {"composer": _composer(request, record, kind,
                                     None if activity else form)}
    if activity:
        activity = selectors.activity_get(user=request.user, activity_id=activity.pk)
        context["new_item"] = selectors.TimelineItem(when=activity.occurred_at,
                                                     activity=activity)
        context["added"] = activity.get_kind_display()
    return render(request, "activities/_composer.html", context)


# Tasks --------------------------------------------------------------------------

def tasks(request):
    form = ActivityForm(request.POST or None, kind=ActivityKind.TASK, users=_users(),
                        prefix_id="quick_")
    if request.method == "POST" and form.is_valid():
        try:
            task = services.activity_create(actor=request.user, data=form.to_data())
            messages.success(request, f"Task “{task.subject}” added.")
            return redirect("activities:tasks")
        except RapportError as exc:
            apply_errors(form, exc)
    groups = selectors.my_tasks(user=request.user)
    return render(request, "activities/tasks.html", {
        "groups": groups, "form": form,
        "sections": [
            ("overdue", "Overdue", groups.overdue, "Nothing overdue. Nice."),
            ("today", "Today", groups.today, "Nothing due today."),
            ("upcoming", "Upcoming", groups.upcoming, "Nothing scheduled ahead."),
            ("someday", "No due date", groups.someday, "No undated tasks."),
            ("done", "Recently done", groups.done_recently, "Tasks you finish show up here."),
        ],
    })


@require_POST
def task_done(request, activity_id: int):
    done = request.POST.get("done") in {"on", "1", "true", "yes"}
    try:
        services.task_set_done(actor=request.user, activity_id=activity_id, done=done)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, exc.message)
    task = selectors.activity_get(user=request.user, activity_id=activity_id)
    if task is None:
        raise Http404()
    if not request.htmx:
        return redirect(safe_next(request, reverse("activities:tasks")))
    template = ("activities/_timeline_item.html" if request.POST.get("fmt") == "timeline"
                else "activities/_task.html")
    return render(request, template, {
        "task": task, "item": selectors.TimelineItem(when=task.occurred_at, activity=task),
    })


def meeting_invite(request, activity_id: int):
    activity = selectors.activity_get(user=request.user, activity_id=activity_id)
    if activity is None or activity.kind != ActivityKind.MEETING or not activity.starts_at:
        raise Http404()
    response = HttpResponse(meeting_ics(activity, organiser_email=request.user.email),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="meeting-{activity.pk}.ics"'
    return response
