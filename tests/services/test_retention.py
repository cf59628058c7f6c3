"""Data retention: finished reminders and delivered mails older than RETENTION_MONTHS go, work stays."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.models.reminders import Notification, OutboxMail, Reminder, ReminderStatus
from app.services import retention
from tests.factories import make_user

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _reminder(user, status, updated_at, n):
    row = Reminder(
        kind="test.kind",
        object_type="test",
        object_id=n,
        recipient_id=user.id,
        due_at=updated_at,
        due_date=date(2020, 1, 1) + timedelta(days=n),
        status=status,
        sent_at=updated_at if status == ReminderStatus.SENT else None,
        attempts=1 if status == ReminderStatus.FAILED else 0,
    )
    db.session.add(row)
    db.session.flush()
    row.updated_at = updated_at  # onupdate would set "now"
    db.session.flush()
    return row


def _mail(status, sent_at, n):
    db.session.add(
        OutboxMail(
            kind="test.kind",
            to_address=f"agent{n}@example.gouv.fr",
            subject=f"Courriel {n}",
            text_body="…",
            status=status,
            sent_at=sent_at,
        )
    )


def test_only_finished_history_older_than_the_period_is_deleted(db_session):
    user = make_user("dsi")
    old, recent = NOW - timedelta(days=400), NOW - timedelta(days=30)
    kept = [
        _reminder(user, ReminderStatus.SENT, recent, 1),
        _reminder(user, ReminderStatus.PENDING, old, 2),
        _reminder(user, ReminderStatus.FAILED, old, 3),
    ]
    purged = [_reminder(user, status, old, 10 + i) for i, status in enumerate(retention.FINISHED)]
    db.session.add(
        Notification(user_id=user.id, kind="test.kind", subject="Rappel", reminder_id=purged[0].id)
    )
    _mail(ReminderStatus.SENT, old, 1)
    _mail(ReminderStatus.SENT, recent, 2)
    _mail(ReminderStatus.FAILED, None, 3)
    db.session.flush()

    assert retention.purge(NOW, months=12) == (3, 1)
    db.session.expire_all()
    assert sorted(r.id for r in db.session.scalars(select(Reminder))) == sorted(r.id for r in kept)
    assert sorted(m.subject for m in db.session.scalars(select(OutboxMail))) == ["Courriel 2", "Courriel 3"]
    notification = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
    assert notification.subject == "Rappel" and notification.reminder_id is None


def test_the_daily_job_uses_the_configured_period(app, db_session):
    user = make_user("dsi")
    _reminder(user, ReminderStatus.SENT, NOW - timedelta(days=100), 1)
    job = jobs.JOBS["retention.purge"]
    assert jobs.run_job(job, now=NOW) == "0 rappel(s) et 0 courriel(s) de plus de 12 mois supprimés"
    app.config["RETENTION_MONTHS"] = 3
    try:
        result = jobs.run_job(job, now=NOW)
    finally:
        app.config["RETENTION_MONTHS"] = 12
    assert result == "1 rappel(s) et 0 courriel(s) de plus de 3 mois supprimés"
