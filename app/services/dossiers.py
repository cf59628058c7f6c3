"""Dossier services: sections saved separately, server-side figures and checks, life cycle, instruction,
messages, attachments, and the hooks the committees domain calls (mark_on_agenda, apply_decision…).

Sections take raw strings (as typed) and either save everything or raise ValidationFailed with French
messages keyed by the form field names; nothing is saved partially. A stale section version raises
SectionConflict (409) and nothing is saved.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Guichet, Opportunity, Organisation, User
from ..models.base import utcnow
from ..models.dossiers import (
    INSTRUCTION_STATES,
    REASON_REQUIRED,
    Avis,
    Category,
    ComplementReason,
    ComplementRequest,
    DecisionOutcome,
    Dossier,
    DossierAnnotation,
    DossierAttachment,
    DossierBeneficiary,
    DossierFollow,
    DossierIndicator,
    DossierMessage,
    DossierReferent,
    DossierSection,
    DossierState,
    DossierTransition,
    Financer,
    FinancingAmount,
    FinancingLine,
    Jalon,
    MessageRead,
    Phase,
    ReferentRole,
    SavingsAmount,
    SavingsLine,
    StaffSaving,
)
from . import audit, reminders
from .errors import DomainError, NotAllowed, ValidationFailed

S = DossierState

# Sections of the form, numbered as in the contract ([000] §1–§5, annexes).
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
    ("pieces", "Pièces jointes"),
]
SECTION_LABELS = dict(SECTIONS)
TEXT_MAX = 20_000
AMOUNT_MAX = 2_000_000_000
ALLOWED_TYPES = {
    "pdf": "application/pdf",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024


class SectionConflict(DomainError):
    """Someone saved the section since the form was loaded: nothing is saved, both versions are shown."""

    status_code = 409

    def __init__(self, dossier: Dossier, key: str):
        super().__init__(
            "Cette section a été enregistrée par quelqu'un d'autre depuis que vous l'avez ouverte. "
            "Votre saisie est conservée ci-dessous ; comparez-la avec la version enregistrée puis "
            "enregistrez à nouveau."
        )
        self.dossier = dossier
        self.key = key


# --- parsing helpers ------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def parse_amount(raw: str | None) -> tuple[int, str | None]:
    """'1 275 000', '1275000 €' → 1275000; returns (value, French error or None). Empty is 0."""
    text = (raw or "").replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace("€", "").strip()
    if not text:
        return 0, None
    if text.startswith("-"):
        return 0, "Le montant ne peut pas être négatif."
    if not text.isdigit():
        return 0, "Saisissez un montant en euros entiers, chiffres seulement (par exemple 1 275 000)."
    value = int(text)
    if value > AMOUNT_MAX:
        return 0, "Montant trop élevé."
    return value, None


def _parse_int(raw: str | None, field: str, errors: dict, label: str) -> int | None:
    text = (raw or "").replace("\u202f", "").replace("\u00a0", "").replace(" ", "").strip()
    if not text:
        return None
    if not text.isdigit():
        errors[field] = f"{label} : saisissez un nombre entier positif."
        return None
    return int(text)


def _parse_date(raw: str | None, field: str, errors: dict, label: str) -> date | None:
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


def _too_long(value: str, field: str, errors: dict, label: str, limit: int = TEXT_MAX) -> None:
    if len(value) > limit:
        errors[field] = f"{label} : {limit} caractères au maximum (actuellement {len(value)})."


def _blank(row: dict) -> bool:
    return not any((v or "").strip() for k, v in row.items() if not k.startswith("_"))


# --- figures (computed, never stored) -----------------------------------------------------------------


@dataclass
class LineFigures:
    line: FinancingLine
    by_year: dict[int, tuple[int, int]]
    ae: int
    cp: int


@dataclass
class Figures:
    # The row the T2 helper's result takes in the savings table (a nature of savings of its own).
    STAFF_NATURE: ClassVar[str] = "Économies de personnel (calcul T2)"

    years: list[int]
    lines: list[LineFigures]
    year_totals: dict[int, tuple[int, int]]
    total_ae: int
    total_cp: int
    financers: list[tuple[str, dict[int, tuple[int, int]], int, int]]
    ftap_ae: int
    ftap_cp: int
    savings_years: list[int]
    savings: list[tuple[SavingsLine, dict[int, int], int]]
    staff: dict[int, int]
    savings_by_year: dict[int, int]
    savings_total: int
    roi_years: list[int] = field(default_factory=list)
    roi_savings: int = 0

    @property
    def ftap_share_pct(self) -> float | None:
        return self.ftap_ae * 100 / self.total_ae if self.total_ae else None

    @property
    def roi_cents(self) -> int | None:
        """Lasting savings over the three years after the last FTAP year, in cents per euro funded (floor)."""
        return self.roi_savings * 100 // self.ftap_ae if self.ftap_ae else None


def figures(dossier: Dossier) -> Figures:
    """Row, column and financer totals of the financing table, savings totals and the ROI, from the rows."""
    years = dossier.years
    lines, year_totals = [], {y: (0, 0) for y in years}
    financer_rows: dict[str, dict[int, tuple[int, int]]] = {}
    for line in dossier.financing_lines:
        by_year = {y: (0, 0) for y in years}
        for amount in line.amounts:
            by_year[amount.year] = (amount.ae, amount.cp)
        ae, cp = sum(v[0] for v in by_year.values()), sum(v[1] for v in by_year.values())
        lines.append(LineFigures(line, by_year, ae, cp))
        label = "dont financement " + (line.financer_label if line.financer != Financer.FTAP else "FTAP")
        if line.financer == Financer.PORTEUR and dossier.porteur_organisation:
            label = f"dont financement porteur ({dossier.porteur_organisation.code})"
        bucket = financer_rows.setdefault(label, {y: (0, 0) for y in years})
        for year, (a, c) in by_year.items():
            year_totals[year] = (year_totals.get(year, (0, 0))[0] + a, year_totals.get(year, (0, 0))[1] + c)
            bucket[year] = (bucket.get(year, (0, 0))[0] + a, bucket.get(year, (0, 0))[1] + c)
    financers = [
        (label, rows, sum(v[0] for v in rows.values()), sum(v[1] for v in rows.values()))
        for label, rows in financer_rows.items()
    ]
    ftap_ae = sum(lf.ae for lf in lines if lf.line.financer == Financer.FTAP)
    ftap_cp = sum(lf.cp for lf in lines if lf.line.financer == Financer.FTAP)
    savings_years = dossier.savings_years
    savings, savings_by_year = [], {y: 0 for y in savings_years}
    for line in dossier.savings_lines:
        by_year = {y: 0 for y in savings_years}
        for amount in line.amounts:
            by_year[amount.year] = amount.amount
        savings.append((line, by_year, sum(by_year.values())))
        for year, value in by_year.items():
            savings_by_year[year] = savings_by_year.get(year, 0) + value
    staff = {y: 0 for y in savings_years}
    for row in dossier.staff_savings:
        staff[row.year] = staff.get(row.year, 0) + row.jobs * row.average_cost
    for year, value in staff.items():  # the T2 helper's result is carried into the savings table
        savings_by_year[year] = savings_by_year.get(year, 0) + value
    result = Figures(
        years=years,
        lines=lines,
        year_totals=year_totals,
        total_ae=sum(v[0] for v in year_totals.values()),
        total_cp=sum(v[1] for v in year_totals.values()),
        financers=financers,
        ftap_ae=ftap_ae,
        ftap_cp=ftap_cp,
        savings_years=savings_years,
        savings=savings,
        staff=staff,
        savings_by_year=savings_by_year,
        savings_total=sum(savings_by_year.values()),
    )
    ftap_years = sorted(
        {y for lf in lines if lf.line.financer == Financer.FTAP for y, (a, c) in lf.by_year.items() if a or c}
    )
    if ftap_years:
        last = ftap_years[-1]
        result.roi_years = [last + 1, last + 2, last + 3]
        result.roi_savings = sum(savings_by_year.get(y, 0) for y in result.roi_years)
    return result


# --- checks ------------------------------------------------------------------------------------


@dataclass
class Check:
    level: str  # "ok" | "warning" | "error" (error blocks submission)
    message: str
    section: str | None = None
    kind: str = "eligibility"  # or "completeness"


def format_euros(value: int) -> str:
    from ..jinja import format_euros as fmt

    return fmt(value)


def _pct(value: float) -> str:
    return f"{value:.0f}".replace(".", ",") + " %"


def _cents(value: int) -> str:
    return f"{value // 100},{value % 100:02d}".removesuffix(",00") + " €"


def completeness(dossier: Dossier) -> dict[str, list[str]]:
    """Missing items per section (empty list = complete)."""
    missing: dict[str, list[str]] = {key: [] for key, _ in SECTIONS}
    if not dossier.title:
        missing["projet"].append("intitulé")
    if not dossier.starts_on or not dossier.ends_on:
        missing["projet"].append("dates de début et de fin")
    if dossier.porteur_organisation_id is None:
        missing["porteurs"].append("organisation porteuse")
    if not any(r.is_porteur and r.role == ReferentRole.PROJET for r in dossier.referents):
        missing["porteurs"].append("référent projet du porteur")
    if not dossier.enjeu:
        missing["enjeu"].append("présentation de l'enjeu")
    if not dossier.solution:
        missing["solution"].append("présentation de la solution")
    if not dossier.financing_lines:
        missing["financement"].append("au moins une ligne de dépense")
    if not dossier.beneficiaries:
        missing["beneficiaires"].append("au moins un groupe de bénéficiaires")
    if not dossier.indicators:
        missing["indicateurs"].append("au moins un indicateur")
    if dossier.guichet.roi_min_cents and not (dossier.savings_lines or dossier.staff_savings):
        missing["economies"].append(
            "économies prévisionnelles (le guichet fixe un retour sur investissement)"
        )
    if not dossier.jalons:
        missing["jalons"].append("au moins un jalon")
    if not dossier.gouvernance:
        missing["gouvernance"].append("gouvernance du projet")
    present = {a.kind for a in dossier.attachments if a.message_id is None}
    for kind in dossier.guichet.required_attachment_list:
        if kind not in present:
            missing["pieces"].append(kind)
    return missing


def checks(dossier: Dossier, now: datetime | None = None) -> tuple[dict[str, list[str]], list[Check]]:
    """Completeness per section and eligibility verdicts against the guichet's rules, with the computation."""
    guichet, fig = dossier.guichet, figures(dossier)
    verdicts: list[Check] = []
    now = now or utcnow()
    if dossier.state == S.BROUILLON:
        if not guichet.mode:
            verdicts.append(Check("error", "Ce guichet ne reçoit pas de dossiers.", "projet"))
        elif guichet.opens_at and now < guichet.opens_at:
            verdicts.append(
                Check(
                    "error",
                    f"L'appel à projets n'est pas encore ouvert (ouverture le {_date_fr(guichet.opens_at)}).",
                    "projet",
                )
            )
        elif guichet.closes_at and now >= guichet.closes_at:
            verdicts.append(
                Check(
                    "error", f"L'appel à projets est clos depuis le {_date_fr(guichet.closes_at)}.", "projet"
                )
            )
        elif guichet.closes_at:
            verdicts.append(
                Check("ok", f"Appel à projets ouvert jusqu'au {_date_fr(guichet.closes_at)}.", "projet")
            )
    if guichet.max_total_amount:
        ok = fig.total_ae <= guichet.max_total_amount
        verdicts.append(
            Check(
                "ok" if ok else "error",
                f"montant total {format_euros(fig.total_ae)} {'≤' if ok else '>'} "
                f"{format_euros(guichet.max_total_amount)} autorisés",
                "financement",
            )
        )
    share = fig.ftap_share_pct
    if guichet.min_cofinancing_pct is not None and fig.total_ae:
        allowed = 100 - guichet.min_cofinancing_pct
        ok = fig.ftap_ae * 100 <= allowed * fig.total_ae
        verdicts.append(
            Check(
                "ok" if ok else "error",
                f"part FTAP {_pct(share)} {'≤' if ok else '>'} {allowed} % autorisés "
                f"({format_euros(fig.ftap_ae)} sur {format_euros(fig.total_ae)} ; cofinancement minimum "
                f"{guichet.min_cofinancing_pct} %)",
                "financement",
            )
        )
    elif share is not None:
        verdicts.append(
            Check(
                "ok",
                f"part FTAP {_pct(share)} ({format_euros(fig.ftap_ae)} sur {format_euros(fig.total_ae)})",
                "financement",
            )
        )
    if guichet.roi_min_cents:
        if not fig.ftap_ae:
            verdicts.append(
                Check(
                    "warning",
                    "retour sur investissement à 3 ans : pas de financement FTAP saisi",
                    "financement",
                )
            )
        else:
            roi = fig.roi_cents
            ok = roi >= guichet.roi_min_cents
            years = f"{fig.roi_years[0]}–{fig.roi_years[-1]}"
            verdicts.append(
                Check(
                    "ok" if ok else "warning",
                    f"retour sur investissement à 3 ans : {_cents(roi)} par € investi, minimum "
                    f"{_cents(guichet.roi_min_cents)} (économies {years} : {format_euros(fig.roi_savings)} / "
                    f"financement FTAP : {format_euros(fig.ftap_ae)})",
                    "economies",
                )
            )
    for year in fig.years:
        ae, cp = fig.year_totals[year]
        if cp > ae:
            verdicts.append(
                Check(
                    "warning",
                    f"CP > AE en {year} ({format_euros(cp)} de CP pour {format_euros(ae)} d'AE)",
                    "financement",
                )
            )
    if fig.total_cp > fig.total_ae:
        verdicts.append(
            Check(
                "error",
                f"CP ({format_euros(fig.total_cp)}) supérieurs aux AE "
                f"({format_euros(fig.total_ae)}) sur l'ensemble du projet",
                "financement",
            )
        )
    if 0 < len(dossier.indicators) < 2:
        verdicts.append(
            Check(
                "warning",
                "un seul indicateur : au moins deux indicateurs de résultat sont attendus",
                "indicateurs",
            )
        )
    missing = completeness(dossier)
    for key, items in missing.items():
        if items:
            verdicts.append(
                Check(
                    "error",
                    f"{SECTION_LABELS[key]} : à compléter ({', '.join(items)})",
                    key,
                    kind="completeness",
                )
            )
    return missing, verdicts


