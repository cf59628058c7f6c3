"""Avenants: amendments of a funded dossier's transformation contract ([000] §8, [001] §8, [004] §8).

[000] §8: « Le présent contrat peut être modifié par voie d'avenant, à l'exception de l'annexe relative aux
nomenclatures budgétaires d'exécution qui peut être modifiée à l'initiative du secrétariat du FTAP. Le lauréat
s'engage à alerter le secrétariat général du Fonds […] dès la survenance d'un événement affectant le bon
déroulement du projet, lequel sera susceptible d'entraîner la conclusion d'un avenant. »

The secretariat records an avenant « en projet » (its object and what it changes: the total amount granted,
the end date, one jalon's date), then its signature (date, signed file) → « signé »: only then do its changes
apply to the dossier (the former values kept on the avenant), audited; or abandons it with a reason. The
moves go through app/services/transitions.py (log, audit, listeners: app/services/followup_notifications.py).
"""

from datetime import date

from sqlalchemy import func, select

from .. import permissions
from ..domain.followup import parse_date, parse_int
from ..extensions import db
from ..formatting import format_date, format_euros, paris_today
from ..models.dossiers import DossierState
from ..models.followup import Avenant, AvenantState, AvenantTransition
from . import audit, dossier_attachments, transitions
from . import followup as followup_service
from .errors import DomainError, NotAllowed, ValidationFailed

SIGNED_KIND = "Avenant signé"
TEXT_MAX = 5000


def avenants_of(dossier) -> list[Avenant]:
    return list(
        db.session.scalars(select(Avenant).where(Avenant.dossier_id == dossier.id).order_by(Avenant.number))
    )


def decision_total(dossier) -> int:
    """The AE granted by the decision in force (the sum of its yearly amounts)."""
    return sum(ae for ae, _ in followup_service.granted_amounts(dossier.id).values())


def granted_total(
    dossier, avenants: list[Avenant] | None = None, *, decision: int | None = None
) -> tuple[int, Avenant | None]:
    """The total AE granted now (last signed avenant setting it, else the decision's), and that avenant."""
    avenants = avenants if avenants is not None else avenants_of(dossier)
    signed = [a for a in avenants if a.state_enum == AvenantState.SIGNE and a.new_amount is not None]
    if signed:
        last = max(signed, key=lambda a: a.number)
        return last.new_amount, last
    return (decision if decision is not None else decision_total(dossier)), None


def _check(dossier, actor) -> None:
    if not permissions.can_record_avenant(actor, dossier):
        raise NotAllowed("Les avenants sont enregistrés par le secrétariat du fonds.")
    if dossier.state not in DossierState.FOLLOWED:
        raise DomainError(
            f"Le dossier est « {dossier.state_enum.label} » : un avenant modifie un contrat signé, "
            "jusqu'à la clôture du suivi."
        )


def _text(value, name: str, errors: dict, label: str) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > TEXT_MAX:
        errors[name] = f"{label} ne doit pas dépasser 5 000 caractères."
    return text


