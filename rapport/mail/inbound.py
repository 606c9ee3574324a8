"""Inbound email: mailboxes polled over IMAP, and providers' inbound webhooks.

Both paths end in one storing service, `store_message`: a message is stored once (its
Message-ID is unique; one without gets a stable id from a hash of its headers), threaded by
In-Reply-To and References onto the timeline entries it answers, attached to the contact
whose address sent it (else to the lead not yet converted with that address, the one the
conversation is with first, else to the conversation's contact, company or lead, else to a new
contact or a new lead when the mailbox says so) and put on that record's timeline with its
attachments; a reply to a message sent to a since-converted lead is on the lead's timeline too.

A poll reads only what is new (the folder's UIDVALIDITY and the highest UID read are kept),
fetches headers first so known and oversized messages are never downloaded, and claims the
mailbox so two workers never read it at once. Bad mail cannot stop it: parsing never raises
(inbound_parse), and a message whose storing fails is retried on the next polls and then
passed over, counted on the mailbox's health.
"""

import datetime
import ipaddress
import logging
import re
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.services import activity_create
from rapport.contacts.models import Company, Contact
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.contacts.services import contact_create
from rapport.core.choices import Source
from rapport.core.cleaning import choice, clean_fields, text
from rapport.core.context import write_source
from rapport.core.errors import Conflict, NotFound, RapportError, ValidationFailed
from rapport.core.events import record_event
from rapport.core.normalise import email_domain
from rapport.core.permissions import require_admin
from rapport.mail import inbound_imap, inbound_parse
from rapport.mail.inbound_parse import Parsed
from rapport.mail.models import (
    InboundAttachment,
    InboundMessage,
    Mailbox,
    MailboxSecurity,
    UnknownSenders,
)
from rapport.sales.choices import LeadSource
from rapport.sales.lead_selectors import lead_visible
from rapport.sales.lead_services import lead_create
from rapport.sales.models import Lead

logger = logging.getLogger(__name__)

MB = 1024 * 1024
LEASE = datetime.timedelta(minutes=5)  # a poll renews it after every batch it stores
POLL_SECONDS = 90  # a poll takes no new work after this, well inside the 2-minute schedule
HEADER_BATCH = 100
MAX_TRIES = 3  # polls that try a message whose storing fails before it is passed over
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
BLOCKED_TYPES = {
    "application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
    "application/x-executable", "application/x-sharedlib", "application/x-mach-binary",
    "application/vnd.microsoft.portable-executable", "application/x-msi", "application/x-ms-installer",
    "application/x-sh", "application/x-shellscript", "application/x-csh", "application/x-bat",
    "application/java-archive", "application/x-java-archive", "application/javascript",
    "application/x-javascript", "text/javascript", "text/vbscript", "application/hta",
    "application/x-ms-shortcut", "application/x-apple-diskimage",
}
BLOCKED_EXTENSIONS = {
    "exe", "com", "scr", "pif", "cpl", "msi", "msp", "dll", "bat", "cmd", "ps1", "psm1", "vbs",
    "vbe", "js", "jse", "wsf", "wsh", "hta", "jar", "lnk", "reg", "sh", "app", "dmg", "apk",
}


# Mailboxes: admins only, like webhooks (a mailbox reads mail for every record) --------

ADMIN_ONLY = "manage mailboxes: they bring mail in for every record"


def _host(value) -> str:
    host = text(253)(value).lower().rstrip(".").strip("[]")
    if not host:
        raise ValueError("Enter the IMAP server's name, such as imap.example.com.")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.match(host):
        raise ValueError("Enter a server name such as imap.example.com, without imap:// or a port.")
    return host


def _port(value) -> int:
    if isinstance(value, bool):
        raise ValueError("Enter a port from 1 to 65535.")
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError("Enter a port from 1 to 65535.") from None
    if not 1 <= port <= 65535:
        raise ValueError("Enter a port from 1 to 65535.")
    return port


