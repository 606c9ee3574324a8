"""Deals in the browser's place (Django's test client): the board and its filters, moves from a
card's form (no JavaScript) and from the board (htmx), the lost reason, stale versions, the
list, a deal's page and form, its contacts, the trash, and Settings → Pipelines; each role
seeing only its scope."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rapport.contacts.services import company_create, contact_create
from rapport.core.models import CustomFieldDefinition, Event
from rapport.sales import services
from rapport.sales.models import Deal, DealContact, LostReason, Pipeline, Stage

HTMX = {"HX-Request": "true", "HX-Target": "board"}


@pytest.fixture
def pipeline(db):
    return Pipeline.objects.get(is_default=True)


@pytest.fixture
def stages(pipeline):
    return {s.name: s for s in Stage.objects.filter(pipeline=pipeline)}


@pytest.fixture
def reason(db):
    return LostReason.objects.get(name="Price")


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


def deal(actor, **data):
    return services.deal_create(actor=actor, data={"name": "Deal", "amount": "1000", **data})


def text(response) -> str:
    """The page's visible text, tags stripped and spaces collapsed."""
    return text_of(re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(),
                          flags=re.S))


def fresh(record):
    return Deal.all_objects.get(pk=record.pk)


# Navigation ---------------------------------------------------------------------------------

def test_deals_is_in_the_navigation_and_pipelines_in_settings(login, org):
    client = login(org.sales_a1)
    home = client.get("/").content.decode()
    assert f'href="{reverse("deals:board")}"' in home
    assert not re.search(r"Deals\s*<span class=\"soon\">", home)
    settings_page = client.get(reverse("settings:profile")).content.decode()
    assert f'href="{reverse("pipelines:list")}"' in settings_page


# Scope --------------------------------------------------------------------------------------

@pytest.fixture
def owned(org):
    """One deal owned by each of three sellers (two in team A, one in team B)."""
    return {
        "a1": deal(org.admin, name="Alpha one", owner_id=org.sales_a1.pk),
        "a2": deal(org.admin, name="Alpha two", owner_id=org.sales_a2.pk),
        "b1": deal(org.admin, name="Bravo one", owner_id=org.sales_b1.pk),
    }


@pytest.mark.parametrize(("who", "sees"), [
    ("admin", {"a1", "a2", "b1"}),
    ("manager_a", {"a1", "a2"}),
    ("sales_a1", {"a1"}),
    ("sales_b1", {"b1"}),
    ("marketing", set()),
])
def test_each_role_sees_its_scope_on_the_board_the_list_and_the_deal_pages(
        login, org, owned, who, sees):
    client = login(getattr(org, who))
    board = client.get(reverse("deals:board"))
    listing = client.get(reverse("deals:list"))
    assert board.status_code == listing.status_code == 200
    for key, record in owned.items():
        on_board = f'data-deal-id="{record.pk}"' in board.content.decode()
        on_list = reverse("deals:detail", args=[record.pk]) in listing.content.decode()
        page = client.get(reverse("deals:detail", args=[record.pk]))
        assert on_board == on_list == (key in sees), (who, key)
        assert page.status_code == (200 if key in sees else 404), (who, key)
    if not sees:
        assert "No deals in Sales pipeline yet" in text(board)
        assert "No deals yet" in text(listing)


def test_a_deal_outside_the_users_scope_is_a_404_for_every_page_and_action(
        login, org, owned, stages, reason):
    client = login(org.sales_b1)
    other = owned["a1"]
    for name in ("detail", "edit", "lost", "delete"):
        assert client.get(reverse(f"deals:{name}", args=[other.pk])).status_code == 404, name
    move = {"stage_id": stages["Proposal"].pk, "version": other.version}
    assert client.post(reverse("deals:move", args=[other.pk]), move).status_code == 404
    assert client.post(reverse("deals:move", args=[other.pk]), move, headers=HTMX).status_code == 404
    assert client.post(reverse("deals:edit", args=[other.pk]), {"name": "Mine now"}).status_code == 404
    assert client.post(reverse("deals:delete", args=[other.pk])).status_code == 404
    assert client.post(reverse("deals:contact_add", args=[other.pk]),
                       {"contact_id": "1"}).status_code == 404
    assert fresh(other).stage == stages["Qualification"] and fresh(other).name == "Alpha one"
    assert fresh(other).deleted_at is None


# The board ----------------------------------------------------------------------------------

