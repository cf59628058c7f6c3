"""Dossier conversation: messages between the porteur side and the instruction (with attached files),
who read them, and the instruction team's private annotations.
"""

from flask import current_app

from ..extensions import db
from ..models.dossiers import Dossier, DossierAnnotation, DossierMessage, MessageRead
from ..permissions import can_annotate_dossier, can_message_dossier
from . import audit, dossiers_notifications
from .dossier_attachments import check_file, check_room, store
from .dossier_sections import clean
from .errors import NotAllowed, ValidationFailed


def annotate(dossier: Dossier, *, body: str, actor) -> DossierAnnotation:
    if not can_annotate_dossier(actor, dossier):
        raise NotAllowed("Les annotations privées sont réservées à l'instruction.")
    body = clean(body)
    if not body:
        raise ValidationFailed({"body": "L'annotation est vide."})
    if len(body) > 5000:
        raise ValidationFailed({"body": "L'annotation ne doit pas dépasser 5000 caractères."})
    annotation = DossierAnnotation(dossier_id=dossier.id, author_id=actor.id, body=body)
    db.session.add(annotation)
    audit.record(
        "annotation.created", dossier, actor=actor, summary=f"Annotation privée sur {dossier.reference}"
    )
    return annotation


def post_message(
    dossier: Dossier, *, body: str, files: list[tuple[str, bytes]], actor, max_bytes: int | None = None
) -> DossierMessage:
    if not can_message_dossier(actor, dossier):
        raise NotAllowed("Vous ne pouvez pas écrire sur ce dossier.")
    body = clean(body)
    if not body:
        raise ValidationFailed({"body": "Le message est vide."})
    if len(body) > 10_000:
        raise ValidationFailed({"body": "Le message ne doit pas dépasser 10 000 caractères."})
    per_message = int(current_app.config.get("MAX_FILES_PER_MESSAGE", 5) or 0)
    if per_message and len(files) > per_message:
        raise ValidationFailed({"files": f"Joignez au plus {per_message} fichiers à un message."})
    check_room(dossier, len(files), field="files")
    for name, content in files:
        check_file(
            name, content, field="files", max_bytes=max_bytes
        )  # all checked before anything is written
    message = DossierMessage(dossier_id=dossier.id, author_id=actor.id, body=body)
    db.session.add(message)
    db.session.flush()
    for name, content in files:
        store(
            dossier,
            name,
            content,
            kind="Message",
            actor=actor,
            field="files",
            max_bytes=max_bytes,
            message=message,
        )
    audit.record("message.posted", dossier, actor=actor, summary=f"Message sur {dossier.reference}")
    dossiers_notifications.message_posted(message, actor=actor)
    return message


def mark_read(messages: list[DossierMessage], *, actor) -> int:
    """Mark the messages as read by `actor` (idempotent); returns how many were newly read."""
    count = 0
    for message in messages:
        if not message.read_by(actor):
            message.reads.append(MessageRead(user_id=actor.id))
            count += 1
    db.session.flush()
    return count
