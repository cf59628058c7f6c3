"""The decision register: its page, paginated, with the latest verification of its hash chain, and the
secretariat's « Vérifier maintenant » (URL /comites/registre)."""

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from .. import permissions
from ..htmx import render
from ..queries import committees as queries
from ..services import register as service
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
