"""Products, price books (with their prices), quotes and their actions, the quote settings."""

from django.http import HttpResponse, JsonResponse
from ninja import Router, Status

from rapport.api.responses import expected_version, idempotent, page_response, record_response
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound
from rapport.sales import quote_selectors as selectors
from rapport.sales import quote_services as services
from rapport.sales.quote_pdf import render_quote_pdf
from rapport.sales.quote_schemas import (
    PriceBookIn,
    PriceBookOut,
    PriceBookPage,
    PriceEntryIn,
    PriceEntryOut,
    PriceEntryPage,
    PriceEntryPatch,
    ProductIn,
    ProductOut,
    ProductPage,
    QuoteCommentIn,
    QuoteDetailOut,
    QuoteIn,
    QuoteOut,
    QuotePage,
    QuotePatch,
    QuoteSendIn,
    QuoteSettingsIn,
    QuoteSettingsOut,
)
from rapport.sales.quote_services import base_url

products = Router(tags=["products"])
price_books = Router(tags=["products"])
quotes = Router(tags=["quotes"])
quote_settings = Router(tags=["quotes"])


def _sent(payload) -> dict:
    return payload.model_dump(exclude_unset=True)


# Products ---------------------------------------------------------------------------------

def _product_response(product_id: int, status: int = 200):
    product = selectors.product_get(product_id=product_id)
    if product is None:
        raise NotFound()
    return record_response(product, ProductOut, status)


@products.get("", response={200: ProductPage, **ERRORS},
              description="The catalogue, for everyone. Cursor-paginated: `limit`, `cursor`, "
                          "`sort` (`name`, `sku`, `created_at`, `updated_at`), `count=true`, "
                          "`q` (name or SKU). Filters: `name`, `sku`, `active`, `created_at`, "
                          "`updated_at`.")
def list_products(request, limit: str | None = None, cursor: str | None = None,
                  q: str | None = None, sort: str | None = None, count: str | None = None):
    return page_response(selectors.product_list(params=request.GET), ProductOut)


@products.post("", response={201: ProductOut, **ERRORS},
               description="Admins and managers. `sku` is unique whatever its case (409). "
                           "`prices`: [{`price_book_id`, `unit_price`}] sets its price in "
                           "those books.")
def create_product(request, payload: ProductIn):
    def produce():
        product = services.product_create(actor=request.auth, data=_sent(payload))
        return _product_response(product.pk, 201)
    return idempotent(request, produce)


@products.get("/{int:product_id}", response={200: ProductOut, **ERRORS})
def get_product(request, product_id: int):
    return _product_response(product_id)


@products.patch("/{int:product_id}", response={200: ProductOut, **ERRORS},
                description="Admins and managers. Only the fields sent change; in `prices`, a "
                            "null `unit_price` takes the product out of that book. `If-Match: "
                            "<version>` guards against lost updates.")
def update_product(request, product_id: int, payload: ProductIn):
    services.product_update(actor=request.auth, product_id=product_id, data=_sent(payload),
                            expected_version=expected_version(request))
    return _product_response(product_id)


@products.delete("/{int:product_id}", response={204: None, **ERRORS},
                 description="Admins and managers. 409 once a quote uses it: switch it off "
                             "(`active: false`) instead.")
def delete_product(request, product_id: int):
    services.product_delete(actor=request.auth, product_id=product_id)
    return HttpResponse(status=204)


# Price books ------------------------------------------------------------------------------

def _book_response(price_book_id: int, status: int = 200):
    book = selectors.price_book_get(price_book_id=price_book_id)
    if book is None:
        raise NotFound()
    return record_response(book, PriceBookOut, status)


@price_books.get("", response={200: PriceBookPage, **ERRORS},
                 description="Every price book (one page), by currency and name.")
def list_price_books(request):
    return JsonResponse({"items": [PriceBookOut.from_orm(b).model_dump(mode="json")
                                   for b in selectors.price_book_list()],
                         "next_cursor": None})


