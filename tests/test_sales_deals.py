"""Pipelines and deals: the services and selectors behind the board, the list and the API."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from rapport.contacts.merging import merge_records
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, VersionConflict
from rapport.core.listing import params
from rapport.core.models import CustomFieldDefinition, Event
from rapport.sales import selectors, services
from rapport.sales.models import Deal, DealContact, LostReason, Pipeline, Stage, StageHistory


@pytest.fixture
def pipeline(db):
    return Pipeline.objects.get(is_default=True)


@pytest.fixture
def stages(pipeline):
    """The default pipeline's stages by name."""
    return {s.name: s for s in Stage.objects.filter(pipeline=pipeline)}


@pytest.fixture
def reason(db):
    return LostReason.objects.get(name="Price")


def deal(actor, **data):
    return services.deal_create(actor=actor, data={"name": "Deal", "amount": "1000", **data})


def types(deal_):
    return list(Event.objects.filter(object_type="deal", object_id=deal_.pk)
                .order_by("id").values_list("type", flat=True))


class Clock:
    """timezone.now() at a chosen moment, moved on by hand."""

    def __init__(self, monkeypatch):
        self.now = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **delta):
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


# The default pipeline ---------------------------------------------------------------------

def test_a_new_database_has_the_default_pipeline_stages_and_lost_reasons(pipeline):
    shape = list(Stage.objects.filter(pipeline=pipeline).order_by("position")
                 .values_list("name", "probability", "kind"))
    assert shape == [("Qualification", 10, "open"), ("Meeting", 25, "open"),
                     ("Proposal", 50, "open"), ("Negotiation", 75, "open"),
                     ("Won", 100, "won"), ("Lost", 0, "lost")]
    assert pipeline.name == "Sales pipeline"
    assert LostReason.objects.filter(active=True).count() == len(services.DEFAULT_LOST_REASONS)


def test_ensuring_the_defaults_again_changes_nothing(pipeline):
    LostReason.objects.update(active=False)
    services.ensure_defaults()
    services.ensure_defaults()
    assert Pipeline.objects.count() == 1 and Stage.objects.count() == 6
    assert not LostReason.objects.filter(active=True).exists()


def test_the_defaults_come_back_on_an_empty_database(db):
    Stage.objects.all().delete()
    Pipeline.objects.all().delete()
    LostReason.objects.all().delete()
    services.ensure_defaults()
    assert Pipeline.objects.get().is_default
    assert Stage.objects.count() == 6 and LostReason.objects.count() == 7


# Creating and editing deals ---------------------------------------------------------------

def test_a_deal_starts_in_the_first_stage_of_the_default_pipeline(org, stages):
    created = deal(org.sales_a1, amount="1250.50", currency="eur", tags=["Big"])
    assert created.stage == stages["Qualification"] and created.pipeline_id == stages["Won"].pipeline_id
    assert created.status == "open" and created.owner == org.sales_a1
    assert created.amount == Decimal("1250.50") and created.currency == "EUR"
    assert created.effective_probability == 10
    assert created.weighted_amount == Decimal("125.05")
    assert created.version == 1
    history = StageHistory.objects.get(deal=created)
    assert (history.stage, history.left_at, history.user) == (stages["Qualification"], None, org.sales_a1)
    event = Event.objects.get(type="deal.created", object_id=created.pk)
    assert event.data["values"]["name"] == "Deal" and event.data["values"]["tags"] == ["Big"]


def test_a_probability_overrides_the_stage_until_reset(org, stages):
    created = deal(org.sales_a1, probability=40)
    assert created.effective_probability == 40
    updated = services.deal_update(actor=org.sales_a1, deal_id=created.pk, data={"probability": None})
    assert updated.probability is None and updated.effective_probability == 10


@pytest.mark.parametrize(("data", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"amount": "-5"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "lots"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "10000000000000"}, "amount"),
    ({"amount": True}, "amount"),
    ({"currency": "EURO"}, "currency"),
    ({"currency": "XXX"}, "currency"),
    ({"probability": 101}, "probability"),
    ({"probability": 12.5}, "probability"),
    ({"expected_close_date": "2026-02-30"}, "expected_close_date"),
    ({"stage_id": 999_999}, "stage_id"),
    ({"pipeline_id": 999_999}, "pipeline_id"),
    ({"company_id": 999_999}, "company_id"),
    ({"owner_id": 999_999}, "owner_id"),
    ({"lost_reason_id": 999_999}, "lost_reason_id"),
    ({"custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ({"tags": ["<>"]}, "tags"),
    ({"colour": "red"}, "colour"),
])
def test_bad_values_are_refused_naming_the_field_and_write_nothing(org, data, field):
    with pytest.raises(ValidationFailed) as refused:
        deal(org.sales_a1, **data)
    assert field in refused.value.fields
    assert not Deal.all_objects.exists()
    assert not StageHistory.objects.exists()
    assert not Event.objects.filter(object_type="deal").exists()


def test_every_bad_field_is_named_at_once(org):
    with pytest.raises(ValidationFailed) as refused:
        services.deal_create(actor=org.admin, data={"amount": "-1", "currency": "??",
                                                    "probability": 200})
    assert set(refused.value.fields) == {"name", "amount", "currency", "probability"}


