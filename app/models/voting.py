"""MoSCoW prioritisation campaigns: campaigns, their scope and electorate, votes, frozen results."""

import enum
from datetime import datetime
from functools import cache

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.moscow import RANK, SCALE, Moscow  # noqa: F401  (RANK, SCALE: re-exported for the pages)
from ..extensions import db
from .base import UTCDateTime, utcnow
from .transitions import TransitionLog
from .users import Role, User, UserRole

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
JUSTIFICATION_MAX = 280
REASON_MAX = 2000


class CampaignState(enum.StrEnum):
    BROUILLON = "brouillon"
    OUVERTE = "ouverte"
    CLOSE = "close"
    PUBLIEE = "publiee"

    @property
    def label(self) -> str:
        return {"brouillon": "Brouillon", "ouverte": "Ouverte", "close": "Clôturée", "publiee": "Publiée"}[
            self.value
        ]


C = CampaignState
# Allowed transitions: from → to. Linear: a closed campaign's results are frozen, nothing reopens it.
TRANSITIONS: dict[CampaignState, set[CampaignState]] = {
    C.BROUILLON: {C.OUVERTE},
    C.OUVERTE: {C.CLOSE},
    C.CLOSE: {C.PUBLIEE},
    C.PUBLIEE: set(),
}
# Named state groups (permissions and templates test these, never the state names).
CampaignState.FROZEN = frozenset({C.CLOSE, C.PUBLIEE})  # votes are closed, results are frozen
CampaignState.DUE = frozenset({C.BROUILLON, C.OUVERTE})  # the scheduler may open or close it


class Visibility(enum.StrEnum):
    ANONYMOUS = "anonymous"
    NAMED = "named"

    @property
    def label(self) -> str:
        return {"anonymous": "Décomptes anonymes", "named": "Bulletins nominatifs"}[self.value]

    @property
    def hint(self) -> str:
        return {
            "anonymous": "Après la clôture, seuls les décomptes sont publiés ; "
            "personne ne voit qui a voté quoi.",
            "named": "Après la clôture, les bulletins (qui a voté quoi, avec la justification) sont publiés.",
        }[self.value]


DEFINITIONS = {
    Moscow.MUST: "vital pour la transformation numérique de l'État, doit être fait",
    Moscow.SHOULD: "essentiel, devrait être fait",
    Moscow.COULD: "utile, pourrait être fait dans la mesure où des ressources sont mobilisables sans impact "
    "sur les actions plus prioritaires",
    Moscow.WONT: "peu utile ou adapté, ne sera pas traité à court/moyen terme",
}


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


