"""Bulk seeding for the benchmark: cheap realistic rows, written with executemany / COPY.

Names come from small Faker pools combined with a counter (Faker itself manages a few
thousand rows a second, far too slow for a million). Rows stream in batches, so memory
stays flat whatever `--rows` is.
"""

import datetime
import itertools
import random
import re
import time
from collections.abc import Iterator

from django.db import connection, transaction

from rapport.core.search import fold

BATCH = 20_000
SPAN_DAYS = 3 * 365
EPOCH = datetime.datetime(2022, 1, 1)

# Weights of the lifecycle stages (roughly a B2B funnel).
STAGES = [
    ("subscriber", 15), ("lead", 35), ("marketing_qualified", 12), ("sales_qualified", 8),
    ("opportunity", 6), ("customer", 16), ("evangelist", 3), ("other", 5),
]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "corp.example"]

CONTACT_COLUMNS = [
    "id", "created_at", "updated_at", "version", "deleted_at", "custom_fields", "street", "city",
    "region", "postal_code", "country", "first_name", "last_name", "email", "emails", "phone",
    "phones", "title", "lifecycle_stage", "linkedin_url", "twitter_url", "website", "company_id",
    "created_by_id", "owner_id",
]
_DATETIME_COLUMNS = {"created_at", "updated_at", "deleted_at"}
_INT_COLUMNS = {"id", "version", "company_id", "created_by_id", "owner_id"}
_JSON_COLUMNS = {"custom_fields", "emails", "phones"}
RAW_TABLE = "bench_raw_contact"


class Pools:
    """Small pools of names, titles and places; every row picks from them by index."""

    def __init__(self, seed: int = 1):
        from faker import Faker

        fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR"])
        fake.seed_instance(seed)
        self.first = _unique(fake.first_name() for _ in range(3000))[:300]
        self.last = _unique(fake.last_name() for _ in range(8000))[:1000]
        self.titles = _unique(fake.job() for _ in range(400))[:150]
        self.cities = _unique(fake.city() for _ in range(1500))[:400]
        self.countries = ["US", "US", "US", "GB", "GB", "DE", "DE", "FR", "CA", "NL"]
        self.first_fold = [fold(n) for n in self.first]
        self.last_fold = [fold(n) for n in self.last]
        self.titles_fold = [fold(t) for t in self.titles]
        self.cities_fold = [fold(c) for c in self.cities]
        self.first_mail = [_mail_part(n) for n in self.first_fold]
        self.last_mail = [_mail_part(n) for n in self.last_fold]
        # Last names follow a Zipf-like curve, as they do in life: a few are very common.
        rng = random.Random(seed)
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.last))]
        self.last_bag = rng.choices(range(len(self.last)), weights=weights, k=20_000)
        self.stage_bag = [name for name, weight in STAGES for _ in range(weight)]

    def common_last_name(self) -> str:
        return self.last[0]


def _unique(names) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
    return list(seen)


def _mail_part(text: str) -> str:
    return re.sub(r"[^a-z]", "", text) or "x"


def contact_rows(rows: int, *, first_id: int, owner_ids: list[int], pools: Pools,
                 postgres: bool, seed: int = 1) -> Iterator[tuple[tuple, tuple]]:
    """(contact row, search text) pairs; created_at rises with id over three years."""
    rng = random.Random(seed)
    rand = rng.random
    step = SPAN_DAYS * 86400 / max(rows, 1)
    suffix = "+00:00" if postgres else ""
    n_first, n_bag = len(pools.first), len(pools.last_bag)
    n_title, n_city, n_country = len(pools.titles), len(pools.cities), len(pools.countries)
    n_stage, n_owner, n_domain = len(pools.stage_bag), len(owner_ids), len(DOMAINS)
    for i in range(rows):
        pk = first_id + i
        f = int(rand() * n_first)
        last = pools.last_bag[int(rand() * n_bag)]
        title = int(rand() * n_title)
        city = int(rand() * n_city)
        created = EPOCH + datetime.timedelta(seconds=i * step + rand() * step)
        updated = created + datetime.timedelta(seconds=rand() * 200 * 86400)
        email = f"{pools.first_mail[f]}.{pools.last_mail[last]}{pk}@{DOMAINS[pk % n_domain]}"
        phone = f"+1555{pk:07d}"
        row = (
            pk, f"{created}{suffix}", f"{updated}{suffix}", 1, None, "{}", "",
            pools.cities[city], "", "", pools.countries[int(rand() * n_country)],
            pools.first[f], pools.last[last], email, "[]", phone, "[]", pools.titles[title],
            pools.stage_bag[int(rand() * n_stage)], "", "", "", None, None,
            owner_ids[int(rand() * n_owner)],
        )
        body = (f"{pools.first_fold[f]} {pools.last_fold[last]} {email} {phone} "
                f"{pools.titles_fold[title]} {pools.cities_fold[city]}")
        yield row, body


