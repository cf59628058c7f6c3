"""Meetings of a committee (planned, updated, cancelled, agenda published, opened), their agenda (items,
documents) and attendance (with the quorum it gives).

State changes go through app/services/transitions.py `apply()`; reminders are re-planned when a meeting
moves. Every function takes the acting user as `actor=`, flushes, never commits, and writes one audit entry.
"""

import re
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm.exc import StaleDataError

from ..domain.rules import Quorum, compute_quorum
from ..extensions import db
from ..models import Opportunity, OpportunityState, User
from ..models.committees import (
    AgendaDocument,
    AgendaItem,
    Attendance,
    AttendanceStatus,
    Committee,
    Decision,
    ItemKind,
    Meeting,
    MeetingState,
    MeetingTransition,
    MemberFunction,
)
from ..models.dossiers import Avis, Dossier, DossierAssessment, DossierState
from ..models.guichets import GuichetRule, RuleKind
from ..models.minutes import Minutes
from ..models.proposals import AgendaProposal, ProposalState
from ..permissions import can_plan_meeting, can_run_meeting, function_of
from . import audit, dossiers, proposals, reminders, transitions
from .committees import (
    TEXT_MAX,
    _clean,
    _int_field,
    meeting_audience,
    meeting_path,
    members,
    notify,
)
from .errors import DomainError, NotAllowed, StaleVersion, ValidationFailed
from .followup import flags_for_committee
from .portfolio import change_state

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
    reminders.reschedule_for(meeting)
    return meeting


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
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas modifier cette séance.")
    if meeting.state not in MeetingState.EDITABLE:
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
    reminders.reschedule_for(meeting)
    if meeting.state == MeetingState.ODJ_PUBLIE:
        notify(
            meeting_audience(meeting),
            "committee.agenda_published",
            meeting,
            subject=f"Séance modifiée : {meeting.label}",
            body="La date, le lieu ou le lien de la séance a changé.",
            url=meeting_path(meeting),
        )
    return meeting


_VERBS = {
    MeetingState.ODJ_PUBLIE: "agenda_published",
    MeetingState.TENUE: "opened",
    MeetingState.PV_PUBLIE: "minutes_published",
    MeetingState.ANNULEE: "cancelled",
}


def transition(meeting: Meeting, to: MeetingState, *, actor, reason: str | None = None) -> None:
    """Move the meeting through app/services/transitions.py (table checked, log row, audit entry)."""
    transitions.apply(
        meeting,
        to,
        actor=actor,
        log=MeetingTransition,
        action=f"session.{_VERBS[to]}",
        summary=f"{meeting.label} : {meeting.state_enum.label} → {to.label}",
        reason=reason,
        meeting=meeting,
    )


def cancel_meeting(meeting: Meeting, *, reason: str, actor) -> Meeting:
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas annuler cette séance.")
    reason = _clean(reason)
    if not reason:
        raise ValidationFailed({"reason": "Indiquez le motif de l'annulation."})
    if MeetingState.ANNULEE not in meeting.allowed_transitions():
        raise DomainError(f"Une séance « {meeting.state_enum.label} » ne peut plus être annulée.")
    was_published = meeting.state == MeetingState.ODJ_PUBLIE
    meeting.cancel_reason = reason
    transition(meeting, MeetingState.ANNULEE, actor=actor, reason=reason)
    reminders.cancel_for(meeting, "Séance annulée")
    if was_published:
        release_undecided_dossiers(meeting, actor=actor)
        notify(
            meeting_audience(meeting),
            "committee.agenda_published",
            meeting,
            subject=f"Séance annulée : {meeting.label}",
            body=f"Motif : {reason}",
            url=meeting_path(meeting),
        )
    return meeting


def release_undecided_dossiers(meeting: Meeting, *, actor) -> None:
    """Dossiers inscribed for a meeting that is cancelled, or closed without deciding on them, go back to
    « instruit » so that they can be put on another agenda."""
    for item in meeting.items:
        if item.kind == ItemKind.DOSSIER and not item.decisions:
            dossier = db.session.get(Dossier, item.dossier_id)
            if dossier is not None and dossier.state == DossierState.INSCRIT_COMITE:
                dossiers.remove_from_agenda(dossier, actor=actor)


