"""MoSCoW prioritisation campaigns: list, create/edit, states, ballot (one htmx request per vote), results,
exports."""

import logging

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .. import permissions
from ..auth_session import safe_next
from ..extensions import db
from ..forms import apply_errors
from ..forms.voting import CampaignForm, OverrideForm, TransitionForm, VoteForm
from ..htmx import announce, is_htmx, render
from ..models import Opportunity, Organisation, Role
from ..models.base import utcnow
from ..models.portfolio import Moscow
from ..models.voting import DEFINITIONS, SCALE, CampaignState
from ..permissions import elector_ministry
from ..queries import voting as queries
from ..services import voting as service
from ..services.errors import DomainError, NotAllowed, StaleVersion
from ..tabular import EXPORT_METHODS, Column, Export, Kind, Sheet, export_response
from .actions import perform
from .errors import render_error

log = logging.getLogger(__name__)
bp = Blueprint("voting", __name__, url_prefix="/campagnes")


@bp.before_request
def apply_due_transitions():
    """Until the scheduler runs the same service every minute, open/close due campaigns on the next
    request."""
    try:
        if service.apply_due_transitions_if_due(utcnow()):
            db.session.commit()
    except OperationalError:  # another request holds the write lock and is doing it: carry on
        log.warning("due campaign transitions postponed", exc_info=True)
        db.session.rollback()


@bp.context_processor
def voting_globals():
    return {"SCALE": SCALE, "DEFINITIONS": DEFINITIONS}


