"""Which CRM field each column of an import file goes to.

`suggest` reads the headers other CRMs write (HubSpot, Salesforce, Pipedrive, Zoho, Google Contacts, our
own export and vCard reader) for contacts, companies and leads, and proposes a target per column;
`validate_mapping` checks a mapping a user sends back. Headers are compared folded ("Mailing
Zip/Postal Code" -> "zippostalcode" after its address prefix) so that "First Name", "first_name"
and "FirstName" are one alias.

A header can make a weaker claim than another on the same field ("Mobile" vs "Phone", "Email 2" vs
"Email"): each claim carries a rank, the strongest claim gets the field, and a losing email or phone
column falls back to the further emails or phones.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

from rapport.contacts.choices import CompanySize, LifecycleStage
from rapport.core.errors import ValidationFailed
from rapport.sales.choices import LeadSource, LeadStatus

CUSTOM_PREFIX = "custom:"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    multi: bool = False


CONTACT_TARGETS = (
    Target("first_name", "First name"),
    Target("last_name", "Last name"),
    Target("full_name", "Full name"),
    Target("email", "Email"),
    Target("emails", "Further emails", multi=True),
    Target("phone", "Phone"),
    Target("phones", "Further phones", multi=True),
    Target("title", "Job title"),
    Target("lifecycle_stage", "Lifecycle stage"),
    Target("company", "Company"),
    Target("website", "Website"),
    Target("linkedin_url", "LinkedIn URL"),
    Target("twitter_url", "Twitter URL"),
    Target("street", "Street"),
    Target("city", "City"),
    Target("region", "Region"),
    Target("postal_code", "Postal code"),
    Target("country", "Country"),
    Target("owner", "Owner"),
    Target("tags", "Tags", multi=True),
    Target("external_id", "External ID"),
)

COMPANY_TARGETS = (
    Target("name", "Name"),
    Target("domain", "Domain"),
    Target("website", "Website"),
    Target("industry", "Industry"),
    Target("size", "Size"),
    Target("phone", "Phone"),
    Target("description", "Description"),
    Target("linkedin_url", "LinkedIn URL"),
    Target("twitter_url", "Twitter URL"),
    Target("street", "Street"),
    Target("city", "City"),
    Target("region", "Region"),
    Target("postal_code", "Postal code"),
    Target("country", "Country"),
    Target("owner", "Owner"),
    Target("tags", "Tags", multi=True),
    Target("external_id", "External ID"),
)

# A lead's company is a name it keeps (company_name), not a link: conversion links or creates it.
LEAD_TARGETS = (
    Target("first_name", "First name"),
    Target("last_name", "Last name"),
    Target("full_name", "Full name"),
    Target("email", "Email"),
    Target("phone", "Phone"),
    Target("title", "Job title"),
    Target("company_name", "Company"),
    Target("company_size", "Company size"),
    Target("website", "Website"),
    Target("country", "Country"),
    Target("status", "Lead status"),
    Target("disqualified_reason", "Disqualified reason"),
    Target("source", "Lead source"),
    Target("score", "Score"),
    Target("owner", "Owner"),
    Target("tags", "Tags", multi=True),
)

BUILT_IN_TARGETS = {"contact": CONTACT_TARGETS, "company": COMPANY_TARGETS, "lead": LEAD_TARGETS}

# A column that loses its single field to a stronger one still has somewhere to go.
OVERFLOW = {"email": "emails", "phone": "phones"}

# At least one of these must be mapped, or the rows cannot become records.
REQUIRED = {"contact": ("first_name", "last_name", "full_name", "email"), "company": ("name",),
            "lead": ("first_name", "last_name", "full_name", "email")}

# Aliases are folded headers (see _compact); a number after a target is the rank of the claim, 0 the
# strongest. Target labels and keys are aliases too (added in _aliases), so our own exports round-trip.
ADDRESS_ALIASES = {
    "street": "street", "streetaddress": "street", "address": ("street", 1), "addressline": "street",
    "addressline1": "street", "address1": "street", "streetroadname": "street",
    "city": "city", "town": "city", "citytownvillagelocality": "city", "locality": "city",
    "region": "region", "state": "region", "province": "region", "stateregion": "region",
    "stateprovince": "region", "county": ("region", 1), "statecounty": "region",
    "postalcode": "postal_code", "zip": "postal_code", "zipcode": "postal_code", "postcode": "postal_code",
    "zippostalcode": "postal_code", "postalzipcode": "postal_code",
    "country": "country", "countryregion": "country",
}

# Only after an address prefix: "Billing Code" is Zoho's postal code, a bare "Code" is not.
ADDRESS_ONLY_ALIASES = {"code": "postal_code"}

# "Mailing Street", "Billing City", "Other Country": the prefix says which address; the rank, which wins.
ADDRESS_PREFIXES = {
    "mailing": 0, "billing": 0, "primary": 0, "business": 0, "work": 0, "postal": 0,
    "home": 1, "shipping": 1, "other": 2,
}

COMMON_ALIASES = {
    "externalid": "external_id", "recordid": "external_id", "id": "external_id", "objectid": "external_id",
    "hsobjectid": "external_id",
    "website": "website", "websiteurl": "website", "web": "website", "webpage": "website",
    "homepage": "website", "url": "website",
    "phone": "phone", "phonenumber": "phone", "telephone": "phone", "tel": "phone",
    "workphone": "phone", "primaryphone": "phone", "businessphone": "phone", "officephone": "phone",
    "mainphone": "phone",
    "linkedin": "linkedin_url", "linkedinurl": "linkedin_url", "linkedinprofile": "linkedin_url",
    "twitter": "twitter_url", "twitterurl": "twitter_url", "twitterhandle": "twitter_url",
    "twitterusername": "twitter_url", "twitterprofile": "twitter_url",
    "owner": "owner", "recordowner": "owner", "hubspotowner": "owner", "hubspotownerid": "owner",
    "assignedto": "owner", "owneremail": "owner", "ownername": "owner",
    "tags": "tags", "tag": "tags", "labels": "tags", "label": "tags", "categories": "tags",
    "groupmembership": "tags",
}

CONTACT_ALIASES = {
    **COMMON_ALIASES,
    "contactid": "external_id", "personid": "external_id", "leadid": "external_id",
    "firstname": "first_name", "givenname": "first_name", "forename": "first_name",
    "lastname": "last_name", "familyname": "last_name", "surname": "last_name",
    "name": "full_name", "fullname": "full_name", "contactname": "full_name", "personname": "full_name",
    "displayname": "full_name",
    "email": "email", "emailaddress": "email", "primaryemail": "email", "workemail": "email",
    "businessemail": "email", "personalemail": ("email", 1), "homeemail": ("email", 1),
    "otheremail": ("email", 2),
    "emails": "emails", "secondaryemail": "emails", "additionalemail": "emails",
    "additionalemails": "emails", "additionalemailaddresses": "emails", "alternateemail": "emails",
    "otheremails": "emails",
    "mobile": ("phone", 1), "mobilephone": ("phone", 1), "mobilephonenumber": ("phone", 1),
    "mobilenumber": ("phone", 1), "cell": ("phone", 1), "cellphone": ("phone", 1),
    "homephone": ("phone", 1), "otherphone": ("phone", 2),
    "phones": "phones", "secondaryphone": "phones", "additionalphones": "phones", "otherphones": "phones",
    "title": "title", "jobtitle": "title", "position": "title", "organizationtitle": "title",
    "organisationtitle": "title",
    "lifecyclestage": "lifecycle_stage", "lifecycle": "lifecycle_stage", "stage": ("lifecycle_stage", 1),
    "company": "company", "companyname": "company", "organization": "company", "organisation": "company",
    "organizationname": "company", "organisationname": "company", "accountname": "company",
    "employer": "company", "associatedcompany": ("company", 1),
    "contactowner": "owner", "personowner": "owner",
    "contacttags": "tags",
}

COMPANY_ALIASES = {
    **COMMON_ALIASES,
    "companyid": "external_id", "accountid": "external_id", "organizationid": "external_id",
    "organisationid": "external_id",
    "name": "name", "companyname": "name", "accountname": "name", "organizationname": "name",
    "organisationname": "name", "company": "name", "organization": "name", "organisation": "name",
    "domain": "domain", "companydomainname": "domain", "domainname": "domain", "companydomain": "domain",
    "industry": "industry", "sector": "industry",
    "size": "size", "companysize": "size", "employees": "size", "numberofemployees": "size",
    "noofemployees": "size", "employeecount": "size", "headcount": "size",
    "description": "description", "about": "description", "aboutus": "description",
    "linkedincompanypage": "linkedin_url", "linkedincompanyprofile": "linkedin_url",
    "companyowner": "owner", "accountowner": "owner", "organizationowner": "owner",
}

# HubSpot's and Salesforce's lead exports ("Lead Status", "Lead Source", "Company / Account",
# "Lead Owner", "No. of Employees"), Zoho's and Pipedrive's. A lead has no external id, so the
# record id columns are left out; so are the address fields other than the country.
LEAD_ALIASES = {
    **{alias: spec for alias, spec in CONTACT_ALIASES.items()
       if (spec if isinstance(spec, str) else spec[0]) in {
           "first_name", "last_name", "full_name", "email", "phone", "title", "owner", "tags",
           "website"}},
    "leadname": "full_name",
    "company": "company_name", "companyname": "company_name", "companyaccount": "company_name",
    "account": "company_name", "accountname": "company_name", "organization": "company_name",
    "organisation": "company_name", "organizationname": "company_name",
    "organisationname": "company_name", "employer": "company_name",
    "associatedcompany": ("company_name", 1),
    "companysize": "company_size", "size": "company_size", "employees": "company_size",
    "numberofemployees": "company_size", "noofemployees": "company_size",
    "employeecount": "company_size", "headcount": "company_size",
    "status": "status", "leadstatus": "status", "hsleadstatus": "status",
    "source": "source", "leadsource": "source", "originalsource": ("source", 1),
    "sourcetype": ("source", 1),
    "disqualifiedreason": "disqualified_reason", "disqualificationreason": "disqualified_reason",
    "unqualifiedreason": "disqualified_reason", "reasondisqualified": "disqualified_reason",
    "reasonfordisqualification": "disqualified_reason", "lostreason": ("disqualified_reason", 1),
    "score": "score", "leadscore": "score", "hubspotscore": "score", "leadrating": ("score", 1),
    "leadowner": "owner",
    "leadtags": "tags",
}

# The first part of "Person - Email - Work" names the record the column belongs to.
OWN_RECORD_PREFIXES = {
    "contact": {"person", "contact", "people", "lead"},
    "company": {"organization", "organisation", "company", "account", "org"},
    "lead": {"lead", "person", "contact", "people"},
}

# Pipedrive's "Email - Work" / "Phone - Mobile": the second part ranks the claim.
QUALIFIER_RANKS = {
    "work": 0, "main": 0, "primary": 0, "business": 0, "office": 0,
    "home": 1, "mobile": 1, "personal": 1, "private": 1, "other": 2,
}

# Google's "E-mail 1 - Label" and "Phone 1 - Type" describe the neighbouring column; they hold no data.
DESCRIBING_PARTS = {"label", "type"}


@dataclass(frozen=True)
class _Claim:
    target: str
    rank: int


# Public API


def targets(object_type: str, custom_fields: list[tuple[str, str]] = ()) -> list[Target]:
    """The fields a column can go to, in the order the mapping form lists them."""
    custom = [Target(CUSTOM_PREFIX + key, label) for key, label in custom_fields]
    return [*_built_in_targets(object_type), *custom]


def suggest(
    headers: list[str], object_type: str, custom_fields: list[tuple[str, str]] = ()
) -> dict[str, str]:
    """header -> target key, or "" for "don't import"; each single target goes to its best column."""
    aliases = _aliases(object_type, custom_fields)
    known = {target.key: target for target in targets(object_type, custom_fields)}
    multi = {key for key, target in known.items() if target.multi}
    mapping = dict.fromkeys(headers, "")
    taken: set[str] = set()
    for header, target in _strongest_claims_first(headers, object_type, aliases):
        if target in taken:
            target = OVERFLOW.get(target, "")
        if target not in known:  # an address field or overflow list this record does not have
            target = ""
        elif target not in multi:
            taken.add(target)
        mapping[header] = target
    return mapping


def validate_mapping(
    mapping: dict, headers: list[str], object_type: str, custom_fields: list[tuple[str, str]] = ()
) -> dict[str, str]:
    """The user's mapping checked and completed (every header, "" for skipped); ValidationFailed if wrong."""
    if not isinstance(mapping, dict):
        raise ValidationFailed(fields={"mapping": ["Send the mapping as an object: column -> field."]})
    known = {target.key: target for target in targets(object_type, custom_fields)}
    cleaned = {header: (mapping.get(header) or "") for header in headers}
    errors = [
        *_unknown_columns(mapping, headers),
        *_unknown_targets(mapping, known),
        *_targets_used_twice(cleaned, known),
        *_missing_required(cleaned, object_type),
    ]
    if errors:
        raise ValidationFailed(fields={"mapping": errors})
    return cleaned


