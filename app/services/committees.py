"""Committee services: members, rules, meetings (planned, generated, adjusted, cancelled), agenda, attendance,
votes, decisions with their effects on opportunities and dossiers, the hash-chained register, minutes.

Every function takes the acting user as `actor=`, flushes, never commits, and writes one audit entry.
"""

import hashlib
import json
import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..formatting import format_number
from ..models import Opportunity, OpportunityStatus, Role, User, UserRole
from ..models.committees import (
    OUTCOMES_BY_KIND,
    AgendaDocument,
    AgendaItem,
    Attendance,
    AttendanceStatus,
    Committee,
    Decision,
    DecisionAmount,
    DecisionMode,
    ItemKind,
    ItemVote,
    MajorityRule,
    Meeting,
    MeetingState,
    MeetingTransition,
    MemberFunction,
    Minutes,
    MinutesState,
    Outcome,
    QuorumRule,
    RegisterEntry,
    VoteChoice,
)
from . import audit
from .errors import DomainError, NotAllowed, StaleVersion, ValidationFailed
from .followup import flags_for_committee

PARIS = ZoneInfo("Europe/Paris")
GENESIS = "0" * 64
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


def _notifications():
    try:
        from . import notifications
    except ImportError:  # pragma: no cover - the notifications domain is not installed
        return None
    for name, (label, audience) in NOTIFICATION_KINDS.items():
        if name not in notifications.KINDS:
            notifications.declare_kind(name, label, audience=audience)
    return notifications


def _notify(users, kind: str, obj, *, subject: str, body: str = "", url: str | None = None) -> int:
    """Notify each distinct active user once; returns how many were notified."""
    module = _notifications()
    if module is None:
        return 0
    seen = set()
    for user in users:
        if user is None or user.id in seen or not user.active:
            continue
        seen.add(user.id)
        module.notify(user, kind, obj, subject=subject, body=body, url=url)
    return len(seen)


def meeting_path(meeting: Meeting) -> str:
    return f"/comites/seances/{meeting.id}"


# --- rules: quorum and majority -------------------------------------------------------------------------


@dataclass(frozen=True)
class Quorum:
    voting_members: int
    present: int
    represented: int
    counted: int
    required: int
    rule: QuorumRule
    proxies_count: bool

    @property
    def reached(self) -> bool:
        return self.voting_members > 0 and self.counted >= self.required

    @property
    def text(self) -> str:
        base = (
            f"{self.present} membre(s) votant(s) présent(s)"
            + (f" et {self.represented} représenté(s)" if self.represented else "")
            + f" sur {self.voting_members} ; quorum requis : {self.required}"
            + (" (mandats comptés)" if self.proxies_count else " (mandats non comptés)")
        )
        return ("Quorum atteint — " if self.reached else "Quorum non atteint — ") + base


def compute_quorum(
    rule: QuorumRule, voting_members: int, present: int, represented: int, proxies_count: bool
) -> Quorum:
    counted = present + (represented if proxies_count else 0)
    return Quorum(
        voting_members, present, represented, counted, rule.required(voting_members), rule, proxies_count
    )


@dataclass(frozen=True)
class Verdict:
    adopted: bool
    text: str


