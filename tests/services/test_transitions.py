"""The one transition helper (app/services/transitions.py) on a real state machine: the meeting."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, MeetingState, MeetingTransition
from app.services import transitions
from app.services.errors import DomainError, ValidationFailed
from tests.factories import make_committee_meeting, make_user


def _move(meeting, to, **kw):
    return transitions.apply(
        meeting,
        to,
        log=MeetingTransition,
        action="session.agenda_published",
        summary=f"{meeting.label} : test",
        meeting_id=meeting.id,
        **kw,
    )


def test_an_allowed_move_changes_the_state_logs_it_and_audits_it(db_session):
    meeting = make_committee_meeting("CSIC-TECH")
    secretary = make_user("secretariat")
    old = _move(meeting, MeetingState.ODJ_PUBLIE, actor=secretary, reason="Ordre du jour prêt")
    db.session.flush()
    assert old == MeetingState.PLANIFIEE and meeting.state == MeetingState.ODJ_PUBLIE
    [row] = db.session.scalars(select(MeetingTransition).where(MeetingTransition.meeting_id == meeting.id))
    assert (row.from_label, row.to_label, row.reason, row.actor_id) == (
        MeetingState.PLANIFIEE.label,
        MeetingState.ODJ_PUBLIE.label,
        "Ordre du jour prêt",
        secretary.id,
    )
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "session.agenda_published" and entry.changes == {
        "state": ["planifiee", "odj_publie"]
    }


def test_a_move_outside_the_table_is_refused_in_french_and_changes_nothing(db_session):
    meeting = make_committee_meeting("CSIC-TECH")
    with pytest.raises(DomainError, match="Passage de « Planifiée » à « Procès-verbal publié » non autorisé"):
        _move(meeting, MeetingState.PV_PUBLIE, actor=None)
    assert meeting.state == MeetingState.PLANIFIEE
    assert not db.session.scalars(
        select(MeetingTransition).where(MeetingTransition.meeting_id == meeting.id)
    ).all()


def test_a_service_can_report_the_refusal_at_a_field(db_session):
    meeting = make_committee_meeting("CSIC-TECH")
    with pytest.raises(ValidationFailed) as refused:
        _move(meeting, MeetingState.PV_PUBLIE, actor=None, error=lambda m: ValidationFailed({"state": m}))
    assert "non autorisé" in refused.value.errors["state"]
