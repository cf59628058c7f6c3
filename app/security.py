"""Security headers (strict CSP, no framing, referrer policy, HSTS in production, `Cache-Control: no-store`
on whatever needs a login or is served to a logged-in user) and the refusal of control characters.
"""

import re
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from .permissions import route_rule

# C0 and C1 control characters but tab, line feed and carriage return (what a textarea sends).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
BAD_BYTES_MESSAGE = (
    "La requête contient des caractères de contrôle (octet nul ou caractère invisible) que ce service "
    "n'accepte pas. Retirez-les (ils viennent souvent d'un copier-coller) puis réessayez."
)


class ControlCharacters(BadRequest):
    """400 with the French message; the error handler shows `detail_fr`."""

    detail_fr = BAD_BYTES_MESSAGE


def refuse_control_characters() -> None:
    """Runs first, before any view (and before the CSRF check): the path, every query-string and form
    key and value, and uploaded files' names."""
    texts = [request.path]
    for multi in (request.args, request.form):
        for key, values in multi.lists():
            texts.append(key)
            texts.extend(values)
    for key, storage in request.files.items(multi=True):
        texts.extend((key, storage.filename or ""))
    if any(CONTROL_CHARACTERS.search(text) for text in texts):
        current_app.logger.info("control characters refused on %s %s", request.method, request.path)
        raise ControlCharacters()


def needs_login() -> bool:
    rule, _ = route_rule(request.endpoint)
    config = current_app.config
    return rule in {"authenticated", "role"} or (
        (rule == "portfolio" and not config["PUBLIC_PORTFOLIO"])
        or (rule == "opendata" and not config["PUBLIC_API"])
    )


@lru_cache(maxsize=8)
def build_csp(provider_url: str) -> str:
    """The provider's origin is allowed in form-action: Chromium applies it to the login POST's redirect."""
    provider = urlsplit(provider_url)
    provider_origin = f"{provider.scheme}://{provider.netloc}" if provider.netloc else ""
    return "; ".join(part.replace("{provider}", provider_origin).strip() for part in CSP_PARTS)


CSP_PARTS = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self' {provider}",
    "frame-ancestors 'none'",
)


def init_app(app) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_control_characters)

    @app.after_request
    def set_headers(response):
        if request.endpoint != "static" and (needs_login() or current_user.is_authenticated):
            response.headers["Cache-Control"] = "no-store"  # private: no shared or back-button cache
        response.headers.setdefault(
            "Content-Security-Policy", build_csp(app.config["PROCONNECT_DISCOVERY_URL"])
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config.get("HSTS"):
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
