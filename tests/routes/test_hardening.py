"""Hardening seen from outside: Cache-Control on private responses, files named after their real type and
counted, rate limits shared by the workers (Retry-After), /dev/courriels for the secretariat only."""

import io

import pytest
from redis import Redis

from app import create_app, ratelimit
from app.extensions import db
from app.models import Dossier, Role
from app.services import dossiers as service
from config import TestConfig
from tests.factories import complete_dossier, make_dossier, make_instructor

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def limits(app):
    """Rate limits on, counters of this run forgotten before and after."""
    saved = {k: app.config[k] for k in ("API_RATE_LIMIT", "API_RATE_LIMIT_PER_IP", "MAIL_RATE_LIMIT")}
    ratelimit.reset()
    yield app.config
    app.config.update(saved)
    ratelimit.reset()


def upload(client, csrf, dossier, name, content=PDF):
    return client.post(
        f"/dossiers/{dossier.id}/pieces",
        data={"csrf_token": csrf(client), "kind": "Autre", "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


# --- Cache-Control ------------------------------------------------------------------------------------


def test_private_responses_are_not_stored(client, login_as, make_user, make_opportunity):
    make_opportunity()
    anonymous = client.get("/opportunites")  # needs a login: the redirect itself is not kept either
    assert anonymous.status_code == 302 and anonymous.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/mentions-legales").headers.get("Cache-Control", "")
    login_as(make_user(Role.SECRETARIAT))
    for url in (
        "/dossiers",
        "/admin/utilisateurs",
        "/opportunites",
        "/exports/donnees/opportunites.csv",
        "/api/v1/opportunities",
        "/mentions-legales",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    assert "no-store" not in client.get("/static/app.js").headers.get("Cache-Control", "")


# --- uploads ------------------------------------------------------------------------------------------


def test_a_file_is_named_after_its_detected_type(client, csrf, login_as, make_user):
    porteur = login_as(make_user(Role.PORTEUR))
    dossier = make_dossier(porteur)
    assert upload(client, csrf, dossier, "page.html").status_code == 303
    attachment = db.session.get(Dossier, dossier.id).attachments[0]
    assert attachment.filename == "page.pdf"
    download = client.get(f"/dossiers/{dossier.id}/pieces/{attachment.id}")
    assert download.status_code == 200 and "page.pdf" in download.headers["Content-Disposition"]
    assert ".html" not in download.headers["Content-Disposition"]
    assert download.headers["Content-Type"] == "application/pdf"


def test_files_per_dossier_are_limited(app, client, csrf, login_as, make_user):
    porteur = login_as(make_user(Role.PORTEUR))
    dossier = make_dossier(porteur)
    app.config["MAX_FILES_PER_DOSSIER"] = 2
    try:
        assert [upload(client, csrf, dossier, f"p{n}.pdf").status_code for n in range(2)] == [303, 303]
        refused = upload(client, csrf, dossier, "p3.pdf")
        assert refused.status_code == 422
        assert "Un dossier compte au plus 2 fichiers" in refused.get_data(as_text=True)
        assert len(db.session.get(Dossier, dossier.id).attachments) == 2
    finally:
        app.config["MAX_FILES_PER_DOSSIER"] = 50


def test_files_per_message_are_limited(app, client, csrf, login_as, make_user):
    porteur = make_user(Role.PORTEUR)
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    db.session.commit()
    login_as(make_instructor("SNAP4"))
    files = [(io.BytesIO(PDF), f"devis-{n}.pdf") for n in range(6)]
    response = client.post(
        f"/dossiers/{dossier.id}/messages",
        data={"csrf_token": csrf(client), "body": "Six devis.", "files": files},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Joignez au plus 5 fichiers à un message." in response.get_data(as_text=True)
    assert db.session.get(Dossier, dossier.id).attachments == []


# --- rate limits --------------------------------------------------------------------------------------


def test_the_api_is_limited_per_user_and_per_ip(app, client, limits, login_as, make_user):
    limits.update(API_RATE_LIMIT="3 per minute", API_RATE_LIMIT_PER_IP="5 per minute")
    first = login_as(make_user(Role.DSI, ministry="MININT"))
    statuses = [client.get("/api/v1/opportunities").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/opportunities")
    assert refused.status_code == 429 and refused.is_json
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # another user from the same address: the address has 2 of its 5 left (refused requests do not count)
    login_as(make_user(Role.DSI, ministry="MININT"))
    assert [client.get("/api/v1/stats").status_code for _ in range(3)] == [200, 200, 429]
    assert first.id


def test_the_limits_are_shared_by_every_worker(app, client, limits, login_as, make_user):
    """Two application instances (two gunicorn workers) count in the same Redis."""
    worker = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    assert worker.config["RATELIMIT_STORAGE_URI"].startswith("redis://")
    limits.update(AUTH_RATE_LIMIT=2)
    try:
        for instance in (app, worker):
            instance.config["AUTH_RATE_LIMIT"] = 2
        assert app.test_client().get("/connexion/retour?state=x").status_code == 400
        assert worker.test_client().get("/connexion/retour?state=x").status_code == 400
        response = app.test_client().get("/connexion/retour?state=x")
        assert response.status_code == 429 and "Trop de tentatives" in response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 0
        store = Redis.from_url(app.config["REDIS_URL"])
        assert list(store.scan_iter(f"{app.config['REDIS_PREFIX']}limits*"))  # the counters live in Redis
    finally:
        app.config["AUTH_RATE_LIMIT"] = 10


def test_mail_sending_actions_are_limited_per_user(client, csrf, limits, login_as, make_user):
    limits.update(MAIL_RATE_LIMIT="2 per hour")
    login_as(make_user(Role.SECRETARIAT))
    statuses = [
        client.post("/admin/rappels/envoyer", data={"csrf_token": csrf(client)}).status_code for _ in range(3)
    ]
    assert statuses == [303, 303, 429]
    login_as(make_user(Role.SECRETARIAT))
    assert client.post("/admin/rappels/envoyer", data={"csrf_token": csrf(client)}).status_code == 303


# --- /dev/courriels -----------------------------------------------------------------------------------


def test_dev_mail_pages_are_for_the_secretariat_in_development(app, client, login_as, make_user):
    assert client.get("/dev/courriels").status_code == 302  # anonymous: the login page
    login_as(make_user(Role.PORTEUR))
    assert client.get("/dev/courriels").status_code == 403
    login_as(make_user(Role.SECRETARIAT))
    assert client.get("/dev/courriels").status_code == 200
    previous, app.config["SMTP_PORT"] = app.config["SMTP_PORT"], 2526
    try:  # the page names the catcher's real address, not a hard-coded port
        assert "127.0.0.1:2526" in client.get("/dev/courriels").get_data(as_text=True)
    finally:
        app.config["SMTP_PORT"] = previous
    app.config["ENV_NAME"] = "production"
    try:
        assert client.get("/dev/courriels").status_code == 404
    finally:
        app.config["ENV_NAME"] = "test"
