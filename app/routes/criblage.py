"""Criblage sessions ([002] §4): open over a filtered set, score, rank, retain for CSIC-Tech, close."""

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from .. import permissions
from ..domain.criblage import format_median
from ..forms.criblage import ActForm, OpenForm, RetainForm, ScoreForm
from ..htmx import render
from ..models import Role
from ..models.criblage import MATURITY_LABELS, VALUE_LABELS, CriblageItem
from ..queries import criblage as queries
from ..queries import portfolio as portfolio_queries
from ..services import criblage as service
from .actions import perform

bp = Blueprint("criblage", __name__, url_prefix="/criblages")

REVIEWERS = (Role.SECRETARIAT, Role.DSI)


def _load(criblage_id: int):
    criblage = queries.load(criblage_id)
    if criblage is None:
        abort(404)
    return criblage


@bp.get("")
@permissions.requires_role(*REVIEWERS)
def index():
    return render("criblage/index.html", criblages=queries.criblages())


def _open_form(formdata=None) -> OpenForm:
    form = OpenForm(formdata=formdata)
    form.chantier.choices = [("", "Tous")] + [(c, c) for c in portfolio_queries.chantiers()]
    form.ministere.choices = [("", "Tous")] + [
        (o.code, f"{o.code} — {o.name}") for o in portfolio_queries.organisations()
    ]
    return form


def _scope(form: OpenForm) -> queries.Scope:
    return queries.Scope(
        states=form.states.data or [],
        chantier=form.chantier.data or "",
        ministere=form.ministere.data or "",
        not_screened_since=form.not_screened_since.data,
    )


@bp.route("/nouveau", methods=["GET", "POST"])
@permissions.requires_role(Role.SECRETARIAT)
def create():
    """GET with the filters previews the opportunities; POST opens the criblage over them."""
    form = _open_form(formdata=request.form if request.method == "POST" else request.args or None)
    if request.method == "GET" and request.args:
        form.validate()  # show the filters' own errors (a bad date), never save
    scope = _scope(form)
    candidates = queries.candidates(scope) if not form.not_screened_since.errors else []
    if request.method == "POST":
        if form.validate():
            return perform(
                lambda: service.open_criblage(
                    title=form.title.data,
                    opportunities=candidates,
                    scope=scope.describe(),
                    actor=current_user,
                ),
                form=form,
                success=lambda criblage: f"Criblage « {criblage.title} » ouvert.",
                location=lambda criblage: url_for(".show", criblage_id=criblage.id),
                failure=lambda status: _render_new(form, candidates, scope, status),
            )
        return _render_new(form, candidates, scope, 422)
    return _render_new(form, candidates, scope, 200)


def _render_new(form, candidates, scope, status):
    return render(
        "criblage/new.html", status=status, form=form, candidates=candidates, scope=scope.describe()
    )


@bp.get("/<int:criblage_id>")
@permissions.requires_role(*REVIEWERS)
def show(criblage_id: int):
    return _render_show(_load(criblage_id))


def _score_form(item: CriblageItem, formdata=None) -> ScoreForm:
    mine = next((s for s in item.scores if s.reviewer_id == current_user.id), None)
    form = ScoreForm(formdata=formdata, prefix=f"item-{item.id}")
    if formdata is None and mine is not None:
        form.maturity.data, form.value.data, form.comment.data = (
            str(mine.maturity),
            str(mine.value),
            mine.comment,
        )
    return form


def _render_show(criblage, status=200, score_forms=None, retain_form=None):
    ranked = queries.results(criblage)
    score_forms = score_forms or {}
    forms = {item.id: score_forms.get(item.id) or _score_form(item) for item in criblage.items}
    if retain_form is None:
        retain_form = RetainForm(formdata=None)
    retain_form.items.choices = [(row.item.id, row.opportunity.code) for row in ranked]
    return render(
        "criblage/show.html",
        status=status,
        criblage=criblage,
        ranked=ranked,
        grid=queries.grid(ranked),
        score_forms=forms,
        retain_form=retain_form,
        act_form=ActForm(formdata=None),
        maturity_labels=MATURITY_LABELS,
        value_labels=VALUE_LABELS,
        median=format_median,
    )


@bp.post("/<int:criblage_id>/notes/<code:code>")
@permissions.requires_role(*REVIEWERS)
def score(criblage_id: int, code: str):
    criblage = _load(criblage_id)
    item = queries.item(criblage, code)
    if item is None:
        abort(404)
    if not permissions.can_score_criblage(current_user, criblage):
        abort(403)
    form = _score_form(item, formdata=request.form)
    if form.validate():
        return perform(
            lambda: service.score(
                item,
                maturity=form.maturity.data,
                value=form.value.data,
                comment=form.comment.data or "",
                actor=current_user,
            ),
            form=form,
            success=f"Note enregistrée pour {code}.",
            location=url_for(".show", criblage_id=criblage.id, _anchor=f"item-{code}"),
            failure=lambda status: _render_show(_load(criblage_id), status, score_forms={item.id: form}),
        )
    return _render_show(criblage, 422, score_forms={item.id: form})


@bp.post("/<int:criblage_id>/retenir")
@permissions.requires_role(Role.SECRETARIAT)
def retain(criblage_id: int):
    criblage = _load(criblage_id)
    if not permissions.can_retain_criblage(current_user, criblage):
        abort(403)
    form = RetainForm(formdata=request.form)
    form.items.choices = [(i.id, i.opportunity.code) for i in criblage.items]
    if form.validate():
        chosen = [i for i in criblage.items if i.id in set(form.items.data or [])]

        def run():
            return service.retain(criblage, items=chosen, actor=current_user)

        def done_message(items):
            proposed = [i.opportunity.code for i in items if i.agenda_item is not None]
            message = f"Retenues : {', '.join(i.opportunity.code for i in items)}."
            if proposed:
                return message + " Inscrites à l'ordre du jour du prochain CSIC-Tech."
            return message + " Aucun CSIC-Tech planifié : elles seront proposées à sa préparation."

        return perform(
            run,
            form=form,
            success=done_message,
            location=url_for(".show", criblage_id=criblage.id, _anchor="resultats"),
            failure=lambda status: _render_show(_load(criblage_id), status, retain_form=form),
        )
    return _render_show(criblage, 422, retain_form=form)


@bp.post("/<int:criblage_id>/clore")
@permissions.requires_role(Role.SECRETARIAT)
def close(criblage_id: int):
    criblage = _load(criblage_id)
    form = ActForm()
    if not form.validate():
        abort(400)
    return perform(
        lambda: service.close(criblage, actor=current_user),
        success="Criblage clos.",
        location=url_for(".show", criblage_id=criblage.id),
        failure=lambda status: _render_show(_load(criblage_id), status),
    )


@bp.post("/<int:criblage_id>/campagne")
@permissions.requires_role(Role.SECRETARIAT)
def launch_campaign(criblage_id: int):
    criblage = _load(criblage_id)
    form = ActForm()
    if not form.validate():
        abort(400)
    return perform(
        lambda: service.launch_campaign(criblage, actor=current_user),
        form=form,
        success=lambda campaign: f"Campagne « {campaign.title} » préparée en brouillon : vérifiez ses dates.",
        location=lambda campaign: url_for("voting.edit", campaign_id=campaign.id),
        failure=lambda status: _render_show(_load(criblage_id), status),
    )
