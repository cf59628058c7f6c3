"""Open-data exports (CSV ',' and ';', XLSX with a schema sheet, Table Schema) and in-app exports."""

import csv
import io

import pytest
from openpyxl import load_workbook

from app.extensions import db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def public_api(app):
    app.config["PUBLIC_API"] = True
    yield
    app.config["PUBLIC_API"] = False


def read_csv(response, delimiter=","):
    text = response.get_data().decode("utf-8")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=delimiter))


def test_open_data_follows_public_api(client, public_api):
    assert client.get("/exports/").status_code == 200
    assert client.get("/exports/donnees/opportunites.csv").status_code == 200


def test_open_data_needs_a_login_when_the_api_is_not_public(client):
    assert client.get("/exports/donnees/opportunites.csv").status_code == 302
    assert client.get("/exports/donnees/portefeuille.xlsx").status_code == 302


def test_csv_is_utf8_comma_separated_with_every_opportunity(client, public_api, make_user, login_as):
    response = client.get("/exports/donnees/opportunites.csv")
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert not response.get_data().startswith(b"\xef\xbb\xbf")
    rows = read_csv(response)
    assert len(rows) == 132 and rows[0]["code"] == "M001"
    assert {"code", "brique", "besoin", "statut", "priorite", "actions", "ministeres"} <= set(rows[0])
    login_as(make_user("dsi", ministry="MI"))
    assert "<strong>132</strong> opportunités" in client.get("/opportunites").get_data(as_text=True)


def test_semicolon_variant_has_a_bom_and_neutralises_formulas(client, public_api, make_opportunity):
    make_opportunity(brique='=HYPERLINK("http://x")', besoin="+1")
    response = client.get("/exports/donnees/opportunites-point-virgule.csv")
    assert response.get_data().startswith("\ufeffcode;".encode())
    rows = {r["code"]: r for r in read_csv(response, delimiter=";")}
    assert rows["M133"]["brique"] == '\'=HYPERLINK("http://x")' and rows["M133"]["besoin"] == "'+1"
    assert rows["M043"]["brique"] == read_csv(client.get("/exports/donnees/opportunites.csv"))[42]["brique"]


def test_workbook_has_one_sheet_per_file_plus_the_schema(client, public_api, make_opportunity):
    make_opportunity(brique="=1+1")
    response = client.get("/exports/donnees/portefeuille.xlsx")
    assert response.mimetype == XLSX
    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    assert workbook.sheetnames == ["opportunites", "actions", "soutiens", "guichets", "decisions", "schema"]
    opportunities = list(workbook["opportunites"].iter_rows(values_only=True))
    assert len(opportunities) == 1 + 133
    assert opportunities[-1][1] == "=1+1"  # kept as text, not turned into a formula
    schema = list(workbook["schema"].iter_rows(values_only=True))
    assert schema[0] == ("fichier", "colonne", "type", "description")
    assert ("opportunites", "priorite") in {(r[0], r[1]) for r in schema}
    statuses = [row[3] for row in opportunities[1:]]
    stats = client.get("/api/v1/stats").get_json()
    assert statuses.count("identifiee") == next(
        s["at_stage"] for s in stats["pipeline"] if s["status"] == "identifiee"
    )


def test_actions_and_backings_files(client, public_api):
    actions = read_csv(client.get("/exports/donnees/actions.csv"))
    assert len(actions) == 51
    action = next(a for a in actions if a["code"] == "2.1.1")
    assert {"M002", "M022", "M051"} <= set(action["opportunites"].split("|"))
    guichets = read_csv(client.get("/exports/donnees/guichets.csv"))
    assert {g["code"] for g in guichets} >= {"FTAP", "SNAP4"}


def test_schema_page_and_table_schema_describe_every_column(client, public_api):
    html = client.get("/exports/").get_data(as_text=True)
    assert "Colonnes du fichier opportunites.csv" in html and "<code>fusionnee_dans</code>" in html
    package = client.get("/exports/donnees/schema.json").get_json()
    by_name = {r["name"]: r for r in package["resources"]}
    header = list(read_csv(client.get("/exports/donnees/opportunites.csv"))[0])
    assert [f["name"] for f in by_name["opportunites"]["schema"]["fields"]] == header


