"""Every CSV/XLSX/ODS export, opened as a user would: Python's csv with ';' for the people CSV, LibreOffice
headless in a French locale for XLSX and ODS (what Calc shows and what it reads as dates and numbers).

The hostile values (an opportunity titled =HYPERLINK(...), a dossier titled +cmd, a decision point =1+2, a
ballot justification -2+3) go through every export: a CSV cell starts with an apostrophe, a workbook cell
is text and LibreOffice shows the typed text, never a computed result."""

import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.models import AuditEntry, Committee, Meeting, Role, User
from app.models.base import utcnow
from app.models.committees import AgendaItem, Decision, DecisionAmount
from app.services import voting as voting_service
from app.tabular import FORMULA_STARTS
from tests.factories import make_campaign, make_hub_dossier, make_instructed_dossier

HYPERLINK = '=HYPERLINK("http://evil","x")'
CMD = "+cmd|' /C calc'!A0"
POINT = "=1+2"
JUSTIFICATION = "-2+3"
AT = "@SUM(A1:A9)"
TAB = "\t=cmd"


def libreoffice() -> str:
    found = shutil.which("libreoffice") or shutil.which("soffice")
    assert found, "LibreOffice is needed: apt-get install -y libreoffice-calc-nogui (make test does it)"
    return found


def convert(paths: list[Path], target: str, outdir: Path, profile: Path) -> None:
    """One LibreOffice run for all files, in a French locale (« ; » lists, decimal comma, 1 234 €)."""
    env = {**os.environ, "LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8", "LANGUAGE": "fr"}
    subprocess.run(
        [
            libreoffice(),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            target,
            "--outdir",
            str(outdir),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=240,
        env=env,
    )


# "Text - txt - csv (StarCalc)": ';' separator, '"' quote, UTF-8, from line 1, cells as shown
AS_SHOWN_CSV = "csv:Text - txt - csv (StarCalc):59,34,76,1,,0,false,true,true"


@pytest.fixture
def hostile(make_user, make_opportunity):
    """Hostile text in every kind of exported row; returns what the exports need to reach it."""
    opportunity = make_opportunity(brique=HYPERLINK, besoin=AT)
    porteur = make_user(Role.PORTEUR, organization_label=AT)
    db.session.add(
        AuditEntry(
            action="opportunity.updated", object_type="opportunity", object_id="M001", summary=HYPERLINK
        )
    )
    dossier = make_instructed_dossier(
        porteur, title=CMD, state="en_suivi", decision_outcome="accepte", guichet="FTAP-DINUM-OPI"
    )
    committee = db.session.scalar(db.select(Committee).where(Committee.code == "CSIC-TECH"))
    meeting = Meeting(committee=committee, starts_at=utcnow(), state="pv_publie")
    db.session.add(meeting)
    db.session.flush()
    item = AgendaItem(meeting_id=meeting.id, position=1, kind="dossier", title=POINT, dossier_id=dossier.id)
    db.session.add(item)
    db.session.flush()
    decision = Decision(
        item_id=item.id,
        meeting_id=meeting.id,
        committee_id=committee.id,
        outcome="adopte",
        mode="consensus",
        motivation=AT,
        locked=True,
    )
    db.session.add(decision)
    db.session.flush()
    db.session.add(DecisionAmount(decision_id=decision.id, year=2027, ae=1_275_000, cp=5_000))
    campaign = make_campaign([opportunity], visibility="named", title=TAB)
    voter = make_user("dsi", ministry="MI")
    voting_service.cast_vote(campaign, opportunity, value="must", justification=JUSTIFICATION, actor=voter)
    secretariat = make_user(Role.SECRETARIAT)
    voting_service.transition(campaign, to="close", actor=secretariat)
    db.session.commit()
    return {"campaign": campaign, "dossier": dossier, "secretariat": secretariat}


def export_urls(campaign_id: int) -> dict[str, tuple[str, tuple[str, ...], str]]:
    """endpoint → (URL with {fmt}, formats, the hostile text it must carry)."""
    page = ("csv", "rfc4180", "xlsx", "ods")
    return {
        "portfolio.export": ("/opportunites/export.{fmt}", page, HYPERLINK),
        "exports.portfolio": ("/exports/opportunites.{fmt}", page, HYPERLINK),
        "exports.committee_decisions": ("/exports/decisions.{fmt}", page, POINT),
        "exports.followup": ("/exports/suivi.{fmt}", page, CMD),
        "guichets.export": ("/guichets/FTAP-DINUM-OPI/dossiers.{fmt}", page, CMD),
        "dossiers.export_mine": ("/dossiers/export.{fmt}", page, CMD),  # as the dossier's porteur
        "dossiers.export_instruction": ("/dossiers/instruction/export.{fmt}?onglet=tous", page, CMD),
        "voting.export_results": (f"/campagnes/{campaign_id}/resultats.{{fmt}}", page, HYPERLINK),
        "voting.export_ballots": (f"/campagnes/{campaign_id}/bulletins.{{fmt}}", page, JUSTIFICATION),
        "voting.export_campaigns": ("/campagnes/export.{fmt}", page, TAB),
        "admin.export_users": ("/admin/utilisateurs/export.{fmt}", page, AT),
        "admin.export_audit": ("/admin/journal/export.{fmt}", page, HYPERLINK),
        "committees.register.export": ("/comites/registre/export.{fmt}", page, None),  # no free text in it
        "exports.dataset_csv": ("/exports/donnees/opportunites.csv", ("rfc4180",), HYPERLINK),
        "exports.dataset_csv_semicolon": (
            "/exports/donnees/opportunites-point-virgule.csv",
            ("csv",),
            HYPERLINK,
        ),
        "exports.workbook": ("/exports/donnees/portefeuille.xlsx", ("xlsx",), HYPERLINK),
    }


def _url(template: str, fmt: str) -> str:
    if "{fmt}" not in template:
        return template
    if fmt != "rfc4180":
        return template.format(fmt=fmt)
    url = template.format(fmt="csv")
    return url + ("&" if "?" in url else "?") + "format=rfc4180"


def test_the_hostile_value_test_covers_every_export(app):
    """A new export endpoint must be added to export_urls (and so be checked below)."""
    files = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if re.search(r"\.(csv|xlsx|ods)$|\(csv, xlsx", rule.rule)
    }
    assert files == set(export_urls(0))


