"""In-app notifications and per-kind e-mail preferences.

`notify(user, kind, obj, subject=..., body=...)` adds a notification to the user's centre and, when the
user wants e-mail for that kind (always for mandatory kinds), queues an e-mail in the caller's transaction.
Kinds are declared with `declare_kind()`; the reminder kinds are declared when they are registered with the
reminder engine (app/services/reminders.py). Mails given up by the outbox are reported to the secretariat
here (`report_delivery_failure`, registered with `mail.on_delivery_failure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Notification, NotificationPreference, Role, User, UserRole
from ..models.base import utcnow
from . import audit, mail
from .errors import NotAllowed


@dataclass(frozen=True)
class NotificationKind:
    name: str
    label: str  # French, shown on the preferences page
    mandatory: bool = False  # e-mail cannot be turned off
    audience: str = ""  # who receives it (French, shown on the preferences page)


KINDS: dict[str, NotificationKind] = {}


def declare_kind(name: str, label: str, *, mandatory: bool = False, audience: str = "") -> NotificationKind:
    kind = NotificationKind(name, label, mandatory, audience)
    KINDS[name] = kind
    return kind


declare_kind(
    "mail.delivery_failed",
    "Échec d'envoi d'un courriel (adresse invalide, serveur indisponible)",
    audience="Secrétariat",
)


def wants_email(user: User, kind: str) -> bool:
    declared = KINDS.get(kind)
    if declared is not None and declared.mandatory:
        return True
    value = db.session.scalar(
        select(NotificationPreference.email).where(
            NotificationPreference.user_id == user.id, NotificationPreference.kind == kind
        )
    )
    return True if value is None else bool(value)


def preferences(user: User) -> dict[str, bool]:
    """kind → e-mail wanted, for every declared kind."""
    stored = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.email).where(
                NotificationPreference.user_id == user.id
            )
        )
        .tuples()
        .all()
    )
    return {name: (True if kind.mandatory else stored.get(name, True)) for name, kind in KINDS.items()}


def set_preferences(user: User, wanted: dict[str, bool], *, actor) -> list[str]:
    """Store the e-mail choices of `user`; mandatory kinds stay on. Returns the kinds that changed."""
    if actor is None or actor.id != user.id:
        raise NotAllowed("Vous ne pouvez modifier que vos propres préférences.")
    current = preferences(user)
    changed = []
    for name, kind in KINDS.items():
        value = True if kind.mandatory else bool(wanted.get(name, False))
        if current[name] == value:
            continue
        row = db.session.scalar(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user.id, NotificationPreference.kind == name
            )
        )
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, kind=name, email=value))
        else:
            row.email = value
        changed.append(name)
    if changed:
        db.session.flush()
        audit.record(
            "notification_preferences.updated",
            user,
            actor=actor,
            summary="Préférences de courriel modifiées",
            changes={name: [current[name], not current[name]] for name in changed},
        )
    return changed


def notify(
    user: User,
    kind: str,
    obj=None,
    *,
    subject: str,
    body: str = "",
    url: str | None = None,
    email: tuple[str, str, str] | None = None,
    attachments: list[mail.Attachment] = (),
    reminder=None,
    send_email: bool | None = None,
) -> Notification:
    """Add a notification for `user`; queue the e-mail `email` = (subject, text, html) if the user wants it.

    Without `email`, a plain e-mail is made from subject/body/url. `send_email=False` forces in-app only.
    """
    notification = Notification(
        user_id=user.id,
        kind=kind,
        subject=subject[:300],
        body=body,
        url=url,
        object_type=getattr(obj, "__tablename__", None),
        object_id=getattr(obj, "id", None),
        reminder_id=getattr(reminder, "id", None),
    )
    db.session.add(notification)
    if send_email is None:
        send_email = wants_email(user, kind)
    if send_email and user.active:
        if email is None:
            email = mail.render(
                "notification",
                subject=subject,
                body=body,
                url=mail.absolute(url),
                user=user,
                kind=KINDS.get(kind),
            )
        mail_subject, text, html = email
        mail.queue(
            to=mail.address_of(user),
            subject=mail_subject,
            text=text,
            html=html,
            kind=kind,
            recipient=user,
            attachments=attachments,
        )
    return notification


def notify_all(
    users,
    kind: str,
    obj=None,
    *,
    subject: str,
    intro: list[str],
    url: str | None = None,
    link_label: str = "Voir sur Mutualisation DSI",
    details: list[tuple[str, str]] = (),
    quote: str = "",
    quote_label: str = "Message",
    table: dict | None = None,
    attachments: list[mail.Attachment] = (),
    attachment_note: str = "",
) -> list[User]:
    """Notify each distinct active user once, in the app and (per preferences) by the « notice » e-mail
    (text + HTML, absolute link), queued in the outbox of the caller's transaction. Returns who was told."""
    told: dict[int, User] = {}
    for user in users:
        if user is None or user.id in told or not user.active:
            continue
        told[user.id] = user
        email = mail.render(
            "notice",
            subject=subject,
            recipient=user,
            intro=list(intro),
            details=list(details),
            quote=quote,
            quote_label=quote_label,
            table=table,
            url=mail.absolute(url),
            link_label=link_label,
            attachment_note=attachment_note if attachments else "",
            kind=KINDS.get(kind),
        )
        body = "\n\n".join([*intro, *(f"{label} : {value}" for label, value in details)])
        notify(user, kind, obj, subject=subject, body=body, url=url, email=email, attachments=attachments)
    return list(told.values())


