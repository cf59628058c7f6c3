"""Committee pages: access rules, forms (422 with French messages, input kept), htmx fragments, live meeting,
decisions, minutes and PDF, register verification, ICS feeds."""

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
import vobject
from icalendar import Calendar
from sqlalchemy import func, select

from app.extensions import db
from app.models import Decision, Meeting, Opportunity
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from app.services import minutes as minutes_service
from tests.factories import make_committee_meeting, make_committee_members

HX = {"HX-Request": "true"}


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.fixture
def secretariat(make_user):
    return make_user("secretariat")


@pytest.fixture
def board(db_session):
    committee, users = make_committee_members("CSIC-TECH")
    return committee, *users  # committee, president, secretary, m1, m2, guest


def post(client, csrf, url, data=None, headers=None):
    return client.post(url, data={"csrf_token": csrf(client), **(data or {})}, headers=headers or {})


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/comites")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_list_shows_every_committee_in_a_bounded_number_of_queries(client, login_as, make_user, queries):
    login_as(make_user("dsi", ministry="MI"))
    client.get("/comites")  # warm-up
    with queries() as statements:
        html = body(client.get("/comites"))
    assert "36 instances" in html and 'id="committee-CINUM"' in html
    assert len(statements) <= 8, statements


def test_committee_page_shows_rules_members_and_recurrence(client, login_as, board, make_user):
    login_as(make_user("dsi", ministry="MI"))
    html = body(client.get("/comites/CINUM"))
    assert "le premier mardi de chaque mois à 14:00 (heure de Paris)" in html
    html = body(client.get("/comites/csic-tech"))
    assert "Au moins la moitié des membres votants" in html and board[1].full_name in html
    assert "Modifier les règles" not in html
    assert client.get("/comites/NOPE").status_code == 404
    assert client.get("/comites/CINUM/regles").status_code == 403


def test_rules_form_keeps_input_and_explains_errors(client, csrf, login_as, secretariat):
    login_as(secretariat)
    response = post(
        client,
        csrf,
        "/comites/CINUM/regles",
        {
            "quorum_rule": "majorite",
            "majority_rule": "absolue",
            "recurrence": "tous les mardis",
            "recurrence_time": "14:00",
            "meeting_minutes": "90",
            "default_place": "Ségur",
        },
        headers=HX,
    )
    assert response.status_code == 422
    html = body(response)
    assert "Règle non reconnue" in html and 'value="tous les mardis"' in html and "<html" not in html
    response = post(
        client,
        csrf,
        "/comites/CINUM/regles",
        {
            "quorum_rule": "majorite",
            "majority_rule": "absolue",
            "recurrence": "FREQ=MONTHLY;BYDAY=2TH",
            "recurrence_time": "10:00",
            "meeting_minutes": "90",
            "default_place": "Ségur",
        },
    )
    assert response.status_code == 303
    assert "le deuxième jeudi de chaque mois à 10:00" in body(client.get("/comites/CINUM"))


def test_members_are_added_by_email_and_unknown_addresses_refused(
    client, csrf, login_as, secretariat, make_user
):
    login_as(secretariat)
    agent = make_user("dsi", email="agent.cinum@example.gouv.fr")
    response = post(
        client,
        csrf,
        "/comites/CINUM/membres",
        {"email": "inconnu@example.gouv.fr", "function": "membre"},
        headers=HX,
    )
    assert response.status_code == 422 and "il doit s'être connecté une fois" in body(response)
    response = post(
        client,
        csrf,
        "/comites/CINUM/membres",
        {"email": "Agent.CINUM@example.gouv.fr", "function": "president"},
    )
    assert response.status_code == 303
    html = body(client.get("/comites/CINUM"))
    assert agent.full_name in html and "Président" in html


