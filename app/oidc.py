"""ProConnect client (Authlib): authorization URL, code exchange, id_token and userinfo checks, logout URL.

Facts behind each choice: docs/proconnect.md (§3–§8, §11, §14).

- The discovery document is fetched on the first login, not at start (the app starts while the provider
  is down). One Authlib client per app and configuration, kept in `app.extensions` (Authlib's global
  registry would share one client, and its cached metadata, between all apps of the process).
- `state` and `nonce` are ours (43 characters), kept in the Flask session with their creation time,
  single-use (popped on the callback whatever happens) and valid 10 minutes. Several pending logins
  (tabs) may coexist.
- The token request authenticates with client_secret_post. The id_token is verified by Authlib
  (signature against the JWKS, `iss`, `aud`, `exp` with a 30 s leeway instead of Authlib's 120, `nonce`,
  `at_hash`). The userinfo response is read as a signed JWT (`application/jwt`, same JWKS, `iss`, `aud`,
  `exp`) or as JSON when PROCONNECT_USERINFO_FORMAT=json; its `sub` must equal the id_token's.
- Every refusal raises `LoginFailed(reason, message)`: `reason` is for the log and the audit trail,
  `message` is the French text shown to the user.
"""

import json
import secrets
import time
from dataclasses import dataclass

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import current_app, session
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

SCOPES = "openid email given_name usual_name uid siret idp_id organization_label"
CALLBACK_PATH = "/connexion/retour"
LOGOUT_RETURN_PATH = "/deconnexion/retour"
FLOW_TTL = 600  # seconds a state/nonce stays valid
MAX_PENDING = 5  # pending logins kept per browser session
LEEWAY = 30  # seconds of clock skew accepted on exp/iat
HTTP_TIMEOUT = 10
LOGIN_KEY = "oidc_pending"
LOGOUT_KEY = "oidc_logout"
ID_TOKEN_KEY = "oidc_id_token"
ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

# Minimum ACR → values accepted (docs/proconnect.md §6). Unknown values are never "enough".
ACR_ACCEPTED = {
    "eidas0": ("eidas0", "eidas0-mfa", "eidas1", "eidas1-mfa", "eidas2", "eidas3"),
    "eidas0-mfa": ("eidas0-mfa", "eidas1-mfa", "eidas2", "eidas3"),
    "eidas1": ("eidas1", "eidas1-mfa", "eidas2", "eidas3"),
    "eidas1-mfa": ("eidas1-mfa", "eidas2", "eidas3"),
    "eidas2": ("eidas2", "eidas3"),
    "eidas3": ("eidas3",),
}

GENERIC = (
    "La connexion avec ProConnect n'a pas abouti. Recommencez depuis la page de connexion ; "
    "si le problème persiste, contactez le secrétariat."
)
MESSAGES = {
    "provider_unavailable": "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes.",
    "access_denied": "Vous avez refusé ou annulé la connexion sur ProConnect. Vous n'êtes pas connecté.",
    "login_required": "Votre session ProConnect a expiré. Reconnectez-vous.",
    "state_unknown": (
        "Cette demande de connexion est inconnue ou a déjà été utilisée. Recommencez la connexion."
    ),
    "state_expired": "Cette demande de connexion a expiré (10 minutes). Recommencez la connexion.",
    "acr_insufficient": (
        "Le niveau d'authentification obtenu auprès de ProConnect est insuffisant pour ce "
        "service. Reconnectez-vous avec une authentification plus forte (par exemple à "
        "double facteur)."
    ),
    "email_missing": (
        "ProConnect n'a pas transmis votre adresse électronique : ce service ne peut pas "
        "vous identifier. Contactez le secrétariat."
    ),
    "user_deactivated": "Votre compte a été désactivé. Contactez le secrétariat pour le réactiver.",
}


class LoginFailed(Exception):
    def __init__(self, reason: str, detail: str = "", *, email: str | None = None, status: int = 400):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.email = email
        self.status = status

    @property
    def message(self) -> str:
        return MESSAGES.get(self.reason, GENERIC)


@dataclass
class Identity:
    """A verified ProConnect identity: id_token claims merged with the userinfo claims."""

    issuer: str
    claims: dict
    id_token: str
    next_url: str | None


def redirect_uri() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + CALLBACK_PATH


def post_logout_redirect_uri() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + LOGOUT_RETURN_PATH


