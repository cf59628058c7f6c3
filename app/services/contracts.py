"""The transformation contract of a funded dossier and the ends of its life cycle ([000]).

After a favourable decision whose minutes are published (the decision is final only then), the
secretariat prepares the contract from the dossier (its PDF, /dossiers/<id>/pdf, is the contract's text),
records its signature (date, signatories, the signed file) → « conventionné », starts the follow-up →
« en suivi » (jalons, indicators, amounts granted per year, savings of the contract: the follow-up page), and
closes it with a final assessment → « clos ». Each step tells the porteurs (and the instructeurs) through
app/services/dossier_notices.py, in the caller's transaction (mail leaves after its commit).
"""

from datetime import date

from sqlalchemy import inspect, select

from .. import permissions
from ..domain.followup import parse_date
from ..extensions import db
from ..formatting import format_date, paris, paris_today
from ..models.base import utcnow
from ..models.committees import Decision, MeetingState, Outcome
from ..models.dossiers import DossierState
from ..models.followup import Contract, JalonReport
from . import audit, dossier_attachments, dossier_notices
from . import dossiers as dossier_service
from . import followup as followup_service
from .errors import NotAllowed, ValidationFailed

SIGNED_KIND = "Convention signée"
TEXT_MAX = 10_000


def contract_of(dossier) -> Contract | None:
    if dossier.state == DossierState.BROUILLON:  # prepared after a decision; no state leads back to a draft
        return None
    loaded = inspect(dossier).dict  # Dossier.contract, when the page loaded it with the dossier (joined)
    if "contract" in loaded:
        return loaded["contract"]
    return db.session.scalar(select(Contract).where(Contract.dossier_id == dossier.id))


def published_decision(dossier) -> Decision | None:
    """The decision in force on the dossier when it is favourable and its minutes are published."""
    decision = db.session.get(Decision, dossier.decision_id) if dossier.decision_id else None
    if decision is None or decision.outcome not in Outcome.ACCEPTED:
        return None
    if not (decision.locked or decision.meeting.state == MeetingState.PV_PUBLIE):
        return None
    return decision


def contract_refusal(dossier) -> str:
    """Why the contract cannot be prepared ('' when it can)."""
    if dossier.state != DossierState.DECIDE:
        return f"Le dossier est « {dossier.state_enum.label} » : la convention se prépare après la décision."
    if dossier.decision_outcome not in Outcome.ACCEPTED:
        return "Seul un dossier accepté (ou accepté sous conditions) est conventionné."
    if published_decision(dossier) is None:
        return (
            "La décision n'est définitive qu'à la publication du procès-verbal de la séance : "
            "publiez-le avant de préparer la convention."
        )
    return ""


def _check(dossier, actor) -> None:
    if not permissions.can_manage_contract(actor, dossier):
        raise NotAllowed("La convention est préparée et enregistrée par le secrétariat.")


def prepare(dossier, *, actor) -> Contract:
    """The contract is ready to sign: the porteurs are told, with the link to its PDF."""
    _check(dossier, actor)
    if refusal := contract_refusal(dossier):
        raise ValidationFailed({"contract": refusal})
    if contract_of(dossier) is not None:
        raise ValidationFailed({"contract": "La convention de ce dossier est déjà préparée."})
    decision = published_decision(dossier)
    contract = Contract(dossier_id=dossier.id, decision_id=decision.id, prepared_by_id=actor.id)
    db.session.add(contract)
    db.session.flush()
    audit.record(
        "contract.prepared", dossier, actor=actor, summary=f"{dossier.reference} : convention préparée"
    )
    dossier_notices.tell(
        dossier_notices.porteurs(dossier),
        "dossier.contract_ready",
        dossier,
        subject=f"{dossier.reference} : la convention est prête à signer",
        body=(
            f"La convention du dossier « {dossier.title} » est prête à signer "
            f"(décision : {decision.outcome_enum.label.lower()}, {decision.total_ae} € d'AE accordées)."
            + (f"\nConditions : {decision.conditions}" if decision.conditions else "")
        ),
        endpoint="dossiers.pdf",
        dossier_id=dossier.id,
    )
    return contract


