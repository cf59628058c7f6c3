"""Dossiers: my dossiers, the dossier page with its sections saved one by one, live checks, submission,
instruction (list with tabs, complements, avis), messages, private annotations, attachments, PDF."""

from functools import cached_property

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import permissions
from ..extensions import attachment_max_bytes, db, writes
from ..formatting import format_time
from ..forms import apply_errors
from ..forms import dossiers as forms
from ..htmx import announce, is_htmx, render, trigger
from ..models import Dossier, Guichet, Organisation, Role, RuleKind
from ..models.base import utcnow
from ..models.dossiers import (
    GRID_SCORES,
    Avis,
    ComplementReason,
    DossierAttachment,
    DossierState,
)
from ..pdf import dossier_pdf
from ..queries import dossiers as queries
from ..queries import portfolio as portfolio_queries
from ..ratelimit import limit
from ..services import dossier_attachments as attachments
from ..services import dossier_endorsements as endorsements
from ..services import dossier_messages as conversation
from ..services import dossier_sections as sections
from ..services import dossiers as service
from ..services.errors import NotAllowed, ValidationFailed
from .actions import perform, see_other

bp = Blueprint("dossiers", __name__, url_prefix="/dossiers")


def _max_bytes() -> int:
    return attachment_max_bytes()


def _load(dossier_id: int, sections: bool = True) -> Dossier:
    dossier = queries.by_id(current_user, dossier_id, sections=sections)
    if dossier is None:
        abort(404)
    return dossier


def _shown(dossier_id: int) -> Dossier:
    """The dossier with the rows of all its sections read, for a page showing them all."""
    dossier = _load(dossier_id)
    queries.load_rows(dossier)
    return dossier


@bp.get("")
@permissions.authenticated
def index():
    instructs = permissions.instructs(current_user)
    dossiers = queries.my_dossiers(current_user, request.args.get("page", 1, type=int))
    # the open guichets are offered only to someone without a dossier yet
    open_guichets = (
        [] if dossiers.items else [g for g, _ in queries.guichet_tree() if g.accepts_dossiers and g.is_open()]
    )
    return render("dossiers/index.html", dossiers=dossiers, instructs=instructs, open_guichets=open_guichets)


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
        states=[s for s in DossierState if s != DossierState.BROUILLON],
        per_page=queries.PER_PAGE,
        bulk_actions=service.BULK_ACTIONS,
    )


@bp.post("/instruction/lot")
@permissions.requires_role(Role.SECRETARIAT, Role.INSTRUCTEUR)
def bulk():
    form = forms.BulkForm()
    ids = [int(i) for i in form.dossier.data or [] if i.isdigit()][:200]
    dossiers = list(
        db.session.scalars(permissions.dossiers_visible_to(current_user).where(Dossier.id.in_(ids or [-1])))
    )
    back = url_for(
        ".instruction", **{k: v for k, v in request.args.items() if k in ("onglet", "guichet", "etat", "q")}
    )
    if not dossiers:
        flash("Cochez au moins un dossier.", "error")
        return see_other(back)

    def refused(status):
        flash(" ".join(form.form_errors) or "Action impossible.", "error")
        return see_other(back)

    def report(result) -> str:
        """Flash what was done and what was skipped, then go back to the list."""
        done, skipped = result
        if done:
            flash(f"{len(done)} dossier(s) traité(s) : {', '.join(d.reference for d in done)}.", "success")
        if skipped:
            flash(
                "Non traités : " + " ; ".join(f"{d.reference} ({reason})" for d, reason in skipped), "warning"
            )
        return back

    return perform(
        lambda: service.bulk(dossiers, action=form.action.data or "", actor=current_user),
        form=form,
        location=report,
        failure=refused,
    )


