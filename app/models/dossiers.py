"""Application dossiers to a guichet, shaped like the FTAP transformation contract ([000], [001], [004]).

Amounts are integers in euros. Totals are never stored: they are computed from the rows (see
app/domain/dossier_figures.py `figures`).

The dossier's states come with named groups (`DossierState.EDITABLE`, `.IN_INSTRUCTION`, `.FOLLOWED`…),
which services, permissions and templates test instead of spelling state names.
"""

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column, query_expression, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .committees import Outcome
from .transitions import TransitionLog

YEARS = 4  # financing columns N … N+3
SAVINGS_YEARS = 7  # savings columns N … N+6 (the ROI looks three years past the last FTAP year)


class DossierState(enum.StrEnum):
    BROUILLON = "brouillon"
    DEPOSE = "depose"
    EN_INSTRUCTION = "en_instruction"
    COMPLEMENTS_DEMANDES = "complements_demandes"
    INSTRUIT = "instruit"
    INSCRIT_COMITE = "inscrit_comite"
    DECIDE = "decide"
    CONVENTIONNE = "conventionne"
    EN_SUIVI = "en_suivi"
    CLOS = "clos"
    RETIRE = "retire"
    CLASSE_SANS_SUITE = "classe_sans_suite"
    # named group (not a member): under contract, the porteur reports jalons, indicators, credits, savings
    FOLLOWED = enum.nonmember(frozenset({CONVENTIONNE, EN_SUIVI}))

    @property
    def label(self) -> str:
        return STATE_LABELS[self]

    @property
    def badge(self) -> str:
        """The DSFR badge variant of the state ('' for the neutral badge)."""
        return STATE_BADGES.get(self, "")


STATE_LABELS = {
    DossierState.BROUILLON: "Brouillon",
    DossierState.DEPOSE: "Déposé",
    DossierState.EN_INSTRUCTION: "En instruction",
    DossierState.COMPLEMENTS_DEMANDES: "Compléments demandés",
    DossierState.INSTRUIT: "Instruit",
    DossierState.INSCRIT_COMITE: "Inscrit en comité",
    DossierState.DECIDE: "Décidé",
    DossierState.CONVENTIONNE: "Conventionné",
    DossierState.EN_SUIVI: "En suivi",
    DossierState.CLOS: "Clos",
    DossierState.RETIRE: "Retiré",
    DossierState.CLASSE_SANS_SUITE: "Classé sans suite",
}

STATE_BADGES = {
    DossierState.DEPOSE: "info",
    DossierState.EN_INSTRUCTION: "new",
    DossierState.COMPLEMENTS_DEMANDES: "warning",
    DossierState.INSTRUIT: "success",
    DossierState.INSCRIT_COMITE: "info",
    DossierState.DECIDE: "success",
    DossierState.CONVENTIONNE: "success",
    DossierState.EN_SUIVI: "info",
    DossierState.RETIRE: "error",
    DossierState.CLASSE_SANS_SUITE: "error",
}

