"""The login and logout against a certified OpenID provider: panva's `oidc-provider` (the library
ProConnect's federation is built on), configured like ProConnect by tests/interop/provider.mjs — signed
userinfo JWT, acr values, end_session validating id_token_hint, strict parameter checks, PKCE required.

The Flask test client is the service; a `requests.Session` is the agent's browser on the provider's side
(it keeps the provider's session cookies). Nothing is patched on either side.
"""

import html
import itertools
import json
import re
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, User

_seq = itertools.count(1)
IDENTITY = {
    "given_name": "Jeanne",
    "usual_name": "Barret",
    "siret": "13002526500013",
    "uid": "jb-7",
    "idp_id": "fia1v2",
    "organization_label": "DINUM",
}


def root(issuer: str) -> str:
    return issuer.removesuffix("/api/v2")


def new_agent(issuer: str, claims=None, faults=()) -> tuple[str, str]:
    n = next(_seq)
    sub = f"interop-{n}"
    email = f"interop.{n}@test.gouv.fr"
    body = {"email": email, **IDENTITY} if claims is None else claims
    assert requests.put(f"{root(issuer)}/test/accounts/{sub}", json=body, timeout=5).status_code == 204
    assert requests.put(f"{root(issuer)}/test/faults/{sub}", json=list(faults), timeout=5).status_code == 204
    return sub, body.get("email", email)


