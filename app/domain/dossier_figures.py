"""Dossier figures and eligibility checks: pure rules, no database session (values in, values out).

`figures()` computes the totals of a dossier's financing table (by line, by year, by financer, the FTAP
share), its savings (lines, the T2 staff helper, totals by year) and the three-year ROI; nothing of it is
stored. `completeness()` lists what each section still misses and `checks()` turns the guichet's rules
(open or closed, caps, co-financing, ROI) and the figures into `Check` verdicts. The service
(`app/services/dossiers.py`) reads the models and hands the values over.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from ..formatting import format_cents, format_datetime, format_euros, format_percent

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
    # The CP column of the savings table ([000] annex II, [001] §3 « AE CP »), aligned on `savings`.
    savings_cp: list[tuple[dict[int, int], int]] = field(default_factory=list)
    savings_cp_by_year: dict[int, int] = field(default_factory=dict)
    savings_cp_total: int = 0
    # Additional revenue ([000] §4.2.3 « Recettes supplémentaires »): shown beside the savings, never in the
    # ROI, which counts « un euro d'économies pérennes » per euro invested ([004] §3).
    revenues: list[tuple[Any, dict[int, int], int]] = field(default_factory=list)
    revenues_by_year: dict[int, int] = field(default_factory=dict)
    revenues_total: int = 0

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
    savings: Iterable[tuple[Any, dict[int, Any]]],
    staff: Iterable[tuple[int, int, int]],
    revenues: Iterable[tuple[Any, dict[int, int]]] = (),
) -> Figures:
    """Row, column and financer totals of the financing table, savings totals and the ROI, from the rows.

    `savings`: (line, {year: (AE, CP)}) — or {year: amount}, AE = CP; `staff`: (year, jobs, average cost)
    of the T2 helper (counted in AE and CP alike); `revenues`: (line, {year: amount}). The ROI counts the
    AE of the savings, the basis of the fund's AE it is divided by."""
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
    cp_rows, cp_by_year = [], {y: 0 for y in savings_years}
    for line, amounts in savings:
        by_year, by_year_cp = {y: 0 for y in savings_years}, {y: 0 for y in savings_years}
        for year, value in amounts.items():
            ae, cp = value if isinstance(value, tuple) else (value, value)
            by_year[year], by_year_cp[year] = ae, cp
        savings_rows.append((line, by_year, sum(by_year.values())))
        cp_rows.append((by_year_cp, sum(by_year_cp.values())))
        for year, value in by_year.items():
            savings_by_year[year] = savings_by_year.get(year, 0) + value
        for year, value in by_year_cp.items():
            cp_by_year[year] = cp_by_year.get(year, 0) + value
    staff_by_year = {y: 0 for y in savings_years}
    for year, jobs, average_cost in staff:
        staff_by_year[year] = staff_by_year.get(year, 0) + int(round(jobs * average_cost))
    for year, value in staff_by_year.items():  # the T2 helper's result is carried into the savings table
        savings_by_year[year] = savings_by_year.get(year, 0) + value
        cp_by_year[year] = cp_by_year.get(year, 0) + value
    revenue_rows, revenues_by_year = [], {y: 0 for y in savings_years}
    for line, amounts in revenues:
        by_year = {y: 0 for y in savings_years}
        by_year.update(amounts)
        revenue_rows.append((line, by_year, sum(by_year.values())))
        for year, value in by_year.items():
            revenues_by_year[year] = revenues_by_year.get(year, 0) + value
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
        savings_cp=cp_rows,
        savings_cp_by_year=cp_by_year,
        savings_cp_total=sum(cp_by_year.values()),
        revenues=revenue_rows,
        revenues_by_year=revenues_by_year,
        revenues_total=sum(revenues_by_year.values()),
    )
    ftap_years = sorted({y for lf in ftap_lines for y, (a, c) in lf.by_year.items() if a or c})
    if ftap_years:
        last = ftap_years[-1]
        result.roi_years = [last + 1, last + 2, last + 3]
        result.roi_savings = sum(savings_by_year.get(y, 0) for y in result.roi_years)
    return result


# --- completeness and eligibility ---------------------------------------------------------------------


LEVEL_LABELS = {"ok": "Conforme", "warning": "Attention", "error": "Bloquant", "criterion": "Critère"}
LEVEL_BADGES = {"ok": "success", "warning": "warning", "error": "error", "criterion": "info"}


