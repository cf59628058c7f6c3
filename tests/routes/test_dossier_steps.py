"""The porteur's step-by-step dossier (/dossiers/<id>/etapes/<slug>): the steps as data, the step pages
(DSFR stepper, previous/next, the recap leading to « Déposer »), the autosave endpoint (saved, refused
input, version conflict, permission) and the file inputs showing the server's size limit."""

import html as htmllib
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Dossier, Role
from app.services import dossier_sections as sections
from app.services import dossiers as service
from tests.factories import complete_dossier, make_dossier, make_instructor, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def porteur(db_session):
    return make_user(Role.PORTEUR)


@pytest.fixture
def dossier(porteur):
    return make_dossier(porteur, title="Suite collaborative")


def text_of(response) -> str:
    return htmllib.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")


def post(client, csrf, url, data=None, headers=None, **kw):
    data = dict(data or {})
    data["csrf_token"] = csrf(client)
    return client.post(url, data=data, headers=headers or {}, **kw)


def autosave(client, csrf, dossier, key, data):
    return post(client, csrf, f"/dossiers/{dossier.id}/sections/{key}/brouillon", data)


# --- the steps are data ----------------------------------------------------------------------------------


def test_every_section_is_in_exactly_one_step():
    """A section added to SECTIONS must be put in one step of STEPS (app/services/dossier_sections.py)."""
    named = [key for step in sections.STEPS for key in step.sections]
    assert sorted(named) == sorted(key for key, _ in sections.SECTIONS), "add the new section to one Step"
    assert len(named) == len(set(named))
    all_steps = sections.steps()
    assert all_steps[-1] is sections.RECAP_STEP and "autres" not in [s.slug for s in all_steps]
    assert len({s.slug for s in all_steps}) == len(all_steps)


def test_a_section_left_out_is_shown_in_a_last_step(monkeypatch):
    monkeypatch.setattr(sections, "STEPS", [s for s in sections.STEPS if s.slug != "suivi"])
    extra = sections.steps()[-2]
    assert extra.slug == "autres" and extra.sections == ("jalons", "gouvernance")


# --- the pages -------------------------------------------------------------------------------------------


def test_creation_leads_to_the_first_step(client, csrf, login_as, porteur):
    login_as(porteur)
    response = post(
        client, csrf, "/dossiers/nouveau", {"guichet": "SNAP4", "title": "Par étapes", "start_year": "2026"}
    )
    created = db.session.scalar(select(Dossier).where(Dossier.title == "Par étapes"))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dossiers/{created.id}/etapes/projet"
    assert client.get(f"/dossiers/{created.id}/etapes").headers["Location"].endswith("/etapes/projet")


def test_step_page_has_the_stepper_and_the_sections_of_its_step(client, login_as, porteur, dossier):
    login_as(porteur)
    total = len(sections.steps())
    html = text_of(client.get(f"/dossiers/{dossier.id}/etapes/enjeu"))
    assert f"Étape 2 sur {total}" in html and 'data-fr-current-step="2"' in html
    assert f'data-fr-steps="{total}"' in html
    title = '<h2 class="fr-stepper__title" id="step-title" tabindex="-1">L\'enjeu et la solution'
    assert title in html
    assert "Étape suivante :</span> Le financement" in html
    assert 'id="section-enjeu"' in html and 'id="section-solution"' in html
    assert 'id="section-projet"' not in html and 'id="section-financement"' not in html
    assert f'data-autosave="/dossiers/{dossier.id}/sections/enjeu/brouillon"' in html
    assert 'name="etape" value="enjeu"' in html and 'role="status" data-autosave-status' in html
    assert f'href="/dossiers/{dossier.id}/etapes/projet">Précédent' in html
    assert f'href="/dossiers/{dossier.id}/etapes/financement">Suivant' in html
    # the dossier page links to the steps; it keeps its own forms (no autosave there)
    page = text_of(client.get(f"/dossiers/{dossier.id}"))
    assert f'href="/dossiers/{dossier.id}/etapes"' in page and "data-autosave" not in page


def test_recap_step_leads_to_the_deposit(client, login_as, porteur, dossier):
    login_as(porteur)
    html = text_of(client.get(f"/dossiers/{dossier.id}/etapes/recapitulatif"))
    assert "Récapitulatif avant dépôt" in html and "Étape suivante" not in html
    assert f'href="/dossiers/{dossier.id}/deposer">Déposer le dossier' in html
    assert "À compléter" in html
    assert f'href="/dossiers/{dossier.id}/etapes/suivi#section-jalons"' in html
    assert ">Suivant" not in html