def client() -> FlaskOAuth2App:
    config = current_app.config
    key = (
        config["PROCONNECT_DISCOVERY_URL"],
        config["PROCONNECT_CLIENT_ID"],
        config["PROCONNECT_CLIENT_SECRET"],
    )
    clients = current_app.extensions.setdefault("proconnect", {})
    if key not in clients:
        clients.clear()
        clients[key] = FlaskOAuth2App(
            FlaskIntegration("proconnect"),
            "proconnect",
            client_id=key[1],
            client_secret=key[2],
            server_metadata_url=key[0],
            client_kwargs={
                "scope": SCOPES,
                "token_endpoint_auth_method": "client_secret_post",
                "timeout": HTTP_TIMEOUT,
            },
        )
    return clients[key]


def metadata() -> dict:
    try:
        return client().load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        raise LoginFailed("provider_unavailable", f"discovery: {error}", status=503) from error


# --- login ------------------------------------------------------------------------------------------


def _fresh(entries: dict) -> dict:
    now = time.time()
    return {k: v for k, v in entries.items() if isinstance(v, dict) and now - v.get("at", 0) < FLOW_TTL}


def claims_request() -> dict:
    minimum = current_app.config.get("PROCONNECT_MIN_ACR") or ""
    if minimum:
        acr = {"essential": True, "values": list(ACR_ACCEPTED.get(minimum, (minimum,)))}
    else:
        acr = None
    return {"id_token": {"acr": acr, "amr": None}}


def begin_login(next_url: str | None) -> str:
    """Remember a new state/nonce pair in the session; return the provider's authorization URL."""
    meta = metadata()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    pending = _fresh(session.get(LOGIN_KEY, {}))
    pending[state] = {"nonce": nonce, "next": next_url, "at": time.time()}
    session[LOGIN_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-MAX_PENDING:])
    if not meta.get("authorization_endpoint"):
        raise LoginFailed("provider_unavailable", "no authorization_endpoint in discovery", status=503)
    created = client().create_authorization_url(
        redirect_uri(),
        state=state,
        nonce=nonce,
        claims=json.dumps(claims_request(), separators=(",", ":")),
    )
    return created["url"]


def _pop_pending(state: str | None) -> dict | None:
    """Single use: the entry is removed from the session whatever happens next."""
    pending = session.get(LOGIN_KEY, {})
    entry = pending.pop(state, None) if state else None
    session[LOGIN_KEY] = _fresh(pending)
    return entry


def complete_login(args) -> Identity:
    """Check the callback, exchange the code, verify id_token and userinfo. Raises LoginFailed."""
    entry = _pop_pending(args.get("state"))
    error = args.get("error")
    if error:
        reason = error if error in ("access_denied", "login_required") else "provider_error"
        raise LoginFailed(reason, f"{error}: {args.get('error_description', '')}".strip(": "))
    if entry is None:
        raise LoginFailed("state_unknown", "state missing, unknown or already used")
    if time.time() - entry["at"] >= FLOW_TTL:
        raise LoginFailed("state_expired", "state older than 10 minutes")
    code = args.get("code")
    if not code:
        raise LoginFailed("code_missing", "no authorization code in the callback")

    meta = metadata()
    oauth = client()
    try:
        token = oauth.fetch_access_token(redirect_uri=redirect_uri(), code=code)
    except OAuthError as error:
        raise LoginFailed("token_refused", f"{error.error}: {error.description}") from error
    except requests.RequestException as error:
        raise LoginFailed("provider_unavailable", f"token: {error}", status=503) from error
    if "id_token" not in token:
        raise LoginFailed("id_token_missing", "no id_token in the token response")

    id_claims = verify_id_token(token, entry["nonce"], meta)
    try:
        check_acr(id_claims)
        userinfo = fetch_userinfo(token, id_claims, meta)
    except LoginFailed as failure:  # the id_token is genuine: say who was refused
        failure.email = failure.email or id_claims.get("email")
        failure.detail = f"{failure.detail} (sub={id_claims['sub']})"
        raise
    claims = {**id_claims, **userinfo}
    if not claims.get("email"):
        raise LoginFailed("email_missing", f"sub={id_claims['sub']}")
    return Identity(issuer=meta["issuer"], claims=claims, id_token=token["id_token"], next_url=entry["next"])


