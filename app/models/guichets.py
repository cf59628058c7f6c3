"""Funding windows (guichets): fund → volet → theme."""

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Guichet(db.Model):
    __tablename__ = "guichets"

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

    parent = relationship("Guichet", remote_side=[id], back_populates="children")
    children = relationship("Guichet", back_populates="parent", order_by="Guichet.code")
