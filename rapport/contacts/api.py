from django.db import transaction
from django.http import HttpResponse, JsonResponse
from ninja import Router, Status
from pydantic import ValidationError as PydanticValidationError

from rapport.api.responses import (
    expected_version,
    idempotent,
    page_response,
    record_response,
)
from rapport.api.schemas import ERRORS
from rapport.contacts import duplicates, merging, selectors, services
from rapport.contacts.models import MergeRecord
from rapport.contacts.schemas import (
    BulkContactsIn,
    BulkResults,
    CompanyIn,
    CompanyMergeOut,
    CompanyOut,
    CompanyPage,
    ContactIn,
    ContactMergeOut,
    ContactOut,
    ContactPage,
    DuplicateOut,
    DuplicatePage,
    MergeIn,
    MergeRecordOut,
    ScanIn,
)
from rapport.core.errors import NotFound, RapportError, ValidationFailed

contacts = Router(tags=["contacts"])
companies = Router(tags=["companies"])

LIST_DOC = (
    "Cursor-paginated. Parameters: `limit` (1-500), `cursor`, `q` (search), `sort` "
    "(a field, `-` for descending), `count=true`, filters `field=`, `field__gte=`, "
    "`field__lte=`, `field__in=a,b`, `field__contains=`, `tag=` (repeatable), "
    "`custom__<key>=`, `updated_since=`, `problem=` (repeatable: contacts `no_email`, "
    "`invalid_email`, `invalid_phone`, `no_owner`, `no_name`, `no_company`, `no_country`; "
    "companies `no_domain`, `invalid_phone`, `no_owner`, `no_contacts`). An unknown filter or "
    "sort is a 400."
)


def _sent(payload) -> dict:
    return payload.model_dump(exclude_unset=True)


# Contacts -----------------------------------------------------------------

@contacts.get("", response={200: ContactPage, **ERRORS}, description=LIST_DOC)
def list_contacts(request, limit: str | None = None, cursor: str | None = None,
                  q: str | None = None, sort: str | None = None, count: str | None = None):
    page = selectors.contact_list(user=request.auth, params=request.GET)
    return page_response(page, ContactOut)


@contacts.post("", response={201: ContactOut, **ERRORS})
def create_contact(request, payload: ContactIn, allow_duplicate: bool = False):
    def produce():
        contact = services.contact_create(actor=request.auth, data=_sent(payload),
                                          allow_duplicate=allow_duplicate)
        return record_response(selectors.contact_get(user=request.auth, contact_id=contact.pk)
                               or contact, ContactOut, 201)
    return idempotent(request, produce)


@contacts.post("/bulk", response={200: BulkResults, **ERRORS},
               description="Create up to 1,000 contacts; one result per item, in order.")
def bulk_create_contacts(request, payload: BulkContactsIn):
    if not 1 <= len(payload.items) <= services.MAX_BULK:
        raise ValidationFailed(fields={"items": [f"Send 1 to {services.MAX_BULK} items."]})

    def produce():
        results = []
        for item in payload.items:
            try:
                data = _sent(ContactIn.model_validate(item))
                with transaction.atomic():
                    contact = services.contact_create(
                        actor=request.auth, data=data, allow_duplicate=payload.allow_duplicate)
                results.append({"ok": True, "id": contact.pk})
            except PydanticValidationError as exc:
                fields = {".".join(map(str, e["loc"])) or "__all__":
                          ["Unknown field." if e["type"] == "extra_forbidden" else e["msg"]]
                          for e in exc.errors()}
                results.append({"ok": False, "error": {
                    "code": "validation_error", "message": "The item is invalid.",
                    "fields": fields}})
            except RapportError as exc:
                results.append({"ok": False, "error": {
                    "code": exc.code, "message": exc.message, "fields": exc.fields}})
        return JsonResponse({"results": results})
    return idempotent(request, produce)


@contacts.get("/{int:contact_id}", response={200: ContactOut, **ERRORS})
def get_contact(request, contact_id: int):
    contact = selectors.contact_get(user=request.auth, contact_id=contact_id)
    if contact is None:
        raise NotFound()
    return record_response(contact, ContactOut)


@contacts.patch("/{int:contact_id}", response={200: ContactOut, **ERRORS},
                description="Only the fields sent change. `If-Match: <version>` guards "
                            "against lost updates (412 when stale).")
def update_contact(request, contact_id: int, payload: ContactIn):
    services.contact_update(actor=request.auth, contact_id=contact_id, data=_sent(payload),
                            expected_version=expected_version(request))
    return record_response(selectors.contact_get(user=request.auth, contact_id=contact_id),
                           ContactOut)


@contacts.delete("/{int:contact_id}", response={204: None, **ERRORS})
def delete_contact(request, contact_id: int):
    services.record_delete(actor=request.auth, object_type="contact", record_id=contact_id)
    return HttpResponse(status=204)


@contacts.post("/{int:contact_id}/restore", response={200: ContactOut, **ERRORS})
def restore_contact(request, contact_id: int):
    services.record_restore(actor=request.auth, object_type="contact", record_id=contact_id)
    return record_response(selectors.contact_get(user=request.auth, contact_id=contact_id),
                           ContactOut)


# Companies ----------------------------------------------------------------

