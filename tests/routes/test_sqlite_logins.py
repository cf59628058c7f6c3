"""The embedded default (one SQLite file, WAL) under concurrent logins: twenty agents sign in at the same
instant through the real ProConnect test provider (a separate process) and the app served over HTTP by a
threaded server. The OIDC callback is a GET that writes (user, audit, single-use state): it must take the
write lock up front (BEGIN IMMEDIATE, `@writes`), or half of them fail on « database is locked ».
Runs on SQLite whatever TEST_BACKEND says: it is the embedded default that is tested."""

import re
import threading
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from app.extensions import _may_write, db
from app.maintenance import rebuild_database
from app.models import User
from config import TestConfig

LOGINS = 20


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, oidc_provider):
    """The app on a SQLite file of its own, served on 127.0.0.1, signing in with the provider process."""
    folder = tmp_path_factory.mktemp("embedded")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'app.sqlite3'}",
        WTF_CSRF_ENABLED=True,
        UPLOAD_DIR=folder / "uploads",
        PROCONNECT_DISCOVERY_URL=f"{oidc_provider}/.well-known/openid-configuration",
        PROCONNECT_MIN_ACR="",
        PROCONNECT_USERINFO_FORMAT="jwt",
        AUTH_RATE_LIMIT=10 * LOGINS,  # one IP for every agent here
    )
    rebuild_database(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, app.config["BASE_URL"], oidc_provider
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


PROVIDER = threading.Lock()  # the mock provider is not thread-safe; the app is what is tested


def sign_in(base_url: str, provider: str, sub: str, barrier: threading.Barrier) -> tuple[int, str]:
    """What a browser does: login page, « S'identifier avec ProConnect », the provider; then, all agents at
    the same instant, the callback; then an authenticated page."""
    browser = requests.Session()
    page = browser.get(f"{base_url}/connexion", timeout=60).text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    start = browser.post(
        f"{base_url}/connexion/proconnect", data={"csrf_token": token}, allow_redirects=False, timeout=60
    )
    assert start.status_code == 303, start.text[:500]
    with PROVIDER:
        authorized = requests.post(
            start.headers["Location"], data={"sub": sub}, allow_redirects=False, timeout=60
        )
    assert authorized.status_code == 302, authorized.text[:500]
    callback = urlsplit(authorized.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}" == base_url
    barrier.wait()
    done = browser.get(authorized.headers["Location"], allow_redirects=False, timeout=60)
    home = browser.get(f"{base_url}/notifications", allow_redirects=False, timeout=60)
    return done.status_code, f"{home.status_code}"


def test_twenty_simultaneous_logins_on_the_embedded_sqlite_default_all_succeed(embedded):
    app, base_url, provider = embedded
    subs = []
    for n in range(LOGINS):
        sub = f"simultane-{n}"
        claims = {
            "email": f"simultane.{n}@test.gouv.fr",
            "given_name": "Agent",
            "usual_name": f"Simultané {n}",
        }
        assert requests.put(f"{provider}/users/{sub}", json=claims, timeout=10).status_code == 204
        subs.append(sub)
    barrier = threading.Barrier(LOGINS)
    results: dict[str, object] = {}

    def agent(sub):
        try:
            results[sub] = sign_in(base_url, provider, sub, barrier)
        except Exception as error:  # noqa: BLE001 - reported below, with the others
            results[sub] = repr(error)

    threads = [threading.Thread(target=agent, args=(sub,)) for sub in subs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # every callback answered 303 (logged in), and the session then opens an authenticated page
    assert results == {sub: (303, "200") for sub in subs}
    with app.app_context():
        count = db.session.scalar(select(func.count(User.id)).where(User.email.like("simultane.%")))
        db.session.remove()
    assert count == LOGINS


def test_the_oidc_callback_takes_the_write_lock_and_plain_pages_do_not(embedded):
    app, _, _ = embedded
    with app.test_request_context("/connexion/retour"):
        assert _may_write()
    with app.test_request_context("/dossiers/1"):
        assert not _may_write()  # the conversation (which marks messages read) loads from its activity part
    with app.test_request_context("/dossiers/1/activite"):
        assert _may_write()  # marks the dossier's messages read
    with app.test_request_context("/notifications/1"):
        assert _may_write()  # marks the notification read
    with app.test_request_context("/opportunites"):
        assert not _may_write()
    with app.test_request_context("/connexion/proconnect", method="POST"):
        assert _may_write()
