"""Portfolio services: create, edit, change state, comment, back, import."""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..models import Backing, BackingRole, Comment, Opportunity, OpportunityState, OpportunityTransition
from ..models.portfolio import (
    BESOIN_MAX,
    BRIQUE_MAX,
    BY_CRIBLAGE,
    BY_DECISION,
    CODE_PATTERN,
    REASON_REQUIRED,
    TARGET_REQUIRED,
)
from ..permissions import (
    can_back_opportunity,
    can_change_opportunity_state,
    can_comment_opportunity,
    can_create_opportunity,
    can_edit_opportunity,
    can_import_portfolio,
)
from . import audit, transitions
from .errors import DomainError, NotAllowed, StaleVersion, ValidationFailed

CREATE_ATTEMPTS = 8


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def validate_fields(brique: str, besoin: str) -> dict[str, str]:
    errors = {}
    if not brique:
        errors["brique"] = "La brique est obligatoire."
    elif len(brique) > BRIQUE_MAX:
        errors["brique"] = (
            f"La brique ne doit pas dépasser {BRIQUE_MAX} caractères (actuellement {len(brique)})."
        )
    if len(besoin) > BESOIN_MAX:
        errors["besoin"] = (
            f"Le besoin ne doit pas dépasser {BESOIN_MAX} caractères (actuellement {len(besoin)})."
        )
    return errors


