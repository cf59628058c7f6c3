"""htmx helpers: branch only on HX-Request, render a page or one of its blocks, redirect."""

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
