"""Chantier and ministry pages: the roll-ups a user reads (actions, MoSCoW with the deduced reading,
opportunities, dossiers and their amounts; a ministry's backings and dossiers)."""

import html as html_lib

from sqlalchemy import select

from app.extensions import db
from app.formatting import format_euros
from app.models import Backing, Opportunity, Organisation
from tests.factories import make_instructed_dossier


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def test_chantier_2_2_shows_its_actions_opportunities_and_a_dossiers_amounts(client, login_as, make_user):
    secretariat = login_as(make_user("secretariat"))
    porteur = make_user("porteur")
    m001 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M001"))
    dossier = make_instructed_dossier(porteur, title="Cloud interne mutualisé", requested_ae=450_000)
    dossier.opportunity_id = m001.id
    db.session.commit()
    assert secretariat
    page = body(client.get("/chantiers/2.2"))
    assert "2.2 France-Cloud" in page and "Programme prioritaire" in page
    for code in ("2.2.1", "2.2.2", "2.2.3"):
        assert f'id="action-{code}"' in page
    assert "M001" in page  # the opportunity of 2.2.1
    assert "Should (classement déduit, page perdue)" in page  # 2.2.3 has no class in the annex
    assert "Annexe 6.1, Must n° 2" in page  # 2.2.2's annex item
    assert f'id="dossier-{dossier.reference}"' in page and format_euros(450_000) in page
    assert client.get("/chantiers/9.9").status_code == 404


def test_ministry_page_lists_its_backings_and_dossiers(client, login_as, make_user):
    login_as(make_user("secretariat"))
    mi = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    m007 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M007"))
    db.session.add(Backing(opportunity_id=m007.id, organisation_id=mi.id, role="pilote"))
    dsi = make_user("dsi", ministry="MI")
    dossier = make_instructed_dossier(
        make_user("porteur"), title="Messagerie du MI", porteur_organisation_id=mi.id
    )
    db.session.commit()
    page = body(client.get("/ministeres/MI"))
    assert "MI — " in page and dsi.full_name in page
    assert "M007" in page and "Pilote (1)" in page
    assert f'id="dossier-{dossier.reference}"' in page and format_euros(300_000) in page
    assert 'href="/ministeres/MI"' in body(client.get("/opportunites/M007"))
    assert client.get("/ministeres/XX").status_code == 404
