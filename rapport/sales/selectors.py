"""Every read of pipelines and deals; deals scoped to what the user may see."""

import dataclasses
import datetime
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Prefetch,
    Q,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, RowNumber
from django.utils import timezone

from rapport.contacts.selectors import contact_visible
from rapport.core import listing
from rapport.core.customfields import definitions_for
from rapport.core.errors import BadRequest
from rapport.core.listing import Field, ListSpec
from rapport.core.permissions import in_scope
from rapport.core.selectors import one
from rapport.core.tags import tag_names
from rapport.sales.choices import DealStatus
from rapport.sales.lead_selectors import LEAD_LIST, lead_visible
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

DEAL_LIST = ListSpec(
    object_type="deal",
    default_sort="-created_at",
    fields={
        "id": Field("int"),
        "name": Field("text", sortable=True, label="Name"),
        "amount": Field("int", path="amount_sort", sortable=True, label="Amount"),
        "currency": Field("text", label="Currency"),
        "pipeline_id": Field("ref", label="Pipeline"),
        "stage_id": Field("ref", label="Stage"),
        "status": Field("choice", choices=tuple(DealStatus.values), label="Status"),
        "owner_id": Field("ref", label="Owner"),
        "team_id": Field("ref", path="owner__team_id", label="Team"),
        "company_id": Field("ref", label="Company"),
        "lost_reason_id": Field("ref", label="Lost reason"),
        # Filters and sorts on the never-null copy; a close-date filter also leaves out deals
        # without one (see deal_list).
        "expected_close_date": Field("date", path="close_date_sort", sortable=True,
                                     label="Expected close date"),
        "created_at": Field("datetime", sortable=True, label="Created"),
        "updated_at": Field("datetime", sortable=True, label="Updated"),
        "closed_at": Field("datetime", label="Closed"),
    },
    extra_params=frozenset({"stale"}),
)
# The board takes the list's filters; `limit` is the cards per stage, `sort` their order.
BOARD = dataclasses.replace(DEAL_LIST, default_sort="expected_close_date")

MAX_DETAIL_CONTACTS = 200


def effective_probability():
    """The deal's weight in SQL, as Deal.effective_probability has it (joins the stage)."""
    return Case(When(status=DealStatus.WON, then=Value(100)),
                When(status=DealStatus.LOST, then=Value(0)),
                default=Coalesce("probability", "stage__probability"), output_field=IntegerField())


# Pipelines, stages, lost reasons -----------------------------------------------------------

def pipeline_list(*, include_archived: bool = False):
    """Pipelines in order, each with its active stages (two queries)."""
    pipelines = Pipeline.objects.all() if include_archived else Pipeline.objects.filter(ACTIVE)
    return pipelines.prefetch_related(Prefetch("stages", queryset=active_stages()))


def active_stages():
    return Stage.objects.filter(ACTIVE).order_by("position", "id")


def pipeline_get(*, pipeline_id: int, with_stages: bool = True) -> Pipeline | None:
    pipelines = pipeline_list() if with_stages else Pipeline.objects.filter(ACTIVE)
    return one(pipelines.filter(pk=pipeline_id))


def default_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(ACTIVE, is_default=True).first()


def lost_reason_list(*, include_inactive: bool = False):
    reasons = LostReason.objects.all()
    return reasons if include_inactive else reasons.filter(active=True)


# Deals --------------------------------------------------------------------------------------

def deal_visible(*, user, trashed: bool = False, **lookups):
    """Deals in `user`'s scope (and matching `lookups`)."""
    return Deal.all_objects.filter(in_scope(user, "deal", deleted_at__isnull=not trashed, **lookups))


def _deal_rows(rows, related=()):
    return rows.select_related("stage", *related).annotate(tag_names=tag_names(Deal))


def _filtered(user, params, spec) -> tuple:
    # Custom field definitions only when a filter names one: the board is three queries.
    wanted = any(name.startswith("custom__") for name in params)
    query = listing.parse(params, spec, definitions_for("deal") if wanted else ())
    return query, _beyond_the_spec(listing.apply(deal_visible(user=user), query, spec), params)


def _beyond_the_spec(deals, params):
    """The deal list's filters that are not a field's: a close-date filter leaves out deals
    without one (an empty one, as the filter form sends it, is no filter), and `stale`."""
    if any(name.startswith("expected_close_date") and params.get(name) for name in params):
        deals = deals.filter(expected_close_date__isnull=False)
    stale = (params.get("stale") or "").lower()
    if stale:
        if stale not in {"true", "false", "1", "0"}:
            raise BadRequest(fields={"stale": ["Enter true or false."]})
        condition = stale_condition(timezone.now())
        deals = with_idle_since(deals).filter(condition if stale in {"true", "1"} else ~condition)
    return deals


