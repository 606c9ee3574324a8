"""Quote pages (the list, a quote's page with its actions, the editor whose lines are added,
removed and totalled by the server through htmx) and Settings → Products (products, price
books, the quote approval settings).

Every write goes through rapport.sales.quote_services; the totals the editor shows come from
the same arithmetic the service stores (quote_services.quote_preview).
"""

import contextlib
import functools
from dataclasses import dataclass, field

import pycountry
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.contacts import selectors as contact_selectors
from rapport.core.errors import (
    NotFound,
    PermissionDenied,
    RapportError,
    ValidationFailed,
    VersionConflict,
)
from rapport.core.events import events_for
from rapport.core.permissions import is_admin
from rapport.sales import quote_selectors as selectors
from rapport.sales import quote_services as services
from rapport.sales import selectors as deal_selectors
from rapport.sales.models import Quote, QuoteStatus
from rapport.sales.quote_forms import (
    CommentForm,
    NewQuoteForm,
    PriceBookForm,
    ProductForm,
    QuoteForm,
    QuoteSettingsForm,
    SendForm,
)
from rapport.sales.quote_pdf import PdfUnavailable, render_quote_pdf
from rapport.sales.quote_services import base_url
from rapport.sales.services import CURRENCIES, default_currency
from rapport.web.ui import Column, apply_errors, list_context

LINE_KEYS = ("id", "product_id", "name", "description", "quantity", "unit_price",
             "discount_percent", "tax_rate")
STALE = ("Someone else changed this quote while you were editing. Reload it to see their "
         "changes, then edit again.")


COMMON_CURRENCIES = ("USD", "EUR", "GBP")


@functools.cache
def _currencies() -> list[tuple[str, str]]:
    def label(code):
        currency = pycountry.currencies.get(alpha_3=code)
        return f"{code} — {currency.name}" if currency else code
    rest = sorted(CURRENCIES - set(COMMON_CURRENCIES))
    return [(code, label(code)) for code in (*COMMON_CURRENCIES, *rest)]


def _errors_text(exc: RapportError) -> str:
    texts = [m for messages_ in exc.fields.values() for m in messages_]
    if exc.message and exc.message != exc.default_message():
        return exc.message
    return " ".join(texts) or exc.message


def _quote_or_404(request, quote_id: int) -> Quote:
    quote = selectors.quote_get(user=request.user, quote_id=quote_id)
    if quote is None:
        raise Http404("No such quote.")
    return quote


# The list --------------------------------------------------------------------------------

def quote_list(request):
    context = list_context(
        request, object_type="quote", selector=selectors.quote_list, spec=selectors.QUOTE_LIST,
        columns=[Column("Quote", sort="number"), Column("Deal", css="col-optional"),
                 Column("Status"), Column("Total", css="num"),
                 Column("Valid until", sort="valid_until", css="col-optional"),
                 Column("Created", sort="created_at", css="col-optional")],
        filters=[], row_template="sales/quotes/_row.html", noun="quote", noun_plural="quotes",
        create_url=reverse("quotes:create"), bulk_url="", view_save_url="", owners=[],
    )
    context.update(statuses=list(QuoteStatus.choices),
                   filter_values={name: request.GET.get(name, "") for name in ("q", "status")})
    return render(request, "sales/quotes/list.html", context)


# Creating ----------------------------------------------------------------------------------

