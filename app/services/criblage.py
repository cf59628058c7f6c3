"""Criblage sessions ([002] §4): open over a set of opportunities, score, retain, hand off, close.

The retained subjects go to CSIC-Tech through `propose_for_csic_tech()`, the one hand-off point: an agenda
proposal of the CSIC-Tech (the one proposal mechanism, `services/proposals.py`, with the instructeurs' and
the follow-up's), which the secretariat's retention itself accepts onto the next planned meeting when there
is one; otherwise it waits in that committee's agenda builder.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import AgendaItem, Committee, Meeting, MeetingState, Opportunity, OpportunityState, Visibility
from ..models.committees import ItemKind
from ..models.criblage import COMMENT_MAX, SCALE, TITLE_MAX, Criblage, CriblageItem, CriblageScore
from ..models.proposals import ProposalSource
from ..permissions import can_open_criblage, can_retain_criblage, can_score_criblage
from . import audit, meetings, proposals, voting
from .errors import NotAllowed, ValidationFailed
from .portfolio import change_state

CSIC_TECH = "CSIC-TECH"


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def open_criblage(*, title: str, opportunities: list[Opportunity], scope: str = "", actor) -> Criblage:
    """Open a criblage over `opportunities`; the identified (or écartée) ones move to « en criblage »."""
    if not can_open_criblage(actor):
        raise NotAllowed("Seul le secrétariat ouvre un criblage.")
    title = _clean(title)
    errors = {}
    if not title:
        errors["title"] = "Donnez un intitulé au criblage."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"L'intitulé ne doit pas dépasser {TITLE_MAX} caractères."
    if not opportunities:
        errors["opportunities"] = "Aucune opportunité ne correspond : élargissez les filtres."
    else:
        refused = [o.code for o in opportunities if o.ate or o.state not in OpportunityState.SCREENABLE]
        if refused:
            errors["opportunities"] = (
                "Ne peuvent pas être criblées (sujet ATE, ou déjà retenue, validée, en qualification, "
                f"close) : {', '.join(refused)}."
            )
    if errors:
        raise ValidationFailed(errors)
    criblage = Criblage(title=title, scope=_clean(scope), opened_by_id=actor.id)
    db.session.add(criblage)
    for opportunity in opportunities:
        criblage.items.append(CriblageItem(opportunity=opportunity))
    db.session.flush()
    for opportunity in opportunities:
        if opportunity.state != OpportunityState.EN_CRIBLAGE:
            change_state(
                opportunity,
                to=OpportunityState.EN_CRIBLAGE,
                actor=actor,
                reason=f"Criblage « {title} »",
                criblage=criblage,
            )
    audit.record(
        "criblage.opened",
        criblage,
        actor=actor,
        summary=f"Criblage « {title} » ouvert ({len(opportunities)} opportunités)",
    )
    return criblage


def _mark(raw, field: str, label: str, errors: dict) -> int | None:
    try:
        mark = int(raw)
    except (TypeError, ValueError):
        mark = None
    if mark not in SCALE:
        errors[field] = f"Choisissez la {label} (de 1 à 4)."
        return None
    return mark


def score(item: CriblageItem, *, maturity, value, comment: str = "", actor) -> CriblageScore:
    """Record (or replace) the reviewer's marks on one item."""
    criblage = item.criblage
    if not can_score_criblage(actor, criblage):
        raise NotAllowed(
            "Ce criblage est clos." if not criblage.is_open else "Seuls les DSI et le secrétariat notent."
        )
    errors: dict[str, str] = {}
    maturity = _mark(maturity, "maturity", "maturité", errors)
    value = _mark(value, "value", "valeur", errors)
    comment = _clean(comment)
    if len(comment) > COMMENT_MAX:
        errors["comment"] = f"Le commentaire ne doit pas dépasser {COMMENT_MAX} caractères."
    if errors:
        raise ValidationFailed(errors)
    current = next((s for s in item.scores if s.reviewer_id == actor.id), None)
    old = [current.maturity, current.value] if current else None
    if current is None:
        current = CriblageScore(item=item, reviewer_id=actor.id, maturity=maturity, value=value)
        db.session.add(current)
    current.maturity, current.value, current.comment = maturity, value, comment
    db.session.flush()
    audit.record(
        "criblage.scored",
        criblage,
        actor=actor,
        summary=f"{item.opportunity.code} : maturité {maturity}, valeur {value}",
        changes={"score": [old, [maturity, value]]},
    )
    return current


