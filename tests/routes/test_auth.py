"""The ProConnect flow for real: Flask test client ↔ scripts/oidc_provider.py (a separate process) over HTTP.

The provider is oidc-provider-mock behind a thin ProConnect-like layer (signed userinfo, exact redirect
URIs, client_secret_post). Users are set with `PUT /users/<sub>`, logged in by POSTing `sub` to the
authorization URL (`action=deny` refuses), and the misbehaviours the mock cannot produce (tampered or
expired id_token, bad userinfo signature, another sub) are switched on per subject with
`PUT /test/faults/<sub>`. Nothing in the app is patched.
"""

import html
import itertools
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from app import oidc, ratelimit
from app.extensions import db
from app.models import AuditEntry, User

_seq = itertools.count(1)
CLAIMS = {
    "given_name": "Marie Anne",
    "usual_name": "Curie",
    "siret": "13002526500013",
    "uid": "mc-42",
    "idp_id": "fia1v2",
    "organization_label": "DINUM",
}


@pytest.fixture
def provider(app, oidc_provider):
    """Point the session-wide app at the provider process; restore the configuration afterwards."""
    saved = {
        k: app.config[k]
        for k in (
            "PROCONNECT_DISCOVERY_URL",
            "PROCONNECT_MIN_ACR",
            "PROCONNECT_USERINFO_FORMAT",
            "BASE_URL",
            "AUTH_RATE_LIMIT",
        )
    }
    app.config.update(
        PROCONNECT_DISCOVERY_URL=f"{oidc_provider}/.well-known/openid-configuration",
        PROCONNECT_MIN_ACR="",
        PROCONNECT_USERINFO_FORMAT="jwt",
        BASE_URL="http://127.0.0.1:5000",
    )
    ratelimit.reset()
    yield oidc_provider
    app.config.update(saved)
    ratelimit.reset()


def new_agent(provider, claims=None, faults=()) -> tuple[str, str]:
    """A fresh subject on the provider; returns (sub, email)."""
    n = next(_seq)
    sub = f"sub-{n}-{id(provider) % 1000}"
    email = f"agent.{n}@test.gouv.fr"
    body = {"email": email, **CLAIMS} if claims is None else claims
    email = body.get("email", email)
    assert requests.put(f"{provider}/users/{sub}", json=body, timeout=5).status_code == 204
    assert requests.put(f"{provider}/test/faults/{sub}", json=list(faults), timeout=5).status_code == 204
    return sub, email


def start(client, csrf, next_url="") -> str:
    response = client.post("/connexion/proconnect", data={"csrf_token": csrf(client), "next": next_url})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def authorize(authorization_url: str, sub: str | None = None, deny: bool = False) -> str:
    """What the agent does on ProConnect; returns the callback path + query the browser is sent to."""
    data = {"action": "deny"} if deny else {"sub": sub}
    response = requests.post(authorization_url, data=data, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:5000/connexion/retour"
    return f"{location.path}?{location.query}"


def login(client, csrf, sub, next_url=""):
    return client.get(authorize(start(client, csrf, next_url), sub))


def last_audit(action: str) -> AuditEntry | None:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc())
    return db.session.scalars(query).first()


def failure_count() -> int:
    return len(db.session.scalars(select(AuditEntry.id).where(AuditEntry.action == "login.failed")).all())


def logged_in(client) -> bool:
    return client.get("/opportunites/nouvelle").status_code != 302


def assert_refused(response, reason: str, status: int = 400, text: str | None = None):
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == status, body
    assert "Connexion impossible" in body and 'class="fr-alert fr-alert--error' in body
    assert f"<code>{reason}</code>" in body
    if text:
        assert text in body
    entry = last_audit("login.failed")
    assert entry is not None and entry.changes["reason"] == [None, reason]


# --- login page ---------------------------------------------------------------------------------------