def lifecycle_stage_of(value: str) -> str | None:
    """Our lifecycle stage for another CRM's wording ("Marketing Qualified Lead", "MQL"); None if unknown."""
    return _LIFECYCLE_STAGES.get(_compact(value or ""))


def lead_status_of(value: str) -> str | None:
    """Our lead status for another CRM's wording ("Open - Not Contacted", "Attempted to Contact",
    "Unqualified"); None if unknown."""
    return _LEAD_STATUSES.get(_compact(value or ""))


def lead_source_of(value: str) -> str | None:
    """Our lead source for another CRM's wording ("Web", "Partner Referral", "Trade Show");
    None if unknown."""
    return _LEAD_SOURCES.get(_compact(value or ""))


def company_size_of(value: str) -> str | None:
    """Our company size band for a band ("11–50", "5001+") or a head count ("12,000"); None if unknown."""
    low, high = _head_count_range(value or "")
    return None if low is None else _band_containing(low, high)


def _unknown_columns(mapping: dict, headers: list[str]) -> list[str]:
    columns = set(headers)
    return [f'"{column}" is not a column of the file.' for column in mapping if column not in columns]


def _unknown_targets(mapping: dict, known: dict[str, Target]) -> list[str]:
    return [
        f'Column "{column}": "{target}" is not a field you can import into.'
        for column, target in mapping.items()
        if target and not (isinstance(target, str) and target in known)
    ]


