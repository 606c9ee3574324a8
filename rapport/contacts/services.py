"""Every write to contacts and companies: the UI, the API, imports and jobs all come here."""

import phonenumbers
from django.db import transaction

from rapport.accounts.services import active_user_id
from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.contacts.models import Company, Contact
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core import records, search
from rapport.core.cleaning import (
    choice,
    clean_fields,
    listed,
    optional,
    optional_choice,
    reference,
    text,
)
from rapport.core.countries import normalise_country
from rapport.core.customfields import clean_custom_fields
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.history import snapshot
from rapport.core.normalise import (
    domain_of_url,
    normalise_domain,
    normalise_email,
    normalise_phone,
    normalise_url,
    tidy_person_name,
)
from rapport.core.tags import add_tags, clean_tag_names

MAX_BULK = 1000


_text_100 = text(100)


def _country(value):
    """An ISO 3166 code from a code or a name ("Germany", "Deutschland", "DEU" -> "DE")."""
    code = normalise_country(_text_100(value))
    if code and code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value} has no postal addresses; enter another country.")
    return code


def _person_name(value):
    return tidy_person_name(_text_100(value))


ADDRESS = {
    "street": text(200), "city": text(100), "region": text(100),
    "postal_code": text(20), "country": _country,
}
SOCIAL = {
    "linkedin_url": optional(normalise_url), "twitter_url": optional(normalise_url),
}


def company_cleaners(actor):
    return {
        "name": text(200), "domain": optional(normalise_domain, 253),
        "website": optional(normalise_url), "industry": text(100),
        "size": optional_choice(CompanySize),
        "phone": optional(normalise_phone, 40), "description": text(10_000, multiline=True),
        "owner_id": active_user_id, "external_id": text(100), **ADDRESS, **SOCIAL,
    }


def contact_cleaners(actor):
    return {
        "first_name": _person_name, "last_name": _person_name,
        "email": optional(normalise_email, 254), "emails": listed(normalise_email),
        "phone": optional(normalise_phone, 40), "phones": listed(normalise_phone),
        "title": text(150), "lifecycle_stage": choice(LifecycleStage),
        "company_id": reference(company_visible(user=actor), "company"),
        "owner_id": active_user_id, "website": optional(normalise_url), "external_id": text(100),
        **ADDRESS, **SOCIAL,
    }


def _split(data: dict) -> tuple[dict, object, object]:
    data = dict(data)
    return data, data.pop("tags", None), data.pop("custom_fields", None)


def _tidy_identity(contact: Contact):
    tidy = new_contact_values({"first_name": contact.first_name, "last_name": contact.last_name,
                               "email": contact.email, "emails": contact.emails,
                               "phone": contact.phone, "phones": contact.phones})
    contact.emails, contact.phones = tidy["emails"], tidy["phones"]


def _reject_duplicate_email(email: str, exclude_id=None):
    if not email:
        return
    match = Contact.objects.filter(email=email).exclude(pk=exclude_id).values("pk").first()
    if match:
        raise Conflict("A contact with this email exists.",
                       fields={"email": ["A contact with this email exists."]},
                       existing_id=match["pk"])


def _domains_in_use(domains, *, exclude_id=None) -> set[str]:
    """Which of these domains a company has, trashed ones too (restoring one would make two):
    a domain worked out for a company, not typed, is left out rather than doubled."""
    return set(Company.all_objects.filter(domain__in=[d for d in domains if d]).exclude(pk=exclude_id)
               .values_list("domain", flat=True))


def _reject_duplicate_domain(domain: str, exclude_id=None):
    """A company's domain names it: a second company with the same one is a duplicate."""
    if not domain:
        return
    match = Company.objects.filter(domain=domain).exclude(pk=exclude_id).values("pk").first()
    if match:
        raise Conflict("A company with this domain exists.",
                       fields={"domain": ["A company with this domain exists."]},
                       existing_id=match["pk"])


