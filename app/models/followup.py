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
from .transitions import TransitionLog

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


# --- tranches: the funding released in parts, each decided by the fund's secretariat ---------------------
# [004] §6: « Le décaissement des crédits du FTAP s'effectue par tranches. Le montant de chaque tranche sera
# définitivement arrêté par le secrétariat du fonds […] le secrétariat du fonds décide à échéance régulière, a
# minima au 1er trimestre de chaque année, du montant des nouvelles tranches de financement au regard de
# l'avancement du projet et du suivi des indicateurs. » [000] §5.1: the FTAP follows « le respect des
# enveloppes allouées à chacune des tranches ».


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class TrancheState(enum.StrEnum):
    PREVUE = "prevue"
    DEBLOQUEE = "debloquee"
    SUSPENDUE = "suspendue"
    ANNULEE = "annulee"

    @property
    def label(self) -> str:
        return {"prevue": "Prévue", "debloquee": "Débloquée", "suspendue": "Suspendue", "annulee": "Annulée"}[
            self.value
        ]

    @property
    def badge(self) -> str:
        return {"prevue": "new", "debloquee": "success", "suspendue": "warning", "annulee": "error"}[
            self.value
        ]


T = TrancheState
TRANCHE_TRANSITIONS: dict[TrancheState, set[TrancheState]] = {
    T.PREVUE: {T.DEBLOQUEE, T.SUSPENDUE, T.ANNULEE},
    T.SUSPENDUE: {T.PREVUE, T.ANNULEE},  # the suspension lifted, or the tranche cancelled
    T.DEBLOQUEE: set(),
    T.ANNULEE: set(),
}
TrancheState.REASON_REQUIRED = frozenset({T.SUSPENDUE, T.ANNULEE})
TrancheState.COUNTED = frozenset({T.PREVUE, T.DEBLOQUEE, T.SUSPENDUE})  # within the envelope granted
TrancheState.OPEN = frozenset({T.PREVUE, T.SUSPENDUE})  # still to be decided


