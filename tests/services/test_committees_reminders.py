"""The reminder kinds of committee meetings (app/services/committees_reminders.py): convocation J-7 with the
agenda and the ICS invitation, eve J-1, agenda missing J-10."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Reminder, Role
from app.services import reminders
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401
from tests.services.test_reminders import sent_to

SESSION_START = datetime(2027, 4, 15, 12, 0, tzinfo=UTC)  # Thursday 15 April 2027, 14:00 in Paris
J7 = datetime(2027, 4, 8, 7, 0, tzinfo=UTC)  # 9:00 in Paris (summer time)
J1 = datetime(2027, 4, 14, 7, 0, tzinfo=UTC)
J10 = datetime(2027, 4, 5, 7, 0, tzinfo=UTC)


@pytest.fixture
def committee_meeting(db_session, make_user, make_opportunity):
    from app.models import AgendaItem, Committee, Meeting, UserRole

    committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC"))
    people = {}
    for function, name in (("president", "Paule"), ("secretaire", "Sam"), ("membre", "Marc")):
        user = make_user(
            Role.PORTEUR, email=f"{name.lower()}@example.gouv.fr", given_name=name, usual_name="Comité"
        )
        user.roles.append(UserRole(role=Role.COMITE, committee_id=committee.id, function=function))
        people[function] = user
    porteur = make_user(
        Role.PORTEUR, email="porteur@example.gouv.fr", given_name="Pia", usual_name="Porteuse"
    )
    opportunity = make_opportunity(brique="Annuaire commun", created_by_id=porteur.id)
    meeting = Meeting(
        committee_id=committee.id,
        starts_at=SESSION_START,
        duration_minutes=120,
        place="Salle Ségur",
        visio_url="https://webconf.example.gouv.fr/csic",
    )
    db.session.add(meeting)
    meeting.items.append(
        AgendaItem(position=1, kind="opportunite", title="Annuaire commun", opportunity_id=opportunity.id)
    )
    db.session.commit()
    people["porteur"] = porteur
    return meeting, people


def test_meeting_agenda_missing_goes_to_the_secretary_at_j10(committee_meeting, inbox):
    meeting, people = committee_meeting
    reminders.reschedule_for(meeting)
    db.session.commit()
    report = reminders.send_due(J10)
    assert len(report.sent) == 1
    [message] = inbox.messages()
    assert "sam@example.gouv.fr" in message["To"]
    assert message["Subject"] == "Ordre du jour à publier : CSIC, séance du 15 avril 2027"
    assert f"https://mutualisation.example.gouv.fr/comites/seances/{meeting.id}" in body_text(message)


def test_meeting_published_agenda_cancels_the_j10_and_convokes_porteurs(committee_meeting, inbox):
    meeting, people = committee_meeting
    reminders.reschedule_for(meeting)
    meeting.state = "odj_publie"
    db.session.commit()
    # The service forgot to re-plan: the sweep sees the agenda is published and skips the J-10.
    assert reminders.send_due(J10).sent == [] and len(inbox) == 0
    reminders.reschedule_for(meeting)
    db.session.commit()
    report = reminders.send_due(J7)
    recipients = sorted(m["To"] for m in inbox.messages())
    assert len(report.sent) == 4 and recipients == sorted(
        [
            "Paule Comité <paule@example.gouv.fr>",
            "Sam Comité <sam@example.gouv.fr>",
            "Marc Comité <marc@example.gouv.fr>",
            "Pia Porteuse <porteur@example.gouv.fr>",
        ]
    )
    [convocation] = sent_to(inbox, "porteur@example.gouv.fr")
    assert convocation["Subject"] == "Convocation : CSIC, séance du 15 avril 2027 à 14:00"
    text = body_text(convocation)
    assert "en tant que porteur d'un point inscrit à l'ordre du jour" in text
    assert "Lieu : Salle Ségur" in text and "1. Annuaire commun" in text
    assert "https://webconf.example.gouv.fr/csic" in text
    [ics] = [part for part in convocation.iter_attachments() if part.get_content_type() == "text/calendar"]
    calendar = ics.get_content()
    calendar = calendar.decode() if isinstance(calendar, bytes) else calendar
    assert f"UID:seance-{meeting.id}@mutualisation-dsi" in calendar
    assert "DTSTART:20270415T120000Z" in calendar and "LOCATION:Salle Ségur" in calendar
    # J-1: the same four people, once.
    inbox.store.clear()
    assert len(reminders.send_due(J1).sent) == 4
    assert all(
        m["Subject"].startswith("Rappel : CSIC") and "demain" in body_text(m) for m in inbox.messages()
    )
    assert reminders.send_due(J1 + timedelta(hours=3)).sent == []


def test_moving_a_meeting_moves_its_reminders(committee_meeting, inbox):
    meeting, people = committee_meeting
    meeting.state = "odj_publie"
    reminders.reschedule_for(meeting)
    meeting.starts_at = SESSION_START + timedelta(days=7)
    reminders.reschedule_for(meeting)
    db.session.commit()
    assert reminders.send_due(J7).sent == [] and reminders.send_due(J1).sent == []
    assert len(reminders.send_due(J7 + timedelta(days=7)).sent) == 4
    [message] = sent_to(inbox, "paule@example.gouv.fr")
    assert "22 avril 2027" in message["Subject"]
    calendar = next(message.iter_attachments()).get_content()
    calendar = calendar.decode() if isinstance(calendar, bytes) else calendar
    assert "DTSTART:20270422T120000Z" in calendar


def test_cancelling_a_meeting_cancels_its_reminders(committee_meeting, inbox):
    meeting, people = committee_meeting
    meeting.state = "odj_publie"
    reminders.reschedule_for(meeting)
    meeting.state, meeting.cancel_reason = "annulee", "Report"
    reminders.cancel_for(meeting, "Séance annulée")
    db.session.commit()
    reminders.send_due(J1)
    assert len(inbox) == 0
    assert {
        r.status
        for r in db.session.scalars(
            select(Reminder).where(Reminder.object_id == meeting.id, Reminder.kind.like("session.%"))
        )
    } == {"cancelled"}


def test_meeting_reminders_after_downtime(committee_meeting, inbox):
    """Down from J-7 to the eve: the convocation (still useful) and the J-1 go once; after the meeting,
    nothing."""
    meeting, people = committee_meeting
    meeting.state = "odj_publie"
    reminders.reschedule_for(meeting)
    db.session.commit()
    report = reminders.send_due(J1 + timedelta(hours=2))
    assert len(report.sent) == 8  # convocation + eve, to the four of them
    inbox.store.clear()
    meeting.starts_at = SESSION_START + timedelta(days=30)
    reminders.reschedule_for(meeting)
    db.session.commit()
    report = reminders.send_due(SESSION_START + timedelta(days=31))  # down through the whole month
    assert report.sent == [] and len(report.skipped) == 8 and len(inbox) == 0


def test_replan_all_picks_up_new_members(committee_meeting, make_user, inbox):
    from app.models import UserRole

    meeting, people = committee_meeting
    reminders.replan_all(J10 - timedelta(days=5))
    newcomer = make_user(Role.PORTEUR, email="nouveau@example.gouv.fr")
    newcomer.roles.append(UserRole(role=Role.COMITE, committee_id=meeting.committee_id, function="membre"))
    db.session.commit()
    reminders.replan_all(J10 - timedelta(days=4))
    db.session.commit()
    reminders.send_due(J7)
    assert len(sent_to(inbox, "nouveau@example.gouv.fr")) == 1


def test_meeting_texts_say_dans_n_jours_demain_aujourdhui(committee_meeting, inbox, make_user):
    """« dans 10 jours », never « dans 1 jours » or « dans 0 jours », whatever offset the secretariat sets."""
    meeting, people = committee_meeting
    reminders.reschedule_for(meeting)
    db.session.commit()
    reminders.send_due(J10)
    [message] = inbox.messages()
    assert "a lieu dans 10 jours et son ordre du jour" in body_text(message)
    secretary = make_user(Role.SECRETARIAT)
    for offset, when, at in ((1, "demain", J1), (0, "aujourd'hui", SESSION_START - timedelta(hours=5))):
        inbox.store.clear()
        reminders.set_setting("session.agenda_missing", offset_days=offset, enabled=True, actor=secretary)
        reminders.reschedule_for(meeting)
        db.session.commit()
        reminders.send_due(at)
        [message] = [m for m in inbox.messages() if m["Subject"].startswith("Ordre du jour à publier")]
        assert f"a lieu {when} et son ordre du jour" in body_text(message)
        assert "1 jours" not in body_text(message) and "0 jours" not in body_text(message)
    meeting.state = "odj_publie"
    reminders.set_setting("session.eve", offset_days=2, enabled=True, actor=secretary)
    reminders.reschedule_for(meeting)
    db.session.commit()
    inbox.store.clear()
    reminders.send_due(J1 - timedelta(days=1))
    eve = [m for m in inbox.messages() if m["Subject"].startswith("Rappel")]
    assert len(eve) == 4 and all("a lieu dans 2 jours." in body_text(m) for m in eve)
