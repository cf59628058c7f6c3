"""Follow-up of funded dossiers: jalons reached, indicator values, credits consumed, savings observed, and
the flags a committee reviews.

Clawback triggers of the contract ([000] §5.2, §4.1.2, §8): a jalon missed on its date, indicator values not
sent for a year, and the three hypotheses of §8 « Le contrat prendra fin, et les fonds repris »: no credit
consumed six months after signature, the CP sequence not respected (yearly, and at each jalon translated into
a budget-consumption milestone, §5.2), no progress for a significant time. Flags are computed, never stored;
the hourly job hands them to the deciding committee as an agenda proposal.

Every report takes the acting user as `actor=`, flushes, never commits, and writes one audit entry.
"""

from dataclasses import dataclass, field
from datetime import date
from functools import cache

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import joinedload, selectinload, undefer
from sqlalchemy.orm.attributes import set_committed_value

from .. import permissions
from ..domain.followup import (
    CONSUMPTION_DEADLINE_MONTHS,
    INDICATOR_MAX_DAYS,
    BudgetMilestone,
    SavingsYear,
    TargetYear,
    add_months,
    budget_milestone,
    cp_sequence_gaps,
    no_progress_days,
    numeric,
    parse_date,
    parse_int,
    target_years,
    targets_summary,
)
from ..domain.followup import savings_by_year as _savings_by_year
from ..extensions import db
from ..formatting import format_date, format_euros, paris, paris_today
from ..models.base import utcnow
from ..models.committees import (
    AgendaItem,
    Committee,
    Decision,
    DecisionAmount,
    ItemKind,
    Meeting,
    MeetingState,
    Outcome,
    guichets_decided_by,
)
from ..models.dossiers import Dossier, DossierIndicator, DossierState, DossierTransition
from ..models.followup import (
    OTHER_SAVINGS,
    CreditConsumption,
    IndicatorValue,
    JalonDelay,
    JalonReport,
    ReviewState,
    SavingsReport,
)
from ..models.proposals import ProposalSource
from . import audit, dossier_attachments, dossier_notices, proposals, reminders
from . import dossiers as dossier_service
from .errors import DomainError, NotAllowed, ValidationFailed

TEXT_MAX = 2000
OPEN_MEETING_STATES = (MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE, MeetingState.TENUE)


@dataclass(frozen=True)
class Flag:
    dossier_id: int
    kind: (
        str  # jalon_late | indicator_missing | credits_not_consumed | cp_sequence | budget_lag | no_progress
    )
    text: str


@dataclass
class FollowUp:
    dossier: object
    signed_on: date | None
    jalons: list  # (jalon, report | None, status label)
    indicators: list  # (indicator, [values newest first])
    consumption: list  # (year, granted ae, granted cp, consumed ae, consumed cp)
    flags: list[Flag]
    savings: list = field(default_factory=list)  # SavingsYear rows
    # indicator id → (dates, numeric values, numeric target or None)
    charts: dict = field(default_factory=dict)
    delays: dict = field(default_factory=dict)  # jalon id → its latest JalonDelay
    to_review: list = field(default_factory=list)  # (what, report, label) not yet validated or questioned
    # indicator id → its yearly targets next to the values reported ([001] §5.2), statuses on `targets_on`
    targets: dict[int, list[TargetYear]] = field(default_factory=dict)
    targets_on: date | None = None

    @property
    def targets_summary(self) -> str:
        """« 2 cibles atteintes, 1 en retard… » over every indicator ('' without yearly targets)."""
        return targets_summary(row for rows in self.targets.values() for row in rows)

    milestones: dict[int, BudgetMilestone] = field(default_factory=dict)  # jalon id → planned vs consumed
    late: list = field(default_factory=list)  # jalons not reached, past their date or announced late

    @property
    def decision_total(self) -> int:
        """The AE granted by the decision in force, over its years."""
        return sum(granted_ae for _, granted_ae, _, _, _ in self.consumption)


def is_followed(dossier) -> bool:
    return dossier.state in DossierState.FOLLOWED


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# --- reading ----------------------------------------------------------------------------------------------


def signature_date(dossier) -> date | None:
    """The day the dossier became « conventionné » (its contract signature), in Paris."""
    loaded = inspect(dossier).dict  # Dossier.conventionne_at, when the page loaded it with the dossier
    if "conventionne_at" in loaded:
        moment = loaded["conventionne_at"]
    else:
        moment = db.session.scalar(
            select(func.min(DossierTransition.created_at)).where(
                DossierTransition.dossier_id == dossier.id,
                DossierTransition.to_state == DossierState.CONVENTIONNE,
            )
        )
    return paris(moment).date() if moment is not None else None


