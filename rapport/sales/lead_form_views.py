"""Settings → Lead forms (admins): the forms with their submission counts; a form's settings
with the field picker, its public link and embed code; rotating its key; deleting it.

Writes go through lead_form_services, reads through lead_form_selectors (which refuse anyone
but an admin: a 403 page here).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied as Forbidden
from django.http import Http404
from django.shortcuts import redirect, render

from rapport.accounts import selectors as account_selectors
from rapport.core.errors import NotFound, PermissionDenied, RapportError, VersionConflict
from rapport.sales import lead_form_selectors as selectors
from rapport.sales import lead_form_services as services
from rapport.sales.lead_form_forms import LeadFormSettingsForm
from rapport.sales.quote_services import base_url
from rapport.web.ui import apply_errors


def _render(request, template: str, context: dict):
    context.update(settings_section="lead_forms", is_admin=True)
    return render(request, template, context)


def _admin_only(selector, **kwargs):
    try:
        return selector(**kwargs)
    except PermissionDenied as exc:
        raise Forbidden(exc.message) from None


def _form_or_404(request, form_id: int):
    form = _admin_only(selectors.lead_form_get, user=request.user, form_id=form_id)
    if form is None:
        raise Http404("No such lead form.")
    return form


def lead_form_list(request):
    forms = list(_admin_only(selectors.lead_form_list, user=request.user))
    return _render(request, "sales/lead_forms/list.html", {"lead_forms": forms})


def _edit_page(request, form=None):
    askable = selectors.askable_fields()
    options = {"owners": list(account_selectors.user_list(active_only=True)), "askable": askable}
    if request.method == "POST":
        settings_form = LeadFormSettingsForm(request.POST, **options)
        if settings_form.is_valid():
            try:
                if form is None:
                    saved = services.lead_form_create(actor=request.user,
                                                      data=settings_form.to_data())
                    messages.success(request, f"Lead form “{saved}” created: copy its link or "
                                              "embed code below.")
                else:
                    saved = services.lead_form_update(
                        actor=request.user, form_id=form.pk, data=settings_form.to_data(),
                        expected_version=settings_form.cleaned_data.get("version"))
                    messages.success(request, f"Lead form “{saved}” saved.")
                return redirect("lead_forms:edit", saved.pk)
            except NotFound:
                raise Http404() from None
            except PermissionDenied as exc:
                raise Forbidden(exc.message) from None
            except VersionConflict:
                settings_form.add_error(None, "Someone else changed this form while you were "
                                              "editing. Reload the page to see their changes.")
            except RapportError as exc:
                apply_errors(settings_form, exc)
    else:
        initial = LeadFormSettingsForm.initial_for(form, askable) if form else {
            "ask_email": True, "required_email": True, "ask_first_name": True,
            "ask_last_name": True, "ask_company_name": True}
        settings_form = LeadFormSettingsForm(initial=initial, **options)
    url = services.public_url(form, base_url(request)) if form else ""
    return _render(request, "sales/lead_forms/form.html", {
        "form": settings_form, "lead_form": form, "public_url": url,
        "embed_code": services.embed_code(url, form.name) if form else "",
    })


def lead_form_create(request):
    _admin_only(selectors.lead_form_list, user=request.user)
    return _edit_page(request)


def lead_form_edit(request, form_id: int):
    return _edit_page(request, _form_or_404(request, form_id))


def lead_form_rotate(request, form_id: int):
    """GET: what rotating does, to confirm. POST: rotate."""
    form = _form_or_404(request, form_id)
    if request.method == "POST":
        try:
            services.lead_form_rotate_key(actor=request.user, form_id=form.pk)
        except NotFound:
            raise Http404() from None
        messages.success(request, f"“{form}” has a new link. Replace the old link and embed "
                                  "code wherever you used them: they no longer work.")
        return redirect("lead_forms:edit", form.pk)
    return _render(request, "sales/lead_forms/confirm.html", {"lead_form": form,
                                                              "action": "rotate"})


def lead_form_delete(request, form_id: int):
    form = _form_or_404(request, form_id)
    if request.method == "POST":
        try:
            services.lead_form_delete(actor=request.user, form_id=form.pk)
        except NotFound:
            raise Http404() from None
        messages.success(request, f"Lead form “{form}” deleted; the leads it brought in stay.")
        return redirect("lead_forms:list")
    return _render(request, "sales/lead_forms/confirm.html", {"lead_form": form,
                                                              "action": "delete"})
