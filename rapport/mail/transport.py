"""Handing a built message to the mail server: the one place that talks SMTP.

RAPPORT_EMAIL_URL picks the transport:
  smtp://host:25, smtp+tls://user:pass@host:587 (STARTTLS), smtp+ssl://user:pass@host:465,
  anymail://postmark (a provider through django-anymail; its keys in RAPPORT_ANYMAIL_*),
  outbox:// (unset: each message is written to RAPPORT_DATA_DIR/outbox as an .eml file).

SMTP keeps one connection open per worker thread, so a run of messages pays for the
handshake and login once. Errors come back as TemporaryFailure (try again later: 4xx
replies, a server that cannot be reached) or PermanentFailure (5xx: do not retry).
"""

import re
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

IDLE_CHECK_SECONDS = 30  # a connection idle longer than this is checked with NOOP first
SMTP_SCHEMES = {"smtp": ("none", 25), "smtp+tls": ("starttls", 587),
                "smtp+ssl": ("ssl", 465), "smtps": ("ssl", 465)}
ANYMAIL_ESPS = {"amazon_ses", "brevo", "mailersend", "mailgun", "mailjet", "mandrill",
                "postal", "postmark", "resend", "sendgrid", "sparkpost", "unisender_go"}


class TemporaryFailure(Exception):
    """The message was not taken this time; sending it again later may work."""


class ServerUnavailable(TemporaryFailure):
    """The server could not be reached or refused the login: the next message would fare
    no better, so a batch stops trying until the retry."""


class PermanentFailure(Exception):
    """The message was refused, or may already have arrived: it is not sent again."""


@dataclass(frozen=True)
class Transport:
    scheme: str
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""
    security: str = "none"
    timeout: float = 30.0
    backend: str = ""

    @property
    def is_smtp(self) -> bool:
        return self.scheme in SMTP_SCHEMES

    def describe(self) -> str:
        """For the settings page: never the password."""
        if self.is_smtp:
            user = f"{self.username}@" if self.username else ""
            how = {"none": "no encryption", "starttls": "STARTTLS", "ssl": "TLS"}[self.security]
            return f"SMTP {user}{self.host}:{self.port} ({how})"
        if self.scheme == "anymail":
            return f"{self.host} through django-anymail"
        return f"the outbox folder {outbox_dir()} (nothing leaves this machine)"


def parse_email_url(url: str) -> Transport:
    """The transport RAPPORT_EMAIL_URL names; ValueError saying what is wrong otherwise."""
    if not url:
        return Transport(scheme="outbox", backend="django.core.mail.backends.filebased.EmailBackend")
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        timeout = float(query.get("timeout", 30))
    except ValueError:
        raise ValueError("RAPPORT_EMAIL_URL: timeout must be a number of seconds.") from None
    if parts.scheme in SMTP_SCHEMES:
        security, default_port = SMTP_SCHEMES[parts.scheme]
        if not parts.hostname:
            raise ValueError("RAPPORT_EMAIL_URL: name the SMTP server, as in smtp+tls://host:587.")
        try:
            port = parts.port or default_port
        except ValueError:
            raise ValueError("RAPPORT_EMAIL_URL: the port must be a number.") from None
        return Transport(scheme=parts.scheme, host=parts.hostname, port=port,
                         username=unquote(parts.username or ""),
                         password=unquote(parts.password or ""), security=security,
                         timeout=timeout)
    if parts.scheme == "anymail":
        esp = parts.hostname or ""
        if esp not in ANYMAIL_ESPS:
            raise ValueError(f"RAPPORT_EMAIL_URL: anymail://{esp} is not a provider Rapport knows; "
                             f"use one of {', '.join(sorted(ANYMAIL_ESPS))}.")
        return Transport(scheme="anymail", host=esp, timeout=timeout,
                         backend=f"anymail.backends.{esp}.EmailBackend")
    if parts.scheme == "outbox":
        return parse_email_url("")
    raise ValueError(f"RAPPORT_EMAIL_URL: unknown scheme “{parts.scheme}”; use smtp, smtp+tls, "
                     "smtp+ssl, anymail or outbox.")


