"""The minutes (procès-verbal) of a held meeting: saved while the meeting is held, reviewed by the président
(or the secretariat), published — the meeting's decisions then become immutable, the porteurs of its
dossiers are told the decision (with its amounts and conditions), the others concerned get their extract.

Every function takes the acting user as `actor=`, flushes, never commits, and writes one audit entry.
"""

from datetime import UTC, datetime

from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models.committees import Meeting, MeetingState
from ..models.minutes import Minutes, MinutesState
from ..permissions import can_review_minutes, can_run_meeting
from . import audit, dossiers_notifications, mail, meetings
from .committees import TEXT_MAX, _clean, meeting_path, members, notify, porteurs_concerned
from .errors import DomainError, NotAllowed, StaleVersion, ValidationFailed


def save(meeting: Meeting, *, notes: str, item_notes: dict[int, str], version: int, actor) -> Minutes:
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas rédiger ce procès-verbal.")
    minutes = meeting.minutes
    if meeting.state != MeetingState.TENUE or minutes is None:
        raise DomainError("Le procès-verbal se rédige une fois la séance ouverte, jusqu'à sa publication.")
    notes = _clean(notes)
    errors = {}
    if len(notes) > TEXT_MAX * 5:
        errors["notes"] = f"Les notes ne doivent pas dépasser {TEXT_MAX * 5} caractères."
    cleaned = {}
    for item in meeting.items:
        text = _clean(item_notes.get(item.id, item.notes))
        if len(text) > TEXT_MAX:
            errors[f"item-{item.id}"] = f"Les notes du point {item.position} dépassent {TEXT_MAX} caractères."
        cleaned[item.id] = text
    if errors:
        raise ValidationFailed(errors)
    if version != minutes.version:
        raise StaleVersion(minutes)
    changed = notes != minutes.notes or any(cleaned[i.id] != i.notes for i in meeting.items)
    if not changed:
        return minutes
    minutes.notes = notes
    for item in meeting.items:
        item.notes = cleaned[item.id]
    if minutes.state == MinutesState.RELU:  # edited after review: to be reviewed again
        minutes.state, minutes.reviewed_by_id, minutes.reviewed_at = MinutesState.BROUILLON, None, None
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise StaleVersion(db.session.get(Minutes, minutes.id)) from None
    audit.record("minutes.updated", meeting, actor=actor, summary=f"Procès-verbal modifié : {meeting.label}")
    return minutes


def review(meeting: Meeting, *, actor) -> Minutes:
    if not can_review_minutes(actor, meeting):
        raise NotAllowed("La relecture revient au président du comité ou au secrétariat.")
    minutes = meeting.minutes
    if minutes is None or meeting.state != MeetingState.TENUE or minutes.state != MinutesState.BROUILLON:
        raise DomainError("Seul un procès-verbal en brouillon d'une séance tenue peut être relu.")
    minutes.state, minutes.reviewed_by_id, minutes.reviewed_at = (
        MinutesState.RELU,
        actor.id,
        datetime.now(UTC),
    )
    audit.record("minutes.reviewed", meeting, actor=actor, summary=f"Procès-verbal relu : {meeting.label}")
    return minutes


def publish(meeting: Meeting, *, actor) -> Minutes:
    """Publish the minutes: the meeting's decisions become immutable; those concerned get their extract."""
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas publier ce procès-verbal.")
    minutes = meeting.minutes
    if minutes is None or minutes.state != MinutesState.RELU:
        raise DomainError("Le procès-verbal doit être relu avant d'être publié.")
    minutes.state, minutes.published_by_id, minutes.published_at = (
        MinutesState.PUBLIE,
        actor.id,
        datetime.now(UTC),
    )
    meetings.transition(meeting, MeetingState.PV_PUBLIE, actor=actor)
    meetings.release_undecided_dossiers(meeting, actor=actor)
    for item in meeting.items:
        for decision in item.decisions:
            decision.locked = True
    db.session.flush()
    notify(
        [m.user for m in members(meeting.committee)],
        "committee.minutes_published",
        meeting,
        subject=f"Procès-verbal publié : {meeting.label}",
        url=meeting_path(meeting) + "/proces-verbal",
    )
    for item in meeting.items:
        decision = item.decision
        if decision is not None and item.dossier_id is not None:  # final now: told with its amounts
            dossiers_notifications.decision_communicated(
                item.dossier_id,
                decision,
                minutes_url=mail.link("committees.minutes.show", meeting_id=meeting.id),
            )
            continue
        extract = (
            f"{item.title}\nDécision : {decision.outcome_enum.label}\n{decision.motivation}"
            if decision
            else f"{item.title}\nSans décision."
        )
        notify(
            porteurs_concerned(meeting, item),
            "committee.minutes_published",
            meeting,
            subject=f"Extrait du procès-verbal : {item.title}",
            body=extract,
            url=meeting_path(meeting) + "/proces-verbal",
        )
    return minutes
