"""Pipelines, their stages, lost reasons, deals, a deal's contacts and its stage history."""

import datetime
import secrets
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Coalesce, Lower
from django.utils import timezone

from rapport.contacts.choices import CompanySize
from rapport.core.models import CRMModel
from rapport.sales.choices import (
    AssignmentAction,
    AssignmentMatch,
    ContactRole,
    DealStatus,
    ForecastCategory,
    LeadSource,
    LeadStatus,
    StageKind,
)

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
    # Empty: from the stage's kind and probability (rapport.sales.forecasting.default_category).
    # Deals follow it when read (rapport.sales.forecasting.with_category), never by copying:
    # a deal with its own category keeps it when this changes, and the others follow at once.
    forecast_category = models.CharField(max_length=9, choices=ForecastCategory.choices,
                                         blank=True)
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
    # Empty: the stage's category (see rapport.sales.forecasting).
    forecast_category = models.CharField(max_length=9, choices=ForecastCategory.choices,
                                         blank=True)
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


# Leads ------------------------------------------------------------------------------------


class Lead(CRMModel):
    """A person not yet qualified. Worked (new, working), then converted into a contact (with
    a company and, optionally, a deal) or disqualified with a reason."""

    object_type = "lead"

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=150, blank=True)
    website = models.URLField(max_length=500, blank=True)
    source = models.CharField(max_length=16, choices=LeadSource.choices, default=LeadSource.OTHER)
    status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualified_reason = models.CharField(max_length=500, blank=True)
    score = models.IntegerField(default=0)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2")
    company_size = models.CharField(max_length=16, choices=CompanySize.choices, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_contact = models.ForeignKey("contacts.Contact", null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="converted_leads")
    converted_company = models.ForeignKey("contacts.Company", null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="converted_leads")
    converted_deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="converted_leads")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(status=LeadStatus.DISQUALIFIED)
                                   | ~Q(disqualified_reason=""),
                                   name="lead_disqualified_has_reason"),
        ]
        indexes = [
            # Each list filter with the default sort, and each sort on its own.
            models.Index(fields=["created_at", "id"], name="lead_created", condition=LIVE),
            models.Index(fields=["updated_at", "id"], name="lead_updated", condition=LIVE),
            models.Index(fields=["last_name", "id"], name="lead_name", condition=LIVE),
            models.Index(fields=["score", "id"], name="lead_score", condition=LIVE),
            models.Index(fields=["status", "created_at", "id"], name="lead_status", condition=LIVE),
            models.Index(fields=["source", "created_at", "id"], name="lead_source", condition=LIVE),
            models.Index(fields=["owner", "created_at", "id"], name="lead_owner", condition=LIVE),
            models.Index(fields=["country", "created_at", "id"], name="lead_country",
                         condition=LIVE),
            # "Least loaded": open leads per owner.
            models.Index(fields=["owner", "status"], name="lead_owner_status", condition=LIVE),
            models.Index(fields=["email"], name="lead_email"),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email or \
            self.company_name or f"Lead #{self.pk}"

    @property
    def is_converted(self) -> bool:
        return self.converted_at is not None

    def search_text(self):
        return [self.first_name, self.last_name, self.email, self.phone, self.company_name,
                self.title]


class AssignmentRule(models.Model):
    """One lead assignment rule. Rules are tried in `position` order on a new lead that has no
    owner; the first whose conditions hold assigns it, to a user or within a team (round robin,
    or to the member with the fewest open leads)."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=AssignmentMatch.choices,
                             default=AssignmentMatch.ALL)
    # [{"field": "country", "op": "in", "value": ["DE", "AT"]}, ...]; none: every lead.
    conditions = models.JSONField(default=list, blank=True)
    action = models.CharField(max_length=12, choices=AssignmentAction.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    # Round robin: how many leads the rule has handed out; the next goes to member n % size.
    round_robin_position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    object_type = "lead_assignment_rule"

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class LeadSettings(models.Model):
    """One row (id 1): who owns a lead that no assignment rule takes."""

    fallback_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    object_type = "lead_settings"

    class Meta:
        verbose_name_plural = "lead settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="lead_settings_singleton")]

    def __str__(self):
        return "Lead settings"


def new_lead_form_key() -> str:
    """A lead form's public key: 32 random URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


class LeadForm(models.Model):
    """A lead capture form ("web-to-lead"): a public page at /f/<public_key>/ that anyone can
    fill in, each submission a new lead with the form's source and tags, assigned to the
    form's owner or by the assignment rules. Rotating the key retires the old address.

    `fields`: the lead fields it asks for, in order, each `{"field": "email", "required":
    true}`; a lead custom field is `custom_fields.<key>`."""

    name = models.CharField(max_length=100)
    organisation_name = models.CharField(max_length=200, blank=True)
    intro = models.TextField(blank=True)
    fields = models.JSONField(default=list)
    lead_source = models.CharField(max_length=16, choices=LeadSource.choices,
                                   default=LeadSource.WEB_FORM)
    lead_tags = models.JSONField(default=list, blank=True)
    # Empty: the assignment rules choose (as for any lead created without an owner).
    lead_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    thank_you_message = models.TextField(blank=True)
    redirect_url = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    public_key = models.CharField(max_length=64, unique=True, default=new_lead_form_key)
    submission_count = models.PositiveIntegerField(default=0)
    # Posts refused as a bot's (honeypot filled, sent faster than a person types).
    spam_count = models.PositiveIntegerField(default=0)
    last_submitted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    object_type = "lead_form"

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="lead_form_name_unique"),
        ]

    def __str__(self):
        return self.name