def _optional_date(value, name: str, errors: dict, label: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return parse_date(value, label=label)
    except ValueError as error:
        errors[name] = str(error)
        return None


def draft(
    dossier, *, object: str, new_amount=None, new_ends_on=None, jalon_id=None, jalon_new_due_on=None, actor
) -> Avenant:
    """An avenant « en projet »: its object and the changes it will bring once signed."""
    _check(dossier, actor)
    errors: dict[str, str] = {}
    text = _text(object, "object", errors, "L'objet")
    if not text and "object" not in errors:
        errors["object"] = "Indiquez l'objet de l'avenant (ce qu'il modifie et pourquoi)."
    amount = None
    if new_amount not in (None, ""):
        try:
            amount = parse_int(new_amount, label="Le nouveau montant accordé", minimum=1)
        except ValueError as error:
            errors["new_amount"] = str(error)
    ends_on = _optional_date(new_ends_on, "new_ends_on", errors, "Nouvelle date de fin")
    if ends_on and dossier.starts_on and ends_on <= dossier.starts_on:
        errors["new_ends_on"] = (
            f"La date de fin doit suivre le début du projet ({format_date(dossier.starts_on)})."
        )
    jalon = None
    if jalon_id not in (None, ""):
        jalon = next((j for j in dossier.jalons if str(j.id) == str(jalon_id)), None)
        if jalon is None:
            errors["jalon"] = "Choisissez un jalon du dossier."
    due_on = _optional_date(jalon_new_due_on, "jalon_new_due_on", errors, "Nouvelle date du jalon")
    if jalon is not None and due_on is None and "jalon_new_due_on" not in errors:
        errors["jalon_new_due_on"] = "Indiquez la nouvelle date du jalon choisi."
    if due_on is not None and jalon is None and "jalon" not in errors:
        errors["jalon"] = "Choisissez le jalon dont l'avenant change la date."
    end = ends_on or dossier.ends_on
    outside = [
        j
        for j in dossier.jalons
        if ends_on and j.due_on > ends_on and not (jalon is not None and j.id == jalon.id)
    ]
    if outside and "new_ends_on" not in errors:
        numbers = ", ".join(f"n° {j.number}" for j in outside)
        errors["new_ends_on"] = (
            f"Des jalons tomberaient après la nouvelle date de fin ({numbers}) : "
            "déplacez-les d'abord par avenant."
        )
    if due_on and end and due_on > end:
        errors["jalon_new_due_on"] = (
            f"Le jalon doit rester dans la période du projet (fin : {format_date(end)})."
        )
    if errors:
        raise ValidationFailed(errors)
    number = (
        db.session.scalar(select(func.max(Avenant.number)).where(Avenant.dossier_id == dossier.id)) or 0
    ) + 1
    avenant = Avenant(
        dossier_id=dossier.id,
        number=number,
        object=text,
        state=AvenantState.PROJET,
        new_amount=amount,
        new_ends_on=ends_on,
        jalon_id=jalon.id if jalon else None,
        jalon_new_due_on=due_on if jalon else None,
        created_by_id=actor.id,
    )
    db.session.add(avenant)
    audit.record(
        "avenant.drafted",
        avenant,
        actor=actor,
        summary=f"{dossier.reference} : avenant n° {number} en projet — {text[:200]}",
    )
    return avenant


def changes_text(avenant: Avenant) -> str:
    """What the avenant changes, in French (for notices, the follow-up page and the contract's §8)."""
    parts = []
    if avenant.new_amount is not None:
        parts.append(f"montant total accordé porté à {format_euros(avenant.new_amount)}")
    if avenant.new_ends_on is not None:
        parts.append(f"fin du projet au {format_date(avenant.new_ends_on)}")
    if avenant.jalon_new_due_on is not None:
        number = avenant.jalon.number if avenant.jalon else "?"
        parts.append(f"jalon n° {number} au {format_date(avenant.jalon_new_due_on)}")
    return ", ".join(parts) or "sans changement de montant, de durée ni de jalon"


def _avenant(dossier, avenant_id) -> Avenant:
    return followup_service.dossier_row(
        Avenant, dossier, avenant_id, field="avenant", message="Avenant inconnu."
    )


def _move(avenant: Avenant, to: AvenantState, **audit_fields):
    return transitions.apply(
        avenant, to, log=AvenantTransition, field="avenant", avenant_id=avenant.id, **audit_fields
    )


def sign(dossier, *, avenant_id, signed_on, signed_file=None, max_bytes: int | None = None, actor) -> Avenant:
    """The avenant signed (date, signed file) → « signé »: the amount granted, the end date and the jalon's
    date change as it says, audited with their former values."""
    _check(dossier, actor)
    avenant = _avenant(dossier, avenant_id)
    errors: dict[str, str] = {}
    day = None
    try:
        day = parse_date(signed_on, label="Date de signature") if signed_on not in (None, "") else None
    except ValueError as error:
        errors["signed_on"] = str(error)
    if day is None and "signed_on" not in errors:
        errors["signed_on"] = "Indiquez la date de signature de l'avenant."
    elif day and day > paris_today():
        errors["signed_on"] = "La date de signature ne peut pas être future."
    filename, content = signed_file or ("", b"")
    try:
        dossier_attachments.check_file(filename, content, field="signed_file", max_bytes=max_bytes)
    except ValidationFailed as error:
        errors.update({"signed_file": "Joignez l'avenant signé (PDF)."} if not content else error.errors)
    if avenant.state_enum != AvenantState.PROJET:
        errors = {"avenant": f"L'avenant n° {avenant.number} est « {avenant.state_enum.label} »."}
    if errors:
        raise ValidationFailed(errors)
    attachment = dossier_attachments.store(
        dossier, filename, content, kind=SIGNED_KIND, actor=actor, field="signed_file", max_bytes=max_bytes
    )
    db.session.flush()
    diff: dict[str, list] = {}
    if avenant.new_amount is not None:
        avenant.previous_amount = granted_total(dossier)[0]
        diff["granted_amount"] = [avenant.previous_amount, avenant.new_amount]
    if avenant.new_ends_on is not None:
        avenant.previous_ends_on = dossier.ends_on
        diff["ends_on"] = [str(dossier.ends_on) if dossier.ends_on else None, str(avenant.new_ends_on)]
        dossier.ends_on = avenant.new_ends_on
    if avenant.jalon is not None and avenant.jalon_new_due_on is not None:
        avenant.previous_jalon_due_on = avenant.jalon.due_on
        diff[f"jalon_{avenant.jalon.number}_due_on"] = [
            str(avenant.jalon.due_on),
            str(avenant.jalon_new_due_on),
        ]
        avenant.jalon.due_on = avenant.jalon_new_due_on
    avenant.signed_on, avenant.signed_attachment_id, avenant.signed_by_id = day, attachment.id, actor.id
    _move(
        avenant,
        AvenantState.SIGNE,
        actor=actor,
        action="avenant.signed",
        summary=f"{dossier.reference} : avenant n° {avenant.number} signé le {format_date(day)} "
        f"({changes_text(avenant)})",
        changes=diff,
    )
    return avenant


def abandon(dossier, *, avenant_id, reason: str, actor) -> Avenant:
    """An avenant in project given up, with the reason: nothing of it applies."""
    _check(dossier, actor)
    avenant = _avenant(dossier, avenant_id)
    errors: dict[str, str] = {}
    reason = _text(reason, "reason", errors, "La raison")
    if not reason and "reason" not in errors:
        errors["reason"] = "Indiquez pourquoi l'avenant est abandonné."
    if errors:
        raise ValidationFailed(errors)
    _move(
        avenant,
        AvenantState.ABANDONNE,
        actor=actor,
        action="avenant.abandoned",
        summary=f"{dossier.reference} : avenant n° {avenant.number} abandonné",
        reason=reason,
    )
    return avenant