def quote_new(request):
    """Choose the deal (preselected from a deal page with ?deal_id=), then edit the draft."""
    deals = list(deal_selectors.deal_visible(user=request.user).filter(status="open")
                 .order_by("name", "id")[:500])
    raw = request.POST.get("deal_id") or request.GET.get("deal_id") or ""
    if raw.isdigit() and all(d.pk != int(raw) for d in deals):
        chosen = deal_selectors.deal_get(user=request.user, deal_id=int(raw))
        if chosen is not None:  # a closed deal may get a quote too, from its page
            deals.insert(0, chosen)
    if request.method == "POST":
        form = NewQuoteForm(request.POST, deals=deals)
        if form.is_valid():
            try:
                quote = services.quote_create(actor=request.user,
                                              data={"deal_id": form.cleaned_data["deal_id"]})
            except RapportError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, f"Quote {quote.number} created. Add its lines.")
                return redirect("quotes:edit", quote.pk)
    else:
        form = NewQuoteForm(initial={"deal_id": raw} if raw.isdigit() else None, deals=deals)
    return render(request, "sales/quotes/new.html", {"form": form, "has_deals": bool(deals)})


# A quote's page --------------------------------------------------------------------------

EVENT_VERBS = {
    "created": "created the quote", "updated": "changed the quote",
    "submitted": "submitted it for approval", "approved": "approved it",
    "rejected": "rejected it", "revised": "took it back to a draft", "sent": "sent it",
    "viewed": "The customer opened it", "accepted": "The customer accepted it",
    "declined": "The customer declined it", "expired": "It expired",
}


@dataclass
class Step:
    event: object
    verb: str
    details: list[str] = field(default_factory=list)
    by_customer: bool = False


def _steps(quote: Quote) -> list[Step]:
    steps = []
    for event in events_for(quote, limit=100):
        action = event.type.rsplit(".", 1)[-1]
        data = event.data or {}
        step = Step(event, EVENT_VERBS.get(action, action.replace("_", " ")),
                    by_customer=action in {"viewed", "accepted", "declined", "expired"})
        if action == "submitted" and data.get("reasons"):
            step.details.append("Needs approval: " + "; and ".join(data["reasons"]) + ".")
        if data.get("comment"):
            step.details.append(f"“{data['comment']}”")
        if action == "sent":
            step.details.append("To " + ", ".join(data.get("to", []))
                                + (" (again)" if data.get("resent") else ""))
        if action == "accepted":
            step.details.append(f"Signed “{data.get('accepted_name', '')}”"
                                + (f" from {data['ip']}" if data.get("ip") else ""))
            if data.get("deal_won"):
                step.details.append("The deal is marked won.")
        if action == "declined" and data.get("reason"):
            step.details.append(f"“{data['reason']}”")
        if action == "updated" and data.get("changes"):
            step.details.append("Changed: " + ", ".join(
                name.replace("_", " ") for name in data["changes"]))
        steps.append(step)
    return steps


def _can_review(user, quote: Quote) -> bool:
    return (quote.status == QuoteStatus.PENDING_APPROVAL and services.is_approver(user)
            and (quote.submitted_by_id != user.pk or is_admin(user)))


def _detail_context(request, quote: Quote, *, send_form=None, review_form=None) -> dict:
    reasons = services.approval_reasons(quote) if not quote.is_out else []
    contact_email = quote.contact.email if quote.contact_id and quote.contact else ""
    can_send = (quote.status in (QuoteStatus.APPROVED, QuoteStatus.SENT, QuoteStatus.VIEWED)
                or (quote.status == QuoteStatus.DRAFT and not reasons))
    return {
        "quote": quote, "deal": quote.deal, "lines": list(quote.lines.all()),
        "reasons": reasons, "steps": _steps(quote),
        "can_send": can_send and not services.is_past(quote),
        "can_review": _can_review(request.user, quote),
        "public_url": services.public_url(quote, base_url(request)) if quote.is_out else "",
        "send_form": send_form or SendForm(initial={
            "to": ", ".join(quote.sent_to) if quote.sent_to else contact_email,
            "win_deal_on_accept": quote.win_deal_on_accept}),
        "review_form": review_form or CommentForm(),
        "is_past": services.is_past(quote),
    }


def quote_detail(request, quote_id: int):
    quote = _quote_or_404(request, quote_id)
    if quote.status in services.OPEN_STATUSES and services.is_past(quote):
        services.quote_expire(quote_id=quote.pk)
        quote = _quote_or_404(request, quote_id)
    return render(request, "sales/quotes/detail.html", _detail_context(request, quote))


