"""Open-data exports (CSV UTF-8, a ';' variant, an XLSX workbook, their schema) and in-app exports.

Open-data files follow PUBLIC_API (anyone when true, signed-in users otherwise) and carry public fields only.
In-app exports take the same parameters and the same access rule as the page they export, so a file never
shows more than the page does.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from .. import opendata, permissions, tabular
from ..domain.moscow import Moscow
from ..extensions import db
from ..models import (
    Committee,
    CreditConsumption,
    Decision,
    Dossier,
    DossierState,
    Opportunity,
    Role,
    SavingsReport,
)
from ..models.dossiers import STATE_LABELS
from ..models.portfolio import OpportunityState
from ..permissions import opendata_readable
from ..queries import dashboard as figures
from ..queries import portfolio as portfolio_queries
from ..queries.dossiers import FIGURES_OPTIONS
from ..services import dossiers as dossier_service
from ..tabular import EXPORT_METHODS, Export, Kind, Sheet
from ..tabular import Column as TabColumn

bp = Blueprint("exports", __name__, url_prefix="/exports")

LIST_SEPARATOR = "|"
SEMICOLON_SUFFIX = "-point-virgule"


@dataclass
class Column:
    name: str
    type: str  # Table Schema type: string, integer, datetime
    description: str
    value: Callable


@dataclass
class Dataset:
    name: str
    title: str
    description: str
    columns: list[Column]
    rows: Callable[[], list]
    in_workbook: bool = True
    extra: dict = field(default_factory=dict)

    def table(self, rows=None) -> list[list]:
        return [
            [column.value(row) for column in self.columns] for row in (self.rows() if rows is None else rows)
        ]


def _codes(items) -> str:
    return LIST_SEPARATOR.join(items)


OPPORTUNITY_COLUMNS = [
    Column("code", "string", "Code de l'opportunité (M001…), identifiant stable", lambda o: o["code"]),
    Column("brique", "string", "Brique : titre court", lambda o: o["brique"]),
    Column("besoin", "string", "Besoin exprimé (texte, Markdown)", lambda o: o["besoin"]),
    Column(
        "statut",
        "string",
        "Code du statut (identifiee … lancee, ecartee, fusionnee, doublon, deja_couverte)",
        lambda o: o["status"],
    ),
    Column("statut_libelle", "string", "Libellé du statut", lambda o: o["status_label"]),
    Column(
        "motif_statut",
        "string",
        "Motif de l'écart ou de la couverture existante",
        lambda o: o["status_reason"] or "",
    ),
    Column(
        "priorite",
        "string",
        "Priorité MoSCoW du portefeuille (must, should, could, wont ; vide si non classée)",
        lambda o: o["priority"] or "",
    ),
    Column(
        "fusionnee_dans",
        "string",
        "Code de l'opportunité conservée (fusionnée, doublon)",
        lambda o: o["merged_into"] or "",
    ),
    Column(
        "actions",
        "string",
        f"Codes des actions liées, séparés par « {LIST_SEPARATOR} »",
        lambda o: _codes(o["actions"]),
    ),
    Column(
        "ministeres",
        "string",
        f"Codes des ministères qui soutiennent, séparés par « {LIST_SEPARATOR} »",
        lambda o: _codes(b["ministry"] for b in o["backings"]),
    ),
    Column("cree_le", "datetime", "Date de création (UTC, ISO 8601)", lambda o: o["created_at"]),
    Column(
        "modifie_le", "datetime", "Date de dernière modification (UTC, ISO 8601)", lambda o: o["updated_at"]
    ),
]


DECISION_COLUMNS = [
    Column("id", "integer", "Numéro de la décision", lambda d: d["id"]),
    Column("comite", "string", "Code du comité", lambda d: d["committee"]),
    Column("seance_date", "datetime", "Date de la séance (UTC, ISO 8601)", lambda d: d["session_date"]),
    Column("point", "string", "Point de l'ordre du jour", lambda d: d["item"] or ""),
    Column("opportunite", "string", "Code de l'opportunité concernée", lambda d: d["opportunity"] or ""),
    Column("dossier", "string", "Référence du dossier (D0006)", lambda d: d["dossier_reference"] or ""),
    Column("decision", "string", "Sens de la décision (code)", lambda d: d["outcome"]),
    Column("decision_libelle", "string", "Sens de la décision", lambda d: d["outcome_label"]),
    Column("mode", "string", "vote ou consensus", lambda d: d["mode"]),
    Column("motivation", "string", "Motivation", lambda d: d["motivation"]),
    Column("conditions", "string", "Conditions", lambda d: d["conditions"]),
    Column("voix_pour", "integer", "Voix pour", lambda d: d["votes"]["for"]),
    Column("voix_contre", "integer", "Voix contre", lambda d: d["votes"]["against"]),
    Column("abstentions", "integer", "Abstentions", lambda d: d["votes"]["abstention"]),
    Column(
        "ae_accordees",
        "integer",
        "AE accordées, toutes années (euros)",
        lambda d: sum(a["ae"] for a in d["amounts"]),
    ),
    Column(
        "cp_accordes",
        "integer",
        "CP accordés, toutes années (euros)",
        lambda d: sum(a["cp"] for a in d["amounts"]),
    ),
]


def _published_decisions() -> list[dict]:
    query = figures.published_decisions().options(*figures.decision_options()).order_by(Decision.id)
    return [figures.decision_public(d) for d in db.session.scalars(query)]


def _backing_rows():
    return [(o, b) for o in figures.all_opportunities() for b in o["backings"]]


def _datasets() -> dict[str, Dataset]:
    datasets = [
        Dataset(
            "opportunites",
            "Opportunités",
            "Le portefeuille interministériel des opportunités de mutualisation, "
            "avec leur statut et leur priorité MoSCoW.",
            OPPORTUNITY_COLUMNS,
            figures.all_opportunities,
        ),
        Dataset(
            "actions",
            "Actions",
            "Les actions des lignes stratégiques 2018, avec leur classe MoSCoW et les "
            "opportunités qu'elles portent.",
            [
                Column("code", "string", "Code de l'action (2.1.1…)", lambda a: a.code),
                Column("chantier", "string", "Chantier", lambda a: a.chantier),
                Column("titre", "string", "Intitulé", lambda a: a.title),
                Column("detail", "string", "Détail", lambda a: a.detail),
                Column("portage", "string", "Portage proposé", lambda a: a.portage),
                Column("cout", "string", "Estimation de coût (texte libre)", lambda a: a.cost),
                Column("duree", "string", "Estimation de durée (texte libre)", lambda a: a.duration),
                Column(
                    "moscow",
                    "string",
                    "Classe MoSCoW (must, should, could, wont ; vide si inconnue)",
                    lambda a: a.moscow or "",
                ),
                Column(
                    "opportunites",
                    "string",
                    f"Codes des opportunités portées, séparés par « {LIST_SEPARATOR} »",
                    lambda a: _codes(o.code for o in a.opportunities),
                ),
            ],
            figures.all_actions,
        ),
        Dataset(
            "soutiens",
            "Soutiens des ministères",
            "Une ligne par ministère qui soutient une opportunité.",
            [
                Column("opportunite", "string", "Code de l'opportunité", lambda r: r[0]["code"]),
                Column("ministere", "string", "Code du ministère", lambda r: r[1]["ministry"]),
                Column("ministere_nom", "string", "Nom du ministère", lambda r: r[1]["name"]),
                Column("role", "string", "Rôle : pilote, contributeur, interesse", lambda r: r[1]["role"]),
            ],
            _backing_rows,
        ),
        Dataset(
            "guichets",
            "Guichets",
            "Les guichets de financement (fonds → volet → thème).",
            [
                Column("code", "string", "Code du guichet", lambda g: g.code),
                Column("nom", "string", "Nom", lambda g: g.name),
                Column(
                    "parent",
                    "string",
                    "Code du guichet parent",
                    lambda g: g.parent.code if g.parent_id else "",
                ),
                Column("fonds", "string", "Fonds", lambda g: g.fund),
                Column("mode", "string", "Mode de sélection", lambda g: g.mode),
                Column("description", "string", "Description", lambda g: g.description),
                Column("criteres", "string", "Critères", lambda g: g.criteria),
                Column("montants", "string", "Montants (texte)", lambda g: g.amounts),
                Column("source", "string", "Sources", lambda g: g.source),
            ],
            figures.all_guichets,
        ),
        Dataset(
            "decisions",
            "Décisions des comités",
            "Les décisions dont le procès-verbal est publié, sans donnée personnelle.",
            DECISION_COLUMNS,
            _published_decisions,
        ),
    ]
    return {d.name: d for d in datasets}


DATASET_NAMES = ("opportunites", "actions", "soutiens", "guichets", "decisions")

# --- file writers: app/tabular.py (the one writer) -------------------------------------------------------

_KINDS = {"integer": Kind.INTEGER, "number": Kind.DECIMAL}


def _open_data_sheet(dataset: Dataset) -> Sheet:
    """Open-data files keep their machine column names as titles (their Table Schema describes them)."""
    columns = [
        TabColumn(c.name, c.name, _KINDS.get(c.type, Kind.TEXT), c.value, c.description)
        for c in dataset.columns
    ]
    return Sheet(dataset.name, columns, dataset.rows())


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _open(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- open data ----------------------------------------------------------------------------------------------


@bp.get("/")
@opendata_readable
def index():
    """The open-data files and the description of their columns (the schema page)."""
    datasets, now, facts = _datasets(), datetime.now(UTC), {}
    for name, dataset in datasets.items():
        table = dataset.table()
        file = Export(name, dataset.title, [_open_data_sheet(dataset)])
        size = sum(len(chunk) for chunk in tabular.csv_chunks(file, machine=True))  # as /donnees/<name>.csv
        facts[name] = opendata.file_facts(dataset, table, size, now)
    return render_template(
        "exports/index.html",
        datasets=datasets,
        facts=facts,
        separator=LIST_SEPARATOR,
        suffix=SEMICOLON_SUFFIX,
    )


@bp.get(f"/donnees/<any({', '.join(DATASET_NAMES)}):dataset>.csv")
@opendata_readable
def dataset_csv(dataset: str):
    """UTF-8, ',' separated (RFC 4180)."""
    return _csv_download(dataset, semicolon=False)


@bp.get(f"/donnees/<any({', '.join(DATASET_NAMES)}):dataset>{SEMICOLON_SUFFIX}.csv")
@opendata_readable
def dataset_csv_semicolon(dataset: str):
    """UTF-8 with a BOM, ';' separated, formula-like cells neutralised: for French spreadsheet users."""
    return _csv_download(dataset, semicolon=True)


def _csv_download(name: str, semicolon: bool) -> Response:
    dataset = _datasets()[name]
    export = Export(
        f"{name}{SEMICOLON_SUFFIX if semicolon else ''}", dataset.title, [_open_data_sheet(dataset)]
    )
    return _open(tabular.export_response(export, "csv", machine=not semicolon))


@bp.route("/donnees/portefeuille.xlsx", methods=EXPORT_METHODS)
@opendata_readable
def workbook():
    title = "Portefeuille de la mutualisation interministérielle : données ouvertes"
    count = lambda: db.session.scalar(select(func.count(Opportunity.id)))  # noqa: E731 - its largest sheet
    if (
        deferred := tabular.defer_large("xlsx", count, f"portefeuille-mutualisation-{_stamp()}", title)
    ) is not None:
        return _open(deferred)
    datasets = [d for d in _datasets().values() if d.in_workbook]
    schema_columns = [
        TabColumn(key, key, Kind.LONGTEXT if key == "description" else Kind.TEXT, _item(i))
        for i, key in enumerate(("fichier", "colonne", "type", "description"))
    ]
    schema_rows = [[d.name, c.name, c.type, c.description] for d in datasets for c in d.columns]
    export = Export(
        f"portefeuille-mutualisation-{_stamp()}",
        title,
        [_open_data_sheet(d) for d in datasets] + [Sheet("schema", schema_columns, schema_rows)],
        readme=False,
    )
    return _open(tabular.export_response(export, "xlsx"))


def _item(i: int):
    return lambda row: row[i]


@bp.get("/donnees/schema.json")
@bp.get("/donnees/datapackage.json")
@opendata_readable
def schema():
    """The Frictionless Data Package of the CSV files (Table Schemas with constraints and keys)."""
    descriptor = opendata.datapackage(
        _datasets().values(),
        lambda name: url_for("exports.dataset_csv", dataset=name, _external=True),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return Response(json.dumps(descriptor, ensure_ascii=False, indent=2), mimetype="application/json")


# --- in-app exports (same rule and parameters as the page; the formats of app/tabular.py) -------------------


def _when(value: str | None) -> datetime | None:
    """The public dicts carry ISO 8601 strings: files get real dates."""
    return datetime.fromisoformat(value) if value else None


def _label(enum, value: str | None) -> str:
    return enum(value).label if value else ""


def dossier_code(dossier_id: int | None) -> str:
    """A dossier's human reference (D0006) from its id, without loading it (Dossier.reference)."""
    return f"D{dossier_id:04d}" if dossier_id else ""


