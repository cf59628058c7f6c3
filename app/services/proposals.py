"""Agenda proposals: one mechanism to hand a subject to a deciding committee (app/models/proposals.py).

Sources: an instructeur who gave an avis proposes the dossier (`propose_dossier`); the follow-up proposes
the late items of a funded dossier (`propose_followup`, from app/services/followup.py); the portfolio's
criblage may propose opportunities through `propose`. The secretariat accepts a proposal in one click from
the agenda builder of a meeting (app/services/meetings.py `accept_proposal`, which creates the item) or
sets it aside here. At most one open proposal per committee, subject and item kind: proposing again
updates it.
"""

from functools import cache

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, lazyload

from .. import permissions
from ..extensions import db
from ..models import Committee, Guichet, User
from ..models.base import utcnow
from ..models.committees import ItemKind
from ..models.dossiers import DossierState
from ..models.proposals import AgendaProposal, ProposalSource, ProposalState
from . import audit, dossier_notices, notifications
from .dossier_sections import clean
from .errors import NotAllowed, ValidationFailed

REASON_MAX = 5000


def deciding_committee(dossier) -> Committee | None:
    """The committee that decides on the dossier's guichet: the nearest guichet of its chain naming one, else
    a committee listing the guichet (or an ancestor) among its guichets."""
    chain: list[Guichet] = [dossier.guichet, *reversed(dossier.guichet.ancestors())]  # nearest first
    for guichet in chain:
        if guichet.committee_id:
            return db.session.get(Committee, guichet.committee_id)
    committees = (
        db.session.scalars(select(Committee).options(joinedload(Committee.guichets)).order_by(Committee.id))
        .unique()
        .all()
    )  # once, with their guichets joined (not one query per guichet of the chain and per committee)
    for guichet in chain:
        for committee in committees:
            if any(g.id == guichet.id for g in committee.guichets):
                return committee
    return None


def open_for(committee, kind: ItemKind | None = None) -> list[AgendaProposal]:
    return list(db.session.scalars(_open_for(kind), {"committee_id": committee.id}))


@cache
def _open_for(kind: ItemKind | None):
    """open_for's statement (the committee bound as `committee_id`), built once per kind: a statement keeps
    its cache key."""
    query = select(AgendaProposal).where(
        AgendaProposal.committee_id == bindparam("committee_id"),
        AgendaProposal.state == ProposalState.OUVERTE,
    )
    if kind is not None:
        query = query.where(AgendaProposal.kind == kind)
    # what the meeting page shows of them: who proposed, without that user's roles; not their committee
    # (the caller's) nor their dossier (its id suffices): joined by default, they made this statement cost
    # ten times its run on a page where it finds nothing
    shown = (
        lazyload(AgendaProposal.committee),
        lazyload(AgendaProposal.dossier),
        joinedload(AgendaProposal.proposed_by).lazyload(User.roles),
    )
    return query.options(*shown).order_by(AgendaProposal.created_at, AgendaProposal.id)


def open_proposal(dossier, kind: ItemKind = ItemKind.DOSSIER) -> AgendaProposal | None:
    if dossier.state == DossierState.BROUILLON:  # a draft is never proposed, and no state leads back to it
        return None
    if kind == ItemKind.DOSSIER:  # the dossier's own relationship, joined with it on its page
        return next(iter(dossier.open_agenda_proposals), None)
    return db.session.scalar(
        select(AgendaProposal).where(
            AgendaProposal.dossier_id == dossier.id,
            AgendaProposal.kind == kind,
            AgendaProposal.state == ProposalState.OUVERTE,
        )
    )


