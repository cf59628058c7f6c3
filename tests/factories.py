"""make_<noun>(**kw) helpers writing through the real models (never mocks)."""

import itertools

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Guichet, Opportunity, Organisation, Role, User, UserRole

_seq = itertools.count(1)


def make_user(*roles: str, email: str | None = None, ministry: str | None = None, **kw) -> User:
    n = next(_seq)
    user = User(
        email=(email or f"agent{n}@example.gouv.fr").lower(),
        given_name=kw.pop("given_name", "Agent"),
        usual_name=kw.pop("usual_name", f"Test{n}"),
        **kw,
    )
    db.session.add(user)
    organisation = None
    if ministry:
        organisation = db.session.scalar(select(Organisation).where(Organisation.code == ministry))
    for role in roles or (Role.PORTEUR,):
        user.roles.append(
            UserRole(
                role=role, organisation_id=organisation.id if organisation and role == Role.DSI else None
            )
        )
    db.session.commit()  # releases the test's savepoint only; the outer transaction is rolled back
    return user


def make_opportunity(brique: str = "Brique de test", besoin: str = "Besoin de test", **kw) -> Opportunity:
    from sqlalchemy import func

    number = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
    opportunity = Opportunity(
        number=number, code=Opportunity.code_for(number), brique=brique, besoin=besoin, **kw
    )
    db.session.add(opportunity)
    db.session.commit()
    return opportunity


def make_campaign(
    opportunities=None,
    *,
    state: str = "ouverte",
    visibility: str = "anonymous",
    must_budget: int | None = None,
    ministries=(),
    title: str = "Campagne de test",
    **kw,
):
    """A MoSCoW campaign (open by default, window around now) on the given opportunities (default: three
    new ones in screening)."""
    from datetime import timedelta

    from app.models.base import utcnow
    from app.models.voting import Campaign

    now = utcnow()
    if opportunities is None:
        opportunities = [make_opportunity(brique=f"Brique votée {i}", state="en_criblage") for i in range(3)]
    organisations = [
        db.session.scalar(select(Organisation).where(Organisation.code == code)) for code in ministries
    ]
    campaign = Campaign(
        title=title,
        state=state,
        visibility=visibility,
        must_budget=must_budget,
        opens_at=kw.pop("opens_at", now - timedelta(hours=1)),
        closes_at=kw.pop("closes_at", now + timedelta(days=7)),
        **kw,
    )
    if state != "brouillon":
        campaign.opened_at = campaign.opens_at
    campaign.opportunities = list(opportunities)
    campaign.ministries = organisations
    db.session.add(campaign)
    db.session.commit()
    return campaign


# --- committees -------------------------------------------------------------------------------------------


def make_committee_members(
    code: str = "CSIC-TECH", functions=("president", "secretaire", "membre", "membre", "invite")
):
    """Give the committee `code` one new user per function; returns (committee, users in that order)."""
    from app.models import Committee

    committee = db.session.scalar(select(Committee).where(Committee.code == code))
    users = []
    for function in functions:
        user = make_user(Role.COMITE, usual_name=f"{function.capitalize()}{next(_seq)}")
        user.roles[0].committee_id = committee.id
        user.roles[0].function = function
        users.append(user)
    db.session.commit()
    return committee, users


def make_committee_meeting(code: str = "CSIC-TECH", *, starts_at=None, **kw):
    from datetime import UTC, datetime, timedelta

    from app.models import Committee, Meeting

    committee = db.session.scalar(select(Committee).where(Committee.code == code))
    meeting = Meeting(
        committee=committee,
        starts_at=starts_at or datetime.now(UTC) + timedelta(days=7),
        duration_minutes=kw.pop("duration_minutes", 120),
        **kw,
    )
    db.session.add(meeting)
    db.session.commit()
    return meeting


def make_instructed_dossier(
    porteur,
    *,
    guichet: str = "FTAP-DINUM-OPI",
    title: str = "Dossier de test",
    requested_ae: int = 300_000,
    start_year: int = 2027,
    state: str = "instruit",
    **kw,
):
    """A dossier already instructed (avis favorable) asking the fund for `requested_ae` over its first
    year."""
    from datetime import UTC, datetime

    from app.models import Guichet
    from app.models.dossiers import Dossier, FinancingAmount, FinancingLine

    kw = {"avis": "favorable", "avis_motivation": "Projet solide.", **kw}
    dossier = Dossier(
        guichet_id=db.session.scalar(select(Guichet.id).where(Guichet.code == guichet)),
        created_by_id=porteur.id,
        title=title,
        state=state,
        submitted_at=datetime.now(UTC),
        start_year=start_year,
        **kw,
    )
    line = FinancingLine(
        position=1, nature="Développement", category="T3", programme="349", financer="ftap", phase="cadrage"
    )
    line.amounts = [FinancingAmount(year=start_year, ae=requested_ae, cp=requested_ae)]
    dossier.financing_lines = [line]
    db.session.add(dossier)
    db.session.commit()
    return dossier


