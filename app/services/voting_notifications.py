"""What a MoSCoW campaign's moves tell its electors, in the app and by e-mail (through the outbox, after the
commit): its opening (with the closing date and the link to vote) and the publication of its results.

Heard from `transitions.on_applied(Campaign, …)`, so that an opening by the secretariat and an opening by
the scheduler (its date reached) tell the same people the same thing.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..formatting import format_datetime, plural
from ..models.users import Role, User, UserRole
from ..models.voting import Campaign, CampaignState, campaign_opportunities
from ..permissions import elector_ministry
from . import mail, notifications, transitions

notifications.declare_kind(
    "campaign.opened",
    "Ouverture d'une campagne de priorisation dont vous êtes électeur",
    audience="Membres DSI du collège de la campagne",
)
notifications.declare_kind(
    "campaign.results_published",
    "Publication des résultats d'une campagne de priorisation",
    audience="Membres DSI du collège de la campagne",
)


def electors(campaign: Campaign) -> list[User]:
    """The active DSI members admitted to vote in the campaign, by id."""
    users = db.session.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.DSI, User.active.is_(True))
        .distinct()
        .order_by(User.id)
    )
    return [user for user in users if elector_ministry(user, campaign)[0]]


def _scope_size(campaign: Campaign) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(campaign_opportunities)
            .where(campaign_opportunities.c.campaign_id == campaign.id)
        )
        or 0
    )


def _transitioned(campaign: Campaign, old, to: CampaignState, *, actor, reason=None) -> None:
    if to == CampaignState.OUVERTE:
        opened(campaign)
    elif to == CampaignState.PUBLIEE:
        results_published(campaign)


transitions.on_applied(Campaign, _transitioned)


def opened(campaign: Campaign) -> None:
    closes = format_datetime(campaign.closes_at)
    notifications.notify_all(
        electors(campaign),
        "campaign.opened",
        campaign,
        subject=f"Campagne de priorisation ouverte : {campaign.title} (jusqu'au {closes})",
        intro=[
            f"La campagne « {campaign.title} » est ouverte : classez chaque opportunité de son périmètre "
            "(Must, Should, Could, Won't) au nom de votre ministère.",
        ],
        details=[
            ("Clôture", closes),
            ("Opportunités à classer", plural(_scope_size(campaign), "opportunité")),
            ("Bulletins", campaign.visibility_enum.label),
        ],
        url=mail.link("voting.show", campaign_id=campaign.id),
        link_label="Voter",
    )


def results_published(campaign: Campaign) -> None:
    notifications.notify_all(
        electors(campaign),
        "campaign.results_published",
        campaign,
        subject=f"Résultats publiés : {campaign.title}",
        intro=[
            f"Les résultats de la campagne « {campaign.title} » sont publiés : classement, médianes par "
            "ministère et participation.",
        ],
        details=[("Publiés le", format_datetime(campaign.published_at))] if campaign.published_at else [],
        url=mail.link("voting.results", campaign_id=campaign.id),
        link_label="Voir les résultats",
    )
