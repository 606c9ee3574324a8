"""Products, price books and quotes: the arithmetic, numbering, the approval rule and its
bypass attempts, the PDF, sending by email (to a real SMTP server), and the customer's
signed public link (tampered, expired, reused)."""

import datetime
import io
import threading
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core import signing
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from rapport.accounts.services import user_create
from rapport.activities.models import Activity
from rapport.contacts.services import company_create, contact_create
from rapport.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from rapport.core.models import Event
from rapport.sales import quote_pdf, quote_services
from rapport.sales.models import Deal, Quote, QuoteLine, QuoteStatus
from rapport.sales.quote_services import (
    effective_discount,
    line_amounts,
    price_lines,
    public_token,
    quote_approve,
    quote_create,
    quote_reject,
    quote_revise,
    quote_send,
    quote_submit,
    quote_totals,
    quote_update,
)
from rapport.sales.services import deal_contact_add, deal_create
from tests.conftest import PASSWORD

BASE = "http://testserver"
CENT = Decimal("0.01")


# Fixtures ----------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hank(org):
    company = company_create(actor=org.sales_a1, data={"name": "Globex"})
    return contact_create(actor=org.sales_a1, data={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example",
        "company_id": company.pk})


@pytest.fixture
def deal(org, hank):
    deal = deal_create(actor=org.sales_a1, data={"name": "Globex renewal", "amount": "5000",
                                                  "currency": "EUR", "company_id": hank.company_id})
    deal_contact_add(actor=org.sales_a1, deal_id=deal.pk, contact_id=hank.pk, role="champion")
    return deal


@pytest.fixture
def book(org):
    return quote_services.price_book_create(actor=org.admin, data={"name": "Standard EUR",
                                                                   "currency": "EUR"})


@pytest.fixture
def widget(org, book):
    return quote_services.product_create(actor=org.manager_a, data={
        "name": "Widget Pro", "sku": "WID-1", "tax_rate": "20", "description": "The good one.",
        "prices": [{"price_book_id": book.pk, "unit_price": "120.00"}]})


def draft(actor, deal, *lines, **data):
    return quote_create(actor=actor, data={"deal_id": deal.pk, "lines": list(lines), **data})


def line(name="Consulting", quantity="1", unit_price="100.00", **more):
    return {"name": name, "quantity": quantity, "unit_price": unit_price, **more}


def types(quote):
    return list(Event.objects.filter(object_type="quote", object_id=quote.pk)
                .order_by("id").values_list("type", flat=True))


def sent_quote(org, deal, **data):
    quote = draft(org.sales_a1, deal, line(), **data)
    return quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)


def public(quote):
    return f"/q/{public_token(quote)}/"


# Arithmetic --------------------------------------------------------------------------------

def test_a_line_is_rounded_half_up_to_cents_at_each_step():
    a = line_amounts(Decimal("3"), Decimal("19.99"), Decimal("12.5"), Decimal("20"))
    # 59.97 × 12.5 % = 7.49625 → 7.50; 52.47 × 20 % = 10.494 → 10.49
    assert (a.amount, a.discount, a.net, a.tax, a.total) == (
        Decimal("59.97"), Decimal("7.50"), Decimal("52.47"), Decimal("10.49"), Decimal("62.96"))
    half = line_amounts(Decimal("1"), Decimal("0.01"), Decimal("50"), Decimal("0"))
    assert half.discount == Decimal("0.01") and half.net == Decimal("0.00")  # 0.005 rounds up
    tax = line_amounts(Decimal("0.5"), Decimal("0.25"), Decimal("0"), Decimal("10"))
    assert tax.amount == Decimal("0.13") and tax.tax == Decimal("0.01")  # 0.125 → 0.13


money = st.decimals(min_value=0, max_value=Decimal("1000000"), places=2,
                    allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("10000"), places=3,
                         allow_nan=False, allow_infinity=False)
lines_strategy = st.lists(st.tuples(quantities, money, percents, percents), min_size=1, max_size=25)


