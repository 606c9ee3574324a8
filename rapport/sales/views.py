"""Deals pages: the board (one kanban per pipeline), the list, a deal's page and form, moves
between stages, a deal's contacts, the trash; and Settings → Pipelines (stages, lost reasons).

Every write goes through rapport.sales.services; the board and the list read through
rapport.sales.selectors with the same filters the API takes.
"""

import functools
import logging
from dataclasses import dataclass
from types import SimpleNamespace

import pycountry
from django.contrib import messages
from django.db import transaction
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from rapport.accounts import selectors as account_selectors
from rapport.activities.views import timeline_context
from rapport.contacts import selectors as contact_selectors
from rapport.core import selectors as core_selectors
from rapport.core.customfields import display_values
from rapport.core.errors import (
    BadRequest,
    NotFound,
    PermissionDenied,
    RapportError,
    ValidationFailed,
    VersionConflict,
)
from rapport.core.permissions import is_admin
from rapport.sales import quote_selectors, selectors, services
from rapport.sales.choices import ContactRole, DealStatus, ForecastCategory, StageKind
from rapport.sales.forecasting import default_category
from rapport.sales.forms import (
    STAGE_CATEGORIES,
    DealContactForm,
    DealForm,
    LostReasonForm,
    MoveForm,
    PipelineForm,
    StageForm,
)
from rapport.web.ui import Column, apply_errors, list_context, safe_next

logger = logging.getLogger(__name__)

# The filters the board and the list share, named as the API names them.
FILTERS = ("owner_id", "team_id", "expected_close_date__gte", "expected_close_date__lte",
           "stale", "q")
LIST_ONLY_FILTERS = ("pipeline_id", "stage_id", "status")
STALE_MESSAGE = ("Someone else changed “{name}” a moment ago, so it was not moved. The board "
                 "now shows the latest; move it again if you still want to.")
COMMON_CURRENCIES = ("USD", "EUR", "GBP")


def _errors_text(exc: RapportError) -> str:
    """The service's own sentence when it has one, else what it said about each field."""
    if exc.message and exc.message != exc.default_message():
        return exc.message
    return " ".join(m for messages_ in exc.fields.values() for m in messages_) or exc.message


@functools.cache
def _currencies() -> list[tuple[str, str]]:
    def label(code):
        currency = pycountry.currencies.get(alpha_3=code)
        return f"{code} — {currency.name}" if currency else code
    rest = sorted(services.CURRENCIES - set(COMMON_CURRENCIES))
    return [(code, label(code)) for code in (*COMMON_CURRENCIES, *rest)]


def _filters_from(source: QueryDict, names=FILTERS) -> QueryDict:
    """The filter parameters among `source`, without empty ones."""
    params = QueryDict(mutable=True)
    for name in names:
        values = [v for v in source.getlist(name) if v.strip()]
        if values:
            params.setlist(name, values)
    return params


def _bad_request_text(exc: BadRequest) -> str:
    return "; ".join(f"{name.replace('__gte', ' from').replace('__lte', ' to').replace('_', ' ')}: "
                     f"{' '.join(msgs)}" for name, msgs in exc.fields.items()) or exc.message


def _pipelines() -> list:
    return list(selectors.pipeline_list())


def _chosen_pipeline(pipelines: list, raw: str | None):
    if raw and raw.isdigit():
        for pipeline in pipelines:
            if pipeline.pk == int(raw):
                return pipeline
        raise Http404("No such pipeline.")
    return next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)


def _filter_options() -> dict:
    return {"owners": list(account_selectors.user_list(active_only=True)),
            "teams": list(account_selectors.team_list())}


# The board ---------------------------------------------------------------------------

@dataclass
class Totals:
    count: int
    totals: list


