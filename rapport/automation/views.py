"""Settings → Webhooks: subscribe a URL, read its delivery log, send a test, switch it off."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rapport.automation import selectors, services
from rapport.automation.forms import WebhookForm
from rapport.core.errors import NotFound, RapportError
from rapport.core.permissions import is_admin
from rapport.web.ui import apply_errors


def _render(request, template, context):
    context.update(settings_section="webhooks", is_admin=is_admin(request.user))
    return render(request, template, context)


def webhooks(request):
    form = WebhookForm(request.POST or None)
    new_secret = new_webhook = None
    if request.method == "POST" and form.is_valid():
        try:
            new_webhook, new_secret = services.webhook_create(actor=request.user, data=form.cleaned_data)
            form = WebhookForm()
        except RapportError as exc:
            apply_errors(form, exc)
    return _render(request, "automation/webhooks.html", {
        "form": form, "new_secret": new_secret, "new_webhook": new_webhook,
        "webhooks": list(selectors.webhook_list(user=request.user)),
    })


def _webhook_or_404(request, webhook_id):
    webhook = selectors.webhook_get(user=request.user, webhook_id=webhook_id)
    if webhook is None:
        raise Http404("No such webhook.")
    return webhook


def webhook_detail(request, webhook_id: int):
    webhook = _webhook_or_404(request, webhook_id)
    return _render(request, "automation/webhook_detail.html", {
        "webhook": webhook, "deliveries": list(selectors.delivery_log(webhook=webhook)),
    })


@require_POST
def webhook_test(request, webhook_id: int):
    webhook = _webhook_or_404(request, webhook_id)
    services.send_test(actor=request.user, webhook_id=webhook.pk)
    messages.success(request, "Test event queued. Its delivery appears below within seconds; "
                              "reload to see the receiver's answer.")
    return redirect("webhooks:detail", webhook.pk)


@require_POST
def webhook_toggle(request, webhook_id: int):
    webhook = _webhook_or_404(request, webhook_id)
    services.webhook_update(actor=request.user, webhook_id=webhook.pk,
                            data={"is_active": not webhook.is_active})
    messages.success(request, f"Webhook {'switched off' if webhook.is_active else 'switched on'}.")
    return redirect("webhooks:detail", webhook.pk)


@require_POST
def webhook_delete(request, webhook_id: int):
    try:
        services.webhook_delete(actor=request.user, webhook_id=webhook_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, "Webhook deleted. Deliveries not yet sent are cancelled.")
    return redirect("webhooks:list")
