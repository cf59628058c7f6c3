"""The dossier after its decision, under the dossier's URLs: the hand-off to the committee (an instructeur
proposes the instructed dossier), the contract (prepared, signed → conventionné, follow-up started → en
suivi), the follow-up page /dossiers/<id>/suivi (jalons reached or late, indicator values, credits consumed,
savings observed, clawback flags; each report validated or questioned by the instructeur) and its closing
with a final assessment (→ clos). The contract and hand-off panel is included in the dossier page
(followup/_panel.html, fed by the `dossier_panel` Jinja global)."""

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import permissions
from ..extensions import attachment_max_bytes, db
from ..formatting import paris
from ..forms.dossiers import uploaded_files
from ..forms.followup import FORMS, ActionForm, CloseForm, ProposeForm, ReviewForm, SignForm
from ..htmx import render
from ..models.committees import AgendaItem, Meeting
from ..models.dossiers import Dossier
from ..queries import committees as committee_queries
from ..services import contracts, proposals
from ..services import followup as service
from .actions import perform
from .dossiers import _context
from .dossiers import _load as _load_dossier

bp = Blueprint("followup", __name__)

REPORTS = {
    "jalon": service.report_jalon,
    "retard": service.report_jalon_late,
    "indicateur": service.report_indicator,
    "consommation": service.report_consumption,
    "economies": service.report_savings,
}


def _max_bytes() -> int:
    return attachment_max_bytes()


@bp.record_once
def _register_globals(state):
    state.app.jinja_env.globals.update(dossier_panel=_panel)


