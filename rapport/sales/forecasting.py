"""The forecast: per seller and team, for a month or a quarter, what is won, committed,
possible and in the pipeline, weighted by probability and by each stage's real win rate,
against quotas. Every amount is in the company's currency (settings.COMPANY_CURRENCY),
converted with the exchange rates kept in Settings → Currencies.
"""

import dataclasses
import datetime
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from rapport.accounts.models import User
from rapport.core.errors import BadRequest
from rapport.core.permissions import scope_for
from rapport.sales.choices import DealStatus, ForecastCategory, StageKind
from rapport.sales.models import Deal, ExchangeRate, Quota, StageHistory
from rapport.sales.selectors import deal_visible, money

PERIOD_KINDS = ("month", "quarter")
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=24, decimal_places=8)
HISTORY_DAYS = 365
COMMIT_FROM, BEST_CASE_FROM = 70, 40  # a stage's probability that makes its default category


def default_category(stage) -> str:
    """The category a stage gives its deals unless it names one: by kind, then probability."""
    if stage.forecast_category:
        return stage.forecast_category
    if stage.kind == StageKind.WON:
        return ForecastCategory.CLOSED
    if stage.kind == StageKind.LOST:
        return ForecastCategory.OMITTED
    if stage.probability >= COMMIT_FROM:
        return ForecastCategory.COMMIT
    if stage.probability >= BEST_CASE_FROM:
        return ForecastCategory.BEST_CASE
    return ForecastCategory.PIPELINE


def with_category(deals):
    """Deals with `category`: their own, else their stage's, else by kind and probability
    (as default_category decides for a stage)."""
    return deals.alias(chance=Coalesce("probability", "stage__probability")).annotate(
        category=Case(
            When(status=DealStatus.WON, then=Value(ForecastCategory.CLOSED)),
            When(status=DealStatus.LOST, then=Value(ForecastCategory.OMITTED)),
            When(~Q(forecast_category=""), then=F("forecast_category")),
            When(~Q(stage__forecast_category=""), then=F("stage__forecast_category")),
            When(chance__gte=COMMIT_FROM, then=Value(ForecastCategory.COMMIT)),
            When(chance__gte=BEST_CASE_FROM, then=Value(ForecastCategory.BEST_CASE)),
            default=Value(ForecastCategory.PIPELINE), output_field=CharField()))


def converted_amount():
    """The deal's amount in the company's currency; NULL when its currency has no rate."""
    rate = Subquery(ExchangeRate.objects.filter(currency=OuterRef("currency")).values("rate")[:1])
    company = Case(When(currency=settings.COMPANY_CURRENCY, then=Value(Decimal(1))),
                   default=rate, output_field=MONEY)
    return ExpressionWrapper(F("amount") * company, output_field=MONEY)


@dataclasses.dataclass
class Period:
    kind: str
    start: datetime.date
    end: datetime.date  # exclusive

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%B %Y")
        return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"

    def shifted(self, steps: int) -> "Period":
        months = 1 if self.kind == "month" else 3
        return period_starting(self.kind, _add_months(self.start, months * steps))


def period_starting(kind: str, day: datetime.date) -> Period:
    if kind == "month":
        start = day.replace(day=1)
        return Period(kind, start, _add_months(start, 1))
    start = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return Period(kind, start, _add_months(start, 3))


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)


def parse_period(params, today: datetime.date | None = None) -> Period:
    kind = params.get("period") or "quarter"
    if kind not in PERIOD_KINDS:
        raise BadRequest(fields={"period": ["Choose month or quarter."]})
    raw = params.get("start") or ""
    if raw:
        try:
            day = datetime.date.fromisoformat(raw)
        except ValueError:
            raise BadRequest(fields={"start": ["Enter a date as YYYY-MM-DD."]}) from None
    else:
        day = today or timezone.localdate()
    return period_starting(kind, day)


