"""Imports in the UI: upload → choose columns → preview → run with live progress → undo.

Under Settings → Imports, and from the Import button on the contact, company and lead lists.
"""

import itertools

from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.accounts.models import User
from rapport.core.errors import RapportError
from rapport.core.permissions import is_admin
from rapport.transfer import engine, selectors, services
from rapport.transfer.downloads import export_file_response, failed_rows_response
from rapport.transfer.kinds import KINDS, MATCH_LABELS, kind_of
from rapport.transfer.mapping import targets
from rapport.transfer.models import ExportStatus, ImportStatus, OnMatch
from rapport.transfer.readers import UnreadableFile, open_table

SAMPLE_ROWS = 3
# Where each kind's records are listed (the import's "See …" link, an export that fails).
LIST_PAGES = {"contact": "contacts:list", "company": "companies:list", "lead": "leads:list",
              "deal": "deals:list"}


def _page(request, template, context):
    context.setdefault("settings_section", "imports")
    context.update(is_admin=is_admin(request.user))
    return render(request, template, context)


def _messages(exc: RapportError) -> list[str]:
    """Every field's message, or the error's own when it names no field."""
    return [m for ms in getattr(exc, "fields", {}).values() for m in ms] or [exc.message]


def _job_or_404(request, job_id):
    job = selectors.import_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404()
    return job


def import_list(request):
    object_type = request.POST.get("object_type") or request.GET.get("type") or "contact"
    errors = []
    if request.method == "POST":
        try:
            job = services.import_create(actor=request.user, upload=request.FILES.get("file"),
                                         object_type=object_type)
            return redirect("imports:columns", job.pk)
        except RapportError as exc:
            errors = _messages(exc)
    return _page(request, "transfer/imports.html", {
        "jobs": selectors.import_list(user=request.user), "kinds": KINDS,
        "object_type": object_type if object_type in KINDS else "contact", "errors": errors,
        "max_mb": services.settings.IMPORT_MAX_BYTES // 1048576,
    })


def import_columns(request, job_id: int):
    job = _job_or_404(request, job_id)
    if job.status != ImportStatus.DRAFT:
        return redirect("imports:detail", job.pk)
    saved = selectors.saved_mappings(object_type=job.object_type)
    mapping, match_on, on_match = dict(job.mapping), list(job.match_on), job.on_match
    chosen = saved.filter(pk=request.GET.get("saved") or 0).first()
    if chosen is not None:
        mapping = {h: chosen.mapping.get(h, "") for h in job.headers}
        match_on, on_match = chosen.match_on, chosen.on_match
    errors = []
    if request.method == "POST":
        mapping = {h: request.POST.get(f"column-{i}", "") for i, h in enumerate(job.headers)}
        match_on, on_match = request.POST.getlist("match_on"), request.POST.get("on_match", "")
        try:
            services.import_configure(actor=request.user, job_id=job.pk, mapping=mapping,
                                      match_on=match_on, on_match=on_match,
                                      save_as=request.POST.get("save_as", ""))
            return redirect("imports:preview", job.pk)
        except RapportError as exc:
            errors = _messages(exc)
    columns = [{"index": i, "header": h, "target": mapping.get(h, ""), "samples": samples}
               for i, (h, samples) in enumerate(zip(job.headers, _samples(job), strict=True))]
    return _page(request, "transfer/columns.html", {
        "job": job, "columns": columns, "errors": errors, "saved": saved, "chosen": chosen,
        "targets": targets(job.object_type, services.custom_field_choices(job.object_type)),
        "match_choices": [(k, MATCH_LABELS[k]) for k in kind_of(job.object_type).match_fields],
        "match_on": match_on, "on_match": on_match, "on_match_choices": OnMatch.choices,
    })


def _samples(job) -> list[list[str]]:
    """A few values of each column, to recognise it by."""
    try:
        rows = list(itertools.islice(open_table(job.file.path, filename=job.file_name).rows(),
                                     SAMPLE_ROWS))
    except UnreadableFile:
        rows = []
    return [[r.values[i] for r in rows if i < len(r.values) and r.values[i].strip()]
            for i in range(len(job.headers))]


