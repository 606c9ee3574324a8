from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

from rapport.core.choices import Source
from rapport.core.context import write_source

# Everything the app serves comes from itself: no CDN, no inline script.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a login; the API answers 401 itself and static files are public."""

    public_prefixes = ("/api/", "/static/")

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(self.public_prefixes):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class WriteSourceMiddleware:
    """Marks writes made through the API as such in history and events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = Source.API if request.path.startswith("/api/") else Source.UI
        with write_source(source):
            return self.get_response(request)
