from django.db import models
from django.db.models import Q
from django.utils import timezone

from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.core.models import CRMModel

LIVE = Q(deleted_at__isnull=True)


class Address(models.Model):
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")

    class Meta:
        abstract = True


class Company(CRMModel, Address):
    object_type = "company"

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True)
    website = models.URLField(max_length=500, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=16, choices=CompanySize.choices, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    description = models.TextField(blank=True)
    linkedin_url = models.URLField(max_length=500, blank=True)
    twitter_url = models.URLField(max_length=500, blank=True)
    # The record's id in the system it was imported from: imports match on it.
    external_id = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        verbose_name_plural = "companies"
        indexes = [
            models.Index(fields=["name", "id"], name="company_name", condition=LIVE),
            models.Index(fields=["created_at", "id"], name="company_created", condition=LIVE),
            models.Index(fields=["updated_at", "id"], name="company_updated", condition=LIVE),
            models.Index(fields=["domain"], name="company_domain"),
            models.Index(fields=["owner", "name", "id"], name="company_owner", condition=LIVE),
            models.Index(fields=["industry"], name="company_industry"),
            models.Index(fields=["external_id"], name="company_external_id"),
        ]

    def __str__(self):
        return self.name

    def search_text(self):
        return [self.name, self.domain, self.industry, self.city]


class Contact(CRMModel, Address):
    object_type = "contact"

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    emails = models.JSONField(default=list, blank=True, help_text="Further addresses")
    phone = models.CharField(max_length=20, blank=True)
    phones = models.JSONField(default=list, blank=True, help_text="Further numbers, E.164")
    title = models.CharField(max_length=150, blank=True)
    lifecycle_stage = models.CharField(max_length=24, choices=LifecycleStage.choices,
                                       default=LifecycleStage.LEAD)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="contacts")
    linkedin_url = models.URLField(max_length=500, blank=True)
    twitter_url = models.URLField(max_length=500, blank=True)
    website = models.URLField(max_length=500, blank=True)
    external_id = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(fields=["last_name", "id"], name="contact_name",
                         condition=LIVE),
            models.Index(fields=["first_name", "id"], name="contact_first_name", condition=LIVE),
            models.Index(fields=["created_at", "id"], name="contact_created", condition=LIVE),
            models.Index(fields=["updated_at", "id"], name="contact_updated", condition=LIVE),
            models.Index(fields=["email"], name="contact_email"),
            models.Index(fields=["phone"], name="contact_phone"),
            # The common filters (a seller's own records, a stage) with the default sort.
            models.Index(fields=["owner", "created_at", "id"], name="contact_owner", condition=LIVE),
            models.Index(fields=["lifecycle_stage", "created_at", "id"], name="contact_stage",
                         condition=LIVE),
            models.Index(fields=["company", "last_name"], name="contact_company"),
            models.Index(fields=["country"], name="contact_country"),
            models.Index(fields=["external_id"], name="contact_external_id"),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email or \
            f"Contact #{self.pk}"

    @property
    def all_emails(self) -> list[str]:
        return [e for e in [self.email, *self.emails] if e]

    def search_text(self):
        return [self.first_name, self.last_name, *self.all_emails, self.phone, self.title,
                self.city]


class MergeRecord(models.Model):
    """One merge: what the surviving record was before, and which related rows moved to it,
    so the merge can be undone."""

    object_type = models.CharField(max_length=16)
    survivor_id = models.BigIntegerField()
    merged_id = models.BigIntegerField()
    survivor_before = models.JSONField(default=dict)
    survivor_version = models.PositiveIntegerField(default=1, help_text="Right after the merge")
    # "app_label.Model.field" -> ids of the rows that pointed at the merged record
    moved = models.JSONField(default=dict)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "survivor_id"], name="merge_survivor")]

    def __str__(self):
        return f"{self.object_type} #{self.merged_id} merged into #{self.survivor_id}"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", "To review"
    MERGED = "merged", "Merged"
    DISMISSED = "dismissed", "Not a duplicate"


class DuplicatePair(models.Model):
    """Two records a scan found alike, with how alike and why; "not a duplicate" is kept, so a
    later scan never proposes the pair again."""

    object_type = models.CharField(max_length=16)
    first_id = models.BigIntegerField()   # the lower id
    second_id = models.BigIntegerField()
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=9, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    found_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object_type", "first_id", "second_id"],
                                               name="duplicate_pair_once")]
        indexes = [models.Index(fields=["object_type", "status", "-score", "id"], name="duplicate_queue")]

    def __str__(self):
        return f"{self.object_type} #{self.first_id} ~ #{self.second_id} ({self.score})"


class DuplicateScan(models.Model):
    """One run of the duplicate scan: how long it took and what it found."""

    object_type = models.CharField(max_length=16)
    status = models.CharField(max_length=8, default="running")  # running | done | failed
    records = models.PositiveIntegerField(default=0)
    pairs = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
