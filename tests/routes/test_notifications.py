"""Notification centre, header badge, e-mail preferences, /admin/rappels and the development mail page."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Notification, OutboxMail, Reminder, ReminderSetting, Role
from app.services import notifications, reminders
from tests.services.test_mail import inbox_fixture, smtp_server_fixture  # noqa: F401
from tests.services.test_reminders import DEADLINE, DEADLINES, DUE, TEST_KIND

HX = {"HX-Request": "true"}


def add_notifications(user, count, **kw):
    for n in range(count):
        db.session.add(
            Notification(
                user_id=user.id,
                kind="mail.delivery_failed",
                subject=f"Message {n}",
                body=f"Corps **{n}**",
                url=kw.get("url"),
            )
        )
    db.session.commit()


# --- badge --------------------------------------------------------------------------------------------------


def test_header_polls_the_badge_every_30_seconds_without_inline_script(client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    page = client.get("/mentions-legales").get_data(as_text=True)
    [badge] = re.findall(r'<span id="notifications-badge"[^>]*>', page)
    assert 'hx-get="/notifications/badge"' in badge and 'hx-trigger="load, every 30s"' in badge
    assert "hx-on" not in page and "<script>" not in page


def test_badge_fragment_counts_unread(client, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    response = client.get("/notifications/badge", headers=HX)
    assert response.status_code == 200 and response.get_data(as_text=True).strip() == ""
    add_notifications(user, 3)
    response = client.get("/notifications/badge", headers=HX)
    body = response.get_data(as_text=True)
    assert 'data-count="3"' in body and '3<span class="fr-sr-only"> non lues</span>' in body
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_badge_request_is_redirected_to_login(client):
    response = client.get("/notifications/badge", headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"].startswith("/connexion")


# --- centre -------------------------------------------------------------------------------------------------


def test_centre_lists_own_notifications_only_newest_first(client, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    other = make_user(Role.PORTEUR)
    add_notifications(user, 2)
    add_notifications(other, 1)
    db.session.add(Notification(user_id=other.id, kind="x", subject="Secret d'un autre"))
    db.session.commit()
    page = client.get("/notifications").get_data(as_text=True)
    assert page.index("Message 1") < page.index("Message 0")
    assert "Secret d'un autre" not in page and "<strong>0</strong>" in page
    assert "Non lues (2)" in page


def test_centre_query_count_does_not_grow_with_notifications(client, login_as, make_user, queries):
    user = login_as(make_user(Role.PORTEUR))
    add_notifications(user, 2)
    with queries() as few:
        client.get("/notifications")
    add_notifications(user, 25)
    with queries() as many:
        client.get("/notifications")
    assert len(many) == len(few)


def test_htmx_list_is_a_fragment_full_page_otherwise(client, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    add_notifications(user, 1)
    fragment = client.get("/notifications", headers=HX)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="list">')
    assert "HX-Request" in fragment.headers["Vary"]
    assert "<html" in client.get("/notifications").get_data(as_text=True)


def test_mark_read_and_unread(client, login_as, make_user, csrf):
    user = login_as(make_user(Role.PORTEUR))
    add_notifications(user, 2)
    first = db.session.scalar(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    )
    token = csrf(client)
    response = client.post(f"/notifications/{first.id}/lue", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/notifications"
    assert notifications.unread_count(user) == 1
    # htmx: the list block comes back with the badge updated out of band.
    response = client.post(f"/notifications/{first.id}/non-lue", data={"csrf_token": token}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="list">')
    assert 'id="notifications-badge" hx-swap-oob="innerHTML"' in body and 'data-count="2"' in body
    response = client.post("/notifications/tout-lire", data={"csrf_token": token})
    assert response.status_code == 303 and notifications.unread_count(user) == 0


def test_cannot_touch_someone_elses_notification(client, login_as, make_user, csrf):
    login_as(make_user(Role.PORTEUR))
    other = make_user(Role.PORTEUR)
    add_notifications(other, 1)
    theirs = db.session.scalar(select(Notification).where(Notification.user_id == other.id))
    assert (
        client.post(f"/notifications/{theirs.id}/lue", data={"csrf_token": csrf(client)}).status_code == 404
    )
    assert client.get(f"/notifications/{theirs.id}").status_code == 404
    assert theirs.read_at is None


def test_post_without_csrf_is_refused(client, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    add_notifications(user, 1)
    assert client.post("/notifications/tout-lire").status_code == 400
    assert notifications.unread_count(user) == 1


def test_following_a_notification_marks_it_read_and_goes_to_its_page(client, login_as, make_user, app):
    user = login_as(make_user(Role.PORTEUR))
    add_notifications(user, 1, url=app.config["BASE_URL"].rstrip("/") + "/opportunites/M001")
    notification = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
    response = client.get(f"/notifications/{notification.id}")
    assert response.status_code == 303 and response.headers["Location"] == "/opportunites/M001"
    assert notifications.unread_count(user) == 0
    # An external or malformed target is never followed.
    notification.url = "https://ailleurs.example.com/piege"
    db.session.commit()
    assert client.get(f"/notifications/{notification.id}").headers["Location"] == "/notifications"


# --- preferences --------------------------------------------------------------------------------------------


@pytest.fixture
def mandatory_kind(app):
    notifications.declare_kind("test.obligatoire", "Convocation de test", mandatory=True)
    yield
    notifications.KINDS.pop("test.obligatoire", None)


def test_preferences_page_and_save(client, login_as, make_user, csrf, mandatory_kind):
    user = login_as(make_user(Role.PORTEUR))
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert re.search(r'id="email-test.obligatoire"[^>]*checked[^>]*disabled', page)
    assert 'id="email-mail.delivery_failed" name="email" value="mail.delivery_failed" checked' in page
    # Unticking everything: the mandatory kind stays on.
    response = client.post("/notifications/preferences", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    prefs = notifications.preferences(user)
    assert prefs["mail.delivery_failed"] is False and prefs["test.obligatoire"] is True
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "notification_preferences.updated", AuditEntry.object_id == str(user.id)
        )
    )
    assert entry.changes["mail.delivery_failed"] == [True, False] and "test.obligatoire" not in entry.changes
    client.post(
        "/notifications/preferences", data={"csrf_token": csrf(client), "email": ["mail.delivery_failed"]}
    )
    assert notifications.preferences(user)["mail.delivery_failed"] is True


# --- /admin/rappels -----------------------------------------------------------------------------------------


@pytest.fixture
def planned_test_kind(db_session, make_user, make_opportunity):
    reminders.register(TEST_KIND)
    alice = make_user(
        Role.PORTEUR, email="alice.admin@example.gouv.fr", given_name="Alice", usual_name="Admin"
    )
    opportunity = make_opportunity(brique="Brique rappelée")
    DEADLINES[opportunity.id] = (DEADLINE, [alice.id])
    reminders.reschedule_for(opportunity)
    db.session.commit()
    yield opportunity, alice
    reminders.unregister(TEST_KIND.name)
    DEADLINES.clear()


def test_admin_page_is_for_the_secretariat(client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    assert client.get("/admin/rappels").status_code == 403


def test_admin_page_shows_upcoming_sent_failures_jobs_and_settings(
    client, login_as, make_user, planned_test_kind, inbox
):
    opportunity, alice = planned_test_kind
    login_as(make_user(Role.SECRETARIAT))
    page = client.get("/admin/rappels").get_data(as_text=True)
    upcoming = page[page.index('id="a-venir-table"') : page.index('id="envoyes"')]
    assert "Échéance de test" in upcoming and "Alice Admin" in upcoming and "17 mars 2027 à 09:00" in upcoming
    assert "reminders.send_due" in page and "Aucun planificateur actif" in page
    assert 'name="offset_test.echeance" value="3"' in page
    inbox.store.refuse_recipients["alice.admin@example.gouv.fr"] = "550 5.1.1 Inconnue"
    reminders.send_due(DUE)
    page = client.get("/admin/rappels").get_data(as_text=True)
    failures = page[page.index('id="echecs-table"') : page.index('id="taches"')]
    assert "(550) : 5.1.1 Inconnue" in failures and "Relancer" in failures


def test_admin_retry_puts_a_failed_reminder_mail_back(
    client, login_as, make_user, planned_test_kind, inbox, csrf
):
    """The reminder was handed to the outbox; its mail was refused; the secretariat retries it once fixed."""
    opportunity, alice = planned_test_kind
    login_as(make_user(Role.SECRETARIAT))
    inbox.store.refuse_recipients["alice.admin@example.gouv.fr"] = "550 5.1.1 Inconnue"
    reminders.send_due(DUE)
    row = db.session.scalar(select(Reminder).where(Reminder.object_id == opportunity.id))
    assert row.status == "sent" and row.emailed
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.recipient_id == alice.id))
    assert mail.status == "failed" and mail.kind == TEST_KIND.name
    response = client.post(f"/admin/rappels/courriels/{mail.id}/relancer", data={"csrf_token": csrf(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/rappels#echecs")
    db.session.refresh(mail)
    assert mail.status == "pending"
    inbox.store.refuse_recipients.clear()
    reminders.send_due(DUE + timedelta(minutes=1))
    assert len(inbox.to("alice.admin@example.gouv.fr")) == 1
    reminders.send_due(DUE + timedelta(hours=1))
    assert len(inbox.to("alice.admin@example.gouv.fr")) == 1
    assert client.post("/admin/rappels/999999/relancer", data={"csrf_token": csrf(client)}).status_code == 404


def test_admin_retry_puts_a_failed_reminder_back(
    client, login_as, make_user, planned_test_kind, inbox, csrf, monkeypatch
):
    """A reminder that could not be processed (internal error) is failed; the retry button re-queues it."""
    opportunity, alice = planned_test_kind

    def broken(*args):
        raise RuntimeError("gabarit cassé")

    monkeypatch.setattr(TEST_KIND, "context", broken)
    login_as(make_user(Role.SECRETARIAT))
    reminders.send_due(DUE)
    row = db.session.scalar(select(Reminder).where(Reminder.object_id == opportunity.id))
    assert row.status == "failed"
    page = client.get("/admin/rappels").get_data(as_text=True)
    assert "gabarit cassé" in page[page.index('id="echecs-table"') : page.index('id="taches"')]
    monkeypatch.undo()
    response = client.post(f"/admin/rappels/{row.id}/relancer", data={"csrf_token": csrf(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/rappels#echecs")
    db.session.refresh(row)
    assert row.status == "pending"
    reminders.send_due(DUE + timedelta(minutes=1))
    assert len(inbox.to("alice.admin@example.gouv.fr")) == 1


def test_admin_settings_invalid_offset_is_422_with_input_kept(
    client, login_as, make_user, planned_test_kind, csrf
):
    login_as(make_user(Role.SECRETARIAT))
    form = {"csrf_token": csrf(client)}
    for setting in reminders.settings():
        form[f"offset_{setting.kind.name}"] = str(setting.offset_days)
        form[f"enabled_{setting.kind.name}"] = "1"
    form["offset_test.echeance"] = "quatre"
    response = client.post("/admin/rappels/reglages", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="quatre"' in body and "Indiquez un nombre entier de jours." in body
    assert db.session.get(ReminderSetting, "test.echeance") is None  # nothing saved
    form["offset_test.echeance"] = "10"
    response = client.post("/admin/rappels/reglages", data=form)
    assert response.status_code == 303
    assert db.session.get(ReminderSetting, "test.echeance").offset_days == 10
    opportunity, _ = planned_test_kind
    pending = db.session.scalar(
        select(Reminder).where(Reminder.object_id == opportunity.id, Reminder.status == "pending")
    )
    assert pending.due_at == DUE - timedelta(days=7)


def test_admin_mail_failure_retry(client, login_as, make_user, csrf):
    login_as(make_user(Role.SECRETARIAT))
    mail = OutboxMail(
        kind="x",
        to_address="x@example.gouv.fr",
        subject="Essai",
        text_body="t",
        status="failed",
        attempts=8,
        last_error="Serveur SMTP injoignable",
    )
    db.session.add(mail)
    db.session.commit()
    assert "Serveur SMTP injoignable" in client.get("/admin/rappels").get_data(as_text=True)
    response = client.post(f"/admin/rappels/courriels/{mail.id}/relancer", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    db.session.refresh(mail)
    assert mail.status == "pending"


# --- development mail page ----------------------------------------------------------------------------------


def test_dev_mail_page_reads_the_mail_catcher(client, app, smtp_server, inbox, make_user, login_as):
    user = make_user(Role.PORTEUR, email="lecteur@example.gouv.fr")
    login_as(make_user(Role.SECRETARIAT))
    notifications.notify(
        user, "mail.delivery_failed", None, subject="Capturé par le collecteur", body="Bonjour"
    )
    db.session.commit()
    notifications.mail.deliver_committed()
    app.config["MAILCATCHER_DB"] = str(smtp_server.handler.path)
    try:
        page = client.get("/dev/courriels").get_data(as_text=True)
        assert "Capturé par le collecteur" in page and "lecteur@example.gouv.fr" in page
        message_id = smtp_server.handler.messages()[0]["id"]
        page = client.get(f"/dev/courriels/{message_id}").get_data(as_text=True)
        assert "Bonjour" in page and "<h1>" not in page.split('id="message-html"')[1].split("</pre>")[0]
        assert client.get("/dev/courriels/999999").status_code == 404
        app.config["ENV_NAME"] = "production"
        assert client.get("/dev/courriels").status_code == 404
    finally:
        app.config["ENV_NAME"] = "test"
        app.config.pop("MAILCATCHER_DB")
