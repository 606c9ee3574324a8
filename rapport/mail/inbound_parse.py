"""Reading a received message defensively: whatever arrives, something useful comes out.

Mail from the internet is often broken: 8-bit headers with no declared charset, charsets
Python has never heard of, multiparts whose closing boundary never comes, base64 that is
not, no Message-ID, no From, no Date. Every step here catches its own failure, notes it in
`problems` in words an admin can act on, and carries on with what it has, so nothing in
this module raises on bad input and one bad message never stops a poll.
"""

import hashlib
import html
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import PurePosixPath

import nh3

from rapport.core.normalise import normalise_email

MAX_TEXT = 100_000  # what a timeline entry holds (activities' body limit)
MAX_SUBJECT = 300
MAX_ADDRESSES = 100
MAX_REFERENCES = 50
MAX_ATTACHMENTS = 50
MAX_DEPTH = 20  # nested multiparts deeper than this are a parser bomb, not mail
ID_LENGTH = 255
_ID = re.compile(r"<([^<>\s]{1,998})>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\udc80-\udcff]")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/?p|/?div|/?tr|/?li|/?h[1-6]|/?blockquote|/?table|hr)\b[^>]*>", re.I)
_HEAD = re.compile(r"<head\b.*?</head\s*>", re.I | re.S)
AUTOMATED_SENDERS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply",
                     "do-not-reply", "bounce", "bounces", "notifications"}


@dataclass
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class Parsed:
    message_id: str = ""
    message_id_generated: bool = False
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    from_name: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    sent_at: datetime | None = None
    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    automated: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first: In-Reply-To, then References newest first."""
        ids = [self.in_reply_to] if self.in_reply_to else []
        return ids + [i for i in reversed(self.references) if i not in ids]


def parse(raw: bytes, *, headers_only: bool = False) -> Parsed:
    """Everything Rapport keeps of `raw` (a whole message, or only its header block)."""
    parsed = Parsed()
    problems = parsed.problems
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=headers_only)
    except Exception as exc:  # the parser is lenient; this is a last resort, not a path
        problems.append(f"The message could not be parsed at all ({type(exc).__name__}).")
        message = EmailMessage()
    parsed.message_id, parsed.message_id_generated = message_id_of(raw, message)
    if parsed.message_id_generated:
        problems.append("The message has no Message-ID; Rapport made one from its headers.")
    parsed.in_reply_to = next(iter(_ids(_raw_header(message, "In-Reply-To"))), "")
    parsed.references = _ids(_raw_header(message, "References"))[-MAX_REFERENCES:]
    parsed.subject = " ".join(_text_header(message, "Subject", problems).split())[:MAX_SUBJECT]
    senders = _addresses(message, "From", problems)
    if senders:
        parsed.from_name, parsed.from_address = senders[0]
    else:
        problems.append("The message says nobody it is from (no usable From address).")
    parsed.to = [address for _, address in _addresses(message, "To", problems)]
    parsed.cc = [address for _, address in _addresses(message, "Cc", problems)]
    parsed.sent_at = _date(message, problems)
    parsed.automated = _automated(message, parsed.from_address)
    if not headers_only:
        body = _body_part(message, problems)
        parsed.text = _body_text(body, problems) if body is not None else ""
        parsed.attachments = _attachments(message, body, problems)
        _note_defects(message, problems)
    return parsed


def header_block(raw: bytes) -> bytes:
    """The header section of `raw` with line ends made uniform, so IMAP (CRLF) and a
    provider's copy (often LF) of one message hash alike."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    head = raw[:min(ends)] if ends else raw
    return head.replace(b"\r\n", b"\n").strip()


def message_id_of(raw: bytes, message: Message | None = None) -> tuple[str, bool]:
    """(Message-ID, whether it was made up). A message without one gets a stable id from a
    hash of its headers, so the same message fetched twice is still stored once."""
    if message is None:
        try:
            message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        except Exception:
            message = EmailMessage()
    ids = _ids(_raw_header(message, "Message-ID"))
    if ids:
        return ids[0], False
    digest = hashlib.sha256(header_block(raw)).hexdigest()[:40]
    return f"<{digest}@no-message-id.rapport.invalid>", True


