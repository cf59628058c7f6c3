"""MoSCoW prioritisation campaigns: list, create/edit, states, ballot (one htmx request per vote), results,
exports."""

import io
import logging

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask_login import current_user
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from .. import permissions
from ..auth_session import safe_next
from ..extensions import db
from ..forms import apply_errors
from ..forms.voting import CampaignForm, OverrideForm, TransitionForm, VoteForm
from ..htmx import is_htmx, render
from ..models import Opportunity, Organisation, Role
from ..models.base import utcnow
from ..models.portfolio import Moscow
from ..models.voting import DEFINITIONS, SCALE, CampaignState
from ..permissions import elector_ministry
from ..queries import voting as queries
from ..services import voting as service
from ..services.errors import DomainError, NotAllowed, StaleVersion
from ..tabular import XLSX_MIME, csv_bytes
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
    return render(
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


RESULT_COLUMNS = [
    "rang",
    "code",
    "brique",
    "must",
    "should",
    "could",
    "wont",
    "votes",
    "mediane",
    "part_au_moins_mediane_pct",
    "part_classe_modale_pct",
    "ecart_interquartile_classes",
    "mediane_des_ministeres",
    "priorite_retenue",
    "motif_correction",
]
BALLOT_COLUMNS = ["code", "votant", "ministere", "vote", "justification"]


def _result_table(campaign):
    data = queries.results(campaign, with_ministries=True)
    columns = RESULT_COLUMNS + [f"mediane_{m.code}" for m in data.ministries]
    rows = []
    for row in data.rows:
        rows.append(
            [
                row.rank,
                row.code,
                _cell(row.brique),
                *(row.counts[m] for m in Moscow),
                row.total,
                row.median.label if row.median else "",
                row.at_or_above,
                row.modal_share,
                row.dispersion,
                row.ministry_median.label if row.ministry_median else "",
                row.retained.label if row.retained and campaign.state == CampaignState.PUBLIEE else "",
                _cell(row.override_reason or ""),
            ]
            + [
                row.ministry_medians[m.id].label if m.id in row.ministry_medians else ""
                for m in data.ministries
            ]
        )
    return columns, rows


def _ballot_table(campaign):
    return BALLOT_COLUMNS, [
        [code, _cell(name), org, value.label, _cell(justification)]
        for code, name, org, value, justification in queries.named_ballots(campaign)
    ]


def _cell(text: str) -> str:
    """Free text typed by users, neutralised for spreadsheets (no formula injection: =, +, -, @ …)."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/<int:campaign_id>/resultats.<any(csv, xlsx):fmt>")
@permissions.authenticated
def export_results(campaign_id: int, fmt: str):
    """Same visibility as the results page; the XLSX adds the named ballots sheet for named campaigns."""
    campaign = _results_campaign(campaign_id)
    columns, rows = _result_table(campaign)
    basename = f"campagne-{campaign.id}-resultats"
    if fmt == "csv":
        return _download(csv_bytes(columns, rows), "text/csv; charset=utf-8", f"{basename}.csv")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("resultats")
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    if permissions.can_view_named_ballots(current_user, campaign):
        columns, rows = _ballot_table(campaign)
        sheet = workbook.create_sheet("bulletins")
        sheet.append(columns)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _download(buffer.getvalue(), XLSX_MIME, f"{basename}.xlsx")


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


@bp.get("/<int:campaign_id>/bulletins.csv")
@permissions.authenticated
def export_ballots(campaign_id: int):
    campaign = _results_campaign(campaign_id)
    if not permissions.can_view_named_ballots(current_user, campaign):
        abort(403)
    columns, rows = _ballot_table(campaign)
    return _download(
        csv_bytes(columns, rows), "text/csv; charset=utf-8", f"campagne-{campaign.id}-bulletins.csv"
    )