def blocking(verdicts: list[Check]) -> list[Check]:
    return [c for c in verdicts if c.level == "error"]


def _date_fr(value: datetime) -> str:
    from ..jinja import format_datetime

    return format_datetime(value)


# --- creation and sections ---------------------------------------------------------------------------


def create_dossier(
    *, guichet: Guichet, title: str, start_year: str, actor, opportunity_code: str = ""
) -> Dossier:
    from ..permissions import can_create_dossier

    if not can_create_dossier(actor, guichet):
        raise NotAllowed("Vous ne pouvez pas déposer de dossier sur ce guichet.")
    errors: dict[str, str] = {}
    title = _clean(title)
    if not title:
        errors["title"] = "L'intitulé du projet est obligatoire."
    _too_long(title, "title", errors, "Intitulé", 300)
    year = _parse_int(start_year, "start_year", errors, "Première année (N)")
    if year is None and "start_year" not in errors:
        errors["start_year"] = "Indiquez la première année du projet (N)."
    elif year is not None and not 2000 <= year <= 2100:
        errors["start_year"] = "Première année (N) : une année entre 2000 et 2100."
    if not guichet.accepts_dossiers:
        errors["guichet"] = "Ce guichet ne reçoit pas de dossiers."
    elif not guichet.is_open():
        errors["guichet"] = "Ce guichet n'est pas ouvert actuellement."
    opportunity = _opportunity(opportunity_code, errors)
    if errors:
        raise ValidationFailed(errors)
    dossier = Dossier(
        guichet=guichet, title=title, start_year=year, created_by_id=actor.id, opportunity=opportunity
    )
    db.session.add(dossier)
    audit.record(
        "dossier.created", dossier, actor=actor, summary=f"Dossier « {title} » créé sur {guichet.code}"
    )
    reminders.reschedule_for(guichet)  # a new draft on an appel à projets: its porteur is reminded
    return dossier