@price_books.post("", response={201: PriceBookOut, **ERRORS},
                  description="Admins and managers. `name`, `currency` (ISO 4217), `is_default` "
                              "(the book that prices quotes in its currency; the first of a "
                              "currency is), `active`.")
def create_price_book(request, payload: PriceBookIn):
    def produce():
        book = services.price_book_create(actor=request.auth, data=_sent(payload))
        return _book_response(book.pk, 201)
    return idempotent(request, produce)


@price_books.get("/{int:price_book_id}", response={200: PriceBookOut, **ERRORS})
def get_price_book(request, price_book_id: int):
    return _book_response(price_book_id)


@price_books.patch("/{int:price_book_id}", response={200: PriceBookOut, **ERRORS},
                   description="Admins and managers. `name`, `is_default`, `active`; `currency` "
                               "while it has no prices. `If-Match` guards against lost updates.")
def update_price_book(request, price_book_id: int, payload: PriceBookIn):
    services.price_book_update(actor=request.auth, price_book_id=price_book_id,
                               data=_sent(payload), expected_version=expected_version(request))
    return _book_response(price_book_id)


@price_books.delete("/{int:price_book_id}", response={204: None, **ERRORS},
                    description="Admins and managers. Its prices go with it; quotes keep their "
                                "lines.")
def delete_price_book(request, price_book_id: int):
    services.price_book_delete(actor=request.auth, price_book_id=price_book_id)
    return HttpResponse(status=204)


def _book(price_book_id: int):
    book = selectors.price_book_get(price_book_id=price_book_id)
    if book is None:
        raise NotFound()
    return book


def _entry_response(price_book_id: int, product_id: int, status: int = 200):
    entry = selectors.price_get(price_book_id=price_book_id, product_id=product_id)
    if entry is None:
        raise NotFound()
    return JsonResponse(PriceEntryOut.from_orm(entry).model_dump(mode="json"), status=status)


@price_books.get("/{int:price_book_id}/entries", response={200: PriceEntryPage, **ERRORS},
                 description="The book's prices, by product name. Cursor-paginated (`limit`, "
                             "`cursor`, `sort`: `product_name` or `created_at`); filter "
                             "`product_id`.")
def list_prices(request, price_book_id: int, limit: str | None = None, cursor: str | None = None,
                sort: str | None = None):
    return page_response(selectors.price_list(price_book=_book(price_book_id), params=request.GET),
                         PriceEntryOut)


@price_books.post("/{int:price_book_id}/entries",
                  response={200: PriceEntryOut, 201: PriceEntryOut, **ERRORS},
                  description="Admins and managers. Sets `product_id`'s `unit_price` in the "
                              "book: 201, or 200 when it had a price there already.")
def set_price(request, price_book_id: int, payload: PriceEntryIn):
    def produce():
        entry, created = services.price_set(actor=request.auth, price_book_id=price_book_id,
                                            product_id=payload.product_id,
                                            unit_price=payload.unit_price)
        return _entry_response(price_book_id, entry.product_id, 201 if created else 200)
    return idempotent(request, produce)


@price_books.get("/{int:price_book_id}/entries/{int:product_id}",
                 response={200: PriceEntryOut, **ERRORS})
def get_price(request, price_book_id: int, product_id: int):
    return _entry_response(price_book_id, product_id)


@price_books.patch("/{int:price_book_id}/entries/{int:product_id}",
                   response={200: PriceEntryOut, **ERRORS}, description="Admins and managers.")
def update_price(request, price_book_id: int, product_id: int, payload: PriceEntryPatch):
    if selectors.price_get(price_book_id=price_book_id, product_id=product_id) is None:
        raise NotFound()
    services.price_set(actor=request.auth, price_book_id=price_book_id, product_id=product_id,
                       unit_price=payload.unit_price)
    return _entry_response(price_book_id, product_id)


