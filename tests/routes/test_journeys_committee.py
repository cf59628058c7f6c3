"""The committee member's and the secretariat's journeys, through HTTP only (ProConnect test provider logins,
accounts pre-registered with `flask users add`, a real SMTP catcher): nothing is written by a factory or a
service call. The dossier they handle is created, filled, deposited, instructed (with its selection grid)
and proposed to the committee by its porteur and instructeur through the pages' forms.
"""

import html
import re
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.formatting import paris, paris_today
from app.models import User
from app.models.base import utcnow
from tests.routes.journey_steps import PDF, fill_dossier
from tests.routes.test_auth import provider  # noqa: F401 - the fixture
from tests.routes.test_journeys import BASE, agents, centre, mails, one_mail, post  # noqa: F401
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401

COMMITTEE = "COPIL-SUITE"  # decides on FTAP-DINUM-OPI
COMMITTEE_NAME = "COPIL de la Suite numérique"


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return html.unescape(response.get_data(as_text=True))


def cast(agents):  # noqa: F811 - the imported fixture
    """Everybody of the journey, logged in; the committee's president and one member."""
    return {
        "secretariat": agents("secretariat@test.gouv.fr", "Camille Martin", ["--role", "secretariat"]),
        "instructeur": agents(
            "instructeur@test.gouv.fr",
            "Sacha Durand",
            ["--role", "instructeur", "--guichet", "FTAP-DINUM-OPI"],
        ),
        "presidente": agents(
            "presidente@test.gouv.fr",
            "Sophie Girard",
            ["--role", "comite", "--committee", COMMITTEE, "--function", "president"],
        ),
        "membre": agents(
            "membre@test.gouv.fr",
            "Marc Blanc",
            ["--role", "comite", "--committee", COMMITTEE, "--function", "membre"],
        ),
        "porteur": agents("porteur@test.gouv.fr", "Alex Petit"),
    }


def proposed_dossier(people, year: int) -> str:
    """The porteur deposits a dossier; the instructeur instructs it, scores the grid, proposes it: its URL."""
    porteur, instructeur = people["porteur"], people["instructeur"]
    response = post(
        porteur, "/dossiers/nouveau", {"guichet": "FTAP-DINUM-OPI", "title": "Suite", "start_year": str(year)}
    )
    url = response.headers["Location"].split("/etapes/")[0]  # created: the first step of the form
    dossier_id = int(url.rsplit("/", 1)[1])
    fill_dossier(
        lambda u, data, files=None: post(porteur, u, data, files),
        lambda u: porteur.get(u).get_data(as_text=True),
        dossier_id,
        _account("porteur@test.gouv.fr"),
    )
    post(porteur, f"{url}/deposer", {"confirm": "oui"})
    post(instructeur, f"{url}/instruire")
    scores = {
        f"grid-{rule}-score": "4" for rule in re.findall(r'name="grid-(\d+)-score"', page(instructeur, url))
    }
    assert scores, "the avis form shows the guichet's selection grid"
    post(instructeur, f"{url}/avis", {"avis": "favorable", "motivation": "Projet solide.", **scores})
    post(instructeur, f"{url}/proposer", {"reason": "Prêt pour la séance."})
    return url


def _account(email):
    return db.session.scalar(select(User).where(User.email == email))


