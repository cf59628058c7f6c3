"""The portfolio of interministerial mutualisation opportunities (M001…) and the strategy's actions."""

import enum
import re
import unicodedata
from datetime import datetime

import Stemmer
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.moscow import Moscow
from ..extensions import db
from .base import UTCDateTime, utcnow
from .transitions import TransitionLog

CODE_PATTERN = re.compile(r"^M\d{3,5}$")
BRIQUE_MAX = 200
BESOIN_MAX = 10_000


class OpportunityState(enum.StrEnum):
    """The life cycle of `002_…txt` §4: « au fil de l'eau » → criblage → CSIC-Tech → qualification → CSIC."""

    IDENTIFIEE = "identifiee"
    EN_CRIBLAGE = "en_criblage"
    RETENUE_CRIBLAGE = "retenue_criblage"
    VALIDEE_CSIC_TECH = "validee_csic_tech"
    EN_QUALIFICATION = "en_qualification"
    PROPOSEE_CSIC = "proposee_csic"
    LANCEE = "lancee"
    ECARTEE = "ecartee"
    FUSIONNEE = "fusionnee"
    DOUBLON = "doublon"
    DEJA_COUVERTE = "deja_couverte"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]

    @property
    def badge(self) -> str:
        """DSFR badge modifier class for this state."""
        return STATE_BADGES.get(self, "")


STATE_LABELS = {
    OpportunityState.IDENTIFIEE: "Identifiée",
    OpportunityState.EN_CRIBLAGE: "En criblage",
    OpportunityState.RETENUE_CRIBLAGE: "Retenue au criblage",
    OpportunityState.VALIDEE_CSIC_TECH: "Validée CSIC-Tech",
    OpportunityState.EN_QUALIFICATION: "En qualification",
    OpportunityState.PROPOSEE_CSIC: "Proposée CSIC",
    OpportunityState.LANCEE: "Lancée",
    OpportunityState.ECARTEE: "Écartée",
    OpportunityState.FUSIONNEE: "Fusionnée",
    OpportunityState.DOUBLON: "Doublon",
    OpportunityState.DEJA_COUVERTE: "Déjà couverte",
}

STATE_BADGES = {
    OpportunityState.LANCEE: "fr-badge--success",
    OpportunityState.VALIDEE_CSIC_TECH: "fr-badge--info",
    OpportunityState.EN_QUALIFICATION: "fr-badge--info",
    OpportunityState.PROPOSEE_CSIC: "fr-badge--info",
    OpportunityState.RETENUE_CRIBLAGE: "fr-badge--new",
    OpportunityState.ECARTEE: "fr-badge--error",
    OpportunityState.FUSIONNEE: "fr-badge--warning",
    OpportunityState.DOUBLON: "fr-badge--warning",
    OpportunityState.DEJA_COUVERTE: "fr-badge--warning",
}

S = OpportunityState
_SIDE_EXITS = {S.ECARTEE, S.FUSIONNEE, S.DOUBLON, S.DEJA_COUVERTE}

