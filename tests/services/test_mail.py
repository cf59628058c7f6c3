"""E-mail: rendering, the outbox (sent only after commit, nothing after a rollback), real SMTP delivery.

The SMTP server is a real aiosmtpd server on 127.0.0.1 in the test process (the mail catcher's handler);
the fixtures here are reused by the other reminder/notification tests.
"""

import re
import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, OutboxMail, Role
from app.services import mail, notifications
from scripts.mailcatcher import SQLiteStore

NOW = datetime(2027, 3, 10, 8, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """The messages received by the test SMTP server, parsed."""

    def __init__(self, store: SQLiteStore):
        self.store = store

    def messages(self):
        return [message_from_bytes(m["raw"], policy=default_policy) for m in self.store.messages()]

    def to(self, address: str):
        return [m for m in self.messages() if address in m["To"]]

    def __len__(self):
        return len(self.store.messages())


@pytest.fixture(scope="session", name="smtp_server")
def smtp_server_fixture(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("smtp") / "inbox.sqlite3")
    controller = Controller(store, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def _point_at(application, controller):
    saved = {
        k: application.config[k] for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "SMTP_USER", "BASE_URL")
    }
    application.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        SMTP_STARTTLS=False,
        SMTP_USER="",
        BASE_URL="https://mutualisation.example.gouv.fr",
    )
    return saved


@pytest.fixture(name="inbox")
def inbox_fixture(app, smtp_server):
    """A clean inbox on a real SMTP server, with the app pointed at it."""
    store = smtp_server.handler
    store.clear()
    store.refuse_recipients.clear()
    store.fail_data = None
    saved = _point_at(app, smtp_server)
    yield Inbox(store)
    try:
        for received in store.messages():  # every mail any test sent: what a mail client would meet
            check_message(received["raw"], app.config["BASE_URL"])
    finally:
        app.config.update(saved)
        store.refuse_recipients.clear()
        store.fail_data = None


@pytest.fixture(name="live_inbox")
def live_inbox_fixture(live_app, smtp_server):
    store = smtp_server.handler
    store.clear()
    store.refuse_recipients.clear()
    store.fail_data = None
    saved = _point_at(live_app, smtp_server)
    yield Inbox(store)
    live_app.config.update(saved)


# A path that a mail client cannot follow: « Voir : /comites/seances/70 », href="/…", href="comites/…".
RELATIVE_IN_TEXT = re.compile(r"(?:^|[\s:(«])(/[a-z][\w\-/.?=&#%]*)", re.M)
HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.I)