def granted_amounts(dossier_id: int) -> dict[int, tuple[int, int]]:
    """Year → (AE, CP) of the decision in force on the dossier (the last of its rectification chain)."""
    decision = db.session.scalar(_decision_in_force(), {"dossier_id": dossier_id})
    return {a.year: (a.ae, a.cp) for a in decision.amounts} if decision else {}


# The follow-up page's statements are built once, the dossier bound as `dossier_id`: a statement keeps the
# cache key SQLAlchemy computes from it, and building one cost more than running it.
@cache
def _decision_in_force():
    return (
        select(Decision)
        .join(AgendaItem)
        .where(
            AgendaItem.dossier_id == bindparam("dossier_id"),
            AgendaItem.kind == ItemKind.DOSSIER,
            Decision.outcome.in_([Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS]),
        )
        .order_by(Decision.id.desc())
        .limit(1)
    )


def savings_forecast(dossier) -> dict[tuple[int, str], int]:
    """(year, nature) → forecast savings, read from the dossier's savings table as the dossier page computes
    it (services.dossiers.figures), the T2 helper's row included."""
    fig = dossier_service.figures(dossier)
    forecast: dict[tuple[int, str], int] = {}
    rows = [(line.nature, by_year) for line, by_year, _ in fig.savings] + [(fig.STAFF_NATURE, fig.staff)]
    for nature, by_year in rows:
        for year, amount in by_year.items():
            if amount:  # the table has a cell for every year of the dossier; empty ones are not forecasts
                forecast[(year, nature)] = forecast.get((year, nature), 0) + amount
    return forecast


def savings_natures(dossier, forecast: dict[tuple[int, str], int] | None = None) -> list[str]:
    """The natures a porteur reports savings for: the contract's (in its order), then « autres économies »."""
    forecast = forecast if forecast is not None else savings_forecast(dossier)
    natures = list(dict.fromkeys(line.nature for line in dossier.savings_lines))
    natures += [n for _, n in sorted(forecast) if n not in natures]
    return natures + ([OTHER_SAVINGS] if OTHER_SAVINGS not in natures else [])


def savings_by_year(dossier, reports: list | None = None) -> list[SavingsYear]:
    """The contract's forecast savings next to the savings reported during the follow-up, by year and nature
    (natures in the contract's order). `reports`: the dossier's savings reports, when already loaded."""
    forecast = savings_forecast(dossier)
    if reports is None:
        reports = db.session.scalars(select(SavingsReport).where(SavingsReport.dossier_id == dossier.id))
    reported = {(r.year, r.nature): (r.amount, r.explanation) for r in reports}
    return _savings_by_year(forecast, reported, savings_natures(dossier, forecast))


def indicators_with_targets(dossier) -> list[DossierIndicator]:
    """The dossier's indicators with their yearly targets in one statement (joined, instead of the lazy load
    of the indicators plus the selectin of their targets), kept as the loaded `dossier.indicators`."""
    if "indicators" not in inspect(dossier).unloaded:
        return dossier.indicators
    rows = db.session.scalars(_indicators_with_targets(), {"dossier_id": dossier.id}).unique()
    set_committed_value(dossier, "indicators", list(rows))
    return dossier.indicators


@cache
def _indicators_with_targets():
    return (
        select(DossierIndicator)
        .where(DossierIndicator.dossier_id == bindparam("dossier_id"))
        .options(joinedload(DossierIndicator.targets))
        .order_by(DossierIndicator.position)
    )


def indicator_targets(indicators: list, today: date) -> dict[int, list[TargetYear]]:
    """indicators: (indicator, [values newest first]) → indicator id → its years (domain.followup)."""
    return {
        indicator.id: target_years(
            {t.year: t.value for t in indicator.targets if (t.value or "").strip()},
            [(v.reported_on, v.value) for v in history],
            baseline=indicator.current_value or "",
            today=today,
        )
        for indicator, history in indicators
    }


def reports_of(dossier) -> dict[str, list]:
    """Every follow-up report of the dossier, one query per kind (REPORTS), oldest first: what the follow-up
    page reads once and hands to each of its parts (not one query per part and kind)."""
    return {what: list(db.session.scalars(_reports(what), {"dossier_id": dossier.id})) for what in REPORTS}


@cache
def _reports(what: str):
    model = REPORTS[what][0]
    return select(model).where(model.dossier_id == bindparam("dossier_id")).order_by(model.id)


@dataclass(frozen=True)
class Loaded:
    """What followup() reads of a dossier besides the dossier's own rows (`FOLLOWUP_LOADING`), when
    `followups` has read it for many dossiers at once."""

    signed_on: date | None  # signature_date(dossier)
    reports: dict[str, list]  # reports_of(dossier)
    granted: dict[int, tuple[int, int]]  # granted_amounts(dossier.id)