def test_login_page_has_the_proconnect_button_and_demo_accounts(client, app):
    body = client.get("/connexion?next=/opportunites").get_data(as_text=True)
    assert 'class="fr-connect-group"' in body and 'class="fr-connect fr-connect--pro" type="submit"' in body
    assert 'action="/connexion/proconnect"' in body and 'name="csrf_token"' in body
    assert 'name="next" value="/opportunites"' in body
    assert "Qu’est-ce que ProConnect ?" in body and 'href="https://www.proconnect.gouv.fr/"' in body
    assert "Fournisseur d'identité de test" in body
    for email in (
        "secretariat@demo.gouv.fr",
        "dsi@demo.gouv.fr",
        "porteur@demo.gouv.fr",
        "instructeur@demo.gouv.fr",
        "comite@demo.gouv.fr",
    ):
        assert email in body


def test_login_page_without_mock_lists_no_demo_account(client, app):
    app.config["PROCONNECT_IS_MOCK"] = False
    try:
        body = client.get("/connexion?next=https://evil.example/").get_data(as_text=True)
    finally:
        app.config["PROCONNECT_IS_MOCK"] = True
    assert "demo.gouv.fr" not in body and "Fournisseur d'identité de test" not in body
    assert 'name="next" value=""' in body  # an absolute URL is not kept


# --- successful flow ----------------------------------------------------------------------------------


def test_authorization_request_is_proconnect_shaped(client, csrf, provider):
    url = urlsplit(start(client, csrf))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider}/oauth2/authorize"
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert set(params) == {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "claims"}
    assert params["response_type"] == "code" and params["client_id"] == "mutualisation-dev"
    assert params["redirect_uri"] == "http://127.0.0.1:5000/connexion/retour"
    assert params["scope"] == "openid email given_name usual_name uid siret idp_id organization_label"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32 and params["state"] != params["nonce"]
    assert json.loads(params["claims"]) == {"id_token": {"acr": None, "amr": None}}
    other = dict(parse_qs(urlsplit(start(client, csrf)).query))
    assert other["state"][0] != params["state"] and other["nonce"][0] != params["nonce"]


def test_first_login_registers_a_porteur_and_opens_a_12h_session(client, csrf, provider):
    sub, email = new_agent(provider)
    response = login(client, csrf, sub)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    user = db.session.scalar(select(User).where(User.email == email))
    assert (user.sub, user.issuer) == (sub, provider)
    assert (user.given_name, user.usual_name, user.full_name) == ("Marie Anne", "Curie", "Marie Anne Curie")
    assert (user.siret, user.uid, user.idp_id) == ("13002526500013", "mc-42", "fia1v2")
    assert user.organization_label == "DINUM"
    assert user.last_login_at is not None and user.role_names == {"porteur"}
    assert last_audit("user.registered").object_id == str(user.id)
    assert last_audit("user.logged_in").actor_id == user.id
    page = client.get("/").get_data(as_text=True)
    assert "Marie Anne Curie" in page and "Se déconnecter" in page
    with client.session_transaction() as session_data:
        assert session_data.permanent and session_data[oidc.ID_TOKEN_KEY].count(".") == 2
        assert oidc.LOGIN_KEY not in session_data


def test_next_is_kept_through_the_flow_but_never_leaves_the_site(client, csrf, provider):
    sub, _ = new_agent(provider)
    assert login(client, csrf, sub, "/opportunites?q=cloud").headers["Location"] == "/opportunites?q=cloud"
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        client.post("/deconnexion", data={"csrf_token": csrf(client)})
        assert login(client, csrf, sub, target).headers["Location"] == "/"


def test_anonymous_visitor_is_sent_to_login_and_comes_back(client, csrf, provider):
    response = client.get("/opportunites/nouvelle")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=/opportunites/nouvelle"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/opportunites/nouvelle"' in page
    sub, _ = new_agent(provider)
    assert login(client, csrf, sub, "/opportunites/nouvelle").headers["Location"] == "/opportunites/nouvelle"


