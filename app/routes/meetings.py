"""Meetings of a committee: planning, the meeting page (agenda, documents, publish, open, cancel), the live
meeting (attendance, quorum, votes, decisions) and the decision pages (amend, rectify).

Routes of the `committees` blueprint (URLs under /comites), declared here by sub-domain.
"""

from collections.abc import Callable
from typing import NamedTuple

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import permissions
from ..extensions import db
from ..formatting import format_number, plural
from ..forms.committees import (
    AttendanceForm,
    CancelForm,
    DecisionForm,
    DocumentForm,
    EmptyForm,
    ItemForm,
    MeetingForm,
    RectifyForm,
    VoteForm,
    local_value,
)
from ..htmx import render
from ..models import Opportunity, User
from ..models.committees import OUTCOMES_BY_KIND, AttendanceStatus, ItemKind, MeetingState
from ..models.proposals import AgendaProposal
from ..queries import committees as queries
from ..services import decisions, meetings, proposals
from ..services.errors import ValidationFailed
from .actions import perform
from .committees import _at, _Caught, _committee, _item, _meeting, _swapped, _with_amounts, bp


def _render_meeting_form(form, committee, meeting, status):
    return render(
        "committees/meeting_form.html",
        block="form",
        status=status,
        form=form,
        committee=committee,
        meeting=meeting,
    )


@bp.route("/<code>/seances/nouvelle", methods=["GET", "POST"])
@permissions.authenticated
def plan(code: str):
    committee = _committee(code)
    if not permissions.can_plan_meeting(current_user, committee):
        abort(403)
    form = MeetingForm()
    if request.method == "GET":
        form.duration_minutes.data = str(committee.meeting_minutes)
        form.place.data = committee.default_place
    if form.validate_on_submit():
        return perform(
            lambda: meetings.plan_meeting(
                committee,
                starts_at=form.starts_at_utc,
                duration_minutes=form.duration_minutes.data,
                place=form.place.data or "",
                visio_url=form.visio_url.data or "",
                title=form.title.data or "",
                actor=current_user,
            ),
            form=form,
            success="Séance planifiée.",
            location=lambda meeting: url_for(".meeting", meeting_id=meeting.id),
            failure=lambda status: _render_meeting_form(form, _committee(code), None, status),
        )
    return _render_meeting_form(form, committee, None, 422 if form.is_submitted() else 200)


# --- meetings -------------------------------------------------------------------------------------------


@bp.get("/seances/<int:meeting_id>")
@permissions.authenticated
def meeting(meeting_id: int):
    meeting = queries.meeting_page(meeting_id, current_user)
    if meeting is None:
        abort(404)
    return _render_meeting(meeting)


def _item_form(formdata=None) -> ItemForm:
    form = ItemForm(formdata=formdata)
    if formdata is None:  # the page: a search made without JavaScript comes back in its address
        form.opportunity_search.data = request.args.get("opportunity_search")
        form.dossier_search.data = request.args.get("dossier_search")
        if form.dossier_search.data is not None and form.opportunity_search.data is None:
            form.kind.data = ItemKind.DOSSIER.value
    return form


class _CandidateKind(NamedTuple):
    """A kind of candidate of the agenda builder: its search field, radios, query and French words."""

    search: str
    choice: str
    find: Callable
    one: str
    many: str
    shown: str  # « 20 opportunités affichées sur 137 »
    no_match: str  # « Aucune opportunité ne correspond à « … ». »
    none_left: str  # nothing to put on the agenda at all
    not_searched: str  # the page before any search


_CANDIDATES = {
    "opportunites": _CandidateKind(
        "opportunity_search",
        "opportunity",
        queries.opportunity_candidates,
        "opportunité",
        "opportunités",
        "affichées",
        "Aucune opportunité ne correspond à « {} ».",
        "Aucune opportunité n'est au stade sur lequel ce comité décide.",
        "Recherchez l'opportunité à inscrire (une recherche vide affiche les premières).",
    ),
    "dossiers": _CandidateKind(
        "dossier_search",
        "dossier",
        queries.dossier_candidates,
        "dossier",
        "dossiers",
        "affichés",
        "Aucun dossier ne correspond à « {} ».",
        "Aucun dossier instruit n'attend une décision de ce comité.",
        "Recherchez le dossier à inscrire (une recherche vide affiche les premiers).",
    ),
}


