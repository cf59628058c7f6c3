"""The decision register: its page and the verification of its hash chain (URL /comites/registre)."""

from flask import Blueprint, abort
from flask_login import current_user

from .. import permissions
from ..htmx import render
from ..queries import committees as queries
from ..services import register as service

# Nested in the committees blueprint (app/routes/__init__.py): endpoint committees.register.index.
bp = Blueprint("register", __name__, url_prefix="/registre")


@bp.get("")
@permissions.authenticated
def index():
    if not permissions.can_view_register(current_user):
        abort(403)
    return render("register/index.html", check=service.verify(), entries=queries.register_entries())
