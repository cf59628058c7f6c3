"""Guichet services: reference defaults, rules and calendar edited by the secretariat, instructors."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from ..formatting import parse_number
from ..models import Committee, Guichet, Role, User, UserRole
from ..models.base import utcnow
from ..models.guichets import GuichetMode, GuichetRule, RuleKind
from ..permissions import can_edit_guichet
from . import audit, reminders
from .errors import NotAllowed, StaleVersion, ValidationFailed

# Defaults drawn from the source documents (docs/sources/, [000] = 000_….txt), applied by the reference load
# until the secretariat edits the guichet:
# FTAP ROI of 1 € per € after 3 years ([004] §3, §4.3, [000] annex II); lean dispositif: total < 2 M€
# and about 50 % co-financing as a reference share ([004] §2, §4.3); France Relance themes: no ROI target
# ([000] annex II), opened as guichets continus (the documents allow either mode, [003] §1, and give no call
# dates); « Opérer en confiance » and its appel à communs open as guichets continus ([000] §2 gives no dates).
# Porteur-side annexes of the contract ([000] « ANNEXES »: II dossier de candidature, IV liste des référents);
# the « note explicative » is a DITP document handed over with the contract ([000] §3), not a porteur piece.
FTAP_PIECES = "Dossier de candidature du projet\nListe des référents FTAP du projet"
REFERENCE_RULES: dict[str, dict] = {
    "FTAP": {"mode": "guichet_continu", "roi_min_cents": 100, "required_attachments": FTAP_PIECES},
    "FTAP-LEAN": {
        "mode": "guichet_continu",
        "roi_min_cents": 100,
        "max_total_amount": 2_000_000,
        "min_cofinancing_pct": 50,
        "required_attachments": FTAP_PIECES + "\nDocument de cadrage",
    },
    "FTAP-DINUM-OPI": {"mode": "guichet_continu", "roi_min_cents": 100, "required_attachments": FTAP_PIECES},
    "DINUM-COMMUNS": {"mode": "guichet_continu", "roi_min_cents": 100},
    **{f"SNAP{i}": {"mode": "guichet_continu"} for i in range(1, 6)},
    **{f"ITN{i}": {"mode": "guichet_continu"} for i in range(1, 9)},
}
S000, S003, S004 = "000_fdd5893ed6c59cba.txt", "003_9f3bb31115a0b5f3.txt", "004_937e479d7f054f91.txt"
ROI_RULE = (
    "roi_min",
    "warning",
    "Au moins un euro d'économies pérennes au bout de trois ans pour chaque euro investi par le fonds ; à "
    "titre exceptionnel, un projet qui s'en approche peut être retenu (dérogation motivée).",
    f"{S000} annexe financière II ; {S004} §3 et §4.3",
    "",
)
# Organisation kinds a porteur may have ([004] §4.3 « Critères liés au statut des porteurs de projets »).
PORTEUR_KINDS = "ministere,direction,operateur,administration_locale,securite_sociale,prive_service_public"
LEAN_RULES = [
    ROI_RULE,
    (
        "max_total",
        "blocking",
        "Le montant total du projet (financement FTAP et cofinancement) est inférieur à 2 M€.",
        f"{S004} §4.3 (critères liés au financement)",
        "",
    ),
    (
        "cofinancing_present",
        "blocking",
        "Les projets font l'objet d'un cofinancement par le porteur de projet.",
        f"{S004} §4.3 (critères liés au financement)",
        "",
    ),
    (
        "cofinancing_share",
        "criterion",
        "Part du cofinancement : « un co-financement à hauteur de 50 % paraît pertinent » ; elle est "
        "intégrée aux critères de sélection.",
        f"{S004} §2",
        "",
    ),
    (
        "porteur_status",
        "blocking",
        "Porteur éligible : l'État et les autres organismes d'administration centrale (l'entité qui porte "
        "les dépenses et réalise les économies), les opérateurs de l'État, les administrations publiques"
        " locales "
        "et de sécurité sociale (projet conduit de concert avec l'État et lui permettant des économies "
        "substantielles), une personne morale de droit privé chargée d'une mission de service public et "
        "majoritairement financée par l'État.",
        f"{S004} §4.3 (critères liés au statut des porteurs)",
        PORTEUR_KINDS,
    ),
    (
        "criterion",
        "criterion",
        "1. Niveau des économies pour l'État : substantielles par rapport au coût global, pérennes et "
        "mesurables.",
        f"{S004} §4.3 (critères liés au contenu)",
        "",
    ),
    (
        "criterion",
        "criterion",
        "2. Ambition d'amélioration de la qualité de service aux usagers et/ou des conditions de travail des "
        "agents.",
        f"{S004} §4.3 (critères liés au contenu)",
        "",
    ),
    (
        "criterion",
        "criterion",
        "3. Caractère stratégique et novateur, en cohérence avec l'action du Gouvernement ; méthodes "
        "innovantes.",
        f"{S004} §4.3 (critères liés au contenu)",
        "",
    ),
    (
        "criterion",
        "criterion",
        "4. Qualité de la gouvernance et des moyens de conduite du projet (maîtrise des risques).",
        f"{S004} §4.3 (critères liés au contenu)",
        "",
    ),
    (
        "criterion",
        "criterion",
        "5. Projets numériques : principes de l'État plateforme, médiation numérique, appropriation par les "
        "agents.",
        f"{S004} §4.3 (critères liés au contenu)",
        "",
    ),
]
FTAP_OBJECTIVES = (
    "criterion",
    "criterion",
    "Deux types d'objectifs : un impact concret sur le service ou la politique publique (indicateurs "
    "mesurables) et des objectifs budgétaires (économies ou recettes).",
    f"{S000} §4",
    "",
)
FRANCE_RELANCE_RULES = [
    (
        "criterion",
        "criterion",
        "Caractère interministériel du projet : « sera souvent un critère de sélection décisif ».",
        f"{S003} §1",
        "",
    ),
    (
        "criterion",
        "criterion",
        "Présentation des économies éventuelles, sans cible de retour sur investissement.",
        f"{S000} annexe financière II",
        "",
    ),
]
NO_TERMINALS = (
    "declaration",
    "blocking",
    "Le projet ne finance pas l'achat d'équipements terminaux (il relève des budgets ministériels).",
    f"{S003} §2",
    "",
)
REFERENCE_RULE_ROWS: dict[str, list[tuple[str, str, str, str, str]]] = {
    "FTAP": [ROI_RULE, FTAP_OBJECTIVES],
    "FTAP-LEAN": LEAN_RULES,
    "FTAP-DINUM-OPI": [ROI_RULE, FTAP_OBJECTIVES],
    "DINUM-COMMUNS": [ROI_RULE],
    **{f"SNAP{i}": [NO_TERMINALS, *FRANCE_RELANCE_RULES] for i in range(1, 6)},
    **{f"ITN{i}": list(FRANCE_RELANCE_RULES) for i in range(1, 9)},
}
# Deciding committee by guichet (nearest ancestor wins), as in the committees' reference rules. The
# France Relance themes' selection bodies are the DINUM and DITP owners' ([003] §1), which the documents
# do not
# name: left « à préciser » (no committee) until the secretariat sets them; the COSINUM only received the
# note.
REFERENCE_COMMITTEES = {
    "FTAP": "COMITE-INVEST-FTAP",
    "FTAP-DINUM-OPI": "COPIL-SUITE",
    "FTAP-LEAN": "COPIL-DISPOSITIF",
}
THEME_OWNERS = (
    "",
    "DINUM",
    "DITP",
)  # [003] §1: « les porteurs DINUM et DITP » of each theme; "" = à préciser
RULE_FIELDS = (
    "mode",
    "opens_at",
    "closes_at",
    "committee_id",
    "max_total_amount",
    "min_cofinancing_pct",
    "roi_min_cents",
    "required_attachments",
)


def apply_reference_rules(guichet: Guichet, *, actor=None) -> bool:
    """Set the default rules on a guichet never edited by the secretariat; idempotent; True if changed."""
    if guichet.rules_edited_at is not None:
        return False
    values = {
        "mode": "",
        "opens_at": None,
        "closes_at": None,
        "max_total_amount": None,
        "min_cofinancing_pct": None,
        "roi_min_cents": None,
        "required_attachments": "",
    }
    values.update(REFERENCE_RULES.get(guichet.code, {}))
    committee_code = next(
        (
            REFERENCE_COMMITTEES[g.code]
            for g in [guichet, *reversed(guichet.ancestors())]
            if g.code in REFERENCE_COMMITTEES
        ),
        None,
    )
    committee = (
        db.session.scalar(select(Committee).where(Committee.code == committee_code))
        if committee_code
        else None
    )
    values["committee_id"] = committee.id if committee else None
    changes = audit.diff(guichet, values)
    wanted = REFERENCE_RULE_ROWS.get(guichet.code, [])
    current = [(r.code, r.kind, r.label, r.source, r.parameter) for r in guichet.rules]
    if current != [tuple(row) for row in wanted]:
        changes["rules"] = (len(current), len(wanted))
        guichet.rules = [
            GuichetRule(position=i, code=code, kind=kind, label=label, source=source, parameter=parameter)
            for i, (code, kind, label, source, parameter) in enumerate(wanted)
        ]
    if not changes:
        return False
    for key, value in values.items():
        setattr(guichet, key, value)
    audit.record(
        "guichet.rules_defaulted",
        guichet,
        actor=actor,
        summary=f"Règles de référence de {guichet.code}",
        changes={
            k: [str(a) if a is not None else None, str(b) if b is not None else None]
            for k, (a, b) in changes.items()
        },
    )
    return True


def _int(raw: str, field: str, errors: dict, *, label: str, minimum: int = 0, maximum: int | None = None):
    try:
        number = parse_number(raw)
    except ValueError:
        number = Decimal(-1)
    if number is None:
        return None
    if number < 0 or number != number.to_integral_value():
        errors[field] = f"{label} : saisissez un nombre entier positif (par exemple 2000000)."
        return None
    value = int(number)
    if value < minimum or (maximum is not None and value > maximum):
        errors[field] = (
            f"{label} : la valeur doit être comprise entre {minimum} et {maximum}."
            if maximum
            else f"{label} : la valeur doit être au moins {minimum}."
        )
        return None
    return value


def _roi(raw: str, errors: dict):
    try:
        number = parse_number(raw)
    except ValueError:
        errors["roi_min"] = "Retour sur investissement : saisissez un nombre (par exemple 1 ou 1,5)."
        return None
    if number is None:
        return None
    value = int(round(number * 100))
    if value <= 0 or value > 10_000:
        errors["roi_min"] = "Retour sur investissement : la valeur doit être comprise entre 0,01 et 100."
        return None
    return value


def update_rules(
    guichet: Guichet,
    *,
    mode: str,
    opens_at: datetime | None,
    closes_at: datetime | None,
    committee_id: int | None,
    max_total_amount: str,
    min_cofinancing_pct: str,
    roi_min: str,
    required_attachments: str,
    version: int,
    actor,
    owner: str | None = None,
    rule_kinds: dict[int, str] | None = None,
) -> Guichet:
    """The secretariat edits a guichet's mode, calendar, deciding committee (a France Relance theme's
    selection body) and owner, its eligibility parameters and the kind of each of its rules."""
    if not can_edit_guichet(actor, guichet):
        raise NotAllowed("Seul le secrétariat modifie les règles d'un guichet.")
    errors: dict[str, str] = {}
    if owner is not None and owner not in THEME_OWNERS:
        errors["owner"] = "Porteur du thème : DINUM, DITP ou à préciser."
    kinds = {}
    for rule in guichet.rules:
        wanted = (rule_kinds or {}).get(rule.id, rule.kind)
        if wanted not in {k.value for k in RuleKind}:
            errors[f"rule-{rule.id}-kind"] = f"{rule.code_enum.label} : nature de règle inconnue."
        elif wanted != rule.kind:
            kinds[rule] = wanted
    if mode and mode not in {m.value for m in GuichetMode}:
        errors["mode"] = "Mode inconnu."
    if mode == GuichetMode.APPEL_A_PROJETS:
        if opens_at is None:
            errors["opens_at"] = "Un appel à projets a une date d'ouverture."
        if closes_at is None:
            errors["closes_at"] = "Un appel à projets a une date de clôture."
    if opens_at and closes_at and closes_at <= opens_at:
        errors["closes_at"] = "La clôture doit être postérieure à l'ouverture."
    if committee_id is not None and db.session.get(Committee, committee_id) is None:
        errors["committee_id"] = "Comité inconnu."
    values = {
        "mode": mode or "",
        "opens_at": opens_at,
        "closes_at": closes_at if mode == GuichetMode.APPEL_A_PROJETS or closes_at else None,
        "committee_id": committee_id,
        "max_total_amount": _int(
            max_total_amount, "max_total_amount", errors, label="Montant total maximum", minimum=1
        ),
        "min_cofinancing_pct": _int(
            min_cofinancing_pct,
            "min_cofinancing_pct",
            errors,
            label="Part minimale de cofinancement",
            maximum=100,
        ),
        "roi_min_cents": _roi(roi_min, errors),
        "required_attachments": "\n".join(
            line.strip() for line in (required_attachments or "").splitlines() if line.strip()
        ),
    }
    if owner is not None:
        values["owner"] = owner
    if errors:
        raise ValidationFailed(errors)
    if version != guichet.version:
        raise StaleVersion(guichet)
    changes = audit.diff(guichet, values)
    for rule, kind in kinds.items():
        changes[f"règle {rule.position + 1} ({rule.code})"] = (rule.kind, kind)
        rule.kind = kind
    if not changes:
        return guichet
    for key, value in values.items():
        setattr(guichet, key, value)
    guichet.rules_edited_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise StaleVersion(db.session.get(Guichet, guichet.id)) from None
    audit.record(
        "guichet.rules_updated",
        guichet,
        actor=actor,
        summary=f"Règles de {guichet.code} modifiées",
        changes={
            k: [str(a) if a is not None else None, str(b) if b is not None else None]
            for k, (a, b) in changes.items()
        },
    )
    reminders.reschedule_for(guichet)  # its calendar may have moved: the closing reminders follow
    return guichet


def instructors(guichet: Guichet) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == Role.INSTRUCTEUR, UserRole.guichet_id == guichet.id)
            .order_by(User.usual_name, User.email)
        )
    )


def add_instructor(guichet: Guichet, *, email: str, actor) -> UserRole:
    if not can_edit_guichet(actor, guichet):
        raise NotAllowed("Seul le secrétariat désigne les instructeurs.")
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    if user is None:
        raise ValidationFailed(
            {"email": "Aucun compte ne porte cette adresse : l'agent doit s'être connecté une première fois."}
        )
    existing = next(
        (r for r in user.roles if r.role == Role.INSTRUCTEUR and r.guichet_id == guichet.id), None
    )
    if existing:
        return existing
    role = UserRole(role=Role.INSTRUCTEUR, guichet_id=guichet.id)
    user.roles.append(role)
    audit.record(
        "guichet.instructor_added",
        guichet,
        actor=actor,
        summary=f"{user.full_name} instructeur de {guichet.code}",
    )
    return role


def remove_instructor(guichet: Guichet, *, user: User, actor) -> None:
    if not can_edit_guichet(actor, guichet):
        raise NotAllowed("Seul le secrétariat désigne les instructeurs.")
    for role in list(user.roles):
        if role.role == Role.INSTRUCTEUR and role.guichet_id == guichet.id:
            user.roles.remove(role)
            audit.record(
                "guichet.instructor_removed",
                guichet,
                actor=actor,
                summary=f"{user.full_name} n'instruit plus {guichet.code}",
            )