def _candidates_summary(candidates, kind: _CandidateKind) -> str:
    """What a search found, shown above its matches and announced after each swap."""
    if not candidates.total:
        return kind.no_match.format(candidates.query) if candidates.query else kind.none_left
    asked = f" pour « {candidates.query} »" if candidates.query else ""
    if candidates.total > len(candidates.rows):
        shown = f"{len(candidates.rows)} {kind.many} {kind.shown} sur {format_number(candidates.total)}"
        return f"{shown}{asked} : précisez la recherche."
    return f"{plural(candidates.total, kind.one, kind.many)}{asked}."


def _offer_candidates(meeting, form: ItemForm, only: str | None = None) -> dict[str, str]:
    """Sets the radios of the agenda builder to the first matches of its searches, once one was made (an empty
    one lists the first candidates) or a candidate picked (a form shown again: listed first). A message
    about a choice with no radio to show goes to its search field. Returns the summary of each kind."""
    summaries = {}
    for name, kind in _CANDIDATES.items():
        if only and name != only:
            continue
        search, choice = form[kind.search], form[kind.choice]
        picked = int(choice.data) if (choice.data or "").isdigit() else None
        if search.data is None and picked is None:
            summaries[name] = kind.not_searched
        else:
            candidates = kind.find(meeting, search.data or "", keep=picked)
            choice.choices = [(str(id_), label) for id_, label in candidates.rows]
            summaries[name] = _candidates_summary(candidates, kind)
        if choice.errors and not choice.choices:
            search.errors, choice.errors = list(choice.errors), []
    return summaries


def _builds_agenda(meeting) -> bool:
    return meeting.state == MeetingState.PLANIFIEE and permissions.can_run_meeting(current_user, meeting)


@bp.get("/seances/<int:meeting_id>/candidats/<any(opportunites, dossiers):kind>")
@permissions.authenticated
def candidates(meeting_id: int, kind: str):
    """The agenda builder's search (htmx, each keystroke after a pause): the first matches as radios."""
    meeting = queries.meeting_header(meeting_id, current_user)
    if meeting is None:
        abort(404)
    if not _builds_agenda(meeting):
        abort(403)
    form = ItemForm(formdata=None)
    wanted = _CANDIDATES[kind]
    form[wanted.search].data = request.args.get(wanted.search, "")
    summaries = _offer_candidates(meeting, form, only=kind)
    return render("committees/_candidates.html", choice=form[wanted.choice], summary=summaries[kind])


def _render_meeting(meeting, status=200, item_form=None, cancel_form=None, block=None):
    planned = meeting.state == MeetingState.PLANIFIEE
    builds = _builds_agenda(meeting)
    item_form = item_form or _item_form()
    open_proposals = meetings.proposal_candidates(meeting) if planned else []  # read once, used twice
    return render(
        "committees/meeting.html",
        block=block,
        status=status,
        meeting=meeting,
        dossier_links=meetings.dossier_documents_of([i.dossier_id for i in meeting.items if i.dossier_id]),
        quorum=meetings.quorum(meeting) if meeting.state in MeetingState.IN_SESSION else None,
        item_form=item_form,
        candidate_summaries=_offer_candidates(meeting, item_form) if builds else {},
        builds_agenda=builds,
        cancel_form=cancel_form or CancelForm(formdata=None),
        empty_form=EmptyForm(),
        followups=meetings.followup_candidates(meeting, open_proposals) if planned else [],
        proposals=open_proposals,
    )