def test_planning_a_meeting_with_a_bad_date_keeps_the_input(client, csrf, login_as, secretariat):
    login_as(secretariat)
    response = post(
        client,
        csrf,
        "/comites/CSIC-TECH/seances/nouvelle",
        {"starts_at": "mardi prochain", "duration_minutes": "120", "place": "Salle 1"},
    )
    assert response.status_code == 422
    html = body(response)
    assert "Date et heure attendues au format" in html and 'value="mardi prochain"' in html
    assert db.session.scalar(select(func.count(Meeting.id))) == 0
    response = post(
        client,
        csrf,
        "/comites/CSIC-TECH/seances/nouvelle",
        {"starts_at": "2027-01-12T14:00", "duration_minutes": "120", "place": "Salle 1"},
    )
    assert response.status_code == 303
    meeting = db.session.scalar(select(Meeting))
    assert meeting.starts_at == datetime(2027, 1, 12, 13, 0, tzinfo=UTC)
    assert "12 janvier 2027 à 14:00" in body(client.get(response.headers["Location"]))


def test_planned_meeting_is_hidden_from_non_members_until_its_agenda_is_published(
    client, csrf, login_as, board, secretariat, make_user, make_opportunity
):
    meeting = make_committee_meeting("CSIC-TECH")
    outsider = login_as(make_user("dsi", ministry="MI"))
    assert client.get(f"/comites/seances/{meeting.id}").status_code == 404
    login_as(board[3])  # a simple member sees it but cannot run it
    assert client.get(f"/comites/seances/{meeting.id}").status_code == 200
    assert post(client, csrf, f"/comites/seances/{meeting.id}/publier").status_code == 403
    login_as(secretariat)
    opportunity = make_opportunity(brique="Qualifiée", state="retenue_criblage")
    response = post(
        client,
        csrf,
        f"/comites/seances/{meeting.id}/points",
        {"kind": "opportunite", "opportunity": str(opportunity.id)},
        headers=HX,
    )
    assert response.status_code == 200
    assert body(response).lstrip().startswith('<section id="ordre-du-jour"') and opportunity.code in body(
        response
    )
    assert post(client, csrf, f"/comites/seances/{meeting.id}/publier").status_code == 303
    login_as(outsider)
    html = body(client.get(f"/comites/seances/{meeting.id}"))
    assert opportunity.code in html and "Ordre du jour publié" in html


def test_agenda_refuses_an_opportunity_at_the_wrong_stage_with_the_fragment(
    client, csrf, login_as, secretariat, make_opportunity
):
    login_as(secretariat)
    meeting = make_committee_meeting("CSIC-TECH")
    early = make_opportunity(brique="Trop tôt")
    response = post(
        client,
        csrf,
        f"/comites/seances/{meeting.id}/points",
        {"kind": "opportunite", "opportunity": str(early.id)},
        headers=HX,
    )
    assert response.status_code == 422
    html = body(response)
    assert html.lstrip().startswith('<section id="ordre-du-jour"')
    assert "ne décide que sur les opportunités au stade : retenue au criblage" in html
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]


# --- the agenda builder's search ---------------------------------------------------------------------------


def candidates(client, meeting, kind, query=""):
    name = "opportunity_search" if kind == "opportunites" else "dossier_search"
    return client.get(
        f"/comites/seances/{meeting.id}/candidats/{kind}", query_string={name: query}, headers=HX
    )


def radios(html: str, name: str) -> list[str]:
    """The labels of the radios `name` of a page or fragment, in order."""
    ids = re.findall(rf'<input[^>]*id="({name}-\d+)"[^>]*name="{name}"', html)
    return [re.search(rf'<label class="fr-label" for="{i}">([^<]*)</label>', html).group(1) for i in ids]