def test_the_board_shows_columns_totals_cards_and_the_won_and_lost_zones(
        login, org, pipeline, stages, reason):
    company = company_create(actor=org.admin, data={"name": "Initech"})
    deal(org.admin, name="Seats", amount="1250.50", currency="EUR", company_id=company.pk,
         expected_close_date="2020-01-31", owner_id=org.sales_a1.pk)
    deal(org.admin, name="Support", amount="800", stage_id=stages["Negotiation"].pk)
    deal(org.admin, name="Closed", amount="5000", stage_id=stages["Won"].pk)
    deal(org.admin, name="Gone", amount="999", stage_id=stages["Lost"].pk,
         lost_reason_id=reason.pk)
    page = login(org.admin).get(reverse("deals:board"))
    body, words = page.content.decode(), text(page)
    assert 'data-kind="won"' in body and 'data-kind="lost"' in body
    # Won and Lost are drop zones with their totals, not columns of cards.
    assert "Closed" not in words and "Gone" not in words
    assert "Seats" in words and "Initech" in words and "€1,250.50" in words
    assert "SS" in words  # the owner's initials
    assert 'class="deal-card-date is-overdue"' in body
    assert "€1,250.50 €125.05 weighted" in words  # Qualification: 10 %
    assert "$800 $600 weighted" in words  # Negotiation: 75 %
    assert "1 deal · $5,000" in words  # won
    assert "2 open deals" in words
    # Every card moves without dragging: a form to each other stage of the pipeline.
    assert body.count('data-move-form') == 2
    assert "Lost reasons" not in words and "Choose a reason…" in words  # the lost dialog


def test_a_stale_deal_has_a_badge(login, org, stages):
    Stage.objects.filter(pk=stages["Qualification"].pk).update(rotting_days=7)
    old = deal(org.admin, name="Dusty")
    Deal.objects.filter(pk=old.pk).update(stage_entered_at=old.stage_entered_at.replace(year=2020))
    deal(org.admin, name="Fresh")
    page = login(org.admin).get(reverse("deals:board"))
    cards = re.findall(r'<li class="deal-card( is-stale)?" data-deal-card data-deal-id="(\d+)"',
                       page.content.decode())
    assert sorted(cards) == sorted([(" is-stale", str(old.pk)), ("", str(fresh(old).pk + 1))])
    assert "Stale" in text(page)


def test_board_filters_by_owner_team_and_close_date_and_refresh_through_htmx(login, org):
    mine = deal(org.admin, name="Mine", owner_id=org.sales_a1.pk, expected_close_date="2026-11-15")
    team = deal(org.admin, name="Team", owner_id=org.sales_a2.pk, expected_close_date="2026-12-15")
    other = deal(org.admin, name="Other", owner_id=org.sales_b1.pk)
    client = login(org.admin)
    url = reverse("deals:board")

    def shown(**params):
        response = client.get(url, params, headers=HTMX)
        assert response.status_code == 200
        body = response.content.decode()
        return {d for d in (mine, team, other) if f'data-deal-id="{d.pk}"' in body}, body

    assert shown()[0] == {mine, team, other}
    assert shown(owner_id=org.sales_a1.pk)[0] == {mine}
    assert shown(team_id=org.team_a.pk)[0] == {mine, team}
    found, body = shown(expected_close_date__gte="2026-12-01", expected_close_date__lte="2026-12-31")
    assert found == {team}
    # The partial is the board alone, with the view links carrying the filters out of band.
    assert "<html" not in body and 'id="board"' in body
    assert 'id="deal-views" class="deal-views" hx-swap-oob="true"' in body
    assert "expected_close_date__gte=2026-12-01" in body
    nothing, body = shown(owner_id=org.marketing.pk)
    assert nothing == set() and "No deals in Sales pipeline match these filters" in text_of(body)
    # A full page with filters keeps them in the form.
    page = client.get(url, {"owner_id": org.sales_a1.pk}).content.decode()
    assert f'<option value="{org.sales_a1.pk}" selected>' in page


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def test_a_bad_filter_says_so_instead_of_failing(login, org):
    deal(org.admin)
    page = login(org.admin).get(reverse("deals:board"), {"expected_close_date__gte": "soon"})
    assert page.status_code == 200
    assert "These filters could not be applied" in text(page)
    assert "Enter a date as YYYY-MM-DD." in text(page)


def test_the_board_is_a_fixed_number_of_queries_however_many_deals(
        login, org, stages, django_assert_max_num_queries):
    client = login(org.admin)
    company = company_create(actor=org.admin, data={"name": "Initech"})
    open_stages = [s for s in stages.values() if s.kind == "open"]

    def fill(n):
        for i in range(n):
            deal(org.admin, amount=str(100 + i), tags=["t"], company_id=company.pk,
                 owner_id=[org.sales_a1, org.sales_a2, org.manager_a][i % 3].pk,
                 stage_id=open_stages[i % len(open_stages)].pk)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("deals:board")).status_code == 200
        return len(queries)

    fill(3)
    few = count_queries()
    fill(40)
    # session, user, pipelines and their stages, the board's stages, sums and cards, the
    # owner and team filters, the lost reasons
    with django_assert_max_num_queries(10):
        page = client.get(reverse("deals:board"))
    assert page.content.decode().count("data-deal-card ") == 43
    assert count_queries() == few


