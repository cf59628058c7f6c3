"""Dossier forms: one WTForms form per section (tables of rows as `FieldList(FormField(...))`), the
life-cycle forms (creation, compléments, avis, classement, messages, annotations).

The section forms keep the HTML names the templates post (`title`, `porteur-projet_name`,
`co-<i>-organisation`, `rows-<i>-ae-2026`, `staff-A-cost`…). They only coerce and keep what the user
typed (strings); the service (`app/services/dossier_sections.py`) decides and raises
`ValidationFailed({name: message})` keyed by those names, which `perform()` puts back on the fields — row
names reach the right `FieldList` entry through `SectionForm.__getattr__`. The global CSRF protection
checks every POST.
"""

from functools import lru_cache

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from werkzeug.datastructures import MultiDict
from wtforms import (
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.core import Field
from wtforms.validators import InputRequired

from ..formatting import format_number
from ..models.dossiers import Financer, ReferentRole, SignatorySide
from ..models.guichets import RuleCode

BLANK_ROWS = 2  # empty rows offered at the end of each table (no JavaScript needed to add a line)
INDICATOR_FIELDS = ("objective", "indicator", "calculation", "current_value", "target_value", "frequency")
INDICATOR_LABELS = {
    "objective": "Description de l'objectif d'impact",
    "indicator": "Indicateur",
    "calculation": "Mode de calcul",
    "current_value": "Valeur actuelle",
    "target_value": "Cible à T+12 mois",
    "frequency": "Fréquence",
}
TEXT_SECTIONS = ("enjeu", "solution", "gouvernance")
TEXT_LABELS = {
    "enjeu": "Présentation de l'enjeu de transformation",
    "solution": "Présentation de la solution apportée",
    "gouvernance": "Gouvernance et modalités de suivi",
}
STAFF_CATEGORIES = ("A", "B", "C")
SIGNATORY_FIELDS = ("side", "organisation", "function", "name", "signed_on")
SIGNATORY_LABELS = {
    "side": "Partie",
    "organisation": "Organisation",
    "function": "Fonction",
    "name": "Nom",
    "signed_on": "Date de signature",
}
SIGNATORY_SIDES = [(s.value, s.label) for s in SignatorySide]
BLANK_CHOICE = ("", "— Choisir —")
CATEGORY_CHOICES = [("T2", "T2 — personnel"), ("T3", "T3 — fonctionnement"), ("T5", "T5 — investissement")]
PHASE_CHOICES = [
    ("cadrage", "Cadrage"),
    ("experimentation", "Expérimentation / POC / lot 1"),
    ("generalisation", "Généralisation / lot 2"),
]


def _row_form(name: str, columns, labels: dict | None = None, choices: dict | None = None) -> type[Form]:
    """A row of a table: one field per column (column names may hold dashes: `ae-2026`), labelled for the
    error summary; a column of `choices` is a select (the service still decides what is allowed)."""
    labels, choices = labels or {}, choices or {}
    attrs: dict = {}
    for column in columns:
        label = labels.get(column, column)
        if column in choices:
            attrs[column] = SelectField(
                label, choices=[BLANK_CHOICE, *choices[column]], validate_choice=False
            )
        else:
            attrs[column] = StringField(label)
    return type(name, (Form,), attrs)


def _referent_columns() -> list[str]:
    return [f"{role.value}_{part}" for role in ReferentRole for part in ("name", "email")]


def _referent_labels() -> dict[str, str]:
    return {
        f"{role.value}_{part}": f"{role.label}, {word}"
        for role in ReferentRole
        for part, word in (("name", "nom"), ("email", "adresse électronique"))
    }


def _prefix_ids(fields, prefix: str) -> None:
    """Ids `<section>-<name>` (`financement-rows-0-nature`): the sections share one page, their row names
    (`rows-0-nature`) do not; the names posted stay the service's keys."""
    for field in fields:
        field.id = f"{prefix}-{field.name}"
        if isinstance(field, FieldList):
            _prefix_ids(field.entries, prefix)
        elif isinstance(field, FormField):
            _prefix_ids(field.form._fields.values(), prefix)


class SectionForm(FlaskForm):
    """Base of the section forms: the posted version, the service's shape, errors by HTML name."""

    class Meta:
        csrf = False  # checked by the global CSRFProtect, as for every POST

    version = StringField()
    key: str = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._blanks: dict[str, list] = {}
        _prefix_ids(self._fields.values(), self.key)

    def row_forms(self, name: str = "rows", blank: int = BLANK_ROWS) -> list[tuple[Form, bool]]:
        """(row form, is blank) of the FieldList `name`: its saved or posted rows, then `blank` empty rows
        to add lines without JavaScript (appended once, numbered after the last row)."""
        field_list = self._fields[name]
        if name not in self._blanks:
            self._blanks[name] = [field_list.append_entry() for _ in range(blank)]
            _prefix_ids(self._blanks[name], self.key)
        blanks = {id(entry) for entry in self._blanks[name]}
        return [(entry.form, id(entry) in blanks) for entry in field_list.entries]

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


def errors_by_id(form) -> tuple[dict[str, str], list[str]]:
    """({control id: first message}, the form's own messages): where the autosave's script shows each
    message, at the control the user typed in (ids `<section>-<name>`, as rendered)."""
    found: dict[str, str] = {}

    def walk(fields):
        for field in fields:
            if isinstance(field, FieldList):
                walk(field.entries)
            elif isinstance(field, FormField):
                walk(field.form._fields.values())
            elif field.errors and field.name != "version":
                found[field.id] = field.errors[0]

    walk(form._fields.values())
    return found, list(form.form_errors)


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


def financer_choices(dossier) -> list[tuple[str, str]]:
    """The fund, the porteur, then each co-porteur named in the porteurs section."""
    choices = [
        (Financer.FTAP.value, f"{dossier.guichet.fund_label} (fonds)"),
        (Financer.PORTEUR.value, "Porteur"),
    ]
    for referent in dossier.referents:
        if not referent.is_porteur and referent.organisation is not None:
            choice = (f"co:{referent.organisation.code}", f"Co-porteur {referent.organisation.code}")
            if choice not in choices:
                choices.append(choice)
    return choices


def declaration_rules(dossier) -> list:
    """The guichet's rules the porteur declares (ticks) in the projet section."""
    return [r for r in dossier.guichet.rules if r.code == RuleCode.DECLARATION]


def section_form_class(dossier, key: str, organisations=()) -> type[SectionForm]:
    """The form of section `key` for this dossier (financing and savings columns follow its years).
    `organisations`: the (code, label) choices of the porteur and co-porteur selects.

    The class is built once per shape (the choices and years it depends on) and process: a page shows a
    dozen sections, and building a WTForms class with its row classes costs more than filling it."""
    declarations = [(str(r.id), r.label) for r in declaration_rules(dossier)] if key == "projet" else []
    return _section_form_class(
        key,
        declarations=tuple(declarations),
        organisations=tuple(organisations) if key == "porteurs" else (),
        years=tuple(dossier.years) if key in ("indicateurs", "financement") else (),
        financers=tuple(financer_choices(dossier)) if key == "financement" else (),
        savings_years=tuple(dossier.savings_years) if key == "economies" else (),
    )


@lru_cache(maxsize=256)
def _section_form_class(
    key: str,
    *,
    declarations: tuple,
    organisations: tuple,
    years: tuple,
    financers: tuple,
    savings_years: tuple,
) -> type[SectionForm]:
    attrs: dict = {"key": key}
    organisations = list(organisations)
    if key == "projet":
        attrs |= {
            "title": StringField("Intitulé du projet"),
            "start_year": StringField(
                "Première année (N)", description="Le tableau de financement couvre N à N+3."
            ),
            "starts_on": StringField("Date de début"),
            "ends_on": StringField("Date de fin"),
            "opportunity_code": StringField(
                "Opportunité de mutualisation liée (facultatif)",
                description="Code du portefeuille, par exemple M043.",
            ),
            "chantier_code": StringField(
                "Chantier de la stratégie lié (facultatif)",
                description="Code du chantier, par exemple 2.2 ; un dossier lié à une opportunité compte "
                "déjà pour les chantiers de ses actions.",
            ),
            "declarations": SelectMultipleField(
                "Déclarations du porteur",
                choices=list(declarations),
                validate_choice=False,
                description="Cochez ce que le projet respecte : sans cette déclaration, le dépôt est refusé.",
            ),
        }
    elif key == "porteurs":
        attrs["porteur_organisation"] = SelectField(
            "Organisation porteuse", choices=[BLANK_CHOICE, *organisations], validate_choice=False
        )
        attrs["porteur"] = FormField(
            _row_form("ReferentsRow", _referent_columns(), _referent_labels()), label="Référents du porteur"
        )
        attrs["co"] = FieldList(
            FormField(
                _row_form(
                    "CoPorteurRow",
                    ["organisation", *_referent_columns()],
                    {"organisation": "Organisation", **_referent_labels()},
                    {"organisation": organisations},
                )
            ),
            label="Co-porteur",
        )
    elif key in TEXT_SECTIONS:
        attrs[key] = TextAreaField(TEXT_LABELS[key])
    elif key == "beneficiaires":
        attrs["rows"] = FieldList(
            FormField(
                _row_form(
                    "BeneficiaryRow",
                    ["group", "population", "transformations"],
                    {
                        "group": "Groupe",
                        "population": "Population",
                        "transformations": "Transformation(s) concernée(s)",
                    },
                )
            ),
            label="Groupe",
        )
    elif key == "indicateurs":
        targets = [f"target-{y}" for y in years]  # « une cible pour chaque année » ([001] §5.2)
        labels = INDICATOR_LABELS | {f"target-{y}": f"Cible fin {y}" for y in years}
        attrs["rows"] = FieldList(
            FormField(_row_form("IndicatorRow", [*INDICATOR_FIELDS, *targets], labels)), label="Indicateur"
        )
    elif key == "signataires":
        attrs["rows"] = FieldList(
            FormField(
                _row_form("SignatoryRow", SIGNATORY_FIELDS, SIGNATORY_LABELS, {"side": SIGNATORY_SIDES})
            ),
            label="Signataire",
        )
    elif key == "financement":
        columns = ["nature", "category", "programme", "financer", "phase"]
        labels = {
            "nature": "Nature de dépense",
            "category": "Catégorie",
            "programme": "Programme budgétaire",
            "financer": "Financeur",
            "phase": "Phase",
        }
        for y in years:
            for kind in ("ae", "cp"):
                columns.append(f"{kind}-{y}")
                labels[f"{kind}-{y}"] = f"{kind.upper()} {y}"
        choices = {
            "category": CATEGORY_CHOICES,
            "financer": list(financers),
            "phase": PHASE_CHOICES,
        }
        attrs["rows"] = FieldList(
            FormField(_row_form("FinancingRow", columns, labels, choices)), label="Ligne"
        )
    elif key == "economies":
        years = [str(y) for y in savings_years]
        labels = {"nature": "Nature de l'économie", "category": "Catégorie", "programme": "Programme"}
        # each year's AE and CP ([000] annex II, [001] §3); `y-<year>` is the AE column
        labels |= {f"y-{y}": f"AE {y}" for y in years} | {f"cp-{y}": f"CP {y}" for y in years}
        amount_columns = [c for y in years for c in (f"y-{y}", f"cp-{y}")]
        attrs["rows"] = FieldList(
            FormField(
                _row_form(
                    "SavingsRow",
                    ["nature", "category", "programme", *amount_columns],
                    labels,
                    {"category": CATEGORY_CHOICES},
                )
            ),
            label="Économie",
        )
        attrs["revenues"] = FieldList(
            FormField(
                _row_form(
                    "RevenueRow",
                    ["nature", "programme", *[f"y-{y}" for y in years]],
                    {"nature": "Nature de la recette", "programme": "Programme"}
                    | {f"y-{y}": f"Recette {y}" for y in years},
                )
            ),
            label="Recette",
        )
        staff_labels = (
            {"cost": "Coût moyen d'un ETP (€ par an)"}
            | {y: f"ETP économisés en {y}" for y in years}
            | {f"r-{y}": f"dont ETP redéployés en {y}" for y in years}
        )
        staff_row = _row_form("StaffRow", ["cost", *years, *[f"r-{y}" for y in years]], staff_labels)
        attrs["staff"] = FormField(
            type(
                "StaffForm",
                (Form,),
                {c: FormField(staff_row, label=f"Catégorie {c}") for c in STAFF_CATEGORIES},
            ),
            label="",
        )
        attrs["impact_indirect"] = TextAreaField(
            "Impact indirect, économies indirectes et recettes supplémentaires"
        )
        attrs["roi_derogation"] = TextAreaField(
            "Demande de dérogation au retour sur investissement (facultatif)",
            description="À titre exceptionnel, si le projet s'approche du retour attendu : motivez la "
            "demande (004_937e479d7f054f91.txt §3).",
        )
    elif key == "jalons":
        columns = [
            "number",
            "due_on",
            "description",
            "deliverables",
            "is_procurement",
            "ae_planned",
            "cp_planned",
        ]
        labels = {
            "number": "Numéro",
            "due_on": "Date",
            "description": "Description",
            "deliverables": "Livrables",
            "is_procurement": "Marché public",
            "ae_planned": "AE consommées à cette date (cumul, €)",
            "cp_planned": "CP consommés à cette date (cumul, €)",
        }
        attrs["rows"] = FieldList(FormField(_row_form("JalonRow", columns, labels)), label="Jalon")
    else:
        raise KeyError(key)
    return type(f"{key.capitalize()}SectionForm", (SectionForm,), attrs)


def section_form(dossier, key: str, formdata=None, organisations=()) -> SectionForm:
    """The posted form (`formdata`), or the saved values of the section shown in the same fields."""
    if formdata is None:
        formdata = MultiDict(_flatten(initial_data(dossier, key)))
        formdata["version"] = str(dossier.section_version(key))
    return section_form_class(dossier, key, organisations)(formdata=formdata)


def _flatten(data: dict) -> list[tuple[str, str]]:
    out = []
    for name, value in data.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):  # a multiple choice
            out += [(name, v) for v in value]
        elif isinstance(value, list):
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
            "chantier_code": dossier.chantier.code if dossier.chantier else "",
            "declarations": [str(d.rule_id) for d in dossier.declarations],
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
                (
                    i,
                    {
                        "group": b.group_name,
                        "population": str(b.population or ""),
                        "transformations": b.transformations or "",
                    },
                )
                for i, b in enumerate(dossier.beneficiaries)
            ]
        }
    if key == "indicateurs":
        return {
            "rows": [
                (
                    i,
                    {f: getattr(row, f) or "" for f in INDICATOR_FIELDS}
                    | {f"target-{t.year}": t.value for t in row.targets},
                )
                for i, row in enumerate(dossier.indicators)
            ]
        }
    if key == "signataires":
        return {
            "rows": [
                (
                    i,
                    {
                        "side": s.side,
                        "organisation": s.organisation,
                        "function": s.function,
                        "name": s.name,
                        "signed_on": s.signed_on.isoformat() if s.signed_on else "",
                    },
                )
                for i, s in enumerate(dossier.signatories)
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
                row[f"cp-{amount.year}"] = format_number(amount.cp)
            rows.append((i, row))
        revenues = []
        for i, line in enumerate(dossier.revenue_lines):
            row = {"nature": line.nature, "programme": line.programme}
            row |= {f"y-{a.year}": amount_text(a.amount) for a in line.amounts}
            revenues.append((i, row))
        data = {
            "rows": rows,
            "revenues": revenues,
            "impact_indirect": dossier.impact_indirect or "",
            "roi_derogation": dossier.roi_derogation or "",
        }
        for staff in dossier.staff_savings:
            data[f"staff-{staff.category}-cost"] = amount_text(staff.average_cost)
            data[f"staff-{staff.category}-{staff.year}"] = format_number(staff.jobs, decimals=2)
            if staff.redeployed:
                data[f"staff-{staff.category}-r-{staff.year}"] = format_number(staff.redeployed, decimals=2)
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
                        "ae_planned": amount_text(j.ae_planned),
                        "cp_planned": amount_text(j.cp_planned),
                    },
                )
                for i, j in enumerate(dossier.jalons)
            ]
        }
    return {}


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
    guichet = SelectField(
        "Guichet", choices=[], validate_choice=False, description="Seuls les guichets ouverts sont proposés."
    )
    title = StringField("Intitulé du projet")
    start_year = StringField(
        "Première année du projet (N)", description="Par exemple 2026 : le financement couvre N à N+3."
    )
    opportunity_code = StringField(
        "Opportunité de mutualisation liée (facultatif)",
        description="Code du portefeuille, par exemple M043.",
    )


