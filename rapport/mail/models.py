"""Email templates, each user's sender identity, every message sent from Rapport, and the
mailboxes and messages received."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EmailTemplate(models.Model):
    """A reusable subject and Markdown body with merge fields ({{ contact.first_name }})."""

    name = models.CharField(max_length=120, unique=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SenderIdentity(models.Model):
    """How a user's messages are signed and who their replies go to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="sender_identity")
    display_name = models.CharField(max_length=120, blank=True)
    reply_to = models.CharField(max_length=254, blank=True)
    signature = models.TextField(blank=True, help_text="Markdown")


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboundEmail(models.Model):
    """One message as it will go out, rendered once when queued so a retry sends the same bytes."""

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                               related_name="+")
    activity = models.OneToOneField("activities.Activity", null=True, on_delete=models.SET_NULL,
                                    related_name="outbound_email")
    template = models.ForeignKey(EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    from_header = models.CharField(max_length=400)
    envelope_from = models.CharField(max_length=254)
    reply_to = models.CharField(max_length=254, blank=True)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    html_body = models.TextField()
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=8, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    # The token of the job that claimed the message to send it: set while sending.
    claim = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="outbound_email_due",
                         condition=Q(status__in=["queued", "sending"])),
            models.Index(fields=["sender", "-created_at"], name="outbound_email_sender"),
            models.Index(fields=["claim"], name="outbound_email_claim", condition=~Q(claim="")),
        ]

    def __str__(self):
        return self.subject


class OutboundAttachment(models.Model):
    email = models.ForeignKey(OutboundEmail, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="mail/outbound/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127)
    size = models.PositiveIntegerField()

    def __str__(self):
        return self.filename


# Inbound ------------------------------------------------------------------------------

class MailboxSecurity(models.TextChoices):
    SSL = "ssl", "SSL/TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (this machine only)"


class UnknownSenders(models.TextChoices):
    """What a mailbox does with a message from an address no contact or lead has."""

    IGNORE = "ignore", "Keep the message here, on no timeline"
    CONTACT = "contact", "Create a contact (lifecycle stage lead)"
    LEAD = "lead", "Create a lead (assigned by the lead assignment rules)"


class Mailbox(models.Model):
    """An IMAP folder Rapport reads every two minutes for mail from contacts."""

    name = models.CharField(max_length=120)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=8, choices=MailboxSecurity.choices,
                                default=MailboxSecurity.SSL)
    username = models.CharField(max_length=254)
    # Stored as given, because Rapport has to log in with it on every poll (IMAP has no
    # tokens for this); never shown again in the UI or the API once saved.
    password = models.CharField(max_length=500)
    folder = models.CharField(max_length=200, default="INBOX")
    unknown_senders = models.CharField(max_length=8, choices=UnknownSenders.choices,
                                       default=UnknownSenders.IGNORE)
    is_active = models.BooleanField(default=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Health: the last poll that reached the folder, what went wrong last, how much came in.
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    messages_fetched = models.PositiveIntegerField(default=0)
    messages_failed = models.PositiveIntegerField(default=0)
    # Where reading stopped: the folder's UIDVALIDITY and the highest UID read, so each poll
    # asks only for what is new. A new UIDVALIDITY means the UIDs mean nothing any more.
    uid_validity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    # A message whose storing failed is tried again on the next polls, a few times only.
    failing_uid = models.BigIntegerField(null=True, blank=True)
    failing_attempts = models.PositiveSmallIntegerField(default=0)
    # Set while a poll runs, so two workers (the schedule and a Resync) never read it at once.
    sync_claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def is_syncing(self) -> bool:
        return bool(self.sync_claimed_until and self.sync_claimed_until > timezone.now())


class InboundMessage(models.Model):
    """One received message, stored once however many mailboxes or webhooks bring it."""

    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="messages")
    source = models.CharField(max_length=16, default="imap")  # imap, or the provider's name
    message_id = models.CharField(max_length=255, unique=True)
    message_id_generated = models.BooleanField(default=False)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.JSONField(default=list, blank=True)
    # The timeline entry this answers, and the first one of its conversation, when known.
    replied_to = models.ForeignKey("activities.Activity", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    thread_root = models.ForeignKey("activities.Activity", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    from_name = models.CharField(max_length=200, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text_body = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # its Date header, when usable
    received_at = models.DateTimeField(default=timezone.now)
    size = models.PositiveIntegerField(default=0)
    is_too_large = models.BooleanField(default=False)  # only the headers were downloaded
    imap_uid = models.BigIntegerField(null=True, blank=True)
    activity = models.ForeignKey("activities.Activity", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="inbound_messages")
    # What could not be read, in words (damaged MIME, an unknown charset...).
    problems = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["mailbox", "-received_at", "-id"], name="inbound_mailbox"),
        ]

    def __str__(self):
        return self.subject or self.message_id


class InboundAttachment(models.Model):
    message = models.ForeignKey(InboundMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="mail/inbound/%Y/%m/", max_length=255, blank=True)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127)
    size = models.PositiveIntegerField()
    refused_reason = models.CharField(max_length=200, blank=True)  # why it was not kept

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.filename
