"""The follow-up of a funded dossier in a real browser: the porteur sees the clawback flags, reports the
credits consumed, a jalon reached and savings observed (bad input shown back with its message), and the
flags clear."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from app.extensions import db
from app.formatting import paris_today
from app.models import AuditEntry, Guichet, Role, User, UserRole
from app.models.dossiers import (
    Dossier,
    DossierIndicator,
    DossierTransition,
    Jalon,
    SavingsAmount,
    SavingsLine,
)
from app.models.followup import CreditConsumption, IndicatorValue, JalonReport, SavingsReport

from .helpers import axe_check
from .test_committees import signed_in


@pytest.fixture
def followed(live_app):
    """A dossier conventionné 200 days ago, a jalon overdue, an indicator with one value, savings forecast for
    2027; removed after."""
    with live_app.app_context():
        porteur = User(email="e2e-suivi-porteur@example.gouv.fr", given_name="E2E", usual_name="Suivi")
        porteur.roles.append(UserRole(role=Role.PORTEUR))
        db.session.add(porteur)
        db.session.flush()
        guichet = db.session.scalar(select(Guichet.id).where(Guichet.code == "FTAP-DINUM-OPI"))
        dossier = Dossier(
            guichet_id=guichet,
            created_by_id=porteur.id,
            title="Suivi en navigateur",
            state="conventionne",
            avis="favorable",
            decision_outcome="accepte",
            submitted_at=datetime.now(UTC),
            start_year=2027,
        )
        dossier.jalons = [Jalon(number=1, due_on=paris_today() - timedelta(days=5), description="Recette")]
        dossier.indicators = [
            DossierIndicator(
                position=1,
                objective="Adoption",
                indicator="Agents utilisateurs",
                current_value="0",
                target_value="5000",
            )
        ]
        savings = SavingsLine(position=1, nature="Licences mutualisées", category="T3", programme="129")
        savings.amounts = [SavingsAmount(year=2027, amount=80_000)]
        dossier.savings_lines = [savings]
        db.session.add(dossier)
        db.session.flush()
        db.session.add(
            DossierTransition(
                dossier_id=dossier.id,
                from_state="decide",
                to_state="conventionne",
                created_at=datetime.now(UTC) - timedelta(days=200),
            )
        )
        db.session.add(
            IndicatorValue(
                dossier_id=dossier.id,
                indicator_id=dossier.indicators[0].id,
                reported_on=paris_today() - timedelta(days=30),
                value="1 200",
            )
        )
        db.session.commit()
        data = {"porteur": porteur.id, "dossier": dossier.id, "reference": dossier.reference}
    yield data
    with live_app.app_context():
        for model in (
            IndicatorValue,
            JalonReport,
            CreditConsumption,
            SavingsReport,
            DossierTransition,
            DossierIndicator,
            Jalon,
        ):
            db.session.execute(delete(model).where(model.dossier_id == data["dossier"]))
        db.session.execute(delete(Dossier).where(Dossier.id == data["dossier"]))
        db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == data["porteur"]))
        db.session.execute(delete(UserRole).where(UserRole.user_id == data["porteur"]))
        db.session.execute(delete(User).where(User.id == data["porteur"]))
        db.session.commit()


def test_porteur_reports_follow_up_and_the_flags_clear(followed, live_app, base_url, new_page):
    page = signed_in(new_page, live_app, base_url, followed["porteur"])
    page.goto(f"/dossiers/{followed['dossier']}/suivi")
    flags = page.locator("#followup-flags")
    assert "jalon n° 1 « Recette » en retard" in flags.inner_text()
    assert "aucun crédit consommé 6 mois après la signature" in flags.inner_text()
    page.locator("[id^=chart-] line-chart").first.wait_for(state="attached")
    axe_check(page, "main")
    page.fill("#consommation-year", "2027")
    page.fill("#consommation-ae", "douze")
    page.fill("#consommation-cp", "0")
    page.get_by_role("button", name="Enregistrer la consommation").click()
    assert "doit être un nombre entier" in page.locator("#consommation-ae-messages").inner_text()
    assert page.locator("#consommation-ae").input_value() == "douze"
    page.fill("#consommation-ae", "15 000")
    page.get_by_role("button", name="Enregistrer la consommation").click()
    page.locator("#flash", has_text="Suivi enregistré.").wait_for()
    page.fill("#jalon-achieved_on", paris_today().isoformat())
    page.fill("#jalon-proof", "Procès-verbal de recette signé")
    page.get_by_role("button", name="Déclarer le jalon atteint").click()
    page.locator("#flash", has_text="Suivi enregistré.").wait_for()
    expect(page.locator("#followup-flags")).to_contain_text("Aucune alerte de suivi.")
    page.fill("#economies-year", "2027")
    page.select_option("#economies-nature", "Licences mutualisées")
    page.fill("#economies-amount", "soixante")
    page.get_by_role("button", name="Enregistrer les économies constatées").click()
    assert "doit être un nombre entier" in page.locator("#economies-amount-messages").inner_text()
    assert page.locator("#economies-amount").input_value() == "soixante"
    assert page.locator("#economies-nature").input_value() == "Licences mutualisées"
    page.fill("#economies-amount", "60 000")
    page.get_by_role("button", name="Enregistrer les économies constatées").click()
    assert "Expliquez l'écart" in page.locator("#economies-explanation-messages").inner_text()
    page.fill("#economies-explanation", "Migration décalée au second semestre")
    page.get_by_role("button", name="Enregistrer les économies constatées").click()
    page.locator("#flash", has_text="Suivi enregistré.").wait_for()
    # the flash can show before the page it belongs to has replaced this one: wait for the row itself
    expect(page.locator("#economies-2027-1 td").last).to_have_text("Migration décalée au second semestre")
    cells = page.locator("#economies-2027-1 td").all_inner_texts()
    assert cells[1:] == [
        "80\u202f000\u00a0€",
        "60\u202f000\u00a0€",
        "-20\u202f000\u00a0€",
        "Migration décalée au second semestre",
    ]
    page.wait_for_function(
        "() => { const c = document.querySelector('#chart-savings canvas'); return c && c.width > 0; }"
    )
    axe_check(page, "main")
