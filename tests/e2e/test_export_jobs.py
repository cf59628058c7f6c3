"""A large export in the browser: the list's XLSX button (a form above EXPORT_JOB_ROWS) queues the job and
opens its page, which follows the progress until the file is offered; the export's URL opened as a link
offers to prepare it and queues nothing by itself (axe on each page)."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import ExportJob
from app.services import export_jobs

from .helpers import axe_check, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def low_threshold(live_app, monkeypatch):
    monkeypatch.setitem(live_app.config, "EXPORT_JOB_ROWS", 50)  # the annex alone has 132 opportunities
    yield
    with live_app.app_context():
        db.session.execute(delete(ExportJob))
        db.session.commit()


def _jobs(live_app) -> int:
    with live_app.app_context():
        return db.session.scalar(select(func.count(ExportJob.id)))


def test_a_large_workbook_is_prepared_in_the_background(live_app, proconnect, page, low_threshold):
    sign_in(page, "secretariat@demo.gouv.fr")
    page.goto("/opportunites/export.xlsx")  # a link, a bookmark: the page offers the job, queues nothing
    expect(page.get_by_role("heading", level=1)).to_contain_text("Export")
    axe_check(page, "main")
    assert _jobs(live_app) == 0

    page.goto("/opportunites")
    page.get_by_role("button", name=re.compile("^Exporter en XLSX")).click()
    page.wait_for_url(re.compile(r"/exports/travaux/\d+$"))
    expect(page.locator("#export-job")).to_contain_text("En attente")
    axe_check(page, "main")
    assert _jobs(live_app) == 1

    with live_app.app_context():
        export_jobs.run_pending()  # what the scheduler process does
    expect(page.get_by_role("link", name=re.compile("^Télécharger"))).to_be_visible(timeout=10_000)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Télécharger")).click()
    assert download.value.suggested_filename.endswith(".xlsx")
