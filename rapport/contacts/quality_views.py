"""The data-quality page: how many contacts and companies have each problem, linked to them."""

from django.shortcuts import render
from django.urls import reverse

from rapport.contacts import duplicates
from rapport.contacts.quality import quality_summary
from rapport.web import charts

GROUP_HEADINGS = {"contact": "Contacts", "company": "Companies"}


def data_quality(request):
    rows = quality_summary(user=request.user, extra=[
        {"object_type": object_type, "problem": "duplicates", "label": f"Possible duplicate {noun}",
         "why": "Two records for one customer split their history and get two emails.",
         "count": duplicates.open_count(user=request.user, object_type=object_type),
         "url": f"{reverse('contacts:duplicates')}?type={object_type}"}
        for object_type, noun in (("contact", "contacts"), ("company", "companies"))])
    totals = {row["object_type"]: row["total"] for row in rows if row["total"] is not None}
    found = [row for row in rows if row["count"]]
    return render(request, "contacts/data_quality.html", {
        "groups": _groups(rows),
        "found": found,
        "contact_total": totals.get("contact", 0),
        "company_total": totals.get("company", 0),
        "chart": _horizontal_bar(found) if found else None,
    })


def _groups(rows: list[dict]) -> list[dict]:
    """Rows under a heading per object type, in the summary's order; extra checks last."""
    groups: dict[str, dict] = {}
    for row in rows:
        heading = GROUP_HEADINGS.get(row["object_type"], "Other checks")
        groups.setdefault(heading, {"heading": heading, "rows": []})["rows"].append(row)
    return list(groups.values())


def _horizontal_bar(rows: list[dict]) -> dict:
    """charts.bar laid on its side, one bar per problem and object type. Short labels ("No
    owner") shared by contacts and companies: whole labels did not fit beside a bar at 390 px."""
    labels = list(dict.fromkeys(_short_label(row) for row in rows))
    series = {}
    for row in rows:
        heading = GROUP_HEADINGS.get(row["object_type"], "Other checks")
        # None, not 0: Chart.js draws no bar for a problem the object type cannot have.
        values = series.setdefault(heading, [None] * len(labels))
        values[labels.index(_short_label(row))] = row["count"]
    chart = charts.bar(labels=labels, series=list(series.items()))
    chart["options"].update(indexAxis="y", skipNull=True)
    chart["options"]["scales"] = {
        "x": {"beginAtZero": True, "ticks": {"precision": 0}},
        "y": {"ticks": {"autoSkip": False}},
    }
    return chart


def _short_label(row: dict) -> str:
    return row["problem"].replace("_", " ").capitalize() or row["label"]
