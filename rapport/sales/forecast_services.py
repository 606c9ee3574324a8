"""Writes for forecasting: sellers' quotas and the exchange rates amounts convert with."""

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rapport.accounts.models import User
from rapport.core.errors import NotFound, PermissionDenied, ValidationFailed
from rapport.core.events import record_event
from rapport.core.permissions import is_admin, require_admin
from rapport.sales.models import ExchangeRate, Quota
from rapport.sales.services import CURRENCIES

MAX_AMOUNT = Decimal("9999999999999.99")


def _decimal(value, field: str, *, places: str, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(fields={field: ["Enter a number."]}) from None
    if not number.is_finite() or not low <= number <= high:
        raise ValidationFailed(fields={field: [f"Enter a number from {low:f} to {high:f}."]})
    return number.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _month(value) -> datetime.date:
    """A month as YYYY-MM (or any day in it, YYYY-MM-DD)."""
    text = str(value or "").strip()
    try:
        day = datetime.date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError:
        raise ValidationFailed(fields={"month": ["Enter a month as YYYY-MM."]}) from None
    return day.replace(day=1)


def may_set_quota(actor, seller: User) -> bool:
    """Admins set anyone's quota; a manager their own team's."""
    if is_admin(actor):
        return True
    return actor.role == "manager" and actor.team_id is not None and seller.team_id == actor.team_id


@transaction.atomic
def quota_set(*, actor, user_id, month, amount) -> Quota | None:
    """A seller's quota for a month, in the company's currency; an empty amount removes it."""
    seller = User.objects.filter(pk=user_id, is_active=True).first() if str(user_id).isdigit() \
        else None
    if seller is None:
        raise ValidationFailed(fields={"user_id": ["No active user with this id."]})
    if not may_set_quota(actor, seller):
        raise PermissionDenied("Only admins, and managers for their own team, set quotas.")
    start = _month(month)
    before = Quota.objects.filter(user=seller, period_start=start).first()
    if amount in (None, ""):
        if before:
            quota_id = before.pk
            before.delete()
            record_event(type="quota.deleted", object_type="quota", object_id=quota_id,
                         actor=actor, data={"user_id": seller.pk, "month": start.isoformat()})
        return None
    value = _decimal(amount, "amount", places="0.01", low=Decimal(0), high=MAX_AMOUNT)
    quota, created = Quota.objects.update_or_create(
        user=seller, period_start=start,
        defaults={"amount": value, "updated_at": timezone.now(), "updated_by": actor})
    if created or before.amount != value:
        record_event(type="quota.set", object_type="quota", object_id=quota.pk, actor=actor,
                     data={"user_id": seller.pk, "month": start.isoformat(),
                           "amount": str(value), "was": str(before.amount) if before else None})
    return quota


def _currency(value) -> str:
    code = str(value or "").strip().upper()
    if code not in CURRENCIES:
        raise ValidationFailed(fields={"currency": ["Enter an ISO 4217 code such as EUR."]})
    if code == settings.COMPANY_CURRENCY:
        raise ValidationFailed(fields={"currency": [
            f"{code} is the company's own currency: it needs no rate."]})
    return code


@transaction.atomic
def exchange_rate_set(*, actor, currency, rate) -> ExchangeRate:
    """How many units of the company's currency one unit of `currency` is worth."""
    require_admin(actor, "set exchange rates")
    code = _currency(currency)
    value = _decimal(rate, "rate", places="0.00000001", low=Decimal("0.00000001"),
                     high=Decimal("1000000"))
    row, _ = ExchangeRate.objects.update_or_create(
        currency=code, defaults={"rate": value, "updated_at": timezone.now(), "updated_by": actor})
    record_event(type="exchange_rate.set", object_type="exchange_rate", object_id=row.pk,
                 actor=actor, data={"currency": code, "rate": str(value),
                                    "company_currency": settings.COMPANY_CURRENCY})
    return row


@transaction.atomic
def exchange_rate_delete(*, actor, currency) -> None:
    require_admin(actor, "set exchange rates")
    row = ExchangeRate.objects.filter(currency=str(currency or "").upper()).first()
    if row is None:
        raise NotFound()
    rate_id = row.pk
    row.delete()
    record_event(type="exchange_rate.deleted", object_type="exchange_rate", object_id=rate_id,
                 actor=actor, data={"currency": row.currency})


def quotas_for(*, actor, start: str = "", end: str = ""):
    """Quotas of the months from `start` to `end` (inclusive) of the sellers the actor may set."""
    quotas = Quota.objects.select_related("user").order_by("period_start", "user_id")
    if start:
        quotas = quotas.filter(period_start__gte=_month(start))
    if end:
        quotas = quotas.filter(period_start__lte=_month(end))
    if not is_admin(actor):
        if actor.role != "manager" or actor.team_id is None:
            raise PermissionDenied("Only admins, and managers for their own team, see quotas here.")
        quotas = quotas.filter(user__team_id=actor.team_id)
    return quotas[:5000]