@price_books.delete("/{int:price_book_id}/entries/{int:product_id}",
                    response={204: None, **ERRORS}, description="Admins and managers.")
def remove_price(request, price_book_id: int, product_id: int):
    services.price_remove(actor=request.auth, price_book_id=price_book_id, product_id=product_id)
    return HttpResponse(status=204)


# Quotes -----------------------------------------------------------------------------------

def _shown(request, quote):
    """What a quote's JSON carries besides its columns: why it needs approval, its link."""
    rules = selectors.quote_settings()
    quote.reasons = services.approval_reasons(quote, rules) if not quote.is_out else []
    quote.public_url = services.public_url(quote, base_url(request)) if quote.is_out else None
    return quote


def _quote_response(request, quote_id: int, status: int = 200):
    quote = selectors.quote_get(user=request.auth, quote_id=quote_id)
    if quote is None:
        raise NotFound()
    return record_response(_shown(request, quote), QuoteDetailOut, status)


QUOTE_LIST_DOC = (
    "Quotes on the deals you can see. Cursor-paginated: `limit`, `cursor`, `sort` (`number`, "
    "`valid_until`, `created_at`, `updated_at`; `-` for descending), `count=true`, `q` "
    "(number). Filters: `number`, `deal_id`, `contact_id`, `owner_id` (the deal's owner), "
    "`status`, `currency`, `created_by_id`, `valid_until`, `created_at`, `updated_at`, "
    "`sent_at`.")


@quotes.get("", response={200: QuotePage, **ERRORS}, description=QUOTE_LIST_DOC)
def list_quotes(request, limit: str | None = None, cursor: str | None = None,
                q: str | None = None, sort: str | None = None, count: str | None = None):
    page = selectors.quote_list(user=request.auth, params=request.GET)
    rules = selectors.quote_settings()
    base = base_url(request)
    for quote in page.items:
        quote.reasons = services.approval_reasons(quote, rules) if not quote.is_out else []
        quote.public_url = services.public_url(quote, base) if quote.is_out else None
    return page_response(page, QuoteOut)


@quotes.post("", response={201: QuoteDetailOut, **ERRORS},
             description="A draft on `deal_id`, in the deal's currency, numbered at once. "
                         "`lines`: [{`product_id` or `name`, `quantity` (1), `unit_price` "
                         "(from the price book for a product), `discount_percent`, `tax_rate` "
                         "(the product's), `description`}]. `discount_percent` (0-100) takes "
                         "that much off the whole quote after the line discounts and before tax "
                         "(`quote_discount_amount`; `discount_total` holds every discount). "
                         "`contact_id` defaults to the deal's "
                         "first contact with an email address; `valid_until` and `terms` to the "
                         "quote settings.")
def create_quote(request, payload: QuoteIn):
    def produce():
        quote = services.quote_create(actor=request.auth, data=_sent(payload))
        return _quote_response(request, quote.pk, 201)
    return idempotent(request, produce)


@quotes.get("/{int:quote_id}", response={200: QuoteDetailOut, **ERRORS},
            description="The quote with its lines; `approval_reasons` says why a draft needs "
                        "approval before it is sent.")
def get_quote(request, quote_id: int):
    return _quote_response(request, quote_id)


@quotes.patch("/{int:quote_id}", response={200: QuoteDetailOut, **ERRORS},
              description="Drafts only (409 otherwise). `lines` replaces them all: a line with "
                          "the `id` of one of the quote's lines keeps it. `If-Match: <version>` "
                          "guards against lost updates (412).")
def update_quote(request, quote_id: int, payload: QuotePatch):
    services.quote_update(actor=request.auth, quote_id=quote_id, data=_sent(payload),
                          expected_version=expected_version(request))
    return _quote_response(request, quote_id)


@quotes.delete("/{int:quote_id}", response={204: None, **ERRORS},
               description="Drafts only (409 otherwise).")
