"""Engine-specific full-text indexes over core_searchdocument.body.

SQLite: an external-content FTS5 table kept in step by triggers.
PostgreSQL: a GIN full-text index and a pg_trgm trigram index.
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE core_searchdocument_fts USING fts5("
    "body, content='core_searchdocument', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3 4')",
    "CREATE TRIGGER core_searchdocument_ai AFTER INSERT ON core_searchdocument BEGIN "
    "INSERT INTO core_searchdocument_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER core_searchdocument_ad AFTER DELETE ON core_searchdocument BEGIN "
    "INSERT INTO core_searchdocument_fts(core_searchdocument_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER core_searchdocument_au AFTER UPDATE ON core_searchdocument BEGIN "
    "INSERT INTO core_searchdocument_fts(core_searchdocument_fts, rowid, body) "
    "VALUES ('delete', old.id, old.body); "
    "INSERT INTO core_searchdocument_fts(rowid, body) VALUES (new.id, new.body); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS core_searchdocument_au",
    "DROP TRIGGER IF EXISTS core_searchdocument_ad",
    "DROP TRIGGER IF EXISTS core_searchdocument_ai",
    "DROP TABLE IF EXISTS core_searchdocument_fts",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX core_search_fts ON core_searchdocument "
    "USING GIN (to_tsvector('simple', body))",
    "CREATE INDEX core_search_trgm ON core_searchdocument USING GIN (body gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS core_search_trgm",
    "DROP INDEX IF EXISTS core_search_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)
    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
