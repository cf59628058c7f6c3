"""/admin/rappels (secretariat): upcoming reminders, sent log, failures with retry, jobs, offsets.
/dev/courriels (development only): the messages caught by the local mail catcher."""

import email
import email.policy
import os
import sqlite3
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import Integer, bindparam, or_, select, union_all

from .. import permissions
from ..extensions import db
from ..forms.notifications import reminder_settings_form
from ..htmx import render
from ..jobs import JOBS
from ..models import OutboxMail, Reminder, ReminderStatus, Role, SchedulerJob, SchedulerLease
from ..models.base import utcnow
from ..ratelimit import limit
from ..services import mail
from ..services import reminders as service
from .actions import perform, see_other

bp = Blueprint("reminders_admin", __name__, url_prefix="/admin/rappels")
LIST_LIMIT = 100
PER_PAGE = 25  # rows per page of each reminder list (upcoming, sent log, failures)
PAGE_ARGS = {"upcoming": "a_venir", "sent": "envoyes", "failures": "echecs"}  # ?a_venir=2 …


def _page(name: str) -> tuple[list, int, bool]:
    """One page of a list that can grow (the sent log reaches 100 000 rows): the rows, the page number and
    whether a next page exists, from one statement of PER_PAGE + 1 rows (no count over the whole history)."""
    number = _page_number(name)
    rows = db.session.scalars(
        _lists()[name],
        {"limit": PER_PAGE + 1, "offset": (number - 1) * PER_PAGE, "depth": number * PER_PAGE + 1},
    ).all()
    return rows[:PER_PAGE], number, len(rows) > PER_PAGE


def _page_number(name: str) -> int:
    return max(1, request.args.get(PAGE_ARGS[name], 1, type=int) or 1)


@cache
def _lists() -> dict:
    """The statements of the three lists, built once (a statement keeps the cache key SQLAlchemy computes
    from it; building these unions cost more than running them), their page bound as `limit`, `offset`
    and `depth`."""
    page = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)
    pending = Reminder.status == ReminderStatus.PENDING
    upcoming = select(Reminder).where(pending).order_by(Reminder.due_at, Reminder.id)
    sent = _newest_first(Reminder.status == ReminderStatus.SENT, Reminder.status == ReminderStatus.SKIPPED)
    failures = _newest_first(
        Reminder.status == ReminderStatus.FAILED,
        pending & (Reminder.attempts > 0),
    )
    return {
        name: query.limit(page[0]).offset(page[1])
        for name, query in (("upcoming", upcoming), ("sent", sent), ("failures", failures))
    }


def _newest_first(*branches):
    """The reminders matching any branch, latest update first, as one statement whose branches each read
    their own index range already in order (status, updated_at; status, attempts) and stop at the page's
    end: an OR or IN over the statuses made both backends sort the whole sent history (80 000 rows) for 26.
    Each branch keeps the `depth` rows the page asked needs."""
    parts = [
        select(Reminder.id, Reminder.updated_at)
        .where(where)
        .order_by(Reminder.updated_at.desc(), Reminder.id.desc())
        .limit(bindparam("depth", type_=Integer))
        .subquery()
        for where in branches
    ]
    newest = union_all(*(select(part.c.id, part.c.updated_at) for part in parts)).subquery()
    return (
        select(Reminder)
        .join(newest, newest.c.id == Reminder.id)
        .order_by(newest.c.updated_at.desc(), newest.c.id.desc())
    )


@cache
def _mail_failures():
    return (
        select(OutboxMail)
        .where(
            or_(
                OutboxMail.status == ReminderStatus.FAILED,
                (OutboxMail.status == ReminderStatus.PENDING) & (OutboxMail.attempts > 0),
            )
        )
        .order_by(OutboxMail.id.desc())
        .limit(LIST_LIMIT)
    )


def _objects(rows) -> dict:
    """(object_type, object_id) → a label, loaded one query per kind."""
    labels = {}
    by_kind: dict[str, set[int]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, set()).add(row.object_id)
    for kind_name, ids in by_kind.items():
        kind = service.KINDS.get(kind_name)
        if kind is None:
            continue
        model = kind.model
        for obj in db.session.scalars(select(model).where(model.id.in_(ids))):
            labels[(model.__tablename__, obj.id)] = str(obj)
    return labels


def _context(setting_errors=None, setting_values=None):
    now = utcnow()
    upcoming, upcoming_page, upcoming_more = _page("upcoming")
    sent, sent_page, sent_more = _page("sent")
    failures, failures_page, failures_more = _page("failures")
    mail_failures = db.session.scalars(_mail_failures()).all()
    jobs = {row.name: row for row in db.session.scalars(select(SchedulerJob))}
    lease = db.session.get(SchedulerLease, "scheduler")
    return dict(
        now=now,
        upcoming=upcoming,
        sent=sent,
        failures=failures,
        pages={
            "upcoming": (upcoming_page, upcoming_more),
            "sent": (sent_page, sent_more),
            "failures": (failures_page, failures_more),
        },
        page_args=PAGE_ARGS,
        mail_failures=mail_failures,
        jobs=jobs,
        registered=JOBS,
        lease=lease,
        lease_active=bool(lease and lease.expires_at > now),
        settings=service.settings(),
        kinds=service.KINDS,
        labels=_objects([*upcoming, *sent, *failures]),
        setting_errors=setting_errors or {},
        setting_values=setting_values or {},
        ReminderStatus=ReminderStatus,
    )