def test_returning_user_is_found_by_sub_and_updated(client, csrf, provider):
    sub, email = new_agent(provider)
    login(client, csrf, sub)
    requests.put(
        f"{provider}/users/{sub}",
        json={"email": email, **CLAIMS, "usual_name": "Curie-Sklodowska"},
        timeout=5,
    )
    client.post("/deconnexion", data={"csrf_token": csrf(client)})
    login(client, csrf, sub)
    users = db.session.scalars(select(User).where(User.sub == sub)).all()
    assert len(users) == 1 and users[0].usual_name == "Curie-Sklodowska"
    assert last_audit("user.logged_in").changes == {"usual_name": ["Curie", "Curie-Sklodowska"]}


def test_known_email_with_a_new_sub_is_the_same_user(client, csrf, provider, make_user):
    user = make_user("dsi", email="jean.dupont@interieur.gouv.fr", ministry="MI")
    sub, _ = new_agent(
        provider, {"email": "Jean.Dupont@Interieur.gouv.fr", "given_name": "Jean", "usual_name": "Dupont"}
    )
    assert login(client, csrf, sub).status_code == 303
    db.session.refresh(user)
    assert user.sub == sub and user.role_names == {"dsi"}
    assert db.session.scalar(select(User).where(User.sub == sub)).id == user.id
    assert "reconnu par son adresse électronique" in last_audit("user.logged_in").summary


def test_pre_registered_user_gets_the_roles_at_first_login(app, client, csrf, provider, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "add",
            "Presidente.Csic@Finances.gouv.fr",
            "--role",
            "comite",
            "--committee",
            "CSIC-TECH",
            "--function",
            "president",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "add", "presidente.csic@finances.gouv.fr", "--role", "dsi", "--ministry", "SGMER"]
    )
    assert result.exit_code == 0, result.output
    sub, _ = new_agent(
        provider, {"email": "presidente.csic@finances.gouv.fr", "given_name": "Agnès", "usual_name": "Roux"}
    )
    assert login(client, csrf, sub).status_code == 303
    user = db.session.scalar(select(User).where(User.sub == sub))
    assert user.email == "presidente.csic@finances.gouv.fr" and user.full_name == "Agnès Roux"
    assert sorted(r.label for r in user.roles) == [
        "Membre DSI — SGMER",
        "Membre de comité — CSIC-TECH (Président)",
    ]


# --- refusals -----------------------------------------------------------------------------------------


def test_denied_on_provider_shows_a_french_page(client, csrf, provider):
    before = failure_count()
    response = client.get(authorize(start(client, csrf), deny=True))
    assert_refused(response, "access_denied", text="Vous avez refusé ou annulé la connexion")
    assert failure_count() == before + 1 and not logged_in(client)


def test_login_required_error(client, csrf, provider):
    state = parse_qs(urlsplit(start(client, csrf)).query)["state"][0]
    response = client.get(f"/connexion/retour?error=login_required&state={state}")
    assert_refused(response, "login_required", text="Votre session ProConnect a expiré")


def test_unknown_state_is_refused_without_calling_the_provider(client, csrf, provider):
    response = client.get("/connexion/retour?code=anything&state=" + "x" * 43)
    assert_refused(response, "state_unknown")
    assert_refused(client.get("/connexion/retour?code=anything"), "state_unknown")


def test_state_is_single_use(client, csrf, provider):
    sub, _ = new_agent(provider)
    callback = authorize(start(client, csrf), sub)
    assert client.get(callback).status_code == 303
    client.post("/deconnexion", data={"csrf_token": csrf(client)})
    assert_refused(client.get(callback), "state_unknown")
    assert not logged_in(client)


def test_state_expires_after_ten_minutes(client, csrf, provider):
    sub, email = new_agent(provider)
    callback = authorize(start(client, csrf), sub)
    with client.session_transaction() as session_data:
        pending = session_data[oidc.LOGIN_KEY]
        session_data[oidc.LOGIN_KEY] = {
            state: dict(entry, at=entry["at"] - 601) for state, entry in pending.items()
        }
    assert_refused(client.get(callback), "state_expired", text="a expiré")
    assert db.session.scalar(select(User).where(User.email == email)) is None


