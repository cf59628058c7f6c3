"""Committees: list, committee page and rules, meetings, agenda, live meeting (attendance, quorum, votes,
decisions), decisions (amend, rectify), minutes (+ PDF), register verification, ICS feeds."""

from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import permissions
from ..extensions import db
from ..forms.committees import (
    AttendanceForm,
    CancelForm,
    DecisionForm,
    DocumentForm,
    EmptyForm,
    GenerateForm,
    ItemForm,
    MemberForm,
    MinutesForm,
    RectifyForm,
    RulesForm,
    SessionForm,
    VoteForm,
    local_value,
)
from ..htmx import hx_redirect, is_htmx, render
from ..models import Guichet, User
from ..models.committees import (
    OUTCOMES_BY_KIND,
    AgendaItem,
    AttendanceStatus,
    ItemKind,
    MeetingState,
    MemberFunction,
)
from ..queries import committees as queries
from ..services import committees as service
from ..services.errors import DomainError, NotAllowed, StaleVersion, ValidationFailed

bp = Blueprint("committees", __name__, url_prefix="/comites")


@bp.record_once
def _register_globals(state):
    state.app.jinja_env.globals.update(
        committee_trail=_trail_for,
        committee_service=service,
        MemberFunction=MemberFunction,
        MeetingState=MeetingState,
    )


def _trail_for(opportunity=None, dossier_id=None):
    if opportunity is not None:
        return queries.trail(opportunity_id=opportunity.id, user=current_user)
    return queries.trail(dossier_id=dossier_id, user=current_user)


def _redirect(location: str):
    return hx_redirect(location) if is_htmx() else redirect(location, 303)


def _updated(location: str, fragment):
    """After a successful htmx POST, swap the updated region in place (a redirect to the same page with only a
    #fragment would not reload it); without JavaScript, 303 to the page."""
    if is_htmx():
        db.session.expire_all()
        return fragment()
    return redirect(location, 303)


