"""Flask commands: reference data, portfolio import/export, committees, the ProConnect check."""

from datetime import date, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from . import assets, cli_users, jobs, oidc
from .extensions import db
from .formatting import paris_today
from .models import BodyKind, Committee
from .queries.portfolio import PortfolioFilters, all_rows
from .services import committees as committees_service
from .services import portfolio as portfolio_service
from .services import reference
from .services import register as register_service
from .services.errors import DomainError
from .tabular import PORTFOLIO_COLUMNS, TableError, read_table, write_table

data_cli = AppGroup("data", help="Données de référence.")
portfolio_cli = AppGroup("portfolio", help="Import et export du portefeuille.")


@data_cli.command("load")
def data_load():
    """Import (or update) organisations, opportunities, actions, guichets and committees from data/."""
    report = reference.load_all(Path(current_app.config["DATA_DIR"]))
    db.session.commit()
    for line in report.lines():
        click.echo(line)


@portfolio_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def portfolio_import(path: Path):
    """Import opportunities from a CSV or XLSX file (columns code, brique, besoin); all or nothing."""
    try:
        header, rows = read_table(path)
    except TableError as error:
        raise click.ClickException(str(error)) from None
    missing = [c for c in PORTFOLIO_COLUMNS if c not in header]
    if missing:
        raise click.ClickException("Colonnes manquantes : " + ", ".join(missing))
    try:
        report = portfolio_service.import_rows(rows, actor=None)
    except portfolio_service.ImportRejected as error:
        db.session.rollback()
        for line, reason in error.report.rejected:
            click.echo(f"ligne {line} : {reason}", err=True)
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Import terminé : {report.summary()}")
    for code in report.created:
        click.echo(f"  créée : {code}")
    for code in report.updated:
        click.echo(f"  mise à jour : {code}")


@portfolio_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def portfolio_export(path: Path):
    """Export the whole portfolio to CSV or XLSX (by extension), same columns as the import."""
    rows = [[o.code, o.brique, o.besoin] for o in all_rows(PortfolioFilters())]
    try:
        write_table(path, PORTFOLIO_COLUMNS, rows)
    except TableError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{len(rows)} opportunités exportées dans {path}")


# --- committees -------------------------------------------------------------------------------------------

committees_cli = AppGroup("committees", help="Comités : séances récurrentes, registre des décisions.")


@committees_cli.command("verify-register")
def committees_verify_register():
    """Recompute the decision register's hash chain; exit code 1 when it was tampered with."""
    check = register_service.record_verification(trigger="cli", actor=None)
    db.session.commit()
    if check.ok:
        click.echo(f"Registre intègre : {check.entries} entrée(s), dernière empreinte {check.last_hash}")
        return
    for position, message in check.problems:
        click.echo(f"entrée {position} : {message}" if position else message, err=True)
    raise click.ClickException(f"Registre altéré : {len(check.problems)} anomalie(s).")


@committees_cli.command("generate-meetings")
@click.option("--until", "until", help="Dernière date (AAAA-MM-JJ) ; par défaut dans 6 mois.")
@click.option(
    "--committee",
    "codes",
    multiple=True,
    help="Code du comité (répétable) ; par défaut tous ceux qui ont une récurrence.",
)
def committees_generate_meetings(until, codes):
    """Create the planned meetings of the committees' recurrence rules (idempotent)."""
    try:
        last = date.fromisoformat(until) if until else paris_today() + timedelta(days=183)
    except ValueError:
        raise click.ClickException("Date attendue au format AAAA-MM-JJ.") from None
    query = (
        select(Committee)
        .where(
            Committee.recurrence.is_not(None),
            Committee.kind == BodyKind.COMITE,
            Committee.ends_on.is_(None) | (Committee.ends_on >= paris_today()),
        )
        .order_by(Committee.code)
    )
    if codes:
        query = (
            select(Committee).where(Committee.code.in_([c.upper() for c in codes])).order_by(Committee.code)
        )
    committees = list(db.session.scalars(query))
    if codes and len(committees) != len(set(codes)):
        raise click.ClickException(
            "Comité inconnu : " + ", ".join(sorted({c.upper() for c in codes} - {c.code for c in committees}))
        )
    for committee in committees:
        try:
            created = committees_service.generate_meetings(committee, until=last, actor=None)
        except DomainError as error:
            raise click.ClickException(f"{committee.code} : {error.message}") from None
        click.echo(f"{committee.code} : {len(created)} séance(s) créée(s)")
    db.session.commit()


# The command's former name, kept (hidden) so that existing cron lines keep working.
committees_cli.add_command(
    click.Command(
        "generate-sessions",
        callback=committees_generate_meetings.callback,
        params=committees_generate_meetings.params,
        help="Ancien nom de « generate-meetings ».",
        hidden=True,
    )
)


assets_cli = AppGroup("assets", help="Fichiers statiques.")


@assets_cli.command("build")
def assets_build():
    """Write the hashed copies, the icon subset and the compressed siblings of the static files."""
    manifest = assets.build(Path(current_app.static_folder), Path(current_app.root_path))
    for name, built in sorted(manifest.items()):
        click.echo(f"{name} → {built}")


# --- ProConnect -------------------------------------------------------------------------------------------

proconnect_cli = AppGroup("proconnect", help="ProConnect : vérification de la configuration.")


@proconnect_cli.command(
    "check",
    help="Vérifie le document de découverte et les clés de ProConnect ; nomme la cause d'un échec "
    "(404, DNS, TLS, délai dépassé…) et sort avec le code 1.",
)
@click.option("--url", help="Adresse de découverte à vérifier ; par défaut PROCONNECT_DISCOVERY_URL.")
@click.option("--timeout", default=10.0, show_default=True, help="Délai de chaque requête, en secondes.")
def proconnect_check(url, timeout):
    """Fetch the discovery document and the signing keys; say exactly what is wrong (exit code 1)."""
    report = oidc.check_provider(url, timeout=timeout)
    click.echo(f"Découverte : {report.url}")
    for check in report.checks:
        mark = "ok " if check.ok else "ERREUR"
        cause = f" [{check.cause}]" if check.cause else ""
        click.echo(f"  {mark} {check.name}{cause} : {check.detail}", err=not check.ok)
    if not report.ok:
        raise click.ClickException(f"ProConnect n'est pas utilisable ({report.cause}).")
    click.echo("ProConnect est joignable et sa configuration est complète.")


def init_app(app) -> None:
    app.cli.add_command(assets_cli)
    app.cli.add_command(proconnect_cli)
    app.cli.add_command(data_cli)
    app.cli.add_command(portfolio_cli)
    app.cli.add_command(committees_cli)
    cli_users.init_app(app)
    jobs.init_app(app)
