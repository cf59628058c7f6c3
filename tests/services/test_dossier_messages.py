"""Dossier conversation: messages with files and read status, private annotations."""

import pytest

from app.extensions import db
from app.services import dossier_messages as conversation
from app.services import dossiers as service
from app.services.errors import NotAllowed, ValidationFailed
from tests.factories import (
    complete_dossier,
    make_dossier,
    make_instructor,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def submitted(porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    return dossier


@pytest.fixture
def instructor(db_session):
    return make_instructor("SNAP4")


def test_messages_with_attachments_and_read_status(submitted, porteur, instructor):
    message = conversation.post_message(
        submitted, body="Pouvez-vous préciser ?", files=[("note.pdf", PDF)], actor=instructor
    )
    assert message.attachments[0].mimetype == "application/pdf"
    assert not message.read_by(porteur) and message.read_by(instructor)
    assert conversation.mark_read([message], actor=porteur) == 1
    assert conversation.mark_read([message], actor=porteur) == 0
    db.session.expire(message)
    assert message.read_by(porteur)


def test_message_with_a_refused_file_saves_nothing(submitted, instructor):
    with pytest.raises(ValidationFailed) as error:
        conversation.post_message(
            submitted,
            body="Voir pièce",
            files=[("ok.pdf", PDF), ("virus.pdf", b"MZ\x90\x00")],
            actor=instructor,
        )
    assert "n'est pas un PDF, ODT, DOCX, XLSX ou ODS" in error.value.errors["files"]


def test_annotations_are_for_instruction_only(submitted, porteur, instructor):
    conversation.annotate(submitted, body="Vérifier le cofinancement DILA.", actor=instructor)
    with pytest.raises(NotAllowed):
        conversation.annotate(submitted, body="Je suis le porteur", actor=porteur)
