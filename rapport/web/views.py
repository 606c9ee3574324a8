"""The home dashboard and the global search."""

from django.shortcuts import render

from rapport.activities import selectors as activity_selectors
from rapport.contacts import selectors as contact_selectors
from rapport.core.errors import BadRequest

HOME_TASKS = 6


def home(request):
    tasks = activity_selectors.my_tasks(user=request.user)
    first = (tasks.overdue + tasks.today + tasks.upcoming + tasks.someday)[:HOME_TASKS]
    return render(request, "web/home.html", {
        "tasks": tasks,
        "first_tasks": first,
        "recent": activity_selectors.recent_activity(user=request.user, limit=10),
    })


def search(request):
    query = (request.GET.get("q") or "").strip()
    results, error = {"contacts": [], "companies": []}, ""
    if query:
        try:
            results = contact_selectors.search_all(
                user=request.user, query=query, limit=5 if request.htmx else 25)
        except BadRequest as exc:
            error = " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message
    context = {"query": query, "results": results, "error": error,
               "total": len(results["contacts"]) + len(results["companies"])}
    if request.htmx:
        return render(request, "web/_search_dropdown.html", context)
    return render(request, "web/search.html", context)