def _opportunity(code: str, errors: dict) -> Opportunity | None:
    code = _clean(code).upper()
    if not code:
        return None
    opportunity = db.session.scalar(select(Opportunity).where(Opportunity.code == code))
    if opportunity is None:
        errors["opportunity_code"] = f"L'opportunité {code} n'existe pas (format M suivi de 3 chiffres)."
    return opportunity


def save_section(
    dossier: Dossier, key: str, data: dict, *, version: int, actor, max_file_bytes: int | None = None
):
    """Validate and save one section; raises ValidationFailed (422), SectionConflict (409) or NotAllowed."""
    from ..permissions import can_edit_section

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
    title = _clean(data.get("title"))
    if not title:
        errors["title"] = "L'intitulé du projet est obligatoire."
    _too_long(title, "title", errors, "Intitulé", 300)
    year = _parse_int(data.get("start_year"), "start_year", errors, "Première année (N)")
    if year is None and "start_year" not in errors:
        errors["start_year"] = "Indiquez la première année du projet (N)."
    elif year is not None and not 2000 <= year <= 2100:
        errors["start_year"] = "Première année (N) : une année entre 2000 et 2100."
    starts_on = _parse_date(data.get("starts_on"), "starts_on", errors, "Date de début")
    ends_on = _parse_date(data.get("ends_on"), "ends_on", errors, "Date de fin")
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = "La date de fin doit suivre la date de début."
    if year and starts_on and starts_on.year != year and "start_year" not in errors:
        errors["starts_on"] = f"Le projet commence l'année N : la date de début doit être en {year}."
    opportunity = _opportunity(data.get("opportunity_code", ""), errors)
    if year and "start_year" not in errors and year != dossier.start_year:
        used = sorted(
            {a.year for line in dossier.financing_lines for a in line.amounts if a.ae or a.cp}
            | {a.year for line in dossier.savings_lines for a in line.amounts if a.amount}
            | {s.year for s in dossier.staff_savings}
        )
        outside = [y for y in used if not year <= y < year + 7]
        fin_outside = [
            a.year
            for line in dossier.financing_lines
            for a in line.amounts
            if (a.ae or a.cp) and not year <= a.year < year + 4
        ]
        if fin_outside or outside:
            bad = sorted(set(fin_outside) | set(outside))
            errors["start_year"] = (
                f"Des montants sont saisis pour {', '.join(map(str, bad))}, hors de la période "
                f"{year}–{year + 3} : corrigez d'abord le tableau de financement ou les "
                f"économies."
            )
    if starts_on or ends_on:
        for jalon in dossier.jalons:
            if (starts_on and jalon.due_on < starts_on) or (ends_on and jalon.due_on > ends_on):
                errors["ends_on"] = (
                    f"Le jalon n° {jalon.number} ({jalon.due_on:%d/%m/%Y}) sortirait de la période du projet."
                )
                break
    if errors:
        raise ValidationFailed(errors)

    def apply():
        if year != dossier.start_year:
            # amounts are keyed by year: drop the empty rows that fall outside the new range
            for line in dossier.financing_lines:
                line.amounts = [a for a in line.amounts if year <= a.year < year + 4]
            for line in dossier.savings_lines:
                line.amounts = [a for a in line.amounts if year <= a.year < year + 7]
        dossier.title, dossier.start_year, dossier.starts_on, dossier.ends_on = (
            title,
            year,
            starts_on,
            ends_on,
        )
        dossier.opportunity = opportunity
        return ""

    return apply


