"""Concurrent identical submissions (a triple click, two tabs): three requests fired at once over HTTP at the
live server (threads, each its own connection and transaction) give one success and French messages for the
others, never a 500 and never a second row. On PostgreSQL (TEST_BACKEND=postgres) this is real row-level
concurrency; on SQLite the writers queue behind BEGIN IMMEDIATE."""

import html
import re
import threading

import pytest
import requests
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Decision, Opportunity, RegisterEntry, Role, User
from app.models.committees import ItemVote
from app.models.dossiers import Dossier, DossierTransition
from app.models.reminders import OutboxMail, Reminder
from app.services import meetings as meeting_service
from tests.factories import (
    complete_dossier,
    make_committee_meeting,
    make_committee_members,
    make_dossier,
    make_instructed_dossier,
    make_opportunity,
    make_user,
)

AT_ONCE = 3


def http_as(live_app, base_url: str, user_id: int) -> tuple[requests.Session, str]:
    """An HTTP session of the live server signed in as `user_id`, and a CSRF token of that session."""
    client = live_app.test_client()
    with client.session_transaction() as session_data:
        session_data["_user_id"] = str(user_id)
        session_data["_fresh"] = True
    name = live_app.config["SESSION_COOKIE_NAME"]
    http = requests.Session()
    http.cookies.set(name, client.get_cookie(name).value, domain="127.0.0.1", path="/")
    page = http.get(f"{base_url}/mentions-legales", timeout=30).text
    return http, re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def fire(http: requests.Session, url: str, data: dict) -> list[tuple[int, str]]:
    """POST `data` to `url` AT_ONCE times at the same instant; returns [(status, French text)]."""
    barrier = threading.Barrier(AT_ONCE)
    replies: list[tuple[int, str]] = []

    def post():
        barrier.wait()
        response = http.post(url, data=data, allow_redirects=False, timeout=60)
        replies.append((response.status_code, html.unescape(response.text)))

    threads = [threading.Thread(target=post) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert len(replies) == AT_ONCE
    return replies


def one_success(replies, message: str) -> None:
    statuses = sorted(status for status, _ in replies)
    assert all(status < 500 for status in statuses), replies
    assert statuses.count(303) == 1, statuses
    refused = [text for status, text in replies if status != 303]
    assert len(refused) == AT_ONCE - 1
    for text in refused:
        assert message in text or "vient d'être enregistrée par une autre demande" in text, text[:3000]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(autouse=True)
def no_mail_left(live_app):
    """The mails and reminders these meetings and dossiers plan are not for the other tests' sweeps."""
    with live_app.app_context():
        before = {
            model: db.session.scalar(select(func.max(model.id))) or 0 for model in (OutboxMail, Reminder)
        }
        db.session.remove()
    yield
    with live_app.app_context():
        for model, last in before.items():
            db.session.execute(delete(model).where(model.id > last))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def secretariat(live_app):
    with live_app.app_context():
        user_id = make_user(Role.SECRETARIAT).id
        db.session.remove()
    return user_id


def test_a_triple_click_on_refuse_records_one_decision_on_a_dossier(live_app, live_server, secretariat):
    with live_app.app_context():
        actor = db.session.get(User, secretariat)
        _, members = make_committee_members("COMITE-INVEST-FTAP", ("president", "membre", "membre"))
        meeting = make_committee_meeting("COMITE-INVEST-FTAP")
        dossier = make_instructed_dossier(make_user(Role.PORTEUR), title="Dossier du triple clic")
        item = meeting_service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=actor)
        meeting_service.publish_agenda(meeting, actor=actor)
        meeting_service.open_meeting(meeting, actor=actor)
        for member in members:
            meeting_service.record_attendance(meeting, user=member, status="present", actor=actor)
        db.session.commit()
        meeting_id, item_id, dossier_id = meeting.id, item.id, dossier.id
        register_before = count(RegisterEntry)
        db.session.remove()

    http, token = http_as(live_app, live_server, secretariat)
    prefix = f"d{item_id}-"
    replies = fire(
        http,
        f"{live_server}/comites/seances/{meeting_id}/points/{item_id}/decision",
        {
            "csrf_token": token,
            prefix + "outcome": "refuse",
            prefix + "mode": "consensus",
            prefix + "motivation": "Le besoin n'est pas démontré.",
        },
    )
    one_success(replies, "Une décision est déjà enregistrée sur ce point")
    with live_app.app_context():
        assert count(Decision, Decision.item_id == item_id) == 1
        assert count(RegisterEntry) == register_before + 1
        assert (
            count(
                DossierTransition,
                DossierTransition.dossier_id == dossier_id,
                DossierTransition.to_state == "decide",
            )
            == 1
        )
        assert db.session.get(Dossier, dossier_id).decision_outcome == "refuse"
        db.session.remove()
    assert live_app.test_cli_runner().invoke(args=["committees", "verify-register"]).exit_code == 0