def stale_condition(now: datetime.datetime) -> Q:
    """Open deals idle in their stage past its rotting days, as Deal.is_stale decides.

    One OR term per stage that rots (a handful), so each compares a column to a constant.
    """
    rotting = Stage.objects.filter(ACTIVE, rotting_days__isnull=False, kind="open") \
        .values_list("pk", "rotting_days")
    condition = Q(pk__in=[])
    for stage_id, days in rotting:
        condition |= Q(stage_id=stage_id, idle_since__lt=now - datetime.timedelta(days=days))
    return Q(status=DealStatus.OPEN) & condition


def with_idle_since(deals):
    """Deals with `idle_since`: the later of their last stage change and last activity."""
    return deals.alias(idle_since=Greatest("stage_entered_at",
                                           Coalesce("last_activity_at", "stage_entered_at")))


def deals_for_export(*, user, params, batch_size: int = 2000):
    """The deal list as an export reads it (listing.for_export): its filters, search and
    sort, in `user`'s scope, each deal with what its row shows."""
    def rows(page_rows):
        return page_rows.select_related("pipeline", "stage", "company", "owner", "lost_reason") \
            .annotate(tag_names=tag_names(Deal))

    return listing.for_export(_beyond_the_spec(deal_visible(user=user), params), params, DEAL_LIST,
                              definitions_for("deal"), rows=rows, batch_size=batch_size)


def deal_list(*, user, params, related=()) -> listing.Page:
    """`related`: foreign keys to read with each row (the web list shows owner and company)."""
    query, deals = _filtered(user, params, DEAL_LIST)
    return listing.paginate(deals, query, DEAL_LIST, rows=lambda rows: _deal_rows(rows, related))


def deal_get(*, user, deal_id: int) -> Deal | None:
    """The deal with its stage and tags, if `user` may see it."""
    return one(_deal_rows(deal_visible(user=user, pk=deal_id)))


@dataclasses.dataclass
class StageStay:
    stage_id: int
    stage_name: str
    entered_at: datetime.datetime
    left_at: datetime.datetime | None
    user_id: int | None
    seconds: int


@dataclasses.dataclass
class DealContactRow:
    contact_id: int
    role: str
    name: str
    email: str
    added_at: datetime.datetime


def deal_detail(*, user, deal_id: int, now: datetime.datetime | None = None,
                any_owner: bool = False) -> Deal | None:
    """The deal with what its page shows: the contacts `user` may see (each once), its stage
    history oldest first, the time spent in each stage and whether it is stale. Three queries.

    `any_owner`: outside `user`'s scope too, for answering the write `user` just made (which
    may have handed the deal to someone else)."""
    deal = one(_deal_rows(Deal.objects.filter(pk=deal_id))) if any_owner else deal_get(
        user=user, deal_id=deal_id)
    if deal is None:
        return None
    now = now or timezone.now()
    deal.contacts = deal_contacts(user=user, deal=deal)
    history = list(StageHistory.objects.filter(deal=deal).select_related("stage")
                   .order_by("entered_at", "id"))
    deal.history = [StageStay(h.stage_id, h.stage.name, h.entered_at, h.left_at, h.user_id,
                              h.seconds(now)) for h in history]
    totals: dict[int, int] = defaultdict(int)
    for stay in deal.history:
        totals[stay.stage_id] += stay.seconds
    deal.time_in_stages = [{"stage_id": stage_id, "seconds": seconds}
                           for stage_id, seconds in totals.items()]
    current = next((s for s in reversed(deal.history) if s.left_at is None), None)
    deal.seconds_in_stage = current.seconds if current else int(
        (now - deal.stage_entered_at).total_seconds())
    deal.stale = deal.is_stale(now)
    return deal


def deal_contacts(*, user, deal: Deal, contact_id: int | None = None) -> list[DealContactRow]:
    """The deal's contacts `user` may see, each once (a merge may have left two links);
    `contact_id` narrows it to that one."""
    visible = contact_visible(user=user).values("pk")
    links = DealContact.objects.filter(deal=deal, contact__in=visible)
    if contact_id is not None:
        links = links.filter(contact_id=contact_id)
    links = (links
             .select_related("contact").order_by("created_at", "id")[:MAX_DETAIL_CONTACTS])
    rows: dict[int, DealContactRow] = {}
    for link in links:
        if link.contact_id not in rows:
            c = link.contact
            rows[link.contact_id] = DealContactRow(c.pk, link.role, c.full_name, c.email,
                                                   link.created_at)
    return list(rows.values())


