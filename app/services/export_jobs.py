"""Background exports: an XLSX/ODS export above EXPORT_JOB_ROWS rows is not written by the web request
(7–10 s of CPU for the large portfolio workbooks: four at once starved every worker) but queued as an
ExportJob, then written by the scheduler process (the `exports.run` job, one export at a time), its file
offered to its requester only and kept EXPORT_KEEP_HOURS (24 h by default), then deleted by the
`retention.purge` job.

The job replays the export's own URL in a request context of the scheduler process, as its requester: the
route's rules and scoped queries decide what the file holds, exactly as if it had been written in the
request (a right withdrawn in between fails the job). app/tabular.py writes the file into the job's sink
(`g.export_sink`) instead of a response.
"""

import hashlib
import logging
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from flask import Response, current_app, g
from sqlalchemy import select, text, update

from .. import tabular
from ..extensions import db, login_manager
from ..formatting import format_datetime
from ..models import ExportJob, ExportJobState, User
from ..models.base import utcnow
from . import audit, notifications

log = logging.getLogger(__name__)
PROGRESS_EVERY = 500  # rows between two progress updates
TICK_SECONDS = 60


PENDING = (ExportJobState.EN_ATTENTE, ExportJobState.EN_COURS)
# Written one at a time, a large export may be ready long after its requester left its page: they are told.
FINISHED = notifications.declare_kind(
    "export_job.finished",
    "Export préparé en arrière-plan prêt ou en échec",
    audience="Qui a demandé l'export",
)


def _requester(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def pending_export(*, path: str, fmt: str, actor, session_token: str | None) -> ExportJob | None:
    """The requester's job for this export (same URL and format) still waiting or running, if any."""
    requester = _requester(actor)
    if requester is None and not session_token:
        return None
    owner = (
        ExportJob.requester_id == requester.id
        if requester
        else (ExportJob.requester_id.is_(None) & (ExportJob.session_token == session_token))
    )
    return db.session.scalar(
        select(ExportJob)
        .where(owner, ExportJob.path == path[:2000], ExportJob.fmt == fmt, ExportJob.state.in_(PENDING))
        .order_by(ExportJob.id.desc())
        .limit(1)
    )


def _one_request_at_a_time(path: str, fmt: str, requester, session_token: str | None) -> None:
    """Two POSTs of the same export by the same requester (a double click) queue one job: on PostgreSQL
    the second waits on a transaction lock keyed by requester and export until the first commits, then
    finds its job. (SQLite takes the write lock at the start of a POST: they are already one at a time.)"""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    owner = f"user:{requester.id}" if requester else f"session:{session_token}"
    digest = hashlib.blake2b(f"{owner}\n{fmt}\n{path}".encode(), digest_size=8).digest()
    db.session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest, "big", signed=True)}
    )


def request_export(*, path: str, fmt: str, title: str, filename: str, actor, session_token: str | None):
    """The job of this export: the requester's pending one (a second click, the form posted again: still
    one file), else a new one queued (the caller commits). `actor`: the signed-in requester, or None with a
    session token (an anonymous visitor of the open data)."""
    requester = _requester(actor)
    token = None if requester else session_token
    _one_request_at_a_time(path, fmt, requester, token)
    pending = pending_export(path=path, fmt=fmt, actor=requester, session_token=token)
    if pending is not None:
        return pending
    job = ExportJob(
        requester_id=requester.id if requester else None,
        session_token=token,
        path=path[:2000],
        fmt=fmt,
        title=title[:300],
        filename=filename[:300],
        state=ExportJobState.EN_ATTENTE,
        rows_done=0,
    )
    db.session.add(job)
    audit.record("export_job.requested", job, actor=requester, summary=f"{filename} ({title})")
    return job


def file_path(job: ExportJob) -> Path | None:
    if not job.stored_name:
        return None
    return Path(current_app.config["EXPORT_DIR"]) / job.stored_name


