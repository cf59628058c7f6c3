"""Committee services: members, rules (deliberation rules, recurrence and the meetings it generates), the
people a meeting concerns, calendar links, the reference rules of the standing bodies.

Meetings, agenda and attendance are in meetings.py; votes and decisions in decisions.py; the register in
register.py; the minutes in minutes.py. Every function takes the acting user as `actor=`, flushes, never
commits, and writes one audit entry.
"""

import re
import secrets
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..domain.recurrence import InvalidRecurrence, Recurrence, time_error
from ..extensions import db
from ..formatting import PARIS, format_date, format_euros, format_number, paris_today
from ..models import Guichet, OpportunityStatus, Role, User, UserRole
from ..models.committees import (
    OTHER_SAVINGS,
    AgendaItem,
    Committee,
    Decision,
    ItemKind,
    MajorityRule,
    Meeting,
    MeetingState,
    MemberFunction,
    Outcome,
    QuorumRule,
)
from ..permissions import can_manage_committee, can_plan_meeting
from . import audit, dossiers, notifications
from .errors import DomainError, NotAllowed, ValidationFailed

TEXT_MAX = 10_000


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# --- notifications hook ---------------------------------------------------------------------------------
# The notifications domain (app/services/notifications.py) delivers in-app notices and e-mails after commit.

NOTIFICATION_KINDS = {
    "committee.agenda_published": (
        "Ordre du jour d'un comité publié",
        "Membres du comité, porteurs concernés",
    ),
    "committee.decision_recorded": (
        "Décision de comité sur votre dossier ou opportunité",
        "Porteurs concernés",
    ),
    "committee.minutes_published": (
        "Procès-verbal de comité publié (extrait vous concernant)",
        "Membres du comité, porteurs concernés",
    ),
}


def _declare_notification_kinds() -> None:
    for name, (label, audience) in NOTIFICATION_KINDS.items():
        if name not in notifications.KINDS:
            notifications.declare_kind(name, label, audience=audience)


def notify(users, kind: str, obj, *, subject: str, body: str = "", url: str | None = None) -> int:
    """Notify each distinct active user once; returns how many were notified."""
    _declare_notification_kinds()
    seen = set()
    for user in users:
        if user is None or user.id in seen or not user.active:
            continue
        seen.add(user.id)
        notifications.notify(user, kind, obj, subject=subject, body=body, url=url)
    return len(seen)


def meeting_path(meeting: Meeting) -> str:
    return f"/comites/seances/{meeting.id}"


# --- members --------------------------------------------------------------------------------------------


def members(committee: Committee) -> list[UserRole]:
    """Committee members (UserRole rows with role 'comite' on this committee), président first."""
    order = {f.value: i for i, f in enumerate(MemberFunction)}
    rows = db.session.scalars(
        select(UserRole)
        .join(User, User.id == UserRole.user_id)
        .where(UserRole.role == Role.COMITE, UserRole.committee_id == committee.id)
    ).all()
    return sorted(rows, key=lambda r: (order.get(r.function or "membre", 9), r.user.usual_name, r.user.id))


def _function_field(function: str) -> MemberFunction:
    try:
        return MemberFunction(function)
    except ValueError:
        raise ValidationFailed({"function": "Fonction inconnue."}) from None


def add_member(committee: Committee, *, user: User, function: str, actor) -> UserRole:
    if not can_manage_committee(actor, committee):
        raise NotAllowed("Seul le secrétariat gère la composition des comités.")
    function = _function_field(function)
    existing = db.session.scalar(
        select(UserRole).where(
            UserRole.user_id == user.id, UserRole.role == Role.COMITE, UserRole.committee_id == committee.id
        )
    )
    if existing is not None:
        if existing.function == function:
            raise ValidationFailed(
                {"user": f"{user.full_name} est déjà {function.label.lower()} de ce comité."}
            )
        old = existing.function
        existing.function = function
        audit.record(
            "committee.member_changed",
            committee,
            actor=actor,
            summary=f"{user.full_name} : {function.label} ({committee.code})",
            changes={"function": [old, function.value]},
        )
        return existing
    if function is MemberFunction.PRESIDENT and any(
        m.function == MemberFunction.PRESIDENT for m in members(committee)
    ):
        raise ValidationFailed({"function": "Ce comité a déjà un président : changez d'abord sa fonction."})
    role = UserRole(user_id=user.id, role=Role.COMITE, committee_id=committee.id, function=function)
    db.session.add(role)
    audit.record(
        "committee.member_added",
        committee,
        actor=actor,
        summary=f"{user.full_name} ajouté(e) au {committee.code} ({function.label})",
    )
    db.session.expire(user, ["roles"])
    return role


