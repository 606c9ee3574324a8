"""Every write of the email feature: templates, sender identities, queueing and sending.

A message is rendered once, when it is queued, and stored with its Message-ID; the job
that sends it claims it first, so it goes out at most once however many workers or
retries run. Temporary failures (4xx, an unreachable server) are retried with backoff;
permanent ones (5xx) fail the message and say why on the timeline.
"""

import datetime
import mimetypes
import re
import time
import uuid
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rapport.activities.models import Activity
from rapport.activities.services import activity_create
from rapport.contacts.models import Company, Contact
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core.cleaning import clean_fields, listed, reference, text
from rapport.core.errors import NotFound, PermissionDenied, ValidationFailed
from rapport.core.events import record_event, record_events
from rapport.core.normalise import normalise_email
from rapport.core.permissions import is_admin
from rapport.mail import building, merge, transport
from rapport.mail.models import (
    EmailStatus,
    EmailTemplate,
    OutboundAttachment,
    OutboundEmail,
    SenderIdentity,
)
from rapport.mail.rendering import Rendered, render_notification, render_parts
from rapport.sales.lead_selectors import lead_visible
from rapport.sales.selectors import deal_visible, first_contact

MAX_ATTEMPTS = 8
LEASE = datetime.timedelta(minutes=5)  # renewed every FLUSH_EVERY messages while sending
FLUSH_EVERY = 50
RENEW_EVERY_SECONDS = 60  # well inside the LEASE
MAX_ATTACHMENTS = 10
BATCH = 100
CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def retry_delay(attempts: int) -> datetime.timedelta:
    """1 minute doubling: eight attempts span about two hours (1 + 2 + ... + 64 minutes)."""
    return datetime.timedelta(minutes=2 ** (attempts - 1))


# Templates ----------------------------------------------------------------------------

def _template_source(max_length: int, *, multiline: bool):
    def clean(value):
        source = text(max_length, multiline=multiline)(value)
        return merge.check(source) if source else source
    return clean


TEMPLATE_CLEANERS = {
    "name": text(120),
    "subject": _template_source(300, multiline=False),
    "body": _template_source(50_000, multiline=True),
}


def _require_template_editor(actor, template: EmailTemplate):
    if not (is_admin(actor) or template.created_by_id == actor.pk):
        raise PermissionDenied("Only the template's author or an admin may change it.")


def _unique_name(name: str, exclude_id: int | None = None):
    taken = EmailTemplate.objects.filter(name__iexact=name).exclude(pk=exclude_id).exists()
    if taken:
        raise ValidationFailed(fields={"name": ["A template has this name already."]})


@transaction.atomic
def template_create(*, actor, data: dict) -> EmailTemplate:
    values = clean_fields(TEMPLATE_CLEANERS, data, required=("name", "subject", "body"))
    _unique_name(values["name"])
    template = EmailTemplate.objects.create(created_by=actor, **values)
    record_event(type="email_template.created", object_type="email_template",
                 object_id=template.pk, actor=actor, data={"name": template.name})
    return template


@transaction.atomic
def template_update(*, actor, template_id: int, data: dict) -> EmailTemplate:
    template = EmailTemplate.objects.select_for_update().filter(pk=template_id).first()
    if template is None:
        raise NotFound()
    _require_template_editor(actor, template)
    values = clean_fields(TEMPLATE_CLEANERS, data)
    for name in ("name", "subject", "body"):
        if name in values and not values[name]:
            raise ValidationFailed(fields={name: ["This field is required."]})
    if "name" in values:
        _unique_name(values["name"], exclude_id=template.pk)
    for name, value in values.items():
        setattr(template, name, value)
    template.updated_at = timezone.now()
    template.save()
    record_event(type="email_template.updated", object_type="email_template",
                 object_id=template.pk, actor=actor, data={"fields": sorted(values)})
    return template


@transaction.atomic
def template_delete(*, actor, template_id: int) -> None:
    template = EmailTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound()
    _require_template_editor(actor, template)
    template.delete()
    record_event(type="email_template.deleted", object_type="email_template",
                 object_id=template_id, actor=actor)


# Sender identity ----------------------------------------------------------------------