def _act(request, quote_id: int, write, success: str):
    """Run an action on the quote; its outcome (or refusal) becomes a message on its page."""
    try:
        quote = write()
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, success.format(quote=quote))
    return redirect("quotes:detail", quote_id)


@require_POST
def quote_submit(request, quote_id: int):
    return _act(request, quote_id, lambda: services.quote_submit(
        actor=request.user, quote_id=quote_id, comment=request.POST.get("comment", ""),
        base_url=base_url(request)),
        "Quote {quote.number} is waiting for approval; the approvers have a task and an "
        "email about it.")


@require_POST
def quote_review(request, quote_id: int, decision: str):
    form = CommentForm(request.POST)
    if not form.is_valid():
        return render(request, "sales/quotes/detail.html", _detail_context(
            request, _quote_or_404(request, quote_id), review_form=form), status=422)
    write = services.quote_approve if decision == "approve" else services.quote_reject
    try:
        quote = write(actor=request.user, quote_id=quote_id, comment=form.cleaned_data["comment"],
                      base_url=base_url(request))
    except NotFound:
        raise Http404() from None
    except ValidationFailed as exc:
        apply_errors(form, exc)
        quote = _quote_or_404(request, quote_id)
        return render(request, "sales/quotes/detail.html",
                      _detail_context(request, quote, review_form=form), status=422)
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, f"Quote {quote.number} approved: it can be sent."
                         if decision == "approve" else
                         f"Quote {quote.number} rejected and back with the seller as a draft.")
    return redirect("quotes:detail", quote_id)


@require_POST
def quote_revise(request, quote_id: int):
    return _act(request, quote_id, lambda: services.quote_revise(
        actor=request.user, quote_id=quote_id), "Quote {quote.number} is a draft again.")


@require_POST
def quote_delete(request, quote_id: int):
    quote = _quote_or_404(request, quote_id)
    try:
        services.quote_delete(actor=request.user, quote_id=quote_id)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
        return redirect("quotes:detail", quote_id)
    messages.success(request, f"Quote {quote.number} deleted.")
    return redirect("deals:detail", quote.deal_id)


@require_POST
def quote_send(request, quote_id: int):
    form = SendForm(request.POST)
    if form.is_valid():
        try:
            quote = services.quote_send(actor=request.user, quote_id=quote_id,
                                        data=form.to_data(), base_url=base_url(request))
        except NotFound:
            raise Http404() from None
        except ValidationFailed as exc:
            apply_errors(form, exc)
        except RapportError as exc:
            messages.error(request, _errors_text(exc))
            return redirect("quotes:detail", quote_id)
        else:
            if quote.status == QuoteStatus.EXPIRED:
                messages.error(request, f"Quote {quote.number} has expired; it was not sent.")
            else:
                messages.success(request, f"Quote {quote.number} is on its way to "
                                          f"{', '.join(quote.sent_to)}.")
            return redirect("quotes:detail", quote_id)
    quote = _quote_or_404(request, quote_id)
    return render(request, "sales/quotes/detail.html",
                  _detail_context(request, quote, send_form=form), status=422)


