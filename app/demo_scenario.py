"""The living demo (`flask demo scenario`, run by `make run`): a newcomer's walk through every journey,
built only through the services, in the order people would act, so that it also proves the journeys.

It loads two MoSCoW campaigns (one open with ballots from five ministries, one with published results),
dossiers in every state of their life cycle on FTAP, FTAP-LEAN, SNAP and ITN guichets, a CSIC-Tech meeting
held with decisions and a published PV, a FTAP investment committee that funded dossiers (one in follow-up
with a jalon reached and one late, a tranche released, the next one planned and an avenant signed), its next
meeting with a dossier proposed by its instructeur, a criblage whose retained subjects went to the CSIC-Tech
— and the notifications and mails each step sends. No state column is written here: every move is a service
call with its actor. Idempotent: a database that already holds the scenario is left as it is. Never in
production (the command refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from .demo import DEMO_ACCOUNTS
from .domain.moscow import Moscow
from .extensions import db
from .formatting import paris_today
from .models import Committee, Guichet, Opportunity, Organisation, Role, User
from .models.base import utcnow
from .models.dossiers import Dossier
from .models.portfolio import OpportunityState
from .services import (
    avenants,
    criblage,
    decisions,
    dossier_attachments,
    dossier_endorsements,
    dossier_messages,
    dossier_sections,
    dossiers,
    followup,
    meetings,
    portfolio,
    proposals,
    tranches,
    users,
    voting,
)
from .services import minutes as minutes_service
from .services.errors import ValidationFailed

MARKER = "Priorisation 2027 — démonstration"  # the open campaign's title: present → already loaded
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

DSI_MEMBERS = (  # (e-mail, given name, usual name, ministry): ballots from five ministries
    ("dsi-minarm@demo.gouv.fr", "Jean", "Moreau", "MINARM"),
    ("dsi-mj@demo.gouv.fr", "Inès", "Garnier", "MJ"),
    ("dsi-men@demo.gouv.fr", "Paul", "Fontaine", "MEN"),
    ("dsi-sgmer@demo.gouv.fr", "Léa", "Chevalier", "SGMER"),
)
COMMITTEE_MEMBERS = (  # (e-mail, given name, usual name, committee, function)
    ("csic-tech-membre1@demo.gouv.fr", "Hugo", "Lambert", "CSIC-TECH", "membre"),
    ("csic-tech-membre2@demo.gouv.fr", "Nora", "Roux", "CSIC-TECH", "membre"),
    ("ftap-presidente@demo.gouv.fr", "Sophie", "Girard", "COMITE-INVEST-FTAP", "president"),
    ("ftap-membre1@demo.gouv.fr", "Marc", "Blanc", "COMITE-INVEST-FTAP", "membre"),
    ("ftap-membre2@demo.gouv.fr", "Julie", "Faure", "COMITE-INVEST-FTAP", "membre"),
)
INSTRUCTED_GUICHETS = ("FTAP", "ITN", "SNAP")  # besides SNAP4 (the demo account's own)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


@dataclass
class Cast:
    secretariat: User
    porteur: User
    instructeur: User
    dsi: list[User]
    members: dict[str, list[User]]


def loaded() -> bool:
    return db.session.scalar(select(voting.Campaign.id).where(voting.Campaign.title == MARKER)) is not None


def run(*, now=None) -> Report:
    """Load the scenario (the caller commits); nothing when it is there already."""
    report = Report()
    if loaded():
        report.add("Scénario de démonstration déjà chargé : rien à faire.")
        return report
    now = now or utcnow()
    cast = _cast(report)
    _campaigns(cast, report)
    _csic_tech(cast, report, now)
    _dossiers(cast, report, now)
    return report


# --- people -----------------------------------------------------------------------------------------


def _account(email: str, given: str, usual: str, role: str, **scope) -> User:
    user, _ = users.register(email, actor=None, given_name=given, usual_name=usual)
    try:
        users.grant_role(user, role, actor=None, **scope)
    except ValidationFailed as error:
        if set(error.errors) != {"role"}:  # anything but "already held"
            raise
    return user


def _cast(report: Report) -> Cast:
    accounts = {}
    for a in DEMO_ACCOUNTS:
        scope = {k: a[k] for k in ("ministry", "guichet", "committee", "function") if a.get(k)}
        accounts[a["role"]] = _account(a["email"], a["given_name"], a["usual_name"], a["role"], **scope)
    for code in INSTRUCTED_GUICHETS:
        _account(accounts[Role.INSTRUCTEUR].email, "", "", Role.INSTRUCTEUR, guichet=code)
    dsi = [accounts[Role.DSI]] + [
        _account(email, given, usual, Role.DSI, ministry=ministry)
        for email, given, usual, ministry in DSI_MEMBERS
    ]
    members: dict[str, list[User]] = {"CSIC-TECH": [accounts[Role.COMITE]], "COMITE-INVEST-FTAP": []}
    for email, given, usual, committee, function in COMMITTEE_MEMBERS:
        members[committee].append(
            _account(email, given, usual, Role.COMITE, committee=committee, function=function)
        )
    db.session.flush()
    report.add(
        f"Comptes : {len(DEMO_ACCOUNTS) + len(DSI_MEMBERS) + len(COMMITTEE_MEMBERS)} (rôles attribués)"
    )
    return Cast(accounts[Role.SECRETARIAT], accounts[Role.PORTEUR], accounts[Role.INSTRUCTEUR], dsi, members)


# --- portfolio and MoSCoW campaigns -------------------------------------------------------------------


def _opportunities(count: int) -> list[Opportunity]:
    return list(db.session.scalars(select(Opportunity).order_by(Opportunity.number).limit(count)))


def _campaigns(cast: Cast, report: Report) -> None:
    secretariat = cast.secretariat
    pool = _opportunities(10)
    for opportunity in pool:  # the secretariat screens them: the campaigns' scope
        if opportunity.state == OpportunityState.IDENTIFIEE:
            portfolio.change_state(opportunity, to=OpportunityState.EN_CRIBLAGE, actor=secretariat)
    screened = [o for o in pool[8:] if o.state == OpportunityState.EN_CRIBLAGE]
    if screened:  # two retained at a criblage, for the CSIC-Tech
        session = criblage.open_criblage(
            title="Criblage de démonstration", opportunities=screened, actor=secretariat
        )
        for item in session.items:
            for reviewer in (secretariat, *cast.dsi[:2]):
                criblage.score(
                    item, maturity=4, value=3, comment="Besoin décrit, solution identifiée.", actor=reviewer
                )
        criblage.retain(session, items=list(session.items), actor=secretariat)
        report.add(
            f"Criblage « {session.title} » : {len(screened)} sujets notés et retenus pour le CSIC-Tech"
        )
    ministries = [
        db.session.scalar(select(Organisation.id).where(Organisation.code == code))
        for code in ("MI", "MINARM", "MJ", "MEN", "SGMER")
    ]
    start = utcnow()
    past = _campaign(
        "Priorisation 2026 — résultats publiés", pool[:4], ministries, start, cast, report, ballots=cast.dsi
    )
    voting.transition(past, to=voting.CampaignState.CLOSE, actor=secretariat)
    voting.transition(past, to=voting.CampaignState.PUBLIEE, actor=secretariat)
    report.add(f"Campagne « {past.title} » : votée par 5 ministères, close, résultats publiés")
    current = _campaign(MARKER, pool[4:8], ministries, start, cast, report, ballots=cast.dsi[1:])
    report.add(
        f"Campagne « {current.title} » : ouverte, 4 ministères ont voté (pas encore {cast.dsi[0].email})"
    )


VALUES = [Moscow.MUST, Moscow.SHOULD, Moscow.COULD, Moscow.WONT]


def _campaign(title, opportunities, ministries, start, cast, report, *, ballots) -> voting.Campaign:
    campaign = voting.create_campaign(
        voting.CampaignInput(
            title=title,
            description="Campagne de démonstration : classez chaque opportunité au nom de votre ministère.",
            opens_at=start + timedelta(days=1),
            closes_at=start + timedelta(days=21),
            visibility=voting.Visibility.ANONYMOUS,
            must_budget=None,
            ministry_ids=ministries,
            opportunity_ids=[o.id for o in opportunities],
        ),
        actor=cast.secretariat,
    )
    voting.transition(campaign, to=voting.CampaignState.OUVERTE, actor=cast.secretariat)  # opened early
    for i, voter in enumerate(ballots):
        for j, opportunity in enumerate(opportunities):
            voting.cast_vote(campaign, opportunity, value=VALUES[(i + j) % 3 if j else 0], actor=voter)
    return campaign


# --- committees -------------------------------------------------------------------------------------


def _committee(code: str) -> Committee:
    return db.session.scalar(select(Committee).where(Committee.code == code))


def _hold(meeting, members, decide, secretariat, notes: str) -> None:
    """Publish the agenda, open the meeting, mark the members present, decide each item, publish the PV."""
    meetings.publish_agenda(meeting, actor=secretariat)
    meetings.open_meeting(meeting, actor=secretariat)
    for member in members:
        meetings.record_attendance(meeting, user=member, status="present", actor=secretariat)
    for item in meeting.items:
        decisions.record_decision(item, mode="consensus", actor=secretariat, **decide(item))
    minutes_service.save(
        meeting, notes=notes, item_notes={}, version=meeting.minutes.version, actor=secretariat
    )
    minutes_service.review(meeting, actor=secretariat)
    minutes_service.publish(meeting, actor=secretariat)


def _csic_tech(cast: Cast, report: Report, now) -> None:
    committee = _committee("CSIC-TECH")
    meeting = meetings.plan_meeting(
        committee,
        starts_at=now - timedelta(hours=3),
        duration_minutes=120,
        place="DINUM, 20 avenue de Ségur, Paris",
        actor=cast.secretariat,
    )
    qualified = [o for o in _opportunities(10) if o.state == OpportunityState.RETENUE_CRIBLAGE]
    for opportunity in qualified:
        meetings.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=cast.secretariat)
    outcomes = iter(
        [
            {"outcome": "validee", "motivation": "Besoin partagé par cinq ministères, valeur élevée."},
            {"outcome": "renvoyee", "motivation": "Coûts et calendrier à préciser avant validation."},
        ]
    )
    _hold(
        meeting,
        cast.members["CSIC-TECH"],
        lambda item: next(outcomes),
        cast.secretariat,
        "Séance ouverte par le président ; deux opportunités qualifiées examinées.",
    )
    report.add(f"Séance « {meeting.label} » : tenue, 2 décisions, procès-verbal publié")


# --- dossiers -----------------------------------------------------------------------------------------


def section_data(dossier: Dossier, porteur: User, *, ftap_ae: int, porteur_ae: int, jalons=None) -> dict:
    y = dossier.start_year
    jalons = jalons or [(f"{y}-06-30", "Prototype", "Version 1")]
    return {
        "projet": {
            "title": dossier.title,
            "start_year": str(y),
            "starts_on": f"{y}-01-01",
            "ends_on": f"{y + 2}-12-31",
            # the porteur's declarations the guichet asks for (SNAP: no terminal equipment financed)
            "declarations": [str(r.id) for r in dossier.guichet.rules if r.code == "declaration"],
        },
        "porteurs": {
            "porteur_organisation": "DINUM",
            "porteur-projet_name": porteur.full_name,
            "porteur-projet_email": porteur.email,
        },
        "enjeu": {"enjeu": "Les agents n'ont pas d'outil commun : chaque ministère développe le sien."},
        "solution": {"solution": "Une brique interministérielle mutualisée, opérée par la DINUM."},
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
        },  # fmt: skip
        "beneficiaires": {"rows": [(0, {"group": "Agents de l'État", "population": "250000"})]},
        # two result indicators, each with a target per year ([001] §5.2)
        "indicateurs": {
            "rows": [
                (
                    0,
                    {
                        "objective": "Adoption",
                        "indicator": "Utilisateurs actifs",
                        "current_value": "0",
                        "target_value": "50000",
                        "frequency": "trimestrielle",
                        f"target-{y}": "10 000",
                        f"target-{y + 1}": "50 000",
                        f"target-{y + 2}": "120 000",
                    },
                ),
                (
                    1,
                    {
                        "objective": "Qualité de service",
                        "indicator": "Ministères raccordés",
                        "current_value": "1",
                        "target_value": "4",
                        "frequency": "annuelle",
                        f"target-{y}": "2",
                        f"target-{y + 1}": "5",
                        f"target-{y + 2}": "10",
                    },
                ),
            ]
        },  # fmt: skip
        "economies": {
            "rows": [
                (
                    0,
                    {
                        "nature": "Licences évitées",
                        "category": "T3",
                        "programme": "P129",
                        f"y-{y + 1}": str(ftap_ae),
                        f"y-{y + 2}": str(ftap_ae),
                        f"cp-{y + 1}": str(ftap_ae // 2),  # CP: half paid the year the AE are saved
                    },
                ),
            ],
            # T2 helper ([000] annex II): 1,5 ETP of category B saved, 0,5 of them redeployed
            "staff-B-cost": "48 000",
            f"staff-B-{y + 2}": "1,5",
            f"staff-B-r-{y + 2}": "0,5",
            # additional revenue ([000] §4.2.3)
            "revenues": [
                (0, {"nature": "Abonnements des opérateurs", "programme": "P129", f"y-{y + 2}": "30 000"})
            ],
        },  # fmt: skip
        "jalons": {
            "rows": [
                (
                    i,
                    {"number": str(i + 1), "due_on": due, "description": what, "deliverables": proof}
                    # a jalon may be a budget-consumption milestone: AE and CP expected consumed (§5.2)
                    | dict(zip(("ae_planned", "cp_planned"), map(str, budget), strict=False)),
                )
                for i, (due, what, proof, *budget) in enumerate(jalons)
            ]
        },
        "gouvernance": {"gouvernance": "COPIL trimestriel avec les ministères utilisateurs."},
        # the parties and signatories ([000] preamble and signature block; dated when the contract is signed)
        "signataires": {
            "rows": [
                (
                    0,
                    {
                        "side": "porteur",
                        "organisation": "Direction interministérielle du numérique (DINUM)",
                        "function": "La directrice interministérielle du numérique",
                        "name": porteur.full_name,
                    },
                ),
                (
                    1,
                    {
                        "side": "fonds",
                        "organisation": "Direction interministérielle de la transformation publique (DITP)",
                        "function": "Le délégué interministériel à la transformation publique",
                        "name": "Thierry LAMBERT",
                    },
                ),
            ]
        },  # fmt: skip
    }


def _draft(guichet: str, title: str, cast: Cast, *, start_year=None, ftap_ae=400_000, porteur_ae=400_000,
           jalons=None, complete=True) -> Dossier:  # fmt: skip
    porteur = cast.porteur
    dossier = dossiers.create_dossier(
        guichet=db.session.scalar(select(Guichet).where(Guichet.code == guichet)),
        title=title,
        start_year=str(start_year or paris_today().year + 1),
        actor=porteur,
    )
    db.session.flush()
    data = section_data(dossier, porteur, ftap_ae=ftap_ae, porteur_ae=porteur_ae, jalons=jalons)
    keys = list(data) if complete else ["projet", "enjeu"]
    for key in keys:
        dossier_sections.save_section(
            dossier, key, data[key], version=dossier.section_version(key), actor=porteur
        )
    for kind in dossier.guichet.required_attachment_list if complete else []:
        dossier_attachments.add_attachment(
            dossier, filename=f"{kind.lower().replace(' ', '-')}.pdf", content=PDF, kind=kind, actor=porteur
        )
    return dossier


def _deposited(*args, **kw) -> Dossier:
    dossier = _draft(*args, **kw)
    dossiers.submit(dossier, actor=args[2].porteur)
    if dossier_endorsements.pending(dossier):  # France Relance: the porteur ministry's DSI vises it
        dossier_endorsements.endorse(
            dossier,
            decision="vise",
            comment="Projet porté par la DNUM, inscrit à la feuille de route ministérielle.",
            actor=dossier_endorsements.dnum_members(dossier)[0],
        )
    return dossier


def _instructed(guichet, title, cast, **kw) -> Dossier:
    dossier = _deposited(guichet, title, cast, **kw)
    dossiers.start_instruction(dossier, actor=cast.instructeur)
    dossiers.record_avis(
        dossier, avis="favorable", motivation="Dossier complet, retour sur investissement démontré.",
        actor=cast.instructeur,
    )  # fmt: skip
    return dossier


def _dossiers(cast: Cast, report: Report, now) -> None:
    porteur, instructeur = cast.porteur, cast.instructeur
    _draft("SNAP4", "Messagerie instantanée souveraine", cast, complete=False)
    _deposited("ITN1", "Démarche en ligne de demande de subvention", cast)
    on_it = _deposited("SNAP4", "Visioconférence de l'État", cast)
    dossiers.start_instruction(on_it, actor=instructeur)
    asked = _deposited("ITN2", "Plateforme de données des politiques sociales", cast)
    dossiers.start_instruction(asked, actor=instructeur)
    dossiers.request_complements(
        asked, sections=["financement"], reason="incomplet", actor=instructeur,
        message="Précisez la part de chaque co-financeur en année 2 et joignez leurs engagements.",
    )  # fmt: skip
    lean = _instructed(
        "FTAP-LEAN", "Accélérateur de performance des préfectures", cast, ftap_ae=500_000, porteur_ae=600_000
    )
    proposals.propose_dossier(lean, reason="Avis favorable, à examiner en comité.", actor=instructeur)
    withdrawn = _deposited("SNAP3", "Postes de travail durcis", cast)
    dossiers.withdraw(withdrawn, reason="Projet repris dans le marché ministériel.", actor=porteur)
    dismissed = _deposited("ITN5", "Entrepôt de données expérimental", cast)
    dossiers.start_instruction(dismissed, actor=instructeur)
    dossiers.dismiss(
        dismissed,
        motivation="Hors du périmètre du volet ITN5 (pas de recours à la donnée).",
        actor=instructeur,
    )
    dossier_messages.post_message(
        asked,
        body="Le plan de financement est-il arrêté avec vos co-financeurs ?",
        files=[],
        actor=instructeur,
    )
    dossier_messages.post_message(
        asked, body="Oui, les engagements arrivent cette semaine : je les joins au dossier.", files=[],
        actor=porteur,
    )  # fmt: skip
    _proposed(cast, now)
    _ftap_committee(cast, now)
    report.add("Dossiers : un dossier dans chaque état du cycle de vie (FTAP, FTAP-LEAN, SNAP, ITN)")
    report.add("Comité d'investissement du FTAP : prochaine séance, un dossier inscrit, un autre proposé")
    report.add(
        "Comité d'investissement du FTAP : tenu, PV publié ; dossiers décidé, conventionné, en suivi, clos"
    )


def _proposed(cast: Cast, now) -> None:
    """An instructed FTAP dossier that its instructeur proposes for the next investment committee: the
    secretariat accepts the proposal in the agenda builder and publishes the agenda (« inscrit »)."""
    dossier = _instructed("FTAP", "Suite collaborative des services déconcentrés", cast)
    proposal = proposals.propose_dossier(
        dossier, reason="Avis favorable : à inscrire au prochain comité.", actor=cast.instructeur
    )
    meeting = meetings.plan_meeting(
        _committee("COMITE-INVEST-FTAP"),
        starts_at=now + timedelta(days=14),
        duration_minutes=120,
        visio_url="https://webconf.numerique.gouv.fr/comite-ftap",
        actor=cast.secretariat,
    )
    meetings.accept_proposal(meeting, proposal, actor=cast.secretariat)
    meetings.publish_agenda(meeting, actor=cast.secretariat)


def _ftap_committee(cast: Cast, now) -> None:
    """Four FTAP dossiers decided by the FTAP investment committee; the funded ones are contracted, one
    followed up (a jalon reached, one late), one closed."""
    year = paris_today().year - 1  # started last year: its first jalons are due already
    jalons = [  # the first two translated into budget-consumption milestones (AE, CP cumulated)
        (f"{year}-06-30", "Prototype", "Version 1 en recette", 200_000, 100_000),
        (f"{year + 1}-03-31", "Pilote dans trois ministères", "Bilan du pilote", 600_000, 450_000),
        (f"{year + 2}-06-30", "Généralisation", "Ouverture à tous les ministères"),
    ]
    titles = {
        "refused": "Annuaire unifié des agents",
        "contracted": "Signature électronique interministérielle",
        "followed": "Hub de services aux usagers",
        "closed": "Formulaires en ligne accessibles",
    }
    chosen = {
        key: _instructed(
            "FTAP", title, cast, start_year=year, ftap_ae=600_000, porteur_ae=400_000, jalons=jalons
        )
        for key, title in titles.items()
    }
    meeting = meetings.plan_meeting(
        _committee("COMITE-INVEST-FTAP"),
        starts_at=now - timedelta(days=2),
        duration_minutes=120,
        place="Direction du budget, Bercy",
        actor=cast.secretariat,
    )
    for dossier in chosen.values():
        meetings.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=cast.secretariat)
    by_dossier = {d.id: key for key, d in chosen.items()}

    def decide(item) -> dict:
        if by_dossier[item.dossier_id] == "refused":
            return {"outcome": "refuse", "motivation": "Un annuaire équivalent existe déjà (doublon)."}
        return {
            "outcome": "accepte_sous_conditions",
            "conditions": "Rapport d'avancement semestriel au comité ; code publié sous licence libre.",
            "motivation": "Projet mutualisable à fort retour sur investissement.",
            "amounts": [
                decisions.AmountLine(str(year), "600000", "300000"),
                decisions.AmountLine(str(year + 1), "0", "300000"),
            ],
        }

    _hold(
        meeting,
        cast.members["COMITE-INVEST-FTAP"],
        decide,
        cast.secretariat,
        "Quatre dossiers FTAP examinés.",
    )
    for key in ("contracted", "followed", "closed"):
        dossiers.mark_contracted(chosen[key], actor=cast.secretariat)
    for key in ("followed", "closed"):
        dossiers.start_follow_up(chosen[key], actor=cast.secretariat)
    followed = chosen["followed"]
    first = min(followed.jalons, key=lambda j: j.number)
    followup.report_jalon(
        followed,
        jalon_id=first.id,
        achieved_on=date(year, 6, 25).isoformat(),
        proof="Procès-verbal de recette de la version 1",
        actor=cast.porteur,
    )
    dossiers.close(chosen["closed"], actor=cast.secretariat, reason="Projet livré et généralisé.")
    _tranches_and_avenant(followed, cast, year)


def _tranches_and_avenant(followed: Dossier, cast: Cast, year: int) -> None:
    """The followed dossier's money: credits consumed, a first tranche released by the secretariat, the
    next one still planned (the first-quarter decision is due), and an avenant signed that raises the
    amount granted and moves the pilot's jalon ([004] §6, [000] §8)."""
    followup.report_consumption(followed, year=year, ae=450_000, cp=150_000, actor=cast.porteur)
    first = tranches.plan(
        followed,
        planned_amount=300_000,
        planned_year=year,
        planned_quarter=1,
        conditions="Signature du contrat",
        actor=cast.secretariat,
    )
    tranches.release(
        followed, tranche_id=first.id, amount=300_000, released_on=date(year, 3, 15), actor=cast.secretariat
    )
    tranches.plan(
        followed,
        planned_amount=300_000,
        planned_year=year + 1,
        planned_quarter=1,
        conditions="Jalon n° 2 atteint et indicateurs transmis",
        actor=cast.secretariat,
    )
    pilot = next(j for j in followed.jalons if j.number == 2)
    avenant = avenants.draft(
        followed,
        object="Extension du pilote à deux ministères supplémentaires",
        new_amount=700_000,
        jalon_id=pilot.id,
        jalon_new_due_on=f"{year + 1}-06-30",
        actor=cast.secretariat,
    )
    avenants.sign(
        followed,
        avenant_id=avenant.id,
        signed_on=date(year + 1, 2, 1) if date(year + 1, 2, 1) <= paris_today() else paris_today(),
        signed_file=("avenant-1-signe.pdf", PDF),
        actor=cast.secretariat,
    )
