"""Read-only queries of the audit journal (the secretariat's « Journal d'audit »)."""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import defer, joinedload, lazyload

from ..extensions import db
from ..models import AuditEntry, User
from .portfolio import Page

PER_PAGE = 50
# The journal counts its entries up to this many (« plus de 10 000 ») : an exact count reads the whole
# table on every view (50 000 entries: most of the page's time) while a filter is how one finds an entry.
COUNT_CAP = 10_000
TRAIL_PER_PAGE = 20
# What a list of entries shows (admin/_entries.html): who acted, by name, not their roles; not the changes.
ENTRY_SHOWN = (joinedload(AuditEntry.actor).options(lazyload(User.roles)), defer(AuditEntry.changes))


@dataclass
class JournalPage:
    entries: list[AuditEntry]
    page: int
    counted: int  # up to COUNT_CAP + 1, which means « more than COUNT_CAP »
    more: bool  # a next page exists

    @property
    def beyond(self) -> bool:
        return self.counted > COUNT_CAP

    @property
    def pages(self) -> int | None:
        """How many pages, when the count is exact."""
        return None if self.beyond else max(-(-self.counted // PER_PAGE), 1)


def distinct_actions():
    """The actions present in the journal, in order, by one descent of the (action, created_at) index per
    distinct action (a recursive query, on SQLite and PostgreSQL alike) instead of reading every entry:
    a few dozen index probes at 50 000 entries."""
    first = select(func.min(AuditEntry.action).label("action")).cte("actions", recursive=True)
    following = (
        select(func.min(AuditEntry.action)).where(AuditEntry.action > first.c.action).scalar_subquery()
    )
    actions = first.union_all(select(following).where(first.c.action.is_not(None)))
    return select(actions.c.action).where(actions.c.action.is_not(None)).order_by(actions.c.action)


def journal_page(action: str, page: int) -> JournalPage:
    """One page of the journal, newest first, optionally of one action: a count bounded by COUNT_CAP and the
    page's rows (one more, to know whether a next page exists)."""
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    capped = query.with_only_columns(AuditEntry.id).limit(COUNT_CAP + 1).subquery()
    counted = db.session.scalar(select(func.count()).select_from(capped))
    rows = db.session.scalars(
        query.options(*ENTRY_SHOWN)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
    ).all()
    return JournalPage(list(rows[:PER_PAGE]), page, counted, len(rows) > PER_PAGE)


def trail_page(object_type: str, object_id, page: int) -> Page:
    """One page of the audit trail of one object, newest first (the trail grows without bound): its count
    and its rows, two statements built once."""
    count, rows = _trail_statements()
    about = {"object_type": object_type, "object_id": str(object_id)}
    total = db.session.scalar(count, about)
    page = min(max(page, 1), max(1, -(-total // TRAIL_PER_PAGE)))
    at = {"limit": TRAIL_PER_PAGE, "offset": (page - 1) * TRAIL_PER_PAGE}
    return Page(list(db.session.scalars(rows, about | at)), total, page, TRAIL_PER_PAGE)


@cache
def _trail_statements():
    """(count, page) of the entries of the object bound as `object_type`, `object_id`: a statement keeps the
    cache key SQLAlchemy computes from it, and building it with its loader options cost more than
    running it."""
    about = (
        AuditEntry.object_type == bindparam("object_type"),
        AuditEntry.object_id == bindparam("object_id"),
    )
    return (
        select(func.count(AuditEntry.id)).where(*about),
        select(AuditEntry)
        .where(*about)
        .options(*ENTRY_SHOWN)
        .order_by(AuditEntry.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer)),
    )
