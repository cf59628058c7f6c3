"""Committees: list, committee page and rules, members, meetings (planned, generated, updated, cancelled,
agenda published, opened), agenda, live meeting (attendance, quorum, votes, decisions), decisions (amend,
rectify), ICS feeds. The register is in register.py, the minutes in minutes.py (blueprints nested in this
one, under /comites)."""

from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, get_flashed_messages, request, url_for
from flask_login import current_user
from icalendar import Calendar, Event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import permissions
from ..extensions import db
from ..forms.committees import (
    EmptyForm,
    GenerateForm,
    MemberForm,
    RulesForm,
)
from ..htmx import announce, is_htmx, render
from ..models import Guichet, User
from ..models.committees import (
    AgendaItem,
    MeetingState,
    MemberFunction,
)
from ..queries import committees as queries
from ..services import committees as service
from ..services.errors import Conflict, DomainError, ValidationFailed
from .actions import perform, see_other

bp = Blueprint("committees", __name__, url_prefix="/comites")


@bp.record_once
def _register_globals(state):
    state.app.jinja_env.globals.update(
        committee_trail=_trail_for,
        MemberFunction=MemberFunction,
        MeetingState=MeetingState,
    )


def _trail_for(opportunity=None, dossier_id=None):
    if opportunity is not None:
        return queries.trail(opportunity_id=opportunity.id, user=current_user)
    return queries.trail(dossier_id=dossier_id, user=current_user)


_redirect = see_other  # used by the follow-up section below


def _swapped(response, fragment):
    """perform()'s answer; after a successful htmx POST, the updated region is swapped in place (a redirect to
    the same page with only a #fragment would not reload it). The success message perform() flashed is not
    left for the next page: the page's live region announces it (app.js)."""
    if is_htmx() and "HX-Redirect" in response.headers:
        db.session.expire_all()
        swapped = fragment()
        said = [
            message
            for category, message in get_flashed_messages(with_categories=True)
            if category == "success"
        ]
        return announce(swapped, " ".join(said)) if said else swapped
    return response


def _at(field: str, run):
    """Run `run`; a rule's refusal that names no field is shown at `field`."""

    def wrapped():
        try:
            return run()
        except ValidationFailed:
            raise
        except DomainError as error:
            error.field = error.field or field
            raise

    return wrapped


def _renamed(run, **names):
    """Run `run`; the service's field names in `names` (e.g. user="email") are shown at the form's fields."""

    def wrapped():
        try:
            return run()
        except ValidationFailed as error:
            raise ValidationFailed({names.get(k, k): v for k, v in error.errors.items()}) from None

    return wrapped


def _with_amounts(form, run):
    """Run `run`; the messages about amount lines (amounts-<n>-<ae|cp|year>) go to the lines of the form."""

    def wrapped():
        try:
            return run()
        except ValidationFailed as error:
            rest = {}
            for name, message in error.errors.items():
                _, index, sub = (
                    (name.split("-") + ["", ""])[:3] if name.startswith("amounts-") else ("", "", "")
                )
                if index.isdigit() and int(index) < len(form.amounts.entries):
                    field = getattr(form.amounts.entries[int(index)].form, sub)
                    field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
                else:
                    rest[name] = message
            raise ValidationFailed(rest) from None

    return wrapped


class _Caught:
    """Keeps the domain error perform() rolled back, for the views that show it in a place of their own."""

    def __init__(self, run):
        self.error = None
        self.run = run

    def __call__(self):
        try:
            result = self.run()
            db.session.flush()  # a concurrent request's write is refused here, inside the catch
            return result
        except (StaleDataError, IntegrityError):
            self.error = Conflict()
            raise self.error from None
        except DomainError as error:
            self.error = error
            raise


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

    def failure(status):
        return render(
            "committees/rules.html", block="form", status=status, form=form, committee=_committee(code)
        )

    if form.validate_on_submit():
        return perform(
            lambda: service.update_rules(
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
            ),
            form=form,
            success=f"Règles du {committee.code} enregistrées.",
            location=url_for(".show", code=committee.code),
            failure=failure,
        )
    return failure(422 if form.is_submitted() else 200)


