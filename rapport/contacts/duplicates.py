"""Finding duplicates across the whole database, and the review queue's decisions.

Comparing every record with every other is quadratic; the scan compares only records that
share a blocking key, so it stays near linear:

- the same email, or the same phone (grouped by the database itself);
- contacts at the same company, or at the same (non-webmail) email domain, whose last names
  start alike: their full names are compared with rapidfuzz;
- companies whose names, without legal suffixes ("Inc", "GmbH"), start alike.

Each pair gets a score (100 = certainly the same) and the reasons, and waits in the review
queue, best first, until someone merges it or marks it "not a duplicate" (remembered).
"""

import datetime
import itertools
import re
import time
from collections import defaultdict

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from rapidfuzz import fuzz

from rapport.contacts.models import Company, Contact, DuplicatePair, DuplicateScan, DuplicateStatus
from rapport.contacts.selectors import company_visible, contact_visible
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.normalise import FREE_MAIL_DOMAINS
from rapport.core.permissions import require_admin
from rapport.core.search import fold

NAME_THRESHOLD = 88
MAX_GROUP = 50          # a key shared by more records than this says nothing about any two
SCORES = {"email": 100, "phone": 90, "domain": 95}
LEGAL_SUFFIXES = re.compile(
    r"\b(inc|incorporated|llc|ltd|limited|plc|gmbh|ag|sa|sas|sarl|bv|nv|oy|ab|as|spa|srl|co|corp|"
    r"corporation|company|group|holding|holdings)\b\.?", re.I)
MODELS = {"contact": Contact, "company": Company}
STALE_SCAN = datetime.timedelta(minutes=30)


def scan(object_type: str) -> DuplicateScan:
    """Find the pairs of one kind of record and bring the open queue up to date. A scan of the
    same kind already under way (started in the last half hour) is left to finish instead."""
    running = DuplicateScan.objects.filter(object_type=object_type, status="running",
                                           started_at__gte=timezone.now() - STALE_SCAN).first()
    if running is not None:
        return running
    record = DuplicateScan.objects.create(object_type=object_type)
    started = time.perf_counter()
    try:
        found: dict[tuple[int, int], dict] = {}
        finders = _CONTACT_FINDERS if object_type == "contact" else _COMPANY_FINDERS
        for finder in finders:
            for first, second, score, reason in finder():
                pair = found.setdefault((min(first, second), max(first, second)),
                                        {"score": 0, "reasons": []})
                pair["score"] = max(pair["score"], score)
                if reason not in pair["reasons"]:
                    pair["reasons"].append(reason)
        _store(object_type, found)
    except Exception as exc:
        DuplicateScan.objects.filter(pk=record.pk).update(status="failed", error=str(exc)[:2000],
                                                          finished_at=timezone.now())
        raise
    record.status, record.pairs = "done", len(found)
    record.records = MODELS[object_type].objects.count()
    record.seconds, record.finished_at = time.perf_counter() - started, timezone.now()
    record.save()
    return record


def _pairs(ids: list[int]):
    return itertools.combinations(sorted(ids)[:MAX_GROUP], 2) if len(ids) <= MAX_GROUP else ()


def _same(model, field: str, reason: str, score: int):
    """Pairs that share a non-empty `field`, grouped by the database."""
    def find():
        groups = (model.objects.exclude(**{field: ""}).values(field).annotate(n=Count("id"))
                  .filter(n__gt=1, n__lte=MAX_GROUP).values_list(field, flat=True))
        values = list(groups)
        for start in range(0, len(values), 500):
            members = defaultdict(list)
            for pk, value in model.objects.filter(**{f"{field}__in": values[start:start + 500]}) \
                    .values_list("pk", field):
                members[value].append(pk)
            for ids in members.values():
                for first, second in _pairs(ids):
                    yield first, second, score, reason
    return find


def _similar_names(rows, key, reason):
    """Within each block (rows sharing `key`), pairs whose folded full names are alike.
    `rows` are (id, name) pairs; `reason` says why the block's records may be one."""
    blocks = defaultdict(list)
    for row in rows:
        block = key(row)
        if block:
            blocks[block].append(row)
    for members in blocks.values():
        if len(members) < 2 or len(members) > MAX_GROUP:
            continue
        for (a_id, a_name, *_), (b_id, b_name, *_) in itertools.combinations(members, 2):
            similarity = fuzz.token_sort_ratio(a_name, b_name)
            if similarity >= NAME_THRESHOLD:
                yield a_id, b_id, min(int(similarity), 94), reason(members[0])


def _person(first: str, last: str) -> tuple[str, str]:
    return fold(f"{first} {last}").strip(), fold(last)[:3]


def _names_at_same_company():
    """Contacts streamed in (company, last name) order, an index's order: one company's
    contacts are in memory at a time, however large the table."""
    rows = Contact.objects.exclude(company=None).exclude(last_name="").order_by(
        "company_id", "last_name").values_list("pk", "first_name", "last_name", "company_id")
    for _, members in itertools.groupby(rows.iterator(chunk_size=5000), key=lambda r: r[3]):
        people = [(pk, *_person(first, last)) for pk, first, last, _ in members]
        yield from _similar_names(people, lambda r: r[2], lambda r: "Similar name at the same company")


