"""The minutes (procès-verbal) of a meeting: the page (draft, review, publication) and the PDF
(URLs /comites/seances/<id>/proces-verbal…)."""

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import permissions
from ..forms.committees import EmptyForm, minutes_form
from ..htmx import render
from ..models.committees import MeetingState
from ..models.minutes import MinutesState
from ..pdf import minutes_pdf
from ..queries import committees as queries
from ..services import meetings
from ..services import minutes as service
from .actions import perform
from .committees import _meeting, _swapped

# Nested in the committees blueprint (app/routes/__init__.py): endpoints committees.minutes.*.
bp = Blueprint("minutes", __name__, url_prefix="/seances")


def _render(meeting, form, item_notes, status=200):
    return render(
        "minutes/show.html",
        block="form",
        status=status,
        meeting=meeting,
        form=form,
        item_notes=item_notes,
        empty_form=EmptyForm(),
        MeetingState=MeetingState,
        MinutesState=MinutesState,
    )


def _meeting_minutes(meeting_id: int):
    """The meeting with what its minutes show (queries.committees.meeting_minutes), or 404."""
    meeting = queries.meeting_minutes(meeting_id, current_user)
    if meeting is None:
        abort(404)
    return meeting


@bp.route("/<int:meeting_id>/proces-verbal", methods=["GET", "POST"])
@permissions.authenticated
def show(meeting_id: int):
    meeting = _meeting_minutes(meeting_id)
    if not permissions.can_view_minutes(current_user, meeting):
        abort(403 if meeting.minutes is not None else 404)
    form = minutes_form(meeting.items, obj=meeting.minutes if request.method == "GET" else None)
    item_notes = {i.id: i.notes for i in meeting.items}
    if request.method == "POST":
        if not permissions.can_run_meeting(current_user, meeting):
            abort(403)
        item_notes = {i.id: form[f"item-{i.id}"].data or "" for i in meeting.items}

        def failure(status):
            current = _meeting_minutes(meeting_id)
            if status == 409:  # saved by somebody else meanwhile: the next save is against that version
                form.version.data = current.minutes.version
            return _render(current, form, item_notes, status=422)

        def saved():  # htmx: the form swapped in place, against the new version, and the save announced
            current = _meeting_minutes(meeting_id)
            form.version.data = current.minutes.version
            return _render(current, form, item_notes)

        if form.validate_on_submit():
            response = perform(
                lambda: service.save(
                    meeting,
                    notes=form.notes.data or "",
                    item_notes=item_notes,
                    version=form.version.data or 0,
                    actor=current_user,
                ),
                form=form,
                success="Procès-verbal enregistré.",
                location=url_for(".show", meeting_id=meeting.id),
                failure=failure,
            )
            return _swapped(response, saved)
        return _render(meeting, form, item_notes, status=422)
    return _render(meeting, form, item_notes)


@bp.post("/<int:meeting_id>/proces-verbal/<any(relire, publier):action>")
@permissions.authenticated
def action(meeting_id: int, action: str):
    meeting = _meeting(meeting_id)
    allowed = permissions.can_review_minutes if action == "relire" else permissions.can_run_meeting
    if not allowed(current_user, meeting):
        abort(403)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    location = url_for(".show", meeting_id=meeting_id)

    def failure(status):
        for message in form.form_errors:
            flash(message, "error")
        return redirect(location, 303)

    return perform(
        lambda: (service.review if action == "relire" else service.publish)(meeting, actor=current_user),
        form=form,
        success="Procès-verbal relu."
        if action == "relire"
        else "Procès-verbal publié : les décisions sont définitives et les intéressés prévenus.",
        location=location,
        failure=failure,
    )


@bp.get("/<int:meeting_id>/proces-verbal.pdf")
@permissions.authenticated
def pdf(meeting_id: int):
    meeting = _meeting(meeting_id)
    if not permissions.can_view_minutes(current_user, meeting):
        abort(403 if meeting.minutes is not None else 404)
    document = minutes_pdf(meeting, meetings.quorum(meeting))
    name = f"proces-verbal-{meeting.committee.code.lower()}-{meeting.starts_at:%Y-%m-%d}.pdf"
    return Response(
        document,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
