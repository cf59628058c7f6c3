"""Dossier life cycle: creation, the figures and checks shown beside the sections, deposit, instruction
(compléments, avis, classement), follow and bulk actions, and the hooks the committees domain calls
(mark_on_agenda, apply_decision, mark_contracted…, describe, porteurs) to move a dossier through the
committee and follow-up states.

The sub-domains of a dossier each have their module: the sections and their validation in
`dossier_sections.py`, files in `dossier_attachments.py`, messages and private annotations in
`dossier_messages.py`; the arithmetic and the eligibility rules are pure, in
`app/domain/dossier_figures.py`, and this module only reads the models to hand them over. Every state
change goes through `services/transitions.py` `apply()`. This module never imports the committees
services (committees → dossiers is the allowed direction): committee facts are read from the models.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..domain import dossier_figures
from ..domain.dossier_figures import Check, Contents, Figures, FinancingRow, RuleItem, Rules, blocking
from ..extensions import db
from ..models import Guichet, User
from ..models.base import utcnow
from ..models.committees import Outcome
from ..models.dossiers import (
    GRID_SCORES,
    Avis,
    ComplementReason,
    ComplementRequest,
    Dossier,
    DossierAssessment,
    DossierFollow,
    DossierState,
    DossierTransition,
    Financer,
    ReferentRole,
)
from ..permissions import (
    can_create_dossier,
    can_instruct_dossier,
    can_submit_dossier,
    can_withdraw_dossier,
    is_porteur_side,
)
from . import audit, reminders, transitions
from . import dossier_endorsements as endorsements
from .dossier_sections import (
    SECTION_LABELS,
    SECTIONS,
    clean,
    opportunity_by_code,
    parse_int,
    too_long,
)
from .errors import DomainError, NotAllowed, ValidationFailed

__all__ = ["Check", "Figures", "blocking", "checks", "completeness", "figures"]

S = DossierState


# --- figures and checks (the rules are in app/domain/dossier_figures.py) --------------------------------


def _bucket(dossier: Dossier, line) -> str:
    """The financer row a financing line counts in (« dont financement FTAP », porteur (CODE), co-porteur)."""
    if line.financer == Financer.PORTEUR and dossier.porteur_organisation:
        return f"dont financement porteur ({dossier.porteur_organisation.code})"
    return "dont financement " + line.financer_label


def figures(dossier: Dossier, *, revenues: bool = False) -> Figures:
    """Row, column and financer totals of the financing table, savings totals and the ROI, from the rows.

    `revenues`: also the additional revenue ([000] §4.2.3), which no rule and no ROI counts: only the pages
    that show it (the dossier page, its PDF) load it, lists and the follow-up do not."""
    return dossier_figures.figures(
        years=dossier.years,
        financing=[
            FinancingRow(
                line=line,
                bucket=_bucket(dossier, line),
                ftap=line.financer == Financer.FTAP,
                amounts={a.year: (a.ae, a.cp) for a in line.amounts},
            )
            for line in dossier.financing_lines
        ],
        savings_years=dossier.savings_years,
        savings=[(line, {a.year: (a.amount, a.cp) for a in line.amounts}) for line in dossier.savings_lines],
        staff=[(row.year, row.jobs, row.average_cost) for row in dossier.staff_savings],
        revenues=[(line, {a.year: a.amount for a in line.amounts}) for line in dossier.revenue_lines]
        if revenues
        else (),
    )


def _rules(guichet: Guichet) -> Rules:
    return Rules(
        items=[
            RuleItem(r.code, r.kind, r.label, source=r.source, parameter=r.parameter, id=r.id)
            for r in guichet.rules
        ],
        fund=guichet.fund_label,
        mode=guichet.mode,
        opens_at=guichet.opens_at,
        closes_at=guichet.closes_at,
        max_total_amount=guichet.max_total_amount,
        min_cofinancing_pct=guichet.min_cofinancing_pct,
        roi_min_cents=guichet.roi_min_cents,
        required_attachments=list(guichet.required_attachment_list),
    )


# What each section's completeness reads of the dossier (Contents' fields): a page showing some sections
# reads only their rows (a lazy collection not touched is not loaded).
_SECTION_CONTENTS: dict[str, Callable[[Dossier], dict]] = {
    "projet": lambda d: {"title": d.title or "", "has_dates": bool(d.starts_on and d.ends_on)},
    "porteurs": lambda d: {
        "has_porteur": d.porteur_organisation_id is not None,
        "has_porteur_projet_referent": any(
            r.is_porteur and r.role == ReferentRole.PROJET for r in d.referents
        ),
    },
    "enjeu": lambda d: {"enjeu": d.enjeu or ""},
    "solution": lambda d: {"solution": d.solution or ""},
    "financement": lambda d: {"financing_lines": len(d.financing_lines)},
    "beneficiaires": lambda d: {"beneficiaries": len(d.beneficiaries)},
    "indicateurs": lambda d: {"indicators": len(d.indicators)},
    "economies": lambda d: {"has_savings": bool(d.savings_lines or d.staff_savings)},
    "jalons": lambda d: {"jalons": len(d.jalons)},
    "gouvernance": lambda d: {"gouvernance": d.gouvernance or ""},
    "pieces": lambda d: {
        "attachment_kinds": frozenset(a.kind for a in d.attachments if a.message_id is None)
    },
}


def _contents(dossier: Dossier, section_keys: Iterable[str] | None = None) -> Contents:
    """What the completeness of `section_keys` (all sections: None) and the eligibility checks read."""
    if section_keys is not None:
        return Contents(
            **{
                name: value
                for key in section_keys
                if key in _SECTION_CONTENTS
                for name, value in _SECTION_CONTENTS[key](dossier).items()
            }
        )
    fields = {name: value for read in _SECTION_CONTENTS.values() for name, value in read(dossier).items()}
    return Contents(
        **fields,
        porteur_kind=dossier.porteur_organisation.kind if dossier.porteur_organisation else "",
        declared=frozenset(d.rule_id for d in dossier.declarations),
        roi_derogation=dossier.roi_derogation or "",
    )


def completeness(dossier: Dossier, section_keys: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Missing items per section (empty list = complete): of every section, or of `section_keys` only
    (then only their rows are read)."""
    keys = [key for key, _ in SECTIONS] if section_keys is None else list(section_keys)
    return dossier_figures.completeness(
        _contents(dossier, None if section_keys is None else keys), _rules(dossier.guichet), keys
    )