def _apply_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        target = form
        if name.startswith("amounts-") and hasattr(form, "amounts"):
            _, index, sub = name.split("-")
            index = int(index)
            if index < len(form.amounts.entries):
                field = getattr(form.amounts.entries[index].form, sub)
                field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
                continue
        field = getattr(target, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            form.form_errors.append(message)


def _committee(code: str):
    committee = queries.committee_by_code(code)
    if committee is None:
        abort(404)
    return committee


def _meeting(meeting_id: int):
    meeting = queries.meeting_by_id(meeting_id, current_user)
    if meeting is None:
        abort(404)
    return meeting


def _item(meeting, item_id: int) -> AgendaItem:
    item = next((i for i in meeting.items if i.id == item_id), None)
    if item is None:
        abort(404)
    return item


# --- committees -----------------------------------------------------------------------------------------


@bp.get("")
@permissions.authenticated
def index():
    return render("committees/index.html", rows=queries.committees_with_next_meeting(current_user))


@bp.get("/<code>")
@permissions.authenticated
def show(code: str):
    committee = _committee(code)
    return _render_committee(committee)


def _render_committee(committee, status=200, member_form=None, generate_form=None, block=None):
    rule = None
    try:
        rule = service.recurrence_of(committee)
    except ValidationFailed:
        rule = None
    return render(
        "committees/show.html",
        block=block,
        status=status,
        committee=committee,
        members=service.members(committee),
        meetings=queries.meetings_of(committee, current_user),
        rule=rule,
        member_form=member_form or MemberForm(formdata=None),
        generate_form=generate_form or GenerateForm(formdata=None),
        empty_form=EmptyForm(),
    )


@bp.route("/<code>/regles", methods=["GET", "POST"])
@permissions.authenticated
def rules(code: str):
    committee = _committee(code)
    if not permissions.can_manage_committee(current_user, committee):
        abort(403)
    form = RulesForm(obj=committee if request.method == "GET" else None)
    form.guichets.choices = [
        (g.id, f"{g.code} — {g.name}") for g in db.session.scalars(db.select(Guichet).order_by(Guichet.code))
    ]
    if request.method == "GET":
        form.guichets.data = [g.id for g in committee.guichets]
        form.meeting_minutes.data = str(committee.meeting_minutes)
    if form.validate_on_submit():
        try:
            service.update_rules(
                committee,
                quorum_rule=form.quorum_rule.data,
                proxies_count_for_quorum=form.proxies_count_for_quorum.data,
                majority_rule=form.majority_rule.data,
                casting_vote=form.casting_vote.data,
                recurrence=form.recurrence.data or "",
                recurrence_time=form.recurrence_time.data or "",
                meeting_minutes=form.meeting_minutes.data,
                default_place=form.default_place.data or "",
                opportunity_stages=form.opportunity_stages.data or [],
                guichet_ids=form.guichets.data or [],
                actor=current_user,
            )
        except ValidationFailed as error:
            _apply_errors(form, error.errors)
        else:
            db.session.commit()
            flash(f"Règles du {committee.code} enregistrées.", "success")
            return _redirect(url_for(".show", code=committee.code))
    status = 422 if form.is_submitted() else 200
    return render("committees/rules.html", block="form", status=status, form=form, committee=committee)


@bp.post("/<code>/membres")
@permissions.authenticated
def add_member(code: str):
    committee = _committee(code)
    if not permissions.can_manage_committee(current_user, committee):
        abort(403)
    form = MemberForm()
    if form.validate_on_submit():
        user = queries.user_by_email(form.email.data)
        if user is None:
            form.email.errors = [
                f"Aucun agent n'a l'adresse « {form.email.data} » : il doit s'être connecté une fois."
            ]
        else:
            try:
                service.add_member(committee, user=user, function=form.function.data, actor=current_user)
            except ValidationFailed as error:
                _apply_errors(form, {("email" if k == "user" else k): v for k, v in error.errors.items()})
            else:
                db.session.commit()
                flash(f"{user.full_name} ajouté(e) au {committee.code}.", "success")
                return _updated(
                    url_for(".show", code=committee.code, _anchor="membres"),
                    lambda: _render_committee(_committee(code), block="members"),
                )
    return _render_committee(committee, status=422, member_form=form, block="members")


@bp.post("/<code>/membres/<int:user_id>/retirer")
@permissions.authenticated
def remove_member(code: str, user_id: int):
    committee = _committee(code)
    if not permissions.can_manage_committee(current_user, committee):
        abort(403)
    user = db.session.get(User, user_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    service.remove_member(committee, user=user, actor=current_user)
    db.session.commit()
    flash(f"{user.full_name} retiré(e) du {committee.code}.", "success")
    return _redirect(url_for(".show", code=committee.code, _anchor="membres"))


@bp.post("/<code>/seances/generer")
@permissions.authenticated
def generate(code: str):
    committee = _committee(code)
    if not permissions.can_plan_meeting(current_user, committee):
        abort(403)
    form = GenerateForm()
    if form.validate_on_submit():
        try:
            created = service.generate_meetings(
                committee, until=date.fromisoformat(form.until.data.strip()), actor=current_user
            )
        except DomainError as error:
            form.until.errors = [error.message]
        else:
            db.session.commit()
            flash(f"{len(created)} séance(s) générée(s).", "success")
            return _updated(
                url_for(".show", code=committee.code, _anchor="seances"),
                lambda: _render_committee(_committee(code), block="meetings"),
            )
    return _render_committee(committee, status=422, generate_form=form, block="meetings")


@bp.route("/<code>/seances/nouvelle", methods=["GET", "POST"])
@permissions.authenticated
def plan(code: str):
    committee = _committee(code)
    if not permissions.can_plan_meeting(current_user, committee):
        abort(403)
    form = SessionForm()
    if request.method == "GET":
        form.duration_minutes.data = str(committee.meeting_minutes)
        form.place.data = committee.default_place
    if form.validate_on_submit():
        try:
            meeting = service.plan_meeting(
                committee,
                starts_at=form.starts_at_utc,
                duration_minutes=form.duration_minutes.data,
                place=form.place.data or "",
                visio_url=form.visio_url.data or "",
                title=form.title.data or "",
                actor=current_user,
            )
        except ValidationFailed as error:
            _apply_errors(form, error.errors)
        else:
            db.session.commit()
            flash("Séance planifiée.", "success")
            return _redirect(url_for(".meeting", meeting_id=meeting.id))
    status = 422 if form.is_submitted() else 200
    return render(
        "committees/meeting_form.html",
        block="form",
        status=status,
        form=form,
        committee=committee,
        meeting=None,
    )


# --- meetings -------------------------------------------------------------------------------------------


@bp.get("/seances/<int:meeting_id>")
@permissions.authenticated
def meeting(meeting_id: int):
    return _render_meeting(_meeting(meeting_id))


def _item_form(meeting, formdata=None) -> ItemForm:
    form = ItemForm(formdata=formdata)
    form.opportunity.choices = [("", "— Choisir —")] + [
        (str(o.id), f"{o.code} — {o.brique} ({o.status_enum.label})")
        for o in service.opportunity_candidates(meeting)
    ]
    form.dossier.choices = [("", "— Choisir —")] + [
        (str(d.id), label) for d, label in service.dossier_bridge.candidates(meeting)
    ]
    return form


def _render_meeting(meeting, status=200, item_form=None, cancel_form=None, document_form=None, block=None):
    return render(
        "committees/meeting.html",
        block=block,
        status=status,
        meeting=meeting,
        quorum=service.quorum(meeting),
        item_form=item_form or _item_form(meeting),
        cancel_form=cancel_form or CancelForm(formdata=None),
        document_form=document_form or DocumentForm(formdata=None),
        empty_form=EmptyForm(),
        followups=service.dossier_bridge.followup_candidates(meeting)
        if meeting.state == MeetingState.PLANIFIEE
        else [],
    )


@bp.route("/seances/<int:meeting_id>/modifier", methods=["GET", "POST"])
@permissions.authenticated
def edit_meeting(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = SessionForm(obj=meeting if request.method == "GET" else None)
    if request.method == "GET":
        form.starts_at.data = local_value(meeting.starts_at)
        form.duration_minutes.data = str(meeting.duration_minutes)
    stale = None
    if form.validate_on_submit():
        try:
            service.update_meeting(
                meeting,
                starts_at=form.starts_at_utc,
                duration_minutes=form.duration_minutes.data,
                place=form.place.data or "",
                visio_url=form.visio_url.data or "",
                title=form.title.data or "",
                version=form.version.data or 0,
                actor=current_user,
            )
        except ValidationFailed as error:
            _apply_errors(form, error.errors)
        except StaleVersion as error:
            stale = error
            form.version.data = error.current.version
            form.form_errors.append(error.message)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash("Séance modifiée.", "success")
            return _redirect(url_for(".meeting", meeting_id=meeting.id))
    status = 409 if stale else (422 if form.is_submitted() else 200)
    return render(
        "committees/meeting_form.html",
        block="form",
        status=status,
        form=form,
        committee=meeting.committee,
        meeting=meeting,
    )


def _meeting_action(meeting_id: int, action, success: str, anchor: str | None = None):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        action(meeting)
    except NotAllowed:
        abort(403)
    except DomainError as error:
        db.session.rollback()
        meeting = _meeting(meeting_id)
        flash(error.message, "error")
        return _render_meeting(meeting, status=422, block="actions")
    db.session.commit()
    flash(success, "success")
    return _redirect(
        url_for(".meeting", meeting_id=meeting.id, _anchor=anchor)
        if anchor
        else url_for(".meeting", meeting_id=meeting.id)
    )


@bp.post("/seances/<int:meeting_id>/publier")
@permissions.authenticated
def publish_agenda(meeting_id: int):
    return _meeting_action(
        meeting_id,
        lambda s: service.publish_agenda(s, actor=current_user),
        "Ordre du jour publié : les membres et les porteurs concernés sont prévenus.",
    )


@bp.post("/seances/<int:meeting_id>/ouvrir")
@permissions.authenticated
def open_meeting(meeting_id: int):
    meeting = _meeting(meeting_id)
    response = _meeting_action(
        meeting_id, lambda s: service.open_meeting(s, actor=current_user), "Séance ouverte."
    )
    if response.status_code in (303, 204):
        return _redirect(url_for(".live", meeting_id=meeting.id))
    return response


@bp.post("/seances/<int:meeting_id>/annuler")
@permissions.authenticated
def cancel(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            service.cancel_meeting(meeting, reason=form.reason.data, actor=current_user)
        except ValidationFailed as error:
            _apply_errors(form, error.errors)
        except DomainError as error:
            form.reason.errors = [error.message]
        else:
            db.session.commit()
            flash("Séance annulée.", "success")
            return _redirect(url_for(".meeting", meeting_id=meeting.id))
    return _render_meeting(meeting, status=422, cancel_form=form, block="actions")


@bp.post("/seances/<int:meeting_id>/points")
@permissions.authenticated
def add_item(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = _item_form(meeting, formdata=request.form)
    if form.validate_on_submit():
        from ..models import Opportunity

        opportunity = (
            db.session.get(Opportunity, int(form.opportunity.data))
            if (form.opportunity.data or "").isdigit()
            else None
        )
        dossier_id = int(form.dossier.data) if (form.dossier.data or "").isdigit() else None
        flags = request.form.getlist("flags") if form.kind.data == ItemKind.SUIVI else []
        try:
            service.add_item(
                meeting,
                kind=form.kind.data,
                opportunity=opportunity,
                dossier_id=dossier_id,
                title=form.title.data or "",
                proposal=form.proposal.data or "",
                followup_flags=flags,
                actor=current_user,
            )
        except ValidationFailed as error:
            _apply_errors(form, error.errors)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash("Point ajouté à l'ordre du jour.", "success")
            return _updated(
                url_for(".meeting", meeting_id=meeting.id, _anchor="ordre-du-jour"),
                lambda: _render_meeting(_meeting(meeting_id), block="agenda"),
            )
    return _render_meeting(meeting, status=422, item_form=form, block="agenda")


@bp.post("/seances/<int:meeting_id>/points/<int:item_id>/retirer")
@permissions.authenticated
def remove_item(meeting_id: int, item_id: int):
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    return _meeting_action(
        meeting_id,
        lambda s: service.remove_item(item, actor=current_user),
        "Point retiré de l'ordre du jour.",
        anchor="ordre-du-jour",
    )


@bp.post("/seances/<int:meeting_id>/points/<int:item_id>/documents")
@permissions.authenticated
def add_document(meeting_id: int, item_id: int):
    meeting = _meeting(meeting_id)
    item = _item(meeting, item_id)
    if not permissions.can_run_meeting(current_user, meeting):
        abort(403)
    form = DocumentForm()
    if form.validate_on_submit():
        try:
            service.add_document(item, label=form.label.data, url=form.url.data or "", actor=current_user)
        except ValidationFailed as error:
            _apply_errors(form, error.errors)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash("Document joint.", "success")
            return _redirect(url_for(".meeting", meeting_id=meeting.id, _anchor=f"point-{item.id}"))
    return _render_meeting(meeting, status=422, document_form=form, block="agenda")


# --- live meeting ---------------------------------------------------------------------------------------


def _render_live(meeting, status=200, errors: dict | None = None, decision_forms: dict | None = None):
    attendance = service.attendance_of(meeting)
    voting_present = [
        a.user for a in meeting.attendances if a.status == AttendanceStatus.PRESENT and a.function_enum.votes
    ]
    forms = {}
    for item in meeting.items:
        forms[item.id] = (decision_forms or {}).get(item.id) or _decision_form(item, formdata=None)
    verdicts = {
        item.id: service.verdict(item)
        for item in meeting.items
        if not item.decisions and any(True for _ in item.votes)
    }
    tallies = {item.id: service.tally(item) for item in meeting.items}
    return render(
        "committees/live.html",
        block="live",
        status=status,
        meeting=meeting,
        quorum=service.quorum(meeting),
        attendance=attendance,
        voting_present=voting_present,
        decision_forms=forms,
        verdicts=verdicts,
        tallies=tallies,
        errors=errors or {},
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
    if meeting.state not in (MeetingState.ODJ_PUBLIE, MeetingState.TENUE):
        return redirect(url_for(".meeting", meeting_id=meeting.id))
    return _render_live(meeting)


@bp.get("/seances/<int:meeting_id>/quorum")
@permissions.authenticated
def quorum_live(meeting_id: int):
    meeting = _meeting(meeting_id)
    return render("committees/_quorum_live.html", meeting=meeting, quorum=service.quorum(meeting))


def _live_error(meeting_id: int, key: str, message: str):
    db.session.rollback()
    return _render_live(_meeting(meeting_id), status=422, errors={key: message})


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
    try:
        service.record_attendance(
            meeting, user=user, status=form.status.data, proxy=proxy, actor=current_user
        )
    except (ValidationFailed, DomainError) as error:
        return _live_error(meeting_id, f"attendance-{user.id}", error.message)
    db.session.commit()
    if is_htmx():
        return _render_live(_meeting(meeting_id))
    return redirect(url_for(".live", meeting_id=meeting_id, _anchor="presence"), 303)


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
    try:
        service.cast_vote(item, voter=voter, choice=form.choice.data, actor=current_user)
    except DomainError as error:  # NotAllowed included: a member voting for another is told why
        return _live_error(meeting_id, f"vote-{item.id}", error.message)
    db.session.commit()
    if is_htmx():
        return _render_live(_meeting(meeting_id))
    return redirect(url_for(".live", meeting_id=meeting_id, _anchor=f"point-{item.id}"), 303)


def _amount_lines(form) -> list:
    return [
        service.AmountLine(e.form.year.data, e.form.ae.data, e.form.cp.data) for e in form.amounts.entries
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
    errors = {}
    if form.validate_on_submit():
        try:
            service.record_decision(
                item,
                outcome=form.outcome.data,
                mode=form.mode.data,
                **_decision_fields(form),
                actor=current_user,
            )
        except ValidationFailed as error:
            db.session.rollback()
            _apply_errors(form, error.errors)
        except DomainError as error:
            db.session.rollback()
            errors[f"decision-{item.id}"] = error.message
        else:
            db.session.commit()
            flash(f"Décision enregistrée sur le point {item.position}.", "success")
            if is_htmx():
                return _render_live(_meeting(meeting_id))
            return redirect(url_for(".live", meeting_id=meeting_id, _anchor=f"point-{item.id}"), 303)
    meeting = _meeting(meeting_id)
    return _render_live(meeting, status=422, errors=errors, decision_forms={item.id: form})


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
    if request.method == "GET":
        _prefill(form, decision)
        if rectify:
            form.motivation.data = ""
    elif form.validate_on_submit():
        try:
            if rectify:
                new = service.rectify_decision(
                    decision, outcome=form.outcome.data, **_decision_fields(form), actor=current_user
                )
            else:
                new = service.amend_decision(decision, **_decision_fields(form), actor=current_user)
        except ValidationFailed as error:
            db.session.rollback()
            _apply_errors(form, error.errors)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash("Décision rectificative enregistrée." if rectify else "Décision modifiée.", "success")
            return _redirect(url_for(".decision", decision_id=new.id))
        decision = _decision(decision_id)
    status = 422 if request.method == "POST" else 200
    return render(
        "committees/decision_form.html",
        block="form",
        status=status,
        form=form,
        decision=decision,
        rectify=rectify,
    )


# --- minutes --------------------------------------------------------------------------------------------


@bp.route("/seances/<int:meeting_id>/proces-verbal", methods=["GET", "POST"])
@permissions.authenticated
def minutes(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_view_minutes(current_user, meeting):
        abort(403 if meeting.minutes is not None else 404)
    form = MinutesForm(obj=meeting.minutes if request.method == "GET" else None)
    item_notes = {i.id: i.notes for i in meeting.items}
    if request.method == "POST":
        if not permissions.can_run_meeting(current_user, meeting):
            abort(403)
        item_notes = {i.id: request.form.get(f"item-{i.id}", "") for i in meeting.items}
        if form.validate_on_submit():
            try:
                service.save_minutes(
                    meeting,
                    notes=form.notes.data or "",
                    item_notes=item_notes,
                    version=form.version.data or 0,
                    actor=current_user,
                )
            except ValidationFailed as error:
                _apply_errors(form, error.errors)
            except StaleVersion as error:
                form.form_errors.append(error.message)
                form.version.data = error.current.version
            except DomainError as error:
                form.form_errors.append(error.message)
            else:
                db.session.commit()
                flash("Procès-verbal enregistré.", "success")
                return _redirect(url_for(".minutes", meeting_id=meeting.id))
    status = 422 if request.method == "POST" else 200
    return render(
        "committees/minutes.html",
        block="form",
        status=status,
        meeting=meeting,
        form=form,
        item_notes=item_notes,
        empty_form=EmptyForm(),
    )


@bp.post("/seances/<int:meeting_id>/proces-verbal/<any(relire, publier):action>")
@permissions.authenticated
def minutes_action(meeting_id: int, action: str):
    meeting = _meeting(meeting_id)
    allowed = permissions.can_review_minutes if action == "relire" else permissions.can_run_meeting
    if not allowed(current_user, meeting):
        abort(403)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        if action == "relire":
            service.review_minutes(meeting, actor=current_user)
        else:
            service.publish_minutes(meeting, actor=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".minutes", meeting_id=meeting_id), 303)
    db.session.commit()
    flash(
        "Procès-verbal relu."
        if action == "relire"
        else "Procès-verbal publié : les décisions sont définitives et les intéressés prévenus.",
        "success",
    )
    return _redirect(url_for(".minutes", meeting_id=meeting_id))


@bp.get("/seances/<int:meeting_id>/proces-verbal.pdf")
@permissions.authenticated
def minutes_pdf(meeting_id: int):
    from weasyprint import CSS, HTML

    meeting = _meeting(meeting_id)
    if not permissions.can_view_minutes(current_user, meeting):
        abort(403 if meeting.minutes is not None else 404)
    html = render_template("committees/minutes_pdf.html", meeting=meeting, quorum=service.quorum(meeting))
    css = CSS(string=render_template("committees/minutes_pdf.css"))
    pdf = HTML(string=html, base_url=current_app.config["BASE_URL"]).write_pdf(stylesheets=[css])
    name = f"proces-verbal-{meeting.committee.code.lower()}-{meeting.starts_at:%Y-%m-%d}.pdf"
    return Response(
        pdf, mimetype="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- register -------------------------------------------------------------------------------------------


@bp.get("/registre")
@permissions.authenticated
def register():
    if not permissions.can_view_register(current_user):
        abort(403)
    return render(
        "committees/register.html", check=service.verify_register(), entries=queries.register_entries()
    )


# --- calendar -------------------------------------------------------------------------------------------


@bp.get("/agenda")
@permissions.authenticated
def calendar():
    return render(
        "committees/calendar.html",
        committees=queries.committees_with_next_meeting(current_user),
        empty_form=EmptyForm(),
    )


@bp.post("/agenda/regenerer")
@permissions.authenticated
def regenerate_token():
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    service.regenerate_calendar_token(user, actor=user)
    db.session.commit()
    flash("Nouveau lien d'agenda créé : l'ancien ne fonctionne plus.", "success")
    return _redirect(url_for(".calendar"))


def _ics(meetings, name: str) -> Response:
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//Mutualisation DSI//Comités//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    base = current_app.config["BASE_URL"].rstrip("/")
    for s in meetings:
        event = Event()
        event.add("uid", f"seance-{s.id}@mutualisation-dsi")
        event.add("summary", s.label + (" (annulée)" if s.state == MeetingState.ANNULEE else ""))
        event.add("dtstart", s.starts_at)
        event.add("dtend", s.ends_at)
        event.add("dtstamp", s.created_at)
        event.add("sequence", s.version)
        event.add("status", "CANCELLED" if s.state == MeetingState.ANNULEE else "CONFIRMED")
        if s.place:
            event.add("location", s.place)
        event.add("url", f"{base}{url_for('.meeting', meeting_id=s.id)}")
        description = [f"État : {s.state_enum.label}"]
        if s.visio_url:
            description.append(f"Visioconférence : {s.visio_url}")
        if s.state != MeetingState.PLANIFIEE:
            description += [f"{i.position}. {i.title}" for i in s.items]
        event.add("description", "\n".join(description))
        calendar.add_component(event)
    response = Response(calendar.to_ical(), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="comites.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/agenda/<token>.ics")
@permissions.public
def user_feed(token: str):
    user = queries.user_by_calendar_token(token)
    if user is None:
        abort(404)
    return _ics(queries.calendar_meetings(user=user), f"Mes comités — {user.full_name}")


@bp.get("/agenda/<token>/<code>.ics")
@permissions.public
def committee_feed(token: str, code: str):
    user = queries.user_by_calendar_token(token)
    committee = queries.committee_by_code(code)
    if user is None or committee is None:
        abort(404)
    return _ics(queries.calendar_meetings(user=user, committee=committee), committee.name)