def test_a_stage_must_belong_to_the_pipeline_sent_with_it(org, stages):
    other = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    with pytest.raises(ValidationFailed) as refused:
        deal(org.admin, pipeline_id=other.pk, stage_id=stages["Meeting"].pk)
    assert refused.value.fields == {"stage_id": ["Choose a stage of the pipeline in pipeline_id."]}


def test_a_company_the_seller_cannot_see_is_no_such_company(org):
    theirs = company_create(actor=org.admin, data={"name": "Elsewhere", "owner_id": org.sales_b1.pk})
    with pytest.raises(ValidationFailed) as refused:
        deal(org.sales_a1, company_id=theirs.pk)
    assert refused.value.fields == {"company_id": ["No such company."]}
    assert deal(org.sales_b1, company_id=theirs.pk).company == theirs


def test_custom_fields_on_deals_are_validated(org):
    CustomFieldDefinition.objects.create(object_type="deal", key="source", label="Source",
                                         type="select", options=["inbound", "outbound"])
    created = deal(org.admin, custom_fields={"source": "inbound"})
    assert created.custom_fields == {"source": "inbound"}
    with pytest.raises(ValidationFailed) as refused:
        services.deal_update(actor=org.admin, deal_id=created.pk, data={"custom_fields": {"source": "x"}})
    assert "custom_fields.source" in refused.value.fields


def test_an_update_records_what_changed(org):
    created = deal(org.sales_a1, next_step="Call")
    services.deal_update(actor=org.sales_a1, deal_id=created.pk,
                         data={"amount": "2000", "next_step": "Send the proposal"})
    event = Event.objects.get(type="deal.updated", object_id=created.pk)
    assert event.data["changes"] == {"amount": ["1000.00", "2000.00"],
                                     "next_step": ["Call", "Send the proposal"]}
    assert Deal.objects.get(pk=created.pk).version == 2


def test_a_stale_version_is_refused_and_changes_nothing(org):
    created = deal(org.sales_a1)
    services.deal_update(actor=org.sales_a1, deal_id=created.pk, data={"name": "A"}, expected_version=1)
    with pytest.raises(VersionConflict):
        services.deal_update(actor=org.sales_a1, deal_id=created.pk, data={"name": "B"},
                             expected_version=1)
    assert Deal.objects.get(pk=created.pk).name == "A"


def test_trash_and_restore(org):
    created = deal(org.sales_a1)
    services.deal_delete(actor=org.sales_a1, deal_id=created.pk)
    assert selectors.deal_get(user=org.sales_a1, deal_id=created.pk) is None
    assert list(selectors.trash_list(user=org.sales_a1)) == [created]
    services.deal_restore(actor=org.sales_a1, deal_id=created.pk)
    assert selectors.deal_get(user=org.sales_a1, deal_id=created.pk) is not None
    assert types(created) == ["deal.created", "deal.deleted", "deal.restored"]


# Scopes -----------------------------------------------------------------------------------

@pytest.fixture
def owned(org):
    """One deal owned by each seller and one by the marketer, created by the admin."""
    return {key: deal(org.admin, name=key, owner_id=getattr(org, key).pk)
            for key in ("sales_a1", "sales_a2", "sales_b1", "marketing")}


@pytest.mark.parametrize(("who", "sees"), [
    ("admin", {"sales_a1", "sales_a2", "sales_b1", "marketing"}),
    ("manager_a", {"sales_a1", "sales_a2"}),
    ("sales_a1", {"sales_a1"}),
    ("sales_b1", {"sales_b1"}),
    ("marketing", {"marketing"}),  # team scope, but in no team: their own
])
def test_each_role_sees_its_scope_of_deals(org, owned, pipeline, who, sees):
    user = getattr(org, who)
    expected = {owned[k].pk for k in sees}
    assert {d.pk for d in selectors.deal_list(user=user, params=params()).items} == expected
    board = selectors.board(user=user, pipeline=pipeline, params=params())
    assert {d.pk for c in board.columns for d in c.deals} == expected
    assert sum(c.count for c in board.columns) == len(expected)
    for key, d in owned.items():
        assert (selectors.deal_detail(user=user, deal_id=d.pk) is not None) == (key in sees)


def test_a_seller_cannot_touch_another_sellers_deal(org, owned, stages, reason):
    theirs = owned["sales_b1"]
    for attempt in (
        lambda: services.deal_update(actor=org.sales_a1, deal_id=theirs.pk, data={"name": "Mine"}),
        lambda: services.deal_move(actor=org.sales_a1, deal_id=theirs.pk, stage_id=stages["Won"].pk),
        lambda: services.deal_delete(actor=org.sales_a1, deal_id=theirs.pk),
        lambda: services.deal_restore(actor=org.sales_a1, deal_id=theirs.pk),
        lambda: services.deal_contact_add(actor=org.sales_a1, deal_id=theirs.pk, contact_id=1),
    ):
        with pytest.raises(NotFound):
            attempt()
    theirs.refresh_from_db()
    assert (theirs.name, theirs.status, theirs.version, theirs.deleted_at) == ("sales_b1", "open", 1, None)


def test_support_sees_no_deals_it_does_not_own(org, owned):
    from rapport.accounts.services import user_create

    support = user_create(actor=org.admin, email="help@acme.example", full_name="Hal Help",
                          role="support", team_id=org.team_a.pk, password="correct-Horse-battery-9")
    assert not selectors.deal_visible(user=support).exists()