def test_agenda_search_finds_opportunities_by_code_and_by_words(
    client, login_as, secretariat, make_opportunity
):
    login_as(secretariat)
    meeting = make_committee_meeting("CSIC-TECH")  # decides on the opportunities retenues au criblage
    mail = make_opportunity(brique="Messagerie souveraine", state="retenue_criblage")
    directory = make_opportunity(brique="Annuaire des agents", besoin="Messagerie", state="retenue_criblage")
    make_opportunity(brique="Messagerie trop tôt")  # not at a stage the CSIC-Tech decides on
    response = candidates(client, meeting, "opportunites", "messageries")  # stems, any case
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    html = body(response)
    assert html.lstrip().startswith('<div id="opportunity-candidates" data-announce="2 opportunités pour')
    assert radios(html, "opportunity") == [
        f"{mail.code} — Messagerie souveraine (Retenue au criblage)",
        f"{directory.code} — Annuaire des agents (Retenue au criblage)",
    ]
    for typed in (directory.code, directory.code.lower(), str(directory.number)):
        assert radios(body(candidates(client, meeting, "opportunites", typed)), "opportunity") == [
            f"{directory.code} — Annuaire des agents (Retenue au criblage)"
        ], typed
    html = body(candidates(client, meeting, "opportunites", "cadastre"))
    assert radios(html, "opportunity") == []
    assert "Aucune opportunité ne correspond à « cadastre »." in html


def test_agenda_search_finds_dossiers_by_reference_and_title(client, login_as, secretariat, make_user):
    from tests.factories import make_instructed_dossier

    porteur = make_user("porteur")
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    commons = make_instructed_dossier(porteur, title="Communs numériques")
    other = make_instructed_dossier(porteur, title="Socle d'hébergement")
    make_instructed_dossier(porteur, guichet="SNAP1", title="Communs ailleurs")  # not decided here
    make_instructed_dossier(porteur, title="Communs déposés", state="depose", avis=None, avis_motivation=None)
    login_as(secretariat)
    html = body(candidates(client, meeting, "dossiers", "COMMUNS"))
    assert radios(html, "dossier") == [f"{commons.reference} — Communs numériques (Instruit)"]
    assert "1 dossier pour « COMMUNS »." in html
    html = body(candidates(client, meeting, "dossiers", other.reference))
    assert radios(html, "dossier") == [f"{other.reference} — Socle d'hébergement (Instruit)"]
    assert radios(body(candidates(client, meeting, "dossiers", "")), "dossier") == [
        f"{commons.reference} — Communs numériques (Instruit)",
        f"{other.reference} — Socle d'hébergement (Instruit)",
    ]


def test_agenda_search_shows_the_first_twenty_matches_and_how_many_there_are(
    client, login_as, secretariat, make_opportunity
):
    login_as(secretariat)
    meeting = make_committee_meeting("CSIC-TECH")
    made = [make_opportunity(brique=f"Brique {n}", state="retenue_criblage") for n in range(25)]
    html = body(candidates(client, meeting, "opportunites"))
    assert radios(html, "opportunity") == [f"{o.code} — {o.brique} (Retenue au criblage)" for o in made[:20]]
    assert "20 opportunités affichées sur 25 : précisez la recherche." in html
    page = body(client.get(f"/comites/seances/{meeting.id}"))  # no candidate read before a search
    assert radios(page, "opportunity") == [] and "une recherche vide affiche les premières" in page
    page = body(client.get(f"/comites/seances/{meeting.id}?opportunity_search="))  # without JavaScript
    assert radios(page, "opportunity") == radios(html, "opportunity")


def test_agenda_search_is_for_whoever_builds_the_agenda(
    client, login_as, board, secretariat, make_user, make_opportunity
):
    meeting = make_committee_meeting("CSIC-TECH")
    qualified = make_opportunity(brique="Qualifiée", state="retenue_criblage")
    login_as(make_user("dsi", ministry="MI"))  # the planned meeting is not shown to outsiders
    assert candidates(client, meeting, "opportunites").status_code == 404
    login_as(board[3])  # a simple member sees the agenda, not its builder
    assert candidates(client, meeting, "dossiers").status_code == 403
    assert 'id="opportunity_search"' not in body(client.get(f"/comites/seances/{meeting.id}"))
    login_as(board[2])  # the committee's secretary runs its meetings
    assert candidates(client, meeting, "opportunites").status_code == 200
    login_as(secretariat)
    meeting_service.add_item(meeting, kind="opportunite", opportunity=qualified, actor=secretariat)
    meeting_service.publish_agenda(meeting, actor=secretariat)
    db.session.commit()
    assert candidates(client, meeting, "opportunites").status_code == 403  # the agenda is published


