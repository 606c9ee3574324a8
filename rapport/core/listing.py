"""Lists of records: filters, sort, search and cursor pagination, for the API and the UI alike.

Each object declares a `ListSpec` naming the fields a list may filter and sort on;
anything else is a 400, so no query parameter reaches the ORM unchecked.
Pagination is keyset (`sort value, id`), so page 10,000 costs what page 1 costs.
A spec may also declare named problems (`problem=no_email`): conditions too awkward to
spell as field filters ("the phone is not E.164"), offered by name so they stay allow-listed.
"""

import base64
import binascii
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify

from rapport.core import search
from rapport.core.customfields import TYPES as CUSTOM_TYPES
from rapport.core.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
COUNT_CAP = 10_000
LOOKUPS = {"gte", "lte", "in", "contains"}
PROBLEM = "problem"
RESERVED = {"limit", "cursor", "q", "sort", "count", "tag", "updated_since", "view", PROBLEM}


@dataclass(frozen=True)
class Field:
    kind: str  # text | int | bool | date | datetime | choice | ref
    path: str = ""  # ORM path when it differs from the parameter name
    sortable: bool = False
    choices: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class ListSpec:
    object_type: str
    fields: dict[str, Field]
    default_sort: str = "-created_at"
    extra_params: frozenset = field(default_factory=frozenset)
    # name -> a function building the condition that matches the records with that problem
    # (a function, so a subquery such as `~Exists(...)` is built afresh for each query).
    problems: dict[str, Callable[[], Q]] = field(default_factory=dict)

    def sort_fields(self) -> list[str]:
        return [name for name, f in self.fields.items() if f.sortable]


@dataclass
class ListQuery:
    condition: Q
    sort: str
    limit: int
    cursor: tuple | None
    query: str
    tags: list[str]
    want_count: bool


@dataclass
class Page:
    items: list
    next_cursor: str | None
    count: int | None = None
    count_is_capped: bool = False


def _parse_value(name: str, spec_field: Field, raw: str):
    kind = spec_field.kind
    if kind in {"text", "ref_text"}:
        if len(raw) > 255:
            raise BadRequest(fields={name: ["Enter at most 255 characters."]})
        return raw
    if kind == "choice":
        if raw not in spec_field.choices:
            raise BadRequest(fields={name: [f"Choose one of: {', '.join(spec_field.choices)}."]})
        return raw
    if kind in {"int", "ref"}:
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(fields={name: ["Enter a whole number."]}) from None
    if kind == "bool":
        if raw.lower() not in {"true", "false", "1", "0"}:
            raise BadRequest(fields={name: ["Enter true or false."]})
        return raw.lower() in {"true", "1"}
    if kind == "date":
        parsed = parse_date(raw)
        if not parsed:
            raise BadRequest(fields={name: ["Enter a date as YYYY-MM-DD."]})
        return parsed
    if kind == "datetime":
        return parse_when(name, raw)
    raise AssertionError(kind)


