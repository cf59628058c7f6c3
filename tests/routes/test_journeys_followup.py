"""The end of the dossier's journey for each role, over HTTP with real ProConnect logins (the test provider
process of tests/conftest.py): porteur, instructeur, secretariat, committee member.

The secretariat's account is pre-registered with the real CLI command (`flask users add`); every other
account is created by its first login and given its role from the product's pages (guichet instructors,
committee members). Every step is a request: the dossier's sections through their forms, deposit, instruction,
avis, proposal to the committee, agenda, meeting, attendance, decision, minutes, contract, signature,
follow-up, reports, reviews, a tranche released and an avenant signed, closing. Each step asserts what the
user would notice: the page, the notification in the centre and the mail in the outbox.
"""

import html as html_lib
import itertools
import re
from datetime import timedelta
from io import BytesIO
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from app import ratelimit
from app.extensions import db
from app.formatting import paris_today
from app.models import Dossier, Meeting, Notification, OutboxMail, User
from app.models.followup import Avenant, IndicatorValue, JalonReport, Tranche
from app.models.proposals import AgendaProposal
from tests.routes.journey_steps import fill_dossier

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_seq = itertools.count(1)


@pytest.fixture
def provider(app, oidc_provider):
    keys = ("PROCONNECT_DISCOVERY_URL", "PROCONNECT_MIN_ACR", "PROCONNECT_USERINFO_FORMAT", "BASE_URL")
    saved = {k: app.config[k] for k in keys}
    app.config.update(
        PROCONNECT_DISCOVERY_URL=f"{oidc_provider}/.well-known/openid-configuration",
        PROCONNECT_MIN_ACR="",
        PROCONNECT_USERINFO_FORMAT="jwt",
        BASE_URL="http://127.0.0.1:5000",
    )
    ratelimit.reset()
    yield oidc_provider
    app.config.update(saved)
    ratelimit.reset()


class Agent:
    """One person with a browser: a test client with its own cookies, logged in through ProConnect."""

    def __init__(self, app, provider, csrf, label: str):
        n = next(_seq)
        self.sub, self.email = f"journey-{label}-{n}", f"{label}.{n}@journey.gouv.fr"
        claims = {"email": self.email, "given_name": label.capitalize(), "usual_name": f"Agent{n}"}
        claims |= {
            "siret": "13002526500013",
            "uid": f"u{n}",
            "idp_id": "fia1v2",
            "organization_label": "DINUM",
        }
        assert requests.put(f"{provider}/users/{self.sub}", json=claims, timeout=5).status_code == 204
        self.client, self.csrf = app.test_client(), csrf

    def login(self):
        start = self.client.post("/connexion/proconnect", data={"csrf_token": self.csrf(self.client)})
        answer = requests.post(
            start.headers["Location"], data={"sub": self.sub}, allow_redirects=False, timeout=5
        )
        callback = urlsplit(answer.headers["Location"])
        assert self.client.get(f"{callback.path}?{callback.query}").status_code in (302, 303)
        return self

    @property
    def user(self) -> User:
        return db.session.scalar(select(User).where(User.email == self.email))

    def get(self, url) -> str:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return html_lib.unescape(response.get_data(as_text=True))

    def post(self, url, data=None, files=None, expect=303):
        payload = {"csrf_token": self.csrf(self.client), **(data or {})}
        for name, (filename, content) in (files or {}).items():
            payload[name] = (BytesIO(content), filename)
        response = self.client.post(url, data=payload, content_type="multipart/form-data")
        body = html_lib.unescape(response.get_data(as_text=True))
        errors = re.findall(r'fr-message--error"[^>]*>([^<]+)', body) + re.findall(
            r'role="alert"[^>]*>(.{0,300})', body
        )
        assert response.status_code == expect, (url, response.status_code, errors)
        return html_lib.unescape(response.get_data(as_text=True))

    def told(self, kind: str) -> tuple[list[Notification], list[OutboxMail]]:
        """The notifications in the user's centre and the mails queued for the user, of one kind."""
        user = self.user
        notes = db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        ).all()
        mails = db.session.scalars(
            select(OutboxMail).where(OutboxMail.recipient_id == user.id, OutboxMail.kind == kind)
        ).all()
        return notes, mails

    def sees(self, kind: str, *, mail: bool = True) -> OutboxMail | None:
        notes, mails = self.told(kind)
        assert notes, f"{self.email}: no notification {kind}"
        assert notes[-1].subject in self.get("/notifications")
        if mail:
            assert mails, f"{self.email}: no mail {kind}"
            assert "http://127.0.0.1:5000/" in mails[-1].text_body and mails[-1].html_body
            return mails[-1]
        return None


