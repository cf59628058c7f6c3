"""The one route helper for service actions (app/routes/actions.py)."""

from flask import get_flashed_messages
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField

from app.extensions import db
from app.models import Opportunity
from app.routes.actions import perform
from app.services.errors import DomainError, NotAllowed, ValidationFailed


class TitleForm(FlaskForm):
    brique = StringField("Brique")


def _half_done_then(error):
    """A service that has already written before its rule refuses: nothing of it may stay."""

    def run():
        db.session.add(Opportunity(number=9990, code="M9990", brique="Moitié faite", besoin=""))
        db.session.flush()
        raise error

    return run


def _exists(code: str) -> bool:
    return db.session.scalar(select(Opportunity.id).where(Opportunity.code == code)) is not None


def test_a_refusal_rolls_back_puts_the_message_at_the_field_and_renders_422(app, db_session):
    with app.test_request_context("/", method="POST"):
        form = TitleForm(meta={"csrf": False})
        response = perform(
            _half_done_then(ValidationFailed({"brique": "La brique est obligatoire."})),
            form=form,
            failure=lambda status: ("form again", status),
            location="/ailleurs",
        )
        assert response == ("form again", 422)
        assert form.brique.errors == ["La brique est obligatoire."]
        assert not _exists("M9990")


def test_a_rule_without_field_goes_on_the_form_and_keeps_its_status(app, db_session):
    with app.test_request_context("/", method="POST"):
        form = TitleForm(meta={"csrf": False})
        response = perform(
            _half_done_then(NotAllowed("Seul le secrétariat peut le faire.")),
            form=form,
            failure=lambda status: status,
            location="/ailleurs",
        )
        assert response == 403 and form.form_errors == ["Seul le secrétariat peut le faire."]
        assert perform(_half_done_then(DomainError("Non.")), failure=lambda s: s, location="/") == 422


def test_success_commits_flashes_and_redirects_with_303_or_hx_redirect(app, db_session):
    def create():
        db.session.add(Opportunity(number=9991, code="M9991", brique="Faite", besoin=""))
        return "M9991"

    with app.test_request_context("/", method="POST"):
        response = perform(
            create,
            failure=lambda status: status,
            success=lambda code: f"Opportunité {code} créée.",
            location=lambda code: f"/opportunites/{code}",
        )
        assert (response.status_code, response.headers["Location"]) == (303, "/opportunites/M9991")
        assert get_flashed_messages(with_categories=True) == [("success", "Opportunité M9991 créée.")]
        assert _exists("M9991")
    with app.test_request_context("/", method="POST", headers={"HX-Request": "true"}):
        response = perform(lambda: None, failure=lambda s: s, location="/opportunites")
        assert response.headers["HX-Redirect"] == "/opportunites"


def test_hx_redirect_to_an_anchor_of_the_current_page_reloads_it(app):
    """htmx follows HX-Redirect with `location.href = …`: a jump to an anchor of the page already shown only
    scrolls; HX-Refresh has htmx reload the page after the jump (the guichet's « Ajouter » instructeur
    showed nothing until then)."""
    from app.htmx import hx_redirect

    cases = [
        ("http://localhost/guichets/FTAP", "/guichets/FTAP#instructeurs", True),
        ("http://localhost/guichets/FTAP#instructeurs", "/guichets/FTAP#instructeurs", True),
        ("http://localhost/guichets/FTAP", "http://localhost/guichets/FTAP#instructeurs", True),
        ("http://localhost/guichets/FTAP", "/guichets/FTAP", False),  # a plain navigation reloads anyway
        ("http://localhost/guichets/FTAP", "/guichets/SNAP4#instructeurs", False),
        ("http://localhost/guichets/FTAP?onglet=a", "/guichets/FTAP?onglet=b#x", False),
        (None, "/guichets/FTAP#instructeurs", False),
    ]
    for current, location, refresh in cases:
        headers = {"HX-Request": "true"} | ({"HX-Current-URL": current} if current else {})
        with app.test_request_context("/", method="POST", headers=headers):
            response = hx_redirect(location)
        assert response.headers["HX-Redirect"] == location
        assert (response.headers.get("HX-Refresh") == "true") is refresh, (current, location)
