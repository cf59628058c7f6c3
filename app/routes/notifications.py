"""Notification centre (/notifications), the header badge fragment and e-mail preferences.

Also: after each request, the e-mails released by the request's commit are delivered (outbox), and with
SCHEDULER_ENABLED the web process starts the (lease-gated) scheduler.
"""

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import permissions
from ..auth_session import safe_next
from ..extensions import csrf, db, writes
from ..forms.notifications import PreferencesForm
from ..htmx import is_htmx, render
from ..jobs import start_in_background
from ..models import Notification
from ..services import mail
from ..services import notifications as service
from .actions import perform

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 30


@bp.record_once
def _setup(state):
    app = state.app

    @app.after_request
    def deliver_released_mail(response):
        if db.session.info.get("mail_outbox_released"):
            try:
                mail.deliver_committed()
            except Exception:  # noqa: BLE001 - the scheduler's outbox sweep retries
                app.logger.exception("outbox delivery after commit failed")
                db.session.rollback()
        return response

    app.extensions["scheduler"] = start_in_background(app)


def _page_args():
    only_unread = request.args.get("filtre") == "non-lues"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    return only_unread, page


def _list_context(oob: bool = False):
    only_unread, page = _page_args()
    mine = Notification.user_id == current_user.id
    if only_unread:
        mine = mine & Notification.read_at.is_(None)
    total = db.session.scalar(select(func.count(Notification.id)).where(mine))
    items = db.session.scalars(
        select(Notification)
        .where(mine)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return dict(
        oob=oob,
        items=items,
        only_unread=only_unread,
        page=page,
        pages=pages,
        total=total,
        unread=service.unread_count(current_user),
    )


@bp.get("")
@permissions.authenticated
def index():
    return render("notifications/index.html", block="list", **_list_context())


@bp.get("/badge")
@permissions.authenticated
def badge():
    response = render("notifications/_badge.html", unread=service.unread_count(current_user))
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_change(_result=None):
    if is_htmx():
        return render("notifications/index.html", block="list", **_list_context(oob=True))
    return redirect(request.form.get("next") or url_for(".index"), code=303)


@bp.post("/<int:notification_id>/lue")
@permissions.authenticated
def mark_read(notification_id: int):
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    return perform(
        lambda: service.mark_read(current_user, notification_id), failure=abort, done=_after_change
    )


@bp.post("/<int:notification_id>/non-lue")
@permissions.authenticated
def mark_unread(notification_id: int):
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    return perform(
        lambda: service.mark_unread(current_user, notification_id), failure=abort, done=_after_change
    )


@bp.post("/tout-lire")
@permissions.authenticated
def mark_all_read():
    return perform(
        lambda: service.mark_read(current_user),
        failure=abort,
        success=None if is_htmx() else lambda count: f"{count} notification(s) marquée(s) comme lue(s).",
        done=_after_change,
    )


@bp.get("/<int:notification_id>")
@writes
@permissions.authenticated
def follow(notification_id: int):
    """Open a notification: mark it read and go to what it is about."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    service.mark_read(current_user, notification_id)
    db.session.commit()
    target = notification.url or url_for(".index")
    base = request.host_url.rstrip("/")
    configured = (current_app.config.get("BASE_URL") or "").rstrip("/")
    for prefix in (configured, base):
        if prefix and target.startswith(prefix + "/"):
            target = target[len(prefix) :]
    return redirect(safe_next(target) or url_for(".index"), code=303)


@bp.route("/preferences/desabonnement/<token>", methods=["GET", "POST"])
@permissions.public  # the signed token is the credential (no session in a mail client)
@csrf.exempt  # the signed token is the credential: a mail client POSTs it without a session (RFC 8058)
def unsubscribe(token: str):
    """List-Unsubscribe target: POST (one click, from the mail client) turns the kind off; GET (a person
    following the link) lands on the preferences page."""
    if request.method == "GET":
        if service.read_unsubscribe_token(token) is None:
            abort(404)
        return redirect(url_for(".preferences"), code=303)
    kind = service.unsubscribe(token)
    if kind is None:
        abort(404)
    db.session.commit()
    return f"Vous ne recevrez plus de courriel pour : {kind.label}.", 200, {"Content-Type": "text/plain"}


@bp.route("/preferences", methods=["GET", "POST"])
@permissions.authenticated
def preferences():
    if request.method == "POST":
        chosen = set(PreferencesForm().email.data or [])
        wanted = {name: name in chosen for name in service.KINDS}
        user = current_user._get_current_object()
        return perform(
            lambda: service.set_preferences(user, wanted, actor=user),
            failure=abort,
            success=lambda changed: (
                "Vos préférences ont été enregistrées." if changed else "Aucune modification."
            ),
            location=url_for(".preferences"),
        )
    return render(
        "notifications/preferences.html",
        kinds=list(service.KINDS.values()),
        prefs=service.preferences(current_user),
    )
