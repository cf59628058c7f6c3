"""Chantiers of the 2018 strategy and the ministries' pages: read-only roll-ups.

A chantier is the section an action belongs to (`Action.chantier`, « 2.2 France-Cloud »): sections 2.1–2.4
are the four priority programmes, 3.1–3.6 the complementary chantiers, 5 the accompaniment
(`docs/sources/002_…txt` §2–5). Annex 6.1 (MoSCoW, 56 items) is read from `data/moscow_annex.csv`; the
actions it leaves unclassified are shown with the repair notes' reading (`data/actions-notes.md` §3: the
SHOULD (1/2) page is lost, and §6.1 says sections 2–5 hold only Must and Should).
"""

import csv
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..maintenance import ROOT
from ..models import (
    Action,
    AgendaItem,
    Backing,
    CampaignMinistryResult,
    CampaignParticipation,
    CreditConsumption,
    Dossier,
    Meeting,
    MeetingState,
    Opportunity,
    Organisation,
    Role,
    SavingsReport,
    User,
    UserRole,
)
from ..models.committees import DecisionAmount
from ..models.portfolio import BackingRole

PROGRAMMES = ("2.1", "2.2", "2.3", "2.4")
DEDUCED = "Should (classement déduit, page perdue)"


@dataclass
class AnnexItem:
    priority: str
    portage: str
    number: str
    text: str
    actions: list[str]


@cache
def annex() -> tuple[AnnexItem, ...]:
    """The 56 items of annex 6.1, as the repair notes read them."""
    with open(ROOT / "data" / "moscow_annex.csv", encoding="utf-8") as handle:
        return tuple(
            AnnexItem(
                priority=row["priority"],
                portage=row["portage_column"],
                number=row["number"],
                text=row["text"],
                actions=(row["matched_action"] or "").split(),
            )
            for row in csv.DictReader(handle)
        )


def annex_for(action_code: str) -> list[AnnexItem]:
    return [item for item in annex() if action_code in item.actions]


def code_of(chantier: str) -> str:
    return chantier.split(" ", 1)[0]


@dataclass
class ChantierRef:
    code: str
    title: str

    @property
    def kind(self) -> str:
        if self.code in PROGRAMMES:
            return "Programme prioritaire"
        return "Chantier complémentaire" if self.code.startswith("3") else "Accompagnement"


def chantiers() -> list[ChantierRef]:
    names = db.session.scalars(select(Action.chantier).distinct())
    refs = [ChantierRef(code_of(n), n.split(" ", 1)[1] if " " in n else n) for n in names]
    return sorted(refs, key=lambda r: [int(p) for p in r.code.split(".")])


@dataclass
class DossierRow:
    dossier: Dossier
    requested: int | None  # FTAP AE of its financing table: filled by the route (services.dossiers.figures)
    granted: int
    consumed: int
    savings: int


@dataclass
class ChantierPage:
    ref: ChantierRef
    actions: list[Action]
    opportunities: list[Opportunity]
    dossiers: list[DossierRow]
    states: dict[str, int] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(getattr(row, name) or 0 for row in self.dossiers)


def dossier_rows(dossiers: list[Dossier]) -> list[DossierRow]:
    """Amounts of each dossier: FTAP requested (its financing table), granted (its decision), consumed and
    savings reported in its follow-up; four statements whatever the number of dossiers."""
    ids = [d.id for d in dossiers]
    decisions = [d.decision_id for d in dossiers if d.decision_id]
    granted = dict(
        db.session.execute(
            select(DecisionAmount.decision_id, func.sum(DecisionAmount.ae))
            .where(DecisionAmount.decision_id.in_(decisions or [-1]))
            .group_by(DecisionAmount.decision_id)
        ).all()
    )
    consumed = dict(
        db.session.execute(
            select(CreditConsumption.dossier_id, func.sum(CreditConsumption.ae))
            .where(CreditConsumption.dossier_id.in_(ids or [-1]))
            .group_by(CreditConsumption.dossier_id)
        ).all()
    )
    savings = dict(
        db.session.execute(
            select(SavingsReport.dossier_id, func.sum(SavingsReport.amount))
            .where(SavingsReport.dossier_id.in_(ids or [-1]))
            .group_by(SavingsReport.dossier_id)
        ).all()
    )
    return [
        DossierRow(
            dossier=d,
            requested=None,
            granted=int(granted.get(d.decision_id, 0) or 0),
            consumed=int(consumed.get(d.id, 0) or 0),
            savings=int(savings.get(d.id, 0) or 0),
        )
        for d in dossiers
    ]


