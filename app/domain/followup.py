"""Follow-up arithmetic of funded dossiers, with no database: month arithmetic, numbers typed by people,
indicator values read as numbers, the yearly indicator targets next to the values reported (status per
year), and the savings forecast next to the savings reported, by year."""

import enum
import re
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..formatting import format_number, parse_number

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


# --- yearly indicator targets ([001] §5.2 « une cible pour chaque année », cible fin 2019 … fin 2022) -------

# The number a target or a value starts with: « 123 000 (25 % du volume total de CertDC) » → « 123 000 »,
# « 12,5 % » → « 12,5 % ». Thousands are grouped by three digits only, so « 12 2023 » stays « 12 ».
_LEADING_NUMBER = re.compile(
    r"\s*(-?(?:\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+|\d+)(?:[.,]\d+)?)(?![\d.,]?\d)\s*(?:%|€)?"
)


def leading_number(text: str | None) -> Decimal | None:
    """The number a free text starts with, read by formatting.parse_number (the one parser of typed
    numbers); None when the text does not start with a number (« Au moins trois ministères », « — »)."""
    match = _LEADING_NUMBER.match(text or "")
    if match is None:
        return None
    try:
        return parse_number(match.group(1))
    except ValueError:  # pragma: no cover - the pattern above only lets numbers through
        return None


class TargetStatus(enum.StrEnum):
    """Where a yearly target stands: reached by the latest value of its year, missed once its year is over,
    or still to come."""

    ATTEINTE = "atteinte"
    EN_RETARD = "en_retard"
    A_VENIR = "a_venir"

    @property
    def label(self) -> str:
        return {"atteinte": "Atteinte", "en_retard": "En retard", "a_venir": "À venir"}[self.value]

    @property
    def badge(self) -> str:  # DSFR badge type
        return {"atteinte": "success", "en_retard": "error", "a_venir": "info"}[self.value]


QUALITATIVE = "cible qualitative"  # a target that does not start with a number: shown, not compared


@dataclass(frozen=True)
class TargetYear:
    """One year of an indicator: the contract's target for its end, the latest value reported that year,
    and the status (None with a `note` when there is nothing to compare)."""

    year: int
    target: str  # as the contract writes it
    value: str | None  # the latest value reported in the year, as typed
    reported_on: date | None
    status: TargetStatus | None
    note: str = ""


def _decreasing(baseline: Decimal | None, numbers: list[Decimal]) -> bool:
    """Is the indicator meant to go down (a delay, a cost)? Its targets are below its initial value, or
    fall from year to year when there is no numeric initial value."""
    if baseline is not None and numbers and any(n != baseline for n in numbers):
        return all(n <= baseline for n in numbers)
    return len(numbers) >= 2 and numbers[-1] < numbers[0]


def target_years(
    targets: dict[int, str],
    values: Iterable[tuple[date, str]],
    *,
    baseline: str = "",
    today: date,
) -> list[TargetYear]:
    """Each year of `targets` (year → target text) next to the latest of `values` ((day, value text))
    reported in that year, with its status on `today`:

    - « atteinte »: the year's latest value reaches the target (≥, or ≤ for an indicator meant to go down);
    - « en retard »: the year is over (31 December passed) and its latest value, if any, does not reach it;
    - « à venir »: the year is not over and the target is not reached yet.

    A target that does not start with a number is a « cible qualitative » (no status); so is the comparison
    with a value that does not start with a number (« valeur non chiffrée »)."""
    latest: dict[int, tuple[date, str]] = {}
    for day, value in values:
        if day.year not in latest or day > latest[day.year][0]:
            latest[day.year] = (day, value)
    numbers = {year: leading_number(text) for year, text in targets.items()}
    down = _decreasing(leading_number(baseline), [n for _, n in sorted(numbers.items()) if n is not None])
    rows = []
    for year in sorted(targets):
        day, value = latest.get(year, (None, None))
        target = numbers[year]
        if target is None:
            rows.append(TargetYear(year, targets[year], value, day, None, QUALITATIVE))
            continue
        reported = leading_number(value) if value is not None else None
        if value is not None and reported is None:
            rows.append(TargetYear(year, targets[year], value, day, None, "valeur non chiffrée"))
            continue
        note = "" if value is not None else f"aucune valeur transmise en {year}"
        if reported is not None and (reported <= target if down else reported >= target):
            status, note = TargetStatus.ATTEINTE, ""
        elif today > date(year, 12, 31):
            status = TargetStatus.EN_RETARD
        else:
            status = TargetStatus.A_VENIR
        rows.append(TargetYear(year, targets[year], value, day, status, note))
    return rows


