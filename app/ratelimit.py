"""A small in-memory rate limiter for the login routes (no database, no extra dependency).

`@limit("login")` allows AUTH_RATE_LIMIT requests (default 10) per AUTH_RATE_WINDOW seconds (default 60)
per client IP address and per group of routes, in a sliding window; beyond that the view is not called
and the request gets a 429 (French error page). The counters live in the process's memory, like
Flask-Limiter's `memory://` storage: with several gunicorn workers each worker counts on its own
(so the effective limit is at most workers × limit), and a restart resets them. That is enough to
stop a script hammering the login routes; it is not a substitute for the reverse proxy's limits.
Behind a reverse proxy, `request.remote_addr` is the proxy unless the proxy's X-Forwarded-For is
trusted (TRUSTED_PROXIES, applied with Werkzeug's ProxyFix in `init_app`).
"""

import threading
import time
from collections import defaultdict, deque
from functools import wraps

from flask import abort, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

_lock = threading.Lock()
_hits: dict[tuple, deque] = defaultdict(deque)


def reset() -> None:
    with _lock:
        _hits.clear()


def hit(key: tuple, limit: int, window: float, now: float | None = None) -> bool:
    """Count one request for `key`; False when the limit is already reached in the window."""
    now = time.monotonic() if now is None else now
    with _lock:
        hits = _hits[key]
        while hits and now - hits[0] >= window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        if len(_hits) > 10_000:  # forget idle clients
            for stale in [k for k, v in _hits.items() if not v or now - v[-1] >= window]:
                del _hits[stale]
        return True


def limit(group: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            config = current_app.config
            if config.get("AUTH_RATE_LIMIT", 10) and not hit(
                (id(current_app._get_current_object()), group, request.remote_addr),
                int(config.get("AUTH_RATE_LIMIT", 10)),
                float(config.get("AUTH_RATE_WINDOW", 60)),
            ):
                current_app.logger.warning("rate limit reached on %s for %s", group, request.remote_addr)
                abort(429)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def init_app(app) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES", 0) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