def test_agenda_search_without_javascript_comes_back_with_the_page(client, login_as, secretariat):
    login_as(secretariat)
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    page = body(client.get(f"/comites/seances/{meeting.id}"))
    # each search is a GET form of its own; its field and button sit in the point's form
    assert (
        f'<form id="dossier_search-form" method="get" action="/comites/seances/{meeting.id}#ajouter-un-point"'
        in page
    )
    assert re.search(r'<input[^>]*form="dossier_search-form"[^>]*id="dossier_search"', page) or re.search(
        r'<input[^>]*id="dossier_search"[^>]*form="dossier_search-form"', page
    )
    assert 'type="submit" form="dossier_search-form">Rechercher les dossiers</button>' in page
    assert 'hx-trigger="submit, input changed delay:300ms from:#dossier_search"' in page
    html = body(client.get(f"/comites/seances/{meeting.id}?dossier_search=zzz"))
    assert 'value="zzz"' in html and "Aucun dossier ne correspond à « zzz »." in html
    assert re.search(
        r'<input[^>]*checked[^>]*name="kind"[^>]*value="dossier"|<input[^>]*name="kind"[^>]*value="dossier"[^>]*checked',
        html,
    )


def test_agenda_form_shown_again_keeps_the_picked_candidate_and_points_at_the_search(
    client, csrf, login_as, secretariat, make_opportunity
):
    login_as(secretariat)
    meeting = make_committee_meeting("CSIC-TECH")
    made = [make_opportunity(brique=f"Brique {n}", state="retenue_criblage") for n in range(22)]
    picked = made[-1]  # beyond the first twenty
    response = post(
        client,
        csrf,
        f"/comites/seances/{meeting.id}/points",
        {"kind": "opportunite", "opportunity": str(picked.id), "title": "x" * 301},
        headers=HX,
    )
    assert response.status_code == 422
    html = body(response)
    assert radios(html, "opportunity")[0] == f"{picked.code} — {picked.brique} (Retenue au criblage)"
    assert re.search(
        rf'<input[^>]*checked[^>]*value="{picked.id}"|<input[^>]*value="{picked.id}"[^>]*checked', html
    )
    empty = make_committee_meeting("COMITE-INVEST-FTAP")  # no dossier to offer: the message at the search
    response = post(client, csrf, f"/comites/seances/{empty.id}/points", {"kind": "dossier"}, headers=HX)
    assert response.status_code == 422
    html = body(response)
    assert '<a href="#dossier_search">' in html and 'id="dossier_search-messages"' in html


