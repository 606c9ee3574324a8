"""Contacts and companies pages: lists, detail, forms, bulk actions, saved views and trash."""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.accounts import selectors as account_selectors
from rapport.activities.views import timeline_context
from rapport.contacts import selectors, services
from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.contacts.forms import CompanyForm, ContactForm
from rapport.core import selectors as core_selectors
from rapport.core import services as core_services
from rapport.core.customfields import display_values
from rapport.core.errors import Conflict, NotFound, RapportError, ValidationFailed, VersionConflict
from rapport.web.ui import Column, Filter, apply_errors, list_context, safe_next, split_list


@dataclass(frozen=True)
class Kind:
    object_type: str
    ns: str
    noun: str
    noun_plural: str


CONTACT = Kind("contact", "contacts", "contact", "contacts")
COMPANY = Kind("company", "companies", "company", "companies")
KINDS = {"contact": CONTACT, "company": COMPANY}


def _owners():
    return list(account_selectors.user_list(active_only=True))


def _custom_filters(object_type: str) -> list[Filter]:
    """Select-type custom fields become filter selects."""
    return [
        Filter(f"custom__{d.key}", d.label, "select", [(o, o) for o in d.options])
        for d in core_selectors.custom_field_list(object_type=object_type)
        if d.type in {"select", "multi_select"}
    ]


def _list(request, kind: Kind, *, selector, spec, columns, filters, owners, title, empty_text):
    context = list_context(
        request, object_type=kind.object_type, selector=selector, spec=spec, columns=columns,
        filters=filters, row_template=f"contacts/_{kind.object_type}_row.html",
        noun=kind.noun, noun_plural=kind.noun_plural,
        create_url=reverse(f"{kind.ns}:create"), bulk_url=reverse(f"{kind.ns}:bulk"),
        view_save_url=reverse(f"{kind.ns}:views"), owners=owners,
    )
    context.update(title=title, kind=kind, empty_text=empty_text)
    return render(request, "contacts/list.html", context)


def contact_list(request):
    owners = _owners()
    owner_options = [(u.pk, str(u)) for u in owners]
    return _list(
        request, CONTACT, selector=selectors.contact_list, spec=selectors.CONTACT_LIST,
        columns=[
            Column("Name", sort="last_name"), Column("Email", css="col-optional"),
            Column("Company"), Column("Stage"), Column("Owner", css="col-optional"),
            Column("Tags", css="col-optional"), Column("Created", sort="created_at",
                                                       css="col-optional"),
        ],
        filters=[
            Filter("lifecycle_stage", "Stage", "select", list(LifecycleStage.choices)),
            Filter("owner_id", "Owner", "select", owner_options),
            Filter("tag", "Tag"),
            *_custom_filters("contact"),
        ],
        owners=owners, title="Contacts",
        empty_text="Contacts are the people you work with. Add the first one, "
                   "or ask an admin to import a CSV.",
    )


def company_list(request):
    owners = _owners()
    return _list(
        request, COMPANY, selector=selectors.company_list, spec=selectors.COMPANY_LIST,
        columns=[
            Column("Name", sort="name"), Column("Domain", css="col-optional"),
            Column("Industry", css="col-optional"), Column("Size", css="col-optional"),
            Column("Contacts"), Column("Owner", css="col-optional"),
            Column("Tags", css="col-optional"),
            Column("Created", sort="created_at", css="col-optional"),
        ],
        filters=[
            Filter("size", "Size", "select", list(CompanySize.choices)),
            Filter("owner_id", "Owner", "select", [(u.pk, str(u)) for u in owners]),
            Filter("tag", "Tag"),
            *_custom_filters("company"),
        ],
        owners=owners, title="Companies",
        empty_text="Companies group the contacts who work there. Add the first one.",
    )


# Detail ---------------------------------------------------------------------