def _organisation(code: str, field: str, errors: dict, label: str) -> Organisation | None:
    code = _clean(code)
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
        name, email = _clean(row.get(f"{role.value}_name")), _clean(row.get(f"{role.value}_email")).lower()
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
        if _blank(row):
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
        dossier.referents = [
            DossierReferent(organisation_id=o.id, is_porteur=flag, role=role, name=name, email=email)
            for o, flag, refs in rows
            for role, name, email in refs
        ]
        return ""

    return apply


def _text_section(column: str, label: str, *extra: tuple[str, str]):
    def validate(dossier: Dossier, data: dict):
        errors: dict[str, str] = {}
        values = {}
        for name, field_label in ((column, label), *extra):
            values[name] = _clean(data.get(name))
            _too_long(values[name], name, errors, field_label)
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
        if _blank(row):
            continue
        group = _clean(row.get("group"))
        if not group:
            errors[f"rows-{index}-group"] = "Indiquez le groupe de bénéficiaires."
        population = _parse_int(row.get("population"), f"rows-{index}-population", errors, "Population")
        rows.append((group[:300], population))
    if errors:
        raise ValidationFailed(errors)

    def apply():
        dossier.beneficiaries = [
            DossierBeneficiary(position=i, group_name=g, population=p) for i, (g, p) in enumerate(rows)
        ]
        return f"{len(rows)} groupe(s)"

    return apply


INDICATOR_FIELDS = ("objective", "indicator", "calculation", "current_value", "target_value", "frequency")