def _credential(label: str, max_length: int, *, strip: bool):
    """Kept exactly as typed (a password may have spaces); control characters could break
    the IMAP command they travel in, so they are refused."""
    def clean(value):
        if not isinstance(value, str):
            raise ValueError(f"Enter the {label}.")
        value = value.strip() if strip else value
        if not value:
            raise ValueError(f"Enter the {label}.")
        if len(value) > max_length:
            raise ValueError(f"Enter at most {max_length} characters.")
        if _CONTROL.search(value):
            raise ValueError(f"The {label} may not contain line breaks or control characters.")
        return value
    return clean


def _folder(value) -> str:
    folder = text(200)(value) or "INBOX"
    if _CONTROL.search(folder):
        raise ValueError("A folder name may not contain control characters.")
    return folder


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Send true or false.")
    return value


CLEANERS = {
    "name": text(120),
    "host": _host,
    "port": _port,
    "security": choice(MailboxSecurity),
    "username": _credential("user name", 254, strip=True),
    "password": _credential("password", 500, strip=False),
    "folder": _folder,
    "unknown_senders": choice(UnknownSenders),
    "is_active": _flag,
}
# Where the server and folder are: change one and the UIDs read so far mean nothing.
LOCATION = {"host", "username", "folder"}


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(mailbox: Mailbox) -> None:
    errors = {}
    if mailbox.security == MailboxSecurity.NONE and not _is_local(mailbox.host):
        errors["security"] = ["Without SSL/TLS or STARTTLS the password would cross the network "
                              "readable; that is allowed for a server on this machine only."]
    same = (Mailbox.objects.filter(host__iexact=mailbox.host, username__iexact=mailbox.username,
                                   folder=mailbox.folder).exclude(pk=mailbox.pk).first())
    if same is not None:
        errors["folder"] = [f"The mailbox “{same.name}” reads this folder already."]
    if errors:
        raise ValidationFailed(fields=errors)


def _with_unknown_senders(data: dict, current: str | None = None) -> dict:
    """`create_contacts`, the yes/no that `unknown_senders` replaced, still taken (API clients
    written before it send it): true creates contacts (a mailbox that creates leads goes on
    creating leads), false nothing. `unknown_senders`, when sent too, wins."""
    if not isinstance(data, dict) or "create_contacts" not in data:
        return data
    data = dict(data)
    flag = data.pop("create_contacts")
    if "unknown_senders" in data:
        return data
    try:
        flag = _flag(flag)
    except ValueError as exc:
        raise ValidationFailed(fields={"create_contacts": [str(exc)]}) from None
    creating = current if current in {UnknownSenders.CONTACT, UnknownSenders.LEAD} \
        else UnknownSenders.CONTACT
    data["unknown_senders"] = creating if flag else UnknownSenders.IGNORE
    return data


def _event_data(mailbox: Mailbox) -> dict:
    return {"name": mailbox.name, "host": mailbox.host, "username": mailbox.username,
            "folder": mailbox.folder, "is_active": mailbox.is_active,
            "unknown_senders": mailbox.unknown_senders}


@transaction.atomic
def mailbox_create(*, actor, data: dict) -> Mailbox:
    """A mailbox; its first poll runs as soon as the transaction commits."""
    require_admin(actor, ADMIN_ONLY)
    values = clean_fields(CLEANERS, _with_unknown_senders(data),
                          required=("name", "host", "username", "password"))
    values.setdefault("security", MailboxSecurity.SSL)
    values.setdefault("port", 993 if values["security"] == MailboxSecurity.SSL else 143)
    mailbox = Mailbox(owner=actor, **values)
    _check(mailbox)
    mailbox.save()
    record_event(type="mailbox.created", object_type="mailbox", object_id=mailbox.pk, actor=actor,
                 data=_event_data(mailbox))
    if mailbox.is_active:
        _poll_after_commit(mailbox.pk)
    return mailbox


