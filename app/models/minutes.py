"""The minutes (procès-verbal) of a meeting: drafted during the meeting, reviewed, then published (which
makes the meeting's decisions final)."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime
from .committees import Meeting


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class MinutesState(enum.StrEnum):
    BROUILLON = "brouillon"
    RELU = "relu"
    PUBLIE = "publie"

    @property
    def label(self) -> str:
        return {"brouillon": "Brouillon", "relu": "Relu", "publie": "Publié"}[self.value]


class Minutes(db.Model):
    __tablename__ = "minutes"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(MinutesState)})", name="state_known"),
        CheckConstraint("state = 'brouillon' OR reviewed_by_id IS NOT NULL", name="reviewed_has_reviewer"),
        CheckConstraint("state <> 'publie' OR published_at IS NOT NULL", name="published_has_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        "session_id", ForeignKey("committee_sessions.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(16), default=MinutesState.BROUILLON)
    notes: Mapped[str] = mapped_column(Text, default="")  # general notes (Markdown)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    meeting: Mapped[Meeting] = relationship(back_populates="minutes")
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], lazy="joined")
    published_by = relationship("User", foreign_keys=[published_by_id], lazy="joined")

    @property
    def state_enum(self) -> MinutesState:
        return MinutesState(self.state)