def _validate_indicateurs(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    rows = []
    for index, row in data.get("rows", []):
        if _blank(row):
            continue
        values = {k: _clean(row.get(k)) for k in INDICATOR_FIELDS}
        if not values["objective"]:
            errors[f"rows-{index}-objective"] = "Décrivez l'objectif d'impact."
        if not values["indicator"]:
            errors[f"rows-{index}-indicator"] = "Nommez l'indicateur."
        for k in ("current_value", "target_value"):
            _too_long(values[k], f"rows-{index}-{k}", errors, "Valeur", 200)
        _too_long(values["frequency"], f"rows-{index}-frequency", errors, "Fréquence", 100)
        rows.append(values)
    if errors:
        raise ValidationFailed(errors)

    def apply():
        dossier.indicators = [DossierIndicator(position=i, **values) for i, values in enumerate(rows)]
        return f"{len(rows)} indicateur(s)"

    return apply


def _choice(value: str, enum_cls, field: str, errors: dict, message: str):
    try:
        return enum_cls(_clean(value))
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
        if _blank({k: v for k, v in row.items() if k not in ("category", "financer", "phase")}):
            continue
        p = f"rows-{index}-"
        nature = _clean(row.get("nature"))
        if not nature:
            errors[p + "nature"] = "Indiquez la nature de la dépense."
        _too_long(nature, p + "nature", errors, "Nature", 300)
        category = _choice(row.get("category"), Category, p + "category", errors, "Choisissez T2, T3 ou T5.")
        programme = _clean(row.get("programme")).upper().replace(" ", "")
        if programme and not programme.startswith("P"):
            programme = "P" + programme
        if not re.fullmatch(r"P\d{3,4}", programme):
            errors[p + "programme"] = "Programme budgétaire : P suivi de 3 chiffres (par exemple P349)."
        financer_raw = _clean(row.get("financer"))
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
        for key in [k for k in row if k.startswith("y-")]:
            if not key[2:].isdigit() or int(key[2:]) not in years:
                errors[f"rows-{index}-{key}"] = f"Année {key[2:]} hors de la période {years[0]}–{years[-1]}."
        if _blank({k: v for k, v in row.items() if k != "category"}):
            continue
        p = f"rows-{index}-"
        nature = _clean(row.get("nature"))
        if not nature:
            errors[p + "nature"] = "Indiquez la nature de l'économie."
        category = _choice(row.get("category"), Category, p + "category", errors, "Choisissez T2, T3 ou T5.")
        programme = _clean(row.get("programme")).upper().replace(" ", "")
        if programme and not programme.startswith("P"):
            programme = "P" + programme
        if programme and not re.fullmatch(r"P\d{3,4}", programme):
            errors[p + "programme"] = "Programme budgétaire : P suivi de 3 chiffres (par exemple P624)."
        amounts = {}
        for year in years:
            value, error = parse_amount(row.get(f"y-{year}"))
            if error:
                errors[f"{p}y-{year}"] = f"{year} : {error}"
            if value:
                amounts[year] = value
        rows.append((nature[:300], category, programme, amounts))
    staff = []
    for category in ("A", "B", "C"):
        cost, error = parse_amount(data.get(f"staff-{category}-cost"))
        if error:
            errors[f"staff-{category}-cost"] = f"Coût moyen catégorie {category} : {error}"
        for year in years:
            jobs = _parse_int(
                data.get(f"staff-{category}-{year}"),
                f"staff-{category}-{year}",
                errors,
                f"ETP catégorie {category} en {year}",
            )
            if jobs:
                if not cost and f"staff-{category}-cost" not in errors:
                    errors[f"staff-{category}-cost"] = (
                        f"Indiquez le coût moyen d'un ETP de catégorie {category}."
                    )
                staff.append((category, year, jobs, cost))
    impact = _clean(data.get("impact_indirect"))
    _too_long(impact, "impact_indirect", errors, "Impact indirect")
    if errors:
        raise ValidationFailed(errors)

    def apply():
        dossier.savings_lines = [
            SavingsLine(
                position=i,
                nature=nature,
                category=category,
                programme=programme,
                amounts=[SavingsAmount(year=y, amount=v) for y, v in sorted(amounts.items())],
            )
            for i, (nature, category, programme, amounts) in enumerate(rows)
        ]
        dossier.staff_savings = [
            StaffSaving(category=c, year=y, jobs=j, average_cost=cost) for c, y, j, cost in staff
        ]
        dossier.impact_indirect = impact
        return f"{len(rows)} ligne(s)"

    return apply


def _validate_jalons(dossier: Dossier, data: dict):
    errors: dict[str, str] = {}
    rows = []
    numbers = set()
    for index, row in data.get("rows", []):
        if _blank({k: v for k, v in row.items() if k != "is_procurement"}):
            continue
        p = f"rows-{index}-"
        number = _parse_int(row.get("number"), p + "number", errors, "N°")
        if number is None and p + "number" not in errors:
            number = (max(numbers) + 1) if numbers else 1
        if number in numbers:
            errors[p + "number"] = f"Le jalon n° {number} existe déjà."
        numbers.add(number)
        due_on = _parse_date(row.get("due_on"), p + "due_on", errors, "Date")
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
        description = _clean(row.get("description"))
        if not description:
            errors[p + "description"] = "Décrivez le jalon."
        rows.append(
            (number, due_on, description, _clean(row.get("deliverables")), bool(row.get("is_procurement")))
        )
    if rows and not (dossier.starts_on and dossier.ends_on) and not errors:
        errors["rows-0-due_on"] = "Renseignez d'abord les dates du projet (section « Projet »)."
    if errors:
        raise ValidationFailed(errors)

    def apply():
        dossier.jalons = [
            Jalon(number=n, due_on=d, description=desc, deliverables=deliv, is_procurement=proc)
            for n, d, desc, deliv, proc in sorted(rows, key=lambda r: r[0])
        ]
        return f"{len(rows)} jalon(s)"

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
}


# --- attachments ---------------------------------------------------------------------------------


def upload_dir() -> Path:
    from flask import current_app

    path = Path(current_app.config["UPLOAD_DIR"]) / "dossiers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_file(filename: str, content: bytes, *, field: str, max_bytes: int | None) -> tuple[str, str]:
    """Type checked by content (magic bytes), not by the name; returns (extension, mimetype)."""
    import filetype

    limit = max_bytes or DEFAULT_MAX_FILE_BYTES
    if not filename or not content:
        raise ValidationFailed({field: "Choisissez un fichier."})
    if len(content) > limit:
        raise ValidationFailed(
            {field: f"Le fichier « {filename} » dépasse la taille autorisée ({limit // (1024 * 1024)} Mo)."}
        )
    kind = filetype.guess(content)
    if kind is None or kind.extension not in ALLOWED_TYPES:
        raise ValidationFailed(
            {
                field: f"Le fichier « {filename} » n'est pas un PDF, ODT, DOCX, XLSX ou ODS "
                "(type vérifié d'après son contenu)."
            }
        )
    return kind.extension, ALLOWED_TYPES[kind.extension]


def _store(
    dossier: Dossier,
    filename: str,
    content: bytes,
    *,
    kind: str,
    actor,
    field: str,
    max_bytes: int | None,
    message: DossierMessage | None = None,
) -> DossierAttachment:
    extension, mimetype = check_file(filename, content, field=field, max_bytes=max_bytes)
    safe = re.sub(r"[^\w.\- ]", "_", Path(filename).name)[:200] or f"piece.{extension}"
    stored = f"{secrets.token_hex(16)}.{extension}"
    (upload_dir() / stored).write_bytes(content)
    attachment = DossierAttachment(
        dossier=dossier,
        kind=kind,
        filename=safe,
        stored_name=stored,
        mimetype=mimetype,
        size=len(content),
        uploaded_by_id=actor.id,
    )
    if message is not None:
        attachment.message_id = message.id
    db.session.add(attachment)
    return attachment


