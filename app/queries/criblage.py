"""Criblage reads: the scope of a new criblage, the ranked results, an opportunity's score history."""

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import selectinload

from ..domain.criblage import Scored, rank
from ..extensions import db
from ..formatting import PARIS
from ..models import (
    Action,
    Backing,
    Campaign,
    CampaignResult,
    CampaignState,
    Opportunity,
    OpportunityState,
    Organisation,
)
from ..models.criblage import Criblage, CriblageItem, CriblageScore
from ..models.portfolio import action_opportunities


def criblages() -> list[Criblage]:
    return list(
        db.session.scalars(
            select(Criblage).options(selectinload(Criblage.items)).order_by(Criblage.opened_at.desc())
        )
    )


def load(criblage_id: int) -> Criblage | None:
    return db.session.scalar(
        select(Criblage)
        .where(Criblage.id == criblage_id)
        .options(
            selectinload(Criblage.items).selectinload(CriblageItem.scores),
            selectinload(Criblage.items)
            .selectinload(CriblageItem.opportunity)
            .selectinload(Opportunity.backings),
            selectinload(Criblage.items).selectinload(CriblageItem.agenda_item),
        )
    )


def item(criblage: Criblage, code: str) -> CriblageItem | None:
    return next((i for i in criblage.items if i.opportunity.code == code), None)


# --- scope ----------------------------------------------------------------------------------------------


@dataclass
class Scope:
    """The filters a criblage is opened with (state, chantier, backing ministry, last review date)."""

    states: list[str] = field(default_factory=list)
    chantier: str = ""
    ministere: str = ""
    not_screened_since: date | None = None

    def describe(self) -> str:
        parts = []
        if self.states:
            parts.append("statut : " + ", ".join(OpportunityState(s).label.lower() for s in self.states))
        if self.chantier:
            parts.append(f"chantier : {self.chantier}")
        if self.ministere:
            parts.append(f"soutenue par {self.ministere}")
        if self.not_screened_since:
            parts.append(f"non criblée depuis le {self.not_screened_since.strftime('%d/%m/%Y')}")
        return " ; ".join(parts) or "tout le portefeuille criblable"


def last_scored_at():
    """Correlated subquery: when the opportunity was last scored in a criblage (None: never)."""
    return (
        select(func.max(CriblageScore.created_at))
        .join(CriblageItem, CriblageItem.id == CriblageScore.item_id)
        .where(CriblageItem.opportunity_id == Opportunity.id)
        .scalar_subquery()
    )


def candidates(scope: Scope) -> list[Opportunity]:
    """Opportunities a criblage may review (screenable states, not ATE), narrowed by the scope."""
    allowed = [s.value for s in OpportunityState.SCREENABLE]
    states = [s for s in scope.states if s in allowed] or allowed
    query = select(Opportunity).where(Opportunity.state.in_(states), Opportunity.ate.is_(False))
    if scope.chantier:
        query = query.where(
            exists(
                select(action_opportunities.c.action_id)
                .join(Action, Action.id == action_opportunities.c.action_id)
                .where(
                    action_opportunities.c.opportunity_id == Opportunity.id, Action.chantier == scope.chantier
                )
            )
        )
    if scope.ministere:
        query = query.where(
            exists(
                select(Backing.id)
                .join(Organisation, Organisation.id == Backing.organisation_id)
                .where(Backing.opportunity_id == Opportunity.id, Organisation.code == scope.ministere)
            )
        )
    if scope.not_screened_since:
        since = datetime.combine(scope.not_screened_since, time.min, tzinfo=PARIS)
        scored_since = (
            select(CriblageScore.id)
            .join(CriblageItem, CriblageItem.id == CriblageScore.item_id)
            .where(and_(CriblageItem.opportunity_id == Opportunity.id, CriblageScore.created_at >= since))
        )
        query = query.where(~exists(scored_since))
    return list(db.session.scalars(query.order_by(Opportunity.number)))


# --- results --------------------------------------------------------------------------------------------


@dataclass
class ResultRow:
    item: CriblageItem
    scored: Scored
    moscow: object | None  # the retained MoSCoW class of the latest published campaign, if any
    position: int = 0

    @property
    def opportunity(self) -> Opportunity:
        return self.item.opportunity


def latest_moscow(opportunity_ids: list[int]) -> dict[int, object]:
    """The MoSCoW result each opportunity got in the latest published campaign that covered it."""
    if not opportunity_ids:
        return {}
    rows = db.session.execute(
        select(CampaignResult)
        .join(Campaign, Campaign.id == CampaignResult.campaign_id)
        .where(CampaignResult.opportunity_id.in_(opportunity_ids), Campaign.state == CampaignState.PUBLIEE)
        .order_by(Campaign.closes_at.desc(), Campaign.id.desc())
    ).scalars()
    latest: dict[int, object] = {}
    for result in rows:
        latest.setdefault(result.opportunity_id, result.retained)
    return latest


def results(criblage: Criblage) -> list[ResultRow]:
    """The items ranked by median value, then median maturity, then number of backing ministries."""
    moscow = latest_moscow([i.opportunity_id for i in criblage.items])
    rows = {
        i.id: ResultRow(
            item=i,
            scored=Scored(
                key=i.id,
                code=i.opportunity.code,
                maturities=[s.maturity for s in i.scores],
                values=[s.value for s in i.scores],
                backing_ministries=len(i.opportunity.backings),
            ),
            moscow=moscow.get(i.opportunity_id),
        )
        for i in criblage.items
    }
    ranked = [rows[s.key] for s in rank([r.scored for r in rows.values()])]
    for position, row in enumerate(ranked, start=1):
        row.position = position
    return ranked


def grid(ranked: list[ResultRow]) -> dict[tuple[int, int], list[str]]:
    """Codes per (maturity, value) cell of the 2-D chart, on the rounded-down medians (scored rows only)."""
    cells: dict[tuple[int, int], list[str]] = {}
    for row in ranked:
        if row.scored.reviews:
            key = (int(row.scored.median_maturity), int(row.scored.median_value))
            cells.setdefault(key, []).append(row.opportunity.code)
    return cells


# --- an opportunity's history --------------------------------------------------------------------------


@dataclass
class HistoryRow:
    criblage: Criblage
    scored: Scored
    retained: bool
    last_scored_at: datetime | None


def history(opportunity: Opportunity) -> list[HistoryRow]:
    """Every criblage that reviewed the opportunity, latest first, with its medians."""
    items = db.session.scalars(
        select(CriblageItem)
        .where(CriblageItem.opportunity_id == opportunity.id)
        .options(selectinload(CriblageItem.scores), selectinload(CriblageItem.criblage))
        .order_by(CriblageItem.id.desc())
    ).all()
    return [
        HistoryRow(
            criblage=i.criblage,
            scored=Scored(
                key=i.id,
                code=opportunity.code,
                maturities=[s.maturity for s in i.scores],
                values=[s.value for s in i.scores],
            ),
            retained=i.retained_at is not None,
            last_scored_at=max((s.created_at for s in i.scores), default=None),
        )
        for i in items
    ]
