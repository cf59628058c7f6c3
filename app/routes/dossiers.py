"""Dossiers: my dossiers, the dossier page with its sections saved one by one, live checks, submission,
instruction (list with tabs, complements, avis), messages, private annotations, attachments, PDF."""

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import permissions
from ..extensions import db
from ..forms import dossiers as forms
from ..htmx import hx_redirect, is_htmx, render
from ..models import Dossier, Guichet, Organisation, Role
from ..models.dossiers import Avis, ComplementReason, DossierAnnotation, DossierAttachment, DossierState
from ..queries import dossiers as queries
from ..services import dossiers as service
from ..services.errors import DomainError, NotAllowed, ValidationFailed

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers")


def _max_bytes() -> int:
    return int(current_app.config.get("DOSSIER_ATTACHMENT_MAX_MB", 10)) * 1024 * 1024


def _load(dossier_id: int) -> Dossier:
    dossier = queries.by_id(current_user, dossier_id)
    if dossier is None:
        abort(404)
    return dossier


def _redirect(location: str):
    if is_htmx():
        return hx_redirect(location)
    return redirect(location, code=303)


@bp.get("")
@permissions.authenticated
def index():
    instructs = permissions.is_secretariat(current_user) or current_user.has_role(Role.INSTRUCTEUR)
    open_guichets = [g for g, _ in queries.guichet_tree() if g.accepts_dossiers and g.is_open()]
    return render(
        "dossiers/index.html",
        dossiers=queries.my_dossiers(current_user),
        instructs=instructs,
        open_guichets=open_guichets,
    )


@bp.get("/instruction")
@permissions.requires_role(Role.SECRETARIAT, Role.INSTRUCTEUR)
def instruction():
    filters = queries.DossierFilters.from_args(request.args)
    items, total, counts, followed = queries.instruction_list(current_user, filters)
    guichets = [
        g
        for g, _ in queries.guichet_tree()
        if permissions.is_secretariat(current_user) or permissions.can_export_guichet(current_user, g)
    ]
    return render(
        "dossiers/instruction.html",
        block="results",
        filters=filters,
        items=items,
        total=total,
        counts=counts,
        followed=followed,
        tabs=queries.TABS,
        guichets=guichets,
        states=list(DossierState),
        per_page=queries.PER_PAGE,
        bulk_actions=service.BULK_ACTIONS,
    )


@bp.post("/instruction/lot")
@permissions.requires_role(Role.SECRETARIAT, Role.INSTRUCTEUR)
def bulk():
    ids = [int(i) for i in request.form.getlist("dossier") if i.isdigit()][:200]
    dossiers = list(
        db.session.scalars(permissions.dossiers_visible_to(current_user).where(Dossier.id.in_(ids or [-1])))
    )
    back = url_for(
        ".instruction", **{k: v for k, v in request.args.items() if k in ("onglet", "guichet", "etat", "q")}
    )
    if not dossiers:
        flash("Cochez au moins un dossier.", "error")
        return _redirect(back)
    try:
        done, skipped = service.bulk(dossiers, action=request.form.get("action", ""), actor=current_user)
    except ValidationFailed as error:
        flash(error.message, "error")
        return _redirect(back)
    db.session.commit()
    if done:
        flash(f"{len(done)} dossier(s) traité(s) : {', '.join(d.reference for d in done)}.", "success")
    if skipped:
        flash("Non traités : " + " ; ".join(f"{d.reference} ({reason})" for d, reason in skipped), "warning")
    return _redirect(back)


