"""Funding windows (guichets): fund → volet → theme, with their mode, calendar and eligibility rules."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class GuichetMode(enum.StrEnum):
    APPEL_A_PROJETS = "appel_a_projets"
    GUICHET_CONTINU = "guichet_continu"

    @property
    def label(self) -> str:
        return {"appel_a_projets": "Appel à projets", "guichet_continu": "Guichet continu"}[self.value]


FRANCE_RELANCE = "France Relance"
TO_BE_SPECIFIED = "à préciser"


class RuleKind(enum.StrEnum):
    """How a guichet's rule weighs: blocking (the document says « doit », « est inférieur à »: the deposit is
    refused), criterion (a share or quality the selection weighs, shown in the grid, never blocks),
    warning (shown, never blocks)."""

    BLOCKING = "blocking"
    CRITERION = "criterion"
    WARNING = "warning"

    @property
    def label(self) -> str:
        return {"blocking": "Bloquant", "criterion": "Critère de sélection", "warning": "Avertissement"}[
            self.value
        ]


class RuleCode(enum.StrEnum):
    """What a rule checks. The numeric ones read their parameter from the guichet (edited in its rules
    form): ROI_MIN → roi_min_cents, MAX_TOTAL → max_total_amount (strictly below), COFINANCING_SHARE →
    min_cofinancing_pct (the reference share, e.g. « 50 % paraît pertinent »). PORTEUR_STATUS reads the
    organisation kinds allowed from its `parameter`; DECLARATION is ticked by the porteur in the dossier;
    CRITERION is a content criterion the instructeur scores in the selection grid."""

    ROI_MIN = "roi_min"
    MAX_TOTAL = "max_total"
    COFINANCING_PRESENT = "cofinancing_present"
    COFINANCING_SHARE = "cofinancing_share"
    PORTEUR_STATUS = "porteur_status"
    DECLARATION = "declaration"
    CRITERION = "criterion"

    @property
    def label(self) -> str:
        return {
            "roi_min": "Retour sur investissement",
            "max_total": "Plafond du montant total",
            "cofinancing_present": "Cofinancement par le porteur",
            "cofinancing_share": "Part de cofinancement",
            "porteur_status": "Statut du porteur",
            "declaration": "Déclaration du porteur",
            "criterion": "Critère de contenu",
        }[self.value]


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class GuichetRule(db.Model):
    """One rule of a guichet as its source document writes it (kind, wording, source quoted); the
    secretariat edits them, the reference load sets them until then ([004] §4.3, [003] §1–§2, [000])."""

    __tablename__ = "guichet_rules"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(RuleKind)})", name="rule_kind_known"),
        CheckConstraint(f"code IN ({_in(RuleCode)})", name="rule_code_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guichet_id: Mapped[int] = mapped_column(ForeignKey("guichets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    parameter: Mapped[str] = mapped_column(String(300), default="", server_default="")

    guichet = relationship("Guichet", back_populates="rules")

    @property
    def kind_enum(self) -> RuleKind:
        return RuleKind(self.kind)

    @property
    def code_enum(self) -> RuleCode:
        return RuleCode(self.code)


class Guichet(db.Model):
    __tablename__ = "guichets"
    __table_args__ = (
        CheckConstraint("mode IN ('', 'appel_a_projets', 'guichet_continu')", name="mode_known"),
        CheckConstraint(
            "mode <> 'appel_a_projets' OR (opens_at IS NOT NULL AND closes_at IS NOT NULL "
            "AND closes_at > opens_at)",
            name="call_has_window",
        ),
        CheckConstraint("max_total_amount IS NULL OR max_total_amount > 0", name="max_total_positive"),
        CheckConstraint(
            "min_cofinancing_pct IS NULL OR (min_cofinancing_pct BETWEEN 0 AND 100)",
            name="cofinancing_pct_range",
        ),
        CheckConstraint("roi_min_cents IS NULL OR roi_min_cents > 0", name="roi_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("guichets.id"))
    fund: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    criteria: Mapped[str] = mapped_column(Text, default="")
    amounts: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    # Calendar of an appel à projets (a guichet continu may have an opening date only).
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    committee_id: Mapped[int | None] = mapped_column(ForeignKey("committees.id"), index=True)
    # France Relance: the theme's owner (DINUM or DITP, [003] §1), who pilots its BOP ([003] §4).
    owner: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # Eligibility rules (None = no rule). Amounts in euros; ROI in cents of lasting savings per euro funded.
    max_total_amount: Mapped[int | None] = mapped_column()
    min_cofinancing_pct: Mapped[int | None] = mapped_column()
    roi_min_cents: Mapped[int | None] = mapped_column()
    required_attachments: Mapped[str] = mapped_column(Text, default="", server_default="")
    rules_edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # reference defaults stop applying
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    parent = relationship("Guichet", remote_side=[id], back_populates="children")
    children = relationship("Guichet", back_populates="parent", order_by="Guichet.code")
    committee = relationship("Committee", foreign_keys=[committee_id], lazy="joined")
    rules: Mapped[list[GuichetRule]] = relationship(
        back_populates="guichet", cascade="all, delete-orphan", order_by="GuichetRule.position"
    )

    @property
    def is_france_relance(self) -> bool:
        return self.fund == FRANCE_RELANCE

    @property
    def fund_label(self) -> str:
        """The fund named wherever a dossier names its financer: « France Relance » or « FTAP »."""
        return FRANCE_RELANCE if self.is_france_relance else "FTAP"

    @property
    def owner_label(self) -> str:
        return self.owner or TO_BE_SPECIFIED

    @property
    def selection_body_label(self) -> str:
        return str(self.committee.name) if self.committee else TO_BE_SPECIFIED

    @property
    def mode_enum(self) -> GuichetMode | None:
        return GuichetMode(self.mode) if self.mode else None

    @property
    def accepts_dossiers(self) -> bool:
        return bool(self.mode)

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if not self.mode:
            return False
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)

    @property
    def required_attachment_list(self) -> list[str]:
        return [line.strip() for line in (self.required_attachments or "").splitlines() if line.strip()]

    def ancestors(self) -> list["Guichet"]:
        chain, node = [], self.parent
        while node is not None and len(chain) < 10:
            chain.insert(0, node)
            node = node.parent
        return chain

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"
