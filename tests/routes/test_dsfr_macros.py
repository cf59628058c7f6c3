"""The one DSFR macro set (app/templates/dsfr/): the markup a user and a screen reader need, rendered
through the app's Jinja environment (StrictUndefined in tests)."""

import re
from types import SimpleNamespace

import pytest
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import (
    FileField,
    Form,
    FormField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import FieldList
from wtforms.validators import InputRequired


class RowForm(Form):
    description = StringField("Description", validators=[InputRequired("Décrivez le jalon.")])
    due_on = StringField("Échéance")


class SampleForm(Form):
    title = StringField(
        "Titre", description="120 caractères au maximum.", validators=[InputRequired("Titre requis.")]
    )
    body = TextAreaField("Texte")
    kind = SelectField("Nature", choices=[("a", "A"), ("b", "B")], validators=[InputRequired("Choisissez.")])
    mode = RadioField(
        "Mode", choices=[("vote", "Vote"), ("consensus", "Consensus")], validators=[InputRequired("Mode ?")]
    )
    tags = SelectMultipleField("Ministères", choices=[("1", "Un"), ("2", "Deux")])
    jalons = FieldList(FormField(RowForm), min_entries=2)


@pytest.fixture
def forms(app):
    with app.test_request_context():
        yield app.jinja_env.get_template("dsfr/_forms.html").module


@pytest.fixture
def components(app):
    with app.test_request_context():
        yield app.jinja_env.get_template("dsfr/_components.html").module


def tag_with_id(html: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|textarea|select)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, f"no control with id {element_id!r} in {html}"
    return match[0]


def invalid_form() -> SampleForm:
    form = SampleForm(MultiDict({"jalons-0-description": "", "jalons-1-description": "Recette"}))
    assert not form.validate()
    form.tags.errors = ["Choisissez au moins un ministère."]
    return form


def test_valid_field_has_no_aria_invalid_nor_dangling_describedby(forms):
    form = SampleForm(MultiDict({"title": "Un titre"}))
    html = str(forms.field(form.title))
    control = tag_with_id(html, "title")
    assert "aria-invalid" not in control and "aria-describedby" not in control
    assert "fr-input-group--error" not in html and "fr-messages-group" not in html
    assert '<label class="fr-label" for="title">' in html
    assert '<span class="fr-hint-text" id="title-hint">120 caractères au maximum.</span>' in html
    assert 'value="Un titre"' in control


def test_field_in_error_is_invalid_and_described_by_its_message(forms):
    form = invalid_form()
    html = str(forms.field(form.title))
    control = tag_with_id(html, "title")
    assert 'aria-invalid="true"' in control and 'aria-describedby="title-messages"' in control
    assert 'class="fr-input-group fr-input-group--error"' in html
    assert re.search(
        r'<div class="fr-messages-group" id="title-messages" aria-live="polite">\s*'
        r'<p class="fr-message fr-message--error" id="title-message-error">Titre requis.</p>',
        html,
    )
    assert "(obligatoire)" in html


def test_textarea_extra_attributes_and_input_alias(forms):
    form = SampleForm()
    html = str(forms.input(form.body, attrs={"rows": 3, "extra": {"hx-get": "/x"}}, inputmode="text"))
    control = tag_with_id(html, "body")
    assert control.startswith("<textarea") and 'rows="3"' in control and 'hx-get="/x"' in control
    assert 'inputmode="text"' in control
    html = str(forms.field(form.title, type="email", label_sr_only=True, sr_prefix="Ligne 2"))
    assert 'type="email"' in tag_with_id(html, "title")
    assert (
        '<label class="fr-label fr-sr-only" for="title"><span class="fr-sr-only">Ligne 2 : </span>Titre'
        in html
    )


def test_fieldlist_row_fields_keep_their_ids(forms):
    form = invalid_form()
    row = form.jalons.entries[0].form
    html = str(forms.field(row.description, sr_prefix="Ligne 1"))
    control = tag_with_id(html, "jalons-0-description")
    assert 'name="jalons-0-description"' in control
    assert 'aria-describedby="jalons-0-description-messages"' in control and 'aria-invalid="true"' in control
    assert 'id="jalons-0-description-messages"' in html
    ok = str(forms.field(form.jalons.entries[1].form.description))
    assert "aria-invalid" not in tag_with_id(ok, "jalons-1-description")


def test_select_in_error_and_not(forms):
    form = invalid_form()
    html = str(forms.select(form.kind))
    control = tag_with_id(html, "kind")
    assert control.startswith("<select") and 'class="fr-select fr-select--error"' in control
    assert 'aria-invalid="true"' in control and 'aria-describedby="kind-messages"' in control
    assert "fr-select-group--error" in html and 'id="kind-messages"' in html
    html = str(forms.select(SampleForm().kind))
    assert (
        "aria-invalid" not in html and "aria-describedby" not in html and "fr-select-group--error" not in html
    )


def test_radios_in_error_wire_each_option_and_the_fieldset(forms):
    form = invalid_form()
    html = str(forms.radios(form.mode))
    assert 'class="fr-fieldset fr-fieldset--error"' in html
    assert 'aria-labelledby="mode-legend mode-messages"' in html
    for option_id in ("mode-0", "mode-1"):
        control = tag_with_id(html, option_id)
        assert 'type="radio"' in control and 'aria-invalid="true"' in control
        assert 'aria-describedby="mode-messages"' in control
    assert '<p class="fr-message fr-message--error" id="mode-message-error">Mode ?</p>' in html
    html = str(forms.radios(SampleForm().mode))
    assert "aria-invalid" not in html and "mode-messages" not in html and "fr-fieldset--error" not in html


def test_checkboxes(forms):
    form = SampleForm(MultiDict([("tags", "2")]))
    html = str(forms.checkboxes(form.tags, "ministere"))
    assert 'id="ministere-2" name="tags" value="2" checked' in html
    assert not re.search(r'id="ministere-1" [^>]*checked', html)
    assert "aria-invalid" not in html
    form.tags.errors = ["Choisissez au moins un ministère."]
    html = str(forms.checkboxes(form.tags, "ministere"))
    assert "fr-fieldset--error" in html and 'aria-labelledby="tags-legend tags-messages"' in html
    assert 'aria-invalid="true" aria-describedby="tags-messages"' in tag_with_id(html, "ministere-1")


def test_error_summary_links_every_error_to_its_field(forms):
    form = invalid_form()
    form.form_errors.append("Le dossier a changé entre-temps.")
    html = str(forms.error_summary(form))
    assert re.search(
        r'<div class="fr-alert fr-alert--error fr-mb-3w" role="alert" tabindex="-1" data-app-focus>', html
    )
    assert '<h2 class="fr-alert__title">Le formulaire contient des erreurs</h2>' in html
    assert "<li>Le dossier a changé entre-temps.</li>" in html
    links = dict(re.findall(r'<a href="#([^"]+)">([^<]+)</a>', html))
    assert set(links) == {"title", "kind", "mode-0", "tags", "jalons-0-description"}
    assert links["title"] == "Titre : Titre requis."
    assert links["jalons-0-description"].endswith("Description : Décrivez le jalon.")
    # every link points at an element the page renders
    page = "".join(str(forms.field(f)) for f in (form.title,)) + str(forms.radios(form.mode))
    assert 'id="title"' in page and 'id="mode-0"' in page


def test_error_summary_names_the_row_of_a_service_error_on_an_unvalidated_fieldlist(forms):
    """A service's message set on a row field (never validated): the summary still lists it, « Jalons 2 : »,
    without repeating a label the message already starts with."""
    form = SampleForm(MultiDict({"jalons-0-description": "a", "jalons-1-description": "b"}))
    form.jalons.entries[1].form.due_on.errors = ["Échéance : date invalide."]
    links = dict(re.findall(r'<a href="#([^"]+)">([^<]+)</a>', str(forms.error_summary(form))))
    assert links == {"jalons-1-due_on": "Jalons 2 : Échéance : date invalide."}


def test_single_checkbox_and_upload(forms):
    class Row(Form):
        is_procurement = StringField("Marché public")
        file = FileField("Fichier", description="PDF seulement.")

    row = Row(MultiDict({"is_procurement": "1"}))
    html = str(forms.checkbox(row.is_procurement, label="marché", sr_prefix="Jalon 2"))
    assert 'type="checkbox" id="is_procurement" name="is_procurement" value="1" checked' in html
    assert '<span class="fr-sr-only">Jalon 2 : </span>marché' in html and "aria-invalid" not in html
    row.file.errors = ["Type de fichier refusé."]
    html = str(forms.upload(row.file, accept=".pdf"))
    control = tag_with_id(html, "file")
    assert 'type="file"' in control and 'accept=".pdf"' in control and 'class="fr-upload"' in control
    assert 'aria-invalid="true"' in control and 'aria-describedby="file-messages"' in control
    assert "fr-upload-group--error" in html and 'id="file-hint">PDF seulement.' in html


def test_error_summary_is_empty_without_errors(forms):
    assert str(forms.error_summary(SampleForm())).strip() == ""


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"type": "error", "title": "Action refusée", "role": "alert", "focus": True, "id": "e"},
            '<div class="fr-alert fr-alert--error fr-mb-2w" id="e" role="alert" tabindex="-1" data-app-focus>'
            '<h2 class="fr-alert__title">Action refusée</h2></div>',
        ),
        (
            {
                "type": "success",
                "description": "Section enregistrée.",
                "small": True,
                "role": "status",
                "extra_class": "",
            },
            '<div class="fr-alert fr-alert--success fr-alert--sm" role="status">'
            "<p>Section enregistrée.</p></div>",
        ),
        (
            {"type": "info", "description": "Rien.", "heading": "h3"},
            '<div class="fr-alert fr-alert--info fr-mb-2w"><p>Rien.</p></div>',
        ),
    ],
)
def test_alert(components, kwargs, expected):
    assert str(components.alert(**kwargs)) == expected


