"""Read-only JSON API under /api/v1/ (open data), its OpenAPI document and its human documentation page.

Access: PUBLIC_API=true opens the data endpoints to everyone; otherwise a signed-in user is needed: an
anonymous client asking for JSON gets 401 JSON, a browser the usual login redirect. Only GET/HEAD/OPTIONS
exist (no CSRF involved). Every response carries an
ETag (If-None-Match → 304) and CORS headers for GET. Bad input is a 400 JSON that lists what is accepted;
an unknown code is a 404 JSON; nothing here raises a 500 on user input.
"""

import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, render_template, request, url_for
from sqlalchemy import false, func, select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed

from .. import openapi
from ..extensions import csrf, db
from ..models import Action, Campaign, Committee, Decision, Guichet, Meeting, Opportunity, OpportunityState
from ..models.committees import Outcome
from ..models.portfolio import LEGACY_STATES, Moscow
from ..permissions import opendata_readable, public
from ..queries import dashboard as figures
from ..queries import portfolio as portfolio_queries

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

CODE_MAX = 32


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra):
        super().__init__(detail)
        self.status = status
        self.body = {"error": error, "detail": detail, "status": status, **extra}


@bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return _json(error.body, error.status, conditional=False)


def _json(payload, status: int = 200, conditional: bool = True) -> Response:
    # ASCII-escaped JSON: valid for every client and cheaper to produce for a 200-row page.
    body = json.dumps(payload, separators=(",", ":"), check_circular=False).encode("ascii")
    response = Response(body, status, mimetype="application/json")
    if conditional and status == 200:
        response.add_etag()
        response.make_conditional(request)
    return response


@bp.after_request
def _api_headers(response: Response) -> Response:
    if response.status_code == 302 and _wants_json() and (request.endpoint or "").startswith("api."):
        # The route gate sends anonymous visitors to the login page (what a browser wants); a client that
        # asks for JSON gets 401 JSON instead.
        response = _json(
            {
                "error": "Connexion requise",
                "status": 401,
                "detail": "L'API est réservée aux agents connectés (PUBLIC_API=false). "
                "Connectez-vous sur /connexion.",
            },
            401,
            conditional=False,
        )
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Link, X-Total-Count"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match, Accept"
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Cache-Control"] = (
        "no-cache" if current_app.config["PUBLIC_API"] else "private, no-cache"
    )
    response.vary.add("Cookie")
    return response


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept.quality("application/json") > accept.quality("text/html")


@bp.after_app_request
def _allow_header(response: Response) -> Response:
    """The JSON error page drops the Allow header of a 405: put it back for API paths."""
    if (
        response.status_code == 405
        and request.path.startswith("/api/")
        and isinstance(request.routing_exception, MethodNotAllowed)
    ):
        response.headers["Allow"] = ", ".join(sorted(request.routing_exception.valid_methods or ()))
    return response


# --- input --------------------------------------------------------------------------------------------------


def _check_parameters(resource: str) -> MultiDict:
    valid = openapi.parameter_names(resource)
    unknown = sorted(set(request.args) - set(valid))
    if unknown:
        raise ApiError(
            400,
            "Paramètre inconnu",
            f"Paramètre(s) non reconnu(s) : {', '.join(unknown)}.",
            unknown_parameters=unknown,
            valid_parameters=valid,
        )
    for name, value in request.args.items(multi=True):
        if "\x00" in value or len(value) > 500:
            raise ApiError(
                400,
                "Valeur invalide",
                f"Valeur invalide pour « {name} ».",
                invalid={name: "Valeur trop longue ou contenant un caractère nul."},
            )
    return request.args


