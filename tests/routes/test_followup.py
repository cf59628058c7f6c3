"""Follow-up pages under the dossier: access (404 outside the dossier's people), flags, the four report
forms (422 with the French message at the field and the input kept, 303 after a report), the savings table
against the forecast, and the former address answering 301."""

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.formatting import paris_today
from app.models.dossiers import DossierTransition, Jalon, SavingsAmount, SavingsLine
from app.models.followup import SavingsReport
from tests.factories import make_committee_meeting, make_instructed_dossier

HX = {"HX-Request": "true"}


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def post(client, csrf, url, data=None, headers=None):
    return client.post(url, data={"csrf_token": csrf(client), **(data or {})}, headers=headers or {})


@pytest.fixture
def secretariat(make_user):
    return make_user("secretariat")


def test_followup_page_access_flags_and_reports(client, csrf, login_as, secretariat, make_user):

    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, state="conventionne", decision_outcome="accepte")
    dossier.jalons = [Jalon(number=1, due_on=paris_today() - timedelta(days=3), description="Recette")]
    db.session.add(
        DossierTransition(
            dossier_id=dossier.id,
            from_state="decide",
            to_state="conventionne",
            created_at=datetime.now(UTC) - timedelta(days=200),
        )
    )
    db.session.commit()
    url = f"/dossiers/{dossier.id}/suivi"
    login_as(make_user("dsi", ministry="MI"))
    assert client.get(url).status_code == 404
    login_as(porteur)
    html = body(client.get(url))
    assert (
        "jalon n° 1 « Recette » en retard" in html
        and "aucun crédit consommé 6 mois après la signature" in html
    )
    response = post(client, csrf, f"{url}/consommation", {"year": "2027", "ae": "dix", "cp": "0"})
    assert response.status_code == 422
    assert "Le montant AE consommé doit être un nombre entier" in body(response) and 'value="dix"' in body(
        response
    )
    assert (
        post(client, csrf, f"{url}/consommation", {"year": "2027", "ae": "10000", "cp": "0"}).status_code
        == 303
    )
    html = body(client.get(url))
    assert "aucun crédit consommé" not in html and "jalon n° 1" in html
    # the secretariat sees the flag offered on the deciding committee's next meeting
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    login_as(secretariat)
    html = body(client.get(f"/comites/seances/{meeting.id}"))
    assert "Alertes de suivi des dossiers financés" in html and f"{dossier.reference} : jalon n° 1" in html
    response = post(
        client,
        csrf,
        f"/comites/seances/{meeting.id}/points",
        {"kind": "suivi", "dossier": str(dossier.id), "flags": [f"{dossier.reference} : jalon n° 1"]},
    )
    assert response.status_code == 303
    assert meeting.items[0].kind == "suivi"
    login_as(make_user("dsi", ministry="MI"))
    assert post(client, csrf, f"{url}/jalon", {"jalon": "1"}).status_code == 404


def test_followup_page_records_savings_and_shows_them_against_the_forecast(
    client, csrf, login_as, secretariat, make_user
):

    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, state="en_suivi", decision_outcome="accepte")
    line = SavingsLine(position=1, nature="Licences", category="T3", programme="129")
    line.amounts = [SavingsAmount(year=2027, amount=90_000)]
    dossier.savings_lines = [line]
    db.session.commit()
    url = f"/dossiers/{dossier.id}/suivi"
    login_as(porteur)
    html = body(client.get(url))
    assert "Économies prévues et constatées" in html and "non renseignées" in html
    assert '<option value="Licences">Licences</option>' in html
    data = {"year": "2027", "nature": "Licences", "amount": "beaucoup", "explanation": "PV"}
    response = post(client, csrf, f"{url}/economies", data)
    assert response.status_code == 422
    html = body(response)
    assert "Le montant des économies constatées doit être un nombre entier" in html
    assert 'value="beaucoup"' in html and 'value="PV"' in html
    data.update(amount="100 000", explanation="")
    response = post(client, csrf, f"{url}/economies", data)
    assert response.status_code == 422
    expected = "Expliquez l'écart avec la prévision du contrat (90\u202f000\u00a0€ prévus en 2027"
    assert expected in body(response)
    assert db.session.scalar(select(func.count(SavingsReport.id))) == 0
    data["explanation"] = "Un lot de licences supplémentaire résilié"
    assert post(client, csrf, f"{url}/economies", data).status_code == 303
    html = body(client.get(url))
    row = re.search(r'<tr id="economies-2027-1">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row)[1:] == [
        "90\u202f000\u00a0€",
        "100\u202f000\u00a0€",
        "10\u202f000\u00a0€",
        "Un lot de licences supplémentaire résilié",
    ]
    # a DSI member outside the dossier cannot report
    login_as(make_user("dsi", ministry="MI"))
    assert post(client, csrf, f"{url}/economies", data).status_code == 404


