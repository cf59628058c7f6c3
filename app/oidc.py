"""ProConnect client (Authlib): authorization URL, code exchange, id_token and userinfo checks, logout URL.

Facts behind each choice: docs/proconnect.md (§3–§8, §11, §14).

- The discovery document is fetched on the first login, not at start (the app starts while the provider
  is down). One Authlib client per app and configuration, kept in `app.extensions` (Authlib's global
  registry would share one client, and its cached metadata, between all apps of the process).
- `state` and `nonce` are ours (43 characters), kept in the Flask session with their creation time,
  single-use (popped on the callback whatever happens) and valid 10 minutes. Several pending logins
  (tabs) may coexist.
- PKCE (RFC 7636, S256): a fresh 64-character `code_verifier` per login, kept with the state; its
  challenge goes in the authorization request, the verifier in the token request.
- The callback's `iss` (RFC 9207), when present, must be the issuer (mix-up defence).
- The token request authenticates with client_secret_post. The id_token is verified by Authlib
  (signature against the JWKS, `iss`, `exp` with a 30 s leeway instead of Authlib's 120, `nonce`,
  `at_hash`), then here: `aud` must contain our client id and, with several audiences or an `azp`,
  `azp` must be our client id (OIDC Core §3.1.3.7, items 3–5). The userinfo response is read as a signed
  JWT (`application/jwt`, same JWKS, `iss`, `aud`, `exp`) or as JSON when PROCONNECT_USERINFO_FORMAT=json;
  its `sub` must equal the id_token's.
- The claims are validated before anything is stored (`validate_claims`): a bad `sub` or `email` refuses
  the login; a bad optional claim (SIRET not 14 digits, a value longer than its column, control
  characters) is dropped — stored as absent — with a log line. Nothing is ever truncated.
- A callback error saying that none of the requested ACRs could be obtained (ProConnect answers
  `access_denied` with that description) is reported as « niveau d'authentification insuffisant ».
- Discovery failures are described by their real cause (`describe_failure`: HTTP status, DNS, TLS,
  timeout, refused connection, not JSON, missing endpoints); `check_provider` runs the whole readiness
  check for `flask proconnect check` and `/healthz?deep=1`.
- Every refusal raises `LoginFailed(reason, message)`: `reason` is for the log and the audit trail,
  `message` is the French text shown to the user.
"""

import json
import logging
import re
import secrets
import socket
import ssl
import time
from dataclasses import dataclass, field

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App
from flask import current_app, session
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
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
log = logging.getLogger(__name__)
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

# Claims kept from ProConnect (docs/proconnect.md §4) and their limits: the lengths of the User columns
# (app/models/users.py); tests/routes/test_auth.py checks that they agree.
CLAIM_LIMITS = {
    "given_name": 200,
    "usual_name": 200,
    "uid": 255,
    "idp_id": 255,
    "organization_label": 300,
}
SUB_MAX, EMAIL_MAX = 255, 320
SIRET_RE = re.compile(r"^\d{14}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# The description oidc-provider (ProConnect's federation) gives when the requested level cannot be had;
# older releases say « could not be obtained ».
ACR_REFUSAL_RE = re.compile(r"requested ACRs? could (not )?be obtained", re.IGNORECASE)

GENERIC = (
    "La connexion avec ProConnect n'a pas abouti. Recommencez depuis la page de connexion ; "
    "si le problème persiste, écrivez au support."
)
MESSAGES = {
    "provider_unavailable": "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes.",
    "provider_misconfigured": (
        "La connexion à ProConnect est mal configurée sur ce service : réessayer ne changera rien. "
        "Signalez-le au support pour qu'il corrige la configuration."
    ),
    "access_denied": "Vous avez refusé ou annulé la connexion sur ProConnect. Vous n'êtes pas connecté.",
    "login_required": "Votre session ProConnect a expiré. Reconnectez-vous.",
    "state_unknown": (
        "Cette demande de connexion est inconnue ou a déjà été utilisée. Recommencez la connexion."
    ),
    "state_expired": "Cette demande de connexion a expiré (10 minutes). Recommencez la connexion.",
    "acr_insufficient": (
        "Connexion refusée : niveau d'authentification insuffisant. Ce service exige une "
        "authentification plus forte que celle obtenue auprès de ProConnect. Reconnectez-vous "
        "en choisissant, sur la page de votre fournisseur d'identité, une connexion à double "
        "facteur (code reçu par SMS, application d'authentification ou carte agent). Si votre "
        "fournisseur d'identité ne la propose pas, écrivez au support en précisant votre ministère."
    ),
    "email_invalid": (
        "ProConnect a transmis une adresse électronique inutilisable : ce service ne peut pas vous "
        "identifier. Écrivez au support."
    ),
    "sub_invalid": (
        "ProConnect a transmis un identifiant inutilisable : ce service ne peut pas vous identifier. "
        "Écrivez au support."
    ),
    "email_missing": (
        "ProConnect n'a pas transmis votre adresse électronique : ce service ne peut pas "
        "vous identifier. Écrivez au support."
    ),
    "user_deactivated": "Votre compte a été désactivé. Écrivez au support pour le faire réactiver.",
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
                "code_challenge_method": "S256",
                "timeout": HTTP_TIMEOUT,
            },
        )
    return clients[key]


