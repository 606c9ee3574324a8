"""Automation rules (a trigger, conditions, actions) and the log of every run."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Rule(models.Model):
    """When `trigger` fires for a record of `object_type` that meets `conditions`, run
    `actions` in order. The three are JSON in the shapes rapport.workflows.spec checks."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    object_type = models.CharField(max_length=16)
    trigger = models.JSONField()
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list)
    # Off until switched on: a new rule is tried on a record first (a dry run).
    is_active = models.BooleanField(default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                              related_name="+")
    # Round-robin assignment remembers whose turn is next, per rule.
    round_robin_position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["object_type"], name="rule_active_type",
                                condition=Q(is_active=True))]

    def __str__(self):
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    RETRYING = "retrying", "Retrying a step"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class RuleRun(models.Model):
    """One firing of a rule on one record: each step's outcome, and where it is now.

    `key` says what fired it (an event, a date, a schedule slot, a dry run); one run per
    rule and key, so a replayed event or a second sweep never runs a rule twice.
    """

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    key = models.CharField(max_length=120)
    object_type = models.CharField(max_length=16)
    object_id = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING)
    dry_run = models.BooleanField(default=False)
    depth = models.PositiveSmallIntegerField(default=0)
    # The rule's actions as they were when the run started: editing the rule later never
    # shifts a waiting run onto a different step.
    actions = models.JSONField(default=list)
    position = models.PositiveSmallIntegerField(default=0)  # the next top-level action
    attempts = models.PositiveSmallIntegerField(default=0)  # of the current step
    # When the run is due (a new run at once, a wait's end, a retry), or while a worker holds
    # it, when its lease runs out.
    resume_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)  # the worker holding it
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "key"], name="rule_run_once")]
        indexes = [
            models.Index(fields=["rule", "-created_at"], name="rule_run_log"),
            models.Index(fields=["resume_at"], name="rule_run_due",
                         condition=Q(status__in=["running", "waiting", "retrying"])),
        ]

    def __str__(self):
        return f"{self.rule_id}:{self.key} ({self.status})"
