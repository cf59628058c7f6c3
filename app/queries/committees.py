"""Read-only queries for the committee pages, feeds and trails."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, or_, select, true
from sqlalchemy.orm import joinedload, lazyload, load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from ..models import Dossier, DossierState, Guichet, Opportunity, Role, User, UserRole
from ..models.committees import (
    AgendaItem,
    Attendance,
    Committee,
    Decision,
    ItemKind,
    ItemVote,
    Meeting,
    MeetingState,
    MeetingTransition,
    Outcome,
)
from ..models.minutes import Minutes
from ..models.register import RegisterEntry, RegisterVerification
from ..permissions import meeting_filter, meeting_scope, meetings_visible_to
from .portfolio import search_clause

LIVE_STATES = MeetingState.LIVE


def committees_with_next_meeting(user) -> list[tuple[Committee, Meeting | None, int]]:
    """Every committee with its next visible meeting and its number of members (three queries in all)."""
    committees = list(db.session.scalars(select(Committee).order_by(Committee.name)))
    now = datetime.now(UTC) - timedelta(hours=12)
    visible = (
        meetings_visible_to(user)
        .where(Meeting.starts_at >= now, Meeting.state != MeetingState.ANNULEE)
        .subquery()
    )
    first = (
        select(visible.c.committee_id, func.min(visible.c.starts_at).label("first"))
        .group_by(visible.c.committee_id)
        .subquery()
    )
    upcoming = {
        s.committee_id: s
        for s in db.session.scalars(
            select(Meeting).join(
                first,
                (first.c.committee_id == Meeting.committee_id) & (first.c.first == Meeting.starts_at),
            )
        )
    }
    counts = dict(
        db.session.execute(
            select(UserRole.committee_id, func.count(UserRole.id))
            .where(UserRole.role == Role.COMITE)
            .group_by(UserRole.committee_id)
        )
        .tuples()
        .all()
    )
    return [(c, upcoming.get(c.id), counts.get(c.id, 0)) for c in committees]


def committee_by_code(code: str) -> Committee | None:
    return db.session.scalar(
        select(Committee).where(Committee.code == code.upper()).options(selectinload(Committee.guichets))
    )


def meetings_of(committee: Committee, user) -> list[Meeting]:
    return list(
        db.session.scalars(
            meetings_visible_to(user).where(Meeting.committee_id == committee.id).order_by(Meeting.starts_at)
        )
    )


def meeting_by_id(meeting_id: int, user) -> Meeting | None:
    return _one_meeting("everything", meeting_id, user)


def meeting_page(meeting_id: int, user) -> Meeting | None:
    """The meeting with what its page shows: its history and minutes (joined), its points with their
    documents, opportunity and decisions. Not their dossiers (services.meetings.dossier_documents_of reads
    their links in one statement), votes (the live page's) or the attendance (read by the quorum box only
    while the meeting is held)."""
    meeting = _one_meeting("page", meeting_id, user)
    if meeting is None:
        return None
    held = meeting.state in MeetingState.HELD
    items = list(db.session.scalars(_page_items(held), {"meeting_id": meeting.id}).unique())
    set_committed_value(meeting, "items", items)
    if not held:  # decisions are recorded while the meeting is held (services.decisions), never before
        for item in items:
            set_committed_value(item, "decisions", [])
    return meeting


_POINT_SHOWN = (
    AgendaItem.meeting_id,
    AgendaItem.position,
    AgendaItem.kind,
    AgendaItem.title,
    AgendaItem.proposal,
    AgendaItem.opportunity_id,
    AgendaItem.dossier_id,
    AgendaItem.followup_flags,
)


@cache
def _page_items(held: bool) -> Select:
    """The meeting page's points (of the meeting bound as `meeting_id`) with their documents and opportunity,
    and once held their decisions: a plain statement built once, as queries.dossiers.load_collections reads
    a dossier's rows (a selectinload from the meeting's statement cost twice the read of its 50 points)."""
    query = select(AgendaItem).where(AgendaItem.meeting_id == bindparam("meeting_id"))
    query = query.order_by(AgendaItem.position).options(
        load_only(*_POINT_SHOWN),  # not the minutes' notes, nor who added the point and when
        joinedload(AgendaItem.documents),
        joinedload(AgendaItem.opportunity).load_only(Opportunity.code, Opportunity.priority),
    )
    return query.options(_decisions_shown()) if held else query


def _decisions_shown():
    """A point's decisions as committees/_macros.html decision_summary shows them: with their amounts, not
    their meeting, committee or author (joined by default)."""
    return selectinload(AgendaItem.decisions).options(
        lazyload(Decision.meeting),
        lazyload(Decision.committee),
        lazyload(Decision.recorded_by),
        selectinload(Decision.amounts),
    )


def meeting_minutes(meeting_id: int, user) -> Meeting | None:
    """The meeting with what its minutes show: the minutes and who reviewed and published them, the
    attendance, and each point's notes and decisions. Not the history, documents, dossiers or votes."""
    return _one_meeting("minutes", meeting_id, user)


