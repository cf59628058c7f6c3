"""followup: real foreign keys across domains, decision_id/agenda_meeting_id

Revision ID: 73a8c9eb984f
Revises: 2bf5a5b45180
Create Date: 2026-12-01 09:30:38.769652

Columns that pointed into another domain get their foreign key, and the dossier's two `*_ref` columns are
renamed `*_id` (values kept):

- agenda_items.dossier_id → dossiers.id, ON DELETE RESTRICT: an item that went before a committee carries
  votes, decisions and register entries; a dossier on an agenda is never deleted (it is withdrawn instead).
- jalon_reports.dossier_id → dossiers.id and jalon_id → jalons.id, indicator_values.dossier_id →
  dossiers.id and indicator_id → dossier_indicators.id, credit_consumptions.dossier_id → dossiers.id,
  ON DELETE CASCADE: reports go with their dossier, jalon or indicator (savings_reports.dossier_id already
  had its CASCADE foreign key).
- dossiers.decision_ref → decision_id → decisions.id, dossiers.agenda_session_ref → agenda_meeting_id →
  committee_sessions.id, ON DELETE SET NULL.

Orphans, before the keys are created (each count is logged by the `alembic.runtime.migration` logger):
a `decision_ref` / `agenda_session_ref` naming no row is set to NULL (the dossier keeps everything else);
a report row whose dossier does not exist, or whose jalon / indicator does not exist (what the CASCADE would
have removed), is deleted; an agenda item naming a missing dossier loses the reference when its kind allows
it ('opportunite', 'libre'); a 'dossier' or 'suivi' item naming a missing dossier stops the migration (it
may carry decisions of the register, which are never deleted; repair it by hand).

SQLite: the tables are rebuilt (batch mode) with PRAGMA foreign_keys off, so that dropping the old
`dossiers` table does not cascade into the tables that reference it; PRAGMA foreign_key_check runs before
the keys are turned on again.
"""

import logging

import sqlalchemy as sa
from alembic import op

import app.models.base  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = "73a8c9eb984f"
down_revision = "2bf5a5b45180"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

REPORTS = {  # table → (column, referred table) that must exist for the row to be kept
    "jalon_reports": (("dossier_id", "dossiers"), ("jalon_id", "jalons")),
    "indicator_values": (("dossier_id", "dossiers"), ("indicator_id", "dossier_indicators")),
    "credit_consumptions": (("dossier_id", "dossiers"),),
}
TOUCHED = ("agenda_items", "dossiers", *REPORTS)


def _sqlite_foreign_keys(on: bool) -> None:
    """PRAGMA foreign_keys is ignored inside a transaction: end the migration's, switch, begin again."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    raw = bind.connection.dbapi_connection
    if on:
        problems = [row for table in TOUCHED for row in raw.execute(f"PRAGMA foreign_key_check({table})")]
        if problems:
            raise RuntimeError(f"foreign keys violated after the rebuild: {problems}")
    raw.execute("COMMIT")
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    raw.execute("BEGIN IMMEDIATE")


def _execute(sql: str, what: str) -> None:
    count = op.get_bind().execute(sa.text(sql)).rowcount
    if count:
        log.warning("followup foreign keys: %s %s row(s)", what, count)


def _clean_orphans() -> None:
    _execute(
        "UPDATE dossiers SET decision_ref = NULL WHERE decision_ref IS NOT NULL "
        "AND decision_ref NOT IN (SELECT id FROM decisions)",
        "dossiers.decision_ref naming no decision set to NULL:",
    )
    _execute(
        "UPDATE dossiers SET agenda_session_ref = NULL WHERE agenda_session_ref IS NOT NULL "
        "AND agenda_session_ref NOT IN (SELECT id FROM committee_sessions)",
        "dossiers.agenda_session_ref naming no meeting set to NULL:",
    )
    for table, references in REPORTS.items():
        for column, referred in references:
            _execute(
                f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM {referred})",
                f"{table} whose {column} names no {referred} row deleted:",
            )
    _execute(
        "UPDATE agenda_items SET dossier_id = NULL WHERE dossier_id IS NOT NULL "
        "AND kind NOT IN ('dossier', 'suivi') AND dossier_id NOT IN (SELECT id FROM dossiers)",
        "agenda_items.dossier_id naming no dossier set to NULL:",
    )
    orphans = op.get_bind().execute(
        sa.text("SELECT id FROM agenda_items WHERE dossier_id NOT IN (SELECT id FROM dossiers) ORDER BY id")
    )
    if ids := [row[0] for row in orphans]:
        raise RuntimeError(
            f"agenda items {ids} name a dossier that does not exist: restore the dossier or repair the items "
            "by hand (they may carry decisions of the register), then upgrade again"
        )


def upgrade():
    _clean_orphans()
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("agenda_items", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_agenda_items_dossier_id_dossiers"),
            "dossiers",
            ["dossier_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    with op.batch_alter_table("credit_consumptions", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_credit_consumptions_dossier_id_dossiers"),
            "dossiers",
            ["dossier_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.alter_column("decision_ref", new_column_name="decision_id")
        batch_op.alter_column("agenda_session_ref", new_column_name="agenda_meeting_id")
    # a second batch: SQLite's rebuild would drop a key declared on a column renamed in the same batch
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_dossiers_agenda_meeting_id_committee_sessions"),
            "committee_sessions",
            ["agenda_meeting_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_dossiers_decision_id_decisions"),
            "decisions",
            ["decision_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("indicator_values", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_indicator_values_indicator_id_dossier_indicators"),
            "dossier_indicators",
            ["indicator_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_indicator_values_dossier_id_dossiers"),
            "dossiers",
            ["dossier_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("jalon_reports", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_jalon_reports_jalon_id_jalons"), "jalons", ["jalon_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_jalon_reports_dossier_id_dossiers"),
            "dossiers",
            ["dossier_id"],
            ["id"],
            ondelete="CASCADE",
        )
    _sqlite_foreign_keys(True)


def downgrade():
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("jalon_reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_jalon_reports_dossier_id_dossiers"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_jalon_reports_jalon_id_jalons"), type_="foreignkey")

    with op.batch_alter_table("indicator_values", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_indicator_values_dossier_id_dossiers"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_indicator_values_indicator_id_dossier_indicators"), type_="foreignkey"
        )

    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_dossiers_decision_id_decisions"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_dossiers_agenda_meeting_id_committee_sessions"), type_="foreignkey"
        )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.alter_column("agenda_meeting_id", new_column_name="agenda_session_ref")
        batch_op.alter_column("decision_id", new_column_name="decision_ref")

    with op.batch_alter_table("credit_consumptions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_credit_consumptions_dossier_id_dossiers"), type_="foreignkey")

    with op.batch_alter_table("agenda_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_agenda_items_dossier_id_dossiers"), type_="foreignkey")
    _sqlite_foreign_keys(True)
