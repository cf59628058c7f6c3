"""htmx helpers: branch only on HX-Request, render a page or one of its blocks, redirect."""

import json

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
    response = make_response("", 204)
    response.headers["HX-Redirect"] = location
    return response


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