def delete_quote(request, quote_id: int):
    services.quote_delete(actor=request.auth, quote_id=quote_id)
    return HttpResponse(status=204)


@quotes.post("/{int:quote_id}/submit", response={200: QuoteDetailOut, **ERRORS},
             description="Asks for approval (a draft that needs it: 409 otherwise); the "
                         "managers of the deal owner's team, else the admins, get a task and "
                         "an email with a link to the quote. Optional `comment`.")
def submit_quote(request, quote_id: int, payload: QuoteCommentIn):
    services.quote_submit(actor=request.auth, quote_id=quote_id, comment=payload.comment or "",
                          base_url=base_url(request))
    return _quote_response(request, quote_id)


@quotes.post("/{int:quote_id}/approve", response={200: QuoteDetailOut, **ERRORS},
             description="Managers and admins, not the submitter (unless an admin); a quote "
                         "pending approval. Optional `comment`, emailed to the seller.")
def approve_quote(request, quote_id: int, payload: QuoteCommentIn):
    services.quote_approve(actor=request.auth, quote_id=quote_id, comment=payload.comment or "",
                          base_url=base_url(request))
    return _quote_response(request, quote_id)


@quotes.post("/{int:quote_id}/reject", response={200: QuoteDetailOut, **ERRORS},
             description="Managers and admins: back to a draft; `comment` (why) is required "
                         "and emailed to the seller.")
def reject_quote(request, quote_id: int, payload: QuoteCommentIn):
    services.quote_reject(actor=request.auth, quote_id=quote_id, comment=payload.comment or "",
                          base_url=base_url(request))
    return _quote_response(request, quote_id)


@quotes.post("/{int:quote_id}/revise", response={200: QuoteDetailOut, **ERRORS},
             description="An approved or pending quote back to a draft, to change it; its "
                         "approval no longer counts.")
def revise_quote(request, quote_id: int):
    services.quote_revise(actor=request.auth, quote_id=quote_id)
    return _quote_response(request, quote_id)


@quotes.post("/{int:quote_id}/send", response={200: QuoteDetailOut, **ERRORS},
             description="Emails the quote with its PDF and its public link to `to` (default: "
                         "its contact), logged on the deal. Optional `subject`, `message`, "
                         "`win_deal_on_accept`. 409 when it needs approval it has not had, is "
                         "pending approval, is accepted, declined or expired, or its "
                         "`valid_until` has passed.")
def send_quote(request, quote_id: int, payload: QuoteSendIn):
    def produce():
        services.quote_send(actor=request.auth, quote_id=quote_id, data=_sent(payload),
                            base_url=base_url(request))
        return _quote_response(request, quote_id)
    return idempotent(request, produce)


@quotes.get("/{int:quote_id}/pdf", response={200: None, **ERRORS},
            description="The quote as a PDF (`application/pdf`).")
def quote_pdf(request, quote_id: int):
    quote = selectors.quote_get(user=request.auth, quote_id=quote_id)
    if quote is None:
        raise NotFound()
    link = services.public_url(quote, base_url(request)) if quote.is_out else ""
    response = HttpResponse(render_quote_pdf(quote, link=link), content_type="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{quote.number}.pdf"'
    return response


# Settings ---------------------------------------------------------------------------------

@quote_settings.get("", response={200: QuoteSettingsOut, **ERRORS},
                    description="When a quote needs approval (its largest effective line "
                                "discount, the quote's own `discount_percent` included, over "
                                "`approval_discount_limit` %, or its total over "
                                "`approval_total_limit`, null for none) and new quotes' "
                                "defaults.")
def get_quote_settings(request):
    return selectors.quote_settings()


@quote_settings.patch("", response={200: QuoteSettingsOut, **ERRORS}, description="Admins.")
def update_quote_settings(request, payload: QuoteSettingsIn):
    return Status(200, services.quote_settings_update(actor=request.auth, data=_sent(payload)))
