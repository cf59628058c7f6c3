"""Committees (COPIL, CINUM, CSIC, CSIC-Tech, comité d'investissement FTAP, COSINUM…), their rules, meetings,
agendas, attendance, votes and decisions. The decision register is in register.py, the minutes in minutes.py.

Members are read from `UserRole(role='comite', committee_id, function)` (app/models/users.py).
"""

import enum
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.rules import MajorityRule, QuorumRule, VoteChoice
from ..extensions import db
from ..formatting import format_datetime
from .base import UTCDateTime, utcnow
from .guichets import Guichet
from .transitions import TransitionLog

__all__ = ["MajorityRule", "QuorumRule", "VoteChoice"]  # the deliberation rules live in app/domain/rules.py


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


# --- rules ----------------------------------------------------------------------------------------------


class MemberFunction(enum.StrEnum):
    PRESIDENT = "president"
    SECRETAIRE = "secretaire"
    MEMBRE = "membre"
    INVITE = "invite"

    @property
    def label(self) -> str:
        return {
            "president": "Président",
            "secretaire": "Secrétaire",
            "membre": "Membre",
            "invite": "Invité (sans voix délibérative)",
        }[self.value]

    @property
    def votes(self) -> bool:
        return self is not MemberFunction.INVITE


class BodyKind(enum.StrEnum):
    """What a body named in the documents is: only a committee meets on a recurrence, with members and
    deliberation rules; a one-off meeting is a historical record; a person or role and a working group are
    named for who they are and never hold séances of their own (issue « Portfolio governance »)."""

    COMITE = "comite"
    REUNION = "reunion"
    PERSONNE = "personne"
    GROUPE = "groupe"

    @property
    def label(self) -> str:
        return {
            "comite": "Comité",
            "reunion": "Réunion ponctuelle",
            "personne": "Personne ou fonction",
            "groupe": "Groupe de travail",
        }[self.value]


DEFAULT_RULE = "règle par défaut (décret 2006-672)"

