"""MoSCoW campaigns: create, move through their states, cast and withdraw votes, freeze and publish results.

The arithmetic (median class, consensus, ranking) is the domain's (app/domain/moscow.py): pure functions on
the four counts of a distribution; the counts come from one aggregate query over the vote rows.
"""

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..domain import moscow
from ..domain.moscow import (  # noqa: F401  (the arithmetic, re-exported for the services' callers)
    ASCENDING,
    Counts,
    dispersion,
    majority_median,
    median_of,
    ministry_medians,
    modal_share,
    nth_ascending,
    rank_key,
    share_at_or_above,
    total,
)
from ..extensions import db
from ..models import Opportunity, OpportunityState, Organisation, User
from ..models.base import utcnow
from ..models.portfolio import Moscow
from ..models.voting import (  # noqa: F401  (electorate_by_ministry, voters_by_ministry: re-exported)
    DESCRIPTION_MAX,
    JUSTIFICATION_MAX,
    REASON_MAX,
    TITLE_MAX,
    Campaign,
    CampaignMinistryResult,
    CampaignParticipation,
    CampaignResult,
    CampaignState,
    CampaignTransition,
    Visibility,
    Vote,
    campaign_opportunities,
    electorate_by_ministry,
    voters_by_ministry,
)
from ..permissions import (  # noqa: F401  (elector_ministry: re-exported)
    can_edit_campaign,
    can_manage_campaigns,
    can_override_priority,
    elector_ministry,
)
from . import audit, reminders, transitions
from .errors import DomainError, NotAllowed, StaleVersion, ValidationFailed

DEFAULT_SCOPE_STATES = (OpportunityState.EN_CRIBLAGE, OpportunityState.RETENUE_CRIBLAGE)


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# --- campaigns -------------------------------------------------------------------------------------


@dataclass
class CampaignInput:
    title: str
    description: str
    opens_at: datetime | None
    closes_at: datetime | None
    visibility: str
    must_budget: int | None
    ministry_ids: list[int]
    opportunity_ids: list[int]
    version: int | None = None  # the version the form was loaded with (stale edits are refused)


def default_scope_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(Opportunity.id)
            .where(Opportunity.state.in_(DEFAULT_SCOPE_STATES))
            .order_by(Opportunity.number)
        )
    )


def _validate(data: CampaignInput, *, visibility_fixed: bool) -> tuple[dict, list, list]:
    errors: dict[str, str] = {}
    title, description = _clean(data.title), _clean(data.description)
    if not title:
        errors["title"] = "Le titre est obligatoire."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"Le titre ne doit pas dépasser {TITLE_MAX} caractères (actuellement {len(title)})."
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = f"La description ne doit pas dépasser {DESCRIPTION_MAX} caractères."
    if data.opens_at is None:
        errors["opens_at"] = "Indiquez la date et l'heure d'ouverture."
    if data.closes_at is None:
        errors["closes_at"] = "Indiquez la date et l'heure de clôture."
    elif data.opens_at is not None and data.closes_at <= data.opens_at:
        errors["closes_at"] = "La clôture doit être postérieure à l'ouverture."
    if not visibility_fixed and data.visibility not in {v.value for v in Visibility}:
        errors["visibility"] = "Choisissez la règle de visibilité des résultats."
    opportunities = (
        list(
            db.session.scalars(
                select(Opportunity)
                .where(Opportunity.id.in_(set(data.opportunity_ids)))
                .order_by(Opportunity.number)
            )
        )
        if data.opportunity_ids
        else []
    )
    if not opportunities:
        errors["opportunities"] = "Choisissez au moins une opportunité à prioriser."
    elif len(opportunities) != len(set(data.opportunity_ids)):
        errors["opportunities"] = "Certaines opportunités choisies n'existent pas."
    ministries = (
        list(db.session.scalars(select(Organisation).where(Organisation.id.in_(set(data.ministry_ids)))))
        if data.ministry_ids
        else []
    )
    if len(ministries) != len(set(data.ministry_ids)):
        errors["ministries"] = "Certains ministères choisis n'existent pas."
    if data.must_budget is not None:
        if data.must_budget < 1:
            errors["must_budget"] = (
                "Le nombre de « Must » par votant doit être au moins 1 (laissez vide pour ne pas limiter)."
            )
        elif opportunities and data.must_budget > len(opportunities):
            errors["must_budget"] = (
                f"Le nombre de « Must » par votant ne peut pas dépasser le nombre d'opportunités "
                f"soumises au vote ({len(opportunities)})."
            )
    if errors:
        raise ValidationFailed(errors)
    return {"title": title, "description": description}, opportunities, ministries


