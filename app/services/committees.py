"""Committee services: members, rules (deliberation rules, recurrence and the meetings it generates), the
people a meeting concerns, calendar links, the reference rules of the standing bodies.

Meetings, agenda and attendance are in meetings.py; votes and decisions in decisions.py; the register in
register.py; the minutes in minutes.py. Every function takes the acting user as `actor=`, flushes, never
commits, and writes one audit entry.
"""

import re
import secrets
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..domain.recurrence import InvalidRecurrence, Recurrence, time_error
from ..extensions import db
from ..formatting import PARIS, format_number, paris_today
from ..models import Guichet, OpportunityState, Role, User, UserRole
from ..models.committees import (
    AgendaItem,
    Committee,
    MajorityRule,
    Meeting,
    MemberFunction,
    QuorumRule,
)
from ..models.portfolio import CSIC_STAGES, CSIC_TECH_STAGES
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


# Declared at import, as every other room's kinds: the preferences page and the one-click unsubscribe know
# them before the first committee mail of the process.
_declare_notification_kinds()


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
            stages.append(OpportunityState(stage).value)
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
    # CSIC-Tech validates the subjects a criblage retained for a deeper qualification; the CSIC launches
    # the qualified ones ([002] §4). Their cadences are not in the seeds.
    "CSIC-TECH": {"opportunity_stages": list(CSIC_TECH_STAGES)},
    "CSIC": {"opportunity_stages": list(CSIC_STAGES)},
    # « instance mensuelle » ([000] §5.3): first Tuesday of every month, 14:00 (Paris).
    "CINUM": {"recurrence": "FREQ=MONTHLY;BYDAY=1TU", "recurrence_time": "14:00"},
    "COPIL-HUB": {"recurrence": "FREQ=MONTHLY;BYDAY=2TH", "recurrence_time": "10:00"},
    # « au minimum trois fois par an » ([004] §4.2): every four months.
    "COPIL-DISPOSITIF": {"recurrence": "FREQ=MONTHLY;INTERVAL=4;BYDAY=2WE", "recurrence_time": "10:00"},
    "COPROJ": {"recurrence": "FREQ=WEEKLY;BYDAY=MO", "recurrence_time": "10:00", "meeting_minutes": 60},
    "CREC": {"recurrence": "FREQ=WEEKLY;BYDAY=TH", "recurrence_time": "14:00", "meeting_minutes": 60},
    # The deciding bodies of the guichets (REFERENCE_GUICHETS below): the sources give no cadence
    # ([000] §5.3, [003] en-tête), so each gets a monthly default that makes it usable out of the box (its
    # next meeting is generated); the secretariat changes it on the committee's rules page.
    "COMITE-INVEST-FTAP": {"recurrence": "FREQ=MONTHLY;BYDAY=3WE", "recurrence_time": "10:00"},
    "COPIL-SUITE": {"recurrence": "FREQ=MONTHLY;BYDAY=2TU", "recurrence_time": "10:00"},
    "COSINUM": {"recurrence": "FREQ=MONTHLY;BYDAY=4TH", "recurrence_time": "14:00"},
}
# The guichets each body decides on (with their sub-guichets): [000] §5.3, [004] §4.2. Not the COSINUM for
# France Relance: its themes' DINUM and DITP owners select the laureates ([003] §1).
REFERENCE_GUICHETS = {
    "COPIL-SUITE": ["FTAP-DINUM-OPI"],
    "COMITE-INVEST-FTAP": ["FTAP"],
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