def _panel(dossier, forms: dict | None = None) -> dict:
    """What the dossier page shows after instruction: the proposal to the committee, the contract steps."""
    forms = forms or {}
    return {
        "forms": forms,
        "contract": contracts.contract_of(dossier),
        "refusal": contracts.contract_refusal(dossier),
        "can_manage": permissions.can_manage_contract(current_user, dossier),
        "can_propose": permissions.can_propose_for_agenda(current_user, dossier),
        "proposal": proposals.open_proposal(dossier),
        "committee": proposals.deciding_committee(dossier),
        "action_form": forms.get("action") or ActionForm(formdata=None),
        "sign_form": forms.get("sign") or SignForm(formdata=None),
        "propose_form": forms.get("propose") or ProposeForm(formdata=None),
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
    """The report forms, fresh, except the one just posted (`bound`), shown back with its errors."""
    forms = {
        what: (bound if bound is not None and getattr(bound, "section", None) == what else cls(formdata=None))
        for what, cls in FORMS.items()
    }
    open_jalons = [
        (jalon.id, f"n° {jalon.number} — {jalon.description}")
        for jalon, report, _ in follow.jalons
        if not report
    ]
    forms["jalon"].jalon.choices = open_jalons
    forms["retard"].jalon.choices = open_jalons
    forms["indicateur"].indicator.choices = [(i.id, i.indicator) for i, _ in follow.indicators]
    forms["economies"].nature.choices = [(n, n) for n in service.savings_natures(dossier)]
    forms["close"] = bound if isinstance(bound, CloseForm) else CloseForm(formdata=None)
    return forms


def _render(dossier, status: int = 200, bound=None, review_errors: dict | None = None):
    contract = contracts.contract_of(dossier)
    # a closed follow-up: the yearly targets as they stood on its final assessment
    closed_on = paris(contract.closed_at).date() if contract and contract.closed_at else None
    follow = service.followup(dossier, targets_on=closed_on)
    return render(
        "followup/show.html",
        status=status,
        follow=follow,
        dossier=dossier,
        forms=_forms(dossier, follow, bound),
        bound=bound,
        review_form=lambda what, report: (
            (review_errors or {}).get((what, report.id))
            or ReviewForm(formdata=None, prefix=f"{what}-{report.id}")
        ),
        can_report=permissions.can_report_followup(current_user, dossier) and service.is_followed(dossier),
        can_review=permissions.can_review_followup(current_user, dossier),
        can_close=permissions.can_manage_contract(current_user, dossier) and service.is_followed(dossier),
        contract=contract,
        late_jalons=contracts.open_late_jalons(dossier),
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


@bp.post("/dossiers/<int:dossier_id>/suivi/<any(jalon, retard, indicateur, consommation, economies):what>")
@permissions.authenticated
def report(dossier_id: int, what: str):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_report_followup(current_user, dossier):
        abort(403)
    form = FORMS[what]()
    if not form.validate_on_submit():
        return _render(dossier, status=422, bound=form)
    fields = {name: f.data for name, f in form._fields.items() if name not in ("csrf_token", "proof_file")}
    renamed = {"jalon": "jalon_id", "indicator": "indicator_id"}
    values = {renamed.get(name, name): value for name, value in fields.items()}
    if what == "jalon":
        files = uploaded_files(request.files, "proof_file")
        values |= {"proof_file": files[0] if files else None, "max_bytes": _max_bytes()}

    def success(row) -> str:
        warning = service.over_granted(dossier, row) if what == "consommation" else ""
        if what == "retard":
            return "Retard enregistré : il est proposé pour la prochaine séance du comité qui a décidé."
        return "Suivi enregistré." + (
            f" Attention : {warning} L'explication est transmise." if warning else ""
        )

    return perform(
        lambda: REPORTS[what](dossier, **values, actor=current_user),
        form=form,
        success=success,
        location=url_for(".show", dossier_id=dossier.id, _anchor=what),
        failure=lambda status: _render(_followed_dossier(dossier_id), status=status, bound=form),
    )


@bp.post(
    "/dossiers/<int:dossier_id>/suivi/<any(jalon, retard, indicateur, consommation, economies):what>"
    "/<int:report_id>/lecture"
)
@permissions.authenticated
def review(dossier_id: int, what: str, report_id: int):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_review_followup(current_user, dossier):
        abort(403)
    form = ReviewForm(prefix=f"{what}-{report_id}")

    def failure(status):
        return _render(_followed_dossier(dossier_id), status=status, review_errors={(what, report_id): form})

    if not form.validate_on_submit():
        return failure(422)
    return perform(
        lambda: service.review(
            dossier,
            what=what,
            report_id=report_id,
            verdict=form.verdict.data or "",
            comment=form.comment.data or "",
            actor=current_user,
        ),
        form=form,
        success=lambda report: f"Compte rendu {report.review_enum.label.lower()}.",
        location=url_for(".show", dossier_id=dossier.id, _anchor="lectures"),
        failure=failure,
    )


@bp.post("/dossiers/<int:dossier_id>/suivi/cloture")
@permissions.authenticated
def close(dossier_id: int):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_manage_contract(current_user, dossier):
        abort(403)
    form = CloseForm()
    if not form.validate_on_submit():
        return _render(dossier, status=422, bound=form)
    return perform(
        lambda: contracts.close(
            dossier, assessment=form.assessment.data or "", reason=form.reason.data or "", actor=current_user
        ),
        form=form,
        success="Suivi clos : le bilan final est enregistré.",
        location=url_for(".show", dossier_id=dossier.id),
        failure=lambda status: _render(_followed_dossier(dossier_id), status=status, bound=form),
    )


# --- the dossier page's panel: proposal to the committee, contract --------------------------------------


def _dossier_page(dossier_id: int, status: int, **panel_forms):
    """The dossier page again, with the posted panel form (input kept, messages at its fields)."""
    dossier = _load_dossier(dossier_id)
    return render("dossiers/show.html", status=status, **_context(dossier, panel_forms=panel_forms))


def _panel_action(dossier_id: int, run, *, success: str, anchor: str = "convention", form=None, key="action"):
    dossier = _load_dossier(dossier_id)
    if not permissions.can_manage_contract(current_user, dossier) and key != "propose":
        abort(403)
    form = form or ActionForm()
    if not form.validate_on_submit():
        return _dossier_page(dossier_id, 422, **{key: form})
    return perform(
        lambda: run(dossier),
        form=form,
        success=success,
        location=url_for("dossiers.show", dossier_id=dossier_id, _anchor=anchor),
        failure=lambda status: _dossier_page(dossier_id, status, **{key: form}),
    )


@bp.post("/dossiers/<int:dossier_id>/convention/preparer")
@permissions.authenticated
def prepare_contract(dossier_id: int):
    return _panel_action(
        dossier_id,
        lambda dossier: contracts.prepare(dossier, actor=current_user),
        success="Convention préparée : les porteurs sont invités à la signer.",
    )


@bp.post("/dossiers/<int:dossier_id>/convention/signature")
@permissions.authenticated
def sign_contract(dossier_id: int):
    form = SignForm()

    def run(dossier):
        files = uploaded_files(request.files, "signed_file")
        return contracts.sign(
            dossier,
            signed_on=form.signed_on.data,
            signatories=form.signatories.data or "",
            signed_file=files[0] if files else None,
            max_bytes=_max_bytes(),
            actor=current_user,
        )

    return _panel_action(
        dossier_id, run, success="Signature enregistrée : le dossier est conventionné.", form=form, key="sign"
    )


@bp.post("/dossiers/<int:dossier_id>/convention/suivi")
@permissions.authenticated
def start_follow_up(dossier_id: int):
    return _panel_action(
        dossier_id,
        lambda dossier: contracts.start_follow_up(dossier, actor=current_user),
        success="Suivi démarré : le porteur renseigne désormais la page de suivi.",
    )


@bp.post("/dossiers/<int:dossier_id>/proposer")
@permissions.authenticated
def propose(dossier_id: int):
    dossier = _load_dossier(dossier_id)
    if not permissions.can_propose_for_agenda(current_user, dossier):
        abort(403)
    form = ProposeForm()
    return _panel_action(
        dossier_id,
        lambda d: proposals.propose_dossier(d, reason=form.reason.data or "", actor=current_user),
        success="Dossier proposé au comité : le secrétariat l'inscrira à l'ordre du jour.",
        anchor="proposition",
        form=form,
        key="propose",
    )