def sign(
    dossier, *, signed_on, signatories: str, signed_file=None, max_bytes: int | None = None, actor
) -> Contract:
    """Record the signature (date, signatories, signed file) → conventionné."""
    _check(dossier, actor)
    contract = contract_of(dossier)
    errors: dict[str, str] = {}
    if contract is None:
        errors["contract"] = contract_refusal(dossier) or "Préparez d'abord la convention."
        raise ValidationFailed(errors)
    if dossier.state != DossierState.DECIDE:
        raise ValidationFailed({"contract": "La signature de cette convention est déjà enregistrée."})
    day = None
    try:
        day = signed_on if isinstance(signed_on, date) else parse_date(signed_on, label="Date de signature")
    except ValueError as error:
        errors["signed_on"] = str(error)
    if day is None and "signed_on" not in errors:
        errors["signed_on"] = "Indiquez la date de signature."
    elif day and day > paris_today():
        errors["signed_on"] = "La date de signature ne peut pas être future."
    elif day and day < paris(contract.prepared_at).date():
        errors["signed_on"] = (
            f"La convention a été préparée le {format_date(contract.prepared_at)} : "
            "elle ne peut pas avoir été signée avant."
        )
    signatories = (signatories or "").strip()
    if not signatories:
        errors["signatories"] = "Indiquez les signataires (nom et qualité)."
    elif len(signatories) > 2000:
        errors["signatories"] = "La liste des signataires ne doit pas dépasser 2 000 caractères."
    filename, content = signed_file or ("", b"")
    try:
        dossier_attachments.check_file(filename, content, field="signed_file", max_bytes=max_bytes)
    except ValidationFailed as error:
        errors.update({"signed_file": "Joignez la convention signée (PDF)."} if not content else error.errors)
    if errors:
        raise ValidationFailed(errors)
    attachment = dossier_attachments.store(
        dossier, filename, content, kind=SIGNED_KIND, actor=actor, field="signed_file", max_bytes=max_bytes
    )
    db.session.flush()
    for signatory in dossier.signatories:  # the signatories of the dossier not dated yet signed that day
        if signatory.signed_on is None:
            signatory.signed_on = day
    contract.signed_on, contract.signatories = day, signatories
    contract.signed_attachment_id, contract.signed_recorded_by_id = attachment.id, actor.id
    dossier_service.mark_contracted(dossier, actor=actor)
    dossier_notices.tell(
        [*dossier_notices.porteurs(dossier), *dossier_notices.instructors(dossier)],
        "dossier.contract_signed",
        dossier,
        subject=f"{dossier.reference} : convention signée le {format_date(day)}",
        body=f"Signataires : {signatories}\nLe suivi du projet va démarrer.",
        endpoint="dossiers.show",
        dossier_id=dossier.id,
    )
    return contract


def start_follow_up(dossier, *, actor):
    """conventionné → en suivi: the porteur reports jalons, indicators, credits and savings."""
    _check(dossier, actor)
    if dossier.state != DossierState.CONVENTIONNE:
        label = dossier.state_enum.label
        raise ValidationFailed(
            {"contract": f"Le dossier est « {label} » : le suivi démarre après la signature."}
        )
    dossier_service.start_follow_up(dossier, actor=actor)
    dossier_notices.tell(
        [*dossier_notices.porteurs(dossier), *dossier_notices.instructors(dossier)],
        "followup.started",
        dossier,
        subject=f"{dossier.reference} : le suivi du projet démarre",
        body="Déclarez les jalons atteints ou en retard, les valeurs des indicateurs, les crédits consommés "
        "et les économies constatées sur la page de suivi.",
        endpoint="followup.show",
        dossier_id=dossier.id,
    )
    return dossier


def open_late_jalons(dossier, follow=None) -> list:
    """Jalons not reached whose date (the contract's, or the new one announced) is past, or announced late.
    `follow`: the dossier's services.followup.followup(), when the caller has it (its reports are read)."""
    if follow is not None:
        reached = {jalon.id for jalon, report, _ in follow.jalons if report is not None}
        delays = follow.delays
    else:
        reached = set(
            db.session.scalars(select(JalonReport.jalon_id).where(JalonReport.dossier_id == dossier.id))
        )
        delays = followup_service.jalon_delays(dossier)
    today = paris_today()
    return [j for j in dossier.jalons if j.id not in reached and (j.due_on < today or j.id in delays)]


def close(dossier, *, assessment: str, reason: str = "", actor):
    """en suivi (or conventionné) → clos, with the final assessment; open late jalons need a reason."""
    _check(dossier, actor)
    errors: dict[str, str] = {}
    if dossier.state not in DossierState.FOLLOWED:
        raise ValidationFailed(
            {"assessment": f"Le dossier est « {dossier.state_enum.label} » : seul un suivi en cours se clôt."}
        )
    assessment, reason = (assessment or "").strip(), (reason or "").strip()
    if not assessment:
        errors["assessment"] = "Rédigez le bilan final du projet."
    elif len(assessment) > TEXT_MAX:
        errors["assessment"] = "Le bilan ne doit pas dépasser 10 000 caractères."
    late = open_late_jalons(dossier)
    if late and not reason:
        numbers = ", ".join(f"n° {j.number}" for j in late)
        errors["reason"] = (
            f"Des jalons sont en retard et non atteints ({numbers}) : la clôture reste possible, "
            "indiquez-en la raison."
        )
    if len(reason) > TEXT_MAX:
        errors["reason"] = "La raison ne doit pas dépasser 10 000 caractères."
    if errors:
        raise ValidationFailed(errors)
    contract = contract_of(dossier)
    if contract is not None:
        contract.final_assessment, contract.closed_at, contract.closed_by_id = assessment, utcnow(), actor.id
    dossier_service.close(dossier, actor=actor, reason=reason or "Bilan final rédigé")
    dossier_notices.tell(
        [*dossier_notices.porteurs(dossier), *dossier_notices.instructors(dossier)],
        "followup.closed",
        dossier,
        subject=f"{dossier.reference} : suivi clos",
        body=f"Bilan final : {assessment}" + (f"\nRaison de la clôture : {reason}" if reason else ""),
        endpoint="followup.show",
        dossier_id=dossier.id,
    )
    return dossier