def create_opportunity(*, brique: str, besoin: str, actor) -> Opportunity:
    """Create an opportunity with the next free code (M133, M134…), safe under concurrent creation."""

    if not can_create_opportunity(actor):
        raise NotAllowed("Vous ne pouvez pas proposer d'opportunité.")
    brique, besoin = _clean(brique), _clean(besoin)
    if errors := validate_fields(brique, besoin):
        raise ValidationFailed(errors)
    for _ in range(CREATE_ATTEMPTS):
        number = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
        opportunity = Opportunity(
            number=number,
            code=Opportunity.code_for(number),
            brique=brique,
            besoin=besoin,
            created_by_id=actor.id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(opportunity)
        except IntegrityError:
            continue  # another request took this number in the meantime: take the next one
        audit.record("opportunity.created", opportunity, actor=actor, summary=f"{opportunity.code} créée")
        return opportunity
    raise DomainError("Le code n'a pas pu être attribué, veuillez réessayer.")


def update_opportunity(
    opportunity: Opportunity, *, brique: str, besoin: str, version: int, actor
) -> Opportunity:
    if not can_edit_opportunity(actor, opportunity):
        raise NotAllowed("Vous ne pouvez pas modifier cette opportunité.")
    brique, besoin = _clean(brique), _clean(besoin)
    if errors := validate_fields(brique, besoin):
        raise ValidationFailed(errors)
    if version != opportunity.version:
        raise StaleVersion(opportunity)
    changes = audit.diff(opportunity, {"brique": brique, "besoin": besoin})
    if not changes:
        return opportunity
    opportunity.brique, opportunity.besoin = brique, besoin
    try:
        db.session.flush()
    except StaleDataError:  # saved by someone else between our read and our write
        db.session.rollback()
        raise StaleVersion(db.session.get(Opportunity, opportunity.id)) from None
    audit.record(
        "opportunity.updated",
        opportunity,
        actor=actor,
        summary=f"{opportunity.code} modifiée",
        changes=changes,
    )
    return opportunity


def change_state(
    opportunity: Opportunity,
    *,
    to: str,
    actor,
    reason: str = "",
    target_code: str = "",
    committee_act=None,
    criblage=None,
) -> Opportunity:
    """`committee_act`: the committee decision (or agenda publication) that moves the opportunity;
    the committee's président or secrétaire records it without being secretariat (checked by the
    committees service). `criblage`: the criblage whose retained list moves it (checked by its service).
    « Retenue au criblage », « validée CSIC-Tech » and « lancée » are reached only that way."""

    cascade = committee_act is not None or criblage is not None
    if not cascade and not can_change_opportunity_state(actor, opportunity):
        raise NotAllowed("Seul le secrétariat change le statut d'une opportunité.")
    try:
        new = OpportunityState(to)
    except ValueError:
        raise ValidationFailed({"state": "Statut inconnu."}) from None
    old = opportunity.state_enum
    if new in BY_DECISION and committee_act is None:
        committee = "CSIC-Tech" if new is OpportunityState.VALIDEE_CSIC_TECH else "CSIC"
        raise _state_refused(
            f"« {new.label} » ne se décide pas à la main : ce statut suit la décision du {committee} "
            "enregistrée en séance."
        )
    if new in BY_CRIBLAGE and criblage is None:
        raise _state_refused(
            f"« {new.label} » ne se pose pas à la main : retenez l'opportunité dans un criblage."
        )
    if new not in opportunity.allowed_transitions():  # refused before the reason and the target are checked
        raise _state_refused(f"Passage de « {old.label} » à « {new.label} » non autorisé.")
    reason = _clean(reason)
    errors = {}
    if new in REASON_REQUIRED and not reason:
        errors["reason"] = f"Un motif est obligatoire pour le statut « {new.label} »."
    target = None
    if new in TARGET_REQUIRED:
        target_code = _clean(target_code).upper()
        target = (
            db.session.scalar(select(Opportunity).where(Opportunity.code == target_code))
            if target_code
            else None
        )
        if not target_code:
            errors["target_code"] = "Indiquez le code de l'opportunité cible (par exemple M102)."
        elif target is None:
            errors["target_code"] = f"L'opportunité {target_code} n'existe pas."
        elif target.id == opportunity.id:
            errors["target_code"] = "Une opportunité ne peut pas être fusionnée avec elle-même."
        elif target.state in TARGET_REQUIRED:
            errors["target_code"] = f"{target.code} est elle-même fusionnée ou doublon : choisissez sa cible."
    if errors:
        raise ValidationFailed(errors)
    opportunity.state_reason = reason or None
    opportunity.target = target
    transitions.apply(
        opportunity,
        new,
        actor=actor,
        log=OpportunityTransition,
        action="opportunity.status_changed",  # the audit trail's stored name, kept
        summary=f"{opportunity.code} : {old.label} → {new.label}",
        reason=reason,
        error=_state_refused,
        changes={"target": [None, target.code]} if target else None,
        opportunity=opportunity,
        target_code=target.code if target else None,
    )
    return opportunity


def _state_refused(message: str) -> ValidationFailed:
    return ValidationFailed({"state": message})


def set_ate(opportunity: Opportunity, *, ate: bool, actor) -> Opportunity:
    """Flag (or unflag) an ATE subject, out of the portfolio's scope ([002] §4 « hors sujets ATE »)."""
    if not can_change_opportunity_state(actor, opportunity):
        raise NotAllowed("Seul le secrétariat signale un sujet ATE.")
    if opportunity.ate == ate:
        return opportunity
    opportunity.ate = ate
    audit.record(
        "opportunity.updated",
        opportunity,
        actor=actor,
        summary=f"{opportunity.code} : {'sujet ATE, hors portefeuille' if ate else 'hors ATE'}",
        changes={"ate": [not ate, ate]},
    )
    return opportunity


def add_comment(opportunity: Opportunity, *, body: str, actor) -> Comment:
    if not can_comment_opportunity(actor, opportunity):
        raise NotAllowed("Vous ne pouvez pas commenter.")
    body = _clean(body)
    if not body:
        raise ValidationFailed({"body": "Le commentaire est vide."})
    if len(body) > 5000:
        raise ValidationFailed({"body": "Le commentaire ne doit pas dépasser 5000 caractères."})
    comment = Comment(opportunity=opportunity, author_id=actor.id, body=body)
    db.session.add(comment)
    audit.record("comment.created", opportunity, actor=actor, summary=f"Commentaire sur {opportunity.code}")
    return comment


def set_backing(opportunity: Opportunity, *, organisation, role: str, actor) -> Backing:
    if not can_back_opportunity(actor, opportunity, organisation):
        raise NotAllowed("Vous ne pouvez déclarer un soutien que pour votre ministère.")
    try:
        role = BackingRole(role)
    except ValueError:
        raise ValidationFailed({"role": "Rôle de soutien inconnu."}) from None
    backing = db.session.scalar(
        select(Backing).where(
            Backing.opportunity_id == opportunity.id, Backing.organisation_id == organisation.id
        )
    )
    old = backing.role if backing else None
    if backing is None:
        backing = Backing(
            opportunity=opportunity, organisation_id=organisation.id, role=role, created_by_id=actor.id
        )
        db.session.add(backing)
    backing.role = role
    audit.record(
        "backing.set",
        opportunity,
        actor=actor,
        summary=f"{organisation.code} : {role.label} sur {opportunity.code}",
        changes={"backing": [old, f"{organisation.code}:{role.value}"]},
    )
    return backing


def remove_backing(opportunity: Opportunity, *, organisation, actor) -> None:
    if not can_back_opportunity(actor, opportunity, organisation):
        raise NotAllowed("Vous ne pouvez retirer un soutien que pour votre ministère.")
    backing = db.session.scalar(
        select(Backing).where(
            Backing.opportunity_id == opportunity.id, Backing.organisation_id == organisation.id
        )
    )
    if backing is None:
        return
    db.session.delete(backing)
    audit.record(
        "backing.removed",
        opportunity,
        actor=actor,
        summary=f"{organisation.code} ne soutient plus {opportunity.code}",
    )


# --- import -------------------------------------------------------------------------------------

COLUMNS = ("code", "brique", "besoin")


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    def summary(self) -> str:
        return (
            f"{len(self.created)} créée(s), {len(self.updated)} mise(s) à jour, "
            f"{len(self.unchanged)} inchangée(s), {len(self.rejected)} rejetée(s)"
        )


class ImportRejected(DomainError):
    def __init__(self, report: ImportReport):
        super().__init__("Import refusé : aucune ligne n'a été enregistrée. " + report.summary())
        self.report = report


def check_rows(rows: list[tuple[int, dict]]) -> ImportReport:
    """Validate (line, row) pairs; every problem goes to report.rejected."""
    report = ImportReport()
    seen: dict[str, int] = {}
    for line, row in rows:
        code = _clean(row.get("code")).upper()
        brique, besoin = _clean(row.get("brique")), _clean(row.get("besoin"))
        if not code:
            report.rejected.append((line, "code manquant"))
        elif not CODE_PATTERN.match(code) or Opportunity.code_for(int(code[1:])) != code:
            report.rejected.append(
                (line, f"code mal formé « {code} » (attendu M suivi de 3 chiffres, ex. M043)")
            )
        elif code in seen:
            report.rejected.append((line, f"code {code} en double dans le fichier (déjà ligne {seen[code]})"))
        else:
            seen[code] = line
            for field_name, message in validate_fields(brique, besoin).items():
                reason = "champ trop long" if "dépasser" in message else "champ obligatoire vide"
                report.rejected.append((line, f"{field_name} : {reason} — {message}"))
    return report


def _planned(rows: list[tuple[int, dict]]):
    """(code, values, existing opportunity or None, audit diff) for each row, in file order."""
    existing = {o.code: o for o in db.session.scalars(select(Opportunity))}
    for _, row in rows:
        code = _clean(row["code"]).upper()
        values = {"brique": _clean(row.get("brique")), "besoin": _clean(row.get("besoin"))}
        opportunity = existing.get(code)
        yield code, values, opportunity, (audit.diff(opportunity, values) if opportunity else None)


def preview_import(rows: list[tuple[int, dict]]) -> ImportReport:
    """What import_rows would do, without writing: created, updated, unchanged, and the rejected lines."""
    report = check_rows(rows)
    if report.rejected:
        return report
    for code, _values, opportunity, changes in _planned(rows):
        target = report.created if opportunity is None else report.updated if changes else report.unchanged
        target.append(code)
    return report


def import_rows(rows: list[tuple[int, dict]], *, actor) -> ImportReport:
    """Create or update opportunities from rows; all or nothing (raises ImportRejected). `actor=None` is the
    CLI (whoever runs `flask portfolio import` on the server)."""
    if actor is not None and not can_import_portfolio(actor):
        raise NotAllowed("Seul le secrétariat peut importer des opportunités.")
    report = check_rows(rows)
    if report.rejected:
        raise ImportRejected(report)
    for code, values, opportunity, changes in _planned(rows):
        if opportunity is None:
            number = int(code[1:])
            opportunity = Opportunity(
                number=number, code=code, created_by_id=getattr(actor, "id", None), **values
            )
            db.session.add(opportunity)
            audit.record("opportunity.imported", opportunity, actor=actor, summary=f"{code} créée par import")
            report.created.append(code)
        elif changes:
            for key, value in values.items():
                setattr(opportunity, key, value)
            audit.record(
                "opportunity.updated",
                opportunity,
                actor=actor,
                summary=f"{code} mise à jour par import",
                changes=changes,
            )
            report.updated.append(code)
        else:
            report.unchanged.append(code)
    db.session.flush()
    return report