@bp.route("/nouveau", methods=["GET", "POST"])
@permissions.authenticated
def create():
    guichets = [g for g, _ in queries.guichet_tree() if g.accepts_dossiers and g.is_open()]
    form = forms.CreateForm(formdata=request.form if request.method == "POST" else None)
    form.guichet.choices = [forms.BLANK_CHOICE, *[(g.code, f"{g.code} — {g.name}") for g in guichets]]
    if request.method == "GET":
        form.guichet.data = request.args.get("guichet", "")

    def page(status: int = 200):
        return render("dossiers/new.html", block="form", status=status, guichets=guichets, form=form)

    if request.method == "GET":
        return page()
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == (form.guichet.data or "")))
    if guichet is None:
        form.guichet.errors = ["Choisissez un guichet ouvert."]
        return page(422)

    def run():
        try:
            return service.create_dossier(
                guichet=guichet,
                title=form.title.data or "",
                start_year=form.start_year.data or "",
                opportunity_code=form.opportunity_code.data or "",
                actor=current_user,
            )
        except NotAllowed as error:  # shown at the guichet, as a validation message
            raise ValidationFailed({"guichet": error.message}) from None

    return perform(
        run,
        form=form,
        success=lambda dossier: (
            f"Dossier {dossier.reference} créé : remplissez-le étape par étape "
            "(vos saisies sont enregistrées au fil de l'eau), puis déposez-le."
        ),
        location=lambda dossier: url_for(".step", dossier_id=dossier.id, slug=sections.steps()[0].slug),
        failure=page,
    )


# --- the dossier page --------------------------------------------------------------------------------


def _organisation_choices(organisations=None) -> list[tuple[str, str]]:
    """(code, « code — name ») of every organisation: the porteur and co-porteur selects."""
    if organisations is None:
        organisations = db.session.scalars(select(Organisation).order_by(Organisation.code))
    return [(o.code, f"{o.code} — {o.name}") for o in organisations]


class _ReadWhenUsed:
    """A value computed the first time the template reads one of its attributes (never if it does not)."""

    def __init__(self, compute):
        self._compute = compute

    @cached_property
    def _value(self):
        return self._compute()

    def __getattr__(self, name: str):
        return getattr(self._value, name)


def _context(dossier: Dossier, shown: tuple[str, ...] = (), **overrides) -> dict:
    """What the dossier page, a step page or a section's page (`shown`: the sections it shows) renders."""
    step = overrides.get("step")
    shown = shown or (step.sections if step else ())
    if not shown:  # the dossier page, the recap: every section and the checks
        missing, verdicts = service.checks(dossier)
    else:  # a step or section page badges its own sections only: only their rows are read
        missing, verdicts = service.completeness(dossier, shown), []
    # A step page (and a section, swapped in place or on its own page) shows sections only: the dossier
    # page's other blocks (follow, DNUM visa, budget annex, selection grid) are not read for it. The
    # conversation, annotations, committee trail and history are the activity page's (_activity_context),
    # loaded when the dossier page scrolls to them.
    whole_page = step is None and not shown
    instructor = permissions.can_instruct_dossier(current_user, dossier, any_state=True)
    if instructor and whole_page:
        queries.load_collections(dossier, ("assessments",))  # the selection grid of the instruction panel
    porteur = permissions.is_porteur_side(current_user, dossier)
    posted_forms = overrides.pop("section_forms", {})
    # the porteur/co-porteur select options: the per-process option list (reference data, kept a minute)
    organisations = portfolio_queries.organisations()
    organisation_choices = _organisation_choices(organisations)  # once, not per section

    def section_form(key: str):
        """The form posted for `key` (input and messages kept), else the section's saved values."""
        if key in posted_forms:
            return posted_forms[key]
        if key == "pieces":
            return forms.UploadForm.for_dossier(dossier, posted=False)
        return forms.section_form(dossier, key, organisations=organisation_choices)

    ctx = {
        "dossier": dossier,
        "DossierState": DossierState,
        "sections": sections.SECTIONS,
        "missing": missing,
        "verdicts": verdicts,
        "blocking": service.blocking(verdicts),
        # the tables of the financing and savings sections shown as saved (not their forms): read if shown
        "fig": _ReadWhenUsed(lambda: service.figures(dossier, revenues=True)),
        "section_form": section_form,
        "conflict": None,
        "instructor": instructor,
        "porteur": porteur,
        "organisations": organisations,
        "followed": service.is_followed(dossier, current_user, loaded_for_user=True)
        if whole_page and instructor
        else False,
        "avis_choices": list(Avis),
        "reasons": list(ComplementReason),
        "forms": forms,
        "action_errors": {},
        "action_values": {},
        "section_labels": sections.SECTION_LABELS,
        "saved": False,
        "editing": None,  # the section whose form the dossier page opens (dossiers.edit_section)
        # the sections whose input came back with messages: their form stays open
        "posted_keys": set(posted_forms),
        "max_mb": _max_bytes() // (1024 * 1024),
        "endorse_form": forms.EndorseForm(formdata=None),
        "grid_scores": GRID_SCORES,
        "annex_form": forms.BudgetAnnexForm.for_dossier(dossier, posted=False) if whole_page else None,
        "endorsement_pending": endorsements.pending(dossier) if whole_page else False,
        "step": None,  # the step page showing the sections (their forms then autosave and come back to it)
    }
    ctx.update(overrides)
    return ctx


