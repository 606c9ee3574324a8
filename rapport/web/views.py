"""The home dashboard and the global search."""

from django.shortcuts import render

from rapport.activities import selectors as activity_selectors
from rapport.activities.choices import ActivityKind
from rapport.contacts import selectors as contact_selectors
from rapport.core.errors import BadRequest
from rapport.sales import analytics as sales_analytics
from rapport.sales import selectors as sales_selectors
from rapport.web import charts

HOME_TASKS = 6


def home(request):
    tasks = activity_selectors.my_tasks(user=request.user)
    first = (tasks.overdue + tasks.today + tasks.upcoming + tasks.someday)[:HOME_TASKS]
    stages = contact_selectors.contact_stage_counts(user=request.user)
    days = activity_selectors.activity_daily_counts(user=request.user, days=30)
    return render(request, "web/home.html", {
        "tasks": tasks,
        "my_pipeline": sales_analytics.my_pipeline(user=request.user),
        "first_tasks": first,
        "recent": activity_selectors.recent_activity(user=request.user, limit=10),
        "stages": stages,
        "stages_total": sum(s["count"] for s in stages),
        "stage_chart": charts.bar(
            labels=[s["label"] for s in stages],
            series=[("Contacts", [s["count"] for s in stages])],
        ),
        "days": days,
        "activity_chart": charts.stacked_bar(
            labels=[d["day"].strftime("%b %-d") for d in days],
            series=[(label, [d["counts"].get(kind, 0) for d in days])
                    for kind, label in ActivityKind.choices if kind != ActivityKind.TASK],
        ),
    })


def search_everything(user, query: str, *, limit: int) -> dict:
    """Each kind of record the search box finds, from the selectors of its app."""
    return {**contact_selectors.search_all(user=user, query=query, limit=limit),
            **sales_selectors.search_all(user=user, query=query, limit=limit)}


def search(request):
    query = (request.GET.get("q") or "").strip()
    results, error = {"contacts": [], "companies": [], "leads": [], "deals": []}, ""
    if query:
        try:
            results = search_everything(request.user, query, limit=5 if request.htmx else 25)
        except BadRequest as exc:
            error = " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message
    context = {"query": query, "results": results, "error": error,
               "total": sum(len(found) for found in results.values())}
    if request.htmx:
        return render(request, "web/_search_dropdown.html", context)
    return render(request, "web/search.html", context)