def majority_verdict(
    rule: MajorityRule,
    *,
    pour: int,
    contre: int,
    abstention: int,
    participants: int,
    casting_vote: bool = False,
    president_choice: str | None = None,
) -> Verdict:
    """Apply the committee's majority rule to a tally; `participants` = voting members present or represented.

    simple: more pour than contre (abstentions not counted); absolue: pour > participants / 2;
    deux_tiers: pour ≥ 2/3 of pour + contre. On an exact tie (pour = contre, and for the absolute rule
    pour = participants / 2) the président's vote decides when the committee gives it a casting vote.
    """
    counts = f"{pour} pour, {contre} contre, {abstention} abstention(s)"
    casting = casting_vote and president_choice in (VoteChoice.POUR, VoteChoice.CONTRE)

    def tie(condition: str) -> Verdict:
        if casting:
            adopted = president_choice == VoteChoice.POUR
            return Verdict(
                adopted,
                f"{rule.short} : {counts} — partage égal des voix ({condition}), voix "
                f"prépondérante du président ({president_choice}) : "
                + ("adopté." if adopted else "non adopté."),
            )
        return Verdict(
            False,
            f"{rule.short} : {counts} — partage égal des voix ({condition}), sans voix "
            "prépondérante : non adopté.",
        )

    if rule is MajorityRule.SIMPLE:
        if pour == contre:
            if pour == 0:
                return Verdict(False, f"{rule.short} : {counts} — aucun suffrage exprimé : non adopté.")
            return tie(f"{pour} = {contre}")
        adopted = pour > contre
        sign = ">" if adopted else "≤"
        return Verdict(
            adopted,
            f"{rule.short} : {counts} — {pour} {sign} {contre} : "
            + ("adopté." if adopted else "non adopté."),
        )
    if rule is MajorityRule.ABSOLUE:
        needed = participants // 2 + 1
        if pour == contre and pour * 2 == participants and pour > 0:
            return tie(f"{pour} = {contre} sur {participants}")
        adopted = pour >= needed
        return Verdict(
            adopted,
            f"{rule.short} : {counts} — {pour} voix pour, {needed} requises sur "
            f"{participants} membres votants présents ou représentés : "
            + ("adopté." if adopted else "non adopté."),
        )
    exprimes = pour + contre
    adopted = exprimes > 0 and 3 * pour >= 2 * exprimes
    needed = -(-2 * exprimes // 3)
    return Verdict(
        adopted,
        f"{rule.short} : {counts} — {pour} voix pour, {needed} requises sur {exprimes} "
        "suffrages exprimés : " + ("adopté." if adopted else "non adopté."),
    )


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


def function_of(user, committee: Committee) -> MemberFunction | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    for r in user.roles:
        if r.role == Role.COMITE and r.committee_id == committee.id:
            return MemberFunction(r.function or "membre")
    return None


def _function_field(function: str) -> MemberFunction:
    try:
        return MemberFunction(function)
    except ValueError:
        raise ValidationFailed({"function": "Fonction inconnue."}) from None


def add_member(committee: Committee, *, user: User, function: str, actor) -> UserRole:
    from ..permissions import can_manage_committee

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
    if function is MemberFunction.PRESIDENT and any(m.function == "president" for m in members(committee)):
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
    from ..permissions import can_manage_committee

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


# --- rules and recurrence -------------------------------------------------------------------------------

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
WEEKDAY_LABELS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
ORDINAL_LABELS = {1: "premier", 2: "deuxième", 3: "troisième", 4: "quatrième", -1: "dernier"}
RULE_PATTERN = re.compile(
    r"^FREQ=(MONTHLY|WEEKLY)(?:;INTERVAL=(\d{1,2}))?;BYDAY=(-1|[1-4])?(MO|TU|WE|TH|FR|SA|SU)$"
)
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Recurrence:
    freq: str  # MONTHLY | WEEKLY
    interval: int
    weekday: int
    ordinal: int | None  # 1..4 or -1 for monthly rules
    hour: int
    minute: int

    @classmethod
    def parse(cls, rule: str, time_text: str) -> "Recurrence":
        """Parse "FREQ=MONTHLY;BYDAY=1TU" + "14:00"; raises ValidationFailed with French messages."""
        errors = {}
        match = RULE_PATTERN.match((rule or "").strip().upper())
        if not match:
            errors["recurrence"] = (
                "Règle non reconnue : écrivez par exemple FREQ=MONTHLY;BYDAY=1TU (premier mardi "
                "du mois) ou FREQ=WEEKLY;BYDAY=WE (chaque mercredi)."
            )
        elif match.group(1) == "MONTHLY" and not match.group(3):
            errors["recurrence"] = "Une règle mensuelle précise le rang du jour : 1TU, 2TH, -1FR…"
        elif match.group(1) == "WEEKLY" and match.group(3):
            errors["recurrence"] = "Une règle hebdomadaire ne précise pas de rang : BYDAY=WE."
        elif match.group(2) and not 1 <= int(match.group(2)) <= 12:
            errors["recurrence"] = "L'intervalle doit être compris entre 1 et 12."
        time_match = TIME_PATTERN.match((time_text or "").strip())
        if not time_match:
            errors["recurrence_time"] = "Heure attendue au format HH:MM, par exemple 14:00."
        if errors:
            raise ValidationFailed(errors)
        return cls(
            match.group(1),
            int(match.group(2) or 1),
            WEEKDAYS[match.group(4)],
            int(match.group(3)) if match.group(3) else None,
            int(time_match.group(1)),
            int(time_match.group(2)),
        )

    @property
    def label(self) -> str:
        time = f"{self.hour:02d}:{self.minute:02d}"
        if self.freq == "WEEKLY":
            every = (
                "chaque" if self.interval == 1 else f"un {WEEKDAY_LABELS[self.weekday]} sur {self.interval},"
            )
            day = WEEKDAY_LABELS[self.weekday] if self.interval == 1 else ""
            return f"{every} {day} à {time}".replace("  ", " ")
        months = "de chaque mois" if self.interval == 1 else f"tous les {self.interval} mois"
        day = f"{ORDINAL_LABELS[self.ordinal]} {WEEKDAY_LABELS[self.weekday]}"
        return f"le {day} {months} à {time} (heure de Paris)"

    def dates(self, start: date, end: date) -> list[date]:
        """Occurrence dates in [start, end]."""
        found = []
        if self.freq == "WEEKLY":
            day = start + timedelta(days=(self.weekday - start.weekday()) % 7)
            while day <= end:
                if (day.toordinal() // 7) % self.interval == 0 or self.interval == 1:
                    found.append(day)
                day += timedelta(days=7)
            return found
        year, month = start.year, start.month
        while date(year, month, 1) <= end:
            if (year * 12 + month - 1) % self.interval == 0:
                day = self._nth_weekday(year, month)
                if start <= day <= end:
                    found.append(day)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found

    def _nth_weekday(self, year: int, month: int) -> date:
        if self.ordinal == -1:
            last = date(year, month, monthrange(year, month)[1])
            return last - timedelta(days=(last.weekday() - self.weekday) % 7)
        first = date(year, month, 1)
        return first + timedelta(days=(self.weekday - first.weekday()) % 7 + 7 * (self.ordinal - 1))

    def starts_at(self, day: date) -> datetime:
        """The occurrence's start in UTC (14:00 in Paris, winter or summer time)."""
        return datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=PARIS).astimezone(UTC)


def recurrence_of(committee: Committee) -> Recurrence | None:
    if not committee.recurrence:
        return None
    return Recurrence.parse(committee.recurrence, committee.recurrence_time or "")


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
    from ..models import Guichet
    from ..permissions import can_manage_committee

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
        except ValidationFailed as error:
            errors.update(error.errors)
    elif recurrence_time and not TIME_PATTERN.match(recurrence_time):
        errors["recurrence_time"] = "Heure attendue au format HH:MM, par exemple 14:00."
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


# --- meetings -------------------------------------------------------------------------------------------


def _check_meeting_fields(starts_at, duration_minutes, place: str, visio_url: str, errors: dict) -> int:
    if not isinstance(starts_at, datetime):
        errors["starts_at"] = "Indiquez la date et l'heure de la séance."
    elif starts_at.tzinfo is None:
        raise ValueError("starts_at must be aware")
    duration = _int_field(
        duration_minutes, "duration_minutes", errors, minimum=15, maximum=24 * 60, label="La durée"
    )
    if visio_url and not re.match(r"^https://\S+$", visio_url):
        errors["visio_url"] = "Le lien de visioconférence doit commencer par https://."
    if len(place) > 500:
        errors["place"] = "Le lieu ne doit pas dépasser 500 caractères."
    return duration


def plan_meeting(
    committee: Committee,
    *,
    starts_at: datetime | None,
    duration_minutes=None,
    place: str = "",
    visio_url: str = "",
    title: str = "",
    actor,
) -> Meeting:
    from ..permissions import can_plan_meeting

    if not can_plan_meeting(actor, committee):
        raise NotAllowed("Vous ne pouvez pas planifier de séance pour ce comité.")
    place, visio_url, title = _clean(place), _clean(visio_url), _clean(title)
    errors = {}
    duration = _check_meeting_fields(
        starts_at,
        duration_minutes if duration_minutes not in (None, "") else committee.meeting_minutes,
        place,
        visio_url,
        errors,
    )
    if len(title) > 200:
        errors["title"] = "Le titre ne doit pas dépasser 200 caractères."
    if errors:
        raise ValidationFailed(errors)
    meeting = Meeting(
        committee=committee,
        starts_at=starts_at,
        duration_minutes=duration,
        place=place or committee.default_place,
        visio_url=visio_url,
        title=title,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(meeting)
    audit.record("session.planned", meeting, actor=actor, summary=f"Séance planifiée : {meeting.label}")
    return meeting


def generate_meetings(
    committee: Committee, *, until: date, actor, today: date | None = None
) -> list[Meeting]:
    """Create the planned meetings of the committee's recurrence rule up to `until` (idempotent: an occurrence
    already generated — even moved or cancelled since — is never created again)."""
    from ..permissions import can_plan_meeting

    if actor is not None and not can_plan_meeting(actor, committee):
        raise NotAllowed("Vous ne pouvez pas planifier de séance pour ce comité.")
    rule = recurrence_of(committee)
    if rule is None:
        raise DomainError(f"Le comité {committee.code} n'a pas de règle de récurrence.")
    today = today or datetime.now(PARIS).date()
    known = set(
        db.session.scalars(
            select(Meeting.occurrence).where(
                Meeting.committee_id == committee.id, Meeting.occurrence.is_not(None)
            )
        )
    )
    created = []
    for day in rule.dates(today, until):
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


def update_meeting(
    meeting: Meeting,
    *,
    starts_at: datetime | None,
    duration_minutes,
    place: str,
    visio_url: str,
    title: str,
    version: int,
    actor,
) -> Meeting:
    """Adjust one meeting (date, place, link) while it is planned or its agenda published."""
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas modifier cette séance.")
    if meeting.state not in (MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE):
        raise DomainError(f"Une séance « {meeting.state_enum.label} » ne se modifie plus.")
    place, visio_url, title = _clean(place), _clean(visio_url), _clean(title)
    errors = {}
    duration = _check_meeting_fields(starts_at, duration_minutes, place, visio_url, errors)
    if errors:
        raise ValidationFailed(errors)
    if version != meeting.version:
        raise StaleVersion(meeting)
    values = {
        "starts_at": starts_at,
        "duration_minutes": duration,
        "place": place,
        "visio_url": visio_url,
        "title": title[:200],
    }
    changes = {k: [str(v[0]), str(v[1])] for k, v in audit.diff(meeting, values).items()}
    if not changes:
        return meeting
    for key, value in values.items():
        setattr(meeting, key, value)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise StaleVersion(db.session.get(Meeting, meeting.id)) from None
    audit.record(
        "session.updated", meeting, actor=actor, summary=f"Séance modifiée : {meeting.label}", changes=changes
    )
    if meeting.state == MeetingState.ODJ_PUBLIE:
        _notify(
            _meeting_audience(meeting),
            "committee.agenda_published",
            meeting,
            subject=f"Séance modifiée : {meeting.label}",
            body="La date, le lieu ou le lien de la séance a changé.",
            url=meeting_path(meeting),
        )
    return meeting


def _transition(meeting: Meeting, to: MeetingState, *, actor, reason: str | None = None) -> None:
    old = meeting.state_enum
    if to not in meeting.allowed_transitions():
        raise DomainError(f"Passage de « {old.label} » à « {to.label} » non autorisé.")
    meeting.state = to
    db.session.add(
        MeetingTransition(
            meeting=meeting, from_state=old, to_state=to, reason=reason, actor_id=getattr(actor, "id", None)
        )
    )
    audit.record(
        f"session.{_VERBS[to]}",
        meeting,
        actor=actor,
        summary=f"{meeting.label} : {old.label} → {to.label}",
        changes={"state": [old.value, to.value]},
    )


_VERBS = {
    MeetingState.ODJ_PUBLIE: "agenda_published",
    MeetingState.TENUE: "opened",
    MeetingState.PV_PUBLIE: "minutes_published",
    MeetingState.ANNULEE: "cancelled",
}


def cancel_meeting(meeting: Meeting, *, reason: str, actor) -> Meeting:
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas annuler cette séance.")
    reason = _clean(reason)
    if not reason:
        raise ValidationFailed({"reason": "Indiquez le motif de l'annulation."})
    if MeetingState.ANNULEE not in meeting.allowed_transitions():
        raise DomainError(f"Une séance « {meeting.state_enum.label} » ne peut plus être annulée.")
    was_published = meeting.state == MeetingState.ODJ_PUBLIE
    meeting.cancel_reason = reason
    _transition(meeting, MeetingState.ANNULEE, actor=actor, reason=reason)
    if was_published:
        _release_undecided_dossiers(meeting, actor=actor)
        _notify(
            _meeting_audience(meeting),
            "committee.agenda_published",
            meeting,
            subject=f"Séance annulée : {meeting.label}",
            body=f"Motif : {reason}",
            url=meeting_path(meeting),
        )
    return meeting


def _release_undecided_dossiers(meeting: Meeting, *, actor) -> None:
    """Dossiers inscribed for a meeting that is cancelled, or closed without deciding on them, go back to
    « instruit » so that they can be put on another agenda."""
    for item in meeting.items:
        if item.kind == ItemKind.DOSSIER and not item.decisions:
            dossier_bridge.remove_from_agenda(item.dossier_id, actor=actor)


def _meeting_audience(meeting: Meeting) -> list[User]:
    people = [m.user for m in members(meeting.committee)]
    return people + porteurs_concerned(meeting)


def porteurs_concerned(meeting: Meeting, item: AgendaItem | None = None) -> list[User]:
    """Porteurs of the dossiers on the agenda, and the creators of the opportunities on it."""
    people = []
    for it in [item] if item else meeting.items:
        if it.opportunity is not None and it.opportunity.created_by_id:
            people.append(db.session.get(User, it.opportunity.created_by_id))
        if it.dossier_id is not None:
            people.extend(dossier_bridge.porteurs(it.dossier_id))
    return [p for p in people if p is not None]


def publish_agenda(meeting: Meeting, *, actor) -> Meeting:
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas publier l'ordre du jour de cette séance.")
    if not meeting.items:
        raise DomainError("L'ordre du jour est vide : ajoutez au moins un point avant de le publier.")
    _transition(meeting, MeetingState.ODJ_PUBLIE, actor=actor)
    for item in meeting.items:
        # An opportunity validated by CSIC-Tech becomes "proposée CSIC" once on a published agenda.
        opportunity = item.opportunity
        if opportunity is not None and opportunity.status == OpportunityStatus.VALIDEE_CSIC_TECH:
            _change_opportunity(
                opportunity,
                OpportunityStatus.PROPOSEE_CSIC,
                actor=actor,
                reason=f"Inscrite à l'ordre du jour : {meeting.label}",
                act=meeting,
            )
        if item.kind == ItemKind.DOSSIER:
            dossier_bridge.mark_on_agenda(item.dossier_id, meeting=meeting, actor=actor)
    _notify(
        _meeting_audience(meeting),
        "committee.agenda_published",
        meeting,
        subject=f"Ordre du jour publié : {meeting.label}",
        body="\n".join(f"{i.position}. {i.title}" for i in meeting.items),
        url=meeting_path(meeting),
    )
    return meeting


def open_meeting(meeting: Meeting, *, actor) -> Meeting:
    """Hold the meeting: snapshot the members into the attendance list and open the minutes."""
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas ouvrir cette séance.")
    _transition(meeting, MeetingState.TENUE, actor=actor)
    recorded = {a.user_id for a in meeting.attendances}
    for member in members(meeting.committee):
        if member.user_id not in recorded:
            meeting.attendances.append(
                Attendance(
                    user_id=member.user_id,
                    function=member.function or "membre",
                    status=AttendanceStatus.ABSENT,
                    recorded_by_id=getattr(actor, "id", None),
                )
            )
    if meeting.minutes is None:
        meeting.minutes = Minutes()
    return meeting


# --- agenda ---------------------------------------------------------------------------------------------


def _check_agenda_editable(meeting: Meeting, actor) -> None:
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas modifier l'ordre du jour de cette séance.")
    if meeting.state != MeetingState.PLANIFIEE:
        raise DomainError(
            "L'ordre du jour est publié : il ne se modifie plus (annulez la séance ou ajoutez le "
            "point à la séance suivante)."
        )


def _next_position(meeting: Meeting) -> int:
    return (
        db.session.scalar(select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id))
        or 0
    ) + 1


def opportunity_candidates(meeting: Meeting) -> list[Opportunity]:
    """Opportunities at a stage this committee decides on, not already on one of its open agendas."""
    stages = meeting.committee.opportunity_stages or []
    if not stages:
        return []
    on_agenda = (
        select(AgendaItem.opportunity_id)
        .join(Meeting)
        .where(
            AgendaItem.opportunity_id.is_not(None),
            Meeting.state.in_([MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE, MeetingState.TENUE]),
            ~AgendaItem.decisions.any(),
        )
    )
    return list(
        db.session.scalars(
            select(Opportunity)
            .where(Opportunity.status.in_(stages), Opportunity.id.not_in(on_agenda))
            .order_by(Opportunity.number)
        )
    )


def add_item(
    meeting: Meeting,
    *,
    kind: str,
    actor,
    opportunity: Opportunity | None = None,
    dossier_id: int | None = None,
    title: str = "",
    proposal: str = "",
    followup_flags: list | None = None,
) -> AgendaItem:
    _check_agenda_editable(meeting, actor)
    try:
        kind = ItemKind(kind)
    except ValueError:
        raise ValidationFailed({"kind": "Type de point inconnu."}) from None
    title, proposal = _clean(title), _clean(proposal)
    errors = {}
    if kind is ItemKind.OPPORTUNITE:
        stages = meeting.committee.opportunity_stages or []
        if opportunity is None:
            errors["opportunity"] = "Choisissez une opportunité."
        elif opportunity.status not in stages:
            allowed = ", ".join(OpportunityStatus(s).label.lower() for s in stages) or "aucune"
            errors["opportunity"] = (
                f"{opportunity.code} est « {opportunity.status_enum.label} » : le "
                f"{meeting.committee.code} ne décide que sur les opportunités au stade : "
                f"{allowed}."
            )
        elif any(i.opportunity_id == opportunity.id for i in meeting.items):
            errors["opportunity"] = f"{opportunity.code} est déjà à l'ordre du jour de cette séance."
        else:
            title = title or f"{opportunity.code} — {opportunity.brique}"
            if not proposal:
                proposal = (
                    "Lancer le projet mutualisé"
                    if opportunity.status != OpportunityStatus.QUALIFIEE
                    else "Valider pour une qualification approfondie"
                )
    elif kind in (ItemKind.DOSSIER, ItemKind.SUIVI):
        info = dossier_bridge.describe(dossier_id) if dossier_id else None
        if info is None:
            errors["dossier"] = "Choisissez un dossier."
        elif kind is ItemKind.DOSSIER and not dossier_bridge.can_be_inscribed(info):
            errors["dossier"] = (
                f"Le dossier {info.reference} est « {info.state_label} » : seuls les dossiers "
                "instruits (ou ajournés) peuvent être inscrits à l'ordre du jour."
            )
        elif not dossier_bridge.decided_by(meeting.committee, info):
            errors["dossier"] = (
                f"Le dossier {info.reference} relève d'un guichet sur lequel le "
                f"{meeting.committee.code} ne décide pas."
            )
        elif any(i.dossier_id == dossier_id and i.kind == kind for i in meeting.items):
            errors["dossier"] = f"Le dossier {info.reference} est déjà à l'ordre du jour de cette séance."
        else:
            if kind is ItemKind.DOSSIER:
                title = title or f"Dossier {info.reference} — {info.title}"
                proposal = proposal or "Accorder le financement demandé"
            else:
                title = title or f"Revue de suivi — dossier {info.reference}"
                proposal = proposal or "Prendre acte du suivi et décider des mesures"
    elif not title:
        errors["title"] = "Donnez un intitulé au point."
    if len(title) > 300:
        errors["title"] = "L'intitulé ne doit pas dépasser 300 caractères."
    if len(proposal) > TEXT_MAX:
        errors["proposal"] = f"La proposition ne doit pas dépasser {TEXT_MAX} caractères."
    if errors:
        raise ValidationFailed(errors)
    item = AgendaItem(
        meeting=meeting,
        position=_next_position(meeting),
        kind=kind,
        title=title,
        proposal=proposal,
        opportunity=opportunity if kind is ItemKind.OPPORTUNITE else None,
        dossier_id=dossier_id if kind in (ItemKind.DOSSIER, ItemKind.SUIVI) else None,
        followup_flags=followup_flags or [],
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(item)
    audit.record("agenda_item.added", meeting, actor=actor, summary=f"Point {item.position} ajouté : {title}")
    return item


def remove_item(item: AgendaItem, *, actor) -> None:
    meeting = item.meeting
    _check_agenda_editable(meeting, actor)
    title = item.title
    meeting.items.remove(item)
    db.session.flush()
    for position, other in enumerate(sorted(meeting.items, key=lambda i: i.position), start=1):
        other.position = -position  # two passes: the (meeting, position) pair is unique
    db.session.flush()
    for other in meeting.items:
        other.position = -other.position
    audit.record("agenda_item.removed", meeting, actor=actor, summary=f"Point retiré : {title}")


def add_document(
    item: AgendaItem, *, label: str, url: str = "", stored_name: str = "", actor
) -> AgendaDocument:
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, item.meeting):
        raise NotAllowed("Vous ne pouvez pas joindre de document à ce point.")
    if item.meeting.state in (MeetingState.PV_PUBLIE, MeetingState.ANNULEE):
        raise DomainError("La séance est close : ses documents ne changent plus.")
    label, url = _clean(label), _clean(url)
    errors = {}
    if not label:
        errors["label"] = "Donnez un intitulé au document."
    elif len(label) > 200:
        errors["label"] = "L'intitulé ne doit pas dépasser 200 caractères."
    if not stored_name:
        if not url:
            errors["url"] = "Indiquez l'adresse du document ou déposez un fichier PDF."
        elif not re.match(r"^(https://\S+|/\S*)$", url) or len(url) > 500:
            errors["url"] = "L'adresse doit commencer par https:// (ou / pour une page de l'application)."
    if errors:
        raise ValidationFailed(errors)
    document = AgendaDocument(
        item=item, label=label, url=url, stored_name=stored_name, created_by_id=getattr(actor, "id", None)
    )
    db.session.add(document)
    audit.record("agenda_document.added", item.meeting, actor=actor, summary=f"Document « {label} » joint")
    return document


# --- attendance -----------------------------------------------------------------------------------------


def attendance_of(meeting: Meeting) -> dict[int, Attendance]:
    return {a.user_id: a for a in meeting.attendances}


def voters(meeting: Meeting) -> list[tuple[int, str]]:
    """(user_id, function) of the voting members: the attendance snapshot once held, else current members."""
    if meeting.state in (MeetingState.TENUE, MeetingState.PV_PUBLIE):
        rows = [(a.user_id, a.function) for a in meeting.attendances]
    else:
        rows = [(m.user_id, m.function or "membre") for m in members(meeting.committee)]
    return [(uid, f) for uid, f in rows if MemberFunction(f).votes]


def quorum(meeting: Meeting) -> Quorum:
    voting = dict(voters(meeting))
    present = represented = 0
    for a in meeting.attendances:
        if a.user_id in voting:
            if a.status == AttendanceStatus.PRESENT:
                present += 1
            elif a.status == AttendanceStatus.REPRESENTE:
                represented += 1
    committee = meeting.committee
    return compute_quorum(
        committee.quorum_enum, len(voting), present, represented, committee.proxies_count_for_quorum
    )


def record_attendance(
    meeting: Meeting, *, user: User, status: str, proxy: User | None = None, actor
) -> Attendance:
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas tenir la feuille de présence de cette séance.")
    if meeting.state not in (MeetingState.ODJ_PUBLIE, MeetingState.TENUE):
        raise DomainError(
            "La feuille de présence se tient une fois l'ordre du jour publié et jusqu'au procès-verbal."
        )
    try:
        status = AttendanceStatus(status)
    except ValueError:
        raise ValidationFailed({"status": "Statut de présence inconnu."}) from None
    attendances = attendance_of(meeting)
    current = attendances.get(user.id)
    function = function_of(user, meeting.committee)
    if function is None and current is None:
        raise ValidationFailed({"user": f"{user.full_name} n'est pas membre du {meeting.committee.code}."})
    function = function or current.function_enum
    errors = {}
    if status is AttendanceStatus.REPRESENTE:
        holder = attendances.get(proxy.id) if proxy is not None else None
        if not function.votes:
            errors["proxy"] = "Un invité n'a pas de voix délibérative : il ne peut pas donner pouvoir."
        elif proxy is None:
            errors["proxy"] = "Indiquez le membre qui détient le pouvoir."
        elif proxy.id == user.id:
            errors["proxy"] = "Un membre ne peut pas se donner pouvoir à lui-même."
        elif holder is None or holder.status != AttendanceStatus.PRESENT or not holder.function_enum.votes:
            errors["proxy"] = (
                f"{proxy.full_name} doit être un membre votant présent pour recevoir un pouvoir."
            )
        elif any(a.proxy_id == proxy.id and a.user_id != user.id for a in attendances.values()):
            errors["proxy"] = f"{proxy.full_name} détient déjà un pouvoir : un membre n'en reçoit qu'un seul."
    elif (
        current is not None
        and current.status == AttendanceStatus.PRESENT
        and status is not AttendanceStatus.PRESENT
    ):
        if any(a.proxy_id == user.id for a in attendances.values()):
            errors["status"] = (
                f"{user.full_name} détient un pouvoir : retirez d'abord le pouvoir avant de le "
                "marquer absent."
            )
    if errors:
        raise ValidationFailed(errors)
    old = current.status if current else None
    if current is None:
        current = Attendance(user_id=user.id, function=function, status=status)
        meeting.attendances.append(current)
    current.status = status
    current.proxy_id = proxy.id if status is AttendanceStatus.REPRESENTE else None
    current.recorded_by_id = getattr(actor, "id", None)
    audit.record(
        "attendance.recorded",
        meeting,
        actor=actor,
        summary=f"{user.full_name} : {status.label}"
        + (f" (pouvoir à {proxy.full_name})" if status is AttendanceStatus.REPRESENTE else ""),
        changes={"attendance": [old, status.value]},
    )
    return current


# --- votes ----------------------------------------------------------------------------------------------


def tally(item: AgendaItem) -> dict[str, int]:
    counts = dict(
        db.session.execute(
            select(ItemVote.choice, func.count(ItemVote.id))
            .where(ItemVote.item_id == item.id)
            .group_by(ItemVote.choice)
        )
        .tuples()
        .all()
    )
    return {c.value: counts.get(c.value, 0) for c in VoteChoice}


def cast_vote(item: AgendaItem, *, voter: User, choice: str, actor) -> ItemVote:
    """Record `voter`'s vote on an item: by the voter, the holder of their proxy, or whoever runs the
    meeting."""
    from ..permissions import can_run_meeting

    meeting = item.meeting
    if meeting.state != MeetingState.TENUE:
        raise DomainError("On ne vote que pendant la séance (séance ouverte).")
    if item.decisions:
        raise DomainError("Une décision est déjà enregistrée sur ce point : les votes sont clos.")
    try:
        choice = VoteChoice(choice)
    except ValueError:
        raise ValidationFailed({"choice": "Choisissez pour, contre ou abstention."}) from None
    attendance = attendance_of(meeting).get(voter.id)
    if attendance is None:
        raise NotAllowed(f"{voter.full_name} n'est pas membre du {meeting.committee.code} : vote refusé.")
    if not attendance.function_enum.votes:
        raise NotAllowed(f"{voter.full_name} est invité(e), sans voix délibérative : vote refusé.")
    if attendance.status not in (AttendanceStatus.PRESENT, AttendanceStatus.REPRESENTE):
        raise NotAllowed(f"{voter.full_name} n'est ni présent(e) ni représenté(e) : vote refusé.")
    allowed = (
        can_run_meeting(actor, meeting)
        or (actor.id == voter.id and attendance.status == AttendanceStatus.PRESENT)
        or (attendance.status == AttendanceStatus.REPRESENTE and attendance.proxy_id == actor.id)
    )
    if not allowed:
        raise NotAllowed(
            "Vous ne pouvez voter que pour vous-même ou pour le membre dont vous détenez le pouvoir."
        )
    vote = db.session.scalar(
        select(ItemVote).where(ItemVote.item_id == item.id, ItemVote.user_id == voter.id)
    )
    old = vote.choice if vote else None
    if vote is None:
        vote = ItemVote(item=item, user_id=voter.id, choice=choice, recorded_by_id=actor.id)
        db.session.add(vote)
    vote.choice, vote.recorded_by_id = choice, actor.id
    audit.record(
        "vote.cast",
        meeting,
        actor=actor,
        summary=f"Point {item.position} : vote de {voter.full_name}",
        changes={"vote": [old, choice.value]},
    )
    return vote


def verdict(item: AgendaItem) -> Verdict:
    meeting = item.meeting
    counts = tally(item)
    q = quorum(meeting)
    participants = q.present + q.represented
    president = next((a.user_id for a in meeting.attendances if a.function == MemberFunction.PRESIDENT), None)
    president_vote = (
        db.session.scalar(
            select(ItemVote.choice).where(ItemVote.item_id == item.id, ItemVote.user_id == president)
        )
        if president
        else None
    )
    return majority_verdict(
        meeting.committee.majority_enum,
        pour=counts["pour"],
        contre=counts["contre"],
        abstention=counts["abstention"],
        participants=participants,
        casting_vote=meeting.committee.casting_vote,
        president_choice=president_vote,
    )


# --- decisions ------------------------------------------------------------------------------------------


@dataclass
class AmountLine:
    year: object
    ae: object
    cp: object


def _parse_amounts(lines: list, errors: dict) -> list[tuple[int, int, int]]:
    parsed, years = [], set()
    for index, line in enumerate(lines):
        raw = [line.year, line.ae, line.cp]
        if all(str(v or "").strip() == "" for v in raw):
            continue
        year = _int_field(
            line.year, f"amounts-{index}-year", errors, minimum=2000, maximum=2100, label="L'année"
        )
        # an empty AE or CP on a filled line means 0 (e.g. CP only in a later year)
        ae = _int_field(
            line.ae if str(line.ae or "").strip() else "0",
            f"amounts-{index}-ae",
            errors,
            label="Le montant AE",
        )
        cp = _int_field(
            line.cp if str(line.cp or "").strip() else "0",
            f"amounts-{index}-cp",
            errors,
            label="Le montant CP",
        )
        if year in years:
            errors[f"amounts-{index}-year"] = f"L'année {year} figure deux fois."
        years.add(year)
        parsed.append((year, ae, cp))
    return sorted(parsed)


def _decision_fields(
    item: AgendaItem,
    *,
    outcome: str,
    motivation: str,
    conditions: str,
    expectations: str,
    amounts: list,
    confirm_above_request: bool,
) -> tuple[Outcome, dict, list]:
    errors = {}
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise ValidationFailed({"outcome": "Choisissez l'issue de la décision."}) from None
    if outcome not in OUTCOMES_BY_KIND[item.kind_enum]:
        raise ValidationFailed(
            {"outcome": f"« {outcome.label} » n'est pas une issue possible pour ce point."}
        )
    motivation, conditions, expectations = _clean(motivation), _clean(conditions), _clean(expectations)
    for name, text in (
        ("motivation", motivation),
        ("conditions", conditions),
        ("expectations", expectations),
    ):
        if len(text) > TEXT_MAX:
            errors[name] = f"Le texte ne doit pas dépasser {TEXT_MAX} caractères."
    if not motivation and not outcome.positive:
        errors["motivation"] = f"Une motivation est obligatoire pour une décision « {outcome.label} »."
    if outcome is Outcome.ACCEPTE_SOUS_CONDITIONS and not conditions:
        errors["conditions"] = "Listez les conditions de l'acceptation."
    if outcome is Outcome.AJOURNE and not expectations:
        errors["expectations"] = "Indiquez ce qui est attendu pour un nouvel examen."
    parsed = _parse_amounts(amounts or [], errors)
    if outcome in (Outcome.ACCEPTE, Outcome.ACCEPTE_SOUS_CONDITIONS) and not parsed and not errors:
        errors["amounts-0-ae"] = "Indiquez le montant accordé (AE et CP) pour au moins une année."
    if parsed and item.kind != ItemKind.DOSSIER:
        errors["amounts-0-ae"] = "Seule une décision sur un dossier accorde des montants."
    if parsed and outcome in (Outcome.AJOURNE, Outcome.REFUSE):
        errors["amounts-0-ae"] = f"Une décision « {outcome.label} » n'accorde pas de montant."
    if parsed and not errors and item.dossier_id is not None:
        requested = dossier_bridge.requested_ae(item.dossier_id)
        granted = sum(ae for _, ae, _ in parsed)
        if requested is not None and granted > requested and not confirm_above_request:
            from ..jinja import format_euros

            errors["confirm_above_request"] = (
                f"Le montant accordé ({format_euros(granted)} en AE) dépasse la demande "
                f"({format_euros(requested)}) : cochez la confirmation pour l'enregistrer."
            )
    if errors:
        raise ValidationFailed(errors)
    values = {"motivation": motivation, "conditions": conditions, "expectations": expectations}
    return outcome, values, parsed


def record_decision(
    item: AgendaItem,
    *,
    outcome: str,
    mode: str = DecisionMode.VOTE,
    motivation: str = "",
    conditions: str = "",
    expectations: str = "",
    amounts: list | None = None,
    confirm_above_request: bool = False,
    actor,
) -> Decision:
    """Record the committee's decision on an agenda item, move the item's object to its new state, append the
    decision to the register and notify the porteurs concerned."""
    from ..permissions import can_record_decision

    meeting = item.meeting
    if not can_record_decision(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas enregistrer de décision pour ce comité.")
    if meeting.state != MeetingState.TENUE:
        raise DomainError("Les décisions s'enregistrent pendant la séance (séance ouverte).")
    if item.decisions:
        raise DomainError("Une décision est déjà enregistrée sur ce point : modifiez-la ou rectifiez-la.")
    try:
        mode = DecisionMode(mode)
    except ValueError:
        raise ValidationFailed({"mode": "Choisissez vote ou consensus."}) from None
    q = quorum(meeting)
    if not q.reached:
        raise DomainError(
            f"Décision impossible : {q.text}. Attendez l'arrivée d'un membre ou ajournez le point.",
            field="quorum",
        )
    outcome, values, parsed = _decision_fields(
        item,
        outcome=outcome,
        motivation=motivation,
        conditions=conditions,
        expectations=expectations,
        amounts=amounts,
        confirm_above_request=confirm_above_request,
    )
    _check_opportunity_outcome(item, outcome)
    counts = tally(item)
    if mode is DecisionMode.VOTE:
        if sum(counts.values()) == 0:
            raise ValidationFailed(
                {
                    "mode": "Aucun vote n'est enregistré sur ce point : recueillez les votes ou "
                    "choisissez le consensus."
                }
            )
        result = verdict(item)
        if result.adopted != outcome.positive:
            raise ValidationFailed(
                {
                    "outcome": (
                        f"{result.text} L'issue « {outcome.label} » ne correspond pas au résultat du vote : "
                        "choisissez "
                        + (
                            "une issue qui adopte la proposition."
                            if result.adopted
                            else "une issue qui ne l'adopte pas."
                        )
                    )
                }
            )
        verdict_text = result.text
    else:
        if sum(counts.values()):
            raise ValidationFailed(
                {"mode": "Des votes sont enregistrés sur ce point : la décision suit le vote."}
            )
        verdict_text = f"Consensus des {q.present + q.represented} membres votants présents ou représentés."
    decision = Decision(
        item=item,
        meeting_id=meeting.id,
        committee_id=meeting.committee_id,
        outcome=outcome,
        mode=mode,
        votes_for=counts["pour"],
        votes_against=counts["contre"],
        votes_abstention=counts["abstention"],
        verdict=verdict_text,
        quorum=q.text,
        above_request_confirmed=bool(confirm_above_request and parsed),
        recorded_by_id=actor.id,
        recorded_at=datetime.now(UTC),
        **values,
    )
    decision.amounts = [DecisionAmount(year=y, ae=ae, cp=cp) for y, ae, cp in parsed]
    db.session.add(decision)
    db.session.flush()
    _apply_effects(decision, actor=actor)
    append_register(decision, "recorded")
    audit.record(
        "decision.recorded",
        decision,
        actor=actor,
        summary=f"{meeting.committee.code} — point {item.position} : {outcome.label}",
        changes={"outcome": [None, outcome.value]},
    )
    _notify(
        porteurs_concerned(meeting, item),
        "committee.decision_recorded",
        decision,
        subject=f"Décision du {meeting.committee.name} : {item.title} — {outcome.label}",
        body=decision.motivation,
        url=meeting_path(meeting),
    )
    return decision


def _check_opportunity_outcome(item: AgendaItem, outcome: Outcome) -> None:
    opportunity = item.opportunity
    if opportunity is None:
        return
    status = opportunity.status_enum
    if outcome is Outcome.VALIDEE and status is not OpportunityStatus.QUALIFIEE:
        raise ValidationFailed(
            {
                "outcome": f"{opportunity.code} est « {status.label} » : seule une opportunité "
                "qualifiée peut être validée."
            }
        )
    if outcome is Outcome.LANCEE and status not in (OpportunityStatus.PROPOSEE_CSIC,):
        raise ValidationFailed(
            {
                "outcome": f"{opportunity.code} est « {status.label} » : seule une opportunité "
                "proposée au CSIC peut être lancée."
            }
        )


OPPORTUNITY_EFFECTS = {
    Outcome.VALIDEE: OpportunityStatus.VALIDEE_CSIC_TECH,
    Outcome.LANCEE: OpportunityStatus.LANCEE,
    Outcome.RENVOYEE: OpportunityStatus.QUALIFIEE,
    Outcome.ECARTEE: OpportunityStatus.ECARTEE,
}


def _change_opportunity(
    opportunity: Opportunity, to: OpportunityStatus, *, actor, reason: str, act: Decision | Meeting
) -> None:
    from .portfolio import change_status

    if opportunity.status == to:
        return
    change_status(opportunity, to=to, actor=actor, reason=reason, committee_act=act)


def _apply_effects(decision: Decision, *, actor, previous: Decision | None = None) -> None:
    item = decision.item
    label = f"Décision du {decision.committee.code} ({decision.meeting.label})"
    if item.opportunity is not None:
        if previous is None or previous.outcome != decision.outcome:
            reason = decision.motivation or label
            _change_opportunity(
                item.opportunity,
                OPPORTUNITY_EFFECTS[decision.outcome_enum],
                actor=actor,
                reason=reason,
                act=decision,
            )
    elif item.kind == ItemKind.DOSSIER:
        dossier_bridge.apply_decision(
            item.dossier_id, decision, actor=actor, rectification=previous is not None
        )


def amend_decision(
    decision: Decision,
    *,
    motivation: str,
    conditions: str,
    expectations: str,
    amounts: list,
    confirm_above_request: bool = False,
    actor,
) -> Decision:
    """Correct a decision before its minutes are published (the outcome stays; it is in the register)."""
    from ..permissions import can_record_decision

    if not can_record_decision(actor, decision.meeting):
        raise NotAllowed("Vous ne pouvez pas modifier cette décision.")
    if decision.locked:
        raise DomainError(
            "Le procès-verbal est publié : la décision ne se modifie plus. Enregistrez une décision "
            "rectificative."
        )
    _, values, parsed = _decision_fields(
        decision.item,
        outcome=decision.outcome,
        motivation=motivation,
        conditions=conditions,
        expectations=expectations,
        amounts=amounts,
        confirm_above_request=confirm_above_request,
    )
    changes = audit.diff(decision, values)
    old_amounts = [[a.year, a.ae, a.cp] for a in decision.amounts]
    if old_amounts != [list(p) for p in parsed]:
        changes["amounts"] = [old_amounts, [list(p) for p in parsed]]
        decision.amounts = [DecisionAmount(year=y, ae=ae, cp=cp) for y, ae, cp in parsed]
    if not changes:
        return decision
    for key, value in values.items():
        setattr(decision, key, value)
    decision.above_request_confirmed = bool(confirm_above_request and parsed)
    db.session.flush()
    if "amounts" in changes and decision.item.kind == ItemKind.DOSSIER:
        dossier_bridge.apply_decision(decision.item.dossier_id, decision, actor=actor, rectification=True)
    append_register(decision, "amended")
    audit.record(
        "decision.amended",
        decision,
        actor=actor,
        summary=f"Décision n° {decision.id} modifiée",
        changes=changes,
    )
    return decision


def rectify_decision(
    decision: Decision,
    *,
    outcome: str | None = None,
    motivation: str,
    conditions: str = "",
    expectations: str = "",
    amounts: list | None = None,
    confirm_above_request: bool = False,
    actor,
) -> Decision:
    """A published decision is immutable: a correction is a new decision linked to the one it corrects."""
    from ..permissions import can_record_decision

    if not can_record_decision(actor, decision.meeting):
        raise NotAllowed("Vous ne pouvez pas rectifier cette décision.")
    if not decision.locked:
        raise DomainError("Le procès-verbal n'est pas encore publié : modifiez directement la décision.")
    if decision.rectified_by is not None:
        raise DomainError(
            f"Cette décision a déjà été rectifiée (décision n° {decision.rectified_by.id}) : "
            "rectifiez la décision rectificative."
        )
    outcome = outcome or decision.outcome
    item = decision.item
    new_outcome, values, parsed = _decision_fields(
        item,
        outcome=outcome,
        motivation=motivation,
        conditions=conditions,
        expectations=expectations,
        amounts=amounts,
        confirm_above_request=confirm_above_request,
    )
    if new_outcome.positive != decision.outcome_enum.positive:
        raise ValidationFailed(
            {
                "outcome": "Une rectification ne renverse pas le sens du vote : l'issue doit rester "
                + ("favorable." if decision.outcome_enum.positive else "défavorable.")
            }
        )
    if new_outcome != decision.outcome_enum:
        _check_opportunity_outcome(item, new_outcome)
    if not _clean(motivation):
        raise ValidationFailed(
            {"motivation": "Motivez la rectification (erreur matérielle, montant corrigé…)."}
        )
    rectification = Decision(
        item=item,
        meeting_id=decision.meeting_id,
        committee_id=decision.committee_id,
        outcome=new_outcome,
        mode=decision.mode,
        votes_for=decision.votes_for,
        votes_against=decision.votes_against,
        votes_abstention=decision.votes_abstention,
        verdict=decision.verdict,
        quorum=decision.quorum,
        rectifies_id=decision.id,
        above_request_confirmed=bool(confirm_above_request and parsed),
        locked=True,
        recorded_by_id=actor.id,
        recorded_at=datetime.now(UTC),
        **values,
    )
    rectification.amounts = [DecisionAmount(year=y, ae=ae, cp=cp) for y, ae, cp in parsed]
    db.session.add(rectification)
    db.session.flush()
    db.session.expire(item, ["decisions"])
    _apply_effects(rectification, actor=actor, previous=decision)
    append_register(rectification, "rectified")
    audit.record(
        "decision.rectified",
        rectification,
        actor=actor,
        summary=f"Décision n° {rectification.id} rectifie la décision n° {decision.id}",
        changes={"rectifies": [None, decision.id]},
    )
    _notify(
        porteurs_concerned(decision.meeting, item),
        "committee.decision_recorded",
        rectification,
        subject=f"Décision rectificative du {decision.committee.name} : {item.title}",
        body=rectification.motivation,
        url=meeting_path(decision.meeting),
    )
    return rectification


# --- register -------------------------------------------------------------------------------------------


def canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(position: int, prev_hash: str, content_hash: str) -> str:
    return sha256(f"{position}|{prev_hash}|{content_hash}")


def _lock_register() -> None:
    """Serialise appends: PostgreSQL transaction-level advisory lock (SQLite already has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(0x5245474953)))  # "REGIS"


def append_register(decision: Decision, event: str) -> RegisterEntry:
    _lock_register()
    last = db.session.scalar(select(RegisterEntry).order_by(RegisterEntry.position.desc()).limit(1))
    position = (last.position + 1) if last else 1
    prev = last.entry_hash if last else GENESIS
    payload = canonical({"event": event, **decision.content()})
    content = sha256(payload)
    entry = RegisterEntry(
        position=position,
        decision_id=decision.id,
        event=event,
        payload=payload,
        content_hash=content,
        prev_hash=prev,
        entry_hash=entry_hash(position, prev, content),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass
class RegisterCheck:
    entries: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (position, French message)
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_register() -> RegisterCheck:
    """Recompute every hash, check the chain, and compare each decision with its latest register entry."""
    check = RegisterCheck()
    prev = GENESIS
    expected_position = 1
    latest: dict[int, RegisterEntry] = {}
    for entry in db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position)):
        check.entries += 1
        if entry.position != expected_position:
            check.problems.append((entry.position, f"Entrée manquante avant la position {entry.position}."))
        expected_position = entry.position + 1
        if sha256(entry.payload) != entry.content_hash:
            check.problems.append((entry.position, "Contenu modifié : son empreinte ne correspond plus."))
        if entry.prev_hash != prev:
            check.problems.append(
                (entry.position, "Chaînage rompu : l'empreinte précédente ne correspond pas.")
            )
        if entry_hash(entry.position, entry.prev_hash, entry.content_hash) != entry.entry_hash:
            check.problems.append((entry.position, "Empreinte de l'entrée incorrecte."))
        try:
            if json.loads(entry.payload).get("decision") != entry.decision_id:
                check.problems.append((entry.position, "L'entrée ne désigne plus la même décision."))
        except ValueError:
            check.problems.append((entry.position, "Contenu illisible."))
        prev = entry.entry_hash
        latest[entry.decision_id] = entry
    check.last_hash = prev
    decisions = db.session.scalars(select(Decision).order_by(Decision.id)).all()
    for decision in decisions:
        entry = latest.get(decision.id)
        if entry is None:
            check.problems.append((0, f"La décision n° {decision.id} n'est pas inscrite au registre."))
            continue
        payload = json.loads(entry.payload)
        payload.pop("event", None)
        if canonical(payload) != canonical(decision.content()):
            check.problems.append(
                (entry.position, f"La décision n° {decision.id} a été modifiée hors registre.")
            )
    return check


# --- minutes --------------------------------------------------------------------------------------------


def save_minutes(meeting: Meeting, *, notes: str, item_notes: dict[int, str], version: int, actor) -> Minutes:
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas rédiger ce procès-verbal.")
    minutes = meeting.minutes
    if meeting.state != MeetingState.TENUE or minutes is None:
        raise DomainError("Le procès-verbal se rédige une fois la séance ouverte, jusqu'à sa publication.")
    notes = _clean(notes)
    errors = {}
    if len(notes) > TEXT_MAX * 5:
        errors["notes"] = f"Les notes ne doivent pas dépasser {TEXT_MAX * 5} caractères."
    cleaned = {}
    for item in meeting.items:
        text = _clean(item_notes.get(item.id, item.notes))
        if len(text) > TEXT_MAX:
            errors[f"item-{item.id}"] = f"Les notes du point {item.position} dépassent {TEXT_MAX} caractères."
        cleaned[item.id] = text
    if errors:
        raise ValidationFailed(errors)
    if version != minutes.version:
        raise StaleVersion(minutes)
    changed = notes != minutes.notes or any(cleaned[i.id] != i.notes for i in meeting.items)
    if not changed:
        return minutes
    minutes.notes = notes
    for item in meeting.items:
        item.notes = cleaned[item.id]
    if minutes.state == MinutesState.RELU:  # edited after review: to be reviewed again
        minutes.state, minutes.reviewed_by_id, minutes.reviewed_at = MinutesState.BROUILLON, None, None
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise StaleVersion(db.session.get(Minutes, minutes.id)) from None
    audit.record("minutes.updated", meeting, actor=actor, summary=f"Procès-verbal modifié : {meeting.label}")
    return minutes


def review_minutes(meeting: Meeting, *, actor) -> Minutes:
    from ..permissions import can_review_minutes

    if not can_review_minutes(actor, meeting):
        raise NotAllowed("La relecture revient au président du comité ou au secrétariat.")
    minutes = meeting.minutes
    if minutes is None or meeting.state != MeetingState.TENUE or minutes.state != MinutesState.BROUILLON:
        raise DomainError("Seul un procès-verbal en brouillon d'une séance tenue peut être relu.")
    minutes.state, minutes.reviewed_by_id, minutes.reviewed_at = (
        MinutesState.RELU,
        actor.id,
        datetime.now(UTC),
    )
    audit.record("minutes.reviewed", meeting, actor=actor, summary=f"Procès-verbal relu : {meeting.label}")
    return minutes


def publish_minutes(meeting: Meeting, *, actor) -> Minutes:
    """Publish the minutes: the meeting's decisions become immutable; those concerned get their extract."""
    from ..permissions import can_run_meeting

    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas publier ce procès-verbal.")
    minutes = meeting.minutes
    if minutes is None or minutes.state != MinutesState.RELU:
        raise DomainError("Le procès-verbal doit être relu avant d'être publié.")
    minutes.state, minutes.published_by_id, minutes.published_at = (
        MinutesState.PUBLIE,
        actor.id,
        datetime.now(UTC),
    )
    _transition(meeting, MeetingState.PV_PUBLIE, actor=actor)
    _release_undecided_dossiers(meeting, actor=actor)
    for item in meeting.items:
        for decision in item.decisions:
            decision.locked = True
    db.session.flush()
    _notify(
        [m.user for m in members(meeting.committee)],
        "committee.minutes_published",
        meeting,
        subject=f"Procès-verbal publié : {meeting.label}",
        url=meeting_path(meeting) + "/proces-verbal",
    )
    for item in meeting.items:
        decision = item.decision
        extract = (
            f"{item.title}\nDécision : {decision.outcome_enum.label}\n{decision.motivation}"
            if decision
            else f"{item.title}\nSans décision."
        )
        _notify(
            porteurs_concerned(meeting, item),
            "committee.minutes_published",
            meeting,
            subject=f"Extrait du procès-verbal : {item.title}",
            body=extract,
            url=meeting_path(meeting) + "/proces-verbal",
        )
    return minutes


# --- calendar -------------------------------------------------------------------------------------------


def regenerate_calendar_token(user: User, *, actor) -> str:
    import secrets

    if actor is None or actor.id != user.id:
        raise NotAllowed("Vous ne pouvez régénérer que votre propre lien d'agenda.")
    user.calendar_token = secrets.token_urlsafe(32)
    audit.record("calendar_token.regenerated", user, actor=actor, summary="Lien d'agenda régénéré")
    return user.calendar_token


# --- reference data -------------------------------------------------------------------------------------

REFERENCE_RULES = {
    # CSIC-Tech validates qualified opportunities; the CSIC launches them ([002] §4).
    # Their cadences are not in the seeds.
    "CSIC-TECH": {"opportunity_stages": ["qualifiee"]},
    "CSIC": {"opportunity_stages": ["validee_csic_tech", "proposee_csic"]},
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
    from ..models import Guichet

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


# --- dossiers bridge ------------------------------------------------------------------------------------


class _DossierBridge:
    """What committees need from the dossier domain (app/services/dossiers.py), isolated in one place.

    The dossier domain owns its states; committees only call its hooks (mark_on_agenda, apply_decision).
    """

    INSTRUIT = "instruit"

    @staticmethod
    def _service():
        try:
            from . import dossiers
        except ImportError:  # pragma: no cover - the dossier domain is not installed
            return None
        return dossiers

    @staticmethod
    def _dossier(dossier_id):
        try:
            from ..models.dossiers import Dossier
        except ImportError:  # pragma: no cover
            return None
        return db.session.get(Dossier, dossier_id) if dossier_id else None

    def available(self) -> bool:
        return self._service() is not None

    def describe(self, dossier_id):
        service = self._service()
        return service.describe(dossier_id) if service and dossier_id else None

    def can_be_inscribed(self, info) -> bool:
        """Instruit, or décidé « ajourné » (the committee examines it again)."""
        if info.state == self.INSTRUIT:
            return True
        dossier = self._dossier(info.id)
        return dossier is not None and dossier.state == "decide" and dossier.decision_outcome == "ajourne"

    def decided_by(self, committee, info) -> bool:
        service = self._service()
        return bool(service and service.decided_by(committee, info))

    def porteurs(self, dossier_id) -> list:
        service = self._service()
        return service.porteurs(dossier_id) if service else []

    def requested_ae(self, dossier_id):
        service = self._service()
        return service.requested_ae(dossier_id) if service else None

    def mark_on_agenda(self, dossier_id, *, meeting, actor) -> None:
        service = self._service()
        if service is not None:
            service.mark_on_agenda(dossier_id, meeting=meeting, actor=actor)

    def apply_decision(self, dossier_id, decision, *, actor, rectification: bool) -> None:
        service = self._service()
        if service is not None:
            service.apply_decision(dossier_id, decision, actor=actor, rectification=rectification)

    def remove_from_agenda(self, dossier_id, *, actor) -> None:
        service = self._service()
        dossier = self._dossier(dossier_id)
        if service is not None and dossier is not None and dossier.state == "inscrit_comite":
            service.remove_from_agenda(dossier, actor=actor)

    def candidates(self, meeting) -> list:
        """(dossier, label) pairs that may go on the meeting's agenda: instruits (or ajournés) of a guichet
        the committee decides on, not already on one of its open agendas."""
        service = self._service()
        if service is None:
            return []
        from ..models.dossiers import Dossier

        on_agenda = (
            select(AgendaItem.dossier_id)
            .join(Meeting)
            .where(
                AgendaItem.dossier_id.is_not(None),
                AgendaItem.kind == ItemKind.DOSSIER,
                Meeting.state.in_([MeetingState.PLANIFIEE, MeetingState.ODJ_PUBLIE, MeetingState.TENUE]),
                ~AgendaItem.decisions.any(),
            )
        )
        rows = db.session.scalars(
            select(Dossier)
            .where(
                (Dossier.state == self.INSTRUIT)
                | ((Dossier.state == "decide") & (Dossier.decision_outcome == "ajourne")),
                Dossier.id.not_in(on_agenda),
            )
            .order_by(Dossier.id)
        )
        return [
            (d, f"{d.reference} — {d.title} ({d.state_enum.label})")
            for d in rows
            if service.decided_by(meeting.committee, d)
        ]

    def documents(self, dossier_id) -> list[tuple[str, str]]:
        """(label, link) of what the committee reads: the dossier, its PDF and the instructor's avis."""
        dossier = self._dossier(dossier_id)
        if dossier is None:
            return []
        links = [
            (f"Dossier {dossier.reference} — {dossier.title}", f"/dossiers/{dossier.id}"),
            (f"Dossier {dossier.reference} (PDF)", f"/dossiers/{dossier.id}/pdf"),
        ]
        if dossier.avis:
            links.append(
                (
                    f"Avis de l'instructeur : {dossier.avis_enum.label}"
                    + (f" — {dossier.avis_motivation}" if dossier.avis_motivation else ""),
                    f"/dossiers/{dossier.id}#avis",
                )
            )
        return links

    def followup_candidates(self, meeting) -> list:
        """Follow-up flags of the funded dossiers this committee decides on, offered for its next agenda."""
        return flags_for_committee(meeting.committee) if self.available() else []


dossier_bridge = _DossierBridge()
