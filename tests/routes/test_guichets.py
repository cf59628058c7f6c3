"""Guichet pages: tree, detail with rules and calendar, rules form (secretariat), instructors."""

import html as htmllib

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Guichet, Role
from tests.factories import make_user


def text_of(response) -> str:
    return htmllib.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")


def post(client, csrf, url, data=None, headers=None):
    data = dict(data or {})
    data["csrf_token"] = csrf(client)
    return client.post(url, data=data, headers=headers or {})


@pytest.fixture
def secretariat(db_session, login_as):
    return login_as(make_user(Role.SECRETARIAT))


def test_tree_lists_funds_volets_and_themes(client, login_as, db_session):
    login_as(make_user(Role.PORTEUR))
    html = text_of(client.get("/guichets"))
    assert html.index("FR-MTFP") < html.index("SNAP") < html.index("SNAP4")
    assert "Guichet continu" in html and "Ouvert" in html


def test_guichet_page_shows_rules_and_the_apply_button(client, login_as, db_session):
    login_as(make_user(Role.PORTEUR))
    html = text_of(client.get("/guichets/FTAP-LEAN"))
    assert "2 000 000 €" in html and "50 %" in html and "au moins 1 € d'économies pérennes" in html
    assert "Déposer un dossier" in html and "Modifier les règles" not in html
    assert client.get("/guichets/INCONNU").status_code == 404
    # each rule shown with its kind and the document section it comes from
    assert (
        ">Bloquant</span> Le montant total du projet (financement FTAP et cofinancement) est inférieur"
        in html
    )
    assert "Source : 004_937e479d7f054f91.txt §4.3 (critères liés au financement)" in html
    assert ">Critère de sélection</span> Part du cofinancement" in html
    snap4 = text_of(client.get("/guichets/SNAP4"))
    assert "France Relance" in snap4 and "Porteur du thème" in snap4 and "Instance de sélection" in snap4
    assert "Source : 003_9f3bb31115a0b5f3.txt §2" in snap4
    assert "Déposer un dossier" not in text_of(client.get("/guichets/FR-MTFP"))


def test_rules_form_keeps_input_on_error_and_saves(client, csrf, secretariat):
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP4"))
    form = {
        "mode": "appel_a_projets",
        "opens_at": "2026-01-10T09:00",
        "closes_at": "",
        "committee_id": "",
        "max_total_amount": "abc",
        "min_cofinancing_pct": "50",
        "roi_min": "",
        "required_attachments": "",
        "version": str(guichet.version),
    }
    response = post(client, csrf, "/guichets/SNAP4/regles", form, headers={"HX-Request": "true"})
    assert response.status_code == 422
    html = text_of(response)
    assert html.lstrip().startswith('<div id="form">')
    assert 'value="abc"' in html and "Un appel à projets a une date de clôture." in html
    form |= {"closes_at": "2026-03-31T18:00", "max_total_amount": "2 000 000"}
    response = post(client, csrf, "/guichets/SNAP4/regles", form)
    assert response.status_code == 303
    db.session.expire_all()
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP4"))
    assert guichet.closes_at.hour == 16  # 18:00 Paris (summer time) = 16:00 UTC
    assert guichet.max_total_amount == 2_000_000


def test_rules_and_instructors_are_for_the_secretariat(client, csrf, login_as, db_session):
    login_as(make_user(Role.INSTRUCTEUR))
    assert client.get("/guichets/SNAP4/regles").status_code == 403
    assert post(client, csrf, "/guichets/SNAP4/instructeurs", {"email": "x@y.fr"}).status_code == 403


def test_add_instructor_with_unknown_email_is_422(client, csrf, secretariat):
    agent = make_user(Role.PORTEUR)
    response = post(
        client,
        csrf,
        "/guichets/SNAP4/instructeurs",
        {"email": "personne@nulle.part"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and "Aucun compte ne porte cette adresse" in text_of(response)
    assert post(client, csrf, "/guichets/SNAP4/instructeurs", {"email": agent.email}).status_code == 303
    assert agent.email in text_of(client.get("/guichets/SNAP4"))


def test_secretariat_sets_a_theme_owner_its_selection_body_and_a_rule_kind(client, csrf, secretariat):
    from app.models import Committee

    snap4 = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP4"))
    body = db.session.scalar(select(Committee).where(Committee.code == "COPIL-SUITE"))
    interministerial = next(r for r in snap4.rules if "interministériel" in r.label)
    page = text_of(client.get("/guichets/SNAP4/regles"))
    assert "Porteur du thème (France Relance)" in page and "Source : 003_9f3bb31115a0b5f3.txt §1" in page
    form = {
        "mode": "guichet_continu",
        "committee_id": str(body.id),
        "owner": "DINUM",
        "version": str(snap4.version),
        f"rule-{interministerial.id}-kind": "warning",
    }
    assert post(client, csrf, "/guichets/SNAP4/regles", form).status_code == 303
    db.session.expire_all()
    snap4 = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP4"))
    assert (snap4.owner, snap4.committee_id) == ("DINUM", body.id)
    assert next(r for r in snap4.rules if r.id == interministerial.id).kind == "warning"
    html = text_of(client.get("/guichets/SNAP4"))
    assert "DINUM" in html and "COPIL-SUITE" in html
    form |= {"owner": "DGFIP", "version": str(snap4.version)}
    assert post(client, csrf, "/guichets/SNAP4/regles", form).status_code == 422
