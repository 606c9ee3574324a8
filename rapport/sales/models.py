"""Pipelines, their stages, lost reasons, deals, a deal's contacts and its stage history."""

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Coalesce, Lower
from django.utils import timezone

from rapport.core.models import CRMModel
from rapport.sales.choices import ContactRole, DealStatus, StageKind

LIVE = Q(deleted_at__isnull=True)
ACTIVE = Q(archived_at__isnull=True)
# Deals without an expected close date sort after every dated one, on both engines alike:
# the list sorts and pages on this (never null) column instead of the nullable one.
NO_CLOSE_DATE = datetime.date(9999, 12, 31)
CENT = Decimal("0.01")


class Pipeline(models.Model):
    """An ordered set of stages a deal moves through. A pipeline that deals once used is
    archived rather than deleted, so their stage history keeps its meaning."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    object_type = "pipeline"

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                    name="pipeline_one_default"),
            models.UniqueConstraint(Lower("name"), condition=ACTIVE, name="pipeline_name_unique"),
        ]

    def __str__(self):
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    probability = models.PositiveSmallIntegerField(default=0, help_text="Win probability, 0-100 %")
    kind = models.CharField(max_length=4, choices=StageKind.choices, default=StageKind.OPEN)
    rotting_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="An open deal idle this many days here is stale")
    archived_at = models.DateTimeField(null=True, blank=True)

    object_type = "stage"

    class Meta:
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(probability__gte=0, probability__lte=100),
                                   name="stage_probability_range"),
            models.UniqueConstraint("pipeline", Lower("name"), condition=ACTIVE,
                                    name="stage_name_unique"),
        ]
        indexes = [models.Index(fields=["pipeline", "position"], name="stage_order")]

    def __str__(self):
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class LostReason(models.Model):
    """The configurable list a lost deal's reason is picked from."""

    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    object_type = "lost_reason"

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="lost_reason_name_unique")]

    def __str__(self):
        return self.name


class Deal(CRMModel):
    object_type = "deal"

    name = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=15, decimal_places=2, default=0)
    # The amount as a float, for sorting and paging by amount (a list's cursor holds JSON).
    amount_sort = models.GeneratedField(expression=Cast("amount", models.FloatField()),
                                        output_field=models.FloatField(), db_persist=True)
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    # Null: the stage's probability. Won and lost deals count as 100 and 0 whatever it holds.
    probability = models.PositiveSmallIntegerField(null=True, blank=True)
    expected_close_date = models.DateField(null=True, blank=True)
    close_date_sort = models.GeneratedField(
        expression=Coalesce("expected_close_date", models.Value(NO_CLOSE_DATE)),
        output_field=models.DateField(), db_persist=True)
    company = models.ForeignKey("contacts.Company", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="deals")
    status = models.CharField(max_length=4, choices=DealStatus.choices, default=DealStatus.OPEN)
    lost_reason = models.ForeignKey(LostReason, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="deals")
    lost_note = models.TextField(blank=True)
    won_at = models.DateTimeField(null=True, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    next_step = models.CharField(max_length=200, blank=True)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    # The last activity logged on the deal; with stage_entered_at it decides staleness.
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(probability__isnull=True)
                                   | Q(probability__gte=0, probability__lte=100),
                                   name="deal_probability_range"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
        ]
        indexes = [
            # The board: a pipeline's deals by stage, in card order.
            models.Index(fields=["pipeline", "stage", "close_date_sort", "id"], name="deal_board",
                         condition=LIVE),
            models.Index(fields=["stage", "created_at", "id"], name="deal_stage", condition=LIVE),
            models.Index(fields=["owner", "created_at", "id"], name="deal_owner", condition=LIVE),
            models.Index(fields=["status", "close_date_sort", "id"], name="deal_status",
                         condition=LIVE),
            models.Index(fields=["close_date_sort", "id"], name="deal_close_date", condition=LIVE),
            models.Index(fields=["created_at", "id"], name="deal_created", condition=LIVE),
            models.Index(fields=["updated_at", "id"], name="deal_updated", condition=LIVE),
            models.Index(fields=["amount_sort", "id"], name="deal_amount", condition=LIVE),
            models.Index(fields=["name", "id"], name="deal_name", condition=LIVE),
            models.Index(fields=["company"], name="deal_company"),
        ]

    def __str__(self):
        return self.name

    def search_text(self):
        return [self.name]

    @property
    def effective_probability(self) -> int:
        """What the deal is weighted by (reads the stage: select it with the deal)."""
        if self.status == DealStatus.WON:
            return 100
        if self.status == DealStatus.LOST:
            return 0
        return self.probability if self.probability is not None else self.stage.probability

    @property
    def weighted_amount(self):
        return (self.amount * self.effective_probability / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def stale_since(self) -> datetime.datetime:
        """The last stage change or activity, whichever came later."""
        return max(t for t in (self.stage_entered_at, self.last_activity_at) if t is not None)

    def is_stale(self, now: datetime.datetime | None = None) -> bool:
        """An open deal left alone in its stage for longer than the stage's rotting days."""
        days = self.stage.rotting_days
        if self.status != DealStatus.OPEN or not days:
            return False
        return self.stale_since() < (now or timezone.now()) - datetime.timedelta(days=days)


class DealContact(models.Model):
    """A contact on a deal, with their part in it.

    No unique constraint on (deal, contact): merging two contacts moves every row pointing at
    the merged one, and both may be on the same deal. The service never adds a contact twice,
    and reads show each contact once.
    """

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="deal_contacts")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE,
                                related_name="deal_links")
    role = models.CharField(max_length=20, choices=ContactRole.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["deal", "contact"], name="deal_contact"),
                   models.Index(fields=["contact"], name="deal_contact_by_contact")]

    def __str__(self):
        return f"{self.contact_id} on deal {self.deal_id}"


class StageHistory(models.Model):
    """One row per stay of a deal in a stage: time in stage is `left_at - entered_at`."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_history")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="history")
    entered_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "stage history"
        constraints = [
            models.UniqueConstraint(fields=["deal"], condition=Q(left_at__isnull=True),
                                    name="stage_history_one_current"),
        ]
        indexes = [
            models.Index(fields=["deal", "entered_at", "id"], name="stage_history_deal"),
            models.Index(fields=["stage", "entered_at"], name="stage_history_stage"),
        ]

    def __str__(self):
        return f"deal {self.deal_id} in stage {self.stage_id}"

    def seconds(self, now: datetime.datetime | None = None) -> int:
        return int(((self.left_at or now or timezone.now()) - self.entered_at).total_seconds())
