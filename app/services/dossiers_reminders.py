"""The reminder kinds of dossiers and guichets, registered with the reminder engine at import.

- "dossier.complements" (J+7): compléments requested and still unanswered, to the porteur (creator and
  référents with an account), copy to the instructor who asked.
- "guichet.closing" (J-7): an appel à projets closes and a porteur still has a draft on it.

`services/dossiers.py` calls `reminders.reschedule_for(dossier)` on each transition (and re-plans the
guichet when a draft leaves the draft state); `services/guichets.py` re-plans a guichet whose calendar
changed. The follow-up kinds of a funded dossier are in `followup_reminders.py`.
"""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..formatting import format_datetime, plural
from ..models.dossiers import Dossier, DossierState
from ..models.guichets import Guichet, GuichetMode
from ..models.users import User
from . import reminders
from .reminders import Planned, ReminderKind

PORTEURS = "Porteur du dossier et référents ayant un compte"


def dossier_url(dossier: Dossier) -> str:
    return reminders.base_url() + f"/dossiers/{dossier.id}"


def dossier_porteurs(dossier: Dossier) -> list[User]:
    """The dossier's creator and the référents who have an account; each once, active only."""
    emails = {r.email.lower() for r in dossier.referents}
    people = [dossier.created_by]
    if emails:
        people += db.session.scalars(select(User).where(User.email.in_(emails)).order_by(User.id)).all()
    seen, result = set(), []
    for person in people:
        if person is not None and person.active and person.id not in seen:
            seen.add(person.id)
            result.append(person)
    return result


def dossiers_in(states):
    """Candidates of a dossier kind: the dossiers in `states` (for the periodic re-planning)."""

    def candidates(now):
        return db.session.scalars(select(Dossier).where(Dossier.state.in_(states))).all()

    return candidates


# --- compléments unanswered ---------------------------------------------------------------------------------


def _complements_plan(dossier: Dossier, offset_days: int):
    request = dossier.open_request
    if dossier.state != DossierState.COMPLEMENTS_DEMANDES or request is None:
        return []
    due = reminders.days_after(request.created_at, offset_days)
    people = dossier_porteurs(dossier)
    if request.requested_by is not None and request.requested_by.active:
        people = people + [request.requested_by]
    return [Planned(user, due, request.created_at) for user in people]


def _complements_context(dossier: Dossier, recipient, reminder, now):
    request = dossier.open_request
    days = (reminders.paris_date(now) - reminders.paris_date(request.created_at)).days if request else 0
    return dict(
        dossier=dossier,
        request=request,
        url=dossier_url(dossier),
        as_instructor=request is not None and request.requested_by_id == recipient.id,
        days=days,
        since=plural(days, "jour"),  # « 1 jour », « 7 jours »
        summary=f"{dossier.reference} : compléments demandés le "
        f"{format_datetime(request.created_at, False)}, toujours sans réponse."
        if request
        else "",
    )


COMPLEMENTS = reminders.register(
    ReminderKind(
        name="dossier.complements",
        label="Compléments demandés restés sans réponse",
        model=Dossier,
        template="dossier_complements",
        default_offset_days=7,
        offset_help="jours après la demande",
        plan=_complements_plan,
        context=_complements_context,
        candidates=dossiers_in([DossierState.COMPLEMENTS_DEMANDES]),
        audience=PORTEURS + " ; copie à l'instructeur qui a fait la demande",
    )
)


# --- appel à projets closing with drafts --------------------------------------------------------------------


def _drafts(guichet: Guichet, *where) -> list[Dossier]:
    return db.session.scalars(
        select(Dossier)
        .where(Dossier.guichet_id == guichet.id, Dossier.state == DossierState.BROUILLON, *where)
        .order_by(Dossier.id)
    ).all()


def _guichet_closing_plan(guichet: Guichet, offset_days: int):
    if guichet.mode != GuichetMode.APPEL_A_PROJETS or guichet.closes_at is None:
        return []
    due = reminders.days_before(guichet.closes_at, offset_days)
    seen, planned = set(), []
    for dossier in _drafts(guichet):
        user = dossier.created_by
        if user is not None and user.active and user.id not in seen:
            seen.add(user.id)
            planned.append(Planned(user, due, guichet.closes_at))
    return planned


def _guichet_closing_context(guichet: Guichet, recipient, reminder, now):
    drafts = _drafts(guichet, Dossier.created_by_id == recipient.id)
    return dict(
        guichet=guichet,
        drafts=[(d, dossier_url(d)) for d in drafts],
        url=dossier_url(drafts[0]) if drafts else reminders.base_url(),
        summary=f"L'appel à projets {guichet.code} se clôt le {format_datetime(guichet.closes_at)} ; "
        f"{plural(len(drafts), 'brouillon non déposé', 'brouillons non déposés')}.",
    )


def _guichet_candidates(now):
    return db.session.scalars(
        select(Guichet).where(Guichet.mode == GuichetMode.APPEL_A_PROJETS, Guichet.closes_at > now)
    ).all()


GUICHET_CLOSING = reminders.register(
    ReminderKind(
        name="guichet.closing",
        label="Clôture prochaine d'un appel à projets (brouillon non déposé)",
        model=Guichet,
        template="guichet_closing",
        default_offset_days=7,
        offset_help="jours avant la clôture",
        plan=_guichet_closing_plan,
        context=_guichet_closing_context,
        deadline=lambda guichet: guichet.closes_at,
        candidates=_guichet_candidates,
        audience="Porteurs ayant un brouillon sur l'appel à projets",
    )
)