def test_section_button_on_a_step_comes_back_to_the_step(client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    data = {"version": "0", "enjeu": "Constat", "etape": "enjeu"}
    response = post(client, csrf, f"/dossiers/{dossier.id}/sections/enjeu", data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dossiers/{dossier.id}/etapes/enjeu#section-enjeu"
    swapped = text_of(
        post(client, csrf, f"/dossiers/{dossier.id}/sections/solution", {**data, "etape": "enjeu"}, HX)
    )
    assert "Section enregistrée." in swapped and "data-autosave=" in swapped and "<html" not in swapped
    # without `etape` (the dossier page), the same save goes back to the dossier page
    plain = post(
        client, csrf, f"/dossiers/{dossier.id}/sections/gouvernance", {"version": "0", "gouvernance": "x"}
    )
    assert plain.headers["Location"] == f"/dossiers/{dossier.id}#section-gouvernance"
    # without JavaScript, a refused save from a step comes back as that step page, the input kept
    bad = {"version": "0", "title": "Titre gardé", "start_year": "deux mille", "etape": "projet"}
    refused = post(client, csrf, f"/dossiers/{dossier.id}/sections/projet", bad)
    page = text_of(refused)
    assert refused.status_code == 422 and "Étape 1 sur" in page and 'value="Titre gardé"' in page
    assert "nombre entier positif" in page and 'id="section-enjeu"' not in page


# --- autosave --------------------------------------------------------------------------------------------


def test_autosave_saves_the_draft_and_answers_the_new_version(client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    response = autosave(client, csrf, dossier, "enjeu", {"version": "0", "enjeu": "Les agents attendent."})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "saved" and body["version"] == 1
    assert re.fullmatch(r"Brouillon enregistré à \d\d:\d\d", body["message"])
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).enjeu == "Les agents attendent."
    # the next autosave carries the version it was given
    again = autosave(client, csrf, dossier, "enjeu", {"version": "1", "enjeu": "Les agents attendent. Vite."})
    assert again.status_code == 200 and again.get_json()["version"] == 2
    assert "Les agents attendent. Vite." in text_of(client.get(f"/dossiers/{dossier.id}/etapes/enjeu"))


def test_autosave_of_bad_input_answers_the_messages_by_field_and_saves_nothing(
    client, csrf, login_as, porteur, dossier
):
    login_as(porteur)
    data = {"version": "0", "title": "Nouveau titre", "start_year": "deux mille", "ends_on": "32/13/2026"}
    response = autosave(client, csrf, dossier, "projet", data)
    assert response.status_code == 422
    body = response.get_json()
    assert body["status"] == "invalid"
    assert "nombre entier positif" in body["errors"]["projet-start_year"]
    assert "date invalide" in body["errors"]["projet-ends_on"]
    assert body["message"].startswith("Brouillon non enregistré")
    db.session.expire_all()
    fresh = db.session.get(Dossier, dossier.id)
    assert fresh.title == "Suite collaborative" and fresh.section_version("projet") == 0
    # a table row's message names the control of that row
    rows = {"version": "0", "rows-0-group": "", "rows-0-population": "beaucoup"}
    refused = autosave(client, csrf, dossier, "beneficiaires", rows).get_json()
    assert set(refused["errors"]) == {"beneficiaires-rows-0-group", "beneficiaires-rows-0-population"}


def test_autosave_respects_the_section_version(client, csrf, login_as, porteur, dossier):
    """Someone saved the section since the page was loaded: 409 and the message, never an overwrite."""
    login_as(porteur)
    assert autosave(client, csrf, dossier, "enjeu", {"version": "0", "enjeu": "Première"}).status_code == 200
    stale = autosave(client, csrf, dossier, "enjeu", {"version": "0", "enjeu": "Seconde"})
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["status"] == "conflict" and "depuis que vous l'avez ouverte" in body["message"]
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).enjeu == "Première"


def test_autosave_and_steps_only_for_the_porteur_side_of_an_editable_dossier(
    client, csrf, login_as, porteur, dossier
):
    url = f"/dossiers/{dossier.id}/etapes/projet"
    login_as(make_user(Role.PORTEUR))  # another porteur: the dossier is not visible to them
    assert client.get(url).status_code == 404
    assert autosave(client, csrf, dossier, "enjeu", {"version": "0", "enjeu": "x"}).status_code == 404
    login_as(make_user(Role.SECRETARIAT))  # sees the dossier, is not its porteur
    assert client.get(url).status_code == 403
    assert autosave(client, csrf, dossier, "enjeu", {"version": "0", "enjeu": "x"}).status_code == 403

    complete_dossier(dossier, porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(porteur)  # deposited: the steps send to the dossier page, the autosave is refused
    response = client.get(url)
    assert response.status_code == 303 and response.headers["Location"] == f"/dossiers/{dossier.id}"
    version = str(dossier.section_version("enjeu"))
    refused = autosave(client, csrf, dossier, "enjeu", {"version": version, "enjeu": "après dépôt"})
    assert refused.status_code == 403 and refused.get_json()["status"] == "refused"
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).enjeu != "après dépôt"
    assert "étape par étape" not in text_of(client.get(f"/dossiers/{dossier.id}"))
    login_as(make_instructor())
    assert client.get(url).status_code == 403


# --- file inputs: the limit the server enforces ------------------------------------------------------------


def test_file_inputs_show_and_carry_the_server_limit(app, client, login_as, porteur, dossier):
    login_as(porteur)
    html = text_of(client.get(f"/dossiers/{dossier.id}/etapes/pieces"))
    limit = app.config["DOSSIER_ATTACHMENT_MAX_MB"] * 1024 * 1024
    assert f'data-max-bytes="{limit}"' in html
    assert f"Taille maximale : {app.config['DOSSIER_ATTACHMENT_MAX_MB']} Mo." in html
    assert "Formats acceptés : PDF, ODT, DOCX, XLSX ou ODS." in html
    saved = app.config["DOSSIER_ATTACHMENT_MAX_MB"]
    app.config["DOSSIER_ATTACHMENT_MAX_MB"] = 1
    try:
        html = text_of(client.get(f"/dossiers/{dossier.id}"))
    finally:
        app.config["DOSSIER_ATTACHMENT_MAX_MB"] = saved
    assert 'data-max-bytes="1048576"' in html and "Taille maximale : 1 Mo." in html