def _targets_used_twice(mapping: dict[str, str], known: dict[str, Target]) -> list[str]:
    columns_by_target: dict[str, list[str]] = {}
    for column, target in mapping.items():
        if isinstance(target, str) and target in known and not known[target].multi:
            columns_by_target.setdefault(target, []).append(column)
    return [
        f"Columns {_quoted(columns)} all go to {known[target].label}; choose one of them for it."
        for target, columns in columns_by_target.items()
        if len(columns) > 1
    ]


def _missing_required(mapping: dict[str, str], object_type: str) -> list[str]:
    required = REQUIRED[object_type]
    if any(target in required for target in mapping.values() if isinstance(target, str)):
        return []
    labels = [target.label for target in _built_in_targets(object_type) if target.key in required]
    either = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
    return [f"Map a column to {either}: without it the rows cannot become records."]


def _quoted(columns: list[str]) -> str:
    quoted = [f'"{column}"' for column in columns]
    return f"{', '.join(quoted[:-1])} and {quoted[-1]}"


# Targets and aliases


def _built_in_targets(object_type: str) -> tuple[Target, ...]:
    try:
        return BUILT_IN_TARGETS[object_type]
    except KeyError:
        raise ValueError(f"Unknown object type: {object_type}") from None


def _aliases(object_type: str, custom_fields) -> dict[str, _Claim]:
    own = {"contact": CONTACT_ALIASES, "company": COMPANY_ALIASES, "lead": LEAD_ALIASES}[object_type]
    aliases = {alias: _as_claim(spec) for alias, spec in {**ADDRESS_ALIASES, **own}.items()}
    for target in _built_in_targets(object_type):
        aliases.setdefault(_compact(target.label), _Claim(target.key, 0))
        aliases.setdefault(_compact(target.key), _Claim(target.key, 0))
    # A custom field never takes a header a built-in field already answers to.
    for key, label in custom_fields:
        claim = _Claim(CUSTOM_PREFIX + key, 0)
        for alias in (key, label, CUSTOM_PREFIX + key):
            aliases.setdefault(_compact(alias), claim)
    return aliases


