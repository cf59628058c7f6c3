"""Portfolio list: search, filters, sort and pagination, with the same parameters for page and exports."""

import time
from collections import namedtuple
from dataclasses import dataclass, field
from functools import lru_cache

from markupsafe import Markup
from sqlalchemy import Select, and_, case, column, exists, func, literal, literal_column, select, table
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Action, Backing, Opportunity, OpportunityState, Organisation
from ..models.portfolio import (
    FRENCH_STEMMER as _STEMMER,
)
from ..models.portfolio import (
    LEGACY_STATES,
    WORD,
    BackingRole,
    Moscow,
    action_opportunities,
    fold,
    words,
)

SORTS = {
    # "pertinence": the list page ranks a search's matches (paginate); elsewhere it reads as code order.
    "pertinence": (Opportunity.number.asc(),),
    "code": (Opportunity.number.asc(),),
    "-code": (Opportunity.number.desc(),),
    "brique": (Opportunity.brique.asc(), Opportunity.number.asc()),
    "statut": (Opportunity.state.asc(), Opportunity.number.asc()),
    "maj": (Opportunity.updated_at.desc(), Opportunity.number.asc()),
}
SORT_LABELS = {
    "pertinence": "Pertinence (avec une recherche)",
    "code": "Code croissant",
    "-code": "Code décroissant",
    "brique": "Brique (A→Z)",
    "statut": "Statut",
    "maj": "Dernière modification",
}


@dataclass
class PortfolioFilters:
    q: str = ""
    states: list[str] = field(default_factory=list)
    chantier: str = ""
    moscow: str = ""
    ministere: str = ""
    priorite: str = ""
    sort: str = "code"
    page: int = 1
    notices: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args, chantiers: list[str], ministry_codes: list[str]) -> "PortfolioFilters":
        """Parse query parameters; unknown values are dropped with a French notice."""
        f = cls(q=(args.get("q") or "").strip()[:200])
        for state in args.getlist("statut"):
            state = LEGACY_STATES.get(state, state)
            if state in OpportunityState.__members__.values():
                f.states.append(state)
            elif state:
                f.notices.append(f"Statut inconnu ignoré : « {state} ».")
        chantier = (args.get("chantier") or "").strip()
        # a chantier's code (« 2.2 ») stands for its label (« 2.2 France-Cloud »), the value the form sends
        chantier = next((c for c in chantiers if c.split(" ", 1)[0] == chantier), chantier)
        f.chantier = f._known(chantier, chantiers, "Chantier")
        f.moscow = f._known(args.get("moscow", ""), [m.value for m in Moscow], "Priorité MoSCoW d'action")
        f.priorite = f._known(args.get("priorite", ""), [m.value for m in Moscow], "Priorité")
        f.ministere = f._known(args.get("ministere", ""), ministry_codes, "Ministère")
        f.sort = f._known(args.get("tri", ""), list(SORTS), "Tri") or ("pertinence" if f.q else "code")
        page = args.get("page", "1")
        f.page = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
        if page not in ("", "1") and f.page == 1:
            f.notices.append(f"Numéro de page invalide ignoré : « {page} ».")
        return f

    def _known(self, value: str, allowed: list[str], label: str) -> str:
        if value and value not in allowed:
            self.notices.append(f"{label} inconnu ignoré : « {value} ».")
            return ""
        return value

    def as_args(self, **overrides) -> dict:
        """Query parameters reproducing these filters (for links, pagination and exports)."""
        args = {
            "q": self.q,
            "statut": self.states,
            "chantier": self.chantier,
            "moscow": self.moscow,
            "ministere": self.ministere,
            "priorite": self.priorite,
            "tri": self.sort,
            "page": self.page,
        }
        args.update(overrides)
        return {
            k: v
            for k, v in args.items()
            if v not in ("", [], None)
            and not (k == "tri" and v == ("pertinence" if self.q else "code"))
            and not (k == "page" and v == 1)
        }

    @property
    def active(self) -> bool:
        return bool(self.q or self.states or self.chantier or self.moscow or self.ministere or self.priorite)


