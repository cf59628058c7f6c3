"""The reminder mechanism under a controlled clock, with a real SMTP server on 127.0.0.1.

A test kind ("test.echeance") reminds about an opportunity's made-up deadline, so the mechanism is tested
independently of the domains; each domain's kinds have their own tests below.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, Reminder, ReminderSetting, Role, User
from app.services import reminders
from app.services.errors import NotAllowed, ValidationFailed
from app.services.reminders import Planned, ReminderKind
from tests.services.test_mail import body_html, body_text, inbox_fixture, smtp_server_fixture  # noqa: F401

# Deadlines of the test kind: opportunity id → (deadline, [recipient ids]).
DEADLINES: dict[int, tuple[datetime, list[int]]] = {}
DEADLINE = datetime(2027, 3, 20, 14, 0, tzinfo=UTC)  # Saturday 20 March 2027, 15:00 in Paris


def _plan(opportunity, offset_days):
    entry = DEADLINES.get(opportunity.id)
    if entry is None:
        return []
    when, recipient_ids = entry
    return [
        Planned(db.session.get(User, uid), reminders.days_before(when, offset_days), when)
        for uid in recipient_ids
    ]


def _context(opportunity, recipient, reminder, now):
    when = DEADLINES[opportunity.id][0]
    url = reminders.mail.link("portfolio.show", code=opportunity.code)
    return dict(
        subject=f"Échéance de {opportunity.code}",
        user=recipient,
        url=url,
        body=f"{opportunity.brique} arrive à échéance.",
        summary=f"{opportunity.code} arrive à échéance.",
        deadline=when,
    )


TEST_KIND = ReminderKind(
    name="test.echeance",
    label="Échéance de test",
    model=lambda: __import__("app.models", fromlist=["x"]).Opportunity,
    template="notification",
    default_offset_days=3,
    offset_help="jours avant l'échéance",
    plan=_plan,
    context=_context,
    deadline=lambda opportunity: DEADLINES.get(opportunity.id, (None,))[0],
)


@pytest.fixture
def test_kind(app):
    reminders.register(TEST_KIND)
    yield TEST_KIND
    reminders.unregister(TEST_KIND.name)
    DEADLINES.clear()


@pytest.fixture
def planned(db_session, make_user, make_opportunity, test_kind):
    """An opportunity with a deadline and two recipients, reminders planned."""
    alice = make_user(Role.PORTEUR, email="alice@example.gouv.fr", given_name="Alice", usual_name="Martin")
    bob = make_user(Role.PORTEUR, email="bob@example.gouv.fr", given_name="Bob", usual_name="Durand")
    opportunity = make_opportunity(brique="Messagerie")
    DEADLINES[opportunity.id] = (DEADLINE, [alice.id, bob.id])
    reminders.reschedule_for(opportunity)
    db.session.commit()
    return opportunity, alice, bob


DUE = datetime(2027, 3, 17, 8, 0, tzinfo=UTC)  # J-3, 9:00 in Paris


def rows(opportunity, **filters):
    return db.session.scalars(
        select(Reminder)
        .filter_by(object_id=opportunity.id, **filters)
        .order_by(Reminder.recipient_id, Reminder.due_at)
    ).all()


def test_planning_creates_one_row_per_recipient_at_9_paris_time(planned):
    opportunity, alice, bob = planned
    found = rows(opportunity)
    assert [(r.recipient_id, r.due_at, r.status) for r in found] == [
        (alice.id, DUE, "pending"),
        (bob.id, DUE, "pending"),
    ]
    assert all(r.anchor_at == DEADLINE for r in found)
    reminders.reschedule_for(opportunity)  # idempotent
    assert len(rows(opportunity)) == 2


def test_fires_once_at_the_right_time_to_the_right_people(planned, inbox):
    opportunity, alice, bob = planned
    assert reminders.send_due(DUE - timedelta(minutes=1)).sent == []
    assert len(inbox) == 0
    report = reminders.send_due(DUE)
    assert len(report.sent) == 2
    [to_alice] = inbox.to("alice@example.gouv.fr")
    [to_bob] = inbox.to("bob@example.gouv.fr")
    assert to_alice["Subject"] == f"Échéance de {opportunity.code}"
    assert "Bonjour Alice Martin" in body_text(to_alice) and "Bonjour Bob Durand" in body_text(to_bob)
    link = f"https://mutualisation.example.gouv.fr/opportunites/{opportunity.code}"
    assert link in body_text(to_alice) and link in body_html(to_alice)
    assert all(r.status == "sent" and r.sent_at == DUE and r.emailed for r in rows(opportunity))
    # In the notification centre too, linked to the reminder.
    notification = db.session.scalar(select(Notification).where(Notification.user_id == alice.id))
    assert notification.subject == f"Échéance de {opportunity.code}" and notification.url == link
    # Later sweeps and re-planning never send it again.
    assert reminders.send_due(DUE + timedelta(hours=1)).sent == []
    reminders.reschedule_for(opportunity)
    db.session.commit()
    assert reminders.send_due(DUE + timedelta(hours=2)).sent == []
    assert len(inbox) == 2


def test_moving_the_deadline_moves_the_reminders(planned, inbox):
    opportunity, alice, bob = planned
    later = DEADLINE + timedelta(days=7)
    DEADLINES[opportunity.id] = (later, [alice.id, bob.id])
    reminders.reschedule_for(opportunity)
    db.session.commit()
    assert {r.status for r in rows(opportunity, due_date=DUE.date())} == {"cancelled"}
    new_due = DUE + timedelta(days=7)
    assert [r.due_at for r in rows(opportunity, status="pending")] == [new_due, new_due]
    assert reminders.send_due(DUE + timedelta(hours=1)).sent == []
    assert len(reminders.send_due(new_due).sent) == 2
    assert len(inbox) == 2
    # Moving it back revives the cancelled rows instead of violating the unique key.
    DEADLINES[opportunity.id] = (DEADLINE + timedelta(days=30), [alice.id])
    reminders.reschedule_for(opportunity)
    DEADLINES[opportunity.id] = (later, [alice.id])
    reminders.reschedule_for(opportunity)  # the sent ones stay sent: never twice
    db.session.commit()
    assert reminders.send_due(new_due + timedelta(hours=1)).sent == []


def test_moving_within_the_same_day_updates_the_time(planned):
    opportunity, alice, bob = planned
    DEADLINES[opportunity.id] = (DEADLINE + timedelta(hours=2), [alice.id, bob.id])
    reminders.reschedule_for(opportunity)
    assert {(r.status, r.anchor_at) for r in rows(opportunity)} == {
        ("pending", DEADLINE + timedelta(hours=2))
    }


def test_moved_the_same_day_without_replanning_is_still_sent_with_the_new_time(planned, inbox):
    opportunity, alice, bob = planned
    DEADLINES[opportunity.id] = (
        DEADLINE + timedelta(hours=3),
        [alice.id, bob.id],
    )  # same day, nobody re-plans
    assert len(reminders.send_due(DUE).sent) == 2 and len(inbox) == 2
    assert {r.anchor_at for r in rows(opportunity)} == {DEADLINE + timedelta(hours=3)}


def test_removed_recipient_is_cancelled_added_one_planned(planned, make_user):
    opportunity, alice, bob = planned
    carol = make_user(Role.PORTEUR, email="carol@example.gouv.fr")
    DEADLINES[opportunity.id] = (DEADLINE, [alice.id, carol.id])
    reminders.reschedule_for(opportunity)
    assert {(r.recipient_id, r.status) for r in rows(opportunity)} == {
        (alice.id, "pending"),
        (bob.id, "cancelled"),
        (carol.id, "pending"),
    }


def test_cancel_for_cancels_everything_pending(planned, inbox):
    opportunity, _, _ = planned
    assert reminders.cancel_for(opportunity, "Séance annulée") == 2
    db.session.commit()
    assert {(r.status, r.last_error) for r in rows(opportunity)} == {("cancelled", "Séance annulée")}
    assert reminders.send_due(DUE + timedelta(days=1)).sent == []
    assert len(inbox) == 0


def test_restart_after_downtime_sends_what_still_makes_sense_once(planned, inbox):
    opportunity, _, _ = planned
    # Down from J-3 to J-1: the reminder is late but the deadline has not passed: sent once on restart.
    report = reminders.send_due(DEADLINE - timedelta(days=1))
    assert len(report.sent) == 2 and len(inbox) == 2
    assert reminders.send_due(DEADLINE - timedelta(hours=20)).sent == []


def test_restart_after_the_deadline_skips_obsolete_reminders(planned, inbox):
    opportunity, _, _ = planned
    report = reminders.send_due(DEADLINE + timedelta(hours=1))
    assert report.sent == [] and len(report.skipped) == 2
    assert all(r.status == "skipped" and "Échéance dépassée" in r.last_error for r in rows(opportunity))
    assert len(inbox) == 0


def test_reminder_whose_plan_changed_unnoticed_is_skipped(planned, inbox):
    """A service forgot to call reschedule_for: the sweep re-checks the plan before sending."""
    opportunity, alice, bob = planned
    DEADLINES[opportunity.id] = (DEADLINE, [alice.id])
    report = reminders.send_due(DUE)
    assert len(report.sent) == 1 and len(report.skipped) == 1
    assert [m["To"] for m in inbox.messages()] == ["Alice Martin <alice@example.gouv.fr>"]


def test_smtp_failure_then_recovery(planned, inbox):
    opportunity, alice, bob = planned
    inbox.store.fail_data = "451 4.3.0 Serveur surchargé"
    report = reminders.send_due(DUE)
    assert len(report.retrying) == 2 and report.sent == []
    for row in rows(opportunity):
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, DUE + timedelta(minutes=1))
        assert "451" in row.last_error
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == alice.id)) == 0
    # Still failing: the backoff grows.
    assert len(reminders.send_due(DUE + timedelta(minutes=1)).retrying) == 2
    assert {r.next_attempt_at for r in rows(opportunity)} == {DUE + timedelta(minutes=6)}
    assert reminders.send_due(DUE + timedelta(minutes=3)).retrying == []  # waiting
    inbox.store.fail_data = None
    assert len(reminders.send_due(DUE + timedelta(minutes=6)).sent) == 2
    assert all(r.status == "sent" and r.attempts == 2 for r in rows(opportunity))
    assert len(inbox) == 2


def test_gives_up_after_max_attempts_and_reports(planned, inbox, make_user):
    opportunity, alice, bob = planned
    secretary = make_user(Role.SECRETARIAT, email="secretariat@example.gouv.fr")
    db.session.add(ReminderSetting(kind="test.echeance", offset_days=10, enabled=True))
    reminders.reschedule_for(opportunity)  # J-10: room for every retry before the deadline
    db.session.commit()
    inbox.store.fail_data = "451 4.3.0 Toujours indisponible"
    now = DUE - timedelta(days=7)
    for _ in range(reminders.mail.MAX_ATTEMPTS):
        reminders.send_due(now)
        now += timedelta(hours=13)  # past the longest backoff (12 h)
    active = [r for r in rows(opportunity) if r.status != "cancelled"]
    assert len(active) == 2
    assert all(r.status == "failed" and r.attempts == reminders.mail.MAX_ATTEMPTS for r in active)
    reports = db.session.scalars(select(Notification).where(Notification.user_id == secretary.id)).all()
    assert len(reports) == 2 and all("Courriel non distribué" in n.subject for n in reports)
    # The recipients still have it in the app.
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == alice.id)) == 1


def test_invalid_address_is_marked_and_reported_to_the_secretariat(planned, inbox, make_user):
    opportunity, alice, bob = planned
    secretary = make_user(Role.SECRETARIAT, email="secretariat@example.gouv.fr")
    inbox.store.refuse_recipients["bob@example.gouv.fr"] = "550 5.1.1 Boîte inconnue"
    report = reminders.send_due(DUE)
    assert len(report.sent) == 1 and len(report.failed) == 1
    [bob_row] = rows(opportunity, recipient_id=bob.id)
    assert bob_row.status == "failed" and "550" in bob_row.last_error and bob_row.attempts == 1
    [report_row] = db.session.scalars(select(Notification).where(Notification.user_id == secretary.id)).all()
    assert "bob@example.gouv.fr" in report_row.subject and "550" in report_row.body
    assert report_row.url.endswith("/admin/rappels#echecs")
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == bob.id)) == 1
    # Retried by the secretariat once the address is fixed.
    inbox.store.refuse_recipients.clear()
    reminders.retry(bob_row, actor=secretary, now=DUE + timedelta(minutes=5))
    db.session.commit()
    assert len(reminders.send_due(DUE + timedelta(minutes=5)).sent) == 1
    assert len(inbox.to("bob@example.gouv.fr")) == 1


def test_retry_is_for_the_secretariat_only(planned):
    opportunity, alice, _ = planned
    with pytest.raises(NotAllowed):
        reminders.retry(rows(opportunity)[0], actor=alice)


def test_email_turned_off_sends_in_app_only(planned, inbox):
    opportunity, alice, bob = planned
    reminders.notifications.set_preferences(alice, {"test.echeance": False}, actor=alice)
    db.session.commit()
    reminders.send_due(DUE)
    assert [m["To"] for m in inbox.messages()] == ["Bob Durand <bob@example.gouv.fr>"]
    [alice_row] = rows(opportunity, recipient_id=alice.id)
    assert alice_row.status == "sent" and not alice_row.emailed
    assert reminders.notifications.unread_count(alice) == 1


def test_mandatory_kind_ignores_the_preference(planned, inbox, test_kind):
    opportunity, alice, bob = planned
    reminders.notifications.set_preferences(alice, {"test.echeance": False}, actor=alice)
    test_kind.mandatory = True
    reminders.notifications.declare_kind(test_kind.name, test_kind.label, mandatory=True)
    try:
        reminders.send_due(DUE)
        assert len(inbox.to("alice@example.gouv.fr")) == 1
    finally:
        test_kind.mandatory = False


def test_offset_change_by_the_secretariat_recomputes(planned, make_user):
    opportunity, alice, bob = planned
    secretary = make_user(Role.SECRETARIAT)
    reminders.set_setting("test.echeance", offset_days="7", enabled=True, actor=secretary)
    assert {r.due_at for r in rows(opportunity, status="pending")} == {DUE - timedelta(days=4)}
    assert db.session.get(ReminderSetting, "test.echeance").offset_days == 7
    reminders.set_setting("test.echeance", offset_days="7", enabled=False, actor=secretary)
    assert rows(opportunity, status="pending") == []
    with pytest.raises(ValidationFailed) as error:
        reminders.set_setting("test.echeance", offset_days="-1", enabled=True, actor=secretary)
    assert "entre 0 et 365" in error.value.errors["offset_test.echeance"]
    with pytest.raises(NotAllowed):
        reminders.set_setting("test.echeance", offset_days="2", enabled=True, actor=alice)


def test_disabled_kind_skips_already_planned_rows(planned, make_user, inbox):
    opportunity, _, _ = planned
    db.session.add(ReminderSetting(kind="test.echeance", offset_days=3, enabled=False))
    db.session.commit()
    report = reminders.send_due(DUE)
    assert report.sent == [] and len(report.skipped) == 2 and len(inbox) == 0


def test_deleted_object_or_inactive_recipient_is_skipped(planned, inbox):
    opportunity, alice, bob = planned
    bob.active = False
    db.session.commit()
    report = reminders.send_due(DUE)
    assert len(report.sent) == 1
    [bob_row] = rows(opportunity, recipient_id=bob.id)
    assert bob_row.status == "skipped" and bob_row.last_error == "Destinataire désactivé."


# --- committee meetings -------------------------------------------------------------------------------------

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


def sent_to(inbox, address):
    return [m for m in inbox.messages() if address in m["To"]]


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


# --- voting campaigns ---------------------------------------------------------------------------------------


def test_campaign_closing_reminds_electors_who_have_not_voted_on_everything(
    db_session, make_user, make_opportunity, inbox
):
    from app.models import Campaign, Organisation, Vote

    ministry = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    done = make_user(Role.DSI, ministry="MI", email="fini@example.gouv.fr")
    half = make_user(Role.DSI, ministry="MI", email="moitie@example.gouv.fr")
    none = make_user(Role.DSI, ministry="MI", email="rien@example.gouv.fr")
    other = make_user(Role.DSI, ministry="MEF", email="autre-ministere@example.gouv.fr")
    first, second = make_opportunity(brique="Un"), make_opportunity(brique="Deux")
    closes = datetime(2027, 5, 20, 16, 0, tzinfo=UTC)
    campaign = Campaign(
        title="Priorisation 2027",
        state="ouverte",
        opens_at=closes - timedelta(days=20),
        closes_at=closes,
        opened_at=closes - timedelta(days=20),
    )
    campaign.opportunities = [first, second]
    campaign.ministries = [ministry]
    db.session.add(campaign)
    db.session.flush()
    for voter, opportunities in ((done, [first, second]), (half, [first])):
        for opportunity in opportunities:
            db.session.add(
                Vote(
                    campaign_id=campaign.id,
                    voter_id=voter.id,
                    opportunity_id=opportunity.id,
                    organisation_id=ministry.id,
                    value="must",
                )
            )
    reminders.reschedule_for(campaign)
    db.session.commit()
    j3 = datetime(2027, 5, 17, 7, 0, tzinfo=UTC)
    assert reminders.send_due(j3 - timedelta(minutes=1)).sent == []
    # Between planning and sending, "rien" votes on everything: not reminded.
    for opportunity in (first, second):
        db.session.add(
            Vote(
                campaign_id=campaign.id,
                voter_id=none.id,
                opportunity_id=opportunity.id,
                organisation_id=ministry.id,
                value="could",
            )
        )
    db.session.commit()
    report = reminders.send_due(j3)
    assert len(report.sent) == 1 and len(report.skipped) == 1
    [message] = inbox.messages()
    assert "moitie@example.gouv.fr" in message["To"]
    assert (
        message["Subject"]
        == "Campagne « Priorisation 2027 » : clôture le 20 mai 2027, 1 opportunité à classer"
    )
    assert "Il vous reste 1 opportunité à classer" in body_text(message)
    assert f"https://mutualisation.example.gouv.fr/campagnes/{campaign.id}" in body_text(message)
    assert not sent_to(inbox, other.email) and not sent_to(inbox, "fini@example.gouv.fr")
    # Closed campaign: any reminder left is obsolete.
    assert reminders.send_due(closes + timedelta(minutes=1)).sent == []


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


# --- guichets and dossiers ----------------------------------------------------------------------------------


@pytest.fixture
def call_for_projects(db_session):
    from app.models import Guichet

    guichet = Guichet(
        code="AAP-RAPPELS",
        name="Appel à projets de test",
        mode="appel_a_projets",
        opens_at=datetime(2027, 1, 4, 8, 0, tzinfo=UTC),
        closes_at=datetime(2027, 6, 30, 15, 0, tzinfo=UTC),
    )
    db.session.add(guichet)
    db.session.commit()
    return guichet


def make_dossier(guichet, porteur, state="brouillon", **kw):
    from app.models import Dossier

    extra = {}
    if state != "brouillon":
        extra["submitted_at"] = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    if state in ("conventionne", "en_suivi"):
        extra.update(avis="favorable", avis_motivation="Bon dossier", decision_outcome="accepte")
    dossier = Dossier(
        guichet_id=guichet.id,
        created_by_id=porteur.id,
        title=kw.pop("title", "Dossier de test"),
        start_year=2027,
        state=state,
        **extra,
        **kw,
    )
    db.session.add(dossier)
    db.session.commit()
    return dossier


def test_call_for_projects_closing_reminds_porteurs_with_a_draft(call_for_projects, make_user, inbox):
    drafter = make_user(Role.PORTEUR, email="brouillon@example.gouv.fr")
    submitter = make_user(Role.PORTEUR, email="depose@example.gouv.fr")
    draft = make_dossier(call_for_projects, drafter, title="Mon brouillon")
    make_dossier(call_for_projects, submitter, state="depose")
    reminders.reschedule_for(call_for_projects)
    db.session.commit()
    j7 = datetime(2027, 6, 23, 7, 0, tzinfo=UTC)
    assert reminders.send_due(j7 - timedelta(minutes=1)).sent == []
    assert len(reminders.send_due(j7).sent) == 1
    [message] = inbox.messages()
    assert "brouillon@example.gouv.fr" in message["To"]
    assert message["Subject"] == (
        "Appel à projets AAP-RAPPELS : clôture le 30 juin 2027 à 17:00, votre dossier n'est pas déposé"
    )
    assert f"D{draft.id:04d} « Mon brouillon »" in body_text(message)
    assert f"https://mutualisation.example.gouv.fr/dossiers/{draft.id}" in body_text(message)


def test_call_for_projects_draft_submitted_meanwhile_is_not_reminded(call_for_projects, make_user, inbox):
    drafter = make_user(Role.PORTEUR, email="brouillon2@example.gouv.fr")
    draft = make_dossier(call_for_projects, drafter)
    reminders.reschedule_for(call_for_projects)
    draft.state, draft.submitted_at = "depose", datetime(2027, 6, 20, tzinfo=UTC)
    db.session.commit()
    report = reminders.send_due(datetime(2027, 6, 23, 7, 0, tzinfo=UTC))
    assert report.sent == [] and len(report.skipped) == 1 and len(inbox) == 0


def test_complements_unanswered_after_7_days_to_porteur_with_copy_to_instructor(
    call_for_projects, make_user, inbox
):
    from app.models import ComplementRequest

    porteur = make_user(
        Role.PORTEUR, email="porteur.dossier@example.gouv.fr", given_name="Paul", usual_name="Porteur"
    )
    instructor = make_user(
        Role.INSTRUCTEUR, email="instructrice@example.gouv.fr", given_name="Inès", usual_name="Instructrice"
    )
    dossier = make_dossier(
        call_for_projects, porteur, state="complements_demandes", title="Cloud interministériel"
    )
    asked = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    db.session.add(
        ComplementRequest(
            dossier_id=dossier.id,
            sections="financement",
            reason="incomplet",
            message="Détaillez le plan de financement.",
            requested_by_id=instructor.id,
            created_at=asked,
        )
    )
    db.session.commit()
    db.session.refresh(dossier)
    reminders.reschedule_for(dossier)
    db.session.commit()
    due = datetime(2027, 3, 8, 8, 0, tzinfo=UTC)  # 7 days later, 9:00 in Paris
    assert reminders.send_due(due - timedelta(minutes=1)).sent == []
    assert len(reminders.send_due(due).sent) == 2
    [to_porteur] = sent_to(inbox, "porteur.dossier@example.gouv.fr")
    [to_instructor] = sent_to(inbox, "instructrice@example.gouv.fr")
    assert to_porteur["Subject"] == f"D{dossier.id:04d}, compléments demandés sans réponse depuis 7 jours"
    assert to_instructor["Subject"].startswith("Copie : ")
    assert "Détaillez le plan de financement." in body_text(to_porteur)
    assert "Motif : Incomplet" in body_text(to_porteur)


def test_complements_answered_before_the_reminder_are_not_reminded(call_for_projects, make_user, inbox):
    from app.models import ComplementRequest

    porteur = make_user(Role.PORTEUR, email="rapide@example.gouv.fr")
    dossier = make_dossier(call_for_projects, porteur, state="complements_demandes")
    request = ComplementRequest(
        dossier_id=dossier.id,
        sections="financement",
        reason="incomplet",
        message="…",
        created_at=datetime(2027, 3, 1, 10, 0, tzinfo=UTC),
    )
    db.session.add(request)
    db.session.commit()
    db.session.refresh(dossier)
    reminders.reschedule_for(dossier)
    request.answered_at, dossier.state = datetime(2027, 3, 4, tzinfo=UTC), "depose"
    reminders.reschedule_for(dossier)
    db.session.commit()
    assert reminders.send_due(datetime(2027, 3, 9, tzinfo=UTC)).sent == [] and len(inbox) == 0


@pytest.fixture
def signed_dossier(call_for_projects, make_user):
    from app.models import DossierIndicator, DossierTransition, Jalon

    porteur = make_user(Role.PORTEUR, email="suivi@example.gouv.fr", given_name="Sol", usual_name="Suivi")
    dossier = make_dossier(call_for_projects, porteur, state="conventionne", title="Plateforme de suivi")
    dossier.jalons = [
        Jalon(
            number=1, due_on=datetime(2027, 9, 15).date(), description="Marché notifié", is_procurement=True
        ),
        Jalon(number=2, due_on=datetime(2027, 9, 15).date(), description="Kick-off"),
        Jalon(number=3, due_on=datetime(2028, 1, 10).date(), description="Mise en production"),
    ]
    dossier.indicators = [
        DossierIndicator(
            position=1,
            objective="Usage",
            indicator="Utilisateurs actifs",
            frequency="Trimestrielle",
            target_value="5 000",
        ),
        DossierIndicator(position=2, objective="Coût", indicator="Coût par dossier", frequency="annuelle"),
    ]
    db.session.add(
        DossierTransition(
            dossier_id=dossier.id,
            from_state="decide",
            to_state="conventionne",
            created_at=datetime(2027, 4, 1, 10, 0, tzinfo=UTC),
        )
    )
    db.session.commit()
    return dossier


def kinds_of(ids) -> list[str]:
    return sorted(db.session.scalars(select(Reminder.kind).where(Reminder.id.in_(ids))))


def test_jalons_due_and_overdue(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2027, 8, 31, 7, 0, tzinfo=UTC)  # 15 days before 15 September, 9:00 in Paris
    assert kinds_of(reminders.send_due(due - timedelta(minutes=1)).sent) == ["dossier.credits"]  # 29 August
    inbox.store.clear()
    assert kinds_of(reminders.send_due(due).sent) == ["jalon.due"]  # the two jalons of that day share one
    [message] = inbox.messages()
    assert message["Subject"] == f"D{signed_dossier.id:04d} : jalon à échéance le 15 septembre 2027"
    text = body_text(message)
    assert "Jalon n° 1 (marché public) : Marché notifié" in text and "Jalon n° 2 : Kick-off" in text
    assert "Mise en production" not in text
    inbox.store.clear()
    sent = reminders.send_due(datetime(2027, 9, 16, 7, 0, tzinfo=UTC)).sent
    assert kinds_of(sent) == ["dossier.indicators", "jalon.overdue"]  # the indicators of 1 October too
    [overdue] = [m for m in inbox.messages() if "jalon" in m["Subject"]]
    assert overdue["Subject"] == f"D{signed_dossier.id:04d} : jalon échu le 15 septembre 2027"


def test_jalon_reminder_after_its_date_is_skipped(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    report = reminders.send_due(datetime(2027, 9, 16, 8, 0, tzinfo=UTC))  # down from J-15 to the day after
    assert kinds_of(report.sent) == ["dossier.credits", "dossier.indicators", "jalon.overdue"]  # 1 Oct
    assert kinds_of(report.skipped) == ["dossier.indicators", "jalon.due"]  # 1 July and 15 Sept have passed


def test_indicator_reporting_follows_each_frequency(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    # Quarterly from the 1 April 2027 signature: 1 July 2027, reminded 15 days before.
    assert len(reminders.send_due(datetime(2027, 6, 16, 7, 0, tzinfo=UTC)).sent) == 1
    [message] = inbox.messages()
    assert message["Subject"] == f"D{signed_dossier.id:04d} : indicateurs à transmettre pour le 1/07/2027"
    assert "Utilisateurs actifs (Trimestrielle)" in body_text(message)
    assert "Coût par dossier" not in body_text(message)
    inbox.store.clear()
    # 1 April 2028: both the quarterly and the yearly indicator, in one reminder.
    reminders.send_due(datetime(2028, 3, 17, 8, 0, tzinfo=UTC))  # 9:00 in Paris, winter time
    [yearly] = [m for m in inbox.messages() if "1/04/2028" in m["Subject"]]
    assert "Utilisateurs actifs" in body_text(yearly) and "Coût par dossier" in body_text(yearly)


def test_periodic_kinds_do_not_flood_past_dates(signed_dossier, inbox):
    """Planned late (the dossier was signed long ago): only future dates get reminders."""
    reminders.reschedule_for(signed_dossier, now=datetime(2028, 2, 1, tzinfo=UTC))
    db.session.commit()
    report = reminders.send_due(datetime(2028, 2, 1, 1, 0, tzinfo=UTC))
    assert report.sent == [] and len(inbox) == 0


def test_credits_reminder_five_months_after_signature(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2027, 8, 29, 7, 0, tzinfo=UTC)  # 150 days after 1 April, 9:00 in Paris
    assert "dossier.credits" not in kinds_of(reminders.send_due(due - timedelta(minutes=1)).sent)
    assert kinds_of(reminders.send_due(due).sent) == ["dossier.credits"]
    [message] = [m for m in inbox.messages() if "crédits" in m["Subject"]]
    assert message["Subject"] == f"D{signed_dossier.id:04d} : crédits à engager avant le 1/10/2027"
    assert "signé le 1er avril 2027" in body_text(message)


def test_credits_reminder_is_dropped_once_consumption_is_reported(signed_dossier, inbox):
    from app.services import followup as committees

    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    committees.report_consumption(
        signed_dossier, year=2027, ae="0", cp="0", actor=signed_dossier.created_by
    )  # nothing consumed yet: still reminded
    db.session.commit()
    due = datetime(2027, 8, 29, 7, 0, tzinfo=UTC)
    assert reminders.wanted(reminders.KINDS["dossier.credits"], signed_dossier)
    committees.report_consumption(
        signed_dossier, year=2027, ae="40 000", cp="10 000", actor=signed_dossier.created_by
    )
    db.session.commit()
    assert "dossier.credits" not in kinds_of(reminders.send_due(due).sent)


def test_savings_of_the_past_year_are_asked_for_in_january_until_reported(signed_dossier, inbox):
    from app.models import SavingsAmount, SavingsLine
    from app.services import followup as committees

    line = SavingsLine(position=1, nature="Licences mutualisées", category="T3", programme="129")
    line.amounts = [SavingsAmount(year=2027, amount=100_000), SavingsAmount(year=2028, amount=200_000)]
    signed_dossier.savings_lines = [line]
    db.session.commit()
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2028, 1, 16, 8, 0, tzinfo=UTC)  # 15 days after the end of 2027, 9:00 in Paris
    assert "dossier.savings" not in kinds_of(reminders.send_due(due - timedelta(minutes=1)).sent)
    inbox.store.clear()
    assert kinds_of(reminders.send_due(due).sent) == ["dossier.savings"]
    [message] = inbox.messages()
    assert message["Subject"] == f"D{signed_dossier.id:04d} : économies constatées 2027 à déclarer"
    assert "- Licences mutualisées" in body_text(message)
    assert f"/comites/suivi/{signed_dossier.id}#economies" in body_text(message)
    # 2028 reported early: its January reminder is no longer wanted
    committees.report_savings(
        signed_dossier,
        year=2028,
        nature="Licences mutualisées",
        amount="200 000",
        actor=signed_dossier.created_by,
    )
    db.session.commit()
    report = reminders.send_due(datetime(2029, 1, 16, 8, 0, tzinfo=UTC))
    assert "dossier.savings" not in kinds_of(report.sent)