def _pagination(args: MultiDict) -> tuple[int, int, list[str]]:
    notices, invalid = [], {}
    page = _positive_int(args.get("page"), 1)
    if page is None or page > openapi.MAX_PAGE:
        invalid["page"] = f"Entier de 1 à {openapi.MAX_PAGE} attendu."
    per_page = _positive_int(args.get("per_page"), openapi.DEFAULT_PER_PAGE)
    if per_page is None:
        invalid["per_page"] = "Entier supérieur ou égal à 1 attendu."
    if invalid:
        raise ApiError(400, "Valeur invalide", "Pagination invalide.", invalid=invalid)
    if per_page > openapi.MAX_PER_PAGE:
        notices.append(f"per_page ramené de {per_page} à {openapi.MAX_PER_PAGE} (maximum).")
        per_page = openapi.MAX_PER_PAGE
    return page, per_page, notices


def _positive_int(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    value = value.strip()
    if not value.isascii() or not value.isdigit() or not value.lstrip("0"):
        return None
    digits = value.lstrip("0")
    return int(digits) if len(digits) <= 12 else 10**12  # huge values: clamped or refused by the caller


def _code(code: str) -> str:
    if len(code) > CODE_MAX or "\x00" in code:
        raise ApiError(404, "Introuvable", "Aucun élément ne porte ce code.")
    return code


def _not_found(kind: str, code: str):
    raise ApiError(404, "Introuvable", f"{kind} « {code} » inconnu(e).")


MOSCOW = [m.value for m in Moscow]


def _check_enums(args: MultiDict, allowed: dict[str, list[str]]) -> None:
    """Filters whose values form a fixed list: an unknown value is a 400 listing the valid ones."""
    invalid = {
        name: f"Valeur inconnue : « {value} »."
        for name, values in allowed.items()
        for value in args.getlist(name)
        if value not in values
    }
    if invalid:
        raise ApiError(
            400,
            "Valeur invalide",
            "Valeur de filtre inconnue : voir valid_values.",
            invalid=invalid,
            valid_values={name: allowed[name] for name in invalid},
        )


# --- pages of results ---------------------------------------------------------------------------------------


def _orm_fetch(options, serialize):
    def fetch(query, limit: int, offset: int) -> list[dict]:
        return [
            serialize(row) for row in db.session.scalars(query.options(*options).limit(limit).offset(offset))
        ]

    return fetch


def _page(
    resource: str, query, order_by, fetch, args: MultiDict, notices: list[str] | None = None
) -> Response:
    """One page of `query`: fetch(query, limit, offset) returns the public dicts."""
    page, per_page, pagination_notices = _pagination(args)
    notices = [*(notices or []), *pagination_notices]
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // per_page))
    rows = fetch(query.order_by(*order_by), per_page, (page - 1) * per_page) if page <= pages else []
    base = url_for(f"api.list_{resource}", _external=True)
    kept = [(k, v) for k, v in args.items(multi=True) if k not in ("page", "per_page")]

    def link(number: int) -> str:
        return f"{base}?{urlencode([*kept, ('page', number), ('per_page', per_page)])}"

    links = {
        "self": link(page),
        "first": link(1),
        "last": link(pages),
        "prev": link(min(page - 1, pages)) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }
    response = _json(
        {
            "data": rows,
            "meta": {"page": page, "per_page": per_page, "total": total, "pages": pages, "notices": notices},
            "links": links,
        }
    )
    response.headers["X-Total-Count"] = str(total)
    response.headers["Link"] = ", ".join(
        f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel != "self"
    )
    return response


# --- documentation ------------------------------------------------------------------------------------------


@bp.get("/")
@public
def docs():
    document = openapi.build(url_for("api.index"))
    return render_template(
        "api/index.html",
        document=document,
        resources={**openapi.LIST_RESOURCES, **openapi.ID_RESOURCES},
        parameters=openapi.LIST_PARAMETERS,
        max_per_page=openapi.MAX_PER_PAGE,
        default_per_page=openapi.DEFAULT_PER_PAGE,
    )


@bp.get("/v1/")
@public
def index():
    return _json(
        {
            "version": openapi.API_VERSION,
            "endpoints": {
                "openapi": url_for("api.openapi_document", _external=True),
                "stats": url_for("api.stats", _external=True),
                **{
                    resource: url_for(f"api.list_{resource}", _external=True)
                    for resource in [*openapi.LIST_RESOURCES, *openapi.ID_RESOURCES]
                },
            },
        }
    )


@bp.get("/v1/openapi.json")
@public
def openapi_document():
    return _json(openapi.build(url_for("api.index", _external=True).rstrip("/")))


# --- data ---------------------------------------------------------------------------------------------------


def _public_step(step) -> dict:
    """A funnel step under its published field names (`status` is the API's word for the state)."""
    return {"status": step.state, "label": step.label, "at_stage": step.at_stage, "reached": step.reached}


@bp.get("/v1/stats")
@opendata_readable
def stats():
    counts, priorities = figures.portfolio_figures()
    return _json(
        {
            "pipeline": [_public_step(step) for step in figures.pipeline_funnel(counts)],
            "side_exits": [_public_step(step) for step in figures.side_exits(counts)],
            "priorities": [vars(row) for row in priorities],
            "guichets_by_fund": [vars(row) for row in figures.guichets_by_fund()],
        }
    )


@bp.get("/v1/opportunities")
@opendata_readable
def list_opportunities():
    """The /opportunites page's filters (PortfolioFilters). A value outside a fixed list (statut, moscow,
    priorite, tri) is a 400 listing the valid ones; a chantier or ministry that does not exist (data, not
    vocabulary) matches nothing and says so in meta.notices."""
    args = _check_parameters("opportunities")
    _check_enums(
        args,
        {
            "statut": [s.value for s in OpportunityState] + list(LEGACY_STATES),
            "moscow": MOSCOW,
            "priorite": MOSCOW,
            "tri": list(portfolio_queries.SORTS),
        },
    )
    # The lists of existing chantiers and ministries cost a query each: read them only when filtering by them.
    chantiers = portfolio_queries.chantiers() if args.get("chantier") else []
    ministries = [o.code for o in portfolio_queries.organisations()] if args.get("ministere") else []
    filters = portfolio_queries.PortfolioFilters.from_args(
        MultiDict([(k, v) for k, v in args.items(multi=True) if k not in ("page", "per_page")]),
        chantiers,
        ministries,
    )
    query = portfolio_queries.filtered(filters)
    notices = []
    if filters.notices:  # only chantier / ministère can be left here: nothing matches them
        notices = [n.replace(" ignoré", "") + " Aucun résultat." for n in filters.notices]
        query = query.where(false())
    return _page(
        "opportunities",
        query,
        portfolio_queries.SORTS[filters.sort],
        figures.opportunity_public_rows,
        args,
        notices,
    )


@bp.get("/v1/opportunities/<code>")
@opendata_readable
def get_opportunity(code: str):
    rows = figures.opportunity_public_rows(select(Opportunity).where(Opportunity.code == _code(code)))
    if not rows:
        _not_found("Opportunité", code)
    return _json(rows[0])


@bp.get("/v1/actions")
@opendata_readable
def list_actions():
    args = _check_parameters("actions")
    _check_enums(args, {"moscow": MOSCOW})
    query, notices = select(Action), []
    chantier, moscow = args.get("chantier", ""), args.get("moscow", "")
    if chantier:
        query = query.where(Action.chantier == chantier)
        if chantier not in portfolio_queries.chantiers():
            notices.append(f"Chantier inconnu : « {chantier} ». Aucun résultat.")
    if moscow:
        query = query.where(Action.moscow == moscow)
    return _page("actions", query, (Action.id,), figures.action_public_rows, args, notices)


@bp.get("/v1/actions/<code>")
@opendata_readable
def get_action(code: str):
    rows = figures.action_public_rows(select(Action).where(Action.code == _code(code)))
    if not rows:
        _not_found("Action", code)
    return _json(rows[0])


@bp.get("/v1/guichets")
@opendata_readable
def list_guichets():
    args = _check_parameters("guichets")
    query, notices = select(Guichet), []
    fund, parent = args.get("fund", ""), args.get("parent", "")
    if fund:
        query = query.where(Guichet.fund == fund)
    if parent:
        parent_id = db.session.scalar(select(Guichet.id).where(Guichet.code == parent))
        if parent_id is None:
            notices.append(f"Guichet parent inconnu : « {parent} ». Aucun résultat.")
        query = query.where(Guichet.parent_id == parent_id) if parent_id else query.where(false())
    return _page(
        "guichets",
        query,
        (Guichet.id,),
        _orm_fetch(figures.guichet_options(), figures.guichet_public),
        args,
        notices,
    )


@bp.get("/v1/guichets/<code>")
@opendata_readable
def get_guichet(code: str):
    row = db.session.scalar(
        select(Guichet).where(Guichet.code == _code(code)).options(*figures.guichet_options())
    )
    if row is None:
        _not_found("Guichet", code)
    return _json(figures.guichet_public(row))


# --- campaigns and committees (published data only) -------------------------------------------------------


def _get_by_id(query, model, object_id: int, serialize, options=()):
    row = db.session.scalar(query.where(model.id == object_id).options(*options))
    if row is None:
        raise ApiError(404, "Introuvable", f"Aucun élément publié ne porte le numéro {object_id}.")
    return _json(serialize(row))


@bp.get("/v1/campaigns")
@opendata_readable
def list_campaigns():
    args = _check_parameters("campaigns")
    return _page(
        "campaigns",
        figures.published_campaigns(),
        (Campaign.published_at.desc(), Campaign.id.desc()),
        _orm_fetch((), figures.campaign_public),
        args,
    )


@bp.get(f"/v1/campaigns/<int(max={openapi.MAX_ID}):campaign_id>")
@opendata_readable
def get_campaign(campaign_id: int):
    body = figures.campaign_details(campaign_id)
    if body is None:
        raise ApiError(404, "Introuvable", f"Aucune campagne publiée ne porte le numéro {campaign_id}.")
    return _json(body)


@bp.get("/v1/decisions")
@opendata_readable
def list_decisions():
    args = _check_parameters("decisions")
    _check_enums(args, {"outcome": [o.value for o in Outcome]})
    query, notices = figures.published_decisions(), []
    if committee := args.get("committee", ""):
        query = query.where(
            Decision.committee_id.in_(select(Committee.id).where(Committee.code == committee))
        )
    if outcome := args.get("outcome", ""):
        query = query.where(Decision.outcome == outcome)
    return _page(
        "decisions",
        query,
        (Decision.recorded_at.desc(), Decision.id.desc()),
        _orm_fetch(figures.decision_options(), figures.decision_public),
        args,
        notices,
    )


@bp.get(f"/v1/decisions/<int(max={openapi.MAX_ID}):decision_id>")
@opendata_readable
def get_decision(decision_id: int):
    return _get_by_id(
        figures.published_decisions(),
        Decision,
        decision_id,
        figures.decision_public,
        figures.decision_options(),
    )


@bp.get("/v1/sessions")
@opendata_readable
def list_sessions():
    args = _check_parameters("sessions")
    _check_enums(args, {"state": list(figures.PUBLIC_SESSION_STATES)})
    query = figures.public_sessions()
    if committee := args.get("committee", ""):
        query = query.where(Meeting.committee_id.in_(select(Committee.id).where(Committee.code == committee)))
    if state := args.get("state", ""):
        query = query.where(Meeting.state == state)
    return _page(
        "sessions",
        query,
        (Meeting.starts_at.desc(), Meeting.id.desc()),
        _orm_fetch(figures.session_options(), figures.session_public),
        args,
    )


@bp.get(f"/v1/sessions/<int(max={openapi.MAX_ID}):session_id>")
@opendata_readable
def get_session(session_id: int):
    return _get_by_id(
        figures.public_sessions(),
        Meeting,
        session_id,
        figures.session_public,
        figures.session_options(),
    )
