"""Read-only queries for dossiers: the instruction list (tabs, filters, search), "my dossiers", exports."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, and_, bindparam, exists, func, inspect, or_, select
from sqlalchemy.orm import defaultload, joinedload, lazyload, selectinload, undefer, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from .. import permissions
from ..extensions import db
from ..models import Dossier, Guichet, GuichetRule, Organisation, User
from ..models.dossiers import (
    ComplementRequest,
    DossierAnnotation,
    DossierAttachment,
    DossierEndorsement,
    DossierFollow,
    DossierIndicator,
    DossierMessage,
    DossierSection,
    DossierState,
    DossierTransition,
    FinancingLine,
    MessageRead,
    RevenueAmount,
    RevenueLine,
    SavingsLine,
)
from ..models.portfolio import fold
from ..models.proposals import AgendaProposal
from .portfolio import Page

S = DossierState
TABS = {
    "a_instruire": ("À instruire", sorted(S.AVIS_PENDING, key=list(S).index)),
    "suivis": ("Suivis", None),
    "complements": ("En attente de compléments", [S.COMPLEMENTS_DEMANDES]),
    "instruits": ("Instruits", sorted(S.INSTRUCTED, key=list(S).index)),
    "tous": ("Tous", None),
}
PER_PAGE = 50
# latest deposits first (ix_dossiers_submitted_at: read in this order, the page ends at its 50th dossier)
INSTRUCTION_ORDER = (Dossier.submitted_at.desc(), Dossier.id.desc())


@dataclass(frozen=True, slots=True)
class DossierRow:
    """One line of a list of dossiers, read as columns: at 50 lines a page, loading each dossier as an entity
    with its guichet (and its committee), author (and roles) and organisation cost more than the SQL and
    grew the page's time with every line. given_name, usual_name and email are the author's."""

    id: int
    title: str
    state: str
    decision_outcome: str | None
    submitted_at: datetime | None
    guichet_code: str
    organisation_code: str | None
    given_name: str
    usual_name: str
    email: str
    followed: bool = False  # by the user the list is for (the instruction list only)

    state_enum = Dossier.state_enum
    outcome_enum = Dossier.outcome_enum
    author_name = User.full_name

    @property
    def reference(self) -> str:
        return Dossier.reference_of(self.id)


def _rows(query: Select, order: tuple, limit: int, offset: int) -> list[DossierRow]:
    """One page of `query` (a filtered select of dossiers) in `order`, as lines."""
    page = query.with_only_columns(Dossier.id).order_by(*order).limit(limit).offset(offset).subquery()
    return [DossierRow(*line) for line in db.session.execute(_lines(page, order))]


def _lines(page, order: tuple, follower_id=None) -> Select:
    """The lines of the dossiers whose ids `page` (a subquery) holds, in `order` (with `follower_id`, literal
    or bound: whether that user follows each). The page's ids are chosen first, then only they are joined to
    their guichet, author and organisation: sorting every matching dossier with its joined columns to keep
    50 grew with the number of dossiers."""
    lines = (
        select(
            Dossier.id,
            Dossier.title,
            Dossier.state,
            Dossier.decision_outcome,
            Dossier.submitted_at,
            Guichet.code,
            Organisation.code,
            User.given_name,
            User.usual_name,
            User.email,
        )
        .select_from(page)
        .join(Dossier, Dossier.id == page.c.id)
        .join(Guichet, Guichet.id == Dossier.guichet_id)
        .join(User, User.id == Dossier.created_by_id)
        .outerjoin(Organisation, Organisation.id == Dossier.porteur_organisation_id)
        .order_by(*order)
    )
    if follower_id is None:
        return lines
    followed = (DossierFollow.dossier_id == Dossier.id) & (DossierFollow.user_id == follower_id)
    return lines.add_columns(DossierFollow.user_id.is_not(None)).outerjoin(DossierFollow, followed)


@dataclass
class DossierFilters:
    tab: str = "a_instruire"
    guichet: str = ""
    state: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "DossierFilters":
        tab = args.get("onglet", "a_instruire")
        state = args.get("etat", "")
        try:
            page = max(1, int(args.get("page", 1)))
        except ValueError:
            page = 1
        return cls(
            tab=tab if tab in TABS else "a_instruire",
            guichet=(args.get("guichet") or "")[:32],
            state=state if state in {s.value for s in S} else "",
            q=(args.get("q") or "")[:200],
            page=page,
        )

    def args(self, **overrides) -> dict:
        values = {"onglet": self.tab, "guichet": self.guichet, "etat": self.state, "q": self.q} | overrides
        return {k: v for k, v in values.items() if v}


# The instruction list's filters beyond the reader's scope, by the name of the value each binds.
_LIST_VALUES = ("guichet", "state", "dossier_id", "typed", "folded")


def _list_criteria(user, filters: DossierFilters, tab: str) -> tuple[tuple, dict]:
    """(the shape of the list's filter: the reader's scope shape, the tab, the filters given; its values):
    _list_filter(shape, values) is that filter, a statement built once per shape serving every reader and
    search of that shape (permissions.dossier_scope alike)."""
    scope, values = permissions.dossier_scope(user)
    values = values | {"follower_id": user.id}  # the « Suivis » tab, and the followed count of every tab
    if filters.guichet:
        values["guichet"] = filters.guichet
    if filters.state:
        values["state"] = filters.state
    term = filters.q.strip()
    if term.upper().startswith("D") and term[1:].isdigit():  # a reference: « D42 »
        values["dossier_id"] = int(term[1:])
    elif term:
        values["typed"], values["folded"] = f"%{term.lower()}%", f"%{fold(term)}%"
    given = tuple(name for name in _LIST_VALUES if name in values)
    return (scope, tab, given), values


def _list_filter(shape: tuple, values: dict):
    """The dossiers of the instruction list's tab and filters (_list_criteria), `values` literal or bound."""
    scope, tab, given = shape
    clauses = [permissions.dossier_filter(scope, values), Dossier.state != S.BROUILLON]
    if states := TABS[tab][1]:
        clauses.append(Dossier.state.in_(states))
    if tab == "suivis":
        clauses.append(_followed_ids(values["follower_id"]))
    if "guichet" in given:
        clauses.append(Dossier.guichet_id.in_(select(Guichet.id).where(Guichet.code == values["guichet"])))
    if "state" in given:
        clauses.append(Dossier.state == values["state"])
    if "dossier_id" in given:
        clauses.append(Dossier.id == values["dossier_id"])
    if "typed" in given:
        title = func.lower(Dossier.title)
        clauses.append(or_(title.like(values["typed"]), title.like(values["folded"])))
    return and_(*clauses)