@transaction.atomic
def mailbox_update(*, actor, mailbox_id: int, data: dict) -> Mailbox:
    require_admin(actor, ADMIN_ONLY)
    mailbox = Mailbox.objects.select_for_update().filter(pk=mailbox_id).first()
    if mailbox is None:
        raise NotFound()
    values = clean_fields(CLEANERS, _with_unknown_senders(data, mailbox.unknown_senders))
    for name in ("name", "host", "username"):
        if name in values and not values[name]:
            raise ValidationFailed(fields={name: ["This field is required."]})
    moved = any(name in values and values[name] != getattr(mailbox, name) for name in LOCATION)
    switched_on = values.get("is_active") and not mailbox.is_active
    for name, value in values.items():
        setattr(mailbox, name, value)
    _check(mailbox)
    if moved:
        mailbox.uid_validity, mailbox.last_uid = None, 0
        mailbox.failing_uid, mailbox.failing_attempts = None, 0
    if switched_on or moved or "password" in values:
        mailbox.last_error, mailbox.last_error_at = "", None
    mailbox.updated_at = timezone.now()
    mailbox.save()
    record_event(type="mailbox.updated", object_type="mailbox", object_id=mailbox.pk, actor=actor,
                 data={**_event_data(mailbox), "fields": sorted(values)})
    if mailbox.is_active and (switched_on or moved or "password" in values):
        _poll_after_commit(mailbox.pk)
    return mailbox


@transaction.atomic
def mailbox_delete(*, actor, mailbox_id: int) -> None:
    """The mailbox goes; the mail it brought in stays on the timeline."""
    require_admin(actor, ADMIN_ONLY)
    deleted, _ = Mailbox.objects.filter(pk=mailbox_id).delete()
    if not deleted:
        raise NotFound()
    record_event(type="mailbox.deleted", object_type="mailbox", object_id=mailbox_id, actor=actor)


@transaction.atomic
def mailbox_sync(*, actor, mailbox_id: int, from_start: bool = False) -> Mailbox:
    """Poll now (the Resync button). `from_start` reads the whole folder again: messages
    already stored are recognised from their headers and skipped, missing ones are stored."""
    require_admin(actor, ADMIN_ONLY)
    mailbox = Mailbox.objects.select_for_update().filter(pk=mailbox_id).first()
    if mailbox is None:
        raise NotFound()
    if not mailbox.is_active:
        raise ValidationFailed("Switch the mailbox on to sync it.",
                               fields={"is_active": ["The mailbox is switched off."]})
    if mailbox.sync_claimed_until and mailbox.sync_claimed_until > timezone.now():
        raise Conflict("A sync of this mailbox is running; its results show in a moment. (A sync "
                       "cut off by a stopped worker is released within five minutes.)")
    if from_start:
        mailbox.last_uid, mailbox.failing_uid, mailbox.failing_attempts = 0, None, 0
        mailbox.save(update_fields=["last_uid", "failing_uid", "failing_attempts"])
    _poll_after_commit(mailbox.pk)
    return mailbox


def _poll_after_commit(mailbox_id: int) -> None:
    def enqueue():
        from rapport.mail.tasks import poll_now

        poll_now(mailbox_id)
    transaction.on_commit(enqueue)


def active_mailbox_ids() -> list[int]:
    return list(Mailbox.objects.filter(is_active=True).order_by("id").values_list("id", flat=True))


# Storing ------------------------------------------------------------------------------

@dataclass
class Stored:
    message: InboundMessage
    created: bool


def store_message(*, raw: bytes, source: str, mailbox: Mailbox | None = None,
                  received_at: datetime.datetime | None = None, uid: int | None = None) -> Stored:
    """Store one received message (the raw RFC 5322 bytes) unless it is stored already."""
    parsed = inbound_parse.parse(raw)
    return _save(parsed, source=source, mailbox=mailbox, received_at=received_at, uid=uid,
                 size=len(raw))


