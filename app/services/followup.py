"""Follow-up of funded dossiers: jalons reached, indicator values, credits consumed, savings observed, and
the flags a committee reviews.

Clawback triggers of the contract ([000] §5.2, §4.1.2, §8): a jalon missed on its date, indicator values not
sent for a year, no credit consumed six months after signature. Flags are computed, never stored.

Every report takes the acting user as `actor=`, flushes, never commits, and writes one audit entry.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from .. import permissions
from ..domain.followup import (
    CONSUMPTION_DEADLINE_MONTHS,
    INDICATOR_MAX_DAYS,
    SavingsYear,
    add_months,
    numeric,
    parse_date,
    parse_int,
)
from ..domain.followup import savings_by_year as _savings_by_year
from ..extensions import db
from ..formatting import format_date, format_euros, paris, paris_today
from ..models.committees import AgendaItem, Decision, ItemKind, Meeting, MeetingState, Outcome
from ..models.dossiers import Dossier, DossierState, DossierTransition
from ..models.followup import OTHER_SAVINGS, CreditConsumption, IndicatorValue, JalonReport, SavingsReport
from . import audit, reminders
from . import dossiers as dossier_service
from .errors import DomainError, NotAllowed, ValidationFailed

TEXT_MAX = 2000
OPEN_MEETING_STATES = (MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE, MeetingState.TENUE)


@dataclass(frozen=True)
class Flag:
    dossier_id: int
    kind: str  # jalon_late | indicator_missing | credits_not_consumed
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


def is_followed(dossier) -> bool:
    return dossier.state in DossierState.FOLLOWED


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# --- reading ----------------------------------------------------------------------------------------------


def signature_date(dossier) -> date | None:
    """The day the dossier became « conventionné » (its contract signature), in Paris."""
    moment = db.session.scalar(
        select(func.min(DossierTransition.created_at)).where(
            DossierTransition.dossier_id == dossier.id,
            DossierTransition.to_state == DossierState.CONVENTIONNE,
        )
    )
    return paris(moment).date() if moment is not None else None


def granted_amounts(dossier_id: int) -> dict[int, tuple[int, int]]:
    """Year → (AE, CP) of the decision in force on the dossier (the last of its rectification chain)."""
    decision = db.session.scalar(
        select(Decision)
        .join(AgendaItem)
        .where(
            AgendaItem.dossier_id == dossier_id,
            AgendaItem.kind == ItemKind.DOSSIER,
            Decision.outcome.in_([Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS]),
        )
        .order_by(Decision.id.desc())
        .limit(1)
    )
    return {a.year: (a.ae, a.cp) for a in decision.amounts} if decision else {}


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


def savings_by_year(dossier) -> list[SavingsYear]:
    """The contract's forecast savings next to the savings reported during the follow-up, by year and nature
    (natures in the contract's order)."""
    forecast = savings_forecast(dossier)
    reported = {
        (r.year, r.nature): (r.amount, r.explanation)
        for r in db.session.scalars(select(SavingsReport).where(SavingsReport.dossier_id == dossier.id))
    }
    return _savings_by_year(forecast, reported, savings_natures(dossier, forecast))


def followup(dossier, *, today: date | None = None) -> FollowUp:
    today = today or paris_today()
    signed_on = signature_date(dossier)
    reports = {
        r.jalon_id: r
        for r in db.session.scalars(select(JalonReport).where(JalonReport.dossier_id == dossier.id))
    }
    values: dict[int, list] = {}
    for value in db.session.scalars(
        select(IndicatorValue)
        .where(IndicatorValue.dossier_id == dossier.id)
        .order_by(IndicatorValue.reported_on.desc())
    ):
        values.setdefault(value.indicator_id, []).append(value)
    consumed = {
        c.year: c
        for c in db.session.scalars(
            select(CreditConsumption).where(CreditConsumption.dossier_id == dossier.id)
        )
    }
    granted = granted_amounts(dossier.id)
    flags, jalons = [], []
    followed = is_followed(dossier)
    for jalon in dossier.jalons:
        report = reports.get(jalon.id)
        if report is not None:
            status = f"Atteint le {format_date(report.achieved_on)}"
        elif jalon.due_on < today:
            status = "En retard"
            if followed:
                flags.append(
                    Flag(
                        dossier.id,
                        "jalon_late",
                        f"{dossier.reference} : jalon n° {jalon.number} "
                        f"« {jalon.description} » en retard (prévu le {format_date(jalon.due_on)}).",
                    )
                )
        else:
            status = "À venir"
        jalons.append((jalon, report, status))
    indicators = []
    for indicator in dossier.indicators:
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
                f"{CONSUMPTION_DEADLINE_MONTHS} mois après la signature ({format_date(signed_on)}).",
            )
        )
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
        savings=savings_by_year(dossier),
    )