def meeting_header(meeting_id: int, user) -> Meeting | None:
    """The meeting alone (with its committee), for a view that shows none of its rows."""
    return _one_meeting("header", meeting_id, user)


def _one_meeting(loading: str, meeting_id: int, user) -> Meeting | None:
    """The meeting `user` may read with what `loading` names (_MEETING_LOADING), None when it may not."""
    committees = meeting_scope(user)
    values = {"meeting_id": meeting_id} | ({} if committees is None else {"committees": committees})
    return db.session.scalar(_one_meeting_statement(loading, committees is None), values)


@cache
def _one_meeting_statement(loading: str, every_session: bool) -> Select:
    """Built once per loading and kind of reader (permissions.meeting_scope): a statement keeps the cache key
    SQLAlchemy computes from it, and building these, with their loader options, cost more than running
    them (the meeting and the reader's committees are bound)."""
    query = select(Meeting).where(Meeting.id == bindparam("meeting_id"))
    if not every_session:
        query = query.where(meeting_filter(bindparam("committees", expanding=True)))
    return query.options(*_MEETING_LOADING[loading]())


def _everything_loaded() -> tuple:
    """meeting_by_id: what the services read of a meeting (its items' decisions, votes and dossiers)."""
    return (
        # Few rows each, so joined to the statement that loads their parent: the transitions and the
        # minutes with the meeting, the documents with the items, the assessments with the dossiers.
        # The people shown (attendees, voters, authors) come without their own roles, which this page
        # never reads (User.roles would be one more selectin statement).
        joinedload(Meeting.transitions).joinedload(MeetingTransition.actor).lazyload(User.roles),
        joinedload(Meeting.minutes),
        selectinload(Meeting.items).joinedload(AgendaItem.documents),
        selectinload(Meeting.items).selectinload(AgendaItem.decisions).selectinload(Decision.amounts),
        selectinload(Meeting.items)
        .selectinload(AgendaItem.votes)
        .joinedload(ItemVote.user)
        .lazyload(User.roles),
        # the documents listed under each dossier item (services.meetings.dossier_documents)
        selectinload(Meeting.items)
        .selectinload(AgendaItem.dossier)
        .options(
            joinedload(Dossier.assessments),
            joinedload(Dossier.created_by).lazyload(User.roles),
            joinedload(Dossier.guichet).selectinload(Guichet.rules),
        ),
        selectinload(Meeting.attendances).options(
            joinedload(Attendance.user).lazyload(User.roles),
            joinedload(Attendance.proxy).lazyload(User.roles),
        ),
    )


def _page_loaded() -> tuple:
    """meeting_page: its history and minutes (its points: _page_items)."""
    return (
        joinedload(Meeting.transitions).joinedload(MeetingTransition.actor).lazyload(User.roles),
        joinedload(Meeting.minutes),
        lazyload(Meeting.items),
    )


def _minutes_loaded() -> tuple:
    """meeting_minutes: the minutes and their reviewers, the attendance, each point's notes and decisions."""
    return (
        joinedload(Meeting.minutes).options(
            joinedload(Minutes.reviewed_by).lazyload(User.roles),
            joinedload(Minutes.published_by).lazyload(User.roles),
        ),
        selectinload(Meeting.attendances).options(
            joinedload(Attendance.user).lazyload(User.roles),
            joinedload(Attendance.proxy).lazyload(User.roles),
        ),
        selectinload(Meeting.items).options(
            load_only(AgendaItem.position, AgendaItem.title, AgendaItem.notes, AgendaItem.meeting_id),
            lazyload(AgendaItem.opportunity),
            _decisions_shown(),
        ),
    )


_MEETING_LOADING = {
    "everything": _everything_loaded,
    "page": _page_loaded,
    "minutes": _minutes_loaded,
    "header": tuple,
}


def decision_by_id(decision_id: int, user) -> Decision | None:
    decision = db.session.get(Decision, decision_id)
    if decision is None or meeting_by_id(decision.meeting_id, user) is None:
        return None
    return decision


REGISTER_PAGE_SIZE = 50


@dataclass
class RegisterPage:
    entries: list[RegisterEntry]
    total: int
    page: int
    per_page: int = REGISTER_PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# What a line of the register page shows: the entry without its payload and the hashes it chains from, its