D = DossierState
TRANSITIONS: dict[DossierState, set[DossierState]] = {
    D.BROUILLON: {D.DEPOSE, D.RETIRE},
    D.DEPOSE: {D.EN_INSTRUCTION, D.COMPLEMENTS_DEMANDES, D.INSTRUIT, D.CLASSE_SANS_SUITE, D.RETIRE},
    D.EN_INSTRUCTION: {D.COMPLEMENTS_DEMANDES, D.INSTRUIT, D.CLASSE_SANS_SUITE, D.RETIRE},
    D.COMPLEMENTS_DEMANDES: {D.DEPOSE, D.CLASSE_SANS_SUITE, D.RETIRE},
    D.INSTRUIT: {D.INSCRIT_COMITE, D.EN_INSTRUCTION, D.CLASSE_SANS_SUITE, D.RETIRE},
    # Committee steps, called by the committees domain (services.dossiers.mark_on_agenda / apply_decision).
    D.INSCRIT_COMITE: {D.DECIDE, D.INSTRUIT, D.RETIRE},
    D.DECIDE: {D.CONVENTIONNE, D.INSCRIT_COMITE, D.CLOS},
    D.CONVENTIONNE: {D.EN_SUIVI, D.CLOS},
    D.EN_SUIVI: {D.CLOS},
    D.CLOS: set(),
    D.RETIRE: set(),
    D.CLASSE_SANS_SUITE: set(),
}
# Named state groups, also reachable as DossierState.<GROUP> (templates get DossierState as a global).
PORTEUR_EDITABLE = frozenset({D.BROUILLON, D.COMPLEMENTS_DEMANDES})  # the porteur edits the sections
INSTRUCTION_STATES = frozenset({D.DEPOSE, D.EN_INSTRUCTION, D.COMPLEMENTS_DEMANDES})
AVIS_PENDING = frozenset({D.DEPOSE, D.EN_INSTRUCTION})  # the instructor may give the avis
REASON_REQUIRED = frozenset({D.CLASSE_SANS_SUITE})
AVIS_STATES = frozenset({D.INSTRUIT, D.INSCRIT_COMITE, D.DECIDE, D.CONVENTIONNE, D.EN_SUIVI})
DECIDED_STATES = frozenset({D.DECIDE, D.CONVENTIONNE, D.EN_SUIVI})
FOLLOWED = frozenset({D.CONVENTIONNE, D.EN_SUIVI})  # funded: jalons, indicators, credits followed
FOLLOWUP_VISIBLE = FOLLOWED | {D.CLOS}  # the follow-up page exists (kept after closing)
UNSUBMITTED = frozenset({D.BROUILLON, D.RETIRE})  # may have no submission date
INSTRUCTED = frozenset({D.INSTRUIT, D.INSCRIT_COMITE, D.DECIDE, D.CONVENTIONNE, D.EN_SUIVI, D.CLOS})
REFUSED_OR_WITHDRAWN = frozenset({D.RETIRE, D.CLASSE_SANS_SUITE})

DossierState.EDITABLE = PORTEUR_EDITABLE
DossierState.IN_INSTRUCTION = INSTRUCTION_STATES
DossierState.AVIS_PENDING = AVIS_PENDING
DossierState.REASON_REQUIRED = REASON_REQUIRED
DossierState.WITH_AVIS = AVIS_STATES
DossierState.DECIDED = DECIDED_STATES
DossierState.FOLLOWED = FOLLOWED
DossierState.FOLLOWUP_VISIBLE = FOLLOWUP_VISIBLE
DossierState.UNSUBMITTED = UNSUBMITTED
DossierState.INSTRUCTED = INSTRUCTED
DossierState.ENDED_WITHOUT_DECISION = REFUSED_OR_WITHDRAWN


class Avis(enum.StrEnum):
    FAVORABLE = "favorable"
    RESERVE = "reserve"
    DEFAVORABLE = "defavorable"

    @property
    def label(self) -> str:
        return {"favorable": "Favorable", "reserve": "Réservé", "defavorable": "Défavorable"}[self.value]


ACCEPTED_OUTCOMES = Outcome.ACCEPTED


class ComplementReason(enum.StrEnum):
    INCORRECT = "incorrect"
    INCOMPLET = "incomplet"
    OBSOLETE = "obsolete"

    @property
    def label(self) -> str:
        return {"incorrect": "Incorrect", "incomplet": "Incomplet", "obsolete": "Obsolète"}[self.value]


class Category(enum.StrEnum):
    T2 = "T2"
    T3 = "T3"
    T5 = "T5"

    @property
    def label(self) -> str:
        return {"T2": "T2 — personnel", "T3": "T3 — fonctionnement", "T5": "T5 — investissement"}[self.value]


class Financer(enum.StrEnum):
    FTAP = "ftap"
    PORTEUR = "porteur"
    CO_PORTEUR = "co_porteur"

    @property
    def label(self) -> str:
        return {"ftap": "Fonds (FTAP)", "porteur": "Porteur", "co_porteur": "Co-porteur"}[self.value]


