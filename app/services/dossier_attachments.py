"""Dossier attachments: files checked by their content, stored under UPLOAD_DIR, listed in the « Pièces
jointes » section or attached to a message (app/services/dossier_messages.py stores through `store`).
"""

import re
import secrets
from pathlib import Path

import filetype
from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models.dossiers import Dossier, DossierAttachment, DossierMessage
from ..permissions import can_edit_section
from . import audit
from .dossier_sections import clean
from .errors import NotAllowed, ValidationFailed

ALLOWED_TYPES = {
    "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024

# --- attachments ---------------------------------------------------------------------------------


def upload_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "dossiers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_file(filename: str, content: bytes, *, field: str, max_bytes: int | None) -> tuple[str, str]:
    """Type checked by content (magic bytes), not by the name; returns (extension, mimetype)."""
    limit = max_bytes or DEFAULT_MAX_FILE_BYTES
    if not filename or not content:
        raise ValidationFailed({field: "Choisissez un fichier."})
    if len(content) > limit:
        raise ValidationFailed(
            {field: f"Le fichier « {filename} » dépasse la taille autorisée ({limit // (1024 * 1024)} Mo)."}
        )
    kind = filetype.guess(content)
    if kind is None or kind.extension not in ALLOWED_TYPES:
        raise ValidationFailed(
            {
                field: f"Le fichier « {filename} » n'est pas un PDF, ODT, DOCX, XLSX ou ODS "
                "(type vérifié d'après son contenu)."
            }
        )
    return kind.extension, ALLOWED_TYPES[kind.extension]


def check_room(dossier: Dossier, adding: int, *, field: str) -> None:
    """At most MAX_FILES_PER_DOSSIER files on a dossier, its pieces and its messages' files together."""
    limit = int(current_app.config.get("MAX_FILES_PER_DOSSIER", 50) or 0)
    if not limit or not adding:
        return
    count = db.session.scalar(
        select(func.count()).select_from(DossierAttachment).where(DossierAttachment.dossier_id == dossier.id)
    )
    if count + adding > limit:
        raise ValidationFailed(
            {
                field: f"Un dossier compte au plus {limit} fichiers (pièces et fichiers des messages) : "
                f"il en a déjà {count}. Retirez une pièce devenue inutile ou regroupez des documents."
            }
        )


def stored_filename(filename: str, extension: str) -> str:
    """The shown and downloaded name: the sender's, with the extension of the type found in the content
    (a PDF named « page.html » is offered as « page.pdf »)."""
    stem = re.sub(r"[^\w.\- ]", "_", Path(filename).stem).strip(" .")[:190]
    return f"{stem or 'piece'}.{extension}"


def store(
    dossier: Dossier,
    filename: str,
    content: bytes,
    *,
    kind: str,
    actor,
    field: str,
    max_bytes: int | None,
    message: DossierMessage | None = None,
) -> DossierAttachment:
    extension, mimetype = check_file(filename, content, field=field, max_bytes=max_bytes)
    safe = stored_filename(filename, extension)
    stored = f"{secrets.token_hex(16)}.{extension}"
    (upload_dir() / stored).write_bytes(content)
    attachment = DossierAttachment(
        dossier=dossier,
        kind=kind,
        filename=safe,
        stored_name=stored,
        mimetype=mimetype,
        size=len(content),
        uploaded_by_id=actor.id,
    )
    if message is not None:
        attachment.message_id = message.id
    db.session.add(attachment)
    return attachment


def add_attachment(
    dossier: Dossier, *, filename: str, content: bytes, kind: str, actor, max_bytes: int | None = None
) -> DossierAttachment:
    if not can_edit_section(actor, dossier, "pieces"):
        raise NotAllowed("Les pièces jointes ne sont pas modifiables.")
    kind = clean(kind)
    if kind and kind not in dossier.guichet.required_attachment_list and kind != "Autre":
        raise ValidationFailed({"kind": "Type de pièce inconnu."})
    check_room(dossier, 1, field="file")
    attachment = store(
        dossier, filename, content, kind=kind or "Autre", actor=actor, field="file", max_bytes=max_bytes
    )
    audit.record(
        "dossier.attachment_added",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : pièce « {attachment.filename} » ajoutée",
    )
    return attachment


def remove_attachment(attachment: DossierAttachment, *, actor) -> None:
    dossier = attachment.dossier
    if attachment.message_id is not None or not can_edit_section(actor, dossier, "pieces"):
        raise NotAllowed("Cette pièce n'est pas modifiable.")
    db.session.delete(attachment)
    audit.record(
        "dossier.attachment_removed",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : pièce « {attachment.filename} » retirée",
    )


def attachment_path(attachment: DossierAttachment) -> Path:
    return upload_dir() / attachment.stored_name
