"""Home, health check, legal pages and the benchmark floor route."""

import time

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from sqlalchemy import func, select, text

from .. import accessibility as audit_grid
from .. import oidc
from ..extensions import db
from ..models import Opportunity
from ..permissions import public
from ..queries import committees as committee_queries
from ..queries import home as home_queries

bp = Blueprint("main", __name__)


@bp.get("/")
@public
def home():
    count = db.session.scalar(select(func.count(Opportunity.id)))
    if not current_user.is_authenticated:
        return render_template("main/home.html", opportunity_count=count)
    return render_template(
        "main/home_user.html", opportunity_count=count, **home_queries.home_context(current_user)
    )


@bp.get("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - report any database failure as unhealthy
        db.session.rollback()
        return {"status": "error", "database": "error", "detail": type(error).__name__}, 503
    body = {"status": "ok", "database": database, "backend": db.engine.dialect.name}
    if request.args.get("deep") == "1":  # readiness: also the register's last check, ProConnect's discovery
        body["register"] = _register_status()
        report = _provider_readiness()
        body["proconnect"] = (
            {"status": "ok"}
            if report.ok
            else {
                "status": "error",
                "cause": report.cause,
                "detail": next(c.detail for c in report.checks if not c.ok),
            }
        )
        if not report.ok:
            body["status"] = "error"
            return body, 503
    return body


def _register_status() -> dict:
    """The decision register's latest verification (the daily job's, the button's or the CLI's)."""
    latest = committee_queries.latest_register_verification()
    if latest is None:
        return {"status": "unchecked"}
    return {
        "status": "ok" if latest.ok else "error",
        "checked_at": latest.checked_at.isoformat(),
        "entries": latest.entries,
    }


DEEP_CHECK_TTL = 15  # seconds: a public URL must not make the app hammer ProConnect


def _provider_readiness() -> oidc.Readiness:
    url = current_app.config["PROCONNECT_DISCOVERY_URL"]
    cache = current_app.extensions.setdefault("proconnect_readiness", {})
    at, report = cache.get(url, (0.0, None))
    if report is None or time.monotonic() - at > DEEP_CHECK_TTL:
        report = oidc.check_provider(url, timeout=5)
        cache.clear()
        cache[url] = (time.monotonic(), report)
    return report


@bp.get("/plancher")
@public
def floor():
    """Trivial view rendered through the same stack: the baseline of the benchmarks."""
    return render_template("main/floor.html")


@bp.get("/accessibilite")
@public
def accessibility():
    """The accessibility statement, generated from the RGAA self-audit grid (docs/rgaa/grid.yaml)."""
    return render_template("main/accessibility.html", grid=audit_grid.grid())


@bp.get("/plan-du-site")
@public
def sitemap():
    """The « plan du site »: the second navigation system of RGAA 12.1, linked from every footer."""
    return render_template("main/sitemap.html")


@bp.get("/mentions-legales")
@public
def legal():
    return render_template("main/legal.html")


@bp.get("/donnees-personnelles")
@public
def personal_data():
    return render_template("main/personal_data.html")
