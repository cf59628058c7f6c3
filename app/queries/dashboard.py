"""Read-only figures and public representations shared by the dashboard, the JSON API and the exports.

One place computes each number, so the dashboard, `/api/v1/…` and the exported files always agree. The
public representations (`*_public`) carry only fields that may be published: codes, titles, states,
priorities, organisations — never an agent's name or e-mail, never a creator or actor id.
"""

from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import Select, String, cast, func, select, type_coerce
from sqlalchemy.orm import aliased, selectinload

from ..extensions import db
from ..models import Action, Backing, Guichet, Opportunity, Organisation
from ..models.portfolio import PIPELINE, STATUS_LABELS, Moscow, OpportunityStatus, action_opportunities

UNCLASSIFIED = "Non classée"


# --- portfolio figures --------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    status: str
    label: str
    at_stage: int  # opportunities whose current status is this step
    reached: int  # opportunities at this step or further along the pipeline


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(Opportunity.status, func.count()).group_by(Opportunity.status)).all()
    counts = {s.value: 0 for s in OpportunityStatus}
    counts.update({status: n for status, n in rows})
    return counts


def pipeline_funnel(counts: dict[str, int] | None = None) -> list[FunnelStep]:
    """The pipeline identifiée → lancée; `reached` counts the opportunities at this step or beyond."""
    counts = counts if counts is not None else status_counts()
    steps, remaining = [], sum(counts[s.value] for s in PIPELINE)
    for status in PIPELINE:
        steps.append(FunnelStep(status.value, status.label, counts[status.value], remaining))
        remaining -= counts[status.value]
    return steps


def side_exits(counts: dict[str, int] | None = None) -> list[FunnelStep]:
    counts = counts if counts is not None else status_counts()
    return [
        FunnelStep(s.value, s.label, counts[s.value], counts[s.value])
        for s in OpportunityStatus
        if s not in PIPELINE
    ]


@dataclass
class PriorityRow:
    value: str | None
    label: str
    opportunities: int
    actions: int


def priority_breakdown() -> list[PriorityRow]:
    """MoSCoW: opportunities by portfolio priority and strategy actions by their MoSCoW class."""
    opportunities = dict(
        db.session.execute(select(Opportunity.priority, func.count()).group_by(Opportunity.priority)).all()
    )
    actions = dict(db.session.execute(select(Action.moscow, func.count()).group_by(Action.moscow)).all())
    rows = [
        PriorityRow(m.value, m.label, opportunities.get(m.value, 0), actions.get(m.value, 0)) for m in Moscow
    ]
    rows.append(PriorityRow(None, UNCLASSIFIED, opportunities.get(None, 0), actions.get(None, 0)))
    return rows


@dataclass
class FundRow:
    fund: str
    guichets: int


def guichets_by_fund() -> list[FundRow]:
    rows = db.session.execute(
        select(Guichet.fund, func.count()).group_by(Guichet.fund).order_by(Guichet.fund)
    ).all()
    return [FundRow(fund or "Sans fonds", n) for fund, n in rows]


# --- public representations ---------------------------------------------------------------------------------

_TARGET = aliased(Opportunity)
_LABELS = {status.value: label for status, label in STATUS_LABELS.items()}
# Linked actions and backings come with each row, aggregated in SQL (portable `aggregate_strings`), so a page
# of opportunities is one query whatever its size. Unit/record separators cannot occur in codes or names.
_UNIT, _RECORD = "\x1f", "\x1e"
_ACTION_CODES = (
    select(func.aggregate_strings(Action.code, _UNIT))
    .select_from(action_opportunities)
    .join(Action, Action.id == action_opportunities.c.action_id)
    .where(action_opportunities.c.opportunity_id == Opportunity.id)
    .scalar_subquery()
)
_BACKINGS = (
    select(
        func.aggregate_strings(
            cast(Backing.id, String)
            + _UNIT
            + Organisation.code
            + _UNIT
            + Organisation.name
            + _UNIT
            + Backing.role,
            _RECORD,
        )
    )
    .select_from(Backing)
    .join(Organisation, Organisation.id == Backing.organisation_id)
    .where(Backing.opportunity_id == Opportunity.id)
    .scalar_subquery()
)