def unread_count(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(user: User, notification_id: int | None = None, *, now: datetime | None = None) -> int:
    """Mark one (or all) of the user's notifications read; returns how many changed."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    return db.session.execute(statement.values(read_at=now or utcnow())).rowcount


def mark_unread(user: User, notification_id: int) -> int:
    return db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.id == notification_id)
        .values(read_at=None)
    ).rowcount


def secretariat() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == Role.SECRETARIAT, User.active.is_(True))
            .distinct()
            .order_by(User.id)
        )
    )


def report_delivery_failure(user: User | None, address: str, subject: str, error: str) -> None:
    """Tell the secretariat (in the app only: mail is what failed) that a message could not be delivered."""
    who = f"{user.full_name} <{address}>" if user is not None else address
    try:
        url = mail.link("reminders_admin.index") + "#echecs"
    except Exception:  # noqa: BLE001 - the admin blueprint may be absent in a stripped-down app
        url = None
    for member in secretariat():
        notify(
            member,
            "mail.delivery_failed",
            user,
            subject=f"Courriel non distribué : {who}",
            body=f"« {subject} » n'a pas pu être envoyé à {who}.\n\n{error}",
            url=url,
            send_email=False,
        )
    current_app.logger.warning("mail delivery failed for %s: %s", who, error)


mail.on_delivery_failure(report_delivery_failure)


# --- one-click unsubscribe (RFC 8058) ------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="mail-unsubscribe")


def unsubscribe_token(user: User, kind: str) -> str:
    return _serializer().dumps([user.id, kind])


def read_unsubscribe_token(token: str) -> tuple[User, str] | None:
    """(user, kind) of a valid token for an optional kind, else None."""
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id)
    declared = KINDS.get(kind)
    if user is None or declared is None or declared.mandatory:
        return None
    return user, kind


def unsubscribe(token: str) -> NotificationKind | None:
    """Turn off the e-mails of the token's kind for its user (the token stands for the user's consent)."""
    found = read_unsubscribe_token(token)
    if found is None:
        return None
    user, kind = found
    wanted = {**preferences(user), kind: False}
    set_preferences(user, wanted, actor=user)
    return KINDS[kind]


def unsubscribe_link(outbox_mail) -> str | None:
    """The one-click link of a queued mail of an optional kind to a user; None for a mandatory kind."""
    declared = KINDS.get(outbox_mail.kind)
    if declared is None or declared.mandatory or outbox_mail.recipient is None:
        return None
    token = unsubscribe_token(outbox_mail.recipient, outbox_mail.kind)
    return mail.link("notifications.unsubscribe", token=token)


mail.on_unsubscribe_link(unsubscribe_link)