def remove_member(committee: Committee, *, user: User, actor) -> None:
    if not can_manage_committee(actor, committee):
        raise NotAllowed("Seul le secrétariat gère la composition des comités.")
    role = db.session.scalar(
        select(UserRole).where(
            UserRole.user_id == user.id, UserRole.role == Role.COMITE, UserRole.committee_id == committee.id
        )
    )
    if role is None:
        return
    db.session.delete(role)
    audit.record(
        "committee.member_removed",
        committee,
        actor=actor,
        summary=f"{user.full_name} retiré(e) du {committee.code}",
    )
    db.session.flush()
    db.session.expire(user, ["roles"])


def meeting_audience(meeting: Meeting) -> list[User]:
    """The committee's members and the porteurs concerned by the meeting's agenda."""
    people = [m.user for m in members(meeting.committee)]
    return people + porteurs_concerned(meeting)


def porteurs_concerned(meeting: Meeting, item: AgendaItem | None = None) -> list[User]:
    """Porteurs of the dossiers on the agenda, and the creators of the opportunities on it."""
    people = []
    for it in [item] if item else meeting.items:
        if it.opportunity is not None and it.opportunity.created_by_id:
            people.append(db.session.get(User, it.opportunity.created_by_id))
        if it.dossier_id is not None:
            people.extend(dossiers.porteurs(it.dossier_id))
    return [p for p in people if p is not None]


# --- rules and recurrence -------------------------------------------------------------------------------


def recurrence_of(committee: Committee) -> Recurrence | None:
    """The committee's recurrence rule (app/domain/recurrence.py); ValidationFailed if it is unreadable."""
    if not committee.recurrence:
        return None
    try:
        return Recurrence.parse(committee.recurrence, committee.recurrence_time or "")
    except InvalidRecurrence as error:
        raise ValidationFailed(error.errors) from None


def first_meeting_day(committee: Committee) -> date | None:
    """The (Paris) date of the committee's earliest meeting, whatever its state: the rule counts from it."""
    first = db.session.scalar(select(func.min(Meeting.starts_at)).where(Meeting.committee_id == committee.id))
    if first is None:
        return None
    if first.tzinfo is None:  # SQLite returns the aggregate without its time zone
        first = first.replace(tzinfo=UTC)
    return first.astimezone(PARIS).date()


def occurrences(committee: Committee, rule: Recurrence, start: date, end: date) -> list[date]:
    """The rule's dates in [start, end], counted from the committee's first meeting (else from the day the
    rules were set, else from `start`)."""
    first = first_meeting_day(committee)
    if first is None and committee.rules_updated_at is not None:
        first = committee.rules_updated_at.astimezone(PARIS).date()
    return rule.dates(start, end, first=first)