# --- full-text search (migration b3f1c2d4e5a6) ------------------------------------------------------------
# Word prefixes, French stems, accents folded, ranked. PostgreSQL: the stored `search_vector`
# (to_tsvector('french', search_text)) and its GIN index; SQLite: the FTS5 table over `search_stem`.
MAX_TERMS = 8
_FTS = table("opportunities_fts", column("rowid"), column("opportunities_fts"))
_VECTOR = literal_column("opportunities.search_vector")
_FRENCH = literal_column("'french'::regconfig")


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _tsquery(terms: list[str]):
    return func.to_tsquery(_FRENCH, " & ".join(f"{t}:*" for t in terms))


def _fts_match(terms: list[str]):
    return _FTS.c.opportunities_fts.op("MATCH")(" ".join(f'"{s}"*' for s in _STEMMER.stemWords(terms)))


def search_terms(q: str) -> list[str]:
    return words(q)[:MAX_TERMS]


def search_clause(q: str):
    """WHERE clause of a search (None: no search)."""
    terms = search_terms(q)
    if not terms:
        return None
    if _postgres():
        return _VECTOR.op("@@")(_tsquery(terms))
    return Opportunity.id.in_(select(_FTS.c.rowid).where(_fts_match(terms)))


def search_hits(q: str):
    """Subquery (id, score) of the matches, the best with the lowest score."""
    terms = search_terms(q)
    if _postgres():
        query = _tsquery(terms)
        return (
            select(Opportunity.id.label("id"), (-func.ts_rank(_VECTOR, query)).label("score"))
            .where(_VECTOR.op("@@")(query))
            .subquery("hits")
        )
    return (
        select(_FTS.c.rowid.label("id"), func.bm25(literal_column("opportunities_fts")).label("score"))
        .where(_fts_match(terms))
        .subquery("hits")
    )


@lru_cache(maxsize=8192)
def _folded_stem(word: str) -> tuple[str, str]:
    folded = fold(word)
    return folded, _STEMMER.stemWord(folded)


def highlight(text: str, q: str) -> Markup:
    """`text` with the words a search matched in <mark> (same stems and prefixes as the query)."""
    terms = search_terms(q)
    wanted = _STEMMER.stemWords(terms)
    if not wanted:
        return Markup.escape(text)
    parts, last = [], 0
    for match in WORD.finditer(text):
        word = match.group(0)
        folded, stem = _folded_stem(word)
        if any(stem.startswith(w) for w in wanted) or any(folded.startswith(t) for t in terms):
            parts.append(str(Markup.escape(text[last : match.start()])))
            parts.append(f"<mark>{Markup.escape(word)}</mark>")
            last = match.end()
    parts.append(str(Markup.escape(text[last:])))
    return Markup("".join(parts))


def conditions(filters: PortfolioFilters) -> list:
    """WHERE clauses of the filters (no joins, so they apply to any select over opportunities)."""
    search = search_clause(filters.q)
    clauses = [search] if search is not None else []
    if filters.states:
        clauses.append(Opportunity.state.in_(filters.states))
    if filters.priorite:
        clauses.append(Opportunity.priority == filters.priorite)
    action_conditions = []
    if filters.chantier:
        action_conditions.append(Action.chantier == filters.chantier)
    if filters.moscow:
        action_conditions.append(Action.moscow == filters.moscow)
    if action_conditions:
        clauses.append(
            exists(
                select(action_opportunities.c.action_id)
                .join(Action, Action.id == action_opportunities.c.action_id)
                .where(action_opportunities.c.opportunity_id == Opportunity.id, and_(*action_conditions))
            )
        )
    if filters.ministere:
        clauses.append(
            exists(
                select(Backing.id)
                .join(Organisation, Organisation.id == Backing.organisation_id)
                .where(Backing.opportunity_id == Opportunity.id, Organisation.code == filters.ministere)
            )
        )
    return clauses


def filtered(filters: PortfolioFilters) -> Select:
    return select(Opportunity).where(*conditions(filters))


@dataclass
class Page:
    items: list[Opportunity]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class Ref:
    code: str
    name: str = ""


@dataclass
class BackingRow:
    organisation: Ref
    role: str

    @property
    def role_enum(self) -> BackingRole:
        return BackingRole(self.role)