def csv_rows(response, machine: bool) -> list[list[str]]:
    body = response.get_data()
    if machine:
        assert not body.startswith(b"\xef\xbb\xbf")
    else:
        assert body.startswith(b"\xef\xbb\xbf"), "people CSV starts with a BOM (Excel reads UTF-8)"
    text = body.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter="," if machine else ";"))


def test_hostile_values_never_become_formulas_in_any_export(client, login_as, hostile, tmp_path):
    porteur = db.session.get(User, hostile["dossier"].created_by_id)
    workbooks = []
    for endpoint, (template, formats, text) in export_urls(hostile["campaign"].id).items():
        login_as(porteur if endpoint == "dossiers.export_mine" else hostile["secretariat"])
        for fmt in formats:
            response = client.get(_url(template, fmt))
            assert response.status_code == 200, (endpoint, fmt)
            if fmt in ("csv", "rfc4180"):
                assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
                rows = csv_rows(response, machine=fmt == "rfc4180")
                cells = [cell for row in rows for cell in row]
                assert text is None or "'" + text in cells, (endpoint, fmt)
                assert not [c for c in cells if c.startswith(FORMULA_STARTS)], (endpoint, fmt)
                assert {len(row) for row in rows} == {len(rows[0])}, "every line splits in the same columns"
                continue
            path = tmp_path / f"{endpoint.replace('.', '-')}-{fmt}.{fmt}"  # one LibreOffice output per file
            path.write_bytes(response.data)
            workbooks.append((path, endpoint, text))
            if fmt == "xlsx":
                workbook = load_workbook(path)
                cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row]
                assert not [c.coordinate for c in cells if c.data_type == "f"], endpoint
                assert text is None or [c.data_type for c in cells if c.value == text][:1] == ["s"], endpoint
            else:
                with zipfile.ZipFile(path) as archive:
                    content = archive.read("content.xml").decode()
                assert "table:formula" not in content and 'office:value-type="string"' in content
    convert([p for p, _, _ in workbooks], AS_SHOWN_CSV, tmp_path / "shown", tmp_path / "profile")
    for path, _endpoint, text in workbooks:
        shown = (tmp_path / "shown" / f"{path.stem}.csv").read_text(encoding="utf-8")
        cells = [c for row in csv.reader(io.StringIO(shown, newline=""), delimiter=";") for c in row]
        assert text is None or text in cells, (
            f"LibreOffice shows the text typed in {path.name}, not a computed result"
        )


