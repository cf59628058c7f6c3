"""Login with ProConnect (OpenID Connect), logout.

GET  /connexion                 login page (ProConnect button; demo accounts when the provider is the mock)
POST /connexion/proconnect      → 303 to ProConnect's authorization endpoint (rate limited)
GET  /connexion/retour          the registered redirect URI: callback (rate limited)
POST /deconnexion               local logout in every case, then → ProConnect's end-session endpoint
GET  /deconnexion/retour        the registered post-logout URI: with a valid state, back home logged out;
                                otherwise (a link from anywhere) a page asking to confirm by a POST
GET  /compte/sessions           the user's open sessions (server-side, app/auth_session.py)
POST /compte/sessions/<ref>/fin ends one of them; POST /compte/sessions/fin-autres: all but this one
"""

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from .. import auth_session, oidc
from ..auth_session import safe_next
from ..demo import DEMO_ACCOUNTS
from ..extensions import db, writes
from ..permissions import authenticated, public
from ..ratelimit import limit
from ..services import users as users_service

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)


@bp.get("/connexion")
@public
def login():
    nxt = safe_next(request.args.get("next")) or ""
    if current_user.is_authenticated:
        return redirect(nxt or url_for("main.home"))
    return render_template(
        "auth/login.html",
        next=nxt,
        is_mock=current_app.config["PROCONNECT_IS_MOCK"],
        demo_accounts=DEMO_ACCOUNTS,
    )


@bp.post("/connexion/proconnect")
@public
@limit("login")
def start():
    try:
        url = oidc.begin_login(safe_next(request.form.get("next")))
    except oidc.LoginFailed as failure:
        return _failed(failure)
    return redirect(url, 303)


@bp.get("/connexion/retour")
@writes
@public
@limit("callback")
def callback():
    try:
        identity = oidc.complete_login(request.args)
    except oidc.LoginFailed as failure:
        return _failed(failure)
    try:
        user = users_service.sign_in(identity.claims, issuer=identity.issuer)
    except users_service.LoginRefused as refusal:
        db.session.rollback()
        return _failed(
            oidc.LoginFailed(refusal.reason, f"user id {refusal.user.id}", status=403), user=refusal.user
        )
    db.session.commit()
    session.clear()  # nothing from before the login survives (pending states, anonymous data)
    session.permanent = True  # PERMANENT_SESSION_LIFETIME (12 h, like ProConnect's session)
    login_user(user)
    session[oidc.ID_TOKEN_KEY] = identity.id_token  # for the logout's id_token_hint
    log.info("login: user %s (%s)", user.id, user.email)
    return redirect(safe_next(identity.next_url) or url_for("main.home"), 303)


def _failed(failure: oidc.LoginFailed, user=None):
    """French error page; nothing stored but the audit entry; a log line with the technical reason."""
    db.session.rollback()
    log.warning("login failed: %s", failure)
    users_service.record_failed_login(failure.reason, email=failure.email, user=user, detail=failure.detail)
    db.session.commit()
    return render_template("auth/error.html", message=failure.message, reason=failure.reason), failure.status


@bp.post("/deconnexion")
@public
def logout():
    id_token = session.get(oidc.ID_TOKEN_KEY)
    was_logged_in = current_user.is_authenticated
    logout_user()
    session.clear()  # the local session ends whatever the provider does next
    if not was_logged_in:
        return redirect(url_for("main.home"), 303)
    url = oidc.logout_url(id_token)
    if url is None:
        flash(
            "Vous êtes déconnecté de ce service. ProConnect n'a pas pu être joint : fermez votre "
            "navigateur pour terminer aussi votre session ProConnect.",
            "warning",
        )
        return redirect(url_for("main.home"), 303)
    return redirect(url, 303)


@bp.get("/deconnexion/retour")
@writes
@public
def logout_return():
    if oidc.logout_state_valid(request.args.get("state")):
        logout_user()
        session.clear()
        flash("Vous êtes déconnecté.", "success")
        return redirect(url_for("main.home"))
    log.warning("logout return with a missing, unknown or expired state")
    if current_user.is_authenticated:  # not our logout: only a POST from our own page ends the session
        return render_template("auth/logout_confirm.html")
    flash("Vous êtes déconnecté de ce service.", "info")
    return redirect(url_for("main.home"))


# --- the user's open sessions ------------------------------------------------------------------------


@bp.get("/compte/sessions")
@authenticated
def sessions():
    return render_template(
        "auth/sessions.html", sessions=auth_session.user_sessions(current_app, current_user.id)
    )


@bp.post("/compte/sessions/<ref>/fin")
@authenticated
def end_session(ref: str):
    current = next((s for s in auth_session.user_sessions(current_app, current_user.id) if s.current), None)
    if not auth_session.end_sessions(current_app, current_user.id, ref=ref):
        abort(404)  # already ended, or not one of this user's
    if current is not None and current.ref == ref:
        log.info("session ended by its user %s (this one)", current_user.id)
        logout_user()
        session.clear()
        return redirect(url_for("main.home"), 303)
    log.info("session ended by its user %s", current_user.id)
    flash("La session est terminée : l'appareil qui l'utilisait devra se reconnecter.", "success")
    return redirect(url_for(".sessions"), 303)


@bp.post("/compte/sessions/fin-autres")
@authenticated
def end_other_sessions():
    count = auth_session.end_sessions(current_app, current_user.id, others=True)
    log.info("user %s ended %s other sessions", current_user.id, count)
    flash(
        "Vos autres sessions sont terminées." if count else "Vous n'avez pas d'autre session ouverte.",
        "success" if count else "info",
    )
    return redirect(url_for(".sessions"), 303)
