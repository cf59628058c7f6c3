"""make_<noun>(**kw) helpers writing through the real models (never mocks)."""

import itertools

from sqlalchemy import select

from app.extensions import db
from app.models import Opportunity, Organisation, Role, User, UserRole

_seq = itertools.count(1)


def make_user(*roles: str, email: str | None = None, ministry: str | None = None, **kw) -> User:
    n = next(_seq)
    user = User(email=(email or f"agent{n}@example.gouv.fr").lower(), given_name=kw.pop("given_name", "Agent"),
                usual_name=kw.pop("usual_name", f"Test{n}"), **kw)
    db.session.add(user)
    organisation = None
    if ministry:
        organisation = db.session.scalar(select(Organisation).where(Organisation.code == ministry))
    for role in roles or (Role.PORTEUR,):
        user.roles.append(UserRole(role=role, organisation_id=organisation.id if organisation and role == Role.DSI
                                   else None))
    db.session.commit()  # releases the test's savepoint only; the outer transaction is rolled back
    return user


def make_opportunity(brique: str = "Brique de test", besoin: str = "Besoin de test", **kw) -> Opportunity:
    from sqlalchemy import func

    number = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
    opportunity = Opportunity(number=number, code=Opportunity.code_for(number), brique=brique, besoin=besoin, **kw)
    db.session.add(opportunity)
    db.session.commit()
    return opportunity


def make_campaign(opportunities=None, *, state: str = "ouverte", visibility: str = "anonymous",
                  must_budget: int | None = None, ministries=(), title: str = "Campagne de test", **kw):
    """A MoSCoW campaign (open by default, window around now) on the given opportunities (default: 3 new ones)."""
    from datetime import timedelta

    from app.models.base import utcnow
    from app.models.voting import Campaign

    now = utcnow()
    if opportunities is None:
        opportunities = [make_opportunity(brique=f"Brique votée {i}", status="en_criblage") for i in range(3)]
    organisations = [db.session.scalar(select(Organisation).where(Organisation.code == code)) for code in ministries]
    campaign = Campaign(title=title, state=state, visibility=visibility, must_budget=must_budget,
                        opens_at=kw.pop("opens_at", now - timedelta(hours=1)),
                        closes_at=kw.pop("closes_at", now + timedelta(days=7)), **kw)
    if state != "brouillon":
        campaign.opened_at = campaign.opens_at
    campaign.opportunities = list(opportunities)
    campaign.ministries = organisations
    db.session.add(campaign)
    db.session.commit()
    return campaign


# --- committees -------------------------------------------------------------------------------------------

def make_committee_members(code: str = "CSIC-TECH", functions=("president", "secretaire", "membre", "membre",
                                                                  "invite")):
    """Give the committee `code` one new user per function; returns (committee, users in that order)."""
    from app.models import Committee

    committee = db.session.scalar(select(Committee).where(Committee.code == code))
    users = []
    for function in functions:
        user = make_user(Role.COMITE, usual_name=f"{function.capitalize()}{next(_seq)}")
        user.roles[0].committee_id = committee.id
        user.roles[0].function = function
        users.append(user)
    db.session.commit()
    return committee, users


def make_committee_session(code: str = "CSIC-TECH", *, starts_at=None, **kw):
    from datetime import UTC, datetime, timedelta

    from app.models import Committee, CommitteeSession

    committee = db.session.scalar(select(Committee).where(Committee.code == code))
    session = CommitteeSession(committee=committee, starts_at=starts_at or datetime.now(UTC) + timedelta(days=7),
                               duration_minutes=kw.pop("duration_minutes", 120), **kw)
    db.session.add(session)
    db.session.commit()
    return session
