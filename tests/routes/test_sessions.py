"""Server-side sessions, on both stores (Redis, as the suite runs, and the auth_sessions table): logout,
deactivation and a role taken away end the session at once; idle timeout and absolute cap; a new id at
login; nothing but an opaque id in the cookie; the logout-return CSRF; the user's own sessions page."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import auth_session
from app.auth_session import RedisStore, ServerSessionInterface, SqlStore, key_hash
from app.extensions import db
from app.models import Organisation, Role, UserRole
from tests.routes.test_auth import login, new_agent, provider  # noqa: F401  (the real ProConnect flow)

COOKIE = "session"


@pytest.fixture(params=["redis", "sql"])
def store(request, app):
    """Each test runs once on each store (the suite's own client keeps working on both)."""
    saved = app.session_interface
    if request.param == "sql":
        app.session_interface = ServerSessionInterface(SqlStore())
    else:
        assert isinstance(saved.store, RedisStore)
        # user ids come back after each test's rollback: forget the sessions of earlier tests
        for key in saved.store.client.scan_iter(f"{saved.store.prefix}*"):
            saved.store.client.delete(key)
    yield app.session_interface.store
    app.session_interface = saved


def sid(client) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def opens_dossiers(client) -> bool:
    response = client.get("/dossiers")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_of(app, client):
    other = app.test_client()
    other.set_cookie(COOKIE, sid(client))
    return other


def age(store, client, *, idle=timedelta(0), started=timedelta(0)) -> None:
    key = key_hash(sid(client))
    record = store.load(key)
    record.last_seen_at -= idle
    record.created_at -= started
    store.save(key, record, timedelta(hours=1))


def test_the_login_helper_works_on_both_stores(store, client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    assert opens_dossiers(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid(client))  # an opaque id, nothing readable or signed
    assert store.load(key_hash(sid(client))).user_id is not None


def test_a_cookie_copied_before_logout_opens_nothing_after(store, app, client, csrf, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    assert opens_dossiers(client)
    thief = copy_of(app, client)
    assert opens_dossiers(thief)
    assert client.post("/deconnexion", data={"csrf_token": csrf(client)}).status_code == 303
    assert not opens_dossiers(thief)
    assert not opens_dossiers(client)


def test_logout_is_a_post_with_csrf(store, client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion").status_code == 400  # no CSRF token
    assert opens_dossiers(client)


def test_deactivation_ends_the_session_at_once(store, app, client, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    assert opens_dossiers(client)
    key = key_hash(sid(client))
    user.active = False
    db.session.commit()
    assert not opens_dossiers(client)
    assert store.load(key) is None  # the record itself is gone


def test_a_role_taken_away_ends_the_session(store, client, login_as, make_user):
    user = login_as(make_user(Role.DSI, Role.PORTEUR, ministry="MININT"))
    assert opens_dossiers(client)
    db.session.delete(next(r for r in user.roles if r.role == Role.DSI))
    db.session.commit()
    response = client.get("/dossiers", follow_redirects=True)
    assert "Vos droits ont changé : reconnectez-vous" in response.get_data(as_text=True)
    assert not opens_dossiers(client)


def test_a_role_moved_to_another_ministry_ends_the_session(store, client, login_as, make_user):
    user = login_as(make_user(Role.DSI, ministry="MININT"))
    assert opens_dossiers(client)
    role = user.roles[0]
    role.organisation_id = next(
        o.id for o in db.session.scalars(select(Organisation)) if o.id != role.organisation_id
    )
    db.session.commit()
    assert not opens_dossiers(client)


def test_switching_users_in_one_client_is_not_a_role_change(store, client, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT, Role.PORTEUR))
    assert opens_dossiers(client)
    login_as(make_user(Role.PORTEUR))  # the login helper replaces the user inside the same session
    assert opens_dossiers(client)


def test_a_role_granted_keeps_the_session(store, client, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    assert opens_dossiers(client)
    db.session.add(UserRole(user_id=user.id, role=Role.INSTRUCTEUR))
    db.session.commit()
    assert opens_dossiers(client)


def test_idle_timeout(store, app, client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    assert opens_dossiers(client)
    age(store, client, idle=timedelta(minutes=119))
    assert opens_dossiers(client)  # still within the 2 hours (and the request counts as activity)
    age(store, client, idle=timedelta(minutes=121))
    assert not opens_dossiers(client)


def test_idle_timeout_is_configurable(store, app, client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    app.config["SESSION_IDLE_MINUTES"] = 10
    try:
        age(store, client, idle=timedelta(minutes=11))
        assert not opens_dossiers(client)
    finally:
        app.config["SESSION_IDLE_MINUTES"] = 120


def test_absolute_cap_whatever_the_activity(store, app, client, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    age(store, client, started=timedelta(hours=11, minutes=59))
    assert opens_dossiers(client)
    age(store, client, started=timedelta(minutes=2))
    assert not opens_dossiers(client)
    login_as(make_user(Role.PORTEUR))
    app.config["SESSION_MAX_HOURS"] = 1
    try:
        age(store, client, started=timedelta(minutes=61))
        assert not opens_dossiers(client)
    finally:
        app.config["SESSION_MAX_HOURS"] = 12


def test_the_id_changes_at_login(store, client, login_as, make_user):
    client.get("/mentions-legales")
    client.get("/connexion")  # an anonymous session (CSRF token)
    before = sid(client)
    assert before
    login_as(make_user(Role.PORTEUR))
    assert sid(client) != before
    assert store.load(key_hash(before)) is None  # a planted id is worth nothing after the login


def test_real_login_rotates_the_id_and_keeps_the_id_token_server_side(app, client, csrf, provider):  # noqa: F811
    client.get("/connexion")
    before = sid(client)
    sub, _ = new_agent(provider)
    login(client, csrf, sub)
    after = sid(client)
    assert after and after != before and re.fullmatch(r"[A-Za-z0-9_-]{43}", after)
    record = app.session_interface.store.load(key_hash(after))
    assert "_id_token" in record.data or "id_token" in record.data  # kept for the logout's id_token_hint
    assert opens_dossiers(client)


def test_logout_return_without_a_valid_state_asks_for_confirmation(store, client, csrf, login_as, make_user):
    login_as(make_user(Role.PORTEUR))
    for query in ("", "?state=forged-by-another-site"):
        response = client.get(f"/deconnexion/retour{query}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and "Voulez-vous vous déconnecter ?" in page
        assert 'action="/deconnexion"' in page and 'name="csrf_token"' in page
        assert opens_dossiers(client)  # still logged in
    assert client.post("/deconnexion", data={"csrf_token": csrf(client)}).status_code == 303
    assert not opens_dossiers(client)


def test_a_user_sees_and_ends_their_sessions(store, app, client, csrf, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    laptop = app.test_client()
    with laptop.session_transaction() as data:
        data["_user_id"] = str(user.id)
    assert opens_dossiers(laptop)
    page = client.get("/compte/sessions")
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert text.count("<tr>") - 1 == 2 and "(cette session)" in text
    other = next(s for s in auth_session.user_sessions(app, user.id) if key_hash(sid(laptop))[:16] == s.ref)
    response = client.post(f"/compte/sessions/{other.ref}/fin", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    assert not opens_dossiers(laptop)
    assert opens_dossiers(client)
    assert client.get("/compte/sessions").get_data(as_text=True).count("<tr>") - 1 == 1


def test_ending_every_other_session(store, app, client, csrf, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    devices = [app.test_client() for _ in range(2)]
    for device in devices:
        with device.session_transaction() as data:
            data["_user_id"] = str(user.id)
    response = client.post("/compte/sessions/fin-autres", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    assert not any(opens_dossiers(device) for device in devices)
    assert opens_dossiers(client)
    assert client.post("/compte/sessions/fin-autres").status_code == 400  # CSRF


def test_ending_ones_own_session_logs_out(store, app, client, csrf, login_as, make_user):
    user = login_as(make_user(Role.PORTEUR))
    client.get("/dossiers")
    mine = next(s for s in auth_session.user_sessions(app, user.id) if key_hash(sid(client))[:16] == s.ref)
    assert (
        client.post(f"/compte/sessions/{mine.ref}/fin", data={"csrf_token": csrf(client)}).status_code == 303
    )
    assert not opens_dossiers(client)
