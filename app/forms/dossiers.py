"""Dossier forms: one WTForms form per section (tables of rows as `FieldList(FormField(...))`), the
life-cycle forms (creation, compléments, avis, classement, messages, annotations).

The section forms keep the HTML names the templates post (`title`, `porteur-projet_name`,
`co-<i>-organisation`, `rows-<i>-ae-2026`, `staff-A-cost`…). They only coerce and keep what the user
typed (strings); the service (`app/services/dossier_sections.py`) decides and raises
`ValidationFailed({name: message})` keyed by those names, which `perform()` puts back on the fields — row
names reach the right `FieldList` entry through `SectionForm.__getattr__`. The global CSRF protection
checks every POST.
"""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from werkzeug.datastructures import MultiDict
from wtforms import FieldList, Form, FormField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.core import Field
from wtforms.validators import InputRequired

from ..formatting import format_number
from ..models.dossiers import Financer, ReferentRole

BLANK_ROWS = 2  # empty rows offered at the end of each table (no JavaScript needed to add a line)
INDICATOR_FIELDS = ("objective", "indicator", "calculation", "current_value", "target_value", "frequency")
TEXT_SECTIONS = ("enjeu", "solution", "gouvernance")
STAFF_CATEGORIES = ("A", "B", "C")


def _row_form(name: str, columns) -> type[Form]:
    """A row of a table: one string field per column (column names may hold dashes: `ae-2026`)."""
    return type(name, (Form,), {column: StringField() for column in columns})


def _referent_columns() -> list[str]:
    return [f"{role.value}_{part}" for role in ReferentRole for part in ("name", "email")]


class SectionForm(FlaskForm):
    """Base of the section forms: the posted version, the service's shape, errors by HTML name."""

    class Meta:
        csrf = False  # checked by the global CSRFProtect, as for every POST

    version = StringField()
    key: str = ""

    def __getattr__(self, name: str):
        """`rows-3-nature`, `co-0-organisation`, `staff-A-cost`: the nested field of that HTML name, so that
        the service's error keys land on the FieldList entry (and the sub-field) they name."""
        if "-" not in name or name.startswith("_"):
            raise AttributeError(name)
        field = _find(self._fields.values(), name)
        if field is None:
            raise AttributeError(name)
        return field

    def version_number(self) -> int:
        try:
            return int(self.version.data or "0")
        except ValueError:
            return -1

    def section_data(self) -> dict:
        """{'field': value, 'rows': [(index, {column: value})], 'co': [...]}: what the service validates."""
        data: dict = {}
        for name, field in self._fields.items():
            if name == "version":
                continue
            if isinstance(field, FieldList):
                data[name] = [(_index(entry), _flat(entry.form)) for entry in field.entries]
            elif isinstance(field, FormField):
                for column, value in _flat(field.form).items():
                    data[f"{name}-{column}"] = value
            else:
                data[name] = field.data or ""
        return data

    def errors_by_name(self) -> dict[str, str]:
        """{HTML name: first message} of every field in error, the form's own errors under 'total'."""
        found: dict[str, str] = {}
        _collect(self._fields.values(), found)
        found.pop("version", None)
        if self.form_errors:
            found["total"] = " ".join(self.form_errors)
        return found


def _index(entry: Field) -> int:
    return int(entry.name.rsplit("-", 1)[1])


def _flat(form: Form) -> dict[str, str]:
    out: dict[str, str] = {}
    for column, field in form._fields.items():
        if isinstance(field, FormField):
            for sub, value in _flat(field.form).items():
                out[f"{column}-{sub}"] = value
        else:
            out[column] = field.data or ""
    return out


def _find(fields, name: str):
    for field in fields:
        if field.name == name:
            return field
        if isinstance(field, FieldList) and name.startswith(field.name + "-"):
            found = _find(field.entries, name)
        elif isinstance(field, FormField) and name.startswith(field.name + "-"):
            found = _find(field.form._fields.values(), name)
        else:
            continue
        if found is not None:
            return found
    return None


def _collect(fields, found: dict[str, str]) -> None:
    for field in fields:
        if isinstance(field, FieldList):
            _collect(field.entries, found)
        elif isinstance(field, FormField):
            _collect(field.form._fields.values(), found)
        elif field.errors:
            found[field.name] = field.errors[0]


