"""The signed-in home page (/): what awaits the user, by role, their next sessions and latest notifications.

Each item says what to do, where, and by when (a vote's closing date, a dossier's age). The votes, dossiers to
instruct and complements come from `dashboard.pending_actions` so « Tableau de bord » and the home agree.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import url_for
from sqlalchemy import func, select

from .. import permissions
from ..extensions import db
from ..formatting import format_date, in_days, paris_today
from ..models import Committee, Dossier, DossierState, Jalon, Meeting, Notification
from ..models.base import utcnow
from ..models.committees import MeetingState
from ..models.followup import JalonReport
from ..models.proposals import AgendaProposal, ProposalState
from . import dashboard

REPORT_HORIZON_DAYS = 30  # jalons due within this many days (or overdue) are listed as reports to make
# What a porteur is asked to do, by dossier state (states not listed ask nothing of them).
_ASKED = {
    DossierState.BROUILLON: "À compléter puis déposer",
    DossierState.COMPLEMENTS_DEMANDES: "Compléments demandés : répondre à l'instructeur",
}


@dataclass
class HomeGroup:
    """One heading of « Ce qui m'attend » and its items."""

    key: str
    title: str
    items: list = field(default_factory=list)


def _days_since(moment) -> int:
    return (paris_today() - paris_today(moment)).days if moment else 0


def _votes(user) -> list[dashboard.PendingAction]:
    out = []
    for item in dashboard.pending_actions(user):
        if item.label.startswith("Voter"):
            out.append(item)
    return out


def _my_dossiers(user) -> list[dashboard.PendingAction]:
    dossiers = db.session.scalars(
        permissions.porteur_side_dossiers(user)
        .where(Dossier.state.notin_((DossierState.CLOS, DossierState.RETIRE, DossierState.CLASSE_SANS_SUITE)))
        .order_by(Dossier.id.desc())
        .limit(20)
    ).all()
    items = []
    for d in dossiers:
        state = DossierState(d.state)
        asked = _ASKED.get(state)
        detail = state.label + (f" — {asked}" if asked else "")
        items.append(dashboard.PendingAction(d.title, url_for("dossiers.show", dossier_id=d.id), detail))
    # what is asked first
    return sorted(items, key=lambda i: "—" not in i.detail)


def _to_instruct(user) -> list[dashboard.PendingAction]:
    guichets = permissions.instructed_guichet_ids(user)
    if not guichets:
        return []
    dossiers = db.session.scalars(
        select(Dossier)
        .where(
            Dossier.guichet_id.in_(guichets),
            Dossier.state.in_((DossierState.DEPOSE, DossierState.EN_INSTRUCTION)),
        )
        .order_by(Dossier.submitted_at, Dossier.id)
    ).all()
    return [
        dashboard.PendingAction(
            f"Instruire : {d.title}",
            url_for("dossiers.show", dossier_id=d.id),
            f"{DossierState(d.state).label}, déposé {in_days(-_days_since(d.submitted_at))}",
        )
        for d in dossiers
    ]


def _secretariat(user) -> list[dashboard.PendingAction]:
    if not permissions.is_secretariat(user):
        return []
    items = []
    for meeting in db.session.scalars(
        select(Meeting)
        .where(Meeting.state == MeetingState.PLANIFIEE, Meeting.starts_at >= utcnow())
        .order_by(Meeting.starts_at)
        .limit(10)
    ):
        items.append(
            dashboard.PendingAction(
                f"Publier l'ordre du jour : {meeting.committee.code} du {format_date(meeting.starts_at)}",
                url_for("committees.meeting", meeting_id=meeting.id),
                f"séance {in_days((paris_today(meeting.starts_at) - paris_today()).days)}",
            )
        )
    for committee, count in db.session.execute(
        select(Committee, func.count(AgendaProposal.id))
        .join(AgendaProposal, AgendaProposal.committee_id == Committee.id)
        .where(AgendaProposal.state == ProposalState.OUVERTE)
        .group_by(Committee.id)
        .order_by(Committee.code)
    ):
        items.append(
            dashboard.PendingAction(
                f"Examiner les propositions d'inscription : {committee.code}",
                url_for("committees.show", code=committee.code),
                f"{count} proposition{'s' if count > 1 else ''} à examiner",
            )
        )
    return items


def _reports_due(user) -> list[dashboard.PendingAction]:
    horizon = paris_today() + timedelta(days=REPORT_HORIZON_DAYS)
    rows = db.session.execute(
        select(Jalon, Dossier)
        .join(Dossier, Dossier.id == Jalon.dossier_id)
        .where(
            Dossier.id.in_(permissions.porteur_side_dossiers(user).with_only_columns(Dossier.id)),
            Dossier.state.in_(tuple(DossierState.FOLLOWED)),
            Jalon.due_on <= horizon,
            Jalon.id.notin_(select(JalonReport.jalon_id)),
        )
        .order_by(Jalon.due_on)
    ).all()
    return [
        dashboard.PendingAction(
            f"Déclarer le jalon {j.number} : {d.title}",
            url_for("dossiers.show", dossier_id=d.id),
            f"attendu le {format_date(j.due_on)} ({in_days((j.due_on - paris_today()).days)})",
        )
        for j, d in rows
    ]


def awaiting(user) -> list[HomeGroup]:
    """The non-empty groups of « Ce qui m'attend », in the order a user acts on them."""
    groups = [
        HomeGroup("votes", "Votes à exprimer", _votes(user)),
        HomeGroup("instruction", "Dossiers à instruire", _to_instruct(user)),
        HomeGroup("secretariat", "Secrétariat des comités", _secretariat(user)),
        HomeGroup("reports", "Rapports de suivi attendus", _reports_due(user)),
        HomeGroup("dossiers", "Mes dossiers", _my_dossiers(user)),
    ]
    return [g for g in groups if g.items]


def recent_notifications(user, limit: int = 5) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def home_context(user) -> dict:
    return {
        "groups": awaiting(user),
        "sessions": dashboard.upcoming_sessions(user),
        "notifications": recent_notifications(user),
    }