def test_a_document_is_joined_to_a_point_from_a_page_of_its_own(
    client, csrf, login_as, board, secretariat, make_opportunity
):
    meeting = make_committee_meeting("CSIC-TECH")
    qualified = make_opportunity(brique="Qualifiée", state="retenue_criblage")
    item = meeting_service.add_item(meeting, kind="opportunite", opportunity=qualified, actor=secretariat)
    db.session.commit()
    url = f"/comites/seances/{meeting.id}/points/{item.id}/documents"
    login_as(board[3])  # a simple member
    assert client.get(url).status_code == 403
    login_as(secretariat)
    page = body(client.get(f"/comites/seances/{meeting.id}"))
    assert (
        f'<a class="fr-link" href="{url}">Joindre un document<span class="fr-sr-only"> au point 1</span>'
        in page
    )
    assert f'action="/comites/seances/{meeting.id}/points/{item.id}/retirer"' in page
    html = body(client.get(url))
    assert "<h1>Joindre un document au point 1</h1>" in html and 'name="label"' in html
    response = post(client, csrf, url, {"label": "Note", "url": "ftp://ailleurs"})
    assert response.status_code == 422
    assert "L'adresse doit commencer par https://" in body(response) and 'value="Note"' in body(response)
    response = post(
        client, csrf, url, {"label": "Note de cadrage", "url": "https://exemple.gouv.fr/note.pdf"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/comites/seances/{meeting.id}#point-{item.id}")
    page = body(client.get(f"/comites/seances/{meeting.id}"))
    assert '<a href="https://exemple.gouv.fr/note.pdf" rel="noopener noreferrer">Note de cadrage</a>' in page


@pytest.fixture
def opened(board, secretariat, make_opportunity):
    meeting = make_committee_meeting("CSIC-TECH")
    opportunity = make_opportunity(brique="Qualifiée", state="retenue_criblage")
    item = meeting_service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=secretariat)
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    db.session.commit()
    return meeting, item, opportunity


def test_a_held_meeting_shows_each_points_decisions_in_as_many_statements_for_any_number_of_points(
    client, login_as, board, secretariat, make_opportunity, queries
):
    meeting = make_committee_meeting("CSIC-TECH")
    points = [
        meeting_service.add_item(
            meeting,
            kind="opportunite",
            opportunity=make_opportunity(brique=f"Qualifiée {n}", state="retenue_criblage"),
            actor=secretariat,
        )
        for n in range(4)
    ]
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    for member in (board[1], board[3]):
        meeting_service.record_attendance(meeting, user=member, status="present", actor=secretariat)
    decided = [
        decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
        for item in points[:2]
    ]
    db.session.commit()
    login_as(secretariat)
    url = f"/comites/seances/{meeting.id}"
    client.get(url)
    with queries() as few:
        html = body(client.get(url))
    assert all(f'id="decision-{d.id}"' in html for d in decided)
    for item in points[2:]:
        decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    db.session.commit()
    with queries() as more:
        html = body(client.get(url))
    assert html.count('<div class="fr-mb-2w" id="decision-') == 4
    assert len(more) == len(few)


def test_live_meeting_quorum_votes_and_decision(
    client, csrf, login_as, board, secretariat, opened, make_user
):
    committee, president, secretary, m1, m2, guest = board
    meeting, item, opportunity = opened
    login_as(secretariat)
    base = f"/comites/seances/{meeting.id}"
    html = body(client.get(f"{base}/direct"))
    assert "Quorum non atteint" in html and "0 / 2 requis" in html
    response = post(
        client, csrf, f"{base}/presence", {"user_id": president.id, "status": "present"}, headers=HX
    )
    assert response.status_code == 200
    fragment = body(response)
    assert fragment.lstrip().startswith('<div id="seance-direct">') and "1 / 2 requis" in fragment
    decision_url = f"{base}/points/{item.id}/decision"
    prefix = f"d{item.id}-"
    response = post(
        client, csrf, decision_url, {prefix + "outcome": "validee", prefix + "mode": "consensus"}, headers=HX
    )
    assert response.status_code == 422
    assert "Décision impossible : Quorum non atteint" in body(response)
    assert db.session.scalar(select(func.count(Decision.id))) == 0
    post(client, csrf, f"{base}/presence", {"user_id": m1.id, "status": "present"})
    post(client, csrf, f"{base}/presence", {"user_id": guest.id, "status": "present"})
    # an invité cannot vote, an outsider gets a 403
    response = post(
        client, csrf, f"{base}/points/{item.id}/votes", {"voter_id": guest.id, "choice": "pour"}, headers=HX
    )
    assert response.status_code == 422 and "sans voix délibérative" in body(response)
    for voter, choice in ((president, "pour"), (m1, "contre")):
        assert (
            post(
                client, csrf, f"{base}/points/{item.id}/votes", {"voter_id": voter.id, "choice": choice}
            ).status_code
            == 303
        )
    html = body(client.get(f"{base}/direct"))
    assert "voix prépondérante du président (pour) : adopté." in html
    response = post(
        client,
        csrf,
        decision_url,
        {prefix + "outcome": "validee", prefix + "mode": "vote", prefix + "motivation": "Sujet mûr."},
    )
    assert response.status_code == 303
    assert db.session.get(Opportunity, opportunity.id).state == "validee_csic_tech"
    login_as(make_user("dsi", ministry="MI"))
    assert (
        post(
            client, csrf, f"{base}/points/{item.id}/votes", {"voter_id": m1.id, "choice": "pour"}
        ).status_code
        == 403
    )
    trail = body(client.get(f"/opportunites/{opportunity.code}"))
    assert "Parcours en comités" in trail and "Validée (qualification approfondie)" in trail


def test_member_votes_for_themself_only(client, csrf, login_as, board, secretariat, opened):
    committee, president, secretary, m1, m2, guest = board
    meeting, item, _ = opened
    for user in (president, m1):
        meeting_service.record_attendance(meeting, user=user, status="present", actor=secretariat)
    db.session.commit()
    login_as(m1)
    base = f"/comites/seances/{meeting.id}/points/{item.id}/votes"
    assert post(client, csrf, base, {"voter_id": m1.id, "choice": "abstention"}).status_code == 303
    response = post(client, csrf, base, {"voter_id": president.id, "choice": "contre"}, headers=HX)
    assert response.status_code == 422 and "Vous ne pouvez voter que pour vous-même" in body(response)
    assert decision_service.tally(item) == {"pour": 0, "contre": 0, "abstention": 1}


def publish(meeting, secretariat):
    minutes_service.review(meeting, actor=secretariat)
    minutes_service.publish(meeting, actor=secretariat)
    db.session.commit()


def test_published_decision_cannot_be_edited_but_can_be_rectified(
    client, csrf, login_as, board, secretariat, opened
):
    meeting, item, _ = opened
    meeting_service.record_attendance(meeting, user=board[1], status="present", actor=secretariat)
    meeting_service.record_attendance(meeting, user=board[3], status="present", actor=secretariat)
    decision = decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    publish(meeting, secretariat)
    login_as(secretariat)
    prefix = f"d{item.id}-"
    response = post(
        client,
        csrf,
        f"/comites/decisions/{decision.id}/modifier",
        {prefix + "outcome": "validee", prefix + "mode": "consensus", prefix + "motivation": "Autre"},
    )
    assert response.status_code == 422
    assert "la décision ne se modifie plus" in body(response)
    response = post(
        client,
        csrf,
        f"/comites/decisions/{decision.id}/rectifier",
        {
            prefix + "outcome": "validee",
            prefix + "mode": "consensus",
            prefix + "motivation": "Erreur matérielle.",
        },
    )
    assert response.status_code == 303
    rectification = db.session.scalar(select(Decision).where(Decision.rectifies_id == decision.id))
    html = body(client.get(f"/comites/decisions/{decision.id}"))
    assert f"décision n° {rectification.id}" in html
    login_as(secretariat)
    assert post(client, csrf, "/comites/registre/verifier").status_code == 303
    assert "Registre intègre" in body(client.get("/comites/registre"))


def test_cli_generate_meetings_is_idempotent(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "committees",
            "generate-meetings",
            "--committee",
            "CINUM",
            "--until",
            (datetime.now(UTC) + timedelta(days=95)).date().isoformat(),
        ]
    )
    assert result.exit_code == 0 and re.search(r"CINUM : [34] séance\(s\) créée\(s\)", result.output)
    again = runner.invoke(
        args=[
            "committees",
            "generate-sessions",
            "--committee",
            "CINUM",
            "--until",
            (datetime.now(UTC) + timedelta(days=95)).date().isoformat(),
        ]
    )
    assert "CINUM : 0 séance(s) créée(s)" in again.output
    assert runner.invoke(args=["committees", "generate-meetings", "--committee", "NOPE"]).exit_code == 1


