from datetime import date, datetime
from decimal import Decimal

from ninja import Schema
from pydantic import ConfigDict

# Money and percentages come in as decimal strings ("1250.00") or numbers; the services check
# places and ranges (a float is read through its shortest decimal form).
Number = Decimal | str | int | None


class PriceIn(Schema):
    model_config = ConfigDict(extra="forbid")
    price_book_id: int
    unit_price: Number = None


class ProductIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    sku: str | None = None
    description: str | None = None
    tax_rate: Number = None
    active: bool | None = None
    prices: list[PriceIn] | None = None


class ProductPriceOut(Schema):
    price_book_id: int
    price_book_name: str
    currency: str
    unit_price: Decimal

    @staticmethod
    def resolve_price_book_name(entry):
        return entry.price_book.name

    @staticmethod
    def resolve_currency(entry):
        return entry.price_book.currency


class ProductOut(Schema):
    id: int
    name: str
    sku: str
    description: str
    tax_rate: Decimal
    active: bool
    prices: list[ProductPriceOut]
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_prices(product):
        return list(product.prices.all())


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class PriceBookIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    currency: str | None = None
    is_default: bool | None = None
    active: bool | None = None


class PriceBookOut(Schema):
    id: int
    name: str
    currency: str
    is_default: bool
    active: bool
    price_count: int
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_price_count(book):
        return getattr(book, "price_count", None) or book.entries.count()


class PriceBookPage(Schema):
    items: list[PriceBookOut]
    next_cursor: str | None


class PriceEntryIn(Schema):
    model_config = ConfigDict(extra="forbid")
    product_id: int | None = None
    unit_price: Number = None


class PriceEntryPatch(Schema):
    model_config = ConfigDict(extra="forbid")
    unit_price: Number = None


class PriceEntryOut(Schema):
    price_book_id: int
    product_id: int
    product_name: str
    sku: str
    currency: str
    unit_price: Decimal
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_product_name(entry):
        return entry.product.name

    @staticmethod
    def resolve_sku(entry):
        return entry.product.sku

    @staticmethod
    def resolve_currency(entry):
        return entry.price_book.currency


class PriceEntryPage(Schema):
    items: list[PriceEntryOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class QuoteLineIn(Schema):
    model_config = ConfigDict(extra="forbid")
    id: int | None = None
    product_id: int | None = None
    name: str | None = None
    description: str | None = None
    quantity: Number = None
    unit_price: Number = None
    discount_percent: Number = None
    tax_rate: Number = None


class QuotePatch(Schema):
    model_config = ConfigDict(extra="forbid")
    contact_id: int | None = None
    price_book_id: int | None = None
    valid_until: date | None = None
    terms: str | None = None
    win_deal_on_accept: bool | None = None
    # Percent off the whole quote (0-100, 2 places), after the line discounts, before tax.
    discount_percent: Number = None
    lines: list[QuoteLineIn] | None = None


class QuoteIn(QuotePatch):
    """A new quote: what a change may set, and the deal it is for."""
    deal_id: int | None = None


class QuoteCommentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = None


class QuoteSendIn(Schema):
    model_config = ConfigDict(extra="forbid")
    to: list[str] | None = None
    subject: str | None = None
    message: str | None = None
    win_deal_on_accept: bool | None = None


class QuoteLineOut(Schema):
    id: int
    position: int
    product_id: int | None
    name: str
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    amount: Decimal
    discount_amount: Decimal
    net_amount: Decimal
    quote_discount_amount: Decimal
    tax_amount: Decimal
    total: Decimal


class QuoteOut(Schema):
    id: int
    number: str
    deal_id: int
    contact_id: int | None
    price_book_id: int | None
    currency: str
    status: str
    valid_until: date
    terms: str
    discount_percent: Decimal
    subtotal: Decimal
    discount_total: Decimal
    quote_discount_amount: Decimal
    tax_total: Decimal
    total: Decimal
    max_discount_percent: Decimal
    approval_required: bool
    approval_reasons: list[str]
    win_deal_on_accept: bool
    submitted_by_id: int | None
    submitted_at: datetime | None
    approved_by_id: int | None
    approved_at: datetime | None
    rejected_by_id: int | None
    rejected_at: datetime | None
    review_comment: str
    sent_at: datetime | None
    sent_by_id: int | None
    sent_to: list[str]
    email_id: int | None
    public_url: str | None
    first_viewed_at: datetime | None
    last_viewed_at: datetime | None
    view_count: int
    accepted_at: datetime | None
    accepted_name: str
    accepted_ip: str | None
    declined_at: datetime | None
    decline_reason: str
    expired_at: datetime | None
    deal_won: bool
    created_by_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_max_discount_percent(quote):
        return quote.max_discount

    @staticmethod
    def resolve_approval_reasons(quote):
        return getattr(quote, "reasons", [])

    @staticmethod
    def resolve_approval_required(quote):
        return bool(getattr(quote, "reasons", []))

    @staticmethod
    def resolve_public_url(quote):
        return getattr(quote, "public_url", None)


class QuoteDetailOut(QuoteOut):
    lines: list[QuoteLineOut]

    @staticmethod
    def resolve_lines(quote):
        return list(quote.lines.all())


class QuotePage(Schema):
    items: list[QuoteOut]
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool | None = None


class QuoteSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")
    approval_discount_limit: Number = None
    approval_total_limit: Number = None
    default_valid_days: int | None = None
    default_terms: str | None = None


class QuoteSettingsOut(Schema):
    approval_discount_limit: Decimal
    approval_total_limit: Decimal | None
    default_valid_days: int
    default_terms: str
    updated_at: datetime
