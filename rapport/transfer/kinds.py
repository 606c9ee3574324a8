"""What can be imported, and how each kind of record is cleaned, built, matched and updated.

A later object (deals, tickets) becomes importable by adding its Kind here; the reading,
mapping, preview, matching, progress, failed-rows file and undo are shared.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from rapport.contacts import selectors as contact_selectors
from rapport.contacts import services as contact_services
from rapport.contacts.models import Company, Contact
from rapport.sales import lead_selectors, lead_services
from rapport.sales.choices import LeadSource
from rapport.sales.models import Lead
from rapport.transfer.models import PLURALS


@dataclass(frozen=True)
class Kind:
    object_type: str
    label: str                      # "contacts"
    model: type
    visible: Callable               # (user) -> the records the user may see
    cleaners: Callable              # (actor) -> {field: cleaner}, as the create service uses
    new_values: Callable            # cleaned values -> what a new record stores, or ValidationFailed
    update: Callable                # (actor, record_id, data) -> the record, through its service
    # Duplicate keys a user can match on -> the record's field holding that key.
    match_fields: dict[str, str] = field(default_factory=dict)
    # The primary field and the list of further values a key may also come from.
    key_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A key that must stay unique even when not matched on (creating would duplicate it).
    unique_key: str = ""
    # Fields whose lists are merged rather than replaced when a row updates a record.
    list_fields: tuple[str, ...] = ()
    # The keys a new import matches on until the user chooses.
    default_match_on: tuple[str, ...] = ()
    # (actor, new records' values, their tag names, their created event heads or None) -> saves
    # them with their events; their ids, in order. Their search documents are built after
    # the import's rows.
    create_many: Callable = None
    # Whether create_many takes the head of each new record's created event worked out
    # ahead, while its row is cleaned (records.created_event_head).
    event_heads_ahead: bool = False
    # (actor, ids) -> trashes the records an import created (its undo), at most MAX_BULK ids.
    delete_many: Callable = None


def _update_contact(actor, record_id, data):
    return contact_services.contact_update(actor=actor, contact_id=record_id, data=data)


def _update_company(actor, record_id, data):
    return contact_services.company_update(actor=actor, company_id=record_id, data=data)


def _creator(model) -> Callable:
    def create_many(actor, rows, tags, event_heads):
        return contact_services.records_create_many(actor=actor, model=model, rows=rows, tags=tags,
                                                    event_heads=event_heads)
    return create_many


def _deleter(object_type: str) -> Callable:
    def delete_many(actor, ids):
        contact_services.records_bulk_delete(actor=actor, object_type=object_type, ids=ids)
    return delete_many


def _new_lead_values(values):
    return lead_services.new_lead_values(values, source=LeadSource.IMPORT)


def _update_lead(actor, record_id, data):
    return lead_services.lead_update(actor=actor, lead_id=record_id, data=data)


def _create_leads(actor, rows, tags, event_heads):
    # (A lead is created the way its owner's rules say, its event with it: no heads ahead.)
    return lead_services.leads_create_many(actor=actor, rows=rows, tags=tags)


def _delete_leads(actor, ids):
    lead_services.leads_trash_created(actor=actor, ids=ids)


KINDS = {
    "contact": Kind(
        object_type="contact", label=PLURALS["contact"], model=Contact,
        visible=lambda user: contact_selectors.contact_visible(user=user),
        cleaners=contact_services.contact_cleaners, new_values=contact_services.new_contact_values,
        update=_update_contact,
        match_fields={"email": "email", "phone": "phone", "external_id": "external_id"},
        key_sources={"email": ("email", "emails"), "phone": ("phone", "phones"),
                     "external_id": ("external_id",)},
        unique_key="email", list_fields=("emails", "phones"), default_match_on=("email",),
        create_many=_creator(Contact), delete_many=_deleter("contact"), event_heads_ahead=True,
    ),
    "company": Kind(
        object_type="company", label=PLURALS["company"], model=Company,
        visible=lambda user: contact_selectors.company_visible(user=user),
        cleaners=contact_services.company_cleaners, new_values=contact_services.new_company_values,
        update=_update_company,
        match_fields={"domain": "domain", "phone": "phone", "external_id": "external_id"},
        key_sources={"domain": ("domain",), "phone": ("phone",), "external_id": ("external_id",)},
        unique_key="domain", default_match_on=("domain",),
        create_many=_creator(Company), delete_many=_deleter("company"), event_heads_ahead=True,
    ),
    # Leads have no external id: a row matches a lead by email or phone. Unlike a contact's, a
    # lead's email is not unique (the same person may come in twice before anyone qualifies
    # them), so a row not matched on email still creates its lead.
    "lead": Kind(
        object_type="lead", label=PLURALS["lead"], model=Lead,
        visible=lambda user: lead_selectors.lead_visible(user=user),
        cleaners=lead_services.lead_cleaners, new_values=_new_lead_values, update=_update_lead,
        match_fields={"email": "email", "phone": "phone"},
        key_sources={"email": ("email",), "phone": ("phone",)},
        default_match_on=("email",), create_many=_create_leads, delete_many=_delete_leads,
    ),
}

MATCH_LABELS = {"email": "email", "phone": "phone", "external_id": "external id",
                "domain": "company domain"}


def kind_of(object_type: str) -> Kind:
    return KINDS[object_type]