def test_a_double_post_on_an_opportunity_item_is_one_decision_and_no_500(live_app, live_server, secretariat):
    with live_app.app_context():
        actor = db.session.get(User, secretariat)
        _, members = make_committee_members("CSIC-TECH", ("president", "membre", "membre"))
        meeting = make_committee_meeting("CSIC-TECH")
        opportunity = make_opportunity(brique="Qualifiée du double clic", state="retenue_criblage")
        item = meeting_service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=actor)
        meeting_service.publish_agenda(meeting, actor=actor)
        meeting_service.open_meeting(meeting, actor=actor)
        for member in members:
            meeting_service.record_attendance(meeting, user=member, status="present", actor=actor)
        db.session.commit()
        meeting_id, item_id, opportunity_id = meeting.id, item.id, opportunity.id
        db.session.remove()

    http, token = http_as(live_app, live_server, secretariat)
    prefix = f"d{item_id}-"
    replies = fire(
        http,
        f"{live_server}/comites/seances/{meeting_id}/points/{item_id}/decision",
        {"csrf_token": token, prefix + "outcome": "validee", prefix + "mode": "consensus"},
    )
    one_success(replies, "Une décision est déjà enregistrée sur ce point")
    with live_app.app_context():
        assert count(Decision, Decision.item_id == item_id) == 1
        assert db.session.get(Opportunity, opportunity_id).state == "validee_csic_tech"
        db.session.remove()


def test_the_same_vote_sent_three_times_is_one_row(live_app, live_server, secretariat):
    with live_app.app_context():
        actor = db.session.get(User, secretariat)
        _, members = make_committee_members("CSIC-TECH", ("president", "membre", "membre"))
        meeting = make_committee_meeting("CSIC-TECH")
        opportunity = make_opportunity(brique="Qualifiée du vote", state="retenue_criblage")
        item = meeting_service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=actor)
        meeting_service.publish_agenda(meeting, actor=actor)
        meeting_service.open_meeting(meeting, actor=actor)
        for member in members:
            meeting_service.record_attendance(meeting, user=member, status="present", actor=actor)
        db.session.commit()
        meeting_id, item_id, voter_id = meeting.id, item.id, members[1].id
        db.session.remove()

    http, token = http_as(live_app, live_server, voter_id)  # the member votes for themself
    replies = fire(
        http,
        f"{live_server}/comites/seances/{meeting_id}/points/{item_id}/votes",
        {"csrf_token": token, "voter_id": str(voter_id), "choice": "pour"},
    )
    one_success(replies, "est déjà enregistré sur ce point")
    with live_app.app_context():
        assert count(ItemVote, ItemVote.item_id == item_id) == 1
        db.session.remove()


def test_a_triple_click_on_deposit_deposits_once(live_app, live_server):
    with live_app.app_context():
        porteur = make_user(Role.PORTEUR)
        dossier = make_dossier(porteur, title="Dossier déposé trois fois")
        complete_dossier(dossier, porteur)
        db.session.commit()
        dossier_id, porteur_id = dossier.id, porteur.id
        db.session.remove()

    http, token = http_as(live_app, live_server, porteur_id)
    replies = fire(
        http, f"{live_server}/dossiers/{dossier_id}/deposer", {"csrf_token": token, "confirm": "oui"}
    )
    one_success(replies, "Ce dossier est déjà déposé")
    with live_app.app_context():
        moves = count(
            DossierTransition,
            DossierTransition.dossier_id == dossier_id,
            DossierTransition.to_state == "depose",
        )
        assert moves == 1
        assert db.session.get(Dossier, dossier_id).state == "depose"
        db.session.remove()


def test_the_same_contract_section_saved_three_times_at_once_names_who_saved(live_app, live_server):
    with live_app.app_context():
        porteur = make_user(Role.PORTEUR, given_name="Camille", usual_name="Martin")
        dossier = make_dossier(porteur, title="Contrat enregistré trois fois")
        dossier_id, porteur_id = dossier.id, porteur.id
        db.session.remove()

    http, token = http_as(live_app, live_server, porteur_id)
    replies = fire(
        http,
        f"{live_server}/dossiers/{dossier_id}/sections/enjeu",
        {"csrf_token": token, "version": "0", "enjeu": "Les agents n'ont pas d'outil souverain."},
    )
    one_success(replies, "Cette section a été enregistrée par Camille Martin le ")
    assert all(status == 409 for status, _ in replies if status != 303)
    with live_app.app_context():
        dossier = db.session.get(Dossier, dossier_id)
        assert dossier.section_version("enjeu") == 1 and dossier.enjeu.startswith("Les agents")
        db.session.remove()
