"""The notification badge in a real browser: filled on load, refreshed by the 30-second poll (page clock
fast-forwarded), updated out of band when a notification is marked read; the centre works without
JavaScript."""

import pytest
from sqlalchemy import delete

from app.extensions import db
from app.models import AuditEntry, Notification, Role, User, UserRole

from .helpers import axe_check

pytestmark = pytest.mark.e2e


@pytest.fixture
def reader(live_app):
    with live_app.app_context():
        user = User(email="e2e-notifications@example.gouv.fr", given_name="Nora", usual_name="Notifiée")
        user.roles.append(UserRole(role=Role.PORTEUR))
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    yield user_id
    with live_app.app_context():
        db.session.execute(delete(Notification).where(Notification.user_id == user_id))
        db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
        db.session.execute(delete(UserRole).where(UserRole.user_id == user_id))
        db.session.execute(delete(User).where(User.id == user_id))
        db.session.commit()


def notify(live_app, user_id, subject):
    with live_app.app_context():
        db.session.add(
            Notification(
                user_id=user_id, kind="mail.delivery_failed", subject=subject, body="Détail **important**"
            )
        )
        db.session.commit()


def signed_in(new_page, live_app, base_url, user_id, **options):
    client = live_app.test_client()
    with client.session_transaction() as session_data:
        session_data["_user_id"] = str(user_id)
        session_data["_fresh"] = True
    page = new_page(**options)
    cookie = client.get_cookie(live_app.config["SESSION_COOKIE_NAME"])
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return page


def badge_count(page) -> str:
    return page.locator("#notifications-count").get_attribute("data-count")


def test_badge_updates_by_polling_and_after_marking_read(new_page, live_app, base_url, reader):
    notify(live_app, reader, "Première notification")
    page = signed_in(new_page, live_app, base_url, reader)
    page.clock.install()
    page.goto("/mentions-legales")
    page.locator("#notifications-count[data-count='1']").wait_for()  # filled by the load trigger
    assert badge_count(page) == "1"

    # Something happens elsewhere; the page is not reloaded: the poll brings it within 30 s. (The installed
    # clock also runs in real time, so how close to the first poll we are when notifying is not controlled.)
    notify(live_app, reader, "Deuxième notification")
    assert badge_count(page) == "1"
    page.clock.run_for(31_000)
    page.locator("#notifications-count[data-count='2']").wait_for()

    # In the centre, marking one read swaps the list and the badge at once.
    page.get_by_role("link", name="Notifications").first.click()
    page.get_by_role("heading", name="Notifications", level=1).wait_for()
    axe_check(page)
    page.get_by_role("button", name="Marquer comme lue : Deuxième notification").click()
    page.locator("#notifications-count[data-count='1']").wait_for()
    assert page.get_by_role("button", name="Marquer comme non lue : Deuxième notification").is_visible()
    page.get_by_role("button", name="Tout marquer comme lu").click()
    page.locator("#notifications-count").wait_for(state="detached")
    assert page.get_by_text("Non lues (0)").is_visible()
    page.get_by_role("link", name="Préférences de courriel").click()
    page.get_by_role("heading", name="Préférences de notification").wait_for()
    axe_check(page)


def test_centre_works_without_javascript(new_page, live_app, base_url, reader):
    notify(live_app, reader, "Sans JavaScript")
    page = signed_in(new_page, live_app, base_url, reader, java_script_enabled=False)
    page.goto("/notifications")
    assert page.get_by_role("heading", name="Non lue Sans JavaScript").is_visible()
    page.get_by_role("button", name="Marquer comme lue : Sans JavaScript").click()
    page.get_by_role("button", name="Marquer comme non lue : Sans JavaScript").wait_for()
    assert page.url.endswith("/notifications")
    page.goto("/notifications/preferences")
    page.locator("label[for='email-mail.delivery_failed']").click()  # the DSFR label covers the box
    page.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Vos préférences ont été enregistrées.").wait_for()  # the page after the POST
    assert not page.get_by_label("Échec d'envoi d'un courriel").is_checked()
