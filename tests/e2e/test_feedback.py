"""Feedback after htmx swaps, by keyboard: the focus stays on the control used and the page's polite live
region announces the result (a vote, a section save); a failure htmx does not swap shows a DSFR alert."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, or_, select

from app.extensions import db
from app.models import AuditEntry, Dossier, Guichet, Opportunity, Organisation, Role, User, UserRole
from app.models.base import utcnow
from app.models.reminders import Reminder
from app.models.voting import Campaign

from .helpers import axe_check
from .test_voting import signed_in

pytestmark = pytest.mark.e2e

ACTIVE = """() => { const a = document.activeElement; return {
  tag: a.tagName, text: (a.textContent || '').trim(), pressed: a.getAttribute('aria-pressed'),
  row: a.closest('tr') && a.closest('tr').id,
  section: a.closest('[id^=section-]') && a.closest('[id^=section-]').id
}; }"""


@pytest.fixture
def world(live_app):
    with live_app.app_context():
        mi = db.session.scalar(select(Organisation.id).where(Organisation.code == "MI"))
        start = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
        opportunities = [
            Opportunity(
                number=start + i,
                code=Opportunity.code_for(start + i),
                state="en_criblage",
                brique=f"Brique {i}",
            )
            for i in range(2)
        ]
        voter = User(email="e2e-feedback-dsi@example.gouv.fr", given_name="E2E", usual_name="Votant")
        voter.roles.append(UserRole(role=Role.DSI, organisation_id=mi))
        porteur = User(email="e2e-feedback-porteur@example.gouv.fr", given_name="E2E", usual_name="Porteur")
        porteur.roles.append(UserRole(role=Role.PORTEUR))
        db.session.add_all([*opportunities, voter, porteur])
        db.session.flush()
        now = utcnow()
        campaign = Campaign(
            title="Campagne du retour d'information",
            state="ouverte",
            visibility="anonymous",
            opens_at=now - timedelta(hours=1),
            opened_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=7),
            created_by_id=voter.id,
        )
        campaign.opportunities = opportunities
        dossier = Dossier(
            guichet_id=db.session.scalar(select(Guichet.id).where(Guichet.code == "SNAP4")),
            title="Dossier du retour d'information",
            start_year=2027,
            created_by_id=porteur.id,
        )
        db.session.add_all([campaign, dossier])
        db.session.commit()
        data = {
            "voter": voter.id,
            "porteur": porteur.id,
            "campaign": campaign.id,
            "dossier": dossier.id,
            "codes": [o.code for o in opportunities],
            "ids": [o.id for o in opportunities],
        }
    yield data
    with live_app.app_context():
        users = [data["voter"], data["porteur"]]
        db.session.execute(
            delete(Reminder).where(
                Reminder.object_type == "campaigns", Reminder.object_id == data["campaign"]
            )
        )
        db.session.execute(
            delete(AuditEntry).where(
                or_(
                    AuditEntry.actor_id.in_(users),
                    (AuditEntry.object_type == "opportunities")
                    & AuditEntry.object_id.in_([str(i) for i in data["ids"]]),
                )
            )
        )
        db.session.execute(delete(Campaign).where(Campaign.id == data["campaign"]))
        db.session.execute(delete(Dossier).where(Dossier.id == data["dossier"]))
        db.session.execute(delete(Opportunity).where(Opportunity.id.in_(data["ids"])))
        db.session.execute(delete(UserRole).where(UserRole.user_id.in_(users)))
        db.session.execute(delete(User).where(User.id.in_(users)))
        db.session.commit()


def announced(page, text: str) -> None:
    page.wait_for_function(
        "(t) => document.getElementById('app-announcer').textContent.includes(t)", arg=text
    )


def test_a_vote_by_keyboard_keeps_the_focus_and_is_announced(new_page, live_app, base_url, world):
    code = world["codes"][0]
    page = signed_in(new_page, live_app, base_url, world["voter"])
    page.goto(f"/campagnes/{world['campaign']}")
    region = page.locator("#app-announcer")
    assert region.get_attribute("aria-live") == "polite" and region.inner_text() == ""
    page.locator(f"#vote-{code} button[aria-label=Must]").focus()
    page.keyboard.press("Enter")
    page.locator(f"#vote-{code} button[aria-label=Must][aria-pressed=true]").wait_for()
    announced(page, f"Vote enregistré : Must pour {code}")
    # the swap first drops the focus (on a machine under load, an element of the old row can be seen holding
    # it for a moment): wait for the state a keyboard user lands in, then check all of it
    page.wait_for_function(
        "(row) => { const a = document.activeElement; return a && a.tagName === 'BUTTON'"
        " && a.closest('#' + row) && a.getAttribute('aria-pressed') === 'true'; }",
        arg=f"vote-{code}",
    )
    active = page.evaluate(ACTIVE)
    assert active == {"tag": "BUTTON", "text": "M", "pressed": "true", "row": f"vote-{code}", "section": None}
    # Withdrawing removes the button used: the focus goes to the row's heading (its opportunity link).
    page.keyboard.press("Tab")  # S, C, W, then « Retirer »
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Retirer"
    page.keyboard.press("Enter")
    announced(page, f"Vote retiré pour {code}")
    page.wait_for_function("() => document.activeElement.tagName === 'A'")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == code
    axe_check(page)


def test_a_poll_settling_after_another_swap_leaves_the_focus_alone(new_page, live_app, base_url, world):
    # The notifications badge polls; when its answer settles just after a vote's swap dropped the focus, it
    # must not pull the focus into the header (the vote's own settle puts it back on the button used).
    page = signed_in(new_page, live_app, base_url, world["voter"])
    page.goto(f"/campagnes/{world['campaign']}")
    page.locator("#notifications-badge[hx-get]").wait_for(state="attached")
    focused = page.evaluate(
        """() => new Promise((resolve) => {
            document.body.addEventListener('htmx:afterSettle',
                () => setTimeout(() => resolve(document.activeElement.tagName), 0), {once: true});
            document.activeElement.blur();
            htmx.trigger('#notifications-badge', 'load');
        })"""
    )
    assert focused == "BODY"
    assert page.locator("#notifications-badge").get_attribute("tabindex") is None


def test_a_section_opened_and_saved_by_keyboard_keeps_the_focus_and_is_announced(
    new_page, live_app, base_url, world
):
    page = signed_in(new_page, live_app, base_url, world["porteur"])
    page.goto(f"/dossiers/{world['dossier']}")
    page.locator("#edit-enjeu").focus()
    page.keyboard.press("Enter")  # « Modifier la section »: the form in place, the focus on its heading
    page.locator("#enjeu-enjeu").wait_for()
    page.wait_for_function("() => document.activeElement.id === 'section-enjeu-title'")
    axe_check(page)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "enjeu-enjeu"
    page.keyboard.type("Les agents manquent d'outils communs.")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Enregistrer la section"
    page.keyboard.press("Enter")
    page.locator("#section-enjeu").get_by_text("Section enregistrée.").wait_for()
    announced(page, "Section enregistrée : ")
    # shown as saved, the focus on its heading: the next Tab reaches « Modifier la section » again
    page.wait_for_function("() => document.activeElement.id === 'section-enjeu-title'")
    assert page.locator("#section-enjeu form").count() == 0
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "edit-enjeu"
    axe_check(page)


def test_a_failure_htmx_does_not_swap_shows_an_alert(new_page, live_app, base_url, world):
    code = world["codes"][1]
    page = signed_in(new_page, live_app, base_url, world["voter"])
    page.goto(f"/campagnes/{world['campaign']}")
    page.route("**/votes/*", lambda route: route.fulfill(status=502, body="Bad gateway"))
    page.locator(f"#vote-{code} button[aria-label=Should]").focus()
    page.keyboard.press("Enter")
    alert = page.locator(f"#vote-{code} [data-app-error][role=alert]")
    alert.wait_for()
    assert "votre action n'a pas été enregistrée" in alert.inner_text()
    assert page.evaluate("() => document.activeElement.hasAttribute('data-app-error')")
    page.unroute("**/votes/*")
    page.route("**/votes/*", lambda route: route.fulfill(status=413, body="Too large"))
    page.locator(f"#vote-{code} button[aria-label=Could]").click()
    page.get_by_text("Le fichier envoyé est trop volumineux").wait_for()
    assert page.locator(f"#vote-{code} [data-app-error]").count() == 1
    page.log.server_errors.clear()  # the 502 was the simulated failure, not the app's
