"""Read-only queries for the committee pages, feeds and trails."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Role, User, UserRole
from ..models.committees import (
    AgendaItem,
    Attendance,
    Committee,
    CommitteeSession,
    Decision,
    RegisterEntry,
    SessionState,
)
from ..permissions import sessions_visible_to

LIVE_STATES = (SessionState.PLANIFIEE, SessionState.ODJ_PUBLIE, SessionState.TENUE)


def committees_with_next_session(user) -> list[tuple[Committee, CommitteeSession | None, int]]:
    """Every committee with its next visible session and its number of members (three queries in all)."""
    committees = list(db.session.scalars(select(Committee).order_by(Committee.name)))
    now = datetime.now(UTC) - timedelta(hours=12)
    visible = (
        sessions_visible_to(user)
        .where(CommitteeSession.starts_at >= now, CommitteeSession.state != SessionState.ANNULEE)
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
            select(CommitteeSession).join(
                first,
                (first.c.committee_id == CommitteeSession.committee_id)
                & (first.c.first == CommitteeSession.starts_at),
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


def sessions_of(committee: Committee, user) -> list[CommitteeSession]:
    return list(
        db.session.scalars(
            sessions_visible_to(user)
            .where(CommitteeSession.committee_id == committee.id)
            .order_by(CommitteeSession.starts_at)
        )
    )


def session_by_id(session_id: int, user) -> CommitteeSession | None:
    return db.session.scalar(
        sessions_visible_to(user)
        .where(CommitteeSession.id == session_id)
        .options(
            selectinload(CommitteeSession.items).selectinload(AgendaItem.documents),
            selectinload(CommitteeSession.items)
            .selectinload(AgendaItem.decisions)
            .selectinload(Decision.amounts),
            selectinload(CommitteeSession.items).selectinload(AgendaItem.votes),
            selectinload(CommitteeSession.attendances),
            selectinload(CommitteeSession.transitions),
        )
    )


def decision_by_id(decision_id: int, user) -> Decision | None:
    decision = db.session.get(Decision, decision_id)
    if decision is None or session_by_id(decision.session_id, user) is None:
        return None
    return decision


def register_entries(limit: int = 500) -> list[RegisterEntry]:
    return list(
        db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position.desc()).limit(limit))
    )


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))


def user_by_calendar_token(token: str) -> User | None:
    if not token or len(token) < 32:
        return None
    return db.session.scalar(select(User).where(User.calendar_token == token, User.active.is_(True)))


def calendar_sessions(*, user: User, committee: Committee | None = None) -> list[CommitteeSession]:
    """Sessions for a feed: those of one committee the user may see, or the sessions the user attends (member
    of the committee, or on its attendance list), from one year back."""
    since = datetime.now(UTC) - timedelta(days=366)
    query = sessions_visible_to(user).where(CommitteeSession.starts_at >= since)
    if committee is not None:
        query = query.where(CommitteeSession.committee_id == committee.id)
    else:
        mine = [r.committee_id for r in user.roles if r.role == Role.COMITE and r.committee_id]
        attended = select(Attendance.session_id).where(Attendance.user_id == user.id)
        query = query.where(
            or_(CommitteeSession.committee_id.in_(mine or [-1]), CommitteeSession.id.in_(attended))
        )
    return list(db.session.scalars(query.order_by(CommitteeSession.starts_at)))


def trail(*, opportunity_id: int | None = None, dossier_id: int | None = None, user=None) -> list[AgendaItem]:
    """Every agenda item about an opportunity or a dossier, across committees, oldest session first."""
    query = select(AgendaItem).join(CommitteeSession)
    if opportunity_id is not None:
        query = query.where(AgendaItem.opportunity_id == opportunity_id)
    else:
        query = query.where(AgendaItem.dossier_id == dossier_id)
    visible = sessions_visible_to(user).with_only_columns(CommitteeSession.id)
    query = query.where(CommitteeSession.id.in_(visible))
    return list(
        db.session.scalars(
            query.order_by(CommitteeSession.starts_at, AgendaItem.position).options(
                selectinload(AgendaItem.decisions).selectinload(Decision.amounts),
                selectinload(AgendaItem.votes),
            )
        )
    )
