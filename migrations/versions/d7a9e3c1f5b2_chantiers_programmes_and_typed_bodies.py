"""chantiers: programmes and chantiers as objects (actions and dossiers linked); committees: typed bodies

Revision ID: d7a9e3c1f5b2
Revises: d7e2a1f04c9b
Create Date: 2026-12-01 15:20:00

The strategy's programmes and chantiers (`002_…txt` §2–5) were only a text attribute of actions
(`actions.chantier` = « 2.2 France-Cloud »). Now:

- `programmes` (2, 3, 4, 5) and `chantiers` (2.1 … 3.6, 4, 5) with the chantier's « visée 2022 », portage,
  cost, duration, MoSCoW and source; created here from the distinct labels the actions carry (code and
  title, the other fields « non précisé » until `flask data load` fills them from data/chantiers.csv);
- `actions.chantier_id` set from each action's label (the label stays: it is the portfolio's filter value);
- `dossiers.chantier_id`, a chantier a dossier names directly (empty for existing dossiers).

Committees: every body named in the documents was a live committee. Now `committees.kind` (comite, reunion,
personne, groupe; every existing row stays a `comite` until `flask data load` types the reference bodies
from data/committees.csv), a one-off meeting's `held_on`, `participants` and `outcomes`, a project body's
`project` and `ends_on` (no séance is generated after it). Plain ALTER TABLE on both backends (a batch
rebuild of `committees` on SQLite would drop the table its meetings and members hang from).
"""

import sqlalchemy as sa
from alembic import op

revision = "d7a9e3c1f5b2"
down_revision = "d7e2a1f04c9b"
branch_labels = None
depends_on = None

NOT_GIVEN = "non précisé"
PROGRAMMES = {
    "2": ("Quatre programmes prioritaires", "Programme prioritaire"),
    "3": ("Six chantiers complémentaires", "Chantier complémentaire"),
    "4": ("Politique de mutualisation interministérielle progressive par opportunité", "Démarche de mutualisation"),
    "5": (
        "Stratégie d'accompagnement interministérielle à la transformation numérique de l'Etat",
        "Accompagnement",
    ),
}


TOUCHED = ("actions", "dossiers", "committees")


def _sqlite_foreign_keys(on: bool) -> None:
    """SQLite rebuilds `actions` and `dossiers` (batch mode): with foreign keys on, dropping the old table
    would cascade into the tables that reference it. PRAGMA foreign_keys is ignored inside a transaction:
    end the migration's, switch, begin again (as 73a8c9eb984f does)."""
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


def _position(code: str) -> int:
    parts = [int(p) for p in code.split(".")] + [0]
    return parts[0] * 100 + parts[1]


KINDS = "'comite', 'reunion', 'personne', 'groupe'"


def _committees_up() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql(
            "ALTER TABLE committees ADD COLUMN kind VARCHAR(16) DEFAULT 'comite' NOT NULL "
            f"CONSTRAINT ck_committees_kind_known CHECK (kind IN ({KINDS}))"
        )
    else:
        op.add_column("committees", sa.Column("kind", sa.String(16), server_default="comite", nullable=False))
        op.create_check_constraint(op.f("ck_committees_kind_known"), "committees", f"kind IN ({KINDS})")
    op.add_column("committees", sa.Column("held_on", sa.Date(), nullable=True))
    op.add_column("committees", sa.Column("participants", sa.Text(), server_default="", nullable=False))
    op.add_column("committees", sa.Column("outcomes", sa.Text(), server_default="", nullable=False))
    op.add_column("committees", sa.Column("project", sa.Text(), server_default="", nullable=False))
    op.add_column("committees", sa.Column("ends_on", sa.Date(), nullable=True))