def campaign_errors(data: CampaignInput) -> dict[str, str]:
    """The French messages create_campaign would raise, so a form can show them all at once."""
    try:
        _validate(data, visibility_fixed=False)
    except ValidationFailed as error:
        return error.errors
    return {}


def create_campaign(data: CampaignInput, *, actor) -> Campaign:
    if not can_manage_campaigns(actor):
        raise NotAllowed("Seul le secrétariat crée des campagnes de priorisation.")
    texts, opportunities, ministries = _validate(data, visibility_fixed=False)
    campaign = Campaign(
        **texts,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        visibility=data.visibility,
        must_budget=data.must_budget,
        created_by_id=actor.id,
    )
    campaign.opportunities = opportunities
    campaign.ministries = ministries
    db.session.add(campaign)
    audit.record(
        "campaign.created",
        campaign,
        actor=actor,
        summary=f"Campagne « {campaign.title} » créée ({len(opportunities)} opportunités)",
    )
    _reschedule_reminders(campaign)
    return campaign


def update_campaign(campaign: Campaign, data: CampaignInput, *, actor) -> Campaign:
    if not can_edit_campaign(actor, campaign):
        raise NotAllowed("Une campagne ne se modifie qu'à l'état de brouillon, par le secrétariat.")
    texts, opportunities, ministries = _validate(data, visibility_fixed=False)
    if data.version is not None and data.version != campaign.version:
        raise StaleVersion(campaign)
    values = texts | {
        "opens_at": data.opens_at,
        "closes_at": data.closes_at,
        "visibility": data.visibility,
        "must_budget": data.must_budget,
    }
    changes = audit.diff(campaign, values)
    for key, value in values.items():
        setattr(campaign, key, value)
    old_scope = sorted(o.code for o in campaign.opportunities)
    new_scope = sorted(o.code for o in opportunities)
    if old_scope != new_scope:
        changes["opportunities"] = [len(old_scope), len(new_scope)]
        campaign.opportunities = opportunities
    old_ministries = sorted(m.code for m in campaign.ministries)
    new_ministries = sorted(m.code for m in ministries)
    if old_ministries != new_ministries:
        changes["ministries"] = [old_ministries, new_ministries]
        campaign.ministries = ministries
    if changes:
        for key in ("opens_at", "closes_at"):
            if key in changes:
                changes[key] = [v.isoformat() for v in changes[key]]
        audit.record(
            "campaign.updated",
            campaign,
            actor=actor,
            summary=f"Campagne « {campaign.title} » modifiée",
            changes=changes,
        )
        _reschedule_reminders(campaign)
    return campaign


VERBS = {CampaignState.OUVERTE: "opened", CampaignState.CLOSE: "closed", CampaignState.PUBLIEE: "published"}


def transition(
    campaign: Campaign, *, to: str, actor, reason: str = "", now: datetime | None = None
) -> Campaign:
    """Move the campaign to `to` (secretariat). Opening early moves opens_at to now; closing early,
    closes_at."""
    if actor is not None and not can_manage_campaigns(actor):
        raise NotAllowed("Seul le secrétariat change l'état d'une campagne.")
    now = now or utcnow()
    try:
        new = CampaignState(to)
    except ValueError:
        raise ValidationFailed({"state": "État inconnu."}) from None
    values: dict = {}
    if new == CampaignState.OUVERTE:
        if campaign.closes_at <= now:
            raise ValidationFailed(
                {"state": "La date de clôture est passée : modifiez-la avant d'ouvrir la campagne."}
            )
        values["opened_at"] = now
        if campaign.opens_at > now:
            values["opens_at"] = now
    elif new == CampaignState.CLOSE:
        values["closed_at"] = now
        if campaign.closes_at > now:
            values["closes_at"] = now
    elif new == CampaignState.PUBLIEE:
        values["published_at"] = now
    _move(campaign, new, values, actor=actor, reason=_clean(reason)[:REASON_MAX] or None)
    return campaign


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed({"state": message})


