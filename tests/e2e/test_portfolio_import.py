"""The secretariat imports opportunities from a file in the browser: upload, preview, confirm (axe on each
step); the export button's file is what is uploaded."""

import re

import pytest
from sqlalchemy import delete

from app.extensions import db
from app.models import Opportunity

from .helpers import axe_check, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def cleanup(live_app):
    yield
    with live_app.app_context():
        db.session.execute(delete(Opportunity).where(Opportunity.code == "M900"))
        db.session.commit()


def test_secretariat_imports_a_file_after_a_preview(proconnect, page, tmp_path, cleanup):
    sign_in(page, "secretariat@demo.gouv.fr")
    page.goto("/opportunites")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Exporter en CSV")).click()
    exported = download.value.path().read_text(encoding="utf-8-sig")
    assert exported.startswith("Code;Brique;Besoin;")
    upload = tmp_path / "ajout.csv"
    upload.write_text(exported + "M900;Brique importée;Besoin importé\r\n", encoding="utf-8-sig")

    page.get_by_role("link", name=re.compile("Importer des opportunités")).click()
    page.wait_for_url(re.compile(r"/opportunites/import$"))
    axe_check(page, "main")
    page.get_by_label(re.compile("Fichier à importer")).set_input_files(upload)
    page.get_by_role("button", name="Voir l'aperçu").click()
    preview = page.locator("#import-preview")
    preview.wait_for()
    assert re.search(r"1 à créer, 0 à mettre à jour, \d+ inchangées", " ".join(preview.inner_text().split()))
    axe_check(page, "main")
    page.get_by_role("button", name="Confirmer l'import").click()
    page.wait_for_url(re.compile(r"/opportunites$"))
    assert "Import terminé : 1 créée(s)" in page.locator("#flash").inner_text()
