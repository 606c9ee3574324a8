"""Import column mapping: vendor headers, the one-column-per-field rule, validation and cell values."""

import pytest

from rapport.core.errors import ValidationFailed
from rapport.transfer.mapping import (
    Target,
    company_size_of,
    lifecycle_stage_of,
    suggest,
    targets,
    validate_mapping,
)

HUBSPOT_CONTACTS = {
    "Record ID": "external_id",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Phone Number": "phone",
    "Mobile Phone Number": "phones",
    "Job Title": "title",
    "Company Name": "company",
    "Lifecycle Stage": "lifecycle_stage",
    "Contact owner": "owner",
    "Street Address": "street",
    "City": "city",
    "State/Region": "region",
    "Postal Code": "postal_code",
    "Country/Region": "country",
    "Website URL": "website",
    "Create Date": "",
}

SALESFORCE_CONTACTS = {
    "Contact ID": "external_id",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Title": "title",
    "Account Name": "company",
    "Email": "email",
    "Phone": "phone",
    "Mobile": "phones",
    "Mailing Street": "street",
    "Mailing City": "city",
    "Mailing State/Province": "region",
    "Mailing Zip/Postal Code": "postal_code",
    "Mailing Country": "country",
    "Contact Owner": "owner",
    "Lead Source": "",
}

PIPEDRIVE_PEOPLE = {
    "Person - ID": "external_id",
    "Person - Name": "full_name",
    "Person - Email - Work": "email",
    "Person - Email - Home": "emails",
    "Person - Phone - Work": "phone",
    "Person - Phone - Mobile": "phones",
    "Person - Organization": "company",
    "Person - Owner": "owner",
    "Person - Labels": "tags",
}

ZOHO_CONTACTS = {
    "Record Id": "external_id",
    "First Name": "first_name",
    "Last Name": "last_name",
    "Email": "email",
    "Secondary Email": "emails",
    "Phone": "phone",
    "Mobile": "phones",
    "Title": "title",
    "Account Name": "company",
    "Mailing Street": "street",
    "Mailing City": "city",
    "Mailing State": "region",
    "Mailing Zip": "postal_code",
    "Mailing Country": "country",
    "Contact Owner": "owner",
}

GOOGLE_CONTACTS = {
    "First Name": "first_name",
    "Middle Name": "",
    "Last Name": "last_name",
    "Phonetic First Name": "",
    "Name Prefix": "",
    "Nickname": "",
    "File As": "",
    "Organization Name": "company",
    "Organization Title": "title",
    "Organization Department": "",
    "Birthday": "",
    "Notes": "",
    "Photo": "",
    "Labels": "tags",
    "E-mail 1 - Label": "",
    "E-mail 1 - Value": "email",
    "E-mail 2 - Label": "",
    "E-mail 2 - Value": "emails",
    "Phone 1 - Label": "",
    "Phone 1 - Value": "phone",
    "Phone 2 - Label": "",
    "Phone 2 - Value": "phones",
    "Address 1 - Label": "",
    "Address 1 - Formatted": "",
    "Address 1 - Street": "street",
    "Address 1 - City": "city",
    "Address 1 - PO Box": "",
    "Address 1 - Region": "region",
    "Address 1 - Postal Code": "postal_code",
    "Address 1 - Country": "country",
    "Address 1 - Extended Address": "",
    "Website 1 - Label": "",
    "Website 1 - Value": "website",
}

GOOGLE_CONTACTS_OLD = {
    "Name": "full_name",
    "Given Name": "first_name",
    "Additional Name": "",
    "Family Name": "last_name",
    "Group Membership": "tags",
    "E-mail 1 - Type": "",
    "E-mail 1 - Value": "email",
    "Phone 1 - Type": "",
    "Phone 1 - Value": "phone",
    "Organization 1 - Type": "",
    "Organization 1 - Name": "company",
    "Organization 1 - Title": "title",
    "Organization 1 - Department": "",
}

VCARD_READER = {
    "Full name": "full_name",
    "First name": "first_name",
    "Last name": "last_name",
    "Email": "email",
    "Email 2": "emails",
    "Email 3": "emails",
    "Phone": "phone",
    "Phone 2": "phones",
    "Phone 3": "phones",
    "Organization": "company",
    "Title": "title",
    "Street": "street",
    "City": "city",
    "Region": "region",
    "Postal code": "postal_code",
    "Country": "country",
    "Website": "website",
    "Note": "",
    "Birthday": "",
    "Categories": "tags",
}

