"""Criblage arithmetic: medians, dispersion and the ranking of a screened list (pure, no database).

The ranking is the issue's rule for `002_…txt` §4 (« les sujets les plus mûrs dans leur définition et les plus
porteurs de valeur »): median value first, then median maturity, ties broken by the number of backing
ministries, then by code.
"""

from dataclasses import dataclass, field
from statistics import median


def median_of(marks: list[int]) -> float | None:
    return float(median(marks)) if marks else None


def spread(marks: list[int]) -> int | None:
    """Dispersion of a list of marks: highest minus lowest (0: the reviewers agree)."""
    return max(marks) - min(marks) if marks else None


@dataclass
class Scored:
    """One screened opportunity with its marks; `key` is anything the caller needs back (its id)."""

    key: object
    code: str
    maturities: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    backing_ministries: int = 0

    @property
    def median_maturity(self) -> float | None:
        return median_of(self.maturities)

    @property
    def median_value(self) -> float | None:
        return median_of(self.values)

    @property
    def maturity_spread(self) -> int | None:
        return spread(self.maturities)

    @property
    def value_spread(self) -> int | None:
        return spread(self.values)

    @property
    def reviews(self) -> int:
        return len(self.values)


def rank(rows: list[Scored]) -> list[Scored]:
    """Best first; opportunities nobody scored come last (by code)."""
    return sorted(
        rows,
        key=lambda r: (
            r.median_value is None,
            -(r.median_value or 0),
            -(r.median_maturity or 0),
            -r.backing_ministries,
            r.code,
        ),
    )


def format_median(value: float | None) -> str:
    """« 3 », « 2,5 », « — »."""
    if value is None:
        return "—"
    return str(int(value)) if value == int(value) else f"{value:.1f}".replace(".", ",")