def test_alert_with_body_and_close_button(components):
    html = str(
        components.alert(
            "warning",
            title="Compléments",
            caller=lambda: Markup("<ul><li>x</li></ul>"),
            closable=True,
            heading="h3",
        )
    )
    assert html.startswith('<div class="fr-alert fr-alert--warning fr-mb-2w">')
    assert '<h3 class="fr-alert__title">Compléments</h3><ul><li>x</li></ul>' in html
    assert 'class="fr-btn--close fr-btn" title="Masquer le message"' in html
    assert "role=" not in html


def test_badge_tag_button(components):
    assert (
        str(components.badge("Ouvert", "success"))
        == '<p class="fr-badge fr-badge--sm fr-badge--success">Ouvert</p>'
    )
    assert str(
        components.badge(
            "Must", "fr-badge--error", no_icon=True, sr_prefix="Priorité MoSCoW : ", element="span"
        )
    ) == (
        '<span class="fr-badge fr-badge--sm fr-badge--no-icon fr-badge--error">'
        '<span class="fr-sr-only">Priorité MoSCoW : </span>Must</span>'
    )
    assert (
        str(components.tag("Toutes", href="/n", current=True))
        == '<a class="fr-tag" href="/n" aria-current="page">Toutes</a>'
    )
    assert str(components.tag("Non lues", href="/n?f")) == '<a class="fr-tag" href="/n?f">Non lues</a>'
    assert (
        str(components.button("Enregistrer")) == '<button class="fr-btn" type="submit">Enregistrer</button>'
    )
    html = str(
        components.button(
            "Exporter",
            kind="secondary",
            icon="download-line",
            icon_position="right",
            href="/e",
            hx_boost="false",
        )
    )
    assert (
        html == '<a class="fr-btn fr-btn--secondary fr-icon-download-line fr-btn--icon-right" href="/e" '
        'hx-boost="false">Exporter</a>'
    )
    html = str(
        components.button(
            "Supprimer",
            kind="tertiary",
            icon="fr-icon-delete-line",
            icon_position="only",
            type="button",
            disabled=True,
        )
    )
    assert html == (
        '<button class="fr-btn fr-btn--tertiary fr-icon-delete-line" type="button" disabled '
        'title="Supprimer">Supprimer</button>'
    )


