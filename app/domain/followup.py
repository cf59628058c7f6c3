"""Follow-up arithmetic of funded dossiers, with no database: month arithmetic, numbers typed by people,
indicator values read as numbers, and the savings forecast next to the savings reported, by year."""

import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date

from ..formatting import format_number

# Clawback triggers of the contract ([000] §5.2, §4.1.2, §8): indicator values not sent for a year, no credit
# consumed six months after signature.
INDICATOR_MAX_DAYS = 365
CONSUMPTION_DEADLINE_MONTHS = 6
AMOUNT_MAX = 2_000_000_000  # euros; also keeps amounts within the 32-bit integer columns of PostgreSQL


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 August + 6 → 28/29 February)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def numeric(text: str | None) -> float | None:
    """ "1 200", "12,5 %", "45" → a number for the chart; None when the value is not a number."""
    cleaned = re.sub(r"[\s\u202f\u00a0%€]", "", text or "").replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def parse_int(value, *, label: str = "Le montant", minimum: int = 0, maximum: int = AMOUNT_MAX) -> int:
    """An integer typed by people: spaces allowed ("150 000"), no decimals, no negatives.

    Raises ValueError with the French message when the value is missing, not an integer or out of range."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        text = str(value if value is not None else "")
        text = text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").removesuffix("€")
    if text == "":
        raise ValueError(f"{label} est obligatoire.")
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"{label} doit être un nombre entier (en euros, sans décimales) : « {value} ».")
    number = int(text)
    if number < minimum:
        raise ValueError(
            f"{label} ne peut pas être négatif." if minimum == 0 else f"{label} doit être au moins {minimum}."
        )
    if number > maximum:
        limit = format_number(maximum) if maximum >= 10_000 else str(maximum)  # not "2 100" for a year
        raise ValueError(f"{label} ne peut pas dépasser {limit}.")
    return number


def parse_date(value, *, label: str) -> date:
    """A date, or an ISO text "2027-03-31"; raises ValueError with the French message otherwise."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        raise ValueError(f"{label} : date attendue au format AAAA-MM-JJ.") from None


@dataclass
class SavingsFigure:
    """Forecast and reported savings of a year: for one nature (`nature` set) or the year's total."""

    year: int
    forecast: int  # « économies prévisionnelles » of the contract (§3)
    reported: int | None  # « économies constatées »; None while nothing is reported
    nature: str = ""
    explanation: str = ""

    @property
    def gap(self) -> int | None:
        return None if self.reported is None else self.reported - self.forecast


@dataclass
class SavingsYear(SavingsFigure):
    natures: list[SavingsFigure] = field(default_factory=list)

    @classmethod
    def of(cls, year: int, natures: list[SavingsFigure]) -> "SavingsYear":
        """The year's total; reported is None until some nature has a figure."""
        figures = [n.reported for n in natures if n.reported is not None]
        total = sum(figures) if figures else None
        return cls(year, sum(n.forecast for n in natures), total, natures=natures)

    @property
    def unreported(self) -> list[str]:
        """Natures forecast for the year that have no reported figure yet."""
        return [n.nature for n in self.natures if n.reported is None and n.forecast]


def savings_by_year(
    forecast: dict[tuple[int, str], int],
    reported: dict[tuple[int, str], tuple[int, str]],
    natures: list[str],
) -> list[SavingsYear]:
    """Forecast (year, nature) → amount next to reported (year, nature) → (amount, explanation), by year,
    natures in the given order (unknown natures last, alphabetically)."""
    order = {nature: i for i, nature in enumerate(natures)}
    keys = sorted(set(forecast) | set(reported), key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    by_year: dict[int, list[SavingsFigure]] = {}
    for year, nature in keys:
        amount, explanation = reported.get((year, nature), (None, ""))
        by_year.setdefault(year, []).append(
            SavingsFigure(year, forecast.get((year, nature), 0), amount, nature, explanation)
        )
    return [SavingsYear.of(year, figures) for year, figures in by_year.items()]