def _committees_down() -> None:
    bind = op.get_bind()
    for column in ("ends_on", "project", "outcomes", "participants", "held_on"):
        op.execute(f"ALTER TABLE committees DROP COLUMN {column}")  # SQLite ≥ 3.35 and PostgreSQL
    if bind.dialect.name == "sqlite":
        # SQLite cannot drop a column its CHECK constraint names: rebuild without it (foreign keys off).
        _sqlite_foreign_keys(False)
        with op.batch_alter_table("committees") as batch:
            batch.drop_constraint(batch.f("ck_committees_kind_known"), type_="check")
            batch.drop_column("kind")
        _sqlite_foreign_keys(True)
    else:
        op.drop_constraint(op.f("ck_committees_kind_known"), "committees", type_="check")
        op.drop_column("committees", "kind")


def upgrade():
    _committees_up()
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
        sa.UniqueConstraint("code", name=op.f("uq_programmes_code")),
    )
    op.create_table(
        "chantiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("visee", sa.Text(), nullable=False),
        sa.Column("portage", sa.Text(), nullable=False),
        sa.Column("cost", sa.Text(), nullable=False),
        sa.Column("duration", sa.Text(), nullable=False),
        sa.Column("moscow", sa.String(length=8), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "moscow IS NULL OR moscow IN ('must', 'should', 'could', 'wont')", name=op.f("ck_chantiers_moscow_known")
        ),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], name=op.f("fk_chantiers_programme_id_programmes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chantiers")),
        sa.UniqueConstraint("code", name=op.f("uq_chantiers_code")),
    )
    op.create_index(op.f("ix_chantiers_programme_id"), "chantiers", ["programme_id"], unique=False)
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("chantier_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_actions_chantier_id"), ["chantier_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_actions_chantier_id_chantiers"), "chantiers", ["chantier_id"], ["id"])
    with op.batch_alter_table("dossiers") as batch:
        batch.add_column(sa.Column("chantier_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_dossiers_chantier_id"), ["chantier_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_dossiers_chantier_id_chantiers"), "chantiers", ["chantier_id"], ["id"])
    _sqlite_foreign_keys(True)

    # Link the existing actions: one chantier per distinct label, under the programme of its first digit.
    bind = op.get_bind()
    labels = [row[0] for row in bind.execute(sa.text("SELECT DISTINCT chantier FROM actions")) if row[0]]
    programme_ids = {}
    for label in labels:
        code, _, title = label.partition(" ")
        top = code.split(".")[0]
        if top not in programme_ids:
            name, kind = PROGRAMMES.get(top, (f"Section {top}", "Chantier"))
            bind.execute(
                sa.text("INSERT INTO programmes (code, title, kind, source) VALUES (:c, :t, :k, '')"),
                {"c": top, "t": name, "k": kind},
            )
            programme_ids[top] = bind.execute(
                sa.text("SELECT id FROM programmes WHERE code = :c"), {"c": top}
            ).scalar_one()
        bind.execute(
            sa.text(
                "INSERT INTO chantiers (programme_id, code, position, title, visee, portage, cost, duration, "
                "source) VALUES (:p, :c, :pos, :t, :n, :n, :n, :n, '')"
            ),
            {"p": programme_ids[top], "c": code, "pos": _position(code), "t": title or code, "n": NOT_GIVEN},
        )
        bind.execute(
            sa.text(
                "UPDATE actions SET chantier_id = (SELECT id FROM chantiers WHERE code = :c) WHERE chantier = :l"
            ),
            {"c": code, "l": label},
        )


def downgrade():
    _committees_down()
    _sqlite_foreign_keys(False)
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_constraint(batch.f("fk_dossiers_chantier_id_chantiers"), type_="foreignkey")
        batch.drop_index(batch.f("ix_dossiers_chantier_id"))
        batch.drop_column("chantier_id")
    with op.batch_alter_table("actions") as batch:
        batch.drop_constraint(batch.f("fk_actions_chantier_id_chantiers"), type_="foreignkey")
        batch.drop_index(batch.f("ix_actions_chantier_id"))
        batch.drop_column("chantier_id")
    _sqlite_foreign_keys(True)
    op.drop_index(op.f("ix_chantiers_programme_id"), table_name="chantiers")
    op.drop_table("chantiers")
    op.drop_table("programmes")