HUBSPOT_COMPANIES = {
    "Record ID": "external_id",
    "Company name": "name",
    "Company Domain Name": "domain",
    "Website URL": "website",
    "Industry": "industry",
    "Number of Employees": "size",
    "Phone Number": "phone",
    "City": "city",
    "State/Region": "region",
    "Country/Region": "country",
    "Postal Code": "postal_code",
    "Street Address": "street",
    "Company owner": "owner",
    "Description": "description",
    "LinkedIn Company Page": "linkedin_url",
    "Twitter Handle": "twitter_url",
    "Create Date": "",
    "Facebook Company Page": "",
}

SALESFORCE_ACCOUNTS = {
    "Account ID": "external_id",
    "Account Name": "name",
    "Website": "website",
    "Industry": "industry",
    "Employees": "size",
    "Phone": "phone",
    "Billing Street": "street",
    "Billing City": "city",
    "Billing State/Province": "region",
    "Billing Zip/Postal Code": "postal_code",
    "Billing Country": "country",
    "Account Owner": "owner",
    "Description": "description",
}

PIPEDRIVE_ORGANIZATIONS = {
    "Organization - ID": "external_id",
    "Organization - Name": "name",
    "Organization - Address": "street",
    "Organization - Owner": "owner",
    "Organization - Labels": "tags",
}

ZOHO_ACCOUNTS = {
    "Record Id": "external_id",
    "Account Name": "name",
    "Website": "website",
    "Industry": "industry",
    "Employees": "size",
    "Phone": "phone",
    "Billing Street": "street",
    "Billing City": "city",
    "Billing State": "region",
    "Billing Code": "postal_code",
    "Billing Country": "country",
    "Account Owner": "owner",
    "Description": "description",
}

VENDOR_EXPORTS = [
    pytest.param("contact", HUBSPOT_CONTACTS, id="hubspot-contacts"),
    pytest.param("contact", SALESFORCE_CONTACTS, id="salesforce-contacts"),
    pytest.param("contact", PIPEDRIVE_PEOPLE, id="pipedrive-people"),
    pytest.param("contact", ZOHO_CONTACTS, id="zoho-contacts"),
    pytest.param("contact", GOOGLE_CONTACTS, id="google-contacts"),
    pytest.param("contact", GOOGLE_CONTACTS_OLD, id="google-contacts-old"),
    pytest.param("contact", VCARD_READER, id="vcard-reader"),
    pytest.param("company", HUBSPOT_COMPANIES, id="hubspot-companies"),
    pytest.param("company", SALESFORCE_ACCOUNTS, id="salesforce-accounts"),
    pytest.param("company", PIPEDRIVE_ORGANIZATIONS, id="pipedrive-organizations"),
    pytest.param("company", ZOHO_ACCOUNTS, id="zoho-accounts"),
]


@pytest.mark.parametrize(("object_type", "expected"), VENDOR_EXPORTS)
def test_vendor_export_headers_are_mapped(object_type, expected):
    assert suggest(list(expected), object_type) == expected


@pytest.mark.parametrize(("object_type", "expected"), VENDOR_EXPORTS)
def test_a_suggested_mapping_passes_validation(object_type, expected):
    headers = list(expected)
    assert validate_mapping(suggest(headers, object_type), headers, object_type) == expected


@pytest.mark.parametrize("object_type", ["contact", "company"])
def test_our_own_export_headers_round_trip(object_type):
    fields = targets(object_type)
    labels = [target.label for target in fields]
    assert suggest(labels, object_type) == {target.label: target.key for target in fields}
    keys = [target.key for target in fields]
    assert suggest(keys, object_type) == {key: key for key in keys}


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("first_name", "first_name"),
        ("FirstName", "first_name"),
        ("  FIRST   NAME ", "first_name"),
        ("E-Mail", "email"),
        ("e_mail_address", "email"),
        ("Émail", "email"),
        ("Person - Email", "email"),
        ("Postal address - City/town/village/locality", "city"),
        ("Home Street", "street"),
        ("Zip Code", "postal_code"),
        ("lifecyclestage", "lifecycle_stage"),
        ("LinkedIn", "linkedin_url"),
        ("Code", ""),
        ("Fax", ""),
        ("", ""),
    ],
)
def test_headers_are_compared_folded(header, target):
    assert suggest([header], "contact") == {header: target}