def checks(dossier: Dossier, now: datetime | None = None) -> tuple[dict[str, list[str]], list[Check]]:
    """Completeness per section and eligibility verdicts against the guichet's rules, with the computation."""
    contents, rules = _contents(dossier), _rules(dossier.guichet)
    missing = dossier_figures.completeness(contents, rules, (key for key, _ in SECTIONS))
    verdicts = dossier_figures.checks(
        fig=figures(dossier),
        rules=rules,
        missing=missing,
        section_labels=SECTION_LABELS,
        indicators=len(dossier.indicators),
        draft=dossier.state == S.BROUILLON,
        now=now or utcnow(),
        contents=contents,
    )
    return missing, verdicts


# --- creation ------------------------------------------------------------------------------------


def create_dossier(
    *, guichet: Guichet, title: str, start_year: str, actor, opportunity_code: str = ""
) -> Dossier:
    if not can_create_dossier(actor, guichet):
        raise NotAllowed("Vous ne pouvez pas déposer de dossier sur ce guichet.")
    errors: dict[str, str] = {}
    title = clean(title)
    if not title:
        errors["title"] = "L'intitulé du projet est obligatoire."
    too_long(title, "title", errors, "Intitulé", 300)
    year = parse_int(start_year, "start_year", errors, "Première année (N)")
    if year is None and "start_year" not in errors:
        errors["start_year"] = "Indiquez la première année du projet (N)."
    elif year is not None and not 2000 <= year <= 2100:
        errors["start_year"] = "Première année (N) : une année entre 2000 et 2100."
    if not guichet.accepts_dossiers:
        errors["guichet"] = "Ce guichet ne reçoit pas de dossiers."
    elif not guichet.is_open():
        errors["guichet"] = "Ce guichet n'est pas ouvert actuellement."
    opportunity = opportunity_by_code(opportunity_code, errors)
    if errors:
        raise ValidationFailed(errors)
    dossier = Dossier(
        guichet=guichet, title=title, start_year=year, created_by_id=actor.id, opportunity=opportunity
    )
    db.session.add(dossier)
    audit.record(
        "dossier.created", dossier, actor=actor, summary=f"Dossier « {title} » créé sur {guichet.code}"
    )
    reminders.reschedule_for(guichet)  # a new draft on an appel à projets: its porteur is reminded
    return dossier


