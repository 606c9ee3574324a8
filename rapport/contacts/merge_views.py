"""Merging in the UI: pick the other record, compare side by side, choose each field's value,
merge, and undo from the result page."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.contacts import merging, selectors
from rapport.contacts.models import MergeRecord
from rapport.core.errors import RapportError
from rapport.core.listing import params as list_params

GETTERS = {"contact": selectors.contact_page, "company": selectors.company_page}
NS = {"contact": "contacts", "company": "companies"}
LISTS = {"contact": selectors.contact_list, "company": selectors.company_list}


def _record(request, object_type: str, pk):
    record = GETTERS[object_type](user=request.user, **{f"{object_type}_id": pk})
    if record is None:
        raise Http404()
    return record


def merge_page(request, object_type: str, pk: int):
    survivor = _record(request, object_type, pk)
    other_id = request.POST.get("other_id") or request.GET.get("other")
    if request.method == "POST":
        choices = {name.removeprefix("field-"): side for name, side in request.POST.items()
                   if name.startswith("field-")}
        try:
            _, merge = merging.merge_records(actor=request.user, object_type=object_type,
                                             survivor_id=survivor.pk, other_id=other_id, choices=choices)
        except RapportError as exc:
            messages.error(request, exc.message)
            return redirect(f"{request.path}?other={other_id}")
        return redirect("contacts:merge_result", merge.pk)
    other = _record(request, object_type, other_id) if other_id and other_id.isdigit() else None
    query = request.GET.get("q", "").strip()
    candidates = []
    if other is None and query:
        page = LISTS[object_type](user=request.user, params=list_params(q=query, limit="10"))
        candidates = [r for r in page.items if r.pk != survivor.pk]
    return render(request, "contacts/merge.html", {
        "object_type": object_type, "ns": NS[object_type], "survivor": survivor, "other": other,
        "query": query, "candidates": candidates,
        "rows": _comparison(survivor, other) if other else [],
        "combined": _combined(survivor, other) if other else [],
    })


def _comparison(survivor, other) -> list[dict]:
    """One row per field that differs, with the side chosen by default."""
    rows = []
    model = type(survivor)
    for name in merging.choosable_fields(model):
        field = model._meta.get_field(name)
        mine, theirs = _shown(survivor, field), _shown(other, field)
        if mine == theirs:
            continue
        rows.append({"name": name, "label": field.verbose_name.capitalize(), "survivor": mine,
                     "other": theirs, "default": "other" if not mine and theirs else "survivor"})
    for key in sorted(set(survivor.custom_fields) | set(other.custom_fields)):
        mine, theirs = survivor.custom_fields.get(key), other.custom_fields.get(key)
        if mine != theirs:
            rows.append({"name": f"custom_fields.{key}", "label": key.replace("_", " ").capitalize(),
                         "survivor": _text(mine), "other": _text(theirs),
                         "default": "other" if mine in merging.EMPTY else "survivor"})
    return rows


def _shown(record, field) -> str:
    if field.is_relation:
        related = getattr(record, field.name)
        return str(related) if related else ""
    if field.choices:
        return getattr(record, f"get_{field.name}_display")()
    return _text(getattr(record, field.attname))


def _text(value) -> str:
    if value in merging.EMPTY:
        return ""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _combined(survivor, other) -> list[tuple[str, str]]:
    """What the merge keeps from both, whatever is chosen."""
    kept = []
    for list_name, primary in merging.PAIRED.items():
        if hasattr(survivor, list_name):
            values = [v for v in dict.fromkeys([getattr(survivor, primary), *getattr(survivor, list_name),
                                                getattr(other, primary), *getattr(other, list_name)]) if v]
            if values:
                kept.append((list_name.capitalize(), ", ".join(values)))
    tags = sorted({t.name for t in survivor.tags.all()} | {t.name for t in other.tags.all()},
                  key=str.casefold)
    if tags:
        kept.append(("Tags", ", ".join(tags)))
    return kept


def merge_result(request, merge_id: int):
    merge = MergeRecord.objects.filter(pk=merge_id).first()
    if merge is None:
        raise Http404()
    survivor = _record(request, merge.object_type, merge.survivor_id)
    return render(request, "contacts/merge_result.html", {
        "merge": merge, "survivor": survivor, "ns": NS[merge.object_type],
        "moved": {key.split(".")[1]: len(ids) for key, ids in merge.moved.items()},
    })


@require_POST
def merge_undo(request, merge_id: int):
    try:
        survivor, other = merging.merge_undo(actor=request.user, merge_id=merge_id)
    except RapportError as exc:
        messages.error(request, exc.message)
        return redirect("contacts:merge_result", merge_id)
    messages.success(request, f"The merge is undone: “{other}” is back.")
    return redirect(reverse(f"{NS[survivor.object_type]}:detail", args=[survivor.pk]))
