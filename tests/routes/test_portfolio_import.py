"""Import of opportunities in the web UI (secretariat): upload, preview, confirm; all or nothing."""

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Opportunity, Role
from tests.routes.test_tabular import convert


def upload(client, csrf, name: str, body: bytes):
    return client.post(
        "/opportunites/import",
        data={"csrf_token": csrf(client), "file": (io.BytesIO(body), name)},
        content_type="multipart/form-data",
    )


def payload(html: str) -> str:
    return re.search(r'name="payload" type="hidden" value="([^"]+)"', html).group(1)


def count(model=Opportunity) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_secretariat_previews_then_confirms_an_edited_export(client, csrf, login_as, make_user):
    secretariat = login_as(make_user(Role.SECRETARIAT))
    assert "Importer des opportunités" in client.get("/opportunites").get_data(as_text=True)
    workbook = load_workbook(io.BytesIO(client.get("/opportunites/export.xlsx").data))
    sheet = workbook["Opportunités"]
    assert [c.value for c in sheet[1]][:3] == ["Code", "Brique", "Besoin"]
    sheet["B2"] = "Cloud interministériel (renommé)"
    sheet.append(["M200", "Nouvelle brique", "Un besoin"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    before, audits = count(), count(AuditEntry)

    response = upload(client, csrf, "portefeuille.xlsx", buffer.getvalue())
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        "<strong>1</strong> à créer, <strong>1</strong> à mettre à jour, <strong>131</strong> inchangées"
        in html
    )
    assert "M200" in html and "Confirmer l'import" in html
    assert count() == before and count(AuditEntry) == audits  # the preview writes nothing

    response = client.post(
        "/opportunites/import/confirmer", data={"csrf_token": csrf(client), "payload": payload(html)}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/opportunites"
    assert "Import terminé : 1 créée(s), 1 mise(s) à jour, 131 inchangée(s)" in client.get(
        "/opportunites"
    ).get_data(as_text=True)
    assert count() == before + 1
    assert db.session.scalar(select(Opportunity.brique).where(Opportunity.code == "M001")).endswith(
        "(renommé)"
    )
    created = db.session.scalar(select(Opportunity).where(Opportunity.code == "M200"))
    assert created.created_by_id == secretariat.id


def test_a_people_csv_and_an_ods_export_reimport_unchanged(
    client, csrf, login_as, make_user, make_opportunity
):
    make_opportunity(brique='=HYPERLINK("http://evil","x")', besoin="- une liste\n-  deux  espaces")
    login_as(make_user(Role.SECRETARIAT))
    for fmt in ("csv", "ods"):
        response = upload(client, csrf, f"export.{fmt}", client.get(f"/opportunites/export.{fmt}").data)
        assert response.status_code == 200, fmt
        assert "<strong>0</strong> à créer, <strong>0</strong> à mettre à jour, <strong>133</strong>" in (
            response.get_data(as_text=True)
        ), fmt


def test_an_ods_saved_by_libreoffice_is_read(client, csrf, login_as, make_user, tmp_path):
    login_as(make_user(Role.SECRETARIAT))
    source = tmp_path / "saisie.csv"
    source.write_text("code,brique,besoin\nM300,Saisie dans Calc,Texte\nM001,Cloud,\n", encoding="utf-8")
    convert([source], "ods", tmp_path, tmp_path / "profile")
    response = upload(client, csrf, "saisie.ods", (tmp_path / "saisie.ods").read_bytes())
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "<strong>1</strong> à créer, <strong>1</strong> à mettre à jour, <strong>0</strong>" in html


def test_errors_are_listed_by_line_in_french_and_nothing_is_written(client, csrf, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT))
    before = count()
    body = 'code;brique;besoin\nM500;Bonne ligne;"sur\ndeux lignes"\n;Sans code;\n'
    body += "M12;Mal formé;\nM500;Doublon;\n"
    response = upload(client, csrf, "erreurs.csv", body.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "3 lignes en erreur ; aucune ligne n'a été enregistrée" in html
    assert "Ligne 4 : code manquant" in html and "Ligne 5 : code mal formé « M12 »" in html
    assert "Ligne 6 : code M500 en double dans le fichier (déjà ligne 2)" in html
    assert "Confirmer l'import" not in html and count() == before
    missing = upload(client, csrf, "colonnes.csv", b"code;titre\nM001;x\n")
    assert missing.status_code == 422 and "Colonnes manquantes : brique, besoin." in missing.get_data(
        as_text=True
    )
    wrong = upload(client, csrf, "notes.txt", b"bonjour")
    assert wrong.status_code == 422 and "Format non pris en charge" in wrong.get_data(as_text=True)
    broken = upload(client, csrf, "casse.ods", b"PK pas un zip")
    assert broken.status_code == 422 and "Le fichier ODS ne peut pas être lu." in broken.get_data(
        as_text=True
    )
    empty = client.post("/opportunites/import", data={"csrf_token": csrf(client)})
    assert empty.status_code == 422 and "Choisissez un fichier CSV, XLSX ou ODS." in empty.get_data(
        as_text=True
    )


def test_a_tampered_preview_is_refused(client, csrf, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT))
    html = upload(client, csrf, "a.csv", b"code,brique,besoin\nM400,Ajout,\n").get_data(as_text=True)
    forged = payload(html)[:-3] + "abc"
    response = client.post(
        "/opportunites/import/confirmer", data={"csrf_token": csrf(client), "payload": forged}
    )
    assert response.status_code == 422 and "déposez le fichier à nouveau" in response.get_data(as_text=True)
    assert db.session.scalar(select(Opportunity).where(Opportunity.code == "M400")) is None


def test_only_the_secretariat_imports(client, csrf, login_as, make_user):
    assert client.get("/opportunites/import").status_code == 302  # to the login page
    login_as(make_user("dsi", ministry="MI"))
    assert "Importer des opportunités" not in client.get("/opportunites").get_data(as_text=True)
    assert client.get("/opportunites/import").status_code == 403
    assert upload(client, csrf, "a.csv", b"code,brique,besoin\nM400,Ajout,\n").status_code == 403
    assert client.post("/opportunites/import/confirmer", data={"csrf_token": csrf(client)}).status_code == 403


def test_the_upload_page_is_a_dsfr_form(client, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT))
    html = client.get("/opportunites/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'accept=".csv,.xlsx,.ods"' in html
