import re

from django.core.exceptions import RequestDataTooBig

from rapport.api.responses import error_response


class JsonMethodNotAllowedMiddleware:
    """Ninja answers a wrong method with Django's bare 405; give it the API's error shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and request.path.startswith("/api/") \
                and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow", "")
            json_response = error_response(405, "method_not_allowed",
                                           f"{request.method} is not allowed here; use {allowed}.")
            json_response["Allow"] = allowed
            return json_response
        return response


# A path segment of 19 digits or more is past the largest id either engine stores (2**63 - 1).
_HUGE_ID = re.compile(r"/\d{19,}(?:/|$)")


class ApiInputGuardMiddleware:
    """Input no endpoint can take, refused up front for every API request on both engines:

    - a NUL character is never meaningful text, and PostgreSQL cannot store one;
    - an id too large for a database integer names no record (a 404, not an overflow).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            if _HUGE_ID.search(request.path):
                return error_response(404, "not_found", "Not found.")
            query = request.META.get("QUERY_STRING", "")
            try:
                body = request.body if request.method in {"POST", "PUT", "PATCH"} else b""
            except RequestDataTooBig:
                return error_response(413, "payload_too_large", "The request body is too large.")
            if "%00" in query or b"\\u0000" in body or b"\x00" in body:
                where = "query" if "%00" in query else "body"
                return error_response(
                    422, "validation_error", "Text may not contain NUL (U+0000) characters.",
                    {where: ["Remove the NUL (U+0000) characters."]})
        return self.get_response(request)