def _sum_totals(columns) -> Totals:
    by_currency: dict[str, dict] = {}
    count = 0
    for column in columns:
        count += column.count
        for total in column.totals:
            entry = by_currency.setdefault(total["currency"], {
                "currency": total["currency"], "amount": 0, "weighted_amount": 0})
            entry["amount"] += total["amount"]
            entry["weighted_amount"] += total["weighted_amount"]
    return Totals(count, sorted(by_currency.values(), key=lambda t: (-t["amount"], t["currency"])))


def _board_context(request, pipeline, filters: QueryDict, *, pipelines=None) -> dict:
    """What sales/_board.html needs for `pipeline` filtered by `filters`."""
    error = None
    try:
        board = selectors.board(user=request.user, pipeline=pipeline, params=filters,
                                related=("owner", "company"), closed_cards=False)
    except BadRequest as exc:
        error, board = _bad_request_text(exc), None
    columns = board.columns if board else []
    open_columns = [c for c in columns if c.stage.kind == StageKind.OPEN]
    won = next((c for c in columns if c.stage.kind == StageKind.WON), None)
    lost = next((c for c in columns if c.stage.kind == StageKind.LOST), None)
    today = timezone.localdate()
    for column in open_columns:
        for deal in column.deals:
            deal.stale = deal.is_stale(board.now)
            deal.overdue = bool(deal.expected_close_date and deal.expected_close_date < today)
    move_stages = list(pipeline.stages.all()) if hasattr(pipeline, "_prefetched_objects_cache") \
        else list(selectors.active_stages().filter(pipeline=pipeline))
    query = filters.urlencode()
    return {
        "pipeline": pipeline,
        "board": board,
        "board_error": error,
        "open_columns": open_columns,
        "won_column": won,
        "lost_column": lost,
        "open_totals": _sum_totals(open_columns),
        "has_deals": any(c.count for c in columns),
        "filtered": bool(filters),
        "move_stages": move_stages,
        "board_query": query,
        "board_url": f"{reverse('deals:board')}?pipeline_id={pipeline.pk}"
                     + (f"&{query}" if query else ""),
        "list_url": f"{reverse('deals:list')}?pipeline_id={pipeline.pk}"
                    + (f"&{query}" if query else ""),
        "pipelines": pipelines,
        "view": "board",
    }


def deal_board(request):
    pipelines = _pipelines()
    pipeline = _chosen_pipeline(pipelines, request.GET.get("pipeline_id"))
    filters = _filters_from(request.GET)
    if pipeline is None:
        return render(request, "sales/board.html", {"pipelines": [], "pipeline": None,
                                                    "view": "board"})
    context = _board_context(request, pipeline, filters, pipelines=pipelines)
    if request.htmx and request.htmx.target == "board":
        # A filter change: the board, with the links that carry the filters out of band.
        context["oob"] = True
        return render(request, "sales/_board.html", context)
    context.update(_filter_options(), reasons=list(selectors.lost_reason_list()),
                   filter_values=filters, is_admin=is_admin(request.user))
    return render(request, "sales/board.html", context)


# The list ---------------------------------------------------------------------------

def deal_list(request):
    pipelines = _pipelines()
    options = _filter_options()
    context = list_context(
        request, object_type="deal",
        selector=lambda user, params: selectors.deal_list(
            user=user, params=params, related=("owner", "company", "pipeline")),
        spec=selectors.DEAL_LIST,
        columns=[
            Column("Deal", sort="name"), Column("Company", css="col-optional"),
            Column("Amount", sort="amount", css="num"),
            Column("Weighted", css="num col-optional"), Column("Stage"),
            Column("Owner", css="col-optional"),
            Column("Close date", sort="expected_close_date", css="col-optional"),
            Column("Created", sort="created_at", css="col-optional"),
        ],
        filters=[], row_template="sales/_deal_row.html", noun="deal", noun_plural="deals",
        create_url=reverse("deals:create"), bulk_url="", view_save_url="",
        owners=options["owners"],
    )
    now = timezone.now()
    for deal in context["items"]:
        deal.stale = deal.is_stale(now)
    filters = _filters_from(request.GET, FILTERS + LIST_ONLY_FILTERS)
    board_params = _filters_from(request.GET, FILTERS)
    board_pipeline = request.GET.get("pipeline_id", "")
    if board_pipeline.isdigit():
        board_params["pipeline_id"] = board_pipeline
    context.update(options, view="list", pipelines=pipelines,
                   show_pipeline=len(pipelines) > 1, filter_values=filters,
                   board_url=f"{reverse('deals:board')}?{board_params.urlencode()}",
                   list_url=request.get_full_path(),
                   clear_url="?" + (f"sort={request.GET['sort']}" if request.GET.get("sort") else ""),
                   statuses=list(DealStatus.choices))
    return render(request, "sales/list.html", context)


