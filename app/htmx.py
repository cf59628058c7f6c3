"""htmx helpers: branch only on HX-Request, render a page or one of its blocks, redirect."""

import json
from urllib.parse import urlsplit

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render(template: str, block: str | None = None, status: int = 200, **context) -> Response:
    """Full page, or only `block` for an htmx request; always Vary: HX-Request."""
    if block and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def hx_redirect(location: str) -> Response:
    """htmx follows HX-Redirect with `location.href = …`: a target that differs from the current page only
    by its fragment (`/guichets/X#instructeurs` from `/guichets/X`) would only scroll, the page never
    reloaded and the user never shown the result; HX-Refresh makes htmx reload it after the jump."""
    response = make_response("", 204)
    response.headers["HX-Redirect"] = location
    if _same_document(location):
        response.headers["HX-Refresh"] = "true"
    return response


def _same_document(location: str) -> bool:
    current = request.headers.get("HX-Current-URL")
    target = urlsplit(location)
    if not current or not target.fragment:
        return False
    here = urlsplit(current)
    if target.netloc and (target.scheme, target.netloc) != (here.scheme, here.netloc):
        return False
    return (target.path or here.path) == here.path and target.query == here.query


def trigger(response: Response, event: str, value=True) -> Response:
    """Add `event` to the response's HX-Trigger header (JSON, ASCII-escaped: any text survives a header)."""
    current = response.headers.get("HX-Trigger")
    events: dict = {}
    if current:
        try:
            events = json.loads(current)
        except ValueError:
            events = {name.strip(): True for name in current.split(",") if name.strip()}
    events[event] = value
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def announce(response: Response, message: str) -> Response:
    """Have app.js read `message` in the page's polite live region once htmx has swapped the response."""
    return trigger(response, "announce", message)
