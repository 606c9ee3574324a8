"""Countries as people type them -> ISO 3166-1 alpha-2 codes.

Imports call `normalise_country` once per row, so the names are folded into one dict the first time it
is needed and every later call is a fold plus a dict lookup (skipped for spellings seen recently).
pycountry supplies the standard codes and names; the hand-written tables below add what people
actually write ("UK", "Holland", "Deutschland").
"""

import functools
import re
import unicodedata

import pycountry

UNKNOWN_MESSAGE = "Unknown country: {value}. Enter a country name or an ISO code such as DE."

# Everyday names that are not in ISO 3166 (or are, but spelled differently there).
COMMON_NAMES = {
    "US": ["USA", "U.S.A.", "U.S.", "United States", "America"],
    "GB": ["UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales", "Northern Ireland"],
    "NL": ["Holland", "The Netherlands"],
    "KR": ["South Korea", "Korea", "Republic of Korea"],
    "KP": ["North Korea"],
    "RU": ["Russia"],
    "IR": ["Iran", "Persia"],
    "VN": ["Vietnam"],
    "CZ": ["Czech Republic", "Czechia"],
    "CI": ["Ivory Coast"],
    "TR": ["Turkey"],
    "CV": ["Cape Verde"],
    "SZ": ["Swaziland"],
    "MK": ["Macedonia"],
    "MM": ["Burma"],
    "TL": ["East Timor"],
    "VA": ["Vatican", "Vatican City"],
    "BN": ["Brunei"],
    "MO": ["Macau"],
    "AE": ["UAE", "U.A.E.", "Emirates"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of the Congo", "Congo-Kinshasa", "Zaire"],
    "CG": ["Republic of the Congo", "Congo-Brazzaville"],
    "BA": ["Bosnia"],
    "FK": ["Falklands", "Falkland Islands"],
    "AX": ["Aland"],
    "LA": ["Laos"],
    "SY": ["Syria"],
    # Kosovo has no ISO code yet; XK is the code everyone (phonenumbers included) uses for it.
    "XK": ["XK", "XKX", "Kosovo"],
}

# The country's own name in its main language(s), for the markets our users mostly import from.
NATIVE_NAMES = {
    "DE": ["Deutschland"],
    "AT": ["Österreich", "Oesterreich"],
    "CH": ["Schweiz", "Suisse", "Svizzera"],
    "ES": ["España"],
    "MX": ["México"],
    "BR": ["Brasil"],
    "IT": ["Italia"],
    "NL": ["Nederland"],
    "BE": ["België", "Belgique", "Belgien"],
    "SE": ["Sverige"],
    "NO": ["Norge", "Noreg"],
    "DK": ["Danmark"],
    "FI": ["Suomi"],
    "PL": ["Polska"],
    "IE": ["Éire"],
    "CZ": ["Česko", "Česká republika"],
    "SK": ["Slovensko"],
    "SI": ["Slovenija"],
    "HR": ["Hrvatska"],
    "HU": ["Magyarország"],
    "GR": ["Ελλάδα", "Hellas"],
    "LU": ["Lëtzebuerg", "Luxemburg"],
    "IS": ["Ísland"],
    "EE": ["Eesti"],
    "LV": ["Latvija"],
    "LT": ["Lietuva"],
    "UA": ["Україна", "Ukraina"],
    "RU": ["Россия"],
    "TR": ["Türkiye"],
    "JP": ["日本", "Nippon", "Nihon"],
    "CN": ["中国"],
    "KR": ["대한민국", "한국"],
    "IN": ["Bharat"],
}

_SEPARATORS = re.compile(r"[\W_]+")
# "St Lucia" and "Saint Lucia", "The Gambia" and "Gambia" are the same country.
_WORD_SWAPS = {"st": "saint", "ste": "sainte"}
_DROPPED_WORDS = {"", "the"}


def normalise_country(value: str) -> str:
    """ISO 3166-1 alpha-2 ("DE") from a code, a name or a common name; "" for empty, ValueError if unknown."""
    if not value or not value.strip():
        return ""
    code = _code_for(value)
    if code is None:
        raise ValueError(UNKNOWN_MESSAGE.format(value=value.strip()))
    return code


# A file repeats a handful of spellings thousands of times; remembering them skips the fold.
@functools.lru_cache(maxsize=4096)
def _code_for(value: str) -> str | None:
    return _lookup_table().get(_fold(value))


def _fold(value: str) -> str:
    """Case, accents, punctuation, spacing, "&"/"and", "St"/"Saint" and "the" stop mattering."""
    text = value.lower()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    if text.isalpha():
        return text
    words = _SEPARATORS.split(text.replace("&", " and "))
    return "".join(_WORD_SWAPS.get(word, word) for word in words if word not in _DROPPED_WORDS)


@functools.cache
def _lookup_table() -> dict[str, str]:
    # Later layers win: a code beats any name, a hand-written name beats a derived one.
    table = _derived_names()
    for country in pycountry.countries:
        for name in _standard_names(country):
            table[_fold(name)] = country.alpha_2
    for names_by_code in (COMMON_NAMES, NATIVE_NAMES):
        for code, names in names_by_code.items():
            table.update((_fold(name), code) for name in names)
    for country in pycountry.countries:
        table[_fold(country.alpha_3)] = country.alpha_2
        table[_fold(country.alpha_2)] = country.alpha_2
    return table


def _standard_names(country) -> list[str]:
    names = (country.name, getattr(country, "official_name", None), getattr(country, "common_name", None))
    return [name for name in names if name]


def _derived_names() -> dict[str, str]:
    """Word-order variants of ISO names ("Korea, Republic of" -> "Republic of Korea", "Korea").

    A variant that two countries share ("Virgin Islands", "Korea") is left out: it names neither.
    """
    codes_by_variant: dict[str, set[str]] = {}
    for country in pycountry.countries:
        for name in _standard_names(country):
            for variant in _variants(name):
                codes_by_variant.setdefault(_fold(variant), set()).add(country.alpha_2)
    return {variant: codes.pop() for variant, codes in codes_by_variant.items() if len(codes) == 1}


def _variants(name: str) -> list[str]:
    without_brackets = re.sub(r"\s*\(.*?\)", "", name)
    variants = [without_brackets]
    head, comma, tail = without_brackets.partition(", ")
    if comma:
        variants += [f"{tail} {head}", head]
    return variants