def flags_for_committee(committee, *, today: date | None = None) -> list[Flag]:
    """Flags of the followed dossiers of the guichets this committee decides on, not already on one of its
    open agendas as a follow-up review."""
    on_agenda = set(
        db.session.scalars(
            select(AgendaItem.dossier_id)
            .join(Meeting)
            .where(
                AgendaItem.kind == ItemKind.SUIVI,
                Meeting.committee_id == committee.id,
                Meeting.state.in_(OPEN_MEETING_STATES),
            )
        )
    )
    flags = []
    for dossier in db.session.scalars(
        select(Dossier).where(Dossier.state.in_(DossierState.FOLLOWED)).order_by(Dossier.id)
    ):
        if dossier.id in on_agenda or not dossier_service.decided_by(committee, dossier):
            continue
        flags.extend(followup(dossier, today=today).flags)
    return flags


# --- reports ----------------------------------------------------------------------------------------------


def _check_followup(dossier, actor) -> None:
    if not permissions.can_report_followup(actor, dossier):
        raise NotAllowed("Seuls le porteur du dossier et le secrétariat renseignent le suivi.")
    if not is_followed(dossier):
        raise DomainError("Le suivi se renseigne une fois le dossier conventionné.")


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


def report_jalon(dossier, *, jalon_id, achieved_on, proof: str, actor) -> JalonReport:
    _check_followup(dossier, actor)
    jalon = next((j for j in dossier.jalons if str(j.id) == str(jalon_id)), None)
    if jalon is None:
        raise ValidationFailed({"jalon": "Choisissez un jalon du dossier."})
    errors = {}
    day = _date_field(achieved_on, "achieved_on", errors, "Date d'atteinte")
    proof = _text_field(proof, "proof", errors, "La preuve")
    if not proof:
        errors["proof"] = "Indiquez la preuve (livrable, procès-verbal de recette, lien…)."
    if day and day > paris_today():
        errors["achieved_on"] = "Un jalon ne peut pas être atteint à une date future."
    if db.session.scalar(select(JalonReport.id).where(JalonReport.jalon_id == jalon.id)):
        errors["jalon"] = f"Le jalon n° {jalon.number} est déjà déclaré atteint."
    if errors:
        raise ValidationFailed(errors)
    report = JalonReport(
        dossier_id=dossier.id, jalon_id=jalon.id, achieved_on=day, proof=proof, recorded_by_id=actor.id
    )
    db.session.add(report)
    audit.record(
        "jalon.reached",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : jalon n° {jalon.number} atteint",
    )
    return report


def report_indicator(
    dossier, *, indicator_id, reported_on, value: str, comment: str = "", actor
) -> IndicatorValue:
    _check_followup(dossier, actor)
    indicator = next((i for i in dossier.indicators if str(i.id) == str(indicator_id)), None)
    if indicator is None:
        raise ValidationFailed({"indicator": "Choisissez un indicateur du dossier."})
    errors = {}
    day = _date_field(reported_on, "reported_on", errors, "Date de la mesure")
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
    return row


def report_consumption(dossier, *, year, ae, cp, actor) -> CreditConsumption:
    _check_followup(dossier, actor)
    errors = {}
    year = _year_field(year, errors)
    ae = _int_field(ae, "ae", errors, label="Le montant AE consommé")
    cp = _int_field(cp, "cp", errors, label="Le montant CP consommé")
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
    row.ae, row.cp, row.recorded_by_id = ae, cp, actor.id
    audit.record(
        "consumption.reported",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : consommé {year} AE {ae} €, CP {cp} €",
        changes={"consumption": [old, [ae, cp]]},
    )
    # credits consumed: the reminder before the 6-month clawback is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.credits"]])
    return row


def report_savings(dossier, *, year, nature: str, amount, explanation: str = "", actor) -> SavingsReport:
    """Record (or correct) the savings observed in a year for one nature; a gap with the contract's forecast
    must be explained (§7 « matérialisation des économies réalisées »)."""
    _check_followup(dossier, actor)
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
    # a nature reported for the year: its January reminder is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.savings"]])
    return row
