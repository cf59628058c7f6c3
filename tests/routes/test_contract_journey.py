"""The dossier's way after its avis, through HTTP: the instructeur proposes it to the committee, the
secretariat accepts the proposal in one click, the committee decides and publishes its minutes, then the
secretariat prepares the contract, records its signature (→ conventionné) and starts the follow-up (→ en
suivi); the porteur reports (jalon reached with a proof file, jalon late, indicator, credits above those
granted, savings), the instructeur validates or questions, the late jalon is proposed for the committee's
next agenda, and the secretariat closes the follow-up (→ clos). Each step asserts the notification and the
mail a user would see, and the bad input of the issue (French message at the field, input kept, nothing
changed).

Set-up: the accounts and roles, an instructed dossier and the meeting's attendance come from the
factories and services; every step of the contract and follow-up is a request.
"""

import html as html_lib
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, OutboxMail
from app.models.dossiers import Jalon
from app.models.followup import Contract, JalonDelay, ReviewState
from app.models.proposals import AgendaProposal, ProposalState
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from app.services import minutes as minutes_service
from tests.factories import make_committee_meeting, make_committee_members, make_instructed_dossier

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def post(client, csrf, url, data=None, files=None):
    payload = {"csrf_token": csrf(client), **(data or {})}
    for name, (filename, content) in (files or {}).items():
        from io import BytesIO

        payload[name] = (BytesIO(content), filename)
    return client.post(url, data=payload, content_type="multipart/form-data")


def notices(user, kind):
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ).all()


def mails(user, kind):
    return db.session.scalars(
        select(OutboxMail).where(OutboxMail.to_address.contains(user.email), OutboxMail.kind == kind)
    ).all()


@pytest.fixture
def people(make_user, db_session):
    from app.models import Guichet

    secretariat = make_user("secretariat")
    porteur = make_user("porteur")
    instructeur = make_user("instructeur")
    instructeur.roles[0].guichet_id = db.session.scalar(
        select(Guichet.id).where(Guichet.code == "FTAP-DINUM-OPI")
    )
    committee, members = make_committee_members("COMITE-INVEST-FTAP", ("president", "membre", "membre"))
    db.session.commit()
    return secretariat, porteur, instructeur, members


