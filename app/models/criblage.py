"""Criblage sessions: the regular screening of the portfolio ([002] §4).

« Un criblage régulier » picks « les sujets les plus mûrs dans leur définition et les plus porteurs de
valeur » (`docs/sources/002_…txt` §4): the secretariat opens a criblage over a set of opportunities,
reviewers (DSI members and the secretariat) score each on maturity and value (1–4), the secretariat retains
the best ranked ones, which become agenda proposals for the next CSIC-Tech.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

TITLE_MAX = 200
COMMENT_MAX = 2000

# The two labelled scales of the grid (1 = lowest).
MATURITY_LABELS = {1: "Idée", 2: "Besoin décrit", 3: "Solution identifiée", 4: "Prête à qualifier"}
VALUE_LABELS = {1: "Faible", 2: "Moyenne", 3: "Forte", 4: "Majeure"}
SCALE = tuple(range(1, 5))


class Criblage(db.Model):
    __tablename__ = "criblages"
    __table_args__ = (
        CheckConstraint("closed_at IS NULL OR closed_by_id IS NOT NULL", name="closed_has_actor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    scope: Mapped[str] = mapped_column(Text, default="")  # the filters it was opened with, in French
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))

    items: Mapped[list["CriblageItem"]] = relationship(
        back_populates="criblage", cascade="all, delete-orphan", order_by="CriblageItem.id"
    )
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    campaign = relationship("Campaign")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def retained(self) -> list["CriblageItem"]:
        return [item for item in self.items if item.retained_at is not None]


class CriblageItem(db.Model):
    """One opportunity under review in a criblage; `retained_at` once the secretariat retains it."""

    __tablename__ = "criblage_items"
    __table_args__ = (
        UniqueConstraint("criblage_id", "opportunity_id"),
        CheckConstraint("retained_at IS NULL OR retained_by_id IS NOT NULL", name="retained_has_actor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    criblage_id: Mapped[int] = mapped_column(ForeignKey("criblages.id", ondelete="CASCADE"))
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id"), index=True)
    retained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retained_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The CSIC-Tech agenda item the retained subject was proposed as (None: no meeting planned yet).
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))

    criblage: Mapped[Criblage] = relationship(back_populates="items")
    opportunity = relationship("Opportunity")
    agenda_item = relationship("AgendaItem")
    scores: Mapped[list["CriblageScore"]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="CriblageScore.id"
    )


class CriblageScore(db.Model):
    """A reviewer's two marks (maturity, value: 1–4) and comment on one item."""

    __tablename__ = "criblage_scores"
    __table_args__ = (
        UniqueConstraint("item_id", "reviewer_id"),
        CheckConstraint("maturity BETWEEN 1 AND 4", name="maturity_range"),
        CheckConstraint("value BETWEEN 1 AND 4", name="value_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("criblage_items.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    maturity: Mapped[int] = mapped_column()
    value: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    item: Mapped[CriblageItem] = relationship(back_populates="scores")
    reviewer = relationship("User", lazy="joined")

    @property
    def maturity_label(self) -> str:
        return MATURITY_LABELS[self.maturity]

    @property
    def value_label(self) -> str:
        return VALUE_LABELS[self.value]