@given(lines_strategy, percents | st.just(Decimal("0")))
@settings(max_examples=300, deadline=None)
def test_totals_always_equal_the_sum_of_the_rounded_lines(raw, quote_discount):
    bases = []
    for q, price, discount, tax in raw:
        a = line_amounts(q, price, discount, tax)
        for value in (a.amount, a.discount, a.net, a.tax, a.total):
            assert value == value.quantize(CENT)  # every figure is in whole cents
        assert a.amount == a.discount + a.net and a.total == a.net + a.tax
        assert abs(a.amount - q * price) <= Decimal("0.005")
        assert Decimal(0) <= a.discount <= a.amount and a.tax >= 0
        bases.append((a, tax))
    # The quote's discount, after the lines' and before tax, shared out over the lines.
    priced = price_lines(bases, quote_discount)
    nets = sum(a.net for a, _ in bases)
    whole = (nets * quote_discount / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    assert sum(p.quote_discount for p in priced) == whole  # what a customer works out
    rows = []
    for (base, tax), (_, _, discount, _), p in zip(bases, raw, priced, strict=True):
        for value in (p.quote_discount, p.tax, p.total):
            assert value == value.quantize(CENT)
        assert (p.amount, p.discount, p.net) == (base.amount, base.discount, base.net)
        assert Decimal(0) <= p.quote_discount <= p.net
        if nets:  # each share is its line's part of the discount, to the cent
            assert abs(p.quote_discount - whole * p.net / nets) < CENT
        assert p.tax == ((p.net - p.quote_discount) * tax / 100).quantize(
            CENT, rounding=ROUND_HALF_UP)
        assert p.total == p.net - p.quote_discount + p.tax and p.total >= 0
        rows.append(QuoteLine(amount=p.amount, discount_amount=p.discount,
                              quote_discount_amount=p.quote_discount, tax_amount=p.tax,
                              total=p.total, discount_percent=discount))
    totals = quote_totals(rows, quote_discount)
    assert totals.total == sum(row.total for row in rows)
    assert totals.tax_total == sum(row.tax_amount for row in rows)
    assert totals.quote_discount_amount == whole
    assert totals.discount_total == sum(row.discount_amount for row in rows) + whole
    assert totals.total == totals.subtotal - totals.discount_total + totals.tax_total
    largest = max(row.discount_percent for row in rows)
    assert totals.max_discount == effective_discount(largest, quote_discount)
    assert max(largest, quote_discount) <= totals.max_discount <= 100
    exact = 100 - (100 - largest) * (100 - quote_discount) / 100
    assert Decimal(0) <= totals.max_discount - exact < CENT  # rounded up, never down
    if not quote_discount:  # no quote discount: exactly the lines as they were
        assert [p.total for p in priced] == [a.total for a, _ in bases]
        assert totals.max_discount == largest


def test_the_quote_discount_is_shared_out_in_cents_that_add_up():
    # 3 lines of 0.01 with 50 % off the quote: 0.015 → 0.02 in all, one cent on each of two.
    bases = [(line_amounts(Decimal("1"), Decimal("0.01"), Decimal("0"), Decimal("0")), Decimal(0))
             for _ in range(3)]
    assert [p.quote_discount for p in price_lines(bases, Decimal("50"))] == [
        Decimal("0.01"), Decimal("0.01"), Decimal("0.00")]
    # 100 and 200 with 10 % off the quote and 20 % tax on the second line only.
    bases = [(line_amounts(Decimal("1"), Decimal("100"), Decimal("0"), Decimal("0")), Decimal(0)),
             (line_amounts(Decimal("1"), Decimal("200"), Decimal("0"), Decimal("20")),
              Decimal("20"))]
    first, second = price_lines(bases, Decimal("10"))
    assert (first.quote_discount, first.tax, first.total) == (
        Decimal("10.00"), Decimal("0.00"), Decimal("90.00"))
    assert (second.quote_discount, second.tax, second.total) == (
        Decimal("20.00"), Decimal("36.00"), Decimal("216.00"))
    assert effective_discount(Decimal("15"), Decimal("10")) == Decimal("23.50")
    assert effective_discount(Decimal("33.33"), Decimal("0.01")) == Decimal("33.34")  # 33.336667


@given(st.lists(st.tuples(quantities, money, percents, percents), min_size=1, max_size=6),
       percents, percents)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_a_stored_quote_adds_up_to_its_stored_lines(org, deal, raw, quote_discount, changed):
    quote = draft(org.sales_a1, deal, *[
        line(f"Item {i}", str(q), str(price), discount_percent=str(d), tax_rate=str(t))
        for i, (q, price, d, t) in enumerate(raw)], discount_percent=str(quote_discount))

    def adds_up(quote):
        quote.refresh_from_db()
        stored = list(quote.lines.all())
        assert quote.total == sum(row.total for row in stored)
        assert quote.subtotal == sum(row.amount for row in stored)
        assert quote.quote_discount_amount == sum(row.quote_discount_amount for row in stored)
        assert quote.discount_total == sum(row.discount_amount for row in stored) + \
            quote.quote_discount_amount
        assert quote.tax_total == sum(row.tax_amount for row in stored)
        assert quote.total == quote.subtotal - quote.discount_total + quote.tax_total
        for row in stored:
            assert row.total == row.net_amount - row.quote_discount_amount + row.tax_amount
        # As if priced afresh: a change of the discount alone reprices the stored lines.
        fresh = quote_services.quote_preview(quote=quote, lines=[
            line(row.name, str(row.quantity), str(row.unit_price),
                 discount_percent=str(row.discount_percent), tax_rate=str(row.tax_rate))
            for row in stored])
        assert (fresh.totals.total, fresh.totals.tax_total, fresh.totals.discount_total) == (
            quote.total, quote.tax_total, quote.discount_total)

    adds_up(quote)
    adds_up(quote_update(actor=org.sales_a1, quote_id=quote.pk,
                         data={"discount_percent": str(changed)}))


def test_a_product_line_takes_its_price_tax_and_name_from_the_catalogue(org, deal, widget):
    quote = draft(org.sales_a1, deal, {"product_id": widget.pk, "quantity": "2"},
                  line("Setup", "1", "50.00"))
    first, second = quote.lines.order_by("position")
    assert (first.name, first.sku, first.unit_price, first.tax_rate, first.description) == (
        "Widget Pro", "WID-1", Decimal("120.00"), Decimal("20.00"), "The good one.")
    assert first.total == Decimal("288.00") and second.total == Decimal("50.00")
    assert (quote.subtotal, quote.tax_total, quote.total) == (
        Decimal("290.00"), Decimal("48.00"), Decimal("338.00"))
    assert quote.currency == "EUR" and quote.contact.email == "hank@globex.example"


@pytest.mark.parametrize(("lines", "field", "message"), [
    ([line(quantity="0")], "lines[0].quantity", "above 0"),
    ([line(quantity="1.0001")], "lines[0].quantity", "3 decimal places"),
    ([line(unit_price="-1")], "lines[0].unit_price", "at least 0"),
    ([line(unit_price="9.999")], "lines[0].unit_price", "2 decimal places"),
    ([line(discount_percent="100.01")], "lines[0].discount_percent", "at most 100"),
    ([line(tax_rate="abc")], "lines[0].tax_rate", "Enter a number"),
    ([line(name="")], "lines[0].name", "Name the product"),
    ([{"name": "No price"}], "lines[0].unit_price", "Enter a unit price"),
    ([{"product_id": 999999}], "lines[0].product_id", "No such product"),
    ([line(colour="red")], "lines[0].colour", "Unknown field"),
    ([line(quantity="999999999", unit_price="999999999")], "lines[0].quantity", "more than"),
    ([line(quantity="999999999", unit_price="99999999", discount_percent="100")],
     "lines[0].quantity", "more than"),
    ([line(unit_price="9999999999999.99")] * 2, "lines", "more than it can hold"),
])
def test_bad_lines_are_refused_by_name(org, deal, lines, field, message):
    with pytest.raises(ValidationFailed) as caught:
        draft(org.sales_a1, deal, *lines)
    assert message in " ".join(caught.value.fields[field]), caught.value.fields
    assert not Quote.objects.exists()


def test_a_product_without_a_price_in_the_book_needs_one_typed(org, deal, widget):
    gbp = quote_services.price_book_create(actor=org.admin, data={"name": "UK", "currency": "GBP"})
    other = quote_services.product_create(actor=org.admin, data={"name": "Gadget"})
    with pytest.raises(ValidationFailed) as caught:
        draft(org.sales_a1, deal, {"product_id": other.pk})
    assert "no price in the price book “Standard EUR”" in caught.value.fields[
        "lines[0].unit_price"][0]
    with pytest.raises(ValidationFailed) as caught:
        draft(org.sales_a1, deal, line(), price_book_id=gbp.pk)
    assert "Choose a EUR price book" in caught.value.fields["price_book_id"][0]
    quote = draft(org.sales_a1, deal, {"product_id": other.pk, "unit_price": "9.50"})
    assert quote.total == Decimal("9.50")


def test_a_product_switched_off_stays_on_its_quotes_but_not_on_new_lines(org, deal, widget):
    quote = draft(org.sales_a1, deal, {"product_id": widget.pk})
    quote_services.product_update(actor=org.admin, product_id=widget.pk, data={"active": False})
    kept = quote_update(actor=org.sales_a1, quote_id=quote.pk, data={"lines": [
        {"id": quote.lines.get().pk, "product_id": widget.pk, "quantity": "3"}]})
    assert kept.total == Decimal("432.00")
    with pytest.raises(ValidationFailed, match="switched off"):
        draft(org.sales_a1, deal, {"product_id": widget.pk})
    with pytest.raises(Conflict, match="switch it off"):
        quote_services.product_delete(actor=org.admin, product_id=widget.pk)


def test_skus_are_unique_whatever_their_case_and_only_managers_edit_the_catalogue(org, widget):
    with pytest.raises(Conflict) as caught:
        quote_services.product_create(actor=org.admin, data={"name": "Copy", "sku": "wid-1"})
    assert "sku" in caught.value.fields
    with pytest.raises(PermissionDenied):
        quote_services.product_create(actor=org.sales_a1, data={"name": "Mine"})
    with pytest.raises(PermissionDenied):
        quote_services.price_book_create(actor=org.marketing, data={"name": "X", "currency": "USD"})


def test_one_default_price_book_per_currency(org, book):
    assert book.is_default  # the first of its currency
    second = quote_services.price_book_create(actor=org.admin, data={
        "name": "Partners EUR", "currency": "EUR", "is_default": True})
    book.refresh_from_db()
    assert second.is_default and not book.is_default
    usd = quote_services.price_book_create(actor=org.admin, data={"name": "US", "currency": "usd"})
    assert usd.is_default and usd.currency == "USD"
    with pytest.raises(ValidationFailed):
        quote_services.price_book_update(actor=org.admin, price_book_id=usd.pk,
                                         data={"active": False})


# Numbering ---------------------------------------------------------------------------------

def test_quotes_are_numbered_per_year_and_never_twice(org, deal):
    year = timezone.localdate().year
    first, second = draft(org.sales_a1, deal), draft(org.sales_a1, deal)
    assert (first.number, second.number) == (f"Q-{year}-0001", f"Q-{year}-0002")
    quote_services.quote_delete(actor=org.sales_a1, quote_id=second.pk)
    assert draft(org.sales_a1, deal).number == f"Q-{year}-0003"  # a deleted number stays used
    assert quote_services.next_number(year + 1) == f"Q-{year + 1}-0001"


@pytest.mark.django_db(transaction=True)
def test_quotes_created_at_once_get_different_numbers(org, deal):
    barrier, numbers, errors = threading.Barrier(6), [], []

    def create():
        try:
            barrier.wait()
            numbers.append(draft(org.sales_a1, deal, line()).number)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    year = timezone.localdate().year
    assert sorted(numbers) == [f"Q-{year}-{n:04d}" for n in range(1, 7)]


# Approval ----------------------------------------------------------------------------------

def test_a_discount_over_the_limit_needs_approval_and_approvers_get_a_task(org, deal):
    quote = draft(org.sales_a1, deal, line(discount_percent="25"))
    assert quote_services.approval_reasons(quote) == [
        "a line is discounted 25 %, over the 20 % limit"]
    quote = quote_submit(actor=org.sales_a1, quote_id=quote.pk, comment="Big customer")
    assert quote.status == QuoteStatus.PENDING_APPROVAL and quote.submitted_by == org.sales_a1
    [task] = Activity.objects.filter(kind="task", pk__in=quote.approval_task_ids)
    assert task.assignee == org.manager_a and task.deal_id == deal.pk
    assert task.subject.startswith(f"Approve quote {quote.number}") and "Big customer" in task.body
    assert types(quote)[-1] == "quote.submitted"
    assert Event.objects.get(type="quote.submitted").data["reasons"] == quote_services.approval_reasons(
        quote)

    approved = quote_approve(actor=org.manager_a, quote_id=quote.pk, comment="OK this once")
    assert approved.status == QuoteStatus.APPROVED and approved.approved_by == org.manager_a
    task.refresh_from_db()
    assert task.completed_at is not None
    assert Activity.objects.filter(kind="task", assignee=org.sales_a1,
                                   subject__startswith=f"Send quote {quote.number}").exists()
    assert Event.objects.get(type="quote.approved").data["comment"] == "OK this once"


def test_a_total_over_the_limit_needs_approval_too(org, deal):
    quote_services.quote_settings_update(actor=org.admin, data={"approval_total_limit": "1000"})
    small = draft(org.sales_a1, deal, line(unit_price="1000.00"))
    big = draft(org.sales_a1, deal, line(unit_price="1000.01"))
    assert quote_services.approval_reasons(small) == []
    assert "over the 1,000.00 limit" in quote_services.approval_reasons(big)[0]
    with pytest.raises(PermissionDenied):
        quote_services.quote_settings_update(actor=org.manager_a, data={"approval_total_limit": None})


def test_a_quote_within_the_limits_is_sent_without_approval(org, deal, smtp):
    quote = draft(org.sales_a1, deal, line(discount_percent="20"))  # at the limit, not over
    with pytest.raises(Conflict, match="needs no approval"):
        quote_submit(actor=org.sales_a1, quote_id=quote.pk)
    sent = quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    assert sent.status == QuoteStatus.SENT


def test_rejecting_needs_a_reason_and_sends_the_quote_back_as_a_draft(org, deal):
    quote = draft(org.sales_a1, deal, line(discount_percent="30"))
    quote_submit(actor=org.sales_a1, quote_id=quote.pk)
    with pytest.raises(ValidationFailed) as caught:
        quote_reject(actor=org.manager_a, quote_id=quote.pk, comment="  ")
    assert "comment" in caught.value.fields
    rejected = quote_reject(actor=org.manager_a, quote_id=quote.pk, comment="30 % is too much")
    assert rejected.status == QuoteStatus.DRAFT and rejected.rejected_by == org.manager_a
    assert rejected.review_comment == "30 % is too much"
    assert types(quote)[-1] == "quote.rejected"
    assert Activity.objects.filter(kind="task", assignee=org.sales_a1, priority="high",
                                   subject__contains="was rejected").exists()
    fixed = quote_update(actor=org.sales_a1, quote_id=quote.pk, data={
        "lines": [{"id": quote.lines.get().pk, **line(discount_percent="15")}]})
    assert quote_services.approval_reasons(fixed) == []


@pytest.mark.parametrize(("who", "refusal"), [
    ("sales_a1", PermissionDenied),  # sees the deal, but sellers do not approve
    ("sales_a2", NotFound), ("marketing", NotFound),  # cannot see the deal at all
])
def test_only_managers_and_admins_approve(org, deal, who, refusal):
    quote = draft(org.sales_a1, deal, line(discount_percent="30"))
    quote_submit(actor=org.sales_a1, quote_id=quote.pk)
    with pytest.raises(refusal):
        quote_approve(actor=getattr(org, who), quote_id=quote.pk)
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.PENDING_APPROVAL


def test_approval_bypass_attempts_in_the_services(org, deal, smtp):
    quote = draft(org.sales_a1, deal, line(discount_percent="30"))
    # Sending first: refused, with the reason.
    with pytest.raises(Conflict, match="needs a manager's approval"):
        quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    # Approving a draft nobody submitted.
    with pytest.raises(Conflict):
        quote_approve(actor=org.manager_a, quote_id=quote.pk)
    # A manager of another team cannot see the deal at all.
    b_manager = user_create(actor=org.admin, email="manager.b@acme.example", full_name="Bea",
                            role="manager", team_id=org.team_b.pk, password=PASSWORD)
    quote_submit(actor=org.sales_a1, quote_id=quote.pk)
    with pytest.raises(NotFound):
        quote_approve(actor=b_manager, quote_id=quote.pk)
    # Pending: neither edited nor sent.
    with pytest.raises(Conflict):
        quote_update(actor=org.sales_a1, quote_id=quote.pk, data={"terms": "x"})
    with pytest.raises(Conflict, match="once a manager approves"):
        quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    quote_approve(actor=org.manager_a, quote_id=quote.pk)
    # Approved: the lines cannot grow a bigger discount afterwards...
    with pytest.raises(Conflict, match="only a draft"):
        quote_update(actor=org.sales_a1, quote_id=quote.pk, data={
            "lines": [line(discount_percent="90")]})
    # ... and taking it back to a draft voids the approval.
    quote_revise(actor=org.sales_a1, quote_id=quote.pk)
    with pytest.raises(Conflict, match="needs a manager's approval"):
        quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    assert smtp.messages == []


def test_a_manager_does_not_approve_their_own_quote_but_an_admin_may(org, deal):
    quote = draft(org.manager_a, deal, line(discount_percent="30"))
    quote_submit(actor=org.manager_a, quote_id=quote.pk)
    with pytest.raises(PermissionDenied, match="another manager or an admin"):
        quote_approve(actor=org.manager_a, quote_id=quote.pk)
    tasks = Activity.objects.filter(pk__in=Quote.objects.get(pk=quote.pk).approval_task_ids)
    assert {t.assignee for t in tasks} == {org.admin}  # the only other approver
    assert quote_approve(actor=org.admin, quote_id=quote.pk).status == QuoteStatus.APPROVED
    own = draft(org.admin, deal, line(discount_percent="30"))
    quote_submit(actor=org.admin, quote_id=own.pk)
    assert quote_approve(actor=org.admin, quote_id=own.pk).status == QuoteStatus.APPROVED


def test_quotes_are_seen_by_whoever_sees_the_deal(org, deal):
    quote = draft(org.sales_a1, deal, line())
    for user, sees in ((org.sales_a1, True), (org.manager_a, True), (org.admin, True),
                       (org.sales_a2, False), (org.sales_b1, False)):
        assert quote_services.quote_visible(user=user, pk=quote.pk).exists() is sees
    with pytest.raises(NotFound):
        quote_update(actor=org.sales_a2, quote_id=quote.pk, data={"terms": "mine now"})
    with pytest.raises(ValidationFailed):
        quote_create(actor=org.sales_b1, data={"deal_id": deal.pk})


def test_edits_are_checked_against_the_version(org, deal):
    from rapport.core.errors import VersionConflict

    quote = draft(org.sales_a1, deal, line())
    quote_update(actor=org.sales_a1, quote_id=quote.pk, data={"terms": "Net 30"},
                 expected_version=1)
    with pytest.raises(VersionConflict):
        quote_update(actor=org.sales_a1, quote_id=quote.pk, data={"terms": "Net 60"},
                     expected_version=1)
    assert Quote.objects.get(pk=quote.pk).terms == "Net 30"
    assert Event.objects.filter(type="quote.updated").get().data["changes"]["terms"] == ["", "Net 30"]


# The PDF -----------------------------------------------------------------------------------

def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_pdf_holds_the_quote(org, deal, widget):
    quote = draft(org.sales_a1, deal, {"product_id": widget.pk, "quantity": "2"},
                  line("Onboarding & training", "1", "499.99", discount_percent="10"),
                  terms="Payment within 30 days.")
    content = quote_pdf.render_quote_pdf(quote)
    assert content.startswith(b"%PDF")
    text = pdf_text(content)
    for expected in (f"Quote {quote.number}", "Widget Pro", "WID-1", "Onboarding & training",
                     "Hank Scorpio", "Globex", "Payment within 30 days.", "€737.99",
                     "including €48.00 tax", "−€50.00", "After discount €689.99",
                     "not sent yet"):
        assert expected.lower() in text.lower(), (expected, text)


def test_the_quote_discount_shows_in_the_pdf_and_on_the_customers_page(org, deal, widget, smtp):
    quote = draft(org.sales_a1, deal, {"product_id": widget.pk, "quantity": "2"},
                  line("Onboarding", "1", "500.00", discount_percent="10"),
                  discount_percent="5")
    # 240 + 450 = 690 after the line's discount; 5 % = 34.50 (12.00 and 22.50);
    # 20 % tax on 228.00 = 45.60; total 655.50 + 45.60.
    assert (quote.quote_discount_amount, quote.discount_total, quote.total) == (
        Decimal("34.50"), Decimal("84.50"), Decimal("701.10"))
    text = pdf_text(quote_pdf.render_quote_pdf(quote))
    for expected in ("Line discounts −€50.00", "Quote discount (5 %) −€34.50",
                     "After discount €655.50", "Tax €45.60", "€701.10",
                     "after €84.50 discount (5 % off the whole quote included)"):
        assert expected.lower() in " ".join(text.split()).lower(), (expected, text)
    sent = quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    page = Client().get(public(sent)).content.decode()
    assert "Quote discount (5 %)" in page and "−€34.50" in page and "€701.10" in page


def test_a_discount_on_the_whole_quote_counts_towards_approval(org, deal):
    # 15 % on the line and 10 % on the quote: 23.5 % in effect, over the 20 % limit.
    quote = draft(org.sales_a1, deal, line(discount_percent="15"), discount_percent="10")
    assert quote.max_discount == Decimal("23.50")
    assert quote_services.approval_reasons(quote) == [
        "a line is discounted 23.5 % with the quote's 10 % discount, over the 20 % limit"]
    with pytest.raises(Conflict, match="needs a manager's approval"):
        quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    # Lowering either brings it within the limit: 15 % and 5 % make 19.25 %.
    fixed = quote_update(actor=org.sales_a1, quote_id=quote.pk, data={"discount_percent": "5"})
    assert fixed.max_discount == Decimal("19.25") and quote_services.approval_reasons(fixed) == []
    whole = draft(org.sales_a1, deal, line(), line("Setup"), discount_percent="20.01")
    assert quote_services.approval_reasons(whole) == [
        "the quote is discounted 20.01 %, over the 20 % limit"]
    assert quote_services.approval_reasons(
        draft(org.sales_a1, deal, line(), discount_percent="20")) == []  # at the limit
    with pytest.raises(ValidationFailed) as caught:
        draft(org.sales_a1, deal, line(), discount_percent="100.5")
    assert list(caught.value.fields) == ["discount_percent"]


def test_a_missing_pango_is_named_with_its_debian_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    with pytest.raises(quote_pdf.PdfUnavailable) as caught:
        quote_pdf._weasyprint()
    assert caught.value.status == 503
    assert "libpango-1.0-0 libpangoft2-1.0-0" in caught.value.message


# Sending -----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_sending_emails_the_pdf_and_the_link_and_logs_it_on_the_deal(org, deal, smtp, widget):
    quote = draft(org.sales_a1, deal, {"product_id": widget.pk})
    sent = quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    assert sent.status == QuoteStatus.SENT and sent.sent_to == ["hank@globex.example"]
    [received] = smtp.messages
    message = received["parsed"]
    assert received["rcpt_tos"] == ["hank@globex.example"]
    assert message["Subject"] == f"Quote {quote.number} from Sam Seller"
    body = message.get_body(("plain",)).get_content()
    assert "Hello Hank," in body and "for €144.00" in body
    assert f"{BASE}{public(quote)}" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{quote.number}.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert quote.number in pdf_text(attachment.get_content())
    activity = Activity.objects.get(kind="email")
    assert activity.deal_id == deal.pk and activity.email_status == "sent"
    assert Quote.objects.get(pk=quote.pk).email.status == "sent"
    assert types(quote) == ["quote.created", "quote.sent"]


@pytest.mark.django_db(transaction=True)
def test_a_quote_goes_to_a_chosen_address_with_the_sellers_message(org, deal, smtp):
    quote = draft(org.sales_a1, deal, line())
    quote_send(actor=org.sales_a1, quote_id=quote.pk, base_url=BASE, data={
        "to": ["Boss@Globex.example"], "subject": "Your quote", "message": "As discussed."})
    [received] = smtp.messages
    assert received["rcpt_tos"] == ["boss@globex.example"]
    body = received["parsed"].get_body(("plain",)).get_content()
    assert body.startswith("As discussed.") and public(quote) in body


def test_a_quote_without_lines_or_address_is_not_sent(org, deal, smtp):
    empty = draft(org.sales_a1, deal)
    with pytest.raises(ValidationFailed) as caught:
        quote_send(actor=org.sales_a1, quote_id=empty.pk, data={}, base_url=BASE)
    assert "lines" in caught.value.fields
    alone = deal_create(actor=org.sales_a1, data={"name": "No contacts", "currency": "EUR"})
    quote = draft(org.sales_a1, alone, line())
    with pytest.raises(ValidationFailed) as caught:
        quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    assert "to" in caught.value.fields


# The customer's link -----------------------------------------------------------------------

def test_opening_the_link_marks_the_quote_viewed_once(org, deal, smtp):
    quote = sent_quote(org, deal)
    client = Client()
    page = client.get(public(quote))
    assert page.status_code == 200
    assert quote.number in page.content.decode() and "Accept the quote" in page.content.decode()
    assert page.headers["Cache-Control"] == "private, no-store"
    client.get(public(quote))
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.VIEWED and quote.first_viewed_at is not None
    assert quote.view_count == 2 and types(quote).count("quote.viewed") == 1


def test_a_link_checker_s_head_request_is_no_view(org, deal, smtp):
    quote = sent_quote(org, deal)
    assert Client().head(public(quote)).status_code == 200
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT


def test_a_signed_in_colleague_only_previews(org, deal, smtp):
    quote = sent_quote(org, deal)
    client = Client()
    client.force_login(org.sales_a1)
    page = client.get(public(quote))
    assert "this is a preview" in page.content.decode()
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT
    refused = client.post(public(quote) + "accept/", {"full_name": "Sam Seller"})
    assert refused.status_code == 403 and Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT


def test_a_tampered_or_foreign_token_is_a_404(org, deal, smtp):
    quote = sent_quote(org, deal)
    token = public_token(quote)
    payload, _, signature = token.rpartition(":")
    other_payload = public_token(Quote(pk=quote.pk + 1, public_key=quote.public_key)).rpartition(
        ":")[0]
    tampered = [
        f"{payload}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # the signature
        f"{other_payload}:{signature}",  # another quote's id under this signature
        signing.Signer().sign_object([quote.pk, quote.public_key]),  # not for this purpose
        signing.Signer(salt="another purpose").sign_object([quote.pk, quote.public_key]),
        signing.dumps([quote.pk, quote.public_key], salt=quote_services.PUBLIC_SALT),  # timed
        "not-a-token",
    ]
    client = Client()
    for bad in tampered:
        assert client.get(f"/q/{bad}/").status_code == 404, bad
        assert client.post(f"/q/{bad}/accept/", {"full_name": "Eve"}).status_code == 404
    # A new key revokes every earlier link.
    Quote.objects.filter(pk=quote.pk).update(public_key="rotated")
    assert client.get(f"/q/{token}/").status_code == 404
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT


def test_a_draft_has_no_public_page(org, deal):
    quote = draft(org.sales_a1, deal, line())
    assert Client().get(public(quote)).status_code == 404


def test_accepting_records_the_name_time_and_address_and_wins_the_deal(org, deal, smtp):
    quote = sent_quote(org, deal)
    client = Client()
    client.get(public(quote))
    missing = client.post(public(quote) + "accept/", {"full_name": " "})
    assert missing.status_code == 422 and "Type your full name" in missing.content.decode()
    response = client.post(public(quote) + "accept/", {"full_name": "  Hank   Scorpio "},
                           HTTP_USER_AGENT="Phone/1.0")
    assert response.status_code == 302 and response.url == public(quote)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED and quote.accepted_name == "Hank Scorpio"
    assert quote.accepted_ip == "127.0.0.1" and quote.accepted_user_agent == "Phone/1.0"
    assert quote.accepted_at is not None and quote.deal_won
    won = Deal.objects.get(pk=deal.pk)
    assert won.status == "won" and won.won_at is not None
    won_event = Event.objects.get(type="deal.won", object_id=deal.pk)
    assert won_event.actor == org.sales_a1  # the seller who sent it, on the customer's word
    accepted = Event.objects.get(type="quote.accepted")
    assert accepted.data["accepted_name"] == "Hank Scorpio" and accepted.data["deal_won"]
    assert accepted.data["deal_won_as_user_id"] == org.sales_a1.pk and accepted.actor is None
    assert Activity.objects.filter(kind="task", assignee=org.sales_a1,
                                   subject=f"Quote {quote.number} accepted by Hank Scorpio").exists()
    page = client.get(public(quote)).content.decode()
    assert "Accepted" in page and "Accept the quote" not in page


def test_accepting_leaves_the_deal_alone_when_the_quote_says_so(org, deal, smtp):
    quote = sent_quote(org, deal, win_deal_on_accept=False)
    Client().post(public(quote) + "accept/", {"full_name": "Hank Scorpio"})
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.ACCEPTED
    assert Deal.objects.get(pk=deal.pk).status == "open"


def test_an_answer_cannot_be_changed(org, deal, smtp):
    quote = sent_quote(org, deal)
    client = Client()
    declined = client.post(public(quote) + "decline/", {"reason": "Too <b>dear</b>"})
    assert declined.status_code == 302
    again = client.post(public(quote) + "accept/", {"full_name": "Hank Scorpio"})
    assert again.status_code == 409 and "already declined" in again.content.decode()
    twice = client.post(public(quote) + "decline/", {"reason": "Really"})
    assert twice.status_code == 409
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DECLINED and quote.decline_reason == "Too <b>dear</b>"
    page = client.get(public(quote)).content.decode()
    assert "Declined" in page and "Too &lt;b&gt;dear&lt;/b&gt;" in page and "<b>dear" not in page
    assert Deal.objects.get(pk=deal.pk).status == "open"
    assert types(quote).count("quote.declined") == 1


def test_an_expired_quote_says_so_and_cannot_be_accepted(org, deal, smtp):
    quote = sent_quote(org, deal)
    Quote.objects.filter(pk=quote.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1))
    client = Client()
    page = client.get(public(quote))
    assert page.status_code == 410 and "This quote has expired" in page.content.decode()
    assert "Accept the quote" not in page.content.decode()
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.EXPIRED and quote.expired_at is not None
    refused = client.post(public(quote) + "accept/", {"full_name": "Hank Scorpio"})
    assert refused.status_code == 409
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.EXPIRED
    assert types(quote).count("quote.expired") == 1
    with pytest.raises(Conflict):
        quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)


