"""Reads of rules and their run logs (admins only, like the services)."""

from rapport.workflows.models import Rule, RuleRun


def rule_list():
    return Rule.objects.select_related("owner")


def rule_get(*, rule_id: int) -> Rule | None:
    return Rule.objects.select_related("owner").filter(pk=rule_id).first()


def run_log(*, rule: Rule, limit: int = 50) -> list[RuleRun]:
    return list(rule.runs.order_by("-created_at", "-id")[:limit])