# A deal's page ---------------------------------------------------------------------

def _email_url(deal) -> str:
    # The compose page for deals lands with the mail app's deal support; until then, no button.
    try:
        return reverse("compose:compose_deal", args=[deal.pk])
    except NoReverseMatch:
        return ""


def _timeline(request, deal) -> dict:
    """The deal's timeline; should it fail, the page still shows (with its stage history)."""
    try:
        with transaction.atomic():
            return {"timeline_ready": True, **timeline_context(request, deal)}
    except Exception:
        logger.exception("The timeline of deal %s could not be shown", deal.pk)
        return {"timeline_ready": False}


def deal_detail(request, deal_id: int):
    deal = selectors.deal_detail(user=request.user, deal_id=deal_id)
    if deal is None:
        raise Http404("No such deal.")
    definitions = core_selectors.custom_field_list(object_type="deal")
    stages = list(selectors.active_stages().filter(pipeline_id=deal.pipeline_id))
    at_company, others = selectors.deal_contact_choices(user=request.user, deal=deal)
    company_name = deal.company.name if deal.company_id and deal.company else ""
    roles = dict(ContactRole.choices)
    for person in deal.contacts:
        person.role_label = roles.get(person.role, "")
    context = {
        "deal": deal,
        "custom_values": display_values(deal, definitions),
        "stages": stages,
        "open_stages": [s for s in stages if s.kind == StageKind.OPEN],
        "stage_index": next((i for i, s in enumerate(stages) if s.pk == deal.stage_id), -1),
        "reasons": list(selectors.lost_reason_list()),
        "email_url": _email_url(deal),
        "contact_form": DealContactForm(at_company=at_company, others=others,
                                        company_name=company_name),
        "has_contact_choices": bool(at_company or others),
        "history": list(reversed(deal.history)),
        "idle_days": (timezone.now() - deal.stale_since()).days,
        "quotes": quote_selectors.deal_quotes(deal=deal),
        **_timeline(request, deal),
    }
    return render(request, "sales/deal_detail.html", context)


# Moves ---------------------------------------------------------------------------------

def _move_message(deal, stage) -> str:
    if deal.status == DealStatus.WON:
        return f"“{deal.name}” is won. 🎉"
    if deal.status == DealStatus.LOST:
        return f"“{deal.name}” is marked lost."
    return f"Moved “{deal.name}” to {stage.name}."


def _lost_page(request, deal, form, stage_id=None, status=200):
    return render(request, "sales/lost.html", {
        "deal": deal, "form": form, "stage_id": stage_id,
        "next": safe_next(request, reverse("deals:detail", args=[deal.pk])),
    }, status=status)


def deal_lost(request, deal_id: int):
    """The no-JavaScript way to mark a deal lost: the reason first."""
    deal = selectors.deal_get(user=request.user, deal_id=deal_id)
    if deal is None:
        raise Http404("No such deal.")
    form = MoveForm(initial={"version": deal.version}, reasons=selectors.lost_reason_list())
    return _lost_page(request, deal, form)


