"""The reminder kinds of a funded dossier's follow-up, registered with the reminder engine at import.

- "jalon.due" (J-15) and "jalon.overdue" (J+1): a jalon of the contract is due / past due.
- "dossier.indicators" (J-15): indicators to report, at each indicator's frequency from the signature.
- "dossier.credits" (signature + 150 days): credits still unconsumed before the clawback at 6 months.
- "dossier.savings" (15 January): savings of the past year not yet reported for a forecast nature.
- "dossier.tranches" (1 March, to the secretariat): the yearly tranche decision due by the end of the first
  quarter ([004] §6 « a minima au 1er trimestre de chaque année »), each year after the signature's while
  the project runs, unless a tranche was already decided that quarter.

Jalons and indicators are replaced when a dossier is edited, so these reminders are about the dossier (one per
due date: the jalons due the same day share one reminder). The follow-up service re-plans a dossier when it
records consumed credits or savings; the dossier service on each transition.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from ..domain.followup import add_months as domain_add_months
from ..extensions import db
from ..formatting import format_date, format_datetime, paris, plural
from ..models.dossiers import Dossier, DossierState, DossierTransition
from ..models.followup import CreditConsumption, Tranche
from . import notifications, reminders
from .dossiers_reminders import PORTEURS, dossier_porteurs, dossier_url, dossiers_in
from .followup import savings_by_year
from .reminders import Planned, ReminderKind

FOLLOWED_STATES = (DossierState.CONVENTIONNE, DossierState.EN_SUIVI)
INDICATOR_PERIODS = (("mensuel", 1), ("trimestr", 3), ("semestr", 6), ("annuel", 12), ("an", 12))
INDICATOR_HORIZON_MONTHS = 60


def signed_at(dossier: Dossier) -> datetime | None:
    """When the dossier's contract was signed (its first move to « conventionné »)."""
    return db.session.scalar(
        select(DossierTransition.created_at)
        .where(
            DossierTransition.dossier_id == dossier.id,
            DossierTransition.to_state == DossierState.CONVENTIONNE,
        )
        .order_by(DossierTransition.id)
        .limit(1)
    )


def add_months(moment: datetime, months: int) -> datetime:
    """Midnight (Paris) of the same day `months` later (the last day of a shorter month)."""
    return reminders.at_paris(domain_add_months(paris(moment).date(), months), 0)


def indicator_months(frequency: str) -> int | None:
    """Months between two reports for a free-text frequency ("trimestrielle", "Annuel"…), or None."""
    text = (frequency or "").strip().lower()
    for word, months in INDICATOR_PERIODS:
        if word in text:
            return months
    return None


def _followed(dossier: Dossier) -> bool:
    return dossier.state in FOLLOWED_STATES


# --- jalons -------------------------------------------------------------------------------------------------


def _jalon_plan(dossier: Dossier, offset_days: int, after: bool = False):
    if not _followed(dossier):
        return []
    planned = []
    for day in sorted({j.due_on for j in dossier.jalons}):
        anchor = reminders.at_paris(day, 0)
        if after:
            due = reminders.days_after(anchor, offset_days)
        else:
            due = reminders.days_before(anchor, offset_days)
        planned += [Planned(user, due, anchor) for user in dossier_porteurs(dossier)]
    return planned


def _jalon_context(dossier: Dossier, recipient, reminder, now):
    day = reminders.paris_date(reminder.anchor_at) if reminder.anchor_at else None
    jalons = [j for j in dossier.jalons if j.due_on == day]
    overdue = reminder.kind == JALON_OVERDUE.name
    return dict(
        dossier=dossier,
        jalons=jalons,
        due_on=day,
        url=dossier_url(dossier),
        overdue=overdue,
        summary=f"{dossier.reference} : jalon(s) "
        + ", ".join(f"n° {j.number}" for j in jalons)
        + (" échu(s)" if overdue else " à échéance")
        + f" le {format_date(day)}."
        if day
        else "",
    )


# --- indicators ---------------------------------------------------------------------------------------------


