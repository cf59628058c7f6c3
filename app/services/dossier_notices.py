"""Notices of the convention, follow-up and agenda-proposal steps of a dossier: who is told, in-app and by
mail (text + HTML, absolute links from BASE_URL), through app/services/notifications.py and the outbox (sent
after the commit of the caller's transaction).
"""

from flask import current_app

from ..models import Guichet, User
from . import dossiers as dossier_service
from . import guichets, mail, notifications

KINDS = {
    "dossier.proposed": (
        "Dossier proposé pour l'ordre du jour d'un comité",
        "Secrétariat, porteurs du dossier",
    ),
    "dossier.contract_ready": ("Convention prête à signer", "Porteurs du dossier"),
    "dossier.contract_signed": ("Convention signée", "Porteurs et instructeurs du dossier"),
    "followup.started": ("Suivi d'un dossier financé démarré", "Porteurs et instructeurs du dossier"),
    "followup.report_recorded": ("Compte rendu de suivi à valider", "Instructeurs du dossier"),
    "followup.report_reviewed": ("Compte rendu de suivi validé ou questionné", "Porteurs du dossier"),
    "followup.closed": ("Suivi clos (bilan final)", "Porteurs et instructeurs du dossier"),
}
for _name, (_label, _audience) in KINDS.items():
    if _name not in notifications.KINDS:
        notifications.declare_kind(_name, _label, audience=_audience)


def porteurs(dossier) -> list[User]:
    return dossier_service.porteurs(dossier.id)


def instructors(dossier) -> list[User]:
    """The instructeurs of the dossier's guichet and of its ancestors."""
    chain: list[Guichet] = [dossier.guichet, *dossier.guichet.ancestors()]
    return [user for guichet in chain for user in guichets.instructors(guichet)]


def tell(users, kind: str, dossier, *, subject: str, body: str, endpoint: str, **values) -> int:
    """Notify each distinct active user once (in-app link relative, mail link absolute); returns the count."""
    path = current_app.url_map.bind("localhost", script_name="/").build(endpoint, values)
    absolute = mail.link(endpoint, **values)
    seen: set[int] = set()
    for user in users:
        if user is None or user.id in seen or not user.active:
            continue
        seen.add(user.id)
        notifications.notify(
            user,
            kind,
            dossier,
            subject=subject,
            body=body,
            url=path,
            email=mail.render("notification", subject=subject, body=body, url=absolute, user=user),
        )
    return len(seen)
