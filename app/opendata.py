"""The open-data package by the book: a Frictionless Data Package (datapackage.json) whose Table Schemas
carry constraints (required, unique, enums for statuses and priorities), primary and foreign keys, and the
package metadata in the schema.data.gouv.fr style (title, description, version, licence etalab-2.0,
contributors).

The datasets themselves (names, columns, rows) are defined in app/routes/exports.py (`Dataset`, `Column`);
this module adds what a reader needs to trust them and builds the descriptor. It imports only models, so
the exports blueprint can use it. `tests/routes/test_opendata_package.py` runs `frictionless validate`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .formatting import format_datetime, format_number, plural
from .models.committees import DecisionMode, Outcome
from .models.portfolio import BackingRole, Moscow, OpportunityState

VERSION = "1.1.0"  # the package's version: a new column is minor, a renamed or removed one is major
LICENCE = {
    "name": "etalab-2.0",
    "title": "Licence Ouverte / Open Licence version 2.0",
    "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
}
CONTRIBUTORS = [
    {
        "title": "Communauté des DSI de l'État — secrétariat de la mutualisation",
        "role": "author",
    },
    {"title": "Direction interministérielle du numérique (DINUM)", "role": "publisher"},
]


def _values(enum) -> list[str]:
    return [member.value for member in enum]


# dataset → column → constraints (Table Schema `constraints`)
CONSTRAINTS: dict[str, dict[str, dict]] = {
    "opportunites": {
        "code": {"required": True, "unique": True, "pattern": r"M\d{3,5}"},
        "brique": {"required": True},
        "statut": {"required": True, "enum": _values(OpportunityState)},
        "priorite": {"enum": _values(Moscow)},
        "fusionnee_dans": {"pattern": r"M\d{3,5}"},
    },
    "actions": {
        "code": {"required": True, "unique": True},
        "moscow": {"enum": _values(Moscow)},
    },
    "soutiens": {
        "opportunite": {"required": True},
        "ministere": {"required": True},
        "role": {"required": True, "enum": _values(BackingRole)},
    },
    "guichets": {
        "code": {"required": True, "unique": True},
        "nom": {"required": True},
    },
    "decisions": {
        "id": {"required": True, "unique": True, "minimum": 1},
        "comite": {"required": True},
        "dossier": {"pattern": "^D[0-9]{4,}$"},
        "decision": {"required": True, "enum": _values(Outcome)},
        "mode": {"required": True, "enum": _values(DecisionMode)},
        "voix_pour": {"minimum": 0},
        "voix_contre": {"minimum": 0},
        "abstentions": {"minimum": 0},
        "ae_accordees": {"minimum": 0},
        "cp_accordes": {"minimum": 0},
    },
}

PRIMARY_KEYS: dict[str, list[str]] = {
    "opportunites": ["code"],
    "actions": ["code"],
    "soutiens": ["opportunite", "ministere"],
    "guichets": ["code"],
    "decisions": ["id"],
}

# (fields, referenced resource ("" = the same one), referenced fields)
FOREIGN_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "opportunites": [("fusionnee_dans", "", "code")],
    "soutiens": [("opportunite", "opportunites", "code")],
    "guichets": [("parent", "", "code")],
    "decisions": [("opportunite", "opportunites", "code")],
}


def table_schema(dataset) -> dict:
    constraints = CONSTRAINTS.get(dataset.name, {})
    fields = []
    for column in dataset.columns:
        described = {"name": column.name, "title": column.name, "type": column.type}
        described["description"] = column.description
        if column.type == "datetime":
            described["format"] = "any"
        if column.name in constraints:
            described["constraints"] = constraints[column.name]
        fields.append(described)
    schema = {"fields": fields, "missingValues": [""], "primaryKey": PRIMARY_KEYS[dataset.name]}
    if dataset.name in FOREIGN_KEYS:
        schema["foreignKeys"] = [
            {"fields": field, "reference": {"resource": resource, "fields": target}}
            for field, resource, target in FOREIGN_KEYS[dataset.name]
        ]
    return schema


def datapackage(datasets, path_of: Callable[[str], str], *, created: str) -> dict:
    """The Data Package descriptor; `path_of(name)` gives each CSV file's path or URL."""
    return {
        "profile": "tabular-data-package",
        "name": "mutualisation-dsi",
        "title": "Portefeuille interministériel de mutualisation des DSI de l'État",
        "description": "Opportunités de mutualisation, actions de la stratégie, soutiens des ministères, "
        "guichets de financement et décisions publiées des comités. Aucune donnée personnelle.",
        "version": VERSION,
        "created": created,
        "licenses": [LICENCE],
        "contributors": CONTRIBUTORS,
        "keywords": ["mutualisation", "DSI", "numérique de l'État", "portefeuille", "MoSCoW"],
        "resources": [
            {
                "name": d.name,
                "title": d.title,
                "description": d.description,
                "path": path_of(d.name),
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
                "licenses": [LICENCE],
                "schema": table_schema(d),
            }
            for d in datasets
        ],
    }


PREVIEW_ROWS = 3


def file_facts(dataset, table: list[list], size: int, generated_at) -> dict:
    """What the « Données ouvertes » page shows for one file: size, rows, update date, a preview."""
    dates = [
        row[i]
        for i, column in enumerate(dataset.columns)
        if column.type == "datetime"
        for row in table
        if row[i]
    ]
    updated = max(datetime.fromisoformat(d) for d in dates) if dates else generated_at
    return {
        "size": size,
        "size_text": f"{format_number(size / 1024, decimals=1)}\u00a0ko",
        "rows": len(table),
        "rows_text": plural(len(table), "ligne"),
        "updated": updated,
        "updated_text": format_datetime(updated),
        "primary_key": PRIMARY_KEYS[dataset.name],
        "preview": table[:PREVIEW_ROWS],
    }
