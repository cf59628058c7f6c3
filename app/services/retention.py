"""Data retention: the history of sent reminders and of delivered mails is kept `RETENTION_MONTHS` (12 by
default), then deleted by the scheduler's daily `retention.purge` job. Pending, failed and retried rows are
never purged: they are work, not history. Notifications keep their text (their link to a purged reminder is
set to NULL by the foreign key). The same job deletes the background exports past EXPORT_KEEP_HOURS
(services.export_jobs.purge_expired)."""

import logging
from datetime import datetime

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import delete

from ..extensions import db
from ..models.reminders import OutboxMail, Reminder, ReminderStatus
from . import export_jobs

log = logging.getLogger(__name__)

FINISHED = (ReminderStatus.SENT, ReminderStatus.SKIPPED, ReminderStatus.CANCELLED)


def cutoff(now: datetime, months: int | None = None) -> datetime:
    return now - relativedelta(
        months=months if months is not None else current_app.config["RETENTION_MONTHS"]
    )


def purge(now: datetime, months: int | None = None) -> tuple[int, int]:
    """Delete finished reminders and delivered mails older than the retention period: (reminders, mails)."""
    before = cutoff(now, months)
    reminders = db.session.execute(
        delete(Reminder).where(Reminder.status.in_(FINISHED), Reminder.updated_at < before)
    ).rowcount
    mails = db.session.execute(
        delete(OutboxMail).where(OutboxMail.status == ReminderStatus.SENT, OutboxMail.sent_at < before)
    ).rowcount
    log.info(
        "retention: %s reminder(s) and %s mail(s) older than %s deleted", reminders, mails, before.date()
    )
    return reminders, mails


def scheduled_purge(now: datetime) -> str:
    reminders, mails = purge(now)
    exports = export_jobs.purge_expired(now)
    months = current_app.config["RETENTION_MONTHS"]
    text = f"{reminders} rappel(s) et {mails} courriel(s) de plus de {months} mois supprimés"
    return text + (f", {exports} export(s) expiré(s) supprimé(s)" if exports else "")
