"""Follow-up of a funded dossier, under the dossier: /dossiers/<id>/suivi (jalons, indicators, credits
consumed, savings observed, clawback flags) and its four report forms."""

from flask import Blueprint, abort, redirect, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import permissions
from ..extensions import db
from ..forms.followup import FORMS
from ..htmx import render
from ..models.committees import AgendaItem, Meeting
from ..models.dossiers import Dossier
from ..queries import committees as committee_queries
from ..services import followup as service
from .actions import perform

bp = Blueprint("followup", __name__)

REPORTS = {
    "jalon": service.report_jalon,
    "indicateur": service.report_indicator,
    "consommation": service.report_consumption,
    "economies": service.report_savings,
}


def _followed_dossier(dossier_id: int) -> Dossier:
    """A dossier the user may see (dossier rules), or one on an agenda of a committee the user belongs to."""
    dossier = db.session.scalar(permissions.dossiers_visible_to(current_user).where(Dossier.id == dossier_id))
    if dossier is None:
        committees = {r.committee_id for r in current_user.roles if r.committee_id}
        on_their_agenda = db.session.scalar(
            select(AgendaItem.id)
            .join(AgendaItem.meeting)
            .where(AgendaItem.dossier_id == dossier_id, Meeting.committee_id.in_(committees or [-1]))
            .limit(1)
        )
        dossier = db.session.get(Dossier, dossier_id) if on_their_agenda else None
    if dossier is None:
        abort(404)
    return dossier


def _forms(dossier, follow, bound=None) -> dict:
    """The four report forms, fresh, except the one just posted (`bound`), shown back with its errors."""
    forms = {
        what: (bound if bound is not None and bound.section == what else cls(formdata=None))
        for what, cls in FORMS.items()
    }
    forms["jalon"].jalon.choices = [
        (jalon.id, f"n° {jalon.number} — {jalon.description}")
        for jalon, report, _ in follow.jalons
        if not report
    ]
    forms["indicateur"].indicator.choices = [(i.id, i.indicator) for i, _ in follow.indicators]
    forms["economies"].nature.choices = [(n, n) for n in service.savings_natures(dossier)]
    return forms


def _render(dossier, status: int = 200, bound=None):
    follow = service.followup(dossier)
    return render(
        "followup/show.html",
        status=status,
        follow=follow,
        dossier=dossier,
        forms=_forms(dossier, follow, bound),
        can_report=permissions.can_report_followup(current_user, dossier) and service.is_followed(dossier),
        trail=committee_queries.trail(dossier_id=dossier.id, user=current_user),
    )


@bp.get("/dossiers/<int:dossier_id>/suivi")
@permissions.authenticated
def show(dossier_id: int):
    return _render(_followed_dossier(dossier_id))


@bp.get("/comites/suivi/<int:dossier_id>")
@permissions.authenticated
def legacy(dossier_id: int):
    """The page's former address (links in mails sent before the move)."""
    dossier = _followed_dossier(dossier_id)
    return redirect(url_for(".show", dossier_id=dossier.id), 301)


@bp.post("/dossiers/<int:dossier_id>/suivi/<any(jalon, indicateur, consommation, economies):what>")
@permissions.authenticated
def report(dossier_id: int, what: str):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_report_followup(current_user, dossier):
        abort(403)
    form = FORMS[what]()
    if not form.validate_on_submit():
        return _render(dossier, status=422, bound=form)
    fields = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
    renamed = {"jalon": "jalon_id", "indicator": "indicator_id"}
    values = {renamed.get(name, name): value for name, value in fields.items()}
    return perform(
        lambda: REPORTS[what](dossier, **values, actor=current_user),
        form=form,
        success="Suivi enregistré.",
        location=url_for(".show", dossier_id=dossier.id, _anchor=what),
        failure=lambda status: _render(_followed_dossier(dossier_id), status=status, bound=form),
    )
