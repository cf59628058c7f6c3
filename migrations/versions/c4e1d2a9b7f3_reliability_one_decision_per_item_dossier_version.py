"""reliability: one decision per agenda item, a version on dossiers

Revision ID: c4e1d2a9b7f3
Revises: 5e55c0a1d2b3
Create Date: 2026-12-01 12:00:00.000000

- `uq_decisions_item_id_original`: a partial unique index on decisions(item_id) WHERE rectifies_id IS NULL.
  An agenda item has at most one original decision; its corrections are rectifications (rectifies_id set,
  already unique). A database that already holds two originals on one item (the double-click fault this
  index closes) stops the migration with the items named: they are in the register, which is never
  rewritten, so an administrator decides by hand which one stands.
- `dossiers.version` (NOT NULL, 1 for every existing row): the dossier's optimistic lock (life cycle).
"""

import sqlalchemy as sa
from alembic import op

revision = "c4e1d2a9b7f3"
down_revision = '5e55c0a1d2b3'
branch_labels = None
depends_on = None

INDEX = "uq_decisions_item_id_original"


def upgrade():
    duplicated = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT item_id, COUNT(*) FROM decisions WHERE rectifies_id IS NULL "
                "GROUP BY item_id HAVING COUNT(*) > 1 ORDER BY item_id"
            )
        )
        .all()
    )
    if duplicated:
        listed = ", ".join(f"point {item} ({count} décisions)" for item, count in duplicated)
        raise RuntimeError(
            "Several original decisions on one agenda item: "
            f"{listed}. Keep one per item by hand (the register names them) before upgrading."
        )
    # plain ALTER TABLE on both backends: a batch rebuild of `dossiers` on SQLite would drop the table its
    # children cascade from
    op.add_column("dossiers", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_index(
        INDEX,
        "decisions",
        ["item_id"],
        unique=True,
        sqlite_where=sa.text("rectifies_id IS NULL"),
        postgresql_where=sa.text("rectifies_id IS NULL"),
    )


def downgrade():
    op.drop_index(INDEX, table_name="decisions")
    op.execute("ALTER TABLE dossiers DROP COLUMN version")  # SQLite ≥ 3.35 and PostgreSQL
