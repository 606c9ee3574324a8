"""Country normalisation: codes, names and what people type -> ISO 3166-1 alpha-2."""


import phonenumbers
import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rapport.core.countries import normalise_country

COUNTRIES = list(pycountry.countries)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        (" deu ", "DE"),
        ("Germany", "DE"),
        ("GERMANY", "DE"),
        ("Federal Republic of Germany", "DE"),
        ("United States of America", "US"),
        ("United States", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("U.S.", "US"),
        ("America", "US"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("North Korea", "KP"),
        ("Russia", "RU"),
        ("Iran", "IR"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Ivory Coast", "CI"),
        ("Côte d'Ivoire", "CI"),
        ("cote d'ivoire", "CI"),
        ("COTE D IVOIRE", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Bosnia & Herzegovina", "BA"),
        ("St. Lucia", "LC"),
        ("The Gambia", "GM"),
        ("British Virgin Islands", "VG"),
        ("Bolivia", "BO"),
        ("Kosovo", "XK"),
        ("Deutschland", "DE"),
        ("Österreich", "AT"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("España", "ES"),
        ("espana", "ES"),
        ("México", "MX"),
        ("Brasil", "BR"),
        ("Italia", "IT"),
        ("Nederland", "NL"),
        ("België", "BE"),
        ("Belgique", "BE"),
        ("Sverige", "SE"),
        ("Norge", "NO"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Polska", "PL"),
        ("Éire", "IE"),
        ("日本", "JP"),
    ],
)
def test_what_people_type(value, code):
    assert normalise_country(value) == code


@pytest.mark.parametrize("value", ["", "   ", None])
def test_empty_is_empty(value):
    assert normalise_country(value) == ""


@pytest.mark.parametrize("value", ["EU", "Europe", "XX", "Korea, Republic", "Virgin Islands", "Germanyy"])
def test_unknown_countries_are_refused(value):
    with pytest.raises(ValueError) as raised:
        normalise_country(value)
    assert str(raised.value) == f"Unknown country: {value}. Enter a country name or an ISO code such as DE."


@given(st.sampled_from(COUNTRIES))
def test_every_iso_country_is_found_by_its_codes_and_name(country):
    code = country.alpha_2
    assert normalise_country(code) == code
    assert normalise_country(code.lower()) == code
    assert normalise_country(country.alpha_3) == code
    assert normalise_country(country.name) == code
    assert normalise_country(country.name.upper()) == code


def test_every_iso_name_leads_to_its_own_country():
    # Exhaustive companion to the property: a hand-written alias must never shadow another country's name.
    for country in COUNTRIES:
        names = (country.name, getattr(country, "official_name", None), getattr(country, "common_name", None))
        for name in filter(None, names):
            assert normalise_country(name) == country.alpha_2, name


def test_results_are_regions_the_rest_of_the_app_accepts_except_uninhabited_territories():
    uninhabited = {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}
    unsupported = {c.alpha_2 for c in COUNTRIES} - set(phonenumbers.SUPPORTED_REGIONS)
    assert unsupported <= uninhabited
    assert normalise_country("Kosovo") in phonenumbers.SUPPORTED_REGIONS
