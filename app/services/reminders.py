"""The reminder engine: registry of kinds, planning (schedule / reschedule_for / cancel_for) and the sweep.

It knows no domain. Each domain declares its kinds beside its service, in `services/<room>_reminders.py`,
and registers them at import (`app/services/__init__.py` imports those modules, so every kind is registered
wherever the app runs); its service calls `reschedule_for(obj)` when it creates or moves the thing reminded
about and `cancel_for(obj)` when it goes away.

A reminder is a row (kind, object, recipient, due_at) unique per (kind, object, recipient, due date).
`reschedule_for(obj)` recomputes the rows of every kind about that object from its current state: rows no
longer wanted are cancelled, moved ones get their new date, missing ones are added; a reminder already sent
is never re-created. `cancel_for(obj)` cancels them all (a cancelled meeting).

The sweep `send_due(now)` claims due rows one at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL, an atomic
`UPDATE … WHERE claim IS NULL` on SQLite), re-checks that the reminder still makes sense (the object still
plans it, its deadline has not passed), renders it, hands the mail to the outbox (`services/mail.py`) and the
in-app notification to the notification centre, marks it sent and commits — per row. The outbox delivers
after the commit and retries with backoff (the only retry of the app). So two sweeps at once, or a restart,
never send a reminder twice, and a rolled-back row sends nothing; after downtime, overdue reminders that
still make sense are sent once and the others are marked skipped.

Statuses of a reminder: `pending` (to hand over), `sent` (handed to the outbox and the notification centre;
the delivery itself is the outbox's, shown with its failures on /admin/rappels), `skipped` (no longer made
sense), `failed` (could not be processed: an internal error, retried by the secretariat), `cancelled`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..formatting import PARIS, paris
from ..models.base import utcnow
from ..models.reminders import Reminder, ReminderSetting, ReminderStatus
from ..models.users import User
from ..permissions import can_configure_reminders
from . import audit, mail, notifications
from .errors import NotAllowed, ValidationFailed

log = logging.getLogger(__name__)
CLAIM_STALE = timedelta(minutes=15)


@dataclass(frozen=True)
class Planned:
    """One reminder a kind wants for an object: to whom, when, computed from which event date."""

    recipient: User
    due_at: datetime
    anchor_at: datetime | None = None


@dataclass
class ReminderKind:
    """A kind of reminder about objects of `model`. `plan(obj, offset_days)` lists the reminders wanted now
    for `obj`; `context(obj, recipient, reminder, now)` returns the e-mail template variables (must include
    `url` and may include `summary`, shown in the notification centre); `deadline(obj)` is the moment after
    which an unsent reminder no longer makes sense; `ics(obj)` an optional calendar attachment."""

    name: str
    label: str
    model: type
    template: str
    default_offset_days: int
    offset_help: str
    plan: Callable[[object, int], Iterable[Planned]]
    context: Callable[[object, User, Reminder, datetime], dict]
    deadline: Callable[[object], datetime | None] = lambda obj: None
    ics: Callable[[object], mail.Attachment | None] | None = None
    mandatory: bool = False
    audience: str = ""
    # Objects that may need reminders of this kind now (for the periodic re-planning safety net).
    candidates: Callable[[datetime], Iterable[object]] | None = None
    # A reminder planned after its due date is still created (and sent at once) — e.g. a meeting planned
    # five days ahead still gets its J-7 convocation. False for periodic kinds (no flood of past dates).
    catch_up: bool = True
    # An unsent reminder is obsolete once its anchor date has passed (a jalon's J-15 after the jalon's date).
    expires_at_anchor: bool = False

    @property
    def object_type(self) -> str:
        return self.model.__tablename__


KINDS: dict[str, ReminderKind] = {}


def register(kind: ReminderKind) -> ReminderKind:
    """Declare a kind (each domain's `<room>_reminders.py` does, at import); also a notification kind."""
    KINDS[kind.name] = kind
    notifications.declare_kind(kind.name, kind.label, mandatory=kind.mandatory, audience=kind.audience)
    return kind


def unregister(name: str) -> None:
    KINDS.pop(name, None)
    notifications.KINDS.pop(name, None)


def kinds_for(obj) -> list[ReminderKind]:
    table = getattr(obj, "__tablename__", None)
    return [k for k in KINDS.values() if k.object_type == table]


# --- time helpers for the kinds (reminders go out at 9:00, Paris time) -------------------------------------


def paris_date(moment: datetime) -> date:
    return paris(moment).date()


def at_paris(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A Paris wall-clock time on `day`, as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


def days_before(moment: datetime, days: int, hour: int = 9) -> datetime:
    """9:00 Paris time, `days` calendar days before `moment` (but never after `moment` itself)."""
    due = at_paris(paris_date(moment) - timedelta(days=days), hour)
    return min(due, moment)


def days_after(moment: datetime, days: int, hour: int = 9) -> datetime:
    """9:00 Paris time, `days` calendar days after `moment`."""
    return at_paris(paris_date(moment) + timedelta(days=days), hour)


def base_url() -> str:
    """The absolute root of the links in the mails (BASE_URL: works without a request, in jobs and CLI)."""
    return current_app.config["BASE_URL"].rstrip("/")


def replan_all(now: datetime | None = None) -> int:
    """Re-plan every candidate object of every kind (the periodic safety net behind the services' calls:
    new committee members, new electors, a forgotten reschedule_for).

    Returns how many objects were planned."""
    now = now or utcnow()
    count = 0
    for kind in list(KINDS.values()):
        if kind.candidates is None:
            continue
        for obj in kind.candidates(now):
            reschedule_for(obj, kinds=[kind], now=now)
            count += 1
    db.session.flush()
    return count


# --- settings (offsets set by the secretariat) -------------------------------------------------------------


@dataclass
class Setting:
    kind: ReminderKind
    offset_days: int
    enabled: bool
    customised: bool


def setting(kind: ReminderKind | str) -> Setting:
    kind = KINDS[kind] if isinstance(kind, str) else kind
    row = db.session.get(ReminderSetting, kind.name)
    if row is None:
        return Setting(kind, kind.default_offset_days, True, False)
    return Setting(kind, row.offset_days, row.enabled, True)


def settings() -> list[Setting]:
    """Every kind's setting, from one query."""
    rows = {row.kind: row for row in db.session.scalars(select(ReminderSetting))}
    return [
        Setting(kind, rows[kind.name].offset_days, rows[kind.name].enabled, True)
        if kind.name in rows
        else Setting(kind, kind.default_offset_days, True, False)
        for kind in KINDS.values()
    ]


def set_settings(values: dict[str, tuple[str, bool]], *, actor) -> None:
    """Every kind's (offset, enabled) at once, or none: the messages of all refused fields together."""
    errors = {}
    for kind_name, (offset, enabled) in values.items():
        try:
            with db.session.begin_nested():
                set_setting(kind_name, offset_days=offset, enabled=enabled, actor=actor)
        except ValidationFailed as error:
            errors.update(error.errors)
    if errors:
        raise ValidationFailed(errors)


def set_setting(kind_name: str, *, offset_days, enabled: bool, actor) -> Setting:
    """Change a kind's offset / on-off (secretariat), then recompute the pending reminders of that kind."""
    if not can_configure_reminders(actor):
        raise NotAllowed("Seul le secrétariat règle les rappels.")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ValidationFailed({"kind": "Type de rappel inconnu."})
    try:
        days = int(str(offset_days).strip())
    except ValueError:
        raise ValidationFailed({f"offset_{kind_name}": "Indiquez un nombre entier de jours."}) from None
    if not 0 <= days <= 365:
        raise ValidationFailed({f"offset_{kind_name}": "Le délai doit être compris entre 0 et 365 jours."})
    before = setting(kind)
    if (before.offset_days, before.enabled) == (days, bool(enabled)):
        return before
    row = db.session.get(ReminderSetting, kind.name)
    if row is None:
        row = ReminderSetting(kind=kind.name)
        db.session.add(row)
    row.offset_days, row.enabled, row.updated_by_id = days, bool(enabled), actor.id
    db.session.flush()
    audit.record(
        "reminder_setting.updated",
        None,
        actor=actor,
        summary=f"Rappel « {kind.label} » réglé",
        changes={
            "kind": [kind.name, kind.name],
            "offset_days": [before.offset_days, days],
            "enabled": [before.enabled, bool(enabled)],
        },
    )
    recompute_kind(kind)
    return setting(kind)


def recompute_kind(kind: ReminderKind, now: datetime | None = None) -> None:
    """Re-plan every object that has pending reminders of this kind (after its setting changed)."""
    ids = db.session.scalars(
        select(Reminder.object_id)
        .where(
            Reminder.kind == kind.name,
            Reminder.status.in_([ReminderStatus.PENDING, ReminderStatus.CANCELLED]),
        )
        .distinct()
    ).all()
    model = kind.model
    for object_id in ids:
        obj = db.session.get(model, object_id)
        if obj is not None:
            reschedule_for(obj, kinds=[kind], now=now)


# --- planning -----------------------------------------------------------------------------------------------


def schedule(
    kind: str, obj, recipient: User, due_at: datetime, anchor_at: datetime | None = None
) -> Reminder:
    """Ensure one reminder (kind, obj, recipient, due date) exists; a row already sent is left alone."""
    key = dict(
        kind=kind,
        object_type=obj.__tablename__,
        object_id=obj.id,
        recipient_id=recipient.id,
        due_date=paris_date(due_at),
    )
    existing = db.session.scalar(select(Reminder).filter_by(**key))
    if existing is not None:
        if existing.status in (ReminderStatus.PENDING, ReminderStatus.CANCELLED):
            existing.status = ReminderStatus.PENDING
            existing.due_at, existing.anchor_at = due_at, anchor_at
            existing.last_error = None
        return existing
    reminder = Reminder(
        **key,
        recipient=recipient,
        due_at=due_at,
        anchor_at=anchor_at,
        status=ReminderStatus.PENDING,
        attempts=0,
    )
    try:
        with db.session.begin_nested():
            db.session.add(reminder)
    except IntegrityError:  # planned at the same instant by another transaction
        return db.session.scalar(select(Reminder).filter_by(**key))
    return reminder


def wanted(kind: ReminderKind, obj) -> dict[tuple[int, date], Planned]:
    current = setting(kind)
    if not current.enabled:
        return {}
    return {(p.recipient.id, paris_date(p.due_at)): p for p in kind.plan(obj, current.offset_days)}


def reschedule_for(
    obj, *, kinds: Iterable[ReminderKind] | None = None, now: datetime | None = None
) -> list[Reminder]:
    """Recompute the reminders of `obj` from its current state; returns the pending rows."""
    db.session.flush()
    pending = []
    for kind in kinds if kinds is not None else kinds_for(obj):
        plan = wanted(kind, obj)
        rows = db.session.scalars(
            select(Reminder).where(
                Reminder.kind == kind.name,
                Reminder.object_type == obj.__tablename__,
                Reminder.object_id == obj.id,
            )
        ).all()
        seen = set()
        for row in rows:
            key = (row.recipient_id, row.due_date)
            seen.add(key)
            if key in plan:
                if row.status in (ReminderStatus.PENDING, ReminderStatus.CANCELLED):
                    planned = plan[key]
                    row.status, row.due_at, row.anchor_at = (
                        ReminderStatus.PENDING,
                        planned.due_at,
                        planned.anchor_at,
                    )
                    row.last_error = None
                    pending.append(row)
            elif row.status == ReminderStatus.PENDING:
                row.status = ReminderStatus.CANCELLED
                row.last_error = "Replanifié ou plus nécessaire"
        for key, planned in plan.items():
            if key not in seen and (kind.catch_up or planned.due_at >= (now or utcnow())):
                pending.append(schedule(kind.name, obj, planned.recipient, planned.due_at, planned.anchor_at))
    db.session.flush()
    return pending


def cancel_for(obj, reason: str = "Annulé") -> int:
    """Cancel every pending reminder about `obj` (e.g. a cancelled meeting); returns how many."""
    db.session.flush()
    return db.session.execute(
        update(Reminder)
        .where(
            Reminder.object_type == obj.__tablename__,
            Reminder.object_id == obj.id,
            Reminder.status == ReminderStatus.PENDING,
        )
        .values(status=ReminderStatus.CANCELLED, last_error=reason, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
    ).rowcount


def retry(reminder: Reminder, *, actor, now: datetime | None = None) -> Reminder:
    """Put a failed (or waiting) reminder back in the queue for the next sweep (secretariat)."""
    if not can_configure_reminders(actor):
        raise NotAllowed("Seul le secrétariat relance un envoi.")
    if reminder.status not in (ReminderStatus.FAILED, ReminderStatus.PENDING):
        raise ValidationFailed({"reminder": "Seul un rappel en échec ou en attente peut être relancé."})
    reminder.status = ReminderStatus.PENDING
    reminder.next_attempt_at = now or utcnow()
    reminder.claim = None
    audit.record(
        "reminder.retried",
        reminder,
        actor=actor,
        summary=f"Rappel « {reminder.kind} » relancé pour {reminder.recipient.email}",
    )
    return reminder


# --- the sweep ----------------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    mails: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} envoyé(s), {len(self.skipped)} sans objet, {len(self.failed)} en échec, "
            f"{self.mails} courriel(s) de la file d'envoi"
        )


def _due(now: datetime):
    return (
        Reminder.status == ReminderStatus.PENDING,
        Reminder.due_at <= now,
        or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now),
    )


def send_due(now: datetime | None = None, limit: int = 1000) -> SweepReport:
    """Send every due reminder, one row per transaction; safe to run in several processes at once."""
    now = now or utcnow()
    report = SweepReport()
    session = db.session
    session.commit()  # start from a clean transaction: each row is claimed and committed on its own
    if session.get_bind().dialect.name == "postgresql":
        done: set[int] = set()
        while len(done) < limit:
            row = session.scalars(
                select(Reminder)
                .where(*_due(now), Reminder.id.not_in(done) if done else True)
                .order_by(Reminder.due_at, Reminder.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=Reminder)
            ).first()
            if row is None:
                session.commit()
                break
            done.add(row.id)
            _process_safely(row, now, report)
    else:
        stale = utcnow() - CLAIM_STALE
        session.execute(
            update(Reminder)
            .where(Reminder.claim.is_not(None), Reminder.claimed_at < stale)
            .values(claim=None)
        )
        ids = session.scalars(
            select(Reminder.id).where(*_due(now)).order_by(Reminder.due_at, Reminder.id).limit(limit)
        ).all()
        session.commit()
        for reminder_id in ids:
            token = uuid.uuid4().hex
            claimed = session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, *_due(now), Reminder.claim.is_(None))
                .values(claim=token, claimed_at=utcnow())
            ).rowcount
            session.commit()
            if not claimed:
                continue
            row = session.get(Reminder, reminder_id, populate_existing=True)
            _process_safely(row, now, report)
    report.mails = mail.deliver_committed(now) + mail.deliver_outbox(now)
    return report