def parse_when(name: str, raw: str) -> datetime.datetime:
    try:
        parsed = parse_datetime(raw)
    except ValueError:
        parsed = None
    if parsed is None:
        day = parse_date(raw)
        if day is None:
            raise BadRequest(fields={name: ["Enter an ISO 8601 date or date-time."]})
        parsed = datetime.datetime.combine(day, datetime.time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _filter_condition(name: str, values: list[str], spec: ListSpec, definitions) -> Q:
    base, _, lookup = name.partition("__")
    if base == "custom":
        key, _, lookup = lookup.partition("__")
        definition = next((d for d in definitions if d.key == key), None)
        if definition is None:
            raise BadRequest(f"Unknown filter: {name}", fields={name: ["Unknown custom field."]})
        if lookup:
            raise BadRequest(fields={name: ["Custom fields filter by equality only."]})
        field_type = CUSTOM_TYPES[definition.type]
        condition = Q()
        for raw in values:
            try:
                value = field_type.parse_filter(raw, definition)
            except ValueError as exc:
                raise BadRequest(fields={name: [str(exc)]}) from None
            if definition.type == "multi_select":
                condition &= Q(**{f"custom_fields__{key}__contains": [value]}) \
                    if _json_contains_supported() else Q(**{f"custom_fields__{key}__icontains": value})
            else:
                condition &= Q(**{f"custom_fields__{key}": value})
        return condition
    spec_field = spec.fields.get(base)
    if spec_field is None or (lookup and lookup not in LOOKUPS):
        raise BadRequest(f"Unknown filter: {name}",
                         fields={name: ["Unknown filter field or lookup."]})
    path = spec_field.path or base
    condition = Q()
    for raw in values:
        if lookup == "in":
            items = [_parse_value(name, spec_field, part) for part in raw.split(",") if part]
            condition &= Q(**{f"{path}__in": items})
        elif lookup == "contains":
            if spec_field.kind not in {"text", "ref_text"}:
                raise BadRequest(fields={name: ["Only text fields support __contains."]})
            condition &= Q(**{f"{path}__icontains": _parse_value(name, spec_field, raw)})
        elif lookup in {"gte", "lte"}:
            condition &= Q(**{f"{path}__{lookup}": _parse_value(name, spec_field, raw)})
        else:
            condition &= Q(**{path: _parse_value(name, spec_field, raw)})
    return condition


def _problem_condition(names: list[str], spec: ListSpec) -> Q:
    """Every named problem at once (repeating `problem` narrows the list, like other filters)."""
    condition = Q()
    for name in names:
        build = spec.problems.get(name)
        if build is None:
            offered = ", ".join(spec.problems) or "none on this list"
            raise BadRequest(f"Unknown problem: {name}",
                             fields={PROBLEM: [f"Choose one of: {offered}."]})
        condition &= build()
    return condition


def _json_contains_supported() -> bool:
    from django.db import connection

    return connection.features.supports_json_field_contains


def params(**values) -> QueryDict:
    """Query parameters built in code, for selectors that call `parse` themselves."""
    query = QueryDict(mutable=True)
    for key, value in values.items():
        query.setlist(key, value if isinstance(value, list) else [str(value)])
    return query


def parse(params, spec: ListSpec, definitions=()) -> ListQuery:
    """Read a QueryDict-like mapping (`getlist`) into a ListQuery, or raise BadRequest."""
    condition = Q()
    for name in params:
        if name in RESERVED or name in spec.extra_params:
            continue
        values = [v for v in params.getlist(name) if v != ""]
        if values:
            condition &= _filter_condition(name, values, spec, definitions)
    condition &= _problem_condition([p for p in params.getlist(PROBLEM) if p], spec)
    tags = [t for t in params.getlist("tag") if t]
    since = params.get("updated_since")
    if since:
        condition &= Q(updated_at__gte=parse_when("updated_since", since))

    sort = params.get("sort") or spec.default_sort
    if sort.lstrip("-") not in spec.sort_fields():
        raise BadRequest(f"Unknown sort field: {sort}",
                         fields={"sort": [f"Sort by one of: {', '.join(spec.sort_fields())}."]})
    raw_limit = params.get("limit") or str(DEFAULT_LIMIT)
    try:
        limit = int(raw_limit)
    except ValueError:
        raise BadRequest(fields={"limit": ["Enter a whole number."]}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(fields={"limit": [f"Enter a number from 1 to {MAX_LIMIT}."]})
    cursor = decode_cursor(params.get("cursor"), sort) if params.get("cursor") else None
    query = (params.get("q") or "").strip()
    if len(query) > 200:
        raise BadRequest(fields={"q": ["Enter at most 200 characters."]})
    want_count = (params.get("count") or "").lower() in {"true", "1"}
    return ListQuery(condition, sort, limit, cursor, query, tags, want_count)


def encode_cursor(sort: str, value, pk: int) -> str:
    if isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    raw = json.dumps([sort, value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, sort: str) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor_sort, value, pk = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise BadRequest(fields={"cursor": ["This cursor is not valid."]}) from None
    if cursor_sort != sort or not isinstance(pk, int):
        raise BadRequest(fields={"cursor": ["This cursor belongs to another sort order."]})
    return value, pk


def apply(queryset: QuerySet, list_query: ListQuery, spec: ListSpec) -> QuerySet:
    """Filters, tags and search, without sort or pagination (shared by lists, counts, exports)."""
    queryset = queryset.filter(list_query.condition)
    for tag in list_query.tags:
        queryset = queryset.filter(tags__slug=slugify(tag))
    if list_query.query:
        queryset = queryset.filter(id__in=search.matching_ids(spec.object_type, list_query.query))
    return queryset


def paginate(queryset: QuerySet, list_query: ListQuery, spec: ListSpec, *,
             rows: Callable[[QuerySet], QuerySet] = lambda rows: rows) -> Page:
    """One page in the list's sort order, with the cursor to the next.

    `rows` adds what each row carries (joins, annotations). A search can match tens of
    thousands of records, so then the page's ids are picked first and `rows` reads the
    page alone: sorting every match's wide, joined row took three times as long.
    """
    sort_name = list_query.sort.lstrip("-")
    descending = list_query.sort.startswith("-")
    path = spec.fields[sort_name].path or sort_name
    ordered = queryset.order_by(f"-{path}", "-id") if descending else queryset.order_by(path, "id")
    if list_query.cursor:
        value, pk = list_query.cursor
        if spec.fields[sort_name].kind == "datetime":
            value = parse_when("cursor", value)
        op = "lt" if descending else "gt"
        # The leading inclusive bound lets the (sort field, id) index seek straight to the
        # cursor; the OR alone made PostgreSQL walk 900k index entries for a deep page.
        ordered = ordered.filter(
            Q(**{f"{path}__{op}e": value})
            & (Q(**{f"{path}__{op}": value}) | Q(**{path: value, f"id__{op}": pk}))
        )
    window = ordered[: list_query.limit + 1]
    if list_query.query:
        ids = list(window.values_list("id", flat=True))
        found = {row.pk: row for row in rows(queryset.model._base_manager.filter(pk__in=ids))}
        items = [found[pk] for pk in ids if pk in found]
    else:
        items = list(rows(ordered)[: list_query.limit + 1])
    next_cursor = None
    if len(items) > list_query.limit:
        items = items[: list_query.limit]
        last = items[-1]
        next_cursor = encode_cursor(list_query.sort, _value_at(last, path), last.pk)
    page = Page(items=items, next_cursor=next_cursor)
    if list_query.want_count:
        page.count, page.count_is_capped = capped_count(queryset)
    return page


def _value_at(obj, path: str):
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def capped_count(queryset: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """An exact count up to `cap`; past it, `cap` and a flag (exact counts of big tables are slow)."""
    counted = queryset.order_by().values("id")[: cap + 1].count()
    return (cap, True) if counted > cap else (counted, False)


def for_export(visible: QuerySet, params, spec: ListSpec, definitions, *,
               rows: Callable[[QuerySet], QuerySet] = lambda rows: rows,
               batch_size: int = 2000):
    """A list as an export reads it (its filters, search, tags and sort, as the page or the
    API has them) from `visible`: (the records, unordered, to count; their batches in the
    list's order, each batch one keyset page, read lazily). Raises BadRequest for a filter or
    sort the list does not offer."""
    query = parse(params, spec, definitions)
    query.want_count, query.limit, query.cursor = False, batch_size, None
    queryset = apply(visible, query, spec)

    def batches():
        while True:
            page = paginate(queryset, query, spec, rows=rows)
            if page.items:
                yield page.items
            if not page.next_cursor:
                return
            query.cursor = decode_cursor(page.next_cursor, query.sort)

    return queryset.order_by(), batches()