def test_code_issued_for_another_nonce_is_refused(app, client, csrf, provider):
    """Code injection: a code obtained by session A, replayed in session B with B's valid state."""
    sub, email = new_agent(provider)
    victim = app.test_client()
    victim_state = parse_qs(urlsplit(start(victim, csrf)).query)["state"][0]
    attacker_callback = authorize(start(client, csrf), sub)
    code = parse_qs(urlsplit(attacker_callback).query)["code"][0]
    response = victim.get(f"/connexion/retour?code={code}&state={victim_state}")
    assert_refused(response, "id_token_nonce_mismatch")
    assert db.session.scalar(select(User).where(User.email == email)) is None


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("id_token_tampered", "id_token_bad_signature"),
        ("id_token_expired", "id_token_expired"),
        ("userinfo_bad_signature", "userinfo_bad_signature"),
        ("userinfo_other_sub", "userinfo_sub_mismatch"),
        ("userinfo_json", "userinfo_format"),
    ],
)
def test_bad_tokens_are_refused_and_nothing_is_stored(client, csrf, provider, fault, reason):
    sub, email = new_agent(provider, faults=[fault])
    before = failure_count()
    assert_refused(login(client, csrf, sub), reason)
    assert db.session.scalar(select(User).where(User.email == email)) is None
    assert failure_count() == before + 1 and not logged_in(client)


def test_json_userinfo_when_configured(app, client, csrf, provider):
    app.config["PROCONNECT_USERINFO_FORMAT"] = "json"
    sub, email = new_agent(provider, faults=["userinfo_json"])
    assert login(client, csrf, sub).status_code == 303
    assert db.session.scalar(select(User).where(User.email == email)).usual_name == "Curie"
    sub, _ = new_agent(provider)  # a signed JWT while JSON is expected: refused
    assert_refused(login(client, csrf, sub), "userinfo_format")


def test_minimum_acr(app, client, csrf, provider):
    app.config["PROCONNECT_MIN_ACR"] = "eidas1"
    claims = parse_qs(urlsplit(start(client, csrf)).query)["claims"][0]
    assert json.loads(claims)["id_token"]["acr"] == {
        "essential": True,
        "values": ["eidas1", "eidas1-mfa", "eidas2", "eidas3"],
    }
    for acr in ("eidas0", "inconnu", None):
        claims = {"email": f"acr-{acr}@test.gouv.fr", **({"acr": acr} if acr else {})}
        sub, email = new_agent(provider, claims)
        assert_refused(login(client, csrf, sub), "acr_insufficient", text="niveau d'authentification")
        assert db.session.scalar(select(User).where(User.email == email)) is None
        entry = last_audit("login.failed")
        assert email.lower() in entry.summary and sub in entry.changes["detail"][1]
    sub, email = new_agent(provider, {"email": "acr-ok@test.gouv.fr", "acr": "eidas2"})
    assert login(client, csrf, sub).status_code == 303


def test_missing_email_claim(client, csrf, provider):
    sub, _ = new_agent(provider, {"given_name": "Sans", "usual_name": "Adresse"})
    assert_refused(login(client, csrf, sub), "email_missing", text="adresse électronique")
    assert db.session.scalar(select(User).where(User.sub == sub)) is None


def test_deactivated_user_cannot_log_in(client, csrf, provider, make_user):
    user = make_user("dsi", email="ancien.agent@test.gouv.fr", active=False)
    sub, _ = new_agent(provider, {"email": "ancien.agent@test.gouv.fr"})
    assert_refused(login(client, csrf, sub), "user_deactivated", status=403, text="désactivé")
    entry = last_audit("login.failed")
    assert entry.actor_id == user.id and entry.object_id == str(user.id)
    db.session.refresh(user)
    assert user.sub is None and user.last_login_at is None and not logged_in(client)


def test_provider_down_gives_a_french_page(app, client, csrf, provider):
    app.config["PROCONNECT_DISCOVERY_URL"] = "http://127.0.0.1:9/.well-known/openid-configuration"
    response = client.post("/connexion/proconnect", data={"csrf_token": csrf(client)})
    assert_refused(response, "provider_unavailable", status=503, text="ProConnect ne répond pas")


