"""Dossier sections: the sections of the FTAP contract, each saved on its own, and their rules.

One module for the sections because they share one concern — turning what the porteur typed (strings,
tables of rows) into the dossier's rows, or refusing it with French messages keyed by the form field
names (`rows-<i>-<column>` for table rows): nothing is saved partially. A stale section version raises
SectionConflict (409) and nothing is saved. The forms (app/forms/dossiers.py) only coerce and keep the
input; these validators decide.
"""

import re
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..formatting import format_date, format_datetime, format_euros, format_number, paris_today, parse_number
from ..models import Chantier, Opportunity, Organisation, RuleCode
from ..models.base import utcnow
from ..models.dossiers import (
    Category,
    Dossier,
    DossierBeneficiary,
    DossierDeclaration,
    DossierIndicator,
    DossierReferent,
    DossierSection,
    DossierSignatory,
    Financer,
    FinancingAmount,
    FinancingLine,
    IndicatorTarget,
    Jalon,
    Phase,
    ReferentRole,
    RevenueAmount,
    RevenueLine,
    SavingsAmount,
    SavingsLine,
    SignatorySide,
    StaffSaving,
)
from ..permissions import can_edit_section
from . import audit
from .errors import DomainError, NotAllowed, ValidationFailed

# Sections of the form, numbered as in the contract ([000] §1–§5, the signatures after §8, annexes).
SECTIONS: list[tuple[str, str]] = [
    ("projet", "Projet, guichet et calendrier"),
    ("porteurs", "Porteur, co-porteurs et référents"),
    ("enjeu", "1. Présentation de l'enjeu de transformation"),
    ("solution", "2. Présentation de la solution apportée"),
    ("financement", "3. Besoins et modalités de financement"),
    ("beneficiaires", "4.1.1 Bénéficiaires"),
    ("indicateurs", "4.1.2 Objectifs d'impact et indicateurs"),
    ("economies", "4.2 Économies prévisionnelles et impact indirect"),
    ("jalons", "5.2 Suivi opérationnel : jalons"),
    ("gouvernance", "5.3 Modalités de suivi et gouvernance"),
    ("signataires", "Signatures et dates de signature"),
    ("pieces", "Pièces jointes"),
]
SECTION_LABELS = dict(SECTIONS)


class Step(NamedTuple):
    """One page of the porteur's step-by-step form: its URL slug, its title, the sections it shows."""

    slug: str
    title: str
    sections: tuple[str, ...]


# The step-by-step form (as Démarches Simplifiées does it): one page per group of sections, in this order,
# then the recap (RECAP_STEP). This list is the only place the grouping lives: a new section of SECTIONS is
# added to the `sections` of one step (or a new Step is inserted); a section left out of every step is
# shown in a last « Autres sections » step (steps()) and tests/routes/test_dossier_steps.py fails.
STEPS: list[Step] = [
    Step("projet", "Le projet et ses porteurs", ("projet", "porteurs")),
    Step("enjeu", "L'enjeu et la solution", ("enjeu", "solution")),
    Step("financement", "Le financement", ("financement",)),
    # 4.1 and 4.2 of the contract apart: the savings table (AE and CP per line and year, the staff savings,
    # the revenues: about a hundred fields) is a step of its own, like the financing table
    Step("impact", "L'impact : bénéficiaires et indicateurs", ("beneficiaires", "indicateurs")),
    Step("economies", "Les économies prévisionnelles", ("economies",)),
    Step("suivi", "Jalons et gouvernance", ("jalons", "gouvernance")),
    Step("pieces", "Signataires et pièces jointes", ("signataires", "pieces")),
]
RECAP_STEP = Step("recapitulatif", "Récapitulatif avant dépôt", ())


def steps() -> list[Step]:
    """The steps in order, the recap last; sections no step names are gathered before the recap."""
    named = {key for step in STEPS for key in step.sections}
    left = tuple(key for key, _ in SECTIONS if key not in named)
    extra = [Step("autres", "Autres sections", left)] if left else []
    return [*STEPS, *extra, RECAP_STEP]


def step_of(section_key: str) -> Step | None:
    return next((step for step in steps() if section_key in step.sections), None)


TEXT_MAX = 20_000
AMOUNT_MAX = 2_000_000_000


