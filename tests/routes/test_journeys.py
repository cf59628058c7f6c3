"""Whole journeys through HTTP only, as people walk them: each one logs in through the local ProConnect
test provider (a real process), acts through the pages' forms, and sees at each step the notifications of
its centre and the mails of a real SMTP server (aiosmtpd). No state is written by a factory: accounts are
pre-registered with `flask users add`, as in a deployment, and everything else is done by the users.
"""

import html
import re
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from app.extensions import db
from app.formatting import paris
from app.models import Dossier, Meeting, Opportunity, User
from app.models.base import utcnow
from tests.routes.journey_steps import fill_dossier
from tests.routes.test_auth import CLAIMS, login, new_agent, provider  # noqa: F401
from tests.services.test_mail import body_html, body_text, inbox_fixture, smtp_server_fixture  # noqa: F401

BASE = "http://127.0.0.1:5000"  # BASE_URL while the provider fixture is on


@pytest.fixture
def agents(app, client, csrf, inbox, provider):  # noqa: F811 - the imported fixtures
    """agent(email, name, *grants) → a logged-in test client of its own (grants: `users add` options)."""
    runner = app.test_cli_runner()

    def agent(email: str, name: str, *grants: list[str]):
        for grant in grants:
            result = runner.invoke(args=["users", "add", email, *grant])
            assert result.exit_code == 0, result.output
        given, usual = name.split(" ", 1)
        sub, _ = new_agent(
            provider, {**CLAIMS, "email": email, "given_name": given, "usual_name": usual, "uid": email}
        )
        client = app.test_client()
        response = login(client, csrf, sub)
        assert response.status_code in (302, 303), response.get_data(as_text=True)
        client.csrf = csrf(client)
        return client

    return agent


def post(client, url: str, data: dict | None = None, files: dict | None = None):
    payload = {**(data or {}), "csrf_token": client.csrf}
    for name, (filename, content) in (files or {}).items():
        payload[name] = (BytesIO(content), filename)
    response = client.post(url, data=payload, content_type="multipart/form-data")
    assert response.status_code in (200, 303), (
        url,
        response.status_code,
        re.findall(r"(?:fr-message--error|fr-alert__title)[^>]*>([^<]+)", response.get_data(as_text=True)),
    )
    return response


def centre(client) -> str:
    """What the user reads in the notification centre."""
    return html.unescape(client.get("/notifications").get_data(as_text=True))


def mails(inbox, address: str, subject: str) -> list:
    return [m for m in inbox.to(address) if subject in m["Subject"]]


def one_mail(inbox, address: str, subject: str):
    found = mails(inbox, address, subject)
    assert len(found) == 1, [m["Subject"] for m in inbox.to(address)]
    return found[0]


# --- the DSI member ---------------------------------------------------------------------------------------