committee_guichets = Table(
    "committee_guichets",
    db.metadata,
    Column("committee_id", ForeignKey("committees.id", ondelete="CASCADE"), primary_key=True),
    Column("guichet_id", ForeignKey("guichets.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Committee(db.Model):
    __tablename__ = "committees"
    __table_args__ = (
        CheckConstraint(f"quorum_rule IN ({_in(QuorumRule)})", name="quorum_rule_known"),
        CheckConstraint(f"majority_rule IN ({_in(MajorityRule)})", name="majority_rule_known"),
        CheckConstraint("session_minutes > 0", name="session_minutes_positive"),
        CheckConstraint(f"kind IN ({_in(BodyKind)})", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=BodyKind.COMITE, server_default="comite")
    # A one-off meeting's record: its date, who took part (as the source writes it), what it decided.
    held_on: Mapped[date | None] = mapped_column(Date)
    participants: Mapped[str] = mapped_column(Text, default="", server_default="")
    outcomes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A project body: the project it steers and the project's end, after which no séance is generated.
    project: Mapped[str] = mapped_column(Text, default="", server_default="")
    ends_on: Mapped[date | None] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(Text, default="")
    cadence: Mapped[str] = mapped_column(Text, default="")
    members: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    # Deliberation rules (défaut : décret n° 2006-672, art. 11 et 12 — quorum de la moitié, mandats comptés,
    # majorité des voix, voix prépondérante du président en cas de partage égal).
    quorum_rule: Mapped[str] = mapped_column(String(16), default=QuorumRule.MOITIE, server_default="moitie")
    proxies_count_for_quorum: Mapped[bool] = mapped_column(default=True, server_default=true())
    majority_rule: Mapped[str] = mapped_column(
        String(16), default=MajorityRule.SIMPLE, server_default="simple"
    )
    casting_vote: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Recurrence: "FREQ=MONTHLY;BYDAY=1TU" (first Tuesday), "FREQ=WEEKLY;BYDAY=WE",
    # "FREQ=MONTHLY;INTERVAL=4;BYDAY=2TH"
    recurrence: Mapped[str | None] = mapped_column(String(100))
    recurrence_time: Mapped[str | None] = mapped_column(String(5))  # "14:00", Europe/Paris
    meeting_minutes: Mapped[int] = mapped_column("session_minutes", default=120, server_default="120")
    default_place: Mapped[str] = mapped_column(Text, default="", server_default="")
    opportunity_stages: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Set when the secretariat edits the rules: the reference loader then leaves them alone.
    rules_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    guichets = relationship("Guichet", secondary=committee_guichets, order_by="Guichet.code")
    meetings: Mapped[list["Meeting"]] = relationship(back_populates="committee", order_by="Meeting.starts_at")

    def decided_guichet_ids(self) -> Select:
        """The ids of the guichets the committee decides on, as a query: those it is the deciding committee
        of or lists, and every guichet below them (services.dossiers.decided_by, in one recursive query)."""
        return guichets_decided_by(self.id)

    @property
    def quorum_enum(self) -> QuorumRule:
        return QuorumRule(self.quorum_rule)

    @property
    def kind_enum(self) -> BodyKind:
        return BodyKind(self.kind)

    @property
    def meets(self) -> bool:
        """Only a committee holds séances (planned, generated, with an agenda)."""
        return self.kind_enum is BodyKind.COMITE

    @property
    def default_rules(self) -> bool:
        """Quorum and majority are the decree's defaults until the secretariat records the body's own."""
        return self.rules_updated_at is None

    def ended(self, day: date) -> bool:
        return self.ends_on is not None and day > self.ends_on

    @property
    def majority_enum(self) -> MajorityRule:
        return MajorityRule(self.majority_rule)

    def __str__(self) -> str:
        return self.name


# --- meetings -------------------------------------------------------------------------------------------


class MeetingState(enum.StrEnum):
    PLANIFIEE = "planifiee"
    ODJ_PUBLIE = "odj_publie"
    TENUE = "tenue"
    PV_PUBLIE = "pv_publie"
    ANNULEE = "annulee"

    @property
    def label(self) -> str:
        return {
            "planifiee": "Planifiée",
            "odj_publie": "Ordre du jour publié",
            "tenue": "Tenue",
            "pv_publie": "Procès-verbal publié",
            "annulee": "Annulée",
        }[self.value]

    @property
    def badge(self) -> str:
        """The DSFR badge variant of the state."""
        return {
            "planifiee": "",
            "odj_publie": "new",
            "tenue": "info",
            "pv_publie": "success",
            "annulee": "error",
        }[self.value]


SS = MeetingState
# Named state groups (tested by services, queries, permissions and templates instead of state literals).
SS.LIVE = (SS.PLANIFIEE, SS.ODJ_PUBLIE, SS.TENUE)  # not closed: its agenda items are still to be decided
SS.EDITABLE = (SS.PLANIFIEE, SS.ODJ_PUBLIE)  # date, place and link may still change
SS.IN_SESSION = (SS.ODJ_PUBLIE, SS.TENUE)  # attendance and quorum are followed
SS.HELD = (SS.TENUE, SS.PV_PUBLIE)  # the attendance list is the snapshot of the members
SS.PUBLIC = (SS.ODJ_PUBLIE, SS.TENUE, SS.PV_PUBLIE)  # readable by every signed-in user
SS.CLOSED = (SS.PV_PUBLIE, SS.ANNULEE)  # nothing changes any more
MEETING_TRANSITIONS: dict[MeetingState, set[MeetingState]] = {
    SS.PLANIFIEE: {SS.ODJ_PUBLIE, SS.ANNULEE},
    SS.ODJ_PUBLIE: {SS.TENUE, SS.ANNULEE},
    SS.TENUE: {SS.PV_PUBLIE},
    SS.PV_PUBLIE: set(),
    SS.ANNULEE: set(),
}


class Meeting(db.Model):
    __tablename__ = "committee_sessions"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(MeetingState)})", name="state_known"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("state <> 'annulee' OR cancel_reason IS NOT NULL", name="cancelled_has_reason"),
        # A generated occurrence is unique per committee, even once moved or cancelled: regenerating
        # never brings back a meeting that the secretariat cancelled or moved.
        UniqueConstraint("committee_id", "occurrence"),
        Index("ix_committee_sessions_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(default=120)
    place: Mapped[str] = mapped_column(Text, default="")
    visio_url: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(16), default=MeetingState.PLANIFIEE)
    occurrence: Mapped[str | None] = mapped_column(String(10))  # "2026-12-01" for generated meetings
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    committee: Mapped[Committee] = relationship(back_populates="meetings", lazy="joined")
    items: Mapped[list["AgendaItem"]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="AgendaItem.position"
    )
    attendances: Mapped[list["Attendance"]] = relationship(
        back_populates="meeting",
        cascade="all, delete-orphan",
        order_by="Attendance.id",
        foreign_keys="Attendance.meeting_id",
    )
    transitions: Mapped[list["MeetingTransition"]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="MeetingTransition.id"
    )
    minutes: Mapped["Minutes | None"] = relationship(  # noqa: F821 - app/models/minutes.py
        back_populates="meeting", cascade="all, delete-orphan", uselist=False
    )

    @property
    def state_enum(self) -> MeetingState:
        return MeetingState(self.state)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def allowed_transitions(self) -> list[MeetingState]:
        return sorted(MEETING_TRANSITIONS[self.state_enum], key=list(MeetingState).index)

    @property
    def label(self) -> str:
        return self.title or f"{self.committee.name} — {format_datetime(self.starts_at)}"

    def __str__(self) -> str:
        return self.label


class MeetingTransition(TransitionLog, db.Model):
    __tablename__ = "committee_session_transitions"
    states = MeetingState

    meeting_id: Mapped[int] = mapped_column(
        "session_id", ForeignKey("committee_sessions.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))

    meeting: Mapped[Meeting] = relationship(back_populates="transitions")


# --- agenda ---------------------------------------------------------------------------------------------


class ItemKind(enum.StrEnum):
    DOSSIER = "dossier"
    OPPORTUNITE = "opportunite"
    SUIVI = "suivi"
    LIBRE = "libre"

    @property
    def label(self) -> str:
        return {
            "dossier": "Dossier",
            "opportunite": "Opportunité",
            "suivi": "Revue de suivi",
            "libre": "Point libre",
        }[self.value]


class AgendaItem(db.Model):
    __tablename__ = "agenda_items"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(ItemKind)})", name="kind_known"),
        CheckConstraint(
            "kind <> 'opportunite' OR opportunity_id IS NOT NULL", name="opportunity_item_has_opportunity"
        ),
        CheckConstraint("kind <> 'dossier' OR dossier_id IS NOT NULL", name="dossier_item_has_dossier"),
        CheckConstraint("kind <> 'suivi' OR dossier_id IS NOT NULL", name="followup_item_has_dossier"),
        UniqueConstraint("session_id", "position"),
        Index("ix_agenda_items_opportunity_id", "opportunity_id"),
        Index("ix_agenda_items_dossier_id", "dossier_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        "session_id", ForeignKey("committee_sessions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    proposal: Mapped[str] = mapped_column(Text, default="")  # what the committee is asked to decide
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="RESTRICT"))
    followup_flags: Mapped[list] = mapped_column(JSON, default=list)  # for kind 'suivi'
    notes: Mapped[str] = mapped_column(Text, default="")  # minutes notes (Markdown)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    opportunity = relationship("Opportunity", lazy="joined")
    dossier = relationship("Dossier", lazy="select")  # a dossier item: its selection grid in the PV
    votes: Mapped[list["ItemVote"]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="ItemVote.id"
    )
    decisions: Mapped[list["Decision"]] = relationship(back_populates="item", order_by="Decision.id")
    documents: Mapped[list["AgendaDocument"]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="AgendaDocument.id"
    )

    @property
    def kind_enum(self) -> ItemKind:
        return ItemKind(self.kind)

    @property
    def decision(self) -> "Decision | None":
        """The decision in force on this item: the last of its rectification chain."""
        return self.decisions[-1] if self.decisions else None


class AgendaDocument(db.Model):
    """A document carried by an agenda item: a link or an uploaded PDF."""

    __tablename__ = "agenda_documents"
    __table_args__ = (CheckConstraint("url <> '' OR stored_name <> ''", name="has_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), default="")
    stored_name: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[AgendaItem] = relationship(back_populates="documents")


# --- attendance and votes -------------------------------------------------------------------------------


class AttendanceStatus(enum.StrEnum):
    PRESENT = "present"
    EXCUSE = "excuse"
    REPRESENTE = "represente"
    ABSENT = "absent"

    @property
    def label(self) -> str:
        return {
            "present": "Présent",
            "excuse": "Excusé",
            "represente": "Représenté (pouvoir)",
            "absent": "Absent",
        }[self.value]


class Attendance(db.Model):
    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        CheckConstraint(f"status IN ({_in(AttendanceStatus)})", name="status_known"),
        CheckConstraint(f"function IN ({_in(MemberFunction)})", name="function_known"),
        CheckConstraint("(status = 'represente') = (proxy_id IS NOT NULL)", name="proxy_iff_represented"),
        CheckConstraint("proxy_id IS NULL OR proxy_id <> user_id", name="proxy_not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        "session_id", ForeignKey("committee_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    function: Mapped[str] = mapped_column(String(16))  # snapshot of the member's function
    status: Mapped[str] = mapped_column(String(16))
    proxy_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="attendances", foreign_keys=[meeting_id])
    user = relationship("User", foreign_keys=[user_id], lazy="joined")
    proxy = relationship("User", foreign_keys=[proxy_id], lazy="joined")

    @property
    def status_enum(self) -> AttendanceStatus:
        return AttendanceStatus(self.status)

    @property
    def function_enum(self) -> MemberFunction:
        return MemberFunction(self.function)


class ItemVote(db.Model):
    __tablename__ = "item_votes"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id"),
        CheckConstraint(f"choice IN ({_in(VoteChoice)})", name="choice_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    choice: Mapped[str] = mapped_column(String(16))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    item: Mapped[AgendaItem] = relationship(back_populates="votes")
    user = relationship("User", foreign_keys=[user_id], lazy="joined")

    @property
    def choice_enum(self) -> VoteChoice:
        return VoteChoice(self.choice)


# --- decisions ------------------------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    # opportunities
    VALIDEE = "validee"
    LANCEE = "lancee"
    RENVOYEE = "renvoyee"
    ECARTEE = "ecartee"
    # dossiers
    ACCEPTE = "accepte"
    ACCEPTE_SOUS_CONDITIONS = "accepte_sous_conditions"
    AJOURNE = "ajourne"
    REFUSE = "refuse"
    # follow-up reviews
    PRIS_ACTE = "pris_acte"
    MESURES_DEMANDEES = "mesures_demandees"
    SUSPENSION = "suspension"
    # free items
    ADOPTE = "adopte"
    REJETE = "rejete"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]

    @property
    def positive(self) -> bool:
        """Outcomes that adopt the proposal (need a favourable majority when voted)."""
        return self in POSITIVE_OUTCOMES


OUTCOME_LABELS = {
    Outcome.VALIDEE: "Validée (qualification approfondie)",
    Outcome.LANCEE: "Lancée en projet mutualisé",
    Outcome.RENVOYEE: "Renvoyée",  # to the criblage (CSIC-Tech) or to qualification (CSIC)
    Outcome.ECARTEE: "Écartée",
    Outcome.ACCEPTE: "Accepté",
    Outcome.ACCEPTE_SOUS_CONDITIONS: "Accepté sous conditions",
    Outcome.AJOURNE: "Ajourné",
    Outcome.REFUSE: "Refusé",
    Outcome.PRIS_ACTE: "Pris acte",
    Outcome.MESURES_DEMANDEES: "Mesures correctives demandées",
    Outcome.SUSPENSION: "Suspension du financement",
    Outcome.ADOPTE: "Adopté",
    Outcome.REJETE: "Rejeté",
}
POSITIVE_OUTCOMES = {
    Outcome.VALIDEE,
    Outcome.LANCEE,
    Outcome.ACCEPTE,
    Outcome.ACCEPTE_SOUS_CONDITIONS,
    Outcome.MESURES_DEMANDEES,
    Outcome.SUSPENSION,
    Outcome.ADOPTE,
}
OUTCOMES_BY_KIND = {
    ItemKind.OPPORTUNITE: [Outcome.VALIDEE, Outcome.LANCEE, Outcome.RENVOYEE, Outcome.ECARTEE],
    ItemKind.DOSSIER: [Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS, Outcome.AJOURNE, Outcome.REFUSE],
    ItemKind.SUIVI: [Outcome.PRIS_ACTE, Outcome.MESURES_DEMANDEES, Outcome.SUSPENSION],
    ItemKind.LIBRE: [Outcome.ADOPTE, Outcome.REJETE, Outcome.PRIS_ACTE],
}
# A decided dossier carries its decision's outcome (dossiers.decision_outcome): one enum for both.
Outcome.FOR_DOSSIERS = tuple(OUTCOMES_BY_KIND[ItemKind.DOSSIER])
Outcome.ACCEPTED = frozenset({Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS})  # a convention may follow


class DecisionMode(enum.StrEnum):
    VOTE = "vote"
    CONSENSUS = "consensus"

    @property
    def label(self) -> str:
        return {"vote": "Vote", "consensus": "Consensus"}[self.value]


class Decision(db.Model):
    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_in(Outcome)})", name="outcome_known"),
        CheckConstraint(f"mode IN ({_in(DecisionMode)})", name="mode_known"),
        CheckConstraint("outcome <> 'accepte_sous_conditions' OR conditions <> ''", name="conditions_listed"),
        CheckConstraint("outcome <> 'ajourne' OR expectations <> ''", name="expectations_listed"),
        CheckConstraint("rectifies_id IS NULL OR rectifies_id <> id", name="not_self_rectifying"),
        CheckConstraint(
            "votes_for >= 0 AND votes_against >= 0 AND votes_abstention >= 0", name="tally_positive"
        ),
        UniqueConstraint(
            "rectifies_id"
        ),  # a decision is rectified at most once (then rectify the rectification)
        # One decision per agenda item: a second one is a rectification (rectifies_id set), never a second
        # original; a double or triple click cannot record two (record_decision locks the item first).
        Index(
            "uq_decisions_item_id_original",
            "item_id",
            unique=True,
            sqlite_where=text("rectifies_id IS NULL"),
            postgresql_where=text("rectifies_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id"), index=True)
    meeting_id: Mapped[int] = mapped_column("session_id", ForeignKey("committee_sessions.id"), index=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    motivation: Mapped[str] = mapped_column(Text, default="")
    conditions: Mapped[str] = mapped_column(Text, default="")
    expectations: Mapped[str] = mapped_column(Text, default="")
    votes_for: Mapped[int] = mapped_column(default=0)
    votes_against: Mapped[int] = mapped_column(default=0)
    votes_abstention: Mapped[int] = mapped_column(default=0)
    verdict: Mapped[str] = mapped_column(Text, default="")  # the rule applied, in French
    quorum: Mapped[str] = mapped_column(Text, default="")  # the quorum reached, in French
    above_request_confirmed: Mapped[bool] = mapped_column(default=False)
    rectifies_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    locked: Mapped[bool] = mapped_column(default=False)  # set when the minutes are published
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[AgendaItem] = relationship(back_populates="decisions")
    meeting: Mapped[Meeting] = relationship(lazy="joined")
    committee: Mapped[Committee] = relationship(lazy="joined")
    rectifies: Mapped["Decision | None"] = relationship(remote_side=[id])
    rectified_by: Mapped["Decision | None"] = relationship(
        primaryjoin="Decision.id == foreign(Decision.rectifies_id)", uselist=False, viewonly=True
    )
    amounts: Mapped[list["DecisionAmount"]] = relationship(
        back_populates="decision", cascade="all, delete-orphan", order_by="DecisionAmount.year"
    )
    recorded_by = relationship("User", lazy="joined")

    @property
    def outcome_enum(self) -> Outcome:
        return Outcome(self.outcome)

    @property
    def mode_enum(self) -> DecisionMode:
        return DecisionMode(self.mode)

    @property
    def total_ae(self) -> int:
        return sum(a.ae for a in self.amounts)

    @property
    def total_cp(self) -> int:
        return sum(a.cp for a in self.amounts)

    def content(self) -> dict:
        """The canonical content hashed into the register (everything that makes the decision)."""
        return {
            "decision": self.id,
            "committee": self.committee.code if self.committee else None,
            "session": self.meeting_id,  # the register's hashed key, unchanged since its first entry
            "item": self.item_id,
            "kind": self.item.kind if self.item else None,
            "opportunity": self.item.opportunity.code if self.item and self.item.opportunity else None,
            "dossier": self.item.dossier_id if self.item else None,
            "outcome": self.outcome,
            "mode": self.mode,
            "motivation": self.motivation,
            "conditions": self.conditions,
            "expectations": self.expectations,
            "votes": [self.votes_for, self.votes_against, self.votes_abstention],
            "verdict": self.verdict,
            "quorum": self.quorum,
            "amounts": [[a.year, a.ae, a.cp] for a in self.amounts],
            "rectifies": self.rectifies_id,
            "recorded_by": self.recorded_by_id,
            "recorded_at": self.recorded_at.astimezone(UTC).isoformat() if self.recorded_at else None,
        }


class DecisionAmount(db.Model):
    """Amount granted by a dossier decision for one year, in euros (AE and CP)."""

    __tablename__ = "decision_amounts"
    __table_args__ = (
        UniqueConstraint("decision_id", "year"),
        CheckConstraint("ae >= 0 AND cp >= 0", name="amounts_positive"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    ae: Mapped[int] = mapped_column(default=0)
    cp: Mapped[int] = mapped_column(default=0)

    decision: Mapped[Decision] = relationship(back_populates="amounts")


def guichets_decided_by(committee_id) -> Select:
    """Committee.decided_guichet_ids of the committee `committee_id` (an id, or a bound parameter of a
    statement built once)."""
    listed = select(committee_guichets.c.guichet_id).where(committee_guichets.c.committee_id == committee_id)
    decided = (
        select(Guichet.id)
        .where(or_(Guichet.committee_id == committee_id, Guichet.id.in_(listed)))
        .cte("decided_guichets", recursive=True)
    )
    below = select(Guichet.id).join(decided, Guichet.parent_id == decided.c.id)
    return select(decided.union(below).c.id)
