"""Read-only queries of the voting pages: campaign lists, a voter's ballot, participation, frozen results."""

import time
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import and_, bindparam, event, exists, func, or_, select
from sqlalchemy.orm import joinedload

from ..domain import moscow
from ..extensions import db
from ..models import AuditEntry, Opportunity, Organisation, Role, User
from ..models.base import utcnow
from ..models.portfolio import Moscow
from ..models.voting import (
    Campaign,
    CampaignMinistryResult,
    CampaignParticipation,
    CampaignResult,
    CampaignState,
    Vote,
    campaign_ministries,
    campaign_opportunities,
    electorate_by_ministry,
)
from ..permissions import campaigns_visible_to


def visible_campaigns(user) -> list[Campaign]:
    return list(
        db.session.scalars(campaigns_visible_to(user).order_by(Campaign.opens_at.desc(), Campaign.id.desc()))
    )


def load_campaign(user, campaign_id: int) -> Campaign | None:
    """The campaign if the user may see it (else None → 404), with its electorate ministries: one query."""
    return (
        db.session.execute(
            campaigns_visible_to(user)
            .where(Campaign.id == campaign_id)
            .options(joinedload(Campaign.ministries))
        )
        .unique()
        .scalar_one_or_none()
    )


def scope(campaign: Campaign) -> list[Opportunity]:
    return list(
        db.session.scalars(
            select(Opportunity)
            .join(campaign_opportunities, campaign_opportunities.c.opportunity_id == Opportunity.id)
            .where(campaign_opportunities.c.campaign_id == campaign.id)
            .order_by(Opportunity.number)
        )
    )


def in_scope(campaign: Campaign, code: str) -> Opportunity | None:
    return db.session.scalar(
        select(Opportunity)
        .join(campaign_opportunities, campaign_opportunities.c.opportunity_id == Opportunity.id)
        .where(campaign_opportunities.c.campaign_id == campaign.id, Opportunity.code == code)
    )


def scope_size(campaign_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(campaign_opportunities)
        .where(campaign_opportunities.c.campaign_id == campaign_id)
    )


def my_votes(campaign_id: int, user_id: int, opportunity_ids: list[int] | None = None) -> dict[int, Vote]:
    query = select(Vote).where(Vote.campaign_id == campaign_id, Vote.voter_id == user_id)
    if opportunity_ids is not None:
        query = query.where(Vote.opportunity_id.in_(opportunity_ids))
    return {v.opportunity_id: v for v in db.session.scalars(query)}


@dataclass
class Progress:
    campaign_id: int
    done: int
    total: int
    musts: int = 0
    budget: int | None = None

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def progress(campaign: Campaign, user_id: int) -> Progress:
    """How much of the scope this voter has covered, and their "Must" count: one aggregate query."""
    size = (
        select(func.count())
        .select_from(campaign_opportunities)
        .where(campaign_opportunities.c.campaign_id == campaign.id)
        .scalar_subquery()
    )
    done, musts, total = db.session.execute(
        select(func.count(Vote.id), func.count(Vote.id).filter(Vote.value == Moscow.MUST), size).where(
            Vote.campaign_id == campaign.id, Vote.voter_id == user_id
        )
    ).one()
    return Progress(campaign.id, done, total, musts, campaign.must_budget)


@dataclass
class ParticipationRow:
    label: str
    name: str
    electors: int
    voters: int

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.voters / self.electors)) if self.electors else 0


def _organisations() -> dict[int, Organisation]:
    return {o.id: o for o in db.session.scalars(select(Organisation))}


def _participation_rows(pairs: list[tuple[int | None, int, int]]) -> list[ParticipationRow]:
    organisations = _organisations()
    rows = []
    for organisation_id, electors, voters in pairs:
        organisation = organisations.get(organisation_id)
        rows.append(
            ParticipationRow(
                organisation.code if organisation else "—",
                organisation.name if organisation else "Membres DSI sans ministère",
                electors,
                voters,
            )
        )
    return sorted(rows, key=lambda r: (r.label == "—", r.label))


def live_participation(campaign: Campaign) -> list[ParticipationRow]:
    """Participation while open (counts of people, never their votes): two aggregate queries."""
    electors = electorate_by_ministry(campaign)
    voters = live_voters_by_ministry(campaign.id)
    keys = set(electors) | set(voters)
    return _participation_rows(
        [(k, max(electors.get(k, 0), voters.get(k, 0)), voters.get(k, 0)) for k in keys]
    )


def live_voters_by_ministry(campaign_id: int) -> dict[int | None, int]:
    """People who voted, per ministry, while the campaign is open: one probe of the (campaign, voter,
    opportunity) unique index per user instead of a DISTINCT over every vote (300 voters × 133 votes read
    on each view of the campaign page). A voter counts once, under the ministry their votes carry (the
    elector's ministry, recorded on each vote); the frozen figures at closing keep `voters_by_ministry`."""
    rows = db.session.execute(_live_voters_statement(), {"campaign_id": campaign_id}).all()
    return {org: n for org, n in rows}