class WithdrawForm(_ActionForm):
    reason = StringField()


class ComplementsForm(_ActionForm):
    sections = SelectMultipleField(choices=[], validate_choice=False)
    reason = StringField()
    message = TextAreaField()


class AvisForm(_ActionForm):
    avis = StringField()
    motivation = TextAreaField()


class EndorseForm(_ActionForm):
    decision = RadioField(
        "Visa de la DNUM",
        choices=[("vise", "Viser le dossier"), ("refuse", "Refuser le visa")],
        validate_choice=False,
    )
    comment = TextAreaField("Commentaire", description="Obligatoire en cas de refus.")


class BudgetAnnexForm(_ActionForm):
    bop_uo = StringField("Cadre de gestion BOP-UO", description="Par exemple 0349-CDBU-DITP.")
    domaine_fonctionnel = StringField(
        "Action — domaine fonctionnel", description="Par exemple 0349-0101B501."
    )
    activite_chorus = StringField("Code activité Chorus / référentiel de programmation")
    designation_chorus = StringField("Désignation Chorus")
    centre_cout = StringField("Centre de coût")

    @classmethod
    def for_dossier(cls, dossier, posted: bool) -> "BudgetAnnexForm":
        if posted:
            return cls()
        return cls(formdata=None, obj=dossier)


