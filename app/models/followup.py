"""Follow-up of funded dossiers: jalons reached, indicator values, credits consumed and savings observed.

Every row points at its dossier (and its jalon or indicator) through a real foreign key: the reports of a
deleted dossier, jalon or indicator go with it (ON DELETE CASCADE).
"""

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

OTHER_SAVINGS = "Autres économies (non prévues au contrat)"


class ReviewState(enum.StrEnum):
    """The instructeur's reading of a follow-up report: to review, validated, questioned (with a comment)."""

    A_VALIDER = "a_valider"
    VALIDE = "valide"
    QUESTIONNE = "questionne"

    @property
    def label(self) -> str:
        return {"a_valider": "À valider", "valide": "Validé", "questionne": "Questionné"}[self.value]

    @property
    def badge(self) -> str:
        return {"a_valider": "new", "valide": "success", "questionne": "warning"}[self.value]


class Reviewed:
    """Columns of a report the instructeur validates or questions (app/services/followup.py review)."""

    review_state: Mapped[str] = mapped_column(
        String(16), default=ReviewState.A_VALIDER, server_default=ReviewState.A_VALIDER.value
    )
    review_comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @declared_attr
    def reviewed_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"))

    @property
    def review_enum(self) -> ReviewState:
        return ReviewState(self.review_state or ReviewState.A_VALIDER)


class JalonReport(Reviewed, db.Model):
    """A jalon declared reached (« atteint »), with its date and its proof."""

    __tablename__ = "jalon_reports"
    __table_args__ = (UniqueConstraint("jalon_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    jalon_id: Mapped[int] = mapped_column(ForeignKey("jalons.id", ondelete="CASCADE"))
    achieved_on: Mapped[date] = mapped_column(Date)
    proof: Mapped[str] = mapped_column(Text)
    proof_attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossier_attachments.id", ondelete="SET NULL")
    )
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorValue(Reviewed, db.Model):
    """A value of an impact indicator reported on a date (compared with the indicator's target)."""

    __tablename__ = "indicator_values"
    __table_args__ = (UniqueConstraint("indicator_id", "reported_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("dossier_indicators.id", ondelete="CASCADE"), index=True
    )
    reported_on: Mapped[date] = mapped_column(Date)
    value: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditConsumption(Reviewed, db.Model):
    """AE and CP consumed in a year, in euros, against the amounts granted by the committee."""

    __tablename__ = "credit_consumptions"
    __table_args__ = (
        UniqueConstraint("dossier_id", "year"),
        CheckConstraint("ae >= 0 AND cp >= 0", name="amounts_positive"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    ae: Mapped[int] = mapped_column(default=0)
    cp: Mapped[int] = mapped_column(default=0)
    # required when the credits consumed exceed those granted (allowed, with a warning)
    explanation: Mapped[str] = mapped_column(Text, default="", server_default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SavingsReport(Reviewed, db.Model):
    """Savings observed (« économies constatées ») in a year for one nature of savings of the contract (§3),
    in euros; the contract asks for them every year, with an explanation of any gap with the forecast (§7).
    One figure per dossier, year and nature, corrected by entering it again."""

    __tablename__ = "savings_reports"
    __table_args__ = (
        UniqueConstraint("dossier_id", "year", "nature"),
        CheckConstraint("amount >= 0", name="amount_positive"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    nature: Mapped[str] = mapped_column(String(300))  # a savings line's nature, or OTHER_SAVINGS
    amount: Mapped[int] = mapped_column(default=0)
    explanation: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class JalonDelay(Reviewed, db.Model):
    """A jalon declared late by the porteur: its new expected date and the reason (the contract's §5.2
    clawback clause makes it a point for the deciding committee)."""

    __tablename__ = "jalon_delays"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    jalon_id: Mapped[int] = mapped_column(ForeignKey("jalons.id", ondelete="CASCADE"), index=True)
    new_due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contract(db.Model):
    """The transformation contract of a funded dossier ([000]): prepared from the dossier after a favourable
    decision whose minutes are published, signed (date, signatories, signed file), then followed up and
    closed with a final assessment. The dossier's state says where it is; this row keeps the facts."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), unique=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id", ondelete="SET NULL"))
    prepared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    prepared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_on: Mapped[date | None] = mapped_column(Date)
    signatories: Mapped[str] = mapped_column(Text, default="", server_default="")
    signed_attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossier_attachments.id", ondelete="SET NULL")
    )
    signed_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    final_assessment: Mapped[str] = mapped_column(Text, default="", server_default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    signed_attachment = relationship("DossierAttachment", foreign_keys=[signed_attachment_id])
