"""Export jobs: an XLSX/ODS export above EXPORT_JOB_ROWS rows, written by the scheduler process instead of
the web request (app/services/export_jobs.py), its file offered to its requester only, for
EXPORT_KEEP_HOURS (24 h by default), then deleted by the retention job."""

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class ExportJobState(enum.StrEnum):
    EN_ATTENTE = "en_attente"
    EN_COURS = "en_cours"
    PRET = "pret"
    ECHEC = "echec"

    @property
    def label(self) -> str:
        return {"en_attente": "En attente", "en_cours": "En cours", "pret": "Prêt", "echec": "Échec"}[
            self.value
        ]


class ExportJob(db.Model):
    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint(
            "state IN ({})".format(", ".join(f"'{s.value}'" for s in ExportJobState)), name="state_known"
        ),
        Index("ix_export_jobs_state_created_at", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # who asked (NULL: an anonymous visitor of the open data, recognised by `session_token`)
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_token: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(2000))  # the export's URL (path and query), replayed by the job
    fmt: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default=ExportJobState.EN_ATTENTE)
    rows_total: Mapped[int | None] = mapped_column(Integer)  # None while unknown
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    stored_name: Mapped[str | None] = mapped_column(String(100))  # under EXPORT_DIR, once ready
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    requester = relationship("User")

    @property
    def state_enum(self) -> ExportJobState:
        return ExportJobState(self.state)

    @property
    def done(self) -> bool:
        return self.state in (ExportJobState.PRET, ExportJobState.ECHEC)

    @property
    def percent(self) -> int | None:
        if self.state == ExportJobState.PRET:
            return 100
        if not self.rows_total:
            return None
        return min(99, round(100 * self.rows_done / self.rows_total))
