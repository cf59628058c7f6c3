"""Chantier and ministry pages: the roll-ups a user reads (actions, MoSCoW with the deduced reading,
opportunities, dossiers and their amounts; a ministry's backings and dossiers)."""

import html as html_lib
from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db
from app.formatting import format_euros
from app.maintenance import ROOT
from app.models import (
    Action,
    AgendaItem,
    Backing,
    Chantier,
    Committee,
    CreditConsumption,
    Decision,
    DecisionAmount,
    Dossier,
    Meeting,
    Opportunity,
    Organisation,
    SavingsReport,
)
from tests.factories import make_campaign, make_dossier, make_instructed_dossier

HX = {"HX-Request": "true"}


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


def _granted(dossier, ae: int) -> None:
    """A published decision granting `ae` to the dossier (as a held CSIC-Tech meeting records it)."""
    committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC-TECH"))
    held = Meeting(committee=committee, starts_at=datetime.now(UTC), state="pv_publie")
    db.session.add(held)
    db.session.flush()
    item = AgendaItem(meeting_id=held.id, position=1, kind="dossier", title="Dossier", dossier_id=dossier.id)
    db.session.add(item)
    db.session.flush()
    decision = Decision(
        item_id=item.id, meeting_id=held.id, committee_id=committee.id, outcome="accepte", mode="consensus"
    )
    db.session.add(decision)
    db.session.flush()
    db.session.add(DecisionAmount(decision_id=decision.id, year=2027, ae=ae, cp=ae))
    dossier.decision_id = decision.id


def test_chantier_2_2_rolls_up_visee_opportunities_dossiers_and_amounts(client, login_as, make_user, queries):
    """The chantier page of 2.2 shows its actions, opportunities and a dossier's amounts (requested,
    granted, consumed, savings), the dossiers named directly or through an opportunity, in a constant
    number of statements."""
    login_as(make_user("secretariat"))
    porteur = make_user("porteur")
    m001 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M001"))
    cloud = db.session.scalar(select(Chantier).where(Chantier.code == "2.2"))
    through = make_instructed_dossier(porteur, title="Cloud interne mutualisé", requested_ae=450_000)
    through.opportunity_id = m001.id
    _granted(through, 400_000)
    db.session.add(CreditConsumption(dossier_id=through.id, year=2027, ae=120_000, cp=100_000))
    db.session.add(SavingsReport(dossier_id=through.id, year=2027, nature="Licences", amount=35_000))
    direct = make_instructed_dossier(porteur, title="Offre cloud externe", requested_ae=80_000)
    direct.chantier_id = cloud.id
    db.session.commit()

    response = client.get("/chantiers/2.2")
    page = body(response)
    assert "Programme prioritaire — 2. Quatre programmes prioritaires" in page
    assert "D'ici à 2022, L'Etat aura levé les barrières contractuelles" in page  # the visée, quoted
    assert "002_f99fd274ecbff2b6.txt §2.2" in page
    facts = table_like(page, "chantier-facts")
    assert "non précisé" in facts  # the document costs each action, not the chantier
    assert "Ministères avec pilotage DINSIC" in facts  # its actions' portages
    for code in ("2.2.1", "2.2.2", "2.2.3"):
        assert f'id="action-{code}"' in page
    assert 'id="opportunity-M001"' in page and "Non priorisée" in page
    row = table_like(page, f"dossier-{through.reference}")
    assert "par l'opportunité M001" in row
    for amount in (450_000, 400_000, 120_000, 35_000):
        assert format_euros(amount) in row
    assert "rattaché directement" in table_like(page, f"dossier-{direct.reference}")
    assert f"{format_euros(530_000)} demandés" in page and "30\u00a0%" in page  # 120 000 of 400 000 consumed

    def count() -> int:
        with queries() as sent:
            assert client.get("/chantiers/2.2").status_code == 200
        return len(sent)

    small = count()
    for i in range(5):
        more = make_instructed_dossier(porteur, title=f"Cloud {i}", requested_ae=10_000)
        more.opportunity_id = m001.id
        _granted(more, 5_000)
        db.session.add(CreditConsumption(dossier_id=more.id, year=2027, ae=1_000, cp=1_000))
    db.session.commit()
    assert count() == small <= 15


def test_the_dashboard_has_a_per_chantier_view(client, login_as, make_user, queries):
    login_as(make_user("secretariat"))
    cloud = db.session.scalar(select(Chantier).where(Chantier.code == "2.2"))
    dossier = make_instructed_dossier(make_user("porteur"), title="Cloud", requested_ae=70_000)
    dossier.chantier_id = cloud.id
    db.session.commit()
    assert 'href="/tableau-de-bord/chantiers"' in body(client.get("/tableau-de-bord"))
    with queries() as sent:
        page = body(client.get("/tableau-de-bord/chantiers"))
    assert len(sent) <= 15
    row = table_like(page, "chantier-2.2")
    assert "2.2 France-Cloud" in row and format_euros(70_000) in row
    assert 'id="chantier-3.6"' in page and 'id="chantier-4"' in page  # every chantier, even without action


