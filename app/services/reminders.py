"""Scheduled reminders: kinds, planning (schedule / reschedule_for / cancel_for) and the sweep (send_due).

A reminder is a row (kind, object, recipient, due_at) unique per (kind, object, recipient, due date). The
services that create or move what a reminder is about call `reschedule_for(obj)`, which recomputes the rows
of every kind about that object from its current state: rows no longer wanted are cancelled, moved ones get
their new date, missing ones are added; a reminder already sent is never re-created. `cancel_for(obj)` cancels
them all (a cancelled meeting).

The sweep `send_due(now)` claims due rows one at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL, an atomic
`UPDATE … WHERE claim IS NULL` on SQLite), re-checks that the reminder still makes sense (the object still
plans it, its deadline has not passed), renders and sends it, marks it sent and commits — per row. So two
sweeps at once, or a restart, never send a reminder twice; after downtime, overdue reminders that still make
sense are sent once and the others are marked skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..formatting import format_date
from ..models import Reminder, ReminderSetting, ReminderStatus, User
from ..models.base import utcnow
from . import mail, notifications
from .errors import NotAllowed, ValidationFailed

log = logging.getLogger(__name__)
PARIS = ZoneInfo("Europe/Paris")
CLAIM_STALE = timedelta(minutes=15)


@dataclass(frozen=True)
class Planned:
    """One reminder a kind wants for an object: to whom, when, computed from which event date."""

    recipient: User
    due_at: datetime
    anchor_at: datetime | None = None


@dataclass
class ReminderKind:
    """A kind of reminder. `plan(obj, offset_days)` lists the reminders wanted now for `obj`;
    `context(obj, recipient, reminder, now)` returns the e-mail template variables (must include `url` and
    may include `summary`, shown in the notification centre); `deadline(obj)` is the moment after which an
    unsent reminder no longer makes sense; `ics(obj)` an optional calendar attachment."""

    name: str
    label: str
    model: Callable[[], type]  # lazy: the model module may import this one
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
        return self.model().__tablename__


KINDS: dict[str, ReminderKind] = {}


def register(kind: ReminderKind) -> ReminderKind:
    KINDS[kind.name] = kind
    notifications.declare_kind(kind.name, kind.label, mandatory=kind.mandatory, audience=kind.audience)
    return kind


def unregister(name: str) -> None:
    KINDS.pop(name, None)
    notifications.KINDS.pop(name, None)


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


def kinds_for(obj) -> list[ReminderKind]:
    table = getattr(obj, "__tablename__", None)
    return [k for k in KINDS.values() if k.object_type == table]


def paris_date(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def at_paris(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A Paris wall-clock time on `day`, as an aware UTC datetime (reminders go out at 9:00, Paris time)."""
    from datetime import UTC
    from datetime import time as dtime

    return datetime.combine(day, dtime(hour, minute), tzinfo=PARIS).astimezone(UTC)


def days_before(moment: datetime, days: int, hour: int = 9) -> datetime:
    """9:00 Paris time, `days` calendar days before `moment` (but never after `moment` itself)."""
    due = at_paris(paris_date(moment) - timedelta(days=days), hour)
    return min(due, moment)


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
    return [setting(kind) for kind in KINDS.values()]


def set_setting(kind_name: str, *, offset_days, enabled: bool, actor) -> Setting:
    """Change a kind's offset / on-off (secretariat), then recompute the pending reminders of that kind."""
    from ..permissions import can_configure_reminders
    from . import audit

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
    model = kind.model()
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
        .execution_options(synchronize_meeting="fetch")
    ).rowcount