def test_a_single_target_goes_to_the_best_column_and_the_others_overflow():
    assert suggest(["Secondary Email", "Email"], "contact") == {"Secondary Email": "emails", "Email": "email"}
    assert suggest(["Mobile Phone Number", "Phone Number"], "contact") == {
        "Mobile Phone Number": "phones",
        "Phone Number": "phone",
    }
    assert suggest(["Email 2", "Email"], "contact") == {"Email 2": "emails", "Email": "email"}


def test_a_weaker_claim_wins_when_it_is_alone():
    assert suggest(["Mobile"], "contact") == {"Mobile": "phone"}
    assert suggest(["Person - Email - Home"], "contact") == {"Person - Email - Home": "email"}
    assert suggest(["Other Street"], "contact") == {"Other Street": "street"}


def test_a_second_column_for_a_field_without_overflow_is_not_imported():
    mapping = suggest(["First Name", "Given Name", "Address 1 - City", "Address 2 - City"], "contact")
    assert mapping == {
        "First Name": "first_name",
        "Given Name": "",
        "Address 1 - City": "city",
        "Address 2 - City": "",
    }
    assert suggest(["Mailing City", "Other City"], "contact") == {"Mailing City": "city", "Other City": ""}


def test_multi_targets_take_every_column():
    mapping = suggest(["Tags", "Labels", "Categories"], "contact")
    assert set(mapping.values()) == {"tags"}


def test_the_same_header_means_different_fields_for_contacts_and_companies():
    assert suggest(["Name", "Account Name"], "contact") == {"Name": "full_name", "Account Name": "company"}
    assert suggest(["Name", "Employees"], "company") == {"Name": "name", "Employees": "size"}
    assert suggest(["Email"], "company") == {"Email": ""}


CUSTOM = [("favourite_colour", "Favourite colour"), ("nps", "Net promoter score")]


def test_custom_fields_are_targets_after_the_built_in_ones():
    fields = targets("contact", CUSTOM)
    assert fields[-2:] == [
        Target("custom:favourite_colour", "Favourite colour"),
        Target("custom:nps", "Net promoter score"),
    ]
    assert fields[0] == Target("first_name", "First name")
    assert Target("emails", "Further emails", multi=True) in fields


def test_custom_fields_match_by_label_or_key():
    headers = ["Favourite Colour", "NPS", "Shoe size"]
    assert suggest(headers, "contact", CUSTOM) == {
        "Favourite Colour": "custom:favourite_colour",
        "NPS": "custom:nps",
        "Shoe size": "",
    }
    assert suggest(["Net promoter score", "favourite_colour"], "company", CUSTOM) == {
        "Net promoter score": "custom:nps",
        "favourite_colour": "custom:favourite_colour",
    }


def test_a_custom_field_does_not_steal_a_built_in_header():
    assert suggest(["Email"], "contact", [("email", "Email")]) == {"Email": "email"}


def test_an_unknown_object_type_is_refused():
    with pytest.raises(ValueError, match="deal"):
        targets("deal")


def mapping_errors(mapping, headers, object_type="contact", custom_fields=()):
    with pytest.raises(ValidationFailed) as raised:
        validate_mapping(mapping, headers, object_type, custom_fields)
    assert list(raised.value.fields) == ["mapping"]
    return raised.value.fields["mapping"]


def test_validation_fills_in_the_columns_left_out():
    headers = ["Email", "Nickname", "Shoe size"]
    cleaned = validate_mapping({"Email": "email", "Shoe size": None}, headers, "contact")
    assert cleaned == {"Email": "email", "Nickname": "", "Shoe size": ""}
    assert list(cleaned) == headers


def test_validation_accepts_custom_and_multi_targets():
    headers = ["Name", "Tag 1", "Tag 2", "Colour"]
    mapping = {"Name": "full_name", "Tag 1": "tags", "Tag 2": "tags", "Colour": "custom:favourite_colour"}
    assert validate_mapping(mapping, headers, "contact", CUSTOM) == mapping


def test_an_unknown_column_is_named():
    errors = mapping_errors({"Email": "email", "Emial": "emails"}, ["Email"])
    assert len(errors) == 1
    assert '"Emial"' in errors[0]


