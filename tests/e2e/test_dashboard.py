"""The dashboard in Chromium: dsfr-chart components draw their canvases, every chart's data table is shown,
no CSP violation (the conftest's page fails the test on any), no serious or critical axe-core violation;
the open-data and API documentation pages pass axe too."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import delete, select

from app.extensions import db
from app.models import AuditEntry, Organisation, Role, User, UserRole

from .helpers import axe_check

pytestmark = pytest.mark.e2e


@pytest.fixture
def agents(live_app):
    """A secretariat member, a porteur and a DSI member in the live database, removed afterwards."""
    ids = {}
    with live_app.app_context():
        ministry = db.session.scalar(select(Organisation.id).where(Organisation.code == "MI"))
        for role in (Role.SECRETARIAT, Role.PORTEUR, Role.DSI):
            user = User(email=f"e2e-tableau-{role}@example.gouv.fr", given_name="Agent", usual_name=str(role))
            user.roles.append(UserRole(role=role, organisation_id=ministry if role == Role.DSI else None))
            db.session.add(user)
            db.session.flush()
            ids[str(role)] = user.id
        db.session.commit()
    yield ids
    with live_app.app_context():
        for user_id in ids.values():
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(UserRole).where(UserRole.user_id == user_id))
            db.session.execute(delete(User).where(User.id == user_id))
        db.session.commit()


@pytest.fixture
def funded(live_app, agents):
    """A dossier en suivi with forecast savings, consumed credits and reported savings; removed afterwards."""
    from app.models import Guichet
    from app.models.base import utcnow
    from app.models.dossiers import Dossier, SavingsAmount, SavingsLine
    from app.models.followup import CreditConsumption, SavingsReport

    with live_app.app_context():
        dossier = Dossier(
            guichet_id=db.session.scalar(select(Guichet.id).where(Guichet.code == "FTAP-DINUM-OPI")),
            created_by_id=agents["porteur"],
            title="Tableau de bord : dossier financé",
            state="en_suivi",
            avis="favorable",
            decision_outcome="accepte",
            submitted_at=utcnow(),
            start_year=2027,
        )
        line = SavingsLine(position=1, nature="Licences", category="T3", programme="129")
        line.amounts = [SavingsAmount(year=2027, amount=120_000)]
        dossier.savings_lines = [line]
        db.session.add(dossier)
        db.session.flush()
        db.session.add(CreditConsumption(dossier_id=dossier.id, year=2027, ae=50_000, cp=30_000))
        db.session.add(SavingsReport(dossier_id=dossier.id, year=2027, nature="Licences", amount=90_000))
        db.session.commit()
        dossier_id = dossier.id
    yield dossier_id
    with live_app.app_context():
        for model in (CreditConsumption, SavingsReport):
            db.session.execute(delete(model).where(model.dossier_id == dossier_id))
        db.session.execute(delete(Dossier).where(Dossier.id == dossier_id))
        db.session.commit()


def signed_in(new_page, live_app, base_url, user_id, **options):
    """A page whose browser context carries the session cookie of `user_id` (the ProConnect journey itself is
    tested elsewhere)."""
    client = live_app.test_client()
    with client.session_transaction() as session_data:
        session_data["_user_id"] = str(user_id)
        session_data["_fresh"] = True
    page = new_page(**options)
    cookie = client.get_cookie(live_app.config["SESSION_COOKIE_NAME"])
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return page


CHARTS = ("chart-pipeline", "chart-priorities", "chart-guichets", "chart-amounts", "chart-savings")
TABLES = (
    "table-pipeline",
    "table-exits",
    "table-priorities",
    "table-guichets",
    "table-amounts",
    "table-savings",
)


# For each chart container: a canvas exists, has a size and is not blank.
DRAWN_CANVASES = """(ids) => Object.fromEntries(ids.map(id => {
    const canvas = document.querySelector(`#${id} canvas`);
    if (!canvas || !canvas.width || !canvas.height) return [id, false];
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = false;
    for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) { painted = true; break; } }
    return [id, painted];
}))"""


def drawn_canvases(page) -> dict[str, bool]:
    """For each chart container: a canvas exists, has a size and is not blank."""
    return page.evaluate(DRAWN_CANVASES, list(CHARTS))


def wait_until_drawn(page) -> None:
    """Wait for every chart's first frame: each canvas has painted pixels (no fixed delay). On a timeout
    the caller's assertion on drawn_canvases() names the blank charts."""
    try:
        page.wait_for_function(
            f"(ids) => Object.values(({DRAWN_CANVASES})(ids)).every(Boolean)", arg=list(CHARTS)
        )
    except PlaywrightTimeoutError:
        pass


def test_dashboard_charts_and_tables_render_without_csp_or_axe_violation(
    new_page, live_app, base_url, agents, funded
):
    page = signed_in(new_page, live_app, base_url, agents["secretariat"])
    page.goto("/")
    page.get_by_role("link", name="Tableau de bord").first.click()
    page.wait_for_url("**/tableau-de-bord")
    for chart in CHARTS:
        page.locator(f"#{chart} canvas").wait_for()
    wait_until_drawn(page)
    assert drawn_canvases(page) == {chart: True for chart in CHARTS}
    for table in TABLES:
        assert page.locator(f"#{table} table").is_visible(), table
    funnel = page.locator("#table-pipeline tbody tr").first.inner_text()
    assert funnel.split("\t")[0].strip() == "Identifiée"
    savings = page.locator("#table-savings tbody tr", has_text="2027").inner_text().split("\t")
    assert [cell.strip() for cell in savings[2:4]] == ["120\u202f000\u00a0€", "90\u202f000\u00a0€"]
    # The chart is hidden from assistive technologies; its table carries the numbers.
    assert page.locator("#chart-pipeline").get_attribute("aria-hidden") == "true"
    axe_check(page)


def test_dashboard_tables_without_javascript(new_page, live_app, base_url, agents):
    plain = signed_in(new_page, live_app, base_url, agents["porteur"], java_script_enabled=False)
    plain.goto("/tableau-de-bord")
    assert plain.locator("#table-pipeline table").is_visible()
    assert plain.locator("#table-priorities table").is_visible()
    assert plain.locator("#table-exits").count() == 0  # the secretariat's section


@pytest.mark.parametrize("path", ["/api/", "/exports/"])
def test_open_data_pages_pass_axe(new_page, live_app, base_url, agents, path):
    page = signed_in(new_page, live_app, base_url, agents["dsi"])
    page.goto(path)
    axe_check(page)
