"""The secretariat's criblage in a browser: open over a filtered scope, score on the labelled scales, read
the ranked list and its chart table, retain a subject for CSIC-Tech (axe on each page)."""

import re

import pytest
from sqlalchemy import delete, select, update

from app.extensions import db
from app.models import AuditEntry, Backing, Opportunity, OpportunityTransition, Organisation
from app.models.criblage import Criblage

from .helpers import axe_check, sign_in, wait_until_ready

pytestmark = pytest.mark.e2e

CODES = ("M110", "M111", "M112")
MINISTRY = "DILA"


@pytest.fixture
def scope(live_app):
    """Three opportunities backed by one ministry no other journey uses; everything undone afterwards."""
    with live_app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.code == MINISTRY))
        ids = list(db.session.scalars(select(Opportunity.id).where(Opportunity.code.in_(CODES))))
        for opportunity_id in ids:
            db.session.add(Backing(opportunity_id=opportunity_id, organisation_id=org.id, role="pilote"))
        db.session.commit()
    yield
    with live_app.app_context():
        db.session.execute(delete(Criblage))
        db.session.execute(delete(Backing).where(Backing.opportunity_id.in_(ids)))
        db.session.execute(delete(OpportunityTransition).where(OpportunityTransition.opportunity_id.in_(ids)))
        db.session.execute(
            delete(AuditEntry).where(
                AuditEntry.object_type == "opportunities", AuditEntry.object_id.in_([str(i) for i in ids])
            )
        )
        db.session.execute(update(Opportunity).where(Opportunity.id.in_(ids)).values(state="identifiee"))
        db.session.commit()


def test_secretariat_screens_and_retains_a_subject(proconnect, page, scope):
    sign_in(page, "secretariat@demo.gouv.fr", start="/criblages")
    page.goto("/criblages/nouveau")
    wait_until_ready(page)
    page.get_by_label("Soutenue par le ministère").select_option(MINISTRY)
    page.get_by_role("button", name="Voir les opportunités").click()
    page.wait_for_url(re.compile(r"ministere=DILA"))
    assert page.locator("#candidates-title").inner_text().startswith("3 opportunités")
    axe_check(page)
    page.get_by_label(re.compile("^Intitulé")).fill("Criblage de démonstration")
    page.get_by_role("button", name="Ouvrir le criblage sur ces opportunités").click()
    page.wait_for_url(re.compile(r"/criblages/\d+$"))
    assert page.locator("main h1").inner_text() == "Criblage de démonstration"
    axe_check(page)

    item = page.locator("#item-M111")
    item.locator("label", has_text="4 — Prête à qualifier").click()  # DSFR draws the radio in its label
    item.locator("label", has_text="4 — Majeure").click()
    item.get_by_label("Commentaire").fill("Besoin mûr, porté par la DILA.")
    item.get_by_role("button", name="Enregistrer ma note sur M111").click()
    page.locator("#rank-M111[data-position='1']").wait_for()
    assert "M111" in page.locator("#chart-table").inner_text()

    page.locator("label", has_text="Retenir M111").click()
    page.get_by_role("button", name="Retenir les sujets cochés pour le CSIC-Tech").click()
    page.locator("#rank-M111", has_text="Retenue").wait_for()
    axe_check(page)
    page.get_by_role("link", name="M111").first.click()
    page.locator("#score-history").wait_for()
    assert "Retenue au criblage" in page.locator("main").inner_text()