# decision's committee and outcome, not the decision's session nor its author with the author's roles (joined
# by default: they made the page cost twice its 50 lines).
_REGISTER_ROW = (
    load_only(
        RegisterEntry.position,
        RegisterEntry.created_at,
        RegisterEntry.event,
        RegisterEntry.decision_id,
        RegisterEntry.entry_hash,
    ),
    joinedload(RegisterEntry.decision).options(
        load_only(Decision.id, Decision.outcome, Decision.committee_id),
        joinedload(Decision.committee),
        lazyload(Decision.meeting),
        lazyload(Decision.recorded_by),
    ),
)


def register_page(page: int) -> RegisterPage:
    """One page of the register, newest first, with each entry's decision and committee: 2 statements.
    The chain numbers its entries 1…N without a gap: a page is then a range of positions, read on their
    index at any depth (an OFFSET read and dropped every newer entry: the last of 200 pages cost 1.6 × the
    first). With an entry missing (the verification names it) the page is counted from the newest instead."""
    total, highest = db.session.execute(select(func.count(), func.max(RegisterEntry.position))).one()
    page = min(max(page, 1), max(1, -(-total // REGISTER_PAGE_SIZE)))
    skipped = (page - 1) * REGISTER_PAGE_SIZE
    query = select(RegisterEntry).options(*_REGISTER_ROW).order_by(RegisterEntry.position.desc())
    query = query.limit(REGISTER_PAGE_SIZE)
    if highest == total:
        query = query.where(RegisterEntry.position <= (highest or 0) - skipped)
    else:
        query = query.offset(skipped)
    return RegisterPage(list(db.session.scalars(query).unique()), total, page)


def register_entries():
    """Every entry of the register, newest first, read in batches with its decision and committee."""
    return db.session.scalars(
        select(RegisterEntry)
        .options(joinedload(RegisterEntry.decision).joinedload(Decision.committee))
        .order_by(RegisterEntry.position.desc())
        .execution_options(yield_per=500)
    )


def latest_register_verification() -> RegisterVerification | None:
    return db.session.scalar(
        select(RegisterVerification).order_by(RegisterVerification.checked_at.desc()).limit(1)
    )


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def user_by_calendar_token(token: str) -> User | None:
    if not token or len(token) < 32:
        return None
    return db.session.scalar(select(User).where(User.calendar_token == token, User.active.is_(True)))


def calendar_meetings(*, user: User, committee: Committee | None = None) -> list[Meeting]:
    """Meetings for a feed: those of one committee the user may see, or the meetings the user attends (member
    of the committee, or on its attendance list), from one year back."""
    since = datetime.now(UTC) - timedelta(days=366)
    query = meetings_visible_to(user).where(Meeting.starts_at >= since)
    if committee is not None:
        query = query.where(Meeting.committee_id == committee.id)
    else:
        mine = [r.committee_id for r in user.roles if r.role == Role.COMITE and r.committee_id]
        attended = select(Attendance.meeting_id).where(Attendance.user_id == user.id)
        query = query.where(or_(Meeting.committee_id.in_(mine or [-1]), Meeting.id.in_(attended)))
    return list(db.session.scalars(query.order_by(Meeting.starts_at).options(selectinload(Meeting.items))))


def trail(*, opportunity_id: int | None = None, dossier_id: int | None = None, user=None) -> list[AgendaItem]:
    """Every agenda item about an opportunity or a dossier, across committees, oldest meeting first."""
    about = "opportunity" if opportunity_id is not None else "dossier"
    committees = meeting_scope(user)
    values = {"subject_id": opportunity_id if about == "opportunity" else dossier_id}
    values |= {} if committees is None else {"committees": committees}
    return list(db.session.scalars(_trail_statement(about, committees is None), values))


@cache
def _trail_statement(about: str, every_session: bool) -> Select:
    """trail's statement about an opportunity or a dossier (bound as `subject_id`), for a kind of reader
    (permissions.meeting_scope, its committees bound): built once."""
    subject = AgendaItem.opportunity_id if about == "opportunity" else AgendaItem.dossier_id
    query = select(AgendaItem).join(Meeting).where(subject == bindparam("subject_id"))
    if not every_session:
        query = query.where(meeting_filter(bindparam("committees", expanding=True)))
    return query.order_by(Meeting.starts_at, AgendaItem.position).options(
        selectinload(AgendaItem.decisions).selectinload(Decision.amounts),
        selectinload(AgendaItem.votes),
    )


# --- the agenda builder's candidates ----------------------------------------------------------------------
# The meeting page offers the opportunities and dossiers that may go on its agenda through a search: the
# first CANDIDATES_SHOWN matches and their number, one statement each, whatever the size of the data.
CANDIDATES_SHOWN = 20


@dataclass
class Candidates:
    """The first matches of a search, as (id, label), and how many matched in all."""

    rows: list[tuple[int, str]]
    total: int
    query: str = ""


def _number(query: str, letter: str) -> int | None:
    """The number of a code typed whole or without its letter and zeros: « M042 », « m42 », « 42 »."""
    found = re.fullmatch(rf"(?:{letter})?0*(\d{{1,9}})", query, flags=re.IGNORECASE)
    return int(found.group(1)) if found else None


@cache  # the same statement at every request (building it costs more than running it)
def _on_open_agendas(kind: str):
    """Ids of the opportunities or dossiers already on an agenda still to be held or decided (a point
    without its decision yet)."""
    column = AgendaItem.opportunity_id if kind == "opportunity" else AgendaItem.dossier_id
    where = [AgendaItem.kind == ItemKind.DOSSIER] if kind == "dossier" else []
    return (
        select(column)
        .join(Meeting)
        .where(column.is_not(None), Meeting.state.in_(MeetingState.LIVE), ~AgendaItem.decisions.any(), *where)
    )


def _match(query: str, code, words, keep):
    """The WHERE clause of a search: its code or its words (true without a query), or the one candidate kept
    (the choice of a form shown again); None when the query holds neither a code nor a word."""
    clauses = [c for c in (code, words) if c is not None] or ([true()] if not query else [])
    clauses += [keep] if keep is not None else []
    return or_(*clauses) if clauses else None


def _first(found, order, kept, label) -> tuple[list[tuple[int, str]], int]:
    """The first rows of `found` as (id, label), the kept one first, and the number of rows in all."""
    found = found.order_by(*([kept.desc()] if kept is not None else []), order)
    rows = db.session.execute(found.add_columns(func.count().over()).limit(CANDIDATES_SHOWN)).all()
    return [(row[0].id, label(row[0])) for row in rows], (rows[0][1] if rows else 0)


def _opportunity_label(opportunity: Opportunity) -> str:
    return f"{opportunity.code} — {opportunity.brique} ({opportunity.state_enum.label})"


def _dossier_label(dossier: Dossier) -> str:
    return f"{dossier.reference} — {dossier.title} ({dossier.state_enum.label})"


def opportunity_candidates(meeting: Meeting, query: str = "", keep: int | None = None) -> Candidates:
    """Opportunities at a stage this committee decides on, not already on one of its open agendas, matching
    `query`: their code, or words of their brique or need (the portfolio's search). `keep`: an opportunity
    listed first whatever the query, when it is a candidate (the one picked in a form shown again)."""
    query = (query or "").strip()[:200]
    stages = meeting.committee.opportunity_stages or []
    number = _number(query, "M")
    kept = Opportunity.id == keep if keep is not None else None
    code = Opportunity.number == number if number is not None else None
    match = _match(query, code, search_clause(query), kept)
    if match is None or not stages:
        return Candidates([], 0, query)
    found = (
        select(Opportunity)
        .options(load_only(Opportunity.code, Opportunity.brique, Opportunity.state))
        .where(
            Opportunity.state.in_(stages),
            Opportunity.id.not_in(_on_open_agendas("opportunity")),
            match,
        )
    )
    rows, total = _first(found, Opportunity.number, kept, _opportunity_label)
    return Candidates(rows, total, query)


def dossier_candidates(meeting: Meeting, query: str = "", keep: int | None = None) -> Candidates:
    """Dossiers instruits (or ajournés) of a guichet the committee decides on, not already on one of its open
    agendas, matching `query`: their reference (« D0042 »), or words of their title. `keep`: as for the
    opportunities."""
    query = (query or "").strip()[:200]
    number = _number(query, "D")
    words = [w for w in re.findall(r"\w+", query) if len(w) > 1][:8]
    kept = Dossier.id == keep if keep is not None else None
    match = _match(
        query,
        Dossier.id == number if number is not None else None,
        and_(*(Dossier.title.icontains(w, autoescape=True) for w in words)) if words else None,
        kept,
    )
    if match is None:
        return Candidates([], 0, query)
    found = (
        select(Dossier)
        .options(load_only(Dossier.title, Dossier.state), lazyload("*"))
        .where(
            (Dossier.state == DossierState.INSTRUIT)
            | ((Dossier.state == DossierState.DECIDE) & (Dossier.decision_outcome == Outcome.AJOURNE)),
            Dossier.id.not_in(_on_open_agendas("dossier")),
            Dossier.guichet_id.in_(meeting.committee.decided_guichet_ids()),
            match,
        )
    )
    rows, total = _first(found, Dossier.id, kept, _dossier_label)
    return Candidates(rows, total, query)