def test_table_has_caption_headers_and_wrappers(components):
    html = str(
        components.table(
            "Jalons du contrat",
            ["N°", "Jalon"],
            [[1, "Cadrage"], [2, "<b>Recette</b>"]],
            id="t",
            bordered=True,
        )
    )
    assert '<div class="fr-table fr-table--bordered" id="t">' in html
    assert (
        '<div class="fr-table__wrapper"><div class="fr-table__container"><div class="fr-table__content">'
        in html
    )
    assert "<caption>Jalons du contrat</caption>" in html
    assert '<th scope="col">N°</th><th scope="col">Jalon</th>' in html
    assert "<td>&lt;b&gt;Recette&lt;/b&gt;</td>" in html
    empty = str(components.table("Rien", ["A", "B"], [], empty="Aucun jalon.", hide_caption=True))
    assert "fr-table--no-caption" in empty and '<td colspan="2">Aucun jalon.</td>' in empty
    called = str(components.table("Lignes", ["A"], caller=lambda: Markup("<tr><td>x</td></tr>")))
    assert "<tbody><tr><td>x</td></tr>" in called


def test_pagination_marks_the_current_page(components):
    html = str(components.pagination(SimpleNamespace(page=3, pages=7), lambda n: f"/liste?page={n}", hx=True))
    assert '<nav role="navigation" class="fr-pagination" aria-label="Pagination">' in html
    current = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', html)
    assert current == ["3"]
    assert 'href="/liste?page=2" hx-get="/liste?page=2"' in html
    assert re.findall(r">(\d+)</a>", html) == ["1", "2", "3", "4", "5"]
    first = str(components.pagination(SimpleNamespace(page=1, pages=2), lambda n: f"?page={n}"))
    assert (
        '<a class="fr-pagination__link fr-pagination__link--first" aria-disabled="true" role="link">'
        "Première page</a>" in first
    )
    assert "hx-get" not in first


def test_callout_and_notice(components):
    html = str(components.callout("L'essentiel", "Une API en lecture.", id="c", heading="h3"))
    assert html == (
        '<div class="fr-callout" id="c"><h3 class="fr-callout__title">L&#39;essentiel</h3>'
        '<p class="fr-callout__text">Une API en lecture.</p></div>'
    )
    html = str(components.notice("Fournisseur de test", "Ce n'est pas ProConnect.", id="n"))
    assert '<div class="fr-notice fr-notice--info" id="n">' in html
    assert '<span class="fr-notice__title">Fournisseur de test</span> <span class="fr-notice__desc">' in html