@companies.get("", response={200: CompanyPage, **ERRORS}, description=LIST_DOC)
def list_companies(request, limit: str | None = None, cursor: str | None = None,
                   q: str | None = None, sort: str | None = None, count: str | None = None):
    page = selectors.company_list(user=request.auth, params=request.GET)
    return page_response(page, CompanyOut)


@companies.post("", response={201: CompanyOut, **ERRORS})
def create_company(request, payload: CompanyIn, allow_duplicate: bool = False):
    def produce():
        company = services.company_create(actor=request.auth, data=_sent(payload),
                                          allow_duplicate=allow_duplicate)
        return record_response(selectors.company_get(user=request.auth, company_id=company.pk)
                               or company, CompanyOut, 201)
    return idempotent(request, produce)


@companies.get("/{int:company_id}", response={200: CompanyOut, **ERRORS})
def get_company(request, company_id: int):
    company = selectors.company_get(user=request.auth, company_id=company_id)
    if company is None:
        raise NotFound()
    return record_response(company, CompanyOut)


@companies.get("/{int:company_id}/contacts", response={200: ContactPage, **ERRORS},
               description="The company's contacts the caller may see. " + LIST_DOC)
def list_company_contacts(request, company_id: int, limit: str | None = None,
                          cursor: str | None = None, sort: str | None = None):
    if selectors.company_get(user=request.auth, company_id=company_id) is None:
        raise NotFound()
    params = request.GET.copy()
    params.setlist("company_id", [str(company_id)])
    return page_response(selectors.contact_list(user=request.auth, params=params), ContactOut)


@companies.patch("/{int:company_id}", response={200: CompanyOut, **ERRORS})
def update_company(request, company_id: int, payload: CompanyIn):
    services.company_update(actor=request.auth, company_id=company_id, data=_sent(payload),
                            expected_version=expected_version(request))
    return record_response(selectors.company_get(user=request.auth, company_id=company_id),
                           CompanyOut)


@companies.delete("/{int:company_id}", response={204: None, **ERRORS})
def delete_company(request, company_id: int):
    services.record_delete(actor=request.auth, object_type="company", record_id=company_id)
    return HttpResponse(status=204)


@companies.post("/{int:company_id}/restore", response={200: CompanyOut, **ERRORS})
def restore_company(request, company_id: int):
    services.record_restore(actor=request.auth, object_type="company", record_id=company_id)
    return record_response(selectors.company_get(user=request.auth, company_id=company_id),
                           CompanyOut)


# Merging ------------------------------------------------------------------

MERGE_DOC = ("Merges record `other_id` into this one in one transaction: `fields` picks, per field, "
             "`survivor` (this record's value) or `other` (default: this record's, or the other's "
             "where this one is empty; `custom_fields.<key>` for custom fields). Every email, phone "
             "and tag of both is kept; everything related to the other record moves here; the "
             "other record goes to the trash. `POST /merges/{merge_id}/undo` reverses it.")


def _merge(request, object_type: str, survivor_id: int, payload, get):
    survivor, merge = merging.merge_records(actor=request.auth, object_type=object_type,
                                            survivor_id=survivor_id, other_id=payload.other_id,
                                            choices=payload.fields)
    return {"merge": merge, "record": get(survivor.pk)}


@contacts.post("/{int:contact_id}/merge", response={200: ContactMergeOut, **ERRORS},
               description=MERGE_DOC)
def merge_contacts(request, contact_id: int, payload: MergeIn):
    return _merge(request, "contact", contact_id, payload,
                  lambda pk: selectors.contact_get(user=request.auth, contact_id=pk))


@companies.post("/{int:company_id}/merge", response={200: CompanyMergeOut, **ERRORS},
                description=MERGE_DOC)
def merge_companies(request, company_id: int, payload: MergeIn):
    return _merge(request, "company", company_id, payload,
                  lambda pk: selectors.company_get(user=request.auth, company_id=pk))


merges = Router(tags=["contacts"])


@merges.post("/{int:merge_id}/undo", response={200: MergeRecordOut, **ERRORS},
             description="Restores the merged record (with what moved from it) and the survivor's "
                         "fields and tags as they were; refused once the survivor changed again.")
def undo_merge(request, merge_id: int):
    merging.merge_undo(actor=request.auth, merge_id=merge_id)
    return MergeRecord.objects.get(pk=merge_id)


# Duplicates ---------------------------------------------------------------

duplicate_pairs = Router(tags=["contacts"])


@duplicate_pairs.get("", response={200: DuplicatePage, **ERRORS},
                     description="Open pairs whose two records you can see, best first (at most 200).")
def list_duplicates(request, object_type: str = "contact"):
    if object_type not in duplicates.MODELS:
        raise ValidationFailed(fields={"object_type": ["Choose contact or company."]})
    return {"items": duplicates.queue(user=request.auth, object_type=object_type, limit=200)}


@duplicate_pairs.post("/{int:pair_id}/dismiss", response={200: DuplicateOut, **ERRORS},
                      description="Not a duplicate: remembered, never proposed again.")
def dismiss_duplicate(request, pair_id: int):
    return duplicates.dismiss(actor=request.auth, pair_id=pair_id)


@duplicate_pairs.post("/scan", response={202: None, **ERRORS},
                      description="Admins: scan every record of `object_type` for duplicates now.")
def scan_duplicates(request, payload: ScanIn):
    duplicates.scan_soon(actor=request.auth, object_type=payload.object_type)
    return Status(202, None)
