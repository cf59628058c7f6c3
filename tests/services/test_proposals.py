"""Agenda proposals: the follow-up job proposes the late items of funded dossiers once (idempotent), the
proposal is accepted when the item is added to an agenda, and the job does not propose it again while the
review is on an open agenda."""

from datetime import timedelta

from sqlalchemy import func, select

from app import jobs
from app.extensions import db
from app.formatting import paris_today
from app.models import AuditEntry
from app.models.dossiers import Jalon
from app.models.proposals import AgendaProposal, ProposalState
from app.services import followup
from app.services import meetings as meeting_service
from tests.factories import make_committee_meeting, make_instructed_dossier, make_user


def _open():
    return db.session.scalars(
        select(AgendaProposal)
        .where(AgendaProposal.state == ProposalState.OUVERTE)
        .order_by(AgendaProposal.id)
    ).all()


def test_late_items_job_proposes_once_and_stops_once_on_an_agenda(db_session):
    jobs.register_domain_jobs()
    assert "followup.propose_late_items" in jobs.JOBS
    porteur, secretariat = make_user("porteur"), make_user("secretariat")
    dossier = make_instructed_dossier(porteur, state="en_suivi", decision_outcome="accepte")
    dossier.jalons = [Jalon(number=1, due_on=paris_today() - timedelta(days=4), description="Recette")]
    db.session.commit()
    followup.propose_late_items()
    db.session.commit()
    proposals = _open()
    assert proposals and all(p.dossier_id == dossier.id and p.kind == "suivi" for p in proposals)
    assert any("jalon n° 1 « Recette » en retard" in flag for flag in proposals[0].flags)
    audits = db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action.like("agenda_proposal.%"))
    )
    followup.propose_late_items()  # nothing new: no second proposal, no audit entry
    db.session.commit()
    assert [p.id for p in _open()] == [p.id for p in proposals]
    assert audits == db.session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.action.like("agenda_proposal.%"))
    )
    first = proposals[0]
    meeting = make_committee_meeting(first.committee.code)
    item = meeting_service.accept_proposal(meeting, first, actor=secretariat)
    db.session.commit()
    assert first.state == ProposalState.ACCEPTEE and first.item_id == item.id
    assert item.followup_flags == first.flags
    followup.propose_late_items()
    db.session.commit()
    assert first.committee_id not in {p.committee_id for p in _open()}