def clean_record(cleaners, data, object_type, current=None, definitions=None):
    """Clean fields, tags and custom fields together so one error names every bad field.

    Returns (values, tag names or None). An import cleans each row with this, passing the
    cleaners and custom field definitions it built once for the whole file."""
    data, tags, custom = _split(data)
    errors = {}
    try:
        values = clean_fields(cleaners, data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
        values = {}
    try:
        tag_names = clean_tag_names(tags) if tags is not None else None
    except ValidationFailed as exc:
        errors.update(exc.fields)
    try:
        if custom is not None or current is None:
            values["custom_fields"] = clean_custom_fields(object_type, custom, current, definitions)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed(fields=errors)
    return values, tag_names


def new_company_values(values: dict) -> dict:
    """Cleaned values as a new company stores them (its domain from its website when not
    given), or ValidationFailed."""
    if not values.get("name"):
        raise ValidationFailed(fields={"name": ["This field is required."]})
    if not values.get("domain") and values.get("website"):
        values = {**values, "domain": domain_of_url(values["website"])}
    return values


def new_contact_values(values: dict) -> dict:
    """Cleaned values as a new contact stores them, or ValidationFailed: a contact needs a
    name or an email; the primary email and phone are not repeated among the further ones."""
    if not (values.get("first_name") or values.get("last_name") or values.get("email")):
        raise ValidationFailed(fields={"first_name": ["Enter a name or an email address."]})
    for primary, further in (("email", "emails"), ("phone", "phones")):
        if values.get(further):
            values = {**values, further: [v for v in values[further] if v != values.get(primary)]}
    return values


@transaction.atomic
def company_create(*, actor, data: dict, allow_duplicate: bool = False) -> Company:
    values, tags = clean_record(company_cleaners(actor), data, "company")
    company = Company(**new_company_values(values))
    if not allow_duplicate:
        _reject_duplicate_domain(company.domain)
    return records.create_record(company, actor=actor, tags=tags)


@transaction.atomic
def company_update(*, actor, company_id: int, data: dict,
                   expected_version: int | None = None) -> Company:
    _visible_or_404(company_visible(user=actor), company_id)
    company = records.lock(Company, company_id, expected_version=expected_version)
    before = snapshot(company, records.tracked_fields(company))
    values, tags = clean_record(company_cleaners(actor), data, "company", company.custom_fields)
    for field, value in values.items():
        setattr(company, field, value)
    if not company.name:
        raise ValidationFailed(fields={"name": ["This field is required."]})
    if not company.domain and company.website and company.website != before.get("website"):
        # As a new company's, from its website; a domain another company has is left out
        # here (the user set a website, not a domain) rather than refusing the edit.
        derived = domain_of_url(company.website)
        if derived not in _domains_in_use([derived], exclude_id=company.pk):
            company.domain = derived
    if company.domain != before.get("domain"):
        _reject_duplicate_domain(company.domain, exclude_id=company.pk)
    return records.update_record(company, actor=actor, before=before, tags=tags)


@transaction.atomic
def contact_create(*, actor, data: dict, allow_duplicate: bool = False) -> Contact:
    values, tags = clean_record(contact_cleaners(actor), data, "contact")
    contact = Contact(**new_contact_values(values))
    if not allow_duplicate:
        _reject_duplicate_email(contact.email)
    return records.create_record(contact, actor=actor, tags=tags)


@transaction.atomic
def contact_update(*, actor, contact_id: int, data: dict,
                   expected_version: int | None = None) -> Contact:
    _visible_or_404(contact_visible(user=actor), contact_id)
    contact = records.lock(Contact, contact_id, expected_version=expected_version)
    before = snapshot(contact, records.tracked_fields(contact))
    values, tags = clean_record(contact_cleaners(actor), data, "contact", contact.custom_fields)
    for field, value in values.items():
        setattr(contact, field, value)
    _tidy_identity(contact)
    if "email" in values and values["email"] != before.get("email"):
        _reject_duplicate_email(contact.email, exclude_id=contact.pk)
    return records.update_record(contact, actor=actor, before=before, tags=tags)


def records_create_many(*, actor, model, rows: list[dict], tags: list[list[str]],
                        event_heads: list[str | None] | None = None) -> list[int]:
    """Contacts or companies from values already checked by new_contact_values /
    new_company_values (an import's batch), saved together; returns their ids. The caller
    has matched them against existing records, and builds their search documents."""
    return records.create_rows(model, rows, actor=actor, tags=tags, event_heads=event_heads)


@transaction.atomic
def companies_create_named(*, actor, names: list[str], domains: list[str] | None = None) -> list[int]:
    """A new company for each name (the companies an import's rows name and none matches),
    cleaned and checked as company_create does, saved together and indexed for search at
    once (converting a lead finds its company by name through search); returns their ids.
    `domains[i]`, where given, is the domain of `names[i]` (a contact import's, from the
    email of a row naming it); one that is not a valid domain, or that a company has
    already (or an earlier name here), is left out rather than duplicated."""
    cleaners = company_cleaners(actor)
    domains = [domain_of_url(domain) if domain else "" for domain in domains or [""] * len(names)]
    taken = _domains_in_use(domains)
    rows = []
    for name, domain in zip(names, domains, strict=True):
        data = {"name": name, "domain": domain} if domain and domain not in taken else {"name": name}
        taken.add(domain)
        rows.append(new_company_values(clean_record(cleaners, data, "company")[0]))
    ids = records.create_rows(Company, rows, actor=actor, tags=[[] for _ in rows])
    search.index_new(Company, ids)
    return ids


def _visible_or_404(queryset, pk):
    if not queryset.filter(pk=pk).exists():
        raise NotFound()


MODELS = {"contact": (Contact, contact_visible), "company": (Company, company_visible)}


@transaction.atomic
def record_delete(*, actor, object_type: str, record_id: int):
    model, visible = MODELS[object_type]
    _visible_or_404(visible(user=actor), record_id)
    return records.trash_record(records.lock(model, record_id), actor=actor)


@transaction.atomic
def record_restore(*, actor, object_type: str, record_id: int):
    _, visible = MODELS[object_type]
    instance = visible(user=actor, trashed=True).select_for_update().filter(pk=record_id).first()
    if instance is None:
        raise NotFound()
    return records.restore_record(instance, actor=actor)


def _bulk_ids(ids) -> list[int]:
    if not isinstance(ids, list | tuple) or not ids:
        raise ValidationFailed(fields={"ids": ["Choose at least one record."]})
    if len(ids) > MAX_BULK:
        raise ValidationFailed(fields={"ids": [f"Choose at most {MAX_BULK} records."]})
    try:
        return [int(i) for i in ids]
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"ids": ["Ids must be whole numbers."]}) from None


