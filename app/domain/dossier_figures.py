"""Dossier figures and eligibility checks: pure rules, no database session (values in, values out).

`figures()` computes the totals of a dossier's financing table (by line, by year, by financer, the FTAP
share), its savings (lines, the T2 staff helper, totals by year) and the three-year ROI; nothing of it is
stored. `completeness()` lists what each section still misses and `checks()` turns the guichet's rules
(open or closed, caps, co-financing, ROI) and the figures into `Check` verdicts. The service
(`app/services/dossiers.py`) reads the models and hands the values over.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from ..formatting import format_datetime, format_euros

# --- figures (computed, never stored) -------------------------------------------------------------


@dataclass
class FinancingRow:
    """One financing line as the rules see it: the line itself (shown back), the financer bucket it counts
    in (« dont financement FTAP »…), whether the fund pays it, and its (AE, CP) by year."""

    line: Any
    bucket: str
    ftap: bool
    amounts: dict[int, tuple[int, int]]


@dataclass
class LineFigures:
    line: Any
    by_year: dict[int, tuple[int, int]]
    ae: int
    cp: int


@dataclass
class Figures:
    # The row the T2 helper's result takes in the savings table (a nature of savings of its own).
    STAFF_NATURE: ClassVar[str] = "Économies de personnel (calcul T2)"

    years: list[int]
    lines: list[LineFigures]
    year_totals: dict[int, tuple[int, int]]
    total_ae: int
    total_cp: int
    financers: list[tuple[str, dict[int, tuple[int, int]], int, int]]
    ftap_ae: int
    ftap_cp: int
    savings_years: list[int]
    savings: list[tuple[Any, dict[int, int], int]]
    staff: dict[int, int]
    savings_by_year: dict[int, int]
    savings_total: int
    roi_years: list[int] = field(default_factory=list)
    roi_savings: int = 0

    @property
    def ftap_share_pct(self) -> float | None:
        return self.ftap_ae * 100 / self.total_ae if self.total_ae else None

    @property
    def roi_cents(self) -> int | None:
        """Lasting savings over the three years after the last FTAP year, in cents per euro funded (floor)."""
        return self.roi_savings * 100 // self.ftap_ae if self.ftap_ae else None


def figures(
    *,
    years: list[int],
    financing: Iterable[FinancingRow],
    savings_years: list[int],
    savings: Iterable[tuple[Any, dict[int, int]]],
    staff: Iterable[tuple[int, int, int]],
) -> Figures:
    """Row, column and financer totals of the financing table, savings totals and the ROI, from the rows.

    `savings`: (line, {year: amount}); `staff`: (year, jobs, average cost) of the T2 helper."""
    lines, year_totals = [], {y: (0, 0) for y in years}
    ftap_lines: list[LineFigures] = []
    financer_rows: dict[str, dict[int, tuple[int, int]]] = {}
    for row in financing:
        by_year = {y: (0, 0) for y in years}
        by_year.update(row.amounts)
        ae, cp = sum(v[0] for v in by_year.values()), sum(v[1] for v in by_year.values())
        figures_ = LineFigures(row.line, by_year, ae, cp)
        lines.append(figures_)
        if row.ftap:
            ftap_lines.append(figures_)
        bucket = financer_rows.setdefault(row.bucket, {y: (0, 0) for y in years})
        for year, (a, c) in by_year.items():
            year_totals[year] = (year_totals.get(year, (0, 0))[0] + a, year_totals.get(year, (0, 0))[1] + c)
            bucket[year] = (bucket.get(year, (0, 0))[0] + a, bucket.get(year, (0, 0))[1] + c)
    financers = [
        (label, rows, sum(v[0] for v in rows.values()), sum(v[1] for v in rows.values()))
        for label, rows in financer_rows.items()
    ]
    ftap_ae = sum(lf.ae for lf in ftap_lines)
    ftap_cp = sum(lf.cp for lf in ftap_lines)
    savings_rows, savings_by_year = [], {y: 0 for y in savings_years}
    for line, amounts in savings:
        by_year = {y: 0 for y in savings_years}
        by_year.update(amounts)
        savings_rows.append((line, by_year, sum(by_year.values())))
        for year, value in by_year.items():
            savings_by_year[year] = savings_by_year.get(year, 0) + value
    staff_by_year = {y: 0 for y in savings_years}
    for year, jobs, average_cost in staff:
        staff_by_year[year] = staff_by_year.get(year, 0) + jobs * average_cost
    for year, value in staff_by_year.items():  # the T2 helper's result is carried into the savings table
        savings_by_year[year] = savings_by_year.get(year, 0) + value
    result = Figures(
        years=years,
        lines=lines,
        year_totals=year_totals,
        total_ae=sum(v[0] for v in year_totals.values()),
        total_cp=sum(v[1] for v in year_totals.values()),
        financers=financers,
        ftap_ae=ftap_ae,
        ftap_cp=ftap_cp,
        savings_years=savings_years,
        savings=savings_rows,
        staff=staff_by_year,
        savings_by_year=savings_by_year,
        savings_total=sum(savings_by_year.values()),
    )
    ftap_years = sorted({y for lf in ftap_lines for y, (a, c) in lf.by_year.items() if a or c})
    if ftap_years:
        last = ftap_years[-1]
        result.roi_years = [last + 1, last + 2, last + 3]
        result.roi_savings = sum(savings_by_year.get(y, 0) for y in result.roi_years)
    return result


# --- completeness and eligibility ---------------------------------------------------------------------


@dataclass
class Check:
    level: str  # "ok" | "warning" | "error" (error blocks submission)
    message: str
    section: str | None = None
    kind: str = "eligibility"  # or "completeness"


@dataclass
class Contents:
    """What a dossier holds, as far as completeness is concerned."""

    title: str = ""
    has_dates: bool = False
    has_porteur: bool = False
    has_porteur_projet_referent: bool = False
    enjeu: str = ""
    solution: str = ""
    financing_lines: int = 0
    beneficiaries: int = 0
    indicators: int = 0
    has_savings: bool = False
    jalons: int = 0
    gouvernance: str = ""
    attachment_kinds: frozenset[str] = frozenset()


@dataclass
class Rules:
    """The guichet's rules a dossier is checked against (None / 0 / empty: no such rule)."""

    mode: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    max_total_amount: int | None = None
    min_cofinancing_pct: int | None = None
    roi_min_cents: int | None = None
    required_attachments: list[str] = field(default_factory=list)