def section_form_class(dossier, key: str) -> type[SectionForm]:
    """The form of section `key` for this dossier (financing and savings columns follow its years)."""
    attrs: dict = {"key": key}
    if key == "projet":
        attrs |= {
            n: StringField() for n in ("title", "start_year", "starts_on", "ends_on", "opportunity_code")
        }
    elif key == "porteurs":
        attrs["porteur_organisation"] = StringField()
        attrs["porteur"] = FormField(_row_form("ReferentsRow", _referent_columns()))
        attrs["co"] = FieldList(FormField(_row_form("CoPorteurRow", ["organisation", *_referent_columns()])))
    elif key in TEXT_SECTIONS:
        attrs[key] = TextAreaField()
    elif key == "beneficiaires":
        attrs["rows"] = FieldList(FormField(_row_form("BeneficiaryRow", ["group", "population"])))
    elif key == "indicateurs":
        attrs["rows"] = FieldList(FormField(_row_form("IndicatorRow", INDICATOR_FIELDS)))
    elif key == "financement":
        columns = ["nature", "category", "programme", "financer", "phase"]
        columns += [f"{kind}-{y}" for y in dossier.years for kind in ("ae", "cp")]
        attrs["rows"] = FieldList(FormField(_row_form("FinancingRow", columns)))
    elif key == "economies":
        years = [str(y) for y in dossier.savings_years]
        attrs["rows"] = FieldList(
            FormField(
                _row_form("SavingsRow", ["nature", "category", "programme", *[f"y-{y}" for y in years]])
            )
        )
        staff_row = _row_form("StaffRow", ["cost", *years])
        attrs["staff"] = FormField(
            type("StaffForm", (Form,), {c: FormField(staff_row) for c in STAFF_CATEGORIES})
        )
        attrs["impact_indirect"] = TextAreaField()
    elif key == "jalons":
        columns = ["number", "due_on", "description", "deliverables", "is_procurement"]
        attrs["rows"] = FieldList(FormField(_row_form("JalonRow", columns)))
    else:
        raise KeyError(key)
    return type(f"{key.capitalize()}SectionForm", (SectionForm,), attrs)


def section_form(dossier, key: str, formdata=None) -> SectionForm:
    """The posted form (`formdata`), or the saved values of the section shown in the same fields."""
    if formdata is None:
        formdata = MultiDict(_flatten(initial_data(dossier, key)))
        formdata["version"] = str(dossier.section_version(key))
    return section_form_class(dossier, key)(formdata=formdata)


def _flatten(data: dict) -> list[tuple[str, str]]:
    out = []
    for name, value in data.items():
        if isinstance(value, list):
            for index, row in value:
                out += [(f"{name}-{index}-{column}", v) for column, v in row.items()]
        else:
            out.append((name, value))
    return out


def uploaded_files(files, name: str) -> list[tuple[str, bytes]]:
    """(filename, content) of the non-empty files posted under `name`."""
    out = []
    for storage in files.getlist(name):
        if storage and storage.filename:
            out.append((storage.filename, storage.read()))
    return out


def amount_text(value: int | None) -> str:
    return format_number(value) if value else ""