def test_a_pipeline_without_deals_explains_and_offers_a_new_deal(login, org, pipeline):
    second = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    deal(org.admin, name="In the default one")
    page = login(org.admin).get(reverse("deals:board"), {"pipeline_id": second.pk})
    assert "No deals in Renewals yet" in text(page)
    assert f'href="{reverse("deals:create")}?pipeline_id={second.pk}"' in page.content.decode()
    # Both pipelines are offered in the switcher.
    assert f"?pipeline_id={pipeline.pk}" in page.content.decode()
    assert login(org.admin).get(reverse("deals:board"), {"pipeline_id": 999}).status_code == 404


# Moves ----------------------------------------------------------------------------------------

def test_a_move_through_the_cards_form_without_javascript(login, org, stages):
    record = deal(org.sales_a1, name="Seats")
    client = login(org.sales_a1)
    back = f"{reverse('deals:board')}?pipeline_id={record.pipeline_id}"
    response = client.post(reverse("deals:move", args=[record.pk]), {
        "stage_id": stages["Proposal"].pk, "version": record.version, "next": back})
    assert response.status_code == 302 and response.url == back
    assert fresh(record).stage == stages["Proposal"] and fresh(record).version == 2
    assert "Moved “Seats” to Proposal." in text(client.get(back))
    assert Event.objects.filter(type="deal.stage_changed", object_id=record.pk).exists()


