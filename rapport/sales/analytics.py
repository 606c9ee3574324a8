"""Reads for the sales home: the figures a sales manager asks for, and a seller's own day.

Every figure counts only deals the user may see, in one currency at a time (amounts in
different currencies do not add up; the page says how many deals another currency holds).
"""

import dataclasses
import datetime
from collections import Counter
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Sum
from django.utils import timezone

from rapport.core.errors import BadRequest
from rapport.sales.choices import DealStatus, StageKind
from rapport.sales.models import Deal, LostReason, Pipeline, StageHistory
from rapport.sales.selectors import (
    active_stages,
    deal_visible,
    default_pipeline,
    effective_probability,
    money,
    stale_condition,
    with_idle_since,
)

PERIODS = {"30d": ("Last 30 days", 30), "90d": ("Last 90 days", 90),
           "12m": ("Last 12 months", 365)}
DEFAULT_PERIOD = "90d"


@dataclasses.dataclass
class StageBar:
    name: str
    count: int
    amount: Decimal
    weighted_amount: Decimal


@dataclasses.dataclass
class FunnelStep:
    name: str
    reached: int
    share_of_first: float | None  # of the deals that entered the first stage
    conversion: float | None  # of the deals that reached the step before


@dataclasses.dataclass
class LostSlice:
    reason: str
    count: int
    amount: Decimal


@dataclasses.dataclass
class Overview:
    period: str
    since: datetime.datetime
    currency: str | None
    currencies: list[str]
    other_currency_deals: int
    pipeline: Pipeline | None
    won: int
    lost: int
    won_amount: Decimal
    win_rate: float | None
    average_deal: Decimal | None
    cycle_days: float | None
    open_count: int
    open_amount: Decimal
    velocity_per_month: Decimal | None
    stages: list[StageBar]
    funnel: list[FunnelStep]
    lost_reasons: list[LostSlice]

    @property
    def has_deals(self) -> bool:
        return bool(self.won or self.lost or self.open_count)


def overview(*, user, params, now: datetime.datetime | None = None) -> Overview:
    """Win rate, deal size, cycle and velocity for deals closed in the period; the open
    pipeline by stage; the stage-to-stage funnel of deals created in the period; and why
    deals were lost. `params`: period (30d, 90d, 12m), pipeline_id, owner_id, currency."""
    now = now or timezone.now()
    period = params.get("period") or DEFAULT_PERIOD
    if period not in PERIODS:
        raise BadRequest(fields={"period": [f"Choose one of: {', '.join(PERIODS)}."]})
    since = now - datetime.timedelta(days=PERIODS[period][1])
    deals = deal_visible(user=user)
    owner_id = _id(params, "owner_id")
    if owner_id:
        deals = deals.filter(owner_id=owner_id)
    pipeline = _pipeline(params)

    by_currency = Counter(dict(deals.order_by().values_list("currency").annotate(n=Count("id"))))
    currencies = [c for c, _ in by_currency.most_common()]
    currency = params.get("currency") or (currencies[0] if currencies else None)
    if currency and currency not in currencies:
        raise BadRequest(fields={"currency": ["No deal you can see is in this currency."]})
    other = sum(n for c, n in by_currency.items() if c != currency)
    deals = deals.filter(currency=currency)

    closed = deals.filter(closed_at__gte=since)
    totals = {row["status"]: row for row in closed.order_by().values("status")
              .annotate(n=Count("id"), total=Sum("amount"))}
    won, lost = (totals.get(s, {}).get("n", 0) for s in (DealStatus.WON, DealStatus.LOST))
    won_amount = money(totals.get(DealStatus.WON, {}).get("total"))
    win_rate = won / (won + lost) if won + lost else None
    average = money(won_amount / won) if won else None
    cycle = _average_cycle_days(closed.filter(status=DealStatus.WON))

    open_deals = deals.filter(status=DealStatus.OPEN)
    open_sum = open_deals.order_by().aggregate(n=Count("id"), total=Sum("amount"))
    velocity = None
    if win_rate is not None and average is not None and cycle:
        # Deals in play × win rate × deal size ÷ days to close: what the pipeline earns a day.
        velocity = money(Decimal(open_sum["n"]) * Decimal(str(win_rate)) * average
                          / Decimal(str(cycle)) * 30)
    return Overview(
        period=period, since=since, currency=currency, currencies=currencies,
        other_currency_deals=other, pipeline=pipeline, won=won, lost=lost,
        won_amount=won_amount, win_rate=win_rate, average_deal=average, cycle_days=cycle,
        open_count=open_sum["n"], open_amount=money(open_sum["total"]),
        velocity_per_month=velocity,
        stages=_stage_bars(open_deals, pipeline) if pipeline else [],
        funnel=_funnel(deals.filter(created_at__gte=since), pipeline) if pipeline else [],
        lost_reasons=_lost_reasons(closed.filter(status=DealStatus.LOST)),
    )


