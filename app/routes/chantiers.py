"""The strategy's programmes and chantiers, and a page per ministry: read-only roll-ups."""

from itertools import groupby

from flask import Blueprint, abort, request
from flask_login import current_user

from .. import permissions
from ..htmx import render
from ..models.portfolio import BackingRole
from ..queries import chantiers as queries

bp = Blueprint("chantiers", __name__)


@bp.get("/chantiers")
@permissions.portfolio_readable
def index():
    chantiers = queries.chantiers()
    programmes = [(p, list(cs)) for p, cs in groupby(chantiers, key=lambda c: c.programme)]
    return render("chantiers/index.html", programmes=programmes)


@bp.get("/chantiers/<code>")
@permissions.portfolio_readable
def show(code: str):
    page = queries.chantier(code, current_user)
    if page is None:
        abort(404)
    return render("chantiers/show.html", page=page, annex_for=queries.annex_for, deduced=queries.DEDUCED)


@bp.get("/chantiers/<code>/dossiers")
@permissions.portfolio_readable
def dossiers(code: str):
    """Every dossier the chantier draws, paginated (its page lists the first ones)."""
    found = queries.chantier_by_code(code)
    if found is None:
        abort(404)
    page = request.args.get("page", 1, type=int)
    drawn = queries.drawn_dossiers(found, current_user, page)
    return render("chantiers/dossiers.html", chantier=found, drawn=drawn)


@bp.get("/ministeres/<code>")
@permissions.authenticated
def ministry(code: str):
    page = queries.ministry(code, permissions.dossiers_visible_to(current_user))
    if page is None:
        abort(404)
    return render("chantiers/ministry.html", page=page, roles=list(BackingRole))
