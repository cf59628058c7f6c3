"""The chantiers migration keeps data: every action gets the chantier of its label (created from the labels,
under the programme of its first digit), the dossiers and everything that hangs from them survive the rebuild
of `dossiers` on SQLite, every committee stays a committee (typed bodies); downgrade and upgrade again.
SQLite, and PostgreSQL with TEST_BACKEND=postgres."""

from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.test_migrations import (
    BEFORE_FOREIGN_KEYS,
    MIGRATIONS,
    check_kept,
    fill_before_foreign_keys,
    insert,
    rows,
    scratch,  # noqa: F401  (the scratch fixture)
)

BEFORE = "b3f1c2d4e5a6"
CHANTIERS = "d7a9e3c1f5b2"
ACTIONS = (
    ("2.2.1", "2.2 France-Cloud"),
    ("2.2.2", "2.2 France-Cloud"),
    ("5.4", "5 Stratégie d'accompagnement"),
)


def _actions(connection) -> None:
    for code, label in ACTIONS:
        values = dict(code=code, chantier=label, title=f"Action {code}", detail="", portage="", cost="")
        insert(connection, "actions", **values, duration="")


def test_actions_are_linked_to_chantiers_and_dossiers_kept(scratch):  # noqa: F811
    upgrade(directory=MIGRATIONS, revision=BEFORE_FOREIGN_KEYS)
    with db.engine.begin() as connection:
        ids = fill_before_foreign_keys(connection)
    upgrade(directory=MIGRATIONS, revision=BEFORE)
    with db.engine.begin() as connection:
        _actions(connection)
    upgrade(directory=MIGRATIONS, revision=CHANTIERS)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        linked = rows(
            connection,
            "SELECT a.code, c.code, c.title, c.visee, p.code, p.kind FROM actions a "
            "JOIN chantiers c ON c.id = a.chantier_id JOIN programmes p ON p.id = c.programme_id "
            "ORDER BY a.code",
        )
        assert linked == [
            ("2.2.1", "2.2", "France-Cloud", "non précisé", "2", "Programme prioritaire"),
            ("2.2.2", "2.2", "France-Cloud", "non précisé", "2", "Programme prioritaire"),
            ("5.4", "5", "Stratégie d'accompagnement", "non précisé", "5", "Accompagnement"),
        ]
        assert rows(connection, "SELECT chantier FROM actions WHERE code = '2.2.1'") == [
            ("2.2 France-Cloud",)
        ]
        assert rows(connection, "SELECT chantier_id FROM dossiers WHERE id = :d", d=ids["dossier"]) == [
            (None,)
        ]
        # every existing body stays a committee until the reference load types it
        assert rows(
            connection, "SELECT kind, project, ends_on FROM committees WHERE id = :c", c=ids["committee"]
        ) == [("comite", "", None)]
    downgrade(directory=MIGRATIONS, revision="-1")
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        assert rows(connection, "SELECT COUNT(*) FROM actions") == [(3,)]
        assert rows(connection, "SELECT COUNT(*) FROM committees WHERE id = :c", c=ids["committee"]) == [(1,)]
    upgrade(directory=MIGRATIONS, revision=CHANTIERS)
    with db.engine.begin() as connection:
        check_kept(connection, ids)
        assert rows(connection, "SELECT COUNT(*) FROM actions WHERE chantier_id IS NOT NULL") == [(3,)]