def _as_claim(spec: str | tuple[str, int]) -> _Claim:
    return _Claim(spec, 0) if isinstance(spec, str) else _Claim(*spec)


# Reading a header


def _strongest_claims_first(headers: list[str], object_type: str, aliases) -> list[tuple[str, str]]:
    """(header, target) pairs, strongest claim first; ties go to the leftmost column."""
    claims = []
    for position, header in enumerate(headers):
        claim = _claim(header, object_type, aliases)
        if claim:
            claims.append((claim.rank, position, header, claim.target))
    return [(header, target) for _rank, _position, header, target in sorted(claims)]


def _claim(header: str, object_type: str, aliases: dict[str, _Claim]) -> _Claim | None:
    """The field a header asks for, and how strongly; None when it is not imported."""
    parts = _header_parts(header)
    if len(parts) > 1 and parts[0] in OWN_RECORD_PREFIXES[object_type]:
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == "value":
        parts = parts[:-1]
    if len(parts) > 1 and parts[-1] in DESCRIBING_PARTS:
        return None
    if len(parts) == 1:
        return _single_part_claim(parts[0], aliases)
    if len(parts) == 2:
        return _grouped_claim(*parts, aliases)
    return aliases.get("".join(parts))


def _single_part_claim(key: str, aliases: dict[str, _Claim]) -> _Claim | None:
    if key in aliases:
        return aliases[key]
    base, number = _split_number(key)
    if number is not None and base in aliases:
        return _weakened(aliases[base], number - 1)  # "Email 2", "Phone 3"
    return _address_claim(key, aliases)


