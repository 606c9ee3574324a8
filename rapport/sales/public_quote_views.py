"""The customer's page for a quote, at /q/<signed token>/: no login. They read it (the quote
becomes viewed), download the PDF, accept it with their typed full name, or decline it.

A token that does not verify is a 404 before the database is asked anything. A quote past its
valid-until date shows that it expired; an accepted or declined one shows the answer given,
and a second answer is refused. Each address may make a few dozen requests a minute here.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.ratelimit import client_ip, over_limit
from rapport.sales import quote_services as services
from rapport.sales.models import Quote, QuoteLine, QuoteStatus
from rapport.sales.quote_forms import AcceptForm, DeclineForm
from rapport.sales.quote_pdf import PdfUnavailable, render_quote_pdf

# Requests per address per minute: reading, answering, and PDFs (which cost CPU to make).
LIMITS = {"view": 60, "answer": 10, "pdf": 10}


def _limited(request, kind: str) -> HttpResponse | None:
    """A 429 page once the address has used up its requests of `kind` for this minute."""
    retry = over_limit(f"quote:{kind}", request, LIMITS[kind])
    if retry is None:
        return None
    response = render(request, "sales/quotes/public_limited.html", {"retry": retry}, status=429)
    response.headers["Retry-After"] = str(retry)
    return response


def _quote(token: str) -> Quote:
    quote = services.quote_for_token(token)
    if quote is None or not quote.is_out:
        raise Http404("No such quote.")
    return quote


def _page(request, token: str, quote: Quote, *, accept_form=None, decline_form=None,
          notice: str = "", status: int = 200):
    if quote.status == QuoteStatus.EXPIRED:
        status = 410 if status == 200 else status
    lines = list(QuoteLine.objects.filter(quote=quote).order_by("position", "id"))
    response = render(request, "sales/quotes/public.html", {
        "quote": quote, "lines": lines, "token": token,
        "seller": quote.sent_by or quote.created_by,
        "company": (quote.contact.company if quote.contact_id and quote.contact
                    and quote.contact.company_id else None) or quote.deal.company,
        "accept_form": accept_form or AcceptForm(),
        "decline_form": decline_form or DeclineForm(),
        "preview": request.user.is_authenticated,
        "notice": notice,
    }, status=status)
    # The address is the key to the quote: keep it out of caches and search engines.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@login_not_required
@require_http_methods(["GET", "HEAD"])
def public_quote(request, token: str):
    limited = _limited(request, "view")
    if limited:
        return limited
    quote = _quote(token)
    if quote.status in services.OPEN_STATUSES:
        # A colleague's preview, or a HEAD from a link checker, is no customer's view.
        if request.user.is_authenticated or request.method != "GET":
            if services.is_past(quote):
                quote = services.quote_expire(quote_id=quote.pk)
        else:
            quote = services.quote_viewed(quote_id=quote.pk)
    return _page(request, token, quote)


def _answer(request, token: str, answer):
    limited = _limited(request, "answer")
    if limited:
        return limited
    quote = _quote(token)
    if request.user.is_authenticated:
        return _page(request, token, quote, status=403, notice=(
            "You are signed in to Rapport: this is a preview, and only the customer answers "
            "here. Open the link in a private window to try it as them."))
    try:
        answer(quote)
    except NotFound:
        raise Http404() from None
    except Conflict:
        quote.refresh_from_db()
        return _page(request, token, quote, status=409,
                     notice=f"This quote was already {quote.status}; that answer stands.")
    return redirect("public_quote:view", token)


@login_not_required
@require_POST
def public_accept(request, token: str):
    form = AcceptForm(request.POST)

    def accept(quote):
        try:
            services.quote_accept(quote_id=quote.pk, full_name=request.POST.get("full_name", ""),
                                  ip=client_ip(request),
                                  user_agent=request.headers.get("User-Agent", ""))
        except ValidationFailed as exc:
            for message in exc.fields.get("full_name", [exc.message]):
                form.add_error("full_name", message)
            raise _Invalid() from None

    try:
        return _answer(request, token, accept)
    except _Invalid:
        return _page(request, token, _quote(token), accept_form=form, status=422)


@login_not_required
@require_POST
def public_decline(request, token: str):
    form = DeclineForm(request.POST)

    def decline(quote):
        try:
            services.quote_decline(quote_id=quote.pk, reason=request.POST.get("reason", ""),
                                   ip=client_ip(request))
        except ValidationFailed as exc:
            for message in exc.fields.get("reason", [exc.message]):
                form.add_error("reason", message)
            raise _Invalid() from None

    try:
        return _answer(request, token, decline)
    except _Invalid:
        return _page(request, token, _quote(token), decline_form=form, status=422)


class _Invalid(Exception):
    """The answer's form needs correcting: show the page with its errors."""


@login_not_required
@require_http_methods(["GET", "HEAD"])
def public_pdf(request, token: str):
    limited = _limited(request, "pdf")
    if limited:
        return limited
    quote = _quote(token)
    if quote.status in services.OPEN_STATUSES and services.is_past(quote):
        services.quote_expire(quote_id=quote.pk)
        return redirect("public_quote:view", token)
    try:
        pdf = render_quote_pdf(quote, link=request.build_absolute_uri(
            services.public_path(quote)))
    except PdfUnavailable:
        return render(request, "sales/quotes/public_limited.html", {"pdf_missing": True},
                      status=503)
    response = HttpResponse(pdf, content_type="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{quote.number}.pdf"'
    return response