def _followed_ids(follower_id):
    return Dossier.id.in_(select(DossierFollow.dossier_id).where(DossierFollow.user_id == follower_id))


def instruction_list(user, filters: DossierFilters) -> tuple[list[DossierRow], int, dict[str, int], set[int]]:
    """(dossiers of the page, total, count per tab, ids of the page's dossiers followed by the user).

    Two statements at any number of dossiers: the page's lines (each with whether the user follows it),
    and one count per state with its followed ones, from which every tab's count comes (each tab is a set
    of states, « Tous » all of them, « Suivis » the followed ones), the page's total being its tab's."""
    shape, values = _list_criteria(user, filters, filters.tab)
    lines, by_states = _instruction_statements(shape)
    values |= {"limit": PER_PAGE, "offset": (filters.page - 1) * PER_PAGE}
    items = [DossierRow(*line) for line in db.session.execute(lines, values)]
    by_state = {state: (n, followed) for state, n, followed in db.session.execute(by_states, values)}
    counts = {}
    for tab, (_label, states) in TABS.items():
        if tab == "suivis":
            counts[tab] = sum(followed for _n, followed in by_state.values())
        else:
            counts[tab] = sum(n for state, (n, _f) in by_state.items() if states is None or state in states)
    total = counts[filters.tab]
    return items, total, counts, {d.id for d in items if d.followed}


@cache
def _instruction_statements(shape: tuple) -> tuple[Select, Select]:
    """(the page's lines, the counts per state over every tab) of the instruction list for a `shape` of
    _list_criteria, built once: building these, and the cache key SQLAlchemy computes from them, cost more
    than running them. The values, the page's limit and offset are bound."""
    scope, tab, given = shape
    bound = permissions.bound_values(scope) | {name: bindparam(name) for name in ("follower_id", *given)}
    page = (
        select(Dossier.id)
        .where(_list_filter(shape, bound))
        .order_by(*INSTRUCTION_ORDER)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery()
    )
    lines = _lines(page, INSTRUCTION_ORDER, follower_id=bound["follower_id"])
    every_tab = (scope, "tous", given)
    by_states = (
        select(
            Dossier.state,
            func.count(Dossier.id),
            func.count(Dossier.id).filter(_followed_ids(bound["follower_id"])),
        )
        .where(_list_filter(every_tab, bound))
        .group_by(Dossier.state)
    )
    return lines, by_states