def _grouped_claim(group: str, field: str, aliases: dict[str, _Claim]) -> _Claim | None:
    """Two-part headers: Google's "Address 1 - City", Pipedrive's "Email - Home" and "Organization - Name"."""
    base, number = _split_number(group)
    extra_rank = (number or 1) - 1
    if _names_an_address(base):
        claim = _address_field_claim(field, aliases)
        return _weakened(claim, extra_rank + ADDRESS_PREFIXES.get(base, 0)) if claim else None
    if field in QUALIFIER_RANKS and base in aliases:
        return _weakened(aliases[base], extra_rank + QUALIFIER_RANKS[field])
    claim = aliases.get(base + field)
    return _weakened(claim, extra_rank) if claim else None


def _names_an_address(group: str) -> bool:
    """ "Address", "Mailing address", "Postal address" or a bare "Billing"."""
    return group in ADDRESS_PREFIXES or group.removesuffix("address") in ADDRESS_PREFIXES.keys() | {""}


def _address_claim(key: str, aliases: dict[str, _Claim]) -> _Claim | None:
    """ "Mailing Street", "Billing Code": an address field after a prefix naming which address."""
    for prefix, rank in ADDRESS_PREFIXES.items():
        if key.startswith(prefix):
            claim = _address_field_claim(key.removeprefix(prefix), aliases)
            if claim:
                return _weakened(claim, rank)
    return None


def _address_field_claim(field: str, aliases: dict[str, _Claim]) -> _Claim | None:
    if field in ADDRESS_ALIASES:
        return aliases[field]
    if field in ADDRESS_ONLY_ALIASES:
        return _Claim(ADDRESS_ONLY_ALIASES[field], 0)
    return None


def _weakened(claim: _Claim, by: int) -> _Claim:
    return _Claim(claim.target, claim.rank + by)


_PART_SEPARATOR = re.compile(r"\s+[-–—]\s+")
_TRAILING_NUMBER = re.compile(r"^(\D+?)(\d+)$")


def _header_parts(header: str) -> list[str]:
    """ "Person - E-mail 1 - Value" -> ["person", "email1", "value"]."""
    text = str(header or "").strip()
    return [compact for part in _PART_SEPARATOR.split(text) if (compact := _compact(part))]


