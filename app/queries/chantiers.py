"""Chantiers of the 2018 strategy and the ministries' pages: read-only roll-ups.

Programme → chantiers → actions (app/models/chantiers.py): sections 2.1–2.4 are the four priority
programmes, 3.1–3.6 the complementary chantiers, 4 the mutualisation policy, 5 the accompaniment
(`docs/sources/002_…txt` §2–5). Annex 6.1 (MoSCoW, 56 items) is read from `data/moscow_annex.csv`; the
actions it leaves unclassified are shown with the repair notes' reading (`data/actions-notes.md` §3: the
SHOULD (1/2) page is lost, and §6.1 says sections 2–5 hold only Must and Should).
"""

import csv
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import bindparam, func, literal_column, null, or_, select, union, union_all
from sqlalchemy.orm import lazyload, load_only, selectinload

from .. import permissions
from ..extensions import db
from ..maintenance import ROOT
from ..models import (
    Action,
    AgendaItem,
    Backing,
    CampaignMinistryResult,
    CampaignParticipation,
    Chantier,
    CreditConsumption,
    Dossier,
    FinancingAmount,
    FinancingLine,
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
from ..models.dossiers import Financer
from ..models.portfolio import STATE_LABELS, BackingRole, Moscow, action_opportunities

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


@dataclass
class DossierRow:
    dossier: Dossier
    requested: int  # FTAP AE of its financing table (the figure services.dossiers.figures gives as ftap_ae)
    granted: int
    consumed: int
    savings: int


AMOUNTS = ("requested", "granted", "consumed", "savings")


def _sums(ids, by_dossier: bool):
    """(what, dossier id or NULL, sum) for each of AMOUNTS of the dossiers `ids` (a list, or a select of
    their ids): FTAP AE of the financing table, AE of the decision, AE consumed and savings reported in
    the follow-up; per dossier, or summed over all of them (then with their count)."""
    parts = [
        (FinancingLine.dossier_id, FinancingAmount.ae, "requested"),
        (Dossier.id, DecisionAmount.ae, "granted"),
        (CreditConsumption.dossier_id, CreditConsumption.ae, "consumed"),
        (SavingsReport.dossier_id, SavingsReport.amount, "savings"),
    ]
    joins = {
        "requested": lambda q: q.join_from(
            FinancingLine, FinancingAmount, FinancingAmount.line_id == FinancingLine.id
        ).where(FinancingLine.financer == Financer.FTAP),
        "granted": lambda q: q.join_from(
            Dossier, DecisionAmount, DecisionAmount.decision_id == Dossier.decision_id
        ),
    }
    selects = []
    for key, amount, what in parts:
        query = select(literal_column(f"'{what}'"), key if by_dossier else null(), func.sum(amount))
        query = joins.get(what, lambda q: q)(query).where(key.in_(ids))
        selects.append(query.group_by(key) if by_dossier else query)
    if not by_dossier:
        selects.append(
            select(literal_column("'count'"), null(), func.count(Dossier.id)).where(Dossier.id.in_(ids))
        )
    return union_all(*selects)


@cache
def _amounts_statement():
    """_sums per dossier of the `ids` bound, built once (a statement keeps its cache key)."""
    return _sums(bindparam("ids", expanding=True), by_dossier=True)


def amounts(ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    """(requested, granted, consumed, savings) of each dossier (see _sums): one statement whatever the
    number."""
    found: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for what, dossier_id, total in db.session.execute(_amounts_statement(), {"ids": list(ids)}):
            found[dossier_id][what] = int(total or 0)
    return {i: tuple(found[i].get(what, 0) for what in AMOUNTS) for i in ids}


def dossier_rows(dossiers: list[Dossier]) -> list[DossierRow]:
    figures = amounts([d.id for d in dossiers])
    return [DossierRow(d, *figures[d.id]) for d in dossiers]


def _dossiers(visible, where) -> list[Dossier]:
    """`visible`: the reader's scoped query (permissions.dossiers_visible_to)."""
    return list(db.session.scalars(visible.where(where).order_by(Dossier.id)))


class Totals:
    """Sums over `self.dossiers` (rows with requested, granted, consumed, savings)."""

    def total(self, name: str) -> int:
        return sum(getattr(row, name) or 0 for row in self.dossiers)

    @property
    def consumption_share(self) -> float | None:
        """Share of the granted AE consumed so far."""
        granted = self.total("granted")
        return self.total("consumed") / granted if granted else None


def chantiers() -> list[Chantier]:
    """Every chantier in the document's order, its programme joined: one statement."""
    return list(db.session.scalars(select(Chantier).order_by(Chantier.position)))


# The chantier page lists its first opportunities (by number) and a few codes per action, the portfolio
# list filtered by the chantier holding them all; its first dossiers, its dossiers' page paging them all.
# The counts and totals are over all of them. Ten of each: a roll-up to read at a glance (and a page of
# constant cost), the full lists one link away.
OPPORTUNITIES_SHOWN = 10
SHOWN_COLUMNS = (
    Opportunity.code,
    Opportunity.number,
    Opportunity.brique,
    Opportunity.state,
    Opportunity.priority,
)
CODES_PER_ACTION = 5
DOSSIERS_SHOWN = 10


@dataclass
class ActionCodes:
    codes: list[str]  # its first CODES_PER_ACTION opportunities' codes, by number
    count: int  # all its opportunities

    @property
    def more(self) -> int:
        return self.count - len(self.codes)


@dataclass
class ChantierDossiers(Totals):
    """One page of the dossiers a chantier draws (those the reader may see), with the totals over all."""

    chantier: Chantier
    dossiers: list[DossierRow]
    count: int
    sums: dict[str, int]
    page: int = 1
    per_page: int = DOSSIERS_SHOWN

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    def total(self, name: str) -> int:
        return self.sums.get(name, 0)

    def via(self, dossier: Dossier) -> str:
        if dossier.chantier_id == self.chantier.id:
            return "rattaché directement"
        return f"par l'opportunité {dossier.opportunity.code}" if dossier.opportunity else ""


def _linked(chantier_id: int):
    """The ids of the opportunities the chantier's actions carry."""
    return (
        select(action_opportunities.c.opportunity_id)
        .join(Action, Action.id == action_opportunities.c.action_id)
        .where(Action.chantier_id == chantier_id)
    )


def drawn_dossiers(chantier: Chantier, reader, page: int = 1) -> ChantierDossiers:
    """The dossiers named on the chantier or on one of its opportunities that `reader` may see, one page of
    them by id with their amounts, and the totals over all of them: three statements."""
    shape, values = permissions.dossier_scope(reader)
    values = values | {"chantier_id": chantier.id}
    summed, one_page = _drawn_statements(shape)
    sums = {what: int(total or 0) for what, _, total in db.session.execute(summed, values)}
    found = ChantierDossiers(chantier, [], sums.pop("count", 0), sums, per_page=DOSSIERS_SHOWN)
    found.page = min(max(1, page), found.pages)
    values |= {"limit": found.per_page, "offset": (found.page - 1) * found.per_page}
    found.dossiers = dossier_rows(list(db.session.scalars(one_page, values)))
    return found


@cache
def _drawn_statements(shape: tuple[str, ...]):
    """(the totals of the dossiers the chantier bound as `chantier_id` draws, one page of them), for a reader
    of `shape` (permissions.dossier_scope, its values bound): built once per shape. The drawn dossiers are
    a common table expression, found once for the five sums (each branch used to look for them again
    through every opportunity of the chantier: 5 × 400 index probes at the large data set)."""
    chantier_id = bindparam("chantier_id")
    drawn = select(Dossier.id).where(
        permissions.dossier_filter(shape, permissions.bound_values(shape)),
        or_(Dossier.chantier_id == chantier_id, Dossier.opportunity_id.in_(_linked(chantier_id))),
    )
    one_page = (
        select(Dossier)
        .where(Dossier.id.in_(drawn))
        .options(lazyload(Dossier.created_by))  # its rows name the porteur ministry, not the author
        .order_by(Dossier.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    listed = drawn.cte("drawn")
    return _sums(select(listed.c.id), by_dossier=False), one_page


def chantier_by_code(code: str) -> Chantier | None:
    return db.session.scalar(_chantier_by_code(), {"code": code})


# The chantier page's statements are built once, their chantier a bound parameter: building a statement, and
# the cache key SQLAlchemy computes from it on each execution, cost more than running these (a statement
# object keeps its cache key once computed).
@cache
def _chantier_by_code():
    return select(Chantier).where(Chantier.code == bindparam("code"))


@cache
def _page_statements(shown: int):
    """(its actions, its first `shown` opportunities, its opportunities by state and priority), of the
    chantier bound as `chantier_id`."""
    linked = _linked(bindparam("chantier_id"))
    # the first `shown` found on their ids and numbers alone, then read whole (sorting the chantier's
    # 400 opportunities as whole rows cost a third more)
    first = select(Opportunity.id).where(Opportunity.id.in_(linked)).order_by(Opportunity.number).limit(shown)
    return (
        select(Action).where(Action.chantier_id == bindparam("chantier_id")).order_by(Action.code),
        select(Opportunity)
        .where(Opportunity.id.in_(first.scalar_subquery()))
        .options(load_only(*SHOWN_COLUMNS))
        .order_by(Opportunity.number),
        select(Opportunity.state, Opportunity.priority, func.count())
        .where(Opportunity.id.in_(linked))
        .group_by(Opportunity.state, Opportunity.priority),
    )


@dataclass
class ChantierPage:
    chantier: Chantier
    actions: list[Action]
    opportunities: list[Opportunity]  # the first OPPORTUNITIES_SHOWN, by number
    drawn: ChantierDossiers
    opportunity_count: int = 0
    codes: dict[int, ActionCodes] = field(default_factory=dict)  # action id → its opportunities' codes
    states: dict[str, int] = field(default_factory=dict)
    priorities: dict[str, int] = field(default_factory=dict)

    @property
    def portages(self) -> list[str]:
        """The portages its actions name (the document gives them per action)."""
        return sorted({a.portage for a in self.actions if a.portage and a.portage != "-"})

    @property
    def classes(self) -> dict[str, int]:
        """Its actions by MoSCoW class (annex 6.1), the deduced reading counted as such."""
        counts: dict[str, int] = {}
        for action in self.actions:
            label = action.moscow_enum.label if action.moscow_enum else DEDUCED
            counts[label] = counts.get(label, 0) + 1
        return counts

    def codes_of(self, action: Action) -> ActionCodes:
        return self.codes.get(action.id, ActionCodes([], 0))

    @property
    def actions_with_opportunities(self) -> int:
        return sum(1 for a in self.actions if self.codes_of(a).count)


def chantier(code: str, reader) -> ChantierPage | None:
    """A chantier's roll-up: its actions and a few of their opportunities' codes, its first opportunities
    and their counts by state and priority, its first dossiers (named directly or through one of its
    opportunities) with their amounts and the totals over all. Nine statements, whatever their numbers."""
    found = chantier_by_code(code)
    if found is None:
        return None
    of_chantier = {"chantier_id": found.id}
    actions_of, first_opportunities, counts = _page_statements(OPPORTUNITIES_SHOWN)
    actions = list(db.session.scalars(actions_of, of_chantier))
    page = ChantierPage(
        chantier=found,
        actions=actions,
        opportunities=list(db.session.scalars(first_opportunities, of_chantier)),
        drawn=drawn_dossiers(found, reader),
        codes=_codes_by_action(actions),
    )
    _count_opportunities(page, counts)
    return page


def _codes_by_action(actions: list[Action]) -> dict[int, ActionCodes]:
    """Each action's first CODES_PER_ACTION opportunity codes (one limited read per action, in one UNION) and
    its number of opportunities (counted on the link table's index): two statements, the codes beyond the
    first never read. A window over all the chantier's links cost as much as the rest of its page at
    400 opportunities."""
    if not actions:
        return {}
    counted, firsts = _codes_statements(len(actions), CODES_PER_ACTION)
    ids = {f"action_{n}": action.id for n, action in enumerate(actions)}
    codes = {
        action_id: ActionCodes([], total)
        for action_id, total in db.session.execute(counted, {"ids": list(ids.values())})
    }
    for action_id, opportunity_code, _number in db.session.execute(firsts, ids):
        codes[action_id].codes.append(opportunity_code)
    return codes


@cache
def _codes_statements(actions: int, per_action: int):
    """(the count of each action's opportunities, the union of each one's first `per_action` codes) for
    `actions` actions bound as `ids` and `action_0`…: built once per number of actions."""
    link = action_opportunities.c
    firsts = [
        select(link.action_id, Opportunity.code, Opportunity.number)
        .join(Opportunity, Opportunity.id == link.opportunity_id)
        .where(link.action_id == bindparam(f"action_{n}"))
        .order_by(Opportunity.number)
        .limit(per_action)
        .subquery()
        for n in range(actions)
    ]
    counted = (
        select(link.action_id, func.count())
        .where(link.action_id.in_(bindparam("ids", expanding=True)))
        .group_by(link.action_id)
    )
    return counted, union_all(*(select(first) for first in firsts)).order_by("action_id", "number")


_PRIORITY_LABELS = {priority.value: priority.label for priority in Moscow} | {None: "Non priorisée"}


def _count_opportunities(page: ChantierPage, counts) -> None:
    """The chantier's opportunities counted by state and by priority in SQL (one statement, `counts`)."""
    for state, priority, n in db.session.execute(counts, {"chantier_id": page.chantier.id}):
        page.opportunity_count += n
        state_label = STATE_LABELS[state]
        page.states[state_label] = page.states.get(state_label, 0) + n
        label = _PRIORITY_LABELS[priority or None]
        page.priorities[label] = page.priorities.get(label, 0) + n


@dataclass
class AmountRow:
    requested: int
    granted: int
    consumed: int
    savings: int


@dataclass
class ChantierSummary(Totals):
    chantier: Chantier
    actions: int
    opportunities: int
    dossiers: list[AmountRow]


def summaries(visible) -> list[ChantierSummary]:
    """The dashboard's per-chantier view: actions, opportunities, the dossiers each draws (directly or through
    its opportunities, visible to the reader) and their amounts. Eight statements whatever the data."""
    rows = chantiers()
    actions = dict(
        db.session.execute(
            select(Action.chantier_id, func.count(Action.id)).group_by(Action.chantier_id)
        ).all()
    )
    opportunities = dict(
        db.session.execute(
            select(Action.chantier_id, func.count(action_opportunities.c.opportunity_id.distinct()))
            .join(action_opportunities, action_opportunities.c.action_id == Action.id)
            .group_by(Action.chantier_id)
        ).all()
    )
    visible_ids = visible.with_only_columns(Dossier.id)
    pairs = db.session.execute(
        union(
            select(Dossier.chantier_id, Dossier.id).where(
                Dossier.chantier_id.is_not(None), Dossier.id.in_(visible_ids)
            ),
            select(Action.chantier_id, Dossier.id)
            .join(action_opportunities, action_opportunities.c.opportunity_id == Dossier.opportunity_id)
            .join(Action, Action.id == action_opportunities.c.action_id)
            .where(Dossier.id.in_(visible_ids)),
        )
    ).all()
    figures = amounts(sorted({dossier_id for _, dossier_id in pairs}))
    by_chantier: dict[int, list[AmountRow]] = {}
    for chantier_id, dossier_id in pairs:
        by_chantier.setdefault(chantier_id, []).append(AmountRow(*figures[dossier_id]))
    return [
        ChantierSummary(
            chantier=c,
            actions=actions.get(c.id, 0),
            opportunities=opportunities.get(c.id, 0),
            dossiers=by_chantier.get(c.id, []),
        )
        for c in rows
    ]


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