def store_too_large(*, header: bytes, size: int, source: str, mailbox: Mailbox | None = None,
                    received_at: datetime.datetime | None = None, uid: int | None = None) -> Stored:
    """Record a message over the size limit from its headers alone: who, what, when."""
    parsed = inbound_parse.parse(header, headers_only=True)
    limit = settings.INBOUND_MAX_BYTES / MB
    parsed.problems.append(f"The message is {size / MB:.1f} MB, over the {limit:g} MB limit: "
                           "only its headers were kept.")
    parsed.text = (f"This message is {size / MB:.1f} MB, over the {limit:g} MB limit for "
                   "incoming email, so Rapport kept only who sent it, to whom and its subject. "
                   "Read it in your mail program.")
    return _save(parsed, source=source, mailbox=mailbox, received_at=received_at, uid=uid,
                 size=size, too_large=True)


def _save(parsed: Parsed, **kwargs) -> Stored:
    existing = InboundMessage.objects.filter(message_id=parsed.message_id).first()
    if existing is not None:
        return Stored(existing, created=False)
    try:
        with transaction.atomic():
            return Stored(_create(parsed, **kwargs), created=True)
    except IntegrityError:
        # Another worker stored the same message between the check and the insert.
        existing = InboundMessage.objects.filter(message_id=parsed.message_id).first()
        if existing is None:
            raise
        return Stored(existing, created=False)


def _create(parsed: Parsed, *, source, mailbox, received_at, uid, size, too_large=False):
    problems = parsed.problems
    # The row goes in first: its unique Message-ID is the claim on this message, taken
    # before any contact, activity or file is made for it.
    message = InboundMessage.objects.create(
        mailbox=mailbox, source=source[:16], message_id=parsed.message_id,
        message_id_generated=parsed.message_id_generated, in_reply_to=parsed.in_reply_to,
        references=parsed.references, from_name=parsed.from_name,
        from_address=parsed.from_address, to=parsed.to, cc=parsed.cc, subject=parsed.subject,
        text_body=parsed.text, sent_at=parsed.sent_at, received_at=received_at or timezone.now(),
        size=size, is_too_large=too_large, imap_uid=uid)
    own = Activity.all_objects.filter(email_message_id=parsed.message_id).first()
    if own is not None:
        # A copy of a message sent from Rapport (a Bcc to oneself, a forwarded Sent folder):
        # it is on the timeline already.
        message.activity = own
    else:
        message.replied_to, message.thread_root = _thread(parsed)
        record = _record_for(parsed, mailbox, message.replied_to)
        attachments = _keep_attachments(message, parsed.attachments)
        if record is not None:
            message.activity = _timeline_entry(message, parsed, record, mailbox, attachments,
                                               replied_to=message.replied_to)
        elif parsed.from_address:
            problems.append(f"No contact or lead has the address {parsed.from_address}; the "
                            "message is kept here but is on no timeline.")
    message.problems = problems[:20]
    message.save(update_fields=["activity", "replied_to", "thread_root", "problems"])
    record_event(type="email.received", object_type="inbound_email", object_id=message.pk,
                 data={"message_id": message.message_id, "from": message.from_address,
                       "subject": message.subject, "activity_id": message.activity_id,
                       "mailbox_id": message.mailbox_id, "source": message.source})
    return message


def _thread(parsed: Parsed) -> tuple[Activity | None, Activity | None]:
    """(the timeline entry this answers, the first one of the conversation)."""
    ids = parsed.thread_ids
    if not ids:
        return None, None
    found = {a.email_message_id: a for a in Activity.objects.filter(email_message_id__in=ids)
             .select_related("contact", "company", "lead")}
    replied_to = next((found[i] for i in ids if i in found), None)
    root = next((found[i] for i in parsed.references if i in found), None)
    if replied_to is not None and root is None:
        earlier = (InboundMessage.objects.filter(activity=replied_to)
                   .exclude(thread_root=None).values_list("thread_root_id", flat=True).first())
        root = Activity.objects.filter(pk=earlier).first() if earlier else replied_to
    return replied_to, root