class Phase(enum.StrEnum):
    CADRAGE = "cadrage"
    EXPERIMENTATION = "experimentation"
    GENERALISATION = "generalisation"

    @property
    def label(self) -> str:
        return {
            "cadrage": "Cadrage",
            "experimentation": "Expérimentation / POC / lot 1",
            "generalisation": "Généralisation / lot 2",
        }[self.value]


class ReferentRole(enum.StrEnum):
    PROJET = "projet"
    BUDGET = "budget"
    COMMUNICATION = "communication"

    @property
    def label(self) -> str:
        return {
            "projet": "Référent projet",
            "budget": "Référent budget",
            "communication": "Référent communication",
        }[self.value]


class SignatorySide(enum.StrEnum):
    """The two parties of the contract: « conclu entre [le porteur et ses co-porteurs] d'une part, et [la
    DITP, la direction du budget…] d'autre part » ([000] preamble, [001] preamble)."""

    PORTEUR = "porteur"
    FONDS = "fonds"

    @property
    def label(self) -> str:
        return {"porteur": "Porteur (d'une part)", "fonds": "Fonds (d'autre part)"}[self.value]


def _in(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Dossier(db.Model):
    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(DossierState)})", name="state_known"),
        CheckConstraint(f"avis IS NULL OR avis IN ({_in(Avis)})", name="avis_known"),
        CheckConstraint(f"state NOT IN ({_in(AVIS_STATES)}) OR avis IS NOT NULL", name="instruit_has_avis"),
        CheckConstraint(
            f"decision_outcome IS NULL OR decision_outcome IN ({_in(Outcome.FOR_DOSSIERS)})",
            name="outcome_known",
        ),
        CheckConstraint(
            f"state NOT IN ({_in(DECIDED_STATES)}) OR decision_outcome IS NOT NULL",
            name="decided_has_outcome",
        ),
        CheckConstraint(
            f"state NOT IN ({_in(REASON_REQUIRED)}) OR state_reason IS NOT NULL", name="classement_has_reason"
        ),
        CheckConstraint(
            f"state IN ({_in(sorted(UNSUBMITTED))}) OR submitted_at IS NOT NULL", name="submitted_has_date"
        ),
        CheckConstraint("start_year BETWEEN 2000 AND 2100", name="start_year_plausible"),
        CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="dates_ordered"),
        Index("ix_dossiers_guichet_state", "guichet_id", "state"),
        Index("ix_dossiers_submitted_at", "submitted_at", "id"),  # the instruction list's order
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guichet_id: Mapped[int] = mapped_column(ForeignKey("guichets.id"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id"), index=True)
    # A dossier may name its chantier directly (a chantier's page also counts those of its opportunities).
    chantier_id: Mapped[int | None] = mapped_column(ForeignKey("chantiers.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    porteur_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(32), default=DossierState.BROUILLON)
    state_reason: Mapped[str | None] = mapped_column(Text)
    start_year: Mapped[int] = mapped_column()
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    # §1, §2, §4.1.1, §5.3 of the contract
    enjeu: Mapped[str] = mapped_column(Text, default="", server_default="")
    solution: Mapped[str] = mapped_column(Text, default="", server_default="")
    impact_indirect: Mapped[str] = mapped_column(Text, default="", server_default="")
    gouvernance: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The porteur's reason for asking the ROI derogation ([004] §3: « à titre exceptionnel »).
    roi_derogation: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Annex of budget nomenclatures ([000] §3 and annex, [004] annex): set by the fund's secretariat, which
    # may change it without an avenant ([000] §8).
    bop_uo: Mapped[str] = mapped_column(String(120), default="", server_default="")
    domaine_fonctionnel: Mapped[str] = mapped_column(String(120), default="", server_default="")
    activite_chorus: Mapped[str] = mapped_column(String(120), default="", server_default="")
    designation_chorus: Mapped[str] = mapped_column(String(200), default="", server_default="")
    centre_cout: Mapped[str] = mapped_column(String(120), default="", server_default="")
    avis: Mapped[str | None] = mapped_column(String(16))
    avis_motivation: Mapped[str | None] = mapped_column(Text)
    avis_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    avis_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_outcome: Mapped[str | None] = mapped_column(String(32))
    # the decision in force and the meeting whose agenda holds the dossier (use_alter: decisions → items → us)
    decision_id: Mapped[int | None] = mapped_column(
        ForeignKey("decisions.id", ondelete="SET NULL", use_alter=True)
    )
    agenda_meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("committee_sessions.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic lock of the life cycle: every UPDATE of the row checks the version it read, and a change of
    # a LIFECYCLE_COLUMNS value bumps it (_bump_lifecycle_version below). Two concurrent deposits, decisions
    # or contract steps: the second fails (StaleDataError, a French 409), never a second transition. Saving
    # a section does not bump it: sections carry their own versions (DossierSection), so two co-porteurs
    # saving two different sections at once do not conflict.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    guichet = relationship("Guichet", lazy="joined")
    opportunity = relationship("Opportunity", lazy="joined")
    chantier = relationship("Chantier")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="joined")
    avis_by = relationship("User", foreign_keys=[avis_by_id])
    porteur_organisation = relationship("Organisation", lazy="joined")
    referents: Mapped[list["DossierReferent"]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="DossierReferent.id"
    )
    beneficiaries: Mapped[list["DossierBeneficiary"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierBeneficiary.position"
    )
    indicators: Mapped[list["DossierIndicator"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierIndicator.position"
    )
    signatories: Mapped[list["DossierSignatory"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierSignatory.position"
    )
    revenue_lines: Mapped[list["RevenueLine"]] = relationship(
        cascade="all, delete-orphan", order_by="RevenueLine.position"
    )
    financing_lines: Mapped[list["FinancingLine"]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="FinancingLine.position"
    )
    savings_lines: Mapped[list["SavingsLine"]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="SavingsLine.position"
    )
    staff_savings: Mapped[list["StaffSaving"]] = relationship(
        cascade="all, delete-orphan", order_by="StaffSaving.id"
    )
    jalons: Mapped[list["Jalon"]] = relationship(cascade="all, delete-orphan", order_by="Jalon.number")
    declarations: Mapped[list["DossierDeclaration"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierDeclaration.rule_id"
    )
    assessments: Mapped[list["DossierAssessment"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierAssessment.rule_id"
    )
    endorsements: Mapped[list["DossierEndorsement"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierEndorsement.id"
    )
    attachments: Mapped[list["DossierAttachment"]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="DossierAttachment.id"
    )
    sections: Mapped[list["DossierSection"]] = relationship(cascade="all, delete-orphan")
    transitions: Mapped[list["DossierTransition"]] = relationship(
        cascade="all, delete-orphan", order_by="DossierTransition.id"
    )
    complement_requests: Mapped[list["ComplementRequest"]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="ComplementRequest.id"
    )
    # read-only: services.contracts writes contracts; loaded (joined) only by the pages of one dossier
    contract = relationship("Contract", uselist=False, viewonly=True, lazy="select")
    # read-only: the compléments asked and not answered yet (one at most: new ones are asked only once the
    # dossier is deposited again), joined with the dossier on its pages; services.dossiers expires it when it
    # asks or answers one
    open_complement_requests: Mapped[list["ComplementRequest"]] = relationship(
        primaryjoin="and_(ComplementRequest.dossier_id == Dossier.id, "
        "ComplementRequest.answered_at.is_(None))",
        viewonly=True,
        order_by="ComplementRequest.id",
    )
    # whether the user who loaded it follows it (queries.dossiers.by_id computes it in the dossier's
    # statement; None when loaded otherwise: services.dossiers.is_followed then reads the follow)
    followed_by_reader: Mapped[bool | None] = query_expression()
    # read-only: its proposal to a committee still to examine (at most one: services.proposals.propose reuses
    # it), joined with the dossier on its page (services.proposals.open_proposal) instead of a statement
    open_agenda_proposals = relationship(
        "AgendaProposal",
        primaryjoin="and_(AgendaProposal.dossier_id == Dossier.id, AgendaProposal.state == 'ouverte', "
        "AgendaProposal.kind == 'dossier')",
        viewonly=True,
        order_by="AgendaProposal.id",
    )

    @property
    def reference(self) -> str:
        return self.reference_of(self.id)

    @staticmethod
    def reference_of(dossier_id: int) -> str:
        return f"D{dossier_id:04d}"

    @property
    def state_enum(self) -> DossierState:
        return DossierState(self.state)

    @property
    def avis_enum(self) -> Avis | None:
        return Avis(self.avis) if self.avis else None

    @property
    def outcome_enum(self) -> Outcome | None:
        return Outcome(self.decision_outcome) if self.decision_outcome else None

    @property
    def years(self) -> list[int]:
        return list(range(self.start_year, self.start_year + YEARS))

    @property
    def savings_years(self) -> list[int]:
        return list(range(self.start_year, self.start_year + SAVINGS_YEARS))

    @property
    def open_request(self) -> "ComplementRequest | None":
        if self.state == DossierState.BROUILLON:  # never deposited (no state leads back to it): none asked
            return None
        return self.open_complement_requests[-1] if self.open_complement_requests else None

    def grid(self) -> list[tuple]:
        """The selection grid: (criterion rule, its assessment or None) for each criterion of the guichet."""
        by_rule = {a.rule_id: a for a in self.assessments}
        return [(r, by_rule.get(r.id)) for r in self.guichet.rules if r.kind == "criterion"]

    @property
    def needs_endorsement(self) -> bool:
        """France Relance dossiers go through the porteur ministry's DNUM before instruction ([003] §1)."""
        return bool(self.guichet and self.guichet.is_france_relance)

    @property
    def endorsement(self) -> "DossierEndorsement | None":
        return self.endorsements[-1] if self.endorsements else None

    @property
    def awaits_endorsement(self) -> bool:
        """Deposited, to be endorsed by the DNUM before the instructeurs may act."""
        if not self.needs_endorsement or self.state == DossierState.BROUILLON:
            return False  # told by the guichet and the state (loaded with the dossier): no endorsement read
        latest = self.endorsement
        return latest is None or latest.decision != EndorsementDecision.VISE

    def section_version(self, key: str) -> int:
        return next((s.version for s in self.sections if s.key == key), 0)

    def allowed_transitions(self) -> list[DossierState]:
        return sorted(TRANSITIONS[self.state_enum], key=list(DossierState).index)

    def __str__(self) -> str:
        return f"{self.reference} — {self.title}"


class DossierSection(db.Model):
    """Version of each separately saved section (optimistic locking between co-porteurs)."""

    __tablename__ = "dossier_sections"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    updated_by = relationship("User", lazy="joined")


class DossierReferent(db.Model):
    """A named référent (project, budget, communication) of the porteur or of a co-porteur organisation."""

    __tablename__ = "dossier_referents"
    __table_args__ = (
        CheckConstraint(f"role IN ({_in(ReferentRole)})", name="role_known"),
        Index("ix_dossier_referents_email", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    is_porteur: Mapped[bool] = mapped_column(default=False)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))  # lower-case

    dossier: Mapped[Dossier] = relationship(back_populates="referents")
    organisation = relationship("Organisation", lazy="joined")

    @property
    def role_enum(self) -> ReferentRole:
        return ReferentRole(self.role)


class DossierBeneficiary(db.Model):
    __tablename__ = "dossier_beneficiaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    group_name: Mapped[str] = mapped_column(String(300))
    population: Mapped[int | None] = mapped_column()
    transformations: Mapped[str] = mapped_column(String(500), default="", server_default="")  # [000] §4.1.1


class DossierIndicator(db.Model):
    """§4.1.2: objectif, indicateur, mode de calcul, valeur actuelle, cible à T+12 mois, fréquence."""

    __tablename__ = "dossier_indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    objective: Mapped[str] = mapped_column(Text)
    indicator: Mapped[str] = mapped_column(Text)
    calculation: Mapped[str] = mapped_column(Text, default="")
    current_value: Mapped[str] = mapped_column(String(200), default="")
    target_value: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(100), default="")

    # « une cible pour chaque année » ([001] §5.2: cible fin 2019 … fin 2022), one row per year N … N+3
    targets: Mapped[list["IndicatorTarget"]] = relationship(
        cascade="all, delete-orphan", order_by="IndicatorTarget.year", lazy="selectin"
    )

    def target_for(self, year: int) -> str:
        return next((t.value for t in self.targets if t.year == year), "")


class IndicatorTarget(db.Model):
    """The target of an indicator at the end of one year, as the contract writes it (« 123 000 (25 % du
    volume total de CertDC) »: text, not only a number)."""

    __tablename__ = "dossier_indicator_targets"
    __table_args__ = (UniqueConstraint("indicator_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("dossier_indicators.id", ondelete="CASCADE"), index=True
    )
    year: Mapped[int] = mapped_column()
    value: Mapped[str] = mapped_column(String(200))


class DossierSignatory(db.Model):
    """One signatory of the contract: the party (side), the organisation and the function as the contract
    writes them, the name, the date of signature ([000] « Signatures / Dates de signature », [001] last
    page: four signatories, [004] « Le 31/07/2023 Le délégué interministériel… »)."""

    __tablename__ = "dossier_signatories"
    __table_args__ = (CheckConstraint(f"side IN ({_in(SignatorySide)})", name="side_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    side: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(300))
    function: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(200))
    signed_on: Mapped[date | None] = mapped_column(Date)

    @property
    def side_enum(self) -> SignatorySide:
        return SignatorySide(self.side)


class FinancingLine(db.Model):
    """One expense line of §2/§3 « Besoins et modalités de financement »."""

    __tablename__ = "financing_lines"
    __table_args__ = (
        CheckConstraint(f"category IN ({_in(Category)})", name="category_known"),
        CheckConstraint(f"financer IN ({_in(Financer)})", name="financer_known"),
        CheckConstraint(f"phase IN ({_in(Phase)})", name="phase_known"),
        CheckConstraint(
            "financer <> 'co_porteur' OR financer_organisation_id IS NOT NULL", name="co_porteur_named"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    nature: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(2))
    programme: Mapped[str] = mapped_column(String(16))
    financer: Mapped[str] = mapped_column(String(16))
    financer_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    phase: Mapped[str] = mapped_column(String(16))

    dossier: Mapped[Dossier] = relationship(back_populates="financing_lines")
    financer_organisation = relationship("Organisation", lazy="joined")
    amounts: Mapped[list["FinancingAmount"]] = relationship(
        cascade="all, delete-orphan", order_by="FinancingAmount.year", lazy="selectin"
    )

    @property
    def phase_label(self) -> str:
        return Phase(self.phase).label

    @property
    def financer_label(self) -> str:
        if self.financer == Financer.CO_PORTEUR and self.financer_organisation:
            return f"Co-porteur {self.financer_organisation.code}"
        if self.financer == Financer.FTAP:  # the fund of the dossier's guichet: FTAP or France Relance
            return self.dossier.guichet.fund_label if self.dossier else "FTAP"
        return Financer(self.financer).label


class FinancingAmount(db.Model):
    __tablename__ = "financing_amounts"
    __table_args__ = (
        UniqueConstraint("line_id", "year"),
        CheckConstraint("ae >= 0 AND cp >= 0", name="amounts_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("financing_lines.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    ae: Mapped[int] = mapped_column(default=0)
    cp: Mapped[int] = mapped_column(default=0)


class SavingsLine(db.Model):
    """One nature of savings (§3 « Economies prévisionnelles »); recurring savings are entered every year."""

    __tablename__ = "savings_lines"
    __table_args__ = (CheckConstraint(f"category IN ({_in(Category)})", name="category_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    nature: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(2))
    programme: Mapped[str] = mapped_column(String(16), default="")

    dossier: Mapped[Dossier] = relationship(back_populates="savings_lines")
    amounts: Mapped[list["SavingsAmount"]] = relationship(
        cascade="all, delete-orphan", order_by="SavingsAmount.year", lazy="selectin"
    )


class SavingsAmount(db.Model):
    """A year of a savings line in AE (`amount`) and CP (`cp`), the two columns of each year of [000]
    annex II and [001] §3 (« AE CP »: 638 638 1275 1275 …). The ROI counts the AE column, on the same basis
    as the fund's AE it is divided by."""

    __tablename__ = "savings_amounts"
    __table_args__ = (
        UniqueConstraint("line_id", "year"),
        CheckConstraint("amount >= 0", name="amount_positive"),
        CheckConstraint("cp >= 0", name="cp_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("savings_lines.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column(default=0)  # AE
    cp: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def ae(self) -> int:
        return self.amount


class RevenueLine(db.Model):
    """Additional revenue the project commits to generate ([000] §4 « objectifs budgétaires liés aux
    économies ou recettes qu'il s'engage à générer », §4.2.3 « Recettes supplémentaires »), by year."""

    __tablename__ = "revenue_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column()
    nature: Mapped[str] = mapped_column(String(300))
    programme: Mapped[str] = mapped_column(String(16), default="", server_default="")

    amounts: Mapped[list["RevenueAmount"]] = relationship(
        cascade="all, delete-orphan", order_by="RevenueAmount.year", lazy="selectin"
    )


class RevenueAmount(db.Model):
    __tablename__ = "revenue_amounts"
    __table_args__ = (
        UniqueConstraint("line_id", "year"),
        CheckConstraint("amount >= 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("revenue_lines.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column(default=0)


class StaffSaving(db.Model):
    """T2 helper ([000] annex II): jobs saved in a year for a category A/B/C × average cost per job."""

    __tablename__ = "staff_savings"
    __table_args__ = (
        UniqueConstraint("dossier_id", "category", "year"),
        CheckConstraint("category IN ('A', 'B', 'C')", name="category_known"),
        CheckConstraint("jobs >= 0 AND average_cost >= 0", name="values_positive"),
        CheckConstraint("redeployed >= 0 AND redeployed <= jobs", name="redeployed_within_jobs"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(1))
    year: Mapped[int] = mapped_column()
    # ETP saved (including redeployed ones); fractional, as the contracts write them (« 1,5 »).
    jobs: Mapped[Decimal] = mapped_column(Numeric(9, 2), default=0)
    average_cost: Mapped[int] = mapped_column(default=0)  # euros per ETP and year
    # « dont emplois redéployés » ([000] annex II): counted in `jobs` (« qu'ils soient effectivement
    # supprimés ou redéployés »), given « pour information »: they change no euro of the savings.
    redeployed: Mapped[Decimal] = mapped_column(Numeric(9, 2), default=0, server_default="0")


class EndorsementDecision(enum.StrEnum):
    VISE = "vise"
    REFUSE = "refuse"

    @property
    def label(self) -> str:
        return {"vise": "Visé", "refuse": "Visa refusé"}[self.value]


class DossierEndorsement(db.Model):
    """The porteur ministry's DNUM endorses (vise) a France Relance dossier before its instruction: the
    ministries' digital directorates « font naître, constituent, déposent » the dossiers and guarantee
    their execution ([003] §1). The latest row counts."""

    __tablename__ = "dossier_endorsements"
    __table_args__ = (CheckConstraint(f"decision IN ({_in(EndorsementDecision)})", name="decision_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    by = relationship("User", lazy="joined")
    organisation = relationship("Organisation", lazy="joined")

    @property
    def decision_enum(self) -> EndorsementDecision:
        return EndorsementDecision(self.decision)


GRID_SCORES = {1: "insuffisant", 2: "partiel", 3: "satisfaisant", 4: "excellent"}


class DossierAssessment(db.Model):
    """One row of the selection grid: the instructeur's score (1–4) and comment on one of the guichet's
    criteria (its CRITERION-kind rules), given with the avis and shown to the committee."""

    __tablename__ = "dossier_assessments"
    __table_args__ = (
        UniqueConstraint("dossier_id", "rule_id"),
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 4", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("guichet_rules.id", ondelete="CASCADE"), index=True)
    score: Mapped[int | None] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    rule = relationship("GuichetRule", lazy="joined")

    @property
    def score_label(self) -> str:
        return self.label_of(self.score)

    @staticmethod
    def label_of(score: int | None) -> str:
        return f"{score} — {GRID_SCORES[score]}" if score else "non noté"


class DossierDeclaration(db.Model):
    """The porteur declares that the dossier meets a guichet's DECLARATION rule (e.g. no terminal equipment
    financed on SNAP, [003] §2)."""

    __tablename__ = "dossier_declarations"
    __table_args__ = (UniqueConstraint("dossier_id", "rule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("guichet_rules.id", ondelete="CASCADE"), index=True)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Jalon(db.Model):
    """§5.2 key milestones: n°, date, description, livrables; a public procurement must be a jalon."""

    __tablename__ = "jalons"
    __table_args__ = (UniqueConstraint("dossier_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    due_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    deliverables: Mapped[str] = mapped_column(Text, default="")
    is_procurement: Mapped[bool] = mapped_column(default=False)
    # The jalon as a budget-consumption milestone ([000] §5.2: « Les jalons clés du projet doivent, autant que
    # faire se peut, être traduits en jalons de consommation budgétaires »): the credits expected consumed,
    # cumulated since the start, at the jalon's date (NULL: not translated).
    ae_planned: Mapped[int | None] = mapped_column()
    cp_planned: Mapped[int | None] = mapped_column()


class DossierAttachment(db.Model):
    """A file stored under UPLOAD_DIR (never under static/), served as an attachment to allowed users."""

    __tablename__ = "dossier_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossier_messages.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(200), default="")  # one of the guichet's required attachments
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    mimetype: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column()
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    dossier: Mapped[Dossier] = relationship(back_populates="attachments")
    uploaded_by = relationship("User", lazy="joined")


class DossierTransition(TransitionLog, db.Model):
    __tablename__ = "dossier_transitions"
    states = DossierState

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)


# When the dossier became « conventionné » (services.followup.signature_date): deferred, so that only the
# pages which show it load it, as a subquery of the dossier's own statement (not a statement of its own).
Dossier.conventionne_at = column_property(
    select(func.min(DossierTransition.created_at))
    .where(
        DossierTransition.dossier_id == Dossier.id,
        DossierTransition.to_state == DossierState.CONVENTIONNE,
    )
    .correlate_except(DossierTransition)
    .scalar_subquery(),
    deferred=True,
)


class ComplementRequest(db.Model):
    """An instructor reopens sections with a reason and a message; answered when the porteur resubmits."""

    __tablename__ = "complement_requests"
    __table_args__ = (CheckConstraint(f"reason IN ({_in(ComplementReason)})", name="reason_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    sections: Mapped[str] = mapped_column(Text)  # space-separated section keys
    reason: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    dossier: Mapped[Dossier] = relationship(back_populates="complement_requests")
    requested_by = relationship("User", lazy="joined")

    @property
    def section_keys(self) -> list[str]:
        return self.sections.split()

    @property
    def reason_enum(self) -> ComplementReason:
        return ComplementReason(self.reason)


class DossierFollow(db.Model):
    __tablename__ = "dossier_follows"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DossierAnnotation(db.Model):
    """Private note of the instruction team; never shown to porteurs."""

    __tablename__ = "dossier_annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author = relationship("User", lazy="joined")


class DossierMessage(db.Model):
    __tablename__ = "dossier_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author = relationship("User", lazy="joined")
    attachments: Mapped[list[DossierAttachment]] = relationship(
        order_by="DossierAttachment.id", lazy="selectin"
    )
    reads: Mapped[list["MessageRead"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    def read_by(self, user) -> bool:
        return user.id == self.author_id or any(r.user_id == user.id for r in self.reads)


class MessageRead(db.Model):
    __tablename__ = "dossier_message_reads"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("dossier_messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


LIFECYCLE_COLUMNS = ("state", "avis", "decision_outcome", "decision_id", "agenda_meeting_id")


@event.listens_for(Dossier, "before_update")
def _bump_lifecycle_version(_mapper, _connection, dossier: Dossier) -> None:
    state = inspect(dossier)
    if any(state.attrs[name].history.has_changes() for name in LIFECYCLE_COLUMNS):
        dossier.version = (dossier.version or 0) + 1
