"""Open-data exports (CSV UTF-8, a ';' variant, an XLSX workbook, their schema) and in-app exports.

Open-data files follow PUBLIC_API (anyone when true, signed-in users otherwise) and carry public fields only.
In-app exports take the same parameters and the same access rule as the page they export, so a file never
shows more than the page does.
"""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from .. import opendata, permissions
from ..extensions import db
from ..models import Committee, CreditConsumption, Decision, Dossier, DossierState, Role, SavingsReport
from ..models.dossiers import STATE_LABELS
from ..permissions import opendata_readable
from ..queries import dashboard as figures
from ..queries import portfolio as portfolio_queries
from ..queries.dossiers import FIGURES_OPTIONS
from ..services import dossiers as dossier_service

bp = Blueprint("exports", __name__, url_prefix="/exports")

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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
        "Statut (identifiee, en_criblage, qualifiee, validee_csic_tech, proposee_csic, lancee, "
        "ecartee, fusionnee, doublon, deja_couverte)",
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
    Column("dossier", "integer", "Numéro du dossier concerné", lambda d: d["dossier"] or ""),
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

# --- file writers -------------------------------------------------------------------------------------------


def _spreadsheet_safe(value):
    """';' files are opened by spreadsheets: a cell starting like a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_bytes(columns: list[str], rows: list[list], semicolon: bool = False) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";" if semicolon else ",", lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_spreadsheet_safe(v) for v in row] if semicolon else row)
    # The ';' variant targets French spreadsheet users: a BOM makes them read UTF-8 correctly.
    return ("\ufeff" if semicolon else "").encode("utf-8") + buffer.getvalue().encode("utf-8")


def xlsx_bytes(sheets: list[tuple[str, list[str], list[list]]]) -> bytes:
    workbook = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        sheet.append(columns)
        for row in rows:
            sheet.append([_text_cell(sheet, v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text_cell(sheet, value):
    """Strings stay strings: a brique starting with '=' must not become a formula."""
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=None)
        cell.value = value
        cell.data_type = "s"
        return cell
    return value


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


# --- open data ----------------------------------------------------------------------------------------------


@bp.get("/")
@opendata_readable
def index():
    """The open-data files and the description of their columns (the schema page)."""
    datasets, now, facts = _datasets(), datetime.now(UTC), {}
    for name, dataset in datasets.items():
        table = dataset.table()
        size = len(csv_bytes([c.name for c in dataset.columns], table))
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
    body = csv_bytes([c.name for c in dataset.columns], dataset.table(), semicolon=semicolon)
    return _download(body, "text/csv", f"{name}{SEMICOLON_SUFFIX if semicolon else ''}.csv")


@bp.get("/donnees/portefeuille.xlsx")
@opendata_readable
def workbook():
    datasets = [d for d in _datasets().values() if d.in_workbook]
    sheets = [(d.name, [c.name for c in d.columns], d.table()) for d in datasets]
    sheets.append(
        (
            "schema",
            ["fichier", "colonne", "type", "description"],
            [[d.name, c.name, c.type, c.description] for d in datasets for c in d.columns],
        )
    )
    return _download(xlsx_bytes(sheets), XLSX_MIME, f"portefeuille-mutualisation-{_stamp()}.xlsx")


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


# --- in-app exports (same rule and parameters as the page) --------------------------------------------------


@bp.get("/opportunites.<any(csv, xlsx):fmt>")
@permissions.portfolio_readable
def portfolio(fmt: str):
    """The /opportunites list with the page's filters and sort, every public column."""
    ministries = [o.code for o in portfolio_queries.organisations()]
    filters = portfolio_queries.PortfolioFilters.from_args(
        request.args, portfolio_queries.chantiers(), ministries
    )
    rows = figures.opportunity_public_rows(
        portfolio_queries.filtered(filters).order_by(*portfolio_queries.SORTS[filters.sort])
    )
    columns = [c.name for c in OPPORTUNITY_COLUMNS]
    table = [[c.value(o) for c in OPPORTUNITY_COLUMNS] for o in rows]
    if fmt == "xlsx":
        return _download(xlsx_bytes([("opportunites", columns, table)]), XLSX_MIME, "opportunites.xlsx")
    return _download(
        csv_bytes(columns, table, semicolon=request.args.get("sep") == ";"), "text/csv", "opportunites.csv"
    )