def verify_id_token(token: dict, nonce: str, meta: dict) -> dict:
    try:
        claims = client().parse_id_token(
            token,
            nonce=nonce,
            leeway=LEEWAY,
            claims_options={
                "iss": {"essential": True, "value": meta["issuer"]},
                "exp": {"essential": True},
                "aud": {"essential": True},
            },
        )
    except BadSignatureError as error:
        raise LoginFailed("id_token_bad_signature", str(error)) from error
    except ExpiredTokenError as error:
        raise LoginFailed("id_token_expired", str(error)) from error
    except InvalidClaimError as error:
        reason = "id_token_nonce_mismatch" if error.claim == "nonce" else "id_token_invalid"
        raise LoginFailed(reason, str(error)) from error
    except JoseError as error:
        raise LoginFailed("id_token_invalid", f"{type(error).__name__}: {error}") from error
    except (requests.RequestException, ValueError) as error:
        raise LoginFailed("id_token_invalid", f"{type(error).__name__}: {error}") from error
    return dict(claims)


def check_acr(id_claims: dict) -> None:
    minimum = current_app.config.get("PROCONNECT_MIN_ACR") or ""
    if minimum and id_claims.get("acr") not in ACR_ACCEPTED.get(minimum, (minimum,)):
        raise LoginFailed("acr_insufficient", f"acr={id_claims.get('acr')!r} below {minimum!r}")


def _key_set(force: bool = False) -> KeySet:
    return KeySet.import_key_set(client().fetch_jwk_set(force=force))


def fetch_userinfo(token: dict, id_claims: dict, meta: dict) -> dict:
    expected = current_app.config.get("PROCONNECT_USERINFO_FORMAT", "jwt")
    try:
        response = client().get(meta["userinfo_endpoint"], token=token)
    except requests.RequestException as error:
        raise LoginFailed("provider_unavailable", f"userinfo: {error}", status=503) from error
    if response.status_code != 200:
        raise LoginFailed("userinfo_refused", f"HTTP {response.status_code}")
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if expected == "json":
        if content_type != "application/json":
            raise LoginFailed("userinfo_format", f"expected application/json, got {content_type!r}")
        try:
            claims = response.json()
        except ValueError as error:
            raise LoginFailed("userinfo_format", "invalid JSON") from error
    else:
        if content_type != "application/jwt":
            raise LoginFailed("userinfo_format", f"expected application/jwt, got {content_type!r}")
        claims = verify_userinfo_jwt(response.text.strip(), meta)
    if not isinstance(claims, dict) or claims.get("sub") != id_claims["sub"]:
        raise LoginFailed(
            "userinfo_sub_mismatch",
            f"userinfo sub {claims.get('sub') if isinstance(claims, dict) else None!r} "
            f"!= id_token sub {id_claims['sub']!r}",
        )
    return claims


def verify_userinfo_jwt(value: str, meta: dict) -> dict:
    algs = [
        a
        for a in (
            meta.get("userinfo_signing_alg_values_supported")
            or meta.get("id_token_signing_alg_values_supported")
            or ["RS256", "ES256"]
        )
        if a in ASYMMETRIC_ALGS
    ]
    registry = JWSRegistry(algorithms=algs, strict_check_header=False)
    try:
        try:
            decoded = jwt.decode(value, _key_set(), registry=registry)
        except InvalidKeyIdError:  # keys rotated since we fetched them
            decoded = jwt.decode(value, _key_set(force=True), registry=registry)
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": current_app.config["PROCONNECT_CLIENT_ID"]},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(decoded.claims)
    except BadSignatureError as error:
        raise LoginFailed("userinfo_bad_signature", str(error)) from error
    except JoseError as error:
        raise LoginFailed("userinfo_invalid", f"{type(error).__name__}: {error}") from error
    except ValueError as error:
        raise LoginFailed("userinfo_invalid", f"{type(error).__name__}: {error}") from error
    return dict(decoded.claims)


# --- logout -----------------------------------------------------------------------------------------


def logout_url(id_token: str | None) -> str | None:
    """End-session URL with a fresh state kept in the session; None when the provider cannot be reached."""
    try:
        endpoint = metadata().get("end_session_endpoint")
    except LoginFailed:
        return None
    if not endpoint:
        return None
    state = secrets.token_urlsafe(32)
    session[LOGOUT_KEY] = {"state": state, "at": time.time()}
    params = {"state": state, "post_logout_redirect_uri": post_logout_redirect_uri()}
    if id_token:
        params["id_token_hint"] = id_token
    else:
        params["client_id"] = current_app.config["PROCONNECT_CLIENT_ID"]
    return add_params_to_uri(endpoint, params)


def logout_state_valid(state: str | None) -> bool:
    entry = session.pop(LOGOUT_KEY, None)
    return bool(
        state
        and isinstance(entry, dict)
        and secrets.compare_digest(str(entry.get("state")), state)
        and time.time() - entry.get("at", 0) < FLOW_TTL
    )