@dataclass
class Check:
    level: str  # "ok" | "warning" | "criterion" | "error" (only error blocks submission)
    message: str
    section: str | None = None
    kind: str = "eligibility"  # or "completeness"
    source: str = ""  # the document and section the rule comes from, shown beside it

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def badge(self) -> str:
        return LEVEL_BADGES[self.level]


@dataclass
class RuleItem:
    """A guichet's rule as the checks see it (app/models/guichets.py GuichetRule: code, kind, wording,
    source; `parameter`: the organisation kinds allowed for a porteur_status rule)."""

    code: str
    kind: str  # "blocking" | "criterion" | "warning"
    label: str
    source: str = ""
    parameter: str = ""
    id: int | None = None


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
    porteur_kind: str = ""  # the porteur organisation's kind (ministere, direction, operateur…)
    declared: frozenset[int] = frozenset()  # ids of the DECLARATION rules the porteur ticked
    roi_derogation: str = ""  # the porteur's reason for asking the ROI derogation


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
    items: list[RuleItem] | None = None  # None: the numeric rules above with their default kinds
    fund: str = "FTAP"  # the fund's name in every message (« France Relance » for its themes)

    def effective_items(self) -> list[RuleItem]:
        """The rules checked: the guichet's rows, plus a default row for a numeric parameter set without
        one (ROI: warning; cap: blocking; co-financing share: criterion)."""
        items = list(self.items or [])
        codes = {item.code for item in items}
        defaults = [
            ("roi_min", "warning", self.roi_min_cents, "Retour sur investissement minimal à 3 ans"),
            ("max_total", "blocking", self.max_total_amount, "Montant total du projet plafonné"),
            ("cofinancing_share", "criterion", self.min_cofinancing_pct, "Part de cofinancement"),
        ]
        for code, kind, value, label in defaults:
            if value is not None and value != 0 and code not in codes:
                items.append(RuleItem(code, kind, label))
        return items


def completeness(contents: Contents, rules: Rules, section_keys: Iterable[str]) -> dict[str, list[str]]:
    """Missing items per section (empty list = complete), for the sections in `section_keys` only: the
    `contents` of the others are not read (a step page fills in only those of the sections it shows)."""
    asked = list(section_keys)
    missing: defaultdict[str, list[str]] = defaultdict(list)  # the sections not asked for are dropped
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
    if rules.fund == "FTAP" and contents.indicators < 2:
        # « remplir le tableau ci-dessous avec au moins deux indicateurs de résultat » (001_…txt §5.2, the
        # FTAP contract): a content the FTAP contract requires, so the deposit waits for it
        missing["indicateurs"].append("au moins deux indicateurs de résultat (001_2adfa08b7d751e30.txt §5.2)")
    elif not contents.indicators:
        missing["indicateurs"].append("au moins un indicateur")
    if (
        rules.roi_min_cents
        and any(i.code == "roi_min" for i in rules.effective_items())
        and not (contents.has_savings)
    ):
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
    return {key: missing[key] for key in asked}


