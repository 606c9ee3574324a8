"""Normalisation properties (hypothesis): idempotent, canonical, never crashing."""

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport.core import normalise as normalise_module
from rapport.core.cleaning import text
from rapport.core.normalise import normalise_domain, normalise_email, normalise_phone, normalise_url
from rapport.core.search import fold, terms

emails = st.emails()


@given(emails)
def test_a_normalised_email_is_lower_case_and_stable(email):
    try:
        once = normalise_email(email)
    except ValueError:
        return  # hypothesis makes some addresses with reserved domains; those are refused
    assert once == once.lower()
    assert normalise_email(once) == once
    assert normalise_email(once.upper()) == once


@given(st.text(max_size=300))
def test_email_normalisation_never_crashes(value):
    try:
        normalise_email(value)
    except ValueError as exc:
        assert str(exc)


@given(st.sampled_from(["US", "GB", "DE", "FR", "ES", "JP", "BR", "IN"]), st.data())
def test_valid_numbers_become_e164_and_stay_so(region, data):
    example = phonenumbers.example_number(region)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    e164 = normalise_phone(national, region)
    assert e164 == phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert normalise_phone(e164) == e164


@given(st.text(max_size=60))
def test_phone_normalisation_returns_e164_or_refuses(value):
    try:
        result = normalise_phone(value)
    except ValueError:
        return
    assert result == "" or (result.startswith("+") and result[1:].isdigit())


@given(st.text(max_size=200))
def test_url_and_domain_normalisation_never_crash(value):
    for normaliser in (normalise_url, normalise_domain):
        try:
            result = normaliser(value)
        except ValueError as exc:
            assert str(exc)
        else:
            assert result == normaliser(result)  # normalising twice changes nothing


@pytest.mark.parametrize(("raw", "url", "domain"), [
    ("Example.COM", "https://example.com", "example.com"),
    ("http://www.Shop.example.co.uk/path?q=1", "http://www.shop.example.co.uk/path?q=1",
     "shop.example.co.uk"),
])
def test_urls_and_domains(raw, url, domain):
    assert normalise_url(raw) == url
    assert normalise_domain(raw) == domain


@given(st.text(max_size=200))
def test_search_terms_are_safe_for_both_engines(value):
    for term in terms(value):
        assert term and all(c.isalnum() or c == "_" for c in term)
        assert term == fold(term)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(
    st.sampled_from(["first_name", "last_name", "email", "phone", "title", "lifecycle_stage",
                     "emails", "tags", "country", "website", "company_id", "custom_fields"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40),
              st.lists(st.text(max_size=10), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                         st.integers(), max_size=2)),
    max_size=6,
))
def test_the_api_answers_any_body_with_a_record_or_a_clear_error(org, api, body):
    from rapport.contacts.models import Contact

    before = Contact.all_objects.count()
    response = api().post("/contacts", body)
    assert response.status_code in {201, 409, 422}, (body, response.content)
    if response.status_code == 201:
        assert Contact.all_objects.count() == before + 1
    else:
        assert response.json()["error"]["message"]
        assert Contact.all_objects.count() == before


@given(st.from_regex(normalise_module._PLAIN_EMAIL, fullmatch=True))
def test_the_fast_path_for_plain_emails_agrees_with_email_validator(email):
    """Every address the fast path takes, email-validator takes too, written the same way."""
    try:
        expected = validate_email(email, check_deliverability=False,
                                  globally_deliverable=False).normalized.lower()
    except EmailNotValidError:
        expected = None
    if len(email) > 254:
        return
    if expected is None:
        with pytest.raises(ValueError):
            normalise_email(email)
    else:
        assert normalise_email(email) == expected


def test_text_drops_nul_characters_which_postgresql_refuses():
    assert text(20)("Ada\x00 Lovelace\x00") == "Ada Lovelace"
    assert text(20, multiline=True)("line\x00\nnext") == "line\nnext"
