"""What a dossier's steps tell people: each user's e-mail preferences are respected (mandatory kinds cannot
be turned off), nothing leaves before the commit nor after a rollback, links are absolute."""

from sqlalchemy import select

from app.extensions import db
from app.models import Notification, OutboxMail
from app.services import dossier_messages, mail, notifications
from app.services import dossiers as service
from tests.factories import complete_dossier, make_dossier, make_instructor
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401


def kinds_of(user) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(Notification.user_id == user.id)))


def mailed(user) -> list[str]:
    return list(db.session.scalars(select(OutboxMail.kind).where(OutboxMail.recipient_id == user.id)))


def test_preferences_are_respected_and_mandatory_kinds_always_mailed(app, porteur, inbox):
    instructor = make_instructor("SNAP4")
    assert notifications.KINDS["dossier.receipt"].mandatory
    assert not notifications.KINDS["dossier.deposited"].mandatory
    # both turn every e-mail off: the instructor gets the deposit in the app only, the porteur the receipt
    for user in (instructor, porteur):
        notifications.set_preferences(user, {}, actor=user)
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    assert kinds_of(instructor) == ["dossier.deposited"] and mailed(instructor) == []
    assert "dossier.receipt" in kinds_of(porteur) and mailed(porteur) == ["dossier.receipt"]
    assert len(inbox) == 0  # queued, not sent: the transaction is not committed
    db.session.commit()
    mail.deliver_committed()
    (receipt,) = inbox.to(porteur.email)
    assert f"https://mutualisation.example.gouv.fr/dossiers/{dossier.id}" in body_text(receipt)
    assert "/notifications/preferences" not in body_text(receipt)  # mandatory: no opt-out link


def test_a_rolled_back_message_tells_nobody(porteur):
    instructor = make_instructor("SNAP4")
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    with db.session.begin_nested() as savepoint:
        dossier_messages.post_message(dossier, body="Bonjour", files=[], actor=porteur)
        assert "dossier.message" in kinds_of(instructor)
        savepoint.rollback()
    assert "dossier.message" not in kinds_of(instructor)
    assert "dossier.message" not in mailed(instructor)