@cache
def _live_voters_statement():
    """Built once (a statement keeps its cache key): the campaign is a bound parameter."""
    votes = (
        select(Vote.organisation_id)
        .where(Vote.campaign_id == bindparam("campaign_id"), Vote.voter_id == User.id)
        .correlate(User)
    )
    ministry = votes.limit(1).scalar_subquery().label("organisation_id")
    per_voter = select(ministry).select_from(User).where(votes.exists()).subquery()
    return select(per_voter.c.organisation_id, func.count()).group_by(per_voter.c.organisation_id)


def frozen_participation(campaign: Campaign) -> list[ParticipationRow]:
    rows = db.session.execute(
        select(
            CampaignParticipation.organisation_id,
            CampaignParticipation.electors,
            CampaignParticipation.voters,
        ).where(CampaignParticipation.campaign_id == campaign.id)
    ).all()
    return _participation_rows([tuple(r) for r in rows])


@dataclass(slots=True)
class ResultRow:
    """One line of the frozen results, with everything the page and the exports show precomputed."""

    rank: int
    opportunity_id: int
    code: str
    brique: str
    counts: dict
    median: Moscow | None
    ministry_median: Moscow | None
    override_value: str | None
    override_reason: str | None
    ministry_medians: dict = field(default_factory=dict)  # organisation id → Moscow
    total: int = 0
    cells: list = field(default_factory=list)  # "n (p %)" for Must, Should, Could, Won't
    at_or_above: int = 0
    modal_share: int = 0
    dispersion: int = 0

    def __post_init__(self):
        self.total = moscow.total(self.counts)
        self.cells = [f"{self.counts[m]} ({moscow.percent(self.counts[m], self.total)} %)" for m in Moscow]
        self.at_or_above = round(100 * moscow.share_at_or_above(self.counts, self.median))
        self.modal_share = round(100 * moscow.modal_share(self.counts))
        self.dispersion = moscow.dispersion(self.counts)

    @property
    def retained(self) -> Moscow | None:
        return Moscow(self.override_value) if self.override_value else self.median


@dataclass
class Results:
    rows: list[ResultRow]
    ministries: list[Organisation]
    participation: list[ParticipationRow]

    @property
    def electors(self) -> int:
        return sum(p.electors for p in self.participation)

    @property
    def voters(self) -> int:
        return sum(p.voters for p in self.participation)


MOSCOW = {m.value: m for m in Moscow}


def _moscow(value: str | None) -> Moscow | None:
    return MOSCOW[value] if value else None


def results(campaign: Campaign, with_ministries: bool = False) -> Results:
    """The frozen results: a constant number of queries whatever the number of voters (snapshot tables);
    plain columns rather than ORM entities, the page shows 133 rows."""
    r = CampaignResult
    query = (
        select(
            r.rank,
            r.opportunity_id,
            Opportunity.code,
            Opportunity.brique,
            r.must,
            r.should,
            r.could,
            r.wont,
            r.median,
            r.ministry_median,
            r.override_value,
            r.override_reason,
        )
        .join(Opportunity, Opportunity.id == r.opportunity_id)
        .where(r.campaign_id == campaign.id)
        .order_by(r.rank)
    )
    rows = []
    for (
        rank,
        opportunity_id,
        code,
        brique,
        must,
        should,
        could,
        wont,
        median,
        ministry_median,
        *override,
    ) in db.session.execute(query):
        counts = {Moscow.MUST: must, Moscow.SHOULD: should, Moscow.COULD: could, Moscow.WONT: wont}
        rows.append(
            ResultRow(
                rank,
                opportunity_id,
                code,
                brique,
                counts,
                _moscow(median),
                _moscow(ministry_median),
                *override,
            )
        )
    by_id = {row.opportunity_id: row for row in rows}
    ministry_ids = set()
    if with_ministries:  # the matrix opportunity × ministry (its own page, and the exports)
        for opportunity_id, organisation_id, median in db.session.execute(
            select(
                CampaignMinistryResult.opportunity_id,
                CampaignMinistryResult.organisation_id,
                CampaignMinistryResult.median,
            ).where(CampaignMinistryResult.campaign_id == campaign.id)
        ):
            by_id[opportunity_id].ministry_medians[organisation_id] = MOSCOW[median]
            ministry_ids.add(organisation_id)
    organisations = _organisations()
    ministries = sorted((organisations[i] for i in ministry_ids), key=lambda o: o.code)
    participation = []
    for organisation_id, electors, voters in db.session.execute(
        select(
            CampaignParticipation.organisation_id,
            CampaignParticipation.electors,
            CampaignParticipation.voters,
        ).where(CampaignParticipation.campaign_id == campaign.id)
    ):
        organisation = organisations.get(organisation_id)
        participation.append(
            ParticipationRow(
                organisation.code if organisation else "—",
                organisation.name if organisation else "Membres DSI sans ministère",
                electors,
                voters,
            )
        )
    participation.sort(key=lambda p: (p.label == "—", p.label))
    return Results(rows, ministries, participation)