PORTFOLIO_EXPORT_COLUMNS = [
    TabColumn("code", "Code", Kind.CODE, lambda o: o["code"], "Code de l'opportunité (M001…)"),
    TabColumn("brique", "Brique", Kind.TEXT, lambda o: o["brique"], "Titre court de l'opportunité"),
    TabColumn("besoin", "Besoin", Kind.LONGTEXT, lambda o: o["besoin"], "Besoin exprimé (Markdown)"),
    TabColumn("statut", "Code du statut", Kind.CODE, lambda o: o["status"], "Statut, sous forme de code"),
    TabColumn("statut_libelle", "Statut", Kind.TEXT, lambda o: o["status_label"], "Statut de l'opportunité"),
    TabColumn(
        "motif_statut",
        "Motif du statut",
        Kind.LONGTEXT,
        lambda o: o["status_reason"] or "",
        "Motif de l'écart ou de la couverture existante",
    ),
    TabColumn(
        "priorite",
        "Priorité",
        Kind.TEXT,
        lambda o: _label(Moscow, o["priority"]),
        "Priorité MoSCoW du portefeuille (vide si non classée)",
    ),
    TabColumn(
        "fusionnee_dans",
        "Fusionnée dans",
        Kind.CODE,
        lambda o: o["merged_into"] or "",
        "Code de l'opportunité conservée (fusionnée, doublon)",
    ),
    TabColumn(
        "actions",
        "Actions",
        Kind.TEXT,
        lambda o: _codes(o["actions"]),
        f"Codes des actions liées, séparés par « {LIST_SEPARATOR} »",
    ),
    TabColumn(
        "ministeres",
        "Ministères qui soutiennent",
        Kind.TEXT,
        lambda o: _codes(b["ministry"] for b in o["backings"]),
        f"Codes des ministères, séparés par « {LIST_SEPARATOR} »",
    ),
    TabColumn("cree_le", "Créée le", Kind.DATETIME, lambda o: _when(o["created_at"]), "Date de création"),
    TabColumn(
        "modifie_le", "Modifiée le", Kind.DATETIME, lambda o: _when(o["updated_at"]), "Dernière modification"
    ),
]