@bp.get("/decisions.<any(csv, xlsx):fmt>")
@permissions.authenticated
def committee_decisions(fmt: str):
    """Decisions of one committee (?comite=CODE) or of all: published ones for every signed-in user (like the
    published minutes), and also the unpublished ones of the committees the user sits on (or all of them for
    the secretariat), marked as such."""

    query = select(Decision).options(*figures.decision_options()).order_by(Decision.id)
    if code := request.args.get("comite", ""):
        committee = db.session.scalar(select(Committee).where(Committee.code == code))
        if committee is None:
            abort(404)
        query = query.where(Decision.committee_id == committee.id)
    if not permissions.is_secretariat(current_user):
        mine = [r.committee_id for r in current_user.roles if r.role == Role.COMITE and r.committee_id]
        query = query.where(or_(Decision.locked.is_(True), Decision.committee_id.in_(mine or [-1])))
    decisions = list(db.session.scalars(query))
    columns = [c.name for c in DECISION_COLUMNS] + ["publiee"]
    table = [
        [c.value(figures.decision_public(d)) for c in DECISION_COLUMNS] + ["oui" if d.locked else "non"]
        for d in decisions
    ]
    name = f"decisions-{code}" if code else "decisions"
    return _in_app_file(fmt, name, columns, table)


FOLLOWUP_STATES = (DossierState.DECIDE, DossierState.CONVENTIONNE, DossierState.EN_SUIVI, DossierState.CLOS)


@bp.get("/suivi.<any(csv, xlsx):fmt>")
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
    columns = [
        "reference",
        "titre",
        "guichet",
        "etat",
        "ae_ftap_demandees",
        "cp_ftap_demandes",
        "ae_accordees",
        "cp_accordes",
        "ae_consommees",
        "cp_consommes",
        "economies_prevues",
        "economies_constatees",
    ]
    table = []
    for dossier in dossiers:
        fig = dossier_service.figures(dossier)
        ae, cp = granted.get(dossier.decision_id, ("", ""))
        consumed_ae, consumed_cp = consumed.get(dossier.id, (0, 0))
        table.append(
            [
                dossier.reference,
                dossier.title,
                dossier.guichet.code,
                STATE_LABELS[DossierState(dossier.state)],
                fig.ftap_ae,
                fig.ftap_cp,
                ae,
                cp,
                consumed_ae,
                consumed_cp,
                fig.savings_total,
                reported.get(dossier.id, (0,))[0],
            ]
        )
    return _in_app_file(fmt, "suivi-dossiers-finances", columns, table)


def _totals_by_dossier(model, dossier_ids: list[int], *columns) -> dict[int, tuple]:
    """dossier id → the sums of `columns` over the model's yearly rows (follow-up figures)."""
    rows = db.session.execute(
        select(model.dossier_id, *(func.sum(c) for c in columns))
        .where(model.dossier_id.in_(dossier_ids or [-1]))
        .group_by(model.dossier_id)
    )
    return {dossier_id: tuple(int(v or 0) for v in sums) for dossier_id, *sums in rows}


def _in_app_file(fmt: str, name: str, columns: list[str], table: list[list]) -> Response:
    if fmt == "xlsx":
        return _download(xlsx_bytes([(name, columns, table)]), XLSX_MIME, f"{name}.xlsx")
    return _download(
        csv_bytes(columns, table, semicolon=request.args.get("sep") == ";"), "text/csv", f"{name}.csv"
    )
