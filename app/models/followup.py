"""Follow-up of funded dossiers: jalons reached, indicator values, credits consumed and savings observed.

Every row points at its dossier (and its jalon or indicator) through a real foreign key: the reports of a
deleted dossier, jalon or indicator go with it (ON DELETE CASCADE).
"""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow

OTHER_SAVINGS = "Autres économies (non prévues au contrat)"


class JalonReport(db.Model):
    """A jalon declared reached (« atteint »), with its date and its proof."""

    __tablename__ = "jalon_reports"
    __table_args__ = (UniqueConstraint("jalon_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    jalon_id: Mapped[int] = mapped_column(ForeignKey("jalons.id", ondelete="CASCADE"))
    achieved_on: Mapped[date] = mapped_column(Date)
    proof: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorValue(db.Model):
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


class CreditConsumption(db.Model):
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
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SavingsReport(db.Model):
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