def _pct(value: float) -> str:
    return f"{value:.0f}".replace(".", ",") + " %"


def _cents(value: int) -> str:
    return f"{value // 100},{value % 100:02d}".removesuffix(",00") + " €"


def completeness(contents: Contents, rules: Rules, section_keys: Iterable[str]) -> dict[str, list[str]]:
    """Missing items per section (empty list = complete)."""
    missing: dict[str, list[str]] = {key: [] for key in section_keys}
    if not contents.title:
        missing["projet"].append("intitulé")
    if not contents.has_dates:
        missing["projet"].append("dates de début et de fin")
    if not contents.has_porteur:
        missing["porteurs"].append("organisation porteuse")
    if not contents.has_porteur_projet_referent:
        missing["porteurs"].append("référent projet du porteur")
    if not contents.enjeu:
        missing["enjeu"].append("présentation de l'enjeu")
    if not contents.solution:
        missing["solution"].append("présentation de la solution")
    if not contents.financing_lines:
        missing["financement"].append("au moins une ligne de dépense")
    if not contents.beneficiaries:
        missing["beneficiaires"].append("au moins un groupe de bénéficiaires")
    if not contents.indicators:
        missing["indicateurs"].append("au moins un indicateur")
    if rules.roi_min_cents and not contents.has_savings:
        missing["economies"].append(
            "économies prévisionnelles (le guichet fixe un retour sur investissement)"
        )
    if not contents.jalons:
        missing["jalons"].append("au moins un jalon")
    if not contents.gouvernance:
        missing["gouvernance"].append("gouvernance du projet")
    for kind in rules.required_attachments:
        if kind not in contents.attachment_kinds:
            missing["pieces"].append(kind)
    return missing


