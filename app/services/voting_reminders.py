"""The reminder kinds of the voting room, registered with the reminder engine at import.

"campaign.closing": the campaign closes in 3 days (J-3) and a DSI elector has not classed every opportunity
of its scope yet. `services/voting.py` calls `reminders.reschedule_for(campaign)` on each transition.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..formatting import format_datetime, plural
from ..models.users import Role, User, UserRole
from ..models.voting import Campaign, CampaignState, Vote, campaign_opportunities
from . import mail, reminders
from .reminders import Planned, ReminderKind
from .voting import elector_ministry

PLANNED_STATES = (CampaignState.BROUILLON, CampaignState.OUVERTE)


def electors_remaining(campaign: Campaign) -> list[tuple[User, int]]:
    """(elector, number of opportunities of the scope without their vote) for electors with some left."""
    total = db.session.scalar(
        select(func.count())
        .select_from(campaign_opportunities)
        .where(campaign_opportunities.c.campaign_id == campaign.id)
    )
    if not total:
        return []
    done = dict(
        db.session.execute(
            select(Vote.voter_id, func.count()).where(Vote.campaign_id == campaign.id).group_by(Vote.voter_id)
        )
        .tuples()
        .all()
    )
    users = db.session.scalars(
        select(User)
        .join(UserRole)
        .where(UserRole.role == Role.DSI, User.active.is_(True))
        .distinct()
        .order_by(User.id)
    ).all()
    result = []
    for user in users:
        if elector_ministry(user, campaign)[0] and done.get(user.id, 0) < total:
            result.append((user, total - done.get(user.id, 0)))
    return result


def _plan(campaign: Campaign, offset_days: int):
    if campaign.state not in PLANNED_STATES:
        return []
    due = reminders.days_before(campaign.closes_at, offset_days)
    return [Planned(user, due, campaign.closes_at) for user, _ in electors_remaining(campaign)]


def _context(campaign: Campaign, recipient, reminder, now):
    remaining = dict((u.id, n) for u, n in electors_remaining(campaign)).get(recipient.id, 0)
    return dict(
        campaign=campaign,
        remaining=remaining,
        url=mail.link("voting.show", campaign_id=campaign.id),
        summary=f"La campagne « {campaign.title} » se clôt le {format_datetime(campaign.closes_at)} ; "
        f"il vous reste {plural(remaining, 'opportunité')} à classer.",
    )


def _candidates(now):
    return db.session.scalars(
        select(Campaign).where(Campaign.state.in_(PLANNED_STATES), Campaign.closes_at > now)
    ).all()


CAMPAIGN_CLOSING = reminders.register(
    ReminderKind(
        name="campaign.closing",
        label="Clôture prochaine d'une campagne de priorisation (vote incomplet)",
        model=Campaign,
        template="campaign_closing",
        default_offset_days=3,
        offset_help="jours avant la clôture",
        plan=_plan,
        context=_context,
        deadline=lambda campaign: campaign.closes_at,
        candidates=_candidates,
        audience="Membres DSI du collège qui n'ont pas classé toutes les opportunités",
    )
)
