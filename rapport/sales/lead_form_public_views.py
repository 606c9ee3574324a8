"""A lead form's public page, /f/<public key>/: no login. GET shows the form, POST sends it
(a new lead, see lead_form_services.lead_form_submit), then the browser goes to the thank-you
page (or the form's redirect address), so reloading never sends twice.

The page may be framed by any site (the iframe embed code); everything else keeps the app's
Content-Security-Policy. An unknown, rotated or inactive key is a 404. Each address may send
a few forms a minute (and show a few dozen pages).
"""

from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.middleware import CONTENT_SECURITY_POLICY
from rapport.core.ratelimit import client_ip, over_limit
from rapport.sales import lead_form_selectors as selectors
from rapport.sales import lead_form_services as services
from rapport.sales.lead_form_forms import public_fields

# Requests per address per minute: pages shown, and forms sent.
LIMITS = {"view": 60, "submit": 10}


def _policy(form) -> str:
    """The app's policy, but framable anywhere, and (when the form redirects elsewhere) the
    redirect's origin allowed as where the form's post may end up."""
    target = ""
    if form is not None and form.redirect_url:
        parts = urlsplit(form.redirect_url)
        target = f" {parts.scheme}://{parts.netloc}"
    return (CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
            .replace("form-action 'self'", f"form-action 'self'{target}"))


def _respond(request, template: str, context: dict, *, form=None, status: int = 200):
    response = render(request, template, {"lead_form": form, **context}, status=status)
    response.headers["Content-Security-Policy"] = _policy(form)
    # The page carries the moment it was shown: never from a cache. Not for search engines.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _limited(request, kind: str):
    retry = over_limit(f"lead_form:{kind}", request, LIMITS[kind])
    if retry is None:
        return None
    response = _respond(request, "sales/lead_forms/public_limited.html", {"retry": retry},
                        status=429)
    response.headers["Retry-After"] = str(retry)
    return response


def _form_or_404(key: str):
    form = selectors.lead_form_for_key(key)
    if form is None:
        raise Http404("No such form.")
    return form


def _page(request, form, *, data=None, errors=None, status: int = 200):
    fields = public_fields(form, selectors.askable_fields(), data, errors)
    return _respond(request, "sales/lead_forms/public.html", {
        "fields": fields, "errors": (errors or {}).get("__all__", []),
        "field_errors": sum(1 for f in fields if f.errors),
        "rendered": services.render_token(form), "honeypot": services.HONEYPOT,
        "preview": request.user.is_authenticated,
    }, form=form, status=status)


@login_not_required
@xframe_options_exempt  # embedded on the customer's site through an iframe
# No CSRF token: the form is meant to be posted by anyone, from a page framed on any site
# (whose browser has no session with us to forge a request from), and it can only create a
# lead. A signed render time, a honeypot and a rate limit keep bots out instead; see
# docs/decisions.md. This is the only view exempt from CSRF outside the token-auth API.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def public_form(request, key: str):
    limited = _limited(request, "submit" if request.method == "POST" else "view")
    if limited:
        return limited
    form = _form_or_404(key)
    if request.method != "POST":
        return _page(request, form)
    posted = request.POST if isinstance(request.POST, QueryDict) else QueryDict()
    try:
        submission = services.lead_form_submit(key, dict(posted.lists()), ip=client_ip(request))
    except NotFound:
        raise Http404("No such form.") from None
    except ValidationFailed as exc:
        return _page(request, form, data=posted, errors=exc.fields, status=422)
    if submission.form.redirect_url:
        return redirect(submission.form.redirect_url)
    return redirect("public_lead_form:thanks", key)


@login_not_required
@xframe_options_exempt
@require_http_methods(["GET", "HEAD"])
def public_thanks(request, key: str):
    limited = _limited(request, "view")
    if limited:
        return limited
    return _respond(request, "sales/lead_forms/public_thanks.html", {},
                    form=_form_or_404(key))