def test_a_move_from_the_board_returns_the_board_with_new_totals(login, org, stages):
    record = deal(org.sales_a1, name="Seats", amount="2000")
    response = login(org.sales_a1).post(reverse("deals:move", args=[record.pk]), {
        "stage_id": stages["Negotiation"].pk, "version": record.version,
        "board_query": f"owner_id={org.sales_a1.pk}"}, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="board"' in body and f'data-moved-id="{record.pk}"' in body
    assert "Moved “Seats” to Negotiation." in text_of(body)
    assert "$2,000 $1,500 weighted" in text_of(body)  # 75 %
    assert f'data-query="owner_id={org.sales_a1.pk}"' in body  # the filters stay
    assert f'data-version="{record.version + 1}"' in body
    assert fresh(record).stage == stages["Negotiation"]


def test_a_stale_version_is_refused_with_a_clear_message_and_changes_nothing(login, org, stages):
    record = deal(org.sales_a1, name="Seats")
    services.deal_update(actor=org.manager_a, deal_id=record.pk,
                         data={"amount": "1500"})  # the manager saves it meanwhile: version 2
    client = login(org.sales_a1)
    response = client.post(reverse("deals:move", args=[record.pk]), {
        "stage_id": stages["Proposal"].pk, "version": 1}, headers=HTMX)
    assert response.status_code == 200
    words = text_of(response.content.decode())
    assert "Someone else changed “Seats” a moment ago, so it was not moved." in words
    assert 'role="alert"' in response.content.decode()
    assert f'data-version="{fresh(record).version}"' in response.content.decode()  # re-rendered
    assert fresh(record).stage == stages["Qualification"]
    # The same without JavaScript: back to the page with the message.
    response = client.post(reverse("deals:move", args=[record.pk]), {
        "stage_id": stages["Proposal"].pk, "version": 1}, follow=True)
    assert "Someone else changed “Seats”" in text(response)
    assert fresh(record).stage == stages["Qualification"]


def test_lost_without_a_reason_asks_shows_the_error_and_changes_nothing(
        login, org, stages, reason):
    record = deal(org.sales_a1, name="Seats")
    client = login(org.sales_a1)
    url = reverse("deals:move", args=[record.pk])
    # From a card's "Move to…" select: a page asks why first.
    asked = client.post(url, {"stage_id": stages["Lost"].pk, "version": record.version})
    assert asked.status_code == 200
    assert "Mark “Seats” as lost" in text(asked) and "Choose why the deal was lost" not in text(asked)
    assert 'name="lost_reason_id"' in asked.content.decode()
    # Sent without one: the error next to the field, and nothing changed.
    refused = client.post(url, {"status": "lost", "version": record.version,
                                "lost_reason_id": "", "lost_note": "Too dear"})
    assert refused.status_code == 200
    assert "Choose why the deal was lost." in text(refused)
    assert "Too dear" in refused.content.decode()  # what was typed stays
    assert fresh(record).status == "open" and fresh(record).version == record.version
    assert not Event.objects.filter(type="deal.lost").exists()
    # From the board (htmx) the board comes back with the message.
    response = client.post(url, {"stage_id": stages["Lost"].pk, "version": record.version,
                                 "lost_reason_id": ""}, headers=HTMX)
    assert "Choose why the deal was lost." in text_of(response.content.decode())
    assert fresh(record).status == "open"


def test_lost_with_a_reason_and_a_note(login, org, stages, reason):
    record = deal(org.sales_a1, name="Seats")
    client = login(org.sales_a1)
    response = client.post(reverse("deals:move", args=[record.pk]), {
        "status": "lost", "version": record.version, "lost_reason_id": reason.pk,
        "lost_note": "Went with the cheaper one", "next": reverse("deals:detail", args=[record.pk])},
        follow=True)
    assert "“Seats” is marked lost." in text(response)
    lost = fresh(record)
    assert (lost.status, lost.lost_reason, lost.lost_note) == ("lost", reason, "Went with the cheaper one")
    assert "Lost on" in text(response) and "Price" in text(response)
    assert "Reopen" in text(response)


def test_won_from_the_deal_page_and_reopen(login, org, stages):
    record = deal(org.sales_a1, name="Seats")
    client = login(org.sales_a1)
    page = client.post(reverse("deals:move", args=[record.pk]),
                       {"status": "won", "version": record.version}, follow=True)
    assert "“Seats” is won." in text(page) and fresh(record).status == "won"
    page = client.post(reverse("deals:move", args=[record.pk]),
                       {"status": "open", "version": fresh(record).version}, follow=True)
    assert fresh(record).status == "open" and fresh(record).stage == stages["Qualification"]


def test_a_stage_of_another_pipeline_is_refused(login, org):
    record = deal(org.sales_a1)
    other = services.pipeline_create(actor=org.admin, data={"name": "Renewals"})
    foreign = Stage.objects.filter(pipeline=other).first()
    response = login(org.sales_a1).post(reverse("deals:move", args=[record.pk]), {
        "stage_id": foreign.pk, "version": record.version}, follow=True)
    assert "Choose a stage of this deal's pipeline" in text(response)
    assert fresh(record).pipeline_id != other.pk


# The list -----------------------------------------------------------------------------------

def test_the_list_sorts_filters_and_pages_by_cursor(login, org, stages):
    for i, amount in enumerate(["300", "100", "200"]):
        deal(org.admin, name=f"D{i}", amount=amount, stage_id=stages["Proposal"].pk if i else None)
    client = login(org.admin)
    page = client.get(reverse("deals:list"), {"sort": "-amount"})
    names = re.findall(r'href="/deals/\d+/">(D\d)</a>', page.content.decode())
    assert names == ["D0", "D2", "D1"]
    assert 'aria-sort="descending"' in page.content.decode()
    first = client.get(reverse("deals:list"), {"sort": "amount", "limit": "2"})
    assert re.findall(r'href="/deals/\d+/">(D\d)</a>', first.content.decode()) == ["D1", "D2"]
    next_url = re.search(r'href="(\?[^"]*cursor=[^"]+)" rel="next"', first.content.decode()).group(1)
    second = client.get(reverse("deals:list") + next_url.replace("&amp;", "&"))
    assert re.findall(r'href="/deals/\d+/">(D\d)</a>', second.content.decode()) == ["D0"]
    filtered = client.get(reverse("deals:list"), {"stage_id": stages["Proposal"].pk})
    assert set(re.findall(r'href="/deals/\d+/">(D\d)</a>', filtered.content.decode())) == {"D1", "D2"}
    # The toggle to the board keeps the shared filters.
    page = client.get(reverse("deals:list"),
                      {"owner_id": org.admin.pk, "pipeline_id": stages["Won"].pipeline_id})
    assert f"/deals/?owner_id={org.admin.pk}&amp;pipeline_id=" in page.content.decode()


def test_the_list_empty_and_filtered_empty_states(login, org):
    client = login(org.admin)
    assert "No deals yet" in text(client.get(reverse("deals:list")))
    deal(org.admin)
    assert "No deals match" in text(client.get(reverse("deals:list"), {"status": "lost"}))
    bad = client.get(reverse("deals:list"), {"sort": "colour"})
    assert "This filter could not be applied" in text(bad)


# The deal page ------------------------------------------------------------------------------

def test_the_deal_page_has_its_header_details_contacts_history_and_timeline(login, org, stages):
    company = company_create(actor=org.sales_a1, data={"name": "Initech"})
    peter = contact_create(actor=org.sales_a1, data={"first_name": "Peter", "last_name": "Gibbons",
                                                     "company_id": company.pk})
    contact_create(actor=org.sales_a1, data={"first_name": "Milton", "company_id": company.pk})
    record = deal(org.sales_a1, name="Seats", amount="12500", currency="EUR",
                  company_id=company.pk, next_step="Send the proposal")
    services.deal_contact_add(actor=org.sales_a1, deal_id=record.pk, contact_id=peter.pk,
                              role="decision_maker")
    services.deal_move(actor=org.sales_a1, deal_id=record.pk, stage_id=stages["Meeting"].pk)
    page = login(org.sales_a1).get(reverse("deals:detail", args=[record.pk]))
    words = text(page)
    assert page.status_code == 200
    assert "€12,500" in words and "Meeting" in words and "Open" in words and "Sam Seller" in words
    assert "Won" in words and "Lost" in words and "Send the proposal" in words
    assert "Peter Gibbons" in words and "Decision maker" in words
    # The contact choices: the company's people not on the deal yet.
    body = page.content.decode()
    assert "At Initech" in body and "Milton" in body
    choices = re.search(r'<select name="contact_id".*?</select>', body, flags=re.S).group(0)
    assert "Milton" in choices and "Peter" not in choices
    # Stage history: two stays, the current one last left "now".
    assert "Stage history" in words and "Qualification" in words and "now" in words
    assert 'id="timeline"' in body or "could not be shown" in words
    assert f'href="{reverse("deals:lost", args=[record.pk])}" data-lost-open' in body


def test_the_email_button_links_to_compose_when_the_mail_app_offers_it(login, org):
    from django.urls import NoReverseMatch

    record = deal(org.sales_a1)
    body = login(org.sales_a1).get(reverse("deals:detail", args=[record.pk])).content.decode()
    try:
        url = reverse("compose:compose_deal", args=[record.pk])
    except NoReverseMatch:
        assert ">Email</a>" not in body
    else:
        assert f'href="{url}"' in body


def test_a_stale_deal_warns_on_its_page(login, org, stages):
    Stage.objects.filter(pk=stages["Qualification"].pk).update(rotting_days=5)
    record = deal(org.sales_a1)
    Deal.objects.filter(pk=record.pk).update(
        stage_entered_at=record.stage_entered_at.replace(year=record.stage_entered_at.year - 1))
    words = text(login(org.sales_a1).get(reverse("deals:detail", args=[record.pk])))
    assert "This deal is going stale." in words and "longer than the 5 days Qualification allows" in words


def test_contacts_are_added_with_a_role_and_removed(login, org):
    record = deal(org.sales_a1)
    mine = contact_create(actor=org.sales_a1, data={"first_name": "Mia"})
    theirs = contact_create(actor=org.sales_b1, data={"first_name": "Bea"})
    client = login(org.sales_a1)
    url = reverse("deals:contact_add", args=[record.pk])
    page = client.post(url, {"contact_id": mine.pk, "role": "champion"}, follow=True)
    assert "Contact added to the deal." in text(page) and "Champion" in text(page)
    assert DealContact.objects.get(deal=record).role == "champion"
    refused = client.post(url, {"contact_id": theirs.pk, "role": ""}, follow=True)
    assert "No such contact." in text(refused)
    assert DealContact.objects.filter(deal=record).count() == 1
    bad_role = client.post(url, {"contact_id": mine.pk, "role": "boss"}, follow=True)
    assert "Choose one of" in text(bad_role)
    client.post(reverse("deals:contact_remove", args=[record.pk, mine.pk]))
    assert not DealContact.objects.filter(deal=record).exists()


# The form -------------------------------------------------------------------------------------

def test_creating_a_deal_with_every_field(login, org, stages):
    CustomFieldDefinition.objects.create(object_type="deal", key="source", label="Source",
                                         type="text")
    company = company_create(actor=org.sales_a1, data={"name": "Initech"})
    client = login(org.sales_a1)
    form = client.get(reverse("deals:create"))
    assert "Source" in text(form) and 'name="csrfmiddlewaretoken"' in form.content.decode()
    response = client.post(reverse("deals:create"), {
        "name": "Seats", "amount": "1250.50", "currency": "EUR", "stage_id": stages["Proposal"].pk,
        "probability": "40", "expected_close_date": "2026-12-31", "company_id": company.pk,
        "owner_id": org.sales_a1.pk, "next_step": "Call", "tags": "big, q4", "cf_source": "Fair"})
    created = Deal.objects.get(name="Seats")
    assert response.status_code == 302 and response.url == reverse("deals:detail", args=[created.pk])
    assert (created.amount, created.currency, created.stage, created.probability) == (
        created.amount.__class__("1250.50"), "EUR", stages["Proposal"], 40)
    assert created.company == company and created.custom_fields == {"source": "Fair"}
    assert sorted(t.name for t in created.tags.all()) == ["big", "q4"]


def test_bad_input_shows_inline_errors_and_saves_nothing(login, org, stages):
    client = login(org.sales_a1)
    response = client.post(reverse("deals:create"), {
        "name": "", "amount": "12.345", "currency": "EUR", "stage_id": stages["Meeting"].pk,
        "owner_id": org.sales_a1.pk})
    assert response.status_code == 200
    assert 'class="field field-text has-error"' in response.content.decode()
    assert "This field is required." in text(response)
    response = client.post(reverse("deals:create"), {
        "name": "Seats", "amount": "12.345", "currency": "EUR", "stage_id": stages["Meeting"].pk,
        "owner_id": org.sales_a1.pk})
    assert "Enter at most 2 decimal places." in text(response)
    assert not Deal.all_objects.exists()


def test_the_company_choices_are_the_users_scope(login, org, stages):
    theirs = company_create(actor=org.sales_b1, data={"name": "Bravo Inc"})
    client = login(org.sales_a1)
    assert "Bravo Inc" not in text(client.get(reverse("deals:create")))
    response = client.post(reverse("deals:create"), {
        "name": "Seats", "amount": "10", "currency": "USD", "stage_id": stages["Meeting"].pk,
        "owner_id": org.sales_a1.pk, "company_id": theirs.pk})
    assert response.status_code == 200 and not Deal.all_objects.exists()


def test_editing_with_a_stale_version_says_so(login, org, stages):
    record = deal(org.sales_a1, name="Seats")
    client = login(org.sales_a1)
    form = client.get(reverse("deals:edit", args=[record.pk]))
    assert 'value="Seats"' in form.content.decode()
    services.deal_update(actor=org.sales_a1, deal_id=record.pk, data={"next_step": "Call"})
    response = client.post(reverse("deals:edit", args=[record.pk]), {
        "name": "Seats 2", "amount": "1000", "currency": "USD", "stage_id": record.stage_id,
        "owner_id": org.sales_a1.pk, "version": record.version})
    assert "Someone else changed this deal while you were editing" in text(response)
    assert fresh(record).name == "Seats"
    response = client.post(reverse("deals:edit", args=[record.pk]), {
        "name": "Seats 2", "amount": "1000", "currency": "USD", "stage_id": record.stage_id,
        "owner_id": org.sales_a1.pk, "version": fresh(record).version})
    assert response.status_code == 302 and fresh(record).name == "Seats 2"


def test_delete_to_the_trash_and_restore(login, org):
    record = deal(org.sales_a1, name="Seats")
    client = login(org.sales_a1)
    assert "Move “Seats” to the trash?" in text(client.get(reverse("deals:delete", args=[record.pk])))
    client.post(reverse("deals:delete", args=[record.pk]))
    assert fresh(record).deleted_at is not None
    trash = client.get(reverse("deals:trash"))
    assert "Seats" in text(trash)
    assert "Seats" not in text(login(org.sales_b1).get(reverse("deals:trash")))
    client = login(org.sales_a1)
    client.post(reverse("deals:restore", args=[record.pk]))
    assert fresh(record).deleted_at is None


# Settings → Pipelines -----------------------------------------------------------------------

def test_only_admins_change_pipelines_others_see_them(login, org, pipeline, stages, reason):
    client = login(org.manager_a)
    page = client.get(reverse("pipelines:list"))
    assert page.status_code == 200 and "Only admins can change pipelines" in text(page)
    assert "Qualification" in text(page) and "Price" in text(page)
    assert 'action="/settings/pipelines/new/"' not in page.content.decode()
    for url, data in [
        (reverse("pipelines:create"), {"name": "Sneaky"}),
        (reverse("pipelines:update", args=[pipeline.pk]), {"name": "Renamed"}),
        (reverse("pipelines:stage_create", args=[pipeline.pk]),
         {f"new-stage-{pipeline.pk}-name": "Extra"}),
        (reverse("pipelines:stage_delete", args=[pipeline.pk, stages["Meeting"].pk]), {}),
        (reverse("pipelines:reason_create"), {"name": "Sneaky"}),
        (reverse("pipelines:reason_update", args=[reason.pk]), {"action": "deactivate"}),
    ]:
        response = client.post(url, data, follow=True)
        assert "Only admins" in text(response), url
    assert Pipeline.objects.count() == 1 and Stage.objects.count() == 6
    assert LostReason.objects.get(pk=reason.pk).active and pipeline.name == "Sales pipeline"


def test_an_admin_manages_pipelines_and_stages(login, org, pipeline, stages):
    client = login(org.admin)
    page = client.get(reverse("pipelines:list"))
    assert page.status_code == 200 and "Add a stage" in text(page)
    # Create, with an inline error first.
    response = client.post(reverse("pipelines:create"), {"name": "sales PIPELINE"})
    assert response.status_code == 200 and "A pipeline named" in text(response)
    response = client.post(reverse("pipelines:create"), {"name": "Renewals"}, follow=True)
    renewals = Pipeline.objects.get(name="Renewals")
    assert "Pipeline “Renewals” created" in text(response)
    # Rename and make default.
    client.post(reverse("pipelines:update", args=[renewals.pk]),
                {"action": "rename", "name": "Renewals 2026", "version": renewals.version})
    renewals.refresh_from_db()
    assert renewals.name == "Renewals 2026"
    client.post(reverse("pipelines:update", args=[renewals.pk]), {"action": "default"})
    assert Pipeline.objects.get(is_default=True) == renewals
    client.post(reverse("pipelines:update", args=[renewals.pk]), {"action": "up"})
    assert Pipeline.objects.filter(archived_at__isnull=True).order_by("position").first() == renewals
    # Stages: add (an error inline first), rename with probability and rotting days, reorder, delete.
    prefix = f"new-stage-{pipeline.pk}"
    response = client.post(reverse("pipelines:stage_create", args=[pipeline.pk]),
                           {f"{prefix}-name": "", f"{prefix}-probability": "30"})
    assert response.status_code == 200 and "This field is required." in text(response)
    client.post(reverse("pipelines:stage_create", args=[pipeline.pk]), {
        f"{prefix}-name": "Demo", f"{prefix}-probability": "30", f"{prefix}-rotting_days": "14"})
    demo = Stage.objects.get(pipeline=pipeline, name="Demo")
    assert (demo.probability, demo.rotting_days, demo.kind) == (30, 14, "open")
    response = client.post(reverse("pipelines:stage_update", args=[pipeline.pk, demo.pk]), {
        "action": "save", f"stage-{demo.pk}-name": "Live demo",
        f"stage-{demo.pk}-probability": "35", f"stage-{demo.pk}-rotting_days": ""}, follow=True)
    demo.refresh_from_db()
    assert (demo.name, demo.probability, demo.rotting_days) == ("Live demo", 35, None)
    assert "Stage “Live demo” saved." in text(response)
    order = lambda: list(Stage.objects.filter(pipeline=pipeline, archived_at__isnull=True)  # noqa: E731
                         .order_by("position").values_list("name", flat=True))
    assert order() == ["Qualification", "Meeting", "Proposal", "Negotiation", "Live demo", "Won", "Lost"]
    client.post(reverse("pipelines:stage_update", args=[pipeline.pk, demo.pk]), {"action": "up"})
    assert order()[3] == "Live demo"
    pipeline.refresh_from_db()
    ids = [stages[n].pk for n in ("Meeting", "Qualification", "Proposal", "Negotiation")]
    client.post(reverse("pipelines:stages_reorder", args=[pipeline.pk]), {
        "stage_ids": [demo.pk, *ids, stages["Won"].pk, stages["Lost"].pk], "version": pipeline.version})
    assert order()[:2] == ["Live demo", "Meeting"]
    # Won must stay after the open stages: refused, with the service's reason.
    pipeline.refresh_from_db()
    response = client.post(reverse("pipelines:stages_reorder", args=[pipeline.pk]), {
        "stage_ids": [stages["Won"].pk, demo.pk, *ids, stages["Lost"].pk],
        "version": pipeline.version}, follow=True)
    assert "Won and lost stages come after the open stages." in text(response)
    # A closed stage is renamed only.
    client.post(reverse("pipelines:stage_update", args=[pipeline.pk, stages["Won"].pk]),
                {"action": "save", "closed": "1", f"stage-{stages['Won'].pk}-name": "Signed"})
    assert Stage.objects.get(pk=stages["Won"].pk).name == "Signed"
    client.post(reverse("pipelines:stage_delete", args=[pipeline.pk, demo.pk]))
    assert not Stage.objects.filter(pk=demo.pk).exists()


def test_an_admin_sets_each_stages_forecast_category(login, org, pipeline, stages):
    meeting, won = stages["Meeting"], stages["Won"]
    client = login(org.admin)
    page = client.get(reverse("pipelines:list")).content.decode()
    # Beside each open stage: its category, "Auto" showing what the probability gives.
    select = re.search(rf'<select[^>]*name="stage-{meeting.pk}-forecast_category".*?</select>',
                       page, flags=re.S).group(0)
    assert 'aria-label="Forecast category of Meeting"' in select
    assert re.search(r'<option value="" selected>Auto \(pipeline\)</option>', select)
    assert [v for v in re.findall(r'<option value="(\w*)"', select)] == [
        "", "pipeline", "best_case", "commit"]
    negotiation = re.search(rf'name="stage-{stages["Negotiation"].pk}-forecast_category".*?'
                            r"</select>", page, flags=re.S).group(0)
    assert "Auto (commit)" in negotiation  # 75 %
    assert f'name="stage-{won.pk}-forecast_category"' not in page and "Forecast: closed" in page
    # Saved with the probability and stale days, in the same row's form.
    response = client.post(reverse("pipelines:stage_update", args=[pipeline.pk, meeting.pk]), {
        "action": "save", f"stage-{meeting.pk}-name": "Meeting",
        f"stage-{meeting.pk}-probability": "25", f"stage-{meeting.pk}-rotting_days": "",
        f"stage-{meeting.pk}-forecast_category": "best_case"}, follow=True)
    assert "Stage “Meeting” saved." in text(response)
    assert Stage.objects.get(pk=meeting.pk).forecast_category == "best_case"
    assert re.search(rf'name="stage-{meeting.pk}-forecast_category".*?'
                     r'<option value="best_case" selected>', response.content.decode(), flags=re.S)
    # A form without the field (an older page) leaves the category alone; a bad one is refused.
    client.post(reverse("pipelines:stage_update", args=[pipeline.pk, meeting.pk]), {
        "action": "save", f"stage-{meeting.pk}-name": "Meeting",
        f"stage-{meeting.pk}-probability": "30"})
    assert Stage.objects.get(pk=meeting.pk).forecast_category == "best_case"
    refused = client.post(reverse("pipelines:stage_update", args=[pipeline.pk, meeting.pk]), {
        "action": "save", f"stage-{meeting.pk}-name": "Meeting",
        f"stage-{meeting.pk}-forecast_category": "closed"}, follow=True)
    assert "Forecast category: Select a valid choice." in text(refused)
    assert Stage.objects.get(pk=meeting.pk).forecast_category == "best_case"
    # Back to automatic; and a new stage may name one from the start.
    client.post(reverse("pipelines:stage_update", args=[pipeline.pk, meeting.pk]), {
        "action": "save", f"stage-{meeting.pk}-name": "Meeting",
        f"stage-{meeting.pk}-forecast_category": ""})
    assert Stage.objects.get(pk=meeting.pk).forecast_category == ""
    prefix = f"new-stage-{pipeline.pk}"
    client.post(reverse("pipelines:stage_create", args=[pipeline.pk]), {
        f"{prefix}-name": "Verbal yes", f"{prefix}-probability": "60",
        f"{prefix}-forecast_category": "commit"})
    assert Stage.objects.get(name="Verbal yes").forecast_category == "commit"
    # Others read it.
    shown = text(login(org.manager_a).get(reverse("pipelines:list")))
    assert "Verbal yes · Forecast: commit" in shown and "Meeting · Forecast: pipeline (auto)" in shown


def test_refusals_are_shown(login, org, pipeline, stages):
    deal(org.admin, stage_id=stages["Meeting"].pk)
    client = login(org.admin)
    response = client.post(reverse("pipelines:stage_delete", args=[pipeline.pk, stages["Meeting"].pk]),
                           follow=True)
    assert "1 deal is in this stage; move them to another stage first." in text(response)
    other = services.pipeline_create(actor=org.admin, data={"name": "Other", "is_default": True})
    deal(org.admin, pipeline_id=other.pk)
    response = client.post(reverse("pipelines:delete", args=[other.pk]), follow=True)
    assert "The default pipeline cannot be deleted" in text(response)
    response = client.post(reverse("pipelines:delete", args=[pipeline.pk]), follow=True)
    assert "move them to another pipeline first" in text(response)
    stale = client.post(reverse("pipelines:update", args=[pipeline.pk]),
                        {"action": "rename", "name": "X", "version": 999}, follow=True)
    assert "changed by someone else" in text(stale)
    assert Stage.objects.filter(pk=stages["Meeting"].pk).exists()


def test_an_admin_manages_lost_reasons(login, org, stages, reason):
    client = login(org.admin)
    response = client.post(reverse("pipelines:reason_create"), {"name": "price"})
    assert response.status_code == 200 and "A lost reason named “price” exists." in text(response)
    client.post(reverse("pipelines:reason_create"), {"name": "Legal"})
    legal = LostReason.objects.get(name="Legal")
    client.post(reverse("pipelines:reason_update", args=[legal.pk]),
                {"action": "rename", "name": "Legal review"})
    client.post(reverse("pipelines:reason_update", args=[legal.pk]), {"action": "deactivate"})
    legal.refresh_from_db()
    assert (legal.name, legal.active) == ("Legal review", False)
    # An inactive reason is offered no more.
    record = deal(org.admin)
    lost_page = client.get(reverse("deals:lost", args=[record.pk])).content.decode()
    reasons = re.search(r'<select name="lost_reason_id".*?</select>', lost_page, flags=re.S).group(0)
    assert "Price" in reasons and "Legal review" not in reasons
    client.post(reverse("pipelines:reason_delete", args=[legal.pk]))
    assert not LostReason.objects.filter(pk=legal.pk).exists()
    services.deal_move(actor=org.admin, deal_id=record.pk, status="lost", lost_reason_id=reason.pk)
    response = client.post(reverse("pipelines:reason_delete", args=[reason.pk]), follow=True)
    assert "switch it off" in text(response) and LostReason.objects.filter(pk=reason.pk).exists()
