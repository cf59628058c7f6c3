"""The portfolio of opportunities: list, detail, create, edit, state, comments, backings, exports."""

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BaseConverter

from .. import permissions
from ..extensions import db
from ..forms.portfolio import AteForm, BackingForm, CommentForm, OpportunityForm, StateForm
from ..htmx import is_htmx, render
from ..models import Opportunity, OpportunityState, Organisation
from ..queries import audit as audit_queries
from ..queries import criblage as criblage_queries
from ..queries import portfolio as queries
from ..queries import voting as voting_queries
from ..services import portfolio as service
from ..services.errors import NotAllowed, StaleVersion, ValidationFailed
from ..tabular import EXPORT_METHODS
from . import exports
from .actions import perform

bp = Blueprint("portfolio", __name__, url_prefix="/opportunites")


class CodeConverter(BaseConverter):
    """Opportunity codes: M followed by 3 to 5 digits; anything else is a 404."""

    regex = r"M\d{3,5}"


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters["code"] = CodeConverter


def _filters() -> tuple[queries.PortfolioFilters, list, list[str]]:
    """Filters from the query string, with the option lists they were checked against."""
    organisations, chantiers = queries.organisations(), queries.chantiers()
    filters = queries.PortfolioFilters.from_args(request.args, chantiers, [o.code for o in organisations])
    return filters, organisations, chantiers


def _load(code: str) -> Opportunity:
    opportunity = queries.by_code(code)
    if opportunity is None:
        abort(404)
    return opportunity


@bp.get("")
@permissions.portfolio_readable
def index():
    filters, organisations, chantiers = _filters()
    page = queries.paginate(filters, per_page=current_app.config["PER_PAGE"])
    response = render(
        "portfolio/index.html",
        block="results",
        filters=filters,
        page=page,
        chantiers=chantiers,
        organisations=organisations,
        sort_labels=queries.SORT_LABELS,
        ballot=voting_queries.portfolio_ballot(current_user, page.items),
    )
    if is_htmx():  # push the canonical URL, without the form's empty fields
        response.headers["HX-Push-Url"] = url_for(".index", **filters.as_args())
    return response


