"""The scheduler (APScheduler) and the idempotent jobs it runs.

Exactly one scheduler runs the jobs at a time, whatever the number of processes that start one: each tick
first takes or renews a lease row (`scheduler_leases`, an atomic conditional UPDATE valid on SQLite and
PostgreSQL); the instance that does not hold an unexpired lease does nothing. Jobs are idempotent anyway
(the reminder sweep claims rows with SKIP LOCKED), so a lease lost mid-run cannot cause a double send.

Production: a dedicated process `flask --app wsgi scheduler run` (foreground). Development: `make run` starts
the same command. With SCHEDULER_ENABLED=true, each web process also starts one in the background; the
lease keeps it to one runner.

Other domains add their jobs with `register_job(name, label, func, seconds=60)`; `func(now)` receives the
current time and runs inside an app context; its return value is shown on the admin page.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .extensions import db
from .formatting import paris_today
from .models import BodyKind, Committee, SchedulerJob, SchedulerLease
from .models.base import utcnow
from .services import committees, export_jobs, followup, register, reminders, retention, voting

log = logging.getLogger(__name__)
LEASE_NAME = "scheduler"
LEASE_SECONDS = 150
STOP_GRACE_SECONDS = 10  # on SIGTERM/SIGINT, how long a running job may take to end before it is abandoned


@dataclass
class Job:
    name: str
    label: str
    func: Callable[[datetime], object]
    seconds: int = 60


JOBS: dict[str, Job] = {}


def register_job(name: str, label: str, func: Callable[[datetime], object], seconds: int = 60) -> Job:
    job = Job(name, label, func, seconds)
    JOBS[name] = job
    return job


def _send_due_reminders(now: datetime):
    return reminders.send_due(now)


def _replan_reminders(now: datetime):
    return f"{reminders.replan_all(now)} objet(s) replanifié(s)"


register_job("reminders.send_due", "Envoi des rappels et des courriels en attente", _send_due_reminders)
register_job(
    "reminders.replan",
    "Recalcul des rappels (nouveaux membres, électeurs, dates)",
    _replan_reminders,
    seconds=900,
)


def register_domain_jobs() -> None:
    """The jobs of the other domains (registered at import too; calling it again is harmless)."""
    register_job(
        "voting.apply_due_transitions",
        "Ouverture et clôture des campagnes de priorisation",
        voting.apply_due_transitions,
    )
    register_job(
        "retention.purge",
        "Suppression de l'historique des rappels et courriels au-delà de la durée de conservation",
        retention.scheduled_purge,
        seconds=24 * 3600,
    )
    register_job(
        "exports.run",
        "Exports volumineux en attente (un à la fois)",
        export_jobs.run_pending,
        seconds=5,
    )
    register_job(
        "register.verify",
        "Vérification du registre des décisions (chaînage et contenus)",
        register.scheduled_verification,
        seconds=24 * 3600,
    )
    register_job(
        "followup.propose_late_items",
        "Propositions de revue de suivi (éléments en retard des dossiers financés)",
        followup.propose_late_items,
        seconds=3600,
    )
    register_job(
        "committees.generate_meetings",
        "Génération des séances récurrentes des comités (6 mois)",
        generate_recurring_meetings,
        seconds=3600,
    )


RECURRING_HORIZON_DAYS = 183


def generate_recurring_meetings(now: datetime) -> str:
    """Create the meetings of every committee with a recurrence rule for the next six months (idempotent),
    and plan their reminders."""
    today = paris_today(now)
    created = []
    for committee in db.session.scalars(
        select(Committee)
        .where(
            Committee.recurrence.is_not(None),
            Committee.kind == BodyKind.COMITE,
            Committee.ends_on.is_(None) | (Committee.ends_on >= today),
        )
        .order_by(Committee.code)
    ):
        created += committees.generate_meetings(
            committee, until=today + timedelta(days=RECURRING_HORIZON_DAYS), actor=None, today=today
        )
    for meeting in created:
        reminders.reschedule_for(meeting, now=now)
    return f"{len(created)} séance(s) créée(s)"


register_domain_jobs()


# --- lease --------------------------------------------------------------------------------------------------


def acquire_lease(holder: str, now: datetime | None = None, seconds: int = LEASE_SECONDS) -> bool:
    """Take or renew the scheduler lease for `holder`; True if `holder` is the one that runs the jobs."""
    now = now or utcnow()
    session = db.session
    renewed = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == LEASE_NAME,
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
        )
        .values(holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=seconds))
    ).rowcount
    if renewed:
        session.commit()
        return True
    try:
        with session.begin_nested():
            session.add(
                SchedulerLease(
                    name=LEASE_NAME,
                    holder=holder,
                    acquired_at=now,
                    expires_at=now + timedelta(seconds=seconds),
                )
            )
    except IntegrityError:
        session.commit()
        return False
    session.commit()
    # The INSERT may have raced with another holder's UPDATE: the row is what decides.
    lease = session.get(SchedulerLease, LEASE_NAME, populate_existing=True)
    session.commit()
    return lease is not None and lease.holder == holder


def release_lease(holder: str) -> None:
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


# --- running ------------------------------------------------------------------------------------------------


def run_job(
    job: Job, now: datetime | None = None, holder: str | None = None, next_run_at: datetime | None = None
):
    """Run one job now (in the caller's app context), recording its run for the admin page."""
    now = now or utcnow()
    row = db.session.get(SchedulerJob, job.name)
    if row is None:
        row = SchedulerJob(name=job.name, label=job.label, interval_seconds=job.seconds)
        db.session.add(row)
    row.label, row.interval_seconds, row.holder, row.last_started_at = (
        job.label,
        job.seconds,
        holder,
        utcnow(),
    )
    db.session.commit()
    result, error = None, None
    try:
        result = job.func(now)
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - a failing job is recorded, the scheduler keeps running
        log.exception("job %s failed", job.name)
        db.session.rollback()
        error = f"{type(exc).__name__}: {exc}"
    row = db.session.get(SchedulerJob, job.name)
    row.last_finished_at = utcnow()
    row.last_result = None if result is None else str(result)[:2000]
    row.last_error = error
    row.next_run_at = next_run_at or (now + timedelta(seconds=job.seconds))
    db.session.commit()
    return result


class Scheduler:
    """APScheduler BackgroundScheduler running every registered job, gated by the lease."""

    def __init__(
        self,
        app: Flask,
        holder: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        interval_seconds: int | None = None,
        jobs: list[Job] | None = None,
    ):
        self.app = app
        self.jobs = jobs
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.interval_seconds = interval_seconds
        self.scheduler = None
        self._lock = threading.Lock()  # held by the running tick
        self._stopping = threading.Event()

    def tick(self, job: Job) -> bool:
        """One scheduled run of `job`: only by the lease holder. Returns True if it ran."""
        with self._lock, self.app.app_context():
            if self._stopping.is_set():  # submitted to the pool just before the stop: not started
                return False
            try:
                if not acquire_lease(self.holder):
                    return False
                # The next run is computed, not read with get_job(): that takes the job store's lock, which
                # shutdown(wait=True) holds while it waits for this very tick to end (a deadlock).
                run_job(
                    job,
                    now=self.clock(),
                    holder=self.holder,
                    next_run_at=utcnow() + timedelta(seconds=self.interval_seconds or job.seconds),
                )
                return True
            finally:
                db.session.remove()

    def start(self) -> None:
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
        )
        for job in self.jobs if self.jobs is not None else list(JOBS.values()):
            self.scheduler.add_job(
                self.tick,
                "interval",
                args=[job],
                id=job.name,
                name=job.label,
                seconds=self.interval_seconds or job.seconds,
                next_run_time=utcnow(),
            )
        self.scheduler.start()
        log.info("scheduler %s started with %d job(s)", self.holder, len(self.scheduler.get_jobs()))

    def shutdown(self, grace: float | None = None) -> bool:
        """Stop: no run starts any more; the running one, if any, gets `grace` seconds to end (None: as long
        as it takes); then the lease is released, so that another instance takes over at its next tick.
        Returns False if a job is still running: the caller abandons it by exiting the process. That is safe:
        every job commits row by row and is idempotent (the sweep claims its rows), the open transaction is
        rolled back by the database, exactly as after a kill -9.

        It does not call APScheduler's shutdown(wait=True): that holds the job store's lock while it waits
        for the running job, which a job may need (the deadlock that kept stopped schedulers alive)."""
        self._stopping.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        finished = self._lock.acquire(timeout=-1 if grace is None else grace)
        if finished:
            self._lock.release()
        with self.app.app_context():
            try:
                release_lease(self.holder)
            except SQLAlchemyError:  # database away: the lease expires by itself (LEASE_SECONDS)
                log.warning("scheduler %s: lease not released", self.holder, exc_info=True)
            finally:
                db.session.remove()
        return finished