def followup(
    dossier,
    *,
    today: date | None = None,
    targets_on: date | None = None,
    loaded: Loaded | None = None,
    with_savings: bool = True,
) -> FollowUp:
    """`targets_on`: the day the yearly targets are judged on (the closing day of a closed follow-up, so
    that its final assessment keeps the statuses it was closed with); `today` otherwise. `loaded`: what
    `followups` read for many dossiers at once (read here otherwise). `with_savings=False` leaves the
    savings empty: they read the dossier's figures, a few statements per dossier, and no flag uses them."""
    today = today or paris_today()
    if loaded is None:
        loaded = Loaded(signature_date(dossier), reports_of(dossier), granted_amounts(dossier.id))
    signed_on, rows = loaded.signed_on, loaded.reports
    reports = {r.jalon_id: r for r in rows["jalon"]}
    values: dict[int, list] = {}
    for value in sorted(rows["indicateur"], key=lambda v: v.reported_on, reverse=True):  # latest first
        values.setdefault(value.indicator_id, []).append(value)
    consumed = {c.year: c for c in rows["consommation"]}
    granted = loaded.granted
    consumed_by_year = {year: (row.ae, row.cp) for year, row in consumed.items()}
    delays = {row.jalon_id: row for row in rows["retard"]}  # as jalon_delays(): the latest per jalon
    flags, jalons, late = [], [], []
    milestones = {
        j.id: budget_milestone(j.number, j.due_on, j.ae_planned, j.cp_planned, consumed_by_year, today)
        for j in dossier.jalons
        if j.ae_planned is not None or j.cp_planned is not None
    }
    followed = is_followed(dossier)
    for jalon in dossier.jalons:
        report = reports.get(jalon.id)
        delay = delays.get(jalon.id)
        if report is not None:
            status = f"Atteint le {format_date(report.achieved_on)}"
        elif jalon.due_on < today or delay is not None:
            late.append(jalon)
            status = "En retard" + (f" (nouvelle date : {format_date(delay.new_due_on)})" if delay else "")
            if followed:
                flags.append(
                    Flag(
                        dossier.id,
                        "jalon_late",
                        f"{dossier.reference} : jalon n° {jalon.number} "
                        f"« {jalon.description} » en retard (prévu le {format_date(jalon.due_on)}"
                        + (f", nouvelle date annoncée : {format_date(delay.new_due_on)}" if delay else "")
                        + ").",
                    )
                )
        else:
            status = "À venir"
        jalons.append((jalon, report, status))
    indicators = []
    for indicator in indicators_with_targets(dossier):
        history = values.get(indicator.id, [])
        last = history[0].reported_on if history else signed_on
        if followed and last is not None and (today - last).days > INDICATOR_MAX_DAYS:
            since = (
                f"depuis le {format_date(last)}" if history else f"depuis la signature ({format_date(last)})"
            )
            flags.append(
                Flag(
                    dossier.id,
                    "indicator_missing",
                    f"{dossier.reference} : indicateur "
                    f"« {indicator.indicator} » sans valeur transmise {since}.",
                )
            )
        indicators.append((indicator, history))
    years = sorted(set(granted) | set(consumed) | set(dossier.years))
    consumption = [
        (
            y,
            *granted.get(y, (0, 0)),
            consumed[y].ae if y in consumed else 0,
            consumed[y].cp if y in consumed else 0,
        )
        for y in years
    ]
    if (
        followed
        and signed_on is not None
        and add_months(signed_on, CONSUMPTION_DEADLINE_MONTHS) < today
        and not any(c.ae or c.cp for c in consumed.values())
    ):
        flags.append(
            Flag(
                dossier.id,
                "credits_not_consumed",
                f"{dossier.reference} : aucun crédit consommé "
                f"{CONSUMPTION_DEADLINE_MONTHS} mois après la signature ({format_date(signed_on)}) — "
                "« l'absence de consommation, dans les 6 mois suivant la signature du contrat, d'au moins "
                "une partie des crédits mis à disposition » (000_fdd5893ed6c59cba.txt §8).",
            )
        )
    flags.extend(_sequence_flags(dossier, followed, jalons, granted, consumed_by_year, milestones, today))
    flags.extend(_progress_flags(dossier, followed, reports, signed_on, today))
    charts = {}
    for indicator, history in indicators:
        points = [(v.reported_on.isoformat(), numeric(v.value)) for v in reversed(history)]
        points = [(day, value) for day, value in points if value is not None]
        if points:
            dates, numbers = [d for d, _ in points], [v for _, v in points]
            charts[indicator.id] = (dates, numbers, numeric(indicator.target_value))
    return FollowUp(
        dossier,
        signed_on,
        jalons,
        indicators,
        consumption,
        flags,
        charts=charts,
        savings=savings_by_year(dossier, rows["economies"]) if with_savings else [],
        delays=delays,
        to_review=reports_to_review(dossier, rows),
        targets=indicator_targets(indicators, targets_on or today),
        targets_on=targets_on or today,
        milestones=milestones,
        late=late,
    )