def checks(
    *,
    fig: Figures,
    rules: Rules,
    missing: dict[str, list[str]],
    section_labels: dict[str, str],
    indicators: int,
    draft: bool,
    now: datetime,
    contents: Contents | None = None,
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
    fund = rules.fund
    share = fig.ftap_share_pct
    if share is not None:
        verdicts.append(
            Check(
                "ok",
                f"part {fund} {format_percent(share / 100)} "
                f"({format_euros(fig.ftap_ae)} sur {format_euros(fig.total_ae)})",
                "financement",
            )
        )
    for item in rules.effective_items():
        verdict = _rule_verdict(item, fig=fig, rules=rules, contents=contents or Contents())
        if verdict is not None:
            verdicts.append(verdict)
    verdicts += _credit_checks(fig)
    if 0 < indicators < 2 and rules.fund != "FTAP":  # FTAP: a missing content (completeness) instead
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


_FAILED = {"blocking": "error", "warning": "warning", "criterion": "criterion"}


def _verdict(item: RuleItem, ok: bool | None, message: str, section: str | None) -> Check:
    """A rule's verdict: « ok » when met (a criterion stays a criterion: it is weighed, never passed or
    failed); else the level of its kind (only a blocking rule blocks)."""
    if item.kind == "criterion":
        level = "criterion"
    else:
        level = "ok" if ok else _FAILED[item.kind]
    return Check(level, message, section, source=item.source)


def _rule_verdict(item: RuleItem, *, fig: Figures, rules: Rules, contents: Contents) -> Check | None:
    fund = rules.fund
    cofinancing = fig.total_ae - fig.ftap_ae
    if item.code == "max_total":
        if not rules.max_total_amount:
            return None
        ok = fig.total_ae < rules.max_total_amount
        return _verdict(
            item,
            ok,
            f"montant total {format_euros(fig.total_ae)} {'<' if ok else '≥'} "
            f"{format_euros(rules.max_total_amount)} (financement {fund} et cofinancement, "
            "strictement inférieur au plafond)",
            "financement",
        )
    if item.code == "cofinancing_present":
        if not fig.total_ae:
            return None
        ok = cofinancing > 0
        return _verdict(
            item,
            ok,
            f"cofinancement par le porteur : {format_euros(cofinancing)}"
            + ("" if ok else f" — le projet doit faire l'objet d'un cofinancement (hors {fund})"),
            "financement",
        )
    if item.code == "cofinancing_share":
        if not fig.total_ae:
            return None
        reference = (
            f" ; référence {format_percent(rules.min_cofinancing_pct / 100)}"
            if rules.min_cofinancing_pct
            else ""
        )
        return _verdict(
            item,
            None,
            f"part de cofinancement {format_percent(cofinancing / fig.total_ae)} "
            f"({format_euros(cofinancing)} sur {format_euros(fig.total_ae)}{reference}) : "
            "critère de sélection, ne bloque pas le dépôt",
            "financement",
        )
    if item.code == "roi_min":
        if not rules.roi_min_cents:
            return None
        if not fig.ftap_ae:
            return _verdict(
                item,
                False,
                f"retour sur investissement à 3 ans : pas de financement {fund} saisi",
                "financement",
            )
        roi = fig.roi_cents
        ok = roi >= rules.roi_min_cents
        years = f"{fig.roi_years[0]}–{fig.roi_years[-1]}"
        message = (
            f"retour sur investissement à 3 ans : {format_cents(roi)} par € investi, minimum "
            f"{format_cents(rules.roi_min_cents)} (économies {years} : {format_euros(fig.roi_savings)} / "
            f"financement {fund} : {format_euros(fig.ftap_ae)})"
        )
        if not ok:
            message += (
                f" — dérogation demandée : {contents.roi_derogation}"
                if contents.roi_derogation
                else " — une dérogation exceptionnelle peut être demandée en la motivant (section 4.2)"
            )
        return _verdict(item, ok, message, "economies")
    if item.code == "porteur_status":
        if not contents.porteur_kind:
            return None
        allowed = [k.strip() for k in item.parameter.split(",") if k.strip()]
        ok = not allowed or contents.porteur_kind in allowed
        return _verdict(
            item, ok, f"{item.label}" + ("" if ok else " — statut du porteur non éligible"), "porteurs"
        )
    if item.code == "declaration":
        ok = item.id in contents.declared
        return _verdict(
            item, ok, item.label + ("" if ok else " — à déclarer par le porteur (section Projet)"), "projet"
        )
    if item.code == "criterion":
        return _verdict(item, None, item.label, None)
    return None


def _credit_checks(fig: Figures) -> list[Check]:
    """Credits: cumulative CP never above cumulative AE (CP may pay in N+1 what AE committed in N); a
    total CP above the total AE blocks."""
    verdicts: list[Check] = []
    cumulated_ae = cumulated_cp = 0
    for year in fig.years[:-1]:
        ae, cp = fig.year_totals[year]
        cumulated_ae, cumulated_cp = cumulated_ae + ae, cumulated_cp + cp
        if cumulated_cp > cumulated_ae:
            verdicts.append(
                Check(
                    "warning",
                    f"CP cumulés > AE cumulés fin {year} ({format_euros(cumulated_cp)} de CP pour "
                    f"{format_euros(cumulated_ae)} d'AE) : des CP ne peuvent payer que des AE engagées",
                    "financement",
                )
            )
            break
    if fig.total_cp > fig.total_ae:
        verdicts.append(
            Check(
                "error",
                f"CP ({format_euros(fig.total_cp)}) supérieurs aux AE "
                f"({format_euros(fig.total_ae)}) sur l'ensemble du projet",
                "financement",
            )
        )
    return verdicts


def blocking(verdicts: list[Check]) -> list[Check]:
    return [c for c in verdicts if c.level == "error"]
