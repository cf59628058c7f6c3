"""The dossier's way after its avis, through HTTP only: the porteur fills and deposits the dossier through
its forms, the instructeur instructs it and proposes it to the committee, the secretariat accepts the
proposal in one click, the committee holds its meeting, decides and publishes its minutes, then the
secretariat prepares the contract, records its signature (→ conventionné) and starts the follow-up (→ en
suivi); the porteur reports (jalon reached with a proof file, jalon late, indicator, credits above those
granted, savings), the instructeur validates or questions, the late jalon is proposed for the committee's
next agenda, and the secretariat closes the follow-up (→ clos). Each step asserts the notification and the
mail a user would see, and the bad input of the issue (French message at the field, input kept, nothing
changed).

No factory and no service call: the accounts are pre-registered with `flask users add` and log in through
the ProConnect test provider (tests/routes/test_journeys.py), every state is reached by a request.
"""

import html as html_lib
import re
from datetime import timedelta
from io import BytesIO

from sqlalchemy import select

from app.extensions import db
from app.formatting import paris, paris_today
from app.models import Dossier, Meeting, Notification, OutboxMail, User
from app.models.base import utcnow
from app.models.followup import (
    Contract,
    CreditConsumption,
    IndicatorValue,
    JalonDelay,
    JalonReport,
    ReviewState,
)
from app.models.proposals import AgendaProposal, ProposalState
from tests.routes.journey_steps import PDF, fill_dossier
from tests.routes.test_auth import provider  # noqa: F401 - the fixture
from tests.routes.test_journeys import agents  # noqa: F401 - the fixture
from tests.services.test_mail import inbox_fixture, smtp_server_fixture  # noqa: F401 - the fixtures


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def post(client, url, data=None, files=None):
    payload = {"csrf_token": client.csrf, **(data or {})}
    for name, (filename, content) in (files or {}).items():
        payload[name] = (BytesIO(content), filename)
    return client.post(url, data=payload, content_type="multipart/form-data")


def ok(client, url, data=None, files=None):
    response = post(client, url, data, files)
    errors = re.findall(r"(?:fr-message--error|fr-alert__title)[^>]*>([^<]+)", text(response))
    assert response.status_code == 303, (url, response.status_code, errors)
    return response


def account(email) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def notices(user, kind):
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ).all()


def mails(user, kind):
    return db.session.scalars(
        select(OutboxMail).where(OutboxMail.to_address.contains(user.email), OutboxMail.kind == kind)
    ).all()