def test_people_csv_splits_right_with_french_numbers_and_dates(client, login_as, make_user):
    porteur = make_user(Role.PORTEUR)
    hub = make_hub_dossier(porteur)
    hub.state, hub.submitted_at = "depose", hub.created_at
    db.session.commit()
    login_as(make_user(Role.SECRETARIAT))
    response = client.get("/guichets/FTAP/dossiers.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="dossiers-FTAP.csv"'
    body = response.get_data()
    assert body.count(b"\r\n") >= 2 and body.replace(b"\r\n", b"").count(b"\n") == 0, "CRLF line ends"
    header, row = csv_rows(response, machine=False)
    assert len(header) == len(row) == 16  # with the savings CP, additional revenue and redeployed jobs
    values = dict(zip(header, row, strict=True))
    assert values["Dossier"] == hub.reference and values["Intitulé"].startswith("Nouveau HUB")
    assert values["Montant total AE"] == "3850000" and values["Financement FTAP AE"] == "1275000"
    assert values["Part FTAP"] == "33,1" and values["Retour sur 3 ans (€ par € investi)"] == "2,5"
    assert re.fullmatch(r"\d\d/\d\d/20\d\d", values["Déposé le"])
    machine = dict(
        zip(*csv_rows(client.get("/guichets/FTAP/dossiers.csv?format=rfc4180"), True), strict=True)
    )
    assert machine["part_ftap_pct"] == "33.1" and machine["roi_3_ans_eur_par_eur"] == "2.5"
    assert re.fullmatch(r"20\d\d-\d\d-\d\d", machine["depose_le"])
    stamp = csv_rows(client.get("/exports/opportunites.csv?format=rfc4180"), True)[1][-1]
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", stamp), "ISO 8601 with the Paris offset"


def test_workbooks_have_real_dates_numbers_and_a_readme(client, login_as, make_user, tmp_path):
    porteur = make_user(Role.PORTEUR)
    hub = make_hub_dossier(porteur)
    hub.state, hub.submitted_at = "depose", hub.created_at
    db.session.commit()
    login_as(make_user(Role.SECRETARIAT))
    xlsx = tmp_path / "guichet.xlsx"
    xlsx.write_bytes(client.get("/guichets/FTAP/dossiers.xlsx").data)
    ods = tmp_path / "guichet-ods.ods"
    ods.write_bytes(client.get("/guichets/FTAP/dossiers.ods").data)

    workbook = load_workbook(xlsx)
    assert workbook.sheetnames == ["Dossiers", "Lisez-moi"]
    assert workbook.properties.title == "Dossiers déposés au guichet FTAP" and workbook.properties.creator
    sheet = workbook["Dossiers"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:P2"
    assert all(c.font.b for c in sheet[1]) and sheet["A1"].value == "Dossier"
    assert sheet.column_dimensions["A"].width < sheet.column_dimensions["B"].width  # code vs text
    assert sheet["E2"].is_date and sheet["E2"].number_format == "DD/MM/YYYY"
    assert sheet["F2"].value == 3_850_000 and "€" in sheet["F2"].number_format
    assert sheet["I2"].value == pytest.approx(0.331) and "%" in sheet["I2"].number_format
    readme = [[c.value for c in row] for row in workbook["Lisez-moi"].iter_rows()]
    assert readme[0] == ["Export", "Dossiers déposés au guichet FTAP", None, None]
    assert readme[1][0] == "Date de l'export" and "heure de Paris" in readme[1][1]
    assert ["Filtre", f"Guichet : FTAP — {hub.guichet.name}", None, None] in readme
    assert [
        "Dossiers",
        "Part FTAP",
        "Pourcentage",
        "Part du financement FTAP dans le montant total (AE)",
    ] in readme

    with zipfile.ZipFile(ods) as archive:
        assert archive.namelist()[0] == "mimetype"
        settings = archive.read("settings.xml").decode()
        content = archive.read("content.xml").decode()
        meta = archive.read("meta.xml").decode()
    assert 'config:name="VerticalSplitPosition" config:type="int">1<' in settings  # frozen header
    assert 'table:display-filter-buttons="true"' in content and "<dc:title>Dossiers déposés" in meta

    # What LibreOffice (French locale) shows, and what it reads: dates as dates, amounts as numbers.
    convert([xlsx, ods], AS_SHOWN_CSV, tmp_path / "shown", tmp_path / "profile")
    convert([ods], "xlsx", tmp_path / "read", tmp_path / "profile")
    for name in ("guichet.csv", "guichet-ods.csv"):
        header, row = list(csv.reader((tmp_path / "shown" / name).open(encoding="utf-8"), delimiter=";"))[:2]
        values = dict(zip(header, row, strict=False))
        assert values["Montant total AE"].replace("\u202f", " ").replace("\xa0", " ") == "3 850 000 €", name
        assert values["Part FTAP"].replace("\xa0", " ") == "33,1 %", name
        assert re.fullmatch(r"\d\d/\d\d/20\d\d", values["Déposé le"]), name
    read = load_workbook(tmp_path / "read" / "guichet-ods.xlsx")["Dossiers"]
    assert read["E2"].is_date and read["F2"].data_type == "n" and read["F2"].value == 3_850_000


def test_page_export_buttons_carry_the_filters_in_three_formats(client, login_as, make_user):
    login_as(make_user("dsi", ministry="MI"))
    html = client.get("/opportunites?q=cloud").get_data(as_text=True)
    for fmt in ("csv", "xlsx", "ods"):
        assert f'href="/opportunites/export.{fmt}?q=cloud"' in html
    response = client.get("/opportunites/export.ods?q=cloud")
    assert response.headers["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        content = archive.read("content.xml").decode()
    assert "Recherche : cloud" in content