@bp.get("/<int:dossier_id>")
@permissions.authenticated
def show(dossier_id: int):
    return render("dossiers/show.html", **_context(_shown(dossier_id)))


def _activity_context(dossier: Dossier, **overrides) -> dict:
    """What the activity page shows: the conversation and the private annotations, each for who may read it
    (the committee trail and the history are read by the template)."""
    annotates = permissions.can_annotate_dossier(current_user, dossier)
    readable = permissions.can_message_dossier(current_user, dossier)
    return {
        "dossier": dossier,
        "messages": queries.messages(dossier) if readable else [],
        "annotations": queries.annotations(dossier) if annotates else [],
        "action_errors": {},
        "action_values": {},
        "in_place": False,  # swapped into the dossier page: its status line says so (dossiers/show.html)
    } | overrides


@bp.get("/<int:dossier_id>/activite")
@writes
@permissions.authenticated
def activity(dossier_id: int):
    """The lower part of the dossier page (conversation, annotations, committee trail, history): swapped in by
    htmx when the page scrolls to it (its arrival said in the page's status line, the focus left alone), else
    a page of its own (the dossier page links to it). The messages shown are marked read by whoever reads
    them, as the dossier page did."""
    dossier = _load(dossier_id, sections=False)
    # its referents (who may write in the conversation) and its history, with their authors
    queries.load_collections(dossier, ("referents", "transitions"))
    context = _activity_context(dossier, in_place=is_htmx())
    response = render("dossiers/activity.html", block="activity", **context)
    if conversation.mark_read(context["messages"], actor=current_user):  # the messages shown, loaded once
        db.session.commit()
    return response


@bp.get("/<int:dossier_id>/controles")
@permissions.authenticated
def checks(dossier_id: int):
    return render("dossiers/show.html", block="checks", **_context(_shown(dossier_id)))


SECTION_KEYS = ", ".join(key for key, _ in sections.SECTIONS if key != "pieces")


def _posted_step(key: str) -> sections.Step | None:
    """The step page a section form was posted from (its hidden `etape`), if it shows that section."""
    slug = request.form.get("etape", "")
    return next((s for s in sections.steps() if s.slug == slug and key in s.sections), None)


def _section_response(dossier, key, status, **overrides):
    """The section again (saved, or its messages and the input kept): the htmx block, else the page the
    form was posted from (its step page, or the section's own page)."""
    step = overrides.setdefault("step", _posted_step(key))
    if step is None:
        return _one_section(dossier, key, status, **overrides)
    if not is_htmx():
        context = _context(dossier, **overrides, **_step_extras(step))
        return render("dossiers/steps.html", status=status, **context)
    return render(
        "dossiers/show.html", block=f"section_{key}", status=status, **_context(dossier, **overrides)
    )


def _section_location(dossier_id: int, key: str) -> str:
    step = _posted_step(key)
    if step is not None:
        return url_for(".step", dossier_id=dossier_id, slug=step.slug, _anchor=f"section-{key}")
    return url_for(".show", dossier_id=dossier_id, _anchor=f"section-{key}")