MY_DOSSIERS_PER_PAGE = 50


def instruction_export(user, filters: DossierFilters) -> Select:
    """Every dossier of the instruction list with the page's tab, guichet, state and search, in its order."""
    shape, values = _list_criteria(user, filters, filters.tab)
    return select(Dossier).where(_list_filter(shape, values)).order_by(*INSTRUCTION_ORDER)


def my_dossiers_query(user) -> Select:
    """The dossiers where the user is porteur or référent (drafts included), newest first."""
    return _mine(user).order_by(Dossier.id.desc())


def _mine(user) -> Select:
    """The dossiers the user reads, the secretariat's narrowed to those it carries (it reads them all)."""
    query = permissions.dossiers_visible_to(user)
    if permissions.is_secretariat(user):
        query = query.where(permissions.porteur_side_filter(user.id, user.email.lower()))
    return query


def my_dossiers(user, page: int = 1) -> Page:
    """One page of the dossiers where the user is porteur or référent (drafts included), newest first:
    2 statements at any number of dossiers."""
    query = _mine(user)
    total = db.session.scalar(
        select(func.count()).select_from(query.with_only_columns(Dossier.id).subquery())
    )
    pages = max(1, -(-total // MY_DOSSIERS_PER_PAGE))
    page = min(max(page, 1), pages)
    items = _rows(query, (Dossier.id.desc(),), MY_DOSSIERS_PER_PAGE, (page - 1) * MY_DOSSIERS_PER_PAGE)
    return Page(items, total, page, MY_DOSSIERS_PER_PAGE)


# The dossier without its sections' rows (its page's activity part): its author without the author's roles
# (which no page of one dossier reads; a lazy load if one ever does), saving the statement the User.roles
# selectin would send; its guichet with its parent and grandparent (Guichet.ancestors(), for
# permissions.is_instructor_of, the deciding committee, the rules inherited). Its history by load_collections.
ONE_DOSSIER_HEAD_OPTIONS = (
    joinedload(Dossier.created_by).lazyload(User.roles),
    joinedload(Dossier.guichet).joinedload(Guichet.parent).joinedload(Guichet.parent),
)

# A followed dossier (its follow-up page): also its contract (one row) and the day it became « conventionné »,
# in the same statement, without what only its sections show.
FOLLOWED_DOSSIER_OPTIONS = (
    *ONE_DOSSIER_HEAD_OPTIONS,
    joinedload(Dossier.contract),
    undefer(Dossier.conventionne_at),
)

# One dossier's page: also the section versions (one row per section) with the dossier.
# The declarations come joined too: at most one per DECLARATION rule of the guichet (one at most in the
# reference rules, services/guichets.py), so they add no row in practice and save their own statement; so
# do the DNUM visas of a France Relance dossier (one, or a refusal then a visa), its compléments asked and
# not answered (at most one) and its open proposal to a committee (at most one), each with its author but not
# the author's roles.
# The users who last saved a section come without their roles either. The indicators and revenue lines
# stay lazy (most routes loading one dossier never read them), their yearly targets and amounts joined
# when they load; a page showing sections reads their rows first (load_rows).
ONE_DOSSIER_OPTIONS = (
    *FOLLOWED_DOSSIER_OPTIONS,
    joinedload(Dossier.sections).joinedload(DossierSection.updated_by).lazyload(User.roles),
    joinedload(Dossier.declarations),
    joinedload(Dossier.endorsements).joinedload(DossierEndorsement.by).lazyload(User.roles),
    joinedload(Dossier.open_complement_requests)
    .joinedload(ComplementRequest.requested_by)
    .lazyload(User.roles),
    joinedload(Dossier.open_agenda_proposals).options(
        lazyload(AgendaProposal.dossier), joinedload(AgendaProposal.proposed_by).lazyload(User.roles)
    ),
    # the financing and savings tables with their yearly amounts joined (a line has one row per year), loaded
    # when read: a step page showing neither section (nor the eligibility checks) does not read them
    defaultload(Dossier.financing_lines).joinedload(FinancingLine.amounts),
    defaultload(Dossier.savings_lines).joinedload(SavingsLine.amounts),
    defaultload(Dossier.indicators).joinedload(DossierIndicator.targets),
    defaultload(Dossier.revenue_lines).joinedload(RevenueLine.amounts),
)


def by_id(user, dossier_id: int, *, sections: bool = True) -> Dossier | None:
    """The dossier if `user` may see it, with whether the user follows it (the instruction panel's button,
    for who may see one) computed in the same statement. `sections=False`: without the rows
    its sections show (the activity part of its page reads its conversation and history only)."""
    follows = permissions.instructs(user)  # who may see the follow button
    return _one_visible(user, dossier_id, "sections" if sections else "head", follows)


def followed_by_id(user, dossier_id: int) -> Dossier | None:
    """The dossier if `user` may see it, loaded for its follow-up page (FOLLOWED_DOSSIER_OPTIONS)."""
    return _one_visible(user, dossier_id, "followed", follows=False)


def _one_visible(user, dossier_id: int, loading: str, follows: bool) -> Dossier | None:
    shape, values = permissions.dossier_scope(user)
    statement = _one_dossier_statement(shape, loading, follows)
    values = values | {"dossier_id": dossier_id} | ({"follower_id": user.id} if follows else {})
    return db.session.scalars(statement, values).unique().first()


_LOADING = {
    "sections": ONE_DOSSIER_OPTIONS,
    "head": ONE_DOSSIER_HEAD_OPTIONS,
    "followed": FOLLOWED_DOSSIER_OPTIONS,
}


@cache
def _one_dossier_statement(shape: tuple[str, ...], loading: str, follows: bool) -> Select:
    """The statement reading one dossier for a reader of `shape` (permissions.dossier_scope) with what
    `loading` names, built once: a statement keeps the cache key SQLAlchemy computes from it, and building
    this one with its loader options cost more than running it (the dossier, the reader's values and the
    follower are bound)."""
    scope = permissions.dossier_filter(shape, permissions.bound_values(shape))
    query = select(Dossier).where(scope, Dossier.id == bindparam("dossier_id")).options(*_LOADING[loading])
    if follows:
        follower = DossierFollow.user_id == bindparam("follower_id")
        followed = exists().where(DossierFollow.dossier_id == Dossier.id, follower)
        query = query.options(with_expression(Dossier.followed_by_reader, followed))
    return query


# The rows each section shows (and its completeness reads), by the name of the dossier's collection.
SECTION_ROWS: dict[str, tuple[str, ...]] = {
    "porteurs": ("referents",),
    "financement": ("financing_lines",),
    "beneficiaires": ("beneficiaries",),
    "indicateurs": ("indicators",),
    "economies": ("savings_lines", "staff_savings", "revenue_lines", "financing_lines"),  # and its ROI
    "jalons": ("jalons",),
    "signataires": ("signatories",),
    "pieces": ("attachments",),
}
# What comes joined with a collection's rows: their yearly amounts and targets; a file's uploader without
# the uploader's roles.
_JOINED_WITH_ROWS = {
    "financing_lines": joinedload(FinancingLine.amounts),
    "savings_lines": joinedload(SavingsLine.amounts),
    "indicators": joinedload(DossierIndicator.targets),
    "revenue_lines": joinedload(RevenueLine.amounts),
    "attachments": joinedload(DossierAttachment.uploaded_by).lazyload(User.roles),
    "transitions": joinedload(DossierTransition.actor).lazyload(User.roles),
}


def load_rows(dossier: Dossier, section_keys=None) -> None:
    """Read the rows of `section_keys` (every section: None) and the guichet's rules before a page shows them
    (load_collections)."""
    keys = SECTION_ROWS if section_keys is None else section_keys
    load_collections(dossier, (name for key in keys for name in SECTION_ROWS.get(key, ())))
    if "rules" in inspect(dossier.guichet).unloaded:
        rules = db.session.scalars(_rules_statement(), {"guichet_id": dossier.guichet_id})
        set_committed_value(dossier.guichet, "rules", list(rules))


@cache
def _rules_statement() -> Select:
    """The rules of the guichet bound as `guichet_id`, in their order: built once (as _rows_statement)."""
    of_guichet = GuichetRule.guichet_id == bindparam("guichet_id")
    return select(GuichetRule).where(of_guichet).order_by(GuichetRule.position)


def load_collections(dossier: Dossier, names) -> None:
    """Read the dossier's collections `names` not loaded yet, one plain statement each (what comes with their
    rows joined). Left to lazy loading, each load would carry the loader options of the statement that read
    the dossier (ONE_DOSSIER_OPTIONS), and SQLAlchemy builds the cache key of all of them on every load: that
    cost the dossier page more than its statements (a third of its time)."""
    unloaded = inspect(dossier).unloaded
    for name in dict.fromkeys(names):
        if name in unloaded:
            set_committed_value(dossier, name, _rows_of(dossier, name))


def _rows_of(dossier: Dossier, name: str) -> list:
    return list(db.session.scalars(_rows_statement(name), {"dossier_id": dossier.id}).unique())


@cache
def _rows_statement(name: str) -> Select:
    """The statement reading one collection's rows, built once per process: a statement keeps the cache key
    SQLAlchemy computes on its first execution, so the page's eleven reads no longer rebuild theirs (with
    their loader options) on every view."""
    relationship = getattr(Dossier, name).property
    entity = relationship.mapper.class_
    statement = select(entity).where(entity.dossier_id == bindparam("dossier_id"))
    statement = statement.order_by(*relationship.order_by)
    if name in _JOINED_WITH_ROWS:
        statement = statement.options(_JOINED_WITH_ROWS[name])
    return statement


def unread_count(dossier: Dossier, user) -> int:
    read = select(MessageRead.message_id).where(MessageRead.user_id == user.id)
    return (
        db.session.scalar(
            select(func.count(DossierMessage.id)).where(
                DossierMessage.dossier_id == dossier.id,
                DossierMessage.author_id != user.id,
                DossierMessage.id.not_in(read),
            )
        )
        or 0
    )


def annotations(dossier: Dossier) -> list[DossierAnnotation]:
    """The private annotations, their authors joined without their roles."""
    return list(
        db.session.scalars(
            select(DossierAnnotation)
            .where(DossierAnnotation.dossier_id == dossier.id)
            .order_by(DossierAnnotation.id)
            .options(joinedload(DossierAnnotation.author).lazyload(User.roles))
        )
    )


def messages(dossier: Dossier) -> list[DossierMessage]:
    """The conversation, its authors joined without their roles (the page prints their names only), its
    files without who uploaded them."""
    return list(
        db.session.scalars(
            select(DossierMessage)
            .where(DossierMessage.dossier_id == dossier.id)
            .order_by(DossierMessage.id)
            .options(
                joinedload(DossierMessage.author).lazyload(User.roles),
                # the files are listed by name: who uploaded them is not read
                selectinload(DossierMessage.attachments).lazyload(DossierAttachment.uploaded_by),
            )
        )
    )


# The rows services.dossiers.figures reads, loaded up front for lists of dossiers (one query per table).
FIGURES_OPTIONS = (
    selectinload(Dossier.financing_lines).selectinload(FinancingLine.amounts),
    selectinload(Dossier.savings_lines).selectinload(SavingsLine.amounts),
    selectinload(Dossier.staff_savings),
)


def revenue_totals(dossier_ids: list[int]) -> dict[int, int]:
    """Dossier id → its additional revenue over every year ([000] §4.2.3 « Recettes supplémentaires »), for
    a list of dossiers in one aggregate statement (the exports; services.dossiers.figures loads the rows
    only for the pages that show them)."""
    if not dossier_ids:
        return {}
    rows = db.session.execute(
        select(RevenueLine.dossier_id, func.sum(RevenueAmount.amount))
        .join(RevenueAmount, RevenueAmount.line_id == RevenueLine.id)
        .where(RevenueLine.dossier_id.in_(dossier_ids))
        .group_by(RevenueLine.dossier_id)
    )
    return {dossier_id: int(total or 0) for dossier_id, total in rows}


def guichet_dossiers_for_export(guichet: Guichet) -> list[Dossier]:
    """Every submitted dossier of the guichet, with the rows the figures need loaded up front."""
    return list(
        db.session.scalars(
            select(Dossier)
            .where(Dossier.guichet_id == guichet.id, Dossier.state != S.BROUILLON)
            .options(*FIGURES_OPTIONS)
            .order_by(Dossier.id)
        ).unique()
    )


def guichet_tree() -> list[tuple[Guichet, int]]:
    """All guichets as (guichet, depth), depth-first in code order."""
    guichets = list(db.session.scalars(select(Guichet).order_by(Guichet.code)))
    children: dict[int | None, list[Guichet]] = {}
    for guichet in guichets:
        children.setdefault(guichet.parent_id, []).append(guichet)
    out: list[tuple[Guichet, int]] = []

    def walk(parent_id, depth):
        for guichet in children.get(parent_id, []):
            out.append((guichet, depth))
            walk(guichet.id, depth + 1)

    walk(None, 0)
    return out


def open_dossier_counts() -> dict[int, int]:
    rows = db.session.execute(
        select(Dossier.guichet_id, func.count())
        .where(Dossier.state != S.BROUILLON)
        .group_by(Dossier.guichet_id)
    )
    return dict(rows.all())
