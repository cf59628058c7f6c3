"""Rate limits (Flask-Limiter), shared by every worker when REDIS_URL is set.

- `@limit("login")`, `@limit("callback")`: AUTH_RATE_LIMIT requests (default 10) per AUTH_RATE_WINDOW
  seconds (default 60) per client IP address, per group of routes (0 disables);
- `@limit("mail")` on the actions whose purpose is to send mail: MAIL_RATE_LIMIT (default 30 per hour)
  per user (per IP address when anonymous);
- the API (`/api/…`): API_RATE_LIMIT per logged-in user (default 300 per minute) and API_RATE_LIMIT_PER_IP
  per IP address (default 600 per minute).

Beyond a limit the view is not called: 429 with the French error page and `Retry-After` (seconds).
Storage: Redis (REDIS_URL, keys under REDIS_PREFIX + "limits") so that the gunicorn workers count
together; without Redis, each process counts in its own memory (`memory://`): with 4 workers the
effective limit is up to 4× the configured one, and a restart resets it — fine for development, not
for production (docs/security.md). Behind a reverse proxy, `request.remote_addr` is the proxy unless
its X-Forwarded-For is trusted (TRUSTED_PROXIES, applied with Werkzeug's ProxyFix in `init_app`).
"""

from flask import current_app, request
from flask_limiter import ApplicationLimit, Limiter
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix


def client_ip() -> str:
    return request.remote_addr or "unknown"


def user_or_ip() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{client_ip()}"


def _not_api() -> bool:
    return request.blueprint != "api"


def _auth_limit() -> str:
    config = current_app.config
    return f"{int(config['AUTH_RATE_LIMIT'] or 1)} per {int(config['AUTH_RATE_WINDOW'])} second"


def _config_limit(name: str):
    return lambda: current_app.config[name] or "1000000 per second"


limiter = Limiter(
    key_func=client_ip,
    headers_enabled=True,
    strategy="moving-window",  # a sliding window: no burst of 2 × the limit across a window's edge
    retry_after="delta-seconds",
    application_limits=[
        ApplicationLimit(
            _config_limit("API_RATE_LIMIT"),
            key_function=user_or_ip,
            scope="api-user",
            exempt_when=lambda: _not_api() or not current_app.config["API_RATE_LIMIT"],
        ),
        ApplicationLimit(
            _config_limit("API_RATE_LIMIT_PER_IP"),
            key_function=client_ip,
            scope="api-ip",
            exempt_when=lambda: _not_api() or not current_app.config["API_RATE_LIMIT_PER_IP"],
        ),
    ],
)

_GROUPS = {
    "login": dict(limit_value=_auth_limit, key_func=client_ip, exempt="AUTH_RATE_LIMIT"),
    "callback": dict(limit_value=_auth_limit, key_func=client_ip, exempt="AUTH_RATE_LIMIT"),
    "mail": dict(limit_value=_config_limit("MAIL_RATE_LIMIT"), key_func=user_or_ip, exempt="MAIL_RATE_LIMIT"),
}


def limit(group: str):
    """The group's limit, shared by the routes that carry it."""
    spec = _GROUPS[group]
    return limiter.shared_limit(
        spec["limit_value"],
        scope=group,
        key_func=spec["key_func"],
        exempt_when=lambda: not current_app.config[spec["exempt"]],
    )


def reset() -> None:
    """Forget every counter of this application's storage (tests)."""
    limiter.reset()


def init_app(app) -> None:
    redis_url = app.config.get("REDIS_URL")
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    if redis_url:
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"key_prefix": app.config["REDIS_PREFIX"] + "limits"}
        )
    if not redis_url and app.config.get("ENV_NAME") == "production":
        app.logger.warning("REDIS_URL is not set: rate limits are counted per process (see docs/security.md)")
    limiter.init_app(app)
    proxies = int(app.config.get("TRUSTED_PROXIES", 0) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