# Products, price books and quotes ---------------------------------------------------------


class Product(models.Model):
    """Something a quote sells. Its unit price per currency comes from price books; its tax
    rate is copied onto each quote line it is put on (a later change leaves quotes alone)."""

    name = models.CharField(max_length=200)
    # Optional; unique without regard to case when given.
    sku = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"),
                                   help_text="Percent, 0-100")
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    object_type = "product"

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("sku"), condition=~Q(sku=""), name="product_sku_unique"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0, tax_rate__lte=100),
                                   name="product_tax_rate_range"),
        ]
        indexes = [
            models.Index(fields=["name", "id"], name="product_name"),
            models.Index(fields=["created_at", "id"], name="product_created"),
            models.Index(fields=["updated_at", "id"], name="product_updated"),
        ]

    def __str__(self):
        return self.name

    def search_text(self):
        return [self.name, self.sku]


class PriceBook(models.Model):
    """Unit prices in one currency. The default book of a currency prices a quote in that
    currency unless the quote names another."""

    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    object_type = "price_book"

    class Meta:
        ordering = ["currency", "name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="price_book_name_unique"),
            models.UniqueConstraint(fields=["currency"], condition=Q(is_default=True),
                                    name="price_book_one_default_per_currency"),
        ]

    def __str__(self):
        return f"{self.name} ({self.currency})"


