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
from ..forms.followup import (
    FORMS,
    ActionForm,
    AvenantForm,
    AvenantSignForm,
    CloseForm,
    ProposeForm,
    ReasonForm,
    ReleaseForm,
    ReviewForm,
    SignForm,
    TrancheForm,
)
from ..htmx import render
from ..models.committees import AgendaItem, Meeting
from ..models.dossiers import Dossier, DossierState
from ..models.followup import AvenantState, TrancheState
from ..queries import committees as committee_queries
from ..queries import dossiers as dossier_queries
from ..services import avenants, contracts, proposals, tranches
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
    state.app.jinja_env.globals.update(dossier_panel=_panel, contract_avenants=_contract_avenants)


def _contract_avenants(dossier) -> list:
    """The signed avenants of a contract, for its §8 (dossier page and PDF); no query before the contract."""
    if dossier.state not in DossierState.FOLLOWUP_VISIBLE:
        return []
    return [
        (a, avenants.changes_text(a))
        for a in avenants.avenants_of(dossier)
        if a.state_enum == AvenantState.SIGNE
    ]


def _panel(dossier, forms: dict | None = None) -> dict:
    """What the dossier page shows after instruction: the proposal to the committee, the contract steps."""
    forms = forms or {}
    can_propose = permissions.can_propose_for_agenda(current_user, dossier)
    return {
        "forms": forms,
        "contract": contracts.contract_of(dossier),
        "refusal": contracts.contract_refusal(dossier),
        "can_manage": permissions.can_manage_contract(current_user, dossier),
        "can_propose": can_propose,
        "proposal": proposals.open_proposal(dossier),
        # named on the « Proposer au … » button only: not looked up (every committee read) for anyone else
        "committee": proposals.deciding_committee(dossier) if can_propose else None,
        "action_form": forms.get("action") or ActionForm(formdata=None),
        "sign_form": forms.get("sign") or SignForm(formdata=None),
        "propose_form": forms.get("propose") or ProposeForm(formdata=None),
    }


def _followed_dossier(dossier_id: int) -> Dossier:
    """A dossier the user may see (dossier rules), or one on an agenda of a committee the user belongs to."""
    dossier = dossier_queries.followed_by_id(current_user, dossier_id)
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
    forms["tranche"] = bound if isinstance(bound, TrancheForm) else TrancheForm(formdata=None)
    forms["avenant"] = bound if isinstance(bound, AvenantForm) else AvenantForm(formdata=None)
    forms["avenant"].jalon.choices = [("", "— aucun —")] + [
        (jalon.id, f"n° {jalon.number} — {jalon.description} ({jalon.due_on:%d/%m/%Y})")
        for jalon in dossier.jalons
    ]
    return forms


# A tranche's or an avenant's own forms (prefixed by the row, so that several share the page):
# (kind, action) → form class; kind « tranche » or « avenant ».
ROW_FORMS = {
    ("tranche", "deblocage"): ReleaseForm,
    ("tranche", "suspension"): ReasonForm,
    ("tranche", "annulation"): ReasonForm,
    ("tranche", "reprise"): ReasonForm,
    ("avenant", "signature"): AvenantSignForm,
    ("avenant", "abandon"): ReasonForm,
}


def _row_form(kind: str, row_id: int, action: str, posted: dict | None = None):
    """The posted form of that row and action (its input and messages), else a fresh one."""
    if posted and (kind, row_id, action) in posted:
        return posted[(kind, row_id, action)]
    return ROW_FORMS[(kind, action)](formdata=None, prefix=f"{kind}-{row_id}-{action}")


# What the page reads of the dossier's own rows: the planned credits, jalons and savings the reports face.
SHOWN_ROWS = ("financing_lines", "savings_lines", "staff_savings", "jalons")


def _render(dossier, status: int = 200, bound=None, review_errors: dict | None = None, row_errors=None):
    dossier_queries.load_collections(dossier, SHOWN_ROWS)
    contract = contracts.contract_of(dossier)
    # a closed follow-up: the yearly targets as they stood on its final assessment
    closed_on = paris(contract.closed_at).date() if contract and contract.closed_at else None
    follow = service.followup(dossier, targets_on=closed_on)
    contracted = dossier.state in DossierState.FOLLOWUP_VISIBLE  # before the contract: none of either
    avenant_rows = avenants.avenants_of(dossier) if contracted else []
    granted, by_avenant = avenants.granted_total(dossier, avenant_rows, decision=follow.decision_total)
    tranche_rows = tranches.tranches_of(dossier) if contracted else []
    decides = permissions.can_decide_tranche(current_user, dossier) and service.is_followed(dossier)
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
        late_jalons=follow.late,
        trail=committee_queries.trail(dossier_id=dossier.id, user=current_user),
        tranches=tranche_rows,
        tranche_warnings=tranches.warnings(dossier, tranche_rows, granted=granted) if decides else [],
        committed=tranches.committed(tranche_rows),
        granted=granted,
        granted_by=by_avenant,
        avenants=avenant_rows,
        avenant_changes=avenants.changes_text,
        can_decide_tranche=decides,
        can_record_avenant=permissions.can_record_avenant(current_user, dossier)
        and service.is_followed(dossier),
        row_form=lambda kind, row_id, action: _row_form(kind, row_id, action, row_errors),
        tranche_actions=TRANCHE_ACTIONS,
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


