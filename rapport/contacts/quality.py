"""Data quality: what is missing or wrong in contacts and companies.

Each problem is one condition used twice: as a list filter (`/contacts/?problem=no_email`,
the same on the API), so the data-quality page links to exactly the records it counted, and
in `quality_summary`, which counts every problem of an object type in one query.
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.urls import reverse

from rapport.contacts.models import Contact

# E.164 as normalise_phone writes it. [0-9] rather than \d, and \A...\Z rather than ^...$:
# Python's `$` (which SQLite's REGEXP runs) also matches before a trailing newline and its
# `\d` matches any Unicode digit, so only this spelling means the same on both engines.
E164 = r"\A\+[1-9][0-9]{6,14}\Z"


@dataclass(frozen=True)
class Problem:
    label: str
    why: str
    condition: Callable[[], Q]


def _invalid_phone() -> Q:
    # Records from before normalisation, or written by raw SQL, can hold "(415) 555-0123".
    return ~Q(phone="") & ~Q(phone__regex=E164)


def _invalid_email() -> Q:
    # normalise_email lower-cases and checks the syntax; a mixed-case copy of an address also
    # slips past the duplicate checks, which compare emails exactly. (SQLite's LOWER folds
    # ASCII only, so there an "É" is not flagged; PostgreSQL flags it.)
    return ~Q(email="") & (~Q(email__contains="@") | ~Q(email=Lower("email")))


def _company_without_contacts() -> Q:
    live_contacts = Contact.all_objects.filter(company=OuterRef("pk"), deleted_at__isnull=True)
    return Q(~Exists(live_contacts))


CONTACT_PROBLEMS: dict[str, Problem] = {
    "no_email": Problem(
        "Contacts without an email",
        "Campaigns and sequences cannot reach them, and imports cannot match them.",
        lambda: Q(email="")),
    "invalid_email": Problem(
        "Contacts with an invalid email",
        "Mail to them bounces, and mixed-case copies slip past the duplicate checks.",
        _invalid_email),
    "invalid_phone": Problem(
        "Contacts with an invalid phone",
        "Numbers not in international form cannot be dialled or matched to calls.",
        _invalid_phone),
    "no_owner": Problem(
        "Contacts without an owner",
        "Nobody follows them up, and sellers who see only their own records never see them.",
        lambda: Q(owner__isnull=True)),
    "no_name": Problem(
        "Contacts without a name",
        "Lists, search and email greetings show them as an address or a number.",
        lambda: Q(first_name="", last_name="")),
    "no_company": Problem(
        "Contacts without a company",
        "Company pages and reports by account leave them out.",
        lambda: Q(company__isnull=True)),
    "no_country": Problem(
        "Contacts without a country",
        "Phone formats, time zones and privacy rules depend on where they are.",
        lambda: Q(country="")),
}

COMPANY_PROBLEMS: dict[str, Problem] = {
    "no_domain": Problem(
        "Companies without a domain",
        "The domain is what matches people's email addresses to their company.",
        lambda: Q(domain="")),
    "invalid_phone": Problem(
        "Companies with an invalid phone",
        "Numbers not in international form cannot be dialled or matched to calls.",
        _invalid_phone),
    "no_owner": Problem(
        "Companies without an owner",
        "Nobody looks after the account, and team-scoped users never see it.",
        lambda: Q(owner__isnull=True)),
    "no_contacts": Problem(
        "Companies without contacts",
        "There is nobody to talk to there: add the people, or move it to the trash.",
        _company_without_contacts),
}


def list_filters(problems: dict[str, Problem]) -> dict[str, Callable[[], Q]]:
    """The problems as a ListSpec takes them: name -> condition."""
    return {name: problem.condition for name, problem in problems.items()}


def quality_summary(*, user, extra: list[dict] | None = None) -> list[dict]:
    """Each problem of each object type with how many of the records `user` can see have it:
    `object_type`, `problem`, `label`, `why`, `count`, `total` (the records of that type the
    user can see) and `url` (the list, filtered to those records). One query per object type.

    `extra` is the hook for checks that live elsewhere, such as open duplicate pairs once the
    duplicates feature has its model: the caller counts them and passes rows of the same shape
    (at least `label`, `count` and `url`), which come after the built-in ones.
    """
    # Imported here because selectors builds its list specs from the problems above.
    from rapport.contacts.selectors import company_visible, contact_visible

    rows = [
        *_rows("contact", contact_visible(user=user), CONTACT_PROBLEMS, "contacts:list"),
        *_rows("company", company_visible(user=user), COMPANY_PROBLEMS, "companies:list"),
    ]
    for row in extra or ():
        rows.append({"object_type": "", "problem": "", "why": "", "total": None, **row})
    return rows


def _rows(object_type: str, visible, problems: dict[str, Problem], list_url: str) -> list[dict]:
    counts = visible.order_by().aggregate(
        total=Count("id"),
        **{name: Count("id", filter=problem.condition()) for name, problem in problems.items()},
    )
    base = reverse(list_url)
    return [
        {"object_type": object_type, "problem": name, "label": problem.label, "why": problem.why,
         "count": counts[name], "total": counts["total"],
         "url": f"{base}?{urlencode({'problem': name})}"}
        for name, problem in problems.items()
    ]