def _saved_in_place(dossier_id: int, key: str, response):
    """htmx saves swap the section in place (its « enregistrée » notice, the checks refreshed by the
    dossierSaved event) instead of perform()'s HX-Redirect; other browsers follow perform()'s 303."""
    if not is_htmx():
        return response
    swapped = _section_response(_load(dossier_id), key, 200, saved=True)
    trigger(swapped, "dossierSaved")
    return announce(swapped, f"Section enregistrée : {sections.SECTION_LABELS[key]}")


@bp.get(f"/<int:dossier_id>/sections/<any({SECTION_KEYS}):key>/modifier")
@permissions.authenticated
def edit_section(dossier_id: int, key: str):
    """« Modifier la section » on the dossier page: the section's form in place of its saved content (the htmx
    block), else a page of that form alone. A section the user may not edit (any more) is shown
    as saved: the template decides, as everywhere."""
    return _one_section(_load(dossier_id), key, 200, editing=key)


def _one_section(dossier: Dossier, key: str, status: int, **overrides):
    """One section of the dossier page, badged by its own completeness (only its rows read): the htmx block
    swapped in place, else the page of that section alone (dossiers/section.html)."""
    queries.load_rows(dossier, (key,))
    context = _context(dossier, key=key, shown=(key,), **overrides)
    if is_htmx():
        return render("dossiers/show.html", block=f"section_{key}", status=status, **context)
    return render("dossiers/section.html", status=status, **context)


@bp.get(f"/<int:dossier_id>/sections/<any({SECTION_KEYS}):key>")
@permissions.authenticated
def section(dossier_id: int, key: str):
    """A section as saved (« Annuler » of its open form): the htmx block, else the dossier page at it."""
    if is_htmx():
        return _one_section(_load(dossier_id), key, 200)
    dossier = _load(dossier_id, sections=False)  # 404 for who may not see it, as everywhere
    return redirect(url_for(".show", dossier_id=dossier.id, _anchor=f"section-{key}"), 303)


@bp.post(f"/<int:dossier_id>/sections/<any({SECTION_KEYS}):key>")
@permissions.authenticated
def save_section(dossier_id: int, key: str):
    dossier = _load(dossier_id)
    if key not in sections.SECTION_LABELS or key == "pieces":
        abort(404)
    if not permissions.can_edit_section(current_user, dossier, key):
        abort(403)
    form = forms.section_form(dossier, key, formdata=request.form, organisations=_organisation_choices())
    conflict: list[sections.SectionConflict] = []

    def run():
        try:
            return sections.save_section(
                dossier, key, form.section_data(), version=form.version_number(), actor=current_user
            )
        except sections.SectionConflict as error:
            conflict.append(error)
            raise

    def failure(status: int):
        if status == 403:
            abort(403)
        fresh = _load(dossier_id)
        if conflict:  # shown as the conflict notice, with the saved version beside the input
            form.form_errors.clear()
            form.version.data = str(fresh.section_version(key))
        return _section_response(
            fresh, key, status, section_forms={key: form}, conflict=conflict[0] if conflict else None
        )

    failed: list[int] = []
    response = perform(
        run,
        form=form,
        success=None if is_htmx() else f"Section « {sections.SECTION_LABELS[key]} » enregistrée.",
        location=_section_location(dossier_id, key),
        failure=lambda status: failed.append(status) or failure(status),
    )
    return response if failed else _saved_in_place(dossier_id, key, response)