def deal_contact_choices(*, user, deal: Deal, limit: int = 500) -> tuple[list, list]:
    """Contacts `user` may put on `deal`, for a form's select, leaving out those on it:
    (the people at the deal's company, everyone else), each by name; two queries at most."""
    candidates = (contact_visible(user=user)
                  .exclude(pk__in=DealContact.objects.filter(deal=deal).values("contact_id"))
                  .only("id", "first_name", "last_name", "email", "company_id")
                  .order_by("last_name", "first_name", "id"))
    at_company = list(candidates.filter(company_id=deal.company_id)[:limit]) \
        if deal.company_id else []
    others = candidates.exclude(company_id=deal.company_id) if deal.company_id else candidates
    return at_company, list(others[:limit])

def first_contact(*, user, deal: Deal) -> DealContactRow | None:
    """Whom an email from the deal goes to: its first contact `user` may see that has an
    address, else its first contact."""
    people = deal_contacts(user=user, deal=deal)
    return next((p for p in people if p.email), people[0] if people else None)


def trash_list(*, user, limit: int = 200):
    return deal_visible(user=user, trashed=True).order_by("-deleted_at")[:limit]


# The board ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Column:
    stage: Stage
    count: int = 0
    # One entry per currency, largest first: {"currency", "amount", "weighted_amount"}.
    totals: list[dict] = dataclasses.field(default_factory=list)
    deals: list[Deal] = dataclasses.field(default_factory=list)
    has_more: bool = False


@dataclasses.dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    now: datetime.datetime


def board(*, user, pipeline: Pipeline, params, related=(), closed_cards: bool = True) -> Board:
    """A pipeline's stages, each with its deal count, total and weighted total per currency,
    and its first `limit` deals (default 50) in `sort` order: three queries whatever the
    number of stages or deals. `params` filter like the deal list (owner_id, team_id,
    expected_close_date__gte, status, tag, q, ...). `related`: foreign keys read with each
    card; `closed_cards=False` leaves the won and lost stages' cards out (their counts and
    totals stay), for a board that shows them as drop zones."""
    query, deals = _filtered(user, params, BOARD)
    deals = deals.filter(pipeline=pipeline)
    stages = list(active_stages().filter(pipeline=pipeline))
    columns = {stage.pk: Column(stage) for stage in stages}

    sums = (deals.order_by().values("stage_id", "currency")
            .annotate(n=Count("id"), total=Sum("amount"),
                      weighted=Sum(ExpressionWrapper(
                          F("amount") * effective_probability(),
                          output_field=DecimalField(max_digits=20, decimal_places=2)))))
    for row in sums:
        column = columns.get(row["stage_id"])
        if column is None:
            continue  # an archived stage's deals: none, as stages with deals are not archived
        column.count += row["n"]
        column.totals.append({
            "currency": row["currency"],
            "amount": money(row["total"]),
            "weighted_amount": money(Decimal(str(row["weighted"] or 0)) / 100),
        })
    for column in columns.values():
        column.totals.sort(key=lambda t: (-t["amount"], t["currency"]))

    sort_name = query.sort.lstrip("-")
    path = BOARD.fields[sort_name].path or sort_name
    order = [F(path).desc(), F("id").desc()] if query.sort.startswith("-") else [F(path).asc(), "id"]
    carded = [pk for pk, column in columns.items() if closed_cards or not column.stage.is_closed]
    cards = (_deal_rows(deals.filter(stage_id__in=carded), related)
             .annotate(card=Window(RowNumber(), partition_by=[F("stage_id")], order_by=order))
             .filter(card__lte=query.limit + 1).order_by("stage_id", "card"))
    for deal in cards:
        column = columns[deal.stage_id]
        if len(column.deals) < query.limit:
            column.deals.append(deal)
        else:
            column.has_more = True
    return Board(pipeline, [columns[stage.pk] for stage in stages], timezone.now())


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def reference_names() -> dict[str, dict[int, str]]:
    """Names of every pipeline, stage and lost reason, archived ones too, by id: for showing
    a deal's history (these tables hold tens of rows, not thousands)."""
    return {
        "pipeline": dict(Pipeline.objects.values_list("id", "name")),
        "stage": dict(Stage.objects.values_list("id", "name")),
        "lost_reason": dict(LostReason.objects.values_list("id", "name")),
    }


def search_all(*, user, query: str, limit: int = 8) -> dict:
    """The global search box's leads and deals: the best matches `user` may see, one query per
    type however many match. Leads not yet converted come before converted ones."""
    def matches(visible, spec):
        return listing.apply(visible, listing.parse(listing.params(q=query), spec), spec)

    leads = matches(lead_visible(user=user), LEAD_LIST).order_by(
        F("converted_at").asc(nulls_first=True), "last_name", "first_name", "id")[:limit]
    deals = matches(deal_visible(user=user), DEAL_LIST).select_related(
        "stage", "company").order_by("name", "id")[:limit]
    return {"leads": list(leads), "deals": list(deals)}
