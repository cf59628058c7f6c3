"""Dossier attachments: type checked by content, size limit, required pieces."""

import pytest

from app.services import dossier_attachments as attachments
from app.services import dossiers as service
from app.services.errors import ValidationFailed
from tests.factories import guichet_by_code, make_dossier

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_attachment_type_checked_by_content(porteur, app):
    dossier = make_dossier(porteur)
    with pytest.raises(ValidationFailed) as error:
        attachments.add_attachment(
            dossier, filename="faux.pdf", content=b"<html>not a pdf</html>", kind="", actor=porteur
        )
    assert "type vérifié d'après son contenu" in error.value.errors["file"]
    attachment = attachments.add_attachment(
        dossier, filename="../../etc/note.pdf", content=PDF, kind="", actor=porteur
    )
    path = attachments.attachment_path(attachment)
    assert path.read_bytes() == PDF and str(path).startswith(str(app.config["UPLOAD_DIR"]))
    assert "static" not in str(path) and attachment.filename == "note.pdf"


def test_attachment_too_large(porteur):
    dossier = make_dossier(porteur)
    with pytest.raises(ValidationFailed) as error:
        attachments.add_attachment(
            dossier, filename="gros.pdf", content=PDF + b"0" * 2048, kind="", actor=porteur, max_bytes=1024
        )
    assert "dépasse la taille autorisée" in error.value.errors["file"]


def test_required_attachment_completes_the_section(porteur):
    guichet = guichet_by_code("SNAP4")
    guichet.required_attachments = "Note explicative du projet"
    dossier = make_dossier(porteur)
    assert service.completeness(dossier)["pieces"] == ["Note explicative du projet"]
    attachments.add_attachment(
        dossier, filename="note.pdf", content=PDF, kind="Note explicative du projet", actor=porteur
    )
    assert service.completeness(dossier)["pieces"] == []