@bp.post(f"/<int:dossier_id>/sections/<any({SECTION_KEYS}):key>/brouillon")
@permissions.authenticated
def autosave_section(dossier_id: int, key: str):
    """The step pages' autosave (app/static/app.js): the section posted to the same service as « Enregistrer
    la section », answered in JSON so that the script changes nothing but the messages and the version
    (the page is not swapped: the focus stays where the user types). 200 {version, message}; 422 {errors:
    {control id: message}} (nothing saved, the input stays in the page); 409 the conflict (someone saved
    the section since: never a silent overwrite); 403 refused."""
    dossier = _load(dossier_id)
    if not permissions.can_edit_section(current_user, dossier, key):
        refusal = "Cette section n'est plus modifiable : rechargez la page."
        return jsonify(status="refused", message=refusal), 403
    form = forms.section_form(dossier, key, formdata=request.form, organisations=_organisation_choices())

    def saved(result):
        at = format_time(utcnow())
        return jsonify(
            status="saved",
            version=result.section_version(key),
            saved_at=at,
            message=f"Brouillon enregistré à {at}",
        )

    def refused(error):
        if isinstance(error, sections.SectionConflict):
            message = (
                f"{error.message} Le brouillon n'est plus enregistré automatiquement : utilisez "
                "« Enregistrer la section » pour voir la version enregistrée à côté de votre saisie."
            )
            return jsonify(status="conflict", message=message), 409
        if isinstance(error, ValidationFailed):
            apply_errors(form, error.errors)
            by_id, general = forms.errors_by_id(form)
            count = len(by_id) + len(general)
            return jsonify(
                status="invalid",
                errors=by_id,
                general=general,
                message=f"Brouillon non enregistré : {count} champ(s) à corriger.",
            ), 422
        return jsonify(status="refused", message=error.message), error.status_code

    return perform(
        lambda: sections.save_section(
            dossier, key, form.section_data(), version=form.version_number(), actor=current_user
        ),
        done=saved,
        refused=refused,
    )


# --- the step-by-step form -------------------------------------------------------------------------

STEP_SLUGS = ", ".join(step.slug for step in sections.steps())


def _step_extras(step: sections.Step) -> dict:
    """What the step page shows around `step`: its number, the previous and next steps, whether it is the
    recap."""
    all_steps = sections.steps()
    index = all_steps.index(step)
    return {
        "steps": all_steps,
        "step_number": index + 1,
        "previous_step": all_steps[index - 1] if index else None,
        "next_step": all_steps[index + 1] if index + 1 < len(all_steps) else None,
        "recap": index == len(all_steps) - 1,
    }


def _fillable(dossier_id: int) -> Dossier:
    """The dossier whose steps the user may fill: 404 when not visible, 403 when not on the porteur side."""
    dossier = _load(dossier_id)
    if not permissions.is_porteur_side(current_user, dossier):
        abort(403)
    return dossier


@bp.get("/<int:dossier_id>/etapes")
@permissions.authenticated
def steps(dossier_id: int):
    _fillable(dossier_id)
    return redirect(url_for(".step", dossier_id=dossier_id, slug=sections.steps()[0].slug), 303)


@bp.get(f"/<int:dossier_id>/etapes/<any({STEP_SLUGS}):slug>")
@permissions.authenticated
def step(dossier_id: int, slug: str):
    """One step of the porteur's form (its sections, saved as a draft while typing), or the recap that
    leads to « Déposer ». A dossier the porteur may no longer edit is shown on its page instead."""
    dossier = _fillable(dossier_id)
    if not permissions.can_fill_dossier_steps(current_user, dossier):
        flash("Ce dossier n'est plus modifiable par étapes : voici le dossier complet.", "info")
        return redirect(url_for(".show", dossier_id=dossier_id), 303)
    step = next(s for s in sections.steps() if s.slug == slug)
    queries.load_rows(dossier, step.sections or None)  # the recap shows every section
    return render("dossiers/steps.html", **_context(dossier, step=step, **_step_extras(step)))


# --- attachments ---------------------------------------------------------------------------------


