"""Full-text search over every searchable record, on SQLite (FTS5) and PostgreSQL.

Text is folded (lower case, accents removed) in Python before it is stored and
before it is queried, so both engines match "Muller" to "Müller" the same way.
Each query word matches as a prefix; on PostgreSQL a trigram match also forgives typos.
"""

import re
import unicodedata

from django.db import connection
from django.db.models.expressions import RawSQL

from rapport.core import bulk
from rapport.core.models import SearchDocument

MAX_TERMS = 8
MAX_MATCHES = 10_000
_WORD = re.compile(r"[\w@.+-]+")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def terms(query: str) -> list[str]:
    words = []
    for word in _WORD.findall(fold(query)):
        # FTS5 and tsquery each treat punctuation as syntax: keep letters and digits only.
        parts = [p for p in re.split(r"[^\w]+", word) if p]
        words.extend(parts)
    return words[:MAX_TERMS]


def index(obj) -> None:
    """Create or refresh the search document of `obj` (called in its write's transaction)."""
    body = fold(" ".join(p for p in obj.search_text() if p))
    SearchDocument.objects.update_or_create(
        object_type=obj.object_type, object_id=obj.pk, defaults={"body": body}
    )


def index_many(objs) -> None:
    """Search documents for records created together (an import); none of them has one yet."""
    bulk.insert_rows(SearchDocument._meta.db_table, ["object_type", "object_id", "body"],
                     [(obj.object_type, obj.pk, fold(" ".join(p for p in obj.search_text() if p)))
                      for obj in objs])


def index_new(model, ids: list[int]) -> int:
    """Search documents for the live records `ids` of `model` that have none yet (an import's,
    built after its rows); safe to repeat. Returns how many it wrote."""
    # A range, not IN: as the table grows in an import, PostgreSQL's stale statistics chose
    # to scan every document of the type for a list of ids (0.8 s a batch at 100,000).
    have = set(SearchDocument.objects.filter(
        object_type=model.object_type, object_id__range=(min(ids), max(ids)))
        .values_list("object_id", flat=True)) if ids else set()
    missing = [pk for pk in ids if pk not in have]
    records = list(model.objects.filter(pk__in=missing)) if missing else []
    index_many(records)
    return len(records)


def unindex(object_type: str, object_id: int) -> None:
    SearchDocument.objects.filter(object_type=object_type, object_id=object_id).delete()


def matching_ids(object_type: str, query: str):
    """An expression for `.filter(id__in=...)` selecting the records that match `query`.

    On SQLite, at most MAX_MATCHES records, the most recently indexed: a one-word query
    can match a tenth of a big table, and looking up every match cost 230 ms at 70,000
    matches; the cap keeps any search near 20 ms. A search that broad is refined by
    another word or a filter, not paged through.
    """
    words = terms(query)
    if not words:
        return RawSQL("SELECT NULL WHERE 1 = 0", [])
    if connection.vendor == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        # No cap here: PostgreSQL's planner chooses between the GIN indexes and walking
        # the list's sort index (10 ms for a word in 7% of a million rows); a LIMIT in
        # the subquery pushed it to 1 s.
        return RawSQL(
            "SELECT object_id FROM core_searchdocument WHERE object_type = %s AND ("
            "to_tsvector('simple', body) @@ to_tsquery('simple', %s) OR %s <%% body)",
            [object_type, tsquery, " ".join(words)],
        )
    match = " ".join(f'"{w}"*' for w in words)
    return RawSQL(
        "SELECT d.object_id FROM core_searchdocument_fts f "
        "JOIN core_searchdocument d ON d.id = f.rowid "
        "WHERE core_searchdocument_fts MATCH %s AND d.object_type = %s "
        "ORDER BY f.rowid DESC LIMIT %s",
        [match, object_type, MAX_MATCHES],
    )
