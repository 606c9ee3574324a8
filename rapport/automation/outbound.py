"""Outbound HTTP to URLs users typed in: refuses internal addresses (SSRF), caps time and size.

The host is resolved once, every address is checked, and the request goes to the
checked address itself (with the host name for the Host header and TLS), so a DNS
answer that changes between the check and the connection cannot slip through.
urllib3 is used because it lets the connection target an IP while verifying the
certificate for the name; it is already what `requests` is built on.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

MAX_RESPONSE_BYTES = 64 * 1024


class OutboundRefused(ValueError):
    """The URL may not be called: its message says why, for the user."""


@dataclass
class Result:
    status_code: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.OUTBOUND_ALLOWED_NETWORKS]


def _is_public(address) -> bool:
    return address.is_global and not address.is_multicast


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to), or OutboundRefused saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundRefused("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise OutboundRefused("Put no user name or password in the URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused("The port is not a number from 1 to 65535.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise OutboundRefused(f"The host {parts.hostname} could not be found.") from None
    allowed = _allowed_networks()
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not _is_public(address) and not any(address in net for net in allowed):
            raise OutboundRefused(
                f"{parts.hostname} resolves to {address}, a private, loopback or link-local "
                "address; Rapport does not call internal addresses unless an admin allows "
                "them (RAPPORT_OUTBOUND_ALLOWED_NETWORKS).")
    return parts.scheme, parts.hostname, port, str(addresses[0])


def post(url: str, body: bytes, headers: dict[str, str]) -> Result:
    """POST `body`; never raises for network trouble, which comes back as `error`."""
    started = time.perf_counter()

    def result(status=None, text="", error=""):
        return Result(status, text, error[:500], int((time.perf_counter() - started) * 1000))

    try:
        scheme, host, port, address = check_url(url)
    except OutboundRefused as exc:
        return result(error=f"Refused: {exc}")
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(total=settings.OUTBOUND_TIMEOUT_SECONDS)
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False,
                                           server_hostname=host, assert_hostname=host)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    host_header = host if port in (80, 443) else f"{host}:{port}"
    try:
        response = pool.urlopen("POST", path, body=body, redirect=False, preload_content=False,
                                headers={**headers, "Host": host_header})
        try:
            text = response.read(MAX_RESPONSE_BYTES, decode_content=True)
        finally:
            response.release_conn()
        return result(response.status, text.decode("utf-8", "replace"))
    except urllib3.exceptions.HTTPError as exc:
        return result(error=f"{type(exc).__name__}: {exc}")
    finally:
        pool.close()