@bp.post("/<int:dossier_id>/pieces")
@permissions.authenticated
def upload(dossier_id: int):
    dossier = _load(dossier_id)
    if not permissions.can_edit_section(current_user, dossier, "pieces"):
        abort(403)
    form = forms.UploadForm.for_dossier(dossier, posted=True)
    files = forms.uploaded_files(request.files, "file")

    def run():
        if not files:
            raise ValidationFailed({"file": "Choisissez un fichier."})
        name, content = files[0]
        return attachments.add_attachment(
            dossier,
            filename=name,
            content=content,
            kind=form.kind.data or "",
            actor=current_user,
            max_bytes=_max_bytes(),
        )

    def failure(status: int):
        if status == 403:
            abort(403)
        return _section_response(_load(dossier_id), "pieces", status, section_forms={"pieces": form})

    failed: list[int] = []
    response = perform(
        run,
        form=form,
        success=None if is_htmx() else "Pièce jointe ajoutée.",
        location=_section_location(dossier_id, "pieces"),
        failure=lambda status: failed.append(status) or failure(status),
    )
    return response if failed else _saved_in_place(dossier_id, "pieces", response)


@bp.post("/<int:dossier_id>/pieces/<int:attachment_id>/supprimer")
@permissions.authenticated
def remove_attachment(dossier_id: int, attachment_id: int):
    dossier = _load(dossier_id)
    attachment = db.session.get(DossierAttachment, attachment_id)
    if attachment is None or attachment.dossier_id != dossier.id:
        abort(404)
    return perform(
        lambda: attachments.remove_attachment(attachment, actor=current_user),
        success="Pièce jointe retirée.",
        location=_section_location(dossier_id, "pieces"),
        failure=lambda status: abort(403),
    )


@bp.get("/<int:dossier_id>/pieces/<int:attachment_id>")
@permissions.authenticated
def download(dossier_id: int, attachment_id: int):
    dossier = _load(dossier_id)
    attachment = db.session.get(DossierAttachment, attachment_id)
    if attachment is None or attachment.dossier_id != dossier.id:
        abort(404)
    if attachment.message_id is not None and not permissions.can_message_dossier(current_user, dossier):
        abort(404)
    path = attachments.attachment_path(attachment)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=attachment.mimetype, as_attachment=True, download_name=attachment.filename
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- life cycle ----------------------------------------------------------------------------------


def _action(
    dossier_id: int, form, run, success: str, block: str, values: dict | None = None, activity: bool = False
):
    """Run a state-changing service through perform(): 303/HX-Redirect on success; 422 with the block, the
    messages at their fields and the input kept; 403 when the user may not act. `activity`: the block is the
    activity page's (a message, an annotation), which is where the user goes back to."""
    dossier = _load(dossier_id)

    def failure(status: int):
        if status == 403:
            abort(403)
        errors = form.errors_by_name()
        context = _activity_context if activity else _context
        response = render(
            "dossiers/activity.html" if activity else "dossiers/show.html",
            block=block,
            status=status,
            **context(_load(dossier_id), action_errors=errors, action_values=values or {}),
        )
        # the swapped panel shows the messages at their fields, the focus stays on the button used: the live
        # region says why nothing was recorded (a screen-reader user would otherwise hear nothing)
        if is_htmx() and errors:
            announce(response, "Non enregistré : " + " ".join(dict.fromkeys(errors.values())))
        return response

    return perform(
        lambda: run(dossier),
        form=form,
        success=success,
        location=url_for(".activity", dossier_id=dossier_id, _anchor=block)
        if activity
        else url_for(".show", dossier_id=dossier_id),
        failure=failure,
    )


def _deposit_page(dossier: Dossier, form, status: int = 200):
    """The recap shown before a deposit (like Démarches Simplifiées): every section with what it lacks,
    the checks, the figures, the files; confirming it deposits the dossier."""
    missing, verdicts = service.checks(dossier)
    return render(
        "dossiers/deposit.html",
        status=status,
        dossier=dossier,
        form=form,
        sections=sections.SECTIONS,
        missing=missing,
        verdicts=verdicts,
        blocking=service.blocking(verdicts),
        fig=service.figures(dossier),
        DossierState=DossierState,
    )


@bp.get("/<int:dossier_id>/deposer")
@permissions.authenticated
def confirm_submit(dossier_id: int):
    dossier = _load(dossier_id)
    if not permissions.can_submit_dossier(current_user, dossier):
        abort(403)
    return _deposit_page(dossier, forms.DepositForm(formdata=None))