def checks(
    *,
    fig: Figures,
    rules: Rules,
    missing: dict[str, list[str]],
    section_labels: dict[str, str],
    indicators: int,
    draft: bool,
    now: datetime,
) -> list[Check]:
    """Eligibility verdicts against the guichet's rules, with the computation, then completeness verdicts.

    `draft`: the dossier is not deposited yet (only then does the calendar of the guichet matter)."""
    verdicts: list[Check] = []
    if draft:
        if not rules.mode:
            verdicts.append(Check("error", "Ce guichet ne reçoit pas de dossiers.", "projet"))
        elif rules.opens_at and now < rules.opens_at:
            verdicts.append(
                Check(
                    "error",
                    "L'appel à projets n'est pas encore ouvert "
                    f"(ouverture le {format_datetime(rules.opens_at)}).",
                    "projet",
                )
            )
        elif rules.closes_at and now >= rules.closes_at:
            verdicts.append(
                Check(
                    "error",
                    f"L'appel à projets est clos depuis le {format_datetime(rules.closes_at)}.",
                    "projet",
                )
            )
        elif rules.closes_at:
            verdicts.append(
                Check("ok", f"Appel à projets ouvert jusqu'au {format_datetime(rules.closes_at)}.", "projet")
            )
    if rules.max_total_amount:
        ok = fig.total_ae <= rules.max_total_amount
        verdicts.append(
            Check(
                "ok" if ok else "error",
                f"montant total {format_euros(fig.total_ae)} {'≤' if ok else '>'} "
                f"{format_euros(rules.max_total_amount)} autorisés",
                "financement",
            )
        )
    share = fig.ftap_share_pct
    if rules.min_cofinancing_pct is not None and fig.total_ae:
        allowed = 100 - rules.min_cofinancing_pct
        ok = fig.ftap_ae * 100 <= allowed * fig.total_ae
        verdicts.append(
            Check(
                "ok" if ok else "error",
                f"part FTAP {_pct(share)} {'≤' if ok else '>'} {allowed} % autorisés "
                f"({format_euros(fig.ftap_ae)} sur {format_euros(fig.total_ae)} ; cofinancement minimum "
                f"{rules.min_cofinancing_pct} %)",
                "financement",
            )
        )
    elif share is not None:
        verdicts.append(
            Check(
                "ok",
                f"part FTAP {_pct(share)} ({format_euros(fig.ftap_ae)} sur {format_euros(fig.total_ae)})",
                "financement",
            )
        )
    if rules.roi_min_cents:
        if not fig.ftap_ae:
            verdicts.append(
                Check(
                    "warning",
                    "retour sur investissement à 3 ans : pas de financement FTAP saisi",
                    "financement",
                )
            )
        else:
            roi = fig.roi_cents
            ok = roi >= rules.roi_min_cents
            years = f"{fig.roi_years[0]}–{fig.roi_years[-1]}"
            verdicts.append(
                Check(
                    "ok" if ok else "warning",
                    f"retour sur investissement à 3 ans : {_cents(roi)} par € investi, minimum "
                    f"{_cents(rules.roi_min_cents)} (économies {years} : {format_euros(fig.roi_savings)} / "
                    f"financement FTAP : {format_euros(fig.ftap_ae)})",
                    "economies",
                )
            )
    for year in fig.years:
        ae, cp = fig.year_totals[year]
        if cp > ae:
            verdicts.append(
                Check(
                    "warning",
                    f"CP > AE en {year} ({format_euros(cp)} de CP pour {format_euros(ae)} d'AE)",
                    "financement",
                )
            )
    if fig.total_cp > fig.total_ae:
        verdicts.append(
            Check(
                "error",
                f"CP ({format_euros(fig.total_cp)}) supérieurs aux AE "
                f"({format_euros(fig.total_ae)}) sur l'ensemble du projet",
                "financement",
            )
        )
    if 0 < indicators < 2:
        verdicts.append(
            Check(
                "warning",
                "un seul indicateur : au moins deux indicateurs de résultat sont attendus",
                "indicateurs",
            )
        )
    for key, items in missing.items():
        if items:
            verdicts.append(
                Check(
                    "error",
                    f"{section_labels[key]} : à compléter ({', '.join(items)})",
                    key,
                    kind="completeness",
                )
            )
    return verdicts


def blocking(verdicts: list[Check]) -> list[Check]:
    return [c for c in verdicts if c.level == "error"]
