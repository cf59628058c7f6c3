"""Migrations keep data: a scratch database is built at the revision before the cross-domain foreign keys,
filled with plain SQL rows valid at that revision (orphans included), upgraded to head, checked row by row,
then downgraded one step and upgraded again. Runs on SQLite, and on PostgreSQL with TEST_BACKEND=postgres
(database `test<TEST_DB_SUFFIX>_migrations`)."""

from datetime import UTC, date, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from app.maintenance import ROOT
from config import TestConfig
from tests.conftest import database_url

MIGRATIONS = str(ROOT / "migrations")
BEFORE_FOREIGN_KEYS = "2bf5a5b45180"  # follow-up: savings reports
FOREIGN_KEYS = "73a8c9eb984f"  # followup: real foreign keys across domains, decision_id/agenda_meeting_id
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def scratch(tmp_path):
    """An app bound to an empty scratch database of its own."""
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url(tmp_path, suffix="_migrations"))
    with app.app_context():
        with db.engine.begin() as connection:
            if db.engine.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        yield app
        db.session.remove()
        with db.engine.begin() as connection:
            if db.engine.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        db.engine.dispose()


def insert(connection, table: str, **values) -> int:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    return connection.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"), values
    ).scalar_one()


def fill_before_foreign_keys(connection) -> dict[str, int]:
    """A row in every table the migration touches, and orphans it must repair (plain SQL of that revision)."""
    ids = {}
    ids["user"] = insert(
        connection,
        "users",
        email="porteur.migration@test.gouv.fr",
        given_name="Paule",
        usual_name="Porteur",
        active=True,
        created_at=NOW,
        calendar_token="jeton-migration",
    )
    ids["committee"] = insert(
        connection,
        "committees",
        code="COMITE-MIG",
        name="Comité de migration",
        role="",
        cadence="",
        members="",
        source="",
    )
    ids["guichet"] = insert(
        connection,
        "guichets",
        code="GUICHET-MIG",
        name="Guichet de migration",
        fund="FTAP",
        mode="",
        description="",
        criteria="",
        amounts="",
        source="",
    )
    ids["meeting"] = insert(
        connection,
        "committee_sessions",
        committee_id=ids["committee"],
        title="Séance de migration",
        starts_at=NOW,
        duration_minutes=120,
        place="Paris",
        visio_url="",
        state="tenue",
        created_at=NOW,
        version=1,
    )
    ids["dossier"] = insert(
        connection,
        "dossiers",
        guichet_id=ids["guichet"],
        created_by_id=ids["user"],
        title="Dossier migré",
        state="en_suivi",
        avis="favorable",
        decision_outcome="accepte",
        submitted_at=NOW,
        start_year=2027,
        created_at=NOW,
        updated_at=NOW,
    )
    ids["item"] = insert(
        connection,
        "agenda_items",
        session_id=ids["meeting"],
        position=1,
        kind="dossier",
        title="Dossier migré",
        proposal="",
        followup_flags="[]",
        notes="",
        dossier_id=ids["dossier"],
        created_at=NOW,
    )
    ids["decision"] = insert(
        connection,
        "decisions",
        item_id=ids["item"],
        session_id=ids["meeting"],
        committee_id=ids["committee"],
        outcome="accepte",
        mode="consensus",
        motivation="Projet solide.",
        conditions="",
        expectations="",
        votes_for=0,
        votes_against=0,
        votes_abstention=0,
        verdict="",
        quorum="",
        above_request_confirmed=False,
        locked=False,
        recorded_at=NOW,
    )
    connection.execute(
        text("UPDATE dossiers SET decision_ref = :d, agenda_session_ref = :m WHERE id = :id"),
        {"d": ids["decision"], "m": ids["meeting"], "id": ids["dossier"]},
    )
    ids["jalon"] = insert(
        connection,
        "jalons",
        dossier_id=ids["dossier"],
        number=1,
        due_on=date(2027, 6, 30),
        description="Recette",
        deliverables="",
        is_procurement=False,
    )
    ids["indicator"] = insert(
        connection,
        "dossier_indicators",
        dossier_id=ids["dossier"],
        position=1,
        objective="Adoption",
        indicator="Agents utilisateurs",
        calculation="",
        current_value="0",
        target_value="5000",
        frequency="",
    )
    ids["jalon_report"] = insert(
        connection,
        "jalon_reports",
        dossier_id=ids["dossier"],
        jalon_id=ids["jalon"],
        achieved_on=date(2027, 2, 1),
        proof="PV de recette",
        recorded_at=NOW,
    )
    ids["indicator_value"] = insert(
        connection,
        "indicator_values",
        dossier_id=ids["dossier"],
        indicator_id=ids["indicator"],
        reported_on=date(2027, 2, 1),
        value="1 200",
        comment="",
        recorded_at=NOW,
    )
    ids["consumption"] = insert(
        connection,
        "credit_consumptions",
        dossier_id=ids["dossier"],
        year=2027,
        ae=40_000,
        cp=10_000,
        recorded_at=NOW,
    )
    ids["savings"] = insert(
        connection,
        "savings_reports",
        dossier_id=ids["dossier"],
        year=2027,
        nature="Licences",
        amount=90_000,
        explanation="Renégociation",
        recorded_at=NOW,
    )
    # orphans the migration repairs: a dossier naming a decision and a meeting that do not exist, reports
    # of a dossier that does not exist
    ids["orphan_refs"] = insert(
        connection,
        "dossiers",
        guichet_id=ids["guichet"],
        created_by_id=ids["user"],
        title="Références perdues",
        state="decide",
        avis="favorable",
        decision_outcome="accepte",
        decision_ref=987_654,
        agenda_session_ref=987_654,
        submitted_at=NOW,
        start_year=2027,
        created_at=NOW,
        updated_at=NOW,
    )
    insert(connection, "credit_consumptions", dossier_id=987_654, year=2027, ae=1, cp=1, recorded_at=NOW)
    insert(
        connection,
        "jalon_reports",
        dossier_id=987_654,
        jalon_id=987_654,
        achieved_on=date(2027, 2, 1),
        proof="x",
        recorded_at=NOW,
    )
    return ids


