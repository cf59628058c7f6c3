"""Home, health check, legal pages and the benchmark floor route."""

from flask import Blueprint, render_template
from sqlalchemy import func, select, text

from ..extensions import db
from ..models import Opportunity
from ..permissions import public

bp = Blueprint("main", __name__)


@bp.get("/")
@public
def home():
    count = db.session.scalar(select(func.count(Opportunity.id)))
    return render_template("main/home.html", opportunity_count=count)


@bp.get("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - report any database failure as unhealthy
        db.session.rollback()
        return {"status": "error", "database": "error", "detail": type(error).__name__}, 503
    return {"status": "ok", "database": database, "backend": db.engine.dialect.name}


@bp.get("/plancher")
@public
def floor():
    """Trivial view rendered through the same stack: the baseline of the benchmarks."""
    return render_template("main/floor.html")


@bp.get("/accessibilite")
@public
def accessibility():
    return render_template("main/accessibility.html")


@bp.get("/mentions-legales")
@public
def legal():
    return render_template("main/legal.html")


@bp.get("/donnees-personnelles")
@public
def personal_data():
    return render_template("main/personal_data.html")
