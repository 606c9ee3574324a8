"""Normalising what people type: emails, phones, URLs, domains, names."""

import re
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from django.conf import settings
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

# phonenumbers otherwise looks each metadata pattern up in the re module's small cache, about
# ten times a number: keeping them compiled makes a number 3-4 µs faster (imports check a million).
phonenumbers.enable_pattern_cache()

# The everyday address (ASCII dot-atom at a host name): what email-validator accepts and how it
# writes it, checked in a few microseconds instead of 35 (imports check a million). Anything
# else, international addresses included, goes through email-validator itself.
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_PLAIN_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def _plain_domain(email: str) -> bool:
    """Not a special-use name (.test, .local...) nor a label IDNA reserves ("xn--", "ab--")."""
    labels = email.rpartition("@")[2].split(".")
    return labels[-1] not in _SPECIAL_USE and not any(label[2:4] == "--" for label in labels)


def normalise_email(value: str) -> str:
    """Syntax-checked (no DNS) and lower-cased; raises ValueError with the reason."""
    value = (value or "").strip()
    if not value:
        return ""
    lowered = value.lower()
    if _PLAIN_EMAIL.fullmatch(lowered) and len(lowered) <= 254 and _plain_domain(lowered):
        return lowered
    try:
        result = validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return result.normalized.lower()


def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164 (`+14155550123`); numbers without a country code use the default region."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError("Enter a valid phone number.") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValueError("Enter a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str) -> str:
    """E.164 shown the international way (`+1 415-555-0123`)."""
    if not value:
        return ""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return value


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def normalise_url(value: str) -> str:
    """An http(s) URL with a lower-case host; `example.com` becomes `https://example.com`."""
    value = (value or "").strip()
    if not value:
        return ""
    if not _SCHEME.match(value):
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or "." not in parts.hostname:
        raise ValueError("Enter a valid URL.")
    netloc = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalise_domain(value: str) -> str:
    """A bare host name: `https://www.Example.com/about` becomes `example.com`."""
    value = (value or "").strip().lower()
    if not value:
        return ""
    if "://" in value or "/" in value:
        value = urlsplit(value if "://" in value else "https://" + value).hostname or ""
    value = value.removeprefix("www.")
    if not _DOMAIN.match(value):
        raise ValueError("Enter a valid domain, such as example.com.")
    return value


# Addresses at these domains say nothing about the company a person works for: no company
# domain is derived from them, and the duplicate scan does not group people by them.
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
    "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net", "web.de", "proton.me",
    "protonmail.com", "yandex.ru", "mail.ru", "qq.com", "163.com", "orange.fr", "free.fr",
    "mail.example",
    "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "ymail.com", "rocketmail.com",
    "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.es", "hotmail.it", "live.co.uk",
    "live.fr", "live.de", "msn.com", "outlook.de", "outlook.fr", "pm.me", "gmx.com", "gmx.at",
    "gmx.ch", "mail.com", "fastmail.com", "tutanota.com", "tuta.io", "hey.com", "zoho.com",
    "laposte.net", "sfr.fr", "wanadoo.fr", "libero.it", "virgilio.it", "t-online.de",
    "seznam.cz", "wp.pl", "o2.pl", "naver.com", "daum.net", "rediffmail.com", "126.com",
    "sina.com", "yandex.com", "bk.ru", "inbox.ru", "list.ru", "rambler.ru", "btinternet.com",
    "comcast.net", "att.net", "verizon.net", "sbcglobal.net", "bigpond.com", "shaw.ca",
    "mac.com", "aim.com", "protonmail.ch", "yahoo.ca", "yahoo.co.jp", "yahoo.co.in", "yahoo.in",
    "yahoo.com.au", "yahoo.com.br", "yahoo.com.mx", "hotmail.ca", "hotmail.nl", "hotmail.be",
    "live.nl", "live.be", "live.ca", "live.com.au", "outlook.es", "outlook.it", "outlook.com.br",
    "gmx.fr", "mail.de", "posteo.de", "freenet.de", "online.de", "arcor.de", "kpnmail.nl",
    "ziggo.nl", "telenet.be", "skynet.be", "bluewin.ch", "tiscali.it", "alice.it", "ntlworld.com",
    "sky.com", "virginmedia.com", "talktalk.net", "rogers.com", "sympatico.ca", "cox.net",
    "charter.net", "earthlink.net", "juno.com", "optusnet.com.au", "iinet.net.au", "rediff.com",
    "foxmail.com", "yeah.net", "139.com", "hanmail.net", "nate.com", "ya.ru", "yandex.ua",
})


def email_domain(email: str) -> str:
    """The company domain an address says, or "" for a free-mail address (gmail.com...)."""
    domain = email.rpartition("@")[2].lower() if "@" in (email or "") else ""
    return "" if not domain or domain in FREE_MAIL_DOMAINS else domain


def domain_of_url(url: str) -> str:
    try:
        return normalise_domain(url)
    except ValueError:
        return ""


def clean_text(value) -> str:
    """Trimmed, with runs of whitespace inside collapsed."""
    return " ".join(str(value or "").split())


# Lower-case inside a name ("Ludwig van Beethoven"), unless the name starts with them.
_NAME_LIKE = re.compile(r"^[^\W\d_]+(?:[ .'’-]+[^\W\d_]+)*\.?$")
_NAME_PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "y"}


def tidy_person_name(value: str) -> str:
    """Trimmed; title-cased only when typed all in capitals or all in lower case, so
    "ADA LOVELACE" and "ada lovelace" become "Ada Lovelace" while "McDonald" stays."""
    value = clean_text(value)
    if not (value.isupper() or value.islower()) or not _NAME_LIKE.match(value):
        return value
    words = value.lower().split(" ")
    return " ".join(
        word if index and word in _NAME_PARTICLES else _title_word(word)
        for index, word in enumerate(words))


def _title_word(word: str) -> str:
    # "o'brien" -> "O'Brien", "jean-luc" -> "Jean-Luc"
    return re.sub(r"(^|[-'’.])(\w)", lambda m: m.group(1) + m.group(2).upper(), word)
