"""The sales home's figures and a seller's own pipeline on the home page."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.core.errors import BadRequest
from rapport.sales import analytics
from rapport.sales.models import Deal, LostReason, Stage
from rapport.sales.selectors import default_pipeline
from rapport.sales.services import deal_create, deal_move

pytestmark = pytest.mark.django_db


def stage(name):
    return Stage.objects.get(pipeline=default_pipeline(), name=name)


def deal(org, name, amount, *, owner=None, currency="EUR", **data):
    owner = owner or org.sales_a1
    return deal_create(actor=owner, data={"name": name, "amount": amount, "currency": currency,
                                          "owner_id": owner.pk, **data})


def age(deal_obj, *, days: int):
    """As if created `days` ago (and won, if it is, today)."""
    Deal.objects.filter(pk=deal_obj.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=days))


@pytest.fixture
def history(org):
    """Four won, two lost (a price, a timing), three open: all in EUR, one in USD."""
    too_dear = LostReason.objects.get(name="Price")
    won = [deal(org, f"Won {i}", amount) for i, amount in enumerate(["1000", "2000", "3000", "6000"])]
    for item, days in zip(won, [10, 20, 30, 40], strict=True):
        deal_move(actor=org.sales_a1, deal_id=item.pk, stage_id=stage("Proposal").pk)
        deal_move(actor=org.sales_a1, deal_id=item.pk, status="won")
        age(item, days=days)
    for name in ("Lost A", "Lost B"):
        lost = deal(org, name, "500")
        deal_move(actor=org.sales_a1, deal_id=lost.pk, status="lost", lost_reason_id=too_dear.pk)
    open_deals = [deal(org, "Open 1", "10000"),
                  deal(org, "Open 2", "4000", stage_id=stage("Negotiation").pk),
                  deal(org, "Theirs", "8000", owner=org.sales_b1)]
    deal(org, "Dollars", "99999", currency="USD")
    return won, open_deals


def test_the_figures_a_manager_asks_for(org, history):
    figures = analytics.overview(user=org.admin, params={"period": "90d"})
    assert figures.currency == "EUR" and figures.other_currency_deals == 1
    assert (figures.won, figures.lost) == (4, 2)
    assert figures.win_rate == pytest.approx(4 / 6)
    assert figures.won_amount == Decimal("12000.00")
    assert figures.average_deal == Decimal("3000.00")
    assert figures.cycle_days == pytest.approx(25, abs=0.1)  # 10, 20, 30 and 40 days
    assert (figures.open_count, figures.open_amount) == (3, Decimal("22000.00"))
    # 3 open × 2/3 × 3,000 ÷ 25 days × 30
    assert figures.velocity_per_month == Decimal("7200.00")
    assert [s.reason for s in figures.lost_reasons] == ["Price"]
    assert figures.lost_reasons[0].count == 2 and figures.lost_reasons[0].amount == Decimal("1000.00")
    by_stage = {bar.name: bar for bar in figures.stages}
    assert by_stage["Qualification"].count == 2 and by_stage["Negotiation"].count == 1
    assert by_stage["Negotiation"].weighted_amount == Decimal("3000.00")  # 4,000 × 75%


def test_the_funnel_counts_how_far_each_new_deal_got(org, history):
    funnel = {step.name: step for step in analytics.overview(user=org.admin, params={}).funnel}
    # Nine EUR deals created: all got at least as far as Qualification; the four won got
    # through every stage, and the one created in Negotiation at least as far as Proposal.
    assert funnel["Qualification"].reached == 9
    assert funnel["Proposal"].reached == funnel["Negotiation"].reached == 5
    assert funnel["Proposal"].conversion == pytest.approx(1.0)
    assert funnel["Won"].reached == 4 and funnel["Won"].share_of_first == pytest.approx(4 / 9)
    assert funnel["Won"].conversion == pytest.approx(4 / 5)


def test_a_seller_sees_only_their_scope_and_bad_parameters_are_named(org, history):
    theirs = analytics.overview(user=org.sales_b1, params={})
    assert theirs.open_count == 1 and theirs.won == 0
    usd = analytics.overview(user=org.admin, params={"currency": "USD"})
    assert usd.open_amount == Decimal("99999.00") and usd.other_currency_deals == 9
    for params, field in (({"period": "5y"}, "period"), ({"currency": "XYZ"}, "currency"),
                          ({"pipeline_id": "99999"}, "pipeline_id"), ({"owner_id": "me"}, "owner_id")):
        with pytest.raises(BadRequest) as refused:
            analytics.overview(user=org.admin, params=params)
        assert field in refused.value.fields


def test_the_sales_home_page_draws_its_charts_and_survives_bad_input(client, org, history,
                                                                     django_assert_max_num_queries):
    client.force_login(org.admin)
    with django_assert_max_num_queries(25):
        page = client.get(reverse("sales:overview"))
    body = page.content.decode()
    assert page.status_code == 200
    for chart in ("stage-chart-data", "funnel-chart-data", "lost-chart-data"):
        assert f'id="{chart}"' in body
    assert "67%" in body and "Win rate (4 won, 2 lost)" in body
    bad = client.get(reverse("sales:overview"), {"period": "forever"})
    assert bad.status_code == 200 and "Choose one of" in bad.content.decode()


def test_the_sales_home_explains_itself_before_any_deal(client, org):
    client.force_login(org.sales_a1)
    page = client.get(reverse("sales:overview"))
    assert page.status_code == 200 and "No deals to measure yet" in page.content.decode()


def test_my_pipeline_on_the_home_page(client, org):
    today = timezone.localdate()
    closing = deal(org, "Closes soon", "1200", expected_close_date=today.isoformat())
    idle = deal(org, "Gone quiet", "800", stage_id=stage("Proposal").pk)
    Stage.objects.filter(pk=stage("Proposal").pk).update(rotting_days=7)
    Deal.objects.filter(pk=idle.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=10))
    deal(org, "Someone else's", "500", owner=org.sales_b1, expected_close_date=today.isoformat())

    mine = analytics.my_pipeline(user=org.sales_a1)
    assert [d.name for d in mine.closing_this_month] == [closing.name]
    assert [d.name for d in mine.stale] == [idle.name] and mine.open_count == 2

    client.force_login(org.sales_a1)
    body = client.get(reverse("home")).content.decode()
    assert "My pipeline" in body and "Closes soon" in body and "Gone quiet" in body
    assert "Someone else" not in body
