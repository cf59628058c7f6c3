"""The decision register: its page, paginated, with the latest verification of its hash chain, and the
secretariat's « Vérifier maintenant » (URL /comites/registre)."""

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from .. import permissions
from ..htmx import render
from ..queries import committees as queries
from ..services import register as service
from ..tabular import EXPORT_METHODS, Column, Export, Kind, Sheet, export_response
from .actions import perform

# Nested in the committees blueprint (app/routes/__init__.py): endpoint committees.register.index.
bp = Blueprint("register", __name__, url_prefix="/registre")


@bp.get("")
@permissions.authenticated
def index():
    if not permissions.can_view_register(current_user):
        abort(403)
    return render(
        "register/index.html",
        register=queries.register_page(request.args.get("page", 1, type=int)),
        verification=queries.latest_register_verification(),
    )


@bp.post("/verifier")
@permissions.authenticated
def verify():
    if not permissions.can_verify_register(current_user):
        abort(403)
    return perform(
        lambda: service.record_verification(trigger="manual", actor=current_user),
        success=lambda row: (
            "Registre vérifié : intègre." if row.ok else "Registre vérifié : il a été altéré."
        ),
        location=url_for(".index"),
    )


EVENTS = {"recorded": "Décision", "amended": "Modification", "rectified": "Rectification"}
COLUMNS = [
    Column("numero", "N°", Kind.INTEGER, lambda e: e.position, "Position dans le registre"),
    Column("date", "Date", Kind.DATETIME, lambda e: e.created_at, "Date de l'inscription"),
    Column("evenement", "Événement", Kind.TEXT, lambda e: EVENTS.get(e.event, e.event), "Nature de l'entrée"),
    Column("decision", "Décision n°", Kind.INTEGER, lambda e: e.decision_id, "Numéro de la décision"),
    Column("comite", "Comité", Kind.CODE, lambda e: e.decision.committee.code, "Code du comité"),
    Column("sens", "Sens", Kind.TEXT, lambda e: e.decision.outcome_enum.label, "Sens de la décision"),
    Column("empreinte", "Empreinte", Kind.TEXT, lambda e: e.entry_hash, "SHA-256 de l'entrée"),
    Column("empreinte_precedente", "Empreinte précédente", Kind.TEXT, lambda e: e.prev_hash, "Chaînage"),
]


@bp.route("/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def export(fmt: str):
    """The entries the register page shows, most recent first."""
    if not permissions.can_view_register(current_user):
        abort(403)
    export = Export(
        "registre-decisions",
        "Registre des décisions",
        [Sheet("Registre", COLUMNS, queries.register_entries())],
        filters=[("Entrées", "toutes, les plus récentes d'abord")],
    )
    return export_response(export, fmt)