class DismissForm(_ActionForm):
    motivation = TextAreaField()


class AnnotationForm(_ActionForm):
    body = TextAreaField()


class MessageForm(_ActionForm):
    body = TextAreaField()
    files = MultipleFileField()


class UploadForm(_ActionForm):
    kind = SelectField("Type de pièce", choices=[], validate_choice=False)
    file = FileField(
        "Fichier",
        description="PDF, ODT, DOCX, XLSX ou ODS ; le type est vérifié d'après le contenu du fichier.",
    )

    def section_data(self) -> dict:
        return {"kind": self.kind.data or ""}

    @classmethod
    def for_dossier(cls, dossier, posted: bool) -> "UploadForm":
        """The upload form of `dossier` (the request's input when `posted`): the guichet's pieces as kinds."""
        form = cls() if posted else cls(formdata=None)
        form.kind.choices = [(k, k) for k in [*dossier.guichet.required_attachment_list, "Autre"]]
        _prefix_ids(form._fields.values(), "pieces")
        return form

    def errors_by_name(self) -> dict[str, str]:
        found = super().errors_by_name()
        if "action" in found:
            found["file"] = found.pop("action")
        return found


class BulkForm(_ActionForm):
    action = StringField()
    dossier = SelectMultipleField(choices=[], validate_choice=False)