def rows(connection, sql: str, **params) -> list[tuple]:
    return [tuple(row) for row in connection.execute(text(sql), params)]


def check_kept(connection, ids: dict, decision: str = "decision_id", meeting: str = "agenda_meeting_id"):
    d = ids["dossier"]
    assert rows(
        connection, f"SELECT title, state, {decision}, {meeting} FROM dossiers WHERE id = :d", d=d
    ) == [("Dossier migré", "en_suivi", ids["decision"], ids["meeting"])]
    assert rows(connection, "SELECT kind, dossier_id FROM agenda_items WHERE id = :i", i=ids["item"]) == [
        ("dossier", d)
    ]
    assert rows(connection, "SELECT dossier_id, jalon_id, proof FROM jalon_reports") == [
        (d, ids["jalon"], "PV de recette")
    ]
    assert rows(connection, "SELECT dossier_id, indicator_id, value FROM indicator_values") == [
        (d, ids["indicator"], "1 200")
    ]
    assert rows(connection, "SELECT dossier_id, year, ae, cp FROM credit_consumptions") == [
        (d, 2027, 40_000, 10_000)
    ]
    assert rows(connection, "SELECT dossier_id, nature, amount, explanation FROM savings_reports") == [
        (d, "Licences", 90_000, "Renégociation")
    ]
    assert rows(connection, "SELECT COUNT(*) FROM jalons") == [(1,)]
    assert rows(connection, "SELECT COUNT(*) FROM dossier_indicators") == [(1,)]
    assert rows(connection, "SELECT COUNT(*) FROM decisions") == [(1,)]


def orphan_fails(connection, sql: str, **params) -> None:
    with pytest.raises(IntegrityError):
        with connection.begin_nested():
            connection.execute(text(sql), params)


