"""Every read of products, price books and quotes. A quote is seen by whoever can see its deal."""

from django.db.models import Count, Prefetch

from rapport.core import listing
from rapport.core.listing import Field, ListSpec
from rapport.core.permissions import in_scope
from rapport.core.selectors import one
from rapport.sales.models import (
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
    QuoteLine,
    QuoteSettings,
    QuoteStatus,
)

PRODUCT_LIST = ListSpec(
    object_type="product",
    default_sort="name",
    fields={
        "id": Field("int"),
        "name": Field("text", sortable=True, label="Name"),
        "sku": Field("text", sortable=True, label="SKU"),
        "active": Field("bool", label="Active"),
        "created_at": Field("datetime", sortable=True, label="Created"),
        "updated_at": Field("datetime", sortable=True, label="Updated"),
    },
)

PRICE_LIST = ListSpec(
    object_type="price_book_entry",
    default_sort="product_name",
    fields={
        "product_id": Field("ref", label="Product"),
        "product_name": Field("text", path="product__name", sortable=True, label="Product"),
        "created_at": Field("datetime", sortable=True, label="Created"),
    },
)

QUOTE_LIST = ListSpec(
    object_type="quote",
    default_sort="-created_at",
    fields={
        "id": Field("int"),
        "number": Field("text", sortable=True, label="Number"),
        "deal_id": Field("ref", label="Deal"),
        "contact_id": Field("ref", label="Contact"),
        "owner_id": Field("ref", path="deal__owner_id", label="Deal owner"),
        "status": Field("choice", choices=tuple(QuoteStatus.values), label="Status"),
        "currency": Field("text", label="Currency"),
        "created_by_id": Field("ref", label="Created by"),
        "valid_until": Field("date", sortable=True, label="Valid until"),
        "created_at": Field("datetime", sortable=True, label="Created"),
        "updated_at": Field("datetime", sortable=True, label="Updated"),
        "sent_at": Field("datetime", label="Sent"),
    },
)


def quote_settings() -> QuoteSettings:
    """The approval limits and defaults (the built-in ones until an admin saves them)."""
    return one(QuoteSettings.objects.filter(pk=1)) or QuoteSettings(pk=1)


# Products and price books -------------------------------------------------------------------

def _with_prices(products):
    return products.prefetch_related(Prefetch(
        "prices", queryset=PriceBookEntry.objects.select_related("price_book")
        .order_by("price_book__currency", "price_book__name", "id")))


def product_list(*, params) -> listing.Page:
    """Every user reads the catalogue; `active=true` for what can go on a new quote line."""
    query = listing.parse(params, PRODUCT_LIST)
    products = listing.apply(Product.objects.all(), query, PRODUCT_LIST)
    return listing.paginate(products, query, PRODUCT_LIST, rows=_with_prices)


def product_get(*, product_id: int) -> Product | None:
    return one(_with_prices(Product.objects.filter(pk=product_id)))


def product_choices(*, include_ids=(), limit: int = 1000) -> list[Product]:
    """Active products for a quote line's select (and the ones already on the quote)."""
    from django.db.models import Q

    return list(Product.objects.filter(Q(active=True) | Q(pk__in=list(include_ids)))
                .order_by("name", "id")[:limit])


def price_book_list(*, active_only: bool = False):
    books = PriceBook.objects.annotate(price_count=Count("entries"))
    return books.filter(active=True) if active_only else books


def price_book_get(*, price_book_id: int) -> PriceBook | None:
    return one(price_book_list().filter(pk=price_book_id))


def price_list(*, price_book: PriceBook, params) -> listing.Page:
    query = listing.parse(params, PRICE_LIST)
    entries = listing.apply(PriceBookEntry.objects.filter(price_book=price_book), query, PRICE_LIST)
    return listing.paginate(entries, query, PRICE_LIST,
                            rows=lambda rows: rows.select_related("product", "price_book"))


def price_get(*, price_book_id: int, product_id: int) -> PriceBookEntry | None:
    return one(PriceBookEntry.objects.select_related("product", "price_book")
               .filter(price_book_id=price_book_id, product_id=product_id))


def prices_for(*, currency: str, price_book_id: int | None = None) -> dict[int, object]:
    """Product id → unit price in the quote's price book (or the currency's default)."""
    book = PriceBook.objects.filter(pk=price_book_id).first() if price_book_id else \
        PriceBook.objects.filter(currency=currency, is_default=True, active=True).first()
    if book is None:
        return {}
    return dict(PriceBookEntry.objects.filter(price_book=book)
                .values_list("product_id", "unit_price"))


# Quotes ---------------------------------------------------------------------------------------

def quote_visible(*, user, **lookups):
    """Quotes on live deals `user` may see."""
    return Quote.objects.filter(in_scope(user, "deal", owner_field="deal__owner",
                                         deal__deleted_at__isnull=True, **lookups))


def _quote_rows(rows):
    return rows.select_related("deal", "deal__owner", "contact", "created_by")


def quote_list(*, user, params) -> listing.Page:
    """`q` finds quote numbers containing it ("0042", "Q-2026-0042"): a number is matched
    exactly, not by the typo-forgiving full-text search, which would find its neighbours."""
    query = listing.parse(params, QUOTE_LIST)
    number, query.query = query.query, ""
    quotes = listing.apply(quote_visible(user=user), query, QUOTE_LIST)
    if number:
        quotes = quotes.filter(number__icontains=number)
    return listing.paginate(quotes, query, QUOTE_LIST, rows=_quote_rows)


def quote_get(*, user, quote_id: int) -> Quote | None:
    """The quote with its lines and the people around it, if `user` may see its deal."""
    return one(quote_visible(user=user, pk=quote_id)
               .select_related("deal", "deal__stage", "deal__owner", "deal__company", "contact",
                               "contact__company", "price_book", "created_by", "submitted_by",
                               "approved_by", "rejected_by", "sent_by", "email")
               .prefetch_related(Prefetch("lines", queryset=QuoteLine.objects.order_by(
                   "position", "id").select_related("product"))))


def deal_quotes(*, deal, limit: int = 50) -> list[Quote]:
    """A deal's quotes, newest first (the caller has checked the deal is visible)."""
    return list(Quote.objects.filter(deal=deal).select_related("created_by")
                .order_by("-created_at", "-id")[:limit])