def available(job: ExportJob, now: datetime | None = None) -> bool:
    """Ready, not expired, and its file still on disk."""
    now = now or utcnow()
    path = file_path(job)
    return (
        job.state == ExportJobState.PRET
        and job.expires_at is not None
        and job.expires_at > now
        and path is not None
        and path.is_file()
    )


def queue_position(job: ExportJob) -> int:
    """How many exports wait before this one (0: it is next, or running)."""
    if job.state != ExportJobState.EN_ATTENTE:
        return 0
    return len(
        db.session.scalars(
            select(ExportJob.id).where(ExportJob.state == ExportJobState.EN_ATTENTE, ExportJob.id < job.id)
        ).all()
    )


# --- running (the scheduler process) ---------------------------------------------------------------------


def claim_next() -> ExportJob | None:
    """The oldest waiting job, marked running by an atomic conditional UPDATE (two schedulers never run the
    same job)."""
    while True:
        job_id = db.session.scalar(
            select(ExportJob.id)
            .where(ExportJob.state == ExportJobState.EN_ATTENTE)
            .order_by(ExportJob.id)
            .limit(1)
        )
        if job_id is None:
            return None
        claimed = db.session.execute(
            update(ExportJob)
            .where(ExportJob.id == job_id, ExportJob.state == ExportJobState.EN_ATTENTE)
            .values(state=ExportJobState.EN_COURS, started_at=utcnow())
        ).rowcount
        db.session.commit()
        if claimed:
            return db.session.get(ExportJob, job_id, populate_existing=True)


