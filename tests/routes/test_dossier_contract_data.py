"""The contract's remaining content through the HTTP forms and in the dossier PDF: the HUB contract's
signatories ([001] last page), its indicators with a target per year ([001] §5.2), its savings in AE and CP
([001] §3), redeployed T2 jobs and additional revenue ([000] annex II, §4.2.3)."""

import html as htmllib
import io

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models import Role
from tests.factories import (
    HUB_SIGNATORIES,
    LEAN_SIGNATURE,
    hub_indicator_rows,
    hub_signatory_rows,
    make_hub_dossier,
    make_user,
)

HX = {"HX-Request": "true"}


@pytest.fixture
def porteur(db_session):
    return make_user(Role.PORTEUR)


@pytest.fixture
def hub(porteur):
    return make_hub_dossier(porteur)


def text_of(response) -> str:
    return htmllib.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\u00a0", " ")


def post(client, csrf, url, data):
    return client.post(url, data=dict(data) | {"csrf_token": csrf(client)}, headers=HX)


def flat(rows) -> dict:
    return {f"rows-{i}-{column}": value for i, row in rows for column, value in row.items()}


def test_signatories_round_trip_bad_input_kept_at_the_field_then_saved_twice(
    client, csrf, login_as, porteur, hub
):
    login_as(porteur)
    url = f"/dossiers/{hub.id}/sections/signataires"
    bad = flat(hub_signatory_rows({"Thierry LAMBERT": "32/07/2023"})) | {"version": "0", "rows-1-name": ""}
    refused = post(client, csrf, url, bad)
    body = text_of(refused)
    assert refused.status_code == 422
    assert "Date de signature : date invalide (format JJ/MM/AAAA)." in body and 'value="32/07/2023"' in body
    assert "Nom du signataire : à renseigner." in body and 'value="Le délégué interministériel' in body
    good = flat(hub_signatory_rows(dict([LEAN_SIGNATURE])))
    for version in ("0", "1"):
        saved = post(client, csrf, url, good | {"version": version})
        assert saved.status_code == 200, text_of(saved)[:500]
    db.session.expire_all()
    assert [s.name for s in hub.signatories] == [name for *_, name in HUB_SIGNATORIES]
    page = text_of(client.get(f"/dossiers/{hub.id}"))
    assert "Le directeur des services administratifs et financiers du Premier ministre" in page
    assert "31 juillet 2023" in page


def test_indicator_targets_savings_cp_redeployed_and_revenue_through_the_forms(
    client, csrf, login_as, porteur, hub
):
    login_as(porteur)
    saved = post(
        client,
        csrf,
        f"/dossiers/{hub.id}/sections/indicateurs",
        flat(hub_indicator_rows()) | {"version": "0"},
    )
    assert saved.status_code == 200
    assert "123 000 (25 % du volume total de CertDC)" in text_of(saved)  # the section shown back as saved
    economies = {
        "version": "1",
        "rows-0-nature": "Coûts de gestion", "rows-0-category": "T3", "rows-0-programme": "P624",
        "rows-0-y-2022": "290 000", "rows-0-cp-2022": "145 000",
        "staff-B-cost": "48 000", "staff-B-2023": "2,5", "staff-B-r-2023": "abc",
        "revenues-0-nature": "Abonnements", "revenues-0-y-2023": "50 000",
    }  # fmt: skip
    refused = post(client, csrf, f"/dossiers/{hub.id}/sections/economies", economies)
    assert refused.status_code == 422
    body = text_of(refused)
    assert (
        "ETP redéployés catégorie B en 2023 : saisissez un nombre positif" in body and 'value="abc"' in body
    )
    saved = post(client, csrf, f"/dossiers/{hub.id}/sections/economies", economies | {"staff-B-r-2023": "1"})
    assert saved.status_code == 200
    body = text_of(saved)
    assert "Recettes supplémentaires prévisionnelles" in body and "dont redéployés 2023" in body
    db.session.expire_all()
    assert [(a.ae, a.cp) for a in hub.savings_lines[0].amounts] == [(290_000, 145_000)]
    assert str(hub.staff_savings[0].redeployed) == "1.00" and hub.revenue_lines[0].amounts[0].amount == 50_000


