"""A per-address request limit for the public pages (quotes, lead forms), in Django's cache.

With the default per-process cache the count is per server process; it is there to keep one
client from hammering a page (the PDF renderer, the lead form), not to meter anyone exactly.
"""

import ipaddress
import math
import time

from django.conf import settings
from django.core.cache import cache

WINDOW = 60


def client_ip(request) -> str | None:
    """The client's address. Behind RAPPORT_TRUSTED_PROXIES proxies, the address the first of
    them saw, from X-Forwarded-For read from the right (anything further left is the client's
    own say-so); otherwise the connection's."""
    remote = request.META.get("REMOTE_ADDR") or None
    if settings.TRUSTED_PROXIES <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < settings.TRUSTED_PROXIES or not hops[-1]:
        return remote
    candidate = hops[-settings.TRUSTED_PROXIES]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def over_limit(scope: str, request, limit: int, window: int = WINDOW) -> int | None:
    """Count a request from the client's address against `limit` requests per `window`
    seconds of `scope`: None while within it, else the seconds until the next window."""
    current = int(time.time() // window)
    key = f"public:{scope}:{client_ip(request)}:{current}"
    if cache.add(key, 1, window + 5):
        return None
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((current + 1) * window - time.time()))