@bp.route("/seances/<int:meeting_id>/modifier", methods=["GET", "POST"])
@permissions.authenticated
def edit_meeting(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = MeetingForm(obj=meeting if request.method == "GET" else None)
    if request.method == "GET":
        form.starts_at.data = local_value(meeting.starts_at)
        form.duration_minutes.data = str(meeting.duration_minutes)

    def failure(status):
        current = _meeting(meeting_id)
        if status == 409:  # saved by somebody else meanwhile: the next save is against that version
            form.version.data = current.version
        return _render_meeting_form(form, current.committee, current, status)

    if form.validate_on_submit():
        return perform(
            lambda: meetings.update_meeting(
                meeting,
                starts_at=form.starts_at_utc,
                duration_minutes=form.duration_minutes.data,
                place=form.place.data or "",
                visio_url=form.visio_url.data or "",
                title=form.title.data or "",
                version=form.version.data or 0,
                actor=current_user,
            ),
            form=form,
            success="Séance modifiée.",
            location=url_for(".meeting", meeting_id=meeting.id),
            failure=lambda status: failure(422 if status == 403 else status),
        )
    return _render_meeting_form(form, meeting.committee, meeting, 422 if form.is_submitted() else 200)


def _meeting_action(meeting_id: int, action, success: str, location: str | None = None):
    """A button on the meeting page (publish, open, remove an item): refused → 422 with the message."""
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)

    def failure(status):
        if status == 403:
            abort(403)
        for message in form.form_errors:
            flash(message, "error")
        return _render_meeting(_meeting(meeting_id), status=422, block="actions")

    return perform(
        lambda: action(meeting),
        form=form,
        success=success,
        location=location or url_for(".meeting", meeting_id=meeting.id),
        failure=failure,
    )


@bp.post("/seances/<int:meeting_id>/publier")
@permissions.authenticated
def publish_agenda(meeting_id: int):
    return _meeting_action(
        meeting_id,
        lambda m: meetings.publish_agenda(m, actor=current_user),
        "Ordre du jour publié : les membres et les porteurs concernés sont prévenus.",
    )


@bp.post("/seances/<int:meeting_id>/ouvrir")
@permissions.authenticated
def open_meeting(meeting_id: int):
    return _meeting_action(
        meeting_id,
        lambda m: meetings.open_meeting(m, actor=current_user),
        "Séance ouverte.",
        location=url_for(".live", meeting_id=meeting_id),
    )