def test_the_former_address_answers_301_to_the_page_under_the_dossier(client, login_as, make_user):
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, state="conventionne", decision_outcome="accepte")
    login_as(porteur)
    response = client.get(f"/comites/suivi/{dossier.id}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/dossiers/{dossier.id}/suivi"
    assert "Suivi du dossier" in body(client.get(response.headers["Location"]))
    # a dossier the user may not see is not revealed by the former address either
    login_as(make_user("dsi", ministry="MI"))
    assert client.get(f"/comites/suivi/{dossier.id}").status_code == 404


def test_the_dossier_page_links_to_its_follow_up_and_the_forms_are_dsfr_fields(
    client, csrf, login_as, make_user
):
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, state="en_suivi", decision_outcome="accepte")
    login_as(porteur)
    assert f'href="/dossiers/{dossier.id}/suivi"' in body(client.get(f"/dossiers/{dossier.id}"))
    response = post(
        client, csrf, f"/dossiers/{dossier.id}/suivi/consommation", {"year": "", "ae": "1", "cp": "1"}
    )
    assert response.status_code == 422
    html = body(response)
    assert (
        'id="consommation-year" name="year"' in html
        and 'aria-describedby="consommation-year-messages"' in html
    )
    assert "L'année est obligatoire." in html


def test_an_htmx_report_is_redirected_with_hx_redirect(client, csrf, login_as, make_user):
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, state="en_suivi", decision_outcome="accepte")
    login_as(porteur)
    data = {"year": "2027", "ae": "0", "cp": "0"}
    response = post(client, csrf, f"/dossiers/{dossier.id}/suivi/consommation", data, headers=HX)
    assert response.headers["HX-Redirect"] == f"/dossiers/{dossier.id}/suivi#consommation"


def test_yearly_targets_show_a_status_per_year_and_qualitative_ones_none(client, csrf, login_as, make_user):
    """[001] §5.2 « une cible pour chaque année »: last year's target missed (en retard), this year's reached
    by the value the porteur reports through the form (atteinte), a qualitative target shown as such."""
    from app.models.dossiers import DossierIndicator, IndicatorTarget

    porteur = make_user("porteur")
    year = paris_today().year
    dossier = make_instructed_dossier(
        porteur, state="en_suivi", decision_outcome="accepte", start_year=year - 1
    )
    indicator = DossierIndicator(position=0, objective="Adoption", indicator="Usagers", current_value="0")
    indicator.targets = [
        IndicatorTarget(year=year - 1, value="1 000 usagers"),
        IndicatorTarget(year=year, value="5 000 (10 % du public)"),
        IndicatorTarget(year=year + 1, value="Généralisation"),
    ]
    dossier.indicators = [indicator]
    db.session.commit()
    url = f"/dossiers/{dossier.id}/suivi"
    login_as(porteur)
    refused = post(
        client, csrf, f"{url}/indicateur", {"indicator": indicator.id, "reported_on": "", "value": "6 000"}
    )
    assert refused.status_code == 422 and 'value="6 000"' in body(refused)
    response = post(
        client,
        csrf,
        f"{url}/indicateur",
        {"indicator": indicator.id, "reported_on": paris_today().isoformat(), "value": "6 000"},
    )
    assert response.status_code == 303
    html = body(client.get(url))

    def row(y):
        return html.split(f'id="target-{indicator.id}-{y}"')[1].split("</tr>")[0]

    assert (
        "1 000 usagers" in row(year - 1) and "En retard" in row(year - 1) and "aucune valeur" in row(year - 1)
    )
    assert "5 000 (10 % du public)" in row(year) and "6 000" in row(year) and "Atteinte" in row(year)
    assert "Généralisation" in row(year + 1) and "cible qualitative" in row(year + 1)
    assert "fr-badge" not in row(year + 1)