@bp.post("/<code>/membres")
@permissions.authenticated
def add_member(code: str):
    committee = _committee(code)
    if not permissions.can_manage_committee(current_user, committee):
        abort(403)
    form = MemberForm()

    def failure(status):
        return _render_committee(_committee(code), status=status, member_form=form, block="members")

    if not form.validate_on_submit():
        return failure(422)
    user = queries.user_by_email(form.email.data)
    if user is None:
        form.email.errors = [
            f"Aucun agent n'a l'adresse « {form.email.data} » : il doit s'être connecté une fois."
        ]
        return failure(422)
    response = perform(
        _renamed(
            lambda: service.add_member(committee, user=user, function=form.function.data, actor=current_user),
            user="email",
        ),
        form=form,
        success=f"{user.full_name} ajouté(e) au {committee.code}.",
        location=url_for(".show", code=committee.code, _anchor="membres"),
        failure=failure,
    )
    return _swapped(response, lambda: _render_committee(_committee(code), block="members"))


@bp.post("/<code>/membres/<int:user_id>/retirer")
@permissions.authenticated
def remove_member(code: str, user_id: int):
    committee = _committee(code)
    if not permissions.can_manage_committee(current_user, committee):
        abort(403)
    user = db.session.get(User, user_id) or abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    return perform(
        lambda: service.remove_member(committee, user=user, actor=current_user),
        success=f"{user.full_name} retiré(e) du {committee.code}.",
        location=url_for(".show", code=committee.code, _anchor="membres"),
        failure=abort,
    )


@bp.post("/<code>/seances/generer")
@permissions.authenticated
def generate(code: str):
    committee = _committee(code)
    if not permissions.can_plan_meeting(current_user, committee):
        abort(403)
    form = GenerateForm()

    def failure(status):
        return _render_committee(_committee(code), status=status, generate_form=form, block="meetings")

    if not form.validate_on_submit():
        return failure(422)
    response = perform(
        _at(
            "until",
            lambda: service.generate_meetings(
                committee, until=date.fromisoformat(form.until.data.strip()), actor=current_user
            ),
        ),
        form=form,
        success=lambda created: f"{len(created)} séance(s) générée(s).",
        location=url_for(".show", code=committee.code, _anchor="seances"),
        failure=failure,
    )
    return _swapped(response, lambda: _render_committee(_committee(code), block="meetings"))


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
    return perform(
        lambda: service.regenerate_calendar_token(user, actor=user),
        success="Nouveau lien d'agenda créé : l'ancien ne fonctionne plus.",
        location=url_for(".calendar"),
        failure=abort,
    )


FEED_REFRESH = timedelta(hours=1)


def _summary(meeting) -> str:
    """The committee's name always comes first, even when the meeting has a title of its own."""
    summary = meeting.label
    if meeting.title and not meeting.title.startswith(meeting.committee.name):
        summary = f"{meeting.committee.name} — {meeting.title}"
    return summary + (" (annulée)" if meeting.state == MeetingState.ANNULEE else "")


def _ics(meetings, name: str) -> Response:
    calendar = Calendar()
    calendar.add("prodid", "-//Mutualisation DSI//Comités//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})  # RFC 7986
    calendar.add("x-published-ttl", "PT1H")  # the same hint, as Outlook reads it (a plain text property)
    base = current_app.config["BASE_URL"].rstrip("/")
    generated = datetime.now(UTC)
    for s in meetings:
        event = Event()
        event.add("uid", f"seance-{s.id}@mutualisation-dsi")
        event.add("summary", _summary(s))
        event.add("dtstart", s.starts_at)
        event.add("dtend", s.ends_at)
        event.add("dtstamp", generated)  # RFC 5545 §3.8.7.2: when this iCalendar object was created
        event.add("last-modified", s.updated_at)
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