@dataclass
class ListRow:
    """What the list shows of an opportunity, read as plain rows (no ORM identity map, no lazy loads)."""

    id: int
    code: str
    brique: str
    state: str
    priority: str | None
    target: Ref | None
    actions: list[Ref] = field(default_factory=list)
    backings: list[BackingRow] = field(default_factory=list)
    brique_marked: Markup | None = None  # with the searched words in <mark>

    @property
    def state_enum(self) -> OpportunityState:
        return OpportunityState(self.state)

    @property
    def priority_enum(self) -> Moscow | None:
        return Moscow(self.priority) if self.priority else None


_target = aliased(Opportunity)


def paginate(filters: PortfolioFilters, per_page: int) -> Page:
    """One page of the list as plain rows, plus the page's actions and backings: 4 statements for any N."""
    where = conditions(filters)
    terms = search_terms(filters.q)
    # SQLite, a search and no other filter: count and rank inside the FTS index alone, never reading the
    # (large) opportunity rows of every match — only the page's (bench/README.md, search at 13 300).
    fts_only = bool(terms) and len(where) == 1 and not _postgres()
    if fts_only:
        total = db.session.scalar(select(func.count()).select_from(_FTS).where(_fts_match(terms)))
    else:
        total = db.session.scalar(
            select(func.count()).select_from(Opportunity).where(*where)
        )  # count(*): index-only
    pages = max(1, -(-total // per_page))
    page = min(filters.page, pages)
    query = select(
        Opportunity.id,
        Opportunity.code,
        Opportunity.brique,
        Opportunity.state,
        Opportunity.priority,
        _target.code,
    ).outerjoin(_target, _target.id == Opportunity.target_id)
    offset = (page - 1) * per_page
    if fts_only and filters.sort == "pertinence":
        # the page's ids ranked by bm25 in the FTS table (ties by id, the import order), then their rows
        score = func.bm25(literal_column("opportunities_fts"))
        hits = (
            select(_FTS.c.rowid.label("id"), score.label("score"))
            .where(_fts_match(terms))
            .order_by(score, _FTS.c.rowid)
            .limit(per_page)
            .offset(offset)
            .subquery("hits")
        )
        query = query.join(hits, hits.c.id == Opportunity.id).order_by(hits.c.score, hits.c.id)
    elif filters.sort == "pertinence" and terms and _postgres():
        # rank and cut the page on opportunities alone (ts_rank on the stored vector), then join the page's
        # 20 rows to their targets: ranking through the join cost 2.6 × more at 13 300 (bench/README.md)
        score = -func.ts_rank(_VECTOR, _tsquery(terms))
        hits = (
            select(Opportunity.id.label("id"), Opportunity.number.label("number"), score.label("score"))
            .where(*where)
            .order_by(score, Opportunity.number)
            .limit(per_page)
            .offset(offset)
            .subquery("hits")
        )
        query = query.join(hits, hits.c.id == Opportunity.id).order_by(hits.c.score, hits.c.number)
    elif filters.sort == "pertinence" and terms:
        # the matches' scores come from the index the search used (bm25 on the FTS table)
        hits = search_hits(filters.q)
        query = query.join(hits, hits.c.id == Opportunity.id).where(*where[1:])
        query = query.order_by(hits.c.score.asc(), Opportunity.number.asc()).limit(per_page).offset(offset)
    else:
        query = query.where(*where).order_by(*SORTS[filters.sort]).limit(per_page).offset(offset)
    rows = db.session.execute(query).all()
    marked = bool(terms)
    items = [
        ListRow(
            id=r[0],
            code=r[1],
            brique=r[2],
            state=r[3],
            priority=r[4],
            target=Ref(r[5]) if r[5] else None,
            brique_marked=highlight(r[2], filters.q) if marked else None,
        )
        for r in rows
    ]
    by_id = {item.id: item for item in items}
    if by_id:
        for opp_id, code in db.session.execute(
            select(action_opportunities.c.opportunity_id, Action.code)
            .join(Action, Action.id == action_opportunities.c.action_id)
            .where(action_opportunities.c.opportunity_id.in_(list(by_id)))
            .order_by(Action.code)
        ):
            by_id[opp_id].actions.append(Ref(code))
        for opp_id, code, name, role in db.session.execute(
            select(Backing.opportunity_id, Organisation.code, Organisation.name, Backing.role)
            .join(Organisation, Organisation.id == Backing.organisation_id)
            .where(Backing.opportunity_id.in_(list(by_id)))
            .order_by(Backing.id)
        ):
            by_id[opp_id].backings.append(BackingRow(Ref(code, name), role))
    return Page(items=items, total=total, page=page, per_page=per_page)


def ordered(filters: PortfolioFilters) -> Select:
    """Every matching opportunity in the page's order (a search's ranking included), as a query."""
    if filters.sort == "pertinence" and search_terms(filters.q):
        hits = search_hits(filters.q)
        return (
            select(Opportunity)
            .join(hits, hits.c.id == Opportunity.id)
            .where(*conditions(filters)[1:])
            .order_by(hits.c.score.asc(), Opportunity.number.asc())
        )
    return filtered(filters).order_by(*SORTS[filters.sort])


def all_rows(filters: PortfolioFilters) -> list[Opportunity]:
    """Every matching opportunity in the page's order (a search's ranking included)."""
    return list(db.session.scalars(ordered(filters)))


OrganisationOption = namedtuple("OrganisationOption", "id code name")

# The filter option lists come from reference data that changes a few times a year (`flask data load`, the
# secretariat's edits): each process keeps them for a minute instead of querying them on every list page.
OPTIONS_TTL_SECONDS = 60
_options_cache: dict[tuple[str, str], tuple[float, list]] = {}


def _cached_options(name: str, load) -> list:
    key = (name, str(db.engine.url))
    now = time.monotonic()
    hit = _options_cache.get(key)
    if hit is None or hit[0] <= now:
        hit = (now + OPTIONS_TTL_SECONDS, load())
        _options_cache[key] = hit
    return hit[1]


def forget_options() -> None:
    """Drop the cached option lists (after loading reference data; between test requests)."""
    _options_cache.clear()


def chantiers() -> list[str]:
    return _cached_options(
        "chantiers",
        lambda: list(db.session.scalars(select(Action.chantier).distinct().order_by(Action.chantier))),
    )


def organisations() -> list:
    """(id, code, name) rows of the organisations, for option lists (plain rows: cheaper than entities)."""
    return _cached_options(
        "organisations",
        lambda: [
            OrganisationOption(*row)
            for row in db.session.execute(
                select(Organisation.id, Organisation.code, Organisation.name).order_by(Organisation.code)
            )
        ],
    )


SIMILAR_CANDIDATES = 50


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _words(text: str) -> set[str]:
    return {w for w in fold(text).replace("/", " ").replace("-", " ").split() if len(w) > 2}


def similar(brique: str, limit: int = 5, exclude_id: int | None = None) -> list[Opportunity]:
    """Most similar existing opportunities by shared words of the brique (duplicate hint, at each keystroke).

    One statement whatever the portfolio's size: the database keeps the SIMILAR_CANDIDATES opportunities
    whose folded text holds the most of the words, then they are ranked here by the words their brique
    shares with the typed one (Jaccard)."""
    words = sorted(_words(brique))[:12]
    if not words:
        return []
    hits = sum(
        (
            case((Opportunity.search_text.like(f"%{_escape_like(w)}%", escape="\\"), 1), else_=0)
            for w in words
        ),
        start=literal(0),
    )
    query = (
        select(Opportunity).where(hits > 0).order_by(hits.desc(), Opportunity.id).limit(SIMILAR_CANDIDATES)
    )
    if exclude_id is not None:
        query = query.where(Opportunity.id != exclude_id)
    wanted = set(words)
    scored = []
    for opportunity in db.session.scalars(query):
        other = _words(opportunity.brique)
        if common := wanted & other:
            scored.append((-len(common) / len(wanted | other), opportunity.id, opportunity))
    return [opportunity for *_, opportunity in sorted(scored, key=lambda t: t[:2])[:limit]]


def by_code(code: str) -> Opportunity | None:
    """The opportunity; its actions, backings, absorbed opportunities, transitions and comments load when read
    (one statement each, as many as five selectinloads sent): a lazy load of an object read without loader
    options builds a small cache key, a selectinload's carries the statement's options (twice the time)."""
    return db.session.scalar(select(Opportunity).where(Opportunity.code == code))