def propose(
    committee,
    *,
    source: ProposalSource,
    kind: ItemKind,
    title: str,
    reason: str = "",
    dossier=None,
    opportunity=None,
    flags: list | None = None,
    actor,
) -> AgendaProposal:
    """Create (or update) the open proposal of this subject for the committee, and tell the secretariat."""
    proposal = db.session.scalar(
        select(AgendaProposal).where(
            AgendaProposal.committee_id == committee.id,
            AgendaProposal.kind == kind,
            AgendaProposal.state == ProposalState.OUVERTE,
            AgendaProposal.dossier_id == getattr(dossier, "id", None)
            if dossier is not None
            else AgendaProposal.opportunity_id == getattr(opportunity, "id", None),
        )
    )
    created = proposal is None
    if not created and (proposal.title, proposal.reason, proposal.flags) == (
        title[:300],
        reason,
        list(flags or []),
    ):
        return proposal  # proposed again with nothing new: no change, no audit entry
    if created:
        proposal = AgendaProposal(
            committee_id=committee.id,
            source=source,
            kind=kind,
            dossier_id=getattr(dossier, "id", None),
            opportunity_id=getattr(opportunity, "id", None),
            proposed_by_id=getattr(actor, "id", None),
        )
        db.session.add(proposal)
    proposal.title, proposal.reason = title[:300], reason
    proposal.flags = list(flags or [])
    db.session.flush()
    audit.record(
        "agenda_proposal.created" if created else "agenda_proposal.updated",
        committee,
        actor=actor,
        summary=f"Proposé pour l'ordre du jour du {committee.code} : {proposal.title}",
    )
    if created and dossier is not None:
        body = f"{proposal.title}\n{ProposalSource(source).label}." + (f"\n{reason}" if reason else "")
        dossier_notices.tell(
            [*notifications.secretariat(), *dossier_notices.porteurs(dossier)],
            "dossier.proposed",
            dossier,
            subject=f"{dossier.reference} proposé pour l'ordre du jour du {committee.code}",
            body=body,
            endpoint="dossiers.show",
            dossier_id=dossier.id,
        )
    return proposal


def propose_dossier(dossier, *, reason: str = "", actor) -> AgendaProposal:
    """The instructeur hands the instructed dossier (avis given) to its deciding committee."""
    if not permissions.can_propose_for_agenda(actor, dossier):
        raise NotAllowed("Seuls les instructeurs du guichet proposent un dossier instruit au comité.")
    reason = clean(reason)
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": f"Le commentaire ne doit pas dépasser {REASON_MAX} caractères."})
    committee = deciding_committee(dossier)
    if committee is None:
        raise ValidationFailed({"reason": "Aucun comité ne décide sur le guichet de ce dossier."})
    avis = dossier.avis_enum.label.lower() if dossier.avis_enum else ""
    return propose(
        committee,
        source=ProposalSource.INSTRUCTEUR,
        kind=ItemKind.DOSSIER,
        title=f"Dossier {dossier.reference} — {dossier.title}",
        reason=reason or f"Avis {avis} de l'instructeur.",
        dossier=dossier,
        actor=actor,
    )


def propose_followup(dossier, *, flags: list[str], actor) -> AgendaProposal | None:
    """A follow-up review of a funded dossier with late items, for the committee that decided it."""
    committee = deciding_committee(dossier)
    if committee is None or not flags:
        return None
    return propose(
        committee,
        source=ProposalSource.SUIVI,
        kind=ItemKind.SUIVI,
        title=f"Revue de suivi — dossier {dossier.reference}",
        reason="Éléments en retard signalés par le suivi du dossier.",
        dossier=dossier,
        flags=flags,
        actor=actor,
    )


def mark_accepted(proposal: AgendaProposal, item, *, actor) -> None:
    proposal.state, proposal.item_id = ProposalState.ACCEPTEE, item.id
    proposal.decided_by_id, proposal.decided_at = getattr(actor, "id", None), utcnow()
    audit.record(
        "agenda_proposal.accepted",
        proposal.committee,
        actor=actor,
        summary=f"Proposition inscrite à l'ordre du jour : {proposal.title}",
    )


def set_aside(proposal: AgendaProposal, *, actor) -> AgendaProposal:
    if not permissions.can_plan_meeting(actor, proposal.committee):
        raise NotAllowed("Seul le secrétariat du comité écarte une proposition.")
    if proposal.state != ProposalState.OUVERTE:
        raise ValidationFailed({"proposal": "Cette proposition a déjà été traitée."})
    proposal.state = ProposalState.ECARTEE
    proposal.decided_by_id, proposal.decided_at = actor.id, utcnow()
    audit.record(
        "agenda_proposal.set_aside",
        proposal.committee,
        actor=actor,
        summary=f"Proposition écartée : {proposal.title}",
    )
    return proposal