def _optional_email(value):
    value = text(254)(value)
    return normalise_email(value) if value else ""


IDENTITY_CLEANERS = {
    "display_name": text(120),
    "reply_to": _optional_email,
    "signature": text(2000, multiline=True),
}


def identity_for(user) -> SenderIdentity:
    identity = SenderIdentity.objects.filter(user=user).first()
    return identity or SenderIdentity(user=user)


@transaction.atomic
def identity_update(*, actor, data: dict) -> SenderIdentity:
    values = clean_fields(IDENTITY_CLEANERS, data)
    identity, _ = SenderIdentity.objects.select_for_update().get_or_create(user=actor)
    for name, value in values.items():
        setattr(identity, name, value)
    identity.save()
    return identity


def sender_addresses(user, identity: SenderIdentity) -> tuple[str, str, str]:
    """(From header, envelope sender, Reply-To) for a message `user` sends."""
    name = identity.display_name or user.full_name
    if settings.EMAIL_FROM:
        address = parseaddr(settings.EMAIL_FROM)[1] or settings.EMAIL_FROM
        return formataddr((name, address)), address, identity.reply_to or user.email
    return formataddr((name, user.email)), user.email, identity.reply_to


# Composing ----------------------------------------------------------------------------

def merge_context(*, contact: Contact | None, company: Company | None, sender,
                  deal=None, lead=None) -> dict:
    """Plain text only: a template never sees a record, so it cannot reach beyond its fields.

    Sent to a lead, `lead.*` holds the lead's fields, and the lead stands in for the contact
    and company it has not become (yet): `contact.*` is its person, `company.*` its company
    name and website, so a template written for contacts ("Hi {{ contact.first_name }}")
    reads the same to a lead. A converted lead's own contact and company fill them instead.
    """
    def fields(obj, names, extra=None):
        values = {name: str(getattr(obj, name, "") or "") for name in names} if obj else {}
        return {**values, **(extra or {})}

    def person(obj, group):
        names = [n for n in merge.MERGE_FIELDS[group] if n != "full_name"]
        return fields(obj, names, {"full_name": obj.full_name} if obj else {})

    if company is None and lead is not None:
        company_fields = {"name": lead.company_name, "website": lead.website}
    else:
        company_fields = fields(company, merge.MERGE_FIELDS["company"])
    return {
        "contact": person(contact or lead, "contact"),
        "company": company_fields,
        "lead": person(lead, "lead"),
        "sender": {"full_name": sender.full_name, "email": sender.email,
                   "first_name": (sender.full_name or "").split(" ")[0]},
        "deal": {"name": deal.name, "amount": f"{deal.amount:,.2f}", "currency": deal.currency,
                 "stage": deal.stage.name, "next_step": deal.next_step,
                 "expected_close_date": deal.expected_close_date or ""} if deal else {},
    }


def _attachments(files) -> list[tuple[str, str, bytes]]:
    """(filename, content type, content) for each file, checked for count, size and type."""
    files = list(files or [])
    if len(files) > MAX_ATTACHMENTS:
        raise ValidationFailed(fields={"attachments": [f"Attach at most {MAX_ATTACHMENTS} files."]})
    cleaned, total = [], 0
    for name, content_type, content in files:
        filename = PurePath(str(name or "")).name.strip()[:255] or "attachment"
        content_type = (content_type or mimetypes.guess_type(filename)[0]
                        or "application/octet-stream").lower()
        if not CONTENT_TYPE.match(content_type):
            raise ValidationFailed(fields={"attachments": [f"“{filename}” has no valid content "
                                                           "type."]})
        total += len(content)
        cleaned.append((filename, content_type, content))
    if total > settings.EMAIL_MAX_ATTACHMENT_BYTES:
        limit = settings.EMAIL_MAX_ATTACHMENT_BYTES // (1024 * 1024)
        raise ValidationFailed(fields={"attachments": [
            f"Attachments come to {total / 1048576:.1f} MB; the limit is {limit} MB."]})
    return cleaned