# The dossier's own rows followup() reads, in the dossiers' statement and one more (`followups`).
FOLLOWUP_LOADING = (
    undefer(Dossier.conventionne_at),
    joinedload(Dossier.jalons),
    selectinload(Dossier.indicators).joinedload(DossierIndicator.targets),
)


def followups(dossiers: list, *, today: date | None = None) -> dict[int, FollowUp]:
    """Dossier id → its followup(), savings left empty, for many dossiers in a constant number of statements
    (issue « Performance at scale »): their reports of each kind and their granted amounts are read for all
    of them at once. `dossiers`: loaded with FOLLOWUP_LOADING (else their jalons, indicators and signature
    date are read one dossier at a time)."""
    ids = [d.id for d in dossiers]
    if not ids:
        return {}
    reports: dict[int, dict[str, list]] = {id_: {what: [] for what in REPORTS} for id_ in ids}
    for what, (model, _) in REPORTS.items():
        for row in db.session.scalars(select(model).where(model.dossier_id.in_(ids)).order_by(model.id)):
            reports[row.dossier_id][what].append(row)
    granted = granted_amounts_of(ids)
    return {
        d.id: followup(
            d,
            today=today,
            loaded=Loaded(signature_date(d), reports[d.id], granted.get(d.id, {})),
            with_savings=False,
        )
        for d in dossiers
    }


def granted_amounts_of(dossier_ids: list[int]) -> dict[int, dict[int, tuple[int, int]]]:
    """granted_amounts() of many dossiers in one statement: dossier id → year → (AE, CP)."""
    in_force = (
        select(func.max(Decision.id))
        .join(AgendaItem, Decision.item_id == AgendaItem.id)
        .where(
            AgendaItem.dossier_id.in_(dossier_ids),
            AgendaItem.kind == ItemKind.DOSSIER,
            Decision.outcome.in_([Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS]),
        )
        .group_by(AgendaItem.dossier_id)
    )
    rows = db.session.execute(
        select(AgendaItem.dossier_id, DecisionAmount.year, DecisionAmount.ae, DecisionAmount.cp)
        .join(Decision, DecisionAmount.decision_id == Decision.id)
        .join(AgendaItem, Decision.item_id == AgendaItem.id)
        .where(Decision.id.in_(in_force))
        .order_by(DecisionAmount.year)
    )
    granted: dict[int, dict[int, tuple[int, int]]] = {}
    for dossier_id, year, ae, cp in rows:
        granted.setdefault(dossier_id, {})[year] = (ae, cp)
    return granted


def _sequence_flags(dossier, followed, jalons, granted, consumed, milestones, today) -> list[Flag]:
    """[000] §8 « le non-respect des séquences de CP prévues dans le contrat ; toutefois, une variation légère
    de l'échéancier […] pourra être admise »: yearly (CP granted vs consumed, cumulated, past years) and at
    each past jalon translated into a budget-consumption milestone (§5.2)."""
    if not followed:
        return []
    flags = []
    quote = "séquence de CP prévue au contrat non respectée (000_fdd5893ed6c59cba.txt §8)"
    for year, planned, done in cp_sequence_gaps(granted, consumed, today):
        flags.append(
            Flag(
                dossier.id,
                "cp_sequence",
                f"{dossier.reference} : CP consommés à fin {year} : {format_euros(done)} pour "
                f"{format_euros(planned)} accordés en cumul — {quote}.",
            )
        )
    for jalon, _report, _ in jalons:
        milestone = milestones.get(jalon.id)
        if milestone is None or not milestone.lagging:
            continue
        parts = []
        if milestone.ae_lagging:
            parts.append(
                f"AE {format_euros(milestone.ae_consumed)} pour {format_euros(milestone.ae_planned)}"
            )
        if milestone.cp_lagging:
            parts.append(
                f"CP {format_euros(milestone.cp_consumed)} pour {format_euros(milestone.cp_planned)}"
            )
        flags.append(
            Flag(
                dossier.id,
                "budget_lag",
                f"{dossier.reference} : jalon n° {jalon.number} ({format_date(jalon.due_on)}), crédits "
                f"consommés à fin {jalon.due_on.year} : {', '.join(parts)} prévus — jalon de consommation "
                "budgétaire (000_fdd5893ed6c59cba.txt §5.2), " + quote + ".",
            )
        )
    return flags


