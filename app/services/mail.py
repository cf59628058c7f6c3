"""E-mail: rendering from templates, the outbox (queued in the transaction, sent after the commit) and SMTP.

- `render(name, **context)` → (subject, text, html) from app/templates/emails/<name>.txt and .html; the first
  line of the .txt template is "Subject: …".
- `queue(...)` adds an OutboxMail row to the caller's transaction; nothing leaves the machine until that
  transaction commits. `deliver_committed()` (called after each request and by the jobs) sends what the last
  commit released; `deliver_outbox(now)` (the scheduler) retries what could not be sent, with backoff. This
  is the only delivery and the only retry of the app: the reminder sweep queues its mails here too.
- `send(message)` talks SMTP; failures are classified as an invalid address (permanent) or a transient error.
  A mail given up (invalid address, too many attempts) is reported to the listeners registered with
  `on_delivery_failure()` (the notification centre tells the secretariat); `retry(mail, actor=)` puts it
  back in the queue (secretariat, /admin/rappels).
"""

from __future__ import annotations

import logging
import re
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ..extensions import db
from ..models.base import utcnow
from ..models.reminders import OutboxMail, ReminderStatus
from ..permissions import can_configure_reminders
from . import audit
from .errors import NotAllowed

log = logging.getLogger(__name__)

ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
# Minutes to wait after the 1st, 2nd… failed attempt; after the last one the mail is marked failed.
BACKOFF_MINUTES = [1, 5, 15, 60, 180, 360, 720]
MAX_ATTEMPTS = len(BACKOFF_MINUTES) + 1
SMTP_TIMEOUT = 15
CLAIM_STALE = timedelta(minutes=15)


class MailError(Exception):
    """Delivery failed. `permanent` → the address is invalid or refused; else retry later."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Attachment:
    filename: str
    mimetype: str  # e.g. "text/calendar"
    data: bytes


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


# --- rendering ------------------------------------------------------------------------------------------


def link(endpoint: str, **values) -> str:
    """Absolute link built from BASE_URL (works without a request: jobs and CLI)."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    path = adapter.build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path


def absolute(url: str | None) -> str | None:
    """A link as a mail client needs it: a path of the app ("/comites/seances/7") gets BASE_URL in front."""
    if not url or not url.startswith("/") or url.startswith("//"):
        return url
    return current_app.config["BASE_URL"].rstrip("/") + url


def own_domain() -> str:
    """The domain of our Message-IDs: BASE_URL's host, else the domain of MAIL_FROM."""
    host = urlsplit(current_app.config.get("BASE_URL", "")).hostname
    if host and "." in host and not host.replace(".", "").isdigit():
        return host
    sender = parseaddr(current_app.config["MAIL_FROM"])[1]
    return sender.rpartition("@")[2] or "localhost"


def render(name: str, **context) -> tuple[str, str, str]:
    """(subject, text, html) of the e-mail template `name`."""
    env = current_app.jinja_env
    context.setdefault("base_url", current_app.config["BASE_URL"].rstrip("/"))
    context.setdefault("service_name", "Mutualisation DSI")
    text = env.get_template(f"emails/{name}.txt").render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"emails/{name}.txt must start with a 'Subject:' line")
    subject = " ".join(first.removeprefix("Subject:").split())
    html = env.get_template(f"emails/{name}.html").render(**{**context, "subject": subject})
    return subject, body.lstrip("\n"), html


