"""Proposals to put a dossier (or an opportunity) on the agenda of a deciding committee.

One mechanism for every source: an instructeur who gave an avis hands the dossier to its committee, the
follow-up proposes the late items of a funded dossier, and the portfolio's criblage may propose
opportunities. The secretariat sees the open proposals in the agenda builder of the committee's next
meeting and accepts one in one click (an agenda item is created), or sets it aside.
"""

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .committees import ItemKind


class ProposalSource(enum.StrEnum):
    INSTRUCTEUR = "instructeur"
    SUIVI = "suivi"
    CRIBLAGE = "criblage"

    @property
    def label(self) -> str:
        return {
            "instructeur": "Proposé par l'instructeur",
            "suivi": "Alerte de suivi",
            "criblage": "Criblage du portefeuille",
        }[self.value]


class ProposalState(enum.StrEnum):
    OUVERTE = "ouverte"
    ACCEPTEE = "acceptee"
    ECARTEE = "ecartee"

    @property
    def label(self) -> str:
        return {"ouverte": "À examiner", "acceptee": "Inscrite", "ecartee": "Écartée"}[self.value]


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class AgendaProposal(db.Model):
    __tablename__ = "agenda_proposals"
    __table_args__ = (
        CheckConstraint(f"source IN ({_in(ProposalSource)})", name="source_known"),
        CheckConstraint(f"state IN ({_in(ProposalState)})", name="state_known"),
        CheckConstraint(f"kind IN ({_in(ItemKind)})", name="kind_known"),
        CheckConstraint("dossier_id IS NOT NULL OR opportunity_id IS NOT NULL", name="has_subject"),
        Index("ix_agenda_proposals_committee_state", "committee_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # the agenda item kind it becomes
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text, default="")
    flags: Mapped[list] = mapped_column(JSON, default=list)  # follow-up alerts, for kind 'suivi'
    state: Mapped[str] = mapped_column(String(16), default=ProposalState.OUVERTE)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    committee = relationship("Committee", lazy="joined")
    dossier = relationship("Dossier", lazy="joined")
    proposed_by = relationship("User", foreign_keys=[proposed_by_id], lazy="joined")

    @property
    def source_enum(self) -> ProposalSource:
        return ProposalSource(self.source)

    @property
    def state_enum(self) -> ProposalState:
        return ProposalState(self.state)