def _progress_flags(dossier, followed, reports, signed_on, today) -> list[Flag]:
    """[000] §8 « après discussion avec le secrétariat général du FTAP, la non-avancée du projet durant une
    période de temps significatif au regard de la durée prévisionnelle totale du projet »."""
    threshold = no_progress_days(dossier.starts_on, dossier.ends_on)
    if not followed or threshold is None or signed_on is None or len(reports) >= len(dossier.jalons):
        return []
    last = max([signed_on, *(r.achieved_on for r in reports.values())])
    if (today - last).days <= threshold:
        return []
    since = "la signature" if last == signed_on else "le dernier jalon atteint"
    return [
        Flag(
            dossier.id,
            "no_progress",
            f"{dossier.reference} : aucun jalon atteint depuis {since} ({format_date(last)}), plus que le "
            f"quart de la durée prévue du projet — « la non-avancée du projet durant une période de temps "
            "significatif » (000_fdd5893ed6c59cba.txt §8), à discuter avec le secrétariat.",
        )
    ]


def flags_for_committee(committee, *, today: date | None = None) -> list[Flag]:
    """Flags of the followed dossiers of the guichets this committee decides on, not already on one of its
    open agendas as a follow-up review."""
    dossiers = db.session.scalars(_followed_by_committee(), {"committee_id": committee.id}).unique()
    return [flag for follow in followups(list(dossiers), today=today).values() for flag in follow.flags]


@cache
def _followed_by_committee():
    """flags_for_committee's dossiers, of the committee bound as `committee_id`: built once (a statement
    keeps its cache key; its loader options made building it cost more than running it)."""
    committee_id = bindparam("committee_id")
    on_agenda = (
        select(AgendaItem.dossier_id)
        .join(Meeting)
        .where(
            AgendaItem.dossier_id.is_not(None),
            AgendaItem.kind == ItemKind.SUIVI,
            Meeting.committee_id == committee_id,
            Meeting.state.in_(OPEN_MEETING_STATES),
        )
    )
    return (
        select(Dossier)
        .where(
            Dossier.state.in_(DossierState.FOLLOWED),
            Dossier.guichet_id.in_(guichets_decided_by(committee_id)),
            Dossier.id.not_in(on_agenda),
        )
        .options(*FOLLOWUP_LOADING)
        .order_by(Dossier.id)
    )


def propose_late_items(now=None) -> str:
    """The scheduled job: the flags of each funded dossier become (or update) a follow-up proposal for each
    committee deciding on it, unless a follow-up review of it is already on one of that committee's open
    agendas (flags_for_committee skips those). Idempotent."""
    today = paris(now).date() if now is not None else paris_today()
    count = 0
    for committee in db.session.scalars(select(Committee).order_by(Committee.id)):
        by_dossier: dict[int, list[str]] = {}
        for flag in flags_for_committee(committee, today=today):
            by_dossier.setdefault(flag.dossier_id, []).append(flag.text)
        for dossier_id, texts in by_dossier.items():
            dossier = db.session.get(Dossier, dossier_id)
            proposals.propose(
                committee,
                source=ProposalSource.SUIVI,
                kind=ItemKind.SUIVI,
                title=f"Revue de suivi — dossier {dossier.reference}",
                reason="Éléments en retard signalés par le suivi du dossier.",
                dossier=dossier,
                flags=texts,
                actor=None,
            )
            count += 1
    return f"{count} proposition(s) de revue de suivi"


# --- reports ----------------------------------------------------------------------------------------------

PROOF_KIND = "Preuve d'atteinte d'un jalon"
REPORTS = {  # what (the page's section) → (model, label)
    "jalon": (JalonReport, "Jalon atteint"),
    "retard": (JalonDelay, "Jalon en retard"),
    "indicateur": (IndicatorValue, "Valeur d'indicateur"),
    "consommation": (CreditConsumption, "Crédits consommés"),
    "economies": (SavingsReport, "Économies constatées"),
}


def jalon_delays(dossier) -> dict[int, JalonDelay]:
    """Jalon id → the latest delay declared on it."""
    rows = db.session.scalars(
        select(JalonDelay).where(JalonDelay.dossier_id == dossier.id).order_by(JalonDelay.id)
    )
    return {row.jalon_id: row for row in rows}


def _describe(what: str, report, dossier) -> str:
    jalons = {j.id: j for j in dossier.jalons}
    indicators = {i.id: i for i in dossier.indicators}
    if what == "jalon":
        return f"Jalon n° {jalons[report.jalon_id].number} atteint le {format_date(report.achieved_on)}"
    if what == "retard":
        return (
            f"Jalon n° {jalons[report.jalon_id].number} en retard, nouvelle date "
            f"{format_date(report.new_due_on)} : {report.reason}"
        )
    if what == "indicateur":
        return (
            f"« {indicators[report.indicator_id].indicator} » = {report.value} "
            f"au {format_date(report.reported_on)}"
        )
    if what == "consommation":
        return f"Consommé en {report.year} : AE {format_euros(report.ae)}, CP {format_euros(report.cp)}"
    return f"Économies {report.year} « {report.nature} » : {format_euros(report.amount)}"


