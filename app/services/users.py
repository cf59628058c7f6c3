"""Users and roles: the only code that writes them. Every change writes one audit entry.

Identity is (issuer, sub) with a fall-back on the e-mail (case-insensitive) that then records the new
`sub` (ProConnect gives a new `sub` when the agent comes through another identity provider,
docs/proconnect.md §5). A brand-new user gets the role `porteur`. Like every service, these functions flush
and never commit; the caller commits once.
"""

from datetime import datetime

from sqlalchemy import func, select

from ..extensions import db
from ..models import Committee, Guichet, Organisation, Role, User, UserRole
from ..models.base import utcnow
from ..models.users import COMMITTEE_FUNCTIONS
from ..queries.portfolio import Page
from . import audit
from .errors import DomainError, NotAllowed, ValidationFailed

IDENTITY_FIELDS = ("given_name", "usual_name", "siret", "uid", "idp_id", "organization_label")
LIMITS = {
    "given_name": 200,
    "usual_name": 200,
    "siret": 14,
    "uid": 255,
    "idp_id": 255,
    "organization_label": 300,
}


class LoginRefused(DomainError):
    """A verified identity that may not log in (deactivated account)."""

    status_code = 403

    def __init__(self, reason: str, message: str, user: User | None = None):
        super().__init__(message)
        self.reason = reason
        self.user = user


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def _identity_values(claims: dict) -> dict:
    values = {}
    for name in IDENTITY_FIELDS:
        value = claims.get(name)
        if value is None:
            continue
        value = str(value).strip()
        if len(value) > LIMITS[name]:  # app/oidc.py validates claims first: never cut a value to fit
            raise ValidationFailed({name: f"Valeur trop longue ({len(value)} caractères)."})
        values[name] = value if value or name in ("given_name", "usual_name") else None
    return values


# --- login ------------------------------------------------------------------------------------------


def sign_in(claims: dict, *, issuer: str, now: datetime | None = None) -> User:
    """Find or create the user of a verified ProConnect identity and record the login.

    `claims` holds at least `sub` and `email`. Raises LoginRefused for a deactivated account (the caller
    rolls back, then records the failure with `record_failed_login`).
    """
    sub = str(claims["sub"])
    email = normalize_email(claims["email"])
    user = db.session.scalar(select(User).where(User.issuer == issuer, User.sub == sub))
    matched_by = "sub"
    if user is None:
        user = find_by_email(email)
        matched_by = "email"
    if user is not None and not user.active:
        raise LoginRefused(
            "user_deactivated", "Votre compte a été désactivé. Contactez le secrétariat.", user
        )

    values = _identity_values(claims)
    if user is None:
        user = User(
            email=email,
            issuer=issuer,
            sub=sub,
            given_name=values.pop("given_name", ""),
            usual_name=values.pop("usual_name", ""),
            **values,
        )
        user.roles.append(UserRole(role=Role.PORTEUR))
        db.session.add(user)
        user.last_login_at = now or utcnow()
        audit.record(
            "user.registered",
            user,
            actor=user,
            summary=f"{email} inscrit à sa première connexion (rôle porteur)",
        )
        audit.record("user.logged_in", user, actor=user, summary=f"Connexion de {email}")
        return user

    updates = dict(values, issuer=issuer, sub=sub)
    if email != user.email and find_by_email(email) is None:
        updates["email"] = email  # the agent's address changed at the identity provider
    changes = audit.diff(user, updates)
    for name, value in updates.items():
        setattr(user, name, value)
    user.last_login_at = now or utcnow()
    summary = f"Connexion de {user.email}"
    if matched_by == "email":
        summary += " (reconnu par son adresse électronique, identifiant ProConnect enregistré)"
    audit.record("user.logged_in", user, actor=user, summary=summary, changes=changes or None)
    return user


def record_failed_login(
    reason: str, *, email: str | None = None, user: User | None = None, detail: str = ""
) -> None:
    """Audit a refused login (in its own transaction: the caller rolled back the attempt)."""
    if user is None and email:
        user = find_by_email(email)
    who = (user.email if user else normalize_email(email)) or "identité inconnue"
    summary = f"Connexion refusée ({reason}) : {who}"
    audit.record(
        "login.failed",
        user,
        actor=user,
        summary=summary,
        changes={"reason": [None, reason], "detail": [None, detail[:500]]}
        if detail
        else {"reason": [None, reason]},
    )


# --- registration and roles -------------------------------------------------------------------------


def register(email: str, *, actor, given_name: str = "", usual_name: str = "") -> tuple[User, bool]:
    """Pre-register an agent by e-mail (no role yet). Returns (user, created)."""
    email = normalize_email(email)
    if not email or "@" not in email or len(email) > 320 or " " in email:
        raise ValidationFailed({"email": f"Adresse électronique invalide : « {email} »."})
    user = find_by_email(email)
    if user is not None:
        return user, False
    user = User(email=email, given_name=given_name, usual_name=usual_name)
    db.session.add(user)
    audit.record("user.registered", user, actor=actor, summary=f"{email} pré-inscrit")
    return user, True


def _by_code(model, code: str | None, field: str, label: str):
    if not code:
        return None
    obj = db.session.scalar(select(model).where(func.upper(model.code) == code.strip().upper()))
    if obj is None:
        raise ValidationFailed({field: f"{label} inconnu : « {code} »."})
    return obj


