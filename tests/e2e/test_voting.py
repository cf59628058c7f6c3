"""A MoSCoW campaign in a real browser: the secretariat opens it, a DSI member votes (rows swap in place, the
progress bar follows), another member never sees those votes, the secretariat closes and publishes, the
portfolio shows the priorities. Signed in with a session cookie (the ProConnect journey has its own tests)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, or_, select

from app.extensions import db
from app.models import AuditEntry, Opportunity, Organisation, Role, User, UserRole
from app.models.base import utcnow
from app.models.reminders import Reminder
from app.models.voting import Campaign

from .helpers import axe_check

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(live_app):
    """Three opportunities in screening, a secretariat member and two DSI members (MI, MJ); removed after."""
    with live_app.app_context():
        orgs = {
            c: db.session.scalar(select(Organisation.id).where(Organisation.code == c)) for c in ("MI", "MJ")
        }
        start = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
        opportunities = [
            Opportunity(
                number=start + i,
                code=Opportunity.code_for(start + i),
                state="en_criblage",
                brique=f"Brique à prioriser {i + 1}",
            )
            for i in range(3)
        ]
        people = {}
        for key, role, org in (
            ("secretariat", Role.SECRETARIAT, None),
            ("first", Role.DSI, "MI"),
            ("second", Role.DSI, "MJ"),
        ):
            user = User(
                email=f"e2e-vote-{key}@example.gouv.fr", given_name="E2E", usual_name=key.capitalize()
            )
            user.roles.append(UserRole(role=role, organisation_id=orgs[org] if org else None))
            people[key] = user
        db.session.add_all([*opportunities, *people.values()])
        db.session.commit()
        data = {
            "codes": [o.code for o in opportunities],
            "ids": [o.id for o in opportunities],
            **{k: u.id for k, u in people.items()},
        }
    yield data
    with live_app.app_context():
        user_ids = [data["secretariat"], data["first"], data["second"]]
        campaign_ids = list(
            db.session.scalars(select(Campaign.id).where(Campaign.created_by_id.in_(user_ids)))
        )
        db.session.execute(
            delete(Reminder).where(Reminder.object_type == "campaigns", Reminder.object_id.in_(campaign_ids))
        )
        db.session.execute(
            delete(AuditEntry).where(
                or_(
                    AuditEntry.actor_id.in_(user_ids),
                    (AuditEntry.object_type == "campaigns")
                    & AuditEntry.object_id.in_([str(i) for i in campaign_ids]),
                    (AuditEntry.object_type == "opportunities")
                    & AuditEntry.object_id.in_([str(i) for i in data["ids"]]),
                )
            )
        )
        db.session.execute(delete(Campaign).where(Campaign.id.in_(campaign_ids)))
        db.session.execute(delete(Opportunity).where(Opportunity.id.in_(data["ids"])))
        db.session.execute(delete(UserRole).where(UserRole.user_id.in_(user_ids)))
        db.session.execute(delete(User).where(User.id.in_(user_ids)))
        db.session.commit()


def signed_in(new_page, live_app, base_url, user_id):
    """A browser page signed in as `user_id`: the Flask session cookie, signed by the live app."""
    client = live_app.test_client()
    with client.session_transaction() as session_data:
        session_data["_user_id"] = str(user_id)
        session_data["_fresh"] = True
    page = new_page()
    cookie = client.get_cookie(live_app.config["SESSION_COOKIE_NAME"])
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return page


def idle(page):
    """No htmx request, swap or settle in progress in the main content (the header polls on its own)."""
    page.wait_for_function(
        "() => !document.querySelector('main .htmx-request, main .htmx-settling, main .htmx-swapping')"
    )


def vote(page, code, label):
    row = page.locator(f"#vote-{code}")
    row.get_by_role("button", name=label, exact=True).click()
    page.locator(f'#vote-{code} button[aria-label="{label}"][aria-pressed=true]').wait_for()
    idle(page)


def test_a_campaign_from_opening_to_published_priorities(new_page, live_app, base_url, world):
    a, b, c = world["codes"]
    secretariat = signed_in(new_page, live_app, base_url, world["secretariat"])

    # The secretariat creates the campaign; the default scope is the opportunities in screening.
    secretariat.goto("/campagnes/nouvelle")
    for code_id in world["ids"]:
        assert secretariat.locator(f"#opportunite-{code_id}").is_checked()
    secretariat.get_by_label("Titre").fill("Priorisation de test")
    now = utcnow()
    secretariat.locator("#opens_at").fill((now + timedelta(days=1)).astimezone().strftime("%Y-%m-%dT%H:%M"))
    secretariat.locator("#closes_at").fill((now + timedelta(days=8)).astimezone().strftime("%Y-%m-%dT%H:%M"))
    secretariat.get_by_role("button", name="Enregistrer le brouillon").click()
    secretariat.wait_for_url(re.compile(r"/campagnes/\d+$"))
    campaign_url = secretariat.url
    secretariat.get_by_role("button", name="Ouvrir le vote maintenant").click()
    secretariat.get_by_text("Campagne « Priorisation de test » : ouverte.").wait_for()

    # A DSI member votes on the three opportunities and changes one; the page is never reloaded.
    first = signed_in(new_page, live_app, base_url, world["first"])
    first.goto(campaign_url)
    axe_check(first)
    first.evaluate("() => { window.__sameDocument = true; }")
    assert "0</strong> opportunité sur 3" in first.locator("#vote-progress").inner_html()
    first.locator(f"#vote-{a} input[name=justification]").fill("Attendu par tous les ministères")
    vote(first, a, "Must")
    vote(first, b, "Should")
    vote(first, c, "Could")
    assert re.search(r"3</strong> opportunités sur 3 \(100 %\)", first.locator("#vote-progress").inner_html())
    vote(first, b, "Won't")
    assert first.locator(f"#vote-{b} button[aria-pressed='true']").count() == 1
    assert (
        first.locator(f"#vote-{a} input[name=justification]").input_value()
        == "Attendu par tous les ministères"
    )
    assert first.evaluate("() => window.__sameDocument === true")  # swaps, no navigation
    assert first.locator("progress").get_attribute("value") == "3"

    # Another member sees none of it, only the participation; results are not reachable while open.
    second = signed_in(new_page, live_app, base_url, world["second"])
    second.goto(campaign_url)
    assert second.locator("#ballot-table button[aria-pressed='true']").count() == 0
    assert "Attendu par tous les ministères" not in second.content()
    assert "0</strong> opportunité sur 3" in second.locator("#vote-progress").inner_html()
    pending = second.request.get(campaign_url + "/resultats")  # says when, shows no result
    assert pending.status == 200 and "seront publiés après la clôture" in pending.text()
    assert "Consensus" not in pending.text()
    assert second.request.get(campaign_url + "/resultats.csv").status == 403
    # ... and votes inline from the portfolio list: the cell swaps, the progress follows.
    second.goto(f"/opportunites?statut=en_criblage&q={a}")
    second.locator(f"#ballot-{a}").get_by_role("button", name="Could", exact=True).click()
    second.locator(f"#ballot-{a} button[aria-label='Could'][aria-pressed='true']").wait_for()
    idle(second)
    assert "1</strong> opportunité sur 3" in second.locator("#vote-progress").inner_html()

    # The secretariat closes and publishes; the results page explains its tie rule.
    secretariat.goto(campaign_url)
    secretariat.get_by_role("button", name="Clore le vote maintenant").click()
    secretariat.get_by_role("button", name="Publier les résultats").click()
    secretariat.get_by_role("link", name="Voir les résultats").click()
    secretariat.wait_for_url(campaign_url + "/resultats")  # content() does not wait for the navigation
    assert "Règle de départage" in secretariat.content()
    axe_check(secretariat)
    # A: Must (MI), Could (MJ) → W…M sorted C, M → lower middle = Could
    assert "Could" in secretariat.locator(f"#result-{a}").text_content()

    # The portfolio shows the priorities as badges, and filters on them.
    first.goto("/opportunites?statut=en_criblage&priorite=wont")
    assert first.locator(f"#row-{b}").count() == 1 and first.locator(f"#row-{a}").count() == 0
    assert "Won't" in first.locator(f"#row-{b}").text_content()
    first.goto("/opportunites?statut=en_criblage")
    assert "Could" in first.locator(f"#row-{a}").text_content()
    assert "Could" in first.locator(f"#row-{c}").text_content()