@require_POST
def deal_move(request, deal_id: int):
    """To a stage (`stage_id`) or by `status` (won, lost, open), with the version the mover
    saw. A board (htmx) gets itself back re-rendered; a plain form is redirected to `next`."""
    deal = selectors.deal_get(user=request.user, deal_id=deal_id)
    if deal is None:
        raise Http404("No such deal.")
    stages = list(selectors.active_stages().filter(pipeline_id=deal.pipeline_id))
    reasons = list(selectors.lost_reason_list())
    form = MoveForm(request.POST, stages=stages, reasons=reasons)
    level, text, moved = "error", "", None
    if not form.is_valid():
        text = "Choose a stage of this deal's pipeline to move it to."
    else:
        data = form.cleaned_data
        stage_id, status = data["stage_id"], data["status"] or None
        target = next((s for s in stages if s.pk == stage_id), None)
        going_lost = status == DealStatus.LOST or (target is not None
                                                   and target.kind == StageKind.LOST)
        if stage_id is None and status is None:
            text = "Choose the stage to move the deal to."
        elif going_lost and "lost_reason_id" not in request.POST and reasons \
                and deal.status != DealStatus.LOST and not request.htmx:
            # From a "Move to…" select without JavaScript: ask why first.
            return _lost_page(request, deal, MoveForm(
                initial={"version": data["version"], "lost_note": ""}, reasons=reasons),
                stage_id=stage_id)
        else:
            try:
                moved = services.deal_move(
                    actor=request.user, deal_id=deal.pk, stage_id=stage_id, status=status,
                    expected_version=data["version"],
                    lost_reason_id=data["lost_reason_id"] if going_lost else None,
                    lost_note=data["lost_note"] if going_lost else None)
                level, text = "success", _move_message(moved, moved.stage)
            except VersionConflict:
                text = STALE_MESSAGE.format(name=deal.name)
            except NotFound:
                raise Http404() from None
            except ValidationFailed as exc:
                if going_lost and "lost_reason_id" in exc.fields and not request.htmx:
                    apply_errors(form, exc)
                    return _lost_page(request, deal, form, stage_id=stage_id)
                text = _errors_text(exc)
            except RapportError as exc:
                text = exc.message
    if request.htmx:
        pipeline = selectors.pipeline_get(pipeline_id=deal.pipeline_id)
        if pipeline is None:
            raise Http404("No such pipeline.")
        filters = _filters_from(QueryDict(request.POST.get("board_query", "")))
        context = _board_context(request, pipeline, filters)
        context.update(board_message={"level": level, "text": text},
                       moved_id=deal.pk if moved else None)
        return render(request, "sales/_board.html", context)
    getattr(messages, level)(request, text)
    return redirect(safe_next(request, reverse("deals:detail", args=[deal.pk])))


# Create, edit, delete, trash ---------------------------------------------------------------

def _form_pipelines(deal=None) -> list:
    """Pipelines with the stages a form offers: the open ones, and the deal's own."""
    pipelines = _pipelines()
    for pipeline in pipelines:
        pipeline.form_stages = [s for s in pipeline.stages.all()
                                if s.kind == StageKind.OPEN or (deal and s.pk == deal.stage_id)]
    return pipelines


