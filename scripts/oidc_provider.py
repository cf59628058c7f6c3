"""Local ProConnect-like OpenID provider for development and tests (never production).

It is oidc-provider-mock 0.3.4 (Flask + Authlib) made to behave like ProConnect where our client depends
on it (see docs/proconnect.md §13):

- userinfo answers an RS256-signed JWT (`Content-Type: application/jwt`) with every claim of the user
  plus `iss`, `aud` (= client id), `iat`, `exp` (60 s), verifiable with the provider's `/jwks`;
  the mock itself only serves JSON and drops `given_name` unless `profile` is asked;
- only our client is accepted: `client_id` must match, the token request must carry `client_id` and
  `client_secret` in the POST body (client_secret_post), `redirect_uri` and `post_logout_redirect_uri`
  must be registered exactly (the app's `BASE_URL` + `/connexion/retour` and `/deconnexion/retour`),
  and the end-session request needs a `state`;
- a nonce is required; the demo accounts (app/demo.py) are predefined: their `sub` is their e-mail;
- its pages are French and work offline: `scripts/oidc_provider_templates/` replaces the mock's English
  templates (which load a stylesheet from a CDN), styled by the DSFR files committed under
  `app/static/vendor/`, served by the provider itself under `/dsfr/`.

Usage: `python scripts/oidc_provider.py` (port from OIDC_PROVIDER_PORT, default 5001, on 127.0.0.1).
Environment: PROCONNECT_CLIENT_ID / PROCONNECT_CLIENT_SECRET (defaults as in config.py),
OIDC_PROVIDER_APP_URLS (comma-separated base URLs of the app; a port may be `*`; default BASE_URL),
OIDC_PROVIDER_TEST_FAULTS=1 enables `PUT /test/faults/<sub>` (a JSON list) so the test suite can make
the provider misbehave for one subject: `id_token_tampered`, `id_token_expired`,
`id_token_other_aud` (aud = another client, azp = ours), `id_token_extra_aud` (aud = [ours, another], no
azp), `userinfo_bad_signature`, `userinfo_other_sub`, `userinfo_json`.
"""

import base64
import fnmatch
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authlib.deprecate import AuthlibDeprecationWarning  # noqa: E402

# The mock imports authlib.jose (deprecated upstream); Authlib forces these warnings on, so filter after it.
warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)

import flask  # noqa: E402
import jinja2  # noqa: E402
import oidc_provider_mock  # noqa: E402
from joserfc import jwt  # noqa: E402
from joserfc.jwk import RSAKey  # noqa: E402
from oidc_provider_mock import User  # noqa: E402
from oidc_provider_mock._app import require_oauth  # noqa: E402  (the mock's bearer-token protector)
from werkzeug.serving import make_server  # noqa: E402