def test_dsi_member_is_told_a_campaign_opened_votes_and_is_told_its_results(agents, inbox):
    secretariat = agents("secretariat@test.gouv.fr", "Camille Martin", ["--role", "secretariat"])
    dsi = agents("dsi@interieur.gouv.fr", "Dominique Bernard", ["--role", "dsi", "--ministry", "MI"])
    codes = list(db.session.scalars(select(Opportunity.code).order_by(Opportunity.number).limit(2)))
    ids = list(db.session.scalars(select(Opportunity.id).order_by(Opportunity.number).limit(2)))
    closes = paris(utcnow() + timedelta(days=10)).replace(second=0, microsecond=0)
    response = post(
        secretariat,
        "/campagnes/nouvelle",
        {
            "title": "Priorisation 2027",
            "opens_at": paris(utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": closes.strftime("%Y-%m-%dT%H:%M"),
            "visibility": "anonymous",
            "opportunities": [str(i) for i in ids],
        },
    )
    campaign_url = response.headers["Location"]
    assert "Priorisation 2027" not in centre(dsi)  # a draft tells nobody
    post(secretariat, f"{campaign_url}/etat", {"to": "ouverte"})

    # opened: the elector is told, in the app and by mail, with the closing date and the link to vote
    assert "Campagne de priorisation ouverte : Priorisation 2027" in centre(dsi)
    mail = one_mail(inbox, "dsi@interieur.gouv.fr", "Campagne de priorisation ouverte")
    text = body_text(mail)
    assert f"Clôture : {closes.day} " in text and f"Voter : {BASE}{campaign_url}" in text
    assert f'href="{BASE}{campaign_url}"' in body_html(mail)
    assert "2 opportunités" in text

    for code in codes:
        post(dsi, f"{campaign_url}/votes/{code}", {"value": "must"})
    post(secretariat, f"{campaign_url}/etat", {"to": "close"})
    assert not mails(inbox, "dsi@interieur.gouv.fr", "Résultats publiés")  # closed is not published
    post(secretariat, f"{campaign_url}/etat", {"to": "publiee"})

    assert "Résultats publiés : Priorisation 2027" in centre(dsi)
    mail = one_mail(inbox, "dsi@interieur.gouv.fr", "Résultats publiés : Priorisation 2027")
    assert f"{BASE}{campaign_url}/resultats" in body_text(mail)
    results = html.unescape(dsi.get(f"{campaign_url}/resultats").get_data(as_text=True))
    assert codes[0] in results
    assert not inbox.to("secretariat@test.gouv.fr")  # the secretariat is no elector


# --- the porteur and the instructeur, up to the decision at the PV's publication --------------------------


def test_porteur_and_instructeur_are_told_every_step_up_to_the_decision_at_the_pv(agents, inbox):
    secretariat = agents("secretariat@test.gouv.fr", "Camille Martin", ["--role", "secretariat"])
    instructeur = agents(
        "instructeur@test.gouv.fr", "Sacha Durand", ["--role", "instructeur", "--guichet", "FTAP-DINUM-OPI"]
    )
    president = agents(
        "presidente@test.gouv.fr",
        "Sophie Girard",
        ["--role", "comite", "--committee", "COPIL-SUITE", "--function", "president"],
    )
    agents(
        "membre@test.gouv.fr",
        "Marc Blanc",
        ["--role", "comite", "--committee", "COPIL-SUITE", "--function", "membre"],
    )
    porteur = agents("porteur@test.gouv.fr", "Alex Petit")  # first login: a porteur

    # the porteur creates the dossier and fills every section through the forms
    start = str(utcnow().year + 1)
    response = post(
        porteur,
        "/dossiers/nouveau",
        {"guichet": "FTAP-DINUM-OPI", "title": "Suite collaborative", "start_year": start},
    )
    landing = response.headers["Location"]
    assert landing.endswith("/etapes/projet")  # the porteur lands on the first step of the form
    url = landing.split("/etapes/")[0]
    dossier = db.session.scalar(select(Dossier).where(Dossier.title == "Suite collaborative"))
    account = db.session.scalar(select(User).where(User.email == "porteur@test.gouv.fr"))
    fill_dossier(
        lambda u, data, files=None: post(porteur, u, data, files),
        lambda u: porteur.get(u).get_data(as_text=True),
        dossier.id,
        account,
    )

    # « Déposer » shows the recap first; confirming deposits
    recap = html.unescape(porteur.get(f"{url}/deposer").get_data(as_text=True))
    assert "Confirmer le dépôt" in recap and "Complète" in recap
    assert not inbox.to("instructeur@test.gouv.fr")
    post(porteur, f"{url}/deposer", {"confirm": "oui"})
    ref = db.session.get(Dossier, dossier.id).reference
    assert f"Nouveau dossier déposé : {ref}" in centre(instructeur)
    assert f"{BASE}{url}" in body_text(one_mail(inbox, "instructeur@test.gouv.fr", "Nouveau dossier déposé"))
    assert f"Accusé de réception : dossier {ref}" in centre(porteur)
    receipt = one_mail(inbox, "porteur@test.gouv.fr", "Accusé de réception")
    assert "Date de dépôt :" in body_text(receipt)
    (pdf,) = list(receipt.iter_attachments())
    assert pdf.get_filename() == f"recepisse-{ref}.pdf" and pdf.get_content().startswith(b"%PDF")

    # taken into instruction, compléments requested (what and by when), answered
    post(instructeur, f"{url}/instruire")
    assert f"Votre dossier {ref} est en instruction" in centre(porteur)
    post(
        instructeur,
        f"{url}/complements",
        {"sections": ["gouvernance"], "reason": "incomplet", "message": "Précisez la fréquence du COPIL."},
    )
    asked = body_text(one_mail(inbox, "porteur@test.gouv.fr", "Compléments demandés"))
    assert "Précisez la fréquence du COPIL." in asked and "À apporter d'ici le :" in asked
    assert "Compléments demandés sur votre dossier" in centre(porteur)
    dossier = db.session.get(Dossier, dossier.id)
    post(
        porteur,
        f"{url}/sections/gouvernance",
        {"gouvernance": "COPIL mensuel.", "version": str(dossier.section_version("gouvernance"))},
    )
    post(porteur, f"{url}/deposer", {"confirm": "oui"})
    assert f"Compléments apportés : {ref}" in centre(instructeur)
    one_mail(inbox, "instructeur@test.gouv.fr", "Compléments apportés")

    # messages, each side
    post(instructeur, f"{url}/messages", {"body": "Le COPIL inclut-il la DITP ?"})
    assert "Le COPIL inclut-il la DITP ?" in body_text(
        one_mail(inbox, "porteur@test.gouv.fr", "Nouveau message")
    )
    post(porteur, f"{url}/messages", {"body": "Oui, dès la première séance."})
    assert "Oui, dès la première séance." in body_text(
        one_mail(inbox, "instructeur@test.gouv.fr", "Nouveau message")
    )

    # avis: the porteur is told the instruction ended, the secretariat the avis
    post(instructeur, f"{url}/avis", {"avis": "favorable", "motivation": "Projet solide et mutualisable."})
    assert f"Instruction terminée : dossier {ref}" in centre(porteur)
    assert "Projet solide et mutualisable." in body_text(
        one_mail(inbox, "secretariat@test.gouv.fr", "Avis favorable")
    )
    assert "Projet solide" not in body_text(one_mail(inbox, "porteur@test.gouv.fr", "Instruction terminée"))

    # the secretariat puts it on the COPIL-SUITE's agenda: the porteur is told
    starts = paris(utcnow() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    response = post(
        secretariat, "/comites/COPIL-SUITE/seances/nouvelle", {"starts_at": starts, "duration_minutes": "90"}
    )
    meeting_url = response.headers["Location"]
    meeting = db.session.get(Meeting, int(re.search(r"/seances/(\d+)", meeting_url).group(1)))
    post(secretariat, f"{meeting_url}/points", {"kind": "dossier", "dossier": str(dossier.id)})
    post(secretariat, f"{meeting_url}/publier")
    assert "Ordre du jour publié" in centre(porteur)
    assert mails(inbox, "porteur@test.gouv.fr", "Ordre du jour publié")

    # held, decided: nothing told yet — the decision can still change
    post(secretariat, f"{meeting_url}/ouvrir")
    for email in ("presidente@test.gouv.fr", "membre@test.gouv.fr"):
        member = db.session.scalar(select(User).where(User.email == email))
        post(secretariat, f"{meeting_url}/presence", {"user_id": str(member.id), "status": "present"})
    item = db.session.get(Meeting, meeting.id).items[0]
    p = f"d{item.id}-"
    post(
        secretariat,
        f"{meeting_url}/points/{item.id}/decision",
        {
            p + "outcome": "accepte_sous_conditions",
            p + "mode": "consensus",
            p + "conditions": "Ouvrir le code sous licence libre.",
            p + "amounts-0-year": start,
            p + "amounts-0-ae": "250000",
            p + "amounts-0-cp": "200000",
        },
    )
    assert "Décision du COPIL de la Suite numérique" not in centre(porteur) and not mails(
        inbox, "porteur@test.gouv.fr", "Décision"
    )

    # the PV is published: the porteur is told the decision, its amounts, its conditions, with a link
    minutes_url = f"{meeting_url}/proces-verbal"
    version = db.session.get(Meeting, meeting.id).minutes.version
    post(secretariat, minutes_url, {"notes": "Séance ouverte à 14 h.", "version": str(version)})
    post(president, f"{minutes_url}/relire")
    post(secretariat, f"{minutes_url}/publier")
    assert f"sur votre dossier {ref} : Accepté sous conditions" in centre(porteur)
    decision = one_mail(
        inbox, "porteur@test.gouv.fr", f"Décision du COPIL de la Suite numérique sur votre dossier {ref}"
    )
    text = body_text(decision)
    assert "Ouvrir le code sous licence libre." in text
    assert "250\u202f000\u00a0€ en AE, 200\u202f000\u00a0€ en CP" in text
    assert f"Voir le dossier : {BASE}{url}" in text and f"{BASE}{minutes_url}" in text
    assert "<td>250\u202f000\u00a0€</td>" in body_html(decision)
    assert "accepté sous conditions" in html.unescape(porteur.get(url).get_data(as_text=True))  # its state
    # the committee trail (below the sections, read when scrolled to) names the decision
    assert "Accepté sous conditions" in html.unescape(porteur.get(f"{url}/activite").get_data(as_text=True))
