"""flask users add / flask demo accounts, through the real CLI."""

import pytest
from sqlalchemy import func, select

from app.demo import DEMO_ACCOUNTS
from app.extensions import db
from app.models import AuditEntry, User


@pytest.fixture
def cli(app, db_session):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def audit_count(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == action))


def test_users_add_creates_then_grants_idempotently(cli):
    result = cli(
        "users", "add", "Chef.Projet@Interieur.gouv.fr", "--role", "instructeur", "--guichet", "snap4"
    )
    assert result.exit_code == 0, result.output
    assert "Compte créé : chef.projet@interieur.gouv.fr" in result.output
    assert "Rôle attribué : Instructeur — SNAP4" in result.output
    again = cli(
        "users", "add", "chef.projet@interieur.gouv.fr", "--role", "instructeur", "--guichet", "SNAP4"
    )
    assert again.exit_code == 0 and "Compte existant" in again.output and "a déjà le rôle" in again.output
    user = db.session.scalar(select(User).where(User.email == "chef.projet@interieur.gouv.fr"))
    assert [r.label for r in user.roles] == ["Instructeur — SNAP4"]
    assert audit_count("user.registered") == 1 and audit_count("role.granted") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--role", "dsi"], "Indiquez le ministère de ce membre DSI."),
        (["--role", "dsi", "--ministry", "XX"], "Ministère inconnu : « XX »."),
        (["--role", "comite", "--committee", "CSIC-TECH"], "Choisissez la fonction au sein du comité."),
        (["--role", "porteur", "--guichet", "SNAP4"], "Ce champ ne s'applique pas"),
    ],
)
def test_users_add_refuses_bad_scopes_and_writes_nothing(cli, args, message):
    result = cli("users", "add", "nouveau@test.gouv.fr", *args)
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(User).where(User.email == "nouveau@test.gouv.fr")) is None


def test_users_add_refuses_an_unknown_role_and_a_bad_email(cli):
    assert "Invalid value for '--role'" in cli("users", "add", "x@test.gouv.fr", "--role", "roi").output
    result = cli("users", "add", "pas-une-adresse", "--role", "porteur")
    assert result.exit_code != 0 and "Adresse électronique invalide" in result.output


def test_demo_accounts_is_idempotent(cli):
    first = cli("demo", "accounts")
    assert first.exit_code == 0, first.output
    second = cli("demo", "accounts")
    assert second.exit_code == 0 and second.output.count("Compte existant") == len(DEMO_ACCOUNTS)
    users = {u.email: u for u in db.session.scalars(select(User).where(User.email.like("%@demo.gouv.fr")))}
    assert {a["email"] for a in DEMO_ACCOUNTS} <= set(users)
    comite = [r.label for r in users["comite@demo.gouv.fr"].roles]
    assert comite == ["Membre de comité — CSIC-TECH (Président)"]
    assert [r.label for r in users["dsi@demo.gouv.fr"].roles] == ["Membre DSI — MI"]
    assert users["secretariat@demo.gouv.fr"].full_name == "Camille Martin"


def test_demo_accounts_refused_without_the_test_provider(app, cli):
    app.config["PROCONNECT_IS_MOCK"] = False
    try:
        result = cli("demo", "accounts")
    finally:
        app.config["PROCONNECT_IS_MOCK"] = True
    assert result.exit_code != 0 and "fournisseur de test" in result.output
    assert db.session.scalar(select(User).where(User.email == "secretariat@demo.gouv.fr")) is None