# A file says "Marketing Qualified Lead" thousands of times over: remembered, not refolded.
@functools.lru_cache(maxsize=4096)
def _compact(text: str) -> str:
    """Lower-case letters and digits only: "E-mail", "e_mail" and "Email" all become "email"."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).lower()


def _split_number(key: str) -> tuple[str, int | None]:
    match = _TRAILING_NUMBER.match(key)
    return (match[1], int(match[2])) if match else (key, None)


# Cell values


def _build_lifecycle_stages() -> dict[str, str]:
    stages = {}
    for stage in LifecycleStage:
        stages[_compact(stage.value)] = stage.value
        stages[_compact(stage.label)] = stage.value
    stages.update({
        "marketingqualifiedlead": LifecycleStage.MARKETING_QUALIFIED.value,
        "mql": LifecycleStage.MARKETING_QUALIFIED.value,
        "salesqualifiedlead": LifecycleStage.SALES_QUALIFIED.value,
        "sql": LifecycleStage.SALES_QUALIFIED.value,
        "prospect": LifecycleStage.LEAD.value,
        "newlead": LifecycleStage.LEAD.value,
        "client": LifecycleStage.CUSTOMER.value,
        "customerdirect": LifecycleStage.CUSTOMER.value,
        "customerchannel": LifecycleStage.CUSTOMER.value,
        "advocate": LifecycleStage.EVANGELIST.value,
    })
    return stages


_LIFECYCLE_STAGES = _build_lifecycle_stages()


def _with_choices(choices, words: dict[str, str]) -> dict[str, str]:
    """Each choice by its value and its label, and the other CRMs' words (folded) for it."""
    found = {}
    for item in choices:
        found[_compact(item.value)] = item.value
        found[_compact(item.label)] = item.value
    for word, value in words.items():
        found[_compact(word)] = str(value)
    return found


# HubSpot (hs_lead_status), Salesforce, Zoho and Pipedrive lead statuses.
_LEAD_STATUSES = _with_choices(LeadStatus, {
    "Open": LeadStatus.NEW, "Open - Not Contacted": LeadStatus.NEW,
    "Not Contacted": LeadStatus.NEW, "Unread": LeadStatus.NEW,
    "In Progress": LeadStatus.WORKING, "Working - Contacted": LeadStatus.WORKING,
    "Contacted": LeadStatus.WORKING, "Attempted to Contact": LeadStatus.WORKING,
    "Connected": LeadStatus.WORKING, "Nurturing": LeadStatus.WORKING,
    "Bad Timing": LeadStatus.WORKING, "Contact in Future": LeadStatus.WORKING,
    "Pre-Qualified": LeadStatus.WORKING,
    "Open Deal": LeadStatus.QUALIFIED, "Closed - Converted": LeadStatus.QUALIFIED,
    "Converted": LeadStatus.QUALIFIED, "Sales Qualified": LeadStatus.QUALIFIED,
    "Unqualified": LeadStatus.DISQUALIFIED, "Not Qualified": LeadStatus.DISQUALIFIED,
    "Closed - Not Converted": LeadStatus.DISQUALIFIED, "Junk Lead": LeadStatus.DISQUALIFIED,
    "Lost Lead": LeadStatus.DISQUALIFIED, "Junk": LeadStatus.DISQUALIFIED,
    "Lost": LeadStatus.DISQUALIFIED,
})

