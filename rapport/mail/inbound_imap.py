"""Reading a mailbox's folder over IMAP: the one place that talks IMAP.

Only standard commands that every server has (RFC 3501): LOGIN (or AUTHENTICATE PLAIN for
a password that is not ASCII), a read-only SELECT so nothing is marked read, UID SEARCH for
what arrived since the last poll, and UID FETCH with BODY.PEEK. Errors come back as
ImapError, worded for the mailbox's health panel.
"""

import base64
import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

TIMEOUT = 30  # seconds for connecting and for each reply
BODY_BATCH_BYTES = 8 * 1024 * 1024  # fetch small messages several at a time, up to this much
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class ImapError(Exception):
    """The folder could not be read; the message says why, for people."""


@dataclass
class Envelope:
    uid: int
    size: int
    received_at: datetime | None
    header: bytes


def ssl_context() -> ssl.SSLContext:
    """Certificates are checked as a browser would; RAPPORT_IMAP_CA_FILE adds a private CA."""
    context = ssl.create_default_context()
    if settings.INBOUND_IMAP_CA_FILE:
        context.load_verify_locations(cafile=settings.INBOUND_IMAP_CA_FILE)
    return context


def encode_folder(name: str) -> str:
    """A folder name as IMAP spells it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out, pending = [], []

    def flush():
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    quoted = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"'


class Folder:
    """A selected folder (read-only) on a logged-in connection."""

    def __init__(self, connection: imaplib.IMAP4, uid_validity: int):
        self.connection = connection
        self.uid_validity = uid_validity

    def uids_after(self, last_uid: int) -> list[int]:
        # "n:*" also matches the highest UID when it is below n (RFC 3501), hence the filter.
        data = self._command("SEARCH", "UID", f"{last_uid + 1}:*")
        uids = sorted({int(u) for u in b" ".join(d for d in data if d).split() if u.isdigit()})
        return [uid for uid in uids if uid > last_uid]

    def envelopes(self, uids: list[int]) -> list[Envelope]:
        """Size, arrival time and header block of each message (nothing marked read)."""
        if not uids:
            return []
        data = self._command("FETCH", _uid_set(uids),
                             "(UID RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
        found = []
        for meta, literal in _responses(data):
            uid, size = _UID.search(meta), _SIZE.search(meta)
            if uid:
                found.append(Envelope(uid=int(uid.group(1)), size=int(size.group(1)) if size else 0,
                                      received_at=_internal_date(meta), header=literal or b""))
        return sorted(found, key=lambda e: e.uid)

    def bodies(self, envelopes: list[Envelope]) -> dict[int, bytes]:
        """The whole of the first of `envelopes`, and of those after it that fit in one
        fetch of BODY_BATCH_BYTES; the caller asks again from where this stopped."""
        batch, total = [], 0
        for envelope in envelopes:
            if batch and total + envelope.size > BODY_BATCH_BYTES:
                break
            batch.append(envelope.uid)
            total += envelope.size
        if not batch:
            return {}
        found = {}
        for meta, literal in _responses(self._command("FETCH", _uid_set(batch), "(UID BODY.PEEK[])")):
            uid = _UID.search(meta)
            if uid and literal is not None:
                found[int(uid.group(1))] = literal
        return found

    def _command(self, verb: str, *args: str) -> list:
        try:
            kind, data = self.connection.uid(verb, *args)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapError(f"The server stopped answering while Rapport read the folder: "
                            f"{_reason(exc)}") from None
        if kind != "OK":
            raise ImapError(f"The server refused UID {verb}: {_reason(data)}")
        return data


@contextlib.contextmanager
def open_folder(*, host: str, port: int, security: str, username: str, password: str,
                folder: str) -> Iterator[Folder]:
    """A logged-in connection with `folder` selected read-only; logged out afterwards."""
    where = f"{host}:{port}"
    connection = _connect(host, port, security, where)
    try:
        _login(connection, username, password, where)
        try:
            kind, data = connection.select(encode_folder(folder), readonly=True)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapError(f"Could not open the folder “{folder}”: {_reason(exc)}") from None
        if kind != "OK":
            raise ImapError(f"The server has no folder “{folder}” for {username} "
                            f"({_reason(data)}).")
        validity = connection.untagged_responses.get("UIDVALIDITY", [b"0"])[-1]
        yield Folder(connection, int(validity) if validity.isdigit() else 0)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            connection.logout()


def _connect(host: str, port: int, security: str, where: str) -> imaplib.IMAP4:
    try:
        if security == "ssl":
            return imaplib.IMAP4_SSL(host, port, ssl_context=ssl_context(), timeout=TIMEOUT)
        connection = imaplib.IMAP4(host, port, timeout=TIMEOUT)
        if security == "starttls":
            try:
                connection.starttls(ssl_context=ssl_context())
            except BaseException:
                with contextlib.suppress(OSError):
                    connection.shutdown()
                raise
        return connection
    except ssl.SSLCertVerificationError as exc:
        raise ImapError(f"The certificate of {where} is not trusted ({exc.verify_message}). "
                        "Use the server's proper name, or set RAPPORT_IMAP_CA_FILE to your CA.") from None
    except ssl.SSLError as exc:
        raise ImapError(f"TLS with {where} failed ({exc.reason or exc}). Check the port and "
                        "the security setting: SSL/TLS is usually port 993, STARTTLS port 143.") from None
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"{where} does not offer STARTTLS: {_reason(exc)}") from None
    except TimeoutError:
        raise ImapError(f"{where} did not answer within {TIMEOUT} seconds.") from None
    except OSError as exc:
        raise ImapError(f"Could not reach {where}: {exc.strerror or exc}.") from None


def _login(connection: imaplib.IMAP4, username: str, password: str, where: str) -> None:
    try:
        if username.isascii() and password.isascii():
            connection.login(username, password)
        else:
            # LOGIN takes ASCII only; SASL PLAIN carries UTF-8 (RFC 4616).
            credentials = f"\0{username}\0{password}".encode()
            connection.authenticate("PLAIN", lambda _challenge: credentials)
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"{where} refused the login for {username}: {_reason(exc)}. Check the "
                        "user name and password.") from None
    except OSError as exc:
        raise ImapError(f"The connection to {where} dropped during login: {exc}.") from None


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _responses(data: list) -> list[tuple[bytes, bytes | None]]:
    """(metadata, literal) per FETCH response. imaplib gives a tuple (the text up to a
    literal, the literal) and then bytes for the text after it, where a server may put
    UID or RFC822.SIZE; both halves are kept as the metadata."""
    found: list[list] = []
    for item in data:
        if isinstance(item, tuple):
            found.append([item[0], item[1]])
        elif isinstance(item, bytes) and item:
            if found and not item.lstrip()[:1].isdigit():
                found[-1][0] += b" " + item
            else:
                found.append([item, None])
    return [(meta, literal) for meta, literal in found]


def _internal_date(meta: bytes) -> datetime | None:
    match = _INTERNALDATE.search(meta)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


def _reason(value) -> str:
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300] or "no reason given"