campaign_opportunities = Table(
    "campaign_opportunities",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "opportunity_id", ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

campaign_ministries = Table(
    "campaign_ministries",
    db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id"), primary_key=True),
)


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(CampaignState)})", name="state_known"),
        CheckConstraint(f"visibility IN ({_in(Visibility)})", name="visibility_known"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        CheckConstraint("must_budget IS NULL OR must_budget >= 1", name="budget_positive"),
        CheckConstraint("state NOT IN ('close', 'publiee') OR closed_at IS NOT NULL", name="closed_has_date"),
        CheckConstraint("state <> 'publiee' OR published_at IS NOT NULL", name="published_has_date"),
        Index("ix_campaigns_state_opens_at", "state", "opens_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.BROUILLON)
    visibility: Mapped[str] = mapped_column(String(16), default=Visibility.ANONYMOUS)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    must_budget: Mapped[int | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    opportunities = relationship(
        "Opportunity", secondary=campaign_opportunities, order_by="Opportunity.number"
    )
    ministries = relationship("Organisation", secondary=campaign_ministries, order_by="Organisation.code")
    transitions: Mapped[list["CampaignTransition"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignTransition.id"
    )

    @property
    def state_enum(self) -> CampaignState:
        return CampaignState(self.state)

    @property
    def visibility_enum(self) -> Visibility:
        return Visibility(self.visibility)

    @property
    def is_open(self) -> bool:
        return self.state == CampaignState.OUVERTE

    @property
    def is_frozen(self) -> bool:
        return self.state in CampaignState.FROZEN

    def allowed_transitions(self) -> list[CampaignState]:
        return sorted(TRANSITIONS[self.state_enum], key=list(CampaignState).index)

    def __str__(self) -> str:
        return self.title


class CampaignTransition(TransitionLog, db.Model):
    """Transition log: who moved the campaign from which state to which, when (actor NULL = automatic)."""

    __tablename__ = "campaign_transitions"
    states = CampaignState

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))

    campaign: Mapped[Campaign] = relationship(back_populates="transitions")


class Vote(db.Model):
    """One voter's class for one opportunity of one campaign; withdrawing deletes the row."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("campaign_id", "voter_id", "opportunity_id"),
        CheckConstraint(f"value IN ({_in(Moscow)})", name="value_known"),
        Index("ix_votes_campaign_opportunity", "campaign_id", "opportunity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))  # voter's ministry
    value: Mapped[str] = mapped_column(String(8))
    justification: Mapped[str] = mapped_column(String(JUSTIFICATION_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def value_enum(self) -> Moscow:
        return Moscow(self.value)


class CampaignResult(db.Model):
    """Frozen at close: the counts of one opportunity and what was computed from them."""

    __tablename__ = "campaign_results"
    __table_args__ = (
        UniqueConstraint("campaign_id", "opportunity_id"),
        CheckConstraint(f"median IS NULL OR median IN ({_in(Moscow)})", name="median_known"),
        CheckConstraint(
            f"ministry_median IS NULL OR ministry_median IN ({_in(Moscow)})", name="ministry_median_known"
        ),
        CheckConstraint(
            f"override_value IS NULL OR override_value IN ({_in(Moscow)})", name="override_known"
        ),
        CheckConstraint("override_value IS NULL OR override_reason IS NOT NULL", name="override_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    must: Mapped[int] = mapped_column(default=0)
    should: Mapped[int] = mapped_column(default=0)
    could: Mapped[int] = mapped_column(default=0)
    wont: Mapped[int] = mapped_column(default=0)
    median: Mapped[str | None] = mapped_column(String(8))
    ministry_median: Mapped[str | None] = mapped_column(String(8))
    rank: Mapped[int] = mapped_column()
    override_value: Mapped[str | None] = mapped_column(String(8))
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    override_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    opportunity = relationship("Opportunity", lazy="joined")
    override_by = relationship("User")

    @property
    def counts(self) -> dict[Moscow, int]:
        return {
            Moscow.MUST: self.must,
            Moscow.SHOULD: self.should,
            Moscow.COULD: self.could,
            Moscow.WONT: self.wont,
        }

    @property
    def total(self) -> int:
        return self.must + self.should + self.could + self.wont

    @property
    def median_enum(self) -> Moscow | None:
        return Moscow(self.median) if self.median else None

    @property
    def ministry_median_enum(self) -> Moscow | None:
        return Moscow(self.ministry_median) if self.ministry_median else None

    @property
    def retained(self) -> Moscow | None:
        """The priority this campaign gives the opportunity: the override if any, else the median."""
        return Moscow(self.override_value) if self.override_value else self.median_enum


class CampaignMinistryResult(db.Model):
    """Frozen at close: the counts of one opportunity among the voters of one ministry."""

    __tablename__ = "campaign_ministry_results"
    __table_args__ = (
        UniqueConstraint("campaign_id", "opportunity_id", "organisation_id"),
        CheckConstraint(f"median IN ({_in(Moscow)})", name="median_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    must: Mapped[int] = mapped_column(default=0)
    should: Mapped[int] = mapped_column(default=0)
    could: Mapped[int] = mapped_column(default=0)
    wont: Mapped[int] = mapped_column(default=0)
    median: Mapped[str] = mapped_column(String(8))


class CampaignParticipation(db.Model):
    """Frozen at close: electors and voters of one ministry (organisation NULL = DSI members without one)."""

    __tablename__ = "campaign_participations"
    __table_args__ = (
        CheckConstraint("voters >= 0 AND electors >= 0", name="counts_positive"),
        Index("ix_campaign_participations_campaign", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    electors: Mapped[int] = mapped_column(default=0)
    voters: Mapped[int] = mapped_column(default=0)

    organisation = relationship("Organisation", lazy="joined")


# --- electorate counts (aggregate queries, read by the services at close and by the live pages) ----------


def electorate_by_ministry(campaign: Campaign) -> dict[int | None, int]:
    """Number of electors per ministry (same attribution rule as permissions.elector_ministry), by one
    aggregate query."""
    limited = sorted({m.id for m in campaign.ministries})
    statement = _electorate_statement(bool(limited))
    rows = db.session.execute(statement, {"ministries": limited} if limited else {}).all()
    return {org: n for org, n in rows}


@cache
def _electorate_statement(limited: bool):
    """Built once per variant (a statement keeps its cache key); `limited`: to the ministries bound as
    `ministries`."""
    per_user = (
        select(UserRole.user_id, func.min(UserRole.organisation_id).label("organisation_id"))
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role == Role.DSI, User.active.is_(True))
        .group_by(UserRole.user_id)
    )
    if limited:
        per_user = per_user.where(UserRole.organisation_id.in_(bindparam("ministries", expanding=True)))
    sub = per_user.subquery()
    return select(sub.c.organisation_id, func.count()).group_by(sub.c.organisation_id)


def voters_by_ministry(campaign_id: int) -> dict[int | None, int]:
    rows = db.session.execute(
        select(Vote.organisation_id, func.count(func.distinct(Vote.voter_id)))
        .where(Vote.campaign_id == campaign_id)
        .group_by(Vote.organisation_id)
    ).all()
    return {org: n for org, n in rows}