def batches(iterable, size: int = BATCH):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def generation_rate(rows: int, *, owner_ids, pools) -> float:
    """Rows/s of generating rows alone (the Python cost inside both insert figures)."""
    sample = min(rows, 200_000)
    started = time.perf_counter()
    for _ in contact_rows(sample, first_id=1, owner_ids=owner_ids, pools=pools,
                          postgres=is_postgres()):
        pass
    return sample / (time.perf_counter() - started)


def _raw_ddl(postgres: bool) -> list[str]:
    def column_type(name):
        if name == "id":
            return "bigint PRIMARY KEY" if postgres else "integer PRIMARY KEY"
        if name in _DATETIME_COLUMNS:
            return "timestamptz" if postgres else "datetime"
        if name in _INT_COLUMNS:
            return "bigint"
        if name in _JSON_COLUMNS:
            return "jsonb NOT NULL" if postgres else "text NOT NULL"
        return "varchar(254) NOT NULL"

    columns = ", ".join(f"{name} {column_type(name)}" for name in CONTACT_COLUMNS)
    return [
        f"DROP TABLE IF EXISTS {RAW_TABLE}",
        f"CREATE TABLE {RAW_TABLE} ({columns})",
        f"CREATE INDEX {RAW_TABLE}_name ON {RAW_TABLE} (last_name, id)",
        f"CREATE INDEX {RAW_TABLE}_created ON {RAW_TABLE} (created_at, id)",
    ]


def raw_insert(rows: int, *, owner_ids, pools) -> float:
    """The engine's own bulk rate: a plain table (primary key + two indexes), one transaction,
    executemany on the raw sqlite3 cursor or COPY on the raw psycopg cursor. Returns rows/s."""
    postgres = is_postgres()
    connection.ensure_connection()
    raw = connection.connection
    cursor = raw.cursor()
    for statement in _raw_ddl(postgres):
        cursor.execute(statement)
    generated = (row for row, _ in contact_rows(rows, first_id=1, owner_ids=owner_ids, pools=pools,
                                                postgres=postgres))
    started = time.perf_counter()
    with transaction.atomic():
        if postgres:
            with cursor.copy(f"COPY {RAW_TABLE} ({', '.join(CONTACT_COLUMNS)}) FROM STDIN") as copy:
                for row in generated:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(CONTACT_COLUMNS))
            cursor.executemany(f"INSERT INTO {RAW_TABLE} VALUES ({marks})", generated)  # noqa: S608
    elapsed = time.perf_counter() - started
    cursor.execute(f"DROP TABLE {RAW_TABLE}")
    cursor.close()
    return rows / elapsed


def seed_owners():
    """An admin (who sees everything) and six owners in two teams. Returns (admin, owner ids)."""
    from rapport.accounts.models import Team, User
    from rapport.accounts.roles import Role

    admin = User.objects.filter(email="bench-admin@bench.example").first()
    if admin is None:
        admin = User.objects.create_superuser("bench-admin@bench.example", None,
                                              full_name="Bench Admin")
    owners = []
    for t, team_name in enumerate(["Bench North", "Bench South"]):
        team, _ = Team.objects.get_or_create(name=team_name)
        for u in range(3):
            email = f"bench-owner-{t}{u}@bench.example"
            user = User.objects.filter(email=email).first() or User.objects.create_user(
                email, None, full_name=f"Owner {t}{u}", role=Role.SALES, team=team)
            owners.append(user.pk)
    return admin, owners


def rapport_seed(rows: int, *, owner_ids, pools, progress=None) -> float:
    """Rapport's bulk path: contacts_contact plus core_searchdocument (so search finds them),
    through Django's connection cursor, one transaction per batch. Returns contacts/s."""
    from rapport.contacts.models import Contact

    postgres = is_postgres()
    first_id = (Contact.all_objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    contact_sql = (f"INSERT INTO contacts_contact ({', '.join(CONTACT_COLUMNS)}) "  # noqa: S608
                   f"VALUES ({', '.join(['%s'] * len(CONTACT_COLUMNS))})")
    done = 0
    started = time.perf_counter()
    generated = contact_rows(rows, first_id=first_id, owner_ids=owner_ids, pools=pools,
                             postgres=postgres)
    for chunk in batches(generated):
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                with cursor.copy(f"COPY contacts_contact ({', '.join(CONTACT_COLUMNS)}) "
                                 "FROM STDIN") as copy:
                    for row, _ in chunk:
                        copy.write_row(row)
                with cursor.copy("COPY core_searchdocument (object_type, object_id, body) "
                                 "FROM STDIN") as copy:
                    for row, body in chunk:
                        copy.write_row(("contact", row[0], body))
            else:
                cursor.executemany(contact_sql, [row for row, _ in chunk])
                cursor.executemany(
                    "INSERT INTO core_searchdocument (object_type, object_id, body) "
                    "VALUES (%s, %s, %s)", [("contact", row[0], body) for row, body in chunk])
        done += len(chunk)
        if progress:
            progress(done, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), "
                           "(SELECT MAX(id) FROM contacts_contact))")
    return rows / elapsed


def analyze() -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute("ANALYZE contacts_contact")
            cursor.execute("ANALYZE core_searchdocument")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA optimize")
    return time.perf_counter() - started
