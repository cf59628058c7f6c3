"""Committee models: database constraints, computed properties, the published-decision guard."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Committee, Decision
from app.models.committees import (
    MEETING_TRANSITIONS,
    AgendaItem,
    Attendance,
    DecisionAmount,
    MeetingState,
    MemberFunction,
    Outcome,
)
from tests.factories import make_committee_meeting, make_committee_members


def flush_fails(obj) -> None:
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(obj)
            db.session.flush()


def test_committee_rules_are_checked_by_the_database(db_session):
    committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC"))
    committee.quorum_rule = "un_peu"
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.flush()


def test_cancelled_meeting_needs_a_reason(db_session):
    meeting = make_committee_meeting("CSIC")
    meeting.state = "annulee"
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.flush()


def test_attendance_proxy_constraints(db_session):
    committee, (president, member) = make_committee_members("CSIC", ("president", "membre"))
    meeting = make_committee_meeting("CSIC")
    flush_fails(Attendance(meeting_id=meeting.id, user_id=member.id, function="membre", status="represente"))
    flush_fails(
        Attendance(
            meeting_id=meeting.id,
            user_id=member.id,
            function="membre",
            status="present",
            proxy_id=president.id,
        )
    )
    flush_fails(
        Attendance(
            meeting_id=meeting.id,
            user_id=member.id,
            function="membre",
            status="represente",
            proxy_id=member.id,
        )
    )


def test_agenda_items_need_their_object_and_decisions_their_texts(db_session):
    meeting = make_committee_meeting("CSIC-TECH")
    flush_fails(AgendaItem(meeting_id=meeting.id, position=1, kind="opportunite", title="Sans opportunité"))
    item = AgendaItem(meeting_id=meeting.id, position=1, kind="libre", title="Point libre")
    db.session.add(item)
    db.session.flush()
    base = {
        "item_id": item.id,
        "meeting_id": meeting.id,
        "committee_id": meeting.committee_id,
        "mode": "consensus",
    }
    flush_fails(Decision(outcome="accepte_sous_conditions", **base))
    flush_fails(Decision(outcome="ajourne", **base))
    flush_fails(Decision(outcome="inconnu", **base))
    decision = Decision(outcome="adopte", **base)
    db.session.add(decision)
    db.session.flush()
    flush_fails(DecisionAmount(decision_id=decision.id, year=2027, ae=-1, cp=0))


def test_enums_and_transitions():
    assert not MemberFunction.INVITE.votes and MemberFunction.SECRETAIRE.votes
    assert Outcome.ACCEPTE_SOUS_CONDITIONS.positive and not Outcome.AJOURNE.positive
    assert MEETING_TRANSITIONS[MeetingState.PV_PUBLIE] == set()
    assert MeetingState.TENUE in MEETING_TRANSITIONS[MeetingState.ODJ_PUBLIE]
