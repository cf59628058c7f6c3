"""A CSIC-Tech meeting in a real browser: the secretariat plans it, puts two qualified opportunities and
one instructed dossier on the agenda and publishes it; attendance and votes are recorded (a member votes
from their own browser); a decision is refused for lack of quorum until a member arrives; the minutes are
published; the opportunity is « validée CSIC-Tech », the dossier « accepté » and its porteur notified; a
rectifying decision corrects an amount and the register still verifies. Signed in with a meeting cookie
(the ProConnect journey has its own tests)."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, or_, select

from app.extensions import db
from app.models import (
    AuditEntry,
    Committee,
    Guichet,
    Opportunity,
    OpportunityTransition,
    Role,
    User,
    UserRole,
)
from app.models.committees import (
    AgendaItem,
    Attendance,
    Decision,
    DecisionAmount,
    ItemVote,
    Meeting,
    MeetingTransition,
)
from app.models.dossiers import Dossier, DossierTransition, FinancingAmount, FinancingLine
from app.models.minutes import Minutes
from app.models.register import RegisterEntry, RegisterVerification
from app.models.reminders import Notification, OutboxMail

from .helpers import axe_check

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(live_app):
    """CSIC-Tech with a président and three membres, two qualified opportunities, an instructed dossier of a
    guichet CSIC-Tech decides on for the test, a secretariat member and the porteur; all removed after."""
    from datetime import UTC, datetime

    from sqlalchemy import func

    with live_app.app_context():
        committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC-TECH"))
        guichet = db.session.scalar(select(Guichet).where(Guichet.code == "DINUM-COMMUNS"))
        saved_guichets = [g.id for g in committee.guichets]
        committee.guichets = [*committee.guichets, guichet]
        # members registered by earlier tests (the demo accounts) do not vote here: the quorum counts ours
        others = db.session.scalars(select(UserRole).where(UserRole.committee_id == committee.id)).all()
        saved_functions = {role.id: role.function for role in others}
        for role in others:
            role.function = "invite"
        people = {}
        for key, role, function in (
            ("secretariat", Role.SECRETARIAT, None),
            ("porteur", Role.PORTEUR, None),
            ("president", Role.COMITE, "president"),
            ("m1", Role.COMITE, "membre"),
            ("m2", Role.COMITE, "membre"),
            ("m3", Role.COMITE, "membre"),
        ):
            user = User(
                email=f"e2e-comite-{key}@example.gouv.fr", given_name="E2E", usual_name=key.capitalize()
            )
            user.roles.append(
                UserRole(role=role, committee_id=committee.id if function else None, function=function)
            )
            people[key] = user
        db.session.add_all(people.values())
        db.session.flush()
        start = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
        opportunities = [
            Opportunity(
                number=start + i,
                code=Opportunity.code_for(start + i),
                state="retenue_criblage",
                brique=f"Brique qualifiée {i + 1}",
                created_by_id=people["porteur"].id,
            )
            for i in range(2)
        ]
        dossier = Dossier(
            guichet_id=guichet.id,
            created_by_id=people["porteur"].id,
            title="Communs numériques",
            state="instruit",
            avis="favorable",
            avis_motivation="Projet solide.",
            submitted_at=datetime.now(UTC),
            start_year=2027,
        )
        line = FinancingLine(
            position=1,
            nature="Développement",
            category="T3",
            programme="349",
            financer="ftap",
            phase="cadrage",
        )
        line.amounts = [FinancingAmount(year=2027, ae=150_000, cp=150_000)]
        dossier.financing_lines = [line]
        db.session.add_all([*opportunities, dossier])
        db.session.commit()
        data = {
            "codes": [o.code for o in opportunities],
            "opportunity_ids": [o.id for o in opportunities],
            "dossier": dossier.id,
            "reference": dossier.reference,
            **{k: u.id for k, u in people.items()},
            "names": {k: u.full_name for k, u in people.items()},
        }
    yield data
    with live_app.app_context():
        for role_id, function in saved_functions.items():
            db.session.get(UserRole, role_id).function = function
        user_ids = [data[k] for k in ("secretariat", "porteur", "president", "m1", "m2", "m3")]
        committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC-TECH"))
        meeting_ids = list(
            db.session.scalars(
                select(Meeting.id).where(
                    Meeting.committee_id == committee.id,
                    Meeting.created_by_id.in_(user_ids),
                )
            )
        )
        item_ids = list(
            db.session.scalars(select(AgendaItem.id).where(AgendaItem.meeting_id.in_(meeting_ids)))
        )
        decision_ids = list(db.session.scalars(select(Decision.id).where(Decision.item_id.in_(item_ids))))
        db.session.execute(delete(RegisterVerification))  # the checks this test ran (they name its users)
        db.session.execute(delete(RegisterEntry).where(RegisterEntry.decision_id.in_(decision_ids)))
        db.session.execute(delete(DecisionAmount).where(DecisionAmount.decision_id.in_(decision_ids)))
        db.session.execute(
            delete(Decision).where(Decision.rectifies_id.is_not(None), Decision.id.in_(decision_ids))
        )
        db.session.execute(delete(Decision).where(Decision.id.in_(decision_ids)))
        db.session.execute(delete(ItemVote).where(ItemVote.item_id.in_(item_ids)))
        db.session.execute(delete(AgendaItem).where(AgendaItem.id.in_(item_ids)))
        for model in (Attendance, MeetingTransition, Minutes):
            db.session.execute(delete(model).where(model.meeting_id.in_(meeting_ids)))
        db.session.execute(delete(Meeting).where(Meeting.id.in_(meeting_ids)))
        db.session.execute(
            delete(OpportunityTransition).where(
                OpportunityTransition.opportunity_id.in_(data["opportunity_ids"])
            )
        )
        db.session.execute(delete(Opportunity).where(Opportunity.id.in_(data["opportunity_ids"])))
        db.session.execute(delete(DossierTransition).where(DossierTransition.dossier_id == data["dossier"]))
        db.session.execute(delete(Dossier).where(Dossier.id == data["dossier"]))
        db.session.execute(delete(Notification).where(Notification.user_id.in_(user_ids)))
        db.session.execute(delete(OutboxMail).where(OutboxMail.recipient_id.in_(user_ids)))
        db.session.execute(
            delete(AuditEntry).where(
                or_(AuditEntry.actor_id.in_(user_ids), AuditEntry.object_type == "committee_sessions")
            )
        )
        db.session.execute(delete(UserRole).where(UserRole.user_id.in_(user_ids)))
        db.session.execute(delete(User).where(User.id.in_(user_ids)))
        committee.guichets = [db.session.get(Guichet, i) for i in saved_guichets]
        db.session.commit()


def signed_in(new_page, live_app, base_url, user_id):
    """A browser page signed in as `user_id`: the Flask meeting cookie, signed by the live app."""
    client = live_app.test_client()
    with client.session_transaction() as meeting_data:
        meeting_data["_user_id"] = str(user_id)
        meeting_data["_fresh"] = True
    page = new_page()
    cookie = client.get_cookie(live_app.config["SESSION_COOKIE_NAME"])
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return page


def idle(page):
    page.wait_for_function(
        "() => !document.querySelector('main .htmx-request, main .htmx-settling, main .htmx-swapping')"
    )


def add_item(page, kind_label: str, choice: str, query: str, option: str):
    """Put a candidate on the agenda: its kind, its code typed in the search field (the matches swapped in
    after a pause), its radio."""
    items = page.locator("#ordre-du-jour ol > li")
    before = items.count()
    page.locator("#kind-fieldset").get_by_text(kind_label, exact=True).click()
    page.locator(f"#{choice}_search").fill(query)
    page.locator(f"#{choice}-candidates", has_text=f"« {query} »").wait_for()
    idle(page)
    assert page.evaluate("() => document.activeElement.id") == f"{choice}_search"  # the field keeps the focus
    announced = page.locator("#app-announcer")
    expect(announced).to_contain_text(f"« {query} »")  # the count is read out
    axe_check(page, "#ordre-du-jour")
    page.locator(f"#{choice}-candidates").get_by_text(option, exact=True).click()
    page.get_by_role("button", name="Ajouter à l'ordre du jour").click()
    items.nth(before).wait_for()  # the swapped agenda lists the new point
    idle(page)


def mark(page, user_id: int, status: str):
    page.select_option(f"#status-{user_id}", status)
    page.locator(f"#presence-{user_id}").get_by_role("button", name="Enregistrer").click()
    page.locator(f"#presence-{user_id} td:nth-child(3)").filter(
        has_text={"present": "Présent", "absent": "Absent"}[status]
    ).wait_for()
    idle(page)


def vote(page, card, name: str, choice: str):
    fieldset = card.locator("fieldset", has_text=f"Vote de {name}")
    fieldset.get_by_text(choice, exact=True).click()
    fieldset.get_by_role("button", name=f"Enregistrer le vote de {name}").click()
    idle(page)


def decide(page, card, outcome: str, mode: str, motivation: str = "", amounts: tuple | None = None):
    card.locator("summary", has_text="Enregistrer la décision").click()
    card.get_by_text(outcome, exact=True).click()
    card.locator("fieldset", has_text="Mode").get_by_text(mode, exact=True).click()
    if motivation:
        card.get_by_label("Motivation").fill(motivation)
    if amounts:
        year, ae, cp = amounts
        card.get_by_label("Année").first.fill(year)
        card.get_by_label("AE (€)").first.fill(ae)
        card.get_by_label("CP (€)").first.fill(cp)
    card.get_by_role("button", name="Enregistrer la décision").click()
    idle(page)


def test_csic_tech_meeting_from_planning_to_a_rectified_decision(world, live_app, base_url, new_page):
    names = world["names"]
    page = signed_in(new_page, live_app, base_url, world["secretariat"])

    # plan the meeting
    page.goto("/comites/CSIC-TECH")
    page.get_by_role("link", name="Planifier une séance").click()
    page.fill("#starts_at", "2027-01-12T14:00")
    page.fill("#place", "Ségur, salle 4012")
    page.get_by_role("button", name="Planifier la séance").click()
    page.get_by_role("heading", name=re.compile("CSIC-Tech — 12 janvier 2027 à 14:00")).wait_for()
    meeting_url = page.url

    # agenda: two qualified opportunities and the instructed dossier
    for code in world["codes"]:
        add_item(
            page,
            "Opportunité",
            "opportunity",
            code,
            f"{code} — Brique qualifiée {world['codes'].index(code) + 1} (Retenue au criblage)",
        )
    add_item(
        page,
        "Dossier",
        "dossier",
        world["reference"],
        f"{world['reference']} — Communs numériques (Instruit)",
    )
    items = page.locator("#ordre-du-jour ol > li")
    assert items.count() == 3
    assert "Avis de l'instructeur : Favorable" in items.nth(2).inner_text()
    axe_check(page, "main")
    page.get_by_role("button", name="Publier l'ordre du jour").click()
    page.locator("#actions-title", has_text="Ordre du jour publié").wait_for()
    page.get_by_role("button", name="Ouvrir la séance").click()
    page.get_by_role("heading", name=re.compile("Séance en direct")).wait_for()

    # the président arrives alone: no quorum (1 of 4 voting members, 2 required)
    mark(page, world["president"], "present")
    assert "Quorum non atteint" in page.locator("#quorum").inner_text()
    cards = page.locator("article[id^=point-]")
    vote(page, cards.nth(0), names["president"], "Pour")
    decide(page, cards.nth(0), "Validée (qualification approfondie)", "Vote")
    error = cards.nth(0).locator("[id^=decision-error-]")
    assert "Décision impossible : Quorum non atteint" in error.inner_text()

    # a member arrives, the quorum is reached; the member votes from their own browser
    mark(page, world["m1"], "present")
    assert "Quorum atteint" in page.locator("#quorum").inner_text()
    member = signed_in(new_page, live_app, base_url, world["m1"])
    member.goto(meeting_url + "/direct")
    member_card = member.locator("article[id^=point-]").nth(0)
    vote(member, member_card, names["m1"], "Pour")
    assert "2 pour, 0 contre" in member_card.inner_text()
    assert (
        member_card.locator("summary", has_text="Enregistrer la décision").count() == 0
    )  # a member does not

    page.reload()
    cards = page.locator("article[id^=point-]")
    assert (
        "Majorité simple : 2 pour, 0 contre, 0 abstention(s) — 2 > 0 : adopté." in cards.nth(0).inner_text()
    )
    decide(page, cards.nth(0), "Validée (qualification approfondie)", "Vote")
    cards.nth(0).locator("[id^=decision-]").filter(has_text="Décision n°").first.wait_for()
    decide(page, cards.nth(1), "Renvoyée", "Consensus", motivation="Coûts à préciser.")
    decide(page, cards.nth(2), "Accepté", "Consensus", amounts=("2027", "120 000", "120000"))
    assert "accepté" in cards.nth(2).inner_text().lower() and "120\u202f000" in cards.nth(2).inner_text()
    axe_check(page, "main")

    # minutes: notes, review, publication
    page.get_by_role("link", name="Procès-verbal").click()
    page.fill("#notes", "Séance ouverte à 14 h par le président.")
    page.get_by_role("button", name="Enregistrer le procès-verbal").click()
    page.locator("#app-announcer", has_text="Procès-verbal enregistré.").wait_for()
    page.get_by_role("button", name="Marquer comme relu").click()
    page.get_by_role("button", name="Publier le procès-verbal").click()
    page.locator("#minutes-state", has_text="Publié").wait_for()

    # the opportunity, the dossier and the porteur
    page.goto(f"/opportunites/{world['codes'][0]}")
    assert "Validée CSIC-Tech" in page.locator("#statut-title").inner_text()
    assert "validée (qualification approfondie)" in page.locator("#parcours-comites").inner_text().lower()
    with live_app.app_context():
        dossier = db.session.get(Dossier, world["dossier"])
        assert (dossier.state, dossier.decision_outcome) == ("decide", "accepte")
        kinds = set(
            db.session.scalars(select(Notification.kind).where(Notification.user_id == world["porteur"]))
        )
        assert "dossier.decision_communicated" in kinds and "committee.decision_recorded" not in kinds
        decision_id = dossier.decision_id
        second = db.session.get(Opportunity, world["opportunity_ids"][1])
        assert second.state == "en_criblage"  # « renvoyée » by CSIC-Tech: back to the criblage

    # a rectifying decision corrects the amount; the register still verifies
    page.goto(f"/comites/decisions/{decision_id}")
    page.get_by_role("link", name="Enregistrer une décision rectificative").click()
    page.get_by_label("Motivation").fill("Erreur matérielle sur le montant 2027.")
    page.get_by_label("AE (€)").first.fill("110000")
    page.get_by_role("button", name="Enregistrer la décision rectificative").click()
    page.wait_for_url(re.compile(r"/comites/decisions/\d+$"))
    assert page.url.rsplit("/", 1)[1] != str(decision_id)
    assert f"Décision rectificative de la décision n° {decision_id}" in page.locator("main").inner_text()
    assert "110\u202f000" in page.locator("main").inner_text()
    page.goto("/comites/registre")
    assert "Registre pas encore vérifié" in page.locator("#register-check").inner_text()
    page.get_by_role("button", name="Vérifier maintenant").click()
    expect(page.locator("#register-check")).to_contain_text("Registre intègre")
    axe_check(page, "main")
    result = live_app.test_cli_runner().invoke(args=["committees", "verify-register"])
    assert result.exit_code == 0, result.output
