"""The secretariat's lists as files: the users (/admin/utilisateurs, with its search) and the audit journal
(/admin/journal, with its action filter, every page of it)."""

from flask import request
from sqlalchemy import select

from ..extensions import db
from ..forms.users import AUDIT_ACTIONS, AuditFilterForm, UserSearchForm
from ..models import AuditEntry
from ..models.users import Role
from ..permissions import requires_role
from ..services import users as service
from ..tabular import EXPORT_METHODS, Column, Export, Kind, Sheet, export_response
from .admin import bp

USER_COLUMNS = [
    Column("nom", "Agent", Kind.TEXT, lambda u: u.full_name, "Prénom et nom d'usage"),
    Column("courriel", "Courriel", Kind.TEXT, lambda u: u.email, "Adresse électronique"),
    Column(
        "organisation", "Organisation", Kind.TEXT, lambda u: u.organization_label or "", "Selon ProConnect"
    ),
    Column(
        "roles", "Rôles", Kind.LONGTEXT, lambda u: "\n".join(r.label for r in u.roles), "Un rôle par ligne"
    ),
    Column(
        "derniere_connexion", "Dernière connexion", Kind.DATETIME, lambda u: u.last_login_at, "Vide : jamais"
    ),
    Column("actif", "État", Kind.TEXT, lambda u: "Actif" if u.active else "Désactivé", "Actif ou désactivé"),
]


@bp.route("/utilisateurs/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@requires_role(Role.SECRETARIAT)
def export_users(fmt: str):
    form = UserSearchForm(request.args)
    query = (form.q.data if form.validate() else "") or ""
    export = Export(
        "utilisateurs",
        "Utilisateurs de l'application",
        [Sheet("Utilisateurs", USER_COLUMNS, service.search(query))],
        filters=[("Recherche", query)] if query else [],
    )
    return export_response(export, fmt)


def _audit_columns(labels: dict) -> list[Column]:
    return [
        Column("date", "Date", Kind.DATETIME, lambda e: e.created_at, "Date de l'action"),
        Column("action", "Action", Kind.TEXT, lambda e: labels.get(e.action, e.action), "Nature de l'action"),
        Column("code_action", "Code de l'action", Kind.CODE, lambda e: e.action, "objet.action"),
        Column(
            "objet", "Objet", Kind.TEXT, lambda e: f"{e.object_type} {e.object_id}", "Type et identifiant"
        ),
        Column("resume", "Résumé", Kind.LONGTEXT, lambda e: e.summary, "Ce qui a changé"),
        Column("auteur", "Auteur", Kind.TEXT, lambda e: e.actor.full_name if e.actor else "système", "Qui"),
    ]


@bp.route("/journal/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@requires_role(Role.SECRETARIAT)
def export_audit(fmt: str):
    labels = dict(AUDIT_ACTIONS)
    form = AuditFilterForm(request.args)
    form.action.choices = [
        (a, a) for a in db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    ]
    action = form.action.data if form.validate() else ""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    entries = db.session.scalars(query.execution_options(yield_per=500))  # rows read in batches
    export = Export(
        "journal",
        "Journal des actions",
        [Sheet("Journal", _audit_columns(labels), entries)],
        filters=[("Action", labels.get(action, action))] if action else [],
    )
    return export_response(export, fmt)
