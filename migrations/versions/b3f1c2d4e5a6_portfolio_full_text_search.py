"""portfolio: full-text search (French stems, word prefixes, ranked)

Revision ID: b3f1c2d4e5a6
Revises: 73ade3908388
Create Date: 2026-12-01 12:10:00

Search matched substrings (`LIKE '%term%'` over the folded text, a scan of the whole table twice per page):
« visio » found « supervision », « messageries » missed « messagerie ». Now:

- PostgreSQL: a stored generated column `search_vector` = `to_tsvector('french', search_text)` (the folded
  text: accents are removed by the application's fold(), what `unaccent` does) with a GIN index, queried
  with word prefixes (`messageries:*`, stemmed by the configuration) and ranked by ts_rank on the stored
  vector. The column is not in the model (the application reads it by name, PostgreSQL only).
- SQLite: a new column `search_stem` (the French Snowball stems of the folded words, filled here for every
  existing row and by the model afterwards) and an external-content FTS5 table `opportunities_fts` over it,
  kept in step by three triggers; queried with stem prefixes (`"messager"*`), ranked by bm25.

A later migration that rebuilds `opportunities` on SQLite (batch mode) drops the triggers: recreate them.
"""

import re
import unicodedata

import sqlalchemy as sa
import Stemmer
from alembic import op

revision = "b3f1c2d4e5a6"
down_revision = "73ade3908388"
branch_labels = None
depends_on = None

WORD = re.compile(r"\w+")
FRENCH = Stemmer.Stemmer("french")


def _stems(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(FRENCH.stemWords(WORD.findall(folded)))


SQLITE_UP = [
    "CREATE VIRTUAL TABLE opportunities_fts USING fts5(search_stem, content='opportunities', "
    "content_rowid='id', tokenize='unicode61', prefix='2 3 4')",
    "CREATE TRIGGER opportunities_fts_ai AFTER INSERT ON opportunities BEGIN "
    "INSERT INTO opportunities_fts(rowid, search_stem) VALUES (new.id, new.search_stem); END",
    "CREATE TRIGGER opportunities_fts_ad AFTER DELETE ON opportunities BEGIN "
    "INSERT INTO opportunities_fts(opportunities_fts, rowid, search_stem) "
    "VALUES ('delete', old.id, old.search_stem); END",
    "CREATE TRIGGER opportunities_fts_au AFTER UPDATE OF search_stem ON opportunities BEGIN "
    "INSERT INTO opportunities_fts(opportunities_fts, rowid, search_stem) "
    "VALUES ('delete', old.id, old.search_stem); "
    "INSERT INTO opportunities_fts(rowid, search_stem) VALUES (new.id, new.search_stem); END",
    "INSERT INTO opportunities_fts(opportunities_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS opportunities_fts_au",
    "DROP TRIGGER IF EXISTS opportunities_fts_ad",
    "DROP TRIGGER IF EXISTS opportunities_fts_ai",
    "DROP TABLE IF EXISTS opportunities_fts",
]
PG_INDEX = "ix_opportunities_search_french"


def upgrade():
    bind = op.get_bind()
    op.add_column("opportunities", sa.Column("search_stem", sa.Text(), server_default="", nullable=False))
    rows = bind.execute(sa.text("SELECT id, code, brique, besoin FROM opportunities")).all()
    if rows:
        bind.execute(
            sa.text("UPDATE opportunities SET search_stem = :stem WHERE id = :id"),
            [{"id": id_, "stem": _stems(f"{code} {brique} {besoin}")} for id_, code, brique, besoin in rows],
        )
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            bind.exec_driver_sql(statement)
    else:
        bind.exec_driver_sql(
            "ALTER TABLE opportunities ADD COLUMN search_vector tsvector "
            "GENERATED ALWAYS AS (to_tsvector('french'::regconfig, search_text)) STORED"
        )
        bind.exec_driver_sql(f"CREATE INDEX {PG_INDEX} ON opportunities USING gin (search_vector)")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            bind.exec_driver_sql(statement)
    else:
        bind.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        bind.exec_driver_sql("ALTER TABLE opportunities DROP COLUMN search_vector")
    bind.exec_driver_sql("ALTER TABLE opportunities DROP COLUMN search_stem")  # SQLite ≥ 3.35: no rebuild