def test_ics_feeds_parse_and_the_token_can_be_regenerated(client, csrf, login_as, board, secretariat):
    committee, president, *_ = board
    meeting = make_committee_meeting(
        "CSIC-TECH",
        place="Salle Ségur",
        title="CSIC-Tech de janvier",
        starts_at=datetime(2027, 1, 12, 13, 0, tzinfo=UTC),
    )
    make_committee_meeting("CINUM")  # not one of the président's committees
    token = president.calendar_token
    response = client.get(f"/comites/agenda/{token}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = calendar.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["CSIC-Tech de janvier"]
    assert events[0].decoded("dtstart") == datetime(2027, 1, 12, 13, 0, tzinfo=UTC)
    assert str(events[0]["location"]) == "Salle Ségur"
    assert f"/comites/seances/{meeting.id}" in str(events[0]["url"])
    committee_feed = Calendar.from_ical(client.get(f"/comites/agenda/{token}/CSIC-TECH.ics").data)
    assert len(committee_feed.walk("VEVENT")) == 1
    assert client.get("/comites/agenda/not-a-valid-token-at-all-xxxxxxxxxxxxxxxxxxx.ics").status_code == 404
    login_as(president)
    assert token in body(client.get("/comites/agenda"))
    assert post(client, csrf, "/comites/agenda/regenerer").status_code == 303
    assert client.get(f"/comites/agenda/{token}.ics").status_code == 404
    db.session.expire_all()
    assert client.get(f"/comites/agenda/{president.calendar_token}.ics").status_code == 200


def test_cancelled_meeting_shows_in_the_feed_as_cancelled(client, csrf, login_as, board, secretariat):
    meeting = make_committee_meeting("CSIC-TECH")
    login_as(secretariat)
    response = post(client, csrf, f"/comites/seances/{meeting.id}/annuler", {"reason": ""}, headers=HX)
    assert response.status_code == 422 and "Indiquez le motif" in body(response)
    assert (
        post(client, csrf, f"/comites/seances/{meeting.id}/annuler", {"reason": "Grève"}).status_code == 303
    )
    events = Calendar.from_ical(client.get(f"/comites/agenda/{board[1].calendar_token}.ics").data).walk(
        "VEVENT"
    )
    assert str(events[0]["status"]) == "CANCELLED"


# --- dossiers and follow-up ----------------------------------------------------------------------------


def test_dossier_decision_form_rejects_bad_amounts_and_asks_confirmation(
    client, csrf, login_as, secretariat, make_user
):
    from tests.factories import make_instructed_dossier

    _, users = make_committee_members("COMITE-INVEST-FTAP", ("president", "membre"))
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    dossier = make_instructed_dossier(make_user("porteur"), requested_ae=100_000)
    login_as(secretariat)
    response = post(
        client, csrf, f"/comites/seances/{meeting.id}/points", {"kind": "dossier", "dossier": str(dossier.id)}
    )
    assert response.status_code == 303
    item = meeting.items[0]
    html = body(client.get(f"/comites/seances/{meeting.id}"))
    assert "Avis de l'instructeur : Favorable — Projet solide." in html
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    for user in users:
        meeting_service.record_attendance(meeting, user=user, status="present", actor=secretariat)
    db.session.commit()
    p = f"d{item.id}-"
    url = f"/comites/seances/{meeting.id}/points/{item.id}/decision"
    data = {
        p + "outcome": "accepte",
        p + "mode": "consensus",
        p + "amounts-0-year": "2027",
        p + "amounts-0-ae": "cent mille",
        p + "amounts-0-cp": "-3",
    }
    response = post(client, csrf, url, data, headers=HX)
    assert response.status_code == 422
    html = body(response)
    assert "Le montant AE doit être un nombre entier (en euros, sans décimales) : « cent mille »." in html
    assert "Le montant CP ne peut pas être négatif." in html and 'value="cent mille"' in html
    data.update({p + "amounts-0-ae": "120000", p + "amounts-0-cp": "120000"})
    response = post(client, csrf, url, data, headers=HX)
    assert response.status_code == 422 and "cochez la confirmation" in body(response)
    assert dossier.state == "inscrit_comite"
    data[p + "confirm_above_request"] = "y"
    assert post(client, csrf, url, data).status_code == 303
    db.session.expire_all()
    assert (dossier.state, dossier.decision_outcome) == ("decide", "accepte")


def test_dossier_page_shows_its_committee_trail(client, login_as, secretariat, make_user):
    from tests.factories import make_instructed_dossier

    _, users = make_committee_members("COMITE-INVEST-FTAP", ("president", "membre"))
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur)
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    item = meeting_service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    for user in users:
        meeting_service.record_attendance(meeting, user=user, status="present", actor=secretariat)
    decision_service.record_decision(
        item, outcome="refuse", mode="consensus", motivation="Hors critères du fonds.", actor=secretariat
    )
    db.session.commit()
    login_as(porteur)
    html = body(client.get(f"/dossiers/{dossier.id}/activite"))
    assert "Parcours en comités" in html and "Hors critères du fonds." in html
    assert "Comité d'investissement du FTAP" in html