# --- guichets and dossiers ------------------------------------------------------------------------------


def make_instructor(guichet_code: str = "SNAP4", **kw) -> User:
    """A user with the instructeur role on the guichet `guichet_code`."""
    from app.models import Guichet

    guichet = db.session.scalar(select(Guichet).where(Guichet.code == guichet_code))
    user = make_user(Role.INSTRUCTEUR, **kw)
    user.roles[0].guichet_id = guichet.id
    db.session.commit()
    return user


def make_dossier(
    owner: User | None = None,
    guichet_code: str = "SNAP4",
    *,
    title: str = "Dossier de test",
    start_year: int = 2026,
    **kw,
):
    """A brouillon dossier (no section filled) on `guichet_code`, by `owner` (a new porteur by default)."""
    from app.models import Dossier, Guichet

    owner = owner or make_user(Role.PORTEUR)
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == guichet_code))
    dossier = Dossier(guichet=guichet, title=title, start_year=start_year, created_by_id=owner.id, **kw)
    db.session.add(dossier)
    db.session.commit()
    return dossier


def complete_dossier(dossier, actor: User, *, ftap_ae: int = 600_000, porteur_ae: int = 400_000):
    """Fill every section of `dossier` through the services (two financing lines, two indicators, a jalon)."""
    from app.services import dossier_sections

    y = dossier.start_year
    sections = {
        "projet": {
            "title": dossier.title,
            "start_year": str(y),
            "starts_on": f"{y}-01-01",
            "ends_on": f"{y + 2}-12-31",
            "declarations": [str(r.id) for r in dossier.guichet.rules if r.code == "declaration"],
        },
        "porteurs": {
            "porteur_organisation": "DINUM",
            "porteur-projet_name": "Camille Martin",
            "porteur-projet_email": actor.email,
        },
        "enjeu": {"enjeu": "Les agents n'ont pas d'outil collaboratif souverain."},
        "solution": {"solution": "Une suite collaborative interministérielle."},
        "financement": {
            "rows": [
                (
                    0,
                    {
                        "nature": "Développement",
                        "category": "T5",
                        "programme": "P349",
                        "financer": "ftap",
                        "phase": "experimentation",
                        f"ae-{y}": str(ftap_ae),
                        f"cp-{y}": str(ftap_ae),
                    },
                ),
                (
                    1,
                    {
                        "nature": "Équipe projet",
                        "category": "T3",
                        "programme": "P129",
                        "financer": "porteur",
                        "phase": "experimentation",
                        f"ae-{y + 1}": str(porteur_ae),
                        f"cp-{y + 1}": str(porteur_ae),
                    },
                ),
            ]
        },
        "beneficiaires": {"rows": [(0, {"group": "Agents de l'État", "population": "2500000"})]},
        "indicateurs": {
            "rows": [
                (
                    0,
                    {
                        "objective": "Adoption",
                        "indicator": "Utilisateurs actifs",
                        "current_value": "500000",
                        "target_value": "+50 %",
                        "frequency": "trimestrielle",
                    },
                ),
                (
                    1,
                    {
                        "objective": "Qualité",
                        "indicator": "Applications suivies par des KPI",
                        "current_value": "0",
                        "target_value": "5",
                        "frequency": "trimestrielle",
                    },
                ),
            ]
        },
        "economies": {
            "rows": [
                (
                    0,
                    {
                        "nature": "Licences évitées",
                        "category": "T3",
                        "programme": "P129",
                        f"y-{y + 2}": "700000",
                        f"y-{y + 3}": "700000",
                    },
                )
            ]
        },
        "jalons": {
            "rows": [
                (
                    0,
                    {
                        "number": "1",
                        "due_on": f"{y}-06-30",
                        "description": "Prototype",
                        "deliverables": "Version 1",
                    },
                )
            ]
        },
        "gouvernance": {"gouvernance": "COPIL mensuel avec la DITP et la DINUM."},
    }
    for key, data in sections.items():
        dossier_sections.save_section(dossier, key, data, version=dossier.section_version(key), actor=actor)
    from app.services import dossier_attachments

    for kind in dossier.guichet.required_attachment_list:  # the pieces the guichet requires
        dossier_attachments.add_attachment(
            dossier, filename=f"{kind}.pdf", content=MINIMAL_PDF, kind=kind, actor=actor
        )
    db.session.commit()
    return dossier


MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


HUB_LINES = [  # [001] §2, in euros: (nature, category, programme, financer, phase, {year: (ae, cp)})
    ("Avant-projet — DINUM", "T5", "P129", "porteur", "cadrage", {2019: (200_000, 0), 2020: (0, 200_000)}),
    (
        "Investissement total (HUB + BO PSL) — FTAP",
        "T5",
        "P349",
        "ftap",
        "experimentation",
        {2020: (1_275_000, 637_500), 2021: (0, 637_500)},
    ),
    (
        "Investissement total (HUB + BO PSL) — DILA",
        "T5",
        "P624",
        "co:DILA",
        "experimentation",
        {2020: (625_000, 312_500), 2021: (600_000, 612_500), 2022: (0, 300_000)},
    ),
    (
        "Conduite du changement — DGS",
        "T5",
        "P204",
        "co:DGS",
        "generalisation",
        {2020: (125_000, 125_000), 2021: (175_000, 175_000)},
    ),
    (
        "Conduite du changement — DILA",
        "T5",
        "P624",
        "co:DILA",
        "generalisation",
        {2021: (75_000, 75_000), 2022: (125_000, 125_000)},
    ),
    (
        "Coûts de support — DILA",
        "T5",
        "P624",
        "co:DILA",
        "generalisation",
        {2020: (50_000, 50_000), 2021: (100_000, 100_000), 2022: (100_000, 100_000)},
    ),
    (
        "Coûts d'infrastructure — DINUM",
        "T5",
        "P129",
        "porteur",
        "generalisation",
        {2020: (50_000, 50_000), 2021: (200_000, 200_000), 2022: (25_000, 25_000)},
    ),
    ("Coûts d'infrastructure — DILA", "T5", "P624", "co:DILA", "generalisation", {2022: (125_000, 125_000)}),
]
HUB_SAVINGS = [  # [001] §3: T3 savings on P624 from June 2022
    ("Maintenance des briques applicatives", {2022: 168_000, 2023: 335_000, 2024: 335_000}),
    ("Coûts de gestion", {2022: 290_000, 2023: 580_000, 2024: 580_000}),
    ("Coûts d'infrastructure", {2022: 180_000, 2023: 360_000, 2024: 360_000}),
]


def make_hub_dossier(actor: User):
    """The HUB transformation contract ([001]) as a dossier on the FTAP guichet, entered via the services."""
    from app.services import dossier_sections

    dossier = make_dossier(
        actor, "FTAP", title="Nouveau HUB d'échange de données (remplacement de la PEC)", start_year=2019
    )
    dossier_sections.save_section(
        dossier,
        "porteurs",
        {
            "porteur_organisation": "DINUM",
            "porteur-projet_name": "Référent DINUM",
            "porteur-projet_email": actor.email,
            "co": [
                (
                    0,
                    {
                        "organisation": "DILA",
                        "budget_name": "Référent DILA",
                        "budget_email": "budget@dila.gouv.fr",
                    },
                ),
                (
                    1,
                    {
                        "organisation": "DGS",
                        "projet_name": "Référent DGS",
                        "projet_email": "projet@dgs.gouv.fr",
                    },
                ),
            ],
        },
        version=0,
        actor=actor,
    )
    rows = []
    for i, (nature, category, programme, financer, phase, amounts) in enumerate(HUB_LINES):
        row = {
            "nature": nature,
            "category": category,
            "programme": programme,
            "financer": financer,
            "phase": phase,
        }
        for year, (ae, cp) in amounts.items():
            row[f"ae-{year}"], row[f"cp-{year}"] = str(ae), str(cp)
        rows.append((i, row))
    dossier_sections.save_section(dossier, "financement", {"rows": rows}, version=0, actor=actor)
    savings = []
    for i, (nature, amounts) in enumerate(HUB_SAVINGS):
        row = {"nature": nature, "category": "T3", "programme": "P624"}
        row.update({f"y-{year}": str(value) for year, value in amounts.items()})
        savings.append((i, row))
    dossier_sections.save_section(dossier, "economies", {"rows": savings}, version=0, actor=actor)
    db.session.commit()
    return dossier


def guichet_by_code(code: str) -> Guichet:
    return db.session.scalar(select(Guichet).where(Guichet.code == code))


def audit_entries(obj, action: str) -> list[AuditEntry]:
    """The audit entries of `action` written about `obj`."""
    return db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == type(obj).__tablename__,
            AuditEntry.object_id == str(obj.id),
            AuditEntry.action == action,
        )
    ).all()


