"""The OpenAPI 3.1 document of the open-data API, built from small schema dicts (no framework).

`LIST_PARAMETERS` is also what app/routes/api.py accepts: a query parameter that is not declared here is
refused with 400, so the document and the behaviour cannot drift apart.
"""

from .models.committees import DecisionMode, ItemKind, Outcome
from .models.portfolio import BackingRole, Moscow, OpportunityState
from .queries.dashboard import PUBLIC_SESSION_STATES

API_VERSION = "1.2.0"  # docs/api.md keeps the changelog
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
MAX_PAGE = 100_000


def _nullable(schema: dict) -> dict:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]} if isinstance(kind, str) else schema


def _enum(values, nullable=False) -> dict:
    values = [v.value if hasattr(v, "value") else v for v in values]
    if nullable:
        return {"type": ["string", "null"], "enum": [*values, None]}
    return {"type": "string", "enum": values}


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
CODES = {"type": "array", "items": STRING}
DATETIME = {"type": "string", "format": "date-time"}


def _object(properties: dict, description: str = "") -> dict:
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


# --- resources ----------------------------------------------------------------------------------------------
# Each schema lists every field the API sends (additionalProperties: false): a field carrying personal data
# could not appear without changing this document and failing the schema tests.

SCHEMAS: dict[str, dict] = {
    "Backing": _object(
        {
            "ministry": {
                **STRING,
                "description": "Code du ministère (organisation) qui soutient l'opportunité",
            },
            "name": {**STRING, "description": "Nom du ministère"},
            "role": {**_enum(BackingRole), "description": "pilote, contributeur ou intéressé"},
        }
    ),
    "Opportunity": _object(
        {
            "code": {**STRING, "pattern": r"^M\d{3,5}$", "description": "Code de l'opportunité (M001…)"},
            "number": INTEGER,
            "brique": {**STRING, "description": "Brique (titre court)"},
            "besoin": {**STRING, "description": "Besoin exprimé (Markdown)"},
            "status": {**_enum(OpportunityState), "description": "Statut dans le cycle de vie"},
            "status_label": STRING,
            "status_reason": {**NULLABLE_STRING, "description": "Motif (écartée, déjà couverte)"},
            "priority": {**_enum(Moscow, nullable=True), "description": "Priorité MoSCoW du portefeuille"},
            "merged_into": {
                **NULLABLE_STRING,
                "description": "Code de l'opportunité conservée (fusionnée, doublon)",
            },
            "actions": {
                **CODES,
                "description": "Codes des actions de la stratégie qui portent l'opportunité",
            },
            "backings": {"type": "array", "items": {"$ref": "#/components/schemas/Backing"}},
            "created_at": DATETIME,
            "updated_at": DATETIME,
        },
        "Opportunité de mutualisation du portefeuille interministériel",
    ),
    "Action": _object(
        {
            "code": {**STRING, "description": "Code de l'action (2.1.1…)"},
            "chantier": STRING,
            "title": STRING,
            "detail": STRING,
            "portage": STRING,
            "cost": {**STRING, "description": "Estimation de coût (texte libre de la stratégie)"},
            "duration": {**STRING, "description": "Estimation de durée (texte libre de la stratégie)"},
            "moscow": {**_enum(Moscow, nullable=True), "description": "Classe MoSCoW de l'action"},
            "opportunities": {**CODES, "description": "Codes des opportunités portées"},
        },
        "Action des lignes stratégiques 2018",
    ),
    "Guichet": _object(
        {
            "code": STRING,
            "name": STRING,
            "parent": {**NULLABLE_STRING, "description": "Code du guichet parent (fonds → volet → thème)"},
            "children": CODES,
            "fund": STRING,
            "mode": STRING,
            "description": STRING,
            "criteria": STRING,
            "amounts": STRING,
            "source": STRING,
        },
        "Guichet de financement",
    ),
    "CampaignResult": _object(
        {
            "opportunity": {**STRING, "description": "Code de l'opportunité classée"},
            "rank": {**INTEGER, "minimum": 1, "description": "Rang dans les résultats figés à la clôture"},
            "must": {**INTEGER, "minimum": 0, "description": "Nombre de votes « Must »"},
            "should": {**INTEGER, "minimum": 0},
            "could": {**INTEGER, "minimum": 0},
            "wont": {**INTEGER, "minimum": 0},
            "median": {**_enum(Moscow, nullable=True), "description": "Classe médiane des votes"},
            "retained": {
                **_enum(Moscow, nullable=True),
                "description": "Classe retenue : l'arbitrage du secrétariat s'il y en a un, sinon la médiane",
            },
        },
        "Résultat d'une opportunité dans une campagne (comptes figés, jamais un bulletin)",
    ),
    "CampaignParticipation": _object(
        {
            "ministry": {**NULLABLE_STRING, "description": "Code du ministère"},
            "electors": {**INTEGER, "minimum": 0},
            "voters": {**INTEGER, "minimum": 0},
        },
        "Participation d'un ministère à une campagne",
    ),
    "Campaign": {
        **_object(
            {
                "id": {**INTEGER, "minimum": 1},
                "title": STRING,
                "description": {**STRING, "description": "Présentation de la campagne (Markdown)"},
                "opens_at": DATETIME,
                "closes_at": DATETIME,
                "published_at": {**_nullable(DATETIME), "description": "Date de publication des résultats"},
                "results": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CampaignResult"},
                    "description": "Seulement sur /campaigns/{campaign_id}",
                },
                "participation": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CampaignParticipation"},
                    "description": "Seulement sur /campaigns/{campaign_id}",
                },
            },
            "Campagne de priorisation MoSCoW dont les résultats sont publiés",
        ),
        "required": ["id", "title", "description", "opens_at", "closes_at", "published_at"],
    },
    "DecisionAmount": _object(
        {
            "year": {**INTEGER, "description": "Exercice budgétaire"},
            "ae": {**INTEGER, "minimum": 0, "description": "Autorisations d'engagement (euros)"},
            "cp": {**INTEGER, "minimum": 0, "description": "Crédits de paiement (euros)"},
        }
    ),
    "Votes": _object(
        {
            "for": {**INTEGER, "minimum": 0},
            "against": {**INTEGER, "minimum": 0},
            "abstention": {**INTEGER, "minimum": 0},
        }
    ),
    "Decision": _object(
        {
            "id": {**INTEGER, "minimum": 1},
            "committee": {**STRING, "description": "Code du comité"},
            "session": {**INTEGER, "description": "Numéro de la séance (voir /sessions/{session_id})"},
            "session_date": DATETIME,
            "item": {**NULLABLE_STRING, "description": "Intitulé du point de l'ordre du jour"},
            "kind": {**_enum(ItemKind, nullable=True), "description": "Nature du point"},
            "opportunity": {**NULLABLE_STRING, "description": "Code de l'opportunité examinée"},
            "dossier": {**_nullable(INTEGER), "description": "Numéro du dossier examiné"},
            "dossier_reference": {**NULLABLE_STRING, "description": "Référence du dossier examiné (D0006)"},
            "outcome": {**_enum(Outcome), "description": "Sens de la décision"},
            "outcome_label": STRING,
            "mode": {**_enum(DecisionMode), "description": "Vote ou consensus"},
            "motivation": STRING,
            "conditions": STRING,
            "votes": {"$ref": "#/components/schemas/Votes"},
            "verdict": {**STRING, "description": "Règle de majorité appliquée (texte)"},
            "amounts": {"type": "array", "items": {"$ref": "#/components/schemas/DecisionAmount"}},
            "rectifies": {**_nullable(INTEGER), "description": "Numéro de la décision rectifiée"},
            "recorded_at": DATETIME,
        },
        "Décision publiée d'un comité (procès-verbal publié)",
    ),
    "AgendaItem": _object(
        {
            "position": {**INTEGER, "minimum": 1},
            "kind": _enum(ItemKind),
            "title": STRING,
            "opportunity": NULLABLE_STRING,
        }
    ),
    "Session": _object(
        {
            "id": {**INTEGER, "minimum": 1},
            "committee": {**STRING, "description": "Code du comité"},
            "committee_name": STRING,
            "title": {**STRING, "description": "Titre de la séance (vide : le nom du comité et la date)"},
            "starts_at": DATETIME,
            "duration_minutes": {**INTEGER, "minimum": 1},
            "state": {**_enum(PUBLIC_SESSION_STATES), "description": "État de la séance"},
            "state_label": STRING,
            "agenda": {"type": "array", "items": {"$ref": "#/components/schemas/AgendaItem"}},
        },
        "Séance d'un comité dont l'ordre du jour est publié",
    ),
    "FunnelStep": _object({"status": STRING, "label": STRING, "at_stage": INTEGER, "reached": INTEGER}),
    "PriorityRow": _object(
        {"value": _enum(Moscow, nullable=True), "label": STRING, "opportunities": INTEGER, "actions": INTEGER}
    ),
    "FundRow": _object({"fund": STRING, "guichets": INTEGER}),
    "Stats": {
        "type": "object",
        "description": "Chiffres du tableau de bord (mêmes calculs que la page /tableau-de-bord).",
        "properties": {
            "pipeline": {"type": "array", "items": {"$ref": "#/components/schemas/FunnelStep"}},
            "side_exits": {"type": "array", "items": {"$ref": "#/components/schemas/FunnelStep"}},
            "priorities": {"type": "array", "items": {"$ref": "#/components/schemas/PriorityRow"}},
            "guichets_by_fund": {"type": "array", "items": {"$ref": "#/components/schemas/FundRow"}},
        },
        "required": ["pipeline", "side_exits", "priorities", "guichets_by_fund"],
    },
    "Meta": _object(
        {
            "page": INTEGER,
            "per_page": INTEGER,
            "total": INTEGER,
            "pages": INTEGER,
            "notices": {
                **CODES,
                "description": "Remarques sur la requête (par exemple per_page ramené à 200)",
            },
        }
    ),
    "Links": _object(
        {"self": STRING, "first": STRING, "last": STRING, "prev": NULLABLE_STRING, "next": NULLABLE_STRING}
    ),
    "Error": {
        "type": "object",
        "properties": {
            "error": STRING,
            "detail": STRING,
            "status": INTEGER,
            "unknown_parameters": CODES,
            "valid_parameters": CODES,
            "invalid": {"type": "object", "additionalProperties": STRING},
            "valid_values": {"type": "object", "additionalProperties": CODES},
        },
        "required": ["error", "detail", "status"],
    },
    "Index": {
        "type": "object",
        "properties": {"version": STRING, "endpoints": {"type": "object"}},
        "required": ["version", "endpoints"],
    },
}


