"""The reminder engine under a controlled clock, with a real SMTP server on 127.0.0.1.

A test kind ("test.echeance") reminds about an opportunity's made-up deadline, so the engine is tested
independently of the domains; each domain's kinds have their own tests in test_<room>_reminders.py. The sweep
hands its mails to the outbox (services/mail.py), which delivers them after the commit and retries them.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, Opportunity, OutboxMail, Reminder, ReminderSetting, Role, User
from app.services import mail, reminders
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
    model=Opportunity,
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


def sent_to(inbox, address):
    return [m for m in inbox.messages() if address in m["To"]]


def outbox(kind="test.echeance", **filters):
    return db.session.scalars(
        select(OutboxMail).filter_by(kind=kind, **filters).order_by(OutboxMail.recipient_id)
    ).all()


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


def test_smtp_failure_then_recovery_through_the_outbox(planned, inbox):
    """The sweep hands the mails to the outbox; the outbox retries them with backoff, once each."""
    opportunity, alice, bob = planned
    inbox.store.fail_data = "451 4.3.0 Serveur surchargé"
    report = reminders.send_due(DUE)
    assert len(report.sent) == 2 and report.mails == 0 and len(inbox) == 0
    assert all(r.status == "sent" and r.emailed for r in rows(opportunity))  # handed to the outbox
    for queued in outbox():
        assert (queued.status, queued.attempts, queued.next_attempt_at) == (
            "pending",
            1,
            DUE + timedelta(minutes=1),
        )
        assert "451" in queued.last_error
    # In the notification centre already, while the mail waits.
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == alice.id)) == 1
    # Still failing: the backoff grows.
    assert reminders.send_due(DUE + timedelta(minutes=1)).mails == 0
    assert {m.next_attempt_at for m in outbox()} == {DUE + timedelta(minutes=6)}
    assert reminders.send_due(DUE + timedelta(minutes=3)).mails == 0  # waiting
    assert {m.attempts for m in outbox()} == {2}
    inbox.store.fail_data = None
    report = reminders.send_due(DUE + timedelta(minutes=6))
    assert report.sent == [] and report.mails == 2
    assert all(m.status == "sent" and m.attempts == 2 for m in outbox())
    assert reminders.send_due(DUE + timedelta(hours=1)).mails == 0  # never twice
    assert len(inbox) == 2 and len(outbox()) == 2


def test_gives_up_after_max_attempts_and_reports(planned, inbox, make_user):
    opportunity, alice, bob = planned
    secretary = make_user(Role.SECRETARIAT, email="secretariat@example.gouv.fr")
    inbox.store.fail_data = "451 4.3.0 Toujours indisponible"
    now = DUE
    for _ in range(mail.MAX_ATTEMPTS):
        reminders.send_due(now)
        now += timedelta(hours=13)  # past the longest backoff (12 h)
    assert len(outbox()) == 2
    assert all(m.status == "failed" and m.attempts == mail.MAX_ATTEMPTS for m in outbox())
    assert all(r.status == "sent" for r in rows(opportunity))  # handed over once, never re-queued
    reports = db.session.scalars(select(Notification).where(Notification.user_id == secretary.id)).all()
    assert len(reports) == 2 and all("Courriel non distribué" in n.subject for n in reports)
    # The recipients still have it in the app.
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == alice.id)) == 1
    assert len(inbox) == 0


def test_invalid_address_is_marked_and_reported_to_the_secretariat(planned, inbox, make_user):
    opportunity, alice, bob = planned
    secretary = make_user(Role.SECRETARIAT, email="secretariat@example.gouv.fr")
    inbox.store.refuse_recipients["bob@example.gouv.fr"] = "550 5.1.1 Boîte inconnue"
    report = reminders.send_due(DUE)
    assert len(report.sent) == 2 and report.mails == 1
    [to_bob] = outbox(recipient_id=bob.id)
    assert to_bob.status == "failed" and "550" in to_bob.last_error and to_bob.attempts == 1
    [report_row] = db.session.scalars(select(Notification).where(Notification.user_id == secretary.id)).all()
    assert "bob@example.gouv.fr" in report_row.subject and "550" in report_row.body
    assert report_row.url.endswith("/admin/rappels#echecs")
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == bob.id)) == 1
    # Retried by the secretariat once the address is fixed.
    inbox.store.refuse_recipients.clear()
    with pytest.raises(NotAllowed):
        mail.retry(to_bob, actor=bob)
    mail.retry(to_bob, actor=secretary, now=DUE + timedelta(minutes=5))
    db.session.commit()
    assert reminders.send_due(DUE + timedelta(minutes=5)).mails == 1
    assert len(inbox.to("bob@example.gouv.fr")) == 1
    assert reminders.send_due(DUE + timedelta(hours=1)).mails == 0
    assert len(inbox.to("bob@example.gouv.fr")) == 1


def test_a_reminder_that_cannot_be_processed_fails_then_is_retried(planned, inbox, make_user, monkeypatch):
    opportunity, alice, bob = planned
    secretary = make_user(Role.SECRETARIAT, email="secretariat@example.gouv.fr")

    def broken(*args):
        raise RuntimeError("gabarit cassé")

    monkeypatch.setattr(TEST_KIND, "context", broken)
    report = reminders.send_due(DUE)
    assert report.sent == [] and len(report.failed) == 2 and len(inbox) == 0 and outbox() == []
    for row in rows(opportunity):
        assert row.status == "failed" and row.attempts == 1 and "gabarit cassé" in row.last_error
    monkeypatch.undo()
    [alice_row] = rows(opportunity, recipient_id=alice.id)
    reminders.retry(alice_row, actor=secretary, now=DUE + timedelta(minutes=5))
    db.session.commit()
    assert reminders.send_due(DUE + timedelta(minutes=5)).sent == [alice_row.id]
    assert len(inbox.to("alice@example.gouv.fr")) == 1 and len(inbox) == 1


def test_a_row_rolled_back_after_queueing_its_mail_sends_nothing(planned, inbox, monkeypatch):
    opportunity, alice, bob = planned
    notify = reminders.notifications.notify

    def notify_then_fail(*args, **kwargs):
        notify(*args, **kwargs)  # the mail is queued in the row's transaction…
        raise RuntimeError("panne après la mise en file")  # … which then rolls back

    monkeypatch.setattr(reminders.notifications, "notify", notify_then_fail)
    report = reminders.send_due(DUE)
    assert len(report.failed) == 2 and report.mails == 0
    monkeypatch.undo()
    assert mail.deliver_outbox(DUE + timedelta(hours=1)) == 0
    assert len(inbox) == 0 and outbox() == []
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == alice.id)) == 0


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