# Allowed transitions: from → to ([002] §4). Side exits are possible from any open state; an écartée
# opportunity can be reopened for screening. Merged, duplicate and already-covered ones are terminal.
# The backward moves are a committee's « renvoyée » (CSIC-Tech: back to the criblage; CSIC: back to
# qualification) or a decision's rectification.
TRANSITIONS: dict[OpportunityState, set[OpportunityState]] = {
    S.IDENTIFIEE: {S.EN_CRIBLAGE} | _SIDE_EXITS,
    S.EN_CRIBLAGE: {S.RETENUE_CRIBLAGE, S.IDENTIFIEE} | _SIDE_EXITS,
    S.RETENUE_CRIBLAGE: {S.VALIDEE_CSIC_TECH, S.EN_CRIBLAGE} | _SIDE_EXITS,
    S.VALIDEE_CSIC_TECH: {S.EN_QUALIFICATION, S.EN_CRIBLAGE} | _SIDE_EXITS,
    S.EN_QUALIFICATION: {S.PROPOSEE_CSIC} | _SIDE_EXITS,
    S.PROPOSEE_CSIC: {S.LANCEE, S.EN_QUALIFICATION} | _SIDE_EXITS,
    S.LANCEE: set(),
    S.ECARTEE: {S.EN_CRIBLAGE},
    S.FUSIONNEE: set(),
    S.DOUBLON: set(),
    S.DEJA_COUVERTE: set(),
}
# Side exits all carry a reason (who and when are the transition log's); merges also a target.
REASON_REQUIRED = frozenset(_SIDE_EXITS)
TARGET_REQUIRED = frozenset({S.FUSIONNEE, S.DOUBLON})
# States reached only as the cascade of a recorded act, never by a manual move: « retenue » by a criblage,
# « validée CSIC-Tech » by a CSIC-Tech decision, « lancée » by a CSIC decision ([002] §4).
BY_CRIBLAGE = frozenset({S.RETENUE_CRIBLAGE})
BY_DECISION = frozenset({S.VALIDEE_CSIC_TECH, S.LANCEE})
PIPELINE = [
    S.IDENTIFIEE,
    S.EN_CRIBLAGE,
    S.RETENUE_CRIBLAGE,
    S.VALIDEE_CSIC_TECH,
    S.EN_QUALIFICATION,
    S.PROPOSEE_CSIC,
    S.LANCEE,
]
OPEN = frozenset(PIPELINE[:-1])
# Values of a former life cycle still met in bookmarks and API calls (`?statut=qualifiee`): read as today's.
LEGACY_STATES = {"qualifiee": S.RETENUE_CRIBLAGE.value}
SCREENABLE = frozenset({S.IDENTIFIEE, S.EN_CRIBLAGE, S.ECARTEE})  # what a criblage may review
AUTHOR_EDITABLE = frozenset({S.IDENTIFIEE})  # the DSI who proposed it may still edit it
# The committees' stages: CSIC-Tech decides on retained subjects, the CSIC on qualified ones.
CSIC_TECH_STAGES = (S.RETENUE_CRIBLAGE,)
CSIC_STAGES = (S.EN_QUALIFICATION, S.PROPOSEE_CSIC)

# Named state groups, also reachable as OpportunityState.<GROUP> (templates get the enum as a global).
OpportunityState.REASON_REQUIRED = REASON_REQUIRED
OpportunityState.TARGET_REQUIRED = TARGET_REQUIRED  # merged into / duplicate of another opportunity
OpportunityState.BY_CRIBLAGE = BY_CRIBLAGE
OpportunityState.BY_DECISION = BY_DECISION
OpportunityState.PIPELINE = PIPELINE
OpportunityState.OPEN = OPEN
OpportunityState.SCREENABLE = SCREENABLE
OpportunityState.AUTHOR_EDITABLE = AUTHOR_EDITABLE


class BackingRole(enum.StrEnum):
    PILOTE = "pilote"
    CONTRIBUTEUR = "contributeur"
    INTERESSE = "interesse"

    @property
    def label(self) -> str:
        return {"pilote": "Pilote", "contributeur": "Contributeur", "interesse": "Intéressé"}[self.value]


def fold(text: str) -> str:
    """Lower-case, accent-free form used for searching ("Messagerie" → "messagerie", "é" → "e")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


FRENCH_STEMMER = Stemmer.Stemmer("french")
WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The folded words of a text ("Messageries sécurisées" → ["messageries", "securisees"])."""
    return WORD.findall(fold(text))


def stems(text: str) -> list[str]:
    """French Snowball stems of the folded words ("messageries" → "messager"), the algorithm PostgreSQL's
    `french` configuration runs: SQLite's full-text copy and the highlighting use it."""
    return FRENCH_STEMMER.stemWords(words(text))