# --- life cycle ------------------------------------------------------------------------------------


def _transition(dossier: Dossier, to: DossierState, *, actor, reason: str | None = None) -> None:
    """One move of the dossier's state machine, through the shared helper (table, log row, audit)."""
    old = dossier.state_enum
    if to in S.REASON_REQUIRED and to in dossier.allowed_transitions():
        dossier.state_reason = reason  # before apply(): its audit entry may flush (CHECK on the reason)
    transitions.apply(
        dossier,
        to,
        actor=actor,
        log=DossierTransition,
        action=f"dossier.{_VERBS.get(to, 'moved')}",
        summary=f"{dossier.reference} : {old.label} → {to.label}",
        reason=reason,
        dossier_id=dossier.id,
    )
    # Reminders about the dossier (compléments, follow-up) and, when a draft leaves, about its guichet.
    reminders.reschedule_for(dossier)
    if old == S.BROUILLON:
        reminders.reschedule_for(dossier.guichet)


_VERBS = {
    S.DEPOSE: "submitted",
    S.EN_INSTRUCTION: "instruction_started",
    S.COMPLEMENTS_DEMANDES: "complements_requested",
    S.INSTRUIT: "instructed",
    S.RETIRE: "withdrawn",
    S.CLASSE_SANS_SUITE: "dismissed",
    S.INSCRIT_COMITE: "scheduled",
    S.DECIDE: "decided",
    S.CONVENTIONNE: "contracted",
    S.EN_SUIVI: "followed_up",
    S.CLOS: "closed",
}


def submit(dossier: Dossier, *, actor, now: datetime | None = None) -> Dossier:
    """Brouillon → déposé, or compléments demandés → déposé again; refused while a blocking check fails."""
    if dossier.state == S.DEPOSE and is_porteur_side(actor, dossier):  # a second click, after the first
        raise DomainError("Ce dossier est déjà déposé : l'équipe d'instruction en est informée.")
    if not can_submit_dossier(actor, dossier):
        raise NotAllowed("Vous ne pouvez pas déposer ce dossier.")
    _, verdicts = checks(dossier, now=now)
    if failing := blocking(verdicts):
        raise ValidationFailed(
            {"submit": "Dépôt impossible : " + " ; ".join(c.message for c in failing) + "."}
        )
    resubmission = dossier.state == S.COMPLEMENTS_DEMANDES
    if resubmission and (request := dossier.open_request):
        request.answered_at = utcnow()
        db.session.expire(dossier, ["open_complement_requests"])
    dossier.submitted_at = dossier.submitted_at or utcnow()
    _transition(dossier, S.DEPOSE, actor=actor, reason="Compléments apportés" if resubmission else None)
    endorsements.request_endorsement(dossier)  # France Relance: the porteur ministry's DNUM vises first
    return dossier


def _endorsed(dossier: Dossier) -> None:
    """France Relance: the instructeurs act once the porteur ministry's DNUM has endorsed ([003] §1)."""
    if endorsements.pending(dossier):
        raise ValidationFailed(
            {"action": "Ce dossier France Relance attend le visa de la DNUM du ministère porteur."}
        )


def withdraw(dossier: Dossier, *, actor, reason: str = "") -> Dossier:
    if not can_withdraw_dossier(actor, dossier):
        raise NotAllowed("Vous ne pouvez pas retirer ce dossier.")
    _transition(dossier, S.RETIRE, actor=actor, reason=clean(reason) or None)
    return dossier


def start_instruction(dossier: Dossier, *, actor) -> Dossier:
    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    _endorsed(dossier)
    _transition(dossier, S.EN_INSTRUCTION, actor=actor)
    return dossier


def request_complements(
    dossier: Dossier, *, sections: list[str], reason: str, message: str, actor
) -> ComplementRequest:
    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    errors = {}
    sections = [s for s in sections if s in SECTION_LABELS]
    if not sections:
        errors["sections"] = "Choisissez au moins une section à rouvrir."
    try:
        reason = ComplementReason(reason)
    except ValueError:
        errors["reason"] = "Choisissez le motif : incorrect, incomplet ou obsolète."
    message = clean(message)
    if not message:
        errors["message"] = "Expliquez au porteur ce qui est attendu."
    too_long(message, "message", errors, "Message", 5000)
    if dossier.state not in S.IN_INSTRUCTION or dossier.state == S.COMPLEMENTS_DEMANDES:
        errors["sections"] = (
            f"Le dossier est « {dossier.state_enum.label} » : pas de demande de compléments possible."
        )
    if errors:
        raise ValidationFailed(errors)
    request = ComplementRequest(
        dossier=dossier, sections=" ".join(sections), reason=reason, message=message, requested_by_id=actor.id
    )
    db.session.add(request)
    db.session.expire(dossier, ["open_complement_requests"])  # Dossier.open_request: this one now
    _transition(
        dossier,
        S.COMPLEMENTS_DEMANDES,
        actor=actor,
        reason=f"{reason.label} : " + ", ".join(SECTION_LABELS[s] for s in sections),
    )
    return request