def test_unknown_dataset_is_404(client, public_api):
    assert client.get("/exports/donnees/utilisateurs.csv").status_code == 404


def test_in_app_portfolio_export_follows_the_page_filters_and_access(
    client, make_user, login_as, make_opportunity
):
    assert client.get("/exports/opportunites.csv").status_code == 302  # same rule as /opportunites
    make_opportunity(brique="Écartée", state="ecartee", state_reason="Hors périmètre")
    login_as(make_user("porteur"))
    rows = read_csv(client.get("/exports/opportunites.csv?statut=ecartee&format=rfc4180"))
    assert [(r["code"], r["motif_statut"]) for r in rows] == [("M133", "Hors périmètre")]
    page = client.get("/opportunites?moscow=must").get_data(as_text=True)
    workbook = load_workbook(
        io.BytesIO(client.get("/exports/opportunites.xlsx?moscow=must").data), read_only=True
    )
    exported = len(list(workbook["Opportunités"].iter_rows(values_only=True))) - 1
    assert f"<strong>{exported}</strong> opportunit" in page


def test_exports_never_carry_personal_data(client, public_api, make_user, make_opportunity):
    author = make_user("dsi", ministry="MI", email="paul.zorglub@example.gouv.fr", usual_name="Zorglub")
    make_opportunity(brique="Proposée par un agent", created_by_id=author.id)
    for url in ("/exports/donnees/opportunites.csv", "/exports/donnees/soutiens.csv"):
        text = client.get(url).get_data(as_text=True)
        assert "zorglub" not in text.lower()
    workbook = load_workbook(
        io.BytesIO(client.get("/exports/donnees/portefeuille.xlsx").data), read_only=True
    )
    cells = {str(c) for sheet in workbook for row in sheet.iter_rows(values_only=True) for c in row}
    assert not any("zorglub" in c.lower() for c in cells)


@pytest.fixture
def decisions(make_user):
    """A published decision of CSIC-TECH and an unpublished one."""
    from datetime import UTC, datetime

    from app.extensions import db
    from app.models import Committee, Meeting
    from app.models.committees import AgendaItem, Decision, DecisionAmount

    committee = db.session.scalar(db.select(Committee).where(Committee.code == "CSIC-TECH"))
    held = Meeting(committee=committee, starts_at=datetime.now(UTC), state="pv_publie")
    draft = Meeting(committee=committee, starts_at=datetime.now(UTC), state="tenue")
    db.session.add_all([held, draft])
    db.session.flush()
    items = [
        AgendaItem(meeting_id=s.id, position=1, kind="libre", title=t)
        for s, t in ((held, "Point publié"), (draft, "Point en cours"))
    ]
    db.session.add_all(items)
    db.session.flush()
    published = Decision(
        item_id=items[0].id,
        meeting_id=held.id,
        committee_id=committee.id,
        outcome="adopte",
        mode="consensus",
        locked=True,
    )
    unpublished = Decision(
        item_id=items[1].id,
        meeting_id=draft.id,
        committee_id=committee.id,
        outcome="rejete",
        mode="consensus",
        locked=False,
    )
    db.session.add_all([published, unpublished])
    db.session.flush()
    db.session.add(DecisionAmount(decision_id=published.id, year=2026, ae=10_000, cp=5_000))
    db.session.commit()
    return published, unpublished


def test_open_data_decisions_are_the_published_ones(client, public_api, decisions):
    rows = read_csv(client.get("/exports/donnees/decisions.csv"))
    assert [(r["point"], r["ae_accordees"]) for r in rows] == [("Point publié", "10000")]
    api = client.get("/api/v1/decisions").get_json()
    assert len(rows) == api["meta"]["total"]
    workbook = load_workbook(
        io.BytesIO(client.get("/exports/donnees/portefeuille.xlsx").data), read_only=True
    )
    assert "decisions" in workbook.sheetnames


def test_in_app_decisions_follow_the_minutes_rule(client, make_user, login_as, decisions):
    login_as(make_user("porteur"))
    assert [
        r["point"] for r in read_csv(client.get("/exports/decisions.csv?comite=CSIC-TECH&format=rfc4180"))
    ] == ["Point publié"]
    assert client.get("/exports/decisions.csv?comite=NOPE").status_code == 404
    login_as(make_user("secretariat"))
    rows = read_csv(client.get("/exports/decisions.csv?format=rfc4180"))
    assert {(r["point"], r["publiee"]) for r in rows} == {("Point publié", "oui"), ("Point en cours", "non")}