class Tranche(db.Model):
    """A tranche of the funding granted: its planned amount and quarter, its conditions; released
    (« débloquée ») by the fund's secretariat with the definitive amount, the date and who decided, or
    suspended / cancelled with a reason."""

    __tablename__ = "tranches"
    __table_args__ = (
        UniqueConstraint("dossier_id", "number"),
        CheckConstraint(f"state IN ({_in(TrancheState)})", name="state_known"),
        CheckConstraint("planned_amount > 0 AND (amount IS NULL OR amount >= 0)", name="amounts_positive"),
        CheckConstraint("planned_quarter BETWEEN 1 AND 4", name="quarter_known"),
        CheckConstraint("planned_year BETWEEN 2000 AND 2100", name="year_plausible"),
        CheckConstraint(
            f"state != '{T.DEBLOQUEE.value}' OR (amount IS NOT NULL AND released_on IS NOT NULL)",
            name="released_has_amount_and_date",
        ),
        CheckConstraint(
            f"state NOT IN ({_in(TrancheState.REASON_REQUIRED)}) OR state_reason IS NOT NULL",
            name="suspension_has_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    planned_amount: Mapped[int] = mapped_column()
    planned_year: Mapped[int] = mapped_column()
    planned_quarter: Mapped[int] = mapped_column()
    conditions: Mapped[str] = mapped_column(Text, default="", server_default="")
    state: Mapped[str] = mapped_column(String(16), default=TrancheState.PREVUE)
    state_reason: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int | None] = mapped_column()  # the definitive amount, set at release
    released_on: Mapped[date | None] = mapped_column(Date)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    released_by = relationship("User", foreign_keys=[released_by_id])
    transitions: Mapped[list["TrancheTransition"]] = relationship(
        cascade="all, delete-orphan", order_by="TrancheTransition.id"
    )

    @property
    def state_enum(self) -> TrancheState:
        return TrancheState(self.state)

    @property
    def committed(self) -> int:
        """What the tranche takes from the envelope: its definitive amount once released, else planned."""
        return self.amount if self.amount is not None else self.planned_amount

    @property
    def quarter_label(self) -> str:
        return f"T{self.planned_quarter} {self.planned_year}"

    def allowed_transitions(self) -> list[TrancheState]:
        return sorted(TRANCHE_TRANSITIONS[self.state_enum], key=list(TrancheState).index)


class TrancheTransition(TransitionLog, db.Model):
    __tablename__ = "tranche_transitions"
    states = TrancheState

    tranche_id: Mapped[int] = mapped_column(ForeignKey("tranches.id", ondelete="CASCADE"), index=True)


# --- avenants: the contract amended ([000] §8, [001] §8, [004] §8) ----------------------------------------
# « Le présent contrat peut être modifié par voie d'avenant, à l'exception de l'annexe relative aux
# nomenclatures budgétaires d'exécution qui peut être modifiée à l'initiative du secrétariat du FTAP. »


class AvenantState(enum.StrEnum):
    PROJET = "en_projet"
    SIGNE = "signe"
    ABANDONNE = "abandonne"

    @property
    def label(self) -> str:
        return {"en_projet": "En projet", "signe": "Signé", "abandonne": "Abandonné"}[self.value]

    @property
    def badge(self) -> str:
        return {"en_projet": "new", "signe": "success", "abandonne": "error"}[self.value]


AVENANT_TRANSITIONS: dict[AvenantState, set[AvenantState]] = {
    AvenantState.PROJET: {AvenantState.SIGNE, AvenantState.ABANDONNE},
    AvenantState.SIGNE: set(),
    AvenantState.ABANDONNE: set(),
}


class Avenant(db.Model):
    """An amendment of the transformation contract: its object and what it changes (the amount granted, the
    end date, one jalon's date); once signed (date, signed file) its changes apply to the dossier, the
    former values kept here."""

    __tablename__ = "avenants"
    __table_args__ = (
        UniqueConstraint("dossier_id", "number"),
        CheckConstraint(f"state IN ({_in(AvenantState)})", name="state_known"),
        CheckConstraint("new_amount IS NULL OR new_amount > 0", name="amount_positive"),
        CheckConstraint(
            f"state != '{AvenantState.SIGNE.value}' OR signed_on IS NOT NULL", name="signed_has_date"
        ),
        CheckConstraint("(jalon_id IS NULL) = (jalon_new_due_on IS NULL)", name="jalon_change_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    object: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=AvenantState.PROJET)
    state_reason: Mapped[str | None] = mapped_column(Text)
    new_amount: Mapped[int | None] = mapped_column()  # the total AE granted after the avenant
    new_ends_on: Mapped[date | None] = mapped_column(Date)
    jalon_id: Mapped[int | None] = mapped_column(ForeignKey("jalons.id", ondelete="SET NULL"))
    jalon_new_due_on: Mapped[date | None] = mapped_column(Date)
    # the values the signature replaced
    previous_amount: Mapped[int | None] = mapped_column()
    previous_ends_on: Mapped[date | None] = mapped_column(Date)
    previous_jalon_due_on: Mapped[date | None] = mapped_column(Date)
    signed_on: Mapped[date | None] = mapped_column(Date)
    signed_attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossier_attachments.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    jalon = relationship("Jalon")
    signed_attachment = relationship("DossierAttachment", foreign_keys=[signed_attachment_id])
    transitions: Mapped[list["AvenantTransition"]] = relationship(
        cascade="all, delete-orphan", order_by="AvenantTransition.id"
    )

    @property
    def state_enum(self) -> AvenantState:
        return AvenantState(self.state)

    def allowed_transitions(self) -> list[AvenantState]:
        return sorted(AVENANT_TRANSITIONS[self.state_enum], key=list(AvenantState).index)


class AvenantTransition(TransitionLog, db.Model):
    __tablename__ = "avenant_transitions"
    states = AvenantState

    avenant_id: Mapped[int] = mapped_column(ForeignKey("avenants.id", ondelete="CASCADE"), index=True)