def _dossiers(visible, where) -> list[Dossier]:
    """`visible`: the reader's scoped query (permissions.dossiers_visible_to)."""
    return list(
        db.session.scalars(
            visible.where(where)
            .options(
                selectinload(Dossier.financing_lines),
                selectinload(Dossier.savings_lines),
                selectinload(Dossier.staff_savings),
            )
            .order_by(Dossier.id)
        )
    )


def chantier(code: str, visible) -> ChantierPage | None:
    ref = next((c for c in chantiers() if c.code == code), None)
    if ref is None:
        return None
    actions = list(
        db.session.scalars(
            select(Action)
            .where(Action.chantier.startswith(f"{code} "))
            .options(selectinload(Action.opportunities))
            .order_by(Action.code)
        )
    )
    by_id = {o.id: o for a in actions for o in a.opportunities}
    opportunities = sorted(by_id.values(), key=lambda o: o.number)
    dossiers = _dossiers(visible, Dossier.opportunity_id.in_(list(by_id))) if by_id else []
    page = ChantierPage(
        ref=ref, actions=actions, opportunities=opportunities, dossiers=dossier_rows(dossiers)
    )
    for o in opportunities:
        page.states[o.state_enum.label] = page.states.get(o.state_enum.label, 0) + 1
    return page


# --- ministries ----------------------------------------------------------------------------------------


@dataclass
class MinistryPage:
    organisation: Organisation
    members: list[User]
    backings: dict[BackingRole, list[Opportunity]]
    dossiers: list[DossierRow]
    participation: list[tuple]  # (campaign, electors, voters)
    medians: list[CampaignMinistryResult]
    upcoming: list[AgendaItem]


def ministry(code: str, visible) -> MinistryPage | None:
    organisation = db.session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        return None
    members = list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.DSI, UserRole.organisation_id == organisation.id)
            .order_by(User.usual_name)
        ).unique()
    )
    backings: dict[BackingRole, list[Opportunity]] = {role: [] for role in BackingRole}
    for backing in db.session.scalars(
        select(Backing)
        .where(Backing.organisation_id == organisation.id)
        .options(selectinload(Backing.opportunity))
        .order_by(Backing.id)
    ):
        backings[backing.role_enum].append(backing.opportunity)
    dossiers = _dossiers(visible, Dossier.porteur_organisation_id == organisation.id)
    participation = db.session.execute(
        select(
            CampaignParticipation.campaign_id, CampaignParticipation.electors, CampaignParticipation.voters
        )
        .where(CampaignParticipation.organisation_id == organisation.id)
        .order_by(CampaignParticipation.campaign_id)
    ).all()
    medians = list(
        db.session.scalars(
            select(CampaignMinistryResult)
            .where(CampaignMinistryResult.organisation_id == organisation.id)
            .order_by(CampaignMinistryResult.campaign_id, CampaignMinistryResult.opportunity_id)
        )
    )
    backed = select(Backing.opportunity_id).where(Backing.organisation_id == organisation.id)
    mine = select(Dossier.id).where(Dossier.porteur_organisation_id == organisation.id)
    upcoming = list(
        db.session.scalars(
            select(AgendaItem)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .where(
                Meeting.state.in_([MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE]),
                AgendaItem.opportunity_id.in_(backed) | AgendaItem.dossier_id.in_(mine),
            )
            .order_by(Meeting.starts_at, AgendaItem.position)
        )
    )
    return MinistryPage(
        organisation=organisation,
        members=members,
        backings=backings,
        dossiers=dossier_rows(dossiers),
        participation=participation,
        medians=medians,
        upcoming=upcoming,
    )