def publish_agenda(meeting: Meeting, *, actor) -> Meeting:
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas publier l'ordre du jour de cette séance.")
    if not meeting.items:
        raise DomainError("L'ordre du jour est vide : ajoutez au moins un point avant de le publier.")
    transition(meeting, MeetingState.ODJ_PUBLIE, actor=actor)
    reminders.reschedule_for(meeting)
    for item in meeting.items:
        # A qualified opportunity (« en qualification ») becomes « proposée CSIC » once on a published agenda.
        opportunity = item.opportunity
        if opportunity is not None and opportunity.state == OpportunityState.EN_QUALIFICATION:
            change_opportunity(
                opportunity,
                OpportunityState.PROPOSEE_CSIC,
                actor=actor,
                reason=f"Inscrite à l'ordre du jour : {meeting.label}",
                act=meeting,
            )
        if item.kind == ItemKind.DOSSIER:
            dossiers.mark_on_agenda(item.dossier_id, meeting=meeting, actor=actor)
    notify(
        meeting_audience(meeting),
        "committee.agenda_published",
        meeting,
        subject=f"Ordre du jour publié : {meeting.label}",
        body="\n".join(f"{i.position}. {i.title}" for i in meeting.items),
        url=meeting_path(meeting),
    )
    return meeting


def open_meeting(meeting: Meeting, *, actor) -> Meeting:
    """Hold the meeting: snapshot the members into the attendance list and open the minutes."""
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas ouvrir cette séance.")
    transition(meeting, MeetingState.TENUE, actor=actor)
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
    reminders.reschedule_for(meeting)
    return meeting


def change_opportunity(
    opportunity: Opportunity, to: OpportunityState, *, actor, reason: str, act: Decision | Meeting
) -> None:
    if opportunity.state == to:
        return
    change_state(opportunity, to=to, actor=actor, reason=reason, committee_act=act)


# --- agenda ---------------------------------------------------------------------------------------------


def _check_agenda_editable(meeting: Meeting, actor) -> None:
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
        elif opportunity.state not in stages:
            allowed = ", ".join(OpportunityState(s).label.lower() for s in stages) or "aucune"
            errors["opportunity"] = (
                f"{opportunity.code} est « {opportunity.state_enum.label} » : le "
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
                    if opportunity.state != OpportunityState.RETENUE_CRIBLAGE
                    else "Valider pour une qualification approfondie"
                )
    elif kind in (ItemKind.DOSSIER, ItemKind.SUIVI):
        info = dossiers.describe(dossier_id) if dossier_id else None
        if info is None:
            errors["dossier"] = "Choisissez un dossier."
        elif kind is ItemKind.DOSSIER and not info.schedulable:
            errors["dossier"] = (
                f"Le dossier {info.reference} est « {info.state_label} » : seuls les dossiers "
                "instruits (ou ajournés) peuvent être inscrits à l'ordre du jour."
            )
        elif not dossiers.decided_by(meeting.committee, info):
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
    if item.dossier_id is not None or item.opportunity is not None:
        db.session.flush()
        for open_ in proposals.open_for(meeting.committee, kind):
            same_dossier = item.dossier_id is not None and open_.dossier_id == item.dossier_id
            same_opportunity = item.opportunity_id is not None and open_.opportunity_id == item.opportunity_id
            if same_dossier or same_opportunity:
                proposals.mark_accepted(open_, item, actor=actor)
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
    if not can_run_meeting(actor, item.meeting):
        raise NotAllowed("Vous ne pouvez pas joindre de document à ce point.")
    if item.meeting.state in MeetingState.CLOSED:
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


def dossier_documents(dossier_id: int | None) -> list[tuple[str, str]]:
    """(label, link) of what the committee reads: the dossier, its PDF and the instructor's avis."""
    return dossier_documents_of([dossier_id] if dossier_id else []).get(dossier_id, [])


def dossier_documents_of(dossier_ids) -> dict[int, list[tuple[str, str]]]:
    """dossier_documents of each dossier, in one statement: the dossier's title and avis, with each of its
    assessments on a criterion of its guichet's selection grid (in the grid's order)."""
    if not dossier_ids:
        return {}
    rows = db.session.execute(_documents_statement(), {"ids": sorted(set(dossier_ids))}).all()
    found: dict[int, tuple] = {}
    scored: dict[int, list[str]] = {}
    for id_, title, avis, motivation, rule, score in rows:
        found[id_] = (title, avis, motivation)
        if rule is not None:
            scored.setdefault(id_, []).append(f"{rule[:60]} : {DossierAssessment.label_of(score)}")
    return {id_: _documents(id_, *found[id_], scored.get(id_, [])) for id_ in found}


