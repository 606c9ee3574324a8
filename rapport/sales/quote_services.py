"""Every write to products, price books and quotes: the UI, the API and the customer's public
page all come here.

Money is Decimal throughout. A quote line is rounded to cents (ROUND_HALF_UP) step by step:
amount = quantity × unit price, discount = amount × discount %, net = amount − discount,
tax = net × tax rate, total = net + tax. A discount on the whole quote comes after the line
discounts and before tax: the quote's discount (the sum of the nets × its %, in cents) is shared
out over the lines by their nets in whole cents that add up to it, and each line's tax is on
its net less its share (price_lines). The quote's subtotal, discount, tax and total are the
sums of its rounded lines, so the total always equals the sum of the lines a customer reads.

A quote's life: draft (editable) → pending_approval (when its largest effective discount, the
quote's own included, or its total passes the limits in QuoteSettings) → approved → sent →
viewed → accepted, declined or expired. `quote_send` refuses a quote that needs an approval it
has not had: the one rule no path (UI, API, job) can step round.

The customer's link is signed with Django's signing (its own salt) over the quote's id and a
random key kept on the quote; it stops working when the quote's valid-until date has passed.
"""

import dataclasses
import datetime
import logging
import secrets
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation, localcontext

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from rapport.accounts.models import User
from rapport.accounts.roles import Role
from rapport.contacts.selectors import contact_visible
from rapport.core import search
from rapport.core.cleaning import clean_fields, flag, listed, reference, required_text, text
from rapport.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RapportError,
    ValidationFailed,
    VersionConflict,
)
from rapport.core.events import record_event
from rapport.core.normalise import normalise_email
from rapport.core.permissions import is_admin
from rapport.sales.models import (
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
    QuoteLine,
    QuoteNumber,
    QuoteSettings,
    QuoteStatus,
)
from rapport.sales.quote_selectors import quote_settings, quote_visible
from rapport.sales.selectors import deal_contacts, deal_visible
from rapport.sales.services import MAX_AMOUNT, clean_currency

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
MAX_QUANTITY = Decimal("999999999.999")  # max_digits=12, decimal_places=3
MAX_LINES = 200
MAX_PRICES = 100
MAX_VALID_DAYS = 3650
PUBLIC_SALT = "rapport.sales.quotes.public-link"
OPEN_STATUSES = (QuoteStatus.SENT, QuoteStatus.VIEWED)
FINAL_STATUSES = (QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED)
APPROVER_ROLES = (Role.ADMIN, Role.MANAGER)


# Arithmetic --------------------------------------------------------------------------------

def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclasses.dataclass(frozen=True)
class LineAmounts:
    amount: Decimal  # quantity × unit price
    discount: Decimal  # the line's own discount
    net: Decimal  # amount − discount
    tax: Decimal  # on net − quote_discount
    total: Decimal  # net − quote_discount + tax
    quote_discount: Decimal = ZERO  # the line's share of the quote's discount


@dataclasses.dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount_total: Decimal  # every discount, the quote's included
    tax_total: Decimal
    total: Decimal
    max_discount: Decimal  # the largest effective discount of a line, in percent
    quote_discount_amount: Decimal = ZERO  # the part of discount_total the quote's % takes off


def line_amounts(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal,
                 tax_rate: Decimal) -> LineAmounts:
    """One line's money, each step rounded half up to cents."""
    with localcontext() as context:
        context.prec = 60  # exact for every value the columns can hold
        amount = cents(quantity * unit_price)
        discount = cents(amount * discount_percent / HUNDRED)
        net = amount - discount
        tax = cents(net * tax_rate / HUNDRED)
        return LineAmounts(amount, discount, net, tax, net + tax)


def share_out(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`amount` (whole cents) split over `weights` in proportion, in whole cents that add up to
    it exactly: each share rounded down, then the cents left over one each to the largest
    remainders (the earlier line on a tie). No share is above its weight when amount ≤ their
    sum and the weights are whole cents."""
    whole = sum(weights, ZERO)
    if not amount or not whole:
        return [ZERO for _ in weights]
    with localcontext() as context:
        context.prec = 60
        exact = [amount * weight / whole for weight in weights]
        shares = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
        left = int((amount - sum(shares, ZERO)) / CENT)
        by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
        for i in by_remainder[:left]:
            shares[i] += CENT
    return shares


def price_lines(lines: list[tuple[LineAmounts, Decimal]], discount_percent) -> list[LineAmounts]:
    """The lines (each its amounts as line_amounts gives them, and its tax rate) with the
    quote's discount taken off: that discount is the sum of the nets × its %, rounded to
    cents, shared out over the lines by their nets (share_out); each line's tax is then on its
    net less its share, so every figure is in whole cents and the lines add up to the quote."""
    percent = Decimal(discount_percent or 0)
    with localcontext() as context:
        context.prec = 60
        nets = [amounts.net for amounts, _ in lines]
        shares = share_out(cents(sum(nets, ZERO) * percent / HUNDRED), nets)
        priced = []
        for (amounts, tax_rate), share in zip(lines, shares, strict=True):
            taxed = amounts.net - share
            tax = cents(taxed * tax_rate / HUNDRED)
            priced.append(LineAmounts(amounts.amount, amounts.discount, amounts.net, tax,
                                      taxed + tax, share))
        return priced


def effective_discount(line_percent, quote_percent) -> Decimal:
    """A line's discount with the quote's after it, in percent: 1 − (1 − d)(1 − q), rounded
    up to hundredths, so it is never shown (or compared) as less than it is."""
    d, q = Decimal(line_percent or 0), Decimal(quote_percent or 0)
    with localcontext() as context:
        context.prec = 60
        return (d + q - d * q / HUNDRED).quantize(CENT, rounding=ROUND_UP)


def quote_totals(lines, discount_percent=ZERO) -> Totals:
    """Sums of the rounded lines (objects with amount, discount_amount, quote_discount_amount,
    tax_amount, total and discount_percent): nothing is rounded again, so the total is the sum
    of the lines. `discount_percent` is the quote's own, for the effective discount."""
    lines = list(lines)
    quote_discount = sum((line.quote_discount_amount for line in lines), ZERO)
    largest = max((line.discount_percent for line in lines), default=None)
    return Totals(
        subtotal=sum((line.amount for line in lines), ZERO),
        discount_total=sum((line.discount_amount for line in lines), ZERO) + quote_discount,
        tax_total=sum((line.tax_amount for line in lines), ZERO),
        total=sum((line.total for line in lines), ZERO),
        max_discount=ZERO if largest is None else effective_discount(largest, discount_percent),
        quote_discount_amount=quote_discount,
    )


# Cleaners ----------------------------------------------------------------------------------

def _decimal(value, *, places: int, minimum: Decimal, maximum: Decimal, example: str,
             above_minimum: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"Enter a number, such as \"{example}\".")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"Enter a number, such as \"{example}\".") from None
    if not number.is_finite():
        raise ValueError(f"Enter a number, such as \"{example}\".")
    if number < minimum or (above_minimum and number == minimum):
        raise ValueError(f"Enter a number {'above' if above_minimum else 'of at least'} {minimum}.")
    if number > maximum:
        raise ValueError(f"Enter a number of at most {maximum:,}.")
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step, rounding=ROUND_HALF_UP):
        raise ValueError(f"Enter at most {places} decimal place{'s' if places != 1 else ''}.")
    return number.quantize(step)