def record_avis(
    dossier: Dossier, *, avis: str, motivation: str, actor, grid: dict[int, tuple[str, str]] | None = None
) -> Dossier:
    """The instructeur's avis, with the selection grid: {criterion rule id: (score 1–4 or "", comment)}."""
    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    errors = {}
    assessments = _grid(dossier, grid or {}, errors)
    try:
        value = Avis(avis)
    except ValueError:
        errors["avis"] = "Choisissez un avis : favorable, réservé ou défavorable."
    _endorsed(dossier)
    motivation = clean(motivation)
    if not motivation:
        errors["motivation"] = "La motivation de l'avis est obligatoire."
    too_long(motivation, "motivation", errors, "Motivation", 10_000)
    if dossier.state not in S.AVIS_PENDING:
        errors["avis"] = (
            f"Le dossier est « {dossier.state_enum.label} » : l'avis se donne pendant l'instruction."
        )
    if errors:
        raise ValidationFailed(errors)
    dossier.avis, dossier.avis_motivation, dossier.avis_by_id, dossier.avis_at = (
        value,
        motivation,
        actor.id,
        utcnow(),
    )
    for rule_id, (score, comment) in assessments.items():
        row = next((a for a in dossier.assessments if a.rule_id == rule_id), None)
        if row is None:
            row = DossierAssessment(rule_id=rule_id)
            dossier.assessments.append(row)
        row.score, row.comment, row.by_id = score, comment, actor.id
    _transition(dossier, S.INSTRUIT, actor=actor, reason=f"Avis {value.label.lower()}")
    return dossier


def _grid(dossier: Dossier, grid: dict, errors: dict) -> dict[int, tuple[int | None, str]]:
    """The posted grid checked against the guichet's criteria (unknown rules ignored)."""
    criteria = {rule.id for rule, _ in dossier.grid()}
    out = {}
    for rule_id, (score, comment) in grid.items():
        if rule_id not in criteria:
            continue
        score = (score or "").strip()
        if score and score not in {str(k) for k in GRID_SCORES}:
            errors[f"grid-{rule_id}-score"] = "Note de 1 à 4."
            continue
        comment = clean(comment)
        too_long(comment, f"grid-{rule_id}-comment", errors, "Commentaire", 2000)
        out[rule_id] = (int(score) if score else None, comment)
    return out


def dismiss(dossier: Dossier, *, motivation: str, actor) -> Dossier:
    """Classé sans suite, by an instructor, with a motivation."""
    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    motivation = clean(motivation)
    if not motivation:
        raise ValidationFailed({"motivation": "La motivation du classement sans suite est obligatoire."})
    _transition(dossier, S.CLASSE_SANS_SUITE, actor=actor, reason=motivation)
    return dossier


BULK_ACTIONS = {"instruire": "Passer en instruction", "suivre": "Suivre", "ne_plus_suivre": "Ne plus suivre"}


