"""Email in the UI: compose from a record, Settings → Email (identity, test, log) and templates."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.contacts import selectors as contact_selectors
from rapport.core.errors import NotFound, RapportError
from rapport.core.permissions import is_admin
from rapport.mail import merge, selectors, services, transport
from rapport.mail.forms import ComposeForm, IdentityForm, TemplateForm
from rapport.web.ui import apply_errors, safe_next


def _settings_page(request, template, context, section="email"):
    context.update(settings_section=section, is_admin=is_admin(request.user))
    return render(request, template, context)


def email_settings(request):
    identity = services.identity_for(request.user)
    form = IdentityForm(request.POST or None, initial={
        "display_name": identity.display_name, "reply_to": identity.reply_to,
        "signature": identity.signature})
    if request.method == "POST" and form.is_valid():
        try:
            services.identity_update(actor=request.user, data=form.cleaned_data)
            messages.success(request, "Your sender identity is saved.")
            return redirect("mail:settings")
        except RapportError as exc:
            apply_errors(form, exc)
    from_header, _, reply_to = services.sender_addresses(request.user, identity)
    return _settings_page(request, "mail/settings.html", {
        "form": form, "transport": transport.configured(), "from_header": from_header,
        "reply_to": reply_to, "dkim_domain": _dkim_summary(),
        "sent": selectors.email_list(user=request.user, limit=25),
    })


def _dkim_summary() -> str:
    from django.conf import settings

    if not settings.DKIM_KEY_FILE:
        return ""
    return f"{settings.DKIM_SELECTOR}._domainkey.{settings.DKIM_DOMAIN or '(the From domain)'}"


@require_POST
def send_test(request):
    services.send_test_to_self(actor=request.user)
    messages.success(request, f"Test message queued to {request.user.email}. Its status "
                              "shows under Recent messages.")
    return redirect("mail:settings")


@require_POST
def resend(request, email_id: int):
    if selectors.email_get(user=request.user, email_id=email_id) is None:
        raise Http404()
    try:
        email = services.email_resend(actor=request.user, email_id=email_id)
        messages.success(request, f"“{email.subject}” is queued again.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect(safe_next(request, reverse("mail:settings")))


def templates(request):
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_create(actor=request.user, data=form.cleaned_data)
            messages.success(request, f"Template “{template.name}” created.")
            return redirect("mail:templates")
        except RapportError as exc:
            apply_errors(form, exc)
    return _settings_page(request, "mail/templates.html", {
        "form": form, "templates": list(selectors.template_list()),
        "merge_fields": merge.field_list(), "filters": sorted(merge.FILTERS)}, "email_templates")


def template_edit(request, template_id: int):
    template = selectors.template_get(template_id=template_id)
    if template is None:
        raise Http404("No such template.")
    form = TemplateForm(request.POST or None, initial={
        "name": template.name, "subject": template.subject, "body": template.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.template_update(actor=request.user, template_id=template.pk,
                                     data=form.cleaned_data)
            messages.success(request, "Template saved.")
            return redirect("mail:templates")
        except RapportError as exc:
            apply_errors(form, exc)
    return _settings_page(request, "mail/template_edit.html", {
        "form": form, "template": template, "merge_fields": merge.field_list(),
        "filters": sorted(merge.FILTERS)}, "email_templates")


@require_POST
def template_delete(request, template_id: int):
    try:
        services.template_delete(actor=request.user, template_id=template_id)
    except NotFound:
        raise Http404() from None
    except RapportError as exc:
        messages.error(request, exc.message)
        return redirect("mail:template_edit", template_id)
    messages.success(request, "Template deleted. Messages already sent with it are kept.")
    return redirect("mail:templates")


def _record(request, object_type: str, pk: int):
    if object_type == "contact":
        record = contact_selectors.contact_page(user=request.user, contact_id=pk)
        url = reverse("contacts:detail", args=[pk])
    else:
        record = contact_selectors.company_page(user=request.user, company_id=pk)
        url = reverse("companies:detail", args=[pk])
    if record is None:
        raise Http404()
    return record, url


def compose(request, object_type: str, pk: int):
    """Write (or start from a template), preview with the record's details, then send."""
    record, record_url = _record(request, object_type, pk)
    template_list = list(selectors.template_list())
    initial = {"to": getattr(record, "email", "")}
    chosen = request.GET.get("template")
    if chosen and chosen.isdigit():
        template = selectors.template_get(template_id=int(chosen))
        if template:
            initial.update(template_id=template.pk, subject=template.subject, body=template.body)
    form = ComposeForm(request.POST or None, request.FILES or None, initial=initial,
                       templates=template_list)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = {key: form.cleaned_data[key] for key in ("to", "cc", "subject", "body")}
        data[f"{object_type}_id"] = record.pk
        if form.cleaned_data["template_id"]:
            data["template_id"] = form.cleaned_data["template_id"]
        try:
            if "preview" in request.POST:
                preview = services.preview(actor=request.user, data=data)
            else:
                files = [(f.name, f.content_type, f.read()) for f in form.cleaned_data["attachments"]]
                services.email_send(actor=request.user, data=data, files=files)
                messages.success(request, "Email queued. It shows on the timeline, marked sent "
                                          "once the mail server takes it.")
                return redirect(record_url)
        except RapportError as exc:
            apply_errors(form, exc)
    return render(request, "mail/compose.html", {
        "form": form, "record": record, "record_url": record_url, "object_type": object_type,
        "preview": preview, "templates": template_list, "transport": transport.configured(),
    })
