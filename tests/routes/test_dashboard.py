"""Dashboard: access, per-role sections, charts with their data tables, numbers that match the portfolio."""

import html
import json
import re

from app.extensions import db


def table_rows(page: str, table_id: str) -> dict[str, list[str]]:
    """{row header: [cells]} of the DSFR table with that id."""
    block = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", block, re.S):
        header = re.search(r"<th scope=\"row\">(.*?)</th>", row, re.S)
        if header:
            label = html.unescape(re.sub(r"<[^>]+>", "", header.group(1)).strip())
            rows[label] = re.findall(r"<td>(.*?)</td>", row, re.S)
    return rows


def chart_data(page: str, chart_id: str) -> tuple[list, list]:
    block = page.split(f'id="{chart_id}"', 1)[1].split("</div>", 1)[0]
    x = json.loads(re.search(r"x='([^']*)'", block).group(1))
    y = json.loads(re.search(r"y='([^']*)'", block).group(1))
    return x, y


def test_anonymous_is_sent_to_login(client):
    response = client.get("/tableau-de-bord")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_funnel_counts_opportunities_at_and_beyond_each_step(client, make_user, login_as, make_opportunity):
    make_opportunity(brique="Qualifiée", status="qualifiee")
    make_opportunity(brique="Lancée", status="lancee")
    make_opportunity(brique="Écartée", status="ecartee", status_reason="Hors périmètre")
    login_as(make_user("porteur"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    rows = table_rows(page, "table-pipeline")
    assert rows["Identifiée"] == [
        "132",
        "134",
    ]  # 132 + the two further along; the écartée one is not in the pipe
    assert rows["Qualifiée"] == ["1", "2"]
    assert rows["Lancée"] == ["1", "1"]
    labels, values = chart_data(page, "chart-pipeline")
    assert labels[0][0] == "Identifiée" and values == [[134, 2, 2, 1, 1, 1]]


def test_priorities_chart_and_table_agree_with_the_data(client, make_user, login_as, make_opportunity):
    make_opportunity(brique="Vitale", priority="must")
    login_as(make_user("dsi", ministry="MI"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    rows = table_rows(page, "table-priorities")
    assert rows["Must"][0] == "1"
    assert (
        sum(int(cells[1]) for cells in rows.values()) == 51
    )  # every action of the strategy, classified or not
    labels, values = chart_data(page, "chart-priorities")
    assert labels[0] == list(rows) and values[0] == [int(cells[0]) for cells in rows.values()]


def test_side_exits_are_shown_to_the_secretariat_only(client, make_user, login_as):
    login_as(make_user("porteur"))
    assert 'id="table-exits"' not in client.get("/tableau-de-bord").get_data(as_text=True)
    login_as(make_user("secretariat"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Fusionnée" in table_rows(page, "table-exits")


def test_charts_load_only_vendored_assets_and_no_inline_script(client, make_user, login_as):
    login_as(make_user("porteur"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "/static/vendor/dsfr-chart-2.0.4/DSFRChart.js" in page
    assert "/static/vendor/dsfr-chart-2.0.4/DSFRChart.css" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert " style=" not in page
    assert client.get("/static/vendor/dsfr-chart-2.0.4/DSFRChart.js").status_code == 200


def test_dashboard_queries_do_not_grow_with_the_portfolio(
    client, make_user, login_as, make_opportunity, queries
):
    login_as(make_user("secretariat"))
    client.get("/tableau-de-bord")
    with queries() as before:
        client.get("/tableau-de-bord")
    for _ in range(5):
        make_opportunity()
    db.session.expire_all()
    with queries() as after:
        client.get("/tableau-de-bord")
    assert len(after) == len(before)