def reports_to_review(dossier, rows: dict[str, list] | None = None) -> list[tuple[str, object, str]]:
    """Every report of the dossier with its review state: (what, report, description), oldest first.
    `rows`: reports_of(dossier), when already loaded."""
    rows = rows if rows is not None else reports_of(dossier)
    return [(what, report, _describe(what, report, dossier)) for what in REPORTS for report in rows[what]]


def _check_followup(dossier, actor, field: str = "") -> None:
    """`field`: the form's first field (the refusal is shown above the forms, which are hidden then)."""
    if not permissions.can_report_followup(actor, dossier):
        raise NotAllowed("Seuls le porteur du dossier et le secrétariat renseignent le suivi.")
    if not is_followed(dossier):
        raise DomainError(
            f"Le dossier est « {dossier.state_enum.label} » : le suivi se renseigne une fois le dossier "
            "conventionné, jusqu'à sa clôture."
        )


def _date_field(value, name: str, errors: dict, label: str) -> date | None:
    try:
        return parse_date(value, label=label)
    except ValueError as error:
        errors[name] = str(error)
        return None


def _int_field(value, name: str, errors: dict, **rules) -> int:
    try:
        return parse_int(value, **rules)
    except ValueError as error:
        errors[name] = str(error)
        return 0


def _year_field(value, errors: dict) -> int:
    return _int_field(value, "year", errors, minimum=2000, maximum=2100, label="L'année")


def _text_field(value, name: str, errors: dict, label: str, maximum: int = TEXT_MAX) -> str:
    text = _clean(value)
    if len(text) > maximum:
        errors[name] = f"{label} ne doit pas dépasser {maximum} caractères."
    return text


def _recorded(dossier, what: str, report, *, actor) -> None:
    """A new or corrected report: back to « à valider », and the instructeurs are told."""
    report.review_state, report.review_comment = ReviewState.A_VALIDER, ""
    report.reviewed_by_id = report.reviewed_at = None
    db.session.flush()
    dossier_notices.tell(
        dossier_notices.instructors(dossier),
        "followup.report_recorded",
        dossier,
        subject=f"{dossier.reference} : compte rendu de suivi à valider ({REPORTS[what][1].lower()})",
        body=_describe(what, report, dossier),
        endpoint="followup.show",
        dossier_id=dossier.id,
    )


def _jalon(dossier, jalon_id):
    jalon = next((j for j in dossier.jalons if str(j.id) == str(jalon_id)), None)
    if jalon is None:
        raise ValidationFailed({"jalon": "Choisissez un jalon du dossier."})
    return jalon


def report_jalon(
    dossier, *, jalon_id, achieved_on, proof: str = "", proof_file=None, max_bytes=None, actor
) -> JalonReport:
    """A jalon reached, on a date not in the future, with its proof: a text (link, reference) and/or a file
    (`proof_file` = (filename, bytes), checked like every dossier attachment)."""
    _check_followup(dossier, actor, "jalon")
    jalon = _jalon(dossier, jalon_id)
    errors = {}
    day = _date_field(achieved_on, "achieved_on", errors, "Date d'atteinte")
    proof = _text_field(proof, "proof", errors, "La preuve")
    filename, content = proof_file or ("", b"")
    if not proof and not content:
        errors["proof"] = (
            "Indiquez la preuve (livrable, procès-verbal de recette, lien…) ou joignez un fichier."
        )
    if day and day > paris_today():
        errors["achieved_on"] = "Un jalon ne peut pas être atteint à une date future."
    if db.session.scalar(select(JalonReport.id).where(JalonReport.jalon_id == jalon.id)):
        errors["jalon"] = f"Le jalon n° {jalon.number} est déjà déclaré atteint."
    attachment = None
    if content and not errors:
        try:
            dossier_attachments.check_file(filename, content, field="proof_file", max_bytes=max_bytes)
        except ValidationFailed as error:
            errors.update(error.errors)
    if errors:
        raise ValidationFailed(errors)
    if content:
        attachment = dossier_attachments.store(
            dossier, filename, content, kind=PROOF_KIND, actor=actor, field="proof_file", max_bytes=max_bytes
        )
        db.session.flush()
    report = JalonReport(
        dossier_id=dossier.id,
        jalon_id=jalon.id,
        achieved_on=day,
        proof=proof or f"Fichier joint : {attachment.filename}",
        proof_attachment_id=attachment.id if attachment else None,
        recorded_by_id=actor.id,
    )
    db.session.add(report)
    audit.record(
        "jalon.reached",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : jalon n° {jalon.number} atteint",
    )
    _recorded(dossier, "jalon", report, actor=actor)
    return report