def retry(reminder: Reminder, *, actor, now: datetime | None = None) -> Reminder:
    """Put a failed (or waiting) reminder back in the queue for the next sweep (secretariat)."""
    from ..permissions import can_configure_reminders
    from . import audit

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
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    mails: int = 0

    def __str__(self) -> str:
        return (
            f"{len(self.sent)} envoyé(s), {len(self.skipped)} sans objet, {len(self.retrying)} à réessayer, "
            f"{len(self.failed)} en échec, {self.mails} courriel(s) de la file d'envoi"
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
    meeting = db.session
    meeting.commit()  # start from a clean transaction: each row is claimed and committed on its own
    if meeting.get_bind().dialect.name == "postgresql":
        done: set[int] = set()
        while len(done) < limit:
            row = meeting.scalars(
                select(Reminder)
                .where(*_due(now), Reminder.id.not_in(done) if done else True)
                .order_by(Reminder.due_at, Reminder.id)
                .limit(1)
                .with_for_update(skip_locked=True, of=Reminder)
            ).first()
            if row is None:
                meeting.commit()
                break
            done.add(row.id)
            _process_safely(row, now, report)
    else:
        stale = utcnow() - CLAIM_STALE
        meeting.execute(
            update(Reminder)
            .where(Reminder.claim.is_not(None), Reminder.claimed_at < stale)
            .values(claim=None)
        )
        ids = meeting.scalars(
            select(Reminder.id).where(*_due(now)).order_by(Reminder.due_at, Reminder.id).limit(limit)
        ).all()
        meeting.commit()
        for reminder_id in ids:
            token = uuid.uuid4().hex
            claimed = meeting.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, *_due(now), Reminder.claim.is_(None))
                .values(claim=token, claimed_at=utcnow())
            ).rowcount
            meeting.commit()
            if not claimed:
                continue
            row = meeting.get(Reminder, reminder_id, populate_existing=True)
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
    """Send one claimed reminder (or mark it skipped / cancelled / to be retried). The caller commits."""
    kind = KINDS.get(row.kind)
    if kind is None:
        row.status, row.last_error = ReminderStatus.SKIPPED, "Type de rappel inconnu."
        report.skipped.append(row.id)
        return
    if not setting(kind).enabled:
        row.status, row.last_error = ReminderStatus.SKIPPED, "Type de rappel désactivé par le secrétariat."
        report.skipped.append(row.id)
        return
    obj = db.session.get(kind.model(), row.object_id)
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
    row.subject = subject[:300]
    email = notifications.wants_email(recipient, kind.name)
    if email:
        attachment = kind.ics(obj) if kind.ics else None
        row.email_to = recipient.email
        message = mail.build_message(
            mail.address_of(recipient), subject, text, html, [attachment] if attachment else []
        )
        try:
            mail.send(message)
        except mail.MailError as error:
            mail.record_failure(row, error, now)
            if row.status == ReminderStatus.PENDING:
                report.retrying.append(row.id)
                return
            # Given up (invalid address, or too many attempts): nothing is lost, the user still sees it in the
            # app and the secretariat is told.
            report.failed.append(row.id)
            notifications.notify(
                recipient,
                kind.name,
                obj,
                subject=subject,
                body=context.get("summary", ""),
                url=context.get("url"),
                reminder=row,
                send_email=False,
            )
            notifications.report_delivery_failure(recipient, recipient.email, subject, str(error))
            return
    row.status, row.sent_at, row.emailed = ReminderStatus.SENT, now, email
    row.next_attempt_at = None
    notifications.notify(
        recipient,
        kind.name,
        obj,
        subject=subject,
        body=context.get("summary", ""),
        url=context.get("url"),
        reminder=row,
        send_email=False,
    )
    report.sent.append(row.id)


# --- kinds --------------------------------------------------------------------------------------------------
# One small section per domain: plan() (who, when), context() (what the mail says), deadline() (after which an
# unsent reminder makes no sense). Each is registered at import.


def _link(endpoint: str, **values) -> str | None:
    try:
        return mail.link(endpoint, **values)
    except Exception:  # noqa: BLE001 - the domain's pages may not exist yet
        return None


# Voting campaigns (issue 4): "campaign closing J-3 to electors who have not voted on everything".


def _campaign_model():
    from ..models.voting import Campaign

    return Campaign


def _campaign_electors_remaining(campaign) -> list[tuple[User, int]]:
    """(elector, number of opportunities of the scope without their vote) for electors with some left."""
    from sqlalchemy import func

    from ..models import Role, UserRole
    from ..models.voting import Vote
    from ..queries.voting import scope_size
    from .voting import elector_ministry

    total = scope_size(campaign.id)
    if not total:
        return []
    done = dict(
        db.session.execute(
            select(Vote.voter_id, func.count()).where(Vote.campaign_id == campaign.id).group_by(Vote.voter_id)
        )
        .tuples()
        .all()
    )
    users = db.session.scalars(
        select(User)
        .join(UserRole)
        .where(UserRole.role == Role.DSI, User.active.is_(True))
        .distinct()
        .order_by(User.id)
    ).all()
    result = []
    for user in users:
        if elector_ministry(user, campaign)[0] and done.get(user.id, 0) < total:
            result.append((user, total - done.get(user.id, 0)))
    return result