def test_cross_domain_foreign_keys_keep_every_row_and_refuse_orphans(scratch):
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)

    upgrade(directory=MIGRATIONS, revision=FOREIGN_KEYS)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        # repaired orphans: references to nothing are NULL, reports of no dossier are gone
        assert rows(
            connection,
            "SELECT decision_id, agenda_meeting_id FROM dossiers WHERE id = :d",
            d=ids["orphan_refs"],
        ) == [(None, None)]
        missing = 987_654
        orphan_fails(
            connection, "UPDATE dossiers SET decision_id = :m WHERE id = :d", m=missing, d=ids["dossier"]
        )
        orphan_fails(
            connection,
            "UPDATE dossiers SET agenda_meeting_id = :m WHERE id = :d",
            m=missing,
            d=ids["dossier"],
        )
        orphan_fails(
            connection, "UPDATE agenda_items SET dossier_id = :m WHERE id = :i", m=missing, i=ids["item"]
        )
        for table, column in (
            ("jalon_reports", "dossier_id"),
            ("jalon_reports", "jalon_id"),
            ("indicator_values", "dossier_id"),
            ("indicator_values", "indicator_id"),
            ("credit_consumptions", "dossier_id"),
            ("savings_reports", "dossier_id"),
        ):
            orphan_fails(connection, f"UPDATE {table} SET {column} = :m", m=missing)

    downgrade(directory=MIGRATIONS, revision="-1")
    with db.engine.begin() as connection:
        check_kept(connection, ids, decision="decision_ref", meeting="agenda_session_ref")
    upgrade(directory=MIGRATIONS, revision=FOREIGN_KEYS)
    with db.engine.begin() as connection:
        check_kept(connection, ids)


def test_a_deleted_jalon_takes_its_report_and_a_dossier_on_an_agenda_stays(scratch):
    """ON DELETE CASCADE for the reports; RESTRICT for a dossier an agenda item (and the register) names."""
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)
    upgrade(directory=MIGRATIONS, revision=FOREIGN_KEYS)
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM jalons WHERE id = :j"), {"j": ids["jalon"]})
        assert rows(connection, "SELECT COUNT(*) FROM jalon_reports") == [(0,)]
        # on an agenda: the register keeps it (RESTRICT)
        orphan_fails(connection, "DELETE FROM dossiers WHERE id = :d", d=ids["dossier"])


ONE_DECISION = "c4e1d2a9b7f3"  # reliability: one decision per agenda item, a version on dossiers

DECISION_COLUMNS = dict(
    outcome="refuse",
    mode="consensus",
    motivation="Doublon.",
    conditions="",
    expectations="",
    votes_for=0,
    votes_against=0,
    votes_abstention=0,
    verdict="",
    quorum="",
    above_request_confirmed=False,
    locked=False,
    recorded_at=NOW,
)


COLUMNS = ["item_id", "session_id", "committee_id", *DECISION_COLUMNS]


def test_one_decision_per_item_and_the_dossier_version_keep_every_row(scratch):
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)
    upgrade(directory=MIGRATIONS, revision=ONE_DECISION)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        assert rows(connection, "SELECT version FROM dossiers WHERE id = :d", d=ids["dossier"]) == [(1,)]
        item = dict(item_id=ids["item"], session_id=ids["meeting"], committee_id=ids["committee"])
        orphan_fails(
            connection,
            f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})",
            **item,
            **DECISION_COLUMNS,
        )
        # a rectification of the decision is a second row on the item, and allowed
        rectification = {**DECISION_COLUMNS, "outcome": "accepte", "rectifies_id": ids["decision"]}
        insert(connection, "decisions", **item, **rectification)
    downgrade(directory=MIGRATIONS, revision="-1")
    with db.engine.begin() as connection:
        assert rows(connection, "SELECT COUNT(*) FROM decisions") == [(2,)]
        assert rows(connection, "SELECT title, state FROM dossiers WHERE id = :d", d=ids["dossier"]) == [
            ("Dossier migré", "en_suivi")
        ]
    upgrade(directory=MIGRATIONS, revision=ONE_DECISION)
    with db.engine.begin() as connection:
        assert rows(connection, "SELECT COUNT(*) FROM decisions") == [(2,)]
        assert rows(connection, "SELECT COUNT(*) FROM jalon_reports") == [(1,)]


