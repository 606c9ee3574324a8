"""The deal board in real Chromium (Debian's /usr/bin/chromium through Playwright): drag a card
to another stage and see the totals change, drop one on Lost and give the reason (or cancel and
see it go back), move one with its "Move to…" menu, and use the board on a phone by touch."""

import re

import pytest

from rapport.accounts.roles import Role
from rapport.accounts.services import user_create
from rapport.contacts.services import company_create
from rapport.sales import services
from rapport.sales.models import Deal, LostReason, Stage

PASSWORD = "Browser-pass-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded(db):
    dana = user_create(actor=None, email="dana@acme.example", full_name="Dana Demo",
                       role=Role.ADMIN, password=PASSWORD)
    stages = {s.name: s for s in Stage.objects.filter(pipeline__is_default=True)}
    company = company_create(actor=dana, data={"name": "Initech"})

    def deal(name, amount, stage):
        return services.deal_create(actor=dana, data={
            "name": name, "amount": amount, "currency": "USD", "company_id": company.pk,
            "stage_id": stages[stage].pk})

    return {"stages": stages, "seats": deal("Initech seats", "2000", "Qualification"),
            "support": deal("Support plan", "500", "Qualification"),
            "proposal": deal("Pilot", "1000", "Proposal")}


def open_page(browser, live_server, **context_options):
    context = browser.new_context(base_url=live_server.url, **context_options)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto("/login/")
    page.get_by_label("Email").fill("dana@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    return context, page


@pytest.fixture
def page(browser, live_server, seeded):
    context, page = open_page(browser, live_server, viewport={"width": 1280, "height": 900})
    yield page
    context.close()
    assert page.errors == [], page.errors  # no CSP violations or script errors


def card(page, deal):
    return page.locator(f'[data-deal-card][data-deal-id="{deal.pk}"]')


def column(page, stage):
    return page.locator(f'[data-stage-column="{stage.pk}"]')


def drag(page, source, target):
    """Press on the card, move in small steps (as a hand does) towards the target, following
    it as the board reflows around the lifted card, rest over it, release."""
    start = source.locator(".deal-card-company").bounding_box()
    x, y = start["x"] + 10, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 27):
        end = target.bounding_box()
        to_x, to_y = end["x"] + end["width"] / 2, end["y"] + min(end["height"] / 2, 60)
        fraction = min(step, 20) / 20
        # Rest over the target at the end: SortableJS looks where the pointer is every 50 ms.
        page.mouse.move(x + (to_x - x) * fraction + step % 2, y + (to_y - y) * fraction)
        page.wait_for_timeout(15 if step < 20 else 40)
    page.mouse.up()


def test_dragging_a_card_to_another_stage_moves_it_and_updates_the_totals(page, seeded):
    from playwright.sync_api import expect

    stages, seats = seeded["stages"], seeded["seats"]
    page.goto("/deals/")
    qualification, proposal = column(page, stages["Qualification"]), column(page, stages["Proposal"])
    expect(qualification.locator("[data-totals]")).to_contain_text("$2,500")
    expect(proposal.locator("[data-totals]")).to_contain_text("$1,000 $500 weighted")
    marker = page.evaluate("() => { window.__marker = 7; return window.__marker; }")

    drag(page, card(page, seats), proposal.locator("[data-board-list]"))

    expect(proposal.locator("[data-totals]")).to_contain_text("$3,000 $1,500 weighted")
    expect(qualification.locator("[data-totals]")).to_contain_text("$500 $50 weighted")
    expect(proposal.locator("[data-count]")).to_have_text("2")
    expect(proposal.locator(f'[data-deal-id="{seats.pk}"]')).to_be_visible()
    expect(page.locator("[data-board-message] p")).to_have_text("Moved “Initech seats” to Proposal.")
    assert page.evaluate("() => window.__marker") == marker  # no page load
    moved = Deal.objects.get(pk=seats.pk)
    assert moved.stage == stages["Proposal"] and moved.version == seats.version + 1
    # The card carries the new version: a second drag works too.
    drag(page, card(page, seats), column(page, stages["Negotiation"]).locator("[data-board-list]"))
    expect(column(page, stages["Negotiation"]).locator("[data-totals]")).to_contain_text("$2,000")
    assert Deal.objects.get(pk=seats.pk).stage == stages["Negotiation"]