class _Progress:
    """Progress written on a connection of its own (the export's session keeps its transaction and its
    loaded rows): best effort, a failed update only delays the bar."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        url = db.engine.url
        # SQLite: one writer at a time, and the export's own session may hold the lock; no intermediate bar
        self.engine = None if url.get_backend_name() == "sqlite" else db.engine

    def __call__(self, done: int, total: int | None = None) -> None:
        if self.engine is None:
            return
        try:
            with self.engine.begin() as connection:
                values = {"rows_done": done} | ({"rows_total": total} if total is not None else {})
                connection.execute(update(ExportJob).where(ExportJob.id == self.job_id).values(**values))
        except Exception:  # noqa: BLE001 - progress is best effort
            log.warning("export job %s: progress not recorded", self.job_id, exc_info=True)


class _Sink:
    """What tabular.export_response() calls instead of answering, while a job replays its export."""

    def __init__(self, job: ExportJob, target: Path, progress: _Progress):
        self.job, self.target, self.progress = job, target, progress
        self.written = False
        self.rows = 0

    def _counted(self, rows):
        for row in rows:
            self.rows += 1
            if self.rows % PROGRESS_EVERY == 0:
                self.progress(self.rows)
            yield row

    def __call__(self, export: tabular.Export, fmt: str, machine: bool | None = None) -> Response:
        total = 0
        for sheet in export.sheets:
            total = total + len(sheet.rows) if total is not None and hasattr(sheet.rows, "__len__") else None
            sheet.rows = self._counted(sheet.rows)
        self.progress(0, total)
        partial = self.target.with_suffix(self.target.suffix + ".part")
        with partial.open("wb") as handle:
            tabular.write_file(export, fmt, handle, machine=bool(machine))
        partial.replace(self.target)
        self.written = True
        return Response(status=204)


def run(job: ExportJob) -> ExportJob:
    """Write the job's file (in the caller's app context), then mark it ready or failed, and commit."""
    app = current_app._get_current_object()
    directory = Path(app.config["EXPORT_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    stored = f"{job.id}-{secrets.token_hex(8)}.{job.fmt}"
    requester = db.session.get(User, job.requester_id) if job.requester_id else None
    sink = _Sink(job, directory / stored, _Progress(job.id))
    outcome: dict = {}

    def replay():
        try:
            # a context of its own (its `g`, its database session), so that nothing of the requester stays
            # in the scheduler's context once the file is written
            with app.app_context(), app.test_request_context(job.path):
                # the requester, as Flask-Login would have loaded them (an anonymous visitor otherwise)
                active = requester is not None and requester.active
                user = db.session.get(User, requester.id) if active else login_manager.anonymous_user()
                g._login_user = user
                g.export_sink = sink
                outcome["status"] = app.full_dispatch_request().status_code
        except Exception as error:  # noqa: BLE001 - the job fails, the scheduler goes on
            log.exception("export job %s failed", job.id)
            outcome["status"] = type(error).__name__

    nice = app.config.get("EXPORT_JOB_NICE", 0)
    if nice and hasattr(os, "setpriority"):
        # In a thread of its own at a lower CPU priority (Linux: a thread's own nice value), so that writing a
        # large workbook only takes the CPU the web workers leave; the thread ends with the export.
        def lowered():
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            except OSError:
                log.warning("export job %s: priority not lowered", job.id)
            replay()

        worker = threading.Thread(target=lowered, name=f"export-job-{job.id}")
        worker.start()
        worker.join()
    else:
        replay()
    status = outcome.get("status")
    job = db.session.get(ExportJob, job.id, populate_existing=True)
    now = utcnow()
    job.finished_at = now
    if sink.written:
        job.state = ExportJobState.PRET
        job.stored_name = stored
        job.size = (directory / stored).stat().st_size
        job.rows_done = sink.rows
        job.rows_total = sink.rows
        job.expires_at = now + timedelta(hours=app.config["EXPORT_KEEP_HOURS"])
    else:
        job.state = ExportJobState.ECHEC
        job.error = (
            "Vous n'avez plus accès à ces données."
            if status in (302, 303, 401, 403, 404)
            else "L'export n'a pas pu être produit."
        ) + f" ({status})"
    _tell(job, requester)
    db.session.commit()
    log.info("export job %s: %s (%s rows)", job.id, job.state, sink.rows)
    return job


def _tell(job: ExportJob, requester: User | None) -> None:
    """Audit the outcome and tell a signed-in requester (an anonymous visitor has only the job's page)."""
    ready = job.state == ExportJobState.PRET
    summary = f"{job.filename} : {'prêt' if ready else 'échec — ' + job.error}"
    audit.record(f"export_job.{'ready' if ready else 'failed'}", job, actor=None, summary=summary)
    if requester is None or not requester.active:
        return
    adapter = current_app.url_map.bind("localhost", script_name="/")  # no request here: BASE_URL in mails
    notifications.notify(
        requester,
        FINISHED.name,
        job,
        subject=f"Votre export « {job.title} » {'est prêt' if ready else 'a échoué'}",
        body=f"Le fichier {job.filename} est à télécharger avant le {format_datetime(job.expires_at)}."
        if ready
        else f"{job.error} Vous pouvez le demander à nouveau.",
        url=adapter.build("export_jobs.show", {"job_id": job.id}),
    )


def run_pending(now: datetime | None = None) -> str:
    """The scheduler's `exports.run` job: the waiting exports, one at a time, oldest first; no new one is
    started after TICK_SECONDS, so that the scheduler's other jobs get their turn (it runs one job at a
    time)."""
    done = []
    deadline = time.monotonic() + TICK_SECONDS
    while time.monotonic() < deadline and (job := claim_next()) is not None:
        done.append(run(job))
    if not done:
        return "aucun export en attente"
    ready = sum(1 for job in done if job.state == ExportJobState.PRET)
    return f"{ready} export(s) prêt(s), {len(done) - ready} en échec"


def purge_expired(now: datetime) -> int:
    """Delete the expired jobs and their files, and the failed ones older than the keeping time."""
    keep = timedelta(hours=current_app.config["EXPORT_KEEP_HOURS"])
    jobs = db.session.scalars(
        select(ExportJob).where(
            (ExportJob.expires_at < now)
            | ((ExportJob.state == ExportJobState.ECHEC) & (ExportJob.created_at < now - keep))
        )
    ).all()
    for job in jobs:
        path = file_path(job)
        if path is not None:
            path.unlink(missing_ok=True)
        db.session.delete(job)
    db.session.flush()
    return len(jobs)
