"""followup: tranches, avenants, jalons as budget-consumption milestones

Revision ID: d7a2e9c41f08
Revises: e0af24dcea50
Create Date: 2026-12-01 15:10:00

- `tranches` (+ `tranche_transitions`): the funding released in tranches decided by the fund's secretariat
  ([004] §6), a state machine prévue → débloquée / suspendue / annulée with its transition log.
- `avenants` (+ `avenant_transitions`): amendments of the contract ([000] §8), en projet → signé / abandonné;
  the values a signed avenant replaced are kept on its row.
- `jalons.ae_planned`, `jalons.cp_planned`: the credits expected consumed at the jalon's date ([000] §5.2),
  NULL for every existing jalon (not translated).
"""

import sqlalchemy as sa
from alembic import op

revision = "d7a2e9c41f08"
down_revision = "e0af24dcea50"
branch_labels = None
depends_on = None


def _log(table: str, owner: str, owner_table: str):
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(owner, sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=False),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f(f"fk_{table}_actor_id_users")),
        sa.ForeignKeyConstraint(
            [owner], [f"{owner_table}.id"], name=op.f(f"fk_{table}_{owner}_{owner_table}"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_{owner}"), table, [owner])


def upgrade():
    op.create_table(
        "tranches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("planned_amount", sa.Integer(), nullable=False),
        sa.Column("planned_year", sa.Integer(), nullable=False),
        sa.Column("planned_quarter", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.Text(), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("released_on", sa.Date(), nullable=True),
        sa.Column("released_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('prevue', 'debloquee', 'suspendue', 'annulee')", name=op.f("ck_tranches_state_known")
        ),
        sa.CheckConstraint(
            "planned_amount > 0 AND (amount IS NULL OR amount >= 0)", name=op.f("ck_tranches_amounts_positive")
        ),
        sa.CheckConstraint("planned_quarter BETWEEN 1 AND 4", name=op.f("ck_tranches_quarter_known")),
        sa.CheckConstraint("planned_year BETWEEN 2000 AND 2100", name=op.f("ck_tranches_year_plausible")),
        sa.CheckConstraint(
            "state != 'debloquee' OR (amount IS NOT NULL AND released_on IS NOT NULL)",
            name=op.f("ck_tranches_released_has_amount_and_date"),
        ),
        sa.CheckConstraint(
            "state NOT IN ('suspendue', 'annulee') OR state_reason IS NOT NULL",
            name=op.f("ck_tranches_suspension_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_tranches_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["released_by_id"], ["users.id"], name=op.f("fk_tranches_released_by_id_users")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_tranches_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tranches")),
        sa.UniqueConstraint("dossier_id", "number", name=op.f("uq_tranches_dossier_id_number")),
    )
    op.create_index(op.f("ix_tranches_dossier_id"), "tranches", ["dossier_id"])
    _log("tranche_transitions", "tranche_id", "tranches")

    op.create_table(
        "avenants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("new_amount", sa.Integer(), nullable=True),
        sa.Column("new_ends_on", sa.Date(), nullable=True),
        sa.Column("jalon_id", sa.Integer(), nullable=True),
        sa.Column("jalon_new_due_on", sa.Date(), nullable=True),
        sa.Column("previous_amount", sa.Integer(), nullable=True),
        sa.Column("previous_ends_on", sa.Date(), nullable=True),
        sa.Column("previous_jalon_due_on", sa.Date(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("signed_attachment_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('en_projet', 'signe', 'abandonne')", name=op.f("ck_avenants_state_known")),
        sa.CheckConstraint("new_amount IS NULL OR new_amount > 0", name=op.f("ck_avenants_amount_positive")),
        sa.CheckConstraint("state != 'signe' OR signed_on IS NOT NULL", name=op.f("ck_avenants_signed_has_date")),
        sa.CheckConstraint(
            "(jalon_id IS NULL) = (jalon_new_due_on IS NULL)", name=op.f("ck_avenants_jalon_change_complete")
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_avenants_dossier_id_dossiers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["jalon_id"], ["jalons.id"], name=op.f("fk_avenants_jalon_id_jalons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["signed_attachment_id"],
            ["dossier_attachments.id"],
            name=op.f("fk_avenants_signed_attachment_id_dossier_attachments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_avenants_created_by_id_users")),
        sa.ForeignKeyConstraint(["signed_by_id"], ["users.id"], name=op.f("fk_avenants_signed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_avenants")),
        sa.UniqueConstraint("dossier_id", "number", name=op.f("uq_avenants_dossier_id_number")),
    )
    op.create_index(op.f("ix_avenants_dossier_id"), "avenants", ["dossier_id"])
    _log("avenant_transitions", "avenant_id", "avenants")

    # plain ALTER TABLE on both backends: a batch rebuild of `jalons` on SQLite would drop the table its
    # reports cascade from
    op.add_column("jalons", sa.Column("ae_planned", sa.Integer(), nullable=True))
    op.add_column("jalons", sa.Column("cp_planned", sa.Integer(), nullable=True))


def downgrade():
    op.execute("ALTER TABLE jalons DROP COLUMN cp_planned")  # SQLite ≥ 3.35 and PostgreSQL
    op.execute("ALTER TABLE jalons DROP COLUMN ae_planned")
    op.drop_index("ix_avenant_transitions_avenant_id", table_name=op.f("avenant_transitions"))
    op.drop_table("avenant_transitions")
    op.drop_index("ix_avenants_dossier_id", table_name=op.f("avenants"))
    op.drop_table("avenants")
    op.drop_index("ix_tranche_transitions_tranche_id", table_name=op.f("tranche_transitions"))
    op.drop_table("tranche_transitions")
    op.drop_index("ix_tranches_dossier_id", table_name=op.f("tranches"))
    op.drop_table("tranches")