def _move(campaign: Campaign, new: CampaignState, values: dict, *, actor, reason) -> None:
    """Move through transitions.apply(), with the dates that go with the new state. The UPDATE is
    conditional on the campaign's version: of two concurrent movers (two requests, or a request and the
    scheduler) exactly one wins; the other is told the campaign changed meanwhile."""
    old = campaign.state_enum
    if new not in campaign.allowed_transitions():  # refused before any date is set on the campaign
        raise _refused(f"Passage de « {old.label} » à « {new.label} » non autorisé.")
    for key, value in values.items():
        setattr(campaign, key, value)
    automatic = " (automatique)" if actor is None else ""
    try:
        transitions.apply(
            campaign,
            new,
            actor=actor,
            log=CampaignTransition,
            action=f"campaign.{VERBS[new]}",
            summary=f"Campagne « {campaign.title} » : {old.label} → {new.label}{automatic}",
            reason=reason,
            error=_refused,
            campaign=campaign,
        )
        db.session.flush()
    except StaleDataError:
        raise DomainError("La campagne a changé d'état entre-temps ; rechargez la page.") from None
    if new == CampaignState.CLOSE:
        freeze_results(campaign)
    elif new == CampaignState.PUBLIEE:
        _apply_priorities(campaign, actor=actor)
    _reschedule_reminders(campaign)


def _reschedule_reminders(campaign: Campaign) -> None:
    """The reminders domain plans "campaign closing" reminders from the campaign's state and dates."""
    reminders.reschedule_for(campaign)


@event.listens_for(Campaign, "after_insert")
@event.listens_for(Campaign, "after_update")
def _forget_due_time(*_args) -> None:
    _due_cache["until"] = 0.0


def due_campaign_ids(now: datetime) -> list[tuple[int, str]]:
    """(id, state) of the campaigns whose opening or closing time has come: one indexed query."""
    return list(
        db.session.execute(
            select(Campaign.id, Campaign.state)
            .where(
                (
                    (Campaign.state == CampaignState.BROUILLON)
                    & (Campaign.opens_at <= now)
                    & (Campaign.closes_at > now)
                )
                | ((Campaign.state == CampaignState.OUVERTE) & (Campaign.closes_at <= now))
            )
            .order_by(Campaign.id)
        ).all()
    )


DUE_CACHE_SECONDS = 30
_due_cache: dict = {"next": None, "until": 0.0}


def next_due_at() -> datetime | None:
    """The next time a campaign must open or close (one query)."""
    return db.session.scalar(
        select(
            func.min(
                case(
                    (Campaign.state == CampaignState.BROUILLON, Campaign.opens_at),
                    (Campaign.state == CampaignState.OUVERTE, Campaign.closes_at),
                )
            )
        ).where(Campaign.state.in_(CampaignState.DUE))
    )


def apply_due_transitions_if_due(now: datetime | None = None) -> list[tuple[int, str]]:
    """What the voting pages run before each request: apply_due_transitions, but no query at all while the
    next due time (cached per process for DUE_CACHE_SECONDS, forgotten at once on this process's own
    campaign changes) is in the future."""
    now = now or utcnow()
    clock = time.monotonic()
    if clock < _due_cache["until"] and (_due_cache["next"] is None or now < _due_cache["next"]):
        return []
    done = apply_due_transitions(now)
    _due_cache.update(next=next_due_at(), until=clock + DUE_CACHE_SECONDS)
    return done


