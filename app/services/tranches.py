"""Tranches: the funding granted to a dossier, released in parts decided by the fund's secretariat.

[004] §6: « Le décaissement des crédits du FTAP s'effectue par tranches. Le montant de chaque tranche sera
définitivement arrêté par le secrétariat du fonds […] le secrétariat du fonds décide à échéance régulière, a
minima au 1er trimestre de chaque année, du montant des nouvelles tranches de financement au regard de
l'avancement du projet et du suivi des indicateurs. » [000] §5.1: the FTAP follows « le respect des
enveloppes allouées à chacune des tranches […] par rapport aux besoins de financement totaux ».

The secretariat plans a tranche (amount, quarter, conditions) → « prévue »; releases it with the definitive
amount and the date → « débloquée » (who decided is the transition's actor), or suspends it (→ « suspendue »,
with the reason; lifted → « prévue ») or cancels it (→ « annulée », with the reason). The tranches together
never exceed the amount granted (the decision's, or the last signed avenant's). Moves go through
app/services/transitions.py (log, audit, listeners: app/services/followup_notifications.py).
"""

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import permissions
from ..domain.followup import parse_date, parse_int, quarter_end, tranche_decision_missing
from ..extensions import db
from ..formatting import format_date, format_euros, paris, paris_today
from ..models.dossiers import DossierState
from ..models.followup import Tranche, TrancheState, TrancheTransition
from . import audit, avenants, reminders, transitions
from . import followup as followup_service
from .errors import DomainError, NotAllowed, ValidationFailed

TEXT_MAX = 2000


def tranches_of(dossier) -> list[Tranche]:
    return list(
        db.session.scalars(
            select(Tranche)
            .where(Tranche.dossier_id == dossier.id)
            .order_by(Tranche.number)
            .options(selectinload(Tranche.transitions))
        )
    )


def committed(tranches: list[Tranche], *, without: Tranche | None = None) -> int:
    """What the tranches not cancelled take from the amount granted."""
    return sum(t.committed for t in tranches if t.state_enum in TrancheState.COUNTED and t is not without)


def _check(dossier, actor) -> None:
    if not permissions.can_decide_tranche(actor, dossier):
        raise NotAllowed("Les tranches sont décidées par le secrétariat du fonds.")
    if dossier.state not in DossierState.FOLLOWED:
        raise DomainError(
            f"Le dossier est « {dossier.state_enum.label} » : les tranches se décident une fois la "
            "convention signée, jusqu'à la clôture du suivi."
        )


def _text(value, name: str, errors: dict, label: str) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > TEXT_MAX:
        errors[name] = f"{label} ne doit pas dépasser 2 000 caractères."
    return text


def _int(value, name: str, errors: dict, **rules) -> int | None:
    try:
        return parse_int(value, **rules)
    except ValueError as error:
        errors[name] = str(error)
        return None


def _envelope_error(dossier, amount: int, others: int) -> str:
    granted, avenant = avenants.granted_total(dossier)
    if granted and others + amount > granted:
        source = f"l'avenant n° {avenant.number}" if avenant else "la décision"
        return (
            f"Les tranches dépasseraient le montant accordé par {source} ({format_euros(granted)}) : "
            f"{format_euros(others)} déjà réparti(s), il reste {format_euros(max(granted - others, 0))}."
        )
    return ""


def plan(dossier, *, planned_amount, planned_year, planned_quarter, conditions: str = "", actor) -> Tranche:
    """A tranche « prévue »: amount, quarter, conditions; within the amount granted."""
    _check(dossier, actor)
    errors: dict[str, str] = {}
    amount = _int(planned_amount, "planned_amount", errors, label="Le montant prévu", minimum=1)
    year = _int(planned_year, "planned_year", errors, label="L'année", minimum=2000, maximum=2100)
    quarter = _int(planned_quarter, "planned_quarter", errors, label="Le trimestre", minimum=1, maximum=4)
    conditions = _text(conditions, "conditions", errors, "Les conditions")
    tranches = tranches_of(dossier)
    if amount and (message := _envelope_error(dossier, amount, committed(tranches))):
        errors["planned_amount"] = message
    if errors:
        raise ValidationFailed(errors)
    number = (
        db.session.scalar(select(func.max(Tranche.number)).where(Tranche.dossier_id == dossier.id)) or 0
    ) + 1
    tranche = Tranche(
        dossier_id=dossier.id,
        number=number,
        planned_amount=amount,
        planned_year=year,
        planned_quarter=quarter,
        conditions=conditions,
        state=TrancheState.PREVUE,
        created_by_id=actor.id,
    )
    db.session.add(tranche)
    audit.record(
        "tranche.planned",
        tranche,
        actor=actor,
        summary=f"{dossier.reference} : tranche n° {number} prévue, "
        f"{format_euros(amount)} au T{quarter} {year}",
    )
    return tranche


def _tranche(dossier, tranche_id) -> Tranche:
    return followup_service.dossier_row(
        Tranche, dossier, tranche_id, field="tranche", message="Tranche inconnue."
    )


def _move(tranche: Tranche, to: TrancheState, **audit_fields):
    return transitions.apply(
        tranche, to, log=TrancheTransition, field="tranche", tranche_id=tranche.id, **audit_fields
    )