def test_an_answer_after_the_date_expires_the_quote_instead(org, deal, smtp):
    quote = sent_quote(org, deal)
    Quote.objects.filter(pk=quote.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1))
    response = Client().post(public(quote) + "accept/", {"full_name": "Hank Scorpio"})
    assert response.status_code == 302  # back to the page, which shows it expired
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.EXPIRED
    assert Deal.objects.get(pk=deal.pk).status == "open"


def test_the_hourly_sweep_expires_quotes_past_their_date(org, deal, smtp):
    quote = sent_quote(org, deal)
    fresh = sent_quote(org, deal)
    Quote.objects.filter(pk=quote.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1))
    assert quote_services.quotes_expire_due() == 1
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.EXPIRED
    assert Quote.objects.get(pk=fresh.pk).status == QuoteStatus.SENT


def test_the_public_page_escapes_what_it_shows_and_has_no_inline_script(org, deal, smtp):
    quote = draft(org.sales_a1, deal, line("<script>alert(1)</script>", description="<img src=x>"),
                  terms="<b>Terms</b>")
    quote = quote_send(actor=org.sales_a1, quote_id=quote.pk, data={}, base_url=BASE)
    html = Client().get(public(quote)).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x>" not in html and "<b>Terms</b>" not in html
    assert "<script" not in html and ' style="' not in html  # the CSP allows neither
    assert 'name="viewport"' in html and 'name="csrfmiddlewaretoken"' in html