@bp.post("/<int:dossier_id>/deposer")
@permissions.authenticated
def submit(dossier_id: int):
    dossier = _load(dossier_id)
    # The porteur's second click (or a second tab) reaches the service, which answers « déjà déposé ».
    if not (
        permissions.can_submit_dossier(current_user, dossier)
        or permissions.is_porteur_side(current_user, dossier)
    ):
        abort(403)
    form = forms.DepositForm()
    if not form.validate():
        return _deposit_page(dossier, form, 422)

    def failure(status: int):
        return _deposit_page(_load(dossier_id), form, status)

    return perform(
        lambda: service.submit(dossier, actor=current_user),
        form=form,
        success="Dossier déposé : l'équipe d'instruction en est informée ; l'accusé de réception vous est "
        "envoyé par courriel.",
        location=url_for(".show", dossier_id=dossier_id),
        failure=failure,
    )


@bp.post("/<int:dossier_id>/visa")
@permissions.authenticated
def endorse(dossier_id: int):
    """The porteur ministry's DNUM endorses (or refuses) a France Relance dossier before instruction."""
    dossier = _load(dossier_id)
    if not permissions.can_endorse_dossier(current_user, dossier):
        abort(403)
    form = forms.EndorseForm()

    def failure(status: int):
        if status == 403:
            abort(403)
        return render(
            "dossiers/show.html",
            block="endorsement",
            status=status,
            **_context(_load(dossier_id), endorse_form=form),
        )

    return perform(
        lambda: endorsements.endorse(
            dossier, decision=form.decision.data or "", comment=form.comment.data or "", actor=current_user
        ),
        form=form,
        success=lambda row: f"Dossier {dossier.reference} : {row.decision_enum.label.lower()}.",
        location=url_for(".show", dossier_id=dossier_id, _anchor="visa-dnum"),
        failure=failure,
    )


@bp.post("/<int:dossier_id>/retirer")
@permissions.authenticated
def withdraw(dossier_id: int):
    form = forms.WithdrawForm()
    return _action(
        dossier_id,
        form,
        lambda d: service.withdraw(d, reason=form.reason.data or "", actor=current_user),
        "Dossier retiré.",
        "submission",
    )


@bp.post("/<int:dossier_id>/instruire")
@permissions.authenticated
def start_instruction(dossier_id: int):
    return _action(
        dossier_id,
        forms.SubmitForm(),
        lambda d: service.start_instruction(d, actor=current_user),
        "Dossier passé en instruction.",
        "instruction",
    )


@bp.post("/<int:dossier_id>/complements")
@permissions.authenticated
@limit("mail")
def complements(dossier_id: int):
    form = forms.ComplementsForm()
    values = {
        "sections": form.sections.data or [],
        "reason": form.reason.data or "",
        "message": form.message.data or "",
    }
    return _action(
        dossier_id,
        form,
        lambda d: service.request_complements(d, actor=current_user, **values),
        "Demande de compléments envoyée au porteur.",
        "instruction",
        values,
    )


@bp.post("/<int:dossier_id>/avis")
@permissions.authenticated
def avis(dossier_id: int):
    form = forms.AvisForm()
    values = {"avis": form.avis.data or "", "motivation": form.motivation.data or ""}
    # the selection grid: one score and comment per criterion of the guichet (names depend on the data)
    grid = {
        int(name.split("-")[1]): (
            request.form.get(name, ""),
            request.form.get(name[: -len("score")] + "comment", ""),
        )
        for name in request.form
        if name.startswith("grid-") and name.endswith("-score") and name.split("-")[1].isdigit()
    }
    values["grid"] = {str(k): v for k, v in grid.items()}
    return _action(
        dossier_id,
        form,
        lambda d: service.record_avis(
            d, avis=values["avis"], motivation=values["motivation"], grid=grid, actor=current_user
        ),
        "Avis enregistré : le dossier est instruit.",
        "instruction",
        values,
    )