# One example per resource (JSON Schema 2020-12 `examples`), checked against its schema by the tests.
EXAMPLES: dict[str, dict] = {
    "Backing": {"ministry": "MININT", "name": "Ministère de l'Intérieur", "role": "pilote"},
    "Opportunity": {
        "code": "M001",
        "number": 1,
        "brique": "Annuaire commun",
        "besoin": "Un annuaire interministériel des agents.",
        "status": "retenue_criblage",
        "status_label": "Retenue au criblage",
        "status_reason": None,
        "priority": "must",
        "merged_into": None,
        "actions": ["2.1.1"],
        "backings": [{"ministry": "MININT", "name": "Ministère de l'Intérieur", "role": "pilote"}],
        "created_at": "2026-01-15T09:30:00+00:00",
        "updated_at": "2026-03-02T14:00:00+00:00",
    },
    "Action": {
        "code": "2.1.1",
        "chantier": "Socle numérique",
        "title": "Mutualiser l'annuaire",
        "detail": "",
        "portage": "DINUM",
        "cost": "Moyen",
        "duration": "12 mois",
        "moscow": "must",
        "opportunities": ["M001"],
    },
    "Guichet": {
        "code": "FTAP",
        "name": "Fonds pour la transformation de l'action publique",
        "parent": None,
        "children": ["FTAP-1"],
        "fund": "FTAP",
        "mode": "appel à projets",
        "description": "",
        "criteria": "",
        "amounts": "",
        "source": "",
    },
    "Campaign": {
        "id": 3,
        "title": "Priorisation 2027",
        "description": "Classez les opportunités qualifiées.",
        "opens_at": "2027-01-04T08:00:00+00:00",
        "closes_at": "2027-01-29T17:00:00+00:00",
        "published_at": "2027-02-03T10:00:00+00:00",
        "results": [
            {
                "opportunity": "M001",
                "rank": 1,
                "must": 12,
                "should": 3,
                "could": 1,
                "wont": 0,
                "median": "must",
                "retained": "must",
            }
        ],
        "participation": [{"ministry": "MININT", "electors": 4, "voters": 3}],
    },
    "Decision": {
        "id": 42,
        "committee": "CSIC",
        "session": 7,
        "session_date": "2027-04-15T12:00:00+00:00",
        "item": "Annuaire commun",
        "kind": "opportunite",
        "opportunity": "M001",
        "dossier": None,
        "dossier_reference": None,
        "outcome": "validee",
        "outcome_label": "Validée",
        "mode": "consensus",
        "motivation": "Besoin partagé par cinq ministères.",
        "conditions": "",
        "votes": {"for": 0, "against": 0, "abstention": 0},
        "verdict": "Consensus constaté par le président",
        "amounts": [],
        "rectifies": None,
        "recorded_at": "2027-04-15T13:10:00+00:00",
    },
    "Session": {
        "id": 7,
        "committee": "CSIC",
        "committee_name": "Comité stratégique interministériel du numérique",
        "title": "",
        "starts_at": "2027-04-15T12:00:00+00:00",
        "duration_minutes": 120,
        "state": "pv_publie",
        "state_label": "Procès-verbal publié",
        "agenda": [{"position": 1, "kind": "opportunite", "title": "Annuaire commun", "opportunity": "M001"}],
    },
    "Error": {
        "error": "Paramètre inconnu",
        "detail": "Le paramètre « satut » n'existe pas.",
        "status": 400,
        "unknown_parameters": ["satut"],
        "valid_parameters": ["q", "statut", "page", "per_page"],
    },
}
for _name, _example in EXAMPLES.items():
    SCHEMAS[_name]["examples"] = [_example]


