"""The end of a funded dossier's journey in a real browser: the secretariat prepares the contract and records
its signature with the signed file, starts the follow-up; the porteur declares a jalon late; the instructeur
questions it; the secretariat sees the late jalon proposed in the agenda builder of the committee's next
meeting, releases a tranche, signs an avenant, and closes the follow-up (a reason required with the late
jalon open).

Set-up through the services, in the order users would act (accounts and roles, dossier sections, deposit,
instruction, avis, agenda, meeting, decision, minutes published): no state column is written directly."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.formatting import paris_today
from app.models import Committee, Dossier, Guichet, Role, User, UserRole
from app.services import decisions, meetings, minutes
from app.services import dossier_sections as sections
from app.services import dossiers as dossier_service
from tests.factories import complete_dossier

from .helpers import axe_check
from .test_committees import signed_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _user(tag: str, role: Role, **scope) -> User:
    user = User(
        email=f"e2e-contrat-{tag}-{uuid.uuid4().hex[:6]}@example.gouv.fr", given_name="E2E", usual_name=tag
    )
    user.roles.append(UserRole(role=role, **scope))
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture
def decided(live_app):
    """An « Opérer en confiance » dossier accepted by its COPIL, minutes published; a jalon already past."""
    with live_app.app_context():
        guichet = db.session.scalar(select(Guichet).where(Guichet.code == "FTAP-DINUM-OPI"))
        copil = db.session.scalar(select(Committee).where(Committee.code == "COPIL-SUITE"))
        secretariat = _user("secretariat", Role.SECRETARIAT)
        porteur = _user("porteur", Role.PORTEUR)
        instructeur = _user("instructeur", Role.INSTRUCTEUR, guichet_id=guichet.id)
        president = _user("president", Role.COMITE, committee_id=copil.id, function="president")
        today = paris_today()
        dossier = dossier_service.create_dossier(
            guichet=guichet, title="Contrat en navigateur", start_year=str(today.year), actor=porteur
        )
        db.session.flush()
        complete_dossier(dossier, porteur)
        jalons = {
            "rows": [
                (
                    0,
                    {
                        "number": "1",
                        "due_on": (today - timedelta(days=3)).isoformat(),
                        "description": "Recette",
                    },
                )
            ]
        }
        projet = {
            "title": dossier.title,
            "start_year": str(today.year),
            "starts_on": f"{today.year}-01-01",
            "ends_on": f"{today.year + 2}-12-31",
            "declarations": [str(r.id) for r in guichet.rules if r.code == "declaration"],
        }
        sections.save_section(
            dossier, "projet", projet, version=dossier.section_version("projet"), actor=porteur
        )
        sections.save_section(
            dossier, "jalons", jalons, version=dossier.section_version("jalons"), actor=porteur
        )
        dossier_service.submit(dossier, actor=porteur)
        dossier_service.start_instruction(dossier, actor=instructeur)
        dossier_service.record_avis(dossier, avis="favorable", motivation="Solide.", actor=instructeur)
        meeting = meetings.plan_meeting(
            copil, starts_at=datetime.now(UTC) + timedelta(days=2), place="Salle 1", actor=secretariat
        )
        item = meetings.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
        meetings.publish_agenda(meeting, actor=secretariat)
        meetings.open_meeting(meeting, actor=secretariat)
        # every member present: the live database is shared, and a journey run earlier may have named others
        for member in {m.user for m in meetings.members(copil)} | {president}:
            meetings.record_attendance(meeting, user=member, status="present", actor=secretariat)
        decisions.record_decision(
            item,
            outcome="accepte",
            mode="consensus",
            amounts=[decisions.AmountLine(str(today.year), "500000", "250000")],
            actor=secretariat,
        )
        minutes.save(
            meeting, notes="Séance.", item_notes={}, version=meeting.minutes.version, actor=secretariat
        )
        minutes.review(meeting, actor=secretariat)
        minutes.publish(meeting, actor=secretariat)
        later = meetings.plan_meeting(
            copil, starts_at=datetime.now(UTC) + timedelta(days=30), place="Salle 2", actor=secretariat
        )
        ids = {
            "dossier": dossier.id,
            "secretariat": secretariat.id,
            "porteur": porteur.id,
            "instructeur": instructeur.id,
            "later": later.id,
        }
        db.session.commit()
        db.session.remove()  # no transaction left open on the live database while the browser works
    return ids


def test_contract_signature_follow_up_and_closing(decided, live_app, base_url, new_page, tmp_path: Path):
    dossier_url = f"/dossiers/{decided['dossier']}"
    page = signed_in(new_page, live_app, base_url, decided["secretariat"])
    page.goto(dossier_url)
    page.get_by_role("button", name="Préparer la convention").click()
    page.locator("#flash", has_text="Convention préparée").wait_for()
    signed = tmp_path / "convention-signee.pdf"
    signed.write_bytes(PDF)
    future = (paris_today() + timedelta(days=2)).isoformat()
    page.fill("#contract-signed_on", future)
    page.fill("#contract-signatories", "La directrice du programme ; le DINUM")
    page.get_by_role("button", name="Enregistrer la signature").click()
    expect(page.locator("#contract-signed_on-messages")).to_contain_text("ne peut pas être future")
    assert page.locator("#contract-signatories").input_value() == "La directrice du programme ; le DINUM"
    page.fill("#contract-signed_on", paris_today().isoformat())
    page.set_input_files("#contract-signed_file", str(signed))
    page.get_by_role("button", name="Enregistrer la signature").click()
    expect(page.locator("#convention-signee")).to_contain_text("La directrice du programme")
    page.get_by_role("button", name="Démarrer le suivi").click()
    page.locator("#flash", has_text="Suivi démarré").wait_for()
    axe_check(page, "main")

    porteur = signed_in(new_page, live_app, base_url, decided["porteur"])
    porteur.goto(dossier_url)
    porteur.get_by_role("link", name="Page de suivi").click()
    porteur.locator("#retard-new_due_on").wait_for()
    porteur.fill("#retard-new_due_on", (paris_today() + timedelta(days=45)).isoformat())
    porteur.fill("#retard-reason", "Recette décalée par le prestataire")
    porteur.get_by_role("button", name="Signaler le retard").click()
    porteur.locator("#flash", has_text="Retard enregistré").wait_for()
    expect(porteur.locator("#lectures")).to_contain_text("Recette décalée par le prestataire")

    instructeur = signed_in(new_page, live_app, base_url, decided["instructeur"])
    instructeur.goto(f"{dossier_url}/suivi#lectures")
    item = instructeur.locator("[id^=lecture-retard-]")
    item.get_by_text("Questionner", exact=True).click()
    item.get_by_role("button", name="Enregistrer la lecture").click()
    expect(instructeur.locator("[id^=lecture-retard-] .fr-message--error")).to_contain_text(
        "Dites au porteur"
    )
    item = instructeur.locator("[id^=lecture-retard-]")
    item.get_by_text("Questionner", exact=True).click()
    item.get_by_role("textbox", name="Commentaire au porteur").fill("Quelle nouvelle date de recette ?")
    item.get_by_role("button", name="Enregistrer la lecture").click()
    expect(instructeur.locator("[id^=lecture-retard-]")).to_contain_text("Questionné")
    axe_check(instructeur, "main")

    page.goto(f"/comites/seances/{decided['later']}")
    proposals = page.locator("#propositions + ul")
    expect(proposals).to_contain_text("Revue de suivi")
    proposals.get_by_role("button", name="Inscrire à l'ordre du jour").first.click()
    expect(page.locator("#ordre-du-jour")).to_contain_text("Revue de suivi")
    axe_check(page, "main")

    # the secretariat plans and releases a tranche, records an avenant and its signature
    page.goto(f"{dossier_url}/suivi#tranches")
    page.fill("#tranche-planned_amount", "600 000")
    page.fill("#tranche-planned_year", str(paris_today().year))
    page.get_by_role("button", name="Prévoir la tranche").click()
    expect(page.locator("#tranche-planned_amount-messages")).to_contain_text(
        "dépasseraient le montant accordé"
    )
    assert page.locator("#tranche-planned_amount").input_value() == "600 000"
    page.fill("#tranche-planned_amount", "300 000")
    page.get_by_role("button", name="Prévoir la tranche").click()
    page.locator("#flash", has_text="Tranche n° 1 prévue").wait_for()
    page.locator("[id$=-deblocage-released_on]").fill(paris_today().isoformat())
    page.get_by_role("button", name="Débloquer la tranche").click()
    expect(page.locator("#table-tranches")).to_contain_text("Débloquée")
    page.fill("#avenant-object", "Prolongation de six mois")
    page.fill("#avenant-new_ends_on", f"{paris_today().year + 3}-06-30")
    page.get_by_role("button", name="Enregistrer l'avenant en projet").click()
    page.locator("[id$=-signature-signed_on]").fill(paris_today().isoformat())
    page.locator("[id$=-signature-signed_file]").set_input_files(str(signed))
    page.get_by_role("button", name="Enregistrer la signature").click()
    expect(page.locator("#table-avenants")).to_contain_text("Signé le")
    axe_check(page, "main")

    page.goto(f"{dossier_url}/suivi")
    page.fill("#close-assessment", "Projet livré, recette à confirmer.")
    page.get_by_role("button", name="Clore le suivi").click()
    expect(page.locator("#close-reason-messages")).to_contain_text("indiquez-en la raison")
    assert page.locator("#close-assessment").input_value() == "Projet livré, recette à confirmer."
    page.fill("#close-reason", "La recette relève désormais du marché de maintenance.")
    page.get_by_role("button", name="Clore le suivi").click()
    expect(page.locator("#bilan")).to_contain_text("Projet livré, recette à confirmer.")
    with live_app.app_context():
        assert db.session.get(Dossier, decided["dossier"]).state == "clos"
