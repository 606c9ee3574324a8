"""Email templates, each user's sender identity, and every message sent from Rapport."""

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