def test_dropping_on_lost_asks_the_reason_and_cancelling_puts_the_card_back(page, seeded):
    from playwright.sync_api import expect

    stages, seats, support = seeded["stages"], seeded["seats"], seeded["support"]
    page.goto("/deals/")
    lost_zone = page.locator('.drop-lost[data-board-list]')
    dialog = page.get_by_role("dialog")

    # Cancel: nothing changes and the card is back where it was.
    drag(page, card(page, support), lost_zone)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Mark “Support plan” as lost")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(column(page, stages["Qualification"]).locator(f'[data-deal-id="{support.pk}"]')).to_be_visible()
    assert Deal.objects.get(pk=support.pk).status == "open"

    # The reason is required; with it the deal is lost.
    drag(page, card(page, seats), lost_zone)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(dialog).to_be_visible()  # the browser asks for the required reason first
    dialog.get_by_label("Why was it lost?").select_option(label="Price")
    dialog.get_by_label("Note").fill("Went with the cheaper offer")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("[data-board-message] p")).to_have_text("“Initech seats” is marked lost.")
    expect(lost_zone.locator("[data-count]")).to_have_text("1")
    expect(card(page, seats)).to_have_count(0)
    expect(column(page, stages["Qualification"]).locator("[data-totals]")).to_contain_text("$500")
    lost = Deal.objects.get(pk=seats.pk)
    assert (lost.status, lost.lost_reason, lost.lost_note) == (
        "lost", LostReason.objects.get(name="Price"), "Went with the cheaper offer")


def test_dropping_on_won_asks_nothing(page, seeded):
    from playwright.sync_api import expect

    page.goto("/deals/")
    drag(page, card(page, seeded["proposal"]), page.locator('.drop-won[data-board-list]'))
    expect(page.locator('.drop-won [data-count]')).to_have_text("1")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert Deal.objects.get(pk=seeded["proposal"].pk).status == "won"


def test_lost_from_the_deal_page_asks_the_reason_in_a_dialog(page, seeded):
    from playwright.sync_api import expect

    seats = seeded["seats"]
    page.goto(f"/deals/{seats.pk}/")
    page.get_by_role("link", name="Lost").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Why was it lost?")).to_be_focused()
    dialog.get_by_label("Why was it lost?").select_option(label="Timing")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(page.locator(".alert-error").get_by_text("Timing")).to_be_visible()
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    assert Deal.objects.get(pk=seats.pk).lost_reason.name == "Timing"


def test_the_move_menu_works_from_the_keyboard(page, seeded):
    from playwright.sync_api import expect

    stages, seats = seeded["stages"], seeded["seats"]
    page.goto("/deals/")
    menu = card(page, seats).locator("summary")
    menu.focus()
    page.keyboard.press("Enter")
    select = card(page, seats).get_by_label("Move “Initech seats” to")
    select.select_option(label="Meeting")
    select.press("Tab")
    page.keyboard.press("Enter")  # the Move button
    meeting = column(page, stages["Meeting"])
    expect(meeting.locator("[data-totals]")).to_contain_text("$2,000 $500 weighted")
    # Focus follows the card to its new column.
    expect(meeting.locator(f'[data-deal-id="{seats.pk}"] .deal-card-title')).to_be_focused()
    assert Deal.objects.get(pk=seats.pk).stage == stages["Meeting"]


def test_filters_refresh_the_board_in_place(page, seeded):
    from playwright.sync_api import expect

    Deal.objects.filter(pk=seeded["seats"].pk).update(expected_close_date="2026-12-15")
    page.goto("/deals/")
    page.get_by_label("Closing from").fill("2026-12-01")
    page.get_by_label("Closing by").fill("2026-12-31")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    expect(card(page, seeded["support"])).to_have_count(0)
    expect(card(page, seeded["seats"])).to_be_visible()
    assert "expected_close_date__gte=2026-12-01" in page.url
    expect(page.get_by_role("link", name="List")).to_have_attribute(
        "href", re.compile("expected_close_date__lte=2026-12-31"))
    # The refreshed board still drags, and keeps its filters after the move.
    proposal = column(page, seeded["stages"]["Proposal"])
    drag(page, card(page, seeded["seats"]), proposal.locator("[data-board-list]"))
    expect(proposal.locator("[data-totals]")).to_contain_text("$2,000")
    expect(card(page, seeded["support"])).to_have_count(0)
    assert Deal.objects.get(pk=seeded["seats"].pk).stage == seeded["stages"]["Proposal"]