def test_quorum_fragment_is_polled_while_the_meeting_is_open(client, login_as, board, secretariat, opened):
    meeting, item, _ = opened
    login_as(secretariat)
    html = body(client.get(f"/comites/seances/{meeting.id}/direct"))
    assert f'hx-get="/comites/seances/{meeting.id}/quorum" hx-trigger="every 15s"' in html
    meeting_service.record_attendance(meeting, user=board[1], status="present", actor=secretariat)
    meeting_service.record_attendance(meeting, user=board[3], status="present", actor=secretariat)
    db.session.commit()
    fragment = body(client.get(f"/comites/seances/{meeting.id}/quorum", headers=HX))
    assert fragment.lstrip().startswith('<div id="quorum-live"') and "Quorum atteint" in fragment


def test_feeds_read_by_a_second_library_carry_stamps_refresh_hints_and_the_committee(
    client, login_as, board, queries
):
    committee, president, *_ = board
    titled = make_committee_meeting("CSIC-TECH", title="Point d'étape cloud")
    make_committee_meeting("CSIC-TECH", starts_at=datetime(2027, 2, 9, 13, 0, tzinfo=UTC))
    url = f"/comites/agenda/{president.calendar_token}.ics"
    client.get(url)
    with queries() as few:
        text = client.get(url).get_data(as_text=True)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text and "X-PUBLISHED-TTL:PT1H\r\n" in text
    first = vobject.readOne(text)
    events = {e.uid.value: e for e in first.vevent_list}
    event = events[f"seance-{titled.id}@mutualisation-dsi"]
    assert event.summary.value == "CSIC-Tech — Point d'étape cloud"
    assert event.last_modified.value == titled.updated_at.replace(microsecond=0)
    stamp = event.dtstamp.value
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)  # generation time, not creation time
    for _ in range(5):
        make_committee_meeting("CSIC-TECH")
    with queries() as many:
        assert len(vobject.readOne(client.get(url).get_data(as_text=True)).vevent_list) == 7
    assert len(many) == len(few)
    login_as(president)
    page = body(client.get("/comites/agenda"))
    host = client.application.config["BASE_URL"].split("://", 1)[1].rstrip("/")
    assert f'href="webcal://{host}/comites/agenda/{president.calendar_token}.ics"' in page