def test_chantiers_are_loaded_from_the_strategy_and_link_every_action(db_session):
    chantiers = db.session.scalars(select(Chantier).order_by(Chantier.position)).all()
    assert [c.code for c in chantiers] == [
        "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "4", "5"
    ]  # fmt: skip
    assert {c.programme.code for c in chantiers} == {"2", "3", "4", "5"}
    assert all(c.visee and c.visee != "non précisé" for c in chantiers)
    assert not db.session.scalars(select(Action).where(Action.chantier_id.is_(None))).all()
    assert all(a.chantier == a.parent_chantier.label for a in db.session.scalars(select(Action)))
    mutualisation = db.session.scalar(select(Chantier).where(Chantier.code == "4"))
    assert mutualisation.portage.startswith("« un portefeuille")


def table_like(page: str, element_id: str) -> str:
    """The text of the element with that id (its opening tag to the next closing tr/dl)."""
    start = page.index(f'id="{element_id}"')
    end = min(i for i in (page.find("</tr>", start), page.find("</dl>", start)) if i != -1)
    return page[start:end]


def test_a_dossier_names_its_chantier_in_its_project_section(client, csrf, login_as, make_user):
    porteur = login_as(make_user("porteur"))
    dossier = make_dossier(porteur, "FTAP-DINUM-OPI")
    url = f"/dossiers/{dossier.id}/sections/projet"
    data = {"title": dossier.title, "start_year": str(dossier.start_year), "version": "0"}
    bad = client.post(url, data={**data, "chantier_code": "9.9", "csrf_token": csrf(client)}, headers=HX)
    assert bad.status_code == 422
    assert "Le chantier 9.9 n'existe pas" in body(bad) and 'value="9.9"' in body(bad)
    ok = client.post(url, data={**data, "chantier_code": "2.2", "csrf_token": csrf(client)}, headers=HX)
    assert ok.status_code == 200
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).chantier.code == "2.2"
    assert 'value="2.2"' in body(client.get(f"{url}/modifier"))  # the form opened again shows what was saved
    login_as(make_user("secretariat"))
    assert f'id="dossier-{dossier.reference}"' in body(client.get("/chantiers/2.2"))


def test_a_ministry_named_anywhere_links_to_its_page(client, login_as, make_user):
    """Backings (opportunity page, portfolio list, criblage), dossiers (porteur section, instruction list,
    chantier page), campaign college and participation, the dashboard's participation: each names MI with a
    link to /ministeres/MI, rendered by the one macro `ministry_link`."""
    secretariat = login_as(make_user("secretariat"))
    mi = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    m001 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M001"))
    db.session.add(Backing(opportunity_id=m001.id, organisation_id=mi.id, role="pilote"))
    make_user("dsi", ministry="MI")
    dossier = make_instructed_dossier(
        make_user("porteur"), title="Cloud du MI", porteur_organisation_id=mi.id, opportunity_id=m001.id
    )
    campaign = make_campaign([m001], ministries=["MI"])
    db.session.commit()
    link = 'href="/ministeres/MI"'
    for url in (
        "/opportunites/M001",
        "/opportunites?q=M001",
        f"/dossiers/{dossier.id}",
        "/chantiers/2.2",
        f"/campagnes/{campaign.id}",
        "/tableau-de-bord",
    ):
        assert link in body(client.get(url)), url
    assert secretariat
    templates = ROOT / "app" / "templates"
    building = [
        str(p.relative_to(templates))
        for p in templates.rglob("*.html")
        if "'chantiers.ministry'" in p.read_text(encoding="utf-8")
    ]
    assert building == ["dsfr/_components.html"]  # one place builds the link


def test_the_portfolio_and_the_api_filter_by_a_chantiers_code(client, login_as, make_user):
    login_as(make_user("secretariat"))
    page = body(client.get("/opportunites?chantier=2.2"))
    assert 'href="/opportunites/M001"' in page and 'href="/opportunites/M002"' not in page  # 2.1.1's
    assert "Chantier inconnu" not in page
    listed = client.get("/api/v1/opportunities?chantier=2.2").get_json()["data"]
    assert "M001" in {o["code"] for o in listed}
    actions = client.get("/api/v1/actions?chantier=2.2").get_json()["data"]
    assert {a["code"] for a in actions} == {"2.2.1", "2.2.2", "2.2.3"}
    assert body(client.get("/chantiers/2.2")).count('href="/opportunites?chantier=2.2+France-Cloud"') == 1