def test_login_routes_are_rate_limited(app, client, csrf, provider):
    app.config["AUTH_RATE_LIMIT"] = 3
    token = csrf(client)
    statuses = [
        client.post("/connexion/proconnect", data={"csrf_token": token}).status_code for _ in range(4)
    ]
    assert statuses == [303, 303, 303, 429]
    assert [client.get("/connexion/retour?state=x").status_code for _ in range(3)] == [400, 400, 400]
    response = client.get("/connexion/retour?state=x")
    assert response.status_code == 429 and "Trop de tentatives" in response.get_data(as_text=True)
    assert client.get("/connexion").status_code == 200  # the page itself is not limited


# --- logout -------------------------------------------------------------------------------------------


def test_logout_goes_through_proconnect_and_comes_back_home(client, csrf, provider):
    sub, _ = new_agent(provider)
    login(client, csrf, sub)
    with client.session_transaction() as session_data:
        id_token = session_data[oidc.ID_TOKEN_KEY]
    response = client.post("/deconnexion", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    end_session = urlsplit(response.headers["Location"])
    endpoint = f"{end_session.scheme}://{end_session.netloc}{end_session.path}"
    assert endpoint == f"{provider}/oauth2/end_session"
    params = {k: v[0] for k, v in parse_qs(end_session.query).items()}
    assert params["id_token_hint"] == id_token and len(params["state"]) >= 32
    assert params["post_logout_redirect_uri"] == "http://127.0.0.1:5000/deconnexion/retour"
    assert not logged_in(client)  # the local session is gone before the provider answers

    page = requests.get(response.headers["Location"], timeout=5)
    assert page.status_code == 200
    redirect_uri = re.search(r'name="redirect_uri" value="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    back = requests.post(
        f"{provider}/oauth2/end_session/confirm",
        data={"redirect_uri": redirect_uri},
        allow_redirects=False,
        timeout=5,
    )
    location = urlsplit(back.headers["Location"])
    assert location.path == "/deconnexion/retour" and parse_qs(location.query)["state"] == [params["state"]]
    home = client.get(f"{location.path}?{location.query}", follow_redirects=True)
    assert home.request.path == "/" and "Vous êtes déconnecté." in home.get_data(as_text=True)
    assert "Se connecter" in home.get_data(as_text=True)


def test_logout_return_with_a_wrong_state_still_logs_out(client, csrf, provider):
    sub, _ = new_agent(provider)
    login(client, csrf, sub)
    client.post("/deconnexion", data={"csrf_token": csrf(client)})
    home = client.get("/deconnexion/retour?state=forged", follow_redirects=True)
    assert home.request.path == "/" and "Vous êtes déconnecté de ce service." in home.get_data(as_text=True)
    assert not logged_in(client)


def test_logout_when_provider_is_down_still_logs_out_locally(app, client, csrf, provider):
    sub, _ = new_agent(provider)
    login(client, csrf, sub)
    app.config["PROCONNECT_DISCOVERY_URL"] = "http://127.0.0.1:9/.well-known/openid-configuration"
    response = client.post("/deconnexion", data={"csrf_token": csrf(client)}, follow_redirects=True)
    assert response.request.path == "/" and "ProConnect n'a pas pu être joint" in html.unescape(
        response.get_data(as_text=True)
    )
    assert not logged_in(client)


# --- CSRF and htmx -----------------------------------------------------------------------------------


def test_post_without_csrf_token_is_400(client, provider):
    response = client.post("/connexion/proconnect")
    assert response.status_code == 400 and "jeton de sécurité" in response.get_data(as_text=True)
    assert client.post("/deconnexion").status_code == 400


def test_htmx_request_from_an_expired_session_gets_hx_redirect(client):
    response = client.get(
        "/opportunites/similaires?brique=x",
        headers={"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1:5000/opportunites/nouvelle"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/connexion?next=/opportunites/nouvelle"
