"""Lead pages: the list, a lead's page and form, conversion (with what it will match and
create, shown before confirming), the trash; and Settings → Lead assignment (rules in order,
the fallback owner).

Every write goes through rapport.sales.lead_services; reads through lead_selectors, with the
same filters the API takes.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts import selectors as account_selectors
from rapport.activities.views import timeline_context
from rapport.contacts import selectors as contact_selectors
from rapport.core import selectors as core_selectors
from rapport.core import services as core_services
from rapport.core.customfields import display_values
from rapport.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    RapportError,
    ValidationFailed,
    VersionConflict,
)
from rapport.core.permissions import is_admin
from rapport.sales import lead_selectors as selectors
from rapport.sales import lead_services as services
from rapport.sales import selectors as sales_selectors
from rapport.sales.choices import LeadSource, LeadStatus
from rapport.sales.lead_forms import (
    CONDITION_ROWS,
    FIELD_CHOICES,
    OP_CHOICES,
    AssignmentRuleForm,
    ConvertForm,
    FallbackForm,
    LeadForm,
)
from rapport.web.ui import Column, Filter, apply_errors, list_context, safe_next, split_list

MATCHED_BY = {"domain": "same domain", "name": "same name", "contact": "the contact's company",
              "chosen": "chosen"}


def _owners():
    return list(account_selectors.user_list(active_only=True))


def _errors_text(exc: RapportError) -> str:
    return " ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message


def _custom_filters() -> list[Filter]:
    return [Filter(f"custom__{d.key}", d.label, "select", [(o, o) for o in d.options])
            for d in core_selectors.custom_field_list(object_type="lead")
            if d.type in {"select", "multi_select"}]


# List ---------------------------------------------------------------------------------------

def _lead_page(*, user, params):
    return selectors.lead_list(user=user, params=params, related=("owner",))


def lead_list(request):
    owners = _owners()
    context = list_context(
        request, object_type="lead", selector=_lead_page, spec=selectors.LEAD_LIST,
        columns=[
            Column("Name", sort="last_name"), Column("Company", css="col-optional"),
            Column("Status"), Column("Score", sort="score", css="num"),
            Column("Source", css="col-optional"), Column("Owner", css="col-optional"),
            Column("Tags", css="col-optional"),
            Column("Created", sort="created_at", css="col-optional"),
        ],
        filters=[
            Filter("status", "Status", "select", list(LeadStatus.choices)),
            Filter("source", "Source", "select", list(LeadSource.choices)),
            Filter("owner_id", "Owner", "select", [(u.pk, str(u)) for u in owners]),
            Filter("country", "Country code"),
            Filter("score__gte", "Score from"),
            Filter("score__lte", "Score up to"),
            Filter("created_at__gte", "Created from"),
            Filter("created_at__lte", "Created until"),
            Filter("tag", "Tag"),
            *_custom_filters(),
        ],
        row_template="sales/leads/_row.html", noun="lead", noun_plural="leads",
        create_url=reverse("leads:create"), bulk_url=reverse("leads:bulk"),
        view_save_url=reverse("leads:views"), owners=owners,
    )
    context.update(title="Leads", empty_text="Leads are people not yet qualified: work them, "
                   "then convert the good ones into a contact, a company and a deal.")
    return render(request, "sales/leads/list.html", context)


@require_POST
def lead_bulk(request):
    back = safe_next(request, reverse("leads:list"))
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()]
    action = request.POST.get("action")
    if not ids:
        messages.warning(request, "Select at least one lead first.")
        return redirect(back)
    try:
        if action == "tag":
            count = services.leads_bulk_tag(actor=request.user, ids=ids,
                                            tags=split_list(request.POST.get("tags")))
            messages.success(request, f"Tagged {count} lead{'s' if count != 1 else ''}.")
        elif action == "assign":
            count = services.leads_bulk_assign(actor=request.user, ids=ids,
                                               owner_id=request.POST.get("owner_id"))
            messages.success(request, f"Assigned {count} lead{'s' if count != 1 else ''}.")
        elif action == "delete":
            if request.POST.get("confirm") != "yes":
                return render(request, "sales/leads/confirm_delete.html", {
                    "records": selectors.leads_by_ids(user=request.user, ids=ids), "ids": ids,
                    "next": back, "cancel_url": back})
            count = services.leads_bulk_delete(actor=request.user, ids=ids)
            messages.success(request, f"Moved {count} lead{'s' if count != 1 else ''} to the "
                                      "trash.")
        else:
            messages.error(request, "Choose a bulk action.")
    except RapportError as exc:
        messages.error(request, _errors_text(exc))
    return redirect(back)


@require_POST
def lead_views(request):
    list_url = reverse("leads:list")
    if request.POST.get("delete", "").isdigit():
        core_services.saved_view_delete(user=request.user, view_id=int(request.POST["delete"]))
        messages.success(request, "Saved view deleted.")
        return redirect(list_url)
    query = request.POST.get("query", "")
    try:
        view = core_services.saved_view_save(user=request.user, object_type="lead",
                                             name=request.POST.get("name", ""), query=query)
    except ValidationFailed as exc:
        messages.error(request, _errors_text(exc))
        return redirect(f"{list_url}?{query}")
    messages.success(request, f"Saved view “{view.name}”.")
    return redirect(f"{list_url}?{view.query}")


# A lead's page --------------------------------------------------------------------------------

def _visible_or_404(request, lead_id: int):
    lead = selectors.lead_detail(user=request.user, lead_id=lead_id)
    if lead is None:
        raise Http404("No such lead.")
    return lead


def lead_detail(request, lead_id: int):
    lead = _visible_or_404(request, lead_id)
    definitions = core_selectors.custom_field_list(object_type="lead")
    return render(request, "sales/leads/detail.html", {
        "lead": lead,
        "custom_values": display_values(lead, definitions),
        **timeline_context(request, lead),
    })


def _form_page(request, *, lead=None):
    definitions = list(core_selectors.custom_field_list(object_type="lead"))
    extra = {"owners": _owners(), "definitions": definitions, "editing": lead is not None}
    stale = False
    if request.method == "POST":
        form = LeadForm(request.POST, **extra)
        if form.is_valid():
            try:
                if lead is None:
                    saved = services.lead_create(actor=request.user, data=form.to_data())
                    messages.success(request, f"Lead “{saved}” created"
                                     + (f" and assigned to {saved.owner}." if saved.owner else "."))
                else:
                    saved = services.lead_update(actor=request.user, lead_id=lead.pk,
                                                 data=form.to_data(),
                                                 expected_version=form.cleaned_data.get("version"))
                    messages.success(request, f"Saved “{saved}”.")
                if selectors.lead_get(user=request.user, lead_id=saved.pk) is None:
                    return redirect("leads:list")  # handed to someone outside your scope
                return redirect("leads:detail", saved.pk)
            except VersionConflict:
                stale = True
                form.add_error(None, "Someone else changed this lead while you were editing. "
                                     "Reload the page to see their changes, then edit again.")
            except NotFound:
                raise Http404() from None
            except RapportError as exc:
                apply_errors(form, exc)
    else:
        initial = LeadForm.initial_for(lead) if lead else {}
        form = LeadForm(initial=initial, **extra)
        if lead is not None:
            form.initial.update(form.custom_initial(lead))
    return render(request, "sales/leads/form.html", {
        "form": form, "lead": lead, "stale": stale,
        "cancel_url": reverse("leads:detail", args=[lead.pk]) if lead else reverse("leads:list"),
    })


def lead_create(request):
    return _form_page(request)


def lead_edit(request, lead_id: int):
    lead = selectors.lead_get(user=request.user, lead_id=lead_id)
    if lead is None:
        raise Http404("No such lead.")
    return _form_page(request, lead=lead)


def lead_delete(request, lead_id: int):
    lead = _visible_or_404(request, lead_id)
    if request.method == "POST":
        try:
            services.lead_delete(actor=request.user, lead_id=lead.pk)
        except NotFound:
            raise Http404() from None
        messages.success(request, f"“{lead}” moved to the trash. You can restore it from the "
                                  "leads' trash for 30 days.")
        return redirect("leads:list")
    return render(request, "sales/leads/confirm_delete.html", {
        "single": lead, "records": [lead],
        "cancel_url": reverse("leads:detail", args=[lead.pk])})


def lead_trash(request):
    return render(request, "sales/leads/trash.html", {
        "leads": list(selectors.trash_list(user=request.user))})


@require_POST
def lead_restore(request, lead_id: int):
    try:
        lead = services.lead_restore(actor=request.user, lead_id=lead_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, f"Restored “{lead}”.")
    return redirect("leads:detail", lead.pk)


# Conversion ---------------------------------------------------------------------------------

def lead_convert(request, lead_id: int):
    """GET: what converting will link and create, and the deal form. POST: convert."""
    lead = _visible_or_404(request, lead_id)
    if lead.is_converted:
        messages.info(request, "This lead is converted already.")
        return redirect("leads:detail", lead.pk)
    pipelines = list(sales_selectors.pipeline_list())
    companies = contact_selectors.company_choices(user=request.user)
    chosen = request.POST.get("company_id", "") if request.method == "POST" else ""
    company_id = int(chosen) if chosen.isdigit() else None
    plan = selectors.conversion_plan(user=request.user, lead=lead, company_id=company_id)
    found = f"As found: {plan.company.name}" if plan.company and plan.company_match != "chosen" \
        else f"As found: new company “{plan.new_company_name}”" if plan.new_company_name else ""
    form_options = {"pipelines": pipelines, "companies": companies, "found_company": found}
    if request.method == "POST":
        form = ConvertForm(request.POST, **form_options)
        if form.is_valid():
            try:
                result = services.lead_convert(actor=request.user, lead_id=lead.pk,
                                               expected_version=form.cleaned_data.get("version"),
                                               **form.to_arguments())
                messages.success(request, _converted_text(result))
                return redirect("contacts:detail", result.contact.pk)
            except VersionConflict:
                form.add_error(None, "Someone else changed this lead a moment ago; check it "
                                     "below and convert again.")
            except NotFound:
                raise Http404() from None
            except (Conflict, PermissionDenied, ValidationFailed) as exc:
                apply_errors(form, exc)
    else:
        default = sales_selectors.default_pipeline()
        form = ConvertForm(initial={
            "pipeline_id": default.pk if default else "", "version": lead.version,
            "deal_name": f"{plan.company.name if plan.company else lead.company_name or lead.full_name} deal",
        }, **form_options)
    return render(request, "sales/leads/convert.html", {
        "lead": lead, "plan": plan, "form": form,
        "matched_by": MATCHED_BY.get(plan.company_match, ""),
    })


def _converted_text(result) -> str:
    parts = [f"Converted “{result.lead}”: contact “{result.contact}” "
             f"{'created' if result.contact_created else 'linked'}"]
    if result.company is not None:
        parts.append(f"company “{result.company}” "
                     f"{'created' if result.company_created else 'linked'}")
    if result.deal is not None:
        parts.append(f"deal “{result.deal}” created")
    if result.activities_moved:
        parts.append(f"{result.activities_moved} activit{'ies' if result.activities_moved != 1 else 'y'} "
                     "moved to the contact")
    return ", ".join(parts) + "."


# Settings → Lead assignment ---------------------------------------------------------------

def _settings_render(request, template, context):
    context.update(settings_section="lead_assignment", is_admin=is_admin(request.user))
    return render(request, template, context)


def assignment_settings(request):
    """The rules in order, each with its arrows, and the fallback owner."""
    users = _owners()
    lead_settings = selectors.lead_settings()
    fallback_form = FallbackForm(request.POST or None, users=users, initial={
        "fallback_owner_id": lead_settings.fallback_owner_id or ""})
    if request.method == "POST" and fallback_form.is_valid():
        try:
            services.lead_settings_update(actor=request.user, data={
                "fallback_owner_id": fallback_form.cleaned_data["fallback_owner_id"] or None})
            messages.success(request, "Fallback owner saved.")
            return redirect("lead_assignment:list")
        except PermissionDenied as exc:
            messages.error(request, exc.message)
            return redirect("lead_assignment:list")
        except RapportError as exc:
            apply_errors(fallback_form, exc)
    rules = list(selectors.assignment_rule_list())
    _describe(rules)
    return _settings_render(request, "sales/leads/assignment.html", {
        "rules": rules, "fallback_form": fallback_form,
        "lead_settings": lead_settings,
    })


def _describe(rules) -> None:
    """Give each rule `.lines`: its conditions as (field label, comparison, value) to show."""
    fields = dict(FIELD_CHOICES) | {f"custom_fields.{d.key}": d.label for d in
                                    core_selectors.custom_field_list(object_type="lead")}
    ops = dict(OP_CHOICES)
    for rule in rules:
        rule.lines = [(fields.get(c["field"], c["field"]), ops.get(c["op"], c["op"]),
                       ", ".join(str(v) for v in c["value"]) if isinstance(c.get("value"), list)
                       else "" if c.get("value") is None else str(c["value"]))
                      for c in rule.conditions]


def _rule_errors(form: AssignmentRuleForm, exc: RapportError, used_rows: list[int]) -> None:
    """The service names conditions by their place among those sent (`conditions[0].op`);
    the form by its row (`c2_op`)."""
    other = {}
    for key, texts in exc.fields.items():
        if key.startswith("conditions["):
            index, _, part = key.removeprefix("conditions[").partition("]")
            row = used_rows[int(index)] if index.isdigit() and int(index) < len(used_rows) else None
            name = f"c{row}_{part.lstrip('.') or 'field'}" if row is not None else None
            for text in texts:
                if name in form.fields:
                    form.add_error(name, text)
                else:
                    form.add_error(None, f"Condition: {text}")
        else:
            other[key] = texts
    if other or not exc.fields:
        apply_errors(form, type(exc)(exc.message, fields=other))


def _rule_form_page(request, rule=None):
    options = {"users": _owners(), "teams": list(account_selectors.team_list()),
               "definitions": list(core_selectors.custom_field_list(object_type="lead")),
               "rows": max(CONDITION_ROWS, len(rule.conditions) + 2) if rule else CONDITION_ROWS}
    if request.method == "POST":
        form = AssignmentRuleForm(request.POST, **options)
        if form.is_valid():
            data = form.to_data()
            used = [i for i in range(form.rows) if form.cleaned_data.get(f"c{i}_field")]
            try:
                if rule is None:
                    saved = services.assignment_rule_create(actor=request.user, data=data)
                    messages.success(request, f"Rule “{saved}” added.")
                else:
                    saved = services.assignment_rule_update(
                        actor=request.user, rule_id=rule.pk, data=data,
                        expected_version=form.cleaned_data.get("version"))
                    messages.success(request, f"Rule “{saved}” saved.")
                return redirect("lead_assignment:list")
            except NotFound:
                raise Http404() from None
            except PermissionDenied as exc:
                messages.error(request, exc.message)
                return redirect("lead_assignment:list")
            except VersionConflict:
                form.add_error(None, "Someone else changed this rule while you were editing. "
                                     "Reload the page to see their changes.")
            except RapportError as exc:
                _rule_errors(form, exc, used)
    else:
        form = AssignmentRuleForm(initial=AssignmentRuleForm.initial_for(rule) if rule else {},
                                  **options)
    return _settings_render(request, "sales/leads/rule_form.html", {"form": form, "rule": rule})


def rule_create(request):
    return _rule_form_page(request)


def _rule_or_404(rule_id: int):
    rule = selectors.assignment_rule_get(rule_id=rule_id)
    if rule is None:
        raise Http404("No such rule.")
    return rule


def rule_edit(request, rule_id: int):
    return _rule_form_page(request, _rule_or_404(rule_id))


def rule_delete(request, rule_id: int):
    rule = _rule_or_404(rule_id)
    if request.method == "POST":
        try:
            services.assignment_rule_delete(actor=request.user, rule_id=rule.pk)
            messages.success(request, f"Rule “{rule}” deleted.")
        except PermissionDenied as exc:
            messages.error(request, exc.message)
        return redirect("lead_assignment:list")
    return _settings_render(request, "sales/leads/rule_delete.html", {"rule": rule})


@require_POST
def rule_move(request, rule_id: int):
    """The up and down arrows."""
    offset = -1 if request.POST.get("direction") == "up" else 1
    try:
        services.assignment_rule_move(actor=request.user, rule_id=rule_id, offset=offset)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect("lead_assignment:list")