def clean_text(value: str) -> str:
    """Text that any database stores: undecodable bytes read as UTF-8 or else Windows-1252
    (what unlabelled 8-bit mail almost always is), no NUL or other control characters."""
    if not value:
        return ""
    if _SURROGATE.search(value):
        data = value.encode("utf-8", "surrogateescape")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("cp1252", "replace")
    value = value.encode("utf-8", "replace").decode("utf-8")  # any lone surrogate left
    return _CONTROL.sub("", value)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """(text, whether the declared charset was usable). A known charset decodes with
    replacement of the odd bad byte; no or an unknown charset tries UTF-8, then Windows-1252."""
    if charset:
        try:
            return data.decode(charset, "replace"), True
        except LookupError:
            pass
    try:
        return data.decode("utf-8"), not charset
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace"), not charset


def html_to_text(source: str) -> str:
    """Readable text of an HTML body: blocks become lines, tags and scripts go."""
    source = _BLOCK_TAG.sub("\n", _HEAD.sub("", source))
    text = html.unescape(nh3.clean(source, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def safe_filename(name: str, content_type: str) -> str:
    """A file name to show and to store under: no path, no control characters, not hidden."""
    name = clean_text(name or "").replace("\\", "/")
    name = PurePosixPath(name).name if "/" in name else name
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        name = "attachment" + (mimetypes.guess_extension(content_type) or ".bin")
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        extension = extension[:20] if dot else ""
        name = (stem if dot else name)[:200 - len(extension) - 1] + (f".{extension}" if extension else "")
    return name


# Headers ------------------------------------------------------------------------------

def _raw_header(message: Message, name: str) -> str:
    """The header as sent, unparsed (policy.default's parsers raise on some broken ids)."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return clean_text(str(value))
    return ""


def _ids(value: str) -> list[str]:
    found = [f"<{match}>" for match in _ID.findall(value or "")]
    if not found and value and len(value.split()) == 1 and "@" in value:
        found = [f"<{value.strip('<> ')}>"]  # an id sent without its angle brackets
    return [_fit_id(i) for i in found]


def _fit_id(message_id: str) -> str:
    if len(message_id) <= ID_LENGTH:
        return message_id
    return f"<{hashlib.sha256(message_id.encode()).hexdigest()}@long-id.rapport.invalid>"


def _text_header(message: Message, name: str, problems: list[str]) -> str:
    raw = _raw_header(message, name)
    if not raw:
        return ""
    if _SURROGATE.search(_raw_value(message, name)):
        # 8-bit bytes with no declared charset: policy.default would show them as U+FFFD.
        problems.append(f"The {name} header has undeclared 8-bit text; read as UTF-8 or Windows-1252.")
        return raw
    try:
        return clean_text(str(message[name]))
    except Exception:
        try:
            return clean_text(str(make_header(decode_header(raw))))
        except Exception:
            problems.append(f"The {name} header could not be decoded; kept as sent.")
            return raw


def _raw_value(message: Message, name: str) -> str:
    wanted = name.lower()
    return next((str(v) for k, v in message.raw_items() if k.lower() == wanted), "")


def _addresses(message: Message, name: str, problems: list[str]) -> list[tuple[str, str]]:
    """(display name, normalised address) pairs; unusable addresses are left out."""
    if not _raw_value(message, name):
        return []
    try:
        header = message[name]
        pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:
        pairs = getaddresses([_raw_header(message, name)])
    result, seen = [], set()
    for display_name, address in pairs[:MAX_ADDRESSES * 2]:
        try:
            normalised = normalise_email(clean_text(address))
        except ValueError:
            normalised = ""
        if not normalised or len(normalised) > 254:
            if name == "From":
                problems.append(f"The From address “{clean_text(address)[:100]}” is not usable.")
            continue
        if normalised not in seen:
            seen.add(normalised)
            result.append((" ".join(clean_text(display_name or "").split())[:200], normalised))
    return result[:MAX_ADDRESSES]


def _date(message: Message, problems: list[str]) -> datetime | None:
    raw = _raw_header(message, "Date")
    if not raw:
        return None
    try:
        value = message["Date"].datetime
    except Exception:
        value = None
    if value is None:
        try:
            value = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            value = None
    if value is None:
        problems.append(f"The Date header “{raw[:60]}” is not a date; the time received is used.")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not datetime(1980, 1, 1, tzinfo=UTC) < value < datetime.now(UTC) + timedelta(days=1):
        problems.append(f"The Date header “{raw[:60]}” is implausible; the time received is used.")
        return None
    return value


def _automated(message: Message, sender: str) -> bool:
    """Bounces, auto-replies and mailing lists: never a reason to create a contact."""
    auto_submitted = _raw_header(message, "Auto-Submitted").strip().lower()
    precedence = _raw_header(message, "Precedence").strip().lower()
    return bool(
        (auto_submitted and auto_submitted != "no")
        or precedence in {"bulk", "junk", "list", "auto_reply"}
        or _raw_header(message, "List-Id") or _raw_header(message, "X-Autoreply")
        or sender.partition("@")[0] in AUTOMATED_SENDERS
    )


# Body and attachments -----------------------------------------------------------------

def _body_part(message: Message, problems: list[str]) -> Message | None:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        part = next((p for p in _leaves(message) if p.get_content_maintype() == "text"
                     and p.get_content_disposition() != "attachment"), None)
    if part is None:
        problems.append("The message has no readable text.")
    return part


def _body_text(part: Message, problems: list[str]) -> str:
    # Decoded here rather than by get_content(), which reads undeclared 8-bit text as
    # ASCII (every accented letter lost) and raises on an unknown charset.
    charset = part.get_content_charset()
    content, understood = decode_bytes(_payload(part), charset)
    if not understood:
        problems.append(f"The text's charset “{clean_text(charset or '')[:40]}” is unknown; "
                        "it was read as UTF-8 or Windows-1252.")
    content = clean_text(content)
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    content = content.replace("\r\n", "\n").strip()
    if len(content) > MAX_TEXT:
        problems.append(f"The text was cut to its first {MAX_TEXT:,} characters.")
        content = content[:MAX_TEXT]
    return content


def _payload(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _walk(message: Message, depth: int = 0):
    """Every part, to a bounded depth (Message.walk recurses without limit)."""
    yield message
    if depth < MAX_DEPTH and message.is_multipart():
        try:
            children = list(message.iter_parts()) if message.get_content_maintype() == "multipart" \
                else list(message.get_payload())
        except Exception:
            children = []
        for child in children:
            if isinstance(child, Message):
                yield from _walk(child, depth + 1)


def _leaves(message: Message, depth: int = 0):
    """Every leaf part, and attached messages whole (not their insides)."""
    if depth > MAX_DEPTH:
        return
    if message.get_content_type() == "message/rfc822" and depth > 0:
        yield message
        return
    if message.is_multipart():
        try:
            children = list(message.iter_parts())
        except Exception:
            children = []
        for child in children:
            yield from _leaves(child, depth + 1)
    else:
        yield message


def _is_attachment(part: Message) -> bool:
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    return bool(part.get_content_disposition() == "attachment" or filename
                or part.get_content_maintype() not in ("text", "multipart"))


def _attachments(message: Message, body: Message | None, problems: list[str]) -> list[Attachment]:
    found = []
    for part in _leaves(message):
        if part is body or not _is_attachment(part):
            continue
        if len(found) == MAX_ATTACHMENTS:
            problems.append(f"Only the first {MAX_ATTACHMENTS} attachments were read.")
            break
        content_type = part.get_content_type()
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
        if content_type == "message/rfc822":
            try:
                content = part.get_payload(0).as_bytes()
            except Exception:
                content = b""
            filename = filename or "forwarded-message.eml"
        else:
            content = _payload(part)
        found.append(Attachment(filename=safe_filename(filename, content_type),
                                content_type=content_type, content=content))
    return found


def _note_defects(message: Message, problems: list[str]) -> None:
    names = set()
    for part in _walk(message):
        names.update(type(defect).__name__ for defect in getattr(part, "defects", ()))
    # Header-level defects were reported with their header above.
    names -= {"UndecodableBytesDefect", "InvalidHeaderDefect", "InvalidDateDefect",
              "HeaderMissingRequiredValue", "ObsoleteHeaderDefect", "NonASCIILocalPartDefect"}
    if names:
        problems.append("The MIME structure is damaged (" + ", ".join(sorted(names))
                        + "); what could be read was kept.")