def _compose_cleaners(actor):
    return {
        "contact_id": reference(contact_visible(user=actor), "contact"),
        "company_id": reference(company_visible(user=actor), "company"),
        "deal_id": reference(deal_visible(user=actor), "deal"),
        "lead_id": reference(lead_visible(user=actor), "lead"),
        "template_id": reference(EmailTemplate.objects.all(), "template"),
        "to": listed(normalise_email, max_items=50),
        "cc": listed(normalise_email, max_items=50),
        "subject": _template_source(300, multiline=False),
        "body": _template_source(50_000, multiline=True),
    }


def _message_id(envelope_from: str) -> str:
    domain = envelope_from.rpartition("@")[2] or settings.RAPPORT_ICS_DOMAIN
    return make_msgid(idstring="rapport", domain=domain)


def preview(*, actor, data: dict) -> Rendered:
    """What `email_send` would send, without queueing it (the compose page's preview)."""
    return _prepare(actor, data)[0]


def _prepare(actor, data: dict):
    values = clean_fields(_compose_cleaners(actor), data)
    template = None
    if values.get("template_id"):
        template = EmailTemplate.objects.get(pk=values["template_id"])
        values.setdefault("subject", template.subject)
        values.setdefault("body", template.body)
        values["subject"] = values["subject"] or template.subject
        values["body"] = values["body"] or template.body
    lead = _lead(actor, values)
    deal = (deal_visible(user=actor, pk=values["deal_id"]).select_related("stage").first()
            if values.get("deal_id") else None)
    if deal and not values.get("contact_id"):
        # From a deal page: to the deal's first contact the sender may see.
        person = first_contact(user=actor, deal=deal)
        values["contact_id"] = person.contact_id if person else None
    contact = Contact.objects.filter(pk=values.get("contact_id")).first()
    company_id = (values.get("company_id") or (contact.company_id if contact else None)
                  or (deal.company_id if deal else None))
    # The contact's company fills company.* only if the sender may see it (and it is not trashed).
    company = company_visible(user=actor).filter(pk=company_id).first() if company_id else None
    errors = {}
    if not values.get("to") and contact and contact.email:
        values["to"] = [contact.email]
    for name in ("to", "subject", "body"):
        if not values.get(name):
            errors[name] = ["This field is required."]
    if not (contact or company or deal or lead):
        errors["contact_id"] = ["Send the email from a contact, a company, a deal or a lead."]
    if errors:
        raise ValidationFailed(fields=errors)
    identity = identity_for(actor)
    rendered = render_parts(subject=values["subject"], body=values["body"],
                            context=merge_context(contact=contact, company=company, sender=actor,
                                                  deal=deal, lead=lead),
                            signature=identity.signature)
    if not rendered.subject:
        raise ValidationFailed(fields={"subject": ["The subject is empty once merged."]})
    return rendered, values, contact, company, deal, lead, template, identity


def _lead(actor, values: dict):
    """The lead an email goes to (None when it is sent from another record): `to` defaults to
    its address; a converted lead's visible contact and company join the message's timeline
    entry (`values` gains their ids).

    A converted lead is emailed, not refused: its person is the same, its earlier activities
    already sit on its contact's timeline too (activities follow a conversion), and a rule on
    lead.converted (a welcome message) is the commonest lead rule there is. So the message is
    sent to the lead and logged on both timelines, and the reply, which lands on the contact
    (mail from an address goes to its contact first), is logged on both as well (inbound).
    A disqualified lead may be emailed too: disqualifying is a sales verdict, not an opt-out.
    """
    if not values.get("lead_id"):
        return None
    others = [name for name in ("contact_id", "company_id", "deal_id") if values.get(name)]
    if others:
        raise ValidationFailed(fields={"lead_id": [
            f"Send to a lead on its own, without {' or '.join(others)}."]})
    lead = lead_visible(user=actor, pk=values["lead_id"]).first()
    if not values.get("to"):
        if not lead.email:
            raise ValidationFailed(fields={"lead_id": [
                f"The lead “{lead}” has no email address: add one to the lead, or give the "
                "address to send to."]})
        values["to"] = [lead.email]
    if lead.converted_contact_id:
        values["contact_id"] = (contact_visible(user=actor, pk=lead.converted_contact_id)
                                .values_list("pk", flat=True).first())
    if lead.converted_company_id:
        values["company_id"] = (company_visible(user=actor, pk=lead.converted_company_id)
                                .values_list("pk", flat=True).first())
    return lead


