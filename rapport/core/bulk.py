"""The bulk write path: many rows of a model in one statement, with their primary keys.

Django's bulk_create manages 12-17,000 rows/s here, a quarter of what the engines take:
it compiles one large INSERT per batch and, on SQLite, reads the ids back. This path
allocates the ids first (a sequence range on PostgreSQL; on SQLite the writer already
holds the lock, since transactions begin IMMEDIATE), then sends the rows with COPY on
PostgreSQL and executemany on SQLite. Values go through each field's own get_db_prep_save,
except where the Python value is already what the driver takes (text, numbers; datetimes
on PostgreSQL) and for JSON, encoded as json.dumps would (orjson, faster), so what is
stored is what `save()` would store.
"""

import functools
import itertools
import json
import re

import orjson
from django.db import connection


def allocate_ids(model, count: int) -> list[int]:
    """`count` fresh primary keys for `model`, never handed out before. Call inside a transaction."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)",
                           [_sequence(cursor, table, model._meta.pk.column), count])
            return cursor.fetchone()[0]
        # AUTOINCREMENT's high-water mark (ids of deleted rows are never reused) or the max id.
        sql = ("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
               f"COALESCE((SELECT MAX(id) FROM {connection.ops.quote_name(table)}), 0))")
        cursor.execute(sql, [table])
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + count))


_sequences: dict = {}


def _sequence(cursor, table: str, column: str) -> str:
    """The name of the sequence behind a serial primary key, looked up once: looked up for
    each id, it took six times as long as handing the ids out."""
    if (table, column) not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        _sequences[table, column] = cursor.fetchone()[0]
    return _sequences[table, column]


def insert_rows(table: str, columns: list[str], rows) -> None:
    """Plain rows (already in database form) into `table`: COPY or executemany."""
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) "  # noqa: S608
                               f"VALUES ({marks})", rows)


def insert_values(model, rows: list[dict]) -> list[int]:
    """New rows of `model` given as `{attname: value}` (cleaned values, not instances: an
    import writes a million); a field a row leaves out takes its default, worked out once
    for the call: a batch shares its created_at, as rows saved together would. Returns the
    ids."""
    if not rows:
        return []
    defaults = new_row_defaults(model)
    return insert_columns(model, len(rows), columns_of(rows, defaults), defaults=defaults)


def columns_of(rows: list[dict], defaults: dict) -> dict[str, list]:
    """`{attname: [each row's value]}` for the columns any of `rows` names (the others are
    their default for all of them)."""
    named = set().union(*rows)
    return {name: [row.get(name, default) for row in rows]
            for name, default in defaults.items() if name in named}


def insert_columns(model, count: int, columns: dict[str, list], *,
                   defaults: dict | None = None, encoded: frozenset[str] = frozenset()) -> list[int]:
    """`count` new rows of `model` given a column at a time, `{attname: [each row's value]}`:
    a column left out holds its value in `defaults` (`new_row_defaults(model)`, with any
    value every row shares) for every row; the columns named in `encoded` are given as the
    database takes them (JSON text from json_text). Returns the ids.

    A converter runs once per distinct value object (a batch shares its timestamps and
    empty defaults), in a loop of its own; reading rows a column at a time is what makes
    that, and a shared value sent once, possible."""
    if not count:
        return []
    meta = model._meta
    fields = _columns(model, connection.vendor)
    defaults = defaults if defaults is not None else new_row_defaults(model)
    ids = allocate_ids(model, count)
    cells = [ids]
    for column in fields:
        values = columns.get(column.attname)
        if values is not None and len(values) != count:
            raise ValueError(f"{column.attname}: {len(values)} values for {count} rows")
        if values is not None:
            cells.append(values if column.convert is None or column.attname in encoded
                         else _converted(column.convert, values))
        else:
            default = defaults[column.attname]
            cells.append(itertools.repeat(default if column.convert is None else column.convert(default)))
    # (zip stops at the ids: a column every row leaves out repeats its one value.)
    insert_rows(meta.db_table, [meta.pk.column, *(c.column for c in fields)],
                list(zip(*cells, strict=False)))
    return ids


def _converted(convert, values: list) -> list:
    out, last, last_out = [], _NONE, None
    append = out.append
    for value in values:
        if value is not last:
            last, last_out = value, convert(value)
        append(last_out)
    return out


def new_row_defaults(model) -> dict:
    """`{attname: value}` a new row of `model` takes for each field it leaves out."""
    return {c.attname: c.default() for c in _columns(model, connection.vendor)}


# Field types whose Python value is already what both drivers take.
_AS_IS = {"CharField", "TextField", "EmailField", "URLField", "SlugField", "BooleanField",
          "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
          "PositiveSmallIntegerField", "PositiveBigIntegerField", "ForeignKey", "OneToOneField"}
_NONE = object()


class _Column:
    def __init__(self, field, vendor: str):
        self.attname, self.column, self.field = field.attname, field.column, field
        self.db_default = (getattr(field.db_default, "value", field.db_default)
                           if field.has_db_default() else _NONE)
        self.convert = _converter(field, vendor)

    def default(self):
        return self.db_default if self.db_default is not _NONE else self.field.get_default()


@functools.cache
def _columns(model, vendor: str) -> list[_Column]:
    """Every column but the primary key, with how its Python value is sent (None: as it is).
    get_db_prep_save costs a microsecond or more per value; plain types skip it."""
    return [_Column(field, vendor) for field in model._meta.concrete_fields if not field.primary_key]


# What json.dumps would refuse without an encoder, orjson must refuse too (then json has
# the last word): it writes dates and dataclasses natively unless told to pass them on.
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS \
    | orjson.OPT_PASSTHROUGH_SUBCLASS


def json_text(value) -> str | None:
    """`value` as text for a JSON column of this database: the data save() writes, escaped
    as save() escapes it where the text is kept as written (SQLite)."""
    return _as_json(value, escaped=connection.vendor == "sqlite")


def _as_json(value, *, escaped: bool = True):
    """JSON text as json.dumps gives it (the same data, written compactly), ten times
    faster: an import writes millions of these. PostgreSQL parses it into jsonb, which keeps
    no escapes, so there it is left `escaped=False`."""
    if value is None:
        return None
    if not value and type(value) in _EMPTY_JSON:  # a new record's custom fields, emails, phones
        return _EMPTY_JSON[type(value)]
    try:
        encoded = orjson.dumps(value, option=_STRICT)
    except TypeError:  # an int dict key, a number too big for 64 bits, ...
        return json.dumps(value)
    # json escapes what is not printable ASCII (ë as \\u00eb), and text lookups on SQLite's
    # JSON columns (emails__icontains) see the stored text: keep it the same as save() writes.
    # (Outside strings JSON is all printable ASCII, so every such character is inside one.)
    text = encoded.decode()
    if not escaped or (encoded.isascii() and b"\x7f" not in encoded):
        return text
    return _ESCAPED.sub(_escaped, text)


_EMPTY_JSON = {dict: "{}", list: "[]"}
_ESCAPED = re.compile(r"[^\x00-\x7e]")


def _escaped(match) -> str:
    """A character as json.dumps escapes it: beyond U+FFFF, as its UTF-16 surrogate pair."""
    code = ord(match.group())
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
    return f"\\u{code:04x}"


def _converter(field, vendor: str):
    internal = field.get_internal_type()
    if internal in _AS_IS or (internal == "DateTimeField" and vendor == "postgresql"):
        return None
    if internal == "JSONField":
        encoder = field.encoder
        if encoder is None:
            return _as_json if vendor == "sqlite" else functools.partial(_as_json, escaped=False)
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    return lambda value: field.get_db_prep_save(value, connection)
