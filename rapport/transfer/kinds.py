"""What can be imported, and how each kind of record is cleaned, built, matched and updated.

A later object (deals, tickets) becomes importable by adding its Kind here; the reading,
mapping, preview, matching, progress, failed-rows file and undo are shared.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from rapport.contacts import selectors as contact_selectors
from rapport.contacts import services as contact_services
from rapport.contacts.models import Company, Contact


@dataclass(frozen=True)
class Kind:
    object_type: str
    label: str                      # "contacts"
    model: type
    visible: Callable               # (user) -> the records the user may see
    cleaners: Callable              # (actor) -> {field: cleaner}, as the create service uses
    build: Callable                 # cleaned values -> unsaved record, or ValidationFailed
    update: Callable                # (actor, record_id, data) -> the record, through its service
    # Duplicate keys a user can match on -> the record's field holding that key.
    match_fields: dict[str, str] = field(default_factory=dict)
    # The primary field and the list of further values a key may also come from.
    key_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A key that must stay unique even when not matched on (creating would duplicate it).
    unique_key: str = ""
    # Fields whose lists are merged rather than replaced when a row updates a record.
    list_fields: tuple[str, ...] = ()


def _update_contact(actor, record_id, data):
    return contact_services.contact_update(actor=actor, contact_id=record_id, data=data)


def _update_company(actor, record_id, data):
    return contact_services.company_update(actor=actor, company_id=record_id, data=data)


KINDS = {
    "contact": Kind(
        object_type="contact", label="contacts", model=Contact,
        visible=lambda user: contact_selectors.contact_visible(user=user),
        cleaners=contact_services.contact_cleaners, build=contact_services.new_contact,
        update=_update_contact,
        match_fields={"email": "email", "phone": "phone", "external_id": "external_id"},
        key_sources={"email": ("email", "emails"), "phone": ("phone", "phones"),
                     "external_id": ("external_id",)},
        unique_key="email", list_fields=("emails", "phones"),
    ),
    "company": Kind(
        object_type="company", label="companies", model=Company,
        visible=lambda user: contact_selectors.company_visible(user=user),
        cleaners=contact_services.company_cleaners, build=contact_services.new_company,
        update=_update_company,
        match_fields={"domain": "domain", "phone": "phone", "external_id": "external_id"},
        key_sources={"domain": ("domain",), "phone": ("phone",), "external_id": ("external_id",)},
        unique_key="domain",
    ),
}

MATCH_LABELS = {"email": "email", "phone": "phone", "external_id": "external id",
                "domain": "company domain"}


def kind_of(object_type: str) -> Kind:
    return KINDS[object_type]