def _report_dates(signed: datetime, months: int) -> list[datetime]:
    return [add_months(signed, k * months) for k in range(1, INDICATOR_HORIZON_MONTHS // months + 1)]


def _indicator_plan(dossier: Dossier, offset_days: int):
    if not _followed(dossier):
        return []
    signed = signed_at(dossier)
    if signed is None:
        return []
    dates = set()
    for indicator in dossier.indicators:
        months = indicator_months(indicator.frequency)
        if months:
            dates |= set(_report_dates(signed, months))
    return [
        Planned(user, reminders.days_before(anchor, offset_days), anchor)
        for anchor in sorted(dates)
        for user in dossier_porteurs(dossier)
    ]


def _indicator_context(dossier: Dossier, recipient, reminder, now):
    day = reminders.paris_date(reminder.anchor_at)
    signed = signed_at(dossier)
    due = [
        i
        for i in dossier.indicators
        if (months := indicator_months(i.frequency))
        and any(reminders.paris_date(moment) == day for moment in _report_dates(signed, months))
    ]
    return dict(
        dossier=dossier,
        indicators=due,
        due_on=day,
        url=dossier_url(dossier),
        summary=f"{dossier.reference} : {plural(len(due), 'indicateur')} à transmettre pour le "
        f"{format_date(day)}.",
    )


# --- credits ------------------------------------------------------------------------------------------------


def _credits_plan(dossier: Dossier, offset_days: int):
    """Five months after signature, unless consumed credits are already reported on the follow-up page."""
    if not _followed(dossier):
        return []
    signed = signed_at(dossier)
    if signed is None:
        return []
    consumed = db.session.scalar(
        select(CreditConsumption.id)
        .where(
            CreditConsumption.dossier_id == dossier.id,
            (CreditConsumption.ae > 0) | (CreditConsumption.cp > 0),
        )
        .limit(1)
    )
    if consumed is not None:
        return []
    clawback = add_months(signed, 6)
    due = reminders.days_after(signed, offset_days)
    return [Planned(user, due, clawback) for user in dossier_porteurs(dossier)]


def _credits_context(dossier: Dossier, recipient, reminder, now):
    return dict(
        dossier=dossier,
        signed_at=signed_at(dossier),
        clawback_on=reminders.paris_date(reminder.anchor_at),
        url=dossier_url(dossier),
        summary=f"{dossier.reference} : crédits non consommés à reprendre après 6 mois "
        f"(le {format_datetime(reminder.anchor_at, False)}).",
    )


# --- savings ------------------------------------------------------------------------------------------------


def _savings_plan(dossier: Dossier, offset_days: int):
    """After the end of each year the contract forecasts savings for (from the signature year on), while a
    nature of that year has no reported figure."""
    if not _followed(dossier):
        return []
    signed = signed_at(dossier)
    if signed is None:
        return []
    planned = []
    for year in savings_by_year(dossier):
        if year.year >= reminders.paris_date(signed).year and year.unreported:
            anchor = reminders.at_paris(date(year.year + 1, 1, 1), 0)
            planned += [
                Planned(user, reminders.days_after(anchor, offset_days), anchor)
                for user in dossier_porteurs(dossier)
            ]
    return planned


def _savings_context(dossier: Dossier, recipient, reminder, now):
    year = reminders.paris_date(reminder.anchor_at).year - 1
    figures = next((y for y in savings_by_year(dossier) if y.year == year), None)
    natures = figures.unreported if figures else []
    return dict(
        dossier=dossier,
        year=year,
        natures=natures,
        url=reminders.base_url() + f"/dossiers/{dossier.id}/suivi#economies",
        summary=f"{dossier.reference} : économies constatées {year} à déclarer "
        f"({plural(len(natures), 'nature')} sans montant).",
    )


# --- tranches -----------------------------------------------------------------------------------------------

TRANCHE_YEARS = 5  # the years after the signature's a dossier without an end date is reminded for


def _tranches_decided_in_q1(dossier: Dossier) -> set[int]:
    days = db.session.scalars(select(Tranche.released_on).where(Tranche.dossier_id == dossier.id))
    return {day.year for day in days if day is not None and day.month <= 3}


def _tranches_plan(dossier: Dossier, offset_days: int):
    """Before the end of each first quarter after the signature's year, to the secretariat."""
    if not _followed(dossier):
        return []
    signed = signed_at(dossier)
    if signed is None:
        return []
    first = reminders.paris_date(signed).year + 1
    last = dossier.ends_on.year if dossier.ends_on else first + TRANCHE_YEARS - 1
    decided = _tranches_decided_in_q1(dossier)
    planned = []
    for year in range(first, last + 1):
        if year in decided:
            continue
        anchor = reminders.at_paris(date(year, 4, 1), 0)  # the first quarter is over
        planned += [
            Planned(user, reminders.days_before(anchor, offset_days), anchor)
            for user in notifications.secretariat()
        ]
    return planned


def _tranches_context(dossier: Dossier, recipient, reminder, now):
    year = reminders.paris_date(reminder.anchor_at).year
    return dict(
        dossier=dossier,
        year=year,
        url=reminders.base_url() + f"/dossiers/{dossier.id}/suivi#tranches",
        summary=f"{dossier.reference} : tranches {year} à décider avant la fin du 1er trimestre.",
    )


# --- registration -------------------------------------------------------------------------------------------

_candidates = dossiers_in(list(FOLLOWED_STATES))

JALON_DUE = reminders.register(
    ReminderKind(
        name="jalon.due",
        label="Jalon à échéance prochaine",
        model=Dossier,
        template="dossier_jalon",
        default_offset_days=15,
        offset_help="jours avant l'échéance",
        plan=_jalon_plan,
        context=_jalon_context,
        candidates=_candidates,
        audience=PORTEURS,
        catch_up=False,
        expires_at_anchor=True,
    )
)
JALON_OVERDUE = reminders.register(
    ReminderKind(
        name="jalon.overdue",
        label="Jalon échu",
        model=Dossier,
        template="dossier_jalon",
        default_offset_days=1,
        offset_help="jours après l'échéance",
        plan=lambda dossier, offset: _jalon_plan(dossier, offset, after=True),
        context=_jalon_context,
        candidates=_candidates,
        audience=PORTEURS,
        catch_up=False,
    )
)
INDICATORS = reminders.register(
    ReminderKind(
        name="dossier.indicators",
        label="Indicateurs à transmettre (selon leur fréquence)",
        model=Dossier,
        template="dossier_indicators",
        default_offset_days=15,
        offset_help="jours avant la date de remontée",
        plan=_indicator_plan,
        context=_indicator_context,
        candidates=_candidates,
        audience=PORTEURS,
        catch_up=False,
        expires_at_anchor=True,
    )
)
SAVINGS = reminders.register(
    ReminderKind(
        name="dossier.savings",
        label="Économies constatées de l'année écoulée à déclarer",
        model=Dossier,
        template="dossier_savings",
        default_offset_days=15,
        offset_help="jours après la fin de l'année",
        plan=_savings_plan,
        context=_savings_context,
        candidates=_candidates,
        audience=PORTEURS,
        catch_up=False,
    )
)
CREDITS = reminders.register(
    ReminderKind(
        name="dossier.credits",
        label="Crédits à consommer avant la reprise à 6 mois",
        model=Dossier,
        template="dossier_credits",
        default_offset_days=150,
        offset_help="jours après la signature",
        plan=_credits_plan,
        context=_credits_context,
        candidates=_candidates,
        audience=PORTEURS,
        catch_up=False,
        expires_at_anchor=True,
    )
)
TRANCHES = reminders.register(
    ReminderKind(
        name="dossier.tranches",
        label="Tranches de financement à décider au 1er trimestre",
        model=Dossier,
        template="dossier_tranches",
        default_offset_days=31,
        offset_help="jours avant la fin du 1er trimestre",
        plan=_tranches_plan,
        context=_tranches_context,
        candidates=_candidates,
        audience="Secrétariat",
        catch_up=False,
        expires_at_anchor=True,
    )
)