def test_the_public_forms_need_the_csrf_token(org, deal, smtp):
    quote = sent_quote(org, deal)
    client = Client(enforce_csrf_checks=True)
    assert client.post(public(quote) + "accept/", {"full_name": "Eve"}).status_code == 403
    assert Quote.objects.get(pk=quote.pk).status == QuoteStatus.SENT


def test_the_public_page_is_rate_limited(org, deal, smtp, monkeypatch):
    from rapport.sales import public_quote_views

    monkeypatch.setitem(public_quote_views.LIMITS, "view", 3)
    quote = sent_quote(org, deal)
    client = Client()
    statuses = [client.get(public(quote)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.get(public(quote))
    assert int(limited.headers["Retry-After"]) >= 1


def test_the_customer_downloads_the_pdf(org, deal, smtp):
    quote = sent_quote(org, deal)
    response = Client().get(public(quote) + "pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert quote.number in pdf_text(response.content)
    links = [annotation.get_object()["/A"]["/URI"]
             for page in PdfReader(io.BytesIO(response.content)).pages
             for annotation in page.get("/Annots", [])]
    assert set(links) == {f"http://testserver{public(quote)}"}


def test_deal_page_include_lists_the_quotes(org, deal):
    from django.template.loader import render_to_string

    from rapport.sales.quote_selectors import deal_quotes

    first = draft(org.sales_a1, deal, line())
    html = render_to_string("sales/quotes/_deal_quotes.html",
                            {"deal": deal, "quotes": deal_quotes(deal=deal)})
    assert first.number in html and f"/quotes/new/?deal_id={deal.pk}" in html
    assert "€100.00" in html and "Draft" in html