def release(dossier, *, tranche_id, amount, released_on, actor) -> Tranche:
    """The secretariat releases the tranche: its definitive amount (« définitivement arrêté »), the date."""
    _check(dossier, actor)
    tranche = _tranche(dossier, tranche_id)
    errors: dict[str, str] = {}
    value = (
        tranche.planned_amount
        if amount in (None, "")
        else _int(amount, "amount", errors, label="Le montant débloqué", minimum=1)
    )
    day = None
    try:
        day = parse_date(released_on, label="Date du déblocage") if released_on not in (None, "") else None
    except ValueError as error:
        errors["released_on"] = str(error)
    if day is None and "released_on" not in errors:
        errors["released_on"] = "Indiquez la date de la décision de déblocage."
    elif day and day > paris_today():
        errors["released_on"] = "La date du déblocage ne peut pas être future."
    if value and (
        message := _envelope_error(dossier, value, committed(tranches_of(dossier), without=tranche))
    ):
        errors["amount"] = message
    if errors:
        raise ValidationFailed(errors)
    old = tranche.amount
    tranche.amount, tranche.released_on, tranche.released_by_id = value, day, actor.id
    _move(
        tranche,
        TrancheState.DEBLOQUEE,
        actor=actor,
        action="tranche.released",
        summary=f"{dossier.reference} : tranche n° {tranche.number} débloquée le {format_date(day)}, "
        f"{format_euros(value)}",
        reason=f"Montant arrêté : {format_euros(value)}",
        changes={"amount": [old, value]},
    )
    # a tranche decided in a first quarter: that year's reminder to the secretariat is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.tranches"]])
    return tranche


def _with_reason(dossier, tranche_id, reason, actor, to: TrancheState, action: str, verb: str, required: str):
    _check(dossier, actor)
    tranche = _tranche(dossier, tranche_id)
    errors: dict[str, str] = {}
    reason = _text(reason, "reason", errors, "La raison")
    if not reason and "reason" not in errors:
        errors["reason"] = required
    if (
        to == TrancheState.PREVUE and not errors
    ):  # lifted: back within the envelope (an avenant may have cut it)
        if message := _envelope_error(
            dossier, tranche.committed, committed(tranches_of(dossier), without=tranche)
        ):
            errors["reason"] = message
    if errors:
        raise ValidationFailed(errors)
    tranche.state_reason = reason
    _move(
        tranche,
        to,
        actor=actor,
        action=action,
        summary=f"{dossier.reference} : tranche n° {tranche.number} {verb}",
        reason=reason,
    )
    return tranche


def suspend(dossier, *, tranche_id, reason: str, actor) -> Tranche:
    """Suspended, with the reason ([001] §8: the committee « pourra suspendre ou interrompre les
    financements »)."""
    return _with_reason(
        dossier,
        tranche_id,
        reason,
        actor,
        TrancheState.SUSPENDUE,
        "tranche.suspended",
        "suspendue",
        "Indiquez la raison de la suspension.",
    )


def cancel(dossier, *, tranche_id, reason: str, actor) -> Tranche:
    return _with_reason(
        dossier,
        tranche_id,
        reason,
        actor,
        TrancheState.ANNULEE,
        "tranche.cancelled",
        "annulée",
        "Indiquez la raison de l'annulation.",
    )


def resume(dossier, *, tranche_id, reason: str, actor) -> Tranche:
    """The suspension lifted: the tranche is « prévue » again."""
    return _with_reason(
        dossier,
        tranche_id,
        reason,
        actor,
        TrancheState.PREVUE,
        "tranche.resumed",
        "de nouveau prévue",
        "Indiquez pourquoi la suspension est levée.",
    )


# --- reading ----------------------------------------------------------------------------------------------


def warnings(dossier, tranches: list[Tranche], *, granted: int, today: date | None = None) -> list[str]:
    """What the secretariat has to decide, quoting the contract: the yearly first-quarter decision, tranches
    whose quarter is over and still undecided."""
    if dossier.state not in DossierState.FOLLOWED:
        return []
    today = today or paris_today()
    out = []
    decided = [t.released_on for t in tranches if t.released_on] + [
        paris(log.created_at).date() for t in tranches for log in t.transitions
    ]
    remaining = granted - sum(t.amount or 0 for t in tranches if t.state_enum == TrancheState.DEBLOQUEE)
    year = tranche_decision_missing(today, followup_service.signature_date(dossier), decided)
    if year and remaining > 0:
        out.append(
            f"Aucune tranche décidée au 1er trimestre {year} : le secrétariat du fonds décide, a minima au "
            "1er trimestre de chaque année, du montant des nouvelles tranches au regard de l'avancement du "
            "projet et du suivi des indicateurs (004_937e479d7f054f91.txt §6)."
        )
    for tranche in tranches:
        if (
            tranche.state_enum == TrancheState.PREVUE
            and quarter_end(tranche.planned_year, tranche.planned_quarter) < today
        ):
            out.append(
                f"La tranche n° {tranche.number} était prévue au {tranche.quarter_label} "
                "et n'est pas débloquée."
            )
    return out