def portfolio_filter_lines(filters: portfolio_queries.PortfolioFilters) -> list[tuple[str, str]]:
    """The page's filters in words, for the « Lisez-moi » sheet."""
    lines = []
    if filters.q:
        lines.append(("Recherche", filters.q))
    if filters.states:
        lines.append(("Statut", ", ".join(OpportunityState(s).label for s in filters.states)))
    if filters.chantier:
        lines.append(("Chantier", filters.chantier))
    if filters.moscow:
        lines.append(("Priorité MoSCoW d'action", Moscow(filters.moscow).label))
    if filters.priorite:
        lines.append(("Priorité", Moscow(filters.priorite).label))
    if filters.ministere:
        lines.append(("Ministère", filters.ministere))
    lines.append(("Tri", portfolio_queries.SORT_LABELS[filters.sort]))
    return lines


def portfolio_export(fmt: str) -> Response:
    """The /opportunites list with the page's filters and sort, every public column."""
    ministries = [o.code for o in portfolio_queries.organisations()]
    filters = portfolio_queries.PortfolioFilters.from_args(
        request.args, portfolio_queries.chantiers(), ministries
    )
    title = "Portefeuille des opportunités de mutualisation"
    query = portfolio_queries.ordered(filters)
    count = lambda: db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))  # noqa: E731
    if (deferred := tabular.defer_large(fmt, count, "opportunites", title)) is not None:
        return deferred  # a large workbook: written by the scheduler, the rows are not built here
    rows = figures.opportunity_public_rows(query)
    export = Export(
        "opportunites",
        title,
        [Sheet("Opportunités", PORTFOLIO_EXPORT_COLUMNS, rows)],
        filters=portfolio_filter_lines(filters),
    )
    return tabular.export_response(export, fmt)