def targets_summary(rows: Iterable[TargetYear]) -> str:
    """« 2 cibles atteintes, 1 en retard, 1 à venir, 1 cible qualitative » ('' when there is no target)."""
    rows = list(rows)
    counts = {status: sum(r.status == status for r in rows) for status in TargetStatus}
    qualitative = sum(r.status is None for r in rows)
    parts = []
    if counts[TargetStatus.ATTEINTE]:
        n = counts[TargetStatus.ATTEINTE]
        parts.append(f"{n} cible{'s' if n > 1 else ''} atteinte{'s' if n > 1 else ''}")
    if counts[TargetStatus.EN_RETARD]:
        parts.append(f"{counts[TargetStatus.EN_RETARD]} en retard")
    if counts[TargetStatus.A_VENIR]:
        parts.append(f"{counts[TargetStatus.A_VENIR]} à venir")
    if qualitative:
        parts.append(f"{qualitative} sans comparaison chiffrée")
    return ", ".join(parts)


# --- budget milestones, CP sequence, tranches, progress ([000] §5.1, §5.2, §8; [004] §6) -------------------

# [000] §8: « le non-respect des séquences de CP prévues dans le contrat ; toutefois, une variation légère de
# l'échéancier au niveau des besoins et modalités de financement, pourra être admise ». The document does not
# put a figure on « légère »: our reading is a tenth of what was planned, named here so it is one change.
SEQUENCE_TOLERANCE = 0.10
# [000] §8: « la non-avancée du projet durant une période de temps significatif au regard de la durée
# prévisionnelle totale du projet ». Our reading of « significatif »: a quarter of the planned duration, and
# never less than three months.
NO_PROGRESS_SHARE = 0.25
NO_PROGRESS_MIN_DAYS = 90


def lags(planned: int | None, consumed: int, tolerance: float = SEQUENCE_TOLERANCE) -> bool:
    """Consumption behind plan beyond the admitted slight variation (nothing planned: never behind)."""
    return bool(planned) and consumed < planned * (1 - tolerance)


def consumed_until(consumed: dict[int, tuple[int, int]], year: int) -> tuple[int, int]:
    """(AE, CP) consumed, cumulated over the years up to `year` included (consumption is reported per
    year, the current year's figure kept up to date by the porteur)."""
    ae = sum(a for y, (a, _) in consumed.items() if y <= year)
    cp = sum(c for y, (_, c) in consumed.items() if y <= year)
    return ae, cp


@dataclass(frozen=True)
class BudgetMilestone:
    """A jalon read as a budget-consumption milestone: planned vs consumed, cumulated, at its date."""

    number: int
    due_on: date
    ae_planned: int | None
    cp_planned: int | None
    ae_consumed: int
    cp_consumed: int
    past: bool  # its date has come: the comparison is meaningful

    @property
    def ae_lagging(self) -> bool:
        return self.past and lags(self.ae_planned, self.ae_consumed)

    @property
    def cp_lagging(self) -> bool:
        return self.past and lags(self.cp_planned, self.cp_consumed)

    @property
    def lagging(self) -> bool:
        return self.ae_lagging or self.cp_lagging


def budget_milestone(
    number: int,
    due_on: date,
    ae_planned: int | None,
    cp_planned: int | None,
    consumed: dict[int, tuple[int, int]],
    today: date,
) -> BudgetMilestone:
    ae, cp = consumed_until(consumed, due_on.year)
    return BudgetMilestone(number, due_on, ae_planned, cp_planned, ae, cp, due_on <= today)


def cp_sequence_gaps(
    granted: dict[int, tuple[int, int]], consumed: dict[int, tuple[int, int]], today: date
) -> list[tuple[int, int, int]]:
    """Past years whose cumulated CP consumed is behind the cumulated CP granted beyond the slight variation:
    (year, CP granted cumulated, CP consumed cumulated). Cumulated, so that CP paid in N+1 for N is no gap."""
    gaps = []
    for year in sorted(y for y in granted if y < today.year):
        planned = sum(cp for y, (_, cp) in granted.items() if y <= year)
        done = consumed_until(consumed, year)[1]
        if lags(planned, done):
            gaps.append((year, planned, done))
    return gaps


def quarter_end(year: int, quarter: int) -> date:
    month = quarter * 3
    return date(year, month, monthrange(year, month)[1])


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def tranche_decision_missing(today: date, signed_on: date | None, decided_on: list[date]) -> int | None:
    """The year whose first quarter ended without any tranche decision, or None.

    [004] §6: « À partir de l'année 2024, le secrétariat du fonds décide à échéance régulière, a minima au 1er
    trimestre de chaque année, du montant des nouvelles tranches » — the first year being the contract's
    own financing decision, the rule applies from the year after the signature."""
    if signed_on is None or today.year <= signed_on.year or today <= quarter_end(today.year, 1):
        return None
    if any(day.year == today.year and day <= quarter_end(today.year, 1) for day in decided_on):
        return None
    return today.year


def no_progress_days(starts_on: date | None, ends_on: date | None) -> int | None:
    """The days without progress that count as « significatif » for this project (None: no planned dates)."""
    if starts_on is None or ends_on is None or ends_on <= starts_on:
        return None
    return max(NO_PROGRESS_MIN_DAYS, round((ends_on - starts_on).days * NO_PROGRESS_SHARE))