def new_meeting(secretariat, days: int) -> Meeting:
    starts = paris(utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")
    response = ok(
        secretariat, "/comites/COPIL-SUITE/seances/nouvelle", {"starts_at": starts, "duration_minutes": "90"}
    )
    return db.session.get(Meeting, int(re.search(r"/seances/(\d+)", response.headers["Location"]).group(1)))


def test_contract_and_follow_up_to_the_end(agents, inbox):  # noqa: F811 - the imported fixtures
    roles = {
        "secretariat": agents("secretariat@test.gouv.fr", "Camille Martin", ["--role", "secretariat"]),
        "instructeur": agents(
            "instructeur@test.gouv.fr",
            "Sacha Durand",
            ["--role", "instructeur", "--guichet", "FTAP-DINUM-OPI"],
        ),
    }
    for email, name, function in (
        ("presidente@test.gouv.fr", "Sophie Girard", "president"),
        ("membre1@test.gouv.fr", "Marc Blanc", "membre"),
        ("membre2@test.gouv.fr", "Julie Faure", "membre"),
    ):
        roles[email.split("@")[0]] = agents(
            email, name, ["--role", "comite", "--committee", "COPIL-SUITE", "--function", function]
        )
    roles["porteur"] = agents("porteur@test.gouv.fr", "Alex Petit")
    secretariat, porteur, instructeur = (
        account(f"{r}@test.gouv.fr") for r in ("secretariat", "porteur", "instructeur")
    )
    members = [
        account(e) for e in ("presidente@test.gouv.fr", "membre1@test.gouv.fr", "membre2@test.gouv.fr")
    ]
    today = paris_today()
    year = (today - timedelta(days=30)).year  # the project has started: its first jalons are late

    # the porteur creates, fills (the section forms) and deposits the dossier; the instructeur instructs it
    client = roles["porteur"]
    response = ok(
        client, "/dossiers/nouveau", {"guichet": "FTAP-DINUM-OPI", "title": "Suite", "start_year": str(year)}
    )
    page = response.headers["Location"].split("/etapes/")[0]  # created: the first step of the form
    dossier = db.session.scalar(select(Dossier).where(Dossier.title == "Suite"))
    jalons = [
        ((today - timedelta(days=10)).isoformat(), "Cadrage", "Note de cadrage"),
        ((today - timedelta(days=5)).isoformat(), "Marché", "Marché notifié"),
        ((today + timedelta(days=90)).isoformat(), "Mise en service", "Mise en production"),
    ]
    fill_dossier(
        lambda u, data, files=None: ok(client, u, data, files),
        lambda u: client.get(u).get_data(as_text=True),
        dossier.id,
        porteur,
        jalons=jalons,
    )
    ok(client, f"{page}/deposer", {"confirm": "oui"})
    client = roles["instructeur"]
    ok(client, f"{page}/instruire")
    ok(client, f"{page}/avis", {"avis": "favorable", "motivation": "Projet solide."})
    meeting = new_meeting(roles["secretariat"], 7)
    db.session.expire_all()
    assert dossier.state == "instruit"

    # the instructeur hands the dossier to its committee
    assert "Proposer au COPIL-SUITE" in text(client.get(page))
    assert post(client, f"{page}/proposer", {"reason": "Dossier prêt."}).status_code == 303
    assert notices(secretariat, "dossier.proposed") and mails(porteur, "dossier.proposed")
    # the secretariat accepts it from the agenda builder in one click
    client = roles["secretariat"]
    proposal = db.session.scalar(select(AgendaProposal).where(AgendaProposal.dossier_id == dossier.id))
    builder = text(client.get(f"/comites/seances/{meeting.id}"))
    assert "Propositions d'inscription" in builder and "Dossier prêt." in builder
    url = f"/comites/seances/{meeting.id}/propositions/{proposal.id}/inscrire"
    assert post(client, url).status_code == 303
    db.session.expire_all()
    assert proposal.state == ProposalState.ACCEPTEE and [i.dossier_id for i in meeting.items] == [dossier.id]

    # the committee meets and decides; the contract waits for the minutes' publication
    ok(client, f"/comites/seances/{meeting.id}/publier")
    assert notices(members[1], "committee.agenda_published")
    ok(client, f"/comites/seances/{meeting.id}/ouvrir")
    for member in members:
        ok(
            client,
            f"/comites/seances/{meeting.id}/presence",
            {"user_id": str(member.id), "status": "present"},
        )
    db.session.expire_all()
    item = meeting.items[0]
    fields = {"outcome": "accepte", "mode": "consensus", "amounts-0-year": str(year)}
    fields |= {"amounts-0-ae": "300000", "amounts-0-cp": "200000"}
    ok(
        client,
        f"/comites/seances/{meeting.id}/points/{item.id}/decision",
        {f"d{item.id}-{k}": v for k, v in fields.items()},
    )
    db.session.expire_all()
    minutes = f"/comites/seances/{meeting.id}/proces-verbal"
    ok(client, minutes, {"notes": "Séance.", "version": str(meeting.minutes.version)})
    assert not notices(porteur, "dossier.decision_communicated")

    # before the minutes are published the contract cannot be prepared
    response = post(client, f"{page}/convention/preparer")
    assert response.status_code == 422 and "publication du procès-verbal" in text(response)
    assert db.session.scalar(select(Contract)) is None
    ok(roles["presidente"], f"{minutes}/relire")
    ok(client, f"{minutes}/publier")
    assert notices(porteur, "dossier.decision_communicated")
    assert any("Décision du" in m["Subject"] for m in inbox.to("porteur@test.gouv.fr"))

    assert "Préparer la convention" in text(client.get(page))
    assert post(client, f"{page}/convention/preparer").status_code == 303
    assert notices(porteur, "dossier.contract_ready") and mails(porteur, "dossier.contract_ready")
    ready = mails(porteur, "dossier.contract_ready")[0]
    assert f"/dossiers/{dossier.id}/pdf" in ready.text_body and "://" in ready.text_body
    assert ready.html_body

    # the secretariat completes the contract's signatories once decided (000 signature block): a third
    # party signs for the fund; the porteur can no longer edit them
    signatories = {
        f"rows-{i}-{k}": getattr(s, k) for i, s in enumerate(dossier.signatories)
        for k in ("side", "organisation", "function", "name")
    }  # fmt: skip
    assert len(dossier.signatories) == 2
    signatories |= {"rows-2-side": "fonds", "rows-2-organisation": "Direction du budget (DB)",
                    "rows-2-function": "La directrice du budget", "rows-2-name": "Amélie VERDI"}  # fmt: skip
    version = str(dossier.section_version("signataires"))
    refused = post(roles["porteur"], f"{page}/sections/signataires", signatories | {"version": version})
    assert refused.status_code == 403
    assert post(client, f"{page}/sections/signataires", signatories | {"version": version}).status_code == 303
    db.session.expire_all()
    assert [s.name for s in dossier.signatories][-1] == "Amélie VERDI"

    # signature: bad input keeps the input and changes nothing
    future = (today + timedelta(days=3)).isoformat()
    response = post(client, f"{page}/convention/signature", {"signed_on": future, "signatories": "Mme X"})
    body = text(response)
    assert response.status_code == 422
    assert "La date de signature ne peut pas être future." in body and "Joignez la convention signée" in body
    assert 'value="' + future + '"' in body and "Mme X" in body
    db.session.expire_all()
    assert dossier.state == "decide"
    response = post(
        client,
        f"{page}/convention/signature",
        {"signed_on": today.isoformat(), "signatories": "Mme X, directrice ; M. Y, DITP"},
        files={"signed_file": ("convention.pdf", PDF)},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert dossier.state == "conventionne"
    assert [s.signed_on for s in dossier.signatories] == [today] * 3  # dated by the recorded signature
    assert notices(porteur, "dossier.contract_signed") and notices(instructeur, "dossier.contract_signed")
    assert post(client, f"{page}/convention/suivi").status_code == 303
    db.session.expire_all()
    assert dossier.state == "en_suivi" and mails(porteur, "followup.started")
    assert "Page de suivi" in text(client.get(page))

    # the porteur reports
    client = roles["porteur"]
    suivi = f"{page}/suivi"
    jalons = {j.number: j.id for j in dossier.jalons}
    response = post(
        client, f"{suivi}/jalon", {"jalon": jalons[1], "achieved_on": future, "proof": "PV de recette"}
    )
    assert (
        response.status_code == 422 and "date future" in text(response) and "PV de recette" in text(response)
    )
    limit = client.application.config["DOSSIER_ATTACHMENT_MAX_MB"]
    client.application.config["DOSSIER_ATTACHMENT_MAX_MB"] = 1
    big = PDF + b"0" * (1024 * 1024 + 1)
    response = post(
        client,
        f"{suivi}/jalon",
        {"jalon": jalons[1], "achieved_on": today.isoformat()},
        files={"proof_file": ("preuve.pdf", big)},
    )
    client.application.config["DOSSIER_ATTACHMENT_MAX_MB"] = limit
    assert response.status_code == 422 and "dépasse la taille autorisée (1 Mo)" in text(response)
    response = post(
        client,
        f"{suivi}/jalon",
        {"jalon": jalons[1], "achieved_on": today.isoformat()},
        files={"proof_file": ("preuve.pdf", PDF)},
    )
    assert response.status_code == 303
    assert notices(instructeur, "followup.report_recorded")
    response = post(
        client,
        f"{suivi}/retard",
        {
            "jalon": jalons[2],
            "new_due_on": (today + timedelta(days=60)).isoformat(),
            "reason": "Marché infructueux",
        },
    )
    assert response.status_code == 303
    assert db.session.scalar(select(JalonDelay)).reason == "Marché infructueux"
    response = post(client, f"{suivi}/consommation", {"year": str(today.year), "ae": "400000", "cp": "0"})
    assert response.status_code == 422 and "expliquez le dépassement" in text(response)
    assert 'value="400000"' in text(response)
    response = post(
        client,
        f"{suivi}/consommation",
        {"year": str(today.year), "ae": "400000", "cp": "0", "explanation": "Avance sur l'an prochain"},
    )
    assert response.status_code == 303
    assert "dépassent les crédits accordés" in text(client.get(suivi))

    # the instructeur validates one report and questions another; the porteur is told
    client = roles["instructeur"]
    reached = db.session.scalar(select(JalonReport))
    consumed = db.session.scalar(select(CreditConsumption))
    response = post(
        client,
        f"{suivi}/consommation/{consumed.id}/lecture",
        {f"consommation-{consumed.id}-verdict": "questionne"},
    )
    assert response.status_code == 422 and "Dites au porteur" in text(response)
    assert (
        post(
            client, f"{suivi}/jalon/{reached.id}/lecture", {f"jalon-{reached.id}-verdict": "valide"}
        ).status_code
        == 303
    )
    url = f"{suivi}/consommation/{consumed.id}/lecture"
    assert (
        post(
            client,
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
    client = roles["secretariat"]
    later = new_meeting(client, 40)
    builder = text(client.get(f"/comites/seances/{later.id}"))
    assert "Revue de suivi — dossier " + dossier.reference in builder and "Marché infructueux" not in builder
    late = db.session.scalar(select(AgendaProposal).where(AgendaProposal.kind == "suivi"))
    assert any("jalon n° 2" in flag for flag in late.flags)
    assert post(client, f"/comites/seances/{later.id}/propositions/{late.id}/inscrire").status_code == 303
    db.session.expire_all()
    assert [i.kind for i in later.items] == ["suivi"] and later.items[0].followup_flags == late.flags

    # closing with open late jalons needs a reason
    response = post(client, f"{suivi}/cloture", {"assessment": "Projet livré."})
    assert response.status_code == 422 and "indiquez-en la raison" in text(response)
    assert "Projet livré." in text(response)
    db.session.expire_all()
    assert dossier.state == "en_suivi"
    data = {"assessment": "Projet livré.", "reason": "Le marché est relancé hors contrat."}
    assert post(client, f"{suivi}/cloture", data).status_code == 303
    db.session.expire_all()
    assert dossier.state == "clos"
    assert notices(porteur, "followup.closed") and mails(instructeur, "followup.closed")
    assert "Bilan final : Projet livré." in text(client.get(suivi))

    # reporting on a dossier not in follow-up any more: refused, nothing saved
    client = roles["porteur"]
    indicator = dossier.indicators[0] if dossier.indicators else None
    data = {"indicator": str(getattr(indicator, "id", 1)), "reported_on": today.isoformat(), "value": "3"}
    response = post(client, f"{suivi}/indicateur", data)
    assert response.status_code == 422
    assert "le suivi se renseigne une fois le dossier conventionné" in text(response)
    assert db.session.scalar(select(IndicatorValue)) is None