def _campaign_plan(campaign, offset_days: int):
    if campaign.state not in ("brouillon", "ouverte"):
        return []
    due = days_before(campaign.closes_at, offset_days)
    return [Planned(user, due, campaign.closes_at) for user, _ in _campaign_electors_remaining(campaign)]


def _campaign_context(campaign, recipient, reminder, now):
    remaining = dict((u.id, n) for u, n in _campaign_electors_remaining(campaign)).get(recipient.id, 0)
    url = _link("voting.show", campaign_id=campaign.id)
    return dict(
        campaign=campaign,
        remaining=remaining,
        url=url,
        summary=f"La campagne « {campaign.title} » se clôt le {_fmt(campaign.closes_at)} ; "
        f"il vous reste {remaining} opportunité(s) à classer.",
    )


def _fmt(moment: datetime | None, with_time: bool = True) -> str:
    from ..jinja import format_datetime

    return format_datetime(moment, with_time)


def _campaign_candidates(now):
    Campaign = _campaign_model()
    return db.session.scalars(
        select(Campaign).where(Campaign.state.in_(["brouillon", "ouverte"]), Campaign.closes_at > now)
    ).all()


def _register_voting_kinds() -> None:
    try:
        from ..models import voting  # noqa: F401
        from . import voting as _voting_service  # noqa: F401
    except ImportError:
        return
    register(
        ReminderKind(
            name="campaign.closing",
            label="Clôture prochaine d'une campagne de priorisation (vote incomplet)",
            model=_campaign_model,
            template="campaign_closing",
            default_offset_days=3,
            offset_help="jours avant la clôture",
            plan=_campaign_plan,
            context=_campaign_context,
            deadline=lambda campaign: campaign.closes_at,
            candidates=_campaign_candidates,
            audience="Membres DSI du collège qui n'ont pas classé toutes les opportunités",
        )
    )


_register_voting_kinds()


# Committee meetings (issue 6): J-7 convocation with the agenda and documents (members and porteurs invited,
# mandatory), J-1 reminder (same people), agenda not yet published J-10 (the committee's secretary).


def _meeting_model():
    from ..models.committees import Meeting

    return Meeting


def _meeting_audience(meeting) -> list[User]:
    """Members of the committee, and the porteurs concerned once the agenda is published; each once."""
    from .committees import members, porteurs_concerned

    people = [m.user for m in members(meeting.committee)]
    if meeting.state == "odj_publie":
        people += porteurs_concerned(meeting)
    seen, result = set(), []
    for person in people:
        if person is not None and person.active and person.id not in seen:
            seen.add(person.id)
            result.append(person)
    return result


def _meeting_plan(meeting, offset_days: int):
    if meeting.state not in ("planifiee", "odj_publie"):
        return []
    due = days_before(meeting.starts_at, offset_days)
    return [Planned(user, due, meeting.starts_at) for user in _meeting_audience(meeting)]


def _meeting_secretaries(meeting) -> list[User]:
    """The committee's secretary (or, without one, its président, then the secretariat)."""
    from .committees import members

    rows = members(meeting.committee)
    for function in ("secretaire", "president"):
        people = [m.user for m in rows if m.function == function and m.user.active]
        if people:
            return people
    return notifications.secretariat()


def _agenda_missing_plan(meeting, offset_days: int):
    if meeting.state != "planifiee":
        return []
    due = days_before(meeting.starts_at, offset_days)
    return [Planned(user, due, meeting.starts_at) for user in _meeting_secretaries(meeting)]


def _meeting_url(meeting) -> str:
    return current_base_url() + f"/comites/seances/{meeting.id}"


def current_base_url() -> str:
    from flask import current_app

    return current_app.config["BASE_URL"].rstrip("/")


