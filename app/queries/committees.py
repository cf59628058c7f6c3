"""Read-only queries for the committee pages, feeds and trails."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import Dossier, Guichet, Role, User, UserRole
from ..models.committees import (
    AgendaItem,
    Attendance,
    Committee,
    Decision,
    ItemVote,
    Meeting,
    MeetingState,
    MeetingTransition,
)
from ..models.register import RegisterEntry, RegisterVerification
from ..permissions import meetings_visible_to

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
    return db.session.scalar(
        meetings_visible_to(user)
        .where(Meeting.id == meeting_id)
        .options(
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
    )


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


def register_page(page: int) -> RegisterPage:
    """One page of the register, newest first, with each entry's decision and committee: 2 statements."""
    total = db.session.scalar(select(func.count()).select_from(RegisterEntry))
    page = min(max(page, 1), max(1, -(-total // REGISTER_PAGE_SIZE)))
    entries = db.session.scalars(
        select(RegisterEntry)
        .options(joinedload(RegisterEntry.decision).joinedload(Decision.committee))
        .order_by(RegisterEntry.position.desc())
        .limit(REGISTER_PAGE_SIZE)
        .offset((page - 1) * REGISTER_PAGE_SIZE)
    ).unique()
    return RegisterPage(list(entries), total, page)


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
    query = select(AgendaItem).join(Meeting)
    if opportunity_id is not None:
        query = query.where(AgendaItem.opportunity_id == opportunity_id)
    else:
        query = query.where(AgendaItem.dossier_id == dossier_id)
    visible = meetings_visible_to(user).with_only_columns(Meeting.id)
    query = query.where(Meeting.id.in_(visible))
    return list(
        db.session.scalars(
            query.order_by(Meeting.starts_at, AgendaItem.position).options(
                selectinload(AgendaItem.decisions).selectinload(Decision.amounts),
                selectinload(AgendaItem.votes),
            )
        )
    )