def contact_detail(request, contact_id: int):
    contact = selectors.contact_page(user=request.user, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    definitions = core_selectors.custom_field_list(object_type="contact")
    context = {
        "contact": contact,
        "custom_values": display_values(contact, definitions),
        **timeline_context(request, contact),
    }
    return render(request, "contacts/contact_detail.html", context)


def company_detail(request, company_id: int):
    company = selectors.company_page(user=request.user, company_id=company_id)
    if company is None:
        raise Http404("No such company.")
    definitions = core_selectors.custom_field_list(object_type="company")
    context = {
        "company": company,
        "custom_values": display_values(company, definitions),
        "company_contacts": list(selectors.company_contacts(user=request.user,
                                                            company=company)[:100]),
        **timeline_context(request, company),
    }
    return render(request, "contacts/company_detail.html", context)


# Create and edit ------------------------------------------------------------

def _form_page(request, kind: Kind, *, record=None):
    is_contact = kind is CONTACT
    definitions = list(core_selectors.custom_field_list(object_type=kind.object_type))
    form_class = ContactForm if is_contact else CompanyForm
    extra = {"owners": _owners(), "definitions": definitions}
    if is_contact:
        include = record.company_id if record else None
        if request.method == "POST" and request.POST.get("company_id", "").isdigit():
            include = int(request.POST["company_id"])
        extra["companies"] = selectors.company_choices(user=request.user, include_id=include)
    initial = {}
    if record is not None:
        initial = form_class.initial_for(record)
    elif request.GET.get("company") and is_contact:
        initial = {"company_id": request.GET["company"], "owner_id": request.user.pk}
    else:
        initial = {"owner_id": request.user.pk}

    duplicate_id = None
    stale = False
    if request.method == "POST":
        form = form_class(request.POST, **extra)
        if form.is_valid():
            data = form.to_data()
            try:
                if record is None:
                    create = services.contact_create if is_contact else services.company_create
                    saved = create(actor=request.user, data=data,
                                   allow_duplicate=request.POST.get("allow_duplicate") == "1")
                    messages.success(request, f"{kind.noun.capitalize()} “{saved}” created.")
                else:
                    update = services.contact_update if is_contact else services.company_update
                    saved = update(actor=request.user, data=data,
                                   expected_version=form.cleaned_data.get("version"),
                                   **{f"{kind.object_type}_id": record.pk})
                    messages.success(request, f"Saved “{saved}”.")
                return redirect(f"{kind.ns}:detail", saved.pk)
            except VersionConflict:
                stale = True
                form.add_error(None, "Someone else changed this record while you were editing. "
                                     "Reload the page to see their changes, then edit again.")
            except Conflict as exc:
                duplicate_id = exc.extra.get("existing_id")
                apply_errors(form, exc)
            except ValidationFailed as exc:
                apply_errors(form, exc)
            except NotFound:
                raise Http404() from None
            except RapportError as exc:
                form.add_error(None, exc.message)
    else:
        form = form_class(initial=initial, **extra)
        if record is not None:
            form.initial.update(form.custom_initial(record))

    return render(request, "contacts/form.html", {
        "form": form, "kind": kind, "record": record, "duplicate_id": duplicate_id,
        "stale": stale,
        "cancel_url": reverse(f"{kind.ns}:detail", args=[record.pk]) if record
        else reverse(f"{kind.ns}:list"),
    })


def contact_create(request):
    return _form_page(request, CONTACT)


def contact_edit(request, contact_id: int):
    contact = selectors.contact_get(user=request.user, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    return _form_page(request, CONTACT, record=contact)


def company_create(request):
    return _form_page(request, COMPANY)


def company_edit(request, company_id: int):
    company = selectors.company_get(user=request.user, company_id=company_id)
    if company is None:
        raise Http404("No such company.")
    return _form_page(request, COMPANY, record=company)


# Delete -----------------------------------------------------------------------

def _delete(request, kind: Kind, record):
    if record is None:
        raise Http404()
    if request.method == "POST":
        try:
            services.record_delete(actor=request.user, object_type=kind.object_type,
                                   record_id=record.pk)
        except NotFound:
            raise Http404() from None
        messages.success(request, f"“{record}” moved to the trash. "
                                  "You can restore it from Settings → Trash for 30 days.")
        return redirect(f"{kind.ns}:list")
    return render(request, "contacts/confirm_delete.html", {
        "kind": kind, "records": [record], "single": record,
        "cancel_url": reverse(f"{kind.ns}:detail", args=[record.pk]),
    })


def contact_delete(request, contact_id: int):
    return _delete(request, CONTACT,
                   selectors.contact_get(user=request.user, contact_id=contact_id))


def company_delete(request, company_id: int):
    return _delete(request, COMPANY,
                   selectors.company_get(user=request.user, company_id=company_id))


# Bulk actions and saved views ---------------------------------------------------

def _bulk(request, kind: Kind):
    list_url = reverse(f"{kind.ns}:list")
    back = safe_next(request, list_url)
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()]
    action = request.POST.get("action")
    if not ids:
        messages.warning(request, f"Select at least one {kind.noun} first.")
        return redirect(back)
    try:
        if action == "tag":
            count = services.records_bulk_tag(actor=request.user, object_type=kind.object_type,
                                              ids=ids, tags=split_list(request.POST.get("tags")))
            messages.success(request, f"Tagged {count} {kind.noun if count == 1 else kind.noun_plural}.")
        elif action == "assign":
            count = services.records_bulk_assign(actor=request.user, object_type=kind.object_type,
                                                 ids=ids, owner_id=request.POST.get("owner_id"))
            messages.success(request, f"Assigned {count} {kind.noun if count == 1 else kind.noun_plural}.")
        elif action == "delete":
            if request.POST.get("confirm") != "yes":
                records = selectors.records_by_ids(user=request.user,
                                                   object_type=kind.object_type, ids=ids)
                return render(request, "contacts/confirm_delete.html", {
                    "kind": kind, "records": records, "ids": ids, "next": back,
                    "cancel_url": back,
                })
            count = services.records_bulk_delete(actor=request.user, object_type=kind.object_type,
                                                 ids=ids)
            messages.success(request, f"Moved {count} {kind.noun if count == 1 else kind.noun_plural} "
                                      "to the trash.")
        else:
            messages.error(request, "Choose a bulk action.")
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs)
                       or exc.message)
    except RapportError as exc:
        messages.error(request, exc.message)
    return redirect(back)


