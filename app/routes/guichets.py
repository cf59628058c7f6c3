"""Guichets: the fund → volet → theme tree, a guichet's page (rules, calendar, instructors), rules edited by
the secretariat, CSV/XLSX of a guichet's dossiers with their key figures."""

from datetime import UTC, datetime

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import permissions
from ..extensions import db
from ..formatting import PARIS
from ..forms.guichets import GuichetRulesForm, InstructorForm
from ..htmx import render
from ..models import Committee, Guichet, Role, User
from ..queries import dossiers as queries
from ..services import guichets as service
from ..services.errors import StaleVersion
from ..tabular import EXPORT_METHODS, Export, Sheet, export_response
from .actions import perform, see_other
from .dossier_exports import DOSSIER_COLUMNS, dossier_rows

bp = Blueprint("guichets", __name__, url_prefix="/guichets")


def _load(code: str) -> Guichet:
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == code))
    if guichet is None:
        abort(404)
    return guichet


@bp.get("")
@permissions.authenticated
def index():
    return render("guichets/index.html", tree=queries.guichet_tree(), counts=queries.open_dossier_counts())


@bp.get("/<code>")
@permissions.authenticated
def show(code: str):
    guichet = _load(code)
    return render(
        "guichets/show.html",
        guichet=guichet,
        instructors=service.instructors(guichet),
        instructor_form=InstructorForm(formdata=None),
        instructor_errors={},
        counts=queries.open_dossier_counts(),
    )


def _to_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=PARIS).astimezone(UTC) if value else None


def _rules_form(guichet: Guichet, formdata=None) -> GuichetRulesForm:
    if formdata is None:
        form = GuichetRulesForm(
            formdata=None,
            data={
                "mode": guichet.mode,
                "committee_id": str(guichet.committee_id or ""),
                "owner": guichet.owner,
                "opens_at": guichet.opens_at.astimezone(PARIS).replace(tzinfo=None)
                if guichet.opens_at
                else None,
                "closes_at": guichet.closes_at.astimezone(PARIS).replace(tzinfo=None)
                if guichet.closes_at
                else None,
                "max_total_amount": str(guichet.max_total_amount or ""),
                "min_cofinancing_pct": ""
                if guichet.min_cofinancing_pct is None
                else str(guichet.min_cofinancing_pct),
                "roi_min": ""
                if not guichet.roi_min_cents
                else f"{guichet.roi_min_cents / 100:g}".replace(".", ","),
                "required_attachments": guichet.required_attachments,
                "version": guichet.version,
            },
        )
    else:
        form = GuichetRulesForm(formdata=formdata)
    committees = db.session.scalars(select(Committee).order_by(Committee.code))
    form.committee_id.choices = [("", "— Aucun —")] + [
        (str(c.id), f"{c.code} — {c.name}") for c in committees
    ]
    return form


def _posted_rule_kinds(guichet: Guichet) -> dict[int, str]:
    """The kind chosen for each rule (`rule-<id>-kind`: one select per rule of this guichet, read beside
    the form as the names depend on the data)."""
    return {
        rule.id: request.form[f"rule-{rule.id}-kind"]
        for rule in guichet.rules
        if f"rule-{rule.id}-kind" in request.form
    }


@bp.route("/<code>/regles", methods=["GET", "POST"])
@permissions.requires_role(Role.SECRETARIAT)
def edit(code: str):
    guichet = _load(code)
    if not permissions.can_edit_guichet(current_user, guichet):
        abort(403)
    form = _rules_form(guichet, request.form if request.method == "POST" else None)
    stale: list[StaleVersion] = []

    def page(status: int = 200):
        return render(
            "guichets/edit.html",
            block="form",
            status=status,
            guichet=guichet,
            form=form,
            stale=stale[0] if stale else None,
        )

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(422)

    committee_id = int(form.committee_id.data) if (form.committee_id.data or "").isdigit() else None

    def run():
        try:
            return service.update_rules(
                guichet,
                mode=form.mode.data or "",
                opens_at=_to_utc(form.opens_at.data),
                closes_at=_to_utc(form.closes_at.data),
                committee_id=committee_id,
                max_total_amount=form.max_total_amount.data or "",
                min_cofinancing_pct=form.min_cofinancing_pct.data or "",
                roi_min=form.roi_min.data or "",
                required_attachments=form.required_attachments.data or "",
                version=form.version.data or 0,
                actor=current_user,
                owner=form.owner.data or "" if guichet.is_france_relance else None,
                rule_kinds=_posted_rule_kinds(guichet),
            )
        except StaleVersion as error:
            stale.append(error)
            raise

    def failure(status: int):
        if stale:  # the other version is shown; the form carries the current version to save over it
            form.form_errors.clear()
            form.version.data = stale[0].current.version
        return page(status)

    return perform(
        run,
        form=form,
        success=f"Règles du guichet {guichet.code} enregistrées.",
        location=url_for(".show", code=guichet.code),
        failure=failure,
    )


@bp.post("/<code>/instructeurs")
@permissions.requires_role(Role.SECRETARIAT)
def add_instructor(code: str):
    guichet = _load(code)
    if not permissions.can_edit_guichet(current_user, guichet):
        abort(403)
    form = InstructorForm()
    back = url_for(".show", code=guichet.code, _anchor="instructeurs")
    if not form.validate_on_submit():
        return see_other(back)

    def failure(status: int):
        return render(
            "guichets/show.html",
            block="instructors",
            status=status,
            guichet=guichet,
            instructors=service.instructors(guichet),
            instructor_form=form,
            instructor_errors={name: field.errors[0] for name, field in form._fields.items() if field.errors}
            | ({"email": " ".join(form.form_errors)} if form.form_errors else {}),
            counts=queries.open_dossier_counts(),
        )

    return perform(
        lambda: service.add_instructor(guichet, email=form.email.data or "", actor=current_user),
        form=form,
        success="Instructeur ajouté.",
        location=back,
        failure=failure,
    )


@bp.post("/<code>/instructeurs/<int:user_id>/retirer")
@permissions.requires_role(Role.SECRETARIAT)
def remove_instructor(code: str, user_id: int):
    guichet = _load(code)
    if not permissions.can_edit_guichet(current_user, guichet):
        abort(403)
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return perform(
        lambda: service.remove_instructor(guichet, user=user, actor=current_user),
        success="Instructeur retiré.",
        location=url_for(".show", code=guichet.code, _anchor="instructeurs"),
        failure=lambda status: abort(status),
    )


@bp.route("/<code>/dossiers.<any(csv, xlsx, ods):fmt>", methods=EXPORT_METHODS)
@permissions.requires_role(Role.SECRETARIAT, Role.INSTRUCTEUR)
def export(code: str, fmt: str):
    guichet = _load(code)
    if not permissions.can_export_guichet(current_user, guichet):
        abort(403)
    export = Export(
        f"dossiers-{guichet.code}",
        f"Dossiers déposés au guichet {guichet.code}",
        [Sheet("Dossiers", DOSSIER_COLUMNS, dossier_rows(queries.guichet_dossiers_for_export(guichet)))],
        filters=[("Guichet", f"{guichet.code} — {guichet.name}"), ("Dossiers", "déposés (hors brouillons)")],
    )
    return export_response(export, fmt)