def _meeting_context(meeting, recipient, reminder, now):
    from .committees import members

    items = []
    for item in meeting.items if meeting.state == "odj_publie" else []:
        documents = [(d.label, d.url or _meeting_url(meeting)) for d in item.documents]
        items.append(
            dict(position=item.position, title=item.title, proposal=item.proposal, documents=documents)
        )
    porteur = all(m.user_id != recipient.id for m in members(meeting.committee))
    days = (paris_date(meeting.starts_at) - paris_date(now)).days
    return dict(
        meeting=meeting,
        committee=meeting.committee,
        items=items,
        url=_meeting_url(meeting),
        as_porteur=porteur,
        days=days,
        agenda_published=meeting.state == "odj_publie",
        summary=f"{meeting.committee.code} — séance du {_fmt(meeting.starts_at)}"
        + (f", {meeting.place}" if meeting.place else "")
        + ".",
    )


def meeting_ics(meeting) -> mail.Attachment:
    """The meeting as an iCalendar invitation (same UID as the calendar feed, so clients update it)."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//Mutualisation DSI//Rappels//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"seance-{meeting.id}@mutualisation-dsi")
    event.add("summary", f"{meeting.committee.code} — {meeting.label}")
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("dtstamp", utcnow())
    event.add("sequence", meeting.version or 0)
    if meeting.place:
        event.add("location", meeting.place)
    event.add("url", _meeting_url(meeting))
    lines = [f"{meeting.committee.name}"]
    if meeting.visio_url:
        lines.append(f"Visioconférence : {meeting.visio_url}")
    if meeting.state == "odj_publie":
        lines += [f"{i.position}. {i.title}" for i in meeting.items]
    event.add("description", "\n".join(lines))
    calendar.add_component(event)
    return mail.Attachment("seance.ics", "text/calendar", calendar.to_ical())


def _meeting_candidates(now):
    Meeting = _meeting_model()
    return db.session.scalars(
        select(Meeting).where(
            Meeting.state.in_(["planifiee", "odj_publie"]),
            Meeting.starts_at > now,
            Meeting.starts_at < now + timedelta(days=120),
        )
    ).all()


def _register_committee_kinds() -> None:
    try:
        from ..models.committees import Meeting  # noqa: F401
        from . import committees as _committees_service  # noqa: F401
    except ImportError:
        return
    audience = "Membres du comité et porteurs dont un point est à l'ordre du jour"
    register(
        ReminderKind(
            name="session.convocation",
            label="Convocation à une séance de comité (ordre du jour et documents)",
            model=_meeting_model,
            template="meeting_reminder",
            default_offset_days=7,
            offset_help="jours avant la séance",
            plan=_meeting_plan,
            context=_meeting_context,
            deadline=lambda meeting: meeting.starts_at,
            ics=meeting_ics,
            mandatory=True,
            audience=audience,
            candidates=_meeting_candidates,
        )
    )
    register(
        ReminderKind(
            name="session.eve",
            label="Rappel la veille d'une séance de comité",
            model=_meeting_model,
            template="meeting_reminder",
            default_offset_days=1,
            offset_help="jours avant la séance",
            plan=_meeting_plan,
            context=_meeting_context,
            deadline=lambda meeting: meeting.starts_at,
            ics=meeting_ics,
            audience=audience,
            candidates=_meeting_candidates,
        )
    )
    register(
        ReminderKind(
            name="session.agenda_missing",
            label="Ordre du jour d'une séance pas encore publié",
            model=_meeting_model,
            template="meeting_agenda_missing",
            default_offset_days=10,
            offset_help="jours avant la séance",
            plan=_agenda_missing_plan,
            context=_meeting_context,
            deadline=lambda meeting: meeting.starts_at,
            candidates=_meeting_candidates,
            audience="Secrétaire du comité (à défaut son président, puis le secrétariat)",
        )
    )


_register_committee_kinds()


# Guichets and dossiers (issue 5): complements requested and unanswered after 7 days (porteur, copy to the
# instructor), appel à projets closing J-7 (porteurs with a draft on it), jalon due in 15 days and jalon
# overdue, indicator reporting due (the indicator's frequency, from the signature), credits 5 months after
# signature (before the 6-month clawback), savings of the past year not yet reported (each January, while a
# forecast nature has no figure). Jalons and indicators are replaced when a dossier is edited, so
# their reminders are about the dossier (one per due date: the jalons due the same day share one reminder).

FOLLOWED_STATES = ("conventionne", "en_suivi")


def _dossier_model():
    from ..models.dossiers import Dossier

    return Dossier


def _guichet_model():
    from ..models.guichets import Guichet

    return Guichet


def days_after(moment: datetime, days: int, hour: int = 9) -> datetime:
    return at_paris(paris_date(moment) + timedelta(days=days), hour)


def _dossier_url(dossier) -> str:
    return current_base_url() + f"/dossiers/{dossier.id}"


def _porteurs(dossier) -> list[User]:
    """The dossier's creator and the référents who have an account; each once, active only."""
    emails = {r.email.lower() for r in dossier.referents}
    people = [dossier.created_by]
    if emails:
        people += db.session.scalars(select(User).where(User.email.in_(emails)).order_by(User.id)).all()
    seen, result = set(), []
    for person in people:
        if person is not None and person.active and person.id not in seen:
            seen.add(person.id)
            result.append(person)
    return result


