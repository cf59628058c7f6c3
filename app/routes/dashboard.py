"""The dashboard (/tableau-de-bord): portfolio pipeline, MoSCoW priorities, guichets, and per-role sections.

Every chart is a `@gouvfr/dsfr-chart` web component fed by JSON attributes and followed by the data table it
draws (the accessible alternative, and what a browser without JavaScript shows). The numbers come from
app/queries/dashboard.py, the same functions as /api/v1/stats and the exports.
"""

from flask import Blueprint, render_template
from flask_login import current_user

from ..permissions import authenticated, dossiers_visible_to
from ..queries import chantiers as chantier_queries
from ..queries import dashboard as figures

bp = Blueprint("dashboard", __name__, url_prefix="/tableau-de-bord")


@bp.get("")
@authenticated
def index():
    counts, priorities = figures.portfolio_figures()
    campaigns = figures.open_campaigns()
    context = {
        "funnel": figures.pipeline_funnel(counts),
        "exits": figures.side_exits(counts),
        "priorities": priorities,
        "funds": figures.guichets_by_fund(),
        "total": sum(counts.values()),
        "pending": figures.pending_actions(current_user, campaigns),
        "sections": figures.sections_for(current_user),
    }
    context.update(figures.domain_figures(current_user, context["sections"], campaigns))
    return render_template("dashboard/index.html", **context)


@bp.get("/chantiers")
@authenticated
def chantiers():
    """The per-chantier view: each chantier's actions, opportunities and the dossiers it draws (those the
    reader may see) with their amounts, in a constant number of statements (its own page, so that the
    dashboard's count does not grow)."""
    rows = chantier_queries.summaries(dossiers_visible_to(current_user))
    return render_template("dashboard/chantiers.html", rows=rows)