def report_jalon_late(dossier, *, jalon_id, new_due_on, reason: str, actor) -> JalonDelay:
    """A jalon that will be late: its new date (after the contract's, not in the past) and the reason. It is
    proposed for a follow-up review at the next meeting of the committee that decided the funding."""
    _check_followup(dossier, actor, "jalon")
    jalon = _jalon(dossier, jalon_id)
    errors = {}
    day = _date_field(new_due_on, "new_due_on", errors, "Nouvelle date prévue")
    reason = _text_field(reason, "reason", errors, "La raison")
    if not reason:
        errors["reason"] = "Expliquez la raison du retard."
    if day and day <= jalon.due_on:
        errors["new_due_on"] = (
            f"La nouvelle date doit suivre la date prévue au contrat ({format_date(jalon.due_on)})."
        )
    elif day and day < paris_today():
        errors["new_due_on"] = "La nouvelle date prévue ne peut pas être passée."
    if db.session.scalar(select(JalonReport.id).where(JalonReport.jalon_id == jalon.id)):
        errors["jalon"] = f"Le jalon n° {jalon.number} est déjà déclaré atteint."
    if errors:
        raise ValidationFailed(errors)
    delay = JalonDelay(
        dossier_id=dossier.id, jalon_id=jalon.id, new_due_on=day, reason=reason, recorded_by_id=actor.id
    )
    db.session.add(delay)
    audit.record(
        "jalon.delayed",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : jalon n° {jalon.number} reporté au {format_date(day)}",
    )
    _recorded(dossier, "retard", delay, actor=actor)
    proposals.propose_followup(dossier, flags=[f.text for f in followup(dossier).flags], actor=actor)
    return delay


def report_indicator(
    dossier, *, indicator_id, reported_on, value: str, comment: str = "", actor
) -> IndicatorValue:
    _check_followup(dossier, actor, "indicator")
    indicator = next((i for i in dossier.indicators if str(i.id) == str(indicator_id)), None)
    if indicator is None:
        raise ValidationFailed({"indicator": "Choisissez un indicateur du dossier."})
    errors = {}
    day = _date_field(reported_on, "reported_on", errors, "Date de la mesure")
    if day and day > paris_today():
        errors["reported_on"] = "Une mesure ne peut pas être datée dans le futur."
    value = _text_field(value, "value", errors, "La valeur", maximum=200)
    if not value:
        errors["value"] = "Indiquez la valeur mesurée."
    comment = _text_field(comment, "comment", errors, "Le commentaire")
    if day and db.session.scalar(
        select(IndicatorValue.id).where(
            IndicatorValue.indicator_id == indicator.id, IndicatorValue.reported_on == day
        )
    ):
        errors["reported_on"] = "Une valeur est déjà enregistrée à cette date pour cet indicateur."
    if errors:
        raise ValidationFailed(errors)
    row = IndicatorValue(
        dossier_id=dossier.id,
        indicator_id=indicator.id,
        reported_on=day,
        value=value,
        comment=comment,
        recorded_by_id=actor.id,
    )
    db.session.add(row)
    audit.record(
        "indicator.reported",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : « {indicator.indicator} » = {value}",
    )
    _recorded(dossier, "indicateur", row, actor=actor)
    return row


def over_granted(dossier, row: CreditConsumption) -> str:
    """The warning when the credits consumed in a year exceed those granted ('' otherwise)."""
    granted = granted_amounts(dossier.id)
    ae, cp = granted.get(row.year, (0, 0))
    if not granted or (row.ae <= ae and row.cp <= cp):
        return ""
    return (
        f"Les crédits consommés en {row.year} (AE {format_euros(row.ae)}, CP {format_euros(row.cp)}) "
        f"dépassent les crédits accordés (AE {format_euros(ae)}, CP {format_euros(cp)})."
    )


def report_consumption(dossier, *, year, ae, cp, explanation: str = "", actor) -> CreditConsumption:
    """Credits consumed in a year; above the amounts granted it is allowed, with a required explanation."""
    _check_followup(dossier, actor, "year")
    errors = {}
    year = _year_field(year, errors)
    ae = _int_field(ae, "ae", errors, label="Le montant AE consommé")
    cp = _int_field(cp, "cp", errors, label="Le montant CP consommé")
    explanation = _text_field(explanation, "explanation", errors, "L'explication")
    granted = granted_amounts(dossier.id)
    if not errors and granted:  # a decision without amounts per year (older records): nothing to compare
        granted_ae, granted_cp = granted.get(year, (0, 0))
        if (ae > granted_ae or cp > granted_cp) and not explanation:
            errors["explanation"] = (
                f"Les montants dépassent les crédits accordés pour {year} (AE {format_euros(granted_ae)}, "
                f"CP {format_euros(granted_cp)}) : c'est possible, mais expliquez le dépassement."
            )
    if errors:
        raise ValidationFailed(errors)
    row = db.session.scalar(
        select(CreditConsumption).where(
            CreditConsumption.dossier_id == dossier.id, CreditConsumption.year == year
        )
    )
    old = [row.ae, row.cp] if row else None
    if row is None:
        row = CreditConsumption(dossier_id=dossier.id, year=year)
        db.session.add(row)
    row.ae, row.cp, row.explanation, row.recorded_by_id = ae, cp, explanation, actor.id
    audit.record(
        "consumption.reported",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : consommé {year} AE {ae} €, CP {cp} €",
        changes={"consumption": [old, [ae, cp]]},
    )
    _recorded(dossier, "consommation", row, actor=actor)
    # credits consumed: the reminder before the 6-month clawback is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.credits"]])
    return row


