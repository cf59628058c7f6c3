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