# Moving through the stages ----------------------------------------------------------------

def test_moves_record_history_and_time_in_stage(org, stages, clock):
    created = deal(org.sales_a1)
    clock.advance(days=2)
    services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Meeting"].pk,
                       expected_version=1)
    clock.advance(hours=5)
    services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Proposal"].pk,
                       expected_version=2)
    clock.advance(hours=1)
    services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Meeting"].pk)
    clock.advance(minutes=30)

    detail = selectors.deal_detail(user=org.sales_a1, deal_id=created.pk)
    assert [(s.stage_name, s.seconds) for s in detail.history] == [
        ("Qualification", 2 * 86400), ("Meeting", 5 * 3600), ("Proposal", 3600), ("Meeting", 1800)]
    assert detail.history[-1].left_at is None and all(s.left_at for s in detail.history[:-1])
    assert {t["stage_id"]: t["seconds"] for t in detail.time_in_stages} == {
        stages["Qualification"].pk: 2 * 86400, stages["Meeting"].pk: 5 * 3600 + 1800,
        stages["Proposal"].pk: 3600}
    assert detail.seconds_in_stage == 1800
    assert detail.stage_entered_at == clock.now - datetime.timedelta(minutes=30)
    moved = Event.objects.filter(type="deal.stage_changed", object_id=created.pk).order_by("id").first()
    assert moved.data == {"from_stage_id": stages["Qualification"].pk, "to_stage_id": stages["Meeting"].pk,
                          "from_pipeline_id": stages["Meeting"].pipeline_id,
                          "to_pipeline_id": stages["Meeting"].pipeline_id,
                          "from_status": "open", "to_status": "open", "seconds_in_stage": 2 * 86400}
    assert types(created) == ["deal.created"] + ["deal.updated", "deal.stage_changed"] * 3


def test_moving_to_the_same_stage_changes_nothing(org, stages):
    created = deal(org.sales_a1)
    services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Qualification"].pk)
    assert Deal.objects.get(pk=created.pk).version == 1
    assert StageHistory.objects.filter(deal=created).count() == 1
    assert types(created) == ["deal.created"]


def test_winning_closes_the_deal(org, stages, clock):
    created = deal(org.sales_a1, probability=30)
    clock.advance(days=1)
    won = services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Won"].pk)
    assert won.status == "won" and won.won_at == won.closed_at == clock.now and won.lost_at is None
    assert won.effective_probability == 100 and won.weighted_amount == Decimal("1000.00")
    assert types(created) == ["deal.created", "deal.updated", "deal.stage_changed", "deal.won"]
    event = Event.objects.get(type="deal.won", object_id=created.pk)
    assert event.data == {"amount": "1000.00", "currency": "USD", "stage_id": stages["Won"].pk,
                          "pipeline_id": stages["Won"].pipeline_id}
    assert event.actor == org.sales_a1


def test_losing_without_a_reason_is_refused_naming_the_field(org, stages):
    created = deal(org.sales_a1)
    with pytest.raises(ValidationFailed) as refused:
        services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Lost"].pk)
    assert refused.value.fields == {"lost_reason_id": ["Choose why the deal was lost."]}
    with pytest.raises(ValidationFailed) as refused:
        services.deal_move(actor=org.sales_a1, deal_id=created.pk, status="lost")
    assert "lost_reason_id" in refused.value.fields
    created.refresh_from_db()
    assert (created.status, created.stage, created.version) == ("open", stages["Qualification"], 1)
    assert StageHistory.objects.filter(deal=created).count() == 1
    assert types(created) == ["deal.created"]


def test_losing_with_a_reason(org, stages, reason, clock):
    created = deal(org.sales_a1)
    lost = services.deal_move(actor=org.sales_a1, deal_id=created.pk, status="lost",
                              lost_reason_id=reason.pk, lost_note="Went with the cheaper one")
    assert lost.stage == stages["Lost"] and lost.status == "lost"
    assert lost.lost_reason == reason and lost.lost_at == lost.closed_at == clock.now
    assert lost.effective_probability == 0 and lost.weighted_amount == 0
    event = Event.objects.get(type="deal.lost", object_id=created.pk)
    assert event.data["lost_reason"] == "Price" and event.data["lost_note"] == "Went with the cheaper one"
    assert types(created)[-3:] == ["deal.updated", "deal.stage_changed", "deal.lost"]


def test_a_lost_reason_belongs_to_lost_deals_only(org, reason):
    created = deal(org.sales_a1)
    with pytest.raises(ValidationFailed) as refused:
        services.deal_move(actor=org.sales_a1, deal_id=created.pk, status="won",
                           lost_reason_id=reason.pk, lost_note="?")
    assert set(refused.value.fields) == {"lost_reason_id", "lost_note"}


def test_an_inactive_reason_cannot_be_chosen(org, reason):
    LostReason.objects.filter(pk=reason.pk).update(active=False)
    with pytest.raises(ValidationFailed) as refused:
        services.deal_move(actor=org.admin, deal_id=deal(org.admin).pk, status="lost",
                           lost_reason_id=reason.pk)
    assert refused.value.fields == {"lost_reason_id": ["No such lost reason."]}