@dataclasses.dataclass
class Row:
    label: str
    user_id: int | None = None
    quota: Decimal | None = None
    won: Decimal = ZERO
    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    pipeline: Decimal = ZERO
    weighted: Decimal = ZERO
    historical: Decimal = ZERO

    @property
    def attainment(self) -> float | None:
        return float(self.won / self.quota) if self.quota else None

    @property
    def attainment_percent(self) -> int | None:
        share = self.attainment
        return round(share * 100) if share is not None else None

    def add(self, other: "Row") -> None:
        for name in ("won", "commit", "best_case", "pipeline", "weighted", "historical"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.quota is not None:
            self.quota = (self.quota or Decimal(0)) + other.quota


@dataclasses.dataclass
class TeamBlock:
    name: str
    rows: list[Row]
    total: Row


@dataclasses.dataclass
class Forecast:
    period: Period
    currency: str
    teams: list[TeamBlock]
    total: Row
    unconverted: dict[str, int]  # deals left out for want of a rate, by currency
    stage_win_rates: dict[int, float]


def forecast(*, user, params, today: datetime.date | None = None) -> Forecast:
    """The forecast for the deals `user` may see, closing (or won) in the chosen period."""
    period = parse_period(params, today)
    deals = deal_visible(user=user, expected_close_date__gte=period.start,
                         expected_close_date__lt=period.end).exclude(status=DealStatus.LOST)
    won = deal_visible(user=user, status=DealStatus.WON, won_at__date__gte=period.start,
                       won_at__date__lt=period.end)
    missing = _without_rate(deals.filter(status=DealStatus.OPEN)) or {}
    for currency, n in (_without_rate(won) or {}).items():
        missing[currency] = missing.get(currency, 0) + n

    rows: dict[int | None, Row] = defaultdict(lambda: Row(""))
    for row in (won.order_by().values("owner_id")
                .annotate(total=Sum(converted_amount()))):
        rows[row["owner_id"]].won += money(row["total"])
    open_deals = deals.filter(status=DealStatus.OPEN)
    rates = stage_win_rates(today=period.start if today is None else today)
    for row in (with_category(open_deals).order_by()
                .values("owner_id", "stage_id", "category")
                .annotate(total=Sum(converted_amount()),
                          weighted=Sum(ExpressionWrapper(converted_amount() * F("chance"),
                                                         output_field=MONEY)))):
        target = rows[row["owner_id"]]
        amount = money(row["total"])
        setattr(target, _field(row["category"]), getattr(target, _field(row["category"])) + amount)
        target.weighted += money(Decimal(str(row["weighted"] or 0)) / 100)
        target.historical += money(amount * Decimal(str(rates.get(row["stage_id"], 0))))

    quotas = _quotas(period, user)
    owners = {u.pk: u for u in User.objects.filter(pk__in=[k for k in {*rows, *quotas} if k])
              .select_related("team")}
    teams: dict[str, list[Row]] = defaultdict(list)
    for owner_id in sorted({*rows, *quotas}, key=lambda k: str(owners.get(k, "")) if k else "~"):
        row = rows[owner_id]
        owner = owners.get(owner_id)
        row.label, row.user_id = (str(owner) if owner else "No owner"), owner_id
        row.quota = quotas.get(owner_id)
        team = owner.team.name if owner and owner.team else "No team"
        teams[team].append(row)
    blocks = []
    total = Row("Everyone")
    for name in sorted(teams, key=lambda n: (n == "No team", n)):
        block_total = Row(f"{name}, in all")
        for row in teams[name]:
            block_total.add(row)
        total.add(block_total)
        blocks.append(TeamBlock(name, teams[name], block_total))
    return Forecast(period, settings.COMPANY_CURRENCY, blocks, total, missing, rates)


def _field(category: str) -> str:
    return {ForecastCategory.COMMIT: "commit", ForecastCategory.BEST_CASE: "best_case"}.get(
        category, "pipeline")


def _without_rate(deals) -> dict[str, int]:
    known = set(ExchangeRate.objects.values_list("currency", flat=True)) | {
        settings.COMPANY_CURRENCY}
    return dict(deals.exclude(currency__in=known).order_by().values_list("currency")
                .annotate(n=Count("id")))


def _quotas(period: Period, user) -> dict[int, Decimal]:
    """Each seller's quota for the period (a quarter's is its three months'), for the
    sellers `user` may see the deals of."""
    quotas = Quota.objects.filter(period_start__gte=period.start, period_start__lt=period.end)
    scope = scope_for(user, "deal")
    if scope == "own":
        quotas = quotas.filter(user=user)
    elif scope == "team":
        quotas = quotas.filter(user__team_id=user.team_id) if user.team_id else \
            quotas.filter(user=user)
    return {row["user_id"]: money(row["total"]) for row in
            quotas.order_by().values("user_id").annotate(total=Sum("amount"))}


def stage_win_rates(*, today: datetime.date | None = None) -> dict[int, float]:
    """For each stage, of the deals closed in the last year that were ever in it, the share
    that was won: what a deal sitting in that stage today has historically been worth."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(days=HISTORY_DAYS)
    closed = Deal.all_objects.filter(closed_at__date__gte=since,
                                     status__in=[DealStatus.WON, DealStatus.LOST])
    rows = (StageHistory.objects.filter(deal__in=closed.values("id")).order_by()
            .values("stage_id")
            .annotate(total=Count("deal_id", distinct=True),
                      won=Count("deal_id", distinct=True,
                                filter=Q(deal__status=DealStatus.WON))))
    return {row["stage_id"]: row["won"] / row["total"] for row in rows if row["total"]}