def _record_for(parsed: Parsed, mailbox: Mailbox | None,
                replied_to: Activity | None) -> Contact | Company | Lead | None:
    """The record whose timeline the message goes on: the sender's contact; else the sender's
    lead (not converted: a converted one has its contact); else the conversation's contact,
    company or lead; else, when the mailbox says so, a new contact or a new lead."""
    if parsed.from_address:
        contact = contact_for_address(parsed.from_address)
        if contact is not None:
            return contact
        lead = _replied_lead(parsed, replied_to) or lead_for_address(parsed.from_address)
        if lead is not None:
            return lead
    if replied_to is not None:
        record = replied_to.contact or replied_to.company or replied_to.lead
        if record is not None and not record.is_deleted:
            return record
    if mailbox is None or not parsed.from_address:
        return None
    if mailbox.unknown_senders == UnknownSenders.CONTACT:
        return _new_contact(parsed, mailbox)
    if mailbox.unknown_senders == UnknownSenders.LEAD:
        return _new_lead(parsed, mailbox)
    return None


def _replied_lead(parsed: Parsed, replied_to: Activity | None) -> Lead | None:
    """The lead the answered message was sent to, when the reply comes from its address (and
    it is not converted nor in the trash): of two leads with one address, the one written to."""
    lead = replied_to.lead if replied_to is not None else None
    if (lead is None or lead.is_deleted or lead.converted_at is not None
            or lead.email != parsed.from_address):
        return None
    return lead


def contact_for_address(address: str) -> Contact | None:
    """The oldest live contact with `address` as its email or one of its further emails."""
    contact = Contact.objects.filter(email=address).order_by("id").first()
    if contact is not None:
        return contact
    # Further addresses are a JSON list: a match of the quoted address as text finds the
    # candidates on SQLite and PostgreSQL alike; the exact check keeps only real ones.
    for candidate in Contact.objects.filter(emails__icontains=f'"{address}"').order_by("id")[:20]:
        if address in candidate.emails:
            return candidate
    return None


def lead_for_address(address: str) -> Lead | None:
    """The oldest lead not converted nor in the trash with `address` as its email."""
    return Lead.objects.filter(email=address, converted_at__isnull=True).order_by("id").first()


def _creator(parsed: Parsed, mailbox: Mailbox, noun: str):
    """Who creates a record for an unknown sender (the mailbox's owner), or None when no record
    is made: an automated message, a colleague, or a mailbox without an active owner."""
    if parsed.automated:
        parsed.problems.append("An automated message (a bounce, auto-reply or mailing list): "
                               f"no {noun} was created for its sender.")
        return None
    if get_user_model().objects.filter(email__iexact=parsed.from_address).exists():
        return None  # a colleague, not a customer
    owner = mailbox.owner
    if owner is None or not owner.is_active:
        parsed.problems.append(f"The mailbox has no active owner to create the sender's {noun} as.")
        return None
    return owner


def _new_contact(parsed: Parsed, mailbox: Mailbox) -> Contact | None:
    problems = parsed.problems
    owner = _creator(parsed, mailbox, "contact")
    if owner is None:
        return None
    first, last = _split_name(parsed.from_name, parsed.from_address)
    try:
        return contact_create(actor=owner, data={"email": parsed.from_address, "first_name": first,
                                                 "last_name": last, "lifecycle_stage": "lead"})
    except RapportError as exc:
        problems.append(f"The sender's contact could not be created: {exc}")
        return None


def _new_lead(parsed: Parsed, mailbox: Mailbox) -> Lead | None:
    """A lead for the sender, with the source "email", created as the mailbox's owner and so
    assigned as any new lead is (the assignment rules, the fallback owner, then the owner)."""
    owner = _creator(parsed, mailbox, "lead")
    if owner is None:
        return None
    first, last = _split_name(parsed.from_name, parsed.from_address)
    try:
        return lead_create(actor=owner, data={
            "email": parsed.from_address, "first_name": first, "last_name": last,
            "company_name": company_from_address(parsed.from_address),
            "source": LeadSource.EMAIL})
    except RapportError as exc:
        parsed.problems.append(f"The sender's lead could not be created: {exc}")
        return None