def check_message(raw: bytes, base_url: str):
    """Parse as RFC 5322 strictly (a defect raises) and check what a mail client shows or follows."""
    message = BytesParser(policy=policy.strict).parsebytes(raw)
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None, message["Date"]
    host = base_url.split("//", 1)[1].split("/", 1)[0].split(":")[0]
    # our own domain: BASE_URL's host, or the sender's domain when BASE_URL is an address (a test server)
    sender = message["From"].addresses[0].domain
    own = rf"(?:{re.escape(host)}|{re.escape(sender)})"
    assert re.fullmatch(rf"<[^@<>]+@{own}>", message["Message-ID"].strip()), message["Message-ID"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert not RELATIVE_IN_TEXT.findall(text), (message["Subject"], RELATIVE_IN_TEXT.findall(text))
    html = message.get_body(preferencelist=("html",))
    for href in HREF.findall(html.get_content() if html else ""):
        assert href.startswith(("https://", "http://", "mailto:")), (message["Subject"], href)
    return message


def body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def body_html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --- rendering ---------------------------------------------------------------------------------------------


def test_render_gives_subject_text_and_html_with_absolute_links(app, db_session, make_user, inbox):
    user = make_user(Role.PORTEUR, given_name="Alice", usual_name="Martin")
    url = mail.link("notifications.index")
    subject, text, html = mail.render(
        "notification", subject="Un message", body="Premier.\n\nSecond.", url=url, user=user
    )
    assert subject == "Un message"
    assert url == "https://mutualisation.example.gouv.fr/notifications"
    assert "Bonjour Alice Martin" in text and url in text and "Subject:" not in text
    assert f'<a href="{url}">' in html and "<p>Second.</p>" in html


def test_send_delivers_text_html_and_attachment_over_smtp(app, db_session, inbox):
    message = mail.build_message(
        "Alice <alice@example.gouv.fr>",
        "Objet é",
        "texte",
        "<p>html</p>",
        [mail.Attachment("seance.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")],
    )
    mail.send(message)
    [received] = inbox.to("alice@example.gouv.fr")
    assert received["Subject"] == "Objet é"
    assert received["From"] == app.config["MAIL_FROM"]
    assert body_text(received).strip() == "texte"
    assert "<p>html</p>" in body_html(received)
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "seance.ics" and attachment.get_content_type() == "text/calendar"


def test_invalid_address_is_a_permanent_error_and_refusal_too(app, db_session, inbox):
    with pytest.raises(mail.MailError) as error:
        mail.send(mail.build_message("pas-une-adresse", "x", "y"))
    assert error.value.permanent
    inbox.store.refuse_recipients["inconnu@example.gouv.fr"] = "550 5.1.1 Utilisateur inconnu"
    with pytest.raises(mail.MailError) as error:
        mail.send(mail.build_message("inconnu@example.gouv.fr", "x", "y"))
    assert error.value.permanent and "550" in str(error.value)
    assert len(inbox) == 0


def test_server_down_or_busy_is_transient(app, db_session, inbox):
    inbox.store.fail_data = "451 4.3.0 Réessayez plus tard"
    with pytest.raises(mail.MailError) as error:
        mail.send(mail.build_message("a@example.gouv.fr", "x", "y"))
    assert not error.value.permanent
    app.config["SMTP_PORT"] = free_port()  # nobody listens there
    with pytest.raises(mail.MailError) as error:
        mail.send(mail.build_message("a@example.gouv.fr", "x", "y"))
    assert not error.value.permanent and "injoignable" in str(error.value)


# --- outbox: after commit only ------------------------------------------------------------------------------


def test_notify_queues_mail_sent_only_after_commit(app, db_session, make_user, inbox):
    user = make_user(Role.PORTEUR, email="porteur@example.gouv.fr")
    notifications.notify(user, "mail.delivery_failed", None, subject="Votre dossier", body="Texte du message")
    db.session.flush()
    assert mail.deliver_committed(NOW) == 0  # not committed yet: nothing released
    assert len(inbox) == 0
    db.session.commit()
    assert mail.deliver_committed(NOW) == 1
    [received] = inbox.to("porteur@example.gouv.fr")
    assert received["Subject"] == "Votre dossier" and "Texte du message" in body_text(received)
    outbox = db.session.scalar(select(OutboxMail).where(OutboxMail.recipient_id == user.id))
    assert outbox.status == "sent" and outbox.sent_at == NOW
    assert mail.deliver_outbox(NOW) == 0  # nothing sent twice
    assert len(inbox) == 1


def test_rollback_sends_nothing(app, db_session, make_user, inbox):
    user = make_user(Role.PORTEUR, email="annule@example.gouv.fr")
    notifications.notify(user, "mail.delivery_failed", None, subject="Ne doit pas partir")
    db.session.flush()
    db.session.rollback()
    assert mail.deliver_committed(NOW) == 0
    assert mail.deliver_outbox(NOW) == 0
    assert len(inbox) == 0
    assert (
        db.session.scalar(select(func.count(OutboxMail.id)).where(OutboxMail.subject == "Ne doit pas partir"))
        == 0
    )
    assert (
        db.session.scalar(
            select(func.count(Notification.id)).where(Notification.subject == "Ne doit pas partir")
        )
        == 0
    )


def test_outbox_retries_with_backoff_then_delivers(app, db_session, make_user, inbox):
    user = make_user(Role.PORTEUR, email="patient@example.gouv.fr")
    inbox.store.fail_data = "451 4.3.0 Réessayez plus tard"
    notifications.notify(user, "mail.delivery_failed", None, subject="Patience")
    db.session.commit()
    assert mail.deliver_committed(NOW) == 0
    outbox = db.session.scalar(select(OutboxMail).where(OutboxMail.recipient_id == user.id))
    assert (outbox.status, outbox.attempts) == ("pending", 1)
    assert outbox.next_attempt_at == NOW + timedelta(minutes=1) and "451" in outbox.last_error
    inbox.store.fail_data = None
    assert mail.deliver_outbox(NOW + timedelta(seconds=30)) == 0  # backoff not elapsed
    assert mail.deliver_outbox(NOW + timedelta(minutes=2)) == 1
    db.session.refresh(outbox)
    assert outbox.status == "sent" and len(inbox.to("patient@example.gouv.fr")) == 1


def test_email_preference_off_keeps_the_in_app_notification(app, db_session, make_user, inbox):
    user = make_user(Role.PORTEUR, email="discret@example.gouv.fr")
    notifications.set_preferences(user, {"mail.delivery_failed": False}, actor=user)
    notifications.notify(user, "mail.delivery_failed", None, subject="Seulement dans l'application")
    db.session.commit()
    mail.deliver_committed(NOW)
    assert len(inbox) == 0
    assert notifications.unread_count(user) == 1
