"""flask data load / portfolio import / portfolio export, through the real CLI."""

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import Action, AuditEntry, Committee, Guichet, Opportunity, Organisation
from app.tabular import neutralise

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(app, db_session):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def counts():
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Opportunity, Action, Organisation, Guichet, Committee)
    }


def test_data_load_is_idempotent(cli):
    before = counts()
    audit_before = db.session.scalar(select(func.count(AuditEntry.id)))
    result = cli("data", "load")
    assert result.exit_code == 0, result.output
    assert "opportunités : 0 créés, 0 mis à jour, 132 inchangés" in result.output
    assert (
        counts()
        == before
        == {"Opportunity": 132, "Action": 51, "Organisation": 22, "Guichet": 21, "Committee": 36}
    )
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audit_before


def test_actions_are_linked_to_their_opportunities(db_session):
    action = db.session.scalar(select(Action).where(Action.code == "2.1.1"))
    assert [o.code for o in action.opportunities] == ["M002", "M003", "M004", "M005", "M022", "M051"]
    assert action.moscow == "must"
    snap4 = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP4"))
    assert (snap4.parent.code, snap4.parent.parent.code) == ("SNAP", "FR-MTFP")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_changes_nothing(cli, tmp_path, suffix):
    path = tmp_path / f"portefeuille{suffix}"
    result = cli("portfolio", "export", str(path))
    assert result.exit_code == 0, result.output
    result = cli("portfolio", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "0 créée(s), 0 mise(s) à jour, 132 inchangée(s), 0 rejetée(s)" in result.output


def test_export_csv_has_the_annex_columns_and_text(cli, tmp_path):
    path = tmp_path / "export.csv"
    cli("portfolio", "export", str(path))
    exported = list(csv.DictReader(path.open(encoding="utf-8")))
    annex = list(csv.DictReader((ROOT / "data" / "opportunities.csv").open(encoding="utf-8")))
    # the same text, a formula-like start (a Markdown list "- …" of M130) behind an apostrophe (OWASP)
    assert exported == [{k: neutralise(v) for k, v in row.items()} for row in annex]
    assert exported[129]["besoin"].startswith("'- mutualisation")


def test_import_reports_line_numbers_and_writes_nothing_on_error(cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        'code,brique,besoin\nM500,Bonne ligne,"sur\ndeux lignes"\n,Sans code,\nM12,Mal formé,\n'
        "M500,Doublon,\n",
        encoding="utf-8",
    )
    result = cli("portfolio", "import", str(path))
    assert result.exit_code != 0
    assert "ligne 4 : code manquant" in result.output
    assert "ligne 5 : code mal formé « M12 »" in result.output
    assert "ligne 6 : code M500 en double dans le fichier (déjà ligne 2)" in result.output
    assert "aucune ligne n'a été enregistrée" in result.output
    assert db.session.scalar(select(Opportunity).where(Opportunity.code == "M500")) is None


def test_import_xlsx_creates_and_updates(cli, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["code", "brique", "besoin"])
    sheet.append(["M133", "Nouvelle brique", "Besoin"])
    sheet.append(["M001", "Cloud interministériel (renommé)", "Texte"])
    path = tmp_path / "import.xlsx"
    workbook.save(path)
    result = cli("portfolio", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 créée(s), 1 mise(s) à jour" in result.output
    assert (
        db.session.scalar(select(Opportunity.brique).where(Opportunity.code == "M001"))
        == "Cloud interministériel (renommé)"
    )


def test_import_refuses_unknown_formats_and_missing_columns(cli, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    assert "Format non pris en charge" in cli("portfolio", "import", str(tmp_path / "x.txt")).output
    (tmp_path / "y.csv").write_text("code,titre\nM001,x\n")
    assert (
        "Colonnes manquantes : brique, besoin" in cli("portfolio", "import", str(tmp_path / "y.csv")).output
    )