def named_ballots(campaign: Campaign, opportunity_id: int | None = None) -> list[tuple]:
    """(opportunity code, voter name, ministry code, class, justification): named campaigns, after close."""
    query = (
        select(
            Opportunity.code,
            User.given_name,
            User.usual_name,
            User.email,
            Organisation.code,
            Vote.value,
            Vote.justification,
        )
        .select_from(Vote)
        .join(Opportunity, Opportunity.id == Vote.opportunity_id)
        .join(User, User.id == Vote.voter_id)
        .outerjoin(Organisation, Organisation.id == Vote.organisation_id)
        .where(Vote.campaign_id == campaign.id)
        .order_by(Opportunity.number, User.usual_name, User.id)
    )
    if opportunity_id is not None:
        query = query.where(Vote.opportunity_id == opportunity_id)
    return [
        (code, f"{given} {usual}".strip() or email, org or "—", Moscow(value), justification)
        for code, given, usual, email, org, value, justification in db.session.execute(query)
    ]


def vote_audit(campaign: Campaign, limit: int = 200) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == "campaigns",
                AuditEntry.object_id == str(campaign.id),
                AuditEntry.action.like("vote.%"),
            )
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


# --- inline ballot in the portfolio list ----------------------------------------------------------------

OPEN_CACHE_SECONDS = 30
_open_cache: dict = {"ids": None, "until": 0.0}


def open_campaign_ids() -> list[int]:
    """Ids of the open campaigns, cached per process for OPEN_CACHE_SECONDS (forgotten at once by this
    process's
    own changes): the portfolio list, read by everyone, pays no query when no campaign is open."""
    now = time.monotonic()
    if _open_cache["ids"] is None or now >= _open_cache["until"]:
        ids = list(db.session.scalars(select(Campaign.id).where(Campaign.state == CampaignState.OUVERTE)))
        _open_cache.update(ids=ids, until=now + OPEN_CACHE_SECONDS)
    return _open_cache["ids"]


@event.listens_for(Campaign, "after_insert")
@event.listens_for(Campaign, "after_update")
def forget_open_campaigns(*_args) -> None:
    """This process's own campaign changes are seen at once (the other processes' within the cache time)."""
    _open_cache["ids"] = None


@dataclass
class PortfolioBallot:
    campaign: Campaign
    scope_ids: set[int]
    votes: dict[int, Vote]
    progress: Progress


def portfolio_ballot(user, opportunities: list[Opportunity]) -> PortfolioBallot | None:
    """The open campaign the user can vote in (the one closing first), with their votes on the listed page.

    No query when no campaign is open (cache) or the user is no DSI member; otherwise three."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.has_role(Role.DSI):
        return None
    ids = open_campaign_ids()
    if not ids:
        return None
    now = utcnow()
    ministries = [
        r.organisation_id for r in user.roles if r.role == Role.DSI and r.organisation_id is not None
    ]
    limited = exists().where(campaign_ministries.c.campaign_id == Campaign.id)
    admitted = exists().where(
        campaign_ministries.c.campaign_id == Campaign.id,
        campaign_ministries.c.organisation_id.in_(ministries),
    )
    campaign = db.session.scalar(
        select(Campaign)
        .where(
            Campaign.id.in_(ids),
            Campaign.state == CampaignState.OUVERTE,
            Campaign.opens_at <= now,
            Campaign.closes_at > now,
            or_(~limited, admitted),
        )
        .order_by(Campaign.closes_at, Campaign.id)
        .limit(1)
    )
    if campaign is None:
        return None
    rows = db.session.execute(
        select(campaign_opportunities.c.opportunity_id, Vote)
        .outerjoin(
            Vote,
            and_(
                Vote.campaign_id == campaign.id,
                Vote.voter_id == user.id,
                Vote.opportunity_id == campaign_opportunities.c.opportunity_id,
            ),
        )
        .where(
            campaign_opportunities.c.campaign_id == campaign.id,
            campaign_opportunities.c.opportunity_id.in_([o.id for o in opportunities]),
        )
    ).all()
    votes = {opportunity_id: vote for opportunity_id, vote in rows if vote is not None}
    return PortfolioBallot(campaign, {r[0] for r in rows}, votes, progress(campaign, user.id))