def _page_schema(item: str) -> dict:
    return _object(
        {
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "meta": {"$ref": "#/components/schemas/Meta"},
            "links": {"$ref": "#/components/schemas/Links"},
        }
    )


# --- parameters ---------------------------------------------------------------------------------------------

# Free text: no control character (refused before any view, app/security.py), 500 characters at most.
NO_CONTROL = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
TEXT = {"type": "string", "maxLength": 500, "pattern": NO_CONTROL}


def _query(name: str, description: str, schema: dict | None = None, multiple: bool = False) -> dict:
    schema = schema or TEXT
    if multiple:
        schema = {"type": "array", "items": schema}
    parameter = {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
    if multiple:
        parameter.update(style="form", explode=True)
    return parameter


PAGINATION = [
    _query(
        "page",
        f"Numéro de page, à partir de 1 (au plus {MAX_PAGE}).",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    ),
    _query(
        "per_page",
        f"Éléments par page ({DEFAULT_PER_PAGE} par défaut). Au-delà de {MAX_PER_PAGE}, la valeur "
        f"est ramenée à {MAX_PER_PAGE} et `meta.notices` le signale.",
        {"type": "integer", "minimum": 1},
    ),
]

LIST_PARAMETERS: dict[str, list[dict]] = {
    # The same filters as the /opportunites page (app/queries/portfolio.py PortfolioFilters).
    "opportunities": [
        _query("q", "Recherche dans le code, la brique et le besoin (sans accents ni majuscules)."),
        _query("statut", "Statut (répétable).", _enum(OpportunityState), multiple=True),
        _query("chantier", "Chantier d'une action liée (valeurs : voir /api/v1/actions)."),
        _query("moscow", "Classe MoSCoW d'une action liée.", _enum(Moscow)),
        _query("priorite", "Priorité MoSCoW du portefeuille.", _enum(Moscow)),
        _query("ministere", "Code d'un ministère qui soutient l'opportunité."),
        _query(
            "tri",
            "Tri : code, -code, brique, statut, maj.",
            _enum(["code", "-code", "brique", "statut", "maj"]),
        ),
        *PAGINATION,
    ],
    "actions": [
        _query("chantier", "Chantier de l'action."),
        _query("moscow", "Classe MoSCoW de l'action.", _enum(Moscow)),
        *PAGINATION,
    ],
    "guichets": [
        _query("fund", "Fonds (valeur exacte du champ `fund`)."),
        _query("parent", "Code du guichet parent."),
        *PAGINATION,
    ],
    "campaigns": [*PAGINATION],
    "decisions": [
        _query("committee", "Code du comité."),
        _query("outcome", "Sens de la décision.", _enum(Outcome)),
        *PAGINATION,
    ],
    "sessions": [
        _query("committee", "Code du comité."),
        _query("state", "État de la séance.", _enum(PUBLIC_SESSION_STATES)),
        *PAGINATION,
    ],
}


def parameter_names(resource: str) -> list[str]:
    return [p["name"] for p in LIST_PARAMETERS[resource]]


# --- responses ----------------------------------------------------------------------------------------------


def _json_response(description: str, schema_ref: str | dict, headers: bool = True) -> dict:
    schema = {"$ref": f"#/components/schemas/{schema_ref}"} if isinstance(schema_ref, str) else schema_ref
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = {
            "ETag": {"description": "Empreinte du contenu, pour If-None-Match", "schema": STRING}
        }
    return response


ERRORS = {
    "304": {"description": "Non modifié depuis l'ETag envoyé dans If-None-Match"},
    "401": _json_response("Connexion requise (PUBLIC_API=false)", "Error", headers=False),
    # app/security.py refuses a control character anywhere in the request, before any view
    "400": _json_response(
        "Requête invalide : paramètre inconnu, valeur invalide ou caractère de contrôle",
        "Error",
        headers=False,
    ),
}
NOT_FOUND = {"404": _json_response("Code inconnu", "Error", headers=False)}
BAD_REQUEST = {
    "400": _json_response(
        "Paramètre inconnu ou valeur invalide ; la réponse liste les valeurs acceptées",
        "Error",
        headers=False,
    )
}

LIST_RESOURCES = {
    "opportunities": ("Opportunity", "Opportunités du portefeuille", "M001"),
    "actions": ("Action", "Actions de la stratégie", "2.1.1"),
    "guichets": ("Guichet", "Guichets de financement", "FTAP"),
}
# Resources identified by a number: (schema, title, path parameter).
ID_RESOURCES = {
    "campaigns": ("Campaign", "Campagnes MoSCoW publiées", "campaign_id"),
    "decisions": ("Decision", "Décisions publiées des comités", "decision_id"),
    "sessions": ("Session", "Séances des comités (ordre du jour publié)", "session_id"),
}
MAX_ID = 2_147_483_647


def _operation(
    summary: str,
    operation_id: str,
    responses: dict,
    parameters: list | None = None,
    tags: list[str] | None = None,
) -> dict:
    operation = {"summary": summary, "operationId": operation_id, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if tags:
        operation["tags"] = tags
    return {"get": operation}


def build(server_url: str = "/api/v1") -> dict:
    paths: dict[str, dict] = {
        "/": _operation(
            "Liste des points d'accès",
            "index",
            {"200": _json_response("Points d'accès", "Index", headers=False)},
        ),
        "/stats": _operation(
            "Chiffres du tableau de bord",
            "stats",
            {"200": _json_response("Chiffres", "Stats"), **ERRORS},
            tags=["tableau de bord"],
        ),
    }
    for resource, (schema, title, example) in LIST_RESOURCES.items():
        paths[f"/{resource}"] = _operation(
            title,
            f"list_{resource}",
            {"200": _json_response("Une page de résultats", _page_schema(schema)), **BAD_REQUEST, **ERRORS},
            LIST_PARAMETERS[resource],
            tags=[resource],
        )
        paths[f"/{resource}/{{code}}"] = _operation(
            f"{title} : un élément par son code",
            f"get_{resource[:-1]}",
            {"200": _json_response("L'élément", schema), **BAD_REQUEST, **NOT_FOUND, **ERRORS},
            [
                {
                    "name": "code",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "pattern": NO_CONTROL},
                    "example": example,
                }
            ],
            tags=[resource],
        )
    for resource, (schema, title, parameter) in ID_RESOURCES.items():
        paths[f"/{resource}"] = _operation(
            title,
            f"list_{resource}",
            {"200": _json_response("Une page de résultats", _page_schema(schema)), **BAD_REQUEST, **ERRORS},
            LIST_PARAMETERS[resource],
            tags=[resource],
        )
        paths[f"/{resource}/{{{parameter}}}"] = _operation(
            f"{title} : un élément par son numéro",
            f"get_{resource[:-1]}",
            {"200": _json_response("L'élément", schema), **BAD_REQUEST, **NOT_FOUND, **ERRORS},
            [
                {
                    "name": parameter,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                }
            ],
            tags=[resource],
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mutualisation DSI — API open data",
            "version": API_VERSION,
            "description": "API en lecture seule du portefeuille interministériel de mutualisation : "
            "opportunités, actions de la stratégie, guichets, campagnes MoSCoW publiées, séances et "
            "décisions publiées des comités, chiffres du tableau de bord. "
            "Aucune donnée personnelle (nom ou adresse électronique d'agent) n'est exposée. "
            "Pagination `page`/`per_page` (≤ 200), ETag / If-None-Match, CORS en lecture.",
            "license": {"name": "Licence Ouverte 2.0", "identifier": "etalab-2.0"},
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