def _split_actions(text: str | None) -> list[str]:
    return sorted(text.split(_UNIT)) if text else []


def _split_backings(text: str | None) -> list[dict]:
    if not text:
        return []
    parts = sorted((p.split(_UNIT) for p in text.split(_RECORD)), key=lambda p: int(p[0]))
    return [{"ministry": code, "name": name, "role": role} for _, code, name, role in parts]


def _iso(value) -> str:
    """ISO 8601 UTC with microseconds, from the raw column value: SQLite returns its stored text (naive UTC),
    PostgreSQL an aware datetime. Skipping the UTCDateTime round trip halves the cost of a 200-row page."""
    if isinstance(value, str):
        return value.replace(" ", "T", 1) + "+00:00"
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def opportunity_public_rows(query: Select, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Public dicts for the opportunities `query` selects, in its order, in one query whatever their number.

    Core rows on the session's connection rather than ORM objects: the API serves 200 opportunities per
    request within a few times the cost of a trivial page (bench/api.py).
    """
    query = query.outerjoin(_TARGET, _TARGET.id == Opportunity.target_id).with_only_columns(
        Opportunity.code,
        Opportunity.number,
        Opportunity.brique,
        Opportunity.besoin,
        Opportunity.status,
        Opportunity.status_reason,
        Opportunity.priority,
        _TARGET.code,
        type_coerce(Opportunity.created_at, String),
        type_coerce(Opportunity.updated_at, String),
        _ACTION_CODES,
        _BACKINGS,
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [
        {
            "code": code,
            "number": number,
            "brique": brique,
            "besoin": besoin,
            "status": status,
            "status_label": _LABELS[status],
            "status_reason": reason,
            "priority": priority,
            "merged_into": target,  # fusionnée / doublon: the opportunity kept
            "actions": _split_actions(actions),
            "backings": _split_backings(backings),
            "created_at": _iso(created),
            "updated_at": _iso(updated),
        }
        for (code, number, brique, besoin, status, reason, priority, target, created, updated, actions,
             backings) in db.session.connection().execute(query).all()
    ]


def action_public(a: Action) -> dict:
    return {
        "code": a.code,
        "chantier": a.chantier,
        "title": a.title,
        "detail": a.detail,
        "portage": a.portage,
        "cost": a.cost,
        "duration": a.duration,
        "moscow": a.moscow,
        "opportunities": [o.code for o in a.opportunities],
    }


def action_options():
    return (selectinload(Action.opportunities),)


def guichet_public(g: Guichet) -> dict:
    return {
        "code": g.code,
        "name": g.name,
        "parent": g.parent.code if g.parent_id else None,
        "children": [c.code for c in g.children],
        "fund": g.fund,
        "mode": g.mode,
        "description": g.description,
        "criteria": g.criteria,
        "amounts": g.amounts,
        "source": g.source,
    }


def guichet_options():
    return (selectinload(Guichet.parent), selectinload(Guichet.children))


def all_opportunities() -> list[dict]:
    return opportunity_public_rows(select(Opportunity).order_by(Opportunity.number))


def all_actions() -> list[Action]:
    return list(db.session.scalars(select(Action).options(*action_options()).order_by(Action.id)))


def all_guichets() -> list[Guichet]:
    return list(db.session.scalars(select(Guichet).options(*guichet_options()).order_by(Guichet.id)))


# --- per-role dashboard -------------------------------------------------------------------------------------
# Sections appear as their domain's data exists and as the user's roles make them relevant.


@dataclass
class PendingAction:
    label: str
    href: str
    detail: str = ""


def sections_for(user) -> set[str]:
    roles = set(user.role_names) if user is not None and user.is_authenticated else set()
    sections = {"pipeline", "priorities", "guichets"}
    if "secretariat" in roles:
        sections |= {"exits"}
    return sections


def pending_actions(user) -> list[PendingAction]:
    """What the user is expected to do next (votes, dossiers, complements), across domains."""
    return []


def domain_figures(user, sections: set[str]) -> dict:
    """Figures of the domains built alongside (campaigns, dossiers, committees), when their data exists."""
    return {}
