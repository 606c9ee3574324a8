"""Email in the UI: compose from a record, Settings → Email (identity, test, log), templates
and mailboxes (inbound mail and its health)."""

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.contacts import selectors as contact_selectors
from rapport.core.errors import NotFound, RapportError
from rapport.core.permissions import is_admin
from rapport.mail import inbound, merge, selectors, services, transport
from rapport.mail.forms import ComposeForm, IdentityForm, TemplateForm
from rapport.mail.inbound_forms import MailboxForm
from rapport.sales import lead_selectors
from rapport.sales import selectors as sales_selectors
from rapport.web.ui import apply_errors, record_page, safe_next


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


SECTIONS = {"contact": ("Contacts", "contacts:list"), "company": ("Companies", "companies:list"),
            "deal": ("Deals", "deals:board"), "lead": ("Leads", "leads:list")}


def _record(request, object_type: str, pk: int):
    if object_type == "contact":
        record = contact_selectors.contact_page(user=request.user, contact_id=pk)
    elif object_type == "deal":
        record = sales_selectors.deal_get(user=request.user, deal_id=pk)
    elif object_type == "lead":
        record = lead_selectors.lead_detail(user=request.user, lead_id=pk)
    else:
        record = contact_selectors.company_page(user=request.user, company_id=pk)
    if record is None:
        raise Http404()
    return record, record_page(object_type, pk)


def _default_recipient(request, record) -> str:
    if record.object_type == "deal":
        person = sales_selectors.first_contact(user=request.user, deal=record)
        return person.email if person else ""
    return getattr(record, "email", "")


def compose(request, object_type: str, pk: int):
    """Write (or start from a template), preview with the record's details, then send."""
    record, record_url = _record(request, object_type, pk)
    template_list = list(selectors.template_list())
    initial = {"to": _default_recipient(request, record)}
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
        "section_label": SECTIONS[object_type][0], "section_url": reverse(SECTIONS[object_type][1]),
        "preview": preview, "templates": template_list, "transport": transport.configured(),
    })


# Settings → Mailboxes: inbound email ---------------------------------------------------

def mailboxes(request):
    form = MailboxForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = inbound.mailbox_create(actor=request.user, data=form.data_for_service())
            messages.success(request, f"Mailbox “{mailbox.name}” added. Rapport reads it every two "
                                      "minutes; the first sync has started.")
            return redirect("mailboxes:detail", mailbox.pk)
        except RapportError as exc:
            apply_errors(form, exc)
    webhook_urls = [(label, request.build_absolute_uri(reverse("inbound:webhook", args=[esp])))
                    for esp, label in (("postmark", "Postmark"), ("mailgun", "Mailgun"),
                                       ("sparkpost", "SparkPost"))]
    return _settings_page(request, "mail/mailboxes.html", {
        "form": form, "mailboxes": list(selectors.mailbox_list(user=request.user)),
        "webhook_urls": webhook_urls, "webhook_secret_set": bool(settings.ANYMAIL.get("WEBHOOK_SECRET")),
        "webhook_summary": selectors.webhook_inbound_summary() if is_admin(request.user) else None,
    }, "mailboxes")


def _mailbox_or_404(request, mailbox_id: int):
    mailbox = selectors.mailbox_get(user=request.user, mailbox_id=mailbox_id)
    if mailbox is None:
        raise Http404("No such mailbox.")
    return mailbox


def mailbox_detail(request, mailbox_id: int):
    mailbox = _mailbox_or_404(request, mailbox_id)
    form = MailboxForm(request.POST or None, editing=True, initial={
        "name": mailbox.name, "host": mailbox.host, "security": mailbox.security,
        "port": mailbox.port, "username": mailbox.username, "folder": mailbox.folder,
        "unknown_senders": mailbox.unknown_senders})
    if request.method == "POST" and form.is_valid():
        try:
            inbound.mailbox_update(actor=request.user, mailbox_id=mailbox.pk,
                                   data=form.data_for_service())
            messages.success(request, "Mailbox saved.")
            return redirect("mailboxes:detail", mailbox.pk)
        except RapportError as exc:
            apply_errors(form, exc)
    return _settings_page(request, "mail/mailbox_detail.html", {
        "mailbox": mailbox, "form": form,
        "inbound": selectors.inbound_messages(mailbox=mailbox),
    }, "mailboxes")


@require_POST
def mailbox_sync(request, mailbox_id: int):
    mailbox = _mailbox_or_404(request, mailbox_id)
    from_start = request.POST.get("from_start") == "on"
    try:
        inbound.mailbox_sync(actor=request.user, mailbox_id=mailbox.pk, from_start=from_start)
        messages.success(request, "Sync started: the whole folder is read again, skipping what "
                                  "is stored already." if from_start else
                                  "Sync started. New mail shows below within a minute.")
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect("mailboxes:detail", mailbox.pk)


@require_POST
def mailbox_toggle(request, mailbox_id: int):
    mailbox = _mailbox_or_404(request, mailbox_id)
    inbound.mailbox_update(actor=request.user, mailbox_id=mailbox.pk,
                           data={"is_active": not mailbox.is_active})
    messages.success(request, "Mailbox switched off: it is not read until you switch it on."
                     if mailbox.is_active else "Mailbox switched on; a sync has started.")
    return redirect("mailboxes:detail", mailbox.pk)


@require_POST
def mailbox_delete(request, mailbox_id: int):
    mailbox = _mailbox_or_404(request, mailbox_id)
    try:
        inbound.mailbox_delete(actor=request.user, mailbox_id=mailbox.pk)
    except NotFound:
        raise Http404() from None
    messages.success(request, "Mailbox deleted. The mail it brought in stays on the timeline.")
    return redirect("mailboxes:list")


def inbound_attachment(request, attachment_id: int):
    """A kept attachment of a received message, always downloaded, never shown inline."""
    attachment = selectors.inbound_attachment_get(user=request.user, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such attachment.")
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.filename,
                        content_type=attachment.content_type)