# Salesforce's picklist, HubSpot's original sources, Zoho's and Pipedrive's: our sources are
# channels, so a channel of theirs without one of ours is "other".
_LEAD_SOURCES = _with_choices(LeadSource, {
    "Web": LeadSource.WEB_FORM, "Website": LeadSource.WEB_FORM, "Form": LeadSource.WEB_FORM,
    "Online Form": LeadSource.WEB_FORM, "Contact Form": LeadSource.WEB_FORM,
    "Landing Page": LeadSource.WEB_FORM, "Web Download": LeadSource.WEB_FORM,
    "Email Marketing": LeadSource.EMAIL, "Inbound Email": LeadSource.EMAIL,
    "Email Campaign": LeadSource.EMAIL, "E-mail": LeadSource.EMAIL,
    "Referrals": LeadSource.REFERRAL, "Partner Referral": LeadSource.REFERRAL,
    "Employee Referral": LeadSource.REFERRAL, "External Referral": LeadSource.REFERRAL,
    "Customer Referral": LeadSource.REFERRAL, "Word of Mouth": LeadSource.REFERRAL,
    "Partner": LeadSource.REFERRAL,
    "Events": LeadSource.EVENT, "Trade Show": LeadSource.EVENT, "Conference": LeadSource.EVENT,
    "Seminar": LeadSource.EVENT, "Seminar - Internal": LeadSource.EVENT,
    "Seminar - Partner": LeadSource.EVENT, "Webinar": LeadSource.EVENT,
    "Cold Call": LeadSource.COLD_OUTREACH, "Cold Calling": LeadSource.COLD_OUTREACH,
    "Cold Email": LeadSource.COLD_OUTREACH, "Outbound": LeadSource.COLD_OUTREACH,
    "Prospecting": LeadSource.COLD_OUTREACH,
    "Imported": LeadSource.IMPORT, "Purchased List": LeadSource.IMPORT,
    "List Import": LeadSource.IMPORT, "Offline Sources": LeadSource.IMPORT,
    "Integration": LeadSource.API,
    "Others": LeadSource.OTHER, "Advertisement": LeadSource.OTHER,
    "Phone Inquiry": LeadSource.OTHER, "Public Relations": LeadSource.OTHER,
    "Organic Search": LeadSource.OTHER, "Paid Search": LeadSource.OTHER,
    "Direct Traffic": LeadSource.OTHER, "Social Media": LeadSource.OTHER,
    "Organic Social": LeadSource.OTHER, "Paid Social": LeadSource.OTHER,
    "Other Campaigns": LeadSource.OTHER, "Chat": LeadSource.OTHER,
    # Pipedrive's lead origins and Zoho's sources.
    "Web Forms": LeadSource.WEB_FORM, "Web Visitors": LeadSource.WEB_FORM,
    "Online Store": LeadSource.WEB_FORM, "Sales Email Alias": LeadSource.EMAIL,
    "Internal Seminar": LeadSource.EVENT, "Prospector": LeadSource.COLD_OUTREACH,
    "Web Research": LeadSource.COLD_OUTREACH, "Marketplace App": LeadSource.API,
    "Manually Created": LeadSource.OTHER, "Live Chat": LeadSource.OTHER,
    "Chatbot": LeadSource.OTHER, "Workflow Automation": LeadSource.OTHER,
    "Facebook": LeadSource.OTHER, "Twitter": LeadSource.OTHER, "X (Twitter)": LeadSource.OTHER,
    "LinkedIn": LeadSource.OTHER, "AI Referrals": LeadSource.REFERRAL,
})

# Band -> (lowest, highest) head count; None for open-ended.
_SIZE_BANDS = {
    CompanySize.XS.value: (1, 10),
    CompanySize.S.value: (11, 50),
    CompanySize.M.value: (51, 200),
    CompanySize.L.value: (201, 1000),
    CompanySize.XL.value: (1001, 5000),
    CompanySize.XXL.value: (5001, None),
}

def _band_containing(low: int, high: int | None) -> str | None:
    """The band the whole head-count range fits in; a range spanning two bands fits none."""
    for band, (band_low, band_high) in _SIZE_BANDS.items():
        fits_above = band_low <= low
        fits_below = band_high is None or (high is not None and high <= band_high)
        if fits_above and fits_below:
            return band
    return None


_HEAD_COUNT = re.compile(r"^(\d+)(?:(\+)|-(\d+))?$")


def _head_count_range(value: str) -> tuple[int | None, int | None]:
    """ "11 – 50" -> (11, 50); "5,001+" -> (5001, None); "35" -> (35, 35); (None, None) if unreadable."""
    text = re.sub(r"\s*(?:[-–—]|to)\s*", "-", value.strip().lower())
    text = re.sub(r"(?<=\d)[,.\s'’](?=\d{3}\b)", "", text)  # thousands separators: 12,000 / 12.000 / 12 000
    text = re.sub(r"^(\d+)\.0+$", r"\1", text)  # spreadsheets write head counts as 35.0
    match = _HEAD_COUNT.match(text)
    if not match:
        return None, None
    low = int(match[1])
    if match[2]:
        return low, None
    high = int(match[3]) if match[3] else low
    return (low, high) if low <= high else (None, None)