class SectionConflict(DomainError):
    """Someone saved the section since the form was loaded: nothing is saved, both versions are shown."""

    status_code = 409

    def __init__(self, dossier: Dossier, key: str):
        saved = db.session.get(DossierSection, (dossier.id, key), populate_existing=True)
        who = saved.updated_by.full_name if saved and saved.updated_by else "quelqu'un d'autre"
        when = f" le {format_datetime(saved.updated_at)}" if saved and saved.updated_at else ""
        super().__init__(
            f"Cette section a été enregistrée par {who}{when}, depuis que vous l'avez ouverte. "
            "Votre saisie est conservée ci-dessous ; comparez-la avec la version enregistrée puis "
            "enregistrez à nouveau."
        )
        self.dossier = dossier
        self.key = key


# --- parsing helpers ------------------------------------------------------------------------------


def _programme(raw, field: str, errors: dict, *, required: bool, example: str = "P624") -> str:
    """A budget programme typed « 349 », « p 349 » or « P349 », as « P349 »; its error at `field`."""
    programme = clean(raw).upper().replace(" ", "")
    if programme and not programme.startswith("P"):
        programme = "P" + programme
    if (programme or required) and not re.fullmatch(r"P\d{3,4}", programme):
        errors[field] = f"Programme budgétaire : P suivi de 3 chiffres (par exemple {example})."
    return programme


def clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def parse_amount(raw: str | None) -> tuple[int, str | None]:
    """'1 275 000', '1275000 €', '1 275 000,00' → 1275000; returns (value, French error or None). Empty is 0.
    French numbers are read by app/formatting.py parse_number (the one parser)."""
    try:
        value = parse_number(raw)
    except ValueError:
        return 0, "Saisissez un montant en euros entiers, chiffres seulement (par exemple 1 275 000)."
    if value is None:
        return 0, None
    if value < 0:
        return 0, "Le montant ne peut pas être négatif."
    if value != value.to_integral_value():
        return 0, "Saisissez un montant en euros entiers, sans centimes (par exemple 1 275 000)."
    if value > AMOUNT_MAX:
        return 0, "Montant trop élevé."
    return int(value), None


def parse_int(raw: str | None, field: str, errors: dict, label: str) -> int | None:
    try:
        value = parse_number(raw)
    except ValueError:
        value = Decimal(-1)
    if value is None:
        return None
    if value < 0 or value != value.to_integral_value():
        errors[field] = f"{label} : saisissez un nombre entier positif."
        return None
    return int(value)


def parse_decimal(
    raw: str | None, field: str, errors: dict, label: str, maximum: int = 100_000
) -> Decimal | None:
    """A positive count with decimals, typed in French (« 1,5 » ETP); two decimals at most."""
    try:
        value = parse_number(raw)
    except ValueError:
        value = Decimal(-1)
    if value is None:
        return None
    if value < 0 or value > maximum or value != value.quantize(Decimal("0.01")):
        errors[field] = f"{label} : saisissez un nombre positif, par exemple 1,5 (deux décimales au plus)."
        return None
    return value


def parse_date(raw: str | None, field: str, errors: dict, label: str) -> date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if match:
        try:
            return date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            pass
    errors[field] = f"{label} : date invalide (format JJ/MM/AAAA)."
    return None


def too_long(value: str, field: str, errors: dict, label: str, limit: int = TEXT_MAX) -> None:
    if len(value) > limit:
        errors[field] = f"{label} : {limit} caractères au maximum (actuellement {len(value)})."


def blank(row: dict) -> bool:
    return not any((v or "").strip() for k, v in row.items() if not k.startswith("_"))


def opportunity_by_code(code: str, errors: dict) -> Opportunity | None:
    code = clean(code).upper()
    if not code:
        return None
    opportunity = db.session.scalar(select(Opportunity).where(Opportunity.code == code))
    if opportunity is None:
        errors["opportunity_code"] = f"L'opportunité {code} n'existe pas (format M suivi de 3 chiffres)."
    return opportunity


def chantier_by_code(code: str, errors: dict) -> Chantier | None:
    code = clean(code).rstrip(".")
    if not code:
        return None
    chantier = db.session.scalar(select(Chantier).where(Chantier.code == code))
    if chantier is None:
        errors["chantier_code"] = (
            f"Le chantier {code} n'existe pas (par exemple 2.2 ou 3.1, voir « Programmes et chantiers »)."
        )
    return chantier