@transaction.atomic
def records_bulk_tag(*, actor, object_type: str, ids, tags) -> int:
    _, visible = MODELS[object_type]
    names = clean_tag_names(tags)
    if not names:
        raise ValidationFailed(fields={"tags": ["Enter at least one tag."]})
    changed = 0
    for instance in visible(user=actor).filter(pk__in=_bulk_ids(ids)).prefetch_related("tags"):
        before = snapshot(instance, records.tracked_fields(instance))
        add_tags(instance, names)
        records.update_record(instance, actor=actor, before=before)
        changed += 1
    return changed


@transaction.atomic
def records_bulk_assign(*, actor, object_type: str, ids, owner_id) -> int:
    _, visible = MODELS[object_type]
    try:
        owner = active_user_id(owner_id)
    except ValueError as exc:
        raise ValidationFailed(fields={"owner_id": [str(exc)]}) from None
    if owner is None:
        raise ValidationFailed(fields={"owner_id": ["Choose an owner."]})
    changed = 0
    for instance in visible(user=actor).filter(pk__in=_bulk_ids(ids)).prefetch_related("tags"):
        before = snapshot(instance, records.tracked_fields(instance))
        instance.owner_id = owner
        records.update_record(instance, actor=actor, before=before)
        changed += 1
    return changed


@transaction.atomic
def records_bulk_delete(*, actor, object_type: str, ids) -> int:
    _, visible = MODELS[object_type]
    changed = 0
    for instance in visible(user=actor).filter(pk__in=_bulk_ids(ids)):
        records.trash_record(instance, actor=actor)
        changed += 1
    return changed
