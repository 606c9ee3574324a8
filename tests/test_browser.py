"""A day in the CRM, in real Chromium driven by Playwright (Debian's /usr/bin/chromium)."""

import re

import pytest

from rapport.accounts.roles import Role
from rapport.accounts.services import user_create

PASSWORD = "Browser-pass-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server):
    user_create(actor=None, email="dana@acme.example", full_name="Dana Demo", role=Role.ADMIN,
                password=PASSWORD)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login/")
    page.get_by_label("Email").fill("dana@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    yield page
    context.close()
    assert errors == [], errors  # no CSP violations or script errors on any page


def test_a_day_in_the_crm(page):
    from playwright.sync_api import expect

    # A company, then a contact at it.
    page.goto("/companies/new/")
    page.get_by_label("Name", exact=True).fill("Initech")
    page.get_by_label("Website").fill("initech.example")
    page.get_by_role("button", name="Create company").click()
    expect(page.get_by_role("heading", name="Initech")).to_be_visible()

    page.goto("/contacts/new/")
    page.get_by_label("First name").fill("Zoë")
    page.get_by_label("Last name").fill("Müller")
    page.get_by_label("Email", exact=True).fill("Zoe@Initech.example")
    page.get_by_label("Phone", exact=True).fill("+1 415 555 0134")
    page.get_by_label("Company").select_option(label="Initech")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", name="Zoë Müller")).to_be_visible()
    expect(page.get_by_text("zoe@initech.example").first).to_be_visible()
    contact_url = page.url

    # A note, inline, without a page load.
    marker = page.evaluate("() => { window.__marker = 42; return window.__marker; }")
    page.get_by_label("Note").fill("Asked for **pricing**")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline").get_by_text("pricing")).to_be_visible()
    assert page.evaluate("() => window.__marker") == marker  # still the same page

    # A task, inline.
    page.locator("#composer").get_by_role("button", name=re.compile("Task")).click()
    page.locator("#composer").get_by_label("Task").fill("Send the proposal")
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#timeline").get_by_text("Send the proposal", exact=True)).to_be_visible()
    page.goto("/tasks/")
    expect(page.get_by_text("Send the proposal", exact=True)).to_be_visible()

    # Find the contact with the search box, accents and all.
    page.goto("/")
    page.keyboard.press("/")
    page.keyboard.type("mull")
    page.locator("#search-dropdown").get_by_text("Zoë Müller").click()
    page.wait_for_url(contact_url)

    # Edit, and see the history of the edit on the timeline.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Job title").fill("Chief Buyer")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#timeline").get_by_text("Chief Buyer")).to_be_visible()
    expect(page.locator("#timeline").get_by_text(re.compile("changed"))).to_be_visible()


def test_bad_input_shows_inline_errors_and_saves_nothing(page):
    from playwright.sync_api import expect

    from rapport.contacts.models import Contact

    page.goto("/contacts/new/")
    page.get_by_label("Email", exact=True).fill("not-an-email")
    page.get_by_label("Phone", exact=True).fill("12")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_text(re.compile("valid phone number"))).to_be_visible()
    assert Contact.all_objects.count() == 0


def test_pages_fit_a_phone(page):
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ["/", "/contacts/", "/companies/", "/tasks/", "/settings/", "/contacts/new/",
                 "/settings/webhooks/", "/settings/email/", "/settings/email/templates/",
                 "/settings/jobs/", "/automation/", "/automation/new/"]:
        page.goto(path)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 390px"


def test_writing_an_email_from_a_contact(page, settings, tmp_path):
    """Compose from the contact page, preview it merged, send it, see it sent on the timeline."""
    from playwright.sync_api import expect

    from rapport.accounts.models import User
    from rapport.contacts.services import contact_create

    settings.EMAIL_URL, settings.DATA_DIR = "", tmp_path  # the outbox folder: a real file per message
    dana = User.objects.get(email="dana@acme.example")
    contact = contact_create(actor=dana, data={"first_name": "Rosa", "last_name": "Parks",
                                               "email": "rosa@example.com"})
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/contacts/{contact.pk}/")
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page.get_by_label("To (required)")).to_have_value("rosa@example.com")
    page.get_by_label("Subject").fill("Hello {{ contact.first_name }}")
    page.get_by_label("Message").fill("Dear **{{ contact.first_name }}**, thank you.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".email-preview strong")).to_have_text("Rosa")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the compose page scrolls sideways by {overflow}px at 390px"
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Email queued")).to_be_visible()
    expect(page.locator("#timeline").get_by_text("Hello Rosa")).to_be_visible()
    expect(page.locator("#timeline .badge-done").first).to_have_text("Sent")
    assert len(list((tmp_path / "outbox").iterdir())) == 1
