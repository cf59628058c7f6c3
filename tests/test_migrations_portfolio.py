"""The portfolio migrations keep data: today's states are mapped to the life cycle of [002] §4 (opportunities,
their transition log, the committees' stages), every backing and comment stays, the search columns are
filled for existing rows; downgrade and upgrade again. SQLite, and PostgreSQL with TEST_BACKEND=postgres."""

import json
from datetime import UTC, datetime

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migrations import MIGRATIONS, insert, scratch  # noqa: F401  (the scratch fixture)

BEFORE = "a7b4dc6317f6"  # guichets rules (the head before the portfolio life cycle)
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _opportunity(connection, number: int, status: str, brique: str) -> int:
    return insert(
        connection,
        "opportunities",
        number=number,
        code=f"M{number:03d}",
        brique=brique,
        besoin="Messageries sécurisées des agents",
        status=status,
        search_text=brique.lower(),
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


def _fill(connection) -> dict:
    ids = {
        "qualified": _opportunity(connection, 1, "qualifiee", "Messagerie"),
        "validated": _opportunity(connection, 2, "validee_csic_tech", "Visioconférence"),
        "identified": _opportunity(connection, 3, "identifiee", "Supervision"),
    }
    org = insert(connection, "organisations", code="MIG", name="Ministère de la migration", kind="ministere")
    insert(
        connection,
        "backings",
        opportunity_id=ids["qualified"],
        organisation_id=org,
        role="pilote",
        created_at=NOW,
    )
    insert(
        connection,
        "opportunity_transitions",
        opportunity_id=ids["qualified"],
        from_status="en_criblage",
        to_status="qualifiee",
        reason="Qualifiée à la main",
        created_at=NOW,
    )
    stages = json.dumps(["qualifiee", "validee_csic_tech"])
    cast = "CAST(:stages AS JSON)" if connection.dialect.name == "postgresql" else ":stages"
    connection.execute(
        text(
            "INSERT INTO committees (code, name, role, cadence, members, source, opportunity_stages) "
            f"VALUES ('COMITE-MIG', 'Comité', '', '', '', '', {cast})"
        ),
        {"stages": stages},
    )
    return ids


def _check(connection, ids) -> None:
    states = dict(connection.execute(text("SELECT id, status FROM opportunities")).all())
    assert states == {
        ids["qualified"]: "retenue_criblage",
        ids["validated"]: "validee_csic_tech",
        ids["identified"]: "identifiee",
    }
    log = connection.execute(text("SELECT from_status, to_status, reason FROM opportunity_transitions")).all()
    assert [tuple(row) for row in log] == [("en_criblage", "retenue_criblage", "Qualifiée à la main")]
    assert connection.execute(text("SELECT count(*) FROM backings")).scalar_one() == 1
    stages = connection.execute(
        text("SELECT opportunity_stages FROM committees WHERE code = 'COMITE-MIG'")
    ).scalar()
    assert (json.loads(stages) if isinstance(stages, str) else stages) == [
        "retenue_criblage",
        "en_qualification",
    ]
    stem = connection.execute(
        text("SELECT search_stem FROM opportunities WHERE id = :id"), {"id": ids["qualified"]}
    ).scalar_one()
    assert stem.startswith("m001 messager ") and "securis" in stem
    assert connection.execute(text("SELECT ate FROM opportunities")).scalars().all() == [False] * 3


def test_life_cycle_and_search_migrations_keep_every_row(scratch):  # noqa: F811
    upgrade(directory=MIGRATIONS, revision=BEFORE)
    with db.engine.begin() as connection:
        ids = _fill(connection)
    upgrade(directory=MIGRATIONS, revision="head")
    with db.engine.begin() as connection:
        _check(connection, ids)
    downgrade(directory=MIGRATIONS, revision=BEFORE)
    with db.engine.begin() as connection:
        assert connection.execute(text("SELECT status FROM opportunities ORDER BY id")).scalars().all() == [
            "qualifiee",
            "validee_csic_tech",
            "identifiee",
        ]
    upgrade(directory=MIGRATIONS, revision="head")
    with db.engine.begin() as connection:
        _check(connection, ids)