def bulk(dossiers: list[Dossier], *, action: str, actor) -> tuple[list[Dossier], list[tuple[Dossier, str]]]:
    """Apply one action to several dossiers; returns (done, [(skipped, reason)]); never half a dossier."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed({"action": "Action inconnue."})
    done, skipped = [], []
    for dossier in dossiers:
        try:
            with db.session.begin_nested():
                if action == "instruire":
                    if dossier.state != S.DEPOSE:
                        raise DomainError(f"« {dossier.state_enum.label} »")
                    start_instruction(dossier, actor=actor)
                elif action == "suivre":
                    follow(dossier, actor=actor)
                else:
                    unfollow(dossier, actor=actor)
            done.append(dossier)
        except DomainError as error:
            skipped.append((dossier, error.message))
    return done, skipped


# --- follow, annotations, messages --------------------------------------------------------------------


def follow(dossier: Dossier, *, actor) -> None:
    if not can_instruct_dossier(actor, dossier, any_state=True):
        raise NotAllowed("Seuls les instructeurs suivent un dossier.")
    if db.session.get(DossierFollow, (dossier.id, actor.id)) is None:
        db.session.add(DossierFollow(dossier_id=dossier.id, user_id=actor.id))
        audit.record("dossier.followed", dossier, actor=actor, summary=f"{dossier.reference} suivi")


def unfollow(dossier: Dossier, *, actor) -> None:
    row = db.session.get(DossierFollow, (dossier.id, actor.id))
    if row is not None:
        db.session.delete(row)
        audit.record(
            "dossier.unfollowed", dossier, actor=actor, summary=f"{dossier.reference} n'est plus suivi"
        )


def is_followed(dossier: Dossier, user, *, loaded_for_user: bool = False) -> bool:
    """Whether `user` follows the dossier; `loaded_for_user`: the dossier was loaded by queries.dossiers.by_id
    for that user, which computed it (Dossier.followed_by_reader) in the same statement."""
    if loaded_for_user and dossier.followed_by_reader is not None:
        return bool(dossier.followed_by_reader)
    return db.session.get(DossierFollow, (dossier.id, user.id)) is not None


# --- hooks for the committees domain ------------------------------------------------------------------


@dataclass
class DossierInfo:
    id: int
    reference: str
    title: str
    state: str
    state_label: str
    guichet_id: int | None
    schedulable: bool = False  # instruit, or décidé « ajourné » (back on an agenda)


def _load(dossier_or_id) -> Dossier:
    dossier = dossier_or_id if isinstance(dossier_or_id, Dossier) else db.session.get(Dossier, dossier_or_id)
    if dossier is None:
        raise DomainError("Dossier introuvable.")
    return dossier


def describe(dossier_id: int) -> DossierInfo | None:
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        return None
    schedulable = dossier.state == S.INSTRUIT or (
        dossier.state == S.DECIDE and dossier.decision_outcome == Outcome.AJOURNE
    )
    return DossierInfo(
        dossier.id,
        dossier.reference,
        dossier.title,
        dossier.state,
        dossier.state_enum.label,
        dossier.guichet_id,
        schedulable,
    )


def decided_by(committee, dossier_or_info) -> bool:
    """True when `committee` decides on the dossier's guichet: its deciding committee, or a guichet (or an
    ancestor of it) listed in the committee's guichets. France Relance themes are decided by the selection
    body set on each theme ([003] §1), not by a body of the fund above them (none by default)."""
    guichet = db.session.get(Guichet, dossier_or_info.guichet_id)
    if guichet is None:
        return False
    chain = [guichet, *guichet.ancestors()]
    if any(g.committee_id == committee.id for g in chain):
        return True
    ids = {g.id for g in getattr(committee, "guichets", [])}
    return any(g.id in ids for g in chain)


def porteurs(dossier_id: int) -> list[User]:
    """The porteur's account and the accounts of the référents (matched on e-mail)."""
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        return []
    emails = {r.email for r in dossier.referents}
    users = {dossier.created_by_id: dossier.created_by}
    if emails:
        for user in db.session.scalars(select(User).where(User.email.in_(emails))):
            users[user.id] = user
    return list(users.values())


def requested_ae(dossier_id: int) -> int | None:
    """AE requested from the fund (FTAP lines), in euros."""
    dossier = db.session.get(Dossier, dossier_id)
    return figures(dossier).ftap_ae if dossier is not None else None


def mark_on_agenda(dossier, *, meeting=None, actor) -> Dossier:
    """instruit (or décidé ajourné) → inscrit en comité; idempotent when already inscribed."""
    dossier = _load(dossier)
    if dossier.state == S.INSCRIT_COMITE:
        dossier.agenda_meeting_id = getattr(meeting, "id", dossier.agenda_meeting_id)
        return dossier
    if dossier.state == S.DECIDE and dossier.decision_outcome != Outcome.AJOURNE:
        raise DomainError(f"Le dossier {dossier.reference} est déjà décidé.")
    label = getattr(meeting, "label", None)
    _transition(dossier, S.INSCRIT_COMITE, actor=actor, reason=f"Ordre du jour : {label}" if label else None)
    dossier.agenda_meeting_id = getattr(meeting, "id", None)
    return dossier