# Country-code domains whose companies register under a second level: acme.co.uk, acme.com.au.
_SECOND_LEVELS = {"co", "com", "net", "org", "ac", "gov", "edu", "ltd", "plc", "ne", "or", "gv"}


def company_from_address(address: str) -> str:
    """The company a business address names, guessed from its domain ("jane@mail.acme-labs.co.uk"
    -> "Acme Labs"); "" for a free-mail address (gmail.com...) or one that names nothing
    readable. A guess to correct, not a fact: it only fills the lead's company name."""
    labels = email_domain(address).split(".")
    if len(labels) < 2:
        return ""
    if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVELS:
        labels = labels[:-1]
    name = labels[-2]
    if len(name) < 2 or name.isdigit() or name.startswith("xn--"):
        return ""
    return " ".join(part.capitalize() for part in name.replace("_", "-").split("-") if part)[:200]


def _split_name(name: str, address: str) -> tuple[str, str]:
    name = " ".join(name.replace('"', "").split())
    if not name or name.lower() == address:
        return "", ""
    if "," in name:  # "Doe, Jane"
        last, _, first = name.partition(",")
        return first.strip()[:100], last.strip()[:100]
    first, _, last = name.partition(" ")
    return first[:100], last[:100]


_VISIBLE = {"contact": contact_visible, "company": company_visible, "lead": lead_visible}


def _actor_for(record, mailbox: Mailbox | None):
    """Who the timeline entry is written as: the record's owner, who answers for the
    relationship, else the mailbox's owner; either must be able to see the record."""
    visible = _VISIBLE[record.object_type]
    for user in (record.owner, mailbox.owner if mailbox else None):
        if user is not None and user.is_active and visible(user=user).filter(pk=record.pk).exists():
            return user
    return None


def _timeline_entry(message, parsed, record, mailbox, attachments,
                    replied_to: Activity | None = None) -> Activity | None:
    actor = _actor_for(record, mailbox)
    if actor is None:
        parsed.problems.append(f"No active user can see {record}, so the message is on no timeline.")
        return None
    listing = _attachment_list(attachments)
    body = parsed.text[:inbound_parse.MAX_TEXT - len(listing)] + listing
    try:
        activity = activity_create(actor=actor, data={
            "kind": "email", "direction": "inbound", "subject": " ".join(parsed.subject.split())[:200],
            "body": body, f"{record.object_type}_id": record.pk,
            **_converted_lead(record, replied_to, actor),
            "occurred_at": parsed.sent_at or message.received_at,
            "email_from": parsed.from_address, "email_to": list(dict.fromkeys(parsed.to + parsed.cc))[:100],
        })
    except RapportError as exc:
        parsed.problems.append(f"The message could not be put on the timeline: {exc}")
        return None
    Activity.objects.filter(pk=activity.pk).update(email_message_id=message.message_id)
    activity.email_message_id = message.message_id
    return activity


def _converted_lead(record, replied_to: Activity | None, actor) -> dict:
    """A reply filed on a contact to a message sent to the lead it was converted from is on
    the lead's timeline too, as the message it answers is (if `actor` may see the lead)."""
    lead = replied_to.lead if replied_to is not None else None
    if (record.object_type != "contact" or lead is None or lead.converted_contact_id != record.pk
            or not lead_visible(user=actor, pk=lead.pk).exists()):
        return {}
    return {"lead_id": lead.pk}


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")


