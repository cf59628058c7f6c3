"""The dashboard in Chromium: dsfr-chart components draw their canvases, every chart's data table is shown,
no CSP violation (the conftest's page fails the test on any), no serious or critical axe-core violation;
the open-data and API documentation pages pass axe too."""

import pytest

from .helpers import axe_check, sign_in

pytestmark = pytest.mark.e2e

CHARTS = ("chart-pipeline", "chart-priorities", "chart-guichets")
TABLES = ("table-pipeline", "table-exits", "table-priorities", "table-guichets")


def drawn_canvases(page) -> dict[str, bool]:
    """For each chart container: a canvas exists, has a size and is not blank."""
    return page.evaluate(
        """(ids) => Object.fromEntries(ids.map(id => {
            const canvas = document.querySelector(`#${id} canvas`);
            if (!canvas || !canvas.width || !canvas.height) return [id, false];
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = false;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) { painted = true; break; } }
            return [id, painted];
        }))""",
        list(CHARTS),
    )


def test_dashboard_charts_and_tables_render_without_csp_or_axe_violation(proconnect, page):
    sign_in(page, "secretariat@demo.gouv.fr")
    page.get_by_role("link", name="Tableau de bord").first.click()
    page.wait_for_url("**/tableau-de-bord")
    for chart in CHARTS:
        page.locator(f"#{chart} canvas").wait_for()
    page.wait_for_function(
        """(ids) => ids.every(id => { const c = document.querySelector(`#${id} canvas`);
                                     return c && c.width > 0 && c.height > 0; })""",
        arg=list(CHARTS),
    )
    page.wait_for_timeout(500)  # the charts' first frame
    assert drawn_canvases(page) == {chart: True for chart in CHARTS}
    for table in TABLES:
        assert page.locator(f"#{table} table").is_visible(), table
    funnel = page.locator("#table-pipeline tbody tr").first.inner_text()
    assert funnel.split("\t")[0].strip() == "Identifiée"
    # The chart is hidden from assistive technologies; its table carries the numbers.
    assert page.locator("#chart-pipeline").get_attribute("aria-hidden") == "true"
    axe_check(page)


def test_dashboard_tables_without_javascript(proconnect, new_page, page):
    sign_in(page, "porteur@demo.gouv.fr")
    cookies = page.context.cookies()
    plain = new_page(java_script_enabled=False)
    plain.context.add_cookies(cookies)
    plain.goto("/tableau-de-bord")
    assert plain.locator("#table-pipeline table").is_visible()
    assert plain.locator("#table-priorities table").is_visible()
    assert plain.locator("#table-exits").count() == 0  # the secretariat's section


@pytest.mark.parametrize("path", ["/api/", "/exports/"])
def test_open_data_pages_pass_axe(proconnect, page, path):
    sign_in(page, "dsi@demo.gouv.fr")
    page.goto(path)
    axe_check(page)
