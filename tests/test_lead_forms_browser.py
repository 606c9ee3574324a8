"""A lead form's public page in real Chromium (Debian's /usr/bin/chromium through Playwright):
a visitor on a phone fills it in, is told what is missing, sends it and sees the thank-you;
the lead is there with the form's source and the assignment rule's owner. Also framed in
another page, as the embed code puts it."""

import pytest
from django.core.cache import cache

from rapport.accounts.roles import Role
from rapport.accounts.services import user_create
from rapport.sales import lead_form_services as services
from rapport.sales.lead_services import assignment_rule_create
from rapport.sales.models import Lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def lead_form(db, monkeypatch):
    cache.clear()
    # A person needs a moment; the test's robot one second, to stay quick.
    monkeypatch.setattr(services, "MIN_SECONDS", 1)
    admin = user_create(actor=None, email="ada@acme.example", full_name="Ada Admin",
                        role=Role.ADMIN, password="Browser-pass-2026")
    seller = user_create(actor=admin, email="sam@acme.example", full_name="Sam Seller",
                         role=Role.SALES, password="Browser-pass-2026")
    assignment_rule_create(actor=admin, data={"name": "To Sam", "action": "user",
                                              "user_id": seller.pk})
    form = services.lead_form_create(actor=admin, data={
        "name": "Book a demo", "organisation_name": "Acme Inc",
        "fields": [{"field": "first_name", "required": False},
                   {"field": "email", "required": True},
                   {"field": "company_name", "required": False}],
        "thank_you_message": "Thanks! Sam will call you today."})
    yield form, seller
    cache.clear()


def _watch(page):
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))


def test_a_visitor_on_a_phone_fills_in_the_form_and_is_thanked(browser, live_server, lead_form):
    form, seller = lead_form
    context = browser.new_context(base_url=live_server.url, **PHONE)
    page = context.new_page()
    _watch(page)
    page.goto(f"/f/{form.public_key}/")
    assert page.get_by_text("Acme Inc").is_visible()
    assert page.get_by_role("heading", name="Book a demo").is_visible()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Company").fill("Navy")
    page.wait_for_timeout(1100)
    page.evaluate("document.querySelector('form.record-form').noValidate = true")
    page.get_by_role("button", name="Send").click()  # without the email
    error = page.locator("#lf-email-error")
    error.wait_for()
    assert "required" in error.inner_text()
    assert page.get_by_label("First name").input_value() == "Grace"
    assert Lead.objects.count() == 0

    page.get_by_label("Email").fill("grace@navy.example")
    page.wait_for_timeout(1100)
    page.get_by_role("button", name="Send").tap()
    page.get_by_text("Thanks! Sam will call you today.").wait_for()
    assert page.url.endswith(f"/f/{form.public_key}/thanks/")
    lead = Lead.objects.get()
    assert (lead.first_name, lead.email, lead.source, lead.owner_id) == (
        "Grace", "grace@navy.example", "web_form", seller.pk)
    context.close()
    # The refused first try answers 422 (which Chromium logs); nothing else may go wrong.
    assert [e for e in page.errors if "status of 422" not in e] == [], page.errors


def test_the_form_works_framed_in_another_page(browser, live_server, lead_form):
    form, _ = lead_form
    # Chromium asks before a website frames a page on the local network (the live server):
    # granted, as a visitor of a site framing a public Rapport never needs to.
    context = browser.new_context(viewport={"width": 800, "height": 900},
                                  permissions=["local-network-access"])
    page = context.new_page()
    _watch(page)
    code = services.embed_code(f"{live_server.url}/f/{form.public_key}/", form.name)
    # The customer's website, on an origin of its own.
    site = "http://127.0.0.1:9/"
    page.route(site, lambda route: route.fulfill(
        content_type="text/html", body=f"<!doctype html><h1>Our site</h1>{code}"))
    page.goto(site)
    frame = page.frame_locator("iframe")
    frame.get_by_label("Email").fill("ada@lovelace.example")
    page.wait_for_timeout(1100)
    frame.get_by_role("button", name="Send").click()
    frame.get_by_text("Thanks! Sam will call you today.").wait_for()
    assert Lead.objects.get().email == "ada@lovelace.example"
    context.close()
