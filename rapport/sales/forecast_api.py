"""The forecast, quotas and exchange rates over the API."""

import datetime
from decimal import Decimal

from django.conf import settings
from ninja import Router, Schema, Status
from pydantic import ConfigDict

from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound
from rapport.sales import forecast_services, forecasting
from rapport.sales.models import ExchangeRate, Quota

router = Router(tags=["forecast"])


class ForecastRowOut(Schema):
    label: str
    user_id: int | None
    quota: Decimal | None
    won: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    weighted: Decimal
    historical: Decimal
    attainment: float | None


class ForecastTeamOut(Schema):
    name: str
    rows: list[ForecastRowOut]
    total: ForecastRowOut


class ForecastOut(Schema):
    period: str
    start: datetime.date
    end: datetime.date
    label: str
    currency: str
    teams: list[ForecastTeamOut]
    total: ForecastRowOut
    unconverted: dict[str, int]


class QuotaIn(Schema):
    model_config = ConfigDict(extra="forbid")
    user_id: int
    month: str
    amount: str | None = None


class QuotaOut(Schema):
    user_id: int
    month: str
    amount: Decimal
    currency: str


class RateIn(Schema):
    model_config = ConfigDict(extra="forbid")
    rate: str


class RateOut(Schema):
    currency: str
    rate: Decimal
    company_currency: str
    updated_at: datetime.datetime


def _row(row: forecasting.Row) -> dict:
    return {**{name: getattr(row, name) for name in (
        "label", "user_id", "quota", "won", "commit", "best_case", "pipeline", "weighted",
        "historical")}, "attainment": row.attainment}


@router.get("/forecast", response={200: ForecastOut, **ERRORS},
            description="`period`: `month` or `quarter` (default); `start`: any day in it "
                        "(default today). Amounts in the company currency.")
def get_forecast(request, period: str | None = None, start: str | None = None):
    result = forecasting.forecast(user=request.auth, params=request.GET)
    return {"period": result.period.kind, "start": result.period.start,
            "end": result.period.end, "label": result.period.label, "currency": result.currency,
            "teams": [{"name": t.name, "rows": [_row(r) for r in t.rows], "total": _row(t.total)}
                      for t in result.teams],
            "total": _row(result.total), "unconverted": result.unconverted}


def _quota_out(quota: Quota) -> dict:
    return {"user_id": quota.user_id, "month": f"{quota.period_start:%Y-%m}",
            "amount": quota.amount, "currency": settings.COMPANY_CURRENCY}


@router.get("/quotas", response={200: list[QuotaOut], **ERRORS},
            description="Quotas of the months from `start` to `end` (YYYY-MM), of the sellers "
                        "whose quotas you may set.")
def list_quotas(request, start: str | None = None, end: str | None = None):
    params = {"start": start or "", "end": end or ""}
    rows = forecast_services.quotas_for(actor=request.auth, start=params["start"],
                                        end=params["end"])
    return [_quota_out(q) for q in rows]


@router.put("/quotas", response={200: QuotaOut, 204: None, **ERRORS},
            description="Set a seller's quota for a month (`amount` empty or null removes it).")
def put_quota(request, payload: QuotaIn):
    quota = forecast_services.quota_set(actor=request.auth, user_id=payload.user_id,
                                        month=payload.month, amount=payload.amount)
    if quota is None:
        return Status(204, None)
    return _quota_out(quota)


def _rate_out(rate: ExchangeRate) -> dict:
    return {"currency": rate.currency, "rate": rate.rate,
            "company_currency": settings.COMPANY_CURRENCY, "updated_at": rate.updated_at}


@router.get("/exchange-rates", response={200: list[RateOut], **ERRORS})
def list_rates(request):
    return [_rate_out(r) for r in ExchangeRate.objects.order_by("currency")]


@router.put("/exchange-rates/{currency}", response={200: RateOut, **ERRORS},
            description="What one unit of `currency` is worth in the company currency (admins).")
def put_rate(request, currency: str, payload: RateIn):
    return _rate_out(forecast_services.exchange_rate_set(actor=request.auth, currency=currency,
                                                         rate=payload.rate))


@router.delete("/exchange-rates/{currency}", response={204: None, **ERRORS})
def delete_rate(request, currency: str):
    if len(currency) > 3:
        raise NotFound()
    forecast_services.exchange_rate_delete(actor=request.auth, currency=currency)
    return Status(204, None)
