"""The shared kernel's tables and the base every business record inherits."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from rapport.core.choices import CustomFieldType, Source


class LiveManager(models.Manager):
    """Records not in the trash; `all_objects` reaches the trash too."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class CRMModel(models.Model):
    """Timestamps, authorship, owner, optimistic version, soft delete, tags, custom fields.

    A business model inherits this and gets the whole kernel; services in
    `rapport.core.records` do the writing so every path records history and events.
    """

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1)
    deleted_at = models.DateTimeField(null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField("core.Tag", blank=True, related_name="+")

    # The name used in events, scopes, custom field definitions and search.
    object_type: str = ""

    objects = LiveManager()
    all_objects = models.Manager()  # noqa: DJ012 - object_type is a constant, not a field

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Tag(models.Model):
    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=64, unique=True)
    color = models.CharField(max_length=7, default="#64748b")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Event(models.Model):
    """The transactional outbox: one row per change, written with the change."""

    type = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.UI)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set once every consumer has taken the event (or it ran out of attempts).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveSmallIntegerField(default=0)
    dispatch_error = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "-created_at"], name="event_object"),
            models.Index(fields=["type", "created_at"], name="event_type_time"),
            models.Index(fields=["created_at", "id"], name="event_time"),
            models.Index(fields=["id"], name="event_undispatched",
                         condition=models.Q(dispatched_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.type} {self.object_type}:{self.object_id}"

    @property
    def changes(self) -> dict:
        return self.data.get("changes", {})


class EventReceipt(models.Model):
    """A consumer's note that it has processed an event, written with the consumer's effect.

    The unique pair is what makes dispatch exactly-once in effect: a replay, a retry or
    a second worker racing for the same event fails to insert it and rolls back.
    """

    consumer = models.CharField(max_length=64)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="receipts")
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "consumer"], name="receipt_once")]
        indexes = [models.Index(fields=["processed_at"], name="receipt_time")]

    def __str__(self):
        return f"{self.consumer} took event {self.event_id}"


class CustomFieldDefinition(models.Model):
    object_type = models.CharField(max_length=32)
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=CustomFieldType.choices)
    options = models.JSONField(default=list, blank=True)
    is_required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["object_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "key"], name="custom_field_key_unique"),
        ]

    def __str__(self):
        return f"{self.object_type}.{self.key}"


class SearchDocument(models.Model):
    """One row per searchable record: its text, lower-cased with accents removed.

    SQLite indexes `body` with an FTS5 table kept in step by triggers; PostgreSQL
    with a full-text GIN index and a trigram index (see migration 0002).
    """

    object_type = models.CharField(max_length=32)
    object_id = models.BigIntegerField()
    body = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["object_type", "object_id"], name="search_doc_unique"),
        ]


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]


class SavedView(models.Model):
    """A named list view: the query string of filters, search and sort."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    object_type = models.CharField(max_length=32)
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "object_type", "name"], name="saved_view_name_unique"
            ),
        ]

    def __str__(self):
        return self.name


class JobStatus(models.TextChoices):
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Waiting to retry"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    REQUEUED = "requeued", "Queued again"


class JobRun(models.Model):
    """One background job as the workers ran it: the log behind Settings → Jobs.

    Huey holds the queue; this row follows a job from the moment a worker starts it, so
    a failure keeps its error and a job whose worker died can be found and run again.
    """

    task_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-started_at"], name="jobrun_status")]

    def __str__(self):
        return f"{self.short_name} ({self.status})"

    @property
    def short_name(self) -> str:
        """`rapport.mail.tasks.send_emails` → `mail: send emails`."""
        module, _, function = self.name.rpartition(".")
        app = module.removeprefix("rapport.").removesuffix(".tasks")
        return f"{app}: {function.replace('_', ' ')}"


class WorkerHeartbeat(models.Model):
    """Each `rapport worker` process writes here every few seconds while it lives."""

    name = models.CharField(max_length=200, unique=True)  # host:pid
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name