def test_without_any_reasons_set_up_a_lost_deal_needs_none(org):
    LostReason.objects.update(active=False)
    lost = services.deal_move(actor=org.admin, deal_id=deal(org.admin).pk, status="lost")
    assert lost.status == "lost" and lost.lost_reason is None


def test_a_deal_created_lost_needs_its_reason_too(org, stages, reason):
    with pytest.raises(ValidationFailed) as refused:
        deal(org.admin, stage_id=stages["Lost"].pk)
    assert "lost_reason_id" in refused.value.fields
    created = deal(org.admin, stage_id=stages["Lost"].pk, lost_reason_id=reason.pk)
    assert created.status == "lost" and created.lost_at is not None
    assert types(created) == ["deal.created", "deal.lost"]


def test_reopening_goes_back_to_the_last_open_stage_and_clears_the_loss(org, stages, reason):
    created = deal(org.sales_a1, stage_id=stages["Proposal"].pk)
    services.deal_move(actor=org.sales_a1, deal_id=created.pk, status="lost", lost_reason_id=reason.pk)
    reopened = services.deal_move(actor=org.sales_a1, deal_id=created.pk, status="open")
    assert reopened.stage == stages["Proposal"] and reopened.status == "open"
    assert (reopened.lost_reason, reopened.lost_at, reopened.closed_at, reopened.lost_note) == (
        None, None, None, "")
    assert Event.objects.filter(type="deal.stage_changed", object_id=created.pk).last().data[
        "to_status"] == "open"


def test_a_lost_deal_can_change_its_reason_without_moving(org, reason):
    other = LostReason.objects.get(name="Timing")
    created = deal(org.admin)
    services.deal_move(actor=org.admin, deal_id=created.pk, status="lost", lost_reason_id=reason.pk)
    services.deal_update(actor=org.admin, deal_id=created.pk, data={"lost_reason_id": other.pk})
    assert Deal.objects.get(pk=created.pk).lost_reason == other
    with pytest.raises(ValidationFailed):
        services.deal_update(actor=org.admin, deal_id=created.pk, data={"lost_reason_id": None})
    services.deal_update(actor=org.admin, deal_id=created.pk, data={"name": "Still lost"})


def test_two_moves_from_the_same_version_the_second_is_refused(org, stages):
    created = deal(org.sales_a1)
    services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Meeting"].pk,
                       expected_version=1)
    with pytest.raises(VersionConflict):
        services.deal_move(actor=org.sales_a1, deal_id=created.pk, stage_id=stages["Proposal"].pk,
                           expected_version=1)
    created.refresh_from_db()
    assert created.stage == stages["Meeting"] and created.version == 2
    assert StageHistory.objects.filter(deal=created).count() == 2


def test_a_patch_with_a_stage_is_a_move(org, stages):
    created = deal(org.sales_a1)
    services.deal_update(actor=org.sales_a1, deal_id=created.pk,
                         data={"stage_id": stages["Won"].pk, "amount": "1500"})
    assert types(created)[-3:] == ["deal.updated", "deal.stage_changed", "deal.won"]
    assert StageHistory.objects.filter(deal=created).count() == 2


def test_moving_to_another_pipeline(org, stages):
    renewals = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    created = deal(org.sales_a1, stage_id=stages["Proposal"].pk)
    moved = services.deal_update(actor=org.sales_a1, deal_id=created.pk,
                                 data={"pipeline_id": renewals.pk})
    first = Stage.objects.get(pipeline=renewals, name="Qualification")
    assert (moved.pipeline_id, moved.stage) == (renewals.pk, first)
    event = Event.objects.get(type="deal.stage_changed", object_id=created.pk)
    assert (event.data["from_pipeline_id"], event.data["to_pipeline_id"]) == (
        stages["Proposal"].pipeline_id, renewals.pk)


# Staleness --------------------------------------------------------------------------------

def test_an_open_deal_idle_past_the_rotting_days_is_stale(org, stages, clock):
    Stage.objects.filter(pk=stages["Meeting"].pk).update(rotting_days=7)
    created = deal(org.sales_a1, stage_id=stages["Meeting"].pk)
    clock.advance(days=7)
    assert not selectors.deal_detail(user=org.sales_a1, deal_id=created.pk).stale
    clock.advance(minutes=1)
    assert selectors.deal_detail(user=org.sales_a1, deal_id=created.pk).stale
    assert [d.pk for d in selectors.deal_list(user=org.sales_a1, params=params(stale="true")).items] == [
        created.pk]
    assert not selectors.deal_list(user=org.sales_a1, params=params(stale="false")).items

    services.deal_touch(deal_ids=[created.pk], at=clock.now)  # a call logged on it
    assert not selectors.deal_detail(user=org.sales_a1, deal_id=created.pk).stale
    assert not selectors.deal_list(user=org.sales_a1, params=params(stale="true")).items


def test_a_stage_without_rotting_days_never_makes_a_deal_stale(org, clock):
    created = deal(org.sales_a1)
    clock.advance(days=400)
    assert not selectors.deal_detail(user=org.sales_a1, deal_id=created.pk).stale