def test_contract_and_follow_up_to_the_end(client, csrf, login_as, people):
    secretariat, porteur, instructeur, members = people
    today = date.today()
    dossier = make_instructed_dossier(porteur, start_year=today.year, requested_ae=300_000)
    dossier.starts_on, dossier.ends_on = today - timedelta(days=200), today + timedelta(days=400)
    dossier.jalons = [
        Jalon(number=1, due_on=today - timedelta(days=10), description="Cadrage"),
        Jalon(number=2, due_on=today - timedelta(days=5), description="Marché"),
        Jalon(number=3, due_on=today + timedelta(days=90), description="Mise en service"),
    ]
    db.session.commit()
    page = f"/dossiers/{dossier.id}"
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")

    # the instructeur hands the dossier to its committee
    login_as(instructeur)
    assert "Proposer au COMITE-INVEST-FTAP" in text(client.get(page))
    assert post(client, csrf, f"{page}/proposer", {"reason": "Dossier prêt."}).status_code == 303
    assert notices(secretariat, "dossier.proposed") and mails(porteur, "dossier.proposed")
    # the secretariat accepts it from the agenda builder in one click
    login_as(secretariat)
    proposal = db.session.scalar(select(AgendaProposal).where(AgendaProposal.dossier_id == dossier.id))
    builder = text(client.get(f"/comites/seances/{meeting.id}"))
    assert "Propositions d'inscription" in builder and "Dossier prêt." in builder
    url = f"/comites/seances/{meeting.id}/propositions/{proposal.id}/inscrire"
    assert post(client, csrf, url).status_code == 303
    db.session.expire_all()
    assert proposal.state == ProposalState.ACCEPTEE and [i.dossier_id for i in meeting.items] == [dossier.id]

    # the committee decides (services: attendance and decision are the committee pages' own tests)
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    for member in members:
        meeting_service.record_attendance(meeting, user=member, status="present", actor=secretariat)
    decision_service.record_decision(
        meeting.items[0],
        outcome="accepte",
        mode="consensus",
        amounts=[decision_service.AmountLine(str(today.year), "300000", "200000")],
        actor=secretariat,
    )
    minutes_service.save(
        meeting, notes="Séance.", item_notes={}, version=meeting.minutes.version, actor=secretariat
    )
    db.session.commit()

    # before the minutes are published the contract cannot be prepared
    response = post(client, csrf, f"{page}/convention/preparer")
    assert response.status_code == 422 and "publication du procès-verbal" in text(response)
    assert db.session.scalar(select(Contract)) is None
    minutes_service.review(meeting, actor=secretariat)
    minutes_service.publish(meeting, actor=secretariat)
    db.session.commit()

    assert "Préparer la convention" in text(client.get(page))
    assert post(client, csrf, f"{page}/convention/preparer").status_code == 303
    assert notices(porteur, "dossier.contract_ready") and mails(porteur, "dossier.contract_ready")
    ready = mails(porteur, "dossier.contract_ready")[0]
    assert f"/dossiers/{dossier.id}/pdf" in ready.text_body and "://" in ready.text_body
    assert ready.html_body

    # signature: bad input keeps the input and changes nothing
    future = (today + timedelta(days=3)).isoformat()
    response = post(
        client, csrf, f"{page}/convention/signature", {"signed_on": future, "signatories": "Mme X"}
    )
    body = text(response)
    assert response.status_code == 422
    assert "La date de signature ne peut pas être future." in body and "Joignez la convention signée" in body
    assert 'value="' + future + '"' in body and "Mme X" in body
    db.session.expire_all()
    assert dossier.state == "decide"
    response = post(
        client,
        csrf,
        f"{page}/convention/signature",
        {"signed_on": today.isoformat(), "signatories": "Mme X, directrice ; M. Y, DITP"},
        files={"signed_file": ("convention.pdf", PDF)},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert dossier.state == "conventionne"
    assert notices(porteur, "dossier.contract_signed") and notices(instructeur, "dossier.contract_signed")
    assert post(client, csrf, f"{page}/convention/suivi").status_code == 303
    db.session.expire_all()
    assert dossier.state == "en_suivi" and mails(porteur, "followup.started")
    assert "Page de suivi" in text(client.get(page))

    # the porteur reports
    login_as(porteur)
    suivi = f"{page}/suivi"
    jalons = {j.number: j.id for j in dossier.jalons}
    response = post(
        client, csrf, f"{suivi}/jalon", {"jalon": jalons[1], "achieved_on": future, "proof": "PV de recette"}
    )
    assert (
        response.status_code == 422 and "date future" in text(response) and "PV de recette" in text(response)
    )
    client.application.config["DOSSIER_ATTACHMENT_MAX_MB"] = 1
    big = PDF + b"0" * (1024 * 1024 + 1)
    response = post(
        client,
        csrf,
        f"{suivi}/jalon",
        {"jalon": jalons[1], "achieved_on": today.isoformat()},
        files={"proof_file": ("preuve.pdf", big)},
    )
    client.application.config.pop("DOSSIER_ATTACHMENT_MAX_MB")
    assert response.status_code == 422 and "dépasse la taille autorisée (1 Mo)" in text(response)
    response = post(
        client,
        csrf,
        f"{suivi}/jalon",
        {"jalon": jalons[1], "achieved_on": today.isoformat()},
        files={"proof_file": ("preuve.pdf", PDF)},
    )
    assert response.status_code == 303
    assert notices(instructeur, "followup.report_recorded")
    response = post(
        client,
        csrf,
        f"{suivi}/retard",
        {
            "jalon": jalons[2],
            "new_due_on": (today + timedelta(days=60)).isoformat(),
            "reason": "Marché infructueux",
        },
    )
    assert response.status_code == 303
    assert db.session.scalar(select(JalonDelay)).reason == "Marché infructueux"
    response = post(
        client, csrf, f"{suivi}/consommation", {"year": str(today.year), "ae": "400000", "cp": "0"}
    )
    assert response.status_code == 422 and "expliquez le dépassement" in text(response)
    assert 'value="400000"' in text(response)
    response = post(
        client,
        csrf,
        f"{suivi}/consommation",
        {"year": str(today.year), "ae": "400000", "cp": "0", "explanation": "Avance sur l'an prochain"},
    )
    assert response.status_code == 303
    assert "dépassent les crédits accordés" in text(client.get(suivi))

    # the instructeur validates one report and questions another; the porteur is told
    login_as(instructeur)
    from app.models.followup import CreditConsumption, JalonReport

    reached = db.session.scalar(select(JalonReport))
    consumed = db.session.scalar(select(CreditConsumption))
    response = post(
        client,
        csrf,
        f"{suivi}/consommation/{consumed.id}/lecture",
        {f"consommation-{consumed.id}-verdict": "questionne"},
    )
    assert response.status_code == 422 and "Dites au porteur" in text(response)
    assert (
        post(
            client, csrf, f"{suivi}/jalon/{reached.id}/lecture", {f"jalon-{reached.id}-verdict": "valide"}
        ).status_code
        == 303
    )
    url = f"{suivi}/consommation/{consumed.id}/lecture"
    assert (
        post(
            client,
            csrf,
            url,
            {
                f"consommation-{consumed.id}-verdict": "questionne",
                f"consommation-{consumed.id}-comment": "Justifiez l'avance.",
            },
        ).status_code
        == 303
    )
    db.session.expire_all()
    assert reached.review_state == ReviewState.VALIDE and consumed.review_state == ReviewState.QUESTIONNE
    assert len(notices(porteur, "followup.report_reviewed")) == 2
    assert any("Justifiez l'avance." in m.text_body for m in mails(porteur, "followup.report_reviewed"))

    # the late jalon is proposed for the committee's next meeting; the secretariat accepts it in one click
    login_as(secretariat)
    later = make_committee_meeting("COMITE-INVEST-FTAP")
    builder = text(client.get(f"/comites/seances/{later.id}"))
    assert "Revue de suivi — dossier " + dossier.reference in builder and "Marché infructueux" not in builder
    late = db.session.scalar(select(AgendaProposal).where(AgendaProposal.kind == "suivi"))
    assert any("jalon n° 2" in flag for flag in late.flags)
    assert (
        post(client, csrf, f"/comites/seances/{later.id}/propositions/{late.id}/inscrire").status_code == 303
    )
    db.session.expire_all()
    assert [i.kind for i in later.items] == ["suivi"] and later.items[0].followup_flags == late.flags

    # closing with open late jalons needs a reason
    response = post(client, csrf, f"{suivi}/cloture", {"assessment": "Projet livré."})
    assert response.status_code == 422 and "indiquez-en la raison" in text(response)
    assert "Projet livré." in text(response)
    db.session.expire_all()
    assert dossier.state == "en_suivi"
    data = {"assessment": "Projet livré.", "reason": "Le marché est relancé hors contrat."}
    assert post(client, csrf, f"{suivi}/cloture", data).status_code == 303
    db.session.expire_all()
    assert dossier.state == "clos"
    assert notices(porteur, "followup.closed") and mails(instructeur, "followup.closed")
    assert "Bilan final : Projet livré." in text(client.get(suivi))

    # reporting on a dossier not in follow-up any more: refused, nothing saved
    login_as(porteur)
    indicator = dossier.indicators[0] if dossier.indicators else None
    data = {"indicator": str(getattr(indicator, "id", 1)), "reported_on": today.isoformat(), "value": "3"}
    response = post(client, csrf, f"{suivi}/indicateur", data)
    assert response.status_code == 422
    assert "le suivi se renseigne une fois le dossier conventionné" in text(response)
    from app.models.followup import IndicatorValue

    assert db.session.scalar(select(IndicatorValue)) is None
