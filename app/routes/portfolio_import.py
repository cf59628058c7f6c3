"""Import of opportunities in the web UI (secretariat): upload a CSV/XLSX/ODS file, preview what will be
created, updated and left unchanged (with line-numbered errors), then confirm. All or nothing, through the
same service as `flask portfolio import` (services/portfolio.import_rows)."""

import tempfile
from pathlib import Path

from flask import abort, current_app, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer

from .. import permissions
from ..forms.portfolio_import import ImportConfirmForm, ImportUploadForm
from ..htmx import render
from ..models import Role
from ..services import portfolio as service
from ..tabular import PORTFOLIO_COLUMNS, TableError, read_table
from .actions import perform
from .portfolio import bp

MAX_ROWS = 5000
ACCEPTED = (".csv", ".xlsx", ".ods")


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="portfolio-import")


def _rows_from_upload(storage) -> list[tuple[int, dict]]:
    """(line, {code, brique, besoin}) from the uploaded file; TableError with a French message otherwise."""
    suffix = Path(storage.filename or "").suffix.lower()
    if suffix not in ACCEPTED:
        raise TableError("Format non pris en charge : utilisez un fichier .csv, .xlsx ou .ods.")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"import{suffix}"
        storage.save(path)
        header, rows = read_table(path)
    missing = [c for c in PORTFOLIO_COLUMNS if c not in header]
    if missing:
        raise TableError("Colonnes manquantes : " + ", ".join(missing) + ".")
    if len(rows) > MAX_ROWS:
        raise TableError(f"Le fichier compte {len(rows)} lignes : {MAX_ROWS} au plus par import.")
    return [(line, {c: row.get(c) or "" for c in PORTFOLIO_COLUMNS}) for line, row in rows]


def _page(status=200, **context):
    context.setdefault("form", ImportUploadForm())
    context.setdefault("report", None)
    context.setdefault("confirm", None)
    context.setdefault("filename", "")
    return render("portfolio/import.html", status=status, **context)


@bp.route("/import", methods=["GET", "POST"])
@permissions.requires_role(Role.SECRETARIAT)
def import_upload():
    if not permissions.can_import_portfolio(current_user):
        abort(403)
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _page(422 if form.is_submitted() else 200, form=form)
    storage = form.file.data
    try:
        rows = _rows_from_upload(storage)
    except TableError as error:
        form.file.errors = [str(error)]
        return _page(422, form=form)
    report = service.preview_import(rows)
    if report.rejected:
        return _page(422, form=form, report=report, filename=storage.filename)
    confirm = ImportConfirmForm(formdata=None, payload=_signer().dumps(rows))
    return _page(
        form=ImportUploadForm(formdata=None), report=report, confirm=confirm, filename=storage.filename
    )


@bp.post("/import/confirmer")
@permissions.requires_role(Role.SECRETARIAT)
def import_confirm():
    if not permissions.can_import_portfolio(current_user):
        abort(403)
    confirm = ImportConfirmForm()
    rows = None
    if confirm.validate_on_submit():
        try:
            rows = [(int(line), dict(row)) for line, row in _signer().loads(confirm.payload.data)]
        except (BadSignature, TypeError, ValueError):
            rows = None
    if rows is None:
        form = ImportUploadForm(formdata=None)
        form.file.errors = ["L'aperçu a expiré ou a été modifié : déposez le fichier à nouveau."]
        return _page(422, form=form)

    def refused(error):
        report = getattr(error, "report", None)
        form = ImportUploadForm(formdata=None)
        if report is None:
            form.file.errors = [error.message]
        return _page(error.status_code, form=form, report=report)

    return perform(
        lambda: service.import_rows(rows, actor=current_user),
        success=lambda report: f"Import terminé : {report.summary()}.",
        location=url_for("portfolio.index"),
        refused=refused,
    )
