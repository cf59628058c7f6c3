"""Signed in through ProConnect (local test provider): the create form, its duplicate hint, axe on the form
pages, and the new opportunity's page."""

import re

import pytest
from sqlalchemy import delete, select

from app.extensions import db
from app.models import Opportunity

from .helpers import axe_check, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def created_codes(live_app):
    """Codes created by the test, removed afterwards so the other journeys still see the 132 of the annex."""
    codes: list[str] = []
    yield codes
    with live_app.app_context():
        db.session.execute(delete(Opportunity).where(Opportunity.code.in_(codes)))
        db.session.commit()


@pytest.fixture
def next_code(live_app):
    with live_app.app_context():
        return Opportunity.code_for(db.session.scalar(select(db.func.max(Opportunity.number))) + 1)


def test_secretariat_creates_an_opportunity(proconnect, page, created_codes, next_code):
    assert next_code == "M133", "another test left opportunities behind in the live database"
    # Asking for the form while anonymous goes through the login page and comes back to the form.
    page.goto("/opportunites/nouvelle")
    page.wait_for_url(re.compile(r"/connexion"))
    axe_check(page)
    page.get_by_role("button", name=re.compile("ProConnect")).click()
    page.locator("input[name=sub]").fill("secretariat@demo.gouv.fr")
    page.get_by_role("button", name="Autoriser").click()
    page.wait_for_url(re.compile(r"/opportunites/nouvelle$"))
    assert page.locator("#current-user").inner_text().strip() == "Camille Martin"
    assert page.locator("main h1").inner_text() == "Proposer une opportunité"
    axe_check(page)

    # Submitting empty: 422, the error summary, the form kept.
    page.get_by_role("button", name="Enregistrer").click()
    page.locator("#form .fr-error-text, #form [role=alert]").first.wait_for()
    assert page.url.endswith("/opportunites/nouvelle")
    axe_check(page)

    # Typing the brique shows the most similar existing opportunities.
    brique = page.get_by_label(re.compile("^Brique"))
    brique.press_sequentially("Messagerie instantanée sécurisée", delay=20)
    hint = page.locator("#similar")
    hint.get_by_role("link").first.wait_for()
    hints = hint.get_by_role("link").all_inner_texts()
    assert any(h.startswith("M075 — Messagerie instantanée") for h in hints), hints
    axe_check(page)

    page.get_by_label(re.compile("^Besoin")).fill(
        "Une messagerie instantanée souveraine pour les agents.\n\n- sur mobile\n- sur le poste de travail"
    )
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(re.compile(rf"/opportunites/{next_code}$"))
    created_codes.append(next_code)
    heading = " ".join(page.locator("main h1").text_content().split())
    assert heading == f"Opportunité {next_code} — Messagerie instantanée sécurisée"
    assert f"Opportunité {next_code} créée." in page.locator("#flash").inner_text()
    assert page.locator("#besoin li").all_inner_texts() == ["sur mobile", "sur le poste de travail"]
    # The signed-in detail page carries the state, comment and backing forms: check them too.
    axe_check(page)

    page.get_by_role("link", name="Modifier").click()
    page.wait_for_url(re.compile(rf"/opportunites/{next_code}/modifier$"))
    axe_check(page)


def test_dsi_member_pages_pass_axe(proconnect, page):
    sign_in(page, "dsi@demo.gouv.fr")
    for path in ("/", "/opportunites", "/opportunites/M043"):
        page.goto(path)
        axe_check(page)
