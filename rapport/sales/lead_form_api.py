"""Lead capture forms (admins): list, create, read, change, delete, rotate the public key.
The public page itself (/f/<public_key>/) is HTML, not part of the API."""

from django.http import HttpResponse, JsonResponse
from ninja import Router

from rapport.api.responses import expected_version, idempotent, record_response
from rapport.api.schemas import ERRORS
from rapport.core.errors import NotFound
from rapport.sales import lead_form_selectors as selectors
from rapport.sales import lead_form_services as services
from rapport.sales.lead_form_schemas import LeadFormIn, LeadFormOut, LeadFormPage
from rapport.sales.quote_services import base_url

lead_forms = Router(tags=["leads"])

FIELDS_DOC = (
    "`fields`: the lead fields the form asks for, in order, each `{\"field\": name, "
    "\"required\": bool}`; names are `first_name`, `last_name`, `email`, `phone`, "
    "`company_name`, `title`, `country`, and `custom_fields.<key>` for lead custom fields. "
    "The email or a name must be required. `lead_source` (default `web_form`), `lead_tags` and "
    "`lead_owner_id` (null: the assignment rules) apply to every lead the form makes. "
    "`redirect_url`: an http(s) address people go to after sending, instead of the "
    "`thank_you_message`."
)


def _shown(request, form):
    form.public_url = services.public_url(form, base_url(request))
    form.embed_code = services.embed_code(form.public_url, form.name)
    return form


def _form_response(request, form_id: int, status: int = 200):
    form = selectors.lead_form_get(user=request.auth, form_id=form_id)
    if form is None:
        raise NotFound()
    return record_response(_shown(request, form), LeadFormOut, status)


@lead_forms.get("", response={200: LeadFormPage, **ERRORS},
                description="Admins. Every lead form, by name (one page).")
def list_lead_forms(request):
    return JsonResponse({"items": [LeadFormOut.from_orm(_shown(request, f)).model_dump(mode="json")
                                   for f in selectors.lead_form_list(user=request.auth)],
                         "next_cursor": None})


@lead_forms.post("", response={201: LeadFormOut, **ERRORS},
                 description=f"Admins. `name` and `fields` are required. {FIELDS_DOC}")
def create_lead_form(request, payload: LeadFormIn):
    def produce():
        form = services.lead_form_create(actor=request.auth,
                                         data=payload.model_dump(exclude_unset=True))
        return _form_response(request, form.pk, 201)
    return idempotent(request, produce)


@lead_forms.get("/{int:lead_form_id}", response={200: LeadFormOut, **ERRORS},
                description="Admins.")
def get_lead_form(request, lead_form_id: int):
    return _form_response(request, lead_form_id)


@lead_forms.patch("/{int:lead_form_id}", response={200: LeadFormOut, **ERRORS},
                  description=f"Admins. Only the fields sent change; `If-Match: <version>` "
                              f"guards against lost updates. {FIELDS_DOC}")
def update_lead_form(request, lead_form_id: int, payload: LeadFormIn):
    services.lead_form_update(actor=request.auth, form_id=lead_form_id,
                              data=payload.model_dump(exclude_unset=True),
                              expected_version=expected_version(request))
    return _form_response(request, lead_form_id)


@lead_forms.post("/{int:lead_form_id}/rotate-key", response={200: LeadFormOut, **ERRORS},
                 description="Admins. A new `public_key` (and `public_url`): the old address "
                             "and embed code stop working at once.")
def rotate_lead_form_key(request, lead_form_id: int):
    services.lead_form_rotate_key(actor=request.auth, form_id=lead_form_id)
    return _form_response(request, lead_form_id)


@lead_forms.delete("/{int:lead_form_id}", response={204: None, **ERRORS},
                   description="Admins. Deleted for good; the leads it made stay.")
def delete_lead_form(request, lead_form_id: int):
    services.lead_form_delete(actor=request.auth, form_id=lead_form_id)
    return HttpResponse(status=204)
