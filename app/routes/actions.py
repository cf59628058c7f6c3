"""One way for a route to run a service action.

    return perform(
        lambda: service.add_comment(opportunity, body=form.body.data, actor=current_user),
        form=form,
        success="Commentaire publié.",
        location=url_for(".show", code=opportunity.code, _anchor="commentaires"),
        failure=lambda status: _render_show(opportunity, status=status, comment_form=form, block="comments"),
    )

On a domain error the transaction is rolled back (nothing is changed partially), the messages are put on
the form's fields and `failure(status)` renders the block again (422, or the error's own status: 403, 409).
A write the database refuses because a concurrent request changed the same row first (StaleDataError on a
version column, IntegrityError on a unique index: a double click) is the domain error `Conflict` (409, in
French), never a 500 and never a second row.
On success the transaction is committed, the flash message shown and the browser sent to `location`
(303, or HX-Redirect for htmx) — or, with `done`, given the response `done(result)` builds (an htmx
fragment that replaces the row acted on); it is built before the commit, from the same transaction.
"""

import logging
from collections.abc import Callable

from flask import flash, redirect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..forms import apply_errors
from ..htmx import hx_redirect, is_htmx
from ..services.errors import Conflict, DomainError, ValidationFailed

log = logging.getLogger(__name__)


def see_other(location: str):
    """After a successful POST: 303 to `location`, or HX-Redirect for htmx."""
    return hx_redirect(location) if is_htmx() else redirect(location, 303)


def show_errors(form, error: DomainError) -> None:
    """A service's French messages at the form's fields (a rule's refusal: at `error.field` or the form)."""
    if isinstance(error, ValidationFailed):
        apply_errors(form, error.errors)
    elif error.field and hasattr(form, error.field):
        apply_errors(form, {error.field: error.message})
    else:
        form.form_errors.append(error.message)


def perform(
    run: Callable,
    *,
    failure: Callable[[int], object] | None = None,
    location: str | Callable[[object], str] | None = None,
    success: str | Callable[[object], str] | None = None,
    form=None,
    done: Callable[[object], object] | None = None,
    refused: Callable[[DomainError], object] | None = None,
):
    """Run `run()` (a service call); commit and redirect (or answer `done(result)`), or roll back and
    render `failure(status)` (or `refused(error)`, when the reply needs the error itself)."""
    try:
        result = run()
        response = done(result) if done else None
        db.session.commit()
    except (StaleDataError, IntegrityError) as error:
        log.warning("concurrent write refused: %s", error)
        return _refuse(Conflict(), form, failure, refused)
    except DomainError as error:
        return _refuse(error, form, failure, refused)
    if success:
        flash(success(result) if callable(success) else success, "success")
    if response is not None:
        return response
    return see_other(location(result) if callable(location) else location)


def _refuse(error: DomainError, form, failure, refused):
    db.session.rollback()
    if form is not None:
        show_errors(form, error)
    return refused(error) if refused else failure(error.status_code)