def _deal_form_page(request, deal=None):
    definitions = list(core_selectors.custom_field_list(object_type="deal"))
    pipelines = _form_pipelines(deal)
    include = deal.company_id if deal else None
    raw_company = request.POST.get("company_id") or request.GET.get("company_id") or ""
    if raw_company.isdigit():
        include = int(raw_company)
    owners = list(account_selectors.user_list(active_only=True))
    if deal and deal.owner_id and all(u.pk != deal.owner_id for u in owners):
        owners.append(deal.owner)
    extra = {"pipelines": pipelines, "currencies": _currencies(), "owners": owners,
             "companies": contact_selectors.company_choices(user=request.user, include_id=include),
             "definitions": definitions}
    stale = False
    if request.method == "POST":
        form = DealForm(request.POST, **extra)
        if form.is_valid():
            data = form.to_data()
            try:
                if deal is None:
                    saved = services.deal_create(actor=request.user, data=data)
                    messages.success(request, f"Deal “{saved}” created.")
                else:
                    if deal.owner_id and data.get("owner_id") == deal.owner_id:
                        data.pop("owner_id")  # unchanged (perhaps no longer active): leave it
                    saved = services.deal_update(actor=request.user, deal_id=deal.pk, data=data,
                                                 expected_version=form.cleaned_data["version"])
                    messages.success(request, f"Saved “{saved}”.")
                if selectors.deal_get(user=request.user, deal_id=saved.pk) is None:
                    messages.info(request, f"“{saved}” now belongs to {saved.owner}, outside the "
                                           "deals you see.")
                    return redirect("deals:board")
                return redirect("deals:detail", saved.pk)
            except VersionConflict:
                stale = True
                form.add_error(None, "Someone else changed this deal while you were editing. "
                                     "Reload the page to see their changes, then edit again.")
            except ValidationFailed as exc:
                apply_errors(form, exc)
            except NotFound:
                raise Http404() from None
            except RapportError as exc:
                apply_errors(form, exc)
    elif deal is not None:
        form = DealForm(initial=DealForm.initial_for(deal), **extra)
        form.initial.update(form.custom_initial(deal))
    else:
        initial = {"owner_id": request.user.pk, "currency": services.default_currency()}
        chosen = _chosen_pipeline(pipelines, request.GET.get("pipeline_id")) if pipelines else None
        if chosen and chosen.form_stages:
            initial["stage_id"] = chosen.form_stages[0].pk
        stage = request.GET.get("stage_id", "")
        if stage.isdigit():
            initial["stage_id"] = int(stage)
        if raw_company.isdigit():
            initial["company_id"] = raw_company
        form = DealForm(initial=initial, **extra)
    return render(request, "sales/form.html", {
        "form": form, "deal": deal, "stale": stale,
        "cancel_url": reverse("deals:detail", args=[deal.pk]) if deal else reverse("deals:board"),
    })


def deal_create(request):
    return _deal_form_page(request)


def deal_edit(request, deal_id: int):
    deal = selectors.deal_get(user=request.user, deal_id=deal_id)
    if deal is None:
        raise Http404("No such deal.")
    return _deal_form_page(request, deal)


def deal_delete(request, deal_id: int):
    deal = selectors.deal_get(user=request.user, deal_id=deal_id)
    if deal is None:
        raise Http404("No such deal.")
    if request.method == "POST":
        try:
            services.deal_delete(actor=request.user, deal_id=deal.pk)
        except NotFound:
            raise Http404() from None
        messages.success(request, f"“{deal}” moved to the trash. You can restore it from "
                                  "Deals → Trash for 30 days.")
        return redirect(f"{reverse('deals:board')}?pipeline_id={deal.pipeline_id}")
    return render(request, "sales/confirm_delete.html", {"deal": deal})


def deal_trash(request):
    return render(request, "sales/trash.html",
                  {"deals": list(selectors.trash_list(user=request.user)
                                 .select_related("stage", "owner"))})


@require_POST
def deal_restore(request, deal_id: int):
    try:
        deal = services.deal_restore(actor=request.user, deal_id=deal_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, f"Restored “{deal}”.")
    return redirect("deals:detail", deal.pk)


# A deal's contacts ------------------------------------------------------------------------

@require_POST
def contact_add(request, deal_id: int):
    raw = request.POST.get("contact_id", "")
    if not raw.isdigit():
        messages.error(request, "Choose a contact to add.")
    else:
        try:
            _, created = services.deal_contact_add(actor=request.user, deal_id=deal_id,
                                                   contact_id=int(raw),
                                                   role=request.POST.get("role", ""))
            messages.success(request, "Contact added to the deal." if created
                             else "The contact's role is updated.")
        except NotFound:
            raise Http404() from None
        except RapportError as exc:
            messages.error(request, _errors_text(exc))
    return redirect(f"{reverse('deals:detail', args=[deal_id])}#contacts-heading")