def apply_due_transitions(now: datetime | None = None) -> list[tuple[int, str]]:
    """Open the drafts whose window has started and close the open campaigns whose window has ended.

    Idempotent and safe to run concurrently (each move is a conditional UPDATE). Called before each request
    of the voting pages and by the scheduler job; the caller commits. A draft whose whole window has passed
    is left alone (the secretariat must change its dates). Returns [(campaign id, new state)].
    """
    now = now or utcnow()
    done = []
    for campaign_id, state in due_campaign_ids(now):
        campaign = db.session.get(Campaign, campaign_id)
        if CampaignState(state) == CampaignState.BROUILLON:
            new, values = CampaignState.OUVERTE, {"opened_at": now}
        else:
            new, values = CampaignState.CLOSE, {"closed_at": now}
        try:
            with db.session.begin_nested():
                _move(campaign, new, values, actor=None, reason="Date prévue atteinte")
        except DomainError:
            db.session.expire(campaign)
            continue  # somebody else moved it first
        done.append((campaign_id, new.value))
    return done


# --- votes -----------------------------------------------------------------------------------------


def _check_can_vote(
    campaign: Campaign, opportunity: Opportunity, actor, now: datetime
) -> tuple[int | None, Vote]:
    """Refuse unless the actor is an elector, the window is open and the opportunity is in scope.
    Returns (the voter's ministry, their current vote or None): scope and vote come from one query."""
    is_elector, ministry = elector_ministry(actor, campaign)
    if not is_elector:
        raise NotAllowed(
            "Vous ne faites pas partie du collège de cette campagne : votre vote n'est pas enregistré."
        )
    if campaign.state != CampaignState.OUVERTE or not (campaign.opens_at <= now < campaign.closes_at):
        raise DomainError("Le vote n'est pas ouvert pour cette campagne : votre vote n'est pas enregistré.")
    row = db.session.execute(
        select(campaign_opportunities.c.opportunity_id, Vote)
        .outerjoin(
            Vote,
            (Vote.campaign_id == campaign.id)
            & (Vote.voter_id == actor.id)
            & (Vote.opportunity_id == campaign_opportunities.c.opportunity_id),
        )
        .where(
            campaign_opportunities.c.campaign_id == campaign.id,
            campaign_opportunities.c.opportunity_id == opportunity.id,
        )
    ).first()
    if row is None:
        raise DomainError(f"{opportunity.code} n'est pas soumise au vote dans cette campagne.")
    return ministry, row[1]


def _lock(campaign: Campaign, actor) -> None:
    """PostgreSQL: share-lock the campaign row (a close waits for the votes in flight, and a vote after the
    close sees it) and lock the voter's row (one voter's requests run one at a time: budget, double clicks).
    SQLite: nothing to do, writers are already serialised (BEGIN IMMEDIATE)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return
    state = db.session.scalar(
        select(Campaign.state).where(Campaign.id == campaign.id).with_for_update(read=True)
    )
    db.session.scalar(select(User.id).where(User.id == actor.id).with_for_update())
    if state != campaign.state:
        db.session.refresh(campaign)


def cast_vote(
    campaign: Campaign,
    opportunity: Opportunity,
    *,
    value: str,
    justification: str = "",
    actor,
    now: datetime | None = None,
) -> Vote:
    """Create or change the actor's vote on one opportunity (an upsert: a double click stores one vote)."""
    now = now or utcnow()
    try:
        value = Moscow(value)
    except ValueError:
        raise ValidationFailed({"value": "Choisissez Must, Should, Could ou Won't."}) from None
    justification = " ".join(_clean(justification).split())
    if len(justification) > JUSTIFICATION_MAX:
        raise ValidationFailed(
            {
                "justification": f"La justification ne doit pas dépasser {JUSTIFICATION_MAX} "
                f"caractères (actuellement {len(justification)})."
            }
        )
    _lock(campaign, actor)
    ministry, vote = _check_can_vote(campaign, opportunity, actor, now)
    if value == Moscow.MUST and campaign.must_budget and (vote is None or vote.value != Moscow.MUST):
        used = db.session.scalar(
            select(func.count())
            .select_from(Vote)
            .where(Vote.campaign_id == campaign.id, Vote.voter_id == actor.id, Vote.value == Moscow.MUST)
        )
        if used >= campaign.must_budget:
            raise ValidationFailed(
                {
                    "value": (
                        f"Vous avez déjà attribué vos {campaign.must_budget} « Must » autorisés dans cette "
                        f"campagne : retirez ou changez l'un d'eux avant d'en attribuer un autre."
                    )
                }
            )
    summary = f"Vote sur {opportunity.code} : {value.label}"
    if vote is None:
        vote = Vote(
            campaign_id=campaign.id,
            voter_id=actor.id,
            opportunity_id=opportunity.id,
            organisation_id=ministry,
            value=value,
            justification=justification,
        )
        try:
            with db.session.begin_nested():
                db.session.add(vote)
        except IntegrityError:  # the same vote arrived twice at once (double click): update it instead
            vote = _find(campaign, opportunity, actor)
        else:
            audit.record(
                "vote.cast", campaign, actor=actor, summary=summary, changes={"value": [None, value.value]}
            )
            return vote
    changes = audit.diff(vote, {"value": value.value, "justification": justification})
    if changes:
        vote.value, vote.justification = value.value, justification
        audit.record("vote.changed", campaign, actor=actor, summary=summary, changes=changes)
    return vote


