"""Dossier pages: creation, sections saved by htmx (200 / 422 / 409), live checks, access (404 before 403),
attachments, life cycle through the routes, instruction list, messages, annotations, PDF and exports."""

import csv
import html as htmllib
import io
import json
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Dossier, Role
from app.services import dossier_sections as sections
from app.services import dossiers as service
from app.services import mail
from tests.factories import complete_dossier, make_dossier, make_hub_dossier, make_instructor, make_user

HX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def porteur(db_session):
    return make_user(Role.PORTEUR)


@pytest.fixture
def dossier(porteur):
    return make_dossier(porteur, title="Suite collaborative")


def text_of(response) -> str:
    """The body with entities decoded and French narrow/non-breaking spaces as plain spaces."""
    return htmllib.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")


CONFIRM = {"confirm": "oui"}  # the recap page's confirmation box


def post(client, csrf, url, data=None, headers=None, **kw):
    data = dict(data or {})
    data["csrf_token"] = csrf(client)
    return client.post(url, data=data, headers=headers or {}, **kw)


def section_html(html: str, key: str) -> str:
    match = re.search(rf'<section id="section-{key}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def test_anonymous_is_sent_to_login(client, dossier):
    response = client.get(f"/dossiers/{dossier.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_create_keeps_input_on_error_then_redirects(client, csrf, login_as, porteur):
    login_as(porteur)
    response = post(
        client,
        csrf,
        "/dossiers/nouveau",
        {"guichet": "SNAP4", "title": "Mon projet", "start_year": "deux mille"},
        headers=HX,
    )
    assert response.status_code == 422
    html = text_of(response)
    assert 'id="form"' in html and "<html" not in html
    assert 'value="Mon projet"' in html and "saisissez un nombre entier positif" in html
    response = post(
        client, csrf, "/dossiers/nouveau", {"guichet": "SNAP4", "title": "Mon projet", "start_year": "2026"}
    )
    assert response.status_code == 303
    created = db.session.scalar(select(Dossier).where(Dossier.title == "Mon projet"))
    assert response.headers["Location"] == f"/dossiers/{created.id}/etapes/projet"  # the first step
    assert created.created_by_id == porteur.id and created.guichet.code == "SNAP4"


def test_closed_guichet_is_not_offered_and_refused(client, csrf, login_as, porteur):
    login_as(porteur)
    html = text_of(client.get("/dossiers/nouveau"))
    assert 'value="SNAP4"' in html and 'value="SNAP"' not in html
    response = post(
        client, csrf, "/dossiers/nouveau", {"guichet": "SNAP", "title": "X", "start_year": "2026"}
    )
    assert response.status_code == 422 and "Ce guichet ne reçoit pas de dossiers." in text_of(response)


def test_dossier_page_shows_every_section_and_the_checks(client, login_as, porteur, dossier):
    login_as(porteur)
    html = text_of(client.get(f"/dossiers/{dossier.id}"))
    for key, label in sections.SECTIONS:
        assert f'id="section-{key}"' in html
        assert label in html
    assert 'id="checks"' in html and 'hx-trigger="dossierSaved from:body"' in html
    assert "Déposer le dossier" in html


def test_htmx_section_save_returns_the_section_and_triggers_checks(client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    response = post(
        client,
        csrf,
        f"/dossiers/{dossier.id}/sections/enjeu",
        {"enjeu": "Un enjeu majeur", "version": "0"},
        headers=HX,
    )
    events = json.loads(response.headers["HX-Trigger"])
    assert response.status_code == 200 and events["dossierSaved"] is True
    assert events["announce"].startswith("Section enregistrée : ")
    assert "HX-Request" in response.headers["Vary"]
    html = text_of(response)
    assert html.lstrip().startswith('<section id="section-enjeu"') and "Section enregistrée." in html
    # shown as saved, its form closed; opened again, it carries the new version
    assert "Un enjeu majeur" in html and 'name="version"' not in html
    assert f'hx-get="/dossiers/{dossier.id}/sections/enjeu/modifier"' in html
    assert 'name="version" value="1"' in text_of(
        client.get(f"/dossiers/{dossier.id}/sections/enjeu/modifier", headers=HX)
    )
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).enjeu == "Un enjeu majeur"


def test_the_dossier_page_shows_its_sections_as_saved_each_opened_in_place(
    client, csrf, login_as, porteur, dossier
):
    """A draft's page shows every section as saved with « Modifier la section » (only the pieces keep their
    form: their list is it); « Modifier » swaps that section's form in; « Annuler » swaps it back."""
    login_as(porteur)
    page = text_of(client.get(f"/dossiers/{dossier.id}"))
    keys = [key for key, _ in sections.SECTIONS if key != "pieces"]
    for key in keys:
        assert f'id="edit-{key}"' in page and f'action="/dossiers/{dossier.id}/sections/{key}"' not in page
    assert f'action="/dossiers/{dossier.id}/pieces"' in page
    opened = client.get(f"/dossiers/{dossier.id}/sections/enjeu/modifier", headers=HX)
    html = text_of(opened)
    assert opened.status_code == 200 and html.lstrip().startswith('<section id="section-enjeu"')
    assert f'action="/dossiers/{dossier.id}/sections/enjeu"' in html and 'name="version" value="0"' in html
    assert f'hx-get="/dossiers/{dossier.id}/sections/enjeu"' in html  # « Annuler »
    assert 'id="edit-enjeu"' not in html and "<html" not in html
    cancelled = text_of(client.get(f"/dossiers/{dossier.id}/sections/enjeu", headers=HX))
    assert 'id="edit-enjeu"' in cancelled and "<form" not in cancelled


def test_without_javascript_a_section_opens_on_a_page_of_its_own(client, csrf, login_as, porteur, dossier):
    """The « Modifier » link leads to the section's form alone (its own title, the way back to the
    dossier); a refused input comes back there (422) with the input kept; « Annuler » is the dossier page."""
    login_as(porteur)
    url = f"/dossiers/{dossier.id}/sections/financement/modifier"
    page = text_of(client.get(url))
    assert "<title>Modifier « 3. Besoins et modalités de financement »" in page
    assert page.count('class="fr-mb-5w app-dossier-section"') == 1
    assert f'action="/dossiers/{dossier.id}/sections/financement"' in page
    assert f'href="/dossiers/{dossier.id}#section-financement"' in page
    refused = post(
        client,
        csrf,
        f"/dossiers/{dossier.id}/sections/financement",
        {"version": "0", "rows-0-nature": "Développement", "rows-0-ae-2026": "mille"},
    )
    assert refused.status_code == 422
    html = text_of(refused)
    assert "La section n'a pas été enregistrée" in html and 'value="mille"' in html
    assert html.count('class="fr-mb-5w app-dossier-section"') == 1  # the section's page again
    back = client.get(f"/dossiers/{dossier.id}/sections/financement")
    assert back.status_code == 303 and back.headers["Location"].endswith(
        f"/dossiers/{dossier.id}#section-financement"
    )


def test_a_section_that_may_not_be_edited_opens_as_saved(client, login_as, make_user, dossier):
    """Whoever may see the dossier but not edit the section (the secretariat on a draft) gets no form."""
    login_as(make_user("secretariat"))
    page = text_of(client.get(f"/dossiers/{dossier.id}/sections/enjeu/modifier"))
    assert "<form" not in page.split('id="section-enjeu"')[1].split("</section>")[0]
    assert 'id="edit-enjeu"' not in page


def test_section_save_without_javascript_redirects(client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    response = post(
        client, csrf, f"/dossiers/{dossier.id}/sections/enjeu", {"enjeu": "Sans JS", "version": "0"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#section-enjeu")


def test_invalid_financing_is_422_with_the_input_kept(client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    data = {
        "version": "0",
        "rows-0-nature": "Développement",
        "rows-0-category": "T5",
        "rows-0-programme": "P349",
        "rows-0-financer": "ftap",
        "rows-0-phase": "cadrage",
        "rows-0-ae-2026": "12,5",
        "rows-0-cp-2026": "-3",
    }
    response = post(client, csrf, f"/dossiers/{dossier.id}/sections/financement", data, headers=HX)
    assert response.status_code == 422
    html = text_of(response)
    assert 'value="12,5"' in html and 'value="-3"' in html and 'value="Développement"' in html
    assert "Le montant ne peut pas être négatif." in html and 'aria-invalid="true"' in html
    assert "Ligne 1 : CP 2026 : Le montant ne peut pas être négatif." in html  # the summary names the line
    assert "HX-Trigger" not in response.headers
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).financing_lines == []


def test_concurrent_save_is_409_with_both_versions(client, csrf, login_as, porteur, dossier):
    co = make_user(Role.PORTEUR)
    sections.save_section(
        dossier,
        "porteurs",
        {
            "porteur_organisation": "DINUM",
            "co": [(0, {"organisation": "DILA", "projet_name": "Co", "projet_email": co.email})],
        },
        version=0,
        actor=porteur,
    )
    sections.save_section(dossier, "enjeu", {"enjeu": "Texte du porteur"}, version=0, actor=porteur)
    db.session.commit()
    login_as(co)
    response = post(
        client,
        csrf,
        f"/dossiers/{dossier.id}/sections/enjeu",
        {"enjeu": "Texte du co-porteur", "version": "0"},
        headers=HX,
    )
    assert response.status_code == 409
    html = text_of(response)
    assert "Modification concurrente" in html
    assert "Texte du porteur" in html and "Texte du co-porteur" in html  # saved version and the user's input
    assert 'name="version" value="1"' in html  # saving again now overwrites knowingly
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).enjeu == "Texte du porteur"


def test_checks_fragment_equals_the_block_of_the_full_page(client, login_as, porteur, dossier):
    login_as(porteur)
    fragment = text_of(client.get(f"/dossiers/{dossier.id}/controles", headers=HX)).strip()
    full = text_of(client.get(f"/dossiers/{dossier.id}"))
    assert fragment.startswith('<div id="checks"')
    assert fragment in full


def test_live_verdict_changes_with_amounts(client, csrf, login_as, porteur):
    dossier = complete_dossier(
        make_dossier(porteur, "FTAP-LEAN"), porteur, ftap_ae=1_400_000, porteur_ae=600_000
    )
    login_as(porteur)
    checks = text_of(client.get(f"/dossiers/{dossier.id}/controles", headers=HX))
    assert "montant total 2 000 000 € ≥ 2 000 000 €" in checks and "Bloquant" in checks
    assert "Source : 004_937e479d7f054f91.txt §4.3 (critères liés au financement)" in checks
    response = post(client, csrf, f"/dossiers/{dossier.id}/deposer", CONFIRM)
    assert response.status_code == 422 and "Dépôt impossible" in text_of(response)
    data = {
        f"rows-0-{k}": v
        for k, v in {
            "nature": "Développement",
            "category": "T5",
            "programme": "P349",
            "financer": "ftap",
            "phase": "cadrage",
            "ae-2026": "400000",
            "cp-2026": "400000",
        }.items()
    }
    data |= {
        f"rows-1-{k}": v
        for k, v in {
            "nature": "Équipe",
            "category": "T3",
            "programme": "P129",
            "financer": "porteur",
            "phase": "cadrage",
            "ae-2027": "600000",
            "cp-2027": "600000",
        }.items()
    }
    data["version"] = str(dossier.section_version("financement"))
    assert (
        post(client, csrf, f"/dossiers/{dossier.id}/sections/financement", data, headers=HX).status_code
        == 200
    )
    checks = text_of(client.get(f"/dossiers/{dossier.id}/controles", headers=HX))
    assert "montant total 1 000 000 € < 2 000 000 €" in checks and "part FTAP 40 %" in checks
    assert "part de cofinancement 60 % (600 000 € sur 1 000 000 € ; référence 50 %)" in checks
    assert "Aucun contrôle bloquant" in checks


# --- access --------------------------------------------------------------------------------------


def test_access_rules(client, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    url = f"/dossiers/{dossier.id}"
    other = make_user(Role.PORTEUR)
    snap4, snap1 = make_instructor("SNAP4"), make_instructor("SNAP1")
    secretariat = make_user(Role.SECRETARIAT)
    referent = make_user(Role.PORTEUR)
    sections.save_section(
        dossier,
        "porteurs",
        {
            "porteur_organisation": "DINUM",
            "porteur-projet_name": "Camille",
            "porteur-projet_email": porteur.email,
            "co": [
                (0, {"organisation": "DILA", "budget_name": "Réf", "budget_email": referent.email.upper()})
            ],
        },
        version=dossier.section_version("porteurs"),
        actor=porteur,
    )
    db.session.commit()
    expected = {
        porteur: 200,
        referent: 200,
        secretariat: 200,
        other: 404,
        snap1: 404,
        snap4: 404,
    }  # brouillon
    for user, status in expected.items():
        login_as(user)
        assert client.get(url).status_code == status, user
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(snap4)
    assert client.get(url).status_code == 200
    login_as(snap1)
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/pdf").status_code == 404


def test_porteur_cannot_instruct_and_instructor_cannot_edit(client, csrf, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(porteur)
    assert (
        post(
            client, csrf, f"/dossiers/{dossier.id}/avis", {"avis": "favorable", "motivation": "x"}
        ).status_code
        == 403
    )
    assert (
        post(
            client, csrf, f"/dossiers/{dossier.id}/sections/enjeu", {"enjeu": "x", "version": "1"}
        ).status_code
        == 403
    )
    login_as(make_instructor("SNAP4"))
    assert (
        post(
            client, csrf, f"/dossiers/{dossier.id}/sections/enjeu", {"enjeu": "x", "version": "1"}
        ).status_code
        == 403
    )
    assert post(client, csrf, f"/dossiers/{dossier.id}/deposer").status_code == 403


# --- life cycle through the pages -------------------------------------------------------------------


def test_deposit_shows_a_recap_with_missing_items_and_asks_for_confirmation(client, csrf, login_as, porteur):
    draft = make_dossier(porteur, title="Projet incomplet")
    login_as(porteur)
    page = client.get(f"/dossiers/{draft.id}")
    assert f'href="/dossiers/{draft.id}/deposer"' in text_of(page)  # a link to the recap, not a POST
    recap = text_of(client.get(f"/dossiers/{draft.id}/deposer"))
    assert "À compléter" in recap and "manque" in recap and "Dépôt impossible pour l'instant" in recap
    assert "Confirmer le dépôt" not in recap
    dossier = complete_dossier(make_dossier(porteur, title="Projet complet"), porteur)
    recap = text_of(client.get(f"/dossiers/{dossier.id}/deposer"))
    assert "Confirmer le dépôt" in recap and "Financement demandé au fonds" in recap
    response = post(client, csrf, f"/dossiers/{dossier.id}/deposer")  # not confirmed: nothing happens
    assert response.status_code == 422
    assert "Cochez la case pour confirmer le dépôt du dossier." in text_of(response)
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).state == "brouillon"
    assert post(client, csrf, f"/dossiers/{dossier.id}/deposer", CONFIRM).status_code == 303
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).state == "depose"
    assert client.get(f"/dossiers/{dossier.id}/deposer").status_code == 403  # deposited: no recap any more


def test_instruction_journey_through_the_routes(client, csrf, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    url = f"/dossiers/{dossier.id}"
    login_as(porteur)
    assert post(client, csrf, f"{url}/deposer", CONFIRM).status_code == 303
    instructor = login_as(make_instructor("SNAP4"))
    assert post(client, csrf, f"{url}/instruire").status_code == 303
    response = post(
        client,
        csrf,
        f"{url}/complements",
        {"sections": ["financement"], "reason": "incomplet", "message": ""},
        headers=HX,
    )
    assert response.status_code == 422
    html = text_of(response)
    assert html.lstrip().startswith('<div id="instruction">') and "Expliquez au porteur" in html
    assert 'value="financement" checked' in html
    # the focus stays on the button used: the live region says why nothing was sent (app.js reads it)
    said = json.loads(response.headers["HX-Trigger"])["announce"]
    assert said.startswith("Non enregistré : ") and "Expliquez au porteur" in said
    assert (
        post(
            client,
            csrf,
            f"{url}/complements",
            {"sections": ["financement"], "reason": "incomplet", "message": "Précisez la phase 2."},
        ).status_code
        == 303
    )
    login_as(porteur)
    html = text_of(client.get(url))
    assert "Précisez la phase 2." in html
    assert f'href="/dossiers/{dossier.id}/sections/financement/modifier#section-financement"' in html
    assert f"/dossiers/{dossier.id}/sections/enjeu/modifier" not in html  # only the reopened sections
    assert post(client, csrf, f"{url}/deposer", CONFIRM).status_code == 303
    login_as(instructor)
    response = post(client, csrf, f"{url}/avis", {"avis": "favorable", "motivation": "Dossier complet."})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).state == "instruit"
    html = text_of(client.get(url))
    assert "Avis favorable" in html and "Dossier complet." in html


def test_annotations_never_reach_the_porteur(client, csrf, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(make_instructor("SNAP4"))
    assert (
        post(
            client, csrf, f"/dossiers/{dossier.id}/annotations", {"body": "Note interne confidentielle"}
        ).status_code
        == 303
    )
    assert "Note interne confidentielle" in text_of(client.get(f"/dossiers/{dossier.id}/activite"))
    login_as(porteur)
    for url in (f"/dossiers/{dossier.id}", f"/dossiers/{dossier.id}/activite"):
        html = text_of(client.get(url))
        assert "Note interne confidentielle" not in html and "Annotations privées" not in html
    assert post(client, csrf, f"/dossiers/{dossier.id}/annotations", {"body": "x"}).status_code == 403


def test_messages_thread_with_attachment_and_read_status(client, csrf, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(make_instructor("SNAP4"))
    response = post(
        client,
        csrf,
        f"/dossiers/{dossier.id}/messages",
        {"body": "Merci de joindre le devis.", "files": (io.BytesIO(PDF), "devis.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    login_as(porteur)
    html = text_of(client.get(f"/dossiers/{dossier.id}/activite"))
    assert "Merci de joindre le devis." in html and "Nouveau" in html and "devis.pdf" in html
    html = text_of(client.get(f"/dossiers/{dossier.id}/activite"))
    assert "Lu par 1 personne(s)" in html


def test_the_activity_part_loads_when_scrolled_to_for_who_sees_the_dossier(client, csrf, login_as, porteur):
    """The dossier page leaves its conversation, annotations, committee trail and history to its activity
    part: swapped in by htmx when scrolled to (said in a status line), a page of its own without JavaScript,
    refused (404) to whoever may not see the dossier."""
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    instructeur = make_instructor("SNAP4")
    login_as(instructeur)
    post(client, csrf, f"/dossiers/{dossier.id}/messages", {"body": "Le budget inclut-il la TVA ?"})
    url = f"/dossiers/{dossier.id}/activite"
    login_as(porteur)
    page = text_of(client.get(f"/dossiers/{dossier.id}"))
    assert f'hx-get="{url}" hx-trigger="revealed"' in page and f'<a class="fr-link" href="{url}">' in page
    assert "Le budget inclut-il la TVA ?" not in page and "Historique" not in page
    fragment = client.get(url, headers=HX)
    html = text_of(fragment)
    assert fragment.status_code == 200 and "<html" not in html and 'id="dossier-activite"' in html
    assert "Le budget inclut-il la TVA ?" in html and "Historique" in html and "Parcours en comités" in html
    assert "Annotations privées" not in html
    # said in the page's status line (an out-of-band swap), not in its announcer: that keeps the last action's
    assert 'id="dossier-activite-statut" class="fr-sr-only" role="status"' in page
    assert "HX-Trigger" not in fragment.headers
    assert '<p id="dossier-activite-statut" hx-swap-oob="innerHTML">Messagerie et historique' in html
    full = text_of(client.get(url))
    assert "<h1" in full and "Retour au dossier" in full and "Le budget inclut-il la TVA ?" in full
    assert "hx-swap-oob" not in full
    login_as(instructeur)
    assert "Annotations privées" in text_of(client.get(url, headers=HX))
    for stranger in (make_user(Role.PORTEUR), make_instructor("SNAP1")):
        login_as(stranger)
        assert client.get(url).status_code == 404
        assert client.get(url, headers=HX).status_code == 404


def test_a_message_refused_is_shown_back_in_the_activity_page(client, csrf, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(porteur)
    response = post(client, csrf, f"/dossiers/{dossier.id}/messages", {"body": ""})
    assert response.status_code == 422
    html = text_of(response)
    assert "Retour au dossier" in html and 'id="message-body-msg"' in html
    sent = post(client, csrf, f"/dossiers/{dossier.id}/messages", {"body": "Voici le devis."})
    assert sent.status_code == 303 and sent.headers["Location"].endswith(
        f"/dossiers/{dossier.id}/activite#messages"
    )


# --- attachments -------------------------------------------------------------------------------------


def test_upload_checks_content_and_download_is_an_attachment(client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    url = f"/dossiers/{dossier.id}/pieces"
    response = post(
        client,
        csrf,
        url,
        {"kind": "Autre", "file": (io.BytesIO(b"GIF89a fake"), "faux.pdf")},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "n'est pas un PDF, ODT, DOCX, XLSX ou ODS" in text_of(response)
    response = post(
        client,
        csrf,
        url,
        {"kind": "Autre", "file": (io.BytesIO(PDF), "budget.pdf")},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and "budget.pdf" in text_of(response)
    attachment = db.session.get(Dossier, dossier.id).attachments[0]
    download = client.get(f"/dossiers/{dossier.id}/pieces/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    login_as(make_user(Role.PORTEUR))
    assert client.get(f"/dossiers/{dossier.id}/pieces/{attachment.id}").status_code == 404


def test_upload_too_large_is_a_field_error(app, client, csrf, login_as, porteur, dossier):
    login_as(porteur)
    saved = app.config["DOSSIER_ATTACHMENT_MAX_MB"]
    app.config["DOSSIER_ATTACHMENT_MAX_MB"] = 1
    try:
        response = post(
            client,
            csrf,
            f"/dossiers/{dossier.id}/pieces",
            {"kind": "Autre", "file": (io.BytesIO(PDF + b"0" * (1024 * 1024)), "gros.pdf")},
            headers=HX,
            content_type="multipart/form-data",
        )
    finally:
        app.config["DOSSIER_ATTACHMENT_MAX_MB"] = saved
    assert response.status_code == 422 and "dépasse la taille autorisée (1 Mo)" in text_of(response)


# --- instruction list -----------------------------------------------------------------------------------


def test_instruction_list_tabs_search_and_bounded_queries(client, csrf, login_as, porteur, queries):
    instructor = make_instructor("SNAP4")
    for i in range(6):
        dossier = complete_dossier(make_dossier(porteur, title=f"Projet {i}"), porteur)
        service.submit(dossier, actor=porteur)
    make_dossier(porteur, title="Brouillon invisible")
    other = complete_dossier(make_dossier(porteur, "SNAP1", title="Autre guichet"), porteur)
    service.submit(other, actor=porteur)
    db.session.commit()
    mail.deliver_committed()  # the deposits' mails leave with the set-up's commit, not measured below
    login_as(instructor)
    with queries() as statements:
        response = client.get("/dossiers/instruction")
    html = text_of(response)
    assert response.status_code == 200
    assert "À instruire (6)" in html and "Tous (6)" in html
    assert "Brouillon invisible" not in html and "Autre guichet" not in html
    assert len(statements) <= 15, len(statements)
    fragment = text_of(client.get("/dossiers/instruction?q=projet+3&onglet=tous", headers=HX))
    assert fragment.lstrip().startswith('<div id="results">')
    assert "Projet 3" in fragment and "Projet 2" not in fragment
    first = db.session.scalar(select(Dossier).where(Dossier.title == "Projet 0"))
    response = post(
        client, csrf, "/dossiers/instruction/lot", {"dossier": [str(first.id)], "action": "instruire"}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Dossier, first.id).state == "en_instruction"
    assert "À instruire (6)" in text_of(client.get("/dossiers/instruction"))
    login_as(porteur)
    assert client.get("/dossiers/instruction").status_code == 403


# --- documents --------------------------------------------------------------------------------------------


def test_pdf_has_the_contract_sections_and_tables(client, login_as, porteur):
    hub = make_hub_dossier(porteur)
    login_as(porteur)
    response = client.get(f"/dossiers/{hub.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())  # cells wrap in Marianne
    for heading in (
        "1. Présentation de l'enjeu de transformation",
        "3. Besoins et modalités de financement",
        "4.1.2 Objectifs d'impact et indicateurs",
        "5.2 Suivi opérationnel : jalons",
    ):
        assert heading in text
    assert "Avant-projet — DINUM" in text and "Coûts de support — DILA" in text
    assert "3 850 000" in text and "1 275 000" in text and "dont financement Co-porteur DILA" in text
    assert "2,50 € par € investi" in text
    # the whole contract ([000]): §1–§8, the signature block and the annexes
    for heading in (
        "2. Présentation de la solution apportée",
        "4.2 Économies prévisionnelles",
        "5.3 Modalités de suivi et gouvernance",
        "6. Évaluation du projet",
        "7. Communication",
        "8. Modification et résiliation du contrat",
        "Signataires et dates de signature",
        "Le délégué interministériel à la transformation publique",
        "Annexe relative aux nomenclatures budgétaires d'exécution",
        "Liste des référents FTAP du projet",
    ):
        assert heading in text, heading
    assert "rapport-bilan" in text and "6 mois suivant la signature" in text
    assert text.index("5.3 Modalités") < text.index("6. Évaluation") < text.index("8. Modification")


def test_france_relance_pdf_says_france_relance_not_ftap(client, login_as, porteur):
    dossier = complete_dossier(make_dossier(porteur, "SNAP4"), porteur)
    login_as(porteur)
    response = client.get(f"/dossiers/{dossier.id}/pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "France Relance" in text and "FTAP" not in text
    assert "BOP France Relance piloté par le porteur du thème (à préciser)" in text
    assert "équipements terminaux" in text  # the blocking declaration, with its source


def test_guichet_export_has_the_key_figures(client, login_as, porteur):
    hub = make_hub_dossier(porteur)
    hub.state, hub.submitted_at = (
        "depose",
        hub.created_at,
    )  # submitted as entered (export of dossiers déposés)
    make_dossier(porteur, "FTAP", title="Brouillon non exporté")
    db.session.commit()
    secretariat = make_user(Role.SECRETARIAT)
    login_as(secretariat)
    response = client.get("/guichets/FTAP/dossiers.csv?format=rfc4180")
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith(
        'dossiers-FTAP.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["reference"] for r in rows] == [hub.reference]
    hub_row = rows[0]
    assert hub_row["montant_total_ae"] == "3850000" and hub_row["financement_ftap_ae"] == "1275000"
    assert hub_row["part_ftap_pct"] == "33.1" and hub_row["roi_3_ans_eur_par_eur"] == "2.5"
    assert hub_row["etat"] == "Déposé"
    xlsx = client.get("/guichets/FTAP/dossiers.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in sheet[1]][:3] == ["Dossier", "Intitulé", "Porteur"]
    login_as(porteur)
    assert client.get("/guichets/FTAP/dossiers.csv").status_code == 403


# --- real concurrency (committed database, parallel requests) -----------------------------------------------

PARALLEL = 5


def test_parallel_saves_of_one_section_keep_exactly_one(live_app):
    """Co-porteurs saving the same section from the same version at the same instant: one wins, the others get
    the 409 conflict page with their text kept; nothing is lost or merged."""
    import threading

    from sqlalchemy import delete

    from app.models import AuditEntry, User, UserRole

    with live_app.app_context():
        user = User(email="coporteurs.concurrents@example.gouv.fr", given_name="Co", usual_name="Porteurs")
        user.roles.append(UserRole(role=Role.PORTEUR))
        db.session.add(user)
        db.session.flush()
        dossier = make_dossier(user, title="Dossier disputé")
        user_id, dossier_id = user.id, dossier.id

    barrier = threading.Barrier(PARALLEL)
    results: list[tuple[int, str]] = []

    def save(n: int) -> None:
        client = live_app.test_client()
        with client.session_transaction() as session_data:
            session_data["_user_id"] = str(user_id)
        page = client.get(f"/dossiers/{dossier_id}").get_data(as_text=True)
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
        barrier.wait()
        response = client.post(
            f"/dossiers/{dossier_id}/sections/enjeu",
            data={"enjeu": f"Texte {n}", "version": "0", "csrf_token": token},
        )
        results.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=save, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        statuses = sorted(status for status, _ in results)
        assert statuses == [303] + [409] * (PARALLEL - 1), statuses
        with live_app.app_context():
            saved = db.session.get(Dossier, dossier_id)
            assert saved.section_version("enjeu") == 1
            winner = saved.enjeu
        for status, body in results:
            if status == 409:
                assert "Modification concurrente" in body and winner in body
    finally:
        with live_app.app_context():
            db.session.delete(db.session.get(Dossier, dossier_id))
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()


def test_bad_value_in_a_later_row_is_shown_at_that_row_with_the_input_kept(
    client, csrf, login_as, porteur, dossier
):
    """WTForms section: the service's `rows-3-…` keys land on the FieldList entry of index 3."""
    login_as(porteur)
    data = {
        "version": "0",
        "rows-0-group": "Agents de la DINUM",
        "rows-0-population": "250",
        "rows-3-group": "Usagers",
        "rows-3-population": "beaucoup",
    }
    response = post(client, csrf, f"/dossiers/{dossier.id}/sections/beneficiaires", data, headers=HX)
    assert response.status_code == 422
    html = text_of(response)
    control = re.search(r'<input [^>]*id="beneficiaires-rows-3-population"[^>]*>', html)[0]
    assert 'name="rows-3-population"' in control and 'value="beaucoup"' in control
    assert 'aria-describedby="beneficiaires-rows-3-population-messages"' in control
    assert 'aria-invalid="true"' in control
    assert (
        '<p class="fr-message fr-message--error" id="beneficiaires-rows-3-population-message-error">'
        "Population : saisissez un nombre entier positif.</p>" in html
    )
    assert 'id="beneficiaires-rows-0-population-messages"' not in html
    # the error summary links to the field, naming its row
    assert (
        '<a href="#beneficiaires-rows-3-population">'
        "Groupe 2 : Population : saisissez un nombre entier positif." in html
    )
    assert 'value="Agents de la DINUM"' in html and 'value="Usagers"' in html
    db.session.expire_all()
    assert db.session.get(Dossier, dossier.id).beneficiaries == []


def test_dnum_vises_a_france_relance_dossier_on_its_page(client, csrf, login_as, porteur):
    dnum = make_user(Role.DSI, ministry="DINUM")
    dossier = complete_dossier(make_dossier(porteur, "SNAP4"), porteur)
    login_as(porteur)
    assert post(client, csrf, f"/dossiers/{dossier.id}/deposer", CONFIRM).status_code == 303
    assert "En attente du visa" in text_of(client.get(f"/dossiers/{dossier.id}"))
    assert post(client, csrf, f"/dossiers/{dossier.id}/visa", {"decision": "vise"}).status_code == 403
    login_as(dnum)
    page = text_of(client.get(f"/dossiers/{dossier.id}"))  # the ministry's DNUM reads its dossier
    assert "Visa de la DNUM du ministère porteur" in page and "Enregistrer le visa" in page
    refused = post(client, csrf, f"/dossiers/{dossier.id}/visa", {"decision": "refuse"}, headers=HX)
    assert refused.status_code == 422 and "Motivez le refus de visa." in text_of(refused)
    assert post(client, csrf, f"/dossiers/{dossier.id}/visa", {"decision": "vise"}).status_code == 303
    page = text_of(client.get(f"/dossiers/{dossier.id}"))
    assert "Visé le" in page and dnum.full_name in page


def test_selection_grid_in_the_avis_the_pdf_and_side_by_side(client, csrf, login_as, porteur):
    instructor = make_instructor("FTAP-LEAN")
    first, second = (
        complete_dossier(
            make_dossier(porteur, "FTAP-LEAN", title=t), porteur, ftap_ae=700_000, porteur_ae=300_000
        )
        for t in ("Robotisation des titres", "Accueil des usagers")
    )
    for dossier in (first, second):
        service.submit(dossier, actor=porteur)
    db.session.commit()
    criteria = [r for r, _ in first.grid()]
    assert len(criteria) == 6  # the co-financing share and the five content criteria ([004] §2, §4.3)
    login_as(instructor)
    page = text_of(client.get(f"/dossiers/{first.id}"))
    assert "Grille de sélection : les critères du guichet" in page and criteria[1].label in page
    data = {"avis": "favorable", "motivation": "Économies solides."}
    data |= {f"grid-{criteria[1].id}-score": "9", f"grid-{criteria[1].id}-comment": "Gains chiffrés."}
    refused = post(client, csrf, f"/dossiers/{first.id}/avis", data, headers=HX)
    assert refused.status_code == 422 and "Note de 1 à 4." in text_of(refused)
    assert 'value="9"' not in text_of(refused) and "Gains chiffrés." in text_of(refused)
    data[f"grid-{criteria[1].id}-score"] = "3"
    assert post(client, csrf, f"/dossiers/{first.id}/avis", data).status_code == 303
    page = text_of(client.get(f"/dossiers/{first.id}"))
    assert "Grille de sélection (FTAP-LEAN)" in page and "3 — satisfaisant" in page
    pdf = client.get(f"/dossiers/{first.id}/pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    text = " ".join(text.split())
    assert "Grille de sélection" in text and "satisfaisant" in text, text[-1500:]
    compare = text_of(client.get("/dossiers/instruction/grille?guichet=FTAP-LEAN"))
    assert first.reference in compare and second.reference in compare
    assert compare.count("non noté") >= 6 and "Gains chiffrés." in compare
    assert "dont FTAP" in compare and "1 000 000 €" in compare
    login_as(porteur)
    assert client.get("/dossiers/instruction/grille?guichet=FTAP-LEAN").status_code == 403


def test_hub_contract_typed_into_the_forms_gives_its_own_figures(client, csrf, login_as, porteur):
    """[001] §2–3 typed through the HTTP forms, amounts written the French way (« 1 275 000 »): FTAP share
    33 % (1 275 000 € of 3 850 000 €), ROI as the savings table gives it, no CP/AE warning."""
    from tests.factories import HUB_LINES, HUB_SAVINGS

    login_as(porteur)
    created = post(
        client,
        csrf,
        "/dossiers/nouveau",
        {"guichet": "FTAP", "title": "Nouveau HUB d'échange", "start_year": "2019"},
    )
    assert created.status_code == 303
    dossier_id = int(created.headers["Location"].split("/")[2])  # /dossiers/<id>/etapes/projet
    porteurs = {
        "version": "0",
        "porteur_organisation": "DINUM",
        "porteur-projet_name": "Référent DINUM",
        "porteur-projet_email": porteur.email,
        "co-0-organisation": "DILA",
        "co-0-budget_name": "Référent DILA",
        "co-0-budget_email": "budget@dila.gouv.fr",
        "co-1-organisation": "DGS",
        "co-1-projet_name": "Référent DGS",
        "co-1-projet_email": "projet@dgs.gouv.fr",
    }
    assert post(client, csrf, f"/dossiers/{dossier_id}/sections/porteurs", porteurs).status_code == 303
    financing = {"version": "0"}
    for i, (nature, category, programme, financer, phase, amounts) in enumerate(HUB_LINES):
        financing |= {
            f"rows-{i}-nature": nature,
            f"rows-{i}-category": category,
            f"rows-{i}-programme": programme,
            f"rows-{i}-financer": financer,
            f"rows-{i}-phase": phase,
        }
        for year, (ae, cp) in amounts.items():
            financing[f"rows-{i}-ae-{year}"] = f"{ae:,}".replace(",", " ")
            financing[f"rows-{i}-cp-{year}"] = f"{cp:,}".replace(",", "\u202f")
    assert post(client, csrf, f"/dossiers/{dossier_id}/sections/financement", financing).status_code == 303
    savings = {"version": "0"}
    for i, (nature, amounts) in enumerate(HUB_SAVINGS):
        savings |= {f"rows-{i}-nature": nature, f"rows-{i}-category": "T3", f"rows-{i}-programme": "P624"}
        savings |= {f"rows-{i}-y-{year}": f"{value:,}".replace(",", " ") for year, value in amounts.items()}
    assert post(client, csrf, f"/dossiers/{dossier_id}/sections/economies", savings).status_code == 303
    checks = text_of(client.get(f"/dossiers/{dossier_id}/controles", headers=HX))
    assert "part FTAP 33 % (1 275 000 € sur 3 850 000 €)" in checks
    assert "retour sur investissement à 3 ans : 2,50 € par € investi, minimum 1 €" in checks
    assert "économies 2022–2024 : 3 188 000 €" in checks
    assert "CP cumulés" not in checks and "CP (" not in checks


def test_secretariat_fills_the_budget_nomenclature_annex_shown_in_the_pdf(client, csrf, login_as, porteur):
    """[004] annex: « Cadre de gestion BOP-UO : 0349-CDBU-DITP », « Domaine fonctionnel : 0349-0101B501 »."""
    dossier = complete_dossier(
        make_dossier(porteur, "FTAP-LEAN"), porteur, ftap_ae=700_000, porteur_ae=300_000
    )
    service.submit(dossier, actor=porteur)
    db.session.commit()
    data = {"bop_uo": "0349-CDBU-DITP", "domaine_fonctionnel": "0349-0101B501", "centre_cout": "DITP75"}
    login_as(porteur)
    assert post(client, csrf, f"/dossiers/{dossier.id}/annexe-budgetaire", data).status_code == 403
    login_as(make_user(Role.SECRETARIAT))
    too_long = post(
        client, csrf, f"/dossiers/{dossier.id}/annexe-budgetaire", data | {"bop_uo": "x" * 200}, headers=HX
    )
    assert too_long.status_code == 422 and "Cadre de gestion BOP-UO : 120 caractères au maximum" in text_of(
        too_long
    )
    assert post(client, csrf, f"/dossiers/{dossier.id}/annexe-budgetaire", data).status_code == 303
    pdf = client.get(f"/dossiers/{dossier.id}/pdf")
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).split())
    assert "0349-CDBU-DITP" in text and "0349-0101B501" in text and "DITP75" in text


def test_beneficiaries_name_their_transformations_and_the_page_holds_the_whole_contract(
    client, csrf, login_as, porteur, dossier
):
    """[000] §4.1.1: « Description du ou des groupes concernés | Volume | Transformation(s) concernée(s) »."""
    login_as(porteur)
    page = text_of(client.get(f"/dossiers/{dossier.id}"))  # an empty draft shows the contract's skeleton
    for heading in ("6. Évaluation du projet", "8. Modification et résiliation du contrat", "Signatures"):
        assert heading in page
    data = {
        "version": "0",
        "rows-0-group": "Agents Fonction Publique d'Etat",
        "rows-0-population": "2 500 000",
        "rows-0-transformations": "Suite numérique unifiée",
    }
    assert post(client, csrf, f"/dossiers/{dossier.id}/sections/beneficiaires", data).status_code == 303
    page = text_of(client.get(f"/dossiers/{dossier.id}/sections/beneficiaires/modifier"))
    assert 'value="Suite numérique unifiée"' in page
    db.session.expire_all()
    assert [(b.population, b.transformations) for b in db.session.get(Dossier, dossier.id).beneficiaries] == [
        (2_500_000, "Suite numérique unifiée")
    ]