def save_section(
    dossier: Dossier, key: str, data: dict, *, version: int, actor, max_file_bytes: int | None = None
):
    """Validate and save one section; raises ValidationFailed (422), SectionConflict (409) or NotAllowed."""
    if key not in SECTION_LABELS or key == "pieces":
        raise DomainError("Section inconnue.")
    if not can_edit_section(actor, dossier, key):
        raise NotAllowed("Cette section n'est pas modifiable.")
    apply = VALIDATORS[key](dossier, data)  # raises ValidationFailed, changes nothing
    _bump_version(dossier, key, version, actor)
    summary = apply()
    db.session.flush()
    db.session.expire(dossier, ["sections"])
    audit.record(
        "dossier.section_saved",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : section « {SECTION_LABELS[key]} » enregistrée"
        + (f" ({summary})" if summary else ""),
    )
    return dossier


def _bump_version(dossier: Dossier, key: str, version: int, actor) -> None:
    now = utcnow()
    row = db.session.get(DossierSection, (dossier.id, key))
    if row is None:
        if version != 0:
            raise SectionConflict(dossier, key)
        try:
            with db.session.begin_nested():
                db.session.add(
                    DossierSection(
                        dossier_id=dossier.id, key=key, version=1, updated_at=now, updated_by_id=actor.id
                    )
                )
        except IntegrityError:
            raise SectionConflict(dossier, key) from None
        return
    result = db.session.execute(
        update(DossierSection)
        .where(
            DossierSection.dossier_id == dossier.id,
            DossierSection.key == key,
            DossierSection.version == version,
        )
        .values(version=version + 1, updated_at=now, updated_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.expire(row)
        raise SectionConflict(dossier, key)
    db.session.expire(row)


def _validate_projet(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    title = clean(data.get("title"))
    if not title:
        errors["title"] = "L'intitulé du projet est obligatoire."
    too_long(title, "title", errors, "Intitulé", 300)
    year = parse_int(data.get("start_year"), "start_year", errors, "Première année (N)")
    if year is None and "start_year" not in errors:
        errors["start_year"] = "Indiquez la première année du projet (N)."
    elif year is not None and not 2000 <= year <= 2100:
        errors["start_year"] = "Première année (N) : une année entre 2000 et 2100."
    starts_on = parse_date(data.get("starts_on"), "starts_on", errors, "Date de début")
    ends_on = parse_date(data.get("ends_on"), "ends_on", errors, "Date de fin")
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = "La date de fin doit suivre la date de début."
    if year and starts_on and starts_on.year != year and "start_year" not in errors:
        errors["starts_on"] = f"Le projet commence l'année N : la date de début doit être en {year}."
    opportunity = opportunity_by_code(data.get("opportunity_code", ""), errors)
    chantier = chantier_by_code(data.get("chantier_code", ""), errors)
    if year and "start_year" not in errors and year != dossier.start_year:
        used = sorted(
            {a.year for line in dossier.financing_lines for a in line.amounts if a.ae or a.cp}
            | {a.year for line in dossier.savings_lines for a in line.amounts if a.amount or a.cp}
            | {a.year for line in dossier.revenue_lines for a in line.amounts if a.amount}
            | {s.year for s in dossier.staff_savings}
        )
        outside = [y for y in used if not year <= y < year + 7]
        fin_outside = [
            a.year
            for line in dossier.financing_lines
            for a in line.amounts
            if (a.ae or a.cp) and not year <= a.year < year + 4
        ] + [t.year for i in dossier.indicators for t in i.targets if not year <= t.year < year + 4]
        if fin_outside or outside:
            bad = sorted(set(fin_outside) | set(outside))
            errors["start_year"] = (
                f"Des montants sont saisis pour {', '.join(map(str, bad))}, hors de la période "
                f"{year}–{year + 3} : corrigez d'abord le tableau de financement, les "
                f"cibles des indicateurs ou les économies."
            )
    if starts_on or ends_on:
        for jalon in dossier.jalons:
            if (starts_on and jalon.due_on < starts_on) or (ends_on and jalon.due_on > ends_on):
                errors["ends_on"] = (
                    f"Le jalon n° {jalon.number} ({jalon.due_on:%d/%m/%Y}) sortirait de la période du projet."
                )
                break
    rules = {r.id: r for r in dossier.guichet.rules if r.code == RuleCode.DECLARATION}
    declared = {int(x) for x in data.get("declarations") or [] if str(x).isdigit() and int(x) in rules}
    if errors:
        raise ValidationFailed(errors)

    def apply():
        kept = [d for d in dossier.declarations if d.rule_id in declared]
        known = {d.rule_id for d in kept}
        dossier.declarations = kept + [DossierDeclaration(rule_id=i) for i in sorted(declared - known)]
        if year != dossier.start_year:
            # amounts are keyed by year: drop the empty rows that fall outside the new range
            for line in dossier.financing_lines:
                line.amounts = [a for a in line.amounts if year <= a.year < year + 4]
            for line in [*dossier.savings_lines, *dossier.revenue_lines]:
                line.amounts = [a for a in line.amounts if year <= a.year < year + 7]
            for indicator in dossier.indicators:
                indicator.targets = [t for t in indicator.targets if year <= t.year < year + 4]
        dossier.title, dossier.start_year, dossier.starts_on, dossier.ends_on = (
            title,
            year,
            starts_on,
            ends_on,
        )
        dossier.opportunity = opportunity
        dossier.chantier = chantier
        return ""

    return apply


def _organisation(code: str, field: str, errors: dict, label: str) -> Organisation | None:
    code = clean(code)
    if not code:
        return None
    organisation = db.session.scalar(select(Organisation).where(Organisation.code == code))
    if organisation is None:
        errors[field] = f"{label} : organisation inconnue."
    return organisation


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _referents(prefix: str, row: dict, errors: dict) -> list[tuple[str, str, str]]:
    out = []
    for role in ReferentRole:
        name, email = clean(row.get(f"{role.value}_name")), clean(row.get(f"{role.value}_email")).lower()
        if not name and not email:
            continue
        if not name:
            errors[f"{prefix}{role.value}_name"] = f"{role.label} : indiquez le nom."
        if not EMAIL.match(email):
            errors[f"{prefix}{role.value}_email"] = f"{role.label} : adresse électronique invalide."
        out.append((role.value, name[:200], email[:320]))
    return out


def _validate_porteurs(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    porteur = _organisation(data.get("porteur_organisation"), "porteur_organisation", errors, "Porteur")
    if porteur is None and "porteur_organisation" not in errors:
        errors["porteur_organisation"] = "Choisissez l'organisation porteuse."
    porteur_row = {k.removeprefix("porteur-"): v for k, v in data.items() if k.startswith("porteur-")}
    rows: list[tuple[Organisation | None, bool, list]] = [
        (porteur, True, _referents("porteur-", porteur_row, errors))
    ]
    seen = {porteur.id} if porteur else set()
    for index, row in data.get("co", []):
        if blank(row):
            continue
        organisation = _organisation(
            row.get("organisation"), f"co-{index}-organisation", errors, "Co-porteur"
        )
        if organisation is None and f"co-{index}-organisation" not in errors:
            errors[f"co-{index}-organisation"] = "Co-porteur : choisissez l'organisation."
        elif organisation is not None and organisation.id in seen:
            errors[f"co-{index}-organisation"] = f"{organisation.code} figure déjà parmi les porteurs."
        if organisation is not None:
            seen.add(organisation.id)
        rows.append((organisation, False, _referents(f"co-{index}-", row, errors)))
    used = {
        line.financer_organisation_id for line in dossier.financing_lines if line.financer_organisation_id
    }
    missing = used - {o.id for o, porteur_flag, _ in rows if o is not None and not porteur_flag}
    if missing:
        codes = ", ".join(
            sorted(
                o.code for o in db.session.scalars(select(Organisation).where(Organisation.id.in_(missing)))
            )
        )
        errors["porteur_organisation"] = (
            f"{codes} finance des lignes du tableau de financement : retirez-les de ce "
            "tableau avant de retirer le co-porteur."
        )
    if errors:
        raise ValidationFailed(errors)

    def apply():
        dossier.porteur_organisation = porteur
        _clear(dossier, "referents")
        dossier.referents = [
            DossierReferent(organisation_id=o.id, is_porteur=flag, role=role, name=name, email=email)
            for o, flag, refs in rows
            for role, name, email in refs
        ]
        return ""

    return apply


def _clear(dossier: Dossier, attr: str) -> None:
    """Delete a collection's child rows, flushed, before new ones replace them: the unit of work would
    otherwise run the INSERTs before the DELETEs and trip the unique constraints (jalon numbers, T2 staff
    rows per category and year)."""
    getattr(dossier, attr).clear()
    db.session.flush()


def _text_section(column: str, label: str, *extra: tuple[str, str]):
    def validate(dossier: Dossier, data: dict):
        errors: dict[str, str] = {}
        values = {}
        for name, field_label in ((column, label), *extra):
            values[name] = clean(data.get(name))
            too_long(values[name], name, errors, field_label)
        if errors:
            raise ValidationFailed(errors)

        def apply():
            for name, value in values.items():
                setattr(dossier, name, value)
            return ""

        return apply

    return validate


def _validate_beneficiaires(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    rows = []
    for index, row in data.get("rows", []):
        if blank(row):
            continue
        group = clean(row.get("group"))
        if not group:
            errors[f"rows-{index}-group"] = "Indiquez le groupe de bénéficiaires."
        population = parse_int(row.get("population"), f"rows-{index}-population", errors, "Population")
        transformations = clean(row.get("transformations"))
        too_long(
            transformations, f"rows-{index}-transformations", errors, "Transformation(s) concernée(s)", 500
        )
        rows.append((group[:300], population, transformations))
    if errors:
        raise ValidationFailed(errors)

    def apply():
        _clear(dossier, "beneficiaries")
        dossier.beneficiaries = [
            DossierBeneficiary(position=i, group_name=g, population=p, transformations=t)
            for i, (g, p, t) in enumerate(rows)
        ]
        return f"{len(rows)} groupe(s)"

    return apply


INDICATOR_FIELDS = ("objective", "indicator", "calculation", "current_value", "target_value", "frequency")


def _validate_indicateurs(dossier: Dossier, data: dict):
    """The indicators of §4.1.2 ([000]) with « une cible pour chaque année » ([001] §5.2: cible fin 2019 …
    fin 2022), posted as `rows-<i>-target-<year>` for the years N … N+3 of the dossier."""
    errors: dict[str, str] = {}
    years = dossier.years
    rows = []
    for index, row in data.get("rows", []):
        for key in [k for k in row if k.startswith("target-")]:
            if not key[7:].isdigit() or int(key[7:]) not in years:
                errors[f"rows-{index}-{key}"] = (
                    f"Année {key[7:]} hors de la période du projet ({years[0]}–{years[-1]})."
                )
        if blank(row):
            continue
        values = {k: clean(row.get(k)) for k in INDICATOR_FIELDS}
        targets = {}
        for year in years:
            value = clean(row.get(f"target-{year}"))
            too_long(value, f"rows-{index}-target-{year}", errors, f"Cible fin {year}", 200)
            if value:
                targets[year] = value
        if not values["objective"]:
            errors[f"rows-{index}-objective"] = "Décrivez l'objectif d'impact."
        if not values["indicator"]:
            errors[f"rows-{index}-indicator"] = "Nommez l'indicateur."
        for k in ("current_value", "target_value"):
            too_long(values[k], f"rows-{index}-{k}", errors, "Valeur", 200)
        too_long(values["frequency"], f"rows-{index}-frequency", errors, "Fréquence", 100)
        rows.append((values, targets))
    if errors:
        raise ValidationFailed(errors)

    def apply():
        _clear(dossier, "indicators")
        dossier.indicators = [
            DossierIndicator(
                position=i,
                **values,
                targets=[IndicatorTarget(year=y, value=v) for y, v in sorted(targets.items())],
            )
            for i, (values, targets) in enumerate(rows)
        ]
        return f"{len(rows)} indicateur(s)"

    return apply


def _choice(value: str, enum_cls, field: str, errors: dict, message: str):
    try:
        return enum_cls(clean(value))
    except ValueError:
        errors[field] = message
        return None


def _validate_financement(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    years = dossier.years
    co_porteurs = {r.organisation.code: r.organisation for r in dossier.referents if not r.is_porteur}
    rows = []
    for index, row in data.get("rows", []):
        amount_keys = [k for k in row if k.startswith(("ae-", "cp-"))]
        for key in amount_keys:
            year = key[3:]
            if not year.isdigit() or int(year) not in years:
                errors[f"rows-{index}-{key}"] = (
                    f"Année {year} hors de la période du projet ({years[0]}–{years[-1]})."
                )
        if blank({k: v for k, v in row.items() if k not in ("category", "financer", "phase")}):
            continue
        p = f"rows-{index}-"
        nature = clean(row.get("nature"))
        if not nature:
            errors[p + "nature"] = "Indiquez la nature de la dépense."
        too_long(nature, p + "nature", errors, "Nature", 300)
        category = _choice(row.get("category"), Category, p + "category", errors, "Choisissez T2, T3 ou T5.")
        programme = _programme(row.get("programme"), p + "programme", errors, required=True, example="P349")
        financer_raw = clean(row.get("financer"))
        organisation = None
        if financer_raw.startswith("co:"):
            financer = Financer.CO_PORTEUR
            organisation = co_porteurs.get(financer_raw[3:])
            if organisation is None:
                errors[p + "financer"] = "Ce co-porteur n'est pas déclaré dans la section des porteurs."
        else:
            financer = _choice(financer_raw, Financer, p + "financer", errors, "Choisissez le financeur.")
            if financer == Financer.CO_PORTEUR:
                errors[p + "financer"] = "Choisissez le co-porteur qui finance la ligne."
        phase = _choice(row.get("phase"), Phase, p + "phase", errors, "Choisissez la phase.")
        amounts = {}
        for year in years:
            ae, error_ae = parse_amount(row.get(f"ae-{year}"))
            cp, error_cp = parse_amount(row.get(f"cp-{year}"))
            if error_ae:
                errors[f"{p}ae-{year}"] = f"AE {year} : {error_ae}"
            if error_cp:
                errors[f"{p}cp-{year}"] = f"CP {year} : {error_cp}"
            if ae or cp:
                amounts[year] = (ae, cp)
        rows.append((nature, category, programme, financer, organisation, phase, amounts))
    if not errors:
        total_ae = sum(a for row in rows for a, _ in row[6].values())
        total_cp = sum(c for row in rows for _, c in row[6].values())
        if total_cp > total_ae:
            errors["total"] = (
                f"Le total des CP ({format_euros(total_cp)}) dépasse le total des AE "
                f"({format_euros(total_ae)}) sur l'ensemble du projet."
            )
    if errors:
        raise ValidationFailed(errors)

    def apply():
        _clear(dossier, "financing_lines")
        dossier.financing_lines = [
            FinancingLine(
                position=i,
                nature=nature,
                category=category,
                programme=programme,
                financer=financer,
                financer_organisation_id=organisation.id if organisation else None,
                phase=phase,
                amounts=[FinancingAmount(year=y, ae=a, cp=c) for y, (a, c) in sorted(amounts.items())],
            )
            for i, (nature, category, programme, financer, organisation, phase, amounts) in enumerate(rows)
        ]
        return f"{len(rows)} ligne(s)"

    return apply


def _validate_economies(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    years = dossier.savings_years
    rows = []
    for index, row in data.get("rows", []):
        for key in [k for k in row if k.startswith(("y-", "cp-"))]:
            year_text = key.split("-", 1)[1]
            if not year_text.isdigit() or int(year_text) not in years:
                errors[f"rows-{index}-{key}"] = (
                    f"Année {year_text} hors de la période {years[0]}–{years[-1]}."
                )
        if blank({k: v for k, v in row.items() if k != "category"}):
            continue
        p = f"rows-{index}-"
        nature = clean(row.get("nature"))
        if not nature:
            errors[p + "nature"] = "Indiquez la nature de l'économie."
        category = _choice(row.get("category"), Category, p + "category", errors, "Choisissez T2, T3 ou T5.")
        programme = _programme(row.get("programme"), p + "programme", errors, required=False)
        amounts = {}
        for year in years:
            # the AE and CP of the year ([000] annex II, [001] §3); a CP left blank is the AE of the year
            ae, error = parse_amount(row.get(f"y-{year}"))
            if error:
                errors[f"{p}y-{year}"] = f"AE {year} : {error}"
            raw_cp = (row.get(f"cp-{year}") or "").strip()
            cp, error = parse_amount(raw_cp) if raw_cp else (ae, None)
            if error:
                errors[f"{p}cp-{year}"] = f"CP {year} : {error}"
            if ae or cp:
                amounts[year] = (ae, cp)
        rows.append((nature[:300], category, programme, amounts))
    staff = []
    for category in ("A", "B", "C"):
        cost, error = parse_amount(data.get(f"staff-{category}-cost"))
        if error:
            errors[f"staff-{category}-cost"] = f"Coût moyen catégorie {category} : {error}"
        for year in years:
            jobs = parse_decimal(
                data.get(f"staff-{category}-{year}"),
                f"staff-{category}-{year}",
                errors,
                f"ETP catégorie {category} en {year}",
            )
            # « dont emplois redéployés » ([000] annex II): part of the jobs saved, for information
            redeployed = parse_decimal(
                data.get(f"staff-{category}-r-{year}"),
                f"staff-{category}-r-{year}",
                errors,
                f"ETP redéployés catégorie {category} en {year}",
            )
            if redeployed and redeployed > (jobs or 0) and f"staff-{category}-{year}" not in errors:
                errors[f"staff-{category}-r-{year}"] = (
                    f"ETP redéployés catégorie {category} en {year} : ils font partie des ETP économisés "
                    f"({format_number(jobs or 0, decimals=2)}) et ne peuvent pas les dépasser."
                )
            if jobs:
                if not cost and f"staff-{category}-cost" not in errors:
                    errors[f"staff-{category}-cost"] = (
                        f"Indiquez le coût moyen d'un ETP de catégorie {category}."
                    )
                staff.append((category, year, jobs, cost, redeployed or Decimal(0)))
    revenues = []
    for index, row in data.get("revenues", []):
        for key in [k for k in row if k.startswith("y-")]:
            if not key[2:].isdigit() or int(key[2:]) not in years:
                errors[f"revenues-{index}-{key}"] = (
                    f"Année {key[2:]} hors de la période {years[0]}–{years[-1]}."
                )
        if blank(row):
            continue
        p = f"revenues-{index}-"
        nature = clean(row.get("nature"))
        if not nature:
            errors[p + "nature"] = "Indiquez la nature de la recette."
        too_long(nature, p + "nature", errors, "Nature de la recette", 300)
        programme = _programme(row.get("programme"), p + "programme", errors, required=False)
        amounts = {}
        for year in years:
            value, error = parse_amount(row.get(f"y-{year}"))
            if error:
                errors[f"{p}y-{year}"] = f"Recette {year} : {error}"
            if value:
                amounts[year] = value
        revenues.append((nature, programme, amounts))
    impact = clean(data.get("impact_indirect"))
    too_long(impact, "impact_indirect", errors, "Impact indirect")
    derogation = clean(data.get("roi_derogation"))
    too_long(derogation, "roi_derogation", errors, "Dérogation au retour sur investissement", 5000)
    if errors:
        raise ValidationFailed(errors)

    def apply():
        _clear(dossier, "savings_lines")
        dossier.savings_lines = [
            SavingsLine(
                position=i,
                nature=nature,
                category=category,
                programme=programme,
                amounts=[SavingsAmount(year=y, amount=a, cp=c) for y, (a, c) in sorted(amounts.items())],
            )
            for i, (nature, category, programme, amounts) in enumerate(rows)
        ]
        _clear(dossier, "staff_savings")
        dossier.staff_savings = [
            StaffSaving(category=c, year=y, jobs=j, average_cost=cost, redeployed=r)
            for c, y, j, cost, r in staff
        ]
        _clear(dossier, "revenue_lines")
        dossier.revenue_lines = [
            RevenueLine(
                position=i,
                nature=nature,
                programme=programme,
                amounts=[RevenueAmount(year=y, amount=v) for y, v in sorted(amounts.items())],
            )
            for i, (nature, programme, amounts) in enumerate(revenues)
        ]
        dossier.impact_indirect = impact
        dossier.roi_derogation = derogation
        return f"{len(rows)} ligne(s)" + (f", {len(revenues)} recette(s)" if revenues else "")

    return apply


def _validate_jalons(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    rows = []
    numbers = set()
    for index, row in data.get("rows", []):
        if blank({k: v for k, v in row.items() if k != "is_procurement"}):
            continue
        p = f"rows-{index}-"
        number = parse_int(row.get("number"), p + "number", errors, "N°")
        if number is None and p + "number" not in errors:
            number = (max(numbers) + 1) if numbers else 1
        if number in numbers:
            errors[p + "number"] = f"Le jalon n° {number} existe déjà."
        numbers.add(number)
        due_on = parse_date(row.get("due_on"), p + "due_on", errors, "Date")
        if due_on is None and p + "due_on" not in errors:
            errors[p + "due_on"] = "Indiquez la date du jalon."
        elif due_on and (
            (dossier.starts_on and due_on < dossier.starts_on)
            or (dossier.ends_on and due_on > dossier.ends_on)
        ):
            errors[p + "due_on"] = (
                f"La date doit être comprise dans la période du projet "
                f"({dossier.starts_on:%d/%m/%Y} – {dossier.ends_on:%d/%m/%Y})."
            )
        description = clean(row.get("description"))
        if not description:
            errors[p + "description"] = "Décrivez le jalon."
        # [000] §5.2: the jalon translated into a budget-consumption milestone (cumulated, optional)
        planned = []
        for column in ("ae_planned", "cp_planned"):
            value, error = parse_amount(row.get(column))
            if error:
                errors[p + column] = error
            planned.append(value if clean(row.get(column)) and not error else None)
        if planned[0] is not None and planned[1] is not None and planned[1] > planned[0]:
            errors[p + "cp_planned"] = (
                "Les CP consommés à cette date ne peuvent pas dépasser les AE consommées."
            )
        rows.append(
            (
                number,
                due_on,
                description,
                clean(row.get("deliverables")),
                bool(row.get("is_procurement")),
                *planned,
            )
        )
    if rows and not (dossier.starts_on and dossier.ends_on) and not errors:
        errors["rows-0-due_on"] = "Renseignez d'abord les dates du projet (section « Projet »)."
    if errors:
        raise ValidationFailed(errors)

    def apply():
        _clear(dossier, "jalons")
        dossier.jalons = [
            Jalon(
                number=n,
                due_on=d,
                description=desc,
                deliverables=deliv,
                is_procurement=proc,
                ae_planned=ae,
                cp_planned=cp,
            )
            for n, d, desc, deliv, proc, ae, cp in sorted(rows, key=lambda r: r[0])
        ]
        return f"{len(rows)} jalon(s)"

    return apply


def _validate_signataires(dossier: Dossier, data: dict):
    """The parties and their signatories ([000] preamble « conclu entre … d'une part, et … d'autre part »,
    block « Signatures / Dates de signature »; [001] last page, four signatories): organisation and
    function as the contract writes them, name, date of signature once signed (never in the future)."""
    errors: dict[str, str] = {}
    rows = []
    today = paris_today()
    for index, row in data.get("rows", []):
        if blank({k: v for k, v in row.items() if k != "side"}):
            continue
        p = f"rows-{index}-"
        side = _choice(row.get("side"), SignatorySide, p + "side", errors, "Choisissez la partie.")
        values = {}
        for name, label, limit in (
            ("organisation", "Organisation", 300),
            ("function", "Fonction", 300),
            ("name", "Nom", 200),
        ):
            values[name] = clean(row.get(name))
            if not values[name]:
                errors[p + name] = f"{label} du signataire : à renseigner."
            too_long(values[name], p + name, errors, label, limit)
        signed_on = parse_date(row.get("signed_on"), p + "signed_on", errors, "Date de signature")
        if signed_on and signed_on > today:
            errors[p + "signed_on"] = (
                f"Date de signature : le {format_date(signed_on)} n'est pas encore arrivé."
            )
        rows.append((side, values, signed_on))
    if errors:
        raise ValidationFailed(errors)

    def apply():
        _clear(dossier, "signatories")
        dossier.signatories = [
            DossierSignatory(position=i, side=side, signed_on=signed_on, **values)
            for i, (side, values, signed_on) in enumerate(rows)
        ]
        return f"{len(rows)} signataire(s)"

    return apply


VALIDATORS = {
    "projet": _validate_projet,
    "porteurs": _validate_porteurs,
    "enjeu": _text_section("enjeu", "Enjeu"),
    "solution": _text_section("solution", "Solution"),
    "financement": _validate_financement,
    "beneficiaires": _validate_beneficiaires,
    "indicateurs": _validate_indicateurs,
    "economies": _validate_economies,
    "jalons": _validate_jalons,
    "gouvernance": _text_section("gouvernance", "Gouvernance"),
    "signataires": _validate_signataires,
}
