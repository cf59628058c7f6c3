"""The decision register: one hash-chained line per recorded, amended or rectified decision, shared by every
committee, and the immutability guard (a published decision, its amounts and the register's lines are never
changed in place nor deleted)."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .committees import Decision, DecisionAmount


class RegisterEntry(db.Model):
    """One line of the decision register, shared by every committee, hash-chained.

    content_hash = SHA-256(canonical JSON of `payload`);
    entry_hash = SHA-256(position | prev_hash | content_hash).
    """

    __tablename__ = "register_entries"
    __table_args__ = (
        UniqueConstraint("position"),
        UniqueConstraint("prev_hash"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column()
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))  # recorded | amended | rectified
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    content_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    decision: Mapped[Decision] = relationship(lazy="joined")


class RegisterVerification(db.Model):
    """One verification of the whole chain (the scheduled job, the « Vérifier » button, the CLI): the register
    page shows the latest instead of re-reading every entry on each view."""

    __tablename__ = "register_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # job | manual | cli
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entries: Mapped[int] = mapped_column()
    ok: Mapped[bool] = mapped_column()
    last_hash: Mapped[str] = mapped_column(String(64))
    problems: Mapped[list] = mapped_column(JSON, default=list)  # [[position, French message], ...]


class DecisionLocked(Exception):
    """A published decision was about to be changed in place (a bug: the services refuse it first)."""


@event.listens_for(Session, "before_flush")
def _published_decisions_are_immutable(session, flush_context, instances) -> None:
    for obj in session.dirty:
        if isinstance(obj, Decision) and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            locked = state.attrs.locked.history
            was_locked = (locked.deleted and locked.deleted[0]) or (not locked.has_changes() and obj.locked)
            if was_locked:
                raise DecisionLocked(f"decision {obj.id} is published and cannot be changed")
        if isinstance(obj, DecisionAmount) and obj.decision is not None and obj.decision.locked:
            if session.is_modified(obj, include_collections=False):
                raise DecisionLocked(f"amounts of decision {obj.decision_id} are published")
    for obj in session.deleted:
        if isinstance(obj, RegisterEntry) or (isinstance(obj, Decision) and obj.locked):
            raise DecisionLocked("published decisions and register entries are never deleted")
        if isinstance(obj, DecisionAmount) and obj.decision is not None and obj.decision.locked:
            raise DecisionLocked(f"amounts of decision {obj.decision_id} are published")