@bp.get("")
@permissions.requires_role(Role.SECRETARIAT)
def index():
    return render("reminders/admin.html", **_context())


@bp.post("/<int:reminder_id>/relancer")
@permissions.requires_role(Role.SECRETARIAT)
def retry(reminder_id: int):
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None:
        abort(404)
    failures = url_for(".index") + "#echecs"

    def refused(error):
        flash(error.message, "error")
        return see_other(failures)

    return perform(
        lambda: service.retry(reminder, actor=current_user),
        refused=refused,
        success=f"Le rappel à {reminder.recipient.full_name} sera renvoyé au prochain passage.",
        location=failures,
    )


@bp.post("/courriels/<int:mail_id>/relancer")
@permissions.requires_role(Role.SECRETARIAT)
@limit("mail")
def retry_mail(mail_id: int):
    outbox = db.session.get(OutboxMail, mail_id)
    if outbox is None:
        abort(404)
    return perform(
        lambda: mail.retry(outbox, actor=current_user),
        failure=abort,
        success=f"Le courriel à {outbox.to_address} sera renvoyé au prochain passage.",
        location=url_for(".index") + "#echecs",
    )


@bp.post("/envoyer")
@permissions.requires_role(Role.SECRETARIAT)
@limit("mail")
def send_now():
    """Run one sweep now (what the scheduler does every minute)."""
    return perform(
        lambda: service.send_due(utcnow()),
        failure=abort,
        success=lambda report: f"Passage effectué : {report}.",
        location=url_for(".index"),
    )


@bp.post("/reglages")
@permissions.requires_role(Role.SECRETARIAT)
def save_settings():
    form = reminder_settings_form(service.KINDS)
    values = {
        name: (form[f"offset_{name}"].data or "", form[f"enabled_{name}"].data) for name in service.KINDS
    }

    def refused(error):
        flash("Les réglages n'ont pas été enregistrés : corrigez les champs signalés.", "error")
        return render("reminders/admin.html", status=422, **_context(error.errors, values))

    return perform(
        lambda: service.set_settings(values, actor=current_user),
        refused=refused,
        success="Réglages des rappels enregistrés ; les rappels à venir ont été recalculés.",
        location=url_for(".index") + "#reglages",
    )


# --- development mail page ----------------------------------------------------------------------------------

dev_bp = Blueprint("dev_mail", __name__, url_prefix="/dev/courriels")


def catcher_path() -> Path:
    configured = current_app.config.get("MAILCATCHER_DB")
    return Path(
        configured
        or os.environ.get("MAILCATCHER_DB")
        or Path(current_app.instance_path) / "mailcatcher.sqlite3"
    )


def dev_pages_enabled() -> bool:
    """Development (and the test suite) only, with the local test provider: never in production."""
    return current_app.config.get("ENV_NAME") in {"development", "test"} and bool(
        current_app.config.get("PROCONNECT_IS_MOCK")
    )


@dev_bp.before_request
def _only_in_development():
    if not dev_pages_enabled():
        abort(404)


def _read(query: str, args=()) -> list[tuple]:
    path = catcher_path()
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return connection.execute(query, args).fetchall()


@dev_bp.get("")
@permissions.requires_role(Role.SECRETARIAT)  # every mail of every user: the secretariat only
def dev_index():
    rows = _read(
        "SELECT id, received_at, mail_from, rcpt_tos, subject FROM messages ORDER BY id DESC LIMIT 200"
    )
    return render("reminders/dev_mail.html", messages=rows, message=None, path=str(catcher_path()))


@dev_bp.get("/<int:message_id>")
@permissions.requires_role(Role.SECRETARIAT)
def dev_show(message_id: int):
    rows = _read(
        "SELECT id, received_at, mail_from, rcpt_tos, subject, raw FROM messages WHERE id = ?", (message_id,)
    )
    if not rows:
        abort(404)
    row = rows[0]
    parsed = email.message_from_bytes(row[5], policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    attachments = [
        (part.get_filename(), part.get_content_type(), part.get_content())
        for part in parsed.iter_attachments()
    ]
    message = dict(
        id=row[0],
        received_at=row[1],
        mail_from=row[2],
        rcpt_tos=row[3],
        subject=row[4],
        headers=list(parsed.items()),
        text=text.get_content() if text else "",
        html=html.get_content() if html else "",
        attachments=attachments,
    )
    return render("reminders/dev_mail.html", messages=None, message=message, path=str(catcher_path()))