@bp.post("/seances/<int:meeting_id>/annuler")
@permissions.authenticated
def cancel(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = CancelForm()

    def failure(status):
        return _render_meeting(_meeting(meeting_id), status=422, cancel_form=form, block="actions")

    if not form.validate_on_submit():
        return failure(422)
    return perform(
        _at("reason", lambda: meetings.cancel_meeting(meeting, reason=form.reason.data, actor=current_user)),
        form=form,
        success="Séance annulée.",
        location=url_for(".meeting", meeting_id=meeting.id),
        failure=failure,
    )


@bp.post("/seances/<int:meeting_id>/points")
@permissions.authenticated
def add_item(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = _item_form(formdata=request.form)

    def failure(status):
        return _render_meeting(_meeting(meeting_id), status=422, item_form=form, block="agenda")

    if not form.validate_on_submit():
        return failure(422)
    opportunity = (
        db.session.get(Opportunity, int(form.opportunity.data))
        if (form.opportunity.data or "").isdigit()
        else None
    )
    dossier_id = int(form.dossier.data) if (form.dossier.data or "").isdigit() else None
    flags = form.flags.data if form.kind.data == ItemKind.SUIVI else []
    response = perform(
        lambda: meetings.add_item(
            meeting,
            kind=form.kind.data,
            opportunity=opportunity,
            dossier_id=dossier_id,
            title=form.title.data or "",
            proposal=form.proposal.data or "",
            followup_flags=flags,
            actor=current_user,
        ),
        form=form,
        success="Point ajouté à l'ordre du jour.",
        location=url_for(".meeting", meeting_id=meeting.id, _anchor="ordre-du-jour"),
        failure=failure,
    )
    return _swapped(response, lambda: _render_meeting(_meeting(meeting_id), block="agenda"))


def _proposal(meeting, proposal_id: int) -> AgendaProposal:
    proposal = db.session.get(AgendaProposal, proposal_id)
    if proposal is None or proposal.committee_id != meeting.committee_id:
        abort(404)
    return proposal


@bp.post("/seances/<int:meeting_id>/propositions/<int:proposal_id>/<any(inscrire, ecarter):action>")
@permissions.authenticated
def proposal(meeting_id: int, proposal_id: int, action: str):
    """One click on a proposal of the agenda builder: put it on this meeting's agenda, or set it aside."""
    meeting = _meeting(meeting_id)
    item = _proposal(meeting, proposal_id)
    if action == "inscrire":
        return _meeting_action(
            meeting_id,
            lambda m: meetings.accept_proposal(m, item, actor=current_user),
            "Proposition inscrite à l'ordre du jour.",
            location=url_for(".meeting", meeting_id=meeting_id, _anchor="ordre-du-jour"),
        )
    return _meeting_action(
        meeting_id,
        lambda m: proposals.set_aside(item, actor=current_user),
        "Proposition écartée.",
        location=url_for(".meeting", meeting_id=meeting_id, _anchor="propositions"),
    )


@bp.post("/seances/<int:meeting_id>/points/<int:item_id>/retirer")
@permissions.authenticated
def remove_item(meeting_id: int, item_id: int):
    item = _item(_meeting(meeting_id), item_id)
    return _meeting_action(
        meeting_id,
        lambda m: meetings.remove_item(item, actor=current_user),
        "Point retiré de l'ordre du jour.",
        location=url_for(".meeting", meeting_id=meeting_id, _anchor="ordre-du-jour"),
    )


@bp.route("/seances/<int:meeting_id>/points/<int:item_id>/documents", methods=["GET", "POST"])
@permissions.authenticated
def add_document(meeting_id: int, item_id: int):
    """A page of its own for joining a document to a point: the meeting page links to it from each point
    (one form per point of a long agenda would make that page grow with it)."""
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = DocumentForm()

    def page(status):
        return render("committees/document_form.html", block="form", status=status, form=form, item=item)

    if form.validate_on_submit():
        return perform(
            lambda: meetings.add_document(
                item, label=form.label.data, url=form.url.data or "", actor=current_user
            ),
            form=form,
            success="Document joint.",
            location=url_for(".meeting", meeting_id=meeting.id, _anchor=f"point-{item.id}"),
            failure=page,
        )
    return page(422 if form.is_submitted() else 200)


# --- live meeting ---------------------------------------------------------------------------------------


def _render_live(
    meeting,
    status=200,
    errors: dict | None = None,
    decision_forms: dict | None = None,
    focus: str | None = None,
):
    attendance = meetings.attendance_of(meeting)
    voting_present = [
        a.user for a in meeting.attendances if a.status == AttendanceStatus.PRESENT and a.function_enum.votes
    ]
    forms = {}
    for item in meeting.items:
        forms[item.id] = (decision_forms or {}).get(item.id) or _decision_form(item, formdata=None)
    verdicts = {
        item.id: decisions.verdict(item)
        for item in meeting.items
        if not item.decisions and any(True for _ in item.votes)
    }
    tallies = {item.id: decisions.tally(item) for item in meeting.items}
    return render(
        "committees/live.html",
        block="live",
        status=status,
        meeting=meeting,
        quorum=meetings.quorum(meeting),
        attendance=attendance,
        voting_present=voting_present,
        decision_forms=forms,
        verdicts=verdicts,
        tallies=tallies,
        errors=errors or {},
        focus=focus,
        empty_form=EmptyForm(),
        AttendanceStatus=AttendanceStatus,
    )


def _decision_form(item, formdata=None, cls=DecisionForm):
    form = cls(formdata=formdata, prefix=f"d{item.id}")
    form.outcome.choices = [(o.value, o.label) for o in OUTCOMES_BY_KIND[item.kind_enum]]
    return form


@bp.get("/seances/<int:meeting_id>/direct")
@permissions.authenticated
def live(meeting_id: int):
    meeting = _meeting(meeting_id)
    if meeting.state not in MeetingState.IN_SESSION:
        return redirect(url_for(".meeting", meeting_id=meeting.id))
    return _render_live(meeting)


@bp.get("/seances/<int:meeting_id>/quorum")
@permissions.authenticated
def quorum_live(meeting_id: int):
    meeting = _meeting(meeting_id)
    return render("committees/_quorum_live.html", meeting=meeting, quorum=meetings.quorum(meeting))


def _live_action(meeting_id: int, run, key: str, anchor: str, success=None):
    """An action of the live page (attendance, vote, decision): refused → the live block again, 422, with the
    message at `key`; done → the live block again (htmx) or 303 to the live page."""
    caught = _Caught(run)

    def failure(status):
        return _render_live(_meeting(meeting_id), status=422, errors={key: caught.error.message})

    response = perform(
        caught,
        success=success,
        location=url_for(".live", meeting_id=meeting_id, _anchor=anchor),
        failure=failure,
    )
    return _swapped(response, lambda: _render_live(_meeting(meeting_id)))


@bp.post("/seances/<int:meeting_id>/presence")
@permissions.authenticated
def attendance(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = AttendanceForm()
    if not form.validate_on_submit():
        return _render_live(meeting, status=422, errors={"attendance": "Formulaire de présence incomplet."})
    user = db.session.get(User, form.user_id.data) or abort(404)
    proxy = db.session.get(User, int(form.proxy.data)) if (form.proxy.data or "").isdigit() else None
    return _live_action(
        meeting_id,
        lambda: meetings.record_attendance(
            meeting, user=user, status=form.status.data, proxy=proxy, actor=current_user
        ),
        key=f"attendance-{user.id}",
        anchor="presence",
        success=lambda a: f"Présence enregistrée : {user.full_name}, {a.status_enum.label.lower()}.",
    )


@bp.post("/seances/<int:meeting_id>/presence/tous")
@permissions.authenticated
def all_present(meeting_id: int):
    """« Tous présents »: the exceptions are then recorded row by row."""
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return _live_action(
        meeting_id,
        lambda: meetings.mark_all_present(meeting, actor=current_user),
        key="attendance",
        anchor="presence",
        success=lambda rows: f"Présence enregistrée : {len(rows)} membre(s) marqué(s) présent(s).",
    )


@bp.post("/seances/<int:meeting_id>/points/<int:item_id>/votes")
@permissions.authenticated
def vote(meeting_id: int, item_id: int):
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    if not (
        permissions.can_run_meeting(current_user, meeting)
        or permissions.is_committee_member(current_user, meeting.committee)
    ):
        abort(403)
    form = VoteForm()
    if not form.validate_on_submit():
        return _render_live(
            meeting, status=422, errors={f"vote-{item.id}": "Choisissez pour, contre ou abstention."}
        )
    voter = db.session.get(User, form.voter_id.data) or abort(404)
    # NotAllowed included: a member voting for another is told why, on the live page
    return _live_action(
        meeting_id,
        lambda: decisions.cast_vote(item, voter=voter, choice=form.choice.data, actor=current_user),
        key=f"vote-{item.id}",
        anchor=f"point-{item.id}",
        success=lambda v: (
            f"Vote de {voter.full_name} enregistré sur le point {item.position} : "
            f"{v.choice_enum.label.lower()}."
        ),
    )


def _amount_lines(form) -> list:
    return [
        decisions.AmountLine(e.form.year.data, e.form.ae.data, e.form.cp.data) for e in form.amounts.entries
    ]


def _decision_fields(form) -> dict:
    """What recording, amending and rectifying a decision share: the texts, the amounts, the confirmation."""
    return {
        "motivation": form.motivation.data or "",
        "conditions": form.conditions.data or "",
        "expectations": form.expectations.data or "",
        "amounts": _amount_lines(form),
        "confirm_above_request": form.confirm_above_request.data,
    }


@bp.post("/seances/<int:meeting_id>/points/<int:item_id>/decision")
@permissions.authenticated
def decide(meeting_id: int, item_id: int):
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    if not permissions.can_record_decision(current_user, meeting):
        abort(403)
    form = _decision_form(item, formdata=request.form)
    if not form.validate_on_submit():
        return _render_live(_meeting(meeting_id), status=422, decision_forms={item.id: form})
    caught = _Caught(
        _with_amounts(
            form,
            lambda: decisions.record_decision(
                item,
                outcome=form.outcome.data,
                mode=form.mode.data,
                **_decision_fields(form),
                actor=current_user,
            ),
        )
    )

    def failure(status):
        if isinstance(caught.error, ValidationFailed):
            for name, message in caught.error.errors.items():
                field = getattr(form, name, None)
                if field is not None and hasattr(field, "errors"):
                    field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
                else:
                    form.form_errors.append(message)
            errors = {}
        else:
            errors = {f"decision-{item.id}": caught.error.message}
        return _render_live(_meeting(meeting_id), status=422, errors=errors, decision_forms={item.id: form})

    response = perform(
        caught,
        success=f"Décision enregistrée sur le point {item.position}.",
        location=url_for(".live", meeting_id=meeting_id, _anchor=f"point-{item.id}"),
        failure=failure,
    )
    # the decision form is gone once decided: the focus goes to the point's heading (app.js data-app-focus)
    return _swapped(response, lambda: _render_live(_meeting(meeting_id), focus=f"point-title-{item.id}"))


# --- decisions ------------------------------------------------------------------------------------------


def _decision(decision_id: int):
    decision = queries.decision_by_id(decision_id, current_user)
    if decision is None:
        abort(404)
    return decision


@bp.get("/decisions/<int:decision_id>")
@permissions.authenticated
def decision(decision_id: int):
    decision = _decision(decision_id)
    return render("committees/decision.html", decision=decision)


def _prefill(form, decision) -> None:
    form.outcome.data = decision.outcome
    form.mode.data = decision.mode
    form.motivation.data = decision.motivation
    form.conditions.data = decision.conditions
    form.expectations.data = decision.expectations
    for entry, amount in zip(form.amounts.entries, decision.amounts, strict=False):
        entry.form.year.data, entry.form.ae.data, entry.form.cp.data = (
            str(amount.year),
            str(amount.ae),
            str(amount.cp),
        )


@bp.route("/decisions/<int:decision_id>/<any(modifier, rectifier):action>", methods=["GET", "POST"])
@permissions.authenticated
def change_decision(decision_id: int, action: str):
    decision = _decision(decision_id)
    if not permissions.can_record_decision(current_user, decision.meeting):
        abort(403)
    rectify = action == "rectifier"
    form = _decision_form(
        decision.item,
        formdata=request.form if request.method == "POST" else None,
        cls=RectifyForm if rectify else DecisionForm,
    )

    def failure(status):
        return render(
            "committees/decision_form.html",
            block="form",
            status=422,
            form=form,
            decision=_decision(decision_id),
            rectify=rectify,
        )

    if request.method == "GET":
        _prefill(form, decision)
        if rectify:
            form.motivation.data = ""
    elif form.validate_on_submit():

        def run():
            if rectify:
                return decisions.rectify_decision(
                    decision, outcome=form.outcome.data, **_decision_fields(form), actor=current_user
                )
            return decisions.amend_decision(decision, **_decision_fields(form), actor=current_user)

        return perform(
            _with_amounts(form, run),
            form=form,
            success="Décision rectificative enregistrée." if rectify else "Décision modifiée.",
            location=lambda new: url_for(".decision", decision_id=new.id),
            failure=failure,
        )
    else:
        return failure(422)
    return render(
        "committees/decision_form.html", block="form", form=form, decision=decision, rectify=rectify
    )