@transaction.atomic
def email_send(*, actor, data: dict, files=()) -> OutboundEmail:
    """Queue a message from a contact's, company's, deal's or lead's page; a job sends it
    after commit.

    `files` holds (filename, content type or None, bytes) for each attachment.
    """
    attachments = _attachments(files)
    rendered, values, contact, company, deal, lead, template, identity = _prepare(actor, data)
    from_header, envelope_from, reply_to = sender_addresses(actor, identity)
    message_id = _message_id(envelope_from)
    activity = activity_create(actor=actor, data={
        "kind": "email", "direction": "outbound", "subject": rendered.subject[:200],
        "body": rendered.text, "contact_id": contact.pk if contact else None,
        "company_id": company.pk if company else None, "deal_id": deal.pk if deal else None,
        "lead_id": lead.pk if lead else None,
        "email_from": envelope_from, "email_to": values["to"] + values.get("cc", []),
    })
    Activity.objects.filter(pk=activity.pk).update(email_message_id=message_id,
                                                   email_status=EmailStatus.QUEUED)
    email = OutboundEmail.objects.create(
        sender=actor, activity=activity, template=template, from_header=from_header,
        envelope_from=envelope_from, reply_to=reply_to, to=values["to"], cc=values.get("cc", []),
        subject=rendered.subject, text_body=rendered.text, html_body=rendered.html,
        message_id=message_id,
    )
    for filename, content_type, content in attachments:
        OutboundAttachment.objects.create(email=email, file=ContentFile(content, name=filename),
                                          filename=filename, content_type=content_type,
                                          size=len(content))
    record_event(type="email.queued", object_type="email", object_id=email.pk, actor=actor,
                 data=_event_data(email))
    _send_after_commit([email.pk])
    return email


@transaction.atomic
def send_test_to_self(*, actor) -> OutboundEmail:
    """A short message to the user, through the same job and transport as any other."""
    identity = identity_for(actor)
    from_header, envelope_from, reply_to = sender_addresses(actor, identity)
    rendered = render_parts(
        subject="Rapport test message",
        body="This is a test message from Rapport. If you can read it, email is set up.\n\n"
             f"Sent through {transport.configured().describe()}.",
        context={}, signature=identity.signature)
    email = OutboundEmail.objects.create(
        sender=actor, from_header=from_header, envelope_from=envelope_from, reply_to=reply_to,
        to=[actor.email], subject=rendered.subject, text_body=rendered.text,
        html_body=rendered.html, message_id=_message_id(envelope_from))
    record_event(type="email.queued", object_type="email", object_id=email.pk, actor=actor,
                 data={**_event_data(email), "test": True})
    _send_after_commit([email.pk])
    return email


def notification_send(*, sender, to: str, subject: str, body: str,
                      key: str) -> OutboundEmail | None:
    """A message from `sender` to a colleague (Markdown written by Rapport, no merge fields),
    on no timeline. `key`, unique for what it is about, makes its Message-ID, so the same key
    never queues a second message: None when it was queued before."""
    identity = identity_for(sender)
    from_header, envelope_from, reply_to = sender_addresses(sender, identity)
    domain = envelope_from.rpartition("@")[2] or settings.RAPPORT_ICS_DOMAIN
    message_id = f"<rapport.{key}@{domain}>"
    if OutboundEmail.objects.filter(message_id=message_id).exists():
        return None
    rendered = render_notification(subject=subject, body=body)
    email = OutboundEmail.objects.create(
        sender=sender, from_header=from_header, envelope_from=envelope_from, reply_to=reply_to,
        to=[to], subject=rendered.subject, text_body=rendered.text, html_body=rendered.html,
        message_id=message_id)
    record_event(type="email.queued", object_type="email", object_id=email.pk, actor=sender,
                 data={**_event_data(email), "notification": key})
    _send_after_commit([email.pk])
    return email