def test_htmx_fragments_that_name_a_ministry_link_it_too(client, csrf, login_as, make_user):
    """Blocks rendered alone (the list's results, the backings panel after a refused form) import the macro
    themselves."""
    login_as(make_user("secretariat"))
    mi = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    m001 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M001"))
    db.session.add(Backing(opportunity_id=m001.id, organisation_id=mi.id, role="pilote"))
    db.session.commit()
    fragment = client.get("/opportunites?q=M001", headers=HX)
    assert fragment.status_code == 200 and 'href="/ministeres/MI"' in body(fragment)
    refused = client.post(
        "/opportunites/M001/soutiens", data={"organisation": "", "csrf_token": csrf(client)}, headers=HX
    )
    assert refused.status_code == 422 and 'href="/ministeres/MI"' in body(refused)
    assert "<html" not in body(refused)


def test_a_chantier_lists_its_first_opportunities_and_links_to_them_all(
    client, login_as, make_user, monkeypatch
):
    """Beyond OPPORTUNITIES_SHOWN (CODES_PER_ACTION in an action's row) the page lists the first ones by
    number, counts them all, and links to the portfolio list filtered by the chantier, which pages them."""
    from app.queries import chantiers as queries
    from tests.factories import make_opportunity

    monkeypatch.setattr(queries, "OPPORTUNITIES_SHOWN", 2)
    monkeypatch.setattr(queries, "CODES_PER_ACTION", 1)
    login_as(make_user("secretariat"))
    action = db.session.scalar(select(Action).where(Action.code == "2.2.1"))
    before = len(action.opportunities)
    added = [make_opportunity(brique=f"Cloud {i}", state="en_criblage") for i in range(3)]
    action.opportunities.extend(added)
    db.session.commit()
    total = before + 3
    page = body(client.get("/chantiers/2.2"))
    assert f"{total} opportunités (" in page  # counted over all of them, not the listed ones
    assert page.count('<tr id="opportunity-') == 2 and 'id="opportunity-M001"' in page
    assert f"Les 2 premières des {total} opportunités rattachées à ses actions" in page
    assert f" et {total - 1} autres" in table_like(page, "action-2.2.1")
    portfolio = '<a href="/opportunites?chantier=2.2+France-Cloud">'
    assert f"{portfolio}Voir les {total} opportunités dans le portefeuille" in page
    listed = body(client.get("/opportunites?chantier=2.2+France-Cloud"))
    assert all(f'href="/opportunites/{o.code}"' in listed for o in added)


def test_a_chantier_lists_its_first_dossiers_and_pages_them_all(client, login_as, make_user, monkeypatch):
    """Beyond DOSSIERS_SHOWN the chantier page lists the first dossiers, totals them all, and links to the
    chantier's dossiers' page, which pages them (same table, same totals)."""
    from app.queries import chantiers as queries

    monkeypatch.setattr(queries, "DOSSIERS_SHOWN", 2)
    login_as(make_user("secretariat"))
    porteur = make_user("porteur")
    cloud = db.session.scalar(select(Chantier).where(Chantier.code == "2.2"))
    made = [
        make_instructed_dossier(porteur, title=f"Cloud {i}", requested_ae=100_000, chantier_id=cloud.id)
        for i in range(3)
    ]
    db.session.commit()
    page = body(client.get("/chantiers/2.2"))
    assert page.count('<tr id="dossier-') == 2 and f'id="dossier-{made[2].reference}"' not in page
    assert f"3 dossiers : {format_euros(300_000)} demandés" in page  # the totals are over all three
    assert "Dossiers 1 à 2 sur 3 rattachés au chantier" in page
    assert '<a href="/chantiers/2.2/dossiers">Voir les 3 dossiers</a>' in page

    first = body(client.get("/chantiers/2.2/dossiers"))
    assert first.count('<tr id="dossier-') == 2 and 'aria-label="Pages des dossiers du chantier"' in first
    assert f"Total des 3 dossiers</th><td>{format_euros(300_000)}" in first
    second = body(client.get("/chantiers/2.2/dossiers?page=2"))
    assert f'id="dossier-{made[2].reference}"' in second and second.count('<tr id="dossier-') == 1
    assert "Dossiers 3 à 3 sur 3" in second
    assert body(client.get("/chantiers/2.2/dossiers?page=99")).count('<tr id="dossier-') == 1  # the last
    assert client.get("/chantiers/9.9/dossiers").status_code == 404

    login_as(make_user("porteur"))  # another porteur sees none of them
    assert "Aucun dossier visible pour vous" in body(client.get("/chantiers/2.2/dossiers"))
