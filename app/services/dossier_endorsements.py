"""The DNUM endorsement of France Relance dossiers: the porteur ministry's digital directorate (a `dsi`
member of that ministry) endorses — or refuses to endorse — a deposited dossier before the instructeurs
act on it. The ministries' DNUMs « font naître, constituent, déposent » the dossiers and « sont garantes
de leur exécution » ([003] §1). Notifications go through app/services/notifications.py.
"""

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Role, User, UserRole
from ..models.dossiers import Dossier, DossierEndorsement, EndorsementDecision
from ..permissions import can_endorse_dossier
from . import audit, notifications
from .errors import NotAllowed, ValidationFailed
from .guichets import instructors

ENDORSEMENT_REQUESTED = notifications.declare_kind(
    "dossier.endorsement_requested",
    "Dossier France Relance à viser par la DNUM du ministère porteur",
    audience="Membres DSI du ministère porteur",
)
ENDORSED = notifications.declare_kind(
    "dossier.endorsed",
    "Visa de la DNUM donné ou refusé sur un dossier France Relance",
    audience="Porteur du dossier, instructeurs du guichet",
)


def dnum_members(dossier: Dossier) -> list[User]:
    """The DSI members of the porteur's ministry."""
    if dossier.porteur_organisation_id is None:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == Role.DSI, UserRole.organisation_id == dossier.porteur_organisation_id)
            .order_by(User.id)
        ).unique()
    )


def pending(dossier: Dossier) -> bool:
    """The dossier waits for its DNUM visa: France Relance, deposited, not endorsed yet, and its ministry
    has a DSI member to endorse it (without one, nobody could: the step is skipped, the page says so)."""
    return dossier.awaits_endorsement and bool(dnum_members(dossier))


def _url(dossier: Dossier) -> str:
    """The in-app path of the visa block; the mail makes it absolute on BASE_URL (mail.absolute), so that it
    works without a request (a job, the CLI) and never carries the request's host."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return adapter.build("dossiers.show", {"dossier_id": dossier.id}) + "#visa-dnum"


def request_endorsement(dossier: Dossier) -> None:
    """After a France Relance deposit: ask the porteur ministry's DNUM for its visa (nothing otherwise)."""
    if not dossier.needs_endorsement or not dossier.awaits_endorsement:
        return
    for user in dnum_members(dossier):
        notifications.notify(
            user,
            ENDORSEMENT_REQUESTED.name,
            dossier,
            subject=f"Dossier {dossier.reference} à viser : {dossier.title}",
            body=(
                f"Le dossier {dossier.reference} ({dossier.guichet.code}, France Relance) a été déposé pour "
                f"votre ministère. Il attend le visa de la DNUM avant son instruction."
            ),
            url=_url(dossier),
        )


def endorse(dossier: Dossier, *, decision: str, comment: str, actor) -> DossierEndorsement:
    """The DNUM endorses (« vise ») or refuses; a refusal says why. The porteur and instructeurs are told."""
    if not can_endorse_dossier(actor, dossier):
        raise NotAllowed("Seule la DNUM du ministère porteur vise ce dossier.")
    try:
        decision = EndorsementDecision(decision)
    except ValueError:
        raise ValidationFailed({"decision": "Choisissez : viser le dossier ou refuser le visa."}) from None
    comment = (comment or "").strip()
    if decision == EndorsementDecision.REFUSE and not comment:
        raise ValidationFailed({"comment": "Motivez le refus de visa."})
    if len(comment) > 5000:
        raise ValidationFailed({"comment": "5 000 caractères au maximum."})
    row = DossierEndorsement(
        organisation_id=dossier.porteur_organisation_id, decision=decision, comment=comment, by_id=actor.id
    )
    dossier.endorsements.append(row)
    db.session.flush()
    audit.record(
        "dossier.endorsed" if decision == EndorsementDecision.VISE else "dossier.endorsement_refused",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : {decision.label} par la DNUM ({dossier.porteur_organisation.code})",
    )
    recipients = {dossier.created_by_id: dossier.created_by}
    for user in instructors(dossier.guichet):
        recipients[user.id] = user
    for user in recipients.values():
        notifications.notify(
            user,
            ENDORSED.name,
            dossier,
            subject=f"Dossier {dossier.reference} : {decision.label.lower()} par la DNUM",
            body=comment or f"La DNUM du ministère porteur a visé le dossier {dossier.reference}.",
            url=_url(dossier),
        )
    return row