def csrf_token(client) -> str:
    page = client.get("/mentions-legales").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def start(client) -> str:
    response = client.post("/connexion/proconnect", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def on_provider(browser: requests.Session, authorization_url: str, sub=None, acr=None, deny=False) -> str:
    """The agent on ProConnect: authorize → interaction → login (or deny) → back to the service.
    Returns the callback path + query."""
    response = browser.get(authorization_url, allow_redirects=False, timeout=5)
    assert response.status_code in (302, 303), response.text
    interaction = urljoin(authorization_url, response.headers["Location"])
    assert "/interaction/" in interaction
    if sub is not None or deny:
        action = "deny" if deny else "login"
        data = {} if deny else {"sub": sub, **({"acr": acr} if acr else {})}
        response = browser.post(f"{interaction}/{action}", data=data, allow_redirects=False, timeout=5)
        assert response.status_code in (302, 303), response.text
        response = browser.get(urljoin(interaction, response.headers["Location"]), allow_redirects=False)
    assert response.status_code in (302, 303), response.text
    location = urlsplit(urljoin(authorization_url, response.headers["Location"]))
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:5000/connexion/retour"
    return f"{location.path}?{location.query}"


def login(client, browser, sub, acr=None):
    return client.get(on_provider(browser, start(client), sub, acr))


def refused(response, reason: str, status: int = 400) -> str:
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == status, body
    assert "Connexion impossible" in body and f"<code>{reason}</code>" in body
    query = select(AuditEntry).where(AuditEntry.action == "login.failed").order_by(AuditEntry.id.desc())
    assert db.session.scalars(query).first().changes["reason"] == [None, reason]
    return body


def logged_in(client) -> bool:
    return client.get("/opportunites/nouvelle").status_code != 302


@pytest.fixture
def browser():
    with requests.Session() as session:
        yield session


def test_the_provider_is_configured_like_proconnect(app, certified):
    meta = requests.get(f"{certified}/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == certified and meta["authorization_endpoint"] == f"{certified}/authorize"
    assert meta["userinfo_signing_alg_values_supported"] == ["RS256"]
    assert "eidas2" in meta["acr_values_supported"] and meta["claims_parameter_supported"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    result = app.test_cli_runner().invoke(args=["proconnect", "check"])
    assert result.exit_code == 0, result.output


def test_login_with_signed_userinfo_and_pkce(client, browser, certified):
    sub, email = new_agent(certified)
    response = login(client, browser, sub)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    user = db.session.scalar(select(User).where(User.email == email))
    assert (user.sub, user.issuer) == (sub, certified)
    assert (user.full_name, user.siret, user.uid, user.idp_id) == (
        "Jeanne Barret",
        "13002526500013",
        "jb-7",
        "fia1v2",
    )
    assert user.organization_label == "DINUM" and logged_in(client)


def test_the_callback_iss_must_be_the_provider(client, browser, certified):
    """RFC 9207: the provider names itself in the callback; a response from another issuer is refused
    before the code is used."""
    sub, email = new_agent(certified)
    callback = on_provider(browser, start(client), sub)
    assert parse_qs(urlsplit(callback).query)["iss"] == [certified]
    forged = callback.replace(quote(certified, safe=""), quote("https://other.example/api/v2", safe=""))
    assert forged != callback
    refused(client.get(forged), "issuer_mismatch")
    assert db.session.scalar(select(User).where(User.email == email)) is None


def test_the_provider_enforces_strict_parameters_and_pkce(client, browser, certified):
    """What the service's authorization request passes is really checked: the harness is strict."""
    url = urlsplit(start(client))
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = f"{url.scheme}://{url.netloc}{url.path}"
    for changed, words in (
        ({**params, "unknown": "x"}, "unknown parameters"),
        ({**params, "state": "short"}, "state shorter than 32"),
    ):
        answer = browser.get(f"{base}?{urlencode(changed)}", allow_redirects=False, timeout=5)
        assert answer.status_code == 400 and words in answer.json()["error_description"]
    without_pkce = {k: v for k, v in params.items() if not k.startswith("code_challenge")}
    answer = browser.get(f"{base}?{urlencode(without_pkce)}", allow_redirects=False, timeout=5)
    assert "requires PKCE" in parse_qs(urlsplit(answer.headers["Location"]).query)["error_description"][0]


def test_id_token_for_another_audience_is_refused(client, browser, certified):
    sub, email = new_agent(certified, faults=["id_token_other_aud"])
    refused(login(client, browser, sub), "id_token_wrong_audience")
    assert db.session.scalar(select(User).where(User.email == email)) is None and not logged_in(client)


def test_acr_refusal_by_the_provider(app, client, browser, certified):
    app.config["PROCONNECT_MIN_ACR"] = "eidas2"
    claims = json.loads(parse_qs(urlsplit(start(client)).query)["claims"][0])
    assert claims["id_token"]["acr"] == {"essential": True, "values": ["eidas2", "eidas3"]}
    sub, email = new_agent(certified)
    body = refused(login(client, browser, sub, acr="eidas1"), "acr_insufficient")
    assert "niveau d'authentification insuffisant" in body and "double facteur" in body
    assert db.session.scalar(select(User).where(User.email == email)) is None
    response = login(client, browser, sub, acr="eidas2")  # the agent comes back with a stronger login
    assert response.status_code == 303 and logged_in(client)


def test_denial_on_the_provider(client, browser, certified):
    body = refused(client.get(on_provider(browser, start(client), deny=True)), "access_denied")
    assert "Vous avez refusé ou annulé la connexion" in body


def test_logout_through_end_session_with_id_token_hint(client, browser, certified):
    sub, _ = new_agent(certified)
    login(client, browser, sub)
    response = client.post("/deconnexion", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 303 and not logged_in(client)
    end_session = response.headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(end_session).query).items()}
    assert end_session.startswith(f"{certified}/session/end?") and params["id_token_hint"].count(".") == 2

    page = browser.get(end_session, timeout=5)  # the provider checked the hint and the URI: it asks
    assert page.status_code == 200, page.text
    form = re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)">', page.text)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text).group(1)
    back = browser.post(
        urljoin(end_session, form.group(1)), data={"xsrf": xsrf, "logout": "yes"}, allow_redirects=False
    )
    location = urlsplit(back.headers["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:5000/deconnexion/retour"
    )
    assert parse_qs(location.query)["state"] == [params["state"]]
    home = client.get(f"{location.path}?{location.query}", follow_redirects=True)
    assert "Vous êtes déconnecté." in home.get_data(as_text=True)

    # The provider's session is over too: the next login asks the agent again (no silent SSO).
    answer = browser.get(start(client), allow_redirects=False, timeout=5)
    assert "/interaction/" in answer.headers["Location"]
    details = browser.get(urljoin(certified, answer.headers["Location"]), timeout=5).json()
    assert details["prompt"]["name"] == "login"


def test_end_session_refuses_a_forged_hint(client, browser, certified):
    sub, _ = new_agent(certified)
    login(client, browser, sub)
    end_session = client.post("/deconnexion", data={"csrf_token": csrf_token(client)}).headers["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(end_session).query).items()}
    header, payload, signature = params["id_token_hint"].split(".")
    forged = dict(params, id_token_hint=f"{header}.{payload}.{signature[::-1]}")
    answer = browser.get(f"{certified}/session/end?{urlencode(forged)}", allow_redirects=False, timeout=5)
    assert answer.status_code == 400 and "id_token_hint" in answer.json()["error_description"]
