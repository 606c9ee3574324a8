"""The REST API at /api/v1: one NinjaAPI, its authentication and its error shape."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from rapport.api.auth import ActiveSessionAuth, TokenAuth
from rapport.api.responses import error_response, from_domain_error
from rapport.core.errors import RapportError

logger = logging.getLogger(__name__)


api = NinjaAPI(
    title="Rapport API",
    version="1",
    description="The Rapport CRM REST API. Conventions: see docs/api.md.",
    auth=[TokenAuth(), ActiveSessionAuth()],
    urls_namespace="api",
)


def _validation_fields(errors) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "query")]
        name = ".".join(loc) or "__all__"
        message = error.get("msg", "Invalid value.")
        if error.get("type") == "extra_forbidden":
            message = "Unknown field."
        elif error.get("type") == "missing":
            message = "This field is required."
        fields.setdefault(name, []).append(message)
    return fields


@api.exception_handler(RapportError)
def domain_error(request, exc):
    return from_domain_error(exc)


@api.exception_handler(ValidationError)
def request_validation_error(request, exc):
    fields = _validation_fields(exc.errors)
    count = len(fields)
    return error_response(422, "validation_error",
                          f"{count} field{'s are' if count != 1 else ' is'} invalid", fields)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    response = error_response(401, "unauthenticated",
                              "Send a valid API token: Authorization: Bearer <token>.")
    response.headers["WWW-Authenticate"] = 'Bearer realm="rapport"'
    return response


@api.exception_handler(HttpError)
def http_error(request, exc):
    code = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 429: "rate_limited"}.get(exc.status_code, "error")
    message = str(exc)
    if exc.status_code == 400 and "parse" in message.lower():
        message = "The request body is not valid JSON."
    return error_response(exc.status_code, code, message)


@api.exception_handler(Http404)
def not_found(request, exc):
    return error_response(404, "not_found", "Not found.")


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    return error_response(413, "payload_too_large", "The request body is too large.")


@api.exception_handler(Exception)
def unexpected(request, exc):
    logger.exception("Unhandled API error on %s %s", request.method, request.path)
    return error_response(500, "internal_error",
                          "Something went wrong on our side; nothing was changed.")


def _mount():
    from rapport.accounts.api import router as accounts_router
    from rapport.activities.api import router as activities_router
    from rapport.automation.api import router as webhooks_router
    from rapport.contacts.api import companies, contacts, duplicate_pairs, merges
    from rapport.core.api import router as core_router
    from rapport.mail.api import emails, mailboxes, templates
    from rapport.sales.api import deals, lost_reasons, pipelines
    from rapport.sales.forecast_api import router as forecast_router
    from rapport.sales.lead_api import assignment_rules, lead_settings, leads
    from rapport.sales.lead_form_api import lead_forms
    from rapport.sales.quote_api import price_books, products, quote_settings, quotes
    from rapport.transfer.api import exports as exports_router
    from rapport.transfer.api import router as imports_router
    from rapport.workflows.api import router as rules_router

    api.add_router("/", accounts_router)
    api.add_router("/contacts", contacts)
    api.add_router("/companies", companies)
    api.add_router("/merges", merges)
    api.add_router("/duplicates", duplicate_pairs)
    api.add_router("/activities", activities_router)
    api.add_router("/leads", leads)
    api.add_router("/lead-assignment-rules", assignment_rules)
    api.add_router("/lead-settings", lead_settings)
    api.add_router("/lead-forms", lead_forms)
    api.add_router("/pipelines", pipelines)
    api.add_router("/deals", deals)
    api.add_router("/lost-reasons", lost_reasons)
    api.add_router("/", forecast_router)
    api.add_router("/products", products)
    api.add_router("/price-books", price_books)
    api.add_router("/quotes", quotes)
    api.add_router("/quote-settings", quote_settings)
    api.add_router("/webhooks", webhooks_router)
    api.add_router("/email-templates", templates)
    api.add_router("/emails", emails)
    api.add_router("/rules", rules_router)
    api.add_router("/mailboxes", mailboxes)
    api.add_router("/imports", imports_router)
    api.add_router("/exports", exports_router)
    api.add_router("/", core_router)


_mount()


@csrf_exempt  # token clients send no CSRF token; a POST to a wrong path is still a JSON 404
def api_not_found(request, *args, **kwargs):
    """Any /api/ path no endpoint matches: a JSON 404, never Django's HTML page."""
    return error_response(404, "not_found", f"No endpoint at {request.path}.")


def api_index(request):
    """The API root: where the documentation is. Public, like the docs themselves."""
    from django.http import JsonResponse

    return JsonResponse({"name": "Rapport API", "version": "1",
                         "openapi": "/api/v1/openapi.json", "docs": "/api/v1/docs"})
