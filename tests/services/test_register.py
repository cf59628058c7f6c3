"""The hash-chained decision register (app/services/register.py): rectifications keep it valid, edits made
directly in the database are detected."""

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models.register import RegisterEntry
from app.services import decisions as decision_service
from app.services import minutes as minutes_service
from app.services import register as register_service
from app.services.errors import DomainError, ValidationFailed
from tests.services import test_committees as committees_tests

# the fixtures and helpers of the committee tests: a CSIC-Tech meeting held with its board
secretariat, board, held = committees_tests.secretariat, committees_tests.board, committees_tests.held
present = committees_tests.present


def test_rectifying_decision_is_linked_and_keeps_the_register_valid(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    decision = decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    with pytest.raises(DomainError, match="pas encore publié"):
        decision_service.rectify_decision(decision, motivation="Erreur", actor=secretariat)
    minutes_service.review(meeting, actor=secretariat)
    minutes_service.publish(meeting, actor=secretariat)
    with pytest.raises(ValidationFailed, match="ne renverse pas"):
        decision_service.rectify_decision(decision, outcome="ecartee", motivation="Erreur", actor=secretariat)
    rectification = decision_service.rectify_decision(
        decision, motivation="Erreur matérielle sur l'intitulé.", actor=secretariat
    )
    assert rectification.rectifies_id == decision.id and rectification.locked
    db.session.expire_all()
    assert item.decision.id == rectification.id and decision.rectified_by.id == rectification.id
    with pytest.raises(DomainError, match="déjà été rectifiée"):
        decision_service.rectify_decision(decision, motivation="Encore", actor=secretariat)
    check = register_service.verify()
    assert check.ok and check.entries == 2
    assert [e.event for e in db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position))] == [
        "recorded",
        "rectified",
    ]


def test_register_detects_edits_made_directly_in_the_database(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    first = decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    decision_service.record_decision(
        other, outcome="renvoyee", mode="consensus", motivation="À préciser", actor=secretariat
    )
    assert register_service.verify().ok
    entries = db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position)).all()
    assert entries[1].prev_hash == entries[0].entry_hash and entries[0].prev_hash == "0" * 64
    # someone edits a decision row behind the application's back
    db.session.execute(text("UPDATE decisions SET motivation = 'falsifié' WHERE id = :id"), {"id": first.id})
    db.session.expire_all()
    check = register_service.verify()
    assert not check.ok
    assert check.problems == [(1, f"La décision n° {first.id} a été modifiée hors registre.")]
    # …and then tries to cover it by rewriting the register payload
    db.session.execute(
        text(
            'UPDATE register_entries SET payload = replace(payload, \'"motivation":""\', '
            '\'"motivation":"falsifié"\') WHERE position = 1'
        )
    )
    db.session.expire_all()
    messages = [m for _, m in register_service.verify().problems]
    assert "Contenu modifié : son empreinte ne correspond plus." in messages


def test_register_detects_a_recomputed_entry_by_the_broken_chain(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    decision_service.record_decision(other, outcome="validee", mode="consensus", actor=secretariat)
    entry = db.session.scalar(select(RegisterEntry).where(RegisterEntry.position == 1))
    forged = entry.payload.replace('"outcome":"validee"', '"outcome":"ecartee"')
    content = register_service.sha256(forged)
    db.session.execute(
        text("UPDATE register_entries SET payload = :p, content_hash = :c WHERE position = 1"),
        {"p": forged, "c": content},
    )
    db.session.expire_all()
    messages = [m for _, m in register_service.verify().problems]
    assert "Empreinte de l'entrée incorrecte." in messages
