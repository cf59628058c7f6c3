"""The transition log shared by the state machines (opportunity, campaign, dossier, meeting, tranche,
avenant).

Each log model declares its owner's foreign key and relationship, and names its state enum:

    class DossierTransition(TransitionLog, db.Model):
        __tablename__ = "dossier_transitions"
        states = DossierState
        dossier_id = ...

The service helper `app/services/transitions.py` writes the rows.
"""

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from .base import UTCDateTime, utcnow


class TransitionLog:
    """Columns and labels of one row of a transition log: from → to, reason, who (NULL = automatic), when."""

    states: type[enum.Enum]

    id: Mapped[int] = mapped_column(primary_key=True)
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @declared_attr
    def actor(cls):
        return relationship("User", lazy="joined")

    @property
    def from_label(self) -> str:
        return self.states(self.from_state).label

    @property
    def to_label(self) -> str:
        return self.states(self.to_state).label