def report_savings(dossier, *, year, nature: str, amount, explanation: str = "", actor) -> SavingsReport:
    """Record (or correct) the savings observed in a year for one nature; a gap with the contract's forecast
    must be explained (§7 « matérialisation des économies réalisées »)."""
    _check_followup(dossier, actor, "year")
    errors = {}
    year = _year_field(year, errors)
    amount = _int_field(amount, "amount", errors, label="Le montant des économies constatées")
    nature = _clean(nature)
    forecasts = savings_forecast(dossier)
    if nature not in savings_natures(dossier, forecasts):
        errors["nature"] = "Choisissez une nature d'économies du contrat."
    explanation = _text_field(explanation, "explanation", errors, "L'explication")
    forecast = forecasts.get((year, nature), 0)
    if not errors and amount != forecast and not explanation:
        errors["explanation"] = (
            f"Expliquez l'écart avec la prévision du contrat ({format_euros(forecast)} prévus en {year} "
            f"pour « {nature} »)."
        )
    if errors:
        raise ValidationFailed(errors)
    row = db.session.scalar(
        select(SavingsReport).where(
            SavingsReport.dossier_id == dossier.id, SavingsReport.year == year, SavingsReport.nature == nature
        )
    )
    old = row.amount if row else None
    if row is None:
        row = SavingsReport(dossier_id=dossier.id, year=year, nature=nature)
        db.session.add(row)
    row.amount, row.explanation, row.recorded_by_id = amount, explanation, actor.id
    audit.record(
        "savings.reported",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : économies constatées {year} « {nature} » = {amount} €",
        changes={"savings": [old, amount]},
    )
    _recorded(dossier, "economies", row, actor=actor)
    # a nature reported for the year: its January reminder is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.savings"]])
    return row


# --- review by the instructeur ----------------------------------------------------------------------------


def dossier_row(model, dossier, row_id, *, field: str, message: str):
    """The `model` row whose id a form sent, if it belongs to this dossier; else `message` at `field`."""
    row = db.session.get(model, int(row_id)) if str(row_id).isdigit() else None
    if row is None or row.dossier_id != dossier.id:
        raise ValidationFailed({field: message})
    return row


def review(dossier, *, what: str, report_id, verdict: str, comment: str = "", actor):
    """The instructeur validates a report, or questions it with a comment; the porteur is told."""
    if not permissions.can_review_followup(actor, dossier):
        raise NotAllowed("Seuls les instructeurs du guichet et le secrétariat valident le suivi.")
    if what not in REPORTS:
        raise ValidationFailed({"verdict": "Compte rendu inconnu."})
    model, label = REPORTS[what]
    report = dossier_row(model, dossier, report_id, field="verdict", message="Compte rendu inconnu.")
    errors = {}
    try:
        state = ReviewState(verdict)
        if state == ReviewState.A_VALIDER:
            raise ValueError(verdict)
    except ValueError:
        state = None
        errors["verdict"] = "Choisissez : valider ou questionner."
    comment = _text_field(comment, "comment", errors, "Le commentaire")
    if state == ReviewState.QUESTIONNE and not comment:
        errors["comment"] = "Dites au porteur ce qui est à préciser ou à corriger."
    if errors:
        raise ValidationFailed(errors)
    report.review_state, report.review_comment = state, comment
    report.reviewed_by_id, report.reviewed_at = actor.id, utcnow()
    description = _describe(what, report, dossier)
    audit.record(
        f"followup_report.{'validated' if state == ReviewState.VALIDE else 'questioned'}",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : {label.lower()} {state.label.lower()} ({description})",
    )
    dossier_notices.tell(
        dossier_notices.porteurs(dossier),
        "followup.report_reviewed",
        dossier,
        subject=f"{dossier.reference} : compte rendu de suivi {state.label.lower()}",
        body=description + (f"\nCommentaire de l'instructeur : {comment}" if comment else ""),
        endpoint="followup.show",
        dossier_id=dossier.id,
    )
    return report