def plan_meeting(secretariat, days: int = 7) -> str:
    starts = paris(utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")
    response = post(
        secretariat, f"/comites/{COMMITTEE}/seances/nouvelle", {"starts_at": starts, "duration_minutes": "90"}
    )
    return response.headers["Location"].split("#")[0]


def accept_proposal(secretariat, meeting_url: str) -> None:
    builder = page(secretariat, meeting_url)
    assert "Prêt pour la séance." in builder
    (accept,) = re.findall(r'action="([^"]*/propositions/\d+/inscrire)"', builder)
    post(secretariat, accept)


def item_id(client, meeting_url: str) -> int:
    return int(re.findall(r"/points/(\d+)/(?:decision|votes)", page(client, f"{meeting_url}/direct"))[0])


def user_id(email: str) -> str:
    return str(_account(email).id)


# --- the committee member ---------------------------------------------------------------------------------


def test_committee_member_is_told_the_agenda_reads_votes_and_sees_the_decision_and_the_pv(agents, inbox):  # noqa: F811
    people = cast(agents)
    member, secretariat = people["membre"], people["secretariat"]
    year = paris_today().year
    url = proposed_dossier(people, year)
    meeting_url = plan_meeting(secretariat)
    accept_proposal(secretariat, meeting_url)
    assert "Ordre du jour publié" not in centre(member)  # a draft agenda tells nobody
    post(secretariat, f"{meeting_url}/publier")

    # told of the agenda, in the app and by mail, with the link to the meeting
    assert "Ordre du jour publié" in centre(member)
    told = body_text(one_mail(inbox, "membre@test.gouv.fr", "Ordre du jour publié"))
    assert f"{BASE}{meeting_url}" in told

    # reads the dossier's documents and the instructeur's grid from the meeting page
    agenda = page(member, meeting_url)
    assert "Avis de l'instructeur : Favorable" in agenda and "Grille de sélection :" in agenda
    assert f'href="{url}/pdf"' in agenda
    pdf = member.get(f"{url}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert "Suite" in page(member, url)

    # attends (recorded by the secretariat) and votes for itself
    post(secretariat, f"{meeting_url}/ouvrir")
    for email in ("presidente@test.gouv.fr", "membre@test.gouv.fr"):
        post(secretariat, f"{meeting_url}/presence", {"user_id": user_id(email), "status": "present"})
    item = item_id(member, meeting_url)
    post(
        member,
        f"{meeting_url}/points/{item}/votes",
        {"voter_id": user_id("membre@test.gouv.fr"), "choice": "pour"},
    )
    post(
        people["presidente"],
        f"{meeting_url}/points/{item}/votes",
        {"voter_id": user_id("presidente@test.gouv.fr"), "choice": "pour"},
    )
    live = page(member, f"{meeting_url}/direct")
    assert "Marc Blanc" in live

    # the decision, by vote; the PV reviewed by the president and published
    fields = {"outcome": "accepte", "mode": "vote", "amounts-0-year": str(year)}
    fields |= {"amounts-0-ae": "300000", "amounts-0-cp": "200000"}
    post(secretariat, f"{meeting_url}/points/{item}/decision", {f"d{item}-{k}": v for k, v in fields.items()})
    minutes = f"{meeting_url}/proces-verbal"
    version = re.search(r'name="version"[^>]*value="(\d+)"', page(secretariat, minutes)).group(1)
    post(secretariat, minutes, {"notes": "Séance ouverte à 14 h.", "version": version})
    assert "Procès-verbal publié" not in centre(member)
    post(people["presidente"], f"{minutes}/relire")
    post(secretariat, f"{minutes}/publier")

    # sees the published PV and the decision in it
    assert "Procès-verbal publié" in centre(member)
    assert mails(inbox, "membre@test.gouv.fr", "Procès-verbal")
    pv = page(member, minutes)
    assert "Accepté" in pv and "Séance ouverte à 14 h." in pv


# --- the secretariat --------------------------------------------------------------------------------------


def test_secretariat_plans_decides_publishes_contracts_and_closes_the_follow_up(agents, inbox):  # noqa: F811
    people = cast(agents)
    secretariat, porteur = people["secretariat"], people["porteur"]
    today = paris_today()
    meeting_url = plan_meeting(secretariat)
    assert COMMITTEE_NAME in page(secretariat, meeting_url)
    url = proposed_dossier(people, today.year)

    # told of the avis and of the proposal; accepts it in one click, publishes the agenda
    assert "Projet solide." in body_text(one_mail(inbox, "secretariat@test.gouv.fr", "Avis favorable"))
    assert mails(inbox, "secretariat@test.gouv.fr", "propos")
    assert "propos" in centre(secretariat).lower()
    accept_proposal(secretariat, meeting_url)
    post(secretariat, f"{meeting_url}/publier")
    assert mails(inbox, "porteur@test.gouv.fr", "Ordre du jour publié")

    # runs the meeting and records the decision: nobody is told before the PV is published
    post(secretariat, f"{meeting_url}/ouvrir")
    for email in ("presidente@test.gouv.fr", "membre@test.gouv.fr"):
        post(secretariat, f"{meeting_url}/presence", {"user_id": user_id(email), "status": "present"})
    item = item_id(secretariat, meeting_url)
    fields = {"outcome": "accepte", "mode": "consensus", "amounts-0-year": str(today.year)}
    fields |= {"amounts-0-ae": "300000", "amounts-0-cp": "200000"}
    post(secretariat, f"{meeting_url}/points/{item}/decision", {f"d{item}-{k}": v for k, v in fields.items()})
    assert not mails(inbox, "porteur@test.gouv.fr", "Décision")
    minutes = f"{meeting_url}/proces-verbal"
    version = re.search(r'name="version"[^>]*value="(\d+)"', page(secretariat, minutes)).group(1)
    post(secretariat, minutes, {"notes": "Séance tenue.", "version": version})
    post(people["presidente"], f"{minutes}/relire")
    post(secretariat, f"{minutes}/publier")
    assert one_mail(inbox, "porteur@test.gouv.fr", f"Décision du {COMMITTEE_NAME}")

    # prepares the contract, records its signature, starts the follow-up
    assert "Préparer la convention" in page(secretariat, url)
    post(secretariat, f"{url}/convention/preparer")
    assert f"{BASE}{url}/pdf" in body_text(one_mail(inbox, "porteur@test.gouv.fr", "onvention"))
    signature = {"signed_on": today.isoformat(), "signatories": "La directrice ; le DINUM"}
    post(secretariat, f"{url}/convention/signature", signature, files={"signed_file": ("signee.pdf", PDF)})
    assert "Signée le" in page(secretariat, url)
    assert len(mails(inbox, "porteur@test.gouv.fr", "onvention")) == 2
    assert mails(inbox, "instructeur@test.gouv.fr", "convention signée")
    post(secretariat, f"{url}/convention/suivi")
    assert "Page de suivi" in page(secretariat, url)
    assert mails(inbox, "porteur@test.gouv.fr", "uivi")

    # closes the follow-up with the final assessment (the late jalon explained)
    data = {"assessment": "Objectifs atteints.", "reason": "Le jalon a glissé hors contrat."}
    post(secretariat, f"{url}/suivi/cloture", data)
    assert "Bilan final : Objectifs atteints." in page(secretariat, f"{url}/suivi")
    ref = re.search(r"D\d{4}", page(porteur, url)).group(0)
    assert f"{ref} : suivi clos" in centre(porteur)
    one_mail(inbox, "porteur@test.gouv.fr", f"{ref} : suivi clos")
    one_mail(inbox, "instructeur@test.gouv.fr", f"{ref} : suivi clos")