class PriceBookEntry(models.Model):
    """A product's unit price in a price book."""

    price_book = models.ForeignKey(PriceBook, on_delete=models.CASCADE, related_name="entries")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    unit_price = models.DecimalField(max_digits=15, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "price book entries"
        constraints = [
            models.UniqueConstraint(fields=["price_book", "product"], name="price_book_entry_once"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_book_entry_price"),
        ]
        indexes = [models.Index(fields=["product"], name="price_book_entry_product")]

    def __str__(self):
        return f"{self.product_id} at {self.unit_price} in {self.price_book_id}"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    SENT = "sent", "Sent"
    VIEWED = "viewed", "Viewed"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


class Quote(models.Model):
    """A priced offer on a deal, in the deal's currency. Numbered once (Q-2026-0001), edited
    while a draft, approved when its discount or total passes the limits, then sent with a
    signed public link where the customer views, accepts or declines it.

    Seen by whoever can see its deal. The money columns are kept by the service from the
    lines: each line is rounded to cents, and every total is the sum of the rounded lines.
    """

    number = models.CharField(max_length=20, unique=True)
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="quotes")
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    price_book = models.ForeignKey(PriceBook, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="quotes")
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    status = models.CharField(max_length=16, choices=QuoteStatus.choices,
                              default=QuoteStatus.DRAFT)
    valid_until = models.DateField()
    terms = models.TextField(blank=True)
    # Percent off the whole quote, taken after the line discounts and before tax (shared out
    # over the lines in cents; see quote_services.price_lines).
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    subtotal = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    # Every discount: the lines' own and the quote's (quote_discount_amount is the latter).
    discount_total = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    quote_discount_amount = models.DecimalField(max_digits=15, decimal_places=2,
                                                default=Decimal("0.00"))
    tax_total = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    total = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    # The largest effective discount of any line, in percent (its own discount and the quote's
    # together, rounded up): what the approval rule compares.
    max_discount = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    # Accepting the quote marks its deal won.
    win_deal_on_accept = models.BooleanField(default=True)

    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    rejected_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)
    # The approvers' open tasks for this quote, closed once someone decides.
    approval_task_ids = models.JSONField(default=list, blank=True)

    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    sent_to = models.JSONField(default=list, blank=True)
    email = models.ForeignKey("mail.OutboundEmail", null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    # Part of the signed public link; a new key makes every earlier link stop working.
    public_key = models.CharField(max_length=32)
    first_viewed_at = models.DateTimeField(null=True, blank=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_name = models.CharField(max_length=200, blank=True)
    accepted_ip = models.GenericIPAddressField(null=True, blank=True)
    accepted_user_agent = models.CharField(max_length=300, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    declined_ip = models.GenericIPAddressField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    deal_won = models.BooleanField(default=False)

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    object_type = "quote"

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="quote_total_not_negative"),
            models.CheckConstraint(condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="quote_discount_range"),
        ]
        indexes = [
            models.Index(fields=["deal", "-created_at"], name="quote_deal"),
            models.Index(fields=["created_at", "id"], name="quote_created"),
            models.Index(fields=["updated_at", "id"], name="quote_updated"),
            models.Index(fields=["status", "created_at", "id"], name="quote_status"),
            models.Index(fields=["valid_until", "id"], name="quote_valid_until"),
            models.Index(fields=["valid_until"], name="quote_open_expiry",
                         condition=Q(status__in=["sent", "viewed"])),
        ]

    def __str__(self):
        return self.number

    @property
    def is_editable(self) -> bool:
        return self.status == QuoteStatus.DRAFT

    @property
    def is_final(self) -> bool:
        return self.status in (QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED)

    @property
    def is_out(self) -> bool:
        """Sent to the customer (their link works), whatever they did with it since."""
        return self.status in (QuoteStatus.SENT, QuoteStatus.VIEWED, QuoteStatus.ACCEPTED,
                               QuoteStatus.DECLINED, QuoteStatus.EXPIRED)


class QuoteLine(models.Model):
    """One line of a quote: a product (name, SKU and tax rate copied from it) or free text.
    The amounts are rounded to cents here, line by line, the quote's discount included."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="quote_lines")
    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=15, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.00"))
    amount = models.DecimalField(max_digits=15, decimal_places=2)  # quantity × unit price
    discount_amount = models.DecimalField(max_digits=15, decimal_places=2)  # the line's own
    net_amount = models.DecimalField(max_digits=15, decimal_places=2)  # after the line's discount
    # The line's share of the quote's discount, taken off the net before tax.
    quote_discount_amount = models.DecimalField(max_digits=15, decimal_places=2,
                                                default=Decimal("0.00"))
    tax_amount = models.DecimalField(max_digits=15, decimal_places=2)
    total = models.DecimalField(max_digits=15, decimal_places=2)  # net − quote share + tax

    class Meta:
        ordering = ["quote", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quote_line_quantity"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="quote_line_price"),
            models.CheckConstraint(condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="quote_line_discount_range"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0, tax_rate__lte=100),
                                   name="quote_line_tax_range"),
        ]
        indexes = [models.Index(fields=["quote", "position"], name="quote_line_order")]

    def __str__(self):
        return self.name


class QuoteNumber(models.Model):
    """The last quote number handed out in a year: the row is locked while the next is taken,
    so two quotes created at once never share a number."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class QuoteSettings(models.Model):
    """One row (id 1): when a quote needs a manager's approval, and the defaults of new quotes."""

    # A quote with a line discounted more than this (with the quote's discount) needs approval.
    approval_discount_limit = models.DecimalField(max_digits=5, decimal_places=2,
                                                  default=Decimal("20.00"))
    # A quote whose total is over this needs approval (null: no limit). Compared with the
    # total in the quote's own currency.
    approval_total_limit = models.DecimalField(max_digits=15, decimal_places=2, null=True,
                                               blank=True)
    default_valid_days = models.PositiveSmallIntegerField(default=30)
    default_terms = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    object_type = "quote_settings"

    class Meta:
        verbose_name_plural = "quote settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="quote_settings_singleton")]

    def __str__(self):
        return "Quote settings"


# Forecasting -------------------------------------------------------------------------------

class Quota(models.Model):
    """A seller's target for a month, in the company's currency (settings.COMPANY_CURRENCY)."""

    object_type = "quota"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="quotas")
    period_start = models.DateField(help_text="The first day of the month")
    amount = models.DecimalField(max_digits=15, decimal_places=2)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "period_start"], name="quota_once_a_month"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="quota_not_negative"),
        ]
        indexes = [models.Index(fields=["period_start", "user"], name="quota_period")]

    def __str__(self):
        return f"{self.user}: {self.amount} for {self.period_start:%B %Y}"


class ExchangeRate(models.Model):
    """What one unit of `currency` is worth in the company's currency."""

    object_type = "exchange_rate"

    currency = models.CharField(max_length=3, unique=True, help_text="ISO 4217")
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive")]

    def __str__(self):
        return f"1 {self.currency} = {self.rate}"