def add_attachment(
    dossier: Dossier, *, filename: str, content: bytes, kind: str, actor, max_bytes: int | None = None
) -> DossierAttachment:
    from ..permissions import can_edit_section

    if not can_edit_section(actor, dossier, "pieces"):
        raise NotAllowed("Les pièces jointes ne sont pas modifiables.")
    kind = _clean(kind)
    if kind and kind not in dossier.guichet.required_attachment_list and kind != "Autre":
        raise ValidationFailed({"kind": "Type de pièce inconnu."})
    attachment = _store(
        dossier, filename, content, kind=kind or "Autre", actor=actor, field="file", max_bytes=max_bytes
    )
    audit.record(
        "dossier.attachment_added",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : pièce « {attachment.filename} » ajoutée",
    )
    return attachment


def remove_attachment(attachment: DossierAttachment, *, actor) -> None:
    from ..permissions import can_edit_section

    dossier = attachment.dossier
    if attachment.message_id is not None or not can_edit_section(actor, dossier, "pieces"):
        raise NotAllowed("Cette pièce n'est pas modifiable.")
    db.session.delete(attachment)
    audit.record(
        "dossier.attachment_removed",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : pièce « {attachment.filename} » retirée",
    )


def attachment_path(attachment: DossierAttachment) -> Path:
    return upload_dir() / attachment.stored_name


# --- life cycle ------------------------------------------------------------------------------------


def _transition(dossier: Dossier, to: DossierState, *, actor, reason: str | None = None) -> None:
    old = dossier.state_enum
    if to not in dossier.allowed_transitions():
        raise DomainError(f"Passage de « {old.label} » à « {to.label} » non autorisé.")
    dossier.state = to
    if to in REASON_REQUIRED:
        dossier.state_reason = reason
    db.session.add(
        DossierTransition(
            dossier_id=dossier.id,
            from_state=old,
            to_state=to,
            reason=reason or None,
            actor_id=getattr(actor, "id", None),
        )
    )
    audit.record(
        f"dossier.{_VERBS.get(to, 'moved')}",
        dossier,
        actor=actor,
        summary=f"{dossier.reference} : {old.label} → {to.label}",
        changes={"state": [old.value, to.value]},
    )
    # Reminders about the dossier (compléments, follow-up) and, when a draft leaves, about its guichet.
    reminders.reschedule_for(dossier)
    if old == S.BROUILLON:
        reminders.reschedule_for(dossier.guichet)


_VERBS = {
    S.DEPOSE: "submitted",
    S.EN_INSTRUCTION: "instruction_started",
    S.COMPLEMENTS_DEMANDES: "complements_requested",
    S.INSTRUIT: "instructed",
    S.RETIRE: "withdrawn",
    S.CLASSE_SANS_SUITE: "dismissed",
    S.INSCRIT_COMITE: "scheduled",
    S.DECIDE: "decided",
    S.CONVENTIONNE: "contracted",
    S.EN_SUIVI: "followed_up",
    S.CLOS: "closed",
}


def submit(dossier: Dossier, *, actor, now: datetime | None = None) -> Dossier:
    """Brouillon → déposé, or compléments demandés → déposé again; refused while a blocking check fails."""
    from ..permissions import can_submit_dossier

    if not can_submit_dossier(actor, dossier):
        raise NotAllowed("Vous ne pouvez pas déposer ce dossier.")
    _, verdicts = checks(dossier, now=now)
    if failing := blocking(verdicts):
        raise ValidationFailed(
            {"submit": "Dépôt impossible : " + " ; ".join(c.message for c in failing) + "."}
        )
    resubmission = dossier.state == S.COMPLEMENTS_DEMANDES
    if resubmission and (request := dossier.open_request):
        request.answered_at = utcnow()
    dossier.submitted_at = dossier.submitted_at or utcnow()
    _transition(dossier, S.DEPOSE, actor=actor, reason="Compléments apportés" if resubmission else None)
    return dossier


def withdraw(dossier: Dossier, *, actor, reason: str = "") -> Dossier:
    from ..permissions import can_withdraw_dossier

    if not can_withdraw_dossier(actor, dossier):
        raise NotAllowed("Vous ne pouvez pas retirer ce dossier.")
    _transition(dossier, S.RETIRE, actor=actor, reason=_clean(reason) or None)
    return dossier


def start_instruction(dossier: Dossier, *, actor) -> Dossier:
    from ..permissions import can_instruct_dossier

    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    _transition(dossier, S.EN_INSTRUCTION, actor=actor)
    return dossier


def request_complements(
    dossier: Dossier, *, sections: list[str], reason: str, message: str, actor
) -> ComplementRequest:
    from ..permissions import can_instruct_dossier

    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    errors = {}
    sections = [s for s in sections if s in SECTION_LABELS]
    if not sections:
        errors["sections"] = "Choisissez au moins une section à rouvrir."
    try:
        reason = ComplementReason(reason)
    except ValueError:
        errors["reason"] = "Choisissez le motif : incorrect, incomplet ou obsolète."
    message = _clean(message)
    if not message:
        errors["message"] = "Expliquez au porteur ce qui est attendu."
    _too_long(message, "message", errors, "Message", 5000)
    if dossier.state not in INSTRUCTION_STATES or dossier.state == S.COMPLEMENTS_DEMANDES:
        errors["sections"] = (
            f"Le dossier est « {dossier.state_enum.label} » : pas de demande de compléments possible."
        )
    if errors:
        raise ValidationFailed(errors)
    request = ComplementRequest(
        dossier=dossier, sections=" ".join(sections), reason=reason, message=message, requested_by_id=actor.id
    )
    db.session.add(request)
    _transition(
        dossier,
        S.COMPLEMENTS_DEMANDES,
        actor=actor,
        reason=f"{reason.label} : " + ", ".join(SECTION_LABELS[s] for s in sections),
    )
    return request