@require_POST
def contact_remove(request, deal_id: int, contact_id: int):
    try:
        services.deal_contact_remove(actor=request.user, deal_id=deal_id, contact_id=contact_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, "Contact removed from the deal.")
    return redirect(f"{reverse('deals:detail', args=[deal_id])}#contacts-heading")


# Settings → Pipelines ---------------------------------------------------------------------

def pipeline_settings(request, *, pipeline_form=None, stage_forms=None, reason_form=None,
                      status=200):
    pipelines = _pipelines()
    stage_forms = stage_forms or {}
    for pipeline in pipelines:
        stages = list(pipeline.stages.all())
        open_ids = [s.pk for s in stages if s.kind == StageKind.OPEN]
        for stage in stages:
            stage.can_up = stage.pk in open_ids and open_ids.index(stage.pk) > 0
            stage.can_down = stage.pk in open_ids and open_ids.index(stage.pk) < len(open_ids) - 1
            stage.category_label = ForecastCategory(default_category(stage)).label
            # What "from the probability" comes to, shown beside that choice.
            stage.auto_category_label = ForecastCategory(default_category(
                SimpleNamespace(forecast_category="", kind=stage.kind,
                                probability=stage.probability))).label
        pipeline.stage_list = stages
        pipeline.stage_form = stage_forms.get(pipeline.pk) or StageForm(
            prefix=f"new-stage-{pipeline.pk}")
    return render(request, "sales/pipelines.html", {
        "settings_section": "pipelines", "is_admin": is_admin(request.user),
        "pipelines": pipelines,
        "pipeline_form": pipeline_form or PipelineForm(),
        "reasons": list(selectors.lost_reason_list(include_inactive=True)),
        "reason_form": reason_form or LostReasonForm(),
        "stage_categories": STAGE_CATEGORIES,
    }, status=status)


def _back(pipeline_id=None):
    url = reverse("pipelines:list")
    return redirect(f"{url}#pipeline-{pipeline_id}" if pipeline_id else url)


def _settings_write(request, write, success: str, pipeline_id=None):
    """Run a settings write; its outcome (or refusal) becomes a message on the page."""
    try:
        write()
    except NotFound:
        raise Http404() from None
    except PermissionDenied as exc:
        messages.error(request, exc.message)
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, success)
    return _back(pipeline_id)


def _version(request) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


@require_POST
def pipeline_create(request):
    form = PipelineForm(request.POST)
    if form.is_valid():
        try:
            pipeline = services.pipeline_create(actor=request.user, data=form.cleaned_data)
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return _back()
        except RapportError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Pipeline “{pipeline.name}” created with the standard "
                                      "stages; rename or change them below.")
            return _back(pipeline.pk)
    return pipeline_settings(request, pipeline_form=form)


@require_POST
def pipeline_update(request, pipeline_id: int):
    action = request.POST.get("action", "rename")
    if action == "default":
        data, success = {"is_default": True}, "This pipeline is now the default."
    elif action in {"up", "down"}:
        ids = [p.pk for p in _pipelines()]
        if pipeline_id not in ids:
            raise Http404()
        position = max(0, ids.index(pipeline_id) + (-1 if action == "up" else 1))
        data, success = {"position": position}, "Pipelines reordered."
    else:
        data = {"name": request.POST.get("name", "")}
        success = f"Pipeline renamed to “{data['name'].strip()}”."
    return _settings_write(request, lambda: services.pipeline_update(
        actor=request.user, pipeline_id=pipeline_id, data=data,
        expected_version=_version(request)), success, pipeline_id)


@require_POST
def pipeline_delete(request, pipeline_id: int):
    return _settings_write(request, lambda: services.pipeline_delete(
        actor=request.user, pipeline_id=pipeline_id), "Pipeline deleted.")