def _attachment_list(attachments: list[InboundAttachment]) -> str:
    """The attachments as Markdown under the text, so the timeline shows and links them."""
    if not attachments:
        return ""
    lines = ["", "", "**Attachments**", ""]
    for attachment in attachments:
        name = _MARKDOWN.sub(r"\\\1", attachment.filename)
        if attachment.refused_reason:
            lines.append(f"- {name} · not kept: {attachment.refused_reason}")
        else:
            url = reverse("inbound:attachment", args=[attachment.pk])
            lines.append(f"- [{name}]({url}) · {_size(attachment.size)}")
    return "\n".join(lines)


def _size(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{max(1, round(size / 1024))} KB"


def _keep_attachments(message: InboundMessage, attachments) -> list[InboundAttachment]:
    rows = []
    for attachment in attachments:
        content_type = attachment.content_type.lower()
        if not _CONTENT_TYPE.match(content_type):
            content_type = "application/octet-stream"
        row = InboundAttachment(message=message, filename=attachment.filename[:255],
                                content_type=content_type[:127], size=len(attachment.content),
                                refused_reason=_refusal(attachment.filename, content_type,
                                                        attachment.content))
        if not row.refused_reason:
            row.file.save(attachment.filename, ContentFile(attachment.content), save=False)
        rows.append(row)
    return InboundAttachment.objects.bulk_create(rows)


def _refusal(filename: str, content_type: str, content: bytes) -> str:
    """Why an attachment is not kept, or "". The declared type, the name's extension and
    the first bytes are all checked: a sender can mislabel any one of them."""
    if len(content) > settings.INBOUND_MAX_ATTACHMENT_BYTES:
        return f"over the {settings.INBOUND_MAX_ATTACHMENT_BYTES / MB:g} MB limit for attachments"
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if (content_type in BLOCKED_TYPES or extension in BLOCKED_EXTENSIONS
            or content[:4] == b"\x7fELF" or _is_windows_executable(content)):
        return "a program or script, which Rapport does not keep"
    return ""


def _is_windows_executable(content: bytes) -> bool:
    if content[:2] != b"MZ" or len(content) < 64:
        return False
    offset = int.from_bytes(content[60:64], "little")
    return content[offset:offset + 4] == b"PE\0\0"


# Polling ------------------------------------------------------------------------------

@dataclass
class PollResult:
    stored: int = 0
    known: int = 0
    too_large: int = 0
    failed: int = 0
    error: str = ""
    more: bool = False  # stopped at the time limit with messages left for the next poll
    notes: list[str] = field(default_factory=list)


def poll_mailbox(mailbox_id: int) -> PollResult | None:
    """Read what is new in an active mailbox's folder; None when it is off, gone, or being
    read by another worker right now."""
    now = timezone.now()
    claimed = Mailbox.objects.filter(
        Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lte=now),
        pk=mailbox_id, is_active=True,
    ).update(sync_claimed_until=now + LEASE)
    if not claimed:
        return None
    mailbox = Mailbox.objects.select_related("owner").get(pk=mailbox_id)
    result = PollResult()
    position = {"uid_validity": mailbox.uid_validity, "last_uid": mailbox.last_uid,
                "failing_uid": mailbox.failing_uid, "failing_attempts": mailbox.failing_attempts}
    try:
        with write_source(Source.JOB), inbound_imap.open_folder(
                host=mailbox.host, port=mailbox.port, security=mailbox.security,
                username=mailbox.username, password=mailbox.password,
                folder=mailbox.folder) as folder:
            if folder.uid_validity != position["uid_validity"]:
                position.update(uid_validity=folder.uid_validity, last_uid=0)
            _read(folder, mailbox, position, result, deadline=time.monotonic() + POLL_SECONDS)
    except inbound_imap.ImapError as exc:
        result.error = str(exc)
    except Exception as exc:
        logger.exception("Polling mailbox %s failed", mailbox_id)
        result.error = f"Rapport failed while reading the mailbox ({type(exc).__name__}: {exc})"[:1000]
        _finish(mailbox, position, result)
        raise
    _finish(mailbox, position, result)
    return result


