"""Reminders (rows swept by the scheduler), in-app notifications, e-mail preferences, the mail outbox and the
scheduler's bookkeeping (leader lease, job runs)."""

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return REMINDER_STATUS_LABELS[self]


REMINDER_STATUS_LABELS = {
    ReminderStatus.PENDING: "À envoyer",
    ReminderStatus.SENT: "Envoyé",
    ReminderStatus.SKIPPED: "Sans objet",
    ReminderStatus.FAILED: "En échec",
    ReminderStatus.CANCELLED: "Annulé",
}

_STATUS_SQL = ", ".join(f"'{s.value}'" for s in ReminderStatus)


class Reminder(db.Model):
    """One reminder of one kind about one object for one recipient, due at one date (never twice)."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint(
            "kind", "object_type", "object_id", "recipient_id", "due_date", name="uq_reminders_once"
        ),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status_known"),
        CheckConstraint("status != 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        Index("ix_reminders_due", "status", "due_at"),
        Index("ix_reminders_object", "object_type", "object_id"),
        # the admin page lists the latest sent and failed ones; the retention job deletes the oldest
        Index("ix_reminders_status_updated", "status", "updated_at"),
        Index("ix_reminders_status_attempts", "status", "attempts"),  # the failures list: retried pending
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    object_type: Mapped[str] = mapped_column(String(48))
    object_id: Mapped[int] = mapped_column(Integer)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_date: Mapped[date] = mapped_column(Date)  # Europe/Paris calendar date of due_at (the unique key)
    # The date of the event the reminder was computed from (session start, closing time…): a reminder whose
    # anchor no longer matches the object is stale and is skipped rather than sent.
    anchor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed: Mapped[bool] = mapped_column(default=False)
    email_to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    claim: Mapped[str | None] = mapped_column(String(40))  # SQLite: which sweep holds the row
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    recipient = relationship("User", lazy="joined")

    @property
    def status_enum(self) -> ReminderStatus:
        return ReminderStatus(self.status)


class Notification(db.Model):
    """An entry of a user's notification centre."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        # the notification centre: one user's, newest first (read in order, no sort of them all)
        Index("ix_notifications_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    object_type: Mapped[str | None] = mapped_column(String(48))
    object_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(500))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(db.Model):
    """Whether a user gets an e-mail for a kind (absent row: yes). Mandatory kinds ignore it."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    email: Mapped[bool] = mapped_column(default=True)


class ReminderSetting(db.Model):
    """Offset (days) and on/off for a reminder kind, set by the secretariat (absent row: defaults)."""

    __tablename__ = "reminder_settings"
    __table_args__ = (CheckConstraint("offset_days >= 0 AND offset_days <= 365", name="offset_range"),)

    kind: Mapped[str] = mapped_column(String(48), primary_key=True)
    offset_days: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OutboxMail(db.Model):
    """An e-mail queued by a service inside its transaction; delivered only once that transaction has
    committed."""

    __tablename__ = "outbox_mails"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status_known"),
        Index("ix_outbox_mails_due", "status", "next_attempt_at"),
        Index("ix_outbox_mails_status_sent", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list | None] = mapped_column(JSON)  # [{"filename", "mimetype"}] (content below)
    attachment_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(40))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recipient = relationship("User", lazy="joined")


class SchedulerLease(db.Model):
    """Leader election between scheduler instances: whoever holds an unexpired lease runs the jobs."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SchedulerJob(db.Model):
    """Last and next run of each scheduled job, written by the scheduler, read by the admin page."""

    __tablename__ = "scheduler_jobs"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(120))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
