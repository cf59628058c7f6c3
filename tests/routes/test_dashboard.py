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
    make_opportunity(brique="Qualifiée", state="retenue_criblage")
    make_opportunity(brique="Lancée", state="lancee")
    make_opportunity(brique="Écartée", state="ecartee", state_reason="Hors périmètre")
    login_as(make_user("porteur"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    rows = table_rows(page, "table-pipeline")
    assert rows["Identifiée"] == [
        "132",
        "134",
    ]  # 132 + the two further along; the écartée one is not in the pipe
    assert rows["Retenue au criblage"] == ["1", "2"]
    assert rows["Lancée"] == ["1", "1"]
    labels, values = chart_data(page, "chart-pipeline")
    assert labels[0][0] == "Identifiée" and values == [[134, 2, 2, 1, 1, 1, 1]]


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


def test_pending_actions_votes_dossiers_to_instruct_and_complements(client, make_user, login_as):
    from app.models.base import utcnow
    from tests.factories import make_campaign, make_dossier, make_instructor

    porteur = make_user("porteur")
    waiting = make_dossier(
        porteur, "SNAP4", title="Dossier à compléter", state="complements_demandes", submitted_at=utcnow()
    )
    make_dossier(porteur, "SNAP4", title="Dossier déposé", state="depose", submitted_at=utcnow())
    make_dossier(porteur, "SNAP4", title="Brouillon invisible")
    login_as(porteur)
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Compléter : Dossier à compléter" in page and f"/dossiers/{waiting.id}" in page

    login_as(make_instructor("SNAP4"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Instruire : Dossier déposé" in page and "Brouillon invisible" not in page

    campaign = make_campaign(title="Campagne ouverte")
    login_as(make_user("dsi", ministry="MI"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Voter : Campagne ouverte" in page and "3 opportunités sans vote" in page
    assert f'href="/campagnes/{campaign.id}"' in page
    assert "Participation à la campagne « Campagne ouverte »" in page
    assert "MI" in table_rows(page, "table-participation")


def test_pending_dossiers_are_limited_with_a_link_to_the_whole_list(client, make_user, login_as, monkeypatch):
    """Beyond PENDING_DOSSIERS per kind, the dashboard links to the paginated list that holds them all."""
    from app.models.base import utcnow
    from app.queries import dashboard as figures
    from tests.factories import make_dossier, make_instructor

    monkeypatch.setattr(figures, "PENDING_DOSSIERS", 2)
    porteur = make_user("porteur")
    for i in range(3):
        make_dossier(porteur, "SNAP4", title=f"Déposé {i}", state="depose", submitted_at=utcnow())
        make_dossier(
            porteur, "SNAP4", title=f"À compléter {i}", state="complements_demandes", submitted_at=utcnow()
        )
    login_as(porteur)
    page = html.unescape(client.get("/tableau-de-bord").get_data(as_text=True))
    assert page.count("Compléter : À compléter") == 2
    assert '<a href="/dossiers">Voir tous mes dossiers</a>' in page
    assert "À compléter 2" in html.unescape(client.get("/dossiers").get_data(as_text=True))

    login_as(make_instructor("SNAP4"))
    page = html.unescape(client.get("/tableau-de-bord").get_data(as_text=True))
    assert page.count("Instruire : Déposé") == 2
    assert '<a href="/dossiers/instruction">Voir tous les dossiers à instruire</a>' in page
    assert "Voir tous mes dossiers" not in page  # the instructeur carries none
    assert "Déposé 2" in html.unescape(client.get("/dossiers/instruction").get_data(as_text=True))


def test_dossiers_by_guichet_and_state_follow_the_dossier_scope(client, make_user, login_as):
    from app.models.base import utcnow
    from tests.factories import make_dossier

    mine, other = make_user("porteur"), make_user("porteur")
    make_dossier(mine, "SNAP4", state="depose", submitted_at=utcnow())
    make_dossier(other, "FTAP-LEAN", state="depose", submitted_at=utcnow())
    login_as(mine)
    rows = table_rows(client.get("/tableau-de-bord").get_data(as_text=True), "table-dossiers")
    assert rows == {"SNAP4": ["Déposé", "1"]}
    login_as(make_user("secretariat"))
    rows = table_rows(client.get("/tableau-de-bord").get_data(as_text=True), "table-dossiers")
    assert {"SNAP4", "FTAP-LEAN"} <= set(rows)


def test_amounts_requested_and_granted_by_year_for_the_secretariat(client, make_user, login_as):
    from datetime import UTC, datetime

    from app.models import Committee, Meeting
    from app.models.committees import AgendaItem, Decision, DecisionAmount
    from tests.factories import complete_dossier, make_dossier

    porteur = make_user("porteur")
    dossier = make_dossier(porteur, "FTAP-DINUM-OPI", start_year=2026)
    complete_dossier(dossier, porteur, ftap_ae=600_000)
    dossier.state, dossier.submitted_at = "depose", datetime.now(UTC)
    committee = db.session.scalar(db.select(Committee).where(Committee.code == "CSIC-TECH"))
    held = Meeting(committee=committee, starts_at=datetime.now(UTC), state="pv_publie")
    db.session.add(held)
    db.session.flush()
    item = AgendaItem(meeting_id=held.id, position=1, kind="dossier", title="Dossier", dossier_id=dossier.id)
    db.session.add(item)
    db.session.flush()
    decision = Decision(
        item_id=item.id,
        meeting_id=held.id,
        committee_id=committee.id,
        outcome="accepte",
        mode="consensus",
        locked=True,
    )
    db.session.add(decision)
    db.session.flush()
    db.session.add(DecisionAmount(decision_id=decision.id, year=2026, ae=450_000, cp=300_000))
    db.session.commit()
    login_as(make_user("porteur"))
    assert 'id="table-amounts"' not in client.get("/tableau-de-bord").get_data(as_text=True)
    login_as(make_user("secretariat"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    rows = table_rows(page, "table-amounts")
    assert rows["2026"][:2] == ["600\u202f000\u00a0€", "450\u202f000\u00a0€"]
    assert rows["2026"][4] == "300\u202f000\u00a0€"
    assert "2026" in table_rows(page, "table-savings")


def test_consumed_credits_and_reported_savings_by_year(client, make_user, login_as):
    """Consumed AE/CP join the amounts chart; reported savings are compared with the forecast of the dossiers
    under contract, and the table also gives the forecast of every submitted dossier."""
    from app.models.dossiers import SavingsAmount, SavingsLine
    from app.services import followup as committee_service
    from tests.factories import make_instructed_dossier

    def forecast(dossier, amount):
        line = SavingsLine(position=1, nature="Licences", category="T3", programme="129")
        line.amounts = [SavingsAmount(year=2027, amount=amount)]
        dossier.savings_lines = [line]

    porteur = make_user("porteur")
    signed = make_instructed_dossier(porteur, state="en_suivi", decision_outcome="accepte")
    pending = make_instructed_dossier(porteur, title="Pas encore décidé")
    forecast(signed, 200_000)
    forecast(pending, 50_000)
    db.session.commit()
    committee_service.report_consumption(signed, year=2027, ae="70 000", cp="40 000", actor=porteur)
    committee_service.report_savings(
        signed, year=2027, nature="Licences", amount="150 000", explanation="Retard", actor=porteur
    )
    db.session.commit()
    login_as(make_user("secretariat"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    amounts = table_rows(page, "table-amounts")["2027"]
    assert (amounts[2], amounts[5]) == ("70\u202f000\u00a0€", "40\u202f000\u00a0€")
    x, y = chart_data(page, "chart-amounts")
    assert x[0] == ["2027"] and y[2] == [70_000] and y[5] == [40_000]
    assert table_rows(page, "table-savings")["2027"] == [
        "250\u202f000\u00a0€",
        "200\u202f000\u00a0€",
        "150\u202f000\u00a0€",
        "75 %",
    ]
    assert chart_data(page, "chart-savings")[1] == [[200_000], [150_000]]
    # the T2 helper's row is part of a dossier's forecast, as on the dossier page
    from app.models.dossiers import StaffSaving

    signed.staff_savings = [StaffSaving(category="A", year=2027, jobs=1, average_cost=70_000)]
    db.session.commit()
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert table_rows(page, "table-savings")["2027"][:2] == ["320\u202f000\u00a0€", "270\u202f000\u00a0€"]
    # a year with a forecast and nothing reported yet: no realisation rate
    signed.savings_lines[0].amounts.append(SavingsAmount(year=2028, amount=300_000))
    db.session.commit()
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert table_rows(page, "table-savings")["2028"][2:] == ["non renseignées", "—"]
    login_as(porteur)
    assert 'id="table-savings"' not in client.get("/tableau-de-bord").get_data(as_text=True)


def test_upcoming_sessions_visible_to_the_user(client, make_user, login_as):
    from datetime import UTC, datetime, timedelta

    from tests.factories import make_committee_meeting

    make_committee_meeting(
        "CSIC-TECH",
        title="Séance publique",
        state="odj_publie",
        starts_at=datetime.now(UTC) + timedelta(days=2),
    )
    make_committee_meeting(
        "CSIC-TECH",
        title="Séance en préparation",
        state="planifiee",
        starts_at=datetime.now(UTC) + timedelta(days=1),
    )
    login_as(make_user("porteur"))
    page = client.get("/tableau-de-bord").get_data(as_text=True)
    assert "Séance publique" in page and "Séance en préparation" not in page


def test_the_secretariat_dashboard_costs_the_same_statements_with_more_dossiers_awaiting_complements(
    client, make_user, login_as, queries
):
    from app.models.base import utcnow
    from tests.factories import make_dossier

    porteur = make_user("porteur")
    login_as(make_user("secretariat"))

    def awaiting(n):
        for i in range(n):
            make_dossier(
                porteur,
                "SNAP4",
                title=f"À compléter {i}",
                state="complements_demandes",
                submitted_at=utcnow(),
            )
        db.session.commit()
        client.get("/tableau-de-bord")
        with queries() as statements:
            page = client.get("/tableau-de-bord").get_data(as_text=True)
        return len(statements), page

    few, _ = awaiting(1)
    many, page = awaiting(8)
    assert many == few
    assert "Compléter : À compléter" not in page  # the secretariat does not carry them