from app.demo import DEMO_ACCOUNTS, provider_claims  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent / "oidc_provider_templates"
DSFR_DIR = ROOT / "app" / "static" / "vendor" / "dsfr-1.15.3"
CALLBACK_PATH = "/connexion/retour"
LOGOUT_RETURN_PATH = "/deconnexion/retour"
FAULTS = {
    "id_token_tampered",
    "id_token_expired",
    "id_token_other_aud",
    "id_token_extra_aud",
    "userinfo_bad_signature",
    "userinfo_other_sub",
    "userinfo_json",
}
log = logging.getLogger("oidc_provider")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def build_app(*, client_id: str, client_secret: str, app_urls: list[str], test_faults: bool = False):
    app = oidc_provider_mock.app(
        require_nonce=True,
        user_claims=[User(sub=a["email"], claims=provider_claims(a)) for a in DEMO_ACCOUNTS],
    )
    faults: dict[str, set[str]] = {}
    # Our templates first (same names as the mock's), so no page of the provider needs the Internet.
    app.jinja_loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES), app.jinja_loader])

    @app.get("/dsfr/<path:filename>", endpoint="dsfr_asset")
    def dsfr_asset(filename: str):
        return flask.send_from_directory(DSFR_DIR, filename, max_age=3600)

    def signing_key() -> RSAKey:
        return RSAKey.import_key(flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=True))

    def registered(uri: str | None, path: str) -> bool:
        if not uri:
            return False
        parts = urlsplit(uri)
        if parts.path != path or parts.query or parts.fragment:
            return False
        origin = f"{parts.scheme}://{parts.netloc}"
        return any(fnmatch.fnmatchcase(origin, pattern.rstrip("/")) for pattern in app_urls)

    def refuse(status: int, error: str, description: str):
        log.warning("refused: %s (%s)", error, description)
        return flask.jsonify({"error": error, "error_description": description}), status

    @app.before_request
    def check_client():
        endpoint = flask.request.endpoint or ""
        values = flask.request.values
        if endpoint == "oidc-provider-mock.authorize":
            if flask.request.args.get("client_id") != client_id:
                return refuse(400, "invalid_client", "unknown client_id")
            if not registered(flask.request.args.get("redirect_uri"), CALLBACK_PATH):
                return refuse(400, "invalid_redirect_uri", "redirect_uri not registered (Y030031)")
        elif endpoint == "oidc-provider-mock.issue_token":
            form = flask.request.form
            if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
                return refuse(401, "invalid_client", "client_secret_post expected with the registered secret")
        elif endpoint == "oidc-provider-mock.end_session":
            if not registered(values.get("post_logout_redirect_uri"), LOGOUT_RETURN_PATH):
                return refuse(400, "invalid_request", "post_logout_redirect_uri not registered (Y030111)")
            if not values.get("state"):
                return refuse(400, "invalid_request", "state is required")
        elif endpoint == "test_faults" and not test_faults:
            flask.abort(404)
        return None

    @app.after_request
    def apply_token_faults(response):
        if flask.request.endpoint != "oidc-provider-mock.issue_token" or response.status_code != 200:
            return response
        body = response.get_json()
        header, payload, signature = body["id_token"].split(".")
        claims = json.loads(_unb64(payload))
        active = faults.get(claims["sub"], set())
        if "id_token_tampered" in active:  # payload changed after signing: the signature no longer matches
            claims["email"] = "intrus@exemple.fr"
            body["id_token"] = ".".join([header, _b64(json.dumps(claims).encode()), signature])
        elif "id_token_expired" in active:  # correctly signed, but expired 90 s ago (beyond the app's leeway)
            now = int(time.time())
            claims.update(iat=now - 3690, exp=now - 90)
            key = signing_key()
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        elif active & {"id_token_other_aud", "id_token_extra_aud"}:  # correctly signed, for someone else
            if "id_token_other_aud" in active:
                claims.update(aud="another-client", azp=client_id)
            else:
                claims.update(aud=[client_id, "another-client"])
                claims.pop("azp", None)
            key = signing_key()
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        response.set_data(json.dumps(body))
        return response

    @require_oauth()
    def signed_userinfo():
        from authlib.integrations.flask_oauth2 import current_token

        user = current_token.get_user()
        claims = {**user.claims, "sub": user.sub}
        active = faults.get(user.sub, set())
        if "userinfo_json" in active:
            return flask.jsonify(claims)
        now = int(time.time())
        claims.update(iss=flask.request.host_url.rstrip("/"), aud=client_id, iat=now, exp=now + 60)
        key = signing_key()
        kid = key.kid
        if "userinfo_other_sub" in active:
            claims["sub"] = "autre-" + user.sub
        if "userinfo_bad_signature" in active:
            key = RSAKey.generate_key(2048)  # another key, announced under the real key's id
        token = jwt.encode({"alg": "RS256", "kid": kid}, claims, key)
        return flask.Response(token, content_type="application/jwt")

    app.view_functions["oidc-provider-mock.userinfo"] = signed_userinfo

    @app.put("/test/faults/<sub>", endpoint="test_faults")
    def set_faults(sub: str):
        wanted = set(flask.request.get_json())
        if not wanted <= FAULTS:
            return refuse(400, "invalid_request", f"unknown faults {sorted(wanted - FAULTS)}")
        faults[sub] = wanted
        return "", 204

    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="oidc-provider: %(message)s")
    from config import Config

    port = int(os.environ.get("OIDC_PROVIDER_PORT", "5001"))
    app_urls = [
        u.strip() for u in os.environ.get("OIDC_PROVIDER_APP_URLS", Config.BASE_URL).split(",") if u.strip()
    ]
    app = build_app(
        client_id=Config.PROCONNECT_CLIENT_ID,
        client_secret=Config.PROCONNECT_CLIENT_SECRET,
        app_urls=app_urls,
        test_faults=os.environ.get("OIDC_PROVIDER_TEST_FAULTS") == "1",
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(
        f"Fournisseur ProConnect de test : http://127.0.0.1:{server.server_port} "
        f"(applications : {', '.join(app_urls)})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