def test_stages_are_dragged_into_order_in_settings(page, seeded):
    from playwright.sync_api import expect

    stages = seeded["stages"]
    page.goto("/settings/pipelines/")
    rows = page.locator(".stage-list [data-stage-id]")
    handle = page.locator(f'[data-stage-id="{stages["Negotiation"].pk}"] .stage-handle')
    first = page.locator(f'[data-stage-id="{stages["Qualification"].pk}"]')
    start, end = handle.bounding_box(), first.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 27):
        fraction = min(step, 20) / 20
        page.mouse.move(x + step % 2, y + (end["y"] + 4 - y) * fraction)
        page.wait_for_timeout(15 if step < 20 else 40)
    page.mouse.up()
    expect(page.get_by_text("Stages reordered.")).to_be_visible()  # saved, and the page reloaded
    names = [Stage.objects.get(pk=int(i)).name for i in
             rows.evaluate_all("rows => rows.map(r => r.dataset.stageId)")]
    assert names == ["Negotiation", "Qualification", "Meeting", "Proposal", "Won", "Lost"]
    assert list(Stage.objects.filter(pipeline=stages["Won"].pipeline).order_by("position")
                .values_list("name", flat=True)) == names


def test_a_stages_forecast_category_is_set_on_a_phone(browser, live_server, seeded):
    from playwright.sync_api import expect

    meeting = seeded["stages"]["Meeting"]
    context, page = open_page(browser, live_server, viewport={"width": 390, "height": 844},
                              has_touch=True, is_mobile=True)
    try:
        page.goto("/settings/pipelines/")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px at 390px"
        row = page.locator(f'[data-stage-id="{meeting.pk}"]')
        category = row.get_by_label("Forecast category of Meeting")
        expect(category).to_have_value("")
        box, line = category.bounding_box(), row.bounding_box()
        assert box["x"] >= line["x"] and box["x"] + box["width"] <= line["x"] + line["width"]
        category.select_option("commit")
        row.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Stage “Meeting” saved.")).to_be_visible()
        expect(page.locator(f'[data-stage-id="{meeting.pk}"]').get_by_label(
            "Forecast category of Meeting")).to_have_value("commit")
    finally:
        context.close()
    assert page.errors == [], page.errors
    assert Stage.objects.get(pk=meeting.pk).forecast_category == "commit"


def test_the_board_on_a_phone_scrolls_sideways_with_snap_and_takes_a_touch_drag(
        browser, live_server, seeded):
    from playwright.sync_api import expect

    context, page = open_page(browser, live_server, viewport={"width": 390, "height": 844},
                              has_touch=True, is_mobile=True, device_scale_factor=2)
    try:
        page.goto("/deals/")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px at 390px"
        board = page.locator(".board")
        sizes = board.evaluate("el => [el.scrollWidth, el.clientWidth, getComputedStyle(el).scrollSnapType]")
        assert sizes[0] > sizes[1] and "mandatory" in sizes[2]  # the columns scroll, with snap
        first = column(page, seeded["stages"]["Qualification"]).bounding_box()
        assert 300 <= first["width"] <= 390  # one readable column at a time, the next peeking
        won = page.locator('.drop-won[data-board-list]')
        expect(won).to_be_in_viewport()  # Won and Lost stay in reach at the bottom

        # A long press picks a card up; a finger drags it onto Won.
        target = card(page, seeded["seats"]).locator(".deal-card-company").bounding_box()
        session = context.new_cdp_session(page)
        x, y = target["x"] + 20, target["y"] + target["height"] / 2
        session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(400)  # longer than the board's touch delay
        for step in range(1, 27):
            goal = won.bounding_box()
            to_x, to_y = goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2
            fraction = min(step, 20) / 20
            session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
                {"x": x + (to_x - x) * fraction + step % 2, "y": y + (to_y - y) * fraction}]})
            page.wait_for_timeout(30)
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(page.locator(".drop-won [data-count]")).to_have_text("1")
        assert Deal.objects.get(pk=seeded["seats"].pk).status == "won"
        assert page.errors == [], page.errors
    finally:
        context.close()