def _signed_at(dossier) -> datetime | None:
    from ..models.dossiers import DossierTransition

    return db.session.scalar(
        select(DossierTransition.created_at)
        .where(DossierTransition.dossier_id == dossier.id, DossierTransition.to_state == "conventionne")
        .order_by(DossierTransition.id)
        .limit(1)
    )


def _complements_plan(dossier, offset_days: int):
    request = dossier.open_request
    if dossier.state != "complements_demandes" or request is None:
        return []
    due = days_after(request.created_at, offset_days)
    people = _porteurs(dossier)
    if request.requested_by is not None and request.requested_by.active:
        people = people + [request.requested_by]
    return [Planned(user, due, request.created_at) for user in people]


def _complements_context(dossier, recipient, reminder, now):
    request = dossier.open_request
    return dict(
        dossier=dossier,
        request=request,
        url=_dossier_url(dossier),
        as_instructor=request is not None and request.requested_by_id == recipient.id,
        days=(paris_date(now) - paris_date(request.created_at)).days if request else 0,
        summary=f"{dossier.reference} : compléments demandés le {_fmt(request.created_at, False)}, "
        "toujours sans réponse."
        if request
        else "",
    )


def _guichet_closing_plan(guichet, offset_days: int):
    if guichet.mode != "appel_a_projets" or guichet.closes_at is None:
        return []
    Dossier = _dossier_model()
    drafts = db.session.scalars(
        select(Dossier)
        .where(Dossier.guichet_id == guichet.id, Dossier.state == "brouillon")
        .order_by(Dossier.id)
    ).all()
    due = days_before(guichet.closes_at, offset_days)
    seen, planned = set(), []
    for dossier in drafts:
        user = dossier.created_by
        if user is not None and user.active and user.id not in seen:
            seen.add(user.id)
            planned.append(Planned(user, due, guichet.closes_at))
    return planned


def _guichet_closing_context(guichet, recipient, reminder, now):
    Dossier = _dossier_model()
    drafts = db.session.scalars(
        select(Dossier)
        .where(
            Dossier.guichet_id == guichet.id,
            Dossier.state == "brouillon",
            Dossier.created_by_id == recipient.id,
        )
        .order_by(Dossier.id)
    ).all()
    return dict(
        guichet=guichet,
        drafts=[(d, _dossier_url(d)) for d in drafts],
        url=_dossier_url(drafts[0]) if drafts else current_base_url(),
        summary=f"L'appel à projets {guichet.code} se clôt le {_fmt(guichet.closes_at)} ; "
        f"{len(drafts)} brouillon(s) non déposé(s).",
    )


def _jalon_anchor(day) -> datetime:
    return at_paris(day, 0)


def _jalon_plan(dossier, offset_days: int, after: bool = False):
    if dossier.state not in FOLLOWED_STATES:
        return []
    planned = []
    for day in sorted({j.due_on for j in dossier.jalons}):
        anchor = _jalon_anchor(day)
        due = days_after(anchor, offset_days) if after else days_before(anchor, offset_days)
        planned += [Planned(user, due, anchor) for user in _porteurs(dossier)]
    return planned


def _jalon_context(dossier, recipient, reminder, now):
    day = paris_date(reminder.anchor_at) if reminder.anchor_at else None
    jalons = [j for j in dossier.jalons if j.due_on == day]
    return dict(
        dossier=dossier,
        jalons=jalons,
        due_on=day,
        url=_dossier_url(dossier),
        overdue=reminder.kind == "jalon.overdue",
        summary=f"{dossier.reference} : jalon(s) "
        + ", ".join(f"n° {j.number}" for j in jalons)
        + (" échu(s)" if reminder.kind == "jalon.overdue" else " à échéance")
        + f" le {day.day} {_month(day)} {day.year}."
        if day
        else "",
    )


