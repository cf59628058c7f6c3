"""The DNUM endorsement of France Relance dossiers ([003] §1): the porteur ministry's DSI member vises the
deposited dossier before the instructeurs act; notifications through the notification centre."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, Role
from app.models.dossiers import DossierState
from app.services import dossier_endorsements as endorsements
from app.services import dossiers as service
from app.services.errors import NotAllowed, ValidationFailed
from tests.factories import complete_dossier, make_dossier, make_instructor, make_user


@pytest.fixture
def porteur(db_session):
    return make_user(Role.PORTEUR)


@pytest.fixture
def dnum(db_session):
    return make_user(Role.DSI, ministry="DINUM")  # complete_dossier's porteur organisation is DINUM


def notified(user, kind):
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ).all()


def test_france_relance_dossier_waits_for_the_dnum_visa_before_instruction(app, porteur, dnum):
    instructor = make_instructor("SNAP4")
    dossier = complete_dossier(make_dossier(porteur, "SNAP4"), porteur)
    with app.test_request_context():
        service.submit(dossier, actor=porteur)
        assert endorsements.pending(dossier)
        assert [n.subject for n in notified(dnum, "dossier.endorsement_requested")] == [
            f"Dossier {dossier.reference} à viser : {dossier.title}"
        ]
        with pytest.raises(ValidationFailed, match="attend le visa de la DNUM"):
            service.start_instruction(dossier, actor=instructor)
        with pytest.raises(NotAllowed):
            endorsements.endorse(
                dossier, decision="vise", comment="", actor=make_user(Role.DSI, ministry="MI")
            )
        with pytest.raises(ValidationFailed) as error:
            endorsements.endorse(dossier, decision="refuse", comment="", actor=dnum)
        assert "comment" in error.value.errors
        endorsements.endorse(dossier, decision="vise", comment="Porté par l'alliance.", actor=dnum)
        assert not endorsements.pending(dossier)
        assert notified(porteur, "dossier.endorsed") and notified(instructor, "dossier.endorsed")
        service.start_instruction(dossier, actor=instructor)
    assert dossier.state == DossierState.EN_INSTRUCTION


def test_ftap_dossiers_and_ministries_without_a_dsi_member_skip_the_visa(app, porteur):
    ftap = complete_dossier(make_dossier(porteur, "FTAP-DINUM-OPI"), porteur)
    snap = complete_dossier(make_dossier(porteur, "SNAP4"), porteur)
    with app.test_request_context():
        service.submit(ftap, actor=porteur)
        service.submit(snap, actor=porteur)
    assert not ftap.needs_endorsement and not endorsements.pending(ftap)
    assert snap.needs_endorsement and not endorsements.pending(snap)  # nobody to endorse it
