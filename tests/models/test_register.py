"""The decision register's model: unique positions and the immutability guard (DecisionLocked)."""

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.models import Decision
from app.models.committees import AgendaItem
from app.models.register import DecisionLocked, RegisterEntry
from app.services import register as register_service
from tests.factories import make_committee_meeting
from tests.models.test_committees import flush_fails


def test_register_positions_are_unique(db_session):
    meeting = make_committee_meeting("CSIC-TECH")
    item = AgendaItem(meeting_id=meeting.id, position=1, kind="libre", title="Point")
    db.session.add(item)
    db.session.flush()
    decision = Decision(
        item_id=item.id,
        meeting_id=meeting.id,
        committee_id=meeting.committee_id,
        mode="consensus",
        outcome="adopte",
        recorded_at=datetime.now(UTC),
    )
    db.session.add(decision)
    db.session.flush()
    first = register_service.append(decision, "recorded")
    assert first.position == 1 and first.prev_hash == register_service.GENESIS
    flush_fails(
        RegisterEntry(
            position=1,
            decision_id=decision.id,
            event="recorded",
            payload="{}",
            content_hash="x",
            prev_hash="y",
            entry_hash="z",
        )
    )


def test_published_decisions_and_register_entries_cannot_be_changed_through_the_orm(db_session):
    meeting = make_committee_meeting("CSIC-TECH")
    item = AgendaItem(meeting_id=meeting.id, position=1, kind="libre", title="Point")
    db.session.add(item)
    db.session.flush()
    decision = Decision(
        item_id=item.id,
        meeting_id=meeting.id,
        committee_id=meeting.committee_id,
        mode="consensus",
        outcome="adopte",
        recorded_at=datetime.now(UTC),
    )
    db.session.add(decision)
    db.session.flush()
    entry = register_service.append(decision, "recorded")
    decision.motivation = "Avant publication : possible"
    db.session.flush()
    decision.locked = True
    db.session.flush()
    with pytest.raises(DecisionLocked):
        with db.session.begin_nested():
            decision.outcome = "rejete"
            db.session.flush()
    with pytest.raises(DecisionLocked):
        with db.session.begin_nested():
            db.session.delete(db.session.get(RegisterEntry, entry.id))
            db.session.flush()
    assert db.session.get(Decision, decision.id).outcome == "adopte"
