from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from rapport.activities.choices import ActivityKind, CallOutcome, Direction, Priority
from rapport.core.models import CRMModel


class Activity(CRMModel):
    """One row per timeline item: note, call, meeting, logged email or task.

    One table keeps the timeline a single indexed query; the kind decides which
    of the optional columns mean something.
    """

    object_type = "activity"

    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, help_text="Markdown")
    body_html = models.TextField(blank=True, editable=False, help_text="Sanitised rendering")
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="activities")
    company = models.ForeignKey("contacts.Company", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="activities")
    deal = models.ForeignKey("sales.Deal", null=True, blank=True,
                             on_delete=models.CASCADE, related_name="activities")
    # Logged while the person was a lead; converting the lead adds its contact (and company).
    lead = models.ForeignKey("sales.Lead", null=True, blank=True,
                             on_delete=models.CASCADE, related_name="activities")
    occurred_at = models.DateTimeField(default=timezone.now)

    direction = models.CharField(max_length=8, choices=Direction.choices, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices, blank=True)

    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    attendees = models.JSONField(default=list, blank=True)

    email_from = models.CharField(max_length=254, blank=True)
    email_to = models.JSONField(default=list, blank=True)
    email_message_id = models.CharField(max_length=255, blank=True)
    # Where an outbound message is on its way out (queued, sent, failed); set by rapport.mail.
    email_status = models.CharField(max_length=8, blank=True)

    due_date = models.DateField(null=True, blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_activities")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="activity_contact"),
            models.Index(fields=["company", "-occurred_at", "-id"], name="activity_company"),
            models.Index(fields=["deal", "-occurred_at", "-id"], name="activity_deal"),
            models.Index(fields=["lead", "-occurred_at", "-id"], name="activity_lead"),
            models.Index(fields=["occurred_at", "id"], name="activity_time",
                         condition=Q(deleted_at__isnull=True)),
            models.Index(fields=["assignee", "completed_at", "due_date"], name="activity_tasks"),
            models.Index(fields=["owner", "occurred_at"], name="activity_owner"),
            models.Index(fields=["email_message_id"], name="activity_message_id",
                         condition=~Q(email_message_id="")),
        ]

    def __str__(self):
        return self.subject or self.get_kind_display()

    @property
    def is_task(self) -> bool:
        return self.kind == ActivityKind.TASK

    @property
    def is_done(self) -> bool:
        return self.completed_at is not None

    @property
    def is_overdue(self) -> bool:
        return bool(self.is_task and not self.is_done and self.due_date
                    and self.due_date < timezone.localdate())

    def search_text(self):
        return [self.subject]