def update_rules(
    committee: Committee,
    *,
    quorum_rule: str,
    proxies_count_for_quorum: bool,
    majority_rule: str,
    casting_vote: bool,
    recurrence: str,
    recurrence_time: str,
    meeting_minutes,
    default_place: str,
    opportunity_stages: list[str],
    guichet_ids: list[int],
    actor,
) -> Committee:
    if not can_manage_committee(actor, committee):
        raise NotAllowed("Seul le secrétariat modifie les règles d'un comité.")
    errors = {}
    try:
        quorum_rule = QuorumRule(quorum_rule).value
    except ValueError:
        errors["quorum_rule"] = "Règle de quorum inconnue."
    try:
        majority_rule = MajorityRule(majority_rule).value
    except ValueError:
        errors["majority_rule"] = "Règle de majorité inconnue."
    recurrence, recurrence_time = _clean(recurrence).upper() or None, _clean(recurrence_time) or None
    if recurrence:
        try:
            Recurrence.parse(recurrence, recurrence_time or "")
        except InvalidRecurrence as error:
            errors.update(error.errors)
    elif recurrence_time and (message := time_error(recurrence_time)):
        errors["recurrence_time"] = message
    minutes = _int_field(
        meeting_minutes, "meeting_minutes", errors, minimum=15, maximum=24 * 60, label="La durée"
    )
    stages = []
    for stage in opportunity_stages:
        try:
            stages.append(OpportunityStatus(stage).value)
        except ValueError:
            errors["opportunity_stages"] = "Étape d'opportunité inconnue."
    if errors:
        raise ValidationFailed(errors)
    guichets = list(
        db.session.scalars(select(Guichet).where(Guichet.id.in_(guichet_ids or [-1])).order_by(Guichet.code))
    )
    values = {
        "quorum_rule": quorum_rule,
        "proxies_count_for_quorum": bool(proxies_count_for_quorum),
        "majority_rule": majority_rule,
        "casting_vote": bool(casting_vote),
        "recurrence": recurrence,
        "recurrence_time": recurrence_time,
        "meeting_minutes": minutes,
        "default_place": _clean(default_place)[:500],
        "opportunity_stages": stages,
    }
    changes = audit.diff(committee, values)
    old_guichets = [g.code for g in committee.guichets]
    if old_guichets != [g.code for g in guichets]:
        changes["guichets"] = [old_guichets, [g.code for g in guichets]]
        committee.guichets = guichets
    for key, value in values.items():
        setattr(committee, key, value)
    committee.rules_updated_at = datetime.now(UTC)
    if changes:
        audit.record(
            "committee.rules_updated",
            committee,
            actor=actor,
            summary=f"Règles du {committee.code} modifiées",
            changes=changes,
        )
    return committee


AMOUNT_MAX = 2_000_000_000  # euros; also keeps amounts within the 32-bit integer columns of PostgreSQL


def _int_field(
    value, name: str, errors: dict, *, minimum: int = 0, maximum: int = AMOUNT_MAX, label: str = "Le montant"
) -> int:
    """Integers typed by people: spaces allowed ("150 000"), no decimals, no negatives."""
    text = (
        str(value if value is not None else "").replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    )
    text = text.removesuffix("€")
    if text == "":
        errors[name] = f"{label} est obligatoire."
        return 0
    if not re.fullmatch(r"-?\d+", text):
        errors[name] = f"{label} doit être un nombre entier (en euros, sans décimales) : « {value} »."
        return 0
    number = int(text)
    if number < minimum:
        errors[name] = (
            f"{label} ne peut pas être négatif." if minimum == 0 else f"{label} doit être au moins {minimum}."
        )
    elif number > maximum:
        limit = format_number(maximum) if maximum >= 10_000 else str(maximum)  # not "2 100" for a year
        errors[name] = f"{label} ne peut pas dépasser {limit}."
    return number


def generate_meetings(
    committee: Committee, *, until: date, actor, today: date | None = None
) -> list[Meeting]:
    """Create the planned meetings of the committee's recurrence rule up to `until` (idempotent: an occurrence
    already generated — even moved or cancelled since — is never created again)."""
    if actor is not None and not can_plan_meeting(actor, committee):
        raise NotAllowed("Vous ne pouvez pas planifier de séance pour ce comité.")
    rule = recurrence_of(committee)
    if rule is None:
        raise DomainError(f"Le comité {committee.code} n'a pas de règle de récurrence.")
    today = today or paris_today()
    known = set(
        db.session.scalars(
            select(Meeting.occurrence).where(
                Meeting.committee_id == committee.id, Meeting.occurrence.is_not(None)
            )
        )
    )
    created = []
    for day in occurrences(committee, rule, today, until):
        if day.isoformat() in known:
            continue
        meeting = Meeting(
            committee_id=committee.id,
            starts_at=rule.starts_at(day),
            duration_minutes=committee.meeting_minutes,
            place=committee.default_place,
            occurrence=day.isoformat(),
            created_by_id=getattr(actor, "id", None),
        )
        try:
            with db.session.begin_nested():
                db.session.add(meeting)
        except IntegrityError:  # generated concurrently by another process
            continue
        created.append(meeting)
    if created:
        audit.record(
            "session.generated",
            committee,
            actor=actor,
            summary=f"{len(created)} séance(s) générée(s) pour le {committee.code} ({rule.label})",
            changes={"occurrences": [None, [s.occurrence for s in created]]},
        )
    return created