def record_avis(dossier: Dossier, *, avis: str, motivation: str, actor) -> Dossier:
    from ..permissions import can_instruct_dossier

    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    errors = {}
    try:
        value = Avis(avis)
    except ValueError:
        errors["avis"] = "Choisissez un avis : favorable, réservé ou défavorable."
    motivation = _clean(motivation)
    if not motivation:
        errors["motivation"] = "La motivation de l'avis est obligatoire."
    _too_long(motivation, "motivation", errors, "Motivation", 10_000)
    if dossier.state not in (S.DEPOSE, S.EN_INSTRUCTION):
        errors["avis"] = (
            f"Le dossier est « {dossier.state_enum.label} » : l'avis se donne pendant l'instruction."
        )
    if errors:
        raise ValidationFailed(errors)
    dossier.avis, dossier.avis_motivation, dossier.avis_by_id, dossier.avis_at = (
        value,
        motivation,
        actor.id,
        utcnow(),
    )
    _transition(dossier, S.INSTRUIT, actor=actor, reason=f"Avis {value.label.lower()}")
    return dossier


def dismiss(dossier: Dossier, *, motivation: str, actor) -> Dossier:
    """Classé sans suite, by an instructor, with a motivation."""
    from ..permissions import can_instruct_dossier

    if not can_instruct_dossier(actor, dossier):
        raise NotAllowed("Vous n'instruisez pas ce guichet.")
    motivation = _clean(motivation)
    if not motivation:
        raise ValidationFailed({"motivation": "La motivation du classement sans suite est obligatoire."})
    _transition(dossier, S.CLASSE_SANS_SUITE, actor=actor, reason=motivation)
    return dossier


BULK_ACTIONS = {"instruire": "Passer en instruction", "suivre": "Suivre", "ne_plus_suivre": "Ne plus suivre"}


def bulk(dossiers: list[Dossier], *, action: str, actor) -> tuple[list[Dossier], list[tuple[Dossier, str]]]:
    """Apply one action to several dossiers; returns (done, [(skipped, reason)]); never half a dossier."""
    if action not in BULK_ACTIONS:
        raise ValidationFailed({"action": "Action inconnue."})
    done, skipped = [], []
    for dossier in dossiers:
        try:
            with db.session.begin_nested():
                if action == "instruire":
                    if dossier.state != S.DEPOSE:
                        raise DomainError(f"« {dossier.state_enum.label} »")
                    start_instruction(dossier, actor=actor)
                elif action == "suivre":
                    follow(dossier, actor=actor)
                else:
                    unfollow(dossier, actor=actor)
            done.append(dossier)
        except DomainError as error:
            skipped.append((dossier, error.message))
    return done, skipped


# --- follow, annotations, messages --------------------------------------------------------------------


def follow(dossier: Dossier, *, actor) -> None:
    from ..permissions import can_instruct_dossier

    if not can_instruct_dossier(actor, dossier, any_state=True):
        raise NotAllowed("Seuls les instructeurs suivent un dossier.")
    if db.session.get(DossierFollow, (dossier.id, actor.id)) is None:
        db.session.add(DossierFollow(dossier_id=dossier.id, user_id=actor.id))
        audit.record("dossier.followed", dossier, actor=actor, summary=f"{dossier.reference} suivi")


def unfollow(dossier: Dossier, *, actor) -> None:
    row = db.session.get(DossierFollow, (dossier.id, actor.id))
    if row is not None:
        db.session.delete(row)
        audit.record(
            "dossier.unfollowed", dossier, actor=actor, summary=f"{dossier.reference} n'est plus suivi"
        )


def is_followed(dossier: Dossier, user) -> bool:
    return db.session.get(DossierFollow, (dossier.id, user.id)) is not None


def annotate(dossier: Dossier, *, body: str, actor) -> DossierAnnotation:
    from ..permissions import can_annotate_dossier

    if not can_annotate_dossier(actor, dossier):
        raise NotAllowed("Les annotations privées sont réservées à l'instruction.")
    body = _clean(body)
    if not body:
        raise ValidationFailed({"body": "L'annotation est vide."})
    if len(body) > 5000:
        raise ValidationFailed({"body": "L'annotation ne doit pas dépasser 5000 caractères."})
    annotation = DossierAnnotation(dossier_id=dossier.id, author_id=actor.id, body=body)
    db.session.add(annotation)
    audit.record(
        "annotation.created", dossier, actor=actor, summary=f"Annotation privée sur {dossier.reference}"
    )
    return annotation


def post_message(
    dossier: Dossier, *, body: str, files: list[tuple[str, bytes]], actor, max_bytes: int | None = None
) -> DossierMessage:
    from ..permissions import can_message_dossier

    if not can_message_dossier(actor, dossier):
        raise NotAllowed("Vous ne pouvez pas écrire sur ce dossier.")
    body = _clean(body)
    if not body:
        raise ValidationFailed({"body": "Le message est vide."})
    if len(body) > 10_000:
        raise ValidationFailed({"body": "Le message ne doit pas dépasser 10 000 caractères."})
    for name, content in files:
        check_file(
            name, content, field="files", max_bytes=max_bytes
        )  # all checked before anything is written
    message = DossierMessage(dossier_id=dossier.id, author_id=actor.id, body=body)
    db.session.add(message)
    db.session.flush()
    for name, content in files:
        _store(
            dossier,
            name,
            content,
            kind="Message",
            actor=actor,
            field="files",
            max_bytes=max_bytes,
            message=message,
        )
    audit.record("message.posted", dossier, actor=actor, summary=f"Message sur {dossier.reference}")
    return message


def mark_read(messages: list[DossierMessage], *, actor) -> int:
    """Mark the messages as read by `actor` (idempotent); returns how many were newly read."""
    count = 0
    for message in messages:
        if not message.read_by(actor):
            message.reads.append(MessageRead(user_id=actor.id))
            count += 1
    db.session.flush()
    return count