def _id(params, name: str) -> int | None:
    raw = params.get(name) or ""
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadRequest(fields={name: ["Enter a number."]})
    return int(raw)


def _pipeline(params) -> Pipeline | None:
    pipeline_id = _id(params, "pipeline_id")
    if pipeline_id is None:
        return default_pipeline() or Pipeline.objects.filter(archived_at__isnull=True).first()
    pipeline = Pipeline.objects.filter(pk=pipeline_id, archived_at__isnull=True).first()
    if pipeline is None:
        raise BadRequest(fields={"pipeline_id": ["No such pipeline."]})
    return pipeline


def _average_cycle_days(won) -> float | None:
    """Days from a deal's creation to its win, averaged (in Python: date arithmetic in SQL
    differs between the engines, and a period holds thousands of wins, not millions)."""
    total, count = 0.0, 0
    for created_at, won_at in won.values_list("created_at", "won_at").iterator():
        if won_at is not None:
            total += max((won_at - created_at).total_seconds(), 0) / 86400
            count += 1
    return round(total / count, 1) if count else None


def _stage_bars(open_deals, pipeline: Pipeline) -> list[StageBar]:
    stages = [s for s in active_stages().filter(pipeline=pipeline) if s.kind == StageKind.OPEN]
    sums = {row["stage_id"]: row for row in open_deals.filter(pipeline=pipeline).order_by()
            .values("stage_id").annotate(
                n=Count("id"), total=Sum("amount"),
                weighted=Sum(ExpressionWrapper(F("amount") * effective_probability(),
                                               output_field=DecimalField(max_digits=20,
                                                                         decimal_places=2))))}
    bars = []
    for stage in stages:
        row = sums.get(stage.pk, {})
        bars.append(StageBar(stage.name, row.get("n", 0), money(row.get("total")),
                             money(Decimal(str(row.get("weighted") or 0)) / 100)))
    return bars


def _funnel(cohort, pipeline: Pipeline) -> list[FunnelStep]:
    """Of the deals created in the period in this pipeline, how many got at least as far as
    each open stage (a deal may skip stages; a won deal got through every one)."""
    stages = [s for s in active_stages().filter(pipeline=pipeline) if s.kind == StageKind.OPEN]
    if not stages:
        return []
    cohort = cohort.filter(pipeline=pipeline)
    furthest = dict(StageHistory.objects.filter(deal__in=cohort.values("id"),
                                                stage__kind=StageKind.OPEN)
                    .order_by().values_list("deal_id").annotate(p=Max("stage__position")))
    won = set(cohort.filter(status=DealStatus.WON).values_list("id", flat=True))
    reach = [p for deal_id, p in furthest.items() if deal_id not in won]
    steps, previous, first = [], None, None
    for stage in stages:
        reached = len(won) + sum(1 for p in reach if p >= stage.position)
        first = reached if first is None else first
        steps.append(FunnelStep(stage.name, reached,
                                reached / first if first else None,
                                reached / previous if previous else None))
        previous = reached
    steps.append(FunnelStep("Won", len(won), len(won) / first if first else None,
                            len(won) / previous if previous else None))
    return steps


def _lost_reasons(lost) -> list[LostSlice]:
    names = dict(LostReason.objects.values_list("id", "name"))
    rows = (lost.order_by().values("lost_reason_id")
            .annotate(n=Count("id"), total=Sum("amount")).order_by("-n"))
    return [LostSlice(names.get(row["lost_reason_id"], "No reason given"), row["n"],
                      money(row["total"])) for row in rows]


# A seller's day -------------------------------------------------------------------------------

@dataclasses.dataclass
class MyPipeline:
    closing_this_month: list[Deal]
    stale: list[Deal]
    open_count: int

    @property
    def is_empty(self) -> bool:
        return not (self.closing_this_month or self.stale or self.open_count)


def my_pipeline(*, user, today: datetime.date | None = None, limit: int = 8) -> MyPipeline:
    """The user's own open deals that close this month, and those gone stale (idle past
    their stage's rotting days), oldest first."""
    today = today or timezone.localdate()
    mine = deal_visible(user=user, owner=user, status=DealStatus.OPEN).select_related("stage",
                                                                                     "company")
    month_end = (today.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    closing = list(mine.filter(expected_close_date__gte=today.replace(day=1),
                               expected_close_date__lt=month_end)
                   .order_by("expected_close_date", "id")[:limit])
    stale = list(with_idle_since(mine).filter(stale_condition(timezone.now()))
                 .order_by("stage_entered_at", "id")[:limit])
    return MyPipeline(closing, stale, mine.count())