def _read(folder, mailbox: Mailbox, position: dict, result: PollResult, deadline: float) -> None:
    uids = folder.uids_after(position["last_uid"])
    for start in range(0, len(uids), HEADER_BATCH):
        if time.monotonic() > deadline:
            result.more = True
            return
        chunk = uids[start:start + HEADER_BATCH]
        finished = _read_chunk(folder, mailbox, chunk, position, result, deadline)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            sync_claimed_until=timezone.now() + LEASE, **position)
        if not finished:
            return


def _read_chunk(folder, mailbox, chunk, position, result, deadline) -> bool:
    """Store the new messages among `chunk`, in UID order; False when the poll stops early."""
    envelopes = folder.envelopes(chunk)
    ids = {e.uid: inbound_parse.message_id_of(e.header)[0] for e in envelopes}
    known = set(InboundMessage.objects.filter(message_id__in=set(ids.values()))
                .values_list("message_id", flat=True))
    limit = settings.INBOUND_MAX_BYTES
    wanted = [e for e in envelopes if ids[e.uid] not in known and e.size <= limit]
    bodies: dict[int, bytes] = {}
    for envelope in envelopes:
        if ids[envelope.uid] in known:
            result.known += 1
        elif envelope.size > limit:
            if not _attempt(mailbox, envelope, position, result, lambda e=envelope: store_too_large(
                    header=e.header, size=e.size, source="imap", mailbox=mailbox,
                    received_at=e.received_at, uid=e.uid)):
                return False
            result.too_large += 1
        else:
            if envelope.uid not in bodies:
                if time.monotonic() > deadline:
                    result.more = True
                    return False
                # The next batch from here on; the previous one is dropped to spare memory.
                bodies = folder.bodies(wanted[wanted.index(envelope):])
            raw = bodies.get(envelope.uid)
            if raw is None:  # expunged between the header and the body fetch
                position["last_uid"] = envelope.uid
                continue
            if not _attempt(mailbox, envelope, position, result, lambda e=envelope, r=raw: store_message(
                    raw=r, source="imap", mailbox=mailbox, received_at=e.received_at, uid=e.uid)):
                return False
        position["last_uid"] = envelope.uid
    position["last_uid"] = max([position["last_uid"], *chunk])
    return True


def _attempt(mailbox, envelope, position, result, store) -> bool:
    """Run `store`; on failure stop the poll so the next one tries again, unless this
    message has failed MAX_TRIES polls running, when it is passed over and counted."""
    try:
        stored = store()
    except Exception as exc:
        logger.exception("Mailbox %s: storing UID %s failed", mailbox.pk, envelope.uid)
        attempts = position["failing_attempts"] + 1 if position["failing_uid"] == envelope.uid else 1
        reason = f"{type(exc).__name__}: {exc}"[:300]
        if attempts >= MAX_TRIES:
            result.failed += 1
            result.notes.append(f"Message UID {envelope.uid} was passed over after {attempts} "
                                f"failed attempts ({reason}).")
            position.update(last_uid=envelope.uid, failing_uid=None, failing_attempts=0)
            return True
        result.notes.append(f"Message UID {envelope.uid} could not be stored ({reason}); it is "
                            "tried again on the next poll.")
        position.update(failing_uid=envelope.uid, failing_attempts=attempts)
        return False
    if position["failing_uid"] == envelope.uid:
        position.update(failing_uid=None, failing_attempts=0)
    result.stored += stored.created
    if not stored.created:
        result.known += 1
    return True


def _finish(mailbox: Mailbox, position: dict, result: PollResult) -> None:
    """One UPDATE: the health fields, where reading stopped, and the claim released."""
    now = timezone.now()
    error = result.error or " ".join(result.notes)[:1000]
    health = {"last_error": error, "last_error_at": now if error else None}
    if not result.error:
        health["last_sync_at"] = now
    Mailbox.objects.filter(pk=mailbox.pk).update(
        sync_claimed_until=None, messages_fetched=F("messages_fetched") + result.stored,
        messages_failed=F("messages_failed") + result.failed, **health, **position)
