"""Flask commands: reference data, portfolio import/export."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .extensions import db
from .services import portfolio as portfolio_service
from .services import reference
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
    from .queries.portfolio import PortfolioFilters, all_rows

    rows = [[o.code, o.brique, o.besoin] for o in all_rows(PortfolioFilters())]
    try:
        write_table(path, PORTFOLIO_COLUMNS, rows)
    except TableError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{len(rows)} opportunités exportées dans {path}")


def init_app(app) -> None:
    app.cli.add_command(data_cli)
    app.cli.add_command(portfolio_cli)
    from . import cli_users

    cli_users.init_app(app)