def import_preview(request, job_id: int):
    job = _job_or_404(request, job_id)
    if job.status != ImportStatus.DRAFT:
        return redirect("imports:detail", job.pk)
    plans = selectors.preview(job)
    shown = [t for t in targets(job.object_type, services.custom_field_choices(job.object_type))
             if t.key in set(job.mapping.values())]
    owners = dict(User.objects.filter(pk__in={p.data.get("owner_id") for p in plans})
                  .values_list("pk", "email"))
    return _page(request, "transfer/preview.html", {
        "job": job, "shown": shown, "problems": sum(1 for p in plans if p.problems),
        "rows": [(p, [_shown_value(p, t.key, owners) for t in shown]) for p in plans],
    })


def _shown_value(plan, key: str, owners: dict) -> str:
    """A planned field as the preview shows it."""
    data = plan.data
    if key == "full_name":
        return " ".join(v for v in (data.get("first_name"), data.get("last_name")) if v)
    if key == "company":
        return plan.company
    if key == "tags":
        return ", ".join(plan.tags)
    if key == "owner":
        return owners.get(data.get("owner_id"), "")
    if key.startswith("custom:"):
        value = (data.get("custom_fields") or {}).get(key.removeprefix("custom:"), "")
    else:
        value = data.get(key, "")
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")


@require_POST
def import_start(request, job_id: int):
    job = _job_or_404(request, job_id)
    try:
        services.import_start(actor=request.user, job_id=job.pk)
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect("imports:detail", job.pk)


def import_detail(request, job_id: int):
    job = _job_or_404(request, job_id)
    context = {"job": job, "kind": kind_of(job.object_type),
               "list_page": LIST_PAGES.get(job.object_type, "contacts:list"),
               "rate": engine.rows_per_second(job), "left": engine.seconds_left(job),
               "indexing": engine.indexing(job),
               "failures": job.failures.all()[:50],
               "percent": int(100 * job.rows_done / job.total_rows) if job.total_rows else 0,
               "active": job.status in {ImportStatus.QUEUED, ImportStatus.RUNNING,
                                        ImportStatus.UNDOING}}
    if request.htmx:
        return render(request, "transfer/_progress.html", context)
    return _page(request, "transfer/detail.html", context)


@require_POST
def import_undo(request, job_id: int):
    job = _job_or_404(request, job_id)
    try:
        services.import_undo(actor=request.user, job_id=job.pk)
        messages.success(request, "Undoing the import: what it created goes to the trash and "
                                  "what it updated is put back.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect("imports:detail", job.pk)


@require_POST
def import_discard(request, job_id: int):
    job = _job_or_404(request, job_id)
    try:
        services.import_discard(actor=request.user, job_id=job.pk)
        messages.success(request, f"“{job.file_name}” was discarded.")
    except RapportError as exc:
        messages.error(request, exc.message)
        return redirect("imports:detail", job.pk)
    return redirect("imports:list")


def import_failed_rows(request, job_id: int):
    job = _job_or_404(request, job_id)
    return failed_rows_response(job)


# Exports ---------------------------------------------------------------------------------

def export_list(request):
    return _page(request, "transfer/exports.html", {
        "jobs": selectors.export_list(user=request.user), "settings_section": "exports"})


@require_POST
def export_create(request):
    object_type = request.POST.get("object_type", "contact")
    try:
        job = services.export_create(actor=request.user, object_type=object_type,
                                     format=request.POST.get("format", "csv"),
                                     params=QueryDict(request.POST.get("query", "")))
    except RapportError as exc:
        messages.error(request, f"The export could not start: {exc.message}")
        return redirect(LIST_PAGES.get(object_type, "contacts:list"))
    return redirect("exports:detail", job.pk)


def export_detail(request, job_id: int):
    job = selectors.export_get(user=request.user, job_id=job_id)
    if job is None:
        raise Http404()
    context = {"job": job, "active": job.status in {ExportStatus.QUEUED, ExportStatus.RUNNING},
               "list_page": LIST_PAGES.get(job.object_type, "contacts:list"),
               "percent": int(100 * job.rows_done / job.total_rows) if job.total_rows else 0}
    if request.htmx:
        return render(request, "transfer/_export_progress.html", context)
    return _page(request, "transfer/export_detail.html", {**context, "settings_section": "exports"})


def export_download(request, job_id: int):
    job = selectors.export_get(user=request.user, job_id=job_id)
    if job is None or job.status != ExportStatus.DONE or not job.file:
        raise Http404()
    return export_file_response(job)