def test_porteur_instructeur_secretariat_and_member_walk_to_the_end(app, client, csrf, provider):
    cli = app.test_cli_runner()
    secretariat = Agent(app, provider, csrf, "secretariat")
    result = cli.invoke(args=["users", "add", secretariat.email, "--role", "secretariat"])
    assert result.exit_code == 0, result.output
    secretariat.login()
    porteur = Agent(app, provider, csrf, "porteur").login()
    instructeur = Agent(app, provider, csrf, "instructeur").login()
    president = Agent(app, provider, csrf, "president").login()
    member = Agent(app, provider, csrf, "membre").login()

    # secretariat: the FTAP-DINUM-OPI instructeur, the members of its deciding body (COPIL-SUITE), its next
    # meeting
    secretariat.post("/guichets/FTAP-DINUM-OPI/instructeurs", {"email": instructeur.email})
    assert instructeur.email in secretariat.get("/guichets/FTAP-DINUM-OPI")
    secretariat.post("/comites/COPIL-SUITE/membres", {"email": president.email, "function": "president"})
    secretariat.post("/comites/COPIL-SUITE/membres", {"email": member.email, "function": "membre"})
    until = (paris_today() + timedelta(days=70)).isoformat()
    secretariat.post("/comites/COPIL-SUITE/seances/generer", {"until": until})
    meeting = db.session.scalars(select(Meeting).join(Meeting.committee).order_by(Meeting.starts_at)).first()
    assert meeting is not None and meeting.committee.code == "COPIL-SUITE"

    # porteur: creates the dossier, fills it (section service), deposits it
    today = paris_today()
    porteur.post(
        "/dossiers/nouveau",
        {"guichet": "FTAP-DINUM-OPI", "title": "Suite collaborative", "start_year": str(today.year)},
    )
    dossier = db.session.scalar(select(Dossier).where(Dossier.title == "Suite collaborative"))
    fill_dossier(lambda u, d, files=None: porteur.post(u, d, files), porteur.get, dossier.id, porteur.user)
    page = f"/dossiers/{dossier.id}"
    assert "Confirmer le dépôt" in porteur.get(f"{page}/deposer")
    porteur.post(f"{page}/deposer", {"confirm": "oui"})

    # instructeur: instruction, avis, proposal to the committee
    instructeur.post(f"{page}/instruire")
    instructeur.post(f"{page}/avis", {"avis": "favorable", "motivation": "Projet solide et cofinancé."})
    assert "Proposer au COPIL-SUITE" in instructeur.get(page)
    instructeur.post(f"{page}/proposer", {"reason": "Prêt pour la séance."})
    secretariat.sees("dossier.proposed")
    porteur.sees("dossier.proposed")

    # secretariat: accepts the proposal in one click, publishes the agenda; the president runs the meeting
    builder = secretariat.get(f"/comites/seances/{meeting.id}")
    proposal = db.session.scalar(select(AgendaProposal).where(AgendaProposal.dossier_id == dossier.id))
    assert "Prêt pour la séance." in builder
    secretariat.post(f"/comites/seances/{meeting.id}/propositions/{proposal.id}/inscrire")
    secretariat.post(f"/comites/seances/{meeting.id}/publier")
    member.sees("committee.agenda_published", mail=False)
    president.post(f"/comites/seances/{meeting.id}/ouvrir")
    for agent in (president, member):
        president.post(
            f"/comites/seances/{meeting.id}/presence", {"user_id": agent.user.id, "status": "present"}
        )
    db.session.expire_all()
    item = meeting.items[0]
    fields = {
        "outcome": "accepte",
        "mode": "consensus",
        "motivation": "Projet utile à tous.",
        "amounts-0-year": str(today.year),
        "amounts-0-ae": "300000",
        "amounts-0-cp": "200000",
    }
    decision = {f"d{item.id}-{name}": value for name, value in fields.items()}
    president.post(f"/comites/seances/{meeting.id}/points/{item.id}/decision", decision)
    # minutes written, reviewed, published: only then may the contract be prepared
    db.session.expire_all()
    president.post(
        f"/comites/seances/{meeting.id}/proces-verbal",
        {"notes": "Séance tenue.", "version": str(meeting.minutes.version if meeting.minutes else 0)},
    )
    refused = secretariat.post(f"{page}/convention/preparer", expect=422)
    assert "publication du procès-verbal" in refused
    president.post(f"/comites/seances/{meeting.id}/proces-verbal/relire")
    president.post(f"/comites/seances/{meeting.id}/proces-verbal/publier")
    member.sees("committee.minutes_published", mail=False)

    # secretariat: contract, signature, follow-up started
    secretariat.post(f"{page}/convention/preparer")
    ready = porteur.sees("dossier.contract_ready")
    assert f"/dossiers/{dossier.id}/pdf" in ready.text_body
    signature = {"signed_on": today.isoformat(), "signatories": "La directrice ; le DINUM"}
    secretariat.post(f"{page}/convention/signature", signature, files={"signed_file": ("signee.pdf", PDF)})
    porteur.sees("dossier.contract_signed")
    instructeur.sees("dossier.contract_signed")
    assert "Signée le" in porteur.get(page)
    secretariat.post(f"{page}/convention/suivi")
    porteur.sees("followup.started")

    # porteur: reports from the follow-up page linked from the dossier page
    assert f"/dossiers/{dossier.id}/suivi" in porteur.get(page)
    suivi = f"{page}/suivi"
    jalon = dossier.jalons[0]
    porteur.post(
        f"{suivi}/jalon", {"jalon": jalon.id, "achieved_on": today.isoformat(), "proof": "PV de recette"}
    )
    instructeur.sees("followup.report_recorded")
    indicator = dossier.indicators[0]
    porteur.post(
        f"{suivi}/indicateur",
        {
            "indicator": indicator.id,
            "reported_on": today.isoformat(),
            "value": "12",
            "comment": "Premier relevé",
        },
    )
    # the yearly targets typed in the dossier ([001] §5.2) beside the value just reported, with a status
    page_suivi = porteur.get(suivi)
    targets = page_suivi.split(f'id="targets-{indicator.id}"')[1].split("</table>")[0]
    this_year = targets.split(f'id="target-{indicator.id}-{today.year}"')[1].split("</tr>")[0]
    assert "10 000" in this_year and "12" in this_year and "À venir" in this_year  # 12 < 10 000, year open
    assert f'id="target-{indicator.id}-{today.year + 2}"' in targets and "120 000" in targets
    porteur.post(f"{suivi}/consommation", {"year": str(today.year), "ae": "100000", "cp": "50000"})

    # instructeur: validates the jalon, questions the indicator
    report = db.session.scalar(select(JalonReport))
    instructeur.post(f"{suivi}/jalon/{report.id}/lecture", {f"jalon-{report.id}-verdict": "valide"})
    value = db.session.scalar(select(IndicatorValue))
    instructeur.post(
        f"{suivi}/indicateur/{value.id}/lecture",
        {f"indicateur-{value.id}-verdict": "questionne", f"indicateur-{value.id}-comment": "Source ?"},
    )
    mail = porteur.sees("followup.report_reviewed")
    assert "Source ?" in mail.text_body
    assert "Questionné" in porteur.get(suivi)

    # porteur: the second indicator reaches its target of the year (2 ministries): « Atteinte »
    second = dossier.indicators[1]
    porteur.post(
        f"{suivi}/indicateur",
        {"indicator": second.id, "reported_on": today.isoformat(), "value": "3 ministères", "comment": ""},
    )
    reached = porteur.get(suivi).split(f'id="target-{second.id}-{today.year}"')[1].split("</tr>")[0]
    assert "3 ministères" in reached and "Atteinte" in reached

    # committee member: reads the follow-up of the dossier decided by the committee
    assert "Suivi du dossier" in member.get(suivi)

    # secretariat: plans a tranche of the 300 000 € granted and releases it ([004] §6); porteur and
    # instructeur are told and read it
    quarter = str((today.month - 1) // 3 + 1)
    over = secretariat.post(
        f"{suivi}/tranches",
        {"planned_amount": "400000", "planned_year": str(today.year), "planned_quarter": quarter},
        expect=422,
    )
    assert "dépasseraient le montant accordé" in over
    secretariat.post(
        f"{suivi}/tranches",
        {"planned_amount": "200000", "planned_year": str(today.year), "planned_quarter": quarter},
    )
    tranche = db.session.scalar(select(Tranche).where(Tranche.dossier_id == dossier.id))
    prefix = f"tranche-{tranche.id}-deblocage-"
    secretariat.post(
        f"{suivi}/tranches/{tranche.id}/deblocage",
        {prefix + "amount": "180 000", prefix + "released_on": today.isoformat()},
    )
    porteur.sees("followup.tranche_moved")
    instructeur.sees("followup.tranche_moved")
    assert "débloqués le" in porteur.get(suivi) and "Débloquée" in instructeur.get(suivi)

    # secretariat: an avenant raising the amount and extending the project, signed ([000] §8)
    new_end = today + timedelta(days=800)
    secretariat.post(
        f"{suivi}/avenants",
        {"object": "Extension aux opérateurs", "new_amount": "350 000", "new_ends_on": new_end.isoformat()},
    )
    avenant = db.session.scalar(select(Avenant).where(Avenant.dossier_id == dossier.id))
    prefix = f"avenant-{avenant.id}-signature-"
    secretariat.post(
        f"{suivi}/avenants/{avenant.id}/signature",
        {prefix + "signed_on": today.isoformat()},
        files={prefix + "signed_file": ("avenant-signe.pdf", PDF)},
    )
    porteur.sees("followup.avenant_moved")
    db.session.expire_all()
    assert dossier.ends_on == new_end
    assert "Avenant n° 1 signé le" in porteur.get(page) and "Extension aux opérateurs" in porteur.get(page)
    assert "(avenant n° 1 signé le" in porteur.get(suivi)

    # secretariat: closes the follow-up with the final assessment
    secretariat.post(f"{suivi}/cloture", {"assessment": "Objectifs atteints.", "reason": ""})
    porteur.sees("followup.closed")
    instructeur.sees("followup.closed")
    db.session.expire_all()
    assert dossier.state == "clos"
    closed = member.get(suivi)
    assert "Bilan final : Objectifs atteints." in closed
    # the final assessment carries the yearly targets as they stood on the closing day
    assert "Cibles annuelles des indicateurs à la clôture : 1 cible atteinte, 5 à venir." in closed