def withdraw_vote(
    campaign: Campaign, opportunity: Opportunity, *, actor, now: datetime | None = None
) -> None:
    now = now or utcnow()
    _lock(campaign, actor)
    _, vote = _check_can_vote(campaign, opportunity, actor, now)
    if vote is None:
        return
    audit.record(
        "vote.withdrawn",
        campaign,
        actor=actor,
        summary=f"Vote sur {opportunity.code} retiré",
        changes={"value": [vote.value, None]},
    )
    db.session.delete(vote)
    db.session.flush()


def _find(campaign: Campaign, opportunity: Opportunity, actor) -> Vote | None:
    return db.session.scalar(
        select(Vote).where(
            Vote.campaign_id == campaign.id, Vote.voter_id == actor.id, Vote.opportunity_id == opportunity.id
        )
    )


# --- results ---------------------------------------------------------------------------------------


def live_counts(campaign_id: int) -> tuple[dict[int, Counts], dict[tuple[int, int | None], Counts]]:
    """Counts by opportunity, and by (opportunity, ministry), from ONE aggregate query over the vote rows."""
    rows = db.session.execute(
        select(Vote.opportunity_id, Vote.organisation_id, Vote.value, func.count())
        .where(Vote.campaign_id == campaign_id)
        .group_by(Vote.opportunity_id, Vote.organisation_id, Vote.value)
    ).all()
    overall: dict[int, Counts] = {}
    by_ministry: dict[tuple[int, int | None], Counts] = {}
    for opportunity_id, organisation_id, value, count in rows:
        value = Moscow(value)
        overall.setdefault(opportunity_id, moscow.empty())[value] += count
        by_ministry.setdefault((opportunity_id, organisation_id), moscow.empty())[value] += count
    return overall, by_ministry


def freeze_results(campaign: Campaign) -> None:
    """Write the results snapshot (counts, medians, ranks, participation) at close; votes cannot change
    after."""
    overall, by_ministry = live_counts(campaign.id)
    per_ministry = ministry_medians(by_ministry)
    scope = list(
        db.session.execute(
            select(Opportunity.id, Opportunity.number)
            .join(campaign_opportunities, campaign_opportunities.c.opportunity_id == Opportunity.id)
            .where(campaign_opportunities.c.campaign_id == campaign.id)
        ).all()
    )
    empty = moscow.empty()
    rows = []
    for opportunity_id, number in scope:
        counts = overall.get(opportunity_id, empty)
        median = majority_median(counts)
        medians = list(per_ministry.get(opportunity_id, {}).values())
        rows.append((rank_key(median, counts, number), opportunity_id, counts, median, median_of(medians)))
    rows.sort(key=lambda row: row[0])
    for rank, (_, opportunity_id, counts, median, ministry_median) in enumerate(rows, start=1):
        db.session.add(
            CampaignResult(
                campaign_id=campaign.id,
                opportunity_id=opportunity_id,
                rank=rank,
                must=counts[Moscow.MUST],
                should=counts[Moscow.SHOULD],
                could=counts[Moscow.COULD],
                wont=counts[Moscow.WONT],
                median=median.value if median else None,
                ministry_median=ministry_median.value if ministry_median else None,
            )
        )
    for (opportunity_id, organisation_id), counts in by_ministry.items():
        if organisation_id is None:
            continue
        db.session.add(
            CampaignMinistryResult(
                campaign_id=campaign.id,
                opportunity_id=opportunity_id,
                organisation_id=organisation_id,
                must=counts[Moscow.MUST],
                should=counts[Moscow.SHOULD],
                could=counts[Moscow.COULD],
                wont=counts[Moscow.WONT],
                median=majority_median(counts).value,
            )
        )
    electors = electorate_by_ministry(campaign)
    voters = voters_by_ministry(campaign.id)
    for organisation_id in sorted(set(electors) | set(voters), key=lambda o: (o is None, o or 0)):
        db.session.add(
            CampaignParticipation(
                campaign_id=campaign.id,
                organisation_id=organisation_id,
                electors=max(electors.get(organisation_id, 0), voters.get(organisation_id, 0)),
                voters=voters.get(organisation_id, 0),
            )
        )
    db.session.flush()