def test_two_original_decisions_on_one_item_stop_the_migration(scratch, capfd):
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)
    upgrade(directory=MIGRATIONS, revision=FOREIGN_KEYS)
    with db.engine.begin() as connection:
        item = dict(item_id=ids["item"], session_id=ids["meeting"], committee_id=ids["committee"])
        insert(connection, "decisions", **item, **DECISION_COLUMNS)
    with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits
        upgrade(directory=MIGRATIONS, revision=ONE_DECISION)
    assert f"point {ids['item']} (2 décisions)" in capfd.readouterr().err
    with db.engine.begin() as connection:
        assert rows(connection, "SELECT COUNT(*) FROM decisions") == [(2,)]  # nothing lost


CONTRACT_RULES = "a7b4dc6317f6"  # guichets, dossiers: rules with kinds and sources, … fractional ETP


def test_rules_endorsements_grid_and_fractional_etp_keep_every_row(scratch):
    """staff_savings.jobs INTEGER → NUMERIC keeps the values; the new tables and columns start empty."""
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)
    upgrade(directory=MIGRATIONS, revision=FOREIGN_KEYS)
    with db.engine.begin() as connection:
        insert(
            connection,
            "staff_savings",
            dossier_id=ids["dossier"],
            category="A",
            year=2027,
            jobs=3,
            average_cost=80_000,
        )
    upgrade(directory=MIGRATIONS, revision=CONTRACT_RULES)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        assert [
            (float(j), c) for j, c in rows(connection, "SELECT jobs, average_cost FROM staff_savings")
        ] == [(3.0, 80_000)]
        connection.execute(text("UPDATE staff_savings SET jobs = 1.5"))
        assert rows(connection, "SELECT roi_derogation FROM dossiers WHERE id = :d", d=ids["dossier"]) == [
            ("",)
        ]
        for table in ("guichet_rules", "dossier_declarations", "dossier_endorsements", "dossier_assessments"):
            assert rows(connection, f"SELECT COUNT(*) FROM {table}") == [(0,)]
    downgrade(directory=MIGRATIONS, revision="-1")
    upgrade(directory=MIGRATIONS, revision=CONTRACT_RULES)
    with db.engine.begin() as connection:
        check_kept(connection, ids)


CONTRACT_DATA = "e0af24dcea50"  # dossiers: contract data — signatories, yearly targets, savings CP, …


def test_contract_data_gives_savings_their_cp_and_t2_rows_no_redeployed_job(scratch):
    """savings_amounts.cp = the AE already typed (both source tables write AE = CP), staff_savings.redeployed
    = 0, the new tables start empty; down and up again keep every row."""
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)
    upgrade(directory=MIGRATIONS, revision="b3f1c2d4e5a6")  # the head this revision was written on
    with db.engine.begin() as connection:
        line = insert(
            connection,
            "savings_lines",
            dossier_id=ids["dossier"],
            position=0,
            nature="Coûts de gestion",
            category="T3",
            programme="P624",
        )
        insert(connection, "savings_amounts", line_id=line, year=2028, amount=580_000)
        insert(connection, "staff_savings", dossier_id=ids["dossier"], category="B", year=2028, jobs=1.5,
               average_cost=48_000)  # fmt: skip
    upgrade(directory=MIGRATIONS, revision=CONTRACT_DATA)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        assert rows(connection, "SELECT amount, cp FROM savings_amounts") == [(580_000, 580_000)]
        assert [float(r) for (r,) in rows(connection, "SELECT redeployed FROM staff_savings")] == [0.0]
        for table in ("dossier_signatories", "dossier_indicator_targets", "revenue_lines", "revenue_amounts"):
            assert rows(connection, f"SELECT COUNT(*) FROM {table}") == [(0,)]
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text("UPDATE staff_savings SET redeployed = 2"))  # above the 1,5 jobs saved
    downgrade(directory=MIGRATIONS, revision="-1")
    upgrade(directory=MIGRATIONS, revision=CONTRACT_DATA)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        assert rows(connection, "SELECT amount, cp FROM savings_amounts") == [(580_000, 580_000)]