def next_csic_tech_meeting(now: datetime | None = None) -> Meeting | None:
    """The next CSIC-Tech meeting whose agenda is still open (planned, not yet published)."""
    now = now or datetime.now(UTC)
    return db.session.scalar(
        select(Meeting)
        .join(Committee, Committee.id == Meeting.committee_id)
        .where(
            Committee.code == CSIC_TECH,
            Meeting.state == MeetingState.PLANIFIEE,
            Meeting.starts_at >= now,
        )
        .order_by(Meeting.starts_at)
        .limit(1)
    )


def propose_for_csic_tech(opportunity: Opportunity, *, actor) -> AgendaItem | None:
    """Hand a retained subject to the next CSIC-Tech: an item on its agenda, or None when no meeting is
    planned (the opportunity, « retenue au criblage », is then offered when an agenda is prepared)."""
    committee = db.session.scalar(select(Committee).where(Committee.code == CSIC_TECH))
    proposals.propose(
        committee,
        source=ProposalSource.CRIBLAGE,
        kind=ItemKind.OPPORTUNITE,
        title=f"{opportunity.code} — {opportunity.brique}",
        reason="Retenue au criblage : valider pour une qualification approfondie.",
        opportunity=opportunity,
        actor=actor,
    )
    meeting = next_csic_tech_meeting()
    if meeting is None:
        return None
    existing = next((i for i in meeting.items if i.opportunity_id == opportunity.id), None)
    if existing is not None:
        return existing
    return meetings.add_item(
        meeting,
        kind=ItemKind.OPPORTUNITE,
        opportunity=opportunity,
        proposal="Valider pour une qualification approfondie (retenue au criblage)",
        actor=actor,
    )


def retain(criblage: Criblage, *, items: list[CriblageItem], actor) -> list[CriblageItem]:
    """Retain subjects: « retenue au criblage », then proposed for the next CSIC-Tech."""
    if not can_retain_criblage(actor, criblage):
        raise NotAllowed(
            "Ce criblage est clos." if not criblage.is_open else "Seul le secrétariat retient les sujets."
        )
    if not items:
        raise ValidationFailed({"items": "Cochez au moins un sujet à retenir."})
    refused = [
        i.opportunity.code
        for i in items
        if i.criblage_id != criblage.id or i.opportunity.state != OpportunityState.EN_CRIBLAGE
    ]
    if refused:
        raise ValidationFailed(
            {"items": f"Ne sont plus « en criblage », donc ne peuvent être retenues : {', '.join(refused)}."}
        )
    now = datetime.now(UTC)
    for item in items:
        change_state(
            item.opportunity,
            to=OpportunityState.RETENUE_CRIBLAGE,
            actor=actor,
            reason=f"Retenue au criblage « {criblage.title} »",
            criblage=criblage,
        )
        item.retained_at, item.retained_by_id = now, actor.id
        item.agenda_item = propose_for_csic_tech(item.opportunity, actor=actor)
    db.session.flush()
    audit.record(
        "criblage.retained",
        criblage,
        actor=actor,
        summary=f"Retenues : {', '.join(i.opportunity.code for i in items)}",
    )
    return items


def close(criblage: Criblage, *, actor) -> Criblage:
    if not can_retain_criblage(actor, criblage):
        raise NotAllowed(
            "Ce criblage est déjà clos." if not criblage.is_open else "Seul le secrétariat clôt."
        )
    criblage.closed_at, criblage.closed_by_id = datetime.now(UTC), actor.id
    audit.record("criblage.closed", criblage, actor=actor, summary=f"Criblage « {criblage.title} » clos")
    return criblage


def launch_campaign(criblage: Criblage, *, actor, now: datetime | None = None):
    """A prioritisation campaign (draft) over the retained list: opens tomorrow, closes two weeks later;
    the secretariat adjusts it before opening it."""
    retained = [item.opportunity_id for item in criblage.retained]
    if not retained:
        raise ValidationFailed({"campaign": "Retenez d'abord des sujets : la campagne porte sur eux."})
    start = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    campaign = voting.create_campaign(
        voting.CampaignInput(
            title=f"Priorisation — {criblage.title}"[:TITLE_MAX],
            description=f"Sujets retenus au criblage « {criblage.title} ».",
            opens_at=start,
            closes_at=start + timedelta(days=14),
            visibility=Visibility.ANONYMOUS.value,
            must_budget=None,
            ministry_ids=[],
            opportunity_ids=retained,
        ),
        actor=actor,
    )
    criblage.campaign = campaign
    audit.record(
        "criblage.campaign_launched",
        criblage,
        actor=actor,
        summary=f"Campagne « {campaign.title} » préparée depuis le criblage",
    )
    return campaign