@bp.route("/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.portfolio_readable
def export(fmt: str):
    """The list with the page's filters and sort, every public column (re-importable by the import)."""
    return exports.portfolio_export(fmt)


@bp.get("/similaires")
@permissions.authenticated
def similar():
    brique = (request.args.get("brique") or "")[:200]
    exclude = request.args.get("exclude", type=int)
    return render("portfolio/_similar.html", matches=queries.similar(brique, exclude_id=exclude))


@bp.route("/nouvelle", methods=["GET", "POST"])
@permissions.authenticated
def create():
    if not permissions.can_create_opportunity(current_user):
        abort(403)
    form = OpportunityForm()
    if form.validate_on_submit():
        return perform(
            lambda: service.create_opportunity(
                brique=form.brique.data, besoin=form.besoin.data or "", actor=current_user
            ),
            form=form,
            success=lambda opportunity: f"Opportunité {opportunity.code} créée.",
            location=lambda opportunity: url_for(".show", code=opportunity.code),
            failure=lambda status: _render_form(form, None, status),
        )
    return _render_form(form, None, 422 if form.is_submitted() else 200)


def _render_form(form, opportunity, status, stale=None):
    if stale is not None:  # the page shows both versions and the message once, above them
        form.form_errors = [e for e in form.form_errors if e != stale.message]
        form.version.data = stale.current.version
    return render(
        "portfolio/form.html", block="form", status=status, form=form, opportunity=opportunity, stale=stale
    )


MAX_HOPS = 5


@bp.get("/<code:code>")
@permissions.portfolio_readable
def show(code: str):
    """A merged or duplicate opportunity lives on in its target: 301 there, with a banner saying so."""
    opportunity = _load(code)
    target, hops = opportunity, 0
    while target.state in OpportunityState.TARGET_REQUIRED and target.target is not None and hops < MAX_HOPS:
        target, hops = target.target, hops + 1
    if target is not opportunity:
        return redirect(url_for(".show", code=target.code, depuis=opportunity.code), 301)
    return _render_show(opportunity)


def _render_show(opportunity, status=200, state_form=None, comment_form=None, backing_form=None, block=None):
    audit = None
    if permissions.can_view_audit(current_user):
        audit = audit_queries.trail_page(
            "opportunities", opportunity.id, request.args.get("journal", 1, type=int)
        )
    absorbed_ids = [o.id for o in opportunity.absorbed]
    came_from = request.args.get("depuis", "")
    return render(
        "portfolio/show.html",
        block=block,
        status=status,
        opportunity=opportunity,
        came_from=next((o for o in opportunity.absorbed if o.code == came_from), None),
        absorbed_moscow=criblage_queries.latest_moscow(absorbed_ids),
        screenings=criblage_queries.history(opportunity) if current_user.is_authenticated else [],
        ate_form=AteForm(formdata=None),
        audit=audit,
        state_form=state_form or _state_form(opportunity),
        comment_form=comment_form or CommentForm(formdata=None),
        backing_form=backing_form or _backing_form(),
    )


def _state_form(opportunity, formdata=None) -> StateForm:
    form = StateForm(formdata=formdata)
    form.state.choices = [("", "— Choisir —")] + [
        (s.value, s.label) for s in opportunity.manual_transitions()
    ]
    return form


def _backing_form(formdata=None) -> BackingForm:
    form = BackingForm(formdata=formdata)
    organisations = queries.organisations()
    if not permissions.is_secretariat(current_user) and current_user.is_authenticated:
        mine = set(current_user.ministries())
        organisations = [o for o in organisations if o.id in mine]
    form.organisation.choices = [(o.code, f"{o.code} — {o.name}") for o in organisations]
    return form


@bp.route("/<code:code>/modifier", methods=["GET", "POST"])
@permissions.authenticated
def edit(code: str):
    opportunity = _load(code)
    if not permissions.can_edit_opportunity(current_user, opportunity):
        abort(403)
    form = OpportunityForm(obj=opportunity)
    if form.validate_on_submit():
        stale: list[StaleVersion] = []

        def save():
            try:
                return service.update_opportunity(
                    opportunity,
                    brique=form.brique.data,
                    besoin=form.besoin.data or "",
                    version=form.version.data or 0,
                    actor=current_user,
                )
            except StaleVersion as error:
                stale.append(error)
                raise

        return perform(
            save,
            form=form,
            success=f"Opportunité {opportunity.code} enregistrée.",
            location=url_for(".show", code=opportunity.code),
            failure=lambda status: _render_form(form, opportunity, status, stale[0] if stale else None),
        )
    return _render_form(form, opportunity, 422 if form.is_submitted() else 200)


@bp.post("/<code:code>/statut")
@permissions.authenticated
def change_state(code: str):
    opportunity = _load(code)
    if not permissions.can_change_opportunity_state(current_user, opportunity):
        abort(403)
    form = _state_form(opportunity, formdata=request.form)
    if form.validate_on_submit():
        return perform(
            lambda: service.change_state(
                opportunity,
                to=form.state.data,
                reason=form.reason.data or "",
                target_code=form.target_code.data or "",
                actor=current_user,
            ),
            form=form,
            success=lambda moved: f"Statut de {moved.code} : {moved.state_enum.label}.",
            location=url_for(".show", code=opportunity.code),
            failure=lambda status: _render_show(
                opportunity, status=status, state_form=form, block="state_panel"
            ),
        )
    return _render_show(opportunity, status=422, state_form=form, block="state_panel")


@bp.post("/<code:code>/ate")
@permissions.authenticated
def flag_ate(code: str):
    opportunity = _load(code)
    if not permissions.can_change_opportunity_state(current_user, opportunity):
        abort(403)
    form = AteForm()
    if not form.validate():
        abort(400)
    ate = form.ate.data == "1"
    flag = "sujet ATE, hors du portefeuille" if ate else "n’est plus un sujet ATE"
    return perform(
        lambda: service.set_ate(opportunity, ate=ate, actor=current_user),
        success=f"{opportunity.code} : {flag}.",
        location=url_for(".show", code=opportunity.code),
        failure=lambda status: _render_show(opportunity, status=status),
    )


@bp.post("/<code:code>/commentaires")
@permissions.authenticated
def comment(code: str):
    opportunity = _load(code)
    if not permissions.can_comment_opportunity(current_user, opportunity):
        abort(403)
    form = CommentForm()
    if form.validate_on_submit():
        return perform(
            lambda: service.add_comment(opportunity, body=form.body.data, actor=current_user),
            form=form,
            success="Commentaire publié.",
            location=url_for(".show", code=opportunity.code, _anchor="commentaires"),
            failure=lambda status: _render_show(
                opportunity, status=status, comment_form=form, block="comments"
            ),
        )
    return _render_show(opportunity, status=422, comment_form=form, block="comments")


@bp.post("/<code:code>/soutiens")
@permissions.authenticated
def back(code: str):
    opportunity = _load(code)
    if not permissions.can_back_opportunity(current_user, opportunity):
        abort(403)
    form = _backing_form(formdata=request.form)
    if form.validate_on_submit():
        organisation = db.session.scalar(
            select(Organisation).where(Organisation.code == form.organisation.data)
        )

        def run():
            try:
                return service.set_backing(
                    opportunity, organisation=organisation, role=form.role.data, actor=current_user
                )
            except (ValidationFailed, NotAllowed) as error:  # shown at the ministry, whatever the field
                form.organisation.errors = [error.message]
                raise

        return perform(
            run,
            success=f"Soutien de {organisation.code} enregistré.",
            location=url_for(".show", code=opportunity.code, _anchor="soutiens"),
            failure=lambda _status: _render_show(
                opportunity, status=422, backing_form=form, block="backings"
            ),
        )
    return _render_show(opportunity, status=422, backing_form=form, block="backings")


@bp.post("/<code:code>/soutiens/<org_code>/retirer")
@permissions.authenticated
def unback(code: str, org_code: str):
    opportunity = _load(code)
    organisation = db.session.scalar(select(Organisation).where(Organisation.code == org_code))
    if organisation is None:
        abort(404)
    if not permissions.can_back_opportunity(current_user, opportunity, organisation):
        abort(403)
    return perform(
        lambda: service.remove_backing(opportunity, organisation=organisation, actor=current_user),
        success=f"Soutien de {organisation.code} retiré.",
        location=url_for(".show", code=opportunity.code, _anchor="soutiens"),
        failure=lambda status: _render_show(opportunity, status=status, block="backings"),
    )
