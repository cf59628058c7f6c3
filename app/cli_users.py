"""Flask commands: `users add` (pre-registration with a role), `demo accounts`, `demo scenario`."""

import click
from flask import current_app
from flask.cli import AppGroup

from . import demo_scenario
from .demo import DEMO_ACCOUNTS
from .extensions import db
from .models import Role
from .models.users import COMMITTEE_FUNCTIONS
from .services import mail
from .services import users as users_service
from .services.errors import DomainError, ValidationFailed

users_cli = AppGroup("users", help="Comptes et rôles.")
demo_cli = AppGroup("demo", help="Données de démonstration (fournisseur ProConnect de test uniquement).")


def _register_with_role(email: str, role: str, names: dict | None = None, **scope) -> list[str]:
    """Find or create the user, grant the role unless held already; returns the lines to print."""
    user, created = users_service.register(email, actor=None, **(names or {}))
    lines = [f"Compte créé : {user.email}" if created else f"Compte existant : {user.email}"]
    try:
        user_role = users_service.grant_role(user, role, actor=None, **scope)
        lines.append(f"Rôle attribué : {user_role.label}")
    except ValidationFailed as error:
        if set(error.errors) != {"role"}:  # anything but "already held" is an error
            raise
        lines.append(error.errors["role"])
    return lines


@users_cli.command("add")
@click.argument("email")
@click.option(
    "--role",
    "role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="secretariat, dsi, porteur, instructeur ou comite.",
)
@click.option("--ministry", help="Code du ministère (rôle dsi), par exemple MI.")
@click.option("--guichet", help="Code du guichet (rôle instructeur), par exemple SNAP4.")
@click.option("--committee", help="Code du comité (rôle comite), par exemple CSIC-TECH.")
@click.option(
    "--function",
    "function",
    type=click.Choice(list(COMMITTEE_FUNCTIONS)),
    help="Fonction au comité (rôle comite).",
)
def users_add(email, role, ministry, guichet, committee, function):
    """Pre-register EMAIL with a role: the first ProConnect login with this e-mail gets it."""
    try:
        lines = _register_with_role(
            email, role, ministry=ministry, guichet=guichet, committee=committee, function=function
        )
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    for line in lines:
        click.echo(line)


@demo_cli.command("accounts")
def demo_accounts():
    """Register the demo accounts (one per role) of the local test provider; idempotent."""
    if not current_app.config["PROCONNECT_IS_MOCK"]:
        raise click.ClickException(
            "Les comptes de démonstration n'existent qu'avec le fournisseur de test "
            "(PROCONNECT_IS_MOCK=true)."
        )
    for account in DEMO_ACCOUNTS:
        scope = {k: account.get(k) for k in ("ministry", "guichet", "committee", "function")}
        try:
            names = {"given_name": account["given_name"], "usual_name": account["usual_name"]}
            lines = _register_with_role(account["email"], account["role"], names, **scope)
        except DomainError as error:
            db.session.rollback()
            raise click.ClickException(f"{account['email']} : {error.message}") from None
        click.echo(" ; ".join(lines))
    db.session.commit()


@demo_cli.command("scenario")
def demo_scenario_command():
    """Load the living demo (campaigns, dossiers in every state, meetings, follow-up) through the services;
    idempotent; refused in production."""
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("Les données de démonstration ne se chargent jamais en production.")
    try:
        report = demo_scenario.run()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"Scénario interrompu : {error.message}") from None
    db.session.commit()
    sent = mail.deliver_committed()  # the notifications' mails, to the mail catcher (retried if it is down)
    for line in report.lines:
        click.echo(line)
    if sent:
        click.echo(f"Courriels envoyés : {sent}")


def init_app(app) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
