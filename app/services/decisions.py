"""Votes on agenda items and the committee's decisions: record, amend (before the minutes are published),
rectify (after), and their effects on opportunities and dossiers. Each decision goes into the register.

Every function takes the acting user as `actor=`, flushes, never commits, and writes one audit entry.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from ..domain.rules import Verdict, majority_verdict
from ..extensions import db
from ..formatting import format_euros
from ..models import OpportunityState, User
from ..models.committees import (
    OUTCOMES_BY_KIND,
    AgendaItem,
    AttendanceStatus,
    Decision,
    DecisionAmount,
    DecisionMode,
    ItemKind,
    ItemVote,
    MeetingState,
    MemberFunction,
    Outcome,
    VoteChoice,
)
from ..permissions import can_record_decision, can_run_meeting
from . import audit, dossiers, register
from .committees import TEXT_MAX, _clean, _int_field, meeting_path, notify, porteurs_concerned
from .errors import DomainError, NotAllowed, ValidationFailed
from .meetings import attendance_of, change_opportunity, quorum

# --- votes ----------------------------------------------------------------------------------------------


def tally(item: AgendaItem) -> dict[str, int]:
    counts = dict(
        db.session.execute(
            select(ItemVote.choice, func.count(ItemVote.id))
            .where(ItemVote.item_id == item.id)
            .group_by(ItemVote.choice)
        )
        .tuples()
        .all()
    )
    return {c.value: counts.get(c.value, 0) for c in VoteChoice}


def lock_item(item: AgendaItem) -> None:
    """Take the agenda item's row lock before reading what decides (PostgreSQL): concurrent votes and
    decisions on one item (a double click, two secretaries) run one after the other, and each sees what the
    previous one committed. SQLite: writers are already serialised (BEGIN IMMEDIATE)."""
    if db.session.get_bind().dialect.name != "sqlite":
        db.session.execute(select(AgendaItem.id).where(AgendaItem.id == item.id).with_for_update())
    db.session.expire(item, ["decisions"])


def cast_vote(item: AgendaItem, *, voter: User, choice: str, actor) -> ItemVote:
    """Record `voter`'s vote on an item: by the voter, the holder of their proxy, or whoever runs the
    meeting. The same vote sent twice (a double click) is recorded once; the second gets a French message."""
    meeting = item.meeting
    lock_item(item)
    if meeting.state != MeetingState.TENUE:
        raise DomainError("On ne vote que pendant la séance (séance ouverte).")
    if item.decisions:
        raise DomainError("Une décision est déjà enregistrée sur ce point : les votes sont clos.")
    try:
        choice = VoteChoice(choice)
    except ValueError:
        raise ValidationFailed({"choice": "Choisissez pour, contre ou abstention."}) from None
    attendance = attendance_of(meeting).get(voter.id)
    if attendance is None:
        raise NotAllowed(f"{voter.full_name} n'est pas membre du {meeting.committee.code} : vote refusé.")
    if not attendance.function_enum.votes:
        raise NotAllowed(f"{voter.full_name} est invité(e), sans voix délibérative : vote refusé.")
    if attendance.status not in (AttendanceStatus.PRESENT, AttendanceStatus.REPRESENTE):
        raise NotAllowed(f"{voter.full_name} n'est ni présent(e) ni représenté(e) : vote refusé.")
    allowed = (
        can_run_meeting(actor, meeting)
        or (actor.id == voter.id and attendance.status == AttendanceStatus.PRESENT)
        or (attendance.status == AttendanceStatus.REPRESENTE and attendance.proxy_id == actor.id)
    )
    if not allowed:
        raise NotAllowed(
            "Vous ne pouvez voter que pour vous-même ou pour le membre dont vous détenez le pouvoir."
        )
    vote = db.session.scalar(
        select(ItemVote).where(ItemVote.item_id == item.id, ItemVote.user_id == voter.id)
    )
    old = vote.choice if vote else None
    if old == choice:
        raise DomainError(
            f"Le vote « {choice.label} » de {voter.full_name} est déjà enregistré sur ce point.",
            field="choice",
        )
    if vote is None:
        vote = ItemVote(item=item, user_id=voter.id, choice=choice, recorded_by_id=actor.id)
        db.session.add(vote)
    vote.choice, vote.recorded_by_id = choice, actor.id
    audit.record(
        "vote.cast",
        meeting,
        actor=actor,
        summary=f"Point {item.position} : vote de {voter.full_name}",
        changes={"vote": [old, choice.value]},
    )
    return vote


def verdict(item: AgendaItem) -> Verdict:
    meeting = item.meeting
    counts = tally(item)
    q = quorum(meeting)
    participants = q.present + q.represented
    president = next((a.user_id for a in meeting.attendances if a.function == MemberFunction.PRESIDENT), None)
    president_vote = (
        db.session.scalar(
            select(ItemVote.choice).where(ItemVote.item_id == item.id, ItemVote.user_id == president)
        )
        if president
        else None
    )
    return majority_verdict(
        meeting.committee.majority_enum,
        pour=counts["pour"],
        contre=counts["contre"],
        abstention=counts["abstention"],
        participants=participants,
        casting_vote=meeting.committee.casting_vote,
        president_choice=president_vote,
    )


# --- decisions ------------------------------------------------------------------------------------------


@dataclass
class AmountLine:
    year: object
    ae: object
    cp: object


def _parse_amounts(lines: list, errors: dict) -> list[tuple[int, int, int]]:
    parsed, years = [], set()
    for index, line in enumerate(lines):
        raw = [line.year, line.ae, line.cp]
        if all(str(v or "").strip() == "" for v in raw):
            continue
        year = _int_field(
            line.year, f"amounts-{index}-year", errors, minimum=2000, maximum=2100, label="L'année"
        )
        # an empty AE or CP on a filled line means 0 (e.g. CP only in a later year)
        ae = _int_field(
            line.ae if str(line.ae or "").strip() else "0",
            f"amounts-{index}-ae",
            errors,
            label="Le montant AE",
        )
        cp = _int_field(
            line.cp if str(line.cp or "").strip() else "0",
            f"amounts-{index}-cp",
            errors,
            label="Le montant CP",
        )
        if year in years:
            errors[f"amounts-{index}-year"] = f"L'année {year} figure deux fois."
        years.add(year)
        parsed.append((year, ae, cp))
    return sorted(parsed)


def _decision_fields(
    item: AgendaItem,
    *,
    outcome: str,
    motivation: str,
    conditions: str,
    expectations: str,
    amounts: list,
    confirm_above_request: bool,
) -> tuple[Outcome, dict, list]:
    errors = {}
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise ValidationFailed({"outcome": "Choisissez l'issue de la décision."}) from None
    if outcome not in OUTCOMES_BY_KIND[item.kind_enum]:
        raise ValidationFailed(
            {"outcome": f"« {outcome.label} » n'est pas une issue possible pour ce point."}
        )
    motivation, conditions, expectations = _clean(motivation), _clean(conditions), _clean(expectations)
    for name, text in (
        ("motivation", motivation),
        ("conditions", conditions),
        ("expectations", expectations),
    ):
        if len(text) > TEXT_MAX:
            errors[name] = f"Le texte ne doit pas dépasser {TEXT_MAX} caractères."
    if not motivation and not outcome.positive:
        errors["motivation"] = f"Une motivation est obligatoire pour une décision « {outcome.label} »."
    if outcome is Outcome.ACCEPTE_SOUS_CONDITIONS and not conditions:
        errors["conditions"] = "Listez les conditions de l'acceptation."
    if outcome is Outcome.AJOURNE and not expectations:
        errors["expectations"] = "Indiquez ce qui est attendu pour un nouvel examen."
    parsed = _parse_amounts(amounts or [], errors)
    if outcome in (Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS) and not parsed and not errors:
        errors["amounts-0-ae"] = "Indiquez le montant accordé (AE et CP) pour au moins une année."
    if parsed and item.kind != ItemKind.DOSSIER:
        errors["amounts-0-ae"] = "Seule une décision sur un dossier accorde des montants."
    if parsed and outcome in (Outcome.AJOURNE, Outcome.REFUSE):
        errors["amounts-0-ae"] = f"Une décision « {outcome.label} » n'accorde pas de montant."
    if parsed and not errors and item.dossier_id is not None:
        requested = dossiers.requested_ae(item.dossier_id)
        granted = sum(ae for _, ae, _ in parsed)
        if requested is not None and granted > requested and not confirm_above_request:
            errors["confirm_above_request"] = (
                f"Le montant accordé ({format_euros(granted)} en AE) dépasse la demande "
                f"({format_euros(requested)}) : cochez la confirmation pour l'enregistrer."
            )
    if errors:
        raise ValidationFailed(errors)
    values = {"motivation": motivation, "conditions": conditions, "expectations": expectations}
    return outcome, values, parsed


def record_decision(
    item: AgendaItem,
    *,
    outcome: str,
    mode: str = DecisionMode.VOTE,
    motivation: str = "",
    conditions: str = "",
    expectations: str = "",
    amounts: list | None = None,
    confirm_above_request: bool = False,
    actor,
) -> Decision:
    """Record the committee's decision on an agenda item, move the item's object to its new state and append
    the decision to the register. The porteurs are told at the publication of the minutes."""
    meeting = item.meeting
    if not can_record_decision(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas enregistrer de décision pour ce comité.")
    if meeting.state != MeetingState.TENUE:
        raise DomainError("Les décisions s'enregistrent pendant la séance (séance ouverte).")
    lock_item(item)  # a second click waits here, then sees the first decision
    if item.decisions:
        raise DomainError("Une décision est déjà enregistrée sur ce point : modifiez-la ou rectifiez-la.")
    try:
        mode = DecisionMode(mode)
    except ValueError:
        raise ValidationFailed({"mode": "Choisissez vote ou consensus."}) from None
    q = quorum(meeting)
    if not q.reached:
        raise DomainError(
            f"Décision impossible : {q.text}. Attendez l'arrivée d'un membre ou ajournez le point.",
            field="quorum",
        )
    outcome, values, parsed = _decision_fields(
        item,
        outcome=outcome,
        motivation=motivation,
        conditions=conditions,
        expectations=expectations,
        amounts=amounts,
        confirm_above_request=confirm_above_request,
    )
    _check_opportunity_outcome(item, outcome)
    counts = tally(item)
    if mode is DecisionMode.VOTE:
        if sum(counts.values()) == 0:
            raise ValidationFailed(
                {
                    "mode": "Aucun vote n'est enregistré sur ce point : recueillez les votes ou "
                    "choisissez le consensus."
                }
            )
        result = verdict(item)
        if result.adopted != outcome.positive:
            raise ValidationFailed(
                {
                    "outcome": (
                        f"{result.text} L'issue « {outcome.label} » ne correspond pas au résultat du vote : "
                        "choisissez "
                        + (
                            "une issue qui adopte la proposition."
                            if result.adopted
                            else "une issue qui ne l'adopte pas."
                        )
                    )
                }
            )
        verdict_text = result.text
    else:
        if sum(counts.values()):
            raise ValidationFailed(
                {"mode": "Des votes sont enregistrés sur ce point : la décision suit le vote."}
            )
        verdict_text = f"Consensus des {q.present + q.represented} membres votants présents ou représentés."
    decision = Decision(
        item=item,
        meeting_id=meeting.id,
        committee_id=meeting.committee_id,
        outcome=outcome,
        mode=mode,
        votes_for=counts["pour"],
        votes_against=counts["contre"],
        votes_abstention=counts["abstention"],
        verdict=verdict_text,
        quorum=q.text,
        above_request_confirmed=bool(confirm_above_request and parsed),
        recorded_by_id=actor.id,
        recorded_at=datetime.now(UTC),
        **values,
    )
    decision.amounts = [DecisionAmount(year=y, ae=ae, cp=cp) for y, ae, cp in parsed]
    db.session.add(decision)
    db.session.flush()
    _apply_effects(decision, actor=actor)
    register.append(decision, "recorded")
    audit.record(
        "decision.recorded",
        decision,
        actor=actor,
        summary=f"{meeting.committee.code} — point {item.position} : {outcome.label}",
        changes={"outcome": [None, outcome.value]},
    )
    # Nobody is told yet: the decision can still change until the minutes are published (minutes.publish).
    return decision


def _check_opportunity_outcome(item: AgendaItem, outcome: Outcome) -> None:
    opportunity = item.opportunity
    if opportunity is None:
        return
    state = opportunity.state_enum
    if outcome is Outcome.VALIDEE and state is not OpportunityState.RETENUE_CRIBLAGE:
        raise ValidationFailed(
            {
                "outcome": f"{opportunity.code} est « {state.label} » : seule une opportunité "
                "retenue au criblage peut être validée."
            }
        )
    if outcome is Outcome.LANCEE and state not in (OpportunityState.PROPOSEE_CSIC,):
        raise ValidationFailed(
            {
                "outcome": f"{opportunity.code} est « {state.label} » : seule une opportunité "
                "proposée au CSIC peut être lancée."
            }
        )


OPPORTUNITY_EFFECTS = {
    Outcome.VALIDEE: OpportunityState.VALIDEE_CSIC_TECH,
    Outcome.LANCEE: OpportunityState.LANCEE,
    Outcome.ECARTEE: OpportunityState.ECARTEE,
}


def opportunity_effect(outcome: Outcome, opportunity) -> OpportunityState:
    """The state a decision puts its opportunity in. « Renvoyée » sends a CSIC-Tech subject back to the
    criblage and a CSIC subject back to qualification ([002] §4)."""
    if outcome is Outcome.RENVOYEE:
        before_qualification = {
            OpportunityState.EN_CRIBLAGE,
            OpportunityState.RETENUE_CRIBLAGE,
            OpportunityState.VALIDEE_CSIC_TECH,
        }
        if opportunity.state in before_qualification:
            return OpportunityState.EN_CRIBLAGE
        return OpportunityState.EN_QUALIFICATION
    return OPPORTUNITY_EFFECTS[outcome]


def _apply_effects(decision: Decision, *, actor, previous: Decision | None = None) -> None:
    item = decision.item
    label = f"Décision du {decision.committee.code} ({decision.meeting.label})"
    if item.opportunity is not None:
        if previous is None or previous.outcome != decision.outcome:
            reason = decision.motivation or label
            change_opportunity(
                item.opportunity,
                opportunity_effect(decision.outcome_enum, item.opportunity),
                actor=actor,
                reason=reason,
                act=decision,
            )
    elif item.kind == ItemKind.DOSSIER:
        dossiers.apply_decision(item.dossier_id, decision, actor=actor, rectification=previous is not None)


def amend_decision(
    decision: Decision,
    *,
    motivation: str,
    conditions: str,
    expectations: str,
    amounts: list,
    confirm_above_request: bool = False,
    actor,
) -> Decision:
    """Correct a decision before its minutes are published (the outcome stays; it is in the register)."""
    if not can_record_decision(actor, decision.meeting):
        raise NotAllowed("Vous ne pouvez pas modifier cette décision.")
    if decision.locked:
        raise DomainError(
            "Le procès-verbal est publié : la décision ne se modifie plus. Enregistrez une décision "
            "rectificative."
        )
    _, values, parsed = _decision_fields(
        decision.item,
        outcome=decision.outcome,
        motivation=motivation,
        conditions=conditions,
        expectations=expectations,
        amounts=amounts,
        confirm_above_request=confirm_above_request,
    )
    changes = audit.diff(decision, values)
    old_amounts = [[a.year, a.ae, a.cp] for a in decision.amounts]
    if old_amounts != [list(p) for p in parsed]:
        changes["amounts"] = [old_amounts, [list(p) for p in parsed]]
        decision.amounts = [DecisionAmount(year=y, ae=ae, cp=cp) for y, ae, cp in parsed]
    if not changes:
        return decision
    for key, value in values.items():
        setattr(decision, key, value)
    decision.above_request_confirmed = bool(confirm_above_request and parsed)
    db.session.flush()
    if "amounts" in changes and decision.item.kind == ItemKind.DOSSIER:
        dossiers.apply_decision(decision.item.dossier_id, decision, actor=actor, rectification=True)
    register.append(decision, "amended")
    audit.record(
        "decision.amended",
        decision,
        actor=actor,
        summary=f"Décision n° {decision.id} modifiée",
        changes=changes,
    )
    return decision


def rectify_decision(
    decision: Decision,
    *,
    outcome: str | None = None,
    motivation: str,
    conditions: str = "",
    expectations: str = "",
    amounts: list | None = None,
    confirm_above_request: bool = False,
    actor,
) -> Decision:
    """A published decision is immutable: a correction is a new decision linked to the one it corrects."""
    if not can_record_decision(actor, decision.meeting):
        raise NotAllowed("Vous ne pouvez pas rectifier cette décision.")
    if not decision.locked:
        raise DomainError("Le procès-verbal n'est pas encore publié : modifiez directement la décision.")
    lock_item(decision.item)
    db.session.expire(decision, ["rectified_by"])
    if decision.rectified_by is not None:
        raise DomainError(
            f"Cette décision a déjà été rectifiée (décision n° {decision.rectified_by.id}) : "
            "rectifiez la décision rectificative."
        )
    outcome = outcome or decision.outcome
    item = decision.item
    new_outcome, values, parsed = _decision_fields(
        item,
        outcome=outcome,
        motivation=motivation,
        conditions=conditions,
        expectations=expectations,
        amounts=amounts,
        confirm_above_request=confirm_above_request,
    )
    if new_outcome.positive != decision.outcome_enum.positive:
        raise ValidationFailed(
            {
                "outcome": "Une rectification ne renverse pas le sens du vote : l'issue doit rester "
                + ("favorable." if decision.outcome_enum.positive else "défavorable.")
            }
        )
    if new_outcome != decision.outcome_enum:
        _check_opportunity_outcome(item, new_outcome)
    if not _clean(motivation):
        raise ValidationFailed(
            {"motivation": "Motivez la rectification (erreur matérielle, montant corrigé…)."}
        )
    rectification = Decision(
        item=item,
        meeting_id=decision.meeting_id,
        committee_id=decision.committee_id,
        outcome=new_outcome,
        mode=decision.mode,
        votes_for=decision.votes_for,
        votes_against=decision.votes_against,
        votes_abstention=decision.votes_abstention,
        verdict=decision.verdict,
        quorum=decision.quorum,
        rectifies_id=decision.id,
        above_request_confirmed=bool(confirm_above_request and parsed),
        locked=True,
        recorded_by_id=actor.id,
        recorded_at=datetime.now(UTC),
        **values,
    )
    rectification.amounts = [DecisionAmount(year=y, ae=ae, cp=cp) for y, ae, cp in parsed]
    db.session.add(rectification)
    db.session.flush()
    db.session.expire(item, ["decisions"])
    _apply_effects(rectification, actor=actor, previous=decision)
    register.append(rectification, "rectified")
    audit.record(
        "decision.rectified",
        rectification,
        actor=actor,
        summary=f"Décision n° {rectification.id} rectifie la décision n° {decision.id}",
        changes={"rectifies": [None, decision.id]},
    )
    notify(
        porteurs_concerned(decision.meeting, item),
        "committee.decision_recorded",
        rectification,
        subject=f"Décision rectificative du {decision.committee.name} : {item.title}",
        body=rectification.motivation,
        url=meeting_path(decision.meeting),
    )
    return rectification