@bp.route("/opportunites.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.portfolio_readable
def portfolio(fmt: str):
    """Same file as the /opportunites page's export buttons."""
    return portfolio_export(fmt)


def _granted(public: dict, key: str) -> int:
    return sum(a[key] for a in public["amounts"])


DECISION_EXPORT_COLUMNS = [
    TabColumn("numero", "N° de décision", Kind.INTEGER, lambda r: r[1]["id"], "Numéro de la décision"),
    TabColumn("comite", "Comité", Kind.CODE, lambda r: r[1]["committee"], "Code du comité"),
    TabColumn(
        "seance", "Séance", Kind.DATETIME, lambda r: r[0].meeting.starts_at, "Date et heure de la séance"
    ),
    TabColumn("point", "Point", Kind.TEXT, lambda r: r[1]["item"] or "", "Point de l'ordre du jour"),
    TabColumn("opportunite", "Opportunité", Kind.CODE, lambda r: r[1]["opportunity"] or "", "Code (M043)"),
    TabColumn("dossier", "Dossier", Kind.CODE, lambda r: dossier_code(r[1]["dossier"]), "Référence (D0006)"),
    TabColumn("decision", "Décision", Kind.TEXT, lambda r: r[1]["outcome_label"], "Sens de la décision"),
    TabColumn("mode", "Mode", Kind.TEXT, lambda r: r[1]["mode"], "vote ou consensus"),
    TabColumn("motivation", "Motivation", Kind.LONGTEXT, lambda r: r[1]["motivation"], "Motivation"),
    TabColumn("conditions", "Conditions", Kind.LONGTEXT, lambda r: r[1]["conditions"], "Conditions"),
    TabColumn("voix_pour", "Voix pour", Kind.INTEGER, lambda r: r[1]["votes"]["for"], "Voix pour"),
    TabColumn("voix_contre", "Voix contre", Kind.INTEGER, lambda r: r[1]["votes"]["against"], "Voix contre"),
    TabColumn(
        "abstentions", "Abstentions", Kind.INTEGER, lambda r: r[1]["votes"]["abstention"], "Abstentions"
    ),
    TabColumn(
        "ae_accordees", "AE accordées", Kind.EUROS, lambda r: _granted(r[1], "ae"), "Toutes années, en euros"
    ),
    TabColumn(
        "cp_accordes", "CP accordés", Kind.EUROS, lambda r: _granted(r[1], "cp"), "Toutes années, en euros"
    ),
    TabColumn(
        "publiee",
        "Publiée",
        Kind.TEXT,
        lambda r: "oui" if r[0].locked else "non",
        "oui : procès-verbal publié ; non : décision pas encore publiée",
    ),
]


@bp.route("/decisions.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def committee_decisions(fmt: str):
    """Decisions of one committee (?comite=CODE) or of all: published ones for every signed-in user (like the
    published minutes), and also the unpublished ones of the committees the user sits on (or all of them for
    the secretariat), marked as such."""

    query = select(Decision).options(*figures.decision_options()).order_by(Decision.id)
    filters = []
    if code := request.args.get("comite", ""):
        committee = db.session.scalar(select(Committee).where(Committee.code == code))
        if committee is None:
            abort(404)
        query = query.where(Decision.committee_id == committee.id)
        filters.append(("Comité", f"{committee.code} — {committee.name}"))
    if not permissions.is_secretariat(current_user):
        mine = [r.committee_id for r in current_user.roles if r.role == Role.COMITE and r.committee_id]
        query = query.where(or_(Decision.locked.is_(True), Decision.committee_id.in_(mine or [-1])))
    rows = [(d, figures.decision_public(d)) for d in db.session.scalars(query)]
    export = Export(
        f"decisions-{code}" if code else "decisions",
        "Décisions des comités",
        [Sheet("Décisions", DECISION_EXPORT_COLUMNS, rows)],
        filters=filters,
    )
    return tabular.export_response(export, fmt)


FOLLOWUP_STATES = (DossierState.DECIDE, DossierState.CONVENTIONNE, DossierState.EN_SUIVI, DossierState.CLOS)
FOLLOWUP_COLUMNS = [
    TabColumn("reference", "Dossier", Kind.CODE, lambda r: r["reference"], "Référence du dossier (D0006)"),
    TabColumn("titre", "Intitulé", Kind.TEXT, lambda r: r["title"], "Intitulé du dossier"),
    TabColumn("guichet", "Guichet", Kind.CODE, lambda r: r["guichet"], "Code du guichet"),
    TabColumn("etat", "État", Kind.TEXT, lambda r: r["state"], "État du dossier"),
    TabColumn("ae_ftap_demandees", "AE FTAP demandées", Kind.EUROS, lambda r: r["ftap_ae"], "En euros"),
    TabColumn("cp_ftap_demandes", "CP FTAP demandés", Kind.EUROS, lambda r: r["ftap_cp"], "En euros"),
    TabColumn("ae_accordees", "AE accordées", Kind.EUROS, lambda r: r["granted_ae"], "Par la décision"),
    TabColumn("cp_accordes", "CP accordés", Kind.EUROS, lambda r: r["granted_cp"], "Par la décision"),
    TabColumn("ae_consommees", "AE consommées", Kind.EUROS, lambda r: r["consumed_ae"], "Toutes années"),
    TabColumn("cp_consommes", "CP consommés", Kind.EUROS, lambda r: r["consumed_cp"], "Toutes années"),
    TabColumn("economies_prevues", "Économies prévues", Kind.EUROS, lambda r: r["savings"], "Toutes années"),
    TabColumn(
        "economies_constatees", "Économies constatées", Kind.EUROS, lambda r: r["reported"], "Toutes années"
    ),
]


@bp.route("/suivi.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.authenticated
def followup(fmt: str):
    """Funded dossiers the user may see (the dossiers scope): FTAP amounts requested, granted and consumed;
    savings forecast and reported (totals over the years, as on each dossier's follow-up page)."""

    dossiers = (
        db.session.scalars(
            permissions.dossiers_visible_to(current_user)
            .where(Dossier.state.in_(FOLLOWUP_STATES))
            .options(joinedload(Dossier.guichet), *FIGURES_OPTIONS)
            .order_by(Dossier.id)
        )
        .unique()
        .all()
    )
    decision_ids = [d.decision_id for d in dossiers if d.decision_id]
    granted = (
        {
            d.id: (d.total_ae, d.total_cp)
            for d in db.session.scalars(
                select(Decision).where(Decision.id.in_(decision_ids)).options(*figures.decision_options())
            )
        }
        if decision_ids
        else {}
    )
    ids = [d.id for d in dossiers]
    consumed = _totals_by_dossier(CreditConsumption, ids, CreditConsumption.ae, CreditConsumption.cp)
    reported = _totals_by_dossier(SavingsReport, ids, SavingsReport.amount)
    rows = []
    for dossier in dossiers:
        fig = dossier_service.figures(dossier)
        ae, cp = granted.get(dossier.decision_id, (None, None))
        consumed_ae, consumed_cp = consumed.get(dossier.id, (0, 0))
        rows.append(
            {
                "reference": dossier.reference,
                "title": dossier.title,
                "guichet": dossier.guichet.code,
                "state": STATE_LABELS[DossierState(dossier.state)],
                "ftap_ae": fig.ftap_ae,
                "ftap_cp": fig.ftap_cp,
                "granted_ae": ae,
                "granted_cp": cp,
                "consumed_ae": consumed_ae,
                "consumed_cp": consumed_cp,
                "savings": fig.savings_total,
                "reported": reported.get(dossier.id, (0,))[0],
            }
        )
    export = Export(
        "suivi-dossiers-finances",
        "Suivi financier des dossiers financés",
        [Sheet("Suivi des dossiers", FOLLOWUP_COLUMNS, rows)],
        filters=[
            ("Dossiers", "décidés, conventionnés, en suivi ou clos, parmi ceux que vous pouvez consulter")
        ],
    )
    return tabular.export_response(export, fmt)


def _totals_by_dossier(model, dossier_ids: list[int], *columns) -> dict[int, tuple]:
    """dossier id → the sums of `columns` over the model's yearly rows (follow-up figures)."""
    rows = db.session.execute(
        select(model.dossier_id, *(func.sum(c) for c in columns))
        .where(model.dossier_id.in_(dossier_ids or [-1]))
        .group_by(model.dossier_id)
    )
    return {dossier_id: tuple(int(v or 0) for v in sums) for dossier_id, *sums in rows}