def _process_safely(row: Reminder, now: datetime, report: SweepReport) -> None:
    reminder_id = row.id
    try:
        process(row, now, report)
        row.claim = None
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - one broken reminder must not stop the sweep
        log.exception("reminder %s could not be processed", reminder_id)
        db.session.rollback()
        db.session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id)
            .values(
                status=ReminderStatus.FAILED,
                last_error=f"Erreur interne : {type(error).__name__} {error}"[:2000],
                attempts=Reminder.attempts + 1,
                claim=None,
            )
        )
        db.session.commit()
        report.failed.append(reminder_id)


def obsolete_reason(kind: ReminderKind, obj, reminder: Reminder, now: datetime) -> str | None:
    """Why an unsent reminder no longer makes sense, or None."""
    deadline = kind.deadline(obj)
    if kind.expires_at_anchor and reminder.anchor_at is not None:
        deadline = reminder.anchor_at if deadline is None else min(deadline, reminder.anchor_at)
    if deadline is not None and now >= deadline:
        return "Échéance dépassée : le rappel n'a plus lieu d'être."
    plan = wanted(kind, obj)
    planned = plan.get((reminder.recipient_id, reminder.due_date))
    if planned is None:
        return "Plus d'actualité (date modifiée, destinataire ou condition changés)."
    if planned.anchor_at != reminder.anchor_at or planned.due_at != reminder.due_at:
        # Moved within the same day (e.g. a meeting at 16:00 instead of 14:00) and nobody re-planned yet:
        # same reminder, new times.
        reminder.anchor_at, reminder.due_at = planned.anchor_at, planned.due_at
    return None