def test_closed_deals_are_never_stale(org, stages, clock):
    Stage.objects.filter(pipeline=stages["Won"].pipeline).update(rotting_days=1)
    created = deal(org.sales_a1, stage_id=stages["Won"].pk)
    clock.advance(days=3)
    assert not selectors.deal_detail(user=org.sales_a1, deal_id=created.pk).stale


# The board --------------------------------------------------------------------------------

def test_board_totals_and_weighted_totals_per_stage_and_currency(org, pipeline, stages, reason):
    deal(org.admin, amount="1000.00")                                   # Qualification 10 %
    deal(org.admin, amount="2500.50")                                   # Qualification 10 %
    deal(org.admin, amount="400", probability=50)                       # overridden: 50 %
    deal(org.admin, amount="300", currency="EUR")                       # Qualification, in euros
    deal(org.admin, amount="800", stage_id=stages["Negotiation"].pk)    # 75 %
    deal(org.admin, amount="5000", stage_id=stages["Won"].pk)           # 100 %
    deal(org.admin, amount="999", stage_id=stages["Lost"].pk, lost_reason_id=reason.pk)
    gone = deal(org.admin, amount="7777")
    services.deal_delete(actor=org.admin, deal_id=gone.pk)

    board = selectors.board(user=org.admin, pipeline=pipeline, params=params())
    columns = {c.stage.name: c for c in board.columns}
    assert list(columns) == ["Qualification", "Meeting", "Proposal", "Negotiation", "Won", "Lost"]
    assert columns["Qualification"].count == 4
    assert columns["Qualification"].totals == [
        {"currency": "USD", "amount": Decimal("3900.50"), "weighted_amount": Decimal("550.05")},
        {"currency": "EUR", "amount": Decimal("300.00"), "weighted_amount": Decimal("30.00")},
    ]
    assert columns["Meeting"].count == 0 and columns["Meeting"].totals == []
    assert columns["Negotiation"].totals == [
        {"currency": "USD", "amount": Decimal("800.00"), "weighted_amount": Decimal("600.00")}]
    assert columns["Won"].totals[0]["weighted_amount"] == Decimal("5000.00")
    assert columns["Lost"].totals[0]["weighted_amount"] == Decimal("0.00")
    # The cards weigh the same as the totals.
    assert sum(d.weighted_amount for d in columns["Qualification"].deals if d.currency == "USD") == \
        Decimal("550.05")


def test_board_filters_by_owner_team_and_close_date(org, pipeline):
    deal(org.admin, owner_id=org.sales_a1.pk, expected_close_date="2026-11-15")
    deal(org.admin, owner_id=org.sales_a2.pk, expected_close_date="2026-12-15")
    deal(org.admin, owner_id=org.sales_b1.pk, expected_close_date="2026-11-20")
    deal(org.admin, owner_id=org.sales_b1.pk)

    def count(**filters):
        return sum(c.count for c in selectors.board(user=org.admin, pipeline=pipeline,
                                                     params=params(**filters)).columns)

    assert count() == 4
    assert count(owner_id=org.sales_a1.pk) == 1
    assert count(team_id=org.team_a.pk) == 2
    assert count(expected_close_date__gte="2026-11-01", expected_close_date__lte="2026-11-30") == 2
    assert count(expected_close_date__gte="2026-11-01") == 3  # no date: no match
    # The filter form sends its empty date fields: no filter, the undated deal stays.
    assert count(expected_close_date__gte="", expected_close_date__lte="", owner_id=org.sales_b1.pk) == 2


def test_the_board_takes_three_queries_however_many_deals(org, pipeline, stages,
                                                           django_assert_num_queries):
    def fill(n):
        for i in range(n):
            deal(org.admin, amount=str(100 + i), tags=["t"],
                 stage_id=list(stages.values())[i % 4].pk if i % 5 else stages["Meeting"].pk)

    fill(3)
    with django_assert_num_queries(3):
        small = selectors.board(user=org.sales_a1, pipeline=pipeline, params=params())
        [(d.is_stale(), d.tag_names, d.weighted_amount) for c in small.columns for d in c.deals]
    fill(40)
    with django_assert_num_queries(3):
        big = selectors.board(user=org.admin, pipeline=pipeline, params=params(limit="5"))
        [(d.is_stale(), d.tag_names, d.weighted_amount) for c in big.columns for d in c.deals]
    assert sum(c.count for c in big.columns) == 43
    assert all(len(c.deals) <= 5 for c in big.columns)
    assert any(c.has_more for c in big.columns)


def test_board_cards_come_in_close_date_order_undated_last(org, pipeline):
    late = deal(org.admin, expected_close_date="2026-12-01")
    undated = deal(org.admin)
    soon = deal(org.admin, expected_close_date="2026-11-05")
    board = selectors.board(user=org.admin, pipeline=pipeline, params=params())
    assert [d.pk for d in board.columns[0].deals] == [soon.pk, late.pk, undated.pk]
    board = selectors.board(user=org.admin, pipeline=pipeline, params=params(sort="-amount"))
    assert len(board.columns[0].deals) == 3


# The deal page ----------------------------------------------------------------------------

