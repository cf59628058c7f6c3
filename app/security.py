"""Security headers: strict CSP, no framing, referrer policy, HSTS in production."""

from functools import lru_cache
from urllib.parse import urlsplit


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
    @app.after_request
    def set_headers(response):
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