@cache
def _documents_statement():
    """dossier_documents_of's rows for the dossiers bound as `ids`, built once (a statement keeps its cache
    key)."""
    return (
        select(
            Dossier.id,
            Dossier.title,
            Dossier.avis,
            Dossier.avis_motivation,
            GuichetRule.label,
            DossierAssessment.score,
        )
        .outerjoin(DossierAssessment, DossierAssessment.dossier_id == Dossier.id)
        .outerjoin(
            GuichetRule,
            (GuichetRule.id == DossierAssessment.rule_id)
            & (GuichetRule.guichet_id == Dossier.guichet_id)
            & (GuichetRule.kind == RuleKind.CRITERION),
        )
        .where(Dossier.id.in_(bindparam("ids", expanding=True)))
        .order_by(Dossier.id, GuichetRule.position, GuichetRule.id)
    )


def _documents(id_: int, title: str, avis: str | None, motivation: str, scored: list[str]) -> list:
    reference = Dossier.reference_of(id_)
    links = [
        (f"Dossier {reference} — {title}", f"/dossiers/{id_}"),
        (f"Dossier {reference} (PDF)", f"/dossiers/{id_}/pdf"),
    ]
    if avis:
        links.append(
            (
                f"Avis de l'instructeur : {Avis(avis).label}" + (f" — {motivation}" if motivation else ""),
                f"/dossiers/{id_}#avis",
            )
        )
    if scored:
        links.append(("Grille de sélection : " + " ; ".join(scored), f"/dossiers/{id_}#instruction"))
    return links


def followup_candidates(meeting: Meeting, open_proposals: list[AgendaProposal] | None = None) -> list:
    """Follow-up flags of the funded dossiers this committee decides on, offered for its next agenda (those
    already proposed are listed with the proposals). `open_proposals`: proposal_candidates(meeting), when
    the caller has them."""
    if open_proposals is None:
        open_proposals = proposals.open_for(meeting.committee, ItemKind.SUIVI)
    proposed = {p.dossier_id for p in open_proposals if p.kind == ItemKind.SUIVI}
    return [f for f in flags_for_committee(meeting.committee) if f.dossier_id not in proposed]


def proposal_candidates(meeting: Meeting) -> list[AgendaProposal]:
    """Open proposals for this meeting's committee (instructeurs, follow-up, criblage), oldest first."""
    return proposals.open_for(meeting.committee)


def accept_proposal(meeting: Meeting, proposal: AgendaProposal, *, actor) -> AgendaItem:
    """One click: the proposal becomes an item of the meeting's agenda (add_item marks it accepted, as it
    does when the secretariat adds the same dossier by hand)."""
    if proposal.committee_id != meeting.committee_id or proposal.state != ProposalState.OUVERTE:
        raise ValidationFailed({"proposal": "Cette proposition n'est plus ouverte pour ce comité."})
    item = add_item(
        meeting,
        kind=proposal.kind,
        actor=actor,
        opportunity=db.session.get(Opportunity, proposal.opportunity_id) if proposal.opportunity_id else None,
        dossier_id=proposal.dossier_id,
        proposal="",
        followup_flags=proposal.flags if proposal.kind == ItemKind.SUIVI else None,
    )
    return item


# --- attendance -----------------------------------------------------------------------------------------


def attendance_of(meeting: Meeting) -> dict[int, Attendance]:
    return {a.user_id: a for a in meeting.attendances}


def voters(meeting: Meeting) -> list[tuple[int, str]]:
    """(user_id, function) of the voting members: the attendance snapshot once held, else current members."""
    if meeting.state in MeetingState.HELD:
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


def mark_all_present(meeting: Meeting, *, actor) -> list[Attendance]:
    """« Tous présents », then the exceptions row by row (issue 19, set-up at scale): every member whose
    presence is not recorded yet, or recorded absent, is marked present; the excused and the represented keep
    their status (they are the exceptions already told). Returns the rows changed."""
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas tenir la feuille de présence de cette séance.")
    recorded = attendance_of(meeting)
    users = [m.user for m in members(meeting.committee)]
    users += [a.user for a in meeting.attendances if a.user_id not in {u.id for u in users}]
    changed = []
    for user in users:
        current = recorded.get(user.id)
        if current is None or current.status == AttendanceStatus.ABSENT:
            changed.append(
                record_attendance(meeting, user=user, status=AttendanceStatus.PRESENT, actor=actor)
            )
    return changed


def record_attendance(
    meeting: Meeting, *, user: User, status: str, proxy: User | None = None, actor
) -> Attendance:
    if not can_run_meeting(actor, meeting):
        raise NotAllowed("Vous ne pouvez pas tenir la feuille de présence de cette séance.")
    if meeting.state not in MeetingState.IN_SESSION:
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
