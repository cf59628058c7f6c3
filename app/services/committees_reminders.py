"""The reminder kinds of committee meetings, registered with the reminder engine at import.

- "session.convocation" (J-7, mandatory): the convocation with the agenda and its documents, to the members
  of the committee and, once the agenda is published, to the porteurs of its items; the meeting as an
  iCalendar invitation (seance.ics).
- "session.eve" (J-1): the same people, the day before.
- "session.agenda_missing" (J-10): the agenda is not published yet; to the committee's secretary (or its
  président, then the secretariat).

The kind names keep the persisted word "session". The meeting service calls
`reminders.reschedule_for(meeting)` when it plans, moves or publishes a meeting, and
`reminders.cancel_for(meeting)` when it cancels one.
"""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from ..extensions import db
from ..formatting import format_datetime, in_days
from ..models.base import utcnow
from ..models.committees import Meeting, MeetingState, MemberFunction
from ..models.users import User
from . import mail, notifications, reminders
from .committees import members, porteurs_concerned
from .reminders import Planned, ReminderKind

PLANNED_STATES = (MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE)
CANDIDATE_HORIZON = timedelta(days=120)


def audience(meeting: Meeting) -> list[User]:
    """Members of the committee, and the porteurs concerned once the agenda is published; each once."""
    people = [m.user for m in members(meeting.committee)]
    if meeting.state == MeetingState.ODJ_PUBLIE:
        people += porteurs_concerned(meeting)
    seen, result = set(), []
    for person in people:
        if person is not None and person.active and person.id not in seen:
            seen.add(person.id)
            result.append(person)
    return result


def secretaries(meeting: Meeting) -> list[User]:
    """The committee's secretary (or, without one, its président, then the secretariat)."""
    rows = members(meeting.committee)
    for function in (MemberFunction.SECRETAIRE, MemberFunction.PRESIDENT):
        people = [m.user for m in rows if m.function == function and m.user.active]
        if people:
            return people
    return notifications.secretariat()


def meeting_url(meeting: Meeting) -> str:
    return reminders.base_url() + f"/comites/seances/{meeting.id}"


def _plan(meeting: Meeting, offset_days: int):
    if meeting.state not in PLANNED_STATES:
        return []
    due = reminders.days_before(meeting.starts_at, offset_days)
    return [Planned(user, due, meeting.starts_at) for user in audience(meeting)]


def _agenda_missing_plan(meeting: Meeting, offset_days: int):
    if meeting.state != MeetingState.PLANIFIEE:
        return []
    due = reminders.days_before(meeting.starts_at, offset_days)
    return [Planned(user, due, meeting.starts_at) for user in secretaries(meeting)]


def _context(meeting: Meeting, recipient, reminder, now):
    published = meeting.state == MeetingState.ODJ_PUBLIE
    items = []
    for item in meeting.items if published else []:
        documents = [(d.label, d.url or meeting_url(meeting)) for d in item.documents]
        items.append(
            dict(position=item.position, title=item.title, proposal=item.proposal, documents=documents)
        )
    porteur = all(m.user_id != recipient.id for m in members(meeting.committee))
    days = (reminders.paris_date(meeting.starts_at) - reminders.paris_date(now)).days
    return dict(
        meeting=meeting,
        committee=meeting.committee,
        items=items,
        url=meeting_url(meeting),
        as_porteur=porteur,
        days=days,
        when=in_days(days),  # « aujourd'hui », « demain », « dans 7 jours »
        agenda_published=published,
        summary=f"{meeting.committee.code} — séance du {format_datetime(meeting.starts_at)}"
        + (f", {meeting.place}" if meeting.place else "")
        + ".",
    )


def meeting_ics(meeting: Meeting) -> mail.Attachment:
    """The meeting as an iCalendar invitation (same UID as the calendar feed, so clients update it)."""
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
    event.add("url", meeting_url(meeting))
    lines = [f"{meeting.committee.name}"]
    if meeting.visio_url:
        lines.append(f"Visioconférence : {meeting.visio_url}")
    if meeting.state == MeetingState.ODJ_PUBLIE:
        lines += [f"{i.position}. {i.title}" for i in meeting.items]
    event.add("description", "\n".join(lines))
    calendar.add_component(event)
    return mail.Attachment("seance.ics", "text/calendar", calendar.to_ical())


def _candidates(now):
    return db.session.scalars(
        select(Meeting).where(
            Meeting.state.in_(PLANNED_STATES),
            Meeting.starts_at > now,
            Meeting.starts_at < now + CANDIDATE_HORIZON,
        )
    ).all()


AUDIENCE = "Membres du comité et porteurs dont un point est à l'ordre du jour"

CONVOCATION = reminders.register(
    ReminderKind(
        name="session.convocation",
        label="Convocation à une séance de comité (ordre du jour et documents)",
        model=Meeting,
        template="meeting_reminder",
        default_offset_days=7,
        offset_help="jours avant la séance",
        plan=_plan,
        context=_context,
        deadline=lambda meeting: meeting.starts_at,
        ics=meeting_ics,
        mandatory=True,
        audience=AUDIENCE,
        candidates=_candidates,
    )
)
EVE = reminders.register(
    ReminderKind(
        name="session.eve",
        label="Rappel la veille d'une séance de comité",
        model=Meeting,
        template="meeting_reminder",
        default_offset_days=1,
        offset_help="jours avant la séance",
        plan=_plan,
        context=_context,
        deadline=lambda meeting: meeting.starts_at,
        ics=meeting_ics,
        audience=AUDIENCE,
        candidates=_candidates,
    )
)
AGENDA_MISSING = reminders.register(
    ReminderKind(
        name="session.agenda_missing",
        label="Ordre du jour d'une séance pas encore publié",
        model=Meeting,
        template="meeting_agenda_missing",
        default_offset_days=10,
        offset_help="jours avant la séance",
        plan=_agenda_missing_plan,
        context=_context,
        deadline=lambda meeting: meeting.starts_at,
        candidates=_candidates,
        audience="Secrétaire du comité (à défaut son président, puis le secrétariat)",
    )
)
