"""Read-only figures and public representations shared by the dashboard, the JSON API and the exports.

One place computes each number, so the dashboard, `/api/v1/…` and the exported files always agree. The
public representations (`*_public`) carry only fields that may be published: codes, titles, states,
priorities, organisations — never an agent's name or e-mail, never a creator or actor id.
"""

from dataclasses import dataclass
from datetime import UTC
from functools import cache

from flask import url_for
from sqlalchemy import (
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import aliased, selectinload

from .. import permissions
from ..extensions import db
from ..formatting import format_datetime
from ..models import (
    Action,
    AgendaItem,
    Backing,
    Campaign,
    CampaignParticipation,
    CampaignResult,
    CampaignState,
    CreditConsumption,
    Decision,
    DecisionAmount,
    Dossier,
    DossierState,
    FinancingAmount,
    FinancingLine,
    Guichet,
    Meeting,
    Opportunity,
    Organisation,
    Role,
    SavingsAmount,
    SavingsLine,
    SavingsReport,
    StaffSaving,
    Vote,
)
from ..models.base import utcnow
from ..models.committees import OUTCOME_LABELS, MeetingState, Outcome
from ..models.dossiers import STATE_LABELS
from ..models.portfolio import PIPELINE, Moscow, OpportunityState, action_opportunities
from ..models.portfolio import STATE_LABELS as OPPORTUNITY_STATE_LABELS
from ..models.voting import electorate_by_ministry
from .voting import live_voters_by_ministry

UNCLASSIFIED = "Non classée"


# --- portfolio figures --------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    state: str
    label: str
    at_stage: int  # opportunities whose current state is this step
    reached: int  # opportunities at this step or further along the pipeline


def state_counts() -> dict[str, int]:
    rows = db.session.execute(select(Opportunity.state, func.count()).group_by(Opportunity.state)).all()
    counts = {s.value: 0 for s in OpportunityState}
    counts.update({state: n for state, n in rows})
    return counts


def pipeline_funnel(counts: dict[str, int] | None = None) -> list[FunnelStep]:
    """The pipeline identifiée → lancée; `reached` counts the opportunities at this step or beyond."""
    counts = counts if counts is not None else state_counts()
    steps, remaining = [], sum(counts[s.value] for s in PIPELINE)
    for state in PIPELINE:
        steps.append(FunnelStep(state.value, state.label, counts[state.value], remaining))
        remaining -= counts[state.value]
    return steps


def side_exits(counts: dict[str, int] | None = None) -> list[FunnelStep]:
    counts = counts if counts is not None else state_counts()
    return [
        FunnelStep(s.value, s.label, counts[s.value], counts[s.value])
        for s in OpportunityState
        if s not in PIPELINE
    ]


@dataclass
class PriorityRow:
    value: str | None
    label: str
    opportunities: int
    actions: int


def priority_breakdown(
    opportunities: dict[str | None, int] | None = None, actions: dict[str | None, int] | None = None
) -> list[PriorityRow]:
    """MoSCoW: opportunities by portfolio priority and strategy actions by their MoSCoW class (the counts
    given by portfolio_figures(), else read here)."""
    if opportunities is None:
        opportunities = dict(
            db.session.execute(
                select(Opportunity.priority, func.count()).group_by(Opportunity.priority)
            ).all()
        )
    if actions is None:
        actions = dict(db.session.execute(select(Action.moscow, func.count()).group_by(Action.moscow)).all())
    rows = [
        PriorityRow(m.value, m.label, opportunities.get(m.value, 0), actions.get(m.value, 0)) for m in Moscow
    ]
    rows.append(PriorityRow(None, UNCLASSIFIED, opportunities.get(None, 0), actions.get(None, 0)))
    return rows


# The dashboard's statements that hold only constants (or bound parameters) are built once, by a cached
# function: building one, and the cache key SQLAlchemy computes from it on each execution, costs more than
# running it (the large union of amounts_by_year: 0.75 ms to build, 0.09 ms to run on SQLite); a statement
# object keeps its cache key once computed.
@cache
def _portfolio_counts():
    return union_all(
        select(literal_column("'o'"), Opportunity.state, Opportunity.priority, func.count()).group_by(
            Opportunity.state, Opportunity.priority
        ),
        select(literal_column("'a'"), null(), Action.moscow, func.count()).group_by(Action.moscow),
    )


def portfolio_figures() -> tuple[dict[str, int], list[PriorityRow]]:
    """(state_counts(), priority_breakdown()) from one statement: the opportunities grouped by state and
    priority, and the actions by MoSCoW class."""
    rows = db.session.execute(_portfolio_counts()).all()
    counts = {s.value: 0 for s in OpportunityState}
    priorities: dict[str | None, int] = {}
    actions: dict[str | None, int] = {}
    for source, state, priority, n in rows:
        if source == "o":
            counts[state] = counts.get(state, 0) + n
            priorities[priority] = priorities.get(priority, 0) + n
        else:
            actions[priority] = n
    return counts, priority_breakdown(priorities, actions)


@dataclass
class FundRow:
    fund: str
    guichets: int


@cache
def _guichets_by_fund():
    return select(Guichet.fund, func.count()).group_by(Guichet.fund).order_by(Guichet.fund)


def guichets_by_fund() -> list[FundRow]:
    rows = db.session.execute(_guichets_by_fund()).all()
    return [FundRow(fund or "Sans fonds", n) for fund, n in rows]


# --- public representations ---------------------------------------------------------------------------------

_TARGET = aliased(Opportunity)
# Linked actions and backings come with each row, aggregated in SQL (portable `aggregate_strings`), so a page
# of opportunities is one query whatever its size. Unit/record separators cannot occur in codes or names.
_UNIT, _RECORD = "\x1f", "\x1e"
_ACTION_CODES = (
    select(func.aggregate_strings(Action.code, _UNIT))
    .select_from(action_opportunities)
    .join(Action, Action.id == action_opportunities.c.action_id)
    .where(action_opportunities.c.opportunity_id == Opportunity.id)
    .scalar_subquery()
)
_BACKINGS = (
    select(
        func.aggregate_strings(
            cast(Backing.id, String)
            + _UNIT
            + Organisation.code
            + _UNIT
            + Organisation.name
            + _UNIT
            + Backing.role,
            _RECORD,
        )
    )
    .select_from(Backing)
    .join(Organisation, Organisation.id == Backing.organisation_id)
    .where(Backing.opportunity_id == Opportunity.id)
    .scalar_subquery()
)


def _split_actions(text: str | None) -> list[str]:
    return sorted(text.split(_UNIT)) if text else []


def _split_backings(text: str | None) -> list[dict]:
    if not text:
        return []
    parts = sorted((p.split(_UNIT) for p in text.split(_RECORD)), key=lambda p: int(p[0]))
    return [{"ministry": code, "name": name, "role": role} for _, code, name, role in parts]


def _iso(value) -> str:
    """ISO 8601 UTC with microseconds, from the raw column value: SQLite returns its stored text (naive UTC),
    PostgreSQL an aware datetime. Skipping the UTCDateTime round trip halves the cost of a 200-row page."""
    if isinstance(value, str):
        return value.replace(" ", "T", 1) + "+00:00"
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def opportunity_public_rows(query: Select, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Public dicts for the opportunities `query` selects, in its order, in one query whatever their number.

    Core rows on the session's connection rather than ORM objects: the API serves 200 opportunities per
    request within a few times the cost of a trivial page (bench/api.py). A page (`limit`) is picked first
    by id alone, then only its rows get their aggregates: a deep page costs what the first one does instead
    of computing the aggregates of every row the offset skips.
    """
    if limit is not None:
        page_ids = query.with_only_columns(Opportunity.id).limit(limit).offset(offset)
        query = query.where(Opportunity.id.in_(page_ids.scalar_subquery()))
    query = query.outerjoin(_TARGET, _TARGET.id == Opportunity.target_id).with_only_columns(
        Opportunity.code,
        Opportunity.number,
        Opportunity.brique,
        Opportunity.besoin,
        Opportunity.state,
        Opportunity.state_reason,
        Opportunity.priority,
        _TARGET.code,
        type_coerce(Opportunity.created_at, String),
        type_coerce(Opportunity.updated_at, String),
        _ACTION_CODES,
        _BACKINGS,
    )
    return [
        {
            "code": code,
            "number": number,
            "brique": brique,
            "besoin": besoin,
            "status": state,  # the public field names (API, open data) keep their first words
            "status_label": OPPORTUNITY_STATE_LABELS[state],
            "status_reason": reason,
            "priority": priority,
            "merged_into": target,  # fusionnée / doublon: the opportunity kept
            "actions": _split_actions(actions),
            "backings": _split_backings(backings),
            "created_at": _iso(created),
            "updated_at": _iso(updated),
        }
        for (
            code,
            number,
            brique,
            besoin,
            state,
            reason,
            priority,
            target,
            created,
            updated,
            actions,
            backings,
        ) in db.session.connection().execute(query).all()
    ]


_OPPORTUNITY_CODES = (
    select(func.aggregate_strings(Opportunity.code, _UNIT))
    .select_from(action_opportunities)
    .join(Opportunity, Opportunity.id == action_opportunities.c.opportunity_id)
    .where(action_opportunities.c.action_id == Action.id)
    .scalar_subquery()
)


def action_public_rows(query: Select, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Public dicts for the actions `query` selects, in its order, with their opportunities' codes
    aggregated in SQL: one statement, whatever the number of opportunities behind each action."""
    if limit is not None:
        query = query.limit(limit).offset(offset)
    columns = (Action.code, Action.chantier, Action.title, Action.detail, Action.portage, Action.cost)
    query = query.with_only_columns(*columns, Action.duration, Action.moscow, _OPPORTUNITY_CODES)
    return [
        {
            "code": code,
            "chantier": chantier,
            "title": title,
            "detail": detail,
            "portage": portage,
            "cost": cost,
            "duration": duration,
            "moscow": moscow,
            "opportunities": sorted(codes.split(_UNIT)) if codes else [],
        }
        for code, chantier, title, detail, portage, cost, duration, moscow, codes in db.session.execute(query)
    ]


def guichet_public(g: Guichet) -> dict:
    return {
        "code": g.code,
        "name": g.name,
        "parent": g.parent.code if g.parent_id else None,
        "children": [c.code for c in g.children],
        "fund": g.fund,
        "mode": g.mode,
        "description": g.description,
        "criteria": g.criteria,
        "amounts": g.amounts,
        "source": g.source,
    }


def guichet_options():
    return (selectinload(Guichet.parent), selectinload(Guichet.children))


def all_opportunities() -> list[dict]:
    return opportunity_public_rows(select(Opportunity).order_by(Opportunity.number))


def action_options():
    return (selectinload(Action.opportunities),)


def all_actions() -> list[Action]:
    return list(db.session.scalars(select(Action).options(*action_options()).order_by(Action.id)))


def all_guichets() -> list[Guichet]:
    return list(db.session.scalars(select(Guichet).options(*guichet_options()).order_by(Guichet.id)))


# --- per-role dashboard -------------------------------------------------------------------------------------
# Sections appear as their domain's data exists and as the user's roles make them relevant.


@dataclass
class PendingAction:
    label: str
    href: str
    detail: str = ""


def sections_for(user) -> set[str]:
    roles = set(user.role_names) if user is not None and user.is_authenticated else set()
    sections = {"pipeline", "priorities", "guichets", "campaign", "dossiers", "sessions"}
    if Role.SECRETARIAT in roles:
        sections |= {"exits", "amounts", "savings"}
    return sections


# Dossiers listed per kind of pending action; beyond, a link to the paginated list that holds them all.
PENDING_DOSSIERS = 10


def open_campaigns() -> list[Campaign]:
    """The open campaigns, first to close first, their ministries loaded (the dashboard reads them twice)."""
    return list(db.session.scalars(_open_campaigns()))


@cache
def _open_campaigns():
    return (
        select(Campaign)
        .where(Campaign.state == CampaignState.OUVERTE)
        .order_by(Campaign.closes_at)
        .options(selectinload(Campaign.ministries))
    )


def pending_actions(user, campaigns: list[Campaign] | None = None) -> list[PendingAction]:
    """What the user is expected to do next: votes to cast, dossiers to instruct, complements to provide.
    `campaigns`: the open campaigns when the caller has them already."""
    pending: list[PendingAction] = []
    for campaign in open_campaigns() if campaigns is None else campaigns:
        if not permissions.can_vote_in_campaign(user, campaign):
            continue
        cast = (
            db.session.scalar(
                select(func.count(Vote.id)).where(Vote.campaign_id == campaign.id, Vote.voter_id == user.id)
            )
            or 0
        )
        missing = len(campaign.opportunities) - cast
        if missing > 0:
            pending.append(
                PendingAction(
                    f"Voter : {campaign.title}",
                    url_for("voting.show", campaign_id=campaign.id),
                    f"{missing} opportunité{'s' if missing > 1 else ''} sans vote,"
                    f" clôture le {format_datetime(campaign.closes_at)}",
                )
            )
    if guichets := permissions.instructed_guichet_ids(user):
        pending += _pending_dossiers(
            "instruct",
            {"guichets": sorted(guichets)},
            "Instruire",
            _dossier_label,
            PendingAction("Voir tous les dossiers à instruire", url_for("dossiers.instruction")),
        )
    if getattr(user, "is_authenticated", False):
        pending += _pending_dossiers(
            "complete",
            {"reader_id": user.id, "reader_email": user.email.lower()},
            "Compléter",
            lambda _dossier: "Compléments demandés",
            PendingAction("Voir tous mes dossiers", url_for("dossiers.index")),
        )
    return pending


def _pending_dossiers(
    kind: str, values: dict, verb: str, detail, see_all: PendingAction
) -> list[PendingAction]:
    """The first PENDING_DOSSIERS of the dossiers awaiting `kind`, then `see_all` when there are more."""
    dossiers = db.session.execute(_pending_statement(kind), values).all()
    items = [
        PendingAction(
            f"{verb} : {dossier.title}", url_for("dossiers.show", dossier_id=dossier.id), detail(dossier)
        )
        for dossier in dossiers[:PENDING_DOSSIERS]
    ]
    return items + [see_all] if len(dossiers) > PENDING_DOSSIERS else items


@cache
def _pending_statement(kind: str) -> Select:
    """Built once: the dossiers awaiting an instruction in the reader's guichets, or the complements the
    reader was asked for as a porteur (its values bound), one more than shown."""
    if kind == "instruct":
        where = Dossier.guichet_id.in_(bindparam("guichets", expanding=True)) & Dossier.state.in_(
            (DossierState.DEPOSE, DossierState.EN_INSTRUCTION)
        )
        order = (Dossier.submitted_at, Dossier.id)
    else:
        where = permissions.porteur_side_filter(bindparam("reader_id"), bindparam("reader_email")) & (
            Dossier.state == DossierState.COMPLEMENTS_DEMANDES
        )
        order = (Dossier.id,)
    return (
        select(Dossier.id, Dossier.title, Dossier.state)
        .where(where)
        .order_by(*order)
        .limit(PENDING_DOSSIERS + 1)
    )


def _dossier_label(dossier) -> str:
    return DossierState(dossier.state).label


@dataclass
class ParticipationRow:
    ministry: str
    electors: int
    voters: int

    @property
    def rate(self) -> int:
        return round(100 * self.voters / self.electors) if self.electors else 0


def current_campaign_participation(campaigns: list[Campaign] | None = None):
    """(campaign, rows): the open campaign (live counts) or else the last published one (frozen counts).
    `campaigns`: the open campaigns when the caller has them already."""
    campaigns = open_campaigns() if campaigns is None else campaigns
    campaign = campaigns[0] if campaigns else None
    codes = dict(db.session.execute(_organisation_codes()).all())
    if campaign is not None:
        electors = electorate_by_ministry(campaign)
        voters = live_voters_by_ministry(campaign.id)
        ids = sorted(set(electors) | set(voters), key=lambda i: codes.get(i, "~"))
        rows = [
            ParticipationRow(codes.get(i, "Sans ministère"), electors.get(i, 0), voters.get(i, 0))
            for i in ids
        ]
        return campaign, rows
    campaign = db.session.scalar(
        select(Campaign)
        .where(Campaign.state == CampaignState.PUBLIEE)
        .order_by(Campaign.published_at.desc())
        .limit(1)
    )
    if campaign is None:
        return None, []
    frozen = db.session.scalars(
        select(CampaignParticipation).where(CampaignParticipation.campaign_id == campaign.id)
    ).all()
    rows = [
        ParticipationRow(codes.get(p.organisation_id, "Sans ministère"), p.electors, p.voters) for p in frozen
    ]
    return campaign, sorted(rows, key=lambda r: r.ministry)


@cache
def _organisation_codes():
    return select(Organisation.id, Organisation.code)


@dataclass
class DossierRow:
    guichet: str
    state: str
    label: str
    count: int


def dossiers_by_guichet_and_state(user) -> list[DossierRow]:
    """Dossiers the user may see (the same scope as the dossiers pages), by guichet and state."""
    shape, values = permissions.dossier_scope(user)
    rows = db.session.execute(_dossiers_by_guichet_and_state(shape), values).all()
    return [DossierRow(code, state, STATE_LABELS[DossierState(state)], n) for code, state, n in rows]


@cache
def _dossiers_by_guichet_and_state(shape: tuple[str, ...]) -> Select:
    """Built once per shape of reader (permissions.dossier_scope), the reader's values bound. Grouped on the
    scoped query itself (not `id IN (scope)`): the secretariat's counts read the (guichet, state) index
    alone."""
    counted = select(Dossier.guichet_id, Dossier.state, func.count().label("n"))
    if shape != ("all",):
        counted = counted.where(permissions.dossier_filter(shape, permissions.bound_values(shape)))
    counted = counted.group_by(Dossier.guichet_id, Dossier.state).subquery()
    return (
        select(Guichet.code, counted.c.state, counted.c.n)
        .join(Guichet, Guichet.id == counted.c.guichet_id)
        .order_by(Guichet.code, counted.c.state)
    )


# Dossiers whose contract is signed: reported savings are measured against their forecast savings.
CONTRACTED_STATES = (DossierState.CONVENTIONNE, DossierState.EN_SUIVI, DossierState.CLOS)


@dataclass
class YearAmounts:
    year: int
    requested_ae: int = 0
    requested_cp: int = 0
    granted_ae: int = 0
    granted_cp: int = 0
    consumed_ae: int = 0
    consumed_cp: int = 0
    savings_forecast: int = 0  # all submitted dossiers
    savings_forecast_contracted: int = 0  # dossiers under contract only
    savings_reported: int | None = None  # None: nothing reported for the year yet


@cache
def _amounts_by_year():
    """(what, year, first sum, second sum): five sums by year in one statement."""
    submitted = Dossier.state.notin_((DossierState.BROUILLON, DossierState.RETIRE))
    # A dossier's savings table is its savings lines plus the T2 helper's row (services.dossiers.figures).
    line_savings = (
        select(SavingsAmount.year, SavingsAmount.amount, SavingsLine.dossier_id)
        .join(SavingsLine, SavingsLine.id == SavingsAmount.line_id)
        .union_all(
            select(StaffSaving.year, StaffSaving.jobs * StaffSaving.average_cost, StaffSaving.dossier_id)
        )
        .subquery()
    )
    contracted = func.sum(case((Dossier.state.in_(CONTRACTED_STATES), line_savings.c.amount), else_=0))
    return union_all(
        select(
            literal_column("'requested'"),
            FinancingAmount.year,
            func.sum(FinancingAmount.ae),
            func.sum(FinancingAmount.cp),
        )
        .join(FinancingLine, FinancingLine.id == FinancingAmount.line_id)
        .join(Dossier, Dossier.id == FinancingLine.dossier_id)
        .where(FinancingLine.financer == "ftap", submitted)
        .group_by(FinancingAmount.year),
        select(
            literal_column("'granted'"),
            DecisionAmount.year,
            func.sum(DecisionAmount.ae),
            func.sum(DecisionAmount.cp),
        )
        .join(Decision, Decision.id == DecisionAmount.decision_id)
        .where(Decision.locked.is_(True))
        .group_by(DecisionAmount.year),
        select(
            literal_column("'consumed'"),
            CreditConsumption.year,
            func.sum(CreditConsumption.ae),
            func.sum(CreditConsumption.cp),
        ).group_by(CreditConsumption.year),
        select(literal_column("'forecast'"), line_savings.c.year, func.sum(line_savings.c.amount), contracted)
        .join(Dossier, Dossier.id == line_savings.c.dossier_id)
        .where(submitted)
        .group_by(line_savings.c.year),
        select(
            literal_column("'reported'"), SavingsReport.year, func.sum(SavingsReport.amount), null()
        ).group_by(SavingsReport.year),
    )


def amounts_by_year() -> list[YearAmounts]:
    """Per year, in euros: FTAP amounts requested by submitted dossiers, granted by published decisions and
    consumed by funded dossiers; savings forecast by the dossiers and reported during their follow-up."""
    years: dict[int, YearAmounts] = {}

    def row(year: int) -> YearAmounts:
        return years.setdefault(year, YearAmounts(year))

    # whole euros as ints: the union's columns are NUMERIC on PostgreSQL (T2 helper jobs: « 1,5 » ETP)
    for what, year, first, second in db.session.execute(_amounts_by_year()):
        first, second = round(first or 0), round(second or 0)
        if what == "requested":
            row(year).requested_ae, row(year).requested_cp = first, second
        elif what == "granted":
            row(year).granted_ae, row(year).granted_cp = first, second
        elif what == "consumed":
            row(year).consumed_ae, row(year).consumed_cp = first, second
        elif what == "forecast":
            row(year).savings_forecast, row(year).savings_forecast_contracted = first, second
        else:
            row(year).savings_reported = first
    return [years[y] for y in sorted(years)]


def upcoming_sessions(user, limit: int = 5) -> list:
    committees = permissions.meeting_scope(user)
    values = {"now": utcnow(), "limit": limit} | ({} if committees is None else {"committees": committees})
    return list(db.session.scalars(_upcoming_sessions(committees is None), values))


@cache
def _upcoming_sessions(every_session: bool) -> Select:
    """Built once per kind of reader (permissions.meeting_scope), the reader's committees bound."""
    upcoming = (Meeting.starts_at >= bindparam("now")) & (Meeting.state != MeetingState.ANNULEE)
    query = select(Meeting).where(upcoming)
    if not every_session:
        query = query.where(permissions.meeting_filter(bindparam("committees", expanding=True)))
    return query.order_by(Meeting.starts_at).limit(bindparam("limit"))


def domain_figures(user, sections: set[str], campaigns: list[Campaign] | None = None) -> dict:
    """Figures of the campaigns, dossiers and committees domains, for the sections the user sees."""
    campaign, participation = current_campaign_participation(campaigns)
    return {
        "campaign": campaign,
        "participation": participation,
        "dossier_rows": dossiers_by_guichet_and_state(user),
        "amounts": amounts_by_year() if sections & {"amounts", "savings"} else [],
        "sessions": upcoming_sessions(user),
    }


# --- campaigns, committees (published data only) ------------------------------------------------------------

PUBLIC_SESSION_STATES = permissions.PUBLIC_MEETING_STATES


def published_campaigns() -> Select:
    return select(Campaign).where(Campaign.state == CampaignState.PUBLIEE)


def campaign_public(campaign, results: list | None = None, participations: list | None = None) -> dict:
    """A published campaign; with `results`, its frozen counts per opportunity (never a ballot)."""
    body = {
        "id": campaign.id,
        "title": campaign.title,
        "description": campaign.description,
        "opens_at": campaign.opens_at.isoformat(),
        "closes_at": campaign.closes_at.isoformat(),
        "published_at": campaign.published_at.isoformat() if campaign.published_at else None,
    }
    if results is not None:
        body["results"] = [
            {
                "opportunity": r.opportunity.code,
                "rank": r.rank,
                "must": r.must,
                "should": r.should,
                "could": r.could,
                "wont": r.wont,
                "median": r.median,
                "retained": r.retained.value if r.retained else None,
            }
            for r in results
        ]
    if participations is not None:
        body["participation"] = [
            {
                "ministry": p.organisation.code if p.organisation else None,
                "electors": p.electors,
                "voters": p.voters,
            }
            for p in participations
        ]
    return body


def campaign_details(campaign_id: int):
    campaign = db.session.scalar(published_campaigns().where(Campaign.id == campaign_id))
    if campaign is None:
        return None
    results = db.session.scalars(
        select(CampaignResult)
        .where(CampaignResult.campaign_id == campaign.id)
        .order_by(CampaignResult.rank, CampaignResult.id)
    ).all()
    participations = db.session.scalars(
        select(CampaignParticipation)
        .where(CampaignParticipation.campaign_id == campaign.id)
        .order_by(CampaignParticipation.id)
    ).all()
    return campaign_public(campaign, list(results), list(participations))


def published_decisions() -> Select:
    """Decisions whose minutes are published (locked), the only ones open data shows."""
    return select(Decision).where(Decision.locked.is_(True))


def decision_public(d) -> dict:
    item = d.item
    return {
        "id": d.id,
        "committee": d.committee.code,
        "session": d.meeting_id,
        "session_date": d.meeting.starts_at.isoformat(),
        "item": item.title if item else None,
        "kind": item.kind if item else None,
        "opportunity": item.opportunity.code if item and item.opportunity else None,
        "dossier": item.dossier_id if item else None,
        "dossier_reference": f"D{item.dossier_id:04d}" if item and item.dossier_id else None,
        "outcome": d.outcome,
        "outcome_label": OUTCOME_LABELS[Outcome(d.outcome)],
        "mode": d.mode,
        "motivation": d.motivation,
        "conditions": d.conditions,
        "votes": {"for": d.votes_for, "against": d.votes_against, "abstention": d.votes_abstention},
        "verdict": d.verdict,
        "amounts": [{"year": a.year, "ae": a.ae, "cp": a.cp} for a in d.amounts],
        "rectifies": d.rectifies_id,
        "recorded_at": d.recorded_at.isoformat(),
    }


def decision_options():
    return (selectinload(Decision.item).joinedload(AgendaItem.opportunity), selectinload(Decision.amounts))


def public_sessions() -> Select:
    return select(Meeting).where(Meeting.state.in_(PUBLIC_SESSION_STATES))


def session_public(s) -> dict:
    return {
        "id": s.id,
        "committee": s.committee.code,
        "committee_name": s.committee.name,
        "title": s.title,
        "starts_at": s.starts_at.isoformat(),
        "duration_minutes": s.duration_minutes,
        "state": s.state,
        "state_label": MeetingState(s.state).label,
        "agenda": [
            {
                "position": i.position,
                "kind": i.kind,
                "title": i.title,
                "opportunity": i.opportunity.code if i.opportunity else None,
            }
            for i in s.items
        ],
    }


def session_options():
    return (selectinload(Meeting.items).joinedload(AgendaItem.opportunity),)
