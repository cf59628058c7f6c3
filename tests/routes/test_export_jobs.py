"""Background exports: above EXPORT_JOB_ROWS an XLSX/ODS export becomes a job (its page polls its progress),
written by the scheduler's job function, offered to its requester only, gone after EXPORT_KEEP_HOURS. A GET
never queues one (it offers to); a POST with its CSRF token does, once per requester while it is pending."""

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from app import tabular
from app.extensions import db
from app.models import AuditEntry, ExportJob, ExportJobState, Role
from app.models.base import utcnow
from app.services import export_jobs, retention
from app.services import users as users_service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def low_threshold(app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_JOB_ROWS", 50)  # the annex alone has 132 opportunities


def _job_id(response) -> int:
    assert response.status_code == 303, response.status_code
    return int(re.fullmatch(r".*/exports/travaux/(\d+)", response.headers["Location"]).group(1))


@pytest.fixture
def queue(client, csrf):
    """POST an export's URL as its page's form does: the job's id."""
    return lambda url: _job_id(client.post(url, data={"csrf_token": csrf(client)}))


def test_a_small_export_is_still_answered_at_once(client, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT))
    response = client.get("/exports/opportunites.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert db.session.query(ExportJob).count() == 0


def test_above_the_threshold_the_export_is_a_job_with_a_progress_page(
    client, login_as, make_user, low_threshold, queue
):
    secretariat = login_as(make_user(Role.SECRETARIAT))
    job_id = queue("/exports/opportunites.xlsx?tri=code")
    job = db.session.get(ExportJob, job_id)
    assert (job.state, job.requester_id, job.fmt) == (ExportJobState.EN_ATTENTE, secretariat.id, "xlsx")
    assert job.path == "/exports/opportunites.xlsx?tri=code" and job.filename == "opportunites.xlsx"

    page = client.get(f"/exports/travaux/{job_id}").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page and "<progress" in page and "En attente" in page
    assert "Télécharger" not in page
    assert client.get(f"/exports/travaux/{job_id}/fichier").status_code == 404  # not ready yet

    assert export_jobs.run_pending() == "1 export(s) prêt(s), 0 en échec"  # what the scheduler calls

    fragment = client.get(f"/exports/travaux/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'id="export-job"' in fragment
    assert "hx-trigger" not in fragment  # done: the polling stops
    assert 'aria-live="polite"' in fragment and "est prêt à être téléchargé" in fragment
    download = client.get(f"/exports/travaux/{job_id}/fichier")
    assert download.status_code == 200 and download.mimetype == XLSX
    assert "filename=opportunites.xlsx" in download.headers["Content-Disposition"]
    rows = list(
        load_workbook(io.BytesIO(download.data), read_only=True)["Opportunités"].iter_rows(values_only=True)
    )
    assert len(rows) == 1 + 132 and rows[1][0] == "M001"
    job = db.session.get(ExportJob, job_id)
    assert (job.state, job.rows_done, job.rows_total) == (ExportJobState.PRET, 132, 132)
    assert job.expires_at - job.finished_at == timedelta(hours=24)


def test_the_requester_is_told_when_the_file_is_ready(client, login_as, make_user, low_threshold, queue):
    from app.models import Notification

    secretariat = login_as(make_user(Role.SECRETARIAT))
    job_id = queue("/exports/opportunites.xlsx")
    export_jobs.run_pending()
    notice = db.session.scalar(db.select(Notification).where(Notification.user_id == secretariat.id))
    assert notice.subject.startswith("Votre export « ") and notice.subject.endswith(" » est prêt")
    assert notice.url == f"/exports/travaux/{job_id}" and "opportunites.xlsx" in notice.body
    assert "Votre export" in client.get("/notifications").get_data(as_text=True)
    actions = db.session.scalars(db.select(AuditEntry.action).where(AuditEntry.object_id == str(job_id)))
    assert {"export_job.requested", "export_job.ready"} <= set(actions)


def test_the_file_is_its_requesters_only(client, login_as, make_user, low_threshold, queue):
    login_as(make_user(Role.SECRETARIAT))
    job_id = queue("/exports/opportunites.ods")
    export_jobs.run_pending()
    assert client.get(f"/exports/travaux/{job_id}/fichier").status_code == 200
    login_as(make_user(Role.SECRETARIAT, email="autre.secretariat@test.gouv.fr"))
    assert client.get(f"/exports/travaux/{job_id}").status_code == 404
    assert client.get(f"/exports/travaux/{job_id}/fichier").status_code == 404


def test_an_anonymous_open_data_export_belongs_to_its_browser_session(
    app, client, low_threshold, monkeypatch, queue
):
    monkeypatch.setitem(app.config, "PUBLIC_API", True)
    job_id = queue("/exports/donnees/portefeuille.xlsx")
    assert db.session.get(ExportJob, job_id).requester_id is None
    export_jobs.run_pending()
    workbook = client.get(f"/exports/travaux/{job_id}/fichier")
    assert workbook.status_code == 200
    assert "schema" in load_workbook(io.BytesIO(workbook.data), read_only=True).sheetnames
    other = app.test_client()
    assert other.get(f"/exports/travaux/{job_id}").status_code == 404
    assert other.get(f"/exports/travaux/{job_id}/fichier").status_code == 404


def test_a_requester_who_lost_the_right_gets_a_failed_job(client, login_as, make_user, low_threshold, queue):
    secretariat = login_as(make_user(Role.SECRETARIAT))
    admin = make_user(Role.SECRETARIAT, email="admin.secretariat@test.gouv.fr")
    for i in range(60):
        db.session.add(make_user(Role.DSI, email=f"dsi{i}@test.gouv.fr", ministry="MI"))
    db.session.commit()
    job_id = queue("/admin/utilisateurs/export.xlsx")
    users_service.deactivate(secretariat, actor=admin)  # before the scheduler runs the job
    db.session.commit()
    export_jobs.run_pending()
    job = db.session.get(ExportJob, job_id)
    assert job.state == ExportJobState.ECHEC and "plus accès" in job.error
    assert export_jobs.file_path(job) is None


def test_an_expired_export_is_refused_then_purged(client, login_as, make_user, low_threshold, queue):
    login_as(make_user(Role.SECRETARIAT))
    job_id = queue("/exports/opportunites.xlsx")
    export_jobs.run_pending()
    job = db.session.get(ExportJob, job_id)
    path = export_jobs.file_path(job)
    assert path.is_file()
    job.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get(f"/exports/travaux/{job_id}/fichier").status_code == 404
    assert "a expiré" in client.get(f"/exports/travaux/{job_id}").get_data(as_text=True)
    assert "1 export(s) expiré(s) supprimé(s)" in retention.scheduled_purge(utcnow())
    assert db.session.get(ExportJob, job_id) is None and not path.exists()


def test_count_rows_keeps_the_rows_it_reads():
    sheet = tabular.Sheet("s", [tabular.Column("n", "n", tabular.Kind.INTEGER)], (i for i in range(10)))
    export = tabular.Export("e", "E", [sheet])
    assert tabular.count_rows(export, 3) == 4
    assert list(sheet.rows) == list(range(10))


def test_csv_is_streamed_row_by_row(client, login_as, make_user, low_threshold):
    login_as(make_user(Role.SECRETARIAT))
    response = client.get("/exports/opportunites.csv")  # above the threshold: CSV is streamed, not a job
    assert response.status_code == 200 and response.content_length is None  # sent as it is written
    assert (
        len(list(csv.reader(io.StringIO(response.get_data(as_text=True), newline=""), delimiter=";"))) == 133
    )


def test_a_large_portfolio_workbook_is_deferred_before_its_rows_are_built(
    client, login_as, make_user, low_threshold, monkeypatch, queue
):
    from app.queries import dashboard as figures

    def never(*args, **kwargs):
        raise AssertionError("the rows are built by the job, not by the request")

    login_as(make_user(Role.SECRETARIAT))
    monkeypatch.setattr(figures, "opportunity_public_rows", never)
    assert client.get("/exports/opportunites.xlsx").status_code == 200  # the page offering the job
    queue("/exports/opportunites.xlsx")


# --- a GET never queues a job: only a POST with its CSRF token does, once while it is pending -------------


def _jobs() -> int:
    return db.session.query(ExportJob).count()


def test_a_get_above_the_threshold_writes_nothing_and_offers_to_prepare_the_file(
    client, login_as, make_user, low_threshold
):
    login_as(make_user(Role.SECRETARIAT))
    for url in (
        "/exports/opportunites.xlsx?tri=code",
        "/opportunites/export.ods",
        "/exports/donnees/portefeuille.xlsx",
    ):
        audit_entries = db.session.query(AuditEntry).count()
        response = client.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "text/html", url
        assert _jobs() == 0 and db.session.query(AuditEntry).count() == audit_entries, url
    page = client.get("/exports/opportunites.xlsx?tri=code").get_data(as_text=True)
    assert "préparé en arrière-plan" in page and "Préparer l&#39;export" in page
    form = re.search(
        r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf_token" value="[^"]+">'
        r'\s*<button[^>]*id="export-job-prepare"',
        page,
    )
    assert form and form.group(1) == "/exports/opportunites.xlsx?tri=code"


def test_a_post_without_its_csrf_token_is_refused(client, login_as, make_user, low_threshold):
    login_as(make_user(Role.SECRETARIAT))
    response = client.post("/exports/opportunites.xlsx")
    assert response.status_code == 400 and "jeton de sécurité" in response.get_data(as_text=True)
    assert client.post("/exports/opportunites.xlsx", data={"csrf_token": "faux"}).status_code == 400
    assert _jobs() == 0


def test_a_post_queues_one_job_and_a_second_one_finds_it(
    client, csrf, login_as, make_user, low_threshold, queue
):
    secretariat = login_as(make_user(Role.SECRETARIAT))
    first = queue("/exports/opportunites.xlsx?tri=code")
    assert queue("/exports/opportunites.xlsx?tri=code") == first  # a double click, the form posted again
    assert _jobs() == 1
    assert db.session.query(AuditEntry).filter_by(action="export_job.requested").count() == 1
    # the export's page now links to it instead of offering a second one
    page = client.get("/exports/opportunites.xlsx?tri=code").get_data(as_text=True)
    assert f'href="/exports/travaux/{first}"' in page and "Préparer l&#39;export" not in page
    # another format, or another requester, is another job
    assert queue("/exports/opportunites.ods?tri=code") != first
    login_as(make_user(Role.SECRETARIAT, email="autre.secretariat@test.gouv.fr"))
    assert queue("/exports/opportunites.xlsx?tri=code") != first
    assert _jobs() == 3
    # once written, the same export asked again is a new job (the data may have changed)
    login_as(secretariat)
    export_jobs.run_pending()
    assert queue("/exports/opportunites.xlsx?tri=code") != first


def test_a_list_above_the_threshold_offers_its_workbooks_as_forms(client, login_as, make_user, low_threshold):
    login_as(make_user(Role.SECRETARIAT))
    page = client.get("/opportunites").get_data(as_text=True)  # 132 opportunities, above 50
    for fmt in ("xlsx", "ods"):
        assert re.search(rf'<form method="post" action="/opportunites/export\.{fmt}[^"]*"', page), fmt
    assert re.search(r'<a [^>]*href="/opportunites/export\.csv[^"]*"[^>]* download', page)  # CSV streams
    assert _jobs() == 0


def test_below_the_threshold_a_list_offers_links(client, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT))
    page = client.get("/opportunites").get_data(as_text=True)
    assert '<form method="post" action="/opportunites/export.' not in page
    assert re.search(r'<a [^>]*href="/opportunites/export\.xlsx', page)
