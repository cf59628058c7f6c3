"""Background exports (/exports/travaux/<id>): the page of a large XLSX/ODS export being written by the
scheduler process, its progress fragment (polled by htmx every 2 s until the file is ready) and the file,
for its requester only (permissions.can_see_export_job; anyone else gets a 404).

The export routes (tabular.EXPORT_METHODS) call `defer` through app/tabular.py above EXPORT_JOB_ROWS rows:
a GET writes nothing (a link, a bookmark or a crawler never queues a job) and answers with a page that
offers to prepare the file; its form, or a list's export button above the threshold, POSTs (CSRF) to the
same URL, which queues the job (or finds the one already pending) and redirects to its page."""

import secrets

from flask import Blueprint, abort, redirect, request, send_file, session, url_for
from flask_login import current_user

from .. import permissions, tabular
from ..extensions import db
from ..htmx import render
from ..models import ExportJob
from ..services import export_jobs as service

bp = Blueprint("export_jobs", __name__, url_prefix="/exports/travaux")
TOKEN_KEY = "export_jobs_token"


def _session_token(create: bool = False) -> str | None:
    """The anonymous visitor's export token, kept in the server-side session."""
    token = session.get(TOKEN_KEY)
    if token is None and create:
        token = session[TOKEN_KEY] = secrets.token_urlsafe(24)
    return token


def defer(export: tabular.Export, fmt: str):
    """A GET: the page offering to prepare this export in the background. A POST: the job for this
    request's URL (replayed by the job as a GET), queued unless the requester already has it pending, and
    its page."""
    signed_in = current_user.is_authenticated
    path = request.full_path.rstrip("?")
    filename = f"{export.basename}.{fmt}"
    if request.method != "POST":
        pending = service.pending_export(
            path=path,
            fmt=fmt,
            actor=current_user if signed_in else None,
            session_token=None if signed_in else _session_token(),
        )
        return render(
            "export_jobs/prepare.html", title=export.title, filename=filename, action=path, pending=pending
        )
    job = service.request_export(
        path=path,
        fmt=fmt,
        title=export.title,
        filename=filename,
        actor=current_user if signed_in else None,
        session_token=None if signed_in else _session_token(create=True),
    )
    db.session.commit()
    return redirect(url_for("export_jobs.show", job_id=job.id), 303)


tabular.set_deferral(defer)


def _job(job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None or not permissions.can_see_export_job(current_user, job, _session_token()):
        abort(404)
    return job


def _context(job: ExportJob) -> dict:
    return {
        "job": job,
        "available": service.available(job),
        "position": service.queue_position(job),
    }


@bp.get("/<int:job_id>")
@permissions.public  # the requester only: the view's own check (anonymous open-data exports included)
def show(job_id: int):
    return render("export_jobs/show.html", block="progress", **_context(_job(job_id)))


@bp.get("/<int:job_id>/fichier")
@permissions.public  # the requester only, as its page
def download(job_id: int):
    job = _job(job_id)
    if not service.available(job):
        abort(404)
    mimetype = (
        tabular.XLSX_MIME if job.fmt == "xlsx" else tabular.ODS_MIME if job.fmt == "ods" else tabular.CSV_MIME
    )
    return send_file(
        service.file_path(job), mimetype=mimetype, as_attachment=True, download_name=job.filename
    )