def _month(day) -> str:
    return format_date(day, with_year=False).split(" ", 1)[1]


INDICATOR_PERIODS = (("mensuel", 1), ("trimestr", 3), ("semestr", 6), ("annuel", 12), ("an", 12))
INDICATOR_HORIZON_MONTHS = 60


def indicator_months(frequency: str) -> int | None:
    """Months between two reports for a free-text frequency ("trimestrielle", "Annuel"…), or None."""
    text = (frequency or "").strip().lower()
    for word, months in INDICATOR_PERIODS:
        if word in text:
            return months
    return None


def _add_months(moment: datetime, months: int) -> datetime:
    from calendar import monthrange

    local = moment.astimezone(PARIS)
    year, month = divmod(local.month - 1 + months, 12)
    year, month = local.year + year, month + 1
    day = min(local.day, monthrange(year, month)[1])
    return at_paris(local.date().replace(year=year, month=month, day=day), 0)


def _indicator_plan(dossier, offset_days: int):
    if dossier.state not in FOLLOWED_STATES:
        return []
    signed = _signed_at(dossier)
    if signed is None:
        return []
    dates = set()
    for indicator in dossier.indicators:
        months = indicator_months(indicator.frequency)
        if months:
            dates |= {
                _add_months(signed, k * months) for k in range(1, INDICATOR_HORIZON_MONTHS // months + 1)
            }
    return [
        Planned(user, days_before(anchor, offset_days), anchor)
        for anchor in sorted(dates)
        for user in _porteurs(dossier)
    ]


def _indicator_context(dossier, recipient, reminder, now):
    day = paris_date(reminder.anchor_at)
    signed = _signed_at(dossier)
    due = [
        i
        for i in dossier.indicators
        if (m := indicator_months(i.frequency))
        and any(
            paris_date(_add_months(signed, k * m)) == day for k in range(1, INDICATOR_HORIZON_MONTHS // m + 1)
        )
    ]
    return dict(
        dossier=dossier,
        indicators=due,
        due_on=day,
        url=_dossier_url(dossier),
        summary=f"{dossier.reference} : {len(due)} indicateur(s) à transmettre pour le "
        f"{day.day} {_month(day)} {day.year}.",
    )


def _credits_plan(dossier, offset_days: int):
    """Five months after signature, unless consumed credits are already reported on the follow-up page."""
    from ..models.followup import CreditConsumption

    if dossier.state not in FOLLOWED_STATES:
        return []
    signed = _signed_at(dossier)
    if signed is None:
        return []
    consumed = db.session.scalar(
        select(CreditConsumption.id)
        .where(
            CreditConsumption.dossier_id == dossier.id,
            (CreditConsumption.ae > 0) | (CreditConsumption.cp > 0),
        )
        .limit(1)
    )
    if consumed is not None:
        return []
    clawback = _add_months(signed, 6)
    return [Planned(user, days_after(signed, offset_days), clawback) for user in _porteurs(dossier)]


def _credits_context(dossier, recipient, reminder, now):
    return dict(
        dossier=dossier,
        signed_at=_signed_at(dossier),
        clawback_on=paris_date(reminder.anchor_at),
        url=_dossier_url(dossier),
        summary=f"{dossier.reference} : crédits non consommés à reprendre après 6 mois "
        f"(le {_fmt(reminder.anchor_at, False)}).",
    )


def _savings_plan(dossier, offset_days: int):
    """After the end of each year the contract forecasts savings for (from the signature year on), while a
    nature of that year has no reported figure."""
    from . import followup as committees

    if dossier.state not in FOLLOWED_STATES:
        return []
    signed = _signed_at(dossier)
    if signed is None:
        return []
    planned = []
    for year in committees.savings_by_year(dossier):
        if year.year >= paris_date(signed).year and year.unreported:
            anchor = at_paris(date(year.year + 1, 1, 1), 0)
            planned += [Planned(user, days_after(anchor, offset_days), anchor) for user in _porteurs(dossier)]
    return planned


def _savings_context(dossier, recipient, reminder, now):
    from . import followup as committees

    year = paris_date(reminder.anchor_at).year - 1
    figures = next((y for y in committees.savings_by_year(dossier) if y.year == year), None)
    natures = figures.unreported if figures else []
    return dict(
        dossier=dossier,
        year=year,
        natures=natures,
        url=current_base_url() + f"/comites/suivi/{dossier.id}#economies",
        summary=f"{dossier.reference} : économies constatées {year} à déclarer "
        f"({len(natures)} nature(s) sans montant).",
    )


def _dossier_candidates(states):
    def candidates(now):
        Dossier = _dossier_model()
        return db.session.scalars(select(Dossier).where(Dossier.state.in_(states))).all()

    return candidates


def _guichet_candidates(now):
    Guichet = _guichet_model()
    return db.session.scalars(
        select(Guichet).where(Guichet.mode == "appel_a_projets", Guichet.closes_at > now)
    ).all()


def _register_dossier_kinds() -> None:
    try:
        from ..models.dossiers import ComplementRequest, Dossier, Jalon  # noqa: F401
        from ..models.guichets import Guichet

        Guichet.closes_at  # noqa: B018  (the calendar of appels à projets)
    except (ImportError, AttributeError):
        return
    porteurs = "Porteur du dossier et référents ayant un compte"
    register(
        ReminderKind(
            name="dossier.complements",
            label="Compléments demandés restés sans réponse",
            model=_dossier_model,
            template="dossier_complements",
            default_offset_days=7,
            offset_help="jours après la demande",
            plan=_complements_plan,
            context=_complements_context,
            candidates=_dossier_candidates(["complements_demandes"]),
            audience=porteurs + " ; copie à l'instructeur qui a fait la demande",
        )
    )
    register(
        ReminderKind(
            name="guichet.closing",
            label="Clôture prochaine d'un appel à projets (brouillon non déposé)",
            model=_guichet_model,
            template="guichet_closing",
            default_offset_days=7,
            offset_help="jours avant la clôture",
            plan=_guichet_closing_plan,
            context=_guichet_closing_context,
            deadline=lambda guichet: guichet.closes_at,
            candidates=_guichet_candidates,
            audience="Porteurs ayant un brouillon sur l'appel à projets",
        )
    )
    register(
        ReminderKind(
            name="jalon.due",
            label="Jalon à échéance prochaine",
            model=_dossier_model,
            template="dossier_jalon",
            default_offset_days=15,
            offset_help="jours avant l'échéance",
            plan=_jalon_plan,
            context=_jalon_context,
            candidates=_dossier_candidates(list(FOLLOWED_STATES)),
            audience=porteurs,
            catch_up=False,
            expires_at_anchor=True,
        )
    )
    register(
        ReminderKind(
            name="jalon.overdue",
            label="Jalon échu",
            model=_dossier_model,
            template="dossier_jalon",
            default_offset_days=1,
            offset_help="jours après l'échéance",
            plan=lambda dossier, offset: _jalon_plan(dossier, offset, after=True),
            context=_jalon_context,
            candidates=_dossier_candidates(list(FOLLOWED_STATES)),
            audience=porteurs,
            catch_up=False,
        )
    )
    register(
        ReminderKind(
            name="dossier.indicators",
            label="Indicateurs à transmettre (selon leur fréquence)",
            model=_dossier_model,
            template="dossier_indicators",
            default_offset_days=15,
            offset_help="jours avant la date de remontée",
            plan=_indicator_plan,
            context=_indicator_context,
            candidates=_dossier_candidates(list(FOLLOWED_STATES)),
            audience=porteurs,
            catch_up=False,
            expires_at_anchor=True,
        )
    )
    register(
        ReminderKind(
            name="dossier.savings",
            label="Économies constatées de l'année écoulée à déclarer",
            model=_dossier_model,
            template="dossier_savings",
            default_offset_days=15,
            offset_help="jours après la fin de l'année",
            plan=_savings_plan,
            context=_savings_context,
            candidates=_dossier_candidates(list(FOLLOWED_STATES)),
            audience=porteurs,
            catch_up=False,
        )
    )
    register(
        ReminderKind(
            name="dossier.credits",
            label="Crédits à consommer avant la reprise à 6 mois",
            model=_dossier_model,
            template="dossier_credits",
            default_offset_days=150,
            offset_help="jours après la signature",
            plan=_credits_plan,
            context=_credits_context,
            candidates=_dossier_candidates(list(FOLLOWED_STATES)),
            audience=porteurs,
            catch_up=False,
            expires_at_anchor=True,
        )
    )


_register_dossier_kinds()