@transaction.atomic
def email_resend(*, actor, email_id: int) -> OutboundEmail:
    """Queue a failed message again, by hand: the person has checked it did not arrive."""
    email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
    if email is None:
        raise NotFound()
    if email.sender_id != actor.pk and not is_admin(actor):
        raise PermissionDenied("Only the sender or an admin may send this message again.")
    if email.status != EmailStatus.FAILED:
        raise ValidationFailed("Only a failed message can be sent again.",
                               fields={"status": [f"The message is {email.status}."]})
    email.status, email.attempts, email.last_error = EmailStatus.QUEUED, 0, ""
    email.next_attempt_at = timezone.now()
    email.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    _set_activity_status([email], EmailStatus.QUEUED)
    record_event(type="email.queued", object_type="email", object_id=email.pk, actor=actor,
                 data={**_event_data(email), "resent": True})
    _send_after_commit([email.pk])
    return email


def _send_after_commit(email_ids: list[int]) -> None:
    def enqueue():
        from rapport.mail.tasks import send_emails

        send_emails(email_ids)
    transaction.on_commit(enqueue)


def _event_data(email: OutboundEmail) -> dict:
    return {"message_id": email.message_id, "to": email.to, "subject": email.subject,
            "activity_id": email.activity_id}


# Sending ------------------------------------------------------------------------------