def money(value) -> Decimal:
    return _decimal(value, places=2, minimum=Decimal(0), maximum=MAX_AMOUNT, example="1250.00")


def percent(value) -> Decimal:
    return _decimal(value, places=2, minimum=Decimal(0), maximum=HUNDRED, example="12.5")


def quantity(value) -> Decimal:
    return _decimal(value, places=3, minimum=Decimal(0), maximum=MAX_QUANTITY, example="2",
                    above_minimum=True)


def _optional(cleaner):
    return lambda value: None if value in (None, "") else cleaner(value)





def _currency(value) -> str:
    """A currency a price book must name (no company default here)."""
    if value in (None, ""):
        raise ValueError("Enter an ISO 4217 currency code, such as EUR.")
    return clean_currency(value)


def _date(value) -> datetime.date:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    try:
        parsed = parse_date(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError("Enter a date as YYYY-MM-DD.")
    return parsed


def _sku(value) -> str:
    return text(64)(value).replace(" ", "")


def _days(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VALID_DAYS:
        raise ValueError(f"Enter a whole number of days from 1 to {MAX_VALID_DAYS}.")
    return value


def _changes(obj, values: dict) -> dict:
    def shown(v):
        return str(v) if isinstance(v, Decimal | datetime.date) else v
    return {name: [shown(getattr(obj, name)), shown(value)] for name, value in values.items()
            if getattr(obj, name) != value}


def _bump(obj) -> None:
    obj.version += 1
    obj.updated_at = timezone.now()


# Who may do what ---------------------------------------------------------------------------

def is_catalog_manager(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active
                and (user.is_superuser or user.role in APPROVER_ROLES))


def is_approver(user) -> bool:
    """Managers and admins approve quotes (a manager those of deals they can see)."""
    return is_catalog_manager(user)


def _require_catalog_manager(actor) -> None:
    if not is_catalog_manager(actor):
        raise PermissionDenied("Only admins and managers manage products and price books.")


# Products ----------------------------------------------------------------------------------

PRODUCT_CLEANERS = {
    "name": required_text(200), "sku": _sku, "description": text(5000, multiline=True),
    "tax_rate": percent, "active": flag,
}


def _sku_free(sku: str, exclude_id: int | None = None) -> None:
    if sku and Product.objects.filter(sku__iexact=sku).exclude(pk=exclude_id).exists():
        raise Conflict(f"A product with SKU “{sku}” exists.",
                       fields={"sku": [f"A product with SKU “{sku}” exists."]})


def _clean_prices(raw, errors: dict) -> list[tuple[int, Decimal | None]]:
    """`prices`: [{"price_book_id", "unit_price"}], a null unit price removing the entry."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_PRICES:
        errors["prices"] = [f"Send a list of at most {MAX_PRICES} prices."]
        return []
    books = set(PriceBook.objects.values_list("pk", flat=True))
    cleaned, seen = [], set()
    for i, item in enumerate(raw):
        where = f"prices[{i}]"
        if not isinstance(item, dict) or set(item) - {"price_book_id", "unit_price"}:
            errors[where] = ["Send {\"price_book_id\", \"unit_price\"}."]
            continue
        book = item.get("price_book_id")
        if isinstance(book, bool) or not isinstance(book, int) or book not in books:
            errors[f"{where}.price_book_id"] = ["No such price book."]
            continue
        if book in seen:
            errors[f"{where}.price_book_id"] = ["This price book is listed twice."]
            continue
        seen.add(book)
        try:
            price = _optional(money)(item.get("unit_price"))
        except ValueError as exc:
            errors[f"{where}.unit_price"] = [str(exc)]
            continue
        cleaned.append((book, price))
    return cleaned


def _split_prices(data):
    if isinstance(data, dict) and "prices" in data:
        data = dict(data)
        return data, data.pop("prices")
    return data, None


def _set_prices(product: Product, prices) -> dict:
    changed = {}
    for book_id, price in prices:
        entry = PriceBookEntry.objects.filter(price_book_id=book_id, product=product).first()
        old = str(entry.unit_price) if entry else None
        if price is None:
            if entry:
                entry.delete()
        elif entry is None:
            PriceBookEntry.objects.create(price_book_id=book_id, product=product, unit_price=price)
        elif entry.unit_price != price:
            entry.unit_price, entry.updated_at = price, timezone.now()
            entry.save(update_fields=["unit_price", "updated_at"])
        new = str(price) if price is not None else None
        if old != new:
            changed[str(book_id)] = [old, new]
    return changed


@transaction.atomic
def product_create(*, actor, data: dict) -> Product:
    """`prices` may set the product's unit price in several price books at once."""
    _require_catalog_manager(actor)
    data, raw_prices = _split_prices(data)
    errors: dict = {}
    try:
        values = clean_fields(PRODUCT_CLEANERS, data, required=("name",))
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    prices = _clean_prices(raw_prices, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    _sku_free(values.get("sku", ""))
    product = Product(**values, created_by=actor if getattr(actor, "pk", None) else None)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        _sku_free(product.sku)
        raise
    _set_prices(product, prices)
    search.index(product)
    record_event(type="product.created", obj=product, actor=actor, data={
        "values": {"name": product.name, "sku": product.sku, "tax_rate": str(product.tax_rate),
                   "active": product.active},
        "prices": {str(book): str(price) for book, price in prices if price is not None}})
    return product


@transaction.atomic
def product_update(*, actor, product_id: int, data: dict,
                   expected_version: int | None = None) -> Product:
    _require_catalog_manager(actor)
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound()
    if expected_version is not None and product.version != expected_version:
        raise VersionConflict(current_version=product.version)
    data, raw_prices = _split_prices(data)
    errors: dict = {}
    try:
        values = clean_fields(PRODUCT_CLEANERS, data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    prices = _clean_prices(raw_prices, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    if "sku" in values:
        _sku_free(values["sku"], exclude_id=product.pk)
    changes = _changes(product, values)
    price_changes = _set_prices(product, prices)
    if price_changes:
        changes["prices"] = price_changes
    if not changes:
        return product
    for name, value in values.items():
        setattr(product, name, value)
    _bump(product)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        _sku_free(product.sku, exclude_id=product.pk)
        raise
    search.index(product)
    record_event(type="product.updated", obj=product, actor=actor, data={"changes": changes})
    return product


@transaction.atomic
def product_delete(*, actor, product_id: int) -> None:
    """Only a product no quote uses; a used one is switched off (`active: false`)."""
    _require_catalog_manager(actor)
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound()
    if QuoteLine.objects.filter(product=product).exists():
        raise Conflict("Quotes use this product; switch it off (active: false) instead.",
                       fields={"active": ["Set to false instead of deleting."]})
    record_event(type="product.deleted", obj=product, actor=actor,
                 data={"name": product.name, "sku": product.sku})
    search.unindex("product", product.pk)
    product.delete()


# Price books -------------------------------------------------------------------------------

PRICE_BOOK_CLEANERS = {"name": required_text(100), "currency": _currency, "is_default": flag,
                       "active": flag}


def _book_name_free(name: str, exclude_id: int | None = None) -> None:
    if PriceBook.objects.filter(name__iexact=name).exclude(pk=exclude_id).exists():
        raise Conflict(f"A price book named “{name}” exists.",
                       fields={"name": [f"A price book named “{name}” exists."]})


def _save_book(book: PriceBook) -> None:
    if book.is_default:
        PriceBook.objects.filter(currency=book.currency, is_default=True).exclude(
            pk=book.pk).update(is_default=False)
    try:
        with transaction.atomic():
            book.save()
    except IntegrityError:
        _book_name_free(book.name, exclude_id=book.pk)
        raise


@transaction.atomic
def price_book_create(*, actor, data: dict) -> PriceBook:
    """`is_default`: the book that prices quotes in its currency (one per currency)."""
    _require_catalog_manager(actor)
    values = clean_fields(PRICE_BOOK_CLEANERS, data, required=("name", "currency"))
    if values.get("is_default") and values.get("active") is False:
        raise ValidationFailed(fields={"active": ["The default price book must be active."]})
    _book_name_free(values["name"])
    if "is_default" not in values:  # the first book of a currency is its default
        values["is_default"] = not PriceBook.objects.filter(currency=values["currency"],
                                                            is_default=True).exists() \
            and values.get("active", True)
    book = PriceBook(**values)
    _save_book(book)
    record_event(type="price_book.created", obj=book, actor=actor, data={
        "name": book.name, "currency": book.currency, "is_default": book.is_default,
        "active": book.active})
    return book


def _lock_book(price_book_id: int, expected_version: int | None = None) -> PriceBook:
    book = PriceBook.objects.select_for_update().filter(pk=price_book_id).first()
    if book is None:
        raise NotFound()
    if expected_version is not None and book.version != expected_version:
        raise VersionConflict(current_version=book.version)
    return book


@transaction.atomic
def price_book_update(*, actor, price_book_id: int, data: dict,
                      expected_version: int | None = None) -> PriceBook:
    """Name, `is_default` and `active` change; the currency is fixed once it has prices."""
    _require_catalog_manager(actor)
    book = _lock_book(price_book_id, expected_version)
    values = clean_fields(PRICE_BOOK_CLEANERS, data)
    if "currency" in values and values["currency"] != book.currency and book.entries.exists():
        raise ValidationFailed(fields={"currency": [
            "This price book has prices; make a new one for another currency."]})
    if "name" in values:
        _book_name_free(values["name"], exclude_id=book.pk)
    changes = _changes(book, values)
    if not changes:
        return book
    for name, value in values.items():
        setattr(book, name, value)
    if book.is_default and not book.active:
        raise ValidationFailed(fields={"active": ["The default price book must be active."]})
    _bump(book)
    _save_book(book)
    record_event(type="price_book.updated", obj=book, actor=actor, data={"changes": changes})
    return book


@transaction.atomic
def price_book_delete(*, actor, price_book_id: int) -> None:
    """Its prices go with it; quotes priced from it keep their lines."""
    _require_catalog_manager(actor)
    book = _lock_book(price_book_id)
    record_event(type="price_book.deleted", obj=book, actor=actor,
                 data={"name": book.name, "currency": book.currency})
    book.delete()


@transaction.atomic
def price_set(*, actor, price_book_id: int, product_id, unit_price) -> tuple[PriceBookEntry, bool]:
    """The product's unit price in the book: (entry, created)."""
    _require_catalog_manager(actor)
    book = _lock_book(price_book_id)
    values = clean_fields({"product_id": reference(Product.objects.all(), "product"),
                           "unit_price": money},
                          {"product_id": product_id, "unit_price": unit_price},
                          required=("product_id",))
    if "unit_price" not in values or values["unit_price"] is None:
        raise ValidationFailed(fields={"unit_price": ["This field is required."]})
    entry = PriceBookEntry.objects.filter(price_book=book, product_id=values["product_id"]).first()
    created = entry is None
    old = None if created else str(entry.unit_price)
    if created:
        entry = PriceBookEntry.objects.create(price_book=book, product_id=values["product_id"],
                                              unit_price=values["unit_price"])
    elif entry.unit_price != values["unit_price"]:
        entry.unit_price, entry.updated_at = values["unit_price"], timezone.now()
        entry.save(update_fields=["unit_price", "updated_at"])
    if old != str(entry.unit_price):
        record_event(type="price_book.price_set", obj=book, actor=actor, data={
            "product_id": entry.product_id, "unit_price": [old, str(entry.unit_price)]})
    return entry, created


@transaction.atomic
def price_remove(*, actor, price_book_id: int, product_id: int) -> None:
    _require_catalog_manager(actor)
    book = _lock_book(price_book_id)
    entry = PriceBookEntry.objects.filter(price_book=book, product_id=product_id).first()
    if entry is None:
        raise NotFound()
    record_event(type="price_book.price_removed", obj=book, actor=actor, data={
        "product_id": product_id, "unit_price": [str(entry.unit_price), None]})
    entry.delete()


# Quote settings ----------------------------------------------------------------------------

SETTINGS_CLEANERS = {
    "approval_discount_limit": percent, "approval_total_limit": _optional(money),
    "default_valid_days": _days, "default_terms": text(10_000, multiline=True),
}


@transaction.atomic
def quote_settings_update(*, actor, data: dict) -> QuoteSettings:
    """Admins: when a quote needs approval, and what new quotes start with."""
    if not is_admin(actor):
        raise PermissionDenied("Only admins change the quote settings.")
    values = clean_fields(SETTINGS_CLEANERS, data)
    current = QuoteSettings.objects.select_for_update().filter(pk=1).first() or QuoteSettings(pk=1)
    changes = _changes(current, values)
    for name, value in values.items():
        setattr(current, name, value)
    current.updated_at = timezone.now()
    current.save()
    if changes:
        record_event(type="quote_settings.updated", object_type="quote_settings", object_id=1,
                     actor=actor, data={"changes": changes})
    return current


def approval_reasons(quote: Quote, rules: QuoteSettings | None = None) -> list[str]:
    """Why the quote needs a manager's approval before it is sent (none: it does not)."""
    rules = rules or quote_settings()
    reasons = []
    if quote.max_discount > rules.approval_discount_limit:
        shown, limit = _percent_text(quote.max_discount), _percent_text(rules.approval_discount_limit)
        whole = quote.discount_percent or ZERO
        if not whole:
            reasons.append(f"a line is discounted {shown} %, over the {limit} % limit")
        elif quote.max_discount == whole:
            reasons.append(f"the quote is discounted {shown} %, over the {limit} % limit")
        else:
            reasons.append(f"a line is discounted {shown} % with the quote's "
                           f"{_percent_text(whole)} % discount, over the {limit} % limit")
    if rules.approval_total_limit is not None and quote.total > rules.approval_total_limit:
        reasons.append(f"its total, {quote.total:,.2f} {quote.currency}, is over the "
                       f"{rules.approval_total_limit:,.2f} limit")
    return reasons


def _percent_text(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


# Quote numbers -----------------------------------------------------------------------------

def next_number(year: int | None = None) -> str:
    """Q-<year>-0001, then 0002...: the year's counter row is locked while it is read and
    written, so concurrent quotes queue for it (to the end of their transaction) and never
    share a number. Numbers of quotes whose transaction rolls back or that are deleted are
    not reused."""
    year = year or timezone.localdate().year
    for attempt in range(5):
        try:
            with transaction.atomic():
                row = QuoteNumber.objects.select_for_update().filter(year=year).first()
                if row is None:  # the year's first quote; a racing first one fails the insert
                    row = QuoteNumber.objects.create(year=year, last=1)
                else:
                    row.last += 1
                    row.save(update_fields=["last"])
                return f"Q-{year}-{row.last:04d}"
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


# Quotes: building and editing ---------------------------------------------------------------

LINE_FIELDS = {"id", "product_id", "name", "description", "quantity", "unit_price",
               "discount_percent", "tax_rate"}


def _price_book_for(currency: str, price_book_id: int | None) -> PriceBook | None:
    if price_book_id:
        return PriceBook.objects.filter(pk=price_book_id).first()
    return PriceBook.objects.filter(currency=currency, is_default=True, active=True).first()


def _clean_lines(raw, *, quote: Quote, errors: dict) -> list[dict]:
    """The lines as sent, each with its values and amounts; problems go to errors[lines[i].x].
    A line with a product takes its name, SKU, description and tax rate from the product, and
    its unit price from the quote's price book, unless the line says otherwise."""
    if not isinstance(raw, list):
        errors["lines"] = ["Send a list of lines."]
        return []
    if len(raw) > MAX_LINES:
        errors["lines"] = [f"A quote has at most {MAX_LINES} lines."]
        return []
    existing = {line.pk: line for line in quote.lines.all()} if quote.pk else {}
    wanted = {item.get("product_id") for item in raw if isinstance(item, dict)}
    products = {p.pk: p for p in Product.objects.filter(
        pk__in=[w for w in wanted if isinstance(w, int) and not isinstance(w, bool)])}
    on_quote = {line.product_id for line in existing.values()}
    book = _price_book_for(quote.currency, quote.price_book_id)
    prices = dict(PriceBookEntry.objects.filter(price_book=book, product_id__in=products)
                  .values_list("product_id", "unit_price")) if book else {}
    cleaned, seen_ids = [], set()
    for i, item in enumerate(raw):
        where = f"lines[{i}]"
        if not isinstance(item, dict):
            errors[where] = ["Send each line as an object."]
            continue
        unknown = set(item) - LINE_FIELDS
        if unknown:
            for name in sorted(unknown):
                errors[f"{where}.{name}"] = ["Unknown field."]
            continue
        line_errors: dict[str, list[str]] = {}
        values: dict = {}
        line_id = item.get("id")
        if line_id is not None and line_id not in existing:
            line_errors["id"] = ["No such line on this quote."]
        elif line_id is not None and line_id in seen_ids:
            line_errors["id"] = ["This line is listed twice."]
        seen_ids.add(line_id)
        product = None
        product_id = item.get("product_id")
        if product_id is not None:
            product = products.get(product_id) if isinstance(product_id, int) else None
            if product is None:
                line_errors["product_id"] = ["No such product."]
            elif not product.active and product.pk not in on_quote:
                line_errors["product_id"] = [f"“{product.name}” is switched off."]
        for name, cleaner in (("name", text(200)), ("description", text(5000, multiline=True)),
                              ("quantity", _optional(quantity)),
                              ("unit_price", _optional(money)),
                              ("discount_percent", _optional(percent)),
                              ("tax_rate", _optional(percent))):
            try:
                values[name] = cleaner(item.get(name))
            except ValueError as exc:
                line_errors[name] = [str(exc)]
        if product is not None and not line_errors:
            values["name"] = values["name"] or product.name
            if "description" not in item:
                values["description"] = product.description
            if values["tax_rate"] is None:
                values["tax_rate"] = product.tax_rate
            if values["unit_price"] is None:
                values["unit_price"] = prices.get(product.pk)
                if values["unit_price"] is None:
                    line_errors["unit_price"] = [
                        f"“{product.name}” has no price in "
                        + (f"the price book “{book.name}”" if book
                           else f"a {quote.currency} price book")
                        + "; enter a unit price."]
        elif product is None and not line_errors:
            if not values["name"]:
                line_errors["name"] = ["Name the product or service, or choose a product."]
            if values["unit_price"] is None:
                line_errors["unit_price"] = ["Enter a unit price."]
        if line_errors:
            errors.update({f"{where}.{name}": messages for name, messages in line_errors.items()})
            continue
        values["quantity"] = values["quantity"] if values["quantity"] is not None else Decimal("1")
        values["discount_percent"] = values["discount_percent"] or Decimal("0.00")
        values["tax_rate"] = values["tax_rate"] or Decimal("0.00")
        amounts = line_amounts(values["quantity"], values["unit_price"],
                               values["discount_percent"], values["tax_rate"])
        if max(amounts.amount, amounts.total) > MAX_AMOUNT:
            errors[f"{where}.quantity"] = ["This line comes to more than a quote can hold."]
            continue
        cleaned.append({**values, "id": line_id, "product_id": product.pk if product else None,
                        "sku": product.sku if product else "", "amounts": amounts, "index": i})
    return cleaned


@dataclasses.dataclass
class Preview:
    lines: dict[int, dict]  # by the line's index as sent: values and `amounts`
    totals: Totals
    errors: dict[str, list[str]]
    reasons: list[str]  # why the quote would need approval


def quote_preview(*, quote: Quote, lines) -> Preview:
    """What `lines` would come to on `quote` (its price book as set in memory), saving
    nothing: the editor's totals, worked out here rather than in the browser."""
    errors: dict = {}
    cleaned = _with_quote_discount(_clean_lines(lines, quote=quote, errors=errors),
                                   quote.discount_percent)
    rows = [QuoteLine(amount=c["amounts"].amount, discount_amount=c["amounts"].discount,
                      quote_discount_amount=c["amounts"].quote_discount,
                      tax_amount=c["amounts"].tax, total=c["amounts"].total,
                      discount_percent=c["discount_percent"]) for c in cleaned]
    totals = quote_totals(rows, quote.discount_percent)
    probe = Quote(currency=quote.currency, total=totals.total, max_discount=totals.max_discount,
                  discount_percent=quote.discount_percent)
    return Preview({c["index"]: c for c in cleaned}, totals, errors, approval_reasons(probe))


def _with_quote_discount(cleaned: list[dict], discount_percent) -> list[dict]:
    """The cleaned lines, their amounts with the quote's discount taken off (price_lines)."""
    priced = price_lines([(c["amounts"], c["tax_rate"]) for c in cleaned], discount_percent)
    for line, amounts in zip(cleaned, priced, strict=True):
        line["amounts"] = amounts
    return cleaned


def _write_lines(quote: Quote, lines: list[dict]) -> None:
    """Replace the quote's lines with `lines` (those with an id keep their row)."""
    keep = {line["id"] for line in lines if line["id"]}
    QuoteLine.objects.filter(quote=quote).exclude(pk__in=keep).delete()
    for position, line in enumerate(lines, start=1):
        a = line["amounts"]
        row = {
            "position": position, "product_id": line["product_id"], "name": line["name"],
            "sku": line["sku"], "description": line["description"], "quantity": line["quantity"],
            "unit_price": line["unit_price"], "discount_percent": line["discount_percent"],
            "tax_rate": line["tax_rate"], "amount": a.amount, "discount_amount": a.discount,
            "net_amount": a.net, "quote_discount_amount": a.quote_discount,
            "tax_amount": a.tax, "total": a.total,
        }
        if line["id"]:
            QuoteLine.objects.filter(pk=line["id"], quote=quote).update(**row)
        else:
            QuoteLine.objects.create(quote=quote, **row)


def _reprice_stored(quote: Quote) -> None:
    """The stored lines repriced for the quote's discount as it now is (their own figures
    stay): its share, tax and total change on each line that needs it."""
    rows = list(QuoteLine.objects.filter(quote=quote).order_by("position", "id"))
    priced = price_lines([(LineAmounts(r.amount, r.discount_amount, r.net_amount, r.tax_amount,
                                       r.total, r.quote_discount_amount), r.tax_rate)
                          for r in rows], quote.discount_percent)
    changed = []
    for row, a in zip(rows, priced, strict=True):
        if (row.quote_discount_amount, row.tax_amount, row.total) != (a.quote_discount, a.tax,
                                                                       a.total):
            row.quote_discount_amount, row.tax_amount, row.total = a.quote_discount, a.tax, a.total
            changed.append(row)
    QuoteLine.objects.bulk_update(changed, ["quote_discount_amount", "tax_amount", "total"])


def _retotal(quote: Quote) -> None:
    totals = quote_totals(QuoteLine.objects.filter(quote=quote), quote.discount_percent)
    if max(totals.subtotal, totals.total) > MAX_AMOUNT:
        raise ValidationFailed(fields={"lines": ["The quote comes to more than it can hold."]})
    quote.subtotal, quote.discount_total = totals.subtotal, totals.discount_total
    quote.quote_discount_amount = totals.quote_discount_amount
    quote.tax_total, quote.total, quote.max_discount = totals.tax_total, totals.total, \
        totals.max_discount


def clean_quote_discount(value) -> Decimal:
    """The quote's own discount: 0-100 with at most 2 places; empty or null is none (0).
    ValueError saying what is wrong otherwise."""
    return ZERO if value in (None, "") else percent(value)


def _quote_cleaners(actor):
    return {
        "contact_id": reference(contact_visible(user=actor), "contact"),
        "price_book_id": reference(PriceBook.objects.filter(active=True), "price book"),
        "valid_until": _date, "terms": text(10_000, multiline=True),
        "win_deal_on_accept": flag, "discount_percent": clean_quote_discount,
    }


def _check_quote_values(values: dict, currency: str, errors: dict, *, today) -> None:
    if values.get("price_book_id"):
        book = PriceBook.objects.get(pk=values["price_book_id"])
        if book.currency != currency:
            errors["price_book_id"] = [f"Choose a {currency} price book: the quote is in "
                                       f"{currency}, the deal's currency."]
    valid_until = values.get("valid_until")
    if valid_until is not None and valid_until < today:
        errors["valid_until"] = ["Choose today or a later date."]
    if valid_until is not None and valid_until > today + datetime.timedelta(days=MAX_VALID_DAYS):
        errors["valid_until"] = [f"Choose a date within {MAX_VALID_DAYS} days."]


def _quote_event_values(quote: Quote) -> dict:
    return {"number": quote.number, "deal_id": quote.deal_id, "status": quote.status,
            "currency": quote.currency, "total": str(quote.total),
            "discount_percent": str(quote.discount_percent)}


@transaction.atomic
def quote_create(*, actor, data: dict) -> Quote:
    """A draft quote on `deal_id` (a deal the actor can see), in the deal's currency, numbered
    at once. `lines` as in quote_update."""
    if not isinstance(data, dict):
        raise ValidationFailed("Send an object of fields.", fields={"__all__": ["Not an object."]})
    data = dict(data)
    raw_lines = data.pop("lines", [])
    errors: dict = {}
    deal_id = data.pop("deal_id", None)
    deal = None
    if deal_id in (None, ""):
        errors["deal_id"] = ["This field is required."]
    elif isinstance(deal_id, bool) or not isinstance(deal_id, int):
        errors["deal_id"] = ["Enter a deal id."]
    else:
        deal = deal_visible(user=actor, pk=deal_id).first()
        if deal is None:
            errors["deal_id"] = ["No such deal."]
    try:
        values = clean_fields(_quote_cleaners(actor), data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    if errors:
        raise ValidationFailed(fields=errors)
    rules = quote_settings()
    today = timezone.localdate()
    _check_quote_values(values, deal.currency, errors, today=today)
    if errors:
        raise ValidationFailed(fields=errors)
    if "contact_id" not in values:
        people = [p for p in deal_contacts(user=actor, deal=deal) if p.email]
        values["contact_id"] = people[0].contact_id if people else None
    values.setdefault("valid_until", today + datetime.timedelta(days=rules.default_valid_days))
    values.setdefault("terms", rules.default_terms)
    quote = Quote(deal=deal, currency=deal.currency, status=QuoteStatus.DRAFT,
                  public_key=secrets.token_urlsafe(16)[:22],
                  created_by=actor if getattr(actor, "pk", None) else None, **values)
    lines = _clean_lines(raw_lines if raw_lines is not None else [], quote=quote, errors=errors)
    if errors:
        raise ValidationFailed(fields=errors)
    quote.number = next_number(today.year)
    quote.save()
    _write_lines(quote, _with_quote_discount(lines, quote.discount_percent))
    _retotal(quote)
    quote.save(update_fields=["subtotal", "discount_total", "quote_discount_amount", "tax_total",
                              "total", "max_discount"])
    record_event(type="quote.created", obj=quote, actor=actor, data={
        "values": {**_quote_event_values(quote), "lines": len(lines),
                   "valid_until": quote.valid_until.isoformat()}})
    return quote


def _lock(actor, quote_id: int, expected_version: int | None = None) -> Quote:
    """The quote, locked, if the actor can see its deal; a stale version is a 412."""
    if not quote_visible(user=actor, pk=quote_id).exists():
        raise NotFound()
    quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
    if quote is None:
        raise NotFound()
    if expected_version is not None and quote.version != expected_version:
        raise VersionConflict(current_version=quote.version)
    return quote


def _status_conflict(quote: Quote, doing: str) -> Conflict:
    return Conflict(f"Quote {quote.number} is {quote.get_status_display().lower()}; "
                    f"{doing}.", fields={"status": [f"The quote is {quote.status}."]})


TRACKED = ("contact_id", "price_book_id", "valid_until", "terms", "win_deal_on_accept",
           "discount_percent", "subtotal", "discount_total", "tax_total", "total")


def _snapshot(quote: Quote) -> dict:
    return {name: (str(v) if isinstance(v := getattr(quote, name), Decimal | datetime.date) else v)
            for name in TRACKED}


def _line_snapshot(quote: Quote) -> list:
    return list(QuoteLine.objects.filter(quote=quote).order_by("position", "id").values_list(
        "product_id", "name", "description", "quantity", "unit_price", "discount_percent",
        "tax_rate"))


@transaction.atomic
def quote_update(*, actor, quote_id: int, data: dict, expected_version: int | None = None) -> Quote:
    """Only a draft changes. `lines` replaces every line: a line with the `id` of one of the
    quote's lines keeps it, the others are new, and lines left out are removed."""
    quote = _lock(actor, quote_id, expected_version)
    if not quote.is_editable:
        raise _status_conflict(quote, "only a draft quote can be changed (revise it first)")
    if not isinstance(data, dict):
        raise ValidationFailed("Send an object of fields.", fields={"__all__": ["Not an object."]})
    data = dict(data)
    errors: dict = {}
    if "deal_id" in data:
        errors["deal_id"] = ["A quote stays on its deal."]
        data.pop("deal_id")
    raw_lines = data.pop("lines", None)
    try:
        values = clean_fields(_quote_cleaners(actor), data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    if "valid_until" in values and values["valid_until"] is None:
        errors["valid_until"] = ["This field is required."]
    _check_quote_values(values, quote.currency, errors, today=timezone.localdate())
    if errors:
        raise ValidationFailed(fields=errors)
    before, lines_before = _snapshot(quote), _line_snapshot(quote)
    for name, value in values.items():
        setattr(quote, name, value)
    if raw_lines is not None:
        lines = _clean_lines(raw_lines, quote=quote, errors=errors)
        if errors:
            raise ValidationFailed(fields=errors)
        _write_lines(quote, _with_quote_discount(lines, quote.discount_percent))
        _retotal(quote)
    elif before["discount_percent"] != str(quote.discount_percent):
        _reprice_stored(quote)
        _retotal(quote)
    after, lines_after = _snapshot(quote), _line_snapshot(quote)
    changes = {name: [before[name], after[name]] for name in TRACKED if before[name] != after[name]}
    if lines_before != lines_after:
        changes["lines"] = [len(lines_before), len(lines_after)]
    if not changes:
        return quote
    _bump(quote)
    quote.save()
    record_event(type="quote.updated", obj=quote, actor=actor, data={"changes": changes})
    return quote


@transaction.atomic
def quote_delete(*, actor, quote_id: int) -> None:
    """Only a draft; a quote the customer has seen, or that was approved, stays on record.
    Its number is not handed out again."""
    quote = _lock(actor, quote_id)
    if quote.status != QuoteStatus.DRAFT:
        raise _status_conflict(quote, "only a draft quote can be deleted")
    record_event(type="quote.deleted", obj=quote, actor=actor, data=_quote_event_values(quote))
    _close_tasks(quote)
    quote.delete()


# Approval ----------------------------------------------------------------------------------

def approvers_for(quote: Quote, *, submitter=None) -> list:
    """Who is asked to approve: the managers of the deal owner's team, or else the admins;
    never the submitter while someone else can do it."""
    active = User.objects.filter(is_active=True)
    owner = quote.deal.owner
    people = list(active.filter(role=Role.MANAGER, team_id=owner.team_id)) \
        if owner is not None and owner.team_id else []
    if not [p for p in people if p != submitter]:
        people = list(active.filter(Q(role=Role.ADMIN) | Q(is_superuser=True)))
    others = [p for p in people if p != submitter]
    return others or people


def _quote_path(quote: Quote) -> str:
    return reverse("quotes:detail", args=[quote.pk])


def quote_page_url(quote: Quote, base_url: str = "") -> str:
    """The quote's page in Rapport as an absolute URL, for emails: on RAPPORT_PUBLIC_URL, else
    on `base_url` (the address of the request that acted); empty when neither is known."""
    base = (settings.PUBLIC_URL or base_url or "").rstrip("/")
    return base + _quote_path(quote) if base else ""


def _task(*, actor, quote: Quote, assignee, subject: str, body: str, priority="normal"):
    """A task on the assignee's list (and on the deal's timeline); None if it cannot be made
    (the actor may no longer see the deal)."""
    from rapport.activities.services import activity_create

    if assignee is None or not assignee.is_active or actor is None:
        return None
    try:
        with transaction.atomic():
            return activity_create(actor=actor, data={
                "kind": "task", "subject": subject[:200], "body": body,
                "deal_id": quote.deal_id, "assignee_id": assignee.pk, "priority": priority,
                "due_date": timezone.localdate().isoformat()})
    except RapportError:
        logger.warning("No task for %s about quote %s", assignee, quote.number, exc_info=True)
        return None


def _close_tasks(quote: Quote) -> None:
    """The approvers' open tasks for the quote are done once someone decided (each closed as
    its assignee, whose list it is on)."""
    from rapport.activities.models import Activity
    from rapport.activities.services import task_set_done

    for task in Activity.objects.filter(pk__in=quote.approval_task_ids or [],
                                        completed_at__isnull=True).select_related("assignee"):
        if task.assignee is None:
            continue
        try:
            with transaction.atomic():
                task_set_done(actor=task.assignee, activity_id=task.pk, done=True)
        except RapportError:
            logger.warning("Could not close approval task %s", task.pk, exc_info=True)
    quote.approval_task_ids = []


@transaction.atomic
def quote_submit(*, actor, quote_id: int, comment: str = "", base_url: str = "") -> Quote:
    """Ask for approval: the quote is locked for review and each approver gets a task and,
    once this commits, an email (rapport.sales.quote_notifications, from the event)."""
    quote = _lock(actor, quote_id)
    comment = clean_fields({"comment": text(2000, multiline=True)}, {"comment": comment or ""})[
        "comment"]
    if quote.status != QuoteStatus.DRAFT:
        raise _status_conflict(quote, "only a draft quote is submitted for approval")
    if not quote.lines.exists():
        raise ValidationFailed(fields={"lines": ["Add at least one line first."]})
    reasons = approval_reasons(quote)
    if not reasons:
        raise Conflict(f"Quote {quote.number} needs no approval: send it.",
                       fields={"status": ["No approval is needed."]})
    now = timezone.now()
    quote.status, quote.submitted_by, quote.submitted_at = QuoteStatus.PENDING_APPROVAL, actor, now
    quote.approved_by = quote.approved_at = quote.rejected_by = quote.rejected_at = None
    quote.review_comment = ""
    approvers = approvers_for(quote, submitter=actor)
    body = (f"{actor} asks for approval of quote {quote.number} on “{quote.deal.name}”: "
            f"{'; and '.join(reasons)}."
            + (f"\n\n> {comment}" if comment else "")
            + f"\n\n[Open the quote]({_quote_path(quote)}) to approve or reject it.")
    tasks = [_task(actor=actor, quote=quote, assignee=person, priority="high", body=body,
                   subject=f"Approve quote {quote.number} ({quote.deal.name})")
             for person in approvers]
    quote.approval_task_ids = [t.pk for t in tasks if t is not None]
    _bump(quote)
    quote.save()
    record_event(type="quote.submitted", obj=quote, actor=actor, data={
        **_quote_event_values(quote), "reasons": reasons, "comment": comment,
        "approver_ids": [p.pk for p in approvers], "discount_total": str(quote.discount_total),
        "max_discount": str(quote.max_discount), "url": quote_page_url(quote, base_url)})
    return quote


def _review(actor, quote_id: int, *, approve: bool, comment: str, base_url: str) -> Quote:
    quote = _lock(actor, quote_id)  # a quote the actor cannot see is a 404, whatever their role
    if not is_approver(actor):
        raise PermissionDenied("Only managers and admins approve or reject quotes.")
    comment = clean_fields({"comment": text(2000, multiline=True)},
                           {"comment": comment or ""})["comment"]
    if not approve and not comment:
        raise ValidationFailed(fields={"comment": ["Say why, so the seller can put it right."]})
    if quote.status != QuoteStatus.PENDING_APPROVAL:
        raise _status_conflict(quote, "only a quote pending approval is approved or rejected")
    if quote.submitted_by_id == actor.pk and not is_admin(actor):
        raise PermissionDenied("You submitted this quote: another manager or an admin decides.")
    now = timezone.now()
    quote.review_comment = comment
    if approve:
        quote.status, quote.approved_by, quote.approved_at = QuoteStatus.APPROVED, actor, now
    else:
        quote.status, quote.rejected_by, quote.rejected_at = QuoteStatus.DRAFT, actor, now
    _close_tasks(quote)
    _bump(quote)
    quote.save()
    # The seller hears by task (below) and, after commit, by email (quote_notifications).
    record_event(type="quote.approved" if approve else "quote.rejected", obj=quote, actor=actor,
                 data={**_quote_event_values(quote), "comment": comment,
                       "url": quote_page_url(quote, base_url)})
    submitter = quote.submitted_by
    if submitter is not None and submitter != actor:
        said = f"\n\n> {comment}" if comment else ""
        if approve:
            _task(actor=actor, quote=quote, assignee=submitter,
                  subject=f"Send quote {quote.number}: approved by {actor}",
                  body=f"{actor} approved quote {quote.number}.{said}\n\n"
                       f"[Open the quote]({_quote_path(quote)}) to send it.")
        else:
            _task(actor=actor, quote=quote, assignee=submitter, priority="high",
                  subject=f"Quote {quote.number} was rejected by {actor}",
                  body=f"{actor} rejected quote {quote.number}.{said}\n\n"
                       f"[Open the quote]({_quote_path(quote)}), change it and submit it again.")
    return quote


@transaction.atomic
def quote_approve(*, actor, quote_id: int, comment: str = "", base_url: str = "") -> Quote:
    """A manager (of the deal's team) or an admin approves: the quote may be sent."""
    return _review(actor, quote_id, approve=True, comment=comment, base_url=base_url)


@transaction.atomic
def quote_reject(*, actor, quote_id: int, comment: str = "", base_url: str = "") -> Quote:
    """Back to a draft, with the reason (required) for the seller."""
    return _review(actor, quote_id, approve=False, comment=comment, base_url=base_url)


@transaction.atomic
def quote_revise(*, actor, quote_id: int) -> Quote:
    """An approved (or pending) quote back to a draft to change it; its approval is void."""
    quote = _lock(actor, quote_id)
    if quote.status not in (QuoteStatus.APPROVED, QuoteStatus.PENDING_APPROVAL):
        raise _status_conflict(quote, "only an approved or pending quote goes back to a draft")
    was = quote.status
    quote.status = QuoteStatus.DRAFT
    quote.approved_by = quote.approved_at = None
    _close_tasks(quote)
    _bump(quote)
    quote.save()
    record_event(type="quote.revised", obj=quote, actor=actor,
                 data={**_quote_event_values(quote), "from_status": was})
    return quote


# Sending -----------------------------------------------------------------------------------

def public_token(quote: Quote) -> str:
    """The signed token of the quote's public link: its id and key, signed with the server's
    secret under a salt of its own (no other signed value in Rapport can stand in for it).
    No timestamp: the same quote always has the same link, which lasts as long as the quote
    is valid (its valid-until date, checked on every use) or until its key is replaced."""
    return signing.Signer(salt=PUBLIC_SALT).sign_object([quote.pk, quote.public_key])


def quote_for_token(token: str) -> Quote | None:
    """The quote a public token names, or None if it was tampered with or revoked."""
    try:
        value = signing.Signer(salt=PUBLIC_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
            and isinstance(value[1], str)):
        return None
    return (Quote.objects.select_related("deal", "contact", "contact__company", "sent_by")
            .filter(pk=value[0], public_key=value[1]).first())


def base_url(request) -> str:
    """Where customers reach Rapport: RAPPORT_PUBLIC_URL, else the address of `request` (the
    one sending the quote or showing its link)."""
    return settings.PUBLIC_URL or request.build_absolute_uri("/")


def public_path(quote: Quote) -> str:
    return reverse("public_quote:view", args=[public_token(quote)])


def public_url(quote: Quote, base_url: str) -> str:
    return base_url.rstrip("/") + public_path(quote)


def is_past(quote: Quote, today: datetime.date | None = None) -> bool:
    return quote.valid_until < (today or timezone.localdate())


SEND_CLEANERS = {
    "to": listed(normalise_email, max_items=10), "subject": text(300),
    "message": text(10_000, multiline=True), "win_deal_on_accept": flag,
}


def _default_body(quote: Quote, link: str, message: str) -> str:
    from rapport.sales.templatetags.quote_ui import quote_money as shown_money

    lead = message or (
        "Hello {{ contact.first_name|default:\"there\" }},\n\n"
        f"here is quote {quote.number} for {shown_money(quote.total, quote.currency)}, valid "
        f"until {quote.valid_until:%B} {quote.valid_until.day}, {quote.valid_until.year}. "
        "The PDF is attached.")
    return f"{lead}\n\nView the quote online, and accept or decline it there:\n<{link}>"


def quote_send(*, actor, quote_id: int, data: dict, base_url: str) -> Quote:
    """Email the quote, with its PDF and its public link, to `to` (default: the quote's
    contact, else the deal's first contact with an address), logged on the deal's timeline.

    Refused (409) for a quote that needs approval and has none, one pending approval, one
    already accepted, declined or expired, and one whose valid-until date has passed. A sent
    or viewed quote may be sent again (to someone else, say); its link stays the same.
    """
    values = clean_fields(SEND_CLEANERS, data if data is not None else {})
    with transaction.atomic():  # a sent quote past its date expires, whatever comes next
        quote = _lock(actor, quote_id)
        if quote.status in OPEN_STATUSES and is_past(quote):
            _expire(quote)
    return _send(actor, quote_id, values, base_url)


@transaction.atomic
def _send(actor, quote_id: int, values: dict, base_url: str) -> Quote:
    from rapport.mail.services import email_send
    from rapport.sales.quote_pdf import render_quote_pdf

    quote = _lock(actor, quote_id)
    if quote.status == QuoteStatus.PENDING_APPROVAL:
        raise _status_conflict(quote, "it can be sent once a manager approves it")
    if quote.is_final:
        raise _status_conflict(quote, "it cannot be sent again")
    if quote.status == QuoteStatus.DRAFT:
        reasons = approval_reasons(quote)
        if reasons:
            raise Conflict(
                f"Quote {quote.number} needs a manager's approval before it can be sent: "
                f"{'; and '.join(reasons)}. Submit it for approval.",
                fields={"status": ["Approval is required before sending."]})
    if is_past(quote):
        raise Conflict(f"Quote {quote.number} was valid until {quote.valid_until:%Y-%m-%d}; "
                       "choose a later date first.",
                       fields={"valid_until": ["This date has passed."]})
    if not quote.lines.exists():
        raise ValidationFailed(fields={"lines": ["Add at least one line first."]})
    contact = quote.contact if quote.contact_id and contact_visible(user=actor).filter(
        pk=quote.contact_id).exists() else None
    to = values.get("to") or ([contact.email] if contact and contact.email else [])
    if not to:
        people = [p for p in deal_contacts(user=actor, deal=quote.deal) if p.email]
        to = [people[0].email] if people else []
    if not to:
        raise ValidationFailed(fields={"to": ["Enter the customer's email address: the quote "
                                              "has no contact with one."]})
    if "win_deal_on_accept" in values:
        quote.win_deal_on_accept = values["win_deal_on_accept"]
    link = public_url(quote, base_url)
    pdf = render_quote_pdf(quote, link=link)
    mail = {"deal_id": quote.deal_id, "to": to,
            "subject": values.get("subject") or f"Quote {quote.number} from "
                                                 "{{ sender.full_name }}",
            "body": _default_body(quote, link, values.get("message", ""))}
    if contact is not None and contact.email in to:
        mail["contact_id"] = contact.pk
    try:
        email = email_send(actor=actor, data=mail,
                           files=[(f"{quote.number}.pdf", "application/pdf", pdf)])
    except ValidationFailed as exc:
        renamed = {"body": "message"}
        raise ValidationFailed(exc.message, fields={renamed.get(k, k): v
                                                    for k, v in exc.fields.items()}) from None
    resent = quote.status in OPEN_STATUSES
    now = timezone.now()
    if not resent:
        quote.status = QuoteStatus.SENT
    quote.sent_at, quote.sent_by, quote.sent_to, quote.email = now, actor, to, email
    _bump(quote)
    quote.save()
    record_event(type="quote.sent", obj=quote, actor=actor, data={
        **_quote_event_values(quote), "to": to, "email_id": email.pk, "resent": resent,
        "win_deal_on_accept": quote.win_deal_on_accept})
    return quote


# The customer's side -----------------------------------------------------------------------

def _expire(quote: Quote) -> None:
    quote.status, quote.expired_at = QuoteStatus.EXPIRED, timezone.now()
    _bump(quote)
    quote.save()
    record_event(type="quote.expired", obj=quote, data={
        **_quote_event_values(quote), "valid_until": quote.valid_until.isoformat()})


def _lock_public(quote_id: int) -> Quote:
    quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
    if quote is None or not quote.is_out:
        raise NotFound()
    return quote


@transaction.atomic
def quote_expire(*, quote_id: int) -> Quote:
    """A sent or viewed quote past its valid-until date becomes expired (once)."""
    quote = _lock_public(quote_id)
    if quote.status in OPEN_STATUSES and is_past(quote):
        _expire(quote)
    return quote


def quotes_expire_due(limit: int = 1000) -> int:
    """Every sent or viewed quote whose valid-until date has passed: the nightly sweep."""
    ids = list(Quote.objects.filter(status__in=OPEN_STATUSES,
                                    valid_until__lt=timezone.localdate())
               .values_list("pk", flat=True)[:limit])
    for quote_id in ids:
        quote_expire(quote_id=quote_id)
    return len(ids)


@transaction.atomic
def quote_viewed(*, quote_id: int) -> Quote:
    """The customer opened the link: the first time, the quote becomes viewed."""
    quote = _lock_public(quote_id)
    now = timezone.now()
    if quote.status in OPEN_STATUSES and is_past(quote):
        _expire(quote)
        return quote
    if quote.status == QuoteStatus.SENT:
        quote.status, quote.first_viewed_at = QuoteStatus.VIEWED, now
        quote.last_viewed_at, quote.view_count = now, quote.view_count + 1
        _bump(quote)
        quote.save()
        record_event(type="quote.viewed", obj=quote, data=_quote_event_values(quote))
    else:
        Quote.objects.filter(pk=quote.pk).update(last_viewed_at=now, view_count=F("view_count") + 1)
    return quote


def _clean_name(value) -> str:
    name = " ".join(str(value or "").split())
    if len(name) < 2 or not any(c.isalpha() for c in name):
        raise ValidationFailed(fields={"full_name": ["Type your full name to accept the quote."]})
    if len(name) > 200:
        raise ValidationFailed(fields={"full_name": ["Enter at most 200 characters."]})
    return name


def _customer_turn(quote: Quote) -> Quote | None:
    """Refuse a second answer; an answer past the valid-until date expires the quote (the
    caller sees `expired`). None: the customer may answer."""
    if quote.status in FINAL_STATUSES:
        raise Conflict(f"This quote was already {quote.status}.",
                       fields={"status": [f"The quote is {quote.status}."]})
    if is_past(quote):
        _expire(quote)
        return quote
    return None


def _win_deal(quote: Quote):
    """Mark the deal won as the user who sent the quote (else the deal's owner), who would have
    done it by hand; the customer is no user. Returns that user, or None if neither may."""
    from rapport.sales.services import deal_move

    for user in (quote.sent_by, quote.deal.owner):
        if user is None or not user.is_active or not deal_visible(user=user, pk=quote.deal_id).exists():
            continue
        try:
            with transaction.atomic():
                deal_move(actor=user, deal_id=quote.deal_id, status="won")
        except RapportError:
            logger.warning("Quote %s was accepted but its deal could not be marked won",
                           quote.number, exc_info=True)
            return None
        return user
    return None


def _tell_seller(quote: Quote, subject: str, body: str) -> None:
    seller = quote.sent_by or quote.created_by
    _task(actor=seller, quote=quote, assignee=seller, subject=subject,
          body=f"{body}\n\n[Open the quote]({_quote_path(quote)})")


@transaction.atomic
def quote_accept(*, quote_id: int, full_name: str, ip: str | None = None,
                 user_agent: str = "") -> Quote:
    """The customer accepts, typing their full name; when the quote says so, the deal is won.
    Returns the quote: `expired` if its date had passed."""
    name = _clean_name(full_name)
    quote = _lock_public(quote_id)
    if _customer_turn(quote):
        return quote
    now = timezone.now()
    quote.status, quote.accepted_at, quote.accepted_name = QuoteStatus.ACCEPTED, now, name
    quote.accepted_ip, quote.accepted_user_agent = ip or None, (user_agent or "")[:300]
    won_as = _win_deal(quote) if quote.win_deal_on_accept else None
    quote.deal_won = won_as is not None
    _bump(quote)
    quote.save()
    record_event(type="quote.accepted", obj=quote, data={
        **_quote_event_values(quote), "accepted_name": name, "ip": quote.accepted_ip,
        "deal_won": quote.deal_won, "deal_won_as_user_id": won_as.pk if won_as else None})
    _tell_seller(quote, f"Quote {quote.number} accepted by {name}",
                 f"{name} accepted quote {quote.number} for “{quote.deal.name}”."
                 + (" The deal is marked won." if quote.deal_won else ""))
    return quote


@transaction.atomic
def quote_decline(*, quote_id: int, reason: str = "", ip: str | None = None) -> Quote:
    """The customer declines, saying why if they wish. Returns the quote (`expired` if its date
    had passed)."""
    reason = clean_fields({"reason": text(2000, multiline=True)}, {"reason": reason or ""})["reason"]
    quote = _lock_public(quote_id)
    if _customer_turn(quote):
        return quote
    quote.status, quote.declined_at = QuoteStatus.DECLINED, timezone.now()
    quote.decline_reason, quote.declined_ip = reason, ip or None
    _bump(quote)
    quote.save()
    record_event(type="quote.declined", obj=quote, data={
        **_quote_event_values(quote), "reason": reason, "ip": quote.declined_ip})
    _tell_seller(quote, f"Quote {quote.number} was declined",
                 f"The customer declined quote {quote.number} for “{quote.deal.name}”."
                 + (f"\n\n> {reason}" if reason else ""))
    return quote