def test_followup_export_lists_funded_dossiers_in_the_user_scope(client, make_user, login_as):
    from app.models.base import utcnow
    from tests.factories import make_dossier

    mine, other = make_user("porteur"), make_user("porteur")
    funded = {
        "state": "en_suivi",
        "submitted_at": utcnow(),
        "avis": "favorable",
        "decision_outcome": "accepte",
    }
    make_dossier(mine, "SNAP4", title="Financé", **funded)
    make_dossier(other, "SNAP4", title="Pas à moi", **funded)
    make_dossier(mine, "SNAP4", title="Encore en instruction", state="en_instruction", submitted_at=utcnow())
    login_as(mine)
    rows = read_csv(client.get("/exports/suivi.csv?format=rfc4180"))
    assert [(r["titre"], r["etat"]) for r in rows] == [("Financé", "En suivi")]
    workbook = load_workbook(io.BytesIO(client.get("/exports/suivi.xlsx").data), read_only=True)
    assert workbook.sheetnames == ["Suivi des dossiers", "Lisez-moi"]


def test_followup_export_matches_the_followup_page(client, make_user, login_as):
    """Consumed credits and savings (forecast and reported) are the totals of the follow-up page's tables."""
    from app.models.dossiers import SavingsAmount, SavingsLine
    from app.services import followup as followup_service
    from tests.factories import make_instructed_dossier

    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, state="en_suivi", decision_outcome="accepte")
    line = SavingsLine(position=1, nature="Licences", category="T3", programme="129")
    line.amounts = [SavingsAmount(year=2027, amount=60_000), SavingsAmount(year=2028, amount=40_000)]
    dossier.savings_lines = [line]
    db.session.commit()
    for year, ae, cp, saved in ((2027, 30_000, 20_000, 50_000), (2028, 5_000, 5_000, 45_000)):
        followup_service.report_consumption(dossier, year=year, ae=ae, cp=cp, actor=porteur)
        followup_service.report_savings(
            dossier, year=year, nature="Licences", amount=saved, explanation="Écart", actor=porteur
        )
    db.session.commit()
    follow = followup_service.followup(dossier)
    login_as(porteur)
    (row,) = read_csv(client.get("/exports/suivi.csv?format=rfc4180"))
    assert (
        (row["ae_consommees"], row["cp_consommes"])
        == (
            str(sum(c[3] for c in follow.consumption)),
            str(sum(c[4] for c in follow.consumption)),
        )
        == ("35000", "25000")
    )
    assert (
        (row["economies_prevues"], row["economies_constatees"])
        == (
            str(sum(s.forecast for s in follow.savings)),
            str(sum(s.reported or 0 for s in follow.savings)),
        )
        == ("100000", "95000")
    )
    sheet = load_workbook(io.BytesIO(client.get("/exports/suivi.xlsx").data), read_only=True).active
    header, values = list(sheet.iter_rows(values_only=True))
    assert dict(zip(header, values, strict=True))["Économies constatées"] == 95_000


def test_followup_export_queries_do_not_grow_with_the_dossiers(client, make_user, login_as, queries):
    from app.models.dossiers import SavingsAmount, SavingsLine
    from tests.factories import make_instructed_dossier

    porteur = make_user("porteur")

    def funded(title):
        dossier = make_instructed_dossier(porteur, title=title, state="en_suivi", decision_outcome="accepte")
        line = SavingsLine(position=1, nature="Licences", category="T3", programme="129")
        line.amounts = [SavingsAmount(year=2027, amount=10_000)]
        dossier.savings_lines = [line]
        db.session.commit()

    funded("Premier")
    login_as(porteur)
    with queries() as one:
        assert len(read_csv(client.get("/exports/suivi.csv?format=rfc4180"))) == 1
    for n in range(5):
        funded(f"Suivant {n}")
    with queries() as six:
        assert len(read_csv(client.get("/exports/suivi.csv?format=rfc4180"))) == 6
    assert len(six) == len(one)