def deliver(email_ids: list[int]) -> dict[str, int]:
    """Send the due, queued messages among `email_ids`; counts of sent, retrying and failed.

    The claim (one UPDATE to `sending` with a token) is what makes a message go out once:
    a second worker, a retried job or the sweep finds nothing left to claim. Outcomes are
    written every FLUSH_EVERY messages, which also renews the claim's lease, so a worker
    that dies leaves few messages in doubt and a slow one is never taken for dead.
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = OutboundEmail.objects.filter(
        pk__in=email_ids, status=EmailStatus.QUEUED, next_attempt_at__lte=now,
    ).update(status=EmailStatus.SENDING, claim=token, next_attempt_at=now + LEASE,
             attempts=F("attempts") + 1)
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    if not claimed:
        return counts
    outcomes = Outcomes()
    unavailable = ""  # once the server cannot be reached, the rest of the batch waits too
    handed = None     # (email, its transport.Pending): sent, the server's verdict not read yet
    for email in (OutboundEmail.objects.filter(claim=token).order_by("id")
                  .prefetch_related("attachments")):
        built, problem = None, None
        if not unavailable:
            try:
                # Built while the server is still taking the previous message.
                message = building.build(email, email.attachments.all())
                built = (message, building.as_bytes(message, email.envelope_from)
                         if transport.configured().is_smtp else None)
            except Exception as exc:
                # Whatever breaks a build (a file gone, a bad DKIM key) fails this message
                # alone, and the previous one's verdict is still read and written.
                problem = exc
        if handed is not None:
            unavailable = _read_verdict(*handed, outcomes) or unavailable
            handed = None
        if unavailable:
            email.last_error = unavailable
            outcomes.add(email, retry=email.attempts < MAX_ATTEMPTS)
        elif problem is not None:
            email.last_error = str(problem)[:500]
            outcomes.add(email)
        else:
            try:
                handed = (email, transport.send_later(*built))
            except (transport.TemporaryFailure, transport.PermanentFailure, OSError,
                    ValueError) as exc:
                unavailable = _note_failure(email, exc, outcomes)
        if outcomes.size >= FLUSH_EVERY:
            outcomes.flush(token, counts)
    if handed is not None:
        _read_verdict(*handed, outcomes)
    outcomes.flush(token, counts)
    return counts


def _read_verdict(email, pending, outcomes: "Outcomes") -> str:
    """Note what the server made of `email`; why it is unavailable, if it is."""
    try:
        email.last_error = _refused_note(pending.verdict())
    except (transport.TemporaryFailure, transport.PermanentFailure, OSError, ValueError) as exc:
        return _note_failure(email, exc, outcomes)
    outcomes.add(email, sent=True)
    return ""


def _note_failure(email, exc: Exception, outcomes: "Outcomes") -> str:
    """Temporary failures are retried, the rest are final; returns the reason when the
    server cannot be reached at all."""
    email.last_error = str(exc)[:500]
    if isinstance(exc, transport.TemporaryFailure):
        outcomes.add(email, retry=email.attempts < MAX_ATTEMPTS)
        return email.last_error if isinstance(exc, transport.ServerUnavailable) else ""
    outcomes.add(email)
    return ""


class Outcomes:
    """Results waiting to be written: sent, to retry, failed."""

    def __init__(self):
        self.sent, self.retrying, self.failed = [], [], []
        self.renewed = time.monotonic()  # the claim set the first lease

    @property
    def size(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)

    def add(self, email, *, sent: bool = False, retry: bool = False) -> None:
        (self.sent if sent else self.retrying if retry else self.failed).append(email)

    def flush(self, token: str, counts: dict) -> None:
        """Write the outcomes, and renew the lease on the rest once a minute, in one write
        transaction (on SQLite each is a turn at the write lock; on PostgreSQL, round trips)."""
        with transaction.atomic():
            _record_outcomes(self.sent, self.retrying, self.failed, token=token)
            if time.monotonic() - self.renewed > RENEW_EVERY_SECONDS:
                OutboundEmail.objects.filter(claim=token, status=EmailStatus.SENDING).update(
                    next_attempt_at=timezone.now() + LEASE)
                self.renewed = time.monotonic()
        counts["sent"] += len(self.sent)
        counts["retrying"] += len(self.retrying)
        counts["failed"] += len(self.failed)
        self.sent, self.retrying, self.failed = [], [], []


def _refused_note(refused: dict) -> str:
    if not refused:
        return ""
    return ("Not delivered to " + "; ".join(f"{address} ({code} {reply})"
                                            for address, (code, reply) in refused.items()))[:500]


def _record_outcomes(sent, retrying, failed, *, token: str) -> None:
    """Write what happened. A sent message is recorded as sent whatever else happened to it
    meanwhile (that is the truth); a retry or a failure only while this claim still holds it,
    so it never undoes a "Send again" or the sweep's verdict."""
    now = timezone.now()
    mine = OutboundEmail.objects.filter(claim=token, status=EmailStatus.SENDING)
    clean = [e.pk for e in sent if not e.last_error]
    if clean:
        OutboundEmail.objects.filter(pk__in=clean).update(
            status=EmailStatus.SENT, sent_at=now, claim="", last_error="")
    for email in sent:
        if email.last_error:
            OutboundEmail.objects.filter(pk=email.pk).update(
                status=EmailStatus.SENT, sent_at=now, claim="", last_error=email.last_error)
    _set_activity_status(sent, EmailStatus.SENT)
    for email in retrying:
        mine.filter(pk=email.pk).update(
            status=EmailStatus.QUEUED, claim="", last_error=email.last_error,
            next_attempt_at=now + retry_delay(email.attempts))
    failed = [email for email in failed if mine.filter(pk=email.pk).update(
        status=EmailStatus.FAILED, claim="", last_error=email.last_error)]
    _set_activity_status(failed, EmailStatus.FAILED)
    record_events(
        [{"type": "email.sent", "object_type": "email", "object_id": email.pk,
          "data": _event_data(email)} for email in sent]
        + [{"type": "email.failed", "object_type": "email", "object_id": email.pk,
            "data": {**_event_data(email), "error": email.last_error}} for email in failed])


def _set_activity_status(emails, status: str) -> None:
    ids = [e.activity_id for e in emails if e.activity_id]
    if ids:
        Activity.objects.filter(pk__in=ids).update(email_status=status)


def interrupted() -> int:
    """Messages whose worker stopped mid-send: failed, never resent (they may have arrived)."""
    stale = list(OutboundEmail.objects.filter(status=EmailStatus.SENDING,
                                              next_attempt_at__lte=timezone.now()))
    by_claim = {}
    for email in stale:
        email.last_error = ("The worker stopped while sending this message. It may have "
                            "arrived, so it was not sent again; use Send again if it did not.")
        by_claim.setdefault(email.claim, []).append(email)
    for token, emails in by_claim.items():
        with transaction.atomic():
            _record_outcomes([], [], emails, token=token)
    return len(stale)


def due_email_ids(limit: int = 1000) -> list[int]:
    return list(OutboundEmail.objects.filter(status=EmailStatus.QUEUED,
                                             next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at").values_list("id", flat=True)[:limit])