# --- calendar -------------------------------------------------------------------------------------------


def regenerate_calendar_token(user: User, *, actor) -> str:
    if actor is None or actor.id != user.id:
        raise NotAllowed("Vous ne pouvez régénérer que votre propre lien d'agenda.")
    user.calendar_token = secrets.token_urlsafe(32)
    audit.record("calendar_token.regenerated", user, actor=actor, summary="Lien d'agenda régénéré")
    return user.calendar_token


# --- reference data -------------------------------------------------------------------------------------

REFERENCE_RULES = {
    # CSIC-Tech validates qualified opportunities; the CSIC launches them ([002] §4).
    # Their cadences are not in the seeds.
    "CSIC-TECH": {"opportunity_stages": [OpportunityStatus.QUALIFIEE]},
    "CSIC": {"opportunity_stages": [OpportunityStatus.VALIDEE_CSIC_TECH, OpportunityStatus.PROPOSEE_CSIC]},
    # « instance mensuelle » ([000] §5.3): first Tuesday of every month, 14:00 (Paris).
    "CINUM": {"recurrence": "FREQ=MONTHLY;BYDAY=1TU", "recurrence_time": "14:00"},
    "COPIL-HUB": {"recurrence": "FREQ=MONTHLY;BYDAY=2TH", "recurrence_time": "10:00"},
    # « au minimum trois fois par an » ([004] §4.2): every four months.
    "COPIL-DISPOSITIF": {"recurrence": "FREQ=MONTHLY;INTERVAL=4;BYDAY=2WE", "recurrence_time": "10:00"},
    "COPROJ": {"recurrence": "FREQ=WEEKLY;BYDAY=MO", "recurrence_time": "10:00", "meeting_minutes": 60},
    "CREC": {"recurrence": "FREQ=WEEKLY;BYDAY=TH", "recurrence_time": "14:00", "meeting_minutes": 60},
}
# The guichets each body decides on (with their sub-guichets): [000] §5.3, [004] §4.2, [003].
REFERENCE_GUICHETS = {
    "COPIL-SUITE": ["FTAP-DINUM-OPI"],
    "COMITE-INVEST-FTAP": ["FTAP"],
    "COSINUM": ["FR-MTFP"],
    "COPIL-DISPOSITIF": ["FTAP-LEAN"],
}


def apply_reference_rules(committee: Committee, *, actor=None) -> bool:
    """Give the standing bodies their default rules until the secretariat edits them; True if changed."""
    if committee.rules_updated_at is not None:
        return False
    changes = audit.diff(committee, REFERENCE_RULES.get(committee.code, {}))
    for key, (_, new) in changes.items():
        setattr(committee, key, new)
    wanted = REFERENCE_GUICHETS.get(committee.code)
    if wanted:
        guichets = list(
            db.session.scalars(select(Guichet).where(Guichet.code.in_(wanted)).order_by(Guichet.code))
        )
        if [g.code for g in committee.guichets] != [g.code for g in guichets] and guichets:
            changes["guichets"] = [[g.code for g in committee.guichets], [g.code for g in guichets]]
            committee.guichets = guichets
    if changes:
        audit.record(
            "committee.rules_updated",
            committee,
            actor=actor,
            summary=f"Règles de référence du {committee.code}",
            changes=changes,
        )
    return bool(changes)


# --- follow-up of funded dossiers ----------------------------------------------------------------------
# Clawback triggers of the contract ([000] §5.2, §4.1.2, §8): a jalon missed on its date, indicator values not
# sent for a year, no credit consumed six months after signature. Flags are computed, never stored.

