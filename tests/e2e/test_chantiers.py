"""A chantier's page in a browser: the secretariat signs in, goes from the header to the strategy's
programmes, opens 2.2 France-Cloud and reads its visée, actions, opportunities and a dossier's amounts;
then the dashboard's per-chantier view (axe on each page)."""

import re

import pytest
from sqlalchemy import delete, select

from app.extensions import db
from app.models import Guichet, Opportunity, User
from app.models.base import utcnow
from app.models.dossiers import Dossier, FinancingAmount, FinancingLine
from app.models.followup import CreditConsumption

from .helpers import axe_check, sign_in, wait_until_ready

pytestmark = pytest.mark.e2e

TITLE = "Navigateur : cloud interne mutualisé"


@pytest.fixture
def cloud_dossier(live_app):
    """A dossier on M001 (action 2.2.1) asking 450 000 € of FTAP AE, 120 000 € consumed; removed after."""
    with live_app.app_context():
        porteur = db.session.scalar(select(User.id).where(User.email == "porteur@demo.gouv.fr"))
        dossier = Dossier(
            guichet_id=db.session.scalar(select(Guichet.id).where(Guichet.code == "FTAP-DINUM-OPI")),
            opportunity_id=db.session.scalar(select(Opportunity.id).where(Opportunity.code == "M001")),
            created_by_id=porteur,
            title=TITLE,
            state="depose",
            submitted_at=utcnow(),
            start_year=2027,
        )
        line = FinancingLine(
            position=1, nature="Cloud", category="T3", programme="349", financer="ftap", phase="cadrage"
        )
        line.amounts = [FinancingAmount(year=2027, ae=450_000, cp=450_000)]
        dossier.financing_lines = [line]
        db.session.add(dossier)
        db.session.flush()
        db.session.add(CreditConsumption(dossier_id=dossier.id, year=2027, ae=120_000, cp=100_000))
        db.session.commit()
        dossier_id, reference = dossier.id, dossier.reference
    yield reference
    with live_app.app_context():
        db.session.execute(delete(CreditConsumption).where(CreditConsumption.dossier_id == dossier_id))
        db.session.execute(delete(Dossier).where(Dossier.id == dossier_id))
        db.session.commit()


def test_secretariat_reads_the_chantier_2_2_roll_up(proconnect, page, cloud_dossier):
    sign_in(page, "secretariat@demo.gouv.fr")
    page.get_by_role("navigation", name=re.compile("Menu principal", re.I)).get_by_role(
        "link", name="Chantiers"
    ).click()
    page.wait_for_url("**/chantiers")
    wait_until_ready(page)
    assert page.locator("#programme-2-title").inner_text() == "2. Quatre programmes prioritaires"
    axe_check(page)

    page.get_by_role("link", name="2.2 France-Cloud").click()
    page.wait_for_url("**/chantiers/2.2")
    wait_until_ready(page)
    assert page.locator("main h1").inner_text() == "2.2 France-Cloud"
    assert "D'ici à 2022" in page.locator("#visee blockquote").inner_text()
    assert page.locator("#actions-table tbody tr").count() == 3
    assert page.locator("#opportunity-M001").is_visible()
    row = page.locator(f"#dossier-{cloud_dossier}")
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "par l'opportunité M001"
    amounts = [re.sub(r"\s", " ", c) for c in cells[5:8]]
    assert amounts == ["450 000 €", "0 €", "120 000 €"]
    axe_check(page)

    page.goto("/tableau-de-bord")
    page.get_by_role("link", name="Vue par chantier").click()
    page.wait_for_url("**/tableau-de-bord/chantiers")
    wait_until_ready(page)
    assert "450" in page.locator("#chantier-2\\.2").inner_text()
    axe_check(page)