def grant_role(
    user: User,
    role: str,
    *,
    actor,
    ministry: str | None = None,
    guichet: str | None = None,
    committee: str | None = None,
    function: str | None = None,
) -> UserRole:
    """Grant `role` with its scope: dsi → ministry, instructeur → guichet, comite → committee + function."""
    try:
        role = Role(role)
    except ValueError:
        raise ValidationFailed({"role": f"Rôle inconnu : « {role} »."}) from None
    errors = {}
    needs = {Role.DSI: "ministry", Role.INSTRUCTEUR: "guichet", Role.COMITE: "committee"}
    given = {"ministry": ministry, "guichet": guichet, "committee": committee, "function": function}
    required = needs.get(role)
    if required and not given[required]:
        errors[required] = {
            "ministry": "Indiquez le ministère de ce membre DSI.",
            "guichet": "Indiquez le guichet de cet instructeur.",
            "committee": "Indiquez le comité de ce membre.",
        }[required]
    if role == Role.COMITE and function not in COMMITTEE_FUNCTIONS:
        errors["function"] = "Choisissez la fonction au sein du comité."
    for name, value in given.items():
        allowed = {required} | ({"function"} if role == Role.COMITE else set())
        if value and name not in allowed:
            errors[name] = f"Ce champ ne s'applique pas au rôle « {role.label} »."
    if errors:
        raise ValidationFailed(errors)
    organisation = _by_code(Organisation, ministry, "ministry", "Ministère")
    guichet_obj = _by_code(Guichet, guichet, "guichet", "Guichet")
    committee_obj = _by_code(Committee, committee, "committee", "Comité")

    for existing in user.roles:
        if (
            existing.role == role
            and existing.organisation_id == getattr(organisation, "id", None)
            and existing.guichet_id == getattr(guichet_obj, "id", None)
            and existing.committee_id == getattr(committee_obj, "id", None)
        ):
            if role == Role.COMITE and existing.function != function:
                old = existing.function
                existing.function = function
                audit.record(
                    "role.granted",
                    user,
                    actor=actor,
                    summary=f"{user.email} : {existing.label}",
                    changes={"function": [old, function]},
                )
                return existing
            raise ValidationFailed({"role": f"{user.email} a déjà le rôle « {existing.label} »."})

    user_role = UserRole(
        role=role.value,
        organisation=organisation,
        guichet=guichet_obj,
        committee=committee_obj,
        function=function if role == Role.COMITE else None,
    )
    user.roles.append(user_role)
    db.session.flush()
    audit.record(
        "role.granted",
        user,
        actor=actor,
        summary=f"{user.email} : {user_role.label}",
        changes={"role": [None, user_role.label]},
    )
    return user_role


def _active_secretariat_count() -> int:
    return db.session.scalar(
        select(func.count(func.distinct(User.id)))
        .join(UserRole)
        .where(UserRole.role == Role.SECRETARIAT, User.active.is_(True))
    )


def revoke_role(user_role: UserRole, *, actor) -> None:
    user = user_role.user
    if user_role.role == Role.SECRETARIAT and user.active and _active_secretariat_count() <= 1:
        raise NotAllowed(
            "Impossible de retirer le dernier compte du secrétariat : "
            "attribuez d'abord ce rôle à quelqu'un d'autre."
        )
    label = user_role.label
    user.roles.remove(user_role)
    db.session.flush()
    audit.record(
        "role.revoked", user, actor=actor, summary=f"{user.email} : {label}", changes={"role": [label, None]}
    )


def deactivate(user: User, *, actor) -> None:
    """A deactivated user cannot log in; what they did stays attributed to them."""
    if not user.active:
        raise DomainError("Ce compte est déjà désactivé.")
    if actor is not None and user.id == actor.id:
        raise NotAllowed("Vous ne pouvez pas désactiver votre propre compte.")
    if user.has_role(Role.SECRETARIAT) and _active_secretariat_count() <= 1:
        raise NotAllowed("Impossible de désactiver le dernier compte du secrétariat.")
    user.active = False
    audit.record(
        "user.deactivated",
        user,
        actor=actor,
        summary=f"{user.email} désactivé",
        changes={"active": [True, False]},
    )


def reactivate(user: User, *, actor) -> None:
    if user.active:
        raise DomainError("Ce compte est déjà actif.")
    user.active = True
    audit.record(
        "user.reactivated",
        user,
        actor=actor,
        summary=f"{user.email} réactivé",
        changes={"active": [False, True]},
    )


# --- queries used by the admin pages ----------------------------------------------------------------


USERS_PER_PAGE = 25  # as the reminder lists: a page of rows with their roles, read at a glance


def _matching(text: str):
    query = select(User)
    text = (text or "").strip().lower()
    if text:
        pattern = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(
            func.lower(User.email).like(pattern)
            | func.lower(User.given_name).like(pattern)
            | func.lower(User.usual_name).like(pattern)
            | func.lower(func.coalesce(User.organization_label, "")).like(pattern)
        )
    return query


def search(text: str = "", *, limit: int = 200) -> list[User]:
    return list(db.session.scalars(_matching(text).order_by(User.email).limit(limit)))


def search_page(text: str = "", page: int = 1, per_page: int = USERS_PER_PAGE):
    """One page of the users matching `text`, by e-mail: 2 statements at any number of users."""
    query = _matching(text)
    total = db.session.scalar(select(func.count()).select_from(query.with_only_columns(User.id).subquery()))
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    items = db.session.scalars(query.order_by(User.email).limit(per_page).offset((page - 1) * per_page))
    return Page(list(items), total, page, per_page)