def remove_from_agenda(dossier, *, actor) -> Dossier:
    dossier = _load(dossier)
    _transition(dossier, S.INSTRUIT, actor=actor, reason="Retiré de l'ordre du jour")
    dossier.agenda_meeting_id = None
    return dossier


def apply_decision(dossier, decision, *, actor, rectification: bool = False) -> Dossier:
    """inscrit en comité → décidé with the outcome (accepte, accepte_sous_conditions, ajourne, refuse).

    `decision` is an outcome string or an object with `.outcome` (and `.id`). A rectification on a decided
    dossier updates the outcome without a new transition.
    """
    dossier = _load(dossier)
    outcome_raw = getattr(decision, "outcome", decision)
    try:
        outcome = Outcome(outcome_raw)
        if outcome not in Outcome.FOR_DOSSIERS:
            raise ValueError(outcome_raw)
    except ValueError:
        raise DomainError(f"Issue de décision inconnue pour un dossier : {outcome_raw}.") from None
    old = dossier.decision_outcome
    dossier.decision_outcome = outcome
    dossier.decision_id = getattr(decision, "id", dossier.decision_id)
    if dossier.state == S.DECIDE and (rectification or old == outcome):
        if old != outcome:
            audit.record(
                "dossier.decision_rectified",
                dossier,
                actor=actor,
                summary=f"{dossier.reference} : décision rectifiée ({outcome.label})",
                changes={"decision_outcome": [old, outcome.value]},
            )
        return dossier
    if dossier.state != S.INSCRIT_COMITE:
        dossier.decision_outcome = old
        raise DomainError(
            f"Le dossier {dossier.reference} n'est pas inscrit en comité (« {dossier.state_enum.label} »)."
        )
    _transition(dossier, S.DECIDE, actor=actor, reason=outcome.label)
    return dossier


def mark_contracted(dossier, *, actor) -> Dossier:
    """décidé (accepté / accepté sous conditions) → conventionné."""
    dossier = _load(dossier)
    if dossier.decision_outcome not in Outcome.ACCEPTED:
        raise DomainError("Seul un dossier accepté est conventionné.")
    _transition(dossier, S.CONVENTIONNE, actor=actor)
    return dossier


def start_follow_up(dossier, *, actor) -> Dossier:
    dossier = _load(dossier)
    _transition(dossier, S.EN_SUIVI, actor=actor)
    return dossier


def close(dossier, *, actor, reason: str = "") -> Dossier:
    dossier = _load(dossier)
    if dossier.state == S.DECIDE and dossier.decision_outcome == Outcome.AJOURNE:
        raise DomainError("Un dossier ajourné repasse en comité avant d'être clos.")
    _transition(dossier, S.CLOS, actor=actor, reason=clean(reason) or None)
    return dossier


# --- annex of budget nomenclatures ([000] §3 and annex; modified by the secretariat without avenant, §8) ---

BUDGET_ANNEX = {
    "bop_uo": ("Cadre de gestion BOP-UO", 120),
    "domaine_fonctionnel": ("Action — domaine fonctionnel", 120),
    "activite_chorus": ("Code activité Chorus / référentiel de programmation", 120),
    "designation_chorus": ("Désignation Chorus", 200),
    "centre_cout": ("Centre de coût", 120),
}


def set_budget_annex(dossier: Dossier, *, values: dict[str, str], actor) -> Dossier:
    """The secretariat (or an instructeur of the guichet) fills the contract's budget-nomenclature annex,
    e.g. « 0349-CDBU-DITP », « 0349-0101B501 » ([004] annex)."""
    if not can_instruct_dossier(actor, dossier, any_state=True):
        raise NotAllowed("Seuls le secrétariat et les instructeurs renseignent l'annexe budgétaire.")
    errors, clean_values = {}, {}
    for name, (label, limit) in BUDGET_ANNEX.items():
        value = clean(values.get(name, ""))
        too_long(value, name, errors, label, limit)
        clean_values[name] = value
    if errors:
        raise ValidationFailed(errors)
    changes = audit.diff(dossier, clean_values)
    if changes:
        for name, value in clean_values.items():
            setattr(dossier, name, value)
        audit.record(
            "dossier.budget_annex_updated",
            dossier,
            actor=actor,
            summary=f"{dossier.reference} : annexe des nomenclatures budgétaires",
            changes={k: list(v) for k, v in changes.items()},
        )
    return dossier