def test_the_deal_page_shows_its_contacts_once_and_only_those_the_viewer_sees(
        org, django_assert_num_queries):
    mine = contact_create(actor=org.sales_a1, data={"first_name": "Mia", "email": "mia@x.example"})
    hidden = contact_create(actor=org.admin, data={"first_name": "Hid", "owner_id": org.sales_b1.pk})
    created = deal(org.admin, owner_id=org.sales_a1.pk)
    services.deal_contact_add(actor=org.sales_a1, deal_id=created.pk, contact_id=mine.pk,
                              role="champion")
    services.deal_contact_add(actor=org.admin, deal_id=created.pk, contact_id=hidden.pk)
    link, made = services.deal_contact_add(actor=org.sales_a1, deal_id=created.pk, contact_id=mine.pk,
                                           role="decision_maker")
    assert not made and link.role == "decision_maker"
    with django_assert_num_queries(3):
        detail = selectors.deal_detail(user=org.sales_a1, deal_id=created.pk)
    assert [(c.name, c.role) for c in detail.contacts] == [("Mia", "decision_maker")]
    admin_view = selectors.deal_detail(user=org.admin, deal_id=created.pk)
    assert {c.contact_id for c in admin_view.contacts} == {mine.pk, hidden.pk}
    assert list(Event.objects.filter(object_id=created.pk, type__startswith="deal.contact")
                .values_list("type", flat=True).order_by("id")) == [
        "deal.contact_added", "deal.contact_added", "deal.contact_updated"]


def test_a_seller_cannot_put_a_contact_they_cannot_see_on_a_deal(org):
    hidden = contact_create(actor=org.admin, data={"first_name": "Hid", "owner_id": org.sales_b1.pk})
    created = deal(org.sales_a1)
    with pytest.raises(ValidationFailed) as refused:
        services.deal_contact_add(actor=org.sales_a1, deal_id=created.pk, contact_id=hidden.pk)
    assert refused.value.fields == {"contact_id": ["No such contact."]}
    with pytest.raises(ValidationFailed) as refused:
        services.deal_contact_add(actor=org.sales_a1, deal_id=created.pk, contact_id=None)
    assert not DealContact.objects.exists()


def test_removing_a_contact(org):
    person = contact_create(actor=org.admin, data={"first_name": "Pat"})
    created = deal(org.admin)
    services.deal_contact_add(actor=org.admin, deal_id=created.pk, contact_id=person.pk)
    services.deal_contact_remove(actor=org.admin, deal_id=created.pk, contact_id=person.pk)
    assert not DealContact.objects.exists()
    with pytest.raises(NotFound):
        services.deal_contact_remove(actor=org.admin, deal_id=created.pk, contact_id=person.pk)


def test_merging_two_contacts_on_one_deal_leaves_the_survivor_on_it_once(org):
    first = contact_create(actor=org.admin, data={"first_name": "Ann", "email": "ann@x.example"})
    second = contact_create(actor=org.admin, data={"first_name": "Ann", "email": "ann2@x.example"})
    created = deal(org.admin)
    for person in (first, second):
        services.deal_contact_add(actor=org.admin, deal_id=created.pk, contact_id=person.pk)
    merge_records(actor=org.admin, object_type="contact", survivor_id=first.pk, other_id=second.pk)
    detail = selectors.deal_detail(user=org.admin, deal_id=created.pk)
    assert [c.contact_id for c in detail.contacts] == [first.pk]


# Pipelines, stages and lost reasons --------------------------------------------------------

