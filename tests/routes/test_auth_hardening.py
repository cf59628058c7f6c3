"""ProConnect edge cases (issue « Hardening »), against the same local provider process as test_auth.py:
audience and azp, the provider's ACR refusal, claims validated instead of cut, the support contact, PKCE,
discovery failures named by their real cause (login, `/healthz?deep=1`, `flask proconnect check`), and the
test provider's own pages (French, nothing loaded from the Internet).
"""

import base64
import datetime
import hashlib
import html
import logging
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from app import oidc
from app.extensions import db
from app.models import User
from tests.routes.test_auth import (
    CLAIMS,
    assert_refused,
    authorize,
    last_audit,
    logged_in,
    login,
    new_agent,
    provider,  # noqa: F401  (the fixture `op` wraps)
    start,
)


@pytest.fixture
def op(provider):  # noqa: F811
    """The local provider process, configured for the app (test_auth.py's `provider` fixture)."""
    return provider


def body_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- id_token audience (OIDC Core §3.1.3.7) -------------------------------------------------------------


@pytest.mark.parametrize("fault", ["id_token_other_aud", "id_token_extra_aud"])
def test_id_token_for_another_audience_is_refused(client, csrf, op, fault):
    """aud=another-client with azp=us, or two audiences without azp: both signed by the provider."""
    sub, email = new_agent(op, faults=[fault])
    assert_refused(login(client, csrf, sub), "id_token_wrong_audience")
    assert db.session.scalar(select(User).where(User.email == email)) is None and not logged_in(client)


def test_check_audience_rules():
    oidc.check_audience({"aud": "us"}, "us")
    oidc.check_audience({"aud": ["us"]}, "us")
    oidc.check_audience({"aud": ["us", "them"], "azp": "us"}, "us")
    for claims in (
        {"aud": "them", "azp": "us"},
        {"aud": ["them"]},
        {"aud": ["us", "them"]},
        {"aud": ["us", "them"], "azp": "them"},
        {"aud": "us", "azp": "them"},
        {},
        {"aud": 42},
    ):
        with pytest.raises(oidc.LoginFailed) as refused:
            oidc.check_audience(claims, "us")
        assert refused.value.reason == "id_token_wrong_audience"


# --- ACR refused by ProConnect ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "description",
    ["none of the requested ACRs could be obtained", "none of the requested ACRs could not be obtained"],
)
def test_provider_acr_refusal_says_the_level_is_insufficient(client, csrf, op, description):
    state = parse_qs(urlsplit(start(client, csrf)).query)["state"][0]
    response = client.get(
        f"/connexion/retour?error=access_denied&error_description={quote(description)}&state={state}"
    )
    assert_refused(response, "acr_insufficient", text="niveau d'authentification insuffisant")
    body = body_of(response)
    assert "double facteur" in body and "Vous avez refusé" not in body
    assert description in last_audit("login.failed").changes["detail"][1]


def test_a_plain_denial_is_still_a_denial(client, csrf, op):
    response = client.get(authorize(start(client, csrf), deny=True))
    assert_refused(response, "access_denied", text="Vous avez refusé ou annulé la connexion")


# --- claims: validated, never truncated ----------------------------------------------------------------


def test_claim_limits_are_the_user_columns():
    for name, limit in {
        **oidc.CLAIM_LIMITS,
        "siret": 14,
        "email": oidc.EMAIL_MAX,
        "sub": oidc.SUB_MAX,
    }.items():
        assert User.__table__.c[name].type.length == limit, name


def test_bad_optional_claims_are_stored_as_absent_with_a_log_line(client, csrf, op, caplog):
    sub, email = new_agent(
        op,
        {
            "email": "agent.claims@test.gouv.fr",
            **CLAIMS,
            "siret": "1300252650001312345",  # 19 digits: cutting it would give a valid-looking SIRET
            "usual_name": "C" * 201,
            "organization_label": "DINUM\x00",
        },
    )
    with caplog.at_level(logging.WARNING, logger="app.oidc"):
        assert login(client, csrf, sub).status_code == 303
    user = db.session.scalar(select(User).where(User.email == email))
    assert user.siret is None and user.siret != "13002526500013"
    assert user.usual_name == "" and user.organization_label is None
    assert (user.given_name, user.uid, user.idp_id) == ("Marie Anne", "mc-42", "fia1v2")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("siret", "usual_name", "organization_label"):
        assert f"claim {name} of sub={sub} dropped" in logged
    assert "1300252650001312345" not in logged  # the log says why, not the value


@pytest.mark.parametrize("siret", ["1300252650001A", "1300252650001", " 13002526500013 "])
def test_siret_must_be_14_digits(siret):
    claims = oidc.validate_claims({"sub": "s", "email": "a@b.fr", "siret": siret})
    assert claims["siret"] == ("" if siret.strip() != "13002526500013" else siret)


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"email": "a" * 310 + "@test.gouv.fr"}, "email_invalid"),
        ({"email": "pas-une-adresse"}, "email_invalid"),
        ({"email": "a@b.fr\r\nBcc: x@y.fr"}, "email_invalid"),
    ],
)
def test_unusable_email_refuses_the_login(client, csrf, op, claims, reason):
    sub, _ = new_agent(op, claims)
    assert_refused(login(client, csrf, sub), reason, text="adresse électronique inutilisable")
    assert db.session.scalar(select(User).where(User.sub == sub)) is None