action_opportunities = Table(
    "action_opportunities",
    db.metadata,
    Column("action_id", ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "opportunity_id", ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Opportunity(db.Model):
    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(OpportunityState)})", name="status_known"),
        CheckConstraint(
            f"status NOT IN ({_in(TARGET_REQUIRED)}) OR target_id IS NOT NULL", name="merged_has_target"
        ),
        CheckConstraint("target_id IS NULL OR target_id <> id", name="target_not_self"),
        CheckConstraint(f"priority IS NULL OR priority IN ({_in(Moscow)})", name="priority_known"),
        Index("ix_opportunities_status_number", "status", "number"),
        # the dashboard's counts by state and priority read this index alone, never the table
        Index("ix_opportunities_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    brique: Mapped[str] = mapped_column(String(BRIQUE_MAX))
    besoin: Mapped[str] = mapped_column(Text, default="")
    # The database columns keep their first names (`status`, `status_reason`): no data migration.
    state: Mapped[str] = mapped_column("status", String(32), default=OpportunityState.IDENTIFIEE)
    state_reason: Mapped[str | None] = mapped_column("status_reason", Text)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    # ATE subjects (assistance technique de l'État) are « hors sujets ATE » of the portfolio ([002] §4):
    # flagged, kept readable, left out of criblages.
    ate: Mapped[bool] = mapped_column(default=False, server_default=false())
    priority: Mapped[str | None] = mapped_column(String(8), index=True)
    # Search: `search_text` is the folded text (PostgreSQL indexes to_tsvector('french', search_text));
    # `search_stem` its French stems, which SQLite's FTS5 table `opportunities_fts` indexes (migration).
    # Deferred: only the search reads them, in SQL; loading them doubled the rows every page sorts.
    search_text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    search_stem: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __mapper_args__ = {"version_id_col": version}

    target: Mapped["Opportunity | None"] = relationship(remote_side=[id], back_populates="absorbed")
    absorbed: Mapped[list["Opportunity"]] = relationship(
        back_populates="target", order_by="Opportunity.number"
    )
    actions: Mapped[list["Action"]] = relationship(
        secondary=action_opportunities, back_populates="opportunities", order_by="Action.code"
    )
    backings: Mapped[list["Backing"]] = relationship(
        back_populates="opportunity", cascade="all, delete-orphan", order_by="Backing.id"
    )
    comments: Mapped[list["Comment"]] = relationship(
        back_populates="opportunity", cascade="all, delete-orphan", order_by="Comment.created_at"
    )
    transitions: Mapped[list["OpportunityTransition"]] = relationship(
        back_populates="opportunity", cascade="all, delete-orphan", order_by="OpportunityTransition.id"
    )

    @property
    def state_enum(self) -> OpportunityState:
        return OpportunityState(self.state)

    @property
    def priority_enum(self) -> Moscow | None:
        return Moscow(self.priority) if self.priority else None

    def allowed_transitions(self) -> list[OpportunityState]:
        return sorted(TRANSITIONS[self.state_enum], key=list(OpportunityState).index)

    def manual_transitions(self) -> list[OpportunityState]:
        """The moves the secretariat may make by hand (not the cascades of a criblage or a decision)."""
        return [s for s in self.allowed_transitions() if s not in BY_CRIBLAGE | BY_DECISION]

    @staticmethod
    def code_for(number: int) -> str:
        return f"M{number:03d}"

    def __str__(self) -> str:
        return f"{self.code} — {self.brique}"


@event.listens_for(Opportunity, "before_insert")
@event.listens_for(Opportunity, "before_update")
def _refresh_search_text(mapper, connection, target: Opportunity) -> None:
    text = f"{target.code} {target.brique} {target.besoin}"
    target.search_text = fold(text)
    target.search_stem = " ".join(stems(text))


class OpportunityTransition(TransitionLog, db.Model):
    """Transition log of an opportunity's state; its columns are named `from_status` / `to_status`."""

    __tablename__ = "opportunity_transitions"
    states = OpportunityState

    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column("from_status", String(32))
    to_state: Mapped[str] = mapped_column("to_status", String(32))
    target_code: Mapped[str | None] = mapped_column(String(8))

    opportunity: Mapped[Opportunity] = relationship(back_populates="transitions")


class Action(db.Model):
    """An action of the 2018 strategy (sections 2–5), carrying some opportunities."""

    __tablename__ = "actions"
    __table_args__ = (CheckConstraint(f"moscow IS NULL OR moscow IN ({_in(Moscow)})", name="moscow_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # The chantier's label (« 2.2 France-Cloud »), the value of the portfolio's chantier filter; the chantier
    # itself (visée, portage…) is `parent_chantier` (app/models/chantiers.py).
    chantier: Mapped[str] = mapped_column(String(200), index=True)
    chantier_id: Mapped[int | None] = mapped_column(ForeignKey("chantiers.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    portage: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[str] = mapped_column(Text, default="")
    moscow: Mapped[str | None] = mapped_column(String(8))

    opportunities: Mapped[list[Opportunity]] = relationship(
        secondary=action_opportunities, back_populates="actions", order_by=Opportunity.number
    )
    parent_chantier = relationship("Chantier", back_populates="actions")

    @property
    def moscow_enum(self) -> Moscow | None:
        return Moscow(self.moscow) if self.moscow else None


class Backing(db.Model):
    """A ministry (organisation) backing an opportunity, with its role."""

    __tablename__ = "backings"
    __table_args__ = (
        UniqueConstraint("opportunity_id", "organisation_id"),
        CheckConstraint(f"role IN ({_in(BackingRole)})", name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    opportunity: Mapped[Opportunity] = relationship(back_populates="backings")
    organisation = relationship("Organisation", lazy="joined")

    @property
    def role_enum(self) -> BackingRole:
        return BackingRole(self.role)


class Comment(db.Model):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    opportunity: Mapped[Opportunity] = relationship(back_populates="comments")
    author = relationship("User", lazy="joined")