def test_only_admins_configure_pipelines_and_reasons(org, pipeline, stages, reason):
    for attempt in (
        lambda: services.pipeline_create(actor=org.manager_a, data={"name": "Mine"}),
        lambda: services.pipeline_update(actor=org.sales_a1, pipeline_id=pipeline.pk, data={"name": "X"}),
        lambda: services.pipeline_delete(actor=org.sales_a1, pipeline_id=pipeline.pk),
        lambda: services.stage_create(actor=org.sales_a1, pipeline_id=pipeline.pk, data={"name": "X"}),
        lambda: services.stage_update(actor=org.sales_a1, pipeline_id=pipeline.pk,
                                      stage_id=stages["Meeting"].pk, data={"probability": 1}),
        lambda: services.stage_delete(actor=org.sales_a1, pipeline_id=pipeline.pk,
                                      stage_id=stages["Meeting"].pk),
        lambda: services.lost_reason_create(actor=org.sales_a1, data={"name": "X"}),
        lambda: services.lost_reason_update(actor=org.sales_a1, reason_id=reason.pk, data={"name": "X"}),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    assert Pipeline.objects.count() == 1 and Stage.objects.count() == 6


def test_a_pipeline_with_its_own_stages(org):
    created = services.pipeline_create(actor=org.admin, data={"name": "Partners", "stages": [
        {"name": "Intro", "probability": 20, "rotting_days": 14},
        {"name": "Contract", "probability": 80},
        {"name": "Signed", "kind": "won"}, {"name": "Dropped", "kind": "lost"}]})
    assert list(created.stages.order_by("position").values_list("name", "probability", "kind",
                                                                 "rotting_days")) == [
        ("Intro", 20, "open", 14), ("Contract", 80, "open", None),
        ("Signed", 100, "won", None), ("Dropped", 0, "lost", None)]
    assert not created.is_default and created.position == 2
    assert Event.objects.get(type="pipeline.created").data["stages"] == [
        "Intro", "Contract", "Signed", "Dropped"]


@pytest.mark.parametrize(("stages_", "field"), [
    ([{"name": "Only open"}], "stages"),
    ([{"name": "A"}, {"name": "W", "kind": "won"}], "stages"),
    ([{"name": "A"}, {"name": "W", "kind": "won"}, {"name": "W2", "kind": "won"},
      {"name": "L", "kind": "lost"}], "stages"),
    ([{"name": "W", "kind": "won"}, {"name": "A"}, {"name": "L", "kind": "lost"}], "stages"),
    ([{"name": "A"}, {"name": "a"}, {"name": "W", "kind": "won"}, {"name": "L", "kind": "lost"}], "stages"),
    ([{"name": "A", "probability": 150}, {"name": "W", "kind": "won"},
      {"name": "L", "kind": "lost"}], "stages[0].probability"),
    ([{"name": "A"}, {"name": "W", "kind": "won", "probability": 90},
      {"name": "L", "kind": "lost"}], "stages[1].probability"),
    ([{"name": ""}, {"name": "W", "kind": "won"}, {"name": "L", "kind": "lost"}], "stages[0].name"),
    ([{"name": "A", "kind": "maybe"}, {"name": "W", "kind": "won"},
      {"name": "L", "kind": "lost"}], "stages[0].kind"),
    ([{"name": "A", "rotting_days": 0}, {"name": "W", "kind": "won"},
      {"name": "L", "kind": "lost"}], "stages[0].rotting_days"),
    ([], "stages"),
])
def test_bad_stages_are_refused_naming_where(org, stages_, field):
    with pytest.raises(ValidationFailed) as refused:
        services.pipeline_create(actor=org.admin, data={"name": "New", "stages": stages_})
    assert field in refused.value.fields
    assert Pipeline.objects.count() == 1


def test_pipeline_names_are_unique(org):
    with pytest.raises(Conflict) as refused:
        services.pipeline_create(actor=org.admin, data={"name": "sales PIPELINE"})
    assert "name" in refused.value.fields


def test_one_default_pipeline(org, pipeline):
    other = services.pipeline_create(actor=org.admin, data={"name": "Renewals", "is_default": True})
    assert other.is_default and not Pipeline.objects.get(pk=pipeline.pk).is_default
    with pytest.raises(ValidationFailed) as refused:
        services.pipeline_update(actor=org.admin, pipeline_id=other.pk, data={"is_default": False})
    assert "is_default" in refused.value.fields
    services.pipeline_update(actor=org.admin, pipeline_id=pipeline.pk, data={"is_default": True})
    assert list(Pipeline.objects.filter(is_default=True)) == [pipeline]
    assert selectors.default_pipeline() == pipeline


def test_pipelines_reorder_and_rename_with_versions(org, pipeline):
    other = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    services.pipeline_update(actor=org.admin, pipeline_id=other.pk, data={"position": 0},
                             expected_version=1)
    assert list(selectors.pipeline_list()) == [other, pipeline]
    with pytest.raises(VersionConflict):
        services.pipeline_update(actor=org.admin, pipeline_id=other.pk, data={"name": "X"},
                                 expected_version=1)
    assert Pipeline.objects.get(pk=other.pk).name == "Renewals"


def test_the_default_pipeline_and_one_with_deals_are_not_deleted(org, pipeline):
    with pytest.raises(Conflict):
        services.pipeline_delete(actor=org.admin, pipeline_id=pipeline.pk)
    other = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    trashed = deal(org.admin, pipeline_id=other.pk)
    services.deal_delete(actor=org.admin, deal_id=trashed.pk)
    with pytest.raises(Conflict) as refused:
        services.pipeline_delete(actor=org.admin, pipeline_id=other.pk)
    assert "1 deal is in this pipeline (1 in the trash)" in refused.value.message


def test_a_pipeline_in_some_deals_history_is_archived_not_deleted(org, stages):
    other = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    wanderer = deal(org.admin, pipeline_id=other.pk)
    services.deal_move(actor=org.admin, deal_id=wanderer.pk, stage_id=stages["Meeting"].pk)
    services.pipeline_delete(actor=org.admin, pipeline_id=other.pk)
    other.refresh_from_db()
    assert other.archived_at is not None and other not in selectors.pipeline_list()
    detail = selectors.deal_detail(user=org.admin, deal_id=wanderer.pk)
    assert detail.history[0].stage_name == "Qualification"
    unused = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})  # name free again
    services.pipeline_delete(actor=org.admin, pipeline_id=unused.pk)
    assert not Pipeline.objects.filter(pk=unused.pk).exists()


