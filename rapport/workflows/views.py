"""Automation: the rules list, the rule builder, a rule's page with its dry run and run log."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.core.errors import NotFound, RapportError
from rapport.core.permissions import is_admin
from rapport.web.ui import apply_errors
from rapport.workflows import conditions, describe, selectors, services
from rapport.workflows.forms import (
    ActionFormSet,
    ConditionFormSet,
    RuleForm,
    action_choices,
    initial_from,
    to_rule_data,
)


def _page(request, template, context):
    context["is_admin"] = is_admin(request.user)
    return render(request, template, context)


def _summaries(rule) -> dict:
    return {"trigger": describe.trigger(rule), "conditions": describe.conditions(rule),
            "actions": [describe.action(a) for a in rule.actions]}


def rule_list(request):
    rules = list(selectors.rule_list()) if is_admin(request.user) else []
    for rule in rules:
        rule.summary = _summaries(rule)
    return _page(request, "workflows/rules.html", {"rules": rules})


def _rule_or_404(request, rule_id):
    rule = selectors.rule_get(rule_id=rule_id) if is_admin(request.user) else None
    if rule is None:
        raise Http404("No such rule.")
    return rule


def rule_form(request, rule_id: int | None = None):
    rule = _rule_or_404(request, rule_id) if rule_id else None
    if not is_admin(request.user):
        raise Http404()
    initial, condition_rows, action_rows = initial_from(rule) if rule else ({}, [], [])
    form = RuleForm(request.POST or None, initial=initial)
    conditions = ConditionFormSet(request.POST or None, prefix="c", initial=condition_rows)
    actions = ActionFormSet(request.POST or None, prefix="a", initial=action_rows,
                            form_kwargs={"choices": action_choices()})
    if request.method == "POST" and form.is_valid() and conditions.is_valid() and actions.is_valid():
        data = to_rule_data(form, conditions, actions)
        try:
            if rule:
                rule = services.rule_update(actor=request.user, rule_id=rule.pk, data=data)
            else:
                rule = services.rule_create(actor=request.user, data=data)
            messages.success(request, "Rule saved." + ("" if rule.is_active else
                             " It is switched off: try it on a record below, then switch it on."))
            return redirect("automation:detail", rule.pk)
        except RapportError as exc:
            apply_errors(form, exc)
    return _page(request, "workflows/rule_form.html", {
        "form": form, "conditions": conditions, "actions": actions, "rule": rule})


def rule_detail(request, rule_id: int, test_run=None):
    rule = _rule_or_404(request, rule_id)
    model = conditions.MODELS[rule.object_type]
    return _page(request, "workflows/rule_detail.html", {
        "rule": rule, "summary": _summaries(rule), "runs": selectors.run_log(rule=rule),
        "test_run": test_run, "records": list(model.objects.order_by("-updated_at")[:50]),
    })


@require_POST
def rule_test(request, rule_id: int):
    rule = _rule_or_404(request, rule_id)
    try:
        run = services.rule_test(actor=request.user, rule_id=rule.pk,
                                 object_id=request.POST.get("object_id"))
    except RapportError as exc:
        messages.error(request, str(exc))
        return redirect("automation:detail", rule.pk)
    return rule_detail(request, rule.pk, test_run=run)


@require_POST
def rule_toggle(request, rule_id: int):
    rule = _rule_or_404(request, rule_id)
    try:
        services.rule_update(actor=request.user, rule_id=rule.pk,
                             data={"is_active": not rule.is_active})
        messages.success(request, f"Rule {'switched off' if rule.is_active else 'switched on'}.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect("automation:detail", rule.pk)


@require_POST
def rule_delete(request, rule_id: int):
    try:
        services.rule_delete(actor=request.user, rule_id=_rule_or_404(request, rule_id).pk)
    except NotFound:
        raise Http404() from None
    messages.success(request, "Rule deleted, with its run log.")
    return redirect("automation:list")