def initial_data(dossier, key: str) -> dict:
    """The saved values of a section in the shape the service takes (strings, as a form shows them)."""
    if key == "projet":
        return {
            "title": dossier.title,
            "start_year": str(dossier.start_year),
            "starts_on": dossier.starts_on.isoformat() if dossier.starts_on else "",
            "ends_on": dossier.ends_on.isoformat() if dossier.ends_on else "",
            "opportunity_code": dossier.opportunity.code if dossier.opportunity else "",
        }
    if key == "porteurs":
        data: dict = {
            "porteur_organisation": dossier.porteur_organisation.code if dossier.porteur_organisation else ""
        }
        co: dict[int, dict] = {}
        order: list[int] = []
        for referent in dossier.referents:
            if referent.is_porteur:
                data[f"porteur-{referent.role}_name"] = referent.name
                data[f"porteur-{referent.role}_email"] = referent.email
            else:
                if referent.organisation_id not in co:
                    co[referent.organisation_id] = {"organisation": referent.organisation.code}
                    order.append(referent.organisation_id)
                co[referent.organisation_id][f"{referent.role}_name"] = referent.name
                co[referent.organisation_id][f"{referent.role}_email"] = referent.email
        data["co"] = [(i, co[org]) for i, org in enumerate(order)]
        return data
    if key in TEXT_SECTIONS:
        return {key: getattr(dossier, key) or ""}
    if key == "beneficiaires":
        return {
            "rows": [
                (i, {"group": b.group_name, "population": str(b.population or "")})
                for i, b in enumerate(dossier.beneficiaries)
            ]
        }
    if key == "indicateurs":
        return {
            "rows": [
                (i, {f: getattr(row, f) or "" for f in INDICATOR_FIELDS})
                for i, row in enumerate(dossier.indicators)
            ]
        }
    if key == "financement":
        rows = []
        for i, line in enumerate(dossier.financing_lines):
            financer = (
                f"co:{line.financer_organisation.code}"
                if line.financer == Financer.CO_PORTEUR
                else line.financer
            )
            row = {
                "nature": line.nature,
                "category": line.category,
                "programme": line.programme,
                "financer": financer,
                "phase": line.phase,
            }
            for amount in line.amounts:
                row[f"ae-{amount.year}"] = amount_text(amount.ae)
                row[f"cp-{amount.year}"] = amount_text(amount.cp)
            rows.append((i, row))
        return {"rows": rows}
    if key == "economies":
        rows = []
        for i, line in enumerate(dossier.savings_lines):
            row = {"nature": line.nature, "category": line.category, "programme": line.programme}
            for amount in line.amounts:
                row[f"y-{amount.year}"] = amount_text(amount.amount)
            rows.append((i, row))
        data = {"rows": rows, "impact_indirect": dossier.impact_indirect or ""}
        for staff in dossier.staff_savings:
            data[f"staff-{staff.category}-cost"] = amount_text(staff.average_cost)
            data[f"staff-{staff.category}-{staff.year}"] = str(staff.jobs)
        return data
    if key == "jalons":
        return {
            "rows": [
                (
                    i,
                    {
                        "number": str(j.number),
                        "due_on": j.due_on.isoformat(),
                        "description": j.description,
                        "deliverables": j.deliverables or "",
                        "is_procurement": "1" if j.is_procurement else "",
                    },
                )
                for i, j in enumerate(dossier.jalons)
            ]
        }
    return {}


def with_blank_rows(rows: list, blank: int = BLANK_ROWS) -> list:
    """Saved (or posted) rows, plus `blank` empty rows to add lines without JavaScript."""
    start = (max(i for i, _ in rows) + 1) if rows else 0
    return list(rows) + [(start + n, {}) for n in range(blank)]


# --- life cycle ---------------------------------------------------------------------------------------


class _ActionForm(FlaskForm):
    class Meta:
        csrf = False  # checked by the global CSRFProtect

    def errors_by_name(self) -> dict[str, str]:
        """{field: first message}, a refusal that names no field under 'action'."""
        found = {name: field.errors[0] for name, field in self._fields.items() if field.errors}
        if self.form_errors:
            found["action"] = " ".join(self.form_errors)
        return found


class SubmitForm(_ActionForm):
    submit = StringField()  # where a refused deposit's reasons are shown


class DepositForm(SubmitForm):
    """The recap page's confirmation: a deposit is confirmed after reading what it contains and lacks."""

    confirm = SelectMultipleField(
        "Confirmation du dépôt",
        choices=[
            (
                "oui",
                "J'ai relu le récapitulatif et je dépose le dossier : il ne sera plus modifiable, sauf "
                "demande de compléments de l'équipe d'instruction.",
            )
        ],
        validators=[InputRequired("Cochez la case pour confirmer le dépôt du dossier.")],
    )


class CreateForm(_ActionForm):
    guichet = StringField()
    title = StringField()
    start_year = StringField()
    opportunity_code = StringField()


class WithdrawForm(_ActionForm):
    reason = StringField()


class ComplementsForm(_ActionForm):
    sections = SelectMultipleField(choices=[], validate_choice=False)
    reason = StringField()
    message = TextAreaField()


class AvisForm(_ActionForm):
    avis = StringField()
    motivation = TextAreaField()


class DismissForm(_ActionForm):
    motivation = TextAreaField()


class AnnotationForm(_ActionForm):
    body = TextAreaField()


class MessageForm(_ActionForm):
    body = TextAreaField()
    files = MultipleFileField()


class UploadForm(_ActionForm):
    kind = StringField()
    file = FileField()

    def section_data(self) -> dict:
        return {"kind": self.kind.data or ""}

    def errors_by_name(self) -> dict[str, str]:
        found = super().errors_by_name()
        if "action" in found:
            found["file"] = found.pop("action")
        return found


class BulkForm(_ActionForm):
    action = StringField()
    dossier = SelectMultipleField(choices=[], validate_choice=False)