FOLLOWED_STATES = ("conventionne", "en_suivi")
INDICATOR_MAX_DAYS = 365
CONSUMPTION_DEADLINE_MONTHS = 6


@dataclass(frozen=True)
class Flag:
    dossier_id: int
    kind: str  # jalon_late | indicator_missing | credits_not_consumed
    text: str


def _paris_today() -> date:
    return datetime.now(PARIS).date()


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _date_fr(day: date) -> str:
    return format_date(day)


def signature_date(dossier) -> date | None:
    """The day the dossier became « conventionné » (its contract signature)."""
    from ..models.dossiers import DossierTransition

    moment = db.session.scalar(
        select(func.min(DossierTransition.created_at)).where(
            DossierTransition.dossier_id == dossier.id, DossierTransition.to_state == "conventionne"
        )
    )
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS).date()


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


def numeric(text: str | None) -> float | None:
    """ "1 200", "12,5 %", "45" → a number for the chart; None when the value is not a number."""
    cleaned = re.sub(r"[\s\u202f\u00a0%€]", "", text or "").replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


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


def savings_forecast(dossier) -> dict[tuple[int, str], int]:
    """(year, nature) → forecast savings, read from the dossier's savings table as the dossier page computes
    it (services.dossiers.figures), the T2 helper's row included."""
    from .dossiers import figures

    fig = figures(dossier)
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
    from ..models.committees import SavingsReport

    forecast = savings_forecast(dossier)
    reported = {
        (r.year, r.nature): r
        for r in db.session.scalars(select(SavingsReport).where(SavingsReport.dossier_id == dossier.id))
    }
    order = {nature: i for i, nature in enumerate(savings_natures(dossier, forecast))}
    keys = sorted(set(forecast) | set(reported), key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    by_year: dict[int, list[SavingsFigure]] = {}
    for year, nature in keys:
        report = reported.get((year, nature))
        by_year.setdefault(year, []).append(
            SavingsFigure(
                year,
                forecast.get((year, nature), 0),
                report.amount if report else None,
                nature,
                report.explanation if report else "",
            )
        )
    return [SavingsYear.of(year, natures) for year, natures in by_year.items()]


def followup(dossier, *, today: date | None = None) -> FollowUp:
    from ..models.committees import CreditConsumption, IndicatorValue, JalonReport

    today = today or _paris_today()
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
    followed = dossier.state in FOLLOWED_STATES
    for jalon in dossier.jalons:
        report = reports.get(jalon.id)
        if report is not None:
            status = f"Atteint le {_date_fr(report.achieved_on)}"
        elif jalon.due_on < today:
            status = "En retard"
            if followed:
                flags.append(
                    Flag(
                        dossier.id,
                        "jalon_late",
                        f"{dossier.reference} : jalon n° {jalon.number} "
                        f"« {jalon.description} » en retard (prévu le {_date_fr(jalon.due_on)}).",
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
            since = f"depuis le {_date_fr(last)}" if history else f"depuis la signature ({_date_fr(last)})"
            flags.append(
                Flag(
                    dossier.id,
                    "indicator_missing",
                    f"{dossier.reference} : indicateur "
                    f"« {indicator.indicator} » sans valeur transmise {since}.",
                )
            )
        indicators.append((indicator, history))
    years = sorted(set(granted) | set(consumed) | set(getattr(dossier, "years", [])))
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
        and _add_months(signed_on, CONSUMPTION_DEADLINE_MONTHS) < today
        and not any(c.ae or c.cp for c in consumed.values())
    ):
        flags.append(
            Flag(
                dossier.id,
                "credits_not_consumed",
                f"{dossier.reference} : aucun crédit consommé "
                f"{CONSUMPTION_DEADLINE_MONTHS} mois après la signature ({_date_fr(signed_on)}).",
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
    from ..models.dossiers import Dossier

    on_agenda = set(
        db.session.scalars(
            select(AgendaItem.dossier_id)
            .join(Meeting)
            .where(
                AgendaItem.kind == ItemKind.SUIVI,
                Meeting.committee_id == committee.id,
                Meeting.state.in_([MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE, MeetingState.TENUE]),
            )
        )
    )
    flags = []
    for dossier in db.session.scalars(
        select(Dossier).where(Dossier.state.in_(FOLLOWED_STATES)).order_by(Dossier.id)
    ):
        if dossier.id in on_agenda or not dossiers.decided_by(committee, dossier):
            continue
        flags.extend(followup(dossier, today=today).flags)
    return flags


def _check_followup(dossier, actor) -> None:
    from ..permissions import can_report_followup

    if not can_report_followup(actor, dossier):
        raise NotAllowed("Seuls le porteur du dossier et le secrétariat renseignent le suivi.")
    if dossier.state not in FOLLOWED_STATES:
        raise DomainError("Le suivi se renseigne une fois le dossier conventionné.")


def _date_field(value, name: str, errors: dict, label: str) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        errors[name] = f"{label} : date attendue au format AAAA-MM-JJ."
        return None


def report_jalon(dossier, *, jalon_id, achieved_on, proof: str, actor):
    from ..models.committees import JalonReport

    _check_followup(dossier, actor)
    jalon = next((j for j in dossier.jalons if str(j.id) == str(jalon_id)), None)
    if jalon is None:
        raise ValidationFailed({"jalon": "Choisissez un jalon du dossier."})
    errors = {}
    day = _date_field(achieved_on, "achieved_on", errors, "Date d'atteinte")
    proof = _clean(proof)
    if not proof:
        errors["proof"] = "Indiquez la preuve (livrable, procès-verbal de recette, lien…)."
    elif len(proof) > 2000:
        errors["proof"] = "La preuve ne doit pas dépasser 2000 caractères."
    if day and day > _paris_today():
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


def report_indicator(dossier, *, indicator_id, reported_on, value: str, comment: str = "", actor):
    from ..models.committees import IndicatorValue

    _check_followup(dossier, actor)
    indicator = next((i for i in dossier.indicators if str(i.id) == str(indicator_id)), None)
    if indicator is None:
        raise ValidationFailed({"indicator": "Choisissez un indicateur du dossier."})
    errors = {}
    day = _date_field(reported_on, "reported_on", errors, "Date de la mesure")
    value, comment = _clean(value), _clean(comment)
    if not value:
        errors["value"] = "Indiquez la valeur mesurée."
    elif len(value) > 200:
        errors["value"] = "La valeur ne doit pas dépasser 200 caractères."
    if len(comment) > 2000:
        errors["comment"] = "Le commentaire ne doit pas dépasser 2000 caractères."
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


def report_consumption(dossier, *, year, ae, cp, actor):
    from ..models.committees import CreditConsumption

    _check_followup(dossier, actor)
    errors = {}
    year = _int_field(year, "year", errors, minimum=2000, maximum=2100, label="L'année")
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
    from . import reminders

    # credits consumed: the reminder before the 6-month clawback is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.credits"]])
    return row


def report_savings(dossier, *, year, nature: str, amount, explanation: str = "", actor):
    """Record (or correct) the savings observed in a year for one nature; a gap with the contract's forecast
    must be explained (§7 « matérialisation des économies réalisées »)."""
    from ..models.committees import SavingsReport

    _check_followup(dossier, actor)
    errors = {}
    year = _int_field(year, "year", errors, minimum=2000, maximum=2100, label="L'année")
    amount = _int_field(amount, "amount", errors, label="Le montant des économies constatées")
    nature = _clean(nature)
    forecasts = savings_forecast(dossier)
    if nature not in savings_natures(dossier, forecasts):
        errors["nature"] = "Choisissez une nature d'économies du contrat."
    explanation = _clean(explanation)
    if len(explanation) > 2000:
        errors["explanation"] = "L'explication ne doit pas dépasser 2000 caractères."
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
    from . import reminders

    # a nature reported for the year: its January reminder is no longer wanted
    reminders.reschedule_for(dossier, kinds=[reminders.KINDS["dossier.savings"]])
    return row