@require_POST
def stage_create(request, pipeline_id: int):
    form = StageForm(request.POST, prefix=f"new-stage-{pipeline_id}")
    if form.is_valid():
        try:
            stage = services.stage_create(actor=request.user, pipeline_id=pipeline_id,
                                          data=form.to_data(creating=True))
        except NotFound:
            raise Http404() from None
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return _back(pipeline_id)
        except RapportError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Stage “{stage.name}” added.")
            return _back(pipeline_id)
    return pipeline_settings(request, stage_forms={pipeline_id: form})


@require_POST
def stage_update(request, pipeline_id: int, stage_id: int):
    action = request.POST.get("action", "save")
    if action in {"up", "down"}:
        pipeline = selectors.pipeline_get(pipeline_id=pipeline_id)
        if pipeline is None:
            raise Http404()
        ids = [s.pk for s in pipeline.stages.all()]
        if stage_id not in ids:
            raise Http404()
        at = ids.index(stage_id)
        other = at - 1 if action == "up" else at + 1
        if 0 <= other < len(ids):
            ids[at], ids[other] = ids[other], ids[at]
        return _settings_write(request, lambda: services.stages_reorder(
            actor=request.user, pipeline_id=pipeline_id, stage_ids=ids,
            expected_version=_version(request)), "Stages reordered.", pipeline_id)
    form = StageForm(request.POST, prefix=f"stage-{stage_id}")
    if not form.is_valid():
        messages.error(request, " ".join(f"{form.fields[name].label}: {' '.join(errors)}"
                                         for name, errors in form.errors.items()))
        return _back(pipeline_id)
    data = form.to_data(creating=False)
    if request.POST.get("closed"):  # a won or lost stage: its name alone changes
        data = {"name": data["name"]}
    return _settings_write(request, lambda: services.stage_update(
        actor=request.user, pipeline_id=pipeline_id, stage_id=stage_id, data=data),
        f"Stage “{data['name'].strip()}” saved.", pipeline_id)


@require_POST
def stages_reorder(request, pipeline_id: int):
    """The order a drag on the settings page left the stages in (every stage id, in order)."""
    ids = [int(i) for i in request.POST.getlist("stage_ids") if i.isdigit()]
    return _settings_write(request, lambda: services.stages_reorder(
        actor=request.user, pipeline_id=pipeline_id, stage_ids=ids,
        expected_version=_version(request)), "Stages reordered.", pipeline_id)


@require_POST
def stage_delete(request, pipeline_id: int, stage_id: int):
    return _settings_write(request, lambda: services.stage_delete(
        actor=request.user, pipeline_id=pipeline_id, stage_id=stage_id),
        "Stage deleted.", pipeline_id)


@require_POST
def reason_create(request):
    form = LostReasonForm(request.POST)
    if form.is_valid():
        try:
            reason = services.lost_reason_create(actor=request.user, data=form.cleaned_data)
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect(f"{reverse('pipelines:list')}#reasons-heading")
        except RapportError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Lost reason “{reason.name}” added.")
            return redirect(f"{reverse('pipelines:list')}#reasons-heading")
    return pipeline_settings(request, reason_form=form)


@require_POST
def reason_update(request, reason_id: int):
    action = request.POST.get("action", "rename")
    if action in {"deactivate", "activate"}:
        data = {"active": action == "activate"}
        success = "Lost reason switched on." if data["active"] else \
            "Lost reason switched off: it is offered no more; deals lost for it keep it."
    else:
        data = {"name": request.POST.get("name", "")}
        success = f"Lost reason renamed to “{data['name'].strip()}”."
    _settings_write(request, lambda: services.lost_reason_update(
        actor=request.user, reason_id=reason_id, data=data), success)
    return redirect(f"{reverse('pipelines:list')}#reasons-heading")


@require_POST
def reason_delete(request, reason_id: int):
    _settings_write(request, lambda: services.lost_reason_delete(
        actor=request.user, reason_id=reason_id), "Lost reason deleted.")
    return redirect(f"{reverse('pipelines:list')}#reasons-heading")

