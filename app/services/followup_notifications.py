"""What the tranches and avenants of a funded dossier tell people, in the app and by e-mail, heard from
`transitions.on_applied(Tranche, …)` and `on_applied(Avenant, …)`: in the caller's transaction, the mail
through the outbox after its commit, never if it rolls back.

- A tranche released, suspended, cancelled or back to « prévue »: the porteurs and the instructeurs.
- An avenant signed (what it changes) or abandoned: the porteurs and the instructeurs.
"""

from ..extensions import db
from ..formatting import format_date, format_euros
from ..models.dossiers import Dossier
from ..models.followup import Avenant, AvenantState, Tranche, TrancheState
from . import avenants, dossier_notices, notifications, transitions

KINDS = {
    "followup.tranche_moved": (
        "Tranche de financement débloquée, suspendue ou annulée",
        "Porteurs et instructeurs",
    ),
    "followup.avenant_moved": ("Avenant au contrat signé ou abandonné", "Porteurs et instructeurs"),
}
for _name, (_label, _audience) in KINDS.items():
    if _name not in notifications.KINDS:
        notifications.declare_kind(_name, _label, audience=_audience)


def _people(dossier) -> list:
    return [*dossier_notices.porteurs(dossier), *dossier_notices.instructors(dossier)]


def _tranche_moved(tranche: Tranche, old, new, *, actor=None, reason=None) -> None:
    dossier = db.session.get(Dossier, tranche.dossier_id)
    if new == TrancheState.DEBLOQUEE:
        subject = (
            f"{dossier.reference} : tranche n° {tranche.number} débloquée ({format_euros(tranche.amount)})"
        )
        body = (
            f"Le secrétariat du fonds a débloqué la tranche n° {tranche.number} le "
            f"{format_date(tranche.released_on)} : {format_euros(tranche.amount)}."
        )
    else:
        subject = f"{dossier.reference} : tranche n° {tranche.number} {new.label.lower()}"
        body = f"La tranche n° {tranche.number} ({tranche.quarter_label}) est {new.label.lower()}." + (
            f"\nRaison : {reason}" if reason else ""
        )
    dossier_notices.tell(
        _people(dossier),
        "followup.tranche_moved",
        dossier,
        subject=subject,
        body=body,
        endpoint="followup.show",
        dossier_id=dossier.id,
    )


def _avenant_moved(avenant: Avenant, old, new, *, actor=None, reason=None) -> None:
    dossier = db.session.get(Dossier, avenant.dossier_id)
    if new == AvenantState.SIGNE:
        subject = (
            f"{dossier.reference} : avenant n° {avenant.number} signé le {format_date(avenant.signed_on)}"
        )
        body = f"Objet : {avenant.object}\nModifications : {avenants.changes_text(avenant)}."
    else:
        subject = f"{dossier.reference} : avenant n° {avenant.number} abandonné"
        body = f"Objet : {avenant.object}" + (f"\nRaison : {reason}" if reason else "")
    dossier_notices.tell(
        _people(dossier),
        "followup.avenant_moved",
        dossier,
        subject=subject,
        body=body,
        endpoint="followup.show",
        dossier_id=dossier.id,
    )


transitions.on_applied(Tranche, _tranche_moved)
transitions.on_applied(Avenant, _avenant_moved)