# --- hooks for the committees domain ------------------------------------------------------------------


@dataclass
class DossierInfo:
    id: int
    reference: str
    title: str
    state: str
    state_label: str
    guichet_id: int | None
    schedulable: bool = False  # instruit, or décidé « ajourné » (back on an agenda)


def _load(dossier_or_id) -> Dossier:
    dossier = dossier_or_id if isinstance(dossier_or_id, Dossier) else db.session.get(Dossier, dossier_or_id)
    if dossier is None:
        raise DomainError("Dossier introuvable.")
    return dossier


def describe(dossier_id: int) -> DossierInfo | None:
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        return None
    schedulable = dossier.state == S.INSTRUIT or (
        dossier.state == S.DECIDE and dossier.decision_outcome == DecisionOutcome.AJOURNE
    )
    return DossierInfo(
        dossier.id,
        dossier.reference,
        dossier.title,
        dossier.state,
        dossier.state_enum.label,
        dossier.guichet_id,
        schedulable,
    )


def decided_by(committee, dossier_or_info) -> bool:
    """True when `committee` decides on the dossier's guichet: its deciding committee, or a guichet (or an
    ancestor of it) listed in the committee's guichets."""
    guichet = db.session.get(Guichet, dossier_or_info.guichet_id)
    if guichet is None:
        return False
    chain = [guichet, *guichet.ancestors()]
    if any(g.committee_id == committee.id for g in chain):
        return True
    ids = {g.id for g in getattr(committee, "guichets", [])}
    return any(g.id in ids for g in chain)


def porteurs(dossier_id: int) -> list[User]:
    """The porteur's account and the accounts of the référents (matched on e-mail)."""
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        return []
    emails = {r.email for r in dossier.referents}
    users = {dossier.created_by_id: dossier.created_by}
    if emails:
        for user in db.session.scalars(select(User).where(User.email.in_(emails))):
            users[user.id] = user
    return list(users.values())


def requested_ae(dossier_id: int) -> int | None:
    """AE requested from the fund (FTAP lines), in euros."""
    dossier = db.session.get(Dossier, dossier_id)
    return figures(dossier).ftap_ae if dossier is not None else None


def mark_on_agenda(dossier, *, meeting=None, actor) -> Dossier:
    """instruit (or décidé ajourné) → inscrit en comité; idempotent when already inscribed."""
    dossier = _load(dossier)
    if dossier.state == S.INSCRIT_COMITE:
        dossier.agenda_meeting_id = getattr(meeting, "id", dossier.agenda_meeting_id)
        return dossier
    if dossier.state == S.DECIDE and dossier.decision_outcome != DecisionOutcome.AJOURNE:
        raise DomainError(f"Le dossier {dossier.reference} est déjà décidé.")
    label = getattr(meeting, "label", None)
    _transition(dossier, S.INSCRIT_COMITE, actor=actor, reason=f"Ordre du jour : {label}" if label else None)
    dossier.agenda_meeting_id = getattr(meeting, "id", None)
    return dossier


def remove_from_agenda(dossier, *, actor) -> Dossier:
    dossier = _load(dossier)
    _transition(dossier, S.INSTRUIT, actor=actor, reason="Retiré de l'ordre du jour")
    dossier.agenda_meeting_id = None
    return dossier


def apply_decision(dossier, decision, *, actor, rectification: bool = False) -> Dossier:
    """inscrit en comité → décidé with the outcome (accepte, accepte_sous_conditions, ajourne, refuse).

    `decision` is an outcome string or an object with `.outcome` (and `.id`). A rectification on a decided
    dossier updates the outcome without a new transition.
    """
    dossier = _load(dossier)
    outcome_raw = getattr(decision, "outcome", decision)
    try:
        outcome = DecisionOutcome(outcome_raw)
    except ValueError:
        raise DomainError(f"Issue de décision inconnue pour un dossier : {outcome_raw}.") from None
    old = dossier.decision_outcome
    dossier.decision_outcome = outcome
    dossier.decision_id = getattr(decision, "id", dossier.decision_id)
    if dossier.state == S.DECIDE and (rectification or old == outcome):
        if old != outcome:
            audit.record(
                "dossier.decision_rectified",
                dossier,
                actor=actor,
                summary=f"{dossier.reference} : décision rectifiée ({outcome.label})",
                changes={"decision_outcome": [old, outcome.value]},
            )
        return dossier
    if dossier.state != S.INSCRIT_COMITE:
        dossier.decision_outcome = old
        raise DomainError(
            f"Le dossier {dossier.reference} n'est pas inscrit en comité (« {dossier.state_enum.label} »)."
        )
    _transition(dossier, S.DECIDE, actor=actor, reason=outcome.label)
    return dossier


def mark_contracted(dossier, *, actor) -> Dossier:
    """décidé (accepté / accepté sous conditions) → conventionné."""
    dossier = _load(dossier)
    if dossier.decision_outcome not in (DecisionOutcome.ACCEPTE, DecisionOutcome.ACCEPTE_SOUS_CONDITIONS):
        raise DomainError("Seul un dossier accepté est conventionné.")
    _transition(dossier, S.CONVENTIONNE, actor=actor)
    return dossier


def start_follow_up(dossier, *, actor) -> Dossier:
    dossier = _load(dossier)
    _transition(dossier, S.EN_SUIVI, actor=actor)
    return dossier


def close(dossier, *, actor, reason: str = "") -> Dossier:
    dossier = _load(dossier)
    if dossier.state == S.DECIDE and dossier.decision_outcome == DecisionOutcome.AJOURNE:
        raise DomainError("Un dossier ajourné repasse en comité avant d'être clos.")
    _transition(dossier, S.CLOS, actor=actor, reason=_clean(reason) or None)
    return dossier
