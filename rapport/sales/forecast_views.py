"""The forecast page, quotas, and Settings → Currencies."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts.models import User
from rapport.core.errors import BadRequest, RapportError
from rapport.core.permissions import is_admin
from rapport.sales import forecast_services, forecasting
from rapport.sales.models import ExchangeRate, Quota


def forecast_page(request):
    errors = {}
    try:
        result = forecasting.forecast(user=request.user, params=request.GET)
    except BadRequest as exc:
        errors = exc.fields
        result = forecasting.forecast(user=request.user, params={})
    period = result.period
    return render(request, "sales/insights/forecast.html", {
        "forecast": result, "errors": errors, "period": period,
        "previous": period.shifted(-1), "next": period.shifted(1),
        "may_set_quotas": is_admin(request.user) or request.user.role == "manager",
    })


def _quota_sellers(actor):
    sellers = User.objects.filter(is_active=True).select_related("team").order_by("full_name", "id")
    return [u for u in sellers if forecast_services.may_set_quota(actor, u)]


def quotas_page(request):
    """A quarter's quotas, a row per seller the user may set, a column per month."""
    sellers = _quota_sellers(request.user)
    if not sellers:
        raise Http404("Only admins, and managers for their team, set quotas.")
    try:
        quarter = forecasting.parse_period({"period": "quarter",
                                            "start": request.GET.get("start", "")})
    except BadRequest:
        quarter = forecasting.parse_period({"period": "quarter"})
    months = [quarter.start] + [forecasting.period_starting("month", quarter.start).shifted(n).start
                                for n in (1, 2)]
    errors: dict[str, str] = {}
    if request.method == "POST":
        for seller in sellers:
            for month in months:
                name = f"q-{seller.pk}-{month:%Y-%m}"
                if name not in request.POST:
                    continue
                try:
                    forecast_services.quota_set(actor=request.user, user_id=seller.pk,
                                                month=month, amount=request.POST[name].strip())
                except RapportError as exc:
                    errors[name] = " ".join(m for ms in exc.fields.values() for m in ms) \
                        or exc.message
        if not errors:
            messages.success(request, f"Quotas for {quarter.label} saved.")
            return redirect(f"{reverse('sales:quotas')}?start={quarter.start.isoformat()}")
    saved = {(q.user_id, q.period_start): q.amount for q in
             Quota.objects.filter(user__in=sellers, period_start__in=months)}
    rows = [{"seller": seller, "cells": [
        {"name": f"q-{seller.pk}-{month:%Y-%m}", "month": month,
         "value": request.POST.get(f"q-{seller.pk}-{month:%Y-%m}")
         if request.method == "POST" else saved.get((seller.pk, month), ""),
         "error": errors.get(f"q-{seller.pk}-{month:%Y-%m}")} for month in months]}
        for seller in sellers]
    return render(request, "sales/insights/quotas.html", {
        "quarter": quarter, "months": months, "rows": rows, "errors": errors,
        "previous": quarter.shifted(-1), "next": quarter.shifted(1),
        "currency": settings.COMPANY_CURRENCY,
    })


def currencies(request):
    return render(request, "sales/insights/currencies.html", {
        "company_currency": settings.COMPANY_CURRENCY,
        "rates": ExchangeRate.objects.select_related("updated_by").order_by("currency"),
        "can_edit": is_admin(request.user), "settings_section": "currencies",
        "values": request.POST if request.method == "POST" else {},
    })


@require_POST
def currency_save(request):
    try:
        rate = forecast_services.exchange_rate_set(actor=request.user,
                                                   currency=request.POST.get("currency"),
                                                   rate=request.POST.get("rate"))
        messages.success(request, f"1 {rate.currency} = {rate.rate.normalize():f} "
                                  f"{settings.COMPANY_CURRENCY} saved.")
    except RapportError as exc:
        messages.error(request, " ".join(f"{field}: {' '.join(problems)}" for field, problems
                                         in exc.fields.items()) or exc.message)
    return redirect("currencies:list")


@require_POST
def currency_delete(request, currency: str):
    try:
        forecast_services.exchange_rate_delete(actor=request.user, currency=currency)
        messages.success(request, f"The {currency.upper()} rate was removed: deals in "
                                  f"{currency.upper()} leave the forecast until it is set again.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect("currencies:list")
