"""Users (ProConnect identities) and their roles."""

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class Role(enum.StrEnum):
    SECRETARIAT = "secretariat"
    DSI = "dsi"
    PORTEUR = "porteur"
    INSTRUCTEUR = "instructeur"
    COMITE = "comite"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.SECRETARIAT: "Secrétariat",
    Role.DSI: "Membre DSI",
    Role.PORTEUR: "Porteur de projet",
    Role.INSTRUCTEUR: "Instructeur",
    Role.COMITE: "Membre de comité",
}

COMMITTEE_FUNCTIONS = {
    "president": "Président",
    "secretaire": "Secrétaire",
    "membre": "Membre",
    "invite": "Invité (sans voix délibérative)",
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-case
    given_name: Mapped[str] = mapped_column(String(200), default="")
    usual_name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str | None] = mapped_column(String(500))
    sub: Mapped[str | None] = mapped_column(String(255))
    siret: Mapped[str | None] = mapped_column(String(14))
    uid: Mapped[str | None] = mapped_column(String(255))
    idp_id: Mapped[str | None] = mapped_column(String(255))
    organization_label: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    calendar_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(32))

    roles: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated user cannot log in
        return self.active

    @property
    def full_name(self) -> str:
        name = f"{self.given_name} {self.usual_name}".strip()
        return name or self.email

    def has_role(self, role: Role | str) -> bool:
        return any(r.role == role for r in self.roles)

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def ministries(self) -> list[int]:
        """Organisations this user represents as a DSI member."""
        return [r.organisation_id for r in self.roles if r.role == Role.DSI and r.organisation_id]

    def __str__(self) -> str:
        return self.full_name


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", "organisation_id", "guichet_id", "committee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    guichet_id: Mapped[int | None] = mapped_column(ForeignKey("guichets.id"))
    committee_id: Mapped[int | None] = mapped_column(ForeignKey("committees.id"))
    function: Mapped[str | None] = mapped_column(String(32))  # committee function
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, server_default=func.now())

    user: Mapped[User] = relationship(back_populates="roles")
    organisation = relationship("Organisation", lazy="joined")
    guichet = relationship("Guichet", lazy="joined")
    committee = relationship("Committee", lazy="joined")

    @property
    def label(self) -> str:
        text = self.role_label
        scope = self.organisation or self.guichet or self.committee
        if scope is not None:
            text += f" — {scope.code}"
        if self.function:
            text += f" ({self.function_label})"
        return text

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(Role(self.role), self.role)

    @property
    def function_label(self) -> str:
        return COMMITTEE_FUNCTIONS.get(self.function, self.function) if self.function else ""