def process(row: Reminder, now: datetime, report: SweepReport) -> None:
    """Hand one claimed reminder to the outbox and the notification centre, or mark it skipped. The caller
    commits."""
    kind = KINDS.get(row.kind)
    if kind is None:
        row.status, row.last_error = ReminderStatus.SKIPPED, "Type de rappel inconnu."
        report.skipped.append(row.id)
        return
    if not setting(kind).enabled:
        row.status, row.last_error = ReminderStatus.SKIPPED, "Type de rappel désactivé par le secrétariat."
        report.skipped.append(row.id)
        return
    obj = db.session.get(kind.model, row.object_id)
    recipient = row.recipient
    reason = None
    if obj is None:
        reason = "L'objet du rappel a été supprimé."
    elif not recipient.active:
        reason = "Destinataire désactivé."
    else:
        reason = obsolete_reason(kind, obj, row, now)
    if reason:
        row.status, row.last_error = ReminderStatus.SKIPPED, reason
        report.skipped.append(row.id)
        return
    if row.due_at > now:
        return  # its event moved later the same day: it waits for its new time
    context = kind.context(obj, recipient, row, now)
    context.setdefault("recipient", recipient)
    context.setdefault("kind", kind)
    subject, text, html = mail.render(kind.template, **context)
    email = notifications.wants_email(recipient, kind.name)
    attachment = kind.ics(obj) if email and kind.ics else None
    # The in-app notification, and the mail queued in the outbox of this same transaction: delivered once
    # the row's commit is done (by the outbox, which retries with backoff), never if it rolls back.
    notifications.notify(
        recipient,
        kind.name,
        obj,
        subject=subject,
        body=context.get("summary", ""),
        url=context.get("url"),
        email=(subject, text, html),
        attachments=[attachment] if attachment else [],
        reminder=row,
        send_email=email,
    )
    row.subject = subject[:300]
    row.email_to = recipient.email if email else None
    row.status, row.sent_at, row.emailed = ReminderStatus.SENT, now, email
    row.next_attempt_at, row.last_error = None, None
    report.sent.append(row.id)