def _names_at_same_domain():
    """Contacts without a company, blocked by their email's domain (free-mail domains say nothing)."""
    rows = Contact.objects.filter(company=None).exclude(last_name="").exclude(email="").values_list(
        "pk", "first_name", "last_name", "email")
    people = []
    for pk, first, last, email in rows.iterator(chunk_size=5000):
        domain = email.rpartition("@")[2]
        if domain not in FREE_MAIL_DOMAINS:
            people.append((pk, *_person(first, last), domain))
    return _similar_names(people, lambda r: (r[3], r[2]),
                          lambda r: f"Similar name, both at {r[3]}")


def company_name_key(name: str) -> str:
    return " ".join(LEGAL_SUFFIXES.sub(" ", fold(name)).replace(",", " ").split())


def _similar_company_names():
    rows = ((pk, company_name_key(name)) for pk, name in
            Company.objects.values_list("pk", "name").iterator(chunk_size=5000))
    return _similar_names(rows, lambda r: r[1][:4], lambda r: "Similar name")


_CONTACT_FINDERS = [_same(Contact, "email", "Same email", SCORES["email"]),
                    _same(Contact, "phone", "Same phone", SCORES["phone"]),
                    _names_at_same_company, _names_at_same_domain]
_COMPANY_FINDERS = [_same(Company, "domain", "Same domain", SCORES["domain"]),
                    _same(Company, "phone", "Same phone", SCORES["phone"]),
                    _similar_company_names]


@transaction.atomic
def _store(object_type: str, found: dict) -> None:
    """The open queue becomes what this scan found; decisions already taken stay as they are."""
    decided = set(DuplicatePair.objects.filter(object_type=object_type).exclude(
        status=DuplicateStatus.OPEN).values_list("first_id", "second_id"))
    DuplicatePair.objects.filter(object_type=object_type, status=DuplicateStatus.OPEN).delete()
    DuplicatePair.objects.bulk_create([
        DuplicatePair(object_type=object_type, first_id=first, second_id=second,
                      score=pair["score"], reasons=pair["reasons"])
        for (first, second), pair in found.items() if (first, second) not in decided
    ], batch_size=2000)


# The review queue ---------------------------------------------------------------------

VISIBLE = {"contact": contact_visible, "company": company_visible}


def queue(*, user, object_type: str, limit: int = 50):
    """Open pairs whose two records the user can both see, best first, with the records."""
    visible = VISIBLE[object_type](user=user)
    pairs = list(DuplicatePair.objects.filter(
        object_type=object_type, status=DuplicateStatus.OPEN,
        first_id__in=visible.values("pk"), second_id__in=visible.values("pk"),
    ).order_by("-score", "id")[:limit])
    ids = {pk for p in pairs for pk in (p.first_id, p.second_id)}
    related = ("company", "owner") if object_type == "contact" else ("owner",)
    records = {r.pk: r for r in visible.filter(pk__in=ids).select_related(*related)}
    for pair in pairs:
        pair.first, pair.second = records.get(pair.first_id), records.get(pair.second_id)
    return [p for p in pairs if p.first and p.second]


def open_count(*, user, object_type: str) -> int:
    visible = VISIBLE[object_type](user=user)
    return DuplicatePair.objects.filter(object_type=object_type, status=DuplicateStatus.OPEN,
                                        first_id__in=visible.values("pk"),
                                        second_id__in=visible.values("pk")).count()


@transaction.atomic
def dismiss(*, actor, pair_id: int) -> DuplicatePair:
    """"Not a duplicate": remembered, so no later scan proposes the pair again."""
    pair = DuplicatePair.objects.select_for_update().filter(pk=pair_id).first()
    if pair is None:
        raise NotFound()
    visible = VISIBLE[pair.object_type](user=actor)
    if visible.filter(pk__in=[pair.first_id, pair.second_id]).count() != 2:
        raise NotFound()
    pair.status, pair.decided_by, pair.decided_at = DuplicateStatus.DISMISSED, actor, timezone.now()
    pair.save(update_fields=["status", "decided_by", "decided_at"])
    return pair


def mark_merged(*, actor, object_type: str, survivor_id: int, merged_id: int) -> None:
    """After a merge, its pair is decided and any other pair with the merged record is moot."""
    first, second = min(survivor_id, merged_id), max(survivor_id, merged_id)
    DuplicatePair.objects.filter(object_type=object_type, first_id=first, second_id=second).update(
        status=DuplicateStatus.MERGED, decided_by=actor if getattr(actor, "pk", None) else None,
        decided_at=timezone.now())
    DuplicatePair.objects.filter(Q(first_id=merged_id) | Q(second_id=merged_id),
                                 object_type=object_type, status=DuplicateStatus.OPEN).delete()


def last_scan(object_type: str) -> DuplicateScan | None:
    return DuplicateScan.objects.filter(object_type=object_type).first()


def scan_soon(*, actor, object_type: str) -> None:
    """Queue a scan (admins: it reads every record of the kind)."""
    from rapport.contacts.tasks import scan_duplicates

    require_admin(actor, "can start a duplicate scan")
    if object_type not in MODELS:
        raise ValidationFailed(fields={"object_type": [f"Choose one of: {', '.join(MODELS)}."]})
    transaction.on_commit(lambda: scan_duplicates(object_type))
