"""The DSFR markup of the commonest form controls, written in Python for the macros of
templates/dsfr/_forms.html (`field`, `select`, `error_summary`): the same markup as those macros wrote, a
few times cheaper. A dossier page renders some 200 inputs, and three nested Jinja macros plus a WTForms
widget per input were most of its time (issue « Performance at scale »). The markup rules (error classes,
aria-invalid, aria-describedby pointing only at a present messages group, the hint inside the label) are
documented at the top of dsfr/_forms.html."""

from markupsafe import Markup, escape
from wtforms.meta import DefaultMeta
from wtforms.widgets import Input, TextArea
from wtforms.widgets.core import clean_key


def messages(id: str, errors) -> Markup:
    """The messages of a field in error (nothing otherwise)."""
    if not errors:
        return Markup("")
    id = escape(id)
    parts = [f'\n<div class="fr-messages-group" id="{id}-messages" aria-live="polite">']
    for number, error in enumerate(errors, 1):
        suffix = "" if number == 1 else f"-{number}"
        parts.append(
            f'<p class="fr-message fr-message--error" id="{id}-message-error{suffix}">{escape(error)}</p>'
        )
    parts.append("</div>")
    return Markup("".join(parts))


def label_markup(field, text=None, hint=None, sr_prefix=None, required=None, sr_only=False) -> Markup:
    """The label of a control, with the « (obligatoire) » mention and the hint."""
    id = escape(field.id)
    parts = [f'<label class="fr-label{" fr-sr-only" if sr_only else ""}" for="{id}">']
    if sr_prefix:
        parts.append(f'<span class="fr-sr-only">{escape(sr_prefix)} : </span>')
    parts.append(escape(text if text is not None else field.label.text))
    if required if required is not None else field.flags.required:
        parts.append(' <span class="fr-hint-text fr-text--xs app-inline-form">(obligatoire)</span>')
    hint = hint if hint is not None else field.description
    if hint:
        parts.append(f'\n    <span class="fr-hint-text" id="{id}-hint">{escape(hint)}</span>')
    parts.append("\n</label>")
    return Markup("".join(parts))


def _attributes(attributes: dict) -> str:
    """WTForms' html_params for keys already cleaned: sorted, True as a bare name, False left out."""
    out = []
    for key, value in sorted(attributes.items()):
        if value is True:
            out.append(key)
        elif value is not False:
            out.append(f'{key}="{escape(value)}"')
    return " ".join(out)


def _control(field, **params) -> Markup:
    """`field(**params)`, WTForms' rendering, without its per-call `dir()` of the field's flags for the plain
    inputs and text areas (the same attributes, sorted alike); any other widget goes through WTForms."""
    widget = field.widget
    if field.render_kw or getattr(field.meta.render_field, "__func__", None) is not DefaultMeta.render_field:
        return field(**params)
    plain_call = type(widget).__call__ in (Input.__call__, TextArea.__call__)
    if not isinstance(widget, Input | TextArea) or not plain_call:
        return field(**params)
    attributes = {(clean_key(key) if "_" in key else key): value for key, value in params.items()}
    attributes.setdefault("id", field.id)
    attributes["name"] = field.name
    flags = vars(field.flags)
    for name in getattr(widget, "validation_attrs", ()):
        if name in flags and name not in attributes:
            attributes[name] = flags[name]
    if isinstance(widget, TextArea):
        return Markup(f"<textarea {_attributes(attributes)}>\r\n{escape(field._value())}</textarea>")
    attributes.setdefault("type", widget.input_type)
    if "value" not in attributes:
        attributes["value"] = field._value()
    return Markup(f"<input {_attributes(attributes)}>")


def field(
    field,
    type="text",
    attrs=None,
    label=None,
    hint=None,
    sr_prefix=None,
    label_sr_only=False,
    required=None,
    group=True,
    group_class="",
    **kwargs,
) -> Markup:
    """An input (any type) or a textarea (TextAreaField), in its fr-input-group (dsfr/_forms.html `field`
    says what each argument does)."""
    attrs = attrs or {}
    has_error = len(field.errors) > 0
    params = {**attrs.get("extra", {}), **kwargs}
    css = "fr-input" + (" fr-input--error" if has_error else "")
    if "class" in params:
        css += " " + str(params.pop("class"))
    params.update(
        class_=css,
        aria_invalid="true" if has_error else False,
        aria_describedby=f"{field.id}-messages" if has_error else False,
    )
    if field.type == "TextAreaField":
        control = _control(field, rows=attrs.get("rows", 6), **params)
    else:
        control = _control(field, type=type, **params)
    labelling = (label, hint, sr_prefix, required, label_sr_only)
    return _grouped("fr-input-group", field, has_error, group, group_class, labelling, control)


def select(
    field,
    label=None,
    hint=None,
    sr_prefix=None,
    label_sr_only=False,
    required=None,
    group=True,
    group_class="",
    **kwargs,
) -> Markup:
    """A select (SelectField, QuerySelectField, SelectMultipleField) in its fr-select-group."""
    has_error = len(field.errors) > 0
    params = {
        "class_": "fr-select" + (" fr-select--error" if has_error else ""),
        "aria_invalid": "true" if has_error else False,
        "aria_describedby": f"{field.id}-messages" if has_error else False,
        **kwargs,
    }
    labelling = (label, hint, sr_prefix, required, label_sr_only)
    return _grouped("fr-select-group", field, has_error, group, group_class, labelling, field(**params))


def _grouped(kind: str, field, has_error: bool, group: bool, group_class: str, labelling, control) -> Markup:
    tail = messages(field.id, field.errors)
    if not group:
        return Markup(f"\n  {control}{tail}")
    error = f" {kind}--error" if has_error else ""
    extra = f" {escape(group_class)}" if group_class else ""
    opening = f'\n<div class="{kind}{error}{extra}" id="{escape(field.id)}-group">\n  '
    return Markup(f"{opening}{label_markup(field, *labelling)}\n  {control}{tail}\n</div>")


def error_links(fields, where: str = "", entry: bool = False) -> list[tuple[str, Markup]]:
    """(control id, « <where><label> : <message> ») of each field in error, walking FieldList entries and
    FormField sub-forms: the links of the error summary. A FieldList is walked even when never validated (a
    service's messages land on its entries' fields); an entry is named « <FieldList label> <n> : », a
    sub-form with a label « <label> : »; the field's label is left out when its message already starts with
    it (« CP 2026 : montant négatif »)."""
    links: list[tuple[str, Markup]] = []
    for item in fields:
        entries = getattr(item, "entries", None)
        if entries is not None:
            for number, entry_field in enumerate(entries, 1):
                prefix = f"{item.label.text} {number} : " if hasattr(entry_field, "form") else where
                links += error_links([entry_field], prefix, True)
        elif not item.errors:
            continue
        elif hasattr(item, "form"):
            name = item.label.text
            links += error_links(item.form, where if entry or not name else f"{where}{name} : ")
        else:
            text = " ".join(item.errors)
            name = "" if text.startswith(f"{item.label.text} :") else Markup("{} : ").format(item.label.text)
            target = item.id + ("-0" if item.type == "RadioField" else "")
            links.append((target, Markup("{}{}{}").format(where, name, text)))
    return links