def outbox_dir() -> Path:
    return Path(settings.DATA_DIR) / "outbox"


def configured() -> Transport:
    return _parsed(settings.EMAIL_URL)


@lru_cache(maxsize=4)
def _parsed(url: str) -> Transport:
    return parse_email_url(url)


_local = threading.local()


def send(message: EmailMessage, raw: bytes | None = None) -> dict:
    """Send `message` (or, over SMTP, exactly the bytes `raw` of it, as signed).

    Returns the recipients the server refused while taking the rest, by address.
    """
    return send_later(message, raw).verdict()


def send_later(message: EmailMessage, raw: bytes | None = None) -> "Pending":
    """Hand `message` over, and leave reading the server's verdict on it until asked.

    Over SMTP everything up to the end of the data is sent now, and the server's reply to
    it is read by `Pending.verdict()`: a worker builds the next message meanwhile, while
    the server is still taking this one (the only wait SMTP lets a client use without the
    PIPELINING extension, as the client sends nothing before reading the reply). Any other
    use of the connection reads the reply first.
    """
    transport = configured()
    if transport.is_smtp:
        return _smtp_begin(transport, message.from_email, message.recipients(),
                           raw if raw is not None else message.message().as_bytes())
    return Pending(refused=_backend_send(transport, message))


class Pending:
    """A message handed over whose verdict is still to be read (or already known)."""

    def __init__(self, *, connection: smtplib.SMTP | None = None, refused: dict | None = None):
        self._connection, self._refused, self._error = connection, refused or {}, None

    def verdict(self) -> dict:
        """The recipients refused; TemporaryFailure or PermanentFailure if the message was not
        taken."""
        self._settle()
        if self._error is not None:
            raise self._error
        return self._refused

    def _settle(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if getattr(_local, "pending", None) is self:
            _local.pending = None
        try:
            code, reply = connection.getreply()
        except (smtplib.SMTPServerDisconnected, OSError):
            _drop()
            self._error = PermanentFailure(
                "The connection dropped while the server was taking the message. It may "
                "have arrived, so it is not sent again; send it again by hand if the "
                "recipient did not get it.")
            return
        if code != 250:
            _reset(connection)
            self._error = _refusal(code, reply, "message")


def _reset(connection: smtplib.SMTP) -> None:
    """End a refused transaction (RSET), or the connection if even that fails."""
    try:
        connection.rset()
    except (smtplib.SMTPException, OSError):
        _drop()


def _settle_pending() -> None:
    pending = getattr(_local, "pending", None)
    if pending is not None:
        pending._settle()


def close() -> None:
    """Close this thread's SMTP connection (tests and the benchmark, between settings)."""
    _settle_pending()
    connection = getattr(_local, "smtp", None)
    _local.smtp = None
    if connection is not None:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()


def _drop() -> None:
    connection = getattr(_local, "smtp", None)
    _local.smtp = None
    if connection is not None:
        connection.close()


def _connection(transport: Transport) -> smtplib.SMTP:
    _settle_pending()
    connection = getattr(_local, "smtp", None)
    if connection is not None and (getattr(_local, "transport", None) != transport):
        close()
        connection = None
    if connection is not None and time.monotonic() - _local.used > IDLE_CHECK_SECONDS:
        try:
            alive = connection.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            alive = False
        if not alive:
            _drop()
            connection = None
    if connection is None:
        connection = _connect(transport)
        _local.smtp, _local.transport = connection, transport
    _local.used = time.monotonic()
    return connection


def _connect(transport: Transport) -> smtplib.SMTP:
    where = f"{transport.host}:{transport.port}"
    try:
        if transport.security == "ssl":
            connection = smtplib.SMTP_SSL(transport.host, transport.port, timeout=transport.timeout,
                                          context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(transport.host, transport.port, timeout=transport.timeout)
        connection.ehlo()
        if transport.security == "starttls":
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        if transport.username:
            connection.login(transport.username, transport.password)
    except smtplib.SMTPAuthenticationError as exc:
        raise ServerUnavailable(f"{where} refused the login ({exc.smtp_code}): check the user "
                               "and password in RAPPORT_EMAIL_URL.") from None
    except smtplib.SMTPResponseException as exc:
        raise ServerUnavailable(f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ServerUnavailable(f"Could not reach the mail server {where}: {exc}") from None
    return connection


def _text(reply) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(str(reply).split())[:300]


def _refusal(code: int, reply, what: str) -> Exception:
    message = f"The mail server refused the {what}: {code} {_text(reply)}"
    return TemporaryFailure(message) if 400 <= code < 500 else PermanentFailure(message)


def _smtp_begin(transport: Transport, sender: str, recipients: list[str], raw: bytes) -> Pending:
    """MAIL, RCPT and DATA by hand, so a dropped connection is known to be before or after
    DATA; the message's data is sent, its verdict left to read."""
    reused = getattr(_local, "smtp", None) is not None
    connection = _connection(transport)
    try:
        refused = _envelope(connection, sender, recipients)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        _drop()
        if not reused:
            raise TemporaryFailure(f"The connection to the mail server dropped before the "
                                   f"message was sent: {exc}") from None
        # A kept connection the server closed while idle: nothing was sent, so open a
        # fresh one and try once more.
        return _smtp_begin(transport, sender, recipients, raw)
    try:
        code, reply = connection.docmd("data")
        if code != 354:
            _reset(connection)  # else the next message's MAIL meets an open transaction
            raise _refusal(code, reply, "message")
        connection.send(_data_block(raw))
    except (smtplib.SMTPServerDisconnected, OSError):
        _drop()
        raise PermanentFailure("The connection dropped while the server was taking the message. "
                               "It may have arrived, so it is not sent again; send it again by "
                               "hand if the recipient did not get it.") from None
    pending = _local.pending = Pending(connection=connection, refused=refused)
    return pending


def _data_block(raw: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 4.5.2): a dot starting a line doubled, and a
    line with a single dot after it."""
    block = re.sub(rb"(?m)^\.", b"..", raw)
    if not block.endswith(b"\r\n"):
        block += b"\r\n"
    return block + b".\r\n"


def _envelope(connection: smtplib.SMTP, sender: str, recipients: list[str]) -> dict:
    """MAIL FROM and RCPT TO; the refused recipients, or an error if none was accepted."""
    code, reply = connection.mail(sender)
    if code != 250:
        connection.rset()
        raise _refusal(code, reply, "sender")
    refused = {}
    for recipient in recipients:
        code, reply = connection.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, _text(reply))
    if len(refused) == len(recipients):
        connection.rset()
        worst = max(refused.values())  # any 5xx makes it permanent
        raise _refusal(worst[0], worst[1], "recipients")
    return refused


def _backend_send(transport: Transport, message: EmailMessage) -> dict:
    from anymail.exceptions import AnymailAPIError, AnymailError

    options = {"file_path": str(outbox_dir())} if transport.scheme == "outbox" else {}
    connection = get_connection(transport.backend, fail_silently=False, **options)
    try:
        connection.send_messages([message])
    except AnymailAPIError as exc:
        status = exc.status_code
        if status is None or status == 429 or status >= 500:
            raise TemporaryFailure(f"{transport.host} answered {status or 'nothing'}: {exc}") from None
        raise PermanentFailure(f"{transport.host} refused the message ({status}): {exc}") from None
    except AnymailError as exc:
        raise PermanentFailure(f"{transport.host} refused the message: {exc}") from None
    except OSError as exc:
        raise TemporaryFailure(f"Could not hand the message over: {exc}") from None
    return {}
