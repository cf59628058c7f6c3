"""Administration by the secretariat: users, roles, activation, audit trail."""

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select

from ..extensions import db
from ..forms.users import AUDIT_ACTIONS, AuditFilterForm, ConfirmForm, GrantRoleForm, UserSearchForm
from ..models import AuditEntry, Committee, Guichet, Organisation, User, UserRole
from ..models.users import Role
from ..permissions import requires_role
from ..services import users as service
from ..services.errors import DomainError
from .actions import perform

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PER_PAGE = 50
# The journal counts its entries up to this many (« plus de 10 000 ») : an exact count reads the whole
# table on every view (50 000 entries: most of the page's time) while a filter is how one finds an entry.
AUDIT_COUNT_CAP = 10_000


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _choices(model) -> list[tuple[str, str]]:
    return [("", "—")] + [
        (o.code, f"{o.code} — {o.name}") for o in db.session.scalars(select(model).order_by(model.code))
    ]


def _grant_form(formdata=None) -> GrantRoleForm:
    form = GrantRoleForm(formdata=formdata)
    form.ministry.choices = _choices(Organisation)
    form.guichet.choices = _choices(Guichet)
    form.committee.choices = _choices(Committee)
    return form


def _render_user(user: User, *, form=None, error: str | None = None, status: int = 200):
    entries = db.session.scalars(
        select(AuditEntry)
        .where(
            or_(
                AuditEntry.actor_id == user.id,
                (AuditEntry.object_type == "users") & (AuditEntry.object_id == str(user.id)),
            )
        )
        .order_by(AuditEntry.id.desc())
        .limit(20)
    ).all()
    return render_template(
        "admin/user.html",
        user=user,
        form=form or _grant_form(),
        confirm=ConfirmForm(),
        entries=entries,
        error=error,
        labels=AUDIT_ACTIONS,
    ), status


@bp.get("/utilisateurs")
@requires_role(Role.SECRETARIAT)
def users():
    form = UserSearchForm(request.args)
    query = form.q.data if form.validate() else ""
    users = service.search_page(query or "", request.args.get("page", 1, type=int))
    return render_template("admin/users.html", form=form, users=users, query=query)


@bp.get("/utilisateurs/<int:user_id>")
@requires_role(Role.SECRETARIAT)
def user(user_id: int):
    return _render_user(_load_user(user_id))


@bp.post("/utilisateurs/<int:user_id>/roles")
@requires_role(Role.SECRETARIAT)
def grant(user_id: int):
    user = _load_user(user_id)
    form = _grant_form(request.form)
    if form.validate():
        labels: list[str] = []

        def run():
            user_role = service.grant_role(
                user,
                form.role.data,
                actor=current_user,
                ministry=form.ministry.data or None,
                guichet=form.guichet.data or None,
                committee=form.committee.data or None,
                function=form.function.data or None,
            )
            labels.append(user_role.label)  # read before the commit expires the row
            return user_role

        return perform(
            run,
            form=form,
            success=lambda _role: f"Rôle « {labels[0]} » attribué à {user.full_name}.",
            location=url_for(".user", user_id=user.id),
            failure=lambda _status: _render_user(user, form=form, status=422),
        )
    return _render_user(user, form=form, status=422)


def _confirmed_action(user: User, action, success: str):
    form = ConfirmForm(request.form)
    if not form.validate():
        abort(400)
    errors: list[DomainError] = []

    def run():
        try:
            return action()
        except DomainError as error:
            errors.append(error)
            raise

    return perform(
        run,
        success=success,
        location=url_for(".user", user_id=user.id),
        failure=lambda status: _render_user(user, error=errors[0].message, status=status),
    )


@bp.post("/utilisateurs/<int:user_id>/roles/<int:role_id>/retirer")
@requires_role(Role.SECRETARIAT)
def revoke(user_id: int, role_id: int):
    user = _load_user(user_id)
    user_role = db.session.get(UserRole, role_id)
    if user_role is None or user_role.user_id != user.id:
        abort(404)
    label = user_role.label
    return _confirmed_action(
        user,
        lambda: service.revoke_role(user_role, actor=current_user),
        f"Rôle « {label} » retiré à {user.full_name}.",
    )


@bp.post("/utilisateurs/<int:user_id>/desactiver")
@requires_role(Role.SECRETARIAT)
def deactivate(user_id: int):
    user = _load_user(user_id)
    return _confirmed_action(
        user,
        lambda: service.deactivate(user, actor=current_user),
        f"Le compte de {user.full_name} est désactivé : il ne peut plus se connecter.",
    )


@bp.post("/utilisateurs/<int:user_id>/reactiver")
@requires_role(Role.SECRETARIAT)
def reactivate(user_id: int):
    user = _load_user(user_id)
    return _confirmed_action(
        user,
        lambda: service.reactivate(user, actor=current_user),
        f"Le compte de {user.full_name} est réactivé.",
    )


def _bounded_count(query, cap: int) -> int:
    """How many rows `query` selects, counted up to cap + 1 (cap + 1 meaning « more than cap »)."""
    capped = query.with_only_columns(AuditEntry.id).limit(cap + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped))


def _distinct_actions():
    """The actions present in the journal, in order, by one descent of the (action, created_at) index per
    distinct action (a recursive query, on SQLite and PostgreSQL alike) instead of reading every entry:
    a few dozen index probes at 50 000 entries."""
    first = select(func.min(AuditEntry.action).label("action")).cte("actions", recursive=True)
    following = (
        select(func.min(AuditEntry.action)).where(AuditEntry.action > first.c.action).scalar_subquery()
    )
    actions = first.union_all(select(following).where(first.c.action.is_not(None)))
    return select(actions.c.action).where(actions.c.action.is_not(None)).order_by(actions.c.action)


@bp.get("/journal")
@requires_role(Role.SECRETARIAT)
def audit():
    known = dict(AUDIT_ACTIONS)
    for action in db.session.scalars(_distinct_actions()):
        known.setdefault(action, action)
    form = AuditFilterForm(request.args)
    form.action.choices = list(known.items())
    action = form.action.data if form.validate() else ""
    page = max(request.args.get("page", 1, type=int), 1)
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    counted = _bounded_count(query, AUDIT_COUNT_CAP)
    entries = db.session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PER_PAGE).limit(AUDIT_PER_PAGE + 1)
    ).all()
    more = len(entries) > AUDIT_PER_PAGE
    return render_template(
        "admin/audit.html",
        form=form,
        entries=entries[:AUDIT_PER_PAGE],
        action=action,
        page=page,
        total=counted,
        beyond=counted > AUDIT_COUNT_CAP,
        pages=None if counted > AUDIT_COUNT_CAP else max(-(-counted // AUDIT_PER_PAGE), 1),
        more=more,
        labels=known,
    )
