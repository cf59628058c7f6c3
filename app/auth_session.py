"""Flask-Login wiring and the route-rule gate run before every request."""

from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for

from .extensions import db, login_manager
from .htmx import hx_redirect, is_htmx
from .models import User
from .permissions import enforce_route_rule


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are accepted as a post-login destination (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_url_for_current_request() -> str:
    if is_htmx():
        target = request.headers.get("HX-Current-URL", "")
        target = urlsplit(target)
        nxt = target.path + (f"?{target.query}" if target.query else "")
    else:
        nxt = request.full_path.rstrip("?")
    return url_for("auth.login", next=safe_next(nxt) or "/")


def _gate():
    verdict = enforce_route_rule()
    if verdict == "login":
        if is_htmx():
            return hx_redirect(login_url_for_current_request())
        return redirect(login_url_for_current_request())
    if verdict == "forbidden":
        abort(403)
    return None


def init_app(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.before_request(_gate)
