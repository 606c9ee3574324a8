"""The forecast: categories, weighting, historical win rates, quotas and currencies."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.core.errors import BadRequest, PermissionDenied, ValidationFailed
from rapport.sales import forecast_services, forecasting
from rapport.sales.models import Deal, Stage
from rapport.sales.selectors import default_pipeline
from rapport.sales.services import deal_create, deal_move, deal_update

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 23)  # in Q4 2026


def stage(name):
    return Stage.objects.get(pipeline=default_pipeline(), name=name)


def deal(org, name, amount, *, owner=None, currency="USD", close=TODAY, **data):
    owner = owner or org.sales_a1
    return deal_create(actor=owner, data={"name": name, "amount": amount, "currency": currency,
                                          "owner_id": owner.pk,
                                          "expected_close_date": close.isoformat(), **data})


@pytest.fixture
def quarter(org, settings):
    """Seller A1: a won deal, one in each category; B1 (team B): a euro deal and a quota."""
    settings.COMPANY_CURRENCY = "USD"
    won = deal(org, "Won", "5000")
    deal_move(actor=org.sales_a1, deal_id=won.pk, status="won")
    Deal.objects.filter(pk=won.pk).update(won_at=timezone.make_aware(
        datetime.datetime(2026, 10, 15, 12)))
    deal(org, "Commit", "10000", stage_id=stage("Negotiation").pk)  # 75%: commit
    deal(org, "Best case", "4000", stage_id=stage("Proposal").pk)  # 50%: best case
    deal(org, "Pipeline", "2000")  # Qualification, 10%
    forced = deal(org, "Forced", "1000")
    deal_update(actor=org.sales_a1, deal_id=forced.pk, data={"forecast_category": "commit"})
    deal(org, "Next year", "99999", close=datetime.date(2027, 2, 1))
    deal(org, "Euros", "2000", owner=org.sales_b1, currency="EUR",
         stage_id=stage("Negotiation").pk)
    forecast_services.quota_set(actor=org.admin, user_id=org.sales_a1.pk, month="2026-10",
                                amount="4000")
    forecast_services.quota_set(actor=org.admin, user_id=org.sales_a1.pk, month="2026-11",
                                amount="6000")


def row_of(result, label):
    return next(row for team in result.teams for row in team.rows if row.label == label)


def test_each_seller_gets_won_commit_best_case_pipeline_and_weighted(org, quarter):
    result = forecasting.forecast(user=org.admin, params={"period": "quarter"}, today=TODAY)
    assert result.period.label == "Q4 2026"
    a1 = row_of(result, str(org.sales_a1))
    assert a1.won == Decimal("5000.00")
    assert a1.commit == Decimal("11000.00")  # Negotiation + the deal forced to commit
    assert (a1.best_case, a1.pipeline) == (Decimal("4000.00"), Decimal("2000.00"))
    # 10,000 × 75% + 4,000 × 50% + 2,000 × 10% + 1,000 × 10%
    assert a1.weighted == Decimal("9800.00")
    assert a1.quota == Decimal("10000.00") and a1.attainment == pytest.approx(0.5)
    assert result.unconverted == {"EUR": 1}  # no rate for euros yet


def test_an_exchange_rate_brings_other_currencies_in(org, quarter):
    forecast_services.exchange_rate_set(actor=org.admin, currency="eur", rate="1.10")
    result = forecasting.forecast(user=org.admin, params={}, today=TODAY)
    assert result.unconverted == {}
    assert row_of(result, str(org.sales_b1)).commit == Decimal("2200.00")
    assert result.total.commit == Decimal("13200.00")


def test_historical_forecast_uses_each_stages_real_win_rate(org, quarter):
    # Over the past year two deals passed through Proposal: one won, one lost.
    for name, outcome in (("Past win", "won"), ("Past loss", "lost")):
        past = deal(org, name, "100", stage_id=stage("Proposal").pk)
        if outcome == "won":
            deal_move(actor=org.sales_a1, deal_id=past.pk, status="won")
        else:
            from rapport.sales.models import LostReason
            deal_move(actor=org.sales_a1, deal_id=past.pk, status="lost",
                      lost_reason_id=LostReason.objects.first().pk)
    rates = forecasting.stage_win_rates(today=TODAY)
    assert rates[stage("Proposal").pk] == pytest.approx(0.5)
    a1 = row_of(forecasting.forecast(user=org.admin, params={}, today=TODAY), str(org.sales_a1))
    assert rates[stage("Qualification").pk] == pytest.approx(1.0)  # only "Won" started there
    assert stage("Negotiation").pk not in rates  # no closed deal passed through it
    # 4,000 in Proposal × 50% + 3,000 in Qualification × 100% + 10,000 in Negotiation × 0
    assert a1.historical == Decimal("5000.00")


def test_a_seller_sees_their_own_row_a_manager_their_team(org, quarter):
    mine = forecasting.forecast(user=org.sales_a1, params={}, today=TODAY)
    assert [r.label for t in mine.teams for r in t.rows] == [str(org.sales_a1)]
    team_a = forecasting.forecast(user=org.manager_a, params={}, today=TODAY)
    assert str(org.sales_b1) not in [r.label for t in team_a.teams for r in t.rows]
    assert str(org.sales_a1) in [r.label for t in team_a.teams for r in t.rows]


def test_months_and_bad_periods(org, quarter):
    november = forecasting.forecast(user=org.admin, params={"period": "month",
                                                            "start": "2026-11-05"}, today=TODAY)
    assert november.period.label == "November 2026"
    assert row_of(november, str(org.sales_a1)).won == 0  # won in October
    assert row_of(november, str(org.sales_a1)).quota == Decimal("6000.00")
    for params, field in (({"period": "week"}, "period"), ({"start": "soon"}, "start")):
        with pytest.raises(BadRequest) as refused:
            forecasting.forecast(user=org.admin, params=params)
        assert field in refused.value.fields


def test_who_may_set_quotas_and_rates(org):
    forecast_services.quota_set(actor=org.manager_a, user_id=org.sales_a1.pk, month="2026-12",
                                amount="1000")
    assert forecast_services.quota_set(actor=org.manager_a, user_id=org.sales_a1.pk,
                                       month="2026-12", amount="") is None  # removed
    from rapport.core.models import Event
    assert Event.objects.filter(type="quota.deleted").count() == 1
    with pytest.raises(PermissionDenied):
        forecast_services.quota_set(actor=org.manager_a, user_id=org.sales_b1.pk,
                                    month="2026-12", amount="1000")
    with pytest.raises(PermissionDenied):
        forecast_services.quota_set(actor=org.sales_a1, user_id=org.sales_a1.pk,
                                    month="2026-12", amount="1")
    with pytest.raises(ValidationFailed) as bad:
        forecast_services.quota_set(actor=org.admin, user_id=org.sales_a1.pk, month="December",
                                    amount="-5")
    assert "month" in bad.value.fields
    with pytest.raises(PermissionDenied):
        forecast_services.exchange_rate_set(actor=org.manager_a, currency="EUR", rate="1.1")
    for currency, rate, field in (("EURO", "1", "currency"), ("EUR", "0", "rate"),
                                  ("USD", "1", "currency"), ("EUR", "lots", "rate")):
        with pytest.raises(ValidationFailed) as refused:
            forecast_services.exchange_rate_set(actor=org.admin, currency=currency, rate=rate)
        assert field in refused.value.fields


def test_forecast_quota_and_currency_pages(client, org, quarter, django_assert_max_num_queries):
    client.force_login(org.admin)
    with django_assert_max_num_queries(20):
        page = client.get(reverse("sales:forecast"), {"start": "2026-11-01"})
    body = page.content.decode()
    assert page.status_code == 200 and "Forecast: Q4 2026" in body and "50%" in body
    assert "1 deal in EUR" in body

    grid = client.get(reverse("sales:quotas"), {"start": "2026-10-01"})
    assert grid.status_code == 200 and 'value="4000.00"' in grid.content.decode()
    saved = client.post(f"{reverse('sales:quotas')}?start=2026-10-01",
                        {f"q-{org.sales_b1.pk}-2026-12": "7500", f"q-{org.sales_a1.pk}-2026-12": "x"})
    assert saved.status_code == 200 and "Enter a number" in saved.content.decode()
    client.post(f"{reverse('sales:quotas')}?start=2026-10-01", {f"q-{org.sales_b1.pk}-2026-12": "7500"})
    b1 = forecasting.forecast(user=org.admin, params={"start": "2026-12-01"}, today=TODAY)
    assert row_of(b1, str(org.sales_b1)).quota == Decimal("7500.00")

    client.post(reverse("currencies:save"), {"currency": "EUR", "rate": "1.25"})
    assert "1.25 USD" in client.get(reverse("currencies:list")).content.decode()
    client.force_login(org.sales_a1)
    assert client.get(reverse("sales:quotas")).status_code == 404


def test_forecast_and_rates_over_the_api(org, quarter, api):
    body = api().get("/forecast?start=2026-11-01").json()
    assert body["label"] == "Q4 2026" and body["currency"] == "USD"
    assert body["unconverted"] == {"EUR": 1}
    put = api().put("/exchange-rates/EUR", {"rate": "1.1"})
    assert put.status_code == 200 and put.json()["rate"] == "1.10000000"
    assert api(org.sales_a1).put("/exchange-rates/EUR", {"rate": "2"}).status_code == 403
    quota = api().put("/quotas", {"user_id": org.sales_a1.pk, "month": "2027-01", "amount": "900"})
    assert quota.status_code == 200 and quota.json()["amount"] == "900.00"
    assert api(org.sales_a1).get("/quotas").status_code == 403
