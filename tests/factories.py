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
