"""Dossier lists as files: a guichet's submitted dossiers, « Mes dossiers » and the instruction list (with
the page's filters), one set of columns (app/tabular.py writes them; routes on the dossiers blueprint)."""

from decimal import Decimal

from flask import request
from flask_login import current_user
from sqlalchemy import func, select

from .. import permissions
from ..extensions import db
from ..models import DossierState, Role
from ..queries import dossiers as queries
from ..services import dossiers as dossier_service
from ..tabular import EXPORT_METHODS, Column, Export, Kind, Sheet, defer_large, export_response
from .dossiers import bp

DOSSIER_COLUMNS = [
    Column("reference", "Dossier", Kind.CODE, lambda r: r[0].reference, "Référence du dossier (D0006)"),
    Column("intitule", "Intitulé", Kind.TEXT, lambda r: r[0].title, "Intitulé du dossier"),
    Column("porteur", "Porteur", Kind.CODE, lambda r: r[2], "Code de l'organisation porteuse"),
    Column("etat", "État", Kind.TEXT, lambda r: r[0].state_enum.label, "État du dossier"),
    Column(
        "depose_le", "Déposé le", Kind.DATE, lambda r: r[0].submitted_at, "Date du dépôt (heure de Paris)"
    ),
    Column("montant_total_ae", "Montant total AE", Kind.EUROS, lambda r: r[1].total_ae, "En euros"),
    Column("montant_total_cp", "Montant total CP", Kind.EUROS, lambda r: r[1].total_cp, "En euros"),
    Column("financement_ftap_ae", "Financement FTAP AE", Kind.EUROS, lambda r: r[1].ftap_ae, "En euros"),
    Column(
        "part_ftap_pct",
        "Part FTAP",
        Kind.PERCENT,
        lambda r: round(r[1].ftap_share_pct, 1) if r[1].ftap_share_pct is not None else None,
        "Part du financement FTAP dans le montant total (AE)",
    ),
    Column(
        "economies_3_ans",
        "Économies sur 3 ans",
        Kind.EUROS,
        lambda r: r[1].roi_savings if r[1].roi_years else None,
        "Économies prévues sur les trois premières années, en euros",
    ),
    Column(
        "roi_3_ans_eur_par_eur",
        "Retour sur 3 ans (€ par € investi)",
        Kind.DECIMAL,
        lambda r: round(r[1].roi_cents / 100, 2) if r[1].roi_cents is not None else None,
        "Euros économisés par euro de FTAP sur trois ans",
    ),
    Column(
        "economies_cp_total",
        "Économies totales CP",
        Kind.EUROS,
        lambda r: r[1].savings_cp_total,
        "Économies prévisionnelles en crédits de paiement (CP), toutes années du tableau des économies, "
        "aide au calcul T2 comprise, en euros",
    ),
    Column(
        "recettes_supplementaires_total",
        "Recettes supplémentaires",
        Kind.EUROS,
        lambda r: r[3],
        "Recettes supplémentaires prévues (§4.2.3), toutes années, en euros ; hors retour sur investissement",
    ),
    Column(
        "etp_redeployes",
        "ETP redéployés",
        Kind.DECIMAL,
        lambda r: r[4],
        "Emplois (ETP) redéployés de l'aide au calcul T2, l'année où ils sont les plus nombreux "
        "(catégories A, B et C additionnées) ; comptés dans les emplois économisés, pour information",
    ),
    Column(
        "avis",
        "Avis",
        Kind.TEXT,
        lambda r: r[0].avis_enum.label if r[0].avis_enum else "",
        "Avis d'instruction",
    ),
    Column(
        "decision",
        "Décision",
        Kind.TEXT,
        lambda r: r[0].outcome_enum.label if r[0].outcome_enum else "",
        "Sens de la décision du comité",
    ),
]


def redeployed_jobs(dossier) -> Decimal:
    """The ETP redeployed in the T2 helper ([000] annex II « dont emplois redéployés »), in the year they
    are the most (categories added up): jobs are counted per year, so years are not added up."""
    by_year: dict[int, Decimal] = {}
    for row in dossier.staff_savings:
        by_year[row.year] = by_year.get(row.year, Decimal(0)) + (row.redeployed or 0)
    return max(by_year.values(), default=Decimal(0))


def dossier_rows(dossiers) -> list[tuple]:
    """(dossier, its figures, porteur code, additional revenue, redeployed ETP) for each dossier: the rows of
    the figures loaded up front (queries.dossiers.FIGURES_OPTIONS), the revenue in one aggregate statement."""
    dossiers = list(dossiers)
    revenues = queries.revenue_totals([d.id for d in dossiers])
    return [
        (
            d,
            dossier_service.figures(d),
            d.porteur_organisation.code if d.porteur_organisation else "",
            revenues.get(d.id, 0),
            redeployed_jobs(d),
        )
        for d in dossiers
    ]


def _counter(query):
    """How many dossiers `query` selects, counted only when asked (tabular.defer_large)."""
    return lambda: db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


@bp.route("/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def export_mine(fmt: str):
    """« Mes dossiers »: the dossiers the user carries, drafts included."""
    query = queries.my_dossiers_query(current_user)
    basename, title = "mes-dossiers", "Mes dossiers"
    if (deferred := defer_large(fmt, _counter(query), basename, title)) is not None:
        return deferred  # a large workbook: written by the scheduler, the dossiers are not loaded here
    dossiers = db.session.scalars(query.options(*queries.FIGURES_OPTIONS)).unique()
    export = Export(
        basename,
        title,
        [Sheet("Dossiers", DOSSIER_COLUMNS, dossier_rows(dossiers))],
        filters=[("Dossiers", "ceux dont je suis porteur ou référent, brouillons compris")],
    )
    return export_response(export, fmt)


@bp.route("/instruction/export.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.requires_role(Role.SECRETARIAT, Role.INSTRUCTEUR)
def export_instruction(fmt: str):
    """The instruction list with the page's tab, guichet, state and search."""
    filters = queries.DossierFilters.from_args(request.args)
    query = queries.instruction_export(current_user, filters)
    basename, title = "dossiers-instruction", "Dossiers à instruire"
    if (deferred := defer_large(fmt, _counter(query), basename, title)) is not None:
        return deferred
    dossiers = db.session.scalars(query.options(*queries.FIGURES_OPTIONS)).unique()
    lines = [("Onglet", queries.TABS[filters.tab][0])]
    if filters.guichet:
        lines.append(("Guichet", filters.guichet))
    if filters.state:
        lines.append(("État", DossierState(filters.state).label))
    if filters.q:
        lines.append(("Recherche", filters.q))
    export = Export(
        basename,
        title,
        [Sheet("Dossiers", DOSSIER_COLUMNS, dossier_rows(dossiers))],
        filters=lines,
    )
    return export_response(export, fmt)