# [001] §5.2: « au moins deux indicateurs de résultat … la valeur actuelle et une cible pour chaque année »
HUB_INDICATORS = [  # (indicator, current value, {year: target})
    (
        "Nombre de démarches transférées sur le nouveau Hub",
        "0",
        {2019: "0", 2020: "1", 2021: "12", 2022: "32"},
    ),
    (
        "Nombre de télé-dossiers opérés",
        "0",
        {
            2019: "0",
            2020: "123 000 (25 % du volume total de CertDC)",
            2021: "307 000 (50 % du volume total de CertDC) + 800 000 (20 % des télé-dossiers DILA)",
            2022: "430 000 (100 % de CertDC) + 4 millions (100 % du volume de la DILA)",
        },
    ),
]
# [001] preamble (« conclu entre la DINUM, la DILA et la DSAF d'une part, et la DITP et la DB d'autre part »)
# and its last page: the four signatories, their functions (no dates are written in the source).
HUB_SIGNATORIES = [  # (side, organisation, function, name)
    (
        "porteur",
        "Direction interministérielle du numérique (DINUM)",
        "Le directeur interministériel du numérique",
        "Nadi BOU HANNA",
    ),
    (
        "porteur",
        "Direction des services administratifs et financiers (DSAF)",
        "Le directeur des services administratifs et financiers du Premier ministre",
        "Serge DUVAL",
    ),
    (
        "fonds",
        "Direction interministérielle de la transformation publique (DITP)",
        "Le délégué interministériel à la transformation publique",
        "Thierry LAMBERT",
    ),
    ("fonds", "Direction du budget (DB)", "La directrice du budget", "Amélie VERDI"),
]


def hub_indicator_rows() -> list[tuple[int, dict]]:
    return [
        (
            i,
            {"objective": "Résultat", "indicator": indicator, "current_value": current}
            | {f"target-{year}": value for year, value in targets.items()},
        )
        for i, (indicator, current, targets) in enumerate(HUB_INDICATORS)
    ]


# [004] last page: « Le 31/07/2023 Le délégué interministériel à la transformation publique Thierry LAMBERT »
# (the one signatory and date the Lean contract writes).
LEAN_SIGNATURE = ("Thierry LAMBERT", "31/07/2023")


def hub_signatory_rows(dates: dict[str, str] | None = None) -> list[tuple[int, dict]]:
    """The HUB's signatories as the section's rows; `dates` {name: « JJ/MM/AAAA »} typed by the test (the
    HUB writes none: the tests reuse the date [004] gives the same signatory, LEAN_SIGNATURE)."""
    dates = dates or {}
    return [
        (
            i,
            {
                "side": side,
                "organisation": organisation,
                "function": function,
                "name": name,
                "signed_on": dates.get(name, ""),
            },
        )
        for i, (side, organisation, function, name) in enumerate(HUB_SIGNATORIES)
    ]


def make_followed_dossier(
    porteur,
    *,
    amounts: dict | None = None,
    signed_days_ago: int = 30,
    state: str = "en_suivi",
    jalons=(),
    **kw,
):
    """A funded dossier under follow-up: a favourable decision granting `amounts` (year → (AE, CP)) on the
    FTAP investment committee, signed `signed_days_ago` days ago, with the given Jalon rows."""
    from datetime import UTC, datetime, timedelta

    from app.models import AgendaItem, Committee, Decision, DecisionAmount
    from app.models.dossiers import DossierTransition

    dossier = make_instructed_dossier(porteur, state=state, decision_outcome="accepte", **kw)
    meeting = make_committee_meeting("COMITE-INVEST-FTAP", starts_at=datetime.now(UTC) - timedelta(days=60))
    item = AgendaItem(
        meeting_id=meeting.id, position=1, kind="dossier", title=dossier.title, dossier_id=dossier.id
    )
    db.session.add(item)
    db.session.flush()
    committee = db.session.scalar(select(Committee).where(Committee.code == "COMITE-INVEST-FTAP"))
    decision = Decision(
        item_id=item.id,
        meeting_id=meeting.id,
        committee_id=committee.id,
        outcome="accepte",
        mode="consensus",
        locked=True,
    )
    db.session.add(decision)
    db.session.flush()
    for year, (ae, cp) in (amounts if amounts is not None else {2027: (600_000, 300_000)}).items():
        db.session.add(DecisionAmount(decision_id=decision.id, year=year, ae=ae, cp=cp))
    dossier.decision_id = decision.id
    dossier.jalons = list(jalons)
    db.session.add(
        DossierTransition(
            dossier_id=dossier.id,
            from_state="decide",
            to_state="conventionne",
            created_at=datetime.now(UTC) - timedelta(days=signed_days_ago),
        )
    )
    db.session.commit()
    return dossier
