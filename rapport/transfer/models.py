"""Imports: the uploaded file and how to read it, the run's progress, what it changed (so it
can be undone), the rows it could not take, and mappings saved for the next file."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Choosing columns"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    UNDOING = "undoing", "Undoing"
    UNDONE = "undone", "Undone"


class OnMatch(models.TextChoices):
    SKIP = "skip", "Skip the row"
    FILL = "fill", "Fill empty fields only"
    OVERWRITE = "overwrite", "Overwrite with the file's values"


class ImportJob(models.Model):
    object_type = models.CharField(max_length=16)
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.DRAFT)
    file = models.FileField(upload_to="imports/%Y/%m/")
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    format = models.CharField(max_length=8)
    encoding = models.CharField(max_length=16, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True, help_text="Header -> target field")
    match_on = models.JSONField(default=list, blank=True)
    on_match = models.CharField(max_length=9, choices=OnMatch.choices, default=OnMatch.SKIP)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    # The checkpoint: the last file row whose outcome is committed. A resumed run starts after it.
    last_row = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    merged_count = models.PositiveIntegerField(default=0, help_text="Rows folded into an earlier row")
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # After the rows: search documents for the records created, through this ImportChange id.
    indexed_count = models.PositiveIntegerField(default=0)
    indexed_through = models.BigIntegerField(default=0)
    # The token of the job run working on this import; a batch commits only while it holds it.
    claim = models.CharField(max_length=32, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    run_started_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undo_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="import_creator")]

    def __str__(self):
        return f"Import of {self.file_name}"

    @property
    def plural(self) -> str:
        return PLURALS.get(self.object_type, self.object_type)


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"


class ImportChange(models.Model):
    """Records an import created or updated: what undo removes or puts back. A created change
    covers a run of consecutive ids, `object_id` through `last_object_id` (a batch's new
    records get consecutive ids, so a million take about a thousand of these rows)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="changes")
    # A contact import also creates the companies its rows name.
    object_type = models.CharField(max_length=16)
    object_id = models.BigIntegerField()
    last_object_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=8, choices=ChangeAction.choices)
    # For an update: the fields it changed, with their values before.
    before = models.JSONField(null=True, blank=True)
    # The record's version right after the import wrote it: undo leaves a record changed since.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "object_type", "object_id"],
                                               name="import_change_once")]

    @property
    def object_ids(self) -> range:
        return range(self.object_id, (self.last_object_id or self.object_id) + 1)


class ImportFailure(models.Model):
    """A row the import could not take, with its values as read, so it can be fixed and sent again."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="failures")
    row_number = models.PositiveIntegerField()
    values = models.JSONField(default=list)
    problems = models.JSONField(default=list, help_text="[{column, value, reason}]")

    class Meta:
        ordering = ["row_number"]
        constraints = [models.UniqueConstraint(fields=["job", "row_number"], name="import_failure_once")]


class SavedMapping(models.Model):
    """Columns to fields, saved under a name to reuse with the next file from the same system."""

    name = models.CharField(max_length=120)
    object_type = models.CharField(max_length=16)
    mapping = models.JSONField(default=dict)
    match_on = models.JSONField(default=list, blank=True)
    on_match = models.CharField(max_length=9, choices=OnMatch.choices, default=OnMatch.SKIP)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["object_type", "name"], name="mapping_name_once")]

    def __str__(self):
        return self.name


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (.xlsx)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"  # the file was deleted after a week (housekeeping)


# Each kind of record an import or export handles, by its plural (`rapport export deals`).
PLURALS = {"contact": "contacts", "company": "companies", "lead": "leads", "deal": "deals"}
# What can be exported: every kind an import takes (its columns are the import's fields, so
# a file goes back in unchanged) and deals.
EXPORTED = tuple(PLURALS)


class ExportJob(models.Model):
    """A list as a file: its filters, search and sort are kept as the query string they came in."""

    object_type = models.CharField(max_length=16)
    format = models.CharField(max_length=4, choices=ExportFormat.choices, default=ExportFormat.CSV)
    query = models.TextField(blank=True, help_text="The list's filters, search and sort")
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="export_creator")]

    def __str__(self):
        return f"Export of {self.plural}"

    @property
    def plural(self) -> str:
        return PLURALS.get(self.object_type, self.object_type)

    @property
    def file_name(self) -> str:
        return f"{self.plural}-{self.created_at:%Y-%m-%d}-{self.pk}.{self.format}"