@require_POST
def contact_bulk(request):
    return _bulk(request, CONTACT)


@require_POST
def company_bulk(request):
    return _bulk(request, COMPANY)


def _views(request, kind: Kind):
    list_url = reverse(f"{kind.ns}:list")
    if request.POST.get("delete", "").isdigit():
        core_services.saved_view_delete(user=request.user, view_id=int(request.POST["delete"]))
        messages.success(request, "Saved view deleted.")
        return redirect(list_url)
    query = request.POST.get("query", "")
    try:
        view = core_services.saved_view_save(user=request.user, object_type=kind.object_type,
                                             name=request.POST.get("name", ""), query=query)
    except ValidationFailed as exc:
        messages.error(request, " ".join(m for msgs in exc.fields.values() for m in msgs))
        return redirect(f"{list_url}?{query}")
    messages.success(request, f"Saved view “{view.name}”.")
    return redirect(f"{list_url}?{view.query}")


@require_POST
def contact_views(request):
    return _views(request, CONTACT)


@require_POST
def company_views(request):
    return _views(request, COMPANY)


# Trash ------------------------------------------------------------------------

def trash(request):
    return render(request, "contacts/trash.html", {
        "settings_section": "trash",
        "contacts": list(selectors.trash_list(user=request.user, object_type="contact")),
        "companies": list(selectors.trash_list(user=request.user, object_type="company")),
    })


@require_POST
def restore(request, object_type: str, record_id: int):
    if object_type not in KINDS:
        raise Http404()
    kind = KINDS[object_type]
    try:
        record = services.record_restore(actor=request.user, object_type=object_type,
                                         record_id=record_id)
    except NotFound:
        raise Http404() from None
    messages.success(request, f"Restored “{record}”.")
    return redirect(f"{kind.ns}:detail", record.pk)