def _load(campaign_id: int):
    campaign = queries.load_campaign(current_user, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


# --- list, create, edit -------------------------------------------------------------------------------


@bp.get("")
@permissions.authenticated
def index():
    return render("voting/index.html", campaigns=queries.visible_campaigns(current_user))


CAMPAIGN_COLUMNS = [
    Column("titre", "Campagne", Kind.TEXT, lambda c: c.title, "Titre de la campagne"),
    Column("etat", "État", Kind.TEXT, lambda c: CampaignState(c.state).label, "État de la campagne"),
    Column("ouverture", "Ouverture", Kind.DATETIME, lambda c: c.opens_at, "Ouverture du vote"),
    Column("cloture", "Clôture", Kind.DATETIME, lambda c: c.closes_at, "Clôture du vote"),
    Column("bulletins", "Bulletins", Kind.TEXT, lambda c: c.visibility_enum.label, "Anonymes ou nominatifs"),
    Column(
        "opportunites", "Opportunités", Kind.INTEGER, lambda c: len(c.opportunities), "Nombre soumis au vote"
    ),
]


@bp.route("/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def export_campaigns(fmt: str):
    """The campaigns of the list page (the same visibility)."""
    export = Export(
        "campagnes",
        "Campagnes de priorisation MoSCoW",
        [Sheet("Campagnes", CAMPAIGN_COLUMNS, queries.visible_campaigns(current_user))],
    )
    return export_response(export, fmt)


def _campaign_form(campaign=None, formdata=None) -> CampaignForm:
    form = CampaignForm(formdata=formdata, obj=campaign if formdata is None else None)
    opportunities = db.session.scalars(select(Opportunity).order_by(Opportunity.number))
    form.opportunities.choices = [
        (o.id, f"{o.code} — {o.brique} ({o.state_enum.label.lower()})") for o in opportunities
    ]
    form.ministries.choices = [
        (o.id, f"{o.code} — {o.name}")
        for o in db.session.scalars(select(Organisation).order_by(Organisation.code))
    ]
    if formdata is None:
        if campaign is None:
            form.opportunities.data = service.default_scope_ids()
            form.ministries.data = []
        else:
            form.opportunities.data = [o.id for o in campaign.opportunities]
            form.ministries.data = [m.id for m in campaign.ministries]
    return form


def _input(form: CampaignForm) -> service.CampaignInput:
    return service.CampaignInput(
        title=form.title.data or "",
        description=form.description.data or "",
        opens_at=form.opens_at.data,
        closes_at=form.closes_at.data,
        visibility=form.visibility.data or "",
        must_budget=form.must_budget.data,
        ministry_ids=form.ministries.data or [],
        opportunity_ids=form.opportunities.data or [],
        version=form.version.data,
    )


@bp.route("/nouvelle", methods=["GET", "POST"])
@permissions.requires_role(Role.SECRETARIAT)
def create():
    form = _campaign_form(formdata=request.form if request.method == "POST" else None)
    if request.method == "POST":
        if form.validate():
            return perform(
                lambda: service.create_campaign(_input(form), actor=current_user),
                form=form,
                success=lambda campaign: f"Campagne « {campaign.title} » créée en brouillon.",
                location=lambda campaign: url_for(".show", campaign_id=campaign.id),
                failure=lambda status: _render_form(form, None, status),
            )
        apply_errors(form, service.campaign_errors(_input(form)), only_clean=True)
    return _render_form(form, None, 422 if request.method == "POST" else 200)


def _render_form(form, campaign, status, stale=None):
    if stale is not None:  # the page shows both versions and the message once, above them
        form.form_errors = [e for e in form.form_errors if e != stale.message]
        form.version.raw_data = None
        form.version.data = stale.current.version
    return render("voting/form.html", block="form", status=status, form=form, campaign=campaign, stale=stale)


@bp.route("/<int:campaign_id>/modifier", methods=["GET", "POST"])
@permissions.requires_role(Role.SECRETARIAT)
def edit(campaign_id: int):
    campaign = _load(campaign_id)
    if not permissions.can_edit_campaign(current_user, campaign):
        abort(403)
    form = _campaign_form(campaign, formdata=request.form if request.method == "POST" else None)
    if request.method == "POST":
        if form.validate():
            stale: list[StaleVersion] = []

            def save():
                try:
                    service.update_campaign(campaign, _input(form), actor=current_user)
                    db.session.flush()
                except StaleVersion as error:
                    stale.append(error)
                    raise
                except StaleDataError:  # saved by someone else between our read and our write
                    db.session.rollback()
                    stale.append(StaleVersion(_load(campaign_id)))
                    raise stale[-1] from None

            return perform(
                save,
                success="Campagne enregistrée.",
                location=url_for(".show", campaign_id=campaign.id),
                failure=lambda status: _render_form(form, campaign, status, stale[0] if stale else None),
                form=form,
            )
        apply_errors(form, service.campaign_errors(_input(form)), only_clean=True)
    return _render_form(form, campaign, 422 if request.method == "POST" else 200)


# --- campaign page and states -------------------------------------------------------------------------


def _render_show(campaign, status=200, errors=None, drafts=None, transition_form=None):
    can_vote = permissions.can_vote_in_campaign(current_user, campaign)
    is_elector = elector_ministry(current_user, campaign)[0]
    ballot = scope = progress = None
    if is_elector and campaign.state != CampaignState.BROUILLON:
        scope = queries.scope(campaign)
        ballot = queries.my_votes(campaign.id, current_user.id)
        progress = queries.progress(campaign, current_user.id)
    participation = queries.live_participation(campaign) if campaign.state == CampaignState.OUVERTE else None
    audit = queries.vote_audit(campaign) if permissions.can_view_vote_audit(current_user, campaign) else None
    return render(
        "voting/show.html",
        status=status,
        campaign=campaign,
        can_vote=can_vote,
        scope=scope,
        ballot=ballot,
        progress=progress,
        participation=participation,
        audit=audit,
        errors=errors or {},
        drafts=drafts or {},
        scope_count=queries.scope_size(campaign.id),
        transition_form=transition_form or TransitionForm(formdata=None),
    )


@bp.get("/<int:campaign_id>")
@permissions.authenticated
def show(campaign_id: int):
    return _render_show(_load(campaign_id))


@bp.post("/<int:campaign_id>/etat")
@permissions.requires_role(Role.SECRETARIAT)
def move(campaign_id: int):
    campaign = _load(campaign_id)
    form = TransitionForm()
    if form.validate():
        return perform(
            lambda: service.transition(
                campaign, to=form.to.data, reason=form.reason.data or "", actor=current_user
            ),
            form=form,
            success=lambda moved: f"Campagne « {moved.title} » : {moved.state_enum.label.lower()}.",
            location=url_for(".show", campaign_id=campaign.id),
            failure=lambda status: _move_refused(form, campaign_id, status),
        )
    form.to.errors = form.to.errors or ["Action invalide."]
    return _render_show(_load(campaign_id), status=422, transition_form=form)


def _move_refused(form: TransitionForm, campaign_id: int, status: int):
    """The refusal is shown beside the state buttons (the form's only visible field)."""
    form.to.errors, form.form_errors = [*form.to.errors, *form.form_errors], []
    return _render_show(_load(campaign_id), status=status, transition_form=form)


# --- ballot ---------------------------------------------------------------------------------------------


def _vote_target(campaign_id: int, code: str):
    campaign = _load(campaign_id)
    opportunity = db.session.scalar(select(Opportunity).where(Opportunity.code == code))
    if opportunity is None:
        abort(404)
    return campaign, opportunity  # the service refuses an opportunity outside the scope (422)


def _vote_reply(campaign, opportunity, form: VoteForm, vote=None, *, status=200, error=None, draft=None):
    """htmx: the updated row (or portfolio cell) and the out-of-band progress bar, rendered BEFORE the commit
    (nothing to reload afterwards); without JavaScript: 303 back, or the campaign page with the message.

    Not through perform(): a vote's success is the updated fragment (200), not a redirect."""
    context = "ballot" if form.contexte.data == "ballot" else "vote"
    if not is_htmx():
        if status == 200:
            default = url_for(".show", campaign_id=campaign.id, _anchor=f"vote-{opportunity.code}")
            return redirect(safe_next(form.next.data) or default, 303)
        return _render_show(
            campaign, status=status, errors={opportunity.id: error}, drafts={opportunity.id: draft}
        )
    if status != 200:
        vote = queries.my_votes(campaign.id, current_user.id, [opportunity.id]).get(opportunity.id)
    response = render(
        "voting/_vote_reply.html",
        status=status,
        campaign=campaign,
        o=opportunity,
        vote=vote,
        context=context,
        error=error,
        draft=draft,
        can_vote=campaign.is_open,
        progress=queries.progress(campaign, current_user.id),
    )
    if status == 200:
        done = f"Vote enregistré : {vote.value_enum.label}" if vote else "Vote retiré"
        announce(response, f"{done} pour {opportunity.code}")
    return response


@bp.post("/<int:campaign_id>/votes/<string:code>")
@permissions.requires_role(Role.DSI)
def vote(campaign_id: int, code: str):
    campaign, opportunity = _vote_target(campaign_id, code)
    form = VoteForm()
    if not form.validate():
        return _vote_reply(
            campaign,
            opportunity,
            form,
            status=422,
            draft=form.justification.data,
            error=" ".join(form.justification.errors) or "Requête invalide, rechargez la page.",
        )

    def cast():
        return service.cast_vote(
            campaign,
            opportunity,
            value=form.value.data or "",
            justification=form.justification.data or "",
            actor=current_user,
        )

    def refused(error: DomainError):
        if isinstance(error, NotAllowed):
            return render_error(403, error.message)
        reply = _load(campaign_id), opportunity, form
        return _vote_reply(*reply, status=422, error=error.message, draft=form.justification.data)

    return perform(cast, refused=refused, done=lambda vote: _vote_reply(campaign, opportunity, form, vote))


@bp.post("/<int:campaign_id>/votes/<string:code>/retirer")
@permissions.requires_role(Role.DSI)
def withdraw(campaign_id: int, code: str):
    campaign, opportunity = _vote_target(campaign_id, code)
    form = VoteForm()
    if not form.validate():
        return _vote_reply(
            campaign, opportunity, form, status=422, error="Requête invalide, rechargez la page."
        )

    def refused(error: DomainError):
        if isinstance(error, NotAllowed):
            return render_error(403, error.message)
        return _vote_reply(_load(campaign_id), opportunity, form, status=422, error=error.message)

    return perform(
        lambda: service.withdraw_vote(campaign, opportunity, actor=current_user),
        refused=refused,
        done=lambda _: _vote_reply(campaign, opportunity, form, None),
    )


# --- results, ballots, exports, overrides ---------------------------------------------------------------


def _results_campaign(campaign_id: int):
    campaign = _load(campaign_id)
    if not permissions.can_view_campaign_results(current_user, campaign):
        abort(403)
    return campaign


@bp.get("/<int:campaign_id>/resultats")
@permissions.authenticated
def results(campaign_id: int):
    campaign = _load(campaign_id)
    if not permissions.can_view_campaign_results(current_user, campaign) and campaign.state in (
        CampaignState.OUVERTE,
        CampaignState.CLOSE,
    ):  # not a bare « Accès refusé »: when the results will be there
        return render("voting/results_pending.html", status=200, campaign=campaign)
    campaign = _results_campaign(campaign_id)
    if request.args.get("vue") == "ministeres":  # the matrix opportunity × ministry
        return render(
            "voting/ministries.html",
            campaign=campaign,
            results=queries.results(campaign, with_ministries=True),
        )
    data = queries.results(campaign)
    return render(
        "voting/results.html",
        campaign=campaign,
        results=data,
        override_form=OverrideForm(formdata=None),
        override_code="",
    )


@bp.post("/<int:campaign_id>/priorites")
@permissions.requires_role(Role.SECRETARIAT)
def override(campaign_id: int):
    campaign = _results_campaign(campaign_id)
    if not permissions.can_override_priority(current_user, campaign):
        abort(403)
    form = OverrideForm()
    code = form.code.data or ""
    opportunity = queries.in_scope(campaign, code)
    if form.validate():
        if opportunity is None:
            form.form_errors.append("Choisissez une opportunité de la campagne.")
        else:
            return perform(
                lambda: service.override_priority(
                    campaign,
                    opportunity,
                    value=form.value.data,
                    reason=form.reason.data or "",
                    actor=current_user,
                ),
                form=form,
                success=f"Priorité de {opportunity.code} corrigée.",
                location=url_for(".results", campaign_id=campaign.id, _anchor=f"result-{opportunity.code}"),
                failure=lambda status: _render_override(campaign, form, code, status),
            )
    return _render_override(campaign, form, code, 422)


def _render_override(campaign, form: OverrideForm, code: str, status: int):
    return render(
        "voting/results.html",
        block="override",
        status=status,
        campaign=campaign,
        results=queries.results(campaign),
        override_form=form,
        override_code=code,
    )


def _result_columns(ministries, published: bool) -> list[Column]:
    columns = [
        Column("rang", "Rang", Kind.INTEGER, lambda r: r.rank, "Rang dans le classement"),
        Column("code", "Code", Kind.CODE, lambda r: r.code, "Code de l'opportunité (M043)"),
        Column("brique", "Brique", Kind.TEXT, lambda r: r.brique, "Titre court de l'opportunité"),
    ]
    columns += [
        Column(m.value, m.label, Kind.INTEGER, _count(m), f"Nombre de votes « {m.label} »") for m in Moscow
    ]
    columns += [
        Column("votes", "Votes", Kind.INTEGER, lambda r: r.total, "Nombre de votes exprimés"),
        Column(
            "mediane", "Médiane", Kind.TEXT, lambda r: r.median.label if r.median else "", "Classe médiane"
        ),
        Column(
            "part_au_moins_mediane_pct",
            "Votes au moins égaux à la médiane",
            Kind.PERCENT,
            lambda r: r.at_or_above,
            "Part des votes dans la classe médiane ou au-dessus",
        ),
        Column(
            "part_classe_modale_pct",
            "Part de la classe modale",
            Kind.PERCENT,
            lambda r: r.modal_share,
            "Part des votes dans la classe la plus choisie",
        ),
        Column(
            "ecart_interquartile_classes",
            "Écart interquartile (classes)",
            Kind.INTEGER,
            lambda r: r.dispersion,
            "Dispersion des votes, en nombre de classes",
        ),
        Column(
            "mediane_des_ministeres",
            "Médiane des ministères",
            Kind.TEXT,
            lambda r: r.ministry_median.label if r.ministry_median else "",
            "Médiane des médianes de chaque ministère",
        ),
        Column(
            "priorite_retenue",
            "Priorité retenue",
            Kind.TEXT,
            lambda r: r.retained.label if r.retained and published else "",
            "Priorité publiée (après correction éventuelle du secrétariat)",
        ),
        Column(
            "motif_correction",
            "Motif de la correction",
            Kind.LONGTEXT,
            lambda r: r.override_reason or "",
            "Motif de la correction",
        ),
    ]
    columns += [
        Column(
            f"mediane_{m.code}",
            f"Médiane {m.code}",
            Kind.TEXT,
            _ministry_median(m.id),
            f"Médiane de {m.name}",
        )
        for m in ministries
    ]
    return columns


def _count(value):
    return lambda row: row.counts[value]


def _ministry_median(ministry_id: int):
    return lambda row: row.ministry_medians[ministry_id].label if ministry_id in row.ministry_medians else ""


BALLOT_COLUMNS = [
    Column("code", "Code", Kind.CODE, lambda b: b[0], "Code de l'opportunité (M043)"),
    Column("votant", "Votant", Kind.TEXT, lambda b: b[1], "Nom du votant"),
    Column("ministere", "Ministère", Kind.CODE, lambda b: b[2], "Code du ministère du votant"),
    Column("vote", "Vote", Kind.TEXT, lambda b: b[3].label, "Classe MoSCoW votée"),
    Column("justification", "Justification", Kind.LONGTEXT, lambda b: b[4], "Justification du vote"),
]


def _result_sheet(campaign) -> Sheet:
    data = queries.results(campaign, with_ministries=True)
    published = campaign.state == CampaignState.PUBLIEE
    return Sheet("Résultats", _result_columns(data.ministries, published), data.rows)


def _ballot_sheet(campaign) -> Sheet:
    return Sheet("Bulletins", BALLOT_COLUMNS, queries.named_ballots(campaign))


def _campaign_filters(campaign) -> list[tuple[str, str]]:
    return [("Campagne", campaign.title), ("État", CampaignState(campaign.state).label)]


@bp.route("/<int:campaign_id>/resultats.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def export_results(campaign_id: int, fmt: str):
    """Same visibility as the results page; the workbooks add the named ballots sheet for named campaigns."""
    campaign = _results_campaign(campaign_id)
    sheets = [_result_sheet(campaign)]
    if fmt != "csv" and permissions.can_view_named_ballots(current_user, campaign):
        sheets.append(_ballot_sheet(campaign))
    export = Export(
        f"campagne-{campaign.id}-resultats",
        f"Résultats de la campagne « {campaign.title} »",
        sheets,
        filters=_campaign_filters(campaign),
    )
    return export_response(export, fmt)


@bp.get("/<int:campaign_id>/bulletins")
@permissions.authenticated
def ballots(campaign_id: int):
    campaign = _results_campaign(campaign_id)
    if not permissions.can_view_named_ballots(current_user, campaign):
        abort(403)
    scope = queries.scope(campaign)
    code = request.args.get("code", "")
    selected = next((o for o in scope if o.code == code), scope[0] if scope else None)
    rows = queries.named_ballots(campaign, selected.id) if selected else []
    return render("voting/ballots.html", campaign=campaign, scope=scope, selected=selected, rows=rows)


@bp.route("/<int:campaign_id>/bulletins.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def export_ballots(campaign_id: int, fmt: str):
    campaign = _results_campaign(campaign_id)
    if not permissions.can_view_named_ballots(current_user, campaign):
        abort(403)
    export = Export(
        f"campagne-{campaign.id}-bulletins",
        f"Bulletins nominatifs de la campagne « {campaign.title} »",
        [_ballot_sheet(campaign)],
        filters=_campaign_filters(campaign),
    )
    return export_response(export, fmt)