def metadata() -> dict:
    try:
        return client().load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        cause, detail = describe_failure(error)
        reason = "provider_unavailable" if cause in TRANSIENT else "provider_misconfigured"
        raise LoginFailed(reason, f"discovery {cause}: {detail}", status=503) from error


# --- readiness: what is wrong with the provider, in words ------------------------------------------------

# Causes that may go away by themselves (the provider or the network is down) versus configuration errors.
TRANSIENT = {"timeout", "connection_refused", "connection_error", "http_5xx"}
REQUIRED_ENDPOINTS = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")


def _chain(error: BaseException | None):
    """The error and what caused it (exception chaining, urllib3's `reason`, requests' wrapped args)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        wrapped = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        error = (
            getattr(error, "reason", None)
            if isinstance(getattr(error, "reason", None), BaseException)
            else (error.__cause__ or error.__context__ or wrapped)
        )


def describe_failure(error: BaseException, timeout: float = HTTP_TIMEOUT) -> tuple[str, str]:
    """(cause code, French detail) of a failed HTTP request to the provider."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        cause = "http_5xx" if status >= 500 else f"http_{status}"
        return (
            cause,
            f"le serveur a répondu HTTP {status} ({error.response.reason or 'sans motif'}) "
            f"pour {error.response.url}",
        )
    if isinstance(error, requests.exceptions.SSLError) or any(
        isinstance(e, ssl.SSLError) for e in _chain(error)
    ):
        return "tls", f"connexion TLS refusée (certificat ou protocole) : {_innermost(error)}"
    if isinstance(error, requests.Timeout):
        return "timeout", f"pas de réponse en {timeout:g} s"
    if isinstance(error, requests.ConnectionError):
        if any(isinstance(e, socket.gaierror) for e in _chain(error)) or "NameResolution" in repr(error):
            return "dns", f"nom de domaine introuvable (DNS) : {_innermost(error)}"
        if any(isinstance(e, ConnectionRefusedError) for e in _chain(error)):
            return "connection_refused", "connexion refusée : aucun service n'écoute à cette adresse"
        return "connection_error", f"connexion impossible : {_innermost(error)}"
    if isinstance(
        error,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return "bad_url", f"adresse invalide : {error}"
    if isinstance(error, ValueError):
        return "not_json", "la réponse n'est pas un document JSON (est-ce bien l'adresse de découverte ?)"
    return "error", f"{type(error).__name__} : {error}"


def _innermost(error: BaseException) -> str:
    last = error
    for last in _chain(error):  # noqa: B007 - keep the deepest exception
        pass
    return f"{type(last).__name__}: {last}"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    cause: str = ""


@dataclass
class Readiness:
    url: str
    checks: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def cause(self) -> str:
        return next((c.cause for c in self.checks if not c.ok), "")


def check_provider(url: str | None = None, timeout: float = HTTP_TIMEOUT) -> Readiness:
    """Fetch the discovery document and the JWKS afresh (no cache) and say what is wrong, if anything."""
    url = url or current_app.config["PROCONNECT_DISCOVERY_URL"]
    report = Readiness(url)
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        meta = response.json()
        if not isinstance(meta, dict):
            raise ValueError("not an object")
    except (requests.RequestException, ValueError) as error:
        cause, detail = describe_failure(error, timeout)
        report.checks.append(Check("discovery", False, detail, cause))
        return report
    report.checks.append(Check("discovery", True, f"document de découverte lu ({len(meta)} champs)"))
    missing = [key for key in REQUIRED_ENDPOINTS if not meta.get(key)]
    if missing:
        report.checks.append(
            Check("endpoints", False, "champs absents : " + ", ".join(missing), "incomplete")
        )
        return report
    expected_issuer = url.split("/.well-known/")[0]
    if meta["issuer"] != expected_issuer:
        report.checks.append(
            Check(
                "issuer",
                False,
                f"issuer {meta['issuer']!r} ≠ {expected_issuer!r} (OIDC Discovery §4.3)",
                "issuer_mismatch",
            )
        )
    else:
        report.checks.append(Check("issuer", True, meta["issuer"]))
    if not meta.get("end_session_endpoint"):
        report.checks.append(
            Check(
                "end_session",
                False,
                "pas de end_session_endpoint : la déconnexion ProConnect ne sera pas possible",
                "incomplete",
            )
        )
    try:
        keys = requests.get(meta["jwks_uri"], timeout=timeout)
        keys.raise_for_status()
        count = len(KeySet.import_key_set(keys.json()).keys)
        if not count:
            raise ValueError("no key")
    except (requests.RequestException, ValueError, JoseError) as error:
        cause, detail = describe_failure(error, timeout)
        report.checks.append(Check("jwks", False, f"clés de signature (jwks_uri) : {detail}", cause))
    else:
        report.checks.append(Check("jwks", True, f"{count} clé(s) de signature"))
    return report


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
    verifier = secrets.token_urlsafe(48)  # PKCE: 64 characters of [A-Za-z0-9_-] (RFC 7636 §4.1)
    pending = _fresh(session.get(LOGIN_KEY, {}))
    pending[state] = {"nonce": nonce, "verifier": verifier, "next": next_url, "at": time.time()}
    session[LOGIN_KEY] = dict(sorted(pending.items(), key=lambda kv: kv[1]["at"])[-MAX_PENDING:])
    if not meta.get("authorization_endpoint"):
        raise LoginFailed("provider_unavailable", "no authorization_endpoint in discovery", status=503)
    created = client().create_authorization_url(
        redirect_uri(),
        state=state,
        nonce=nonce,
        code_verifier=verifier,
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
        description = args.get("error_description", "")
        if ACR_REFUSAL_RE.search(description):
            reason = "acr_insufficient"
        else:
            reason = error if error in ("access_denied", "login_required") else "provider_error"
        raise LoginFailed(reason, f"provider: {error}: {description}".strip(": "))
    if entry is None:
        raise LoginFailed("state_unknown", "state missing, unknown or already used")
    if time.time() - entry["at"] >= FLOW_TTL:
        raise LoginFailed("state_expired", "state older than 10 minutes")
    code = args.get("code")
    if not code:
        raise LoginFailed("code_missing", "no authorization code in the callback")

    meta = metadata()
    issuer = args.get("iss")  # RFC 9207, sent by oidc-provider (hence ProConnect): a mix-up defence
    if issuer is not None and issuer != meta["issuer"]:
        raise LoginFailed("issuer_mismatch", f"callback iss={issuer!r}, expected {meta['issuer']!r}")
    oauth = client()
    try:
        token = oauth.fetch_access_token(
            redirect_uri=redirect_uri(), code=code, code_verifier=entry.get("verifier")
        )
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
    claims = validate_claims(claims)
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
    except ClaimError as error:
        reason = {
            "nonce": "id_token_nonce_mismatch",
            "aud": "id_token_wrong_audience",
            "azp": "id_token_wrong_audience",
        }.get(error.claim, "id_token_invalid")
        raise LoginFailed(reason, f"{type(error).__name__}: {error}") from error
    except JoseError as error:
        raise LoginFailed("id_token_invalid", f"{type(error).__name__}: {error}") from error
    except (requests.RequestException, ValueError) as error:
        raise LoginFailed("id_token_invalid", f"{type(error).__name__}: {error}") from error
    check_audience(claims, current_app.config["PROCONNECT_CLIENT_ID"])
    return dict(claims)


def check_audience(claims, client_id: str) -> None:
    """OIDC Core §3.1.3.7: `aud` contains our client id; several audiences need `azp`; `azp` is us."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise LoginFailed("id_token_wrong_audience", f"aud={aud!r} does not contain {client_id!r}")
    azp = claims.get("azp")
    if len(audiences) > 1 and not azp:
        raise LoginFailed("id_token_wrong_audience", f"several audiences {audiences!r} and no azp")
    if azp is not None and azp != client_id:
        raise LoginFailed("id_token_wrong_audience", f"azp={azp!r} is not {client_id!r}")


def _bad_text(value, limit: int) -> str | None:
    """Why a text claim cannot be stored as it is, or None when it can."""
    if not isinstance(value, str):
        return f"not a string ({type(value).__name__})"
    if CONTROL_RE.search(value):
        return "control characters"
    if len(value.strip()) > limit:
        return f"{len(value.strip())} characters, more than {limit}"
    return None


def validate_claims(claims: dict) -> dict:
    """The claims as they may be stored: `sub` and `email` or a refusal; a bad optional claim is dropped
    (stored as absent, with a log line), never cut to fit."""
    sub = claims.get("sub")
    problem = _bad_text(sub, SUB_MAX) or (None if str(sub).strip() else "empty")
    if problem:
        raise LoginFailed("sub_invalid", f"sub: {problem}")
    email = claims.get("email")
    problem = _bad_text(email, EMAIL_MAX) or (None if EMAIL_RE.match(email.strip()) else "not an address")
    if problem:
        raise LoginFailed("email_invalid", f"sub={sub}: email: {problem}")
    checked = dict(claims)
    rules = {**CLAIM_LIMITS, "siret": 14}
    for name, limit in rules.items():
        value = claims.get(name)
        if value is None:
            continue
        problem = _bad_text(value, limit)
        if not problem and name == "siret" and value.strip() and not SIRET_RE.match(value.strip()):
            problem = "not 14 digits"
        if problem:
            log.warning("login: claim %s of sub=%s dropped (stored as absent): %s", name, sub, problem)
            checked[name] = ""
    return checked


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