def build_message(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: list[Attachment] = (),
    *,
    unsubscribe: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The RFC 5322 message: Date and Message-ID (our own domain) on every mail; for an optional kind,
    `unsubscribe` is its one-click link (RFC 8058 List-Unsubscribe + List-Unsubscribe-Post)."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime((now or utcnow()).replace(tzinfo=UTC))
    message["Message-ID"] = make_msgid(domain=own_domain())
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{absolute(unsubscribe)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, subtype = attachment.mimetype.split("/", 1)
        if maintype == "text":  # text parts carry their charset (UTF-8), e.g. an invitation's accents
            params = {"method": "PUBLISH"} if subtype == "calendar" else {}
            message.add_attachment(
                attachment.data.decode("utf-8"), subtype=subtype, filename=attachment.filename, params=params
            )
        else:
            message.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
    return message


def address_of(user) -> str:
    return formataddr((user.full_name, user.email)) if user.full_name != user.email else user.email


# --- SMTP ----------------------------------------------------------------------------------------------


def send(message: EmailMessage) -> None:
    """Deliver one message over SMTP, raising MailError (permanent or not) on failure."""
    config = current_app.config
    to = message["To"]
    bare = to.rsplit("<", 1)[-1].rstrip(">").strip()
    if not ADDRESS.match(bare):
        raise MailError(f"Adresse invalide : {bare!r}", permanent=True)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=SMTP_TIMEOUT) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD", ""))
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, reason = next(iter(error.recipients.values()))
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise MailError(f"Adresse refusée par le serveur ({code}) : {text}", permanent=code >= 500) from None
    except smtplib.SMTPResponseException as error:
        text = (
            error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error)
        )
        raise MailError(f"Serveur SMTP : {error.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"Serveur SMTP injoignable : {type(error).__name__} {error}") from None


# --- outbox -----------------------------------------------------------------------------------------------

_PENDING = "mail_outbox_pending"  # OutboxMail objects queued in the current transaction
_RELEASED = "mail_outbox_released"  # ids whose transaction committed, waiting for deliver_committed()


def queue(
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    kind: str = "message",
    recipient=None,
    attachments: list[Attachment] = (),
) -> OutboxMail:
    """Queue an e-mail in the caller's transaction (sent only if it commits)."""
    mail = OutboxMail(
        kind=kind,
        recipient_id=getattr(recipient, "id", None),
        to_address=to,
        subject=subject,
        text_body=text,
        html_body=html,
        status=ReminderStatus.PENDING,
    )
    if attachments:
        first = attachments[0]  # one attachment is enough for our mails (an invitation)
        mail.attachments = [{"filename": first.filename, "mimetype": first.mimetype}]
        mail.attachment_data = first.data
    db.session.add(mail)
    db.session.info.setdefault(_PENDING, []).append(mail)
    return mail


@event.listens_for(Session, "before_commit")
def _collect(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    ids = [m.id for m in pending if m.id is not None and m in session]
    session.info.setdefault("_mail_outbox_committing", []).extend(ids)


@event.listens_for(Session, "after_commit")
def _release(session):
    ids = session.info.pop("_mail_outbox_committing", None)
    if ids:
        session.info.setdefault(_RELEASED, []).extend(ids)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(_PENDING, None)
    session.info.pop("_mail_outbox_committing", None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_soft(session, previous_transaction):
    if not session.in_transaction():
        _forget(session)


def deliver_committed(now: datetime | None = None) -> int:
    """Send the outbox mails released by the commits of this session so far; returns how many were sent."""
    ids = db.session.info.pop(_RELEASED, None)
    if not ids:
        return 0
    return sum(_deliver_one(mail_id, now or utcnow()) for mail_id in ids)


def deliver_outbox(now: datetime | None = None, limit: int = 200) -> int:
    """Send every outbox mail due (new, or whose backoff elapsed); the scheduler's safety net."""
    now = now or utcnow()
    due = (
        select(OutboxMail.id)
        .where(
            OutboxMail.status == ReminderStatus.PENDING,
            (OutboxMail.next_attempt_at.is_(None)) | (OutboxMail.next_attempt_at <= now),
        )
        .order_by(OutboxMail.id)
        .limit(limit)
    )
    ids = list(db.session.scalars(due))
    db.session.commit()
    return sum(_deliver_one(mail_id, now) for mail_id in ids)


def message_of(mail: OutboxMail, now: datetime | None = None) -> EmailMessage:
    """The message an outbox row becomes when it is sent (tests/services/test_every_mail_kind.py reads it)."""
    attachments = []
    if mail.attachments and mail.attachment_data:
        meta = mail.attachments[0]
        attachments = [Attachment(meta["filename"], meta["mimetype"], mail.attachment_data)]
    return build_message(
        mail.to_address,
        mail.subject,
        mail.text_body,
        mail.html_body,
        attachments,
        unsubscribe=unsubscribe_link(mail),
        now=now,
    )


def _deliver_one(mail_id: int, now: datetime) -> bool:
    """Claim one outbox row (SKIP LOCKED on PostgreSQL, an atomic claim elsewhere), send, mark, commit."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        mail = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.status == ReminderStatus.PENDING)
            .with_for_update(skip_locked=True, of=OutboxMail)
        ).first()
    else:
        token = uuid.uuid4().hex
        stale = utcnow() - CLAIM_STALE
        claimed = session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.id == mail_id,
                OutboxMail.status == ReminderStatus.PENDING,
                (OutboxMail.claim.is_(None)) | (OutboxMail.claimed_at < stale),
            )
            .values(claim=token, claimed_at=utcnow())
        ).rowcount
        session.commit()
        mail = session.get(OutboxMail, mail_id, populate_existing=True) if claimed else None
        if mail is not None and mail.claim != token:
            mail = None
    if mail is None:
        session.commit()
        return False
    message = message_of(mail)
    if session.get_bind().dialect.name != "postgresql":
        # The claim token holds the row: end the transaction before talking to the SMTP server, so that an
        # SMTP server that does not answer does not hold SQLite's write lock (every other writer, the web
        # requests and a stopping scheduler's lease release, would wait behind it).
        session.commit()
    sent = False
    try:
        send(message)
    except MailError as error:
        record_failure(mail, error, now)
        if mail.status == ReminderStatus.FAILED:
            _report_failure(mail, str(error))
    else:
        mail.status, mail.sent_at, sent = ReminderStatus.SENT, now, True
    mail.claim = None
    session.commit()
    return sent


def record_failure(mail: OutboxMail, error: MailError, now: datetime) -> None:
    """Count a failed attempt: permanent → failed; transient → retry with backoff, failed after the last."""
    mail.attempts += 1
    mail.last_error = str(error)[:2000]
    if error.permanent or mail.attempts >= MAX_ATTEMPTS:
        mail.status = ReminderStatus.FAILED
        mail.next_attempt_at = None
    else:
        mail.next_attempt_at = now + backoff(mail.attempts)
    log.warning("mail to %s failed (attempt %s): %s", mail.to_address, mail.attempts, error)


# The one-click unsubscribe link of a queued mail, or None for a mandatory kind or a mail to no user. The
# notification centre (which knows the kinds) registers it, as it registers the failure listener.
_UNSUBSCRIBE_LINKS: list[Callable[[OutboxMail], str | None]] = []


def on_unsubscribe_link(builder: Callable[[OutboxMail], str | None]):
    if builder not in _UNSUBSCRIBE_LINKS:
        _UNSUBSCRIBE_LINKS.append(builder)
    return builder


def unsubscribe_link(mail: OutboxMail) -> str | None:
    return next((url for url in (b(mail) for b in _UNSUBSCRIBE_LINKS) if url), None)


# Called with (user or None, address, subject, error) when a mail is given up. The notification centre
# registers one (it sits above this module: it queues its mails here).
_FAILURE_LISTENERS: list[Callable[..., None]] = []


def on_delivery_failure(listener: Callable[..., None]) -> Callable[..., None]:
    if listener not in _FAILURE_LISTENERS:
        _FAILURE_LISTENERS.append(listener)
    return listener


def _report_failure(mail: OutboxMail, error: str) -> None:
    for listener in _FAILURE_LISTENERS:
        listener(mail.recipient, parseaddr(mail.to_address)[1] or mail.to_address, mail.subject, error)


def retry(mail: OutboxMail, *, actor, now: datetime | None = None) -> OutboxMail:
    """Put a failed (or waiting) mail back in the queue for the next delivery (secretariat)."""
    if not can_configure_reminders(actor):
        raise NotAllowed("Seul le secrétariat relance un envoi.")
    mail.status, mail.next_attempt_at, mail.claim = ReminderStatus.PENDING, now or utcnow(), None
    audit.record("outbox_mail.retried", mail, actor=actor, summary=f"Courriel à {mail.to_address} relancé")
    return mail