def test_overlong_sub_refuses_the_login(client, csrf, op):
    sub = "s" * 300
    assert requests.put(f"{op}/users/{sub}", json={"email": "long.sub@test.gouv.fr"}, timeout=5).ok
    assert_refused(login(client, csrf, sub), "sub_invalid")
    assert db.session.scalar(select(User).where(User.email == "long.sub@test.gouv.fr")) is None


# --- the support contact -------------------------------------------------------------------------------


def test_error_page_names_the_support_address(app, client, csrf, op):
    app.config["SUPPORT_EMAIL"] = "support.mutualisation@numerique.gouv.fr"
    try:
        response = client.get(authorize(start(client, csrf), deny=True))
    finally:
        app.config["SUPPORT_EMAIL"] = ""
    body = body_of(response)
    assert "support.mutualisation@numerique.gouv.fr</a>" in body
    assert 'href="mailto:support.mutualisation@numerique.gouv.fr?subject=' in body
    assert "<code>access_denied</code>" in body


# --- PKCE ------------------------------------------------------------------------------------------------


def test_authorization_request_carries_an_s256_challenge_of_a_fresh_verifier(client, csrf, op):
    params = {k: v[0] for k, v in parse_qs(urlsplit(start(client, csrf)).query).items()}
    assert params["code_challenge_method"] == "S256"
    with client.session_transaction() as session_data:
        verifier = session_data[oidc.LOGIN_KEY][params["state"]]["verifier"]
    assert 43 <= len(verifier) <= 128 and re.fullmatch(r"[A-Za-z0-9_-]+", verifier)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert params["code_challenge"] == digest
    other = parse_qs(urlsplit(start(client, csrf)).query)["code_challenge"][0]
    assert other != digest


# --- discovery failures named by their cause --------------------------------------------------------------


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(server) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def not_found_server():
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    yield f"http://{_serve(server)}/.well-known/openid-configuration"
    server.shutdown()


@pytest.fixture(scope="module")
def self_signed_server(tmp_path_factory):
    """An HTTPS server whose certificate no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield f"https://{_serve(server)}/.well-known/openid-configuration"
    server.shutdown()


@pytest.fixture(scope="module")
def silent_server():
    """Accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/.well-known/openid-configuration"


def test_login_with_a_wrong_discovery_url_says_it_is_misconfigured(app, client, csrf, op):
    app.config["PROCONNECT_DISCOVERY_URL"] = f"{op}/api/v2/.well-known/openid-configuration"
    response = client.post("/connexion/proconnect", data={"csrf_token": csrf(client)})
    assert_refused(response, "provider_misconfigured", status=503, text="mal configurée")
    assert "ne répond pas" not in body_of(response)
    assert "http_404" in last_audit("login.failed").changes["detail"][1]


def test_healthz_deep_checks_proconnect(app, client, op):
    assert "proconnect" not in client.get("/healthz").get_json()  # the liveness probe stays local
    response = client.get("/healthz?deep=1")
    assert response.status_code == 200 and response.get_json()["proconnect"] == {"status": "ok"}


@pytest.mark.parametrize(
    "target, cause, words",
    [
        ("not_found", "http_404", "HTTP 404"),
        ("dns", "dns", "DNS"),
        ("tls", "tls", "certificat"),
        ("refused", "connection_refused", "connexion refusée"),
    ],
)
def test_healthz_deep_names_the_real_cause(
    app, client, op, not_found_server, self_signed_server, target, cause, words
):
    url = {
        "not_found": not_found_server,
        "dns": "https://proconnect.invalid/api/v2/.well-known/openid-configuration",
        "tls": self_signed_server,
        "refused": "http://127.0.0.1:9/.well-known/openid-configuration",
    }[target]
    app.config["PROCONNECT_DISCOVERY_URL"] = url
    response = client.get("/healthz?deep=1")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error" and body["database"] == "ok"
    assert body["proconnect"]["cause"] == cause and words in body["proconnect"]["detail"]
    assert "ne répond pas" not in body["proconnect"]["detail"]


def test_proconnect_check_command(app, op, not_found_server, silent_server):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["proconnect", "check"])
    assert result.exit_code == 0, result.output
    assert "ok  jwks" in result.output and "configuration est complète" in result.output

    result = runner.invoke(args=["proconnect", "check", "--url", not_found_server])
    assert result.exit_code == 1
    assert "ERREUR discovery [http_404] : le serveur a répondu HTTP 404" in result.output
    assert "ProConnect n'est pas utilisable (http_404)" in result.output

    result = runner.invoke(args=["proconnect", "check", "--url", silent_server, "--timeout", "0.5"])
    assert result.exit_code == 1 and "[timeout] : pas de réponse en 0.5 s" in result.output

    result = runner.invoke(args=["proconnect", "check", "--url", f"{op}/jwks"])
    assert result.exit_code == 1 and "[incomplete] : champs absents : issuer" in result.output


# --- the test provider's pages -----------------------------------------------------------------------------


def test_provider_pages_are_french_and_load_nothing_from_the_internet(client, csrf, op):
    page = requests.get(start(client, csrf), timeout=5)
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert "Autoriser" in page.text and "Refuser" in page.text and "Comptes de démonstration" in page.text
    assert "Authorize" not in page.text
    links = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assert links and not [link for link in links if link.startswith(("http:", "https:", "//"))]
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text).group(1)
    css = requests.get(op + stylesheet, timeout=5)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert ".fr-btn" in css.text