def test_stages_are_added_renamed_reordered_and_removed(org, pipeline, stages):
    demo = services.stage_create(actor=org.admin, pipeline_id=pipeline.pk,
                                 data={"name": "Demo", "probability": 40, "position": 2})
    order = list(selectors.pipeline_get(pipeline_id=pipeline.pk).stages.all())
    assert [s.name for s in order] == ["Qualification", "Meeting", "Demo", "Proposal",
                                       "Negotiation", "Won", "Lost"]
    services.stage_update(actor=org.admin, pipeline_id=pipeline.pk, stage_id=demo.pk,
                          data={"name": "Live demo", "rotting_days": 10})
    ids = [s.pk for s in order]
    services.stages_reorder(actor=org.admin, pipeline_id=pipeline.pk,
                            stage_ids=[ids[2], ids[0], ids[1], *ids[3:]])
    names = [s.name for s in selectors.pipeline_get(pipeline_id=pipeline.pk).stages.all()]
    assert names[:3] == ["Live demo", "Qualification", "Meeting"]
    services.stage_delete(actor=org.admin, pipeline_id=pipeline.pk, stage_id=demo.pk)
    assert not Stage.objects.filter(pk=demo.pk).exists()
    assert [s.position for s in selectors.pipeline_get(pipeline_id=pipeline.pk).stages.all()] == [
        1, 2, 3, 4, 5, 6]
    assert Pipeline.objects.get(pk=pipeline.pk).version == 5
    assert list(Event.objects.filter(object_type__in=["stage", "pipeline"]).order_by("id")
                .values_list("type", flat=True)) == [
        "stage.created", "stage.updated", "pipeline.updated", "stage.deleted"]


def test_stage_rules(org, pipeline, stages):
    def refused(call, error=ValidationFailed):
        with pytest.raises(error) as caught:
            call()
        return caught.value

    assert "kind" in refused(lambda: services.stage_create(
        actor=org.admin, pipeline_id=pipeline.pk, data={"name": "Won again", "kind": "won"})).fields
    assert "position" in refused(lambda: services.stage_create(
        actor=org.admin, pipeline_id=pipeline.pk, data={"name": "Late", "position": 5})).fields
    assert "name" in refused(lambda: services.stage_create(
        actor=org.admin, pipeline_id=pipeline.pk, data={"name": "meeting"}), Conflict).fields
    assert "kind" in refused(lambda: services.stage_update(
        actor=org.admin, pipeline_id=pipeline.pk, stage_id=stages["Meeting"].pk,
        data={"kind": "won"})).fields
    assert "probability" in refused(lambda: services.stage_update(
        actor=org.admin, pipeline_id=pipeline.pk, stage_id=stages["Won"].pk,
        data={"probability": 50})).fields
    refused(lambda: services.stage_delete(actor=org.admin, pipeline_id=pipeline.pk,
                                          stage_id=stages["Won"].pk), Conflict)
    ids = [s.pk for s in Stage.objects.filter(pipeline=pipeline).order_by("position")]
    assert "stage_ids" in refused(lambda: services.stages_reorder(
        actor=org.admin, pipeline_id=pipeline.pk, stage_ids=[ids[-1], *ids[:-1]])).fields
    assert "stage_ids" in refused(lambda: services.stages_reorder(
        actor=org.admin, pipeline_id=pipeline.pk, stage_ids=ids[1:])).fields
    other = services.pipeline_create(actor=org.admin, data={"name": "Other"})
    refused(lambda: services.stage_update(actor=org.admin, pipeline_id=other.pk,
                                          stage_id=stages["Meeting"].pk, data={"name": "X"}), NotFound)


def test_a_stage_with_deals_is_not_removed_and_one_in_history_is_archived(org, pipeline, stages):
    created = deal(org.admin, stage_id=stages["Meeting"].pk)
    with pytest.raises(Conflict) as refused:
        services.stage_delete(actor=org.admin, pipeline_id=pipeline.pk, stage_id=stages["Meeting"].pk)
    assert "1 deal is in this stage" in refused.value.message
    services.deal_move(actor=org.admin, deal_id=created.pk, stage_id=stages["Proposal"].pk)
    services.stage_delete(actor=org.admin, pipeline_id=pipeline.pk, stage_id=stages["Meeting"].pk)
    archived = Stage.objects.get(pk=stages["Meeting"].pk)
    assert archived.archived_at is not None
    assert [c.stage.name for c in selectors.board(user=org.admin, pipeline=pipeline,
                                                   params=params()).columns] == [
        "Qualification", "Proposal", "Negotiation", "Won", "Lost"]
    assert [s.stage_name for s in selectors.deal_detail(user=org.admin, deal_id=created.pk).history] == [
        "Meeting", "Proposal"]


def test_a_new_stage_probability_weighs_open_deals_at_once(org, pipeline, stages):
    created = deal(org.admin, amount="1000")
    services.stage_update(actor=org.admin, pipeline_id=pipeline.pk,
                          stage_id=stages["Qualification"].pk, data={"probability": 20})
    assert selectors.deal_get(user=org.admin, deal_id=created.pk).weighted_amount == Decimal("200.00")


def test_lost_reasons_are_managed_and_a_used_one_is_switched_off_not_deleted(org, reason):
    made = services.lost_reason_create(actor=org.admin, data={"name": "Legal"})
    assert made.position == 8 and made.active
    with pytest.raises(Conflict):
        services.lost_reason_create(actor=org.admin, data={"name": "legal"})
    services.lost_reason_delete(actor=org.admin, reason_id=made.pk)
    services.deal_move(actor=org.admin, deal_id=deal(org.admin).pk, status="lost", lost_reason_id=reason.pk)
    with pytest.raises(Conflict) as refused:
        services.lost_reason_delete(actor=org.admin, reason_id=reason.pk)
    assert "active" in refused.value.fields
    services.lost_reason_update(actor=org.admin, reason_id=reason.pk, data={"active": False})
    assert reason not in selectors.lost_reason_list()
    assert reason in selectors.lost_reason_list(include_inactive=True)