@bp.route("/nouveau", methods=["GET", "POST"])
@permissions.authenticated
def create():
    guichets = [g for g, _ in queries.guichet_tree() if g.accepts_dossiers and g.is_open()]
    values = {
        "guichet": request.values.get("guichet", ""),
        "title": "",
        "start_year": "",
        "opportunity_code": "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values.update({k: request.form.get(k, "") for k in values})
        guichet = db.session.scalar(select(Guichet).where(Guichet.code == values["guichet"]))
        if guichet is None:
            errors["guichet"] = "Choisissez un guichet ouvert."
        else:
            try:
                dossier = service.create_dossier(
                    guichet=guichet,
                    title=values["title"],
                    start_year=values["start_year"],
                    opportunity_code=values["opportunity_code"],
                    actor=current_user,
                )
            except (ValidationFailed, NotAllowed) as error:
                errors = getattr(error, "errors", {"guichet": error.message})
            else:
                db.session.commit()
                flash(
                    f"Dossier {dossier.reference} créé : complétez ses sections puis déposez-le.", "success"
                )
                return _redirect(url_for(".show", dossier_id=dossier.id))
    return render(
        "dossiers/new.html",
        block="form",
        status=422 if errors else 200,
        guichets=guichets,
        v=values,
        e=errors,
    )


# --- the dossier page --------------------------------------------------------------------------------


def _context(dossier: Dossier, **overrides) -> dict:
    missing, verdicts = service.checks(dossier)
    instructor = permissions.can_instruct_dossier(current_user, dossier, any_state=True)
    porteur = permissions.is_porteur_side(current_user, dossier)
    ctx = {
        "dossier": dossier,
        "sections": service.SECTIONS,
        "missing": missing,
        "verdicts": verdicts,
        "blocking": service.blocking(verdicts),
        "fig": service.figures(dossier),
        "posted": {},
        "errors": {},
        "conflict": None,
        "instructor": instructor,
        "porteur": porteur,
        "organisations": list(db.session.scalars(select(Organisation).order_by(Organisation.code))),
        "messages": queries.messages(dossier)
        if permissions.can_message_dossier(current_user, dossier)
        else [],
        "annotations": (
            list(
                db.session.scalars(
                    select(DossierAnnotation)
                    .where(DossierAnnotation.dossier_id == dossier.id)
                    .order_by(DossierAnnotation.id)
                )
            )
            if permissions.can_annotate_dossier(current_user, dossier)
            else []
        ),
        "followed": service.is_followed(dossier, current_user) if instructor else False,
        "avis_choices": list(Avis),
        "reasons": list(ComplementReason),
        "forms": forms,
        "action_errors": {},
        "action_values": {},
        "section_labels": service.SECTION_LABELS,
        "posted_version": {},
        "saved": False,
        "max_mb": _max_bytes() // (1024 * 1024),
    }
    ctx.update(overrides)
    return ctx


@bp.get("/<int:dossier_id>")
@permissions.authenticated
def show(dossier_id: int):
    dossier = _load(dossier_id)
    response = render("dossiers/show.html", **_context(dossier))
    messages = queries.messages(dossier) if permissions.can_message_dossier(current_user, dossier) else []
    if service.mark_read(messages, actor=current_user):
        db.session.commit()
    return response


@bp.get("/<int:dossier_id>/controles")
@permissions.authenticated
def checks(dossier_id: int):
    dossier = _load(dossier_id)
    return render("dossiers/show.html", block="checks", **_context(dossier))


SECTION_KEYS = ", ".join(key for key, _ in service.SECTIONS if key != "pieces")


@bp.post(f"/<int:dossier_id>/sections/<any({SECTION_KEYS}):key>")
@permissions.authenticated
def save_section(dossier_id: int, key: str):
    dossier = _load(dossier_id)
    if key not in service.SECTION_LABELS or key == "pieces":
        abort(404)
    if not permissions.can_edit_section(current_user, dossier, key):
        abort(403)
    data = forms.section_data(request.form)
    try:
        service.save_section(dossier, key, data, version=forms.version(request.form), actor=current_user)
    except ValidationFailed as error:
        db.session.rollback()
        dossier = _load(dossier_id)
        return _section_response(
            dossier,
            key,
            422,
            posted={key: data},
            errors={key: error.errors},
            posted_version={key: forms.version(request.form)},
        )
    except service.SectionConflict as error:
        db.session.rollback()
        dossier = _load(dossier_id)
        return _section_response(dossier, key, 409, posted={key: data}, conflict=error)
    db.session.commit()
    dossier = _load(dossier_id)
    if not is_htmx():
        flash(f"Section « {service.SECTION_LABELS[key]} » enregistrée.", "success")
        return redirect(url_for(".show", dossier_id=dossier.id, _anchor=f"section-{key}"), code=303)
    response = _section_response(dossier, key, 200, saved=True)
    response.headers["HX-Trigger"] = "dossierSaved"
    return response


def _section_response(dossier, key, status, **overrides):
    return render(
        "dossiers/show.html", block=f"section_{key}", status=status, **_context(dossier, **overrides)
    )


# --- attachments ---------------------------------------------------------------------------------


@bp.post("/<int:dossier_id>/pieces")
@permissions.authenticated
def upload(dossier_id: int):
    dossier = _load(dossier_id)
    if not permissions.can_edit_section(current_user, dossier, "pieces"):
        abort(403)
    files = forms.uploaded_files(request.files, "file")
    try:
        if not files:
            raise ValidationFailed({"file": "Choisissez un fichier."})
        name, content = files[0]
        service.add_attachment(
            dossier,
            filename=name,
            content=content,
            kind=request.form.get("kind", ""),
            actor=current_user,
            max_bytes=_max_bytes(),
        )
    except ValidationFailed as error:
        db.session.rollback()
        dossier = _load(dossier_id)
        return _section_response(
            dossier,
            "pieces",
            422,
            errors={"pieces": error.errors},
            posted={"pieces": {"kind": request.form.get("kind", "")}},
        )
    db.session.commit()
    if not is_htmx():
        flash("Pièce jointe ajoutée.", "success")
        return redirect(url_for(".show", dossier_id=dossier_id, _anchor="section-pieces"), code=303)
    response = _section_response(_load(dossier_id), "pieces", 200, saved=True)
    response.headers["HX-Trigger"] = "dossierSaved"
    return response


@bp.post("/<int:dossier_id>/pieces/<int:attachment_id>/supprimer")
@permissions.authenticated
def remove_attachment(dossier_id: int, attachment_id: int):
    dossier = _load(dossier_id)
    attachment = db.session.get(DossierAttachment, attachment_id)
    if attachment is None or attachment.dossier_id != dossier.id:
        abort(404)
    try:
        service.remove_attachment(attachment, actor=current_user)
    except NotAllowed:
        abort(403)
    db.session.commit()
    flash("Pièce jointe retirée.", "success")
    return _redirect(url_for(".show", dossier_id=dossier_id, _anchor="section-pieces"))


@bp.get("/<int:dossier_id>/pieces/<int:attachment_id>")
@permissions.authenticated
def download(dossier_id: int, attachment_id: int):
    dossier = _load(dossier_id)
    attachment = db.session.get(DossierAttachment, attachment_id)
    if attachment is None or attachment.dossier_id != dossier.id:
        abort(404)
    if attachment.message_id is not None and not permissions.can_message_dossier(current_user, dossier):
        abort(404)
    path = service.attachment_path(attachment)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=attachment.mimetype, as_attachment=True, download_name=attachment.filename
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- life cycle ----------------------------------------------------------------------------------


def _action(dossier_id: int, run, success: str, block: str, values: dict | None = None):
    """Run a state-changing service: 303/HX-Redirect on success, 422 with the block and the input kept."""
    dossier = _load(dossier_id)
    try:
        run(dossier)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except ValidationFailed as error:
        db.session.rollback()
        dossier = _load(dossier_id)
        return render(
            "dossiers/show.html",
            block=block,
            status=422,
            **_context(dossier, action_errors=error.errors, action_values=values or {}),
        )
    except DomainError as error:
        db.session.rollback()
        dossier = _load(dossier_id)
        return render(
            "dossiers/show.html",
            block=block,
            status=422,
            **_context(dossier, action_errors={"action": error.message}, action_values=values or {}),
        )
    db.session.commit()
    flash(success, "success")
    return _redirect(url_for(".show", dossier_id=dossier_id))


@bp.post("/<int:dossier_id>/deposer")
@permissions.authenticated
def submit(dossier_id: int):
    return _action(
        dossier_id,
        lambda d: service.submit(d, actor=current_user),
        "Dossier déposé : l'équipe d'instruction en est informée.",
        "submission",
    )


@bp.post("/<int:dossier_id>/retirer")
@permissions.authenticated
def withdraw(dossier_id: int):
    return _action(
        dossier_id,
        lambda d: service.withdraw(d, reason=request.form.get("reason", ""), actor=current_user),
        "Dossier retiré.",
        "submission",
    )


@bp.post("/<int:dossier_id>/instruire")
@permissions.authenticated
def start_instruction(dossier_id: int):
    return _action(
        dossier_id,
        lambda d: service.start_instruction(d, actor=current_user),
        "Dossier passé en instruction.",
        "instruction",
    )


@bp.post("/<int:dossier_id>/complements")
@permissions.authenticated
def complements(dossier_id: int):
    values = {
        "sections": request.form.getlist("sections"),
        "reason": request.form.get("reason", ""),
        "message": request.form.get("message", ""),
    }
    return _action(
        dossier_id,
        lambda d: service.request_complements(d, actor=current_user, **values),
        "Demande de compléments envoyée au porteur.",
        "instruction",
        values,
    )


@bp.post("/<int:dossier_id>/avis")
@permissions.authenticated
def avis(dossier_id: int):
    values = {"avis": request.form.get("avis", ""), "motivation": request.form.get("motivation", "")}
    return _action(
        dossier_id,
        lambda d: service.record_avis(d, actor=current_user, **values),
        "Avis enregistré : le dossier est instruit.",
        "instruction",
        values,
    )


@bp.post("/<int:dossier_id>/classer")
@permissions.authenticated
def dismiss(dossier_id: int):
    values = {"dismiss_motivation": request.form.get("motivation", "")}
    return _action(
        dossier_id,
        lambda d: service.dismiss(d, motivation=values["dismiss_motivation"], actor=current_user),
        "Dossier classé sans suite.",
        "instruction",
        values,
    )


@bp.post("/<int:dossier_id>/suivre")
@permissions.authenticated
def toggle_follow(dossier_id: int):
    dossier = _load(dossier_id)
    if not permissions.can_instruct_dossier(current_user, dossier, any_state=True):
        abort(403)
    if service.is_followed(dossier, current_user):
        service.unfollow(dossier, actor=current_user)
        message = "Vous ne suivez plus ce dossier."
    else:
        service.follow(dossier, actor=current_user)
        message = "Vous suivez ce dossier."
    db.session.commit()
    flash(message, "success")
    return _redirect(url_for(".show", dossier_id=dossier_id))


@bp.post("/<int:dossier_id>/annotations")
@permissions.authenticated
def annotate(dossier_id: int):
    values = {"annotation": request.form.get("body", "")}
    return _action(
        dossier_id,
        lambda d: service.annotate(d, body=values["annotation"], actor=current_user),
        "Annotation enregistrée.",
        "annotations",
        values,
    )


@bp.post("/<int:dossier_id>/messages")
@permissions.authenticated
def post_message(dossier_id: int):
    values = {"message_body": request.form.get("body", "")}
    files = forms.uploaded_files(request.files, "files")
    return _action(
        dossier_id,
        lambda d: service.post_message(
            d, body=values["message_body"], files=files, actor=current_user, max_bytes=_max_bytes()
        ),
        "Message envoyé.",
        "messages",
        values,
    )


# --- documents -----------------------------------------------------------------------------------


@bp.get("/<int:dossier_id>/pdf")
@permissions.authenticated
def pdf(dossier_id: int):
    from ..pdf import dossier_pdf

    dossier = _load(dossier_id)
    body = dossier_pdf(dossier)
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="dossier-{dossier.reference}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