def quote_pdf(request, quote_id: int):
    quote = _quote_or_404(request, quote_id)
    link = services.public_url(quote, base_url(request)) if quote.is_out else ""
    try:
        pdf = render_quote_pdf(quote, link=link)
    except PdfUnavailable as exc:
        messages.error(request, exc.message)
        return redirect("quotes:detail", quote_id)
    response = HttpResponse(pdf, content_type="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{quote.number}.pdf"'
    return response


# The editor ------------------------------------------------------------------------------

def _posted_lines(post) -> list[dict]:
    """The editor's rows as the service takes them; empty inputs are left out, so a product
    line takes its name, price and tax from the product and the price book."""
    columns = {key: post.getlist(f"line_{key}") for key in LINE_KEYS}
    count = max((len(values) for values in columns.values()), default=0)
    rows = []
    for i in range(count):
        row = {}
        for key in LINE_KEYS:
            raw = columns[key][i].strip() if i < len(columns[key]) else ""
            if key in ("id", "product_id"):
                row[key] = int(raw) if raw.isdigit() else None
            elif raw:
                row[key] = raw
        rows.append(row)
    return rows


def _stored_lines(quote: Quote) -> list[dict]:
    return [{"id": line.pk, "product_id": line.product_id, "name": line.name,
             "description": line.description, "quantity": f"{line.quantity.normalize():f}",
             "unit_price": f"{line.unit_price}", "discount_percent":
             f"{line.discount_percent.normalize():f}", "tax_rate": f"{line.tax_rate.normalize():f}"}
            for line in quote.lines.all()]


@dataclass
class Row:
    index: int
    values: dict
    product: object = None
    line: dict | None = None  # the priced line, when it is complete
    errors: dict = field(default_factory=dict)


def _lines_context(request, quote: Quote, lines: list[dict], *, price_book_id, show_errors: bool,
                   errors: dict | None = None) -> dict:
    books = {b.pk for b in selectors.price_book_list(active_only=True) if b.currency == quote.currency}
    quote.price_book_id = price_book_id if price_book_id in books else None
    if request.method == "POST":  # the discount as typed, for the totals (saving checks it)
        with contextlib.suppress(ValueError):
            quote.discount_percent = services.clean_quote_discount(
                request.POST.get("discount_percent", "").strip())
    preview = services.quote_preview(quote=quote, lines=lines)
    products = selectors.product_choices(include_ids={r.get("product_id") for r in lines
                                                      if r.get("product_id")}
                                         | {line.product_id for line in quote.lines.all()})
    by_id = {p.pk: p for p in products}
    all_errors = errors if errors is not None else preview.errors
    rows = []
    for i, values in enumerate(lines):
        prefix = f"lines[{i}]."
        rows.append(Row(i, values, by_id.get(values.get("product_id")), preview.lines.get(i),
                        {k[len(prefix):]: v for k, v in all_errors.items()
                         if k.startswith(prefix)} if show_errors else {}))
    return {"quote": quote, "rows": rows, "products": products, "totals": preview.totals,
            "reasons": preview.reasons, "incomplete": len(preview.lines) < len(lines),
            "lines_error": (all_errors.get("lines") if show_errors else None)}


def _header_form(request, quote: Quote, data=None):
    contacts = [c for c in contact_selectors.contact_visible(user=request.user)
                .filter(deal_links__deal=quote.deal).distinct().order_by("last_name", "first_name")]
    if quote.contact_id and all(c.pk != quote.contact_id for c in contacts) and quote.contact:
        contacts.insert(0, quote.contact)
    books = [b for b in selectors.price_book_list(active_only=True) if b.currency == quote.currency]
    kwargs = {"contacts": contacts, "books": books, "currency": quote.currency}
    if data is not None:
        return QuoteForm(data, **kwargs)
    return QuoteForm(initial=QuoteForm.initial_for(quote), **kwargs)


def quote_edit(request, quote_id: int):
    """GET: the editor. POST `action`: `save`, `add` (a line), `remove-<n>`, `recalculate`;
    with htmx every action but saving answers with the lines and totals alone."""
    quote = _quote_or_404(request, quote_id)
    if not quote.is_editable:
        messages.info(request, f"Quote {quote.number} is {quote.get_status_display().lower()}: "
                               "only a draft can be changed.")
        return redirect("quotes:detail", quote.pk)
    if request.method != "POST":
        form = _header_form(request, quote)
        lines = _stored_lines(quote)
        return _editor(request, quote, form, lines, price_book_id=quote.price_book_id)
    form = _header_form(request, quote, request.POST)
    lines = _posted_lines(request.POST)
    action = request.POST.get("action", "") or "save"
    # A change anywhere in the form (htmx, no button): only the amounts and totals come back,
    # out of band, so no input someone is typing into is replaced.
    changed = request.htmx and not request.POST.get("action")
    if request.htmx and action != "add" and not action.startswith("remove-"):
        action = "recalculate"
    raw_book = request.POST.get("price_book_id", "")
    price_book_id = int(raw_book) if raw_book.isdigit() else None
    if action == "add":
        lines.append({"quantity": "1"})
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        if 0 <= index < len(lines):
            lines.pop(index)
    if action != "save":
        if request.htmx:
            template = "sales/quotes/_results.html" if changed else "sales/quotes/_lines.html"
            return render(request, template, _lines_context(
                request, quote, lines, price_book_id=price_book_id, show_errors=False))
        return _editor(request, quote, form, lines, price_book_id=price_book_id)
    if not form.is_valid():
        return _editor(request, quote, form, lines, price_book_id=price_book_id, status=422)
    try:
        services.quote_update(actor=request.user, quote_id=quote.pk,
                              data={**form.to_data(), "lines": lines},
                              expected_version=form.cleaned_data["version"])
    except NotFound:
        raise Http404() from None
    except VersionConflict:
        form.add_error(None, STALE)
        return _editor(request, quote, form, lines, price_book_id=price_book_id, status=409,
                       stale=True)
    except ValidationFailed as exc:
        line_errors = {k: v for k, v in exc.fields.items() if k.startswith("lines")}
        header = ValidationFailed(exc.message, fields={k: v for k, v in exc.fields.items()
                                                       if not k.startswith("lines")})
        if header.fields:
            apply_errors(form, header)
        elif not line_errors:
            form.add_error(None, exc.message)
        else:
            form.add_error(None, "Some lines need attention: see below.")
        return _editor(request, quote, form, lines, price_book_id=price_book_id, status=422,
                       errors=line_errors)
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
        return redirect("quotes:detail", quote.pk)
    messages.success(request, f"Quote {quote.number} saved.")
    return redirect("quotes:detail", quote.pk)


def _editor(request, quote, form, lines, *, price_book_id, status=200, errors=None, stale=False):
    context = _lines_context(request, quote, lines, price_book_id=price_book_id,
                             show_errors=errors is not None, errors=errors)
    context.update(form=form, deal=quote.deal, stale=stale)
    return render(request, "sales/quotes/edit.html", context, status=status)


# Settings → Products ---------------------------------------------------------------------

def _settings_page(request, *, product_form=None, book_form=None, settings_form=None, status=200):
    books = list(selectors.price_book_list())
    active_books = [b for b in books if b.active]
    params = request.GET.copy()
    params.setdefault("limit", "100")
    try:
        page = selectors.product_list(params=params)
        list_error = ""
    except RapportError as exc:
        page, list_error = None, _errors_text(exc)
    rules = selectors.quote_settings()
    return render(request, "sales/quotes/products.html", {
        "settings_section": "products", "can_manage": services.is_catalog_manager(request.user),
        "is_admin": is_admin(request.user), "page": page, "list_error": list_error,
        "books": books, "active_books": active_books,
        "product_form": product_form or ProductForm(books=active_books),
        "book_form": book_form or PriceBookForm(
            currencies=_currencies(), initial={"currency": default_currency()}),
        "rules": rules,
        "settings_form": settings_form or QuoteSettingsForm(
            initial=QuoteSettingsForm.initial_for(rules)),
        "next_url": f"?cursor={page.next_cursor}" if page and page.next_cursor else "",
        "query": request.GET.get("q", ""),
    }, status=status)


def product_settings(request):
    return _settings_page(request)


@require_POST
def product_create(request):
    books = [b for b in selectors.price_book_list(active_only=True)]
    form = ProductForm(request.POST, books=books)
    if form.is_valid():
        try:
            product = services.product_create(actor=request.user,
                                              data=form.to_data(creating=True))
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect("products:list")
        except RapportError as exc:
            _apply_product_errors(form, exc)
        else:
            messages.success(request, f"Product “{product.name}” added.")
            return redirect(f"{reverse('products:list')}#products-heading")
    return _settings_page(request, product_form=form, status=422)


def _apply_product_errors(form, exc: RapportError) -> None:
    """`prices[0].unit_price` → the price field of that book."""
    sent = getattr(form, "sent_books", [])
    fields = {}
    for key, messages_ in exc.fields.items():
        if key.startswith("prices[") and "]" in key:
            index = key[7:key.index("]")]
            if index.isdigit() and int(index) < len(sent):
                fields[f"price_{sent[int(index)]}"] = messages_
                continue
        fields[key] = messages_
    apply_errors(form, type(exc)(exc.message, fields=fields) if fields else exc)


def product_edit(request, product_id: int):
    product = selectors.product_get(product_id=product_id)
    if product is None:
        raise Http404("No such product.")
    books = list(selectors.price_book_list(active_only=True))
    priced = {entry.price_book_id for entry in product.prices.all()}
    books += [b for b in selectors.price_book_list().filter(pk__in=priced, active=False)]
    stale = False
    if request.method == "POST":
        form = ProductForm(request.POST, books=books)
        if form.is_valid():
            data = form.to_data(creating=False)
            try:
                services.product_update(actor=request.user, product_id=product.pk, data=data,
                                        expected_version=form.cleaned_data["version"])
            except VersionConflict:
                stale = True
                form.add_error(None, "Someone else changed this product while you were "
                                     "editing. Reload the page to see their changes.")
            except PermissionDenied as exc:
                form.add_error(None, exc.message)
            except RapportError as exc:
                _apply_product_errors(form, exc)
            else:
                messages.success(request, f"Saved “{data['name'] or product.name}”.")
                return redirect("products:list")
    else:
        form = ProductForm(initial=ProductForm.initial_for(product), books=books)
    return render(request, "sales/quotes/product_form.html", {
        "settings_section": "products", "form": form, "product": product, "stale": stale,
        "can_manage": services.is_catalog_manager(request.user)})


@require_POST
def product_delete(request, product_id: int):
    try:
        services.product_delete(actor=request.user, product_id=product_id)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
        return redirect("products:edit", product_id)
    messages.success(request, "Product deleted.")
    return redirect("products:list")


@require_POST
def price_book_create(request):
    form = PriceBookForm(request.POST, currencies=_currencies())
    if form.is_valid():
        try:
            book = services.price_book_create(actor=request.user, data=form.cleaned_data)
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect("products:list")
        except RapportError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Price book “{book.name}” added.")
            return redirect(f"{reverse('products:list')}#books-heading")
    return _settings_page(request, book_form=form, status=422)


@require_POST
def price_book_update(request, price_book_id: int):
    action = request.POST.get("action", "rename")
    data = {"default": {"is_default": True}, "activate": {"active": True},
            "deactivate": {"active": False}}.get(action, {"name": request.POST.get("name", "")})
    try:
        book = services.price_book_update(actor=request.user, price_book_id=price_book_id,
                                          data=data)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, f"Price book “{book.name}” saved.")
    return redirect(f"{reverse('products:list')}#books-heading")


@require_POST
def price_book_delete(request, price_book_id: int):
    try:
        services.price_book_delete(actor=request.user, price_book_id=price_book_id)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, "Price book deleted.")
    return redirect(f"{reverse('products:list')}#books-heading")


@require_POST
def quote_settings_update(request):
    form = QuoteSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.quote_settings_update(actor=request.user, data=form.to_data())
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect("products:list")
        except RapportError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Quote settings saved.")
            return redirect(f"{reverse('products:list')}#approval-heading")
    return _settings_page(request, settings_form=form, status=422)
