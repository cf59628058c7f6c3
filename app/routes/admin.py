"""Administration by the secretariat: users, roles, activation, audit trail."""

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from ..extensions import db
from ..forms.users import AUDIT_ACTIONS, AuditFilterForm, ConfirmForm, GrantRoleForm, UserSearchForm
from ..models import AuditEntry, Committee, Guichet, Organisation, User, UserRole
from ..models.users import Role
from ..permissions import requires_role
from ..queries import audit as audit_queries
from ..services import users as service
from ..services.errors import DomainError
from .actions import perform

bp = Blueprint("admin", __name__, url_prefix="/admin")


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


@bp.get("/journal")
@requires_role(Role.SECRETARIAT)
def audit():
    known = dict(AUDIT_ACTIONS)
    for action in db.session.scalars(audit_queries.distinct_actions()):
        known.setdefault(action, action)
    form = AuditFilterForm(request.args)
    form.action.choices = list(known.items())
    action = form.action.data if form.validate() else ""
    journal = audit_queries.journal_page(action, max(request.args.get("page", 1, type=int), 1))
    return render_template(
        "admin/audit.html",
        form=form,
        journal=journal,
        entries=journal.entries,
        action=action,
        labels=known,
    )
