"""The RGAA self-audit grid (docs/rgaa/grid.yaml) and what the accessibility statement says of it.

The grid is the one source: the statement page (/accessibilite) renders the rate, the non-conformities, the
sample and the audit facts computed here, so it cannot say more than the grid shows. Pure: reads a file,
imports nothing of ours.

The rate is RGAA's (« Méthode technique », calcul du taux de conformité): over the sample, a criterion is
conform when it is C or NA on every page and C on one at least, non-conform when it is NC on a page,
not applicable when NA everywhere; rate = conform / (conform + non-conform). The mean of the pages' own rates
is given beside it, as the RGAA audit report does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

GRID = Path(__file__).resolve().parent.parent / "docs" / "rgaa" / "grid.yaml"
STATUSES = ("C", "NC", "NA")
THEMES = (
    "Images",
    "Cadres",
    "Couleurs",
    "Multimédia",
    "Tableaux",
    "Liens",
    "Scripts",
    "Éléments obligatoires",
    "Structuration de l’information",
    "Présentation de l’information",
    "Formulaires",
    "Navigation",
    "Consultation",
)


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    url: str


@dataclass(frozen=True)
class Cell:
    status: str
    evidence: str


@dataclass
class Criterion:
    id: str
    theme: str
    title: str
    cells: dict[str, Cell]  # page key → status and evidence

    @property
    def status(self) -> str:
        """The criterion's status over the whole sample (RGAA's rule)."""
        statuses = {cell.status for cell in self.cells.values()}
        if "NC" in statuses:
            return "NC"
        return "C" if "C" in statuses else "NA"

    @property
    def failures(self) -> list[tuple[str, str]]:
        """(page key, reason) of each page where it is not met."""
        return [(key, cell.evidence) for key, cell in self.cells.items() if cell.status == "NC"]


@dataclass
class Grid:
    audit: dict
    pages: list[Page]
    criteria: list[Criterion]
    problems: list[str] = field(default_factory=list)

    @property
    def audit_date(self) -> date:
        value = self.audit["date"]
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    def count(self, status: str) -> int:
        return sum(1 for c in self.criteria if c.status == status)

    @property
    def rate(self) -> float:
        """Conform criteria / applicable criteria, in percent (RGAA's global rate)."""
        conform, non_conform = self.count("C"), self.count("NC")
        return 100 * conform / (conform + non_conform) if conform + non_conform else 100.0

    def page_rate(self, key: str) -> float:
        statuses = [c.cells[key].status for c in self.criteria]
        applicable = statuses.count("C") + statuses.count("NC")
        return 100 * statuses.count("C") / applicable if applicable else 100.0

    @property
    def mean_rate(self) -> float:
        return sum(self.page_rate(p.key) for p in self.pages) / len(self.pages)

    @property
    def non_conform(self) -> list[Criterion]:
        return [c for c in self.criteria if c.status == "NC"]

    def page_title(self, key: str) -> str:
        return next(p.title for p in self.pages if p.key == key)

    def failures_of(self, criterion: Criterion) -> list[tuple[str, str]]:
        """(where, why) for the statement: « Toutes les pages » once when every page fails for one reason."""
        failures = criterion.failures
        if len(failures) == len(self.pages) and len({reason for _, reason in failures}) == 1:
            return [("Toutes les pages de l'échantillon", failures[0][1])]
        return [(self.page_title(key), reason) for key, reason in failures]

    @property
    def conformity(self) -> str:
        """« totalement / partiellement / non conforme », the statement's words (RGAA: ≥ 50 % partial)."""
        if self.rate == 100:
            return "totalement conforme"
        return "partiellement conforme" if self.rate >= 50 else "non conforme"


def parse(data: dict) -> Grid:
    """The grid from its YAML data; `problems` lists what is malformed (checked by the tests)."""
    pages = [Page(p["key"], p["title"], p["url"]) for p in data["pages"]]
    keys = [p.key for p in pages]
    problems = [f"page {p}: fields" for p in data["pages"] if set(p) != {"key", "title", "url"}]
    criteria = []
    for raw in data["criteria"]:
        overrides = raw.get("pages") or {}
        problems += [f"{raw['id']}: unknown page {key}" for key in overrides if key not in keys]
        cells = {}
        for key in keys:
            own = overrides.get(key) or {}
            cell = Cell(own.get("status", raw["status"]), own.get("evidence", raw.get("evidence", "")))
            if cell.status not in STATUSES:
                problems.append(f"{raw['id']} / {key}: status {cell.status!r}")
            if not cell.evidence.strip():
                problems.append(f"{raw['id']} / {key}: no evidence")
            cells[key] = cell
        if raw.get("theme") not in THEMES:
            problems.append(f"{raw['id']}: theme {raw.get('theme')!r}")
        criteria.append(Criterion(str(raw["id"]), raw["theme"], raw["title"], cells))
    return Grid(data["audit"], pages, criteria, problems)


@lru_cache(maxsize=1)
def grid(path: Path = GRID) -> Grid:
    with open(path, encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle))


@lru_cache(maxsize=1)
def footer_status() -> str:
    """The footer's « Accessibilité : … » of every page: the grid is read once per process, so is its
    conformity (computing it was an eighth of the work of the lightest page)."""
    return grid().conformity