# --- priorities ------------------------------------------------------------------------------------


def set_opportunity_priority(
    opportunity: Opportunity,
    value: Moscow | None,
    *,
    actor,
    summary: str,
    action: str = "opportunity.priority_set",
    reason: str | None = None,
) -> None:
    """Set the portfolio priority of an opportunity, with an audit entry on the opportunity (its history)."""
    new = value.value if value else None
    if opportunity.priority == new and reason is None:
        return
    changes = {"priority": [opportunity.priority, new]}
    if reason:
        changes["reason"] = [None, reason]
    opportunity.priority = new
    audit.record(action, opportunity, actor=actor, summary=summary, changes=changes)


def _apply_priorities(campaign: Campaign, *, actor) -> None:
    results = db.session.scalars(
        select(CampaignResult).where(
            CampaignResult.campaign_id == campaign.id, CampaignResult.median.is_not(None)
        )
    )
    for result in results:
        set_opportunity_priority(
            result.opportunity,
            result.retained,
            actor=actor,
            summary=f"Priorité {result.retained.label} issue de la campagne « {campaign.title} »",
        )


def override_priority(
    campaign: Campaign,
    opportunity: Opportunity,
    *,
    value: str,
    reason: str,
    actor,
    now: datetime | None = None,
) -> CampaignResult:
    """The secretariat replaces the priority a published campaign gave one opportunity; the reason is
    mandatory."""
    if not can_override_priority(actor, campaign):
        raise NotAllowed("Seul le secrétariat corrige une priorité, après la publication des résultats.")
    errors = {}
    try:
        value = Moscow(value)
    except ValueError:
        errors["value"] = "Choisissez Must, Should, Could ou Won't."
    reason = _clean(reason)
    if not reason:
        errors["reason"] = "Le motif de la correction est obligatoire."
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"Le motif ne doit pas dépasser {REASON_MAX} caractères."
    result = db.session.scalar(
        select(CampaignResult).where(
            CampaignResult.campaign_id == campaign.id, CampaignResult.opportunity_id == opportunity.id
        )
    )
    if result is None:
        raise DomainError(f"{opportunity.code} n'était pas soumise au vote dans cette campagne.")
    if errors:
        raise ValidationFailed(errors)
    old = result.retained
    result.override_value, result.override_reason = value.value, reason
    result.override_by_id, result.override_at = actor.id, now or utcnow()
    set_opportunity_priority(
        opportunity,
        value,
        actor=actor,
        action="opportunity.priority_overridden",
        reason=reason,
        summary=(
            f"Priorité corrigée : {old.label if old else 'aucune'} → {value.label} "
            f"(campagne « {campaign.title} ») — motif : {reason}"
        ),
    )
    return result


def campaigns_due_report(now: datetime | None = None) -> list[str]:
    """Human-readable lines for the CLI: which campaigns would move now."""
    labels = {CampaignState.BROUILLON: "ouverture", CampaignState.OUVERTE: "clôture"}
    return [f"campagne {cid} : {labels[state]}" for cid, state in due_campaign_ids(now or utcnow())]