# --- tranches and avenants: the secretariat decides, the porteurs and instructeurs read -----------------

TRANCHE_ACTIONS = {  # target state → (the URL's action, the button)
    TrancheState.DEBLOQUEE: ("deblocage", "Débloquer la tranche"),
    TrancheState.SUSPENDUE: ("suspension", "Suspendre la tranche"),
    TrancheState.ANNULEE: ("annulation", "Annuler la tranche"),
    TrancheState.PREVUE: ("reprise", "Lever la suspension"),
}
MESSAGES = {
    "deblocage": "Tranche débloquée : les porteurs et les instructeurs sont prévenus.",
    "suspension": "Tranche suspendue.",
    "annulation": "Tranche annulée.",
    "reprise": "Suspension levée : la tranche est de nouveau prévue.",
    "signature": "Avenant signé : ses modifications s'appliquent au dossier.",
    "abandon": "Avenant abandonné.",
}


@bp.post("/dossiers/<int:dossier_id>/suivi/tranches")
@permissions.authenticated
def plan_tranche(dossier_id: int):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_decide_tranche(current_user, dossier):
        abort(403)
    form = TrancheForm()
    if not form.validate_on_submit():
        return _render(dossier, status=422, bound=form)
    return perform(
        lambda: tranches.plan(
            dossier,
            planned_amount=form.planned_amount.data,
            planned_year=form.planned_year.data,
            planned_quarter=form.planned_quarter.data,
            conditions=form.conditions.data or "",
            actor=current_user,
        ),
        form=form,
        success=lambda tranche: f"Tranche n° {tranche.number} prévue.",
        location=url_for(".show", dossier_id=dossier.id, _anchor="tranches"),
        failure=lambda status: _render(_followed_dossier(dossier_id), status=status, bound=form),
    )


@bp.post(
    "/dossiers/<int:dossier_id>/suivi/tranches/<int:tranche_id>"
    "/<any(deblocage, suspension, annulation, reprise):action>"
)
@permissions.authenticated
def move_tranche(dossier_id: int, tranche_id: int, action: str):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_decide_tranche(current_user, dossier):
        abort(403)
    form = ROW_FORMS[("tranche", action)](prefix=f"tranche-{tranche_id}-{action}")
    run = {
        "deblocage": tranches.release,
        "suspension": tranches.suspend,
        "annulation": tranches.cancel,
        "reprise": tranches.resume,
    }[action]
    message = MESSAGES[action]
    values = {name: f.data for name, f in form._fields.items() if name != "csrf_token"}
    return _row_action(
        dossier_id,
        "tranche",
        tranche_id,
        action,
        form,
        message,
        "tranches",
        lambda: run(dossier, tranche_id=tranche_id, **values, actor=current_user),
    )


@bp.post("/dossiers/<int:dossier_id>/suivi/avenants")
@permissions.authenticated
def draft_avenant(dossier_id: int):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_record_avenant(current_user, dossier):
        abort(403)
    form = AvenantForm()
    if not form.validate_on_submit():
        return _render(dossier, status=422, bound=form)
    return perform(
        lambda: avenants.draft(
            dossier,
            object=form.object.data or "",
            new_amount=form.new_amount.data,
            new_ends_on=form.new_ends_on.data,
            jalon_id=form.jalon.data,
            jalon_new_due_on=form.jalon_new_due_on.data,
            actor=current_user,
        ),
        form=form,
        success=lambda avenant: (
            f"Avenant n° {avenant.number} enregistré en projet : enregistrez sa signature."
        ),
        location=url_for(".show", dossier_id=dossier.id, _anchor="avenants"),
        failure=lambda status: _render(_followed_dossier(dossier_id), status=status, bound=form),
    )


@bp.post("/dossiers/<int:dossier_id>/suivi/avenants/<int:avenant_id>/<any(signature, abandon):action>")
@permissions.authenticated
def move_avenant(dossier_id: int, avenant_id: int, action: str):
    dossier = _followed_dossier(dossier_id)
    if not permissions.can_record_avenant(current_user, dossier):
        abort(403)
    form = ROW_FORMS[("avenant", action)](prefix=f"avenant-{avenant_id}-{action}")
    run = {"signature": avenants.sign, "abandon": avenants.abandon}[action]
    message = MESSAGES[action]
    values = {name: f.data for name, f in form._fields.items() if name not in ("csrf_token", "signed_file")}
    if action == "signature":
        files = uploaded_files(request.files, form.signed_file.name)
        values |= {"signed_file": files[0] if files else None, "max_bytes": _max_bytes()}
    return _row_action(
        dossier_id,
        "avenant",
        avenant_id,
        action,
        form,
        message,
        "avenants",
        lambda: run(dossier, avenant_id=avenant_id, **values, actor=current_user),
    )


def _row_action(dossier_id: int, kind: str, row_id: int, action: str, form, message: str, anchor: str, run):
    def failure(status):
        return _render(
            _followed_dossier(dossier_id),
            status=status,
            bound=form,  # its refusal shown above the page when the row's forms are not (follow-up closed)
            row_errors={(kind, row_id, action): form},
        )

    if not form.validate_on_submit():
        return failure(422)
    return perform(
        run,
        form=form,
        success=message,
        location=url_for(".show", dossier_id=dossier_id, _anchor=anchor),
        failure=failure,
    )