def start_in_background(app: Flask) -> Scheduler | None:
    """SCHEDULER_ENABLED=true: start a scheduler in this (web) process; the lease keeps one runner overall."""
    if not app.config.get("SCHEDULER_ENABLED") or app.testing:
        return None
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        if "run" not in sys.argv[1:] or "scheduler" in sys.argv[1:]:
            return None  # a CLI command (db upgrade, scheduler run…), not the web server
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return None  # the reloader's parent process
    scheduler = Scheduler(app)
    scheduler.start()
    return scheduler


# --- CLI ----------------------------------------------------------------------------------------------------

scheduler_cli = AppGroup("scheduler", help="Planificateur des tâches (rappels, ouvertures et clôtures).")
reminders_cli = AppGroup("reminders", help="Rappels et courriels.")


@scheduler_cli.command("run")
@click.option("--interval", type=int, default=None, help="Secondes entre deux passages (défaut : 60).")
def scheduler_run(interval):
    """Run the scheduler in the foreground (production: one dedicated process)."""
    stopping = threading.Event()

    def stop(*_):
        if stopping.is_set():  # a second signal while the running job gets its grace: stop now
            os._exit(1)
        stopping.set()

    # Before the first job starts: a SIGTERM while it runs must get the grace, not kill the process.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler = Scheduler(current_app._get_current_object(), interval_seconds=interval)
    scheduler.start()
    click.echo(f"Planificateur démarré ({scheduler.holder}) : {', '.join(JOBS)}")
    while not stopping.is_set():
        time.sleep(0.5)
    grace = current_app.config.get("SCHEDULER_STOP_GRACE", STOP_GRACE_SECONDS)
    click.echo(f"Arrêt demandé : la tâche en cours a {grace} s pour se terminer.")
    if scheduler.shutdown(grace=grace):
        click.echo("Planificateur arrêté.")
        return
    # A job is still running (an SMTP server that does not answer, a long sweep): abandon it. The interpreter
    # would otherwise wait for its thread at exit; its transaction is rolled back when the connection drops.
    click.echo(
        "Planificateur arrêté ; la tâche en cours est abandonnée (elle reprendra au prochain passage)."
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@scheduler_cli.command("jobs")
def scheduler_jobs():
    """List the registered jobs."""
    for job in JOBS.values():
        click.echo(f"{job.name}\t{job.seconds}s\t{job.label}")


@reminders_cli.command("send-due")
@click.option("--now", "now_text", default=None, help="Instant de référence ISO 8601 (tests, rattrapage).")
def reminders_send_due(now_text):
    """Run one sweep: send the due reminders and the queued e-mails."""
    now = datetime.fromisoformat(now_text) if now_text else utcnow()
    if now.tzinfo is None:
        raise click.BadParameter("indiquez un fuseau horaire, par exemple 2026-01-01T09:00:00+01:00")
    report = reminders.send_due(now)
    db.session.commit()
    click.echo(f"Rappels : {report}")


def init_app(app: Flask) -> None:
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(reminders_cli)