def test_the_contract_pdf_carries_signatories_yearly_targets_and_savings_in_ae_and_cp(
    client, login_as, porteur, hub
):
    from app.services import dossier_sections as sections

    for key, rows in (
        ("indicateurs", hub_indicator_rows()),
        ("signataires", hub_signatory_rows(dict([LEAN_SIGNATURE]))),
    ):
        sections.save_section(hub, key, {"rows": rows}, version=0, actor=porteur)
    db.session.commit()
    login_as(porteur)
    pdf = client.get(f"/dossiers/{hub.id}/pdf")
    assert pdf.status_code == 200
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).split())
    text = text.replace("\u202f", " ").replace("\u00a0", " ")
    for name in ("Nadi BOU HANNA", "Serge DUVAL", "Thierry LAMBERT", "Amélie VERDI", "31 juillet 2023"):
        assert name in text
    assert "Le délégué interministériel à la transformation publique" in text
    assert "d'une part, et" in text and "d'autre part" in text
    assert (
        "Cible fin 2019" in text
        and "Cible fin 2022" in text
        and "123 000 (25 % du volume total de CertDC)" in text
    )
    assert "Économies prévisionnelles (en euros, AE et CP de chaque année)" in text
    assert "638 000 638 000 1 275 000 1 275 000" in text  # [001] §3: 638 638 1275 1275 (k€), AE then CP
    assert "4.2.3 Recettes supplémentaires" in text


# The guichet's export (and « Mes dossiers », the instruction list: the same columns) carries the savings in
# CP, the additional revenue and the redeployed jobs, at a number of statements constant in the dossiers.
def test_dossier_exports_carry_savings_cp_revenue_and_redeployed_jobs_in_constant_statements(
    client, csrf, login_as, porteur, hub, queries
):
    import csv

    from openpyxl import load_workbook

    from app.models.dossiers import RevenueAmount, RevenueLine, StaffSaving
    from tests.factories import make_instructed_dossier

    login_as(porteur)
    economies = {
        "version": "1",
        "rows-0-nature": "Coûts de gestion", "rows-0-category": "T3", "rows-0-programme": "P624",
        "rows-0-y-2022": "290 000", "rows-0-cp-2022": "145 000",
        "staff-B-cost": "48 000", "staff-B-2023": "2,5", "staff-B-r-2023": "1,5",
        "revenues-0-nature": "Abonnements", "revenues-0-y-2023": "50 000", "revenues-0-y-2024": "25 000",
    }  # fmt: skip
    assert post(client, csrf, f"/dossiers/{hub.id}/sections/economies", economies).status_code == 200
    db.session.expire_all()
    hub.state, hub.submitted_at = "depose", hub.created_at  # an exported guichet lists deposited dossiers
    db.session.commit()
    login_as(make_user(Role.SECRETARIAT))
    url = "/guichets/FTAP/dossiers.csv?format=rfc4180"
    with queries() as few:
        rows = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
    row = rows[0]
    # CP: 145 000 of the line + the T2 helper's 2,5 ETP × 48 000 € (counted in AE and CP alike)
    assert row["economies_cp_total"] == "265000"
    assert row["recettes_supplementaires_total"] == "75000" and row["etp_redeployes"] == "1.5"
    readme = load_workbook(io.BytesIO(client.get("/guichets/FTAP/dossiers.xlsx").data))["Lisez-moi"]
    described = {r[1]: r[3] for r in readme.iter_rows(values_only=True) if r[1]}
    assert "crédits de paiement" in described["Économies totales CP"]
    assert "§4.2.3" in described["Recettes supplémentaires"] and "T2" in described["ETP redéployés"]

    for i in range(3):  # more dossiers, each with revenue and redeployed jobs: no more statements
        other = make_instructed_dossier(porteur, guichet="FTAP", title=f"Autre {i}", state="depose")
        line = RevenueLine(dossier_id=other.id, position=0, nature="Recette")
        line.amounts = [RevenueAmount(year=2027, amount=1000 * (i + 1))]
        db.session.add_all(
            [line, StaffSaving(dossier_id=other.id, category="A", year=2027, jobs=2, redeployed=1)]
        )
    db.session.commit()
    db.session.expire_all()
    with queries() as many:
        rows = list(csv.DictReader(io.StringIO(client.get(url).get_data(as_text=True))))
    assert len(rows) == 4 and [r["recettes_supplementaires_total"] for r in rows[1:]] == [
        "1000",
        "2000",
        "3000",
    ]
    assert len(many) == len(few)