@bp.get("/instruction/grille")
@permissions.requires_role(Role.SECRETARIAT, Role.INSTRUCTEUR)
def compare():
    """The dossiers of one guichet (one call) side by side: key figures and the selection grid; without a
    guichet, the guichets the user may compare."""
    code = request.args.get("guichet", "")
    if not code:
        choices = [
            g
            for g, _ in queries.guichet_tree()
            if g.accepts_dossiers
            and (permissions.is_secretariat(current_user) or permissions.can_export_guichet(current_user, g))
        ]
        return render(
            "dossiers/compare.html", guichet=None, choices=choices, dossiers=[], figures={}, criteria=[]
        )
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == code))
    if guichet is None:
        abort(404)
    if not (
        permissions.is_secretariat(current_user) or permissions.can_export_guichet(current_user, guichet)
    ):
        abort(403)
    dossiers = [
        d
        for d in db.session.scalars(
            permissions.dossiers_visible_to(current_user)
            .where(Dossier.guichet_id == guichet.id, Dossier.state != DossierState.BROUILLON)
            .order_by(Dossier.id)
        )
    ]
    return render(
        "dossiers/compare.html",
        guichet=guichet,
        dossiers=dossiers,
        figures={d.id: service.figures(d) for d in dossiers},
        criteria=[r for r in guichet.rules if r.kind_enum == RuleKind.CRITERION],
        choices=[],
    )


@bp.post("/<int:dossier_id>/annexe-budgetaire")
@permissions.authenticated
def budget_annex(dossier_id: int):
    dossier = _load(dossier_id)
    if not permissions.can_instruct_dossier(current_user, dossier, any_state=True):
        abort(403)
    form = forms.BudgetAnnexForm.for_dossier(dossier, posted=True)

    def failure(status: int):
        if status == 403:
            abort(403)
        return render(
            "dossiers/show.html",
            block="instruction",
            status=status,
            **_context(_load(dossier_id), annex_form=form),
        )

    return perform(
        lambda: service.set_budget_annex(
            dossier, values={name: form[name].data or "" for name in service.BUDGET_ANNEX}, actor=current_user
        ),
        form=form,
        success="Annexe des nomenclatures budgétaires enregistrée.",
        location=url_for(".show", dossier_id=dossier_id, _anchor="instruction"),
        failure=failure,
    )


@bp.post("/<int:dossier_id>/classer")
@permissions.authenticated
def dismiss(dossier_id: int):
    form = forms.DismissForm()
    values = {"dismiss_motivation": form.motivation.data or ""}
    return _action(
        dossier_id,
        form,
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
    followed = service.is_followed(dossier, current_user)
    return perform(
        lambda: (service.unfollow if followed else service.follow)(dossier, actor=current_user),
        success="Vous ne suivez plus ce dossier." if followed else "Vous suivez ce dossier.",
        location=url_for(".show", dossier_id=dossier_id),
        failure=lambda status: abort(status),
    )


@bp.post("/<int:dossier_id>/annotations")
@permissions.authenticated
def annotate(dossier_id: int):
    form = forms.AnnotationForm()
    values = {"annotation": form.body.data or ""}
    return _action(
        dossier_id,
        form,
        lambda d: conversation.annotate(d, body=values["annotation"], actor=current_user),
        "Annotation enregistrée.",
        "annotations",
        values,
        activity=True,
    )


@bp.post("/<int:dossier_id>/messages")
@permissions.authenticated
@limit("mail")
def post_message(dossier_id: int):
    form = forms.MessageForm()
    values = {"message_body": form.body.data or ""}
    files = forms.uploaded_files(request.files, "files")
    return _action(
        dossier_id,
        form,
        lambda d: conversation.post_message(
            d, body=values["message_body"], files=files, actor=current_user, max_bytes=_max_bytes()
        ),
        "Message envoyé.",
        "messages",
        values,
        activity=True,
    )


# --- documents -----------------------------------------------------------------------------------


@bp.get("/<int:dossier_id>/pdf")
@permissions.authenticated
def pdf(dossier_id: int):
    dossier = _load(dossier_id)
    body = dossier_pdf(dossier)
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="dossier-{dossier.reference}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