def test_an_unknown_target_names_the_column_and_the_target():
    mapping = {"Email": "email", "Colour": "custom:colour"}
    errors = mapping_errors(mapping, ["Email", "Colour"], custom_fields=CUSTOM)
    assert len(errors) == 1
    assert '"Colour"' in errors[0]
    assert "custom:colour" in errors[0]


def test_a_company_target_is_unknown_for_contacts():
    errors = mapping_errors({"Email": "email", "Industry": "industry"}, ["Email", "Industry"])
    assert '"Industry"' in errors[0]


def test_a_single_target_used_twice_names_both_columns():
    errors = mapping_errors({"Email": "email", "Work email": "email"}, ["Email", "Work email"])
    assert len(errors) == 1
    assert '"Email"' in errors[0]
    assert '"Work email"' in errors[0]
    assert "Email" in errors[0]


@pytest.mark.parametrize("target", ["first_name", "last_name", "full_name", "email"])
def test_a_contact_mapping_needs_a_name_or_an_email(target):
    assert validate_mapping({"A": target}, ["A", "B"], "contact") == {"A": target, "B": ""}


def test_a_contact_mapping_without_a_name_or_email_is_refused():
    errors = mapping_errors({"Phone": "phone"}, ["Phone", "City"])
    assert len(errors) == 1
    assert errors[0].startswith("Map a column to First name, Last name, Full name or Email")


def test_a_company_mapping_without_a_name_is_refused():
    errors = mapping_errors({"Domain": "domain"}, ["Domain"], "company")
    assert len(errors) == 1
    assert "Name" in errors[0]


def test_every_mistake_is_reported_at_once():
    headers = ["Phone", "Mobile", "Colour"]
    mapping = {"Phone": "phone", "Mobile": "phone", "Colour": ["custom:colour"], "Fax": "phones"}
    errors = mapping_errors(mapping, headers)
    assert len(errors) == 4
    assert any('"Fax"' in error for error in errors)
    assert any('"Colour"' in error for error in errors)
    assert any('"Phone" and "Mobile"' in error for error in errors)
    assert any(error.startswith("Map a column to") for error in errors)


def test_a_mapping_that_is_not_an_object_is_refused():
    assert mapping_errors(["Email"], ["Email"])


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("subscriber", "subscriber"),
        ("Lead", "lead"),
        ("marketing_qualified", "marketing_qualified"),
        ("Marketing qualified", "marketing_qualified"),
        ("Marketing Qualified Lead", "marketing_qualified"),
        ("marketingqualifiedlead", "marketing_qualified"),
        ("MQL", "marketing_qualified"),
        ("Sales Qualified Lead", "sales_qualified"),
        ("salesqualifiedlead", "sales_qualified"),
        ("SQL", "sales_qualified"),
        ("OPPORTUNITY", "opportunity"),
        ("Customer", "customer"),
        ("Evangelist", "evangelist"),
        ("Other", "other"),
        ("Prospect", "lead"),
        ("Client", "customer"),
        ("Customer - Direct", "customer"),
        (" customer ", "customer"),
    ],
)
def test_lifecycle_stages_from_other_crms(value, stage):
    assert lifecycle_stage_of(value) == stage


@pytest.mark.parametrize("value", ["", "Churned", "Partner", "qualified"])
def test_an_unknown_lifecycle_stage_is_none(value):
    assert lifecycle_stage_of(value) is None


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("1-10", "1-10"),
        ("11–50", "11-50"),
        ("11 - 50", "11-50"),
        ("51-200", "51-200"),
        ("201-1000", "201-1000"),
        ("201–1,000", "201-1000"),
        ("1001-5000", "1001-5000"),
        ("1,001–5,000", "1001-5000"),
        ("5001+", "5001+"),
        ("5,001+", "5001+"),
        ("10,001+", "5001+"),
        ("2-10", "1-10"),
        ("201-500", "201-1000"),
        ("11 to 50", "11-50"),
        ("35", "11-50"),
        ("35.0", "11-50"),
        ("1", "1-10"),
        ("200", "51-200"),
        ("12,000", "5001+"),
        ("12.000", "5001+"),
        ("12 000", "5001+"),
    ],
)
def test_company_sizes(value, size):
    assert company_size_of(value) == size


@pytest.mark.parametrize("value", ["", "0", "many", "1-50", "1000+", "50-10", "1.5", "-5"])
def test_an_unrecognised_company_size_is_none(value):
    assert company_size_of(value) is None
