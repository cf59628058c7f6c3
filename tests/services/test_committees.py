"""Committee services: quorum and majority (hand-computed), meetings and their generation, agenda, attendance,
votes, decisions and their effects, immutability, the hash-chained register, minutes."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Committee, Decision, Meeting, Opportunity
from app.models.register import DecisionLocked
from app.queries.committees import dossier_candidates
from app.services import committees as service
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from app.services import minutes as minutes_service
from app.services.errors import DomainError, NotAllowed, ValidationFailed
from tests.factories import make_committee_meeting, make_committee_members


@pytest.fixture
def secretariat(make_user):
    return make_user("secretariat")


@pytest.fixture
def board(db_session):
    """CSIC-Tech with président, secrétaire, two membres (4 voting members) and an invité."""
    committee, (president, secretary, m1, m2, guest) = make_committee_members("CSIC-TECH")
    return committee, president, secretary, m1, m2, guest


def committee(code):
    return db.session.scalar(select(Committee).where(Committee.code == code))


def test_reference_load_gives_cinum_its_monthly_rule(db_session):
    cinum = committee("CINUM")
    assert (cinum.recurrence, cinum.recurrence_time) == ("FREQ=MONTHLY;BYDAY=1TU", "14:00")
    assert committee("CSIC-TECH").opportunity_stages == ["retenue_criblage"]
    assert [g.code for g in committee("COMITE-INVEST-FTAP").guichets] == ["FTAP"]


def test_generation_is_idempotent_and_respects_moved_and_cancelled_meetings(secretariat):
    cinum = committee("CINUM")
    created = service.generate_meetings(
        cinum, until=date(2027, 3, 31), actor=secretariat, today=date(2026, 11, 22)
    )
    assert [s.occurrence for s in created] == ["2026-12-01", "2027-01-05", "2027-02-02", "2027-03-02"]
    assert created[1].starts_at == datetime(2027, 1, 5, 13, 0, tzinfo=UTC)
    meeting_service.cancel_meeting(created[0], reason="Trêve des confiseurs", actor=secretariat)
    meeting_service.update_meeting(
        created[1],
        starts_at=datetime(2027, 1, 12, 13, 0, tzinfo=UTC),
        duration_minutes=90,
        place="Ségur",
        visio_url="",
        title="",
        version=created[1].version,
        actor=secretariat,
    )
    again = service.generate_meetings(
        cinum, until=date(2027, 4, 30), actor=secretariat, today=date(2026, 11, 22)
    )
    assert [s.occurrence for s in again] == ["2027-04-06"]
    meetings = db.session.scalars(
        select(Meeting).where(Meeting.committee_id == cinum.id).order_by(Meeting.occurrence)
    ).all()
    assert [(s.occurrence, s.state) for s in meetings][:2] == [
        ("2026-12-01", "annulee"),
        ("2027-01-05", "planifiee"),
    ]
    assert meetings[1].starts_at == datetime(2027, 1, 12, 13, 0, tzinfo=UTC)
    assert [t.to_state for t in meetings[0].transitions] == ["annulee"]


def test_every_other_week_is_counted_from_the_committees_first_meeting(secretariat):
    csic = committee("CSIC")
    csic.recurrence, csic.recurrence_time = "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "10:00"
    meeting_service.plan_meeting(csic, starts_at=datetime(2027, 1, 11, 9, 0, tzinfo=UTC), actor=secretariat)
    created = service.generate_meetings(
        csic, until=date(2027, 2, 28), actor=secretariat, today=date(2027, 1, 12)
    )
    assert [m.occurrence for m in created] == ["2027-01-25", "2027-02-08", "2027-02-22"]


def test_generation_needs_a_rule_and_a_planner(make_user):
    with pytest.raises(DomainError):
        service.generate_meetings(committee("CSIC"), until=date(2027, 1, 1), actor=make_user("secretariat"))
    with pytest.raises(NotAllowed):
        service.generate_meetings(committee("CINUM"), until=date(2027, 1, 1), actor=make_user("dsi"))


# --- a held CSIC-Tech meeting ---------------------------------------------------------------------------


@pytest.fixture
def held(board, secretariat, make_opportunity):
    """A CSIC-Tech meeting with two qualified opportunities on its published agenda, opened."""
    committee_, president, secretary, m1, m2, guest = board
    meeting = make_committee_meeting("CSIC-TECH")
    porteur = secretariat
    opportunities = [
        make_opportunity(brique=f"Qualifiée {i}", state="retenue_criblage", created_by_id=porteur.id)
        for i in range(2)
    ]
    items = [
        meeting_service.add_item(meeting, kind="opportunite", opportunity=o, actor=secretariat)
        for o in opportunities
    ]
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    return meeting, items, board


def present(meeting, actor, *users):
    for user in users:
        meeting_service.record_attendance(meeting, user=user, status="present", actor=actor)


def test_agenda_refuses_opportunities_at_the_wrong_stage(board, secretariat, make_opportunity):
    meeting = make_committee_meeting("CSIC-TECH")
    identified = make_opportunity(brique="Trop tôt")
    with pytest.raises(ValidationFailed) as error:
        meeting_service.add_item(meeting, kind="opportunite", opportunity=identified, actor=secretariat)
    message = error.value.errors["opportunity"]
    assert "ne décide que sur les opportunités au stade : retenue au criblage" in message
    with pytest.raises(DomainError, match="L'ordre du jour est vide"):
        meeting_service.publish_agenda(meeting, actor=secretariat)


def test_free_item_and_removal_renumber_the_agenda(board, secretariat):
    meeting = make_committee_meeting("CSIC-TECH")
    for title in ("Un", "Deux", "Trois"):
        meeting_service.add_item(meeting, kind="libre", title=title, actor=secretariat)
    meeting_service.remove_item(meeting.items[0], actor=secretariat)
    assert [(i.position, i.title) for i in meeting.items] == [(1, "Deux"), (2, "Trois")]
    with pytest.raises(ValidationFailed):
        meeting_service.add_item(meeting, kind="libre", title="", actor=secretariat)


def test_members_only_the_president_or_secretary_runs_a_meeting(board, make_user):
    committee_, president, secretary, m1, m2, guest = board
    meeting = make_committee_meeting("CSIC-TECH")
    meeting_service.add_item(meeting, kind="libre", title="Point", actor=secretary)
    with pytest.raises(NotAllowed):
        meeting_service.add_item(meeting, kind="libre", title="Point", actor=m1)
    with pytest.raises(NotAllowed):
        meeting_service.publish_agenda(meeting, actor=make_user("dsi"))


def test_decision_refused_without_quorum_then_recorded_when_a_member_arrives(held, secretariat):
    meeting, (item, _), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, guest)  # 1 voting member of 4 (the invité does not count)
    q = meeting_service.quorum(meeting)
    assert (q.voting_members, q.counted, q.required, q.reached) == (4, 1, 2, False)
    with pytest.raises(DomainError, match="Quorum non atteint"):
        decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    assert item.opportunity.state == "retenue_criblage"
    assert db.session.scalar(select(func.count(Decision.id))) == 0
    present(meeting, secretariat, m1)
    decision = decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    assert item.opportunity.state == "validee_csic_tech"
    assert decision.verdict == "Consensus des 2 membres votants présents ou représentés."
    assert item.opportunity.transitions[-1].to_state == "validee_csic_tech"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "decision.recorded")) is not None


def test_votes_by_invite_absent_or_non_member_are_refused(held, secretariat, make_user):
    meeting, (item, _), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1, guest)
    with pytest.raises(NotAllowed, match="invité"):
        decision_service.cast_vote(item, voter=guest, choice="pour", actor=secretariat)
    with pytest.raises(NotAllowed, match="ni présent"):
        decision_service.cast_vote(item, voter=m2, choice="pour", actor=secretariat)
    outsider = make_user("dsi")
    with pytest.raises(NotAllowed, match="n'est pas membre"):
        decision_service.cast_vote(item, voter=outsider, choice="pour", actor=secretariat)
    with pytest.raises(NotAllowed):
        decision_service.cast_vote(item, voter=president, choice="pour", actor=m1)  # m1 votes only for m1
    decision_service.cast_vote(item, voter=m1, choice="contre", actor=m1)
    assert decision_service.tally(item) == {"pour": 0, "contre": 1, "abstention": 0}


def test_proxy_counts_for_quorum_and_its_holder_votes(held, secretariat):
    meeting, (item, _), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president)
    with pytest.raises(ValidationFailed, match="membre votant présent"):
        meeting_service.record_attendance(meeting, user=m2, status="represente", proxy=m1, actor=secretariat)
    meeting_service.record_attendance(
        meeting, user=m2, status="represente", proxy=president, actor=secretariat
    )
    with pytest.raises(ValidationFailed, match="n'en reçoit qu'un seul"):
        meeting_service.record_attendance(
            meeting, user=m1, status="represente", proxy=president, actor=secretariat
        )
    assert meeting_service.quorum(meeting).reached
    decision_service.cast_vote(item, voter=m2, choice="pour", actor=president)  # the holder votes for m2
    decision_service.cast_vote(item, voter=president, choice="pour", actor=president)
    decision = decision_service.record_decision(item, outcome="validee", actor=secretariat)
    assert (decision.votes_for, decision.votes_against) == (2, 0)
    assert decision.verdict.startswith("Majorité simple : 2 pour, 0 contre")


def test_vote_outcome_must_follow_the_verdict_and_casting_vote_applies(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, secretary, m1, m2)
    for voter, choice in ((president, "pour"), (secretary, "contre"), (m1, "pour"), (m2, "contre")):
        decision_service.cast_vote(item, voter=voter, choice=choice, actor=secretariat)
    with pytest.raises(ValidationFailed) as error:
        decision_service.record_decision(item, outcome="renvoyee", motivation="Pas mûr", actor=secretariat)
    assert "voix prépondérante du président (pour) : adopté." in error.value.errors["outcome"]
    decision = decision_service.record_decision(item, outcome="validee", actor=secretariat)
    assert "partage égal" in decision.verdict
    with pytest.raises(DomainError, match="les votes sont clos"):
        decision_service.cast_vote(item, voter=m1, choice="contre", actor=secretariat)
    # a rejection needs a motivation, and écarte the opportunity with it
    for voter in (president, secretary, m1):
        decision_service.cast_vote(other, voter=voter, choice="contre", actor=secretariat)
    with pytest.raises(ValidationFailed) as error:
        decision_service.record_decision(other, outcome="ecartee", actor=secretariat)
    assert "motivation" in error.value.errors
    decision_service.record_decision(
        other, outcome="ecartee", motivation="Déjà couvert par un marché.", actor=secretariat
    )
    assert (other.opportunity.state, other.opportunity.state_reason) == (
        "ecartee",
        "Déjà couvert par un marché.",
    )


def test_decisions_are_immutable_once_the_minutes_are_published(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    decision = decision_service.record_decision(
        item, outcome="validee", mode="consensus", motivation="Mûr", actor=secretariat
    )
    decision_service.amend_decision(
        decision, motivation="Mûr et porteur", conditions="", expectations="", amounts=[], actor=secretariat
    )
    with pytest.raises(DomainError, match="doit être relu"):
        minutes_service.publish(meeting, actor=secretariat)
    minutes_service.save(
        meeting,
        notes="Séance courtoise.",
        item_notes={item.id: "Débat **nourri**."},
        version=meeting.minutes.version,
        actor=secretariat,
    )
    with pytest.raises(NotAllowed):
        minutes_service.review(meeting, actor=m1)
    minutes_service.review(meeting, actor=president)
    minutes_service.publish(meeting, actor=secretariat)
    assert meeting.state == "pv_publie" and decision.locked
    with pytest.raises(DomainError, match="ne se modifie plus"):
        decision_service.amend_decision(
            decision, motivation="Autre", conditions="", expectations="", amounts=[], actor=secretariat
        )
    decision.motivation = "Changé en douce"
    with pytest.raises(DecisionLocked):
        db.session.flush()
    db.session.rollback()


def test_amounts_reject_negative_and_non_numbers():
    errors = {}
    assert service._int_field("150 000", "x", errors) == 150000 and not errors
    service._int_field("-5", "a", errors)
    service._int_field("douze", "b", errors)
    service._int_field("12,5", "c", errors)
    assert errors == {
        "a": "Le montant ne peut pas être négatif.",
        "b": "Le montant doit être un nombre entier (en euros, sans décimales) : « douze ».",
        "c": "Le montant doit être un nombre entier (en euros, sans décimales) : « 12,5 ».",
    }


def test_calendar_token_is_regenerated_by_its_owner_only(make_user):
    user, other = make_user("comite"), make_user("secretariat")
    old = user.calendar_token
    with pytest.raises(NotAllowed):
        service.regenerate_calendar_token(user, actor=other)
    assert service.regenerate_calendar_token(user, actor=user) != old


def test_committee_rules_are_validated_and_then_kept_by_the_loader(secretariat):
    from pathlib import Path

    from app.services.reference import load_all

    cinum = committee("CINUM")
    with pytest.raises(ValidationFailed) as error:
        service.update_rules(
            cinum,
            quorum_rule="moitie",
            proxies_count_for_quorum=True,
            majority_rule="simple",
            casting_vote=True,
            recurrence="FREQ=YEARLY",
            recurrence_time="14h",
            meeting_minutes="-3",
            default_place="",
            opportunity_stages=[],
            guichet_ids=[],
            actor=secretariat,
        )
    assert set(error.value.errors) == {"recurrence", "recurrence_time", "meeting_minutes"}
    service.update_rules(
        cinum,
        quorum_rule="deux_tiers",
        proxies_count_for_quorum=False,
        majority_rule="absolue",
        casting_vote=False,
        recurrence="FREQ=MONTHLY;BYDAY=2WE",
        recurrence_time="10:00",
        meeting_minutes="90",
        default_place="Ségur",
        opportunity_stages=[],
        guichet_ids=[],
        actor=secretariat,
    )
    load_all(Path(__file__).resolve().parents[2] / "data")
    assert (cinum.quorum_rule, cinum.recurrence) == ("deux_tiers", "FREQ=MONTHLY;BYDAY=2WE")


def test_qualified_opportunity_is_proposed_then_launched_by_csic(secretariat, make_opportunity):
    make_committee_members("CSIC", ("president", "membre"))
    opportunity = make_opportunity(brique="Qualifiée", state="en_qualification")
    meeting = make_committee_meeting("CSIC")
    item = meeting_service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=secretariat)
    assert item.proposal == "Lancer le projet mutualisé"
    meeting_service.publish_agenda(meeting, actor=secretariat)
    assert opportunity.state == "proposee_csic"
    meeting_service.open_meeting(meeting, actor=secretariat)
    president = next(a.user for a in meeting.attendances if a.function == "president")
    meeting_service.record_attendance(meeting, user=president, status="present", actor=secretariat)
    decision_service.record_decision(item, outcome="lancee", mode="consensus", actor=secretariat)
    assert db.session.get(Opportunity, opportunity.id).state == "lancee"


def test_meeting_cannot_skip_states(board, secretariat):
    meeting = make_committee_meeting("CSIC-TECH")
    with pytest.raises(DomainError, match="non autorisé"):
        meeting_service.open_meeting(meeting, actor=secretariat)
    with pytest.raises(ValidationFailed):
        meeting_service.cancel_meeting(meeting, reason=" ", actor=secretariat)
    assert meeting.state == "planifiee"
    assert meeting.starts_at > datetime.now(UTC) + timedelta(days=6)


# --- dossiers: agenda, decisions with amounts, follow-up -----------------------------------------------


@pytest.fixture
def invest(db_session, secretariat):
    """The FTAP investment committee with a président and two membres, a planned meeting."""
    committee_, users = make_committee_members("COMITE-INVEST-FTAP", ("president", "membre", "membre"))
    return make_committee_meeting("COMITE-INVEST-FTAP"), users


def hold(meeting, secretariat, users):
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    for user in users:
        meeting_service.record_attendance(meeting, user=user, status="present", actor=secretariat)


def test_only_instructed_dossiers_of_the_committees_guichets_go_on_the_agenda(invest, secretariat, make_user):
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    porteur = make_user("porteur")
    submitted = make_instructed_dossier(porteur, state="depose", avis=None, avis_motivation=None)
    with pytest.raises(ValidationFailed) as error:
        meeting_service.add_item(meeting, kind="dossier", dossier_id=submitted.id, actor=secretariat)
    assert "seuls les dossiers instruits (ou ajournés)" in error.value.errors["dossier"]
    elsewhere = make_instructed_dossier(porteur, guichet="SNAP1")
    with pytest.raises(ValidationFailed, match="ne décide pas"):
        meeting_service.add_item(meeting, kind="dossier", dossier_id=elsewhere.id, actor=secretariat)
    dossier = make_instructed_dossier(porteur)
    assert [id_ for id_, _ in dossier_candidates(meeting).rows] == [dossier.id]
    item = meeting_service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    assert item.title == f"Dossier {dossier.reference} — Dossier de test"
    assert any(
        "Avis de l'instructeur : Favorable" in label
        for label, _ in meeting_service.dossier_documents(dossier.id)
    )
    meeting_service.publish_agenda(meeting, actor=secretariat)
    assert dossier.state == "inscrit_comite"


def test_dossier_decision_amounts_are_checked_and_move_the_dossier(invest, secretariat, make_user):
    from app.models import Notification
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, requested_ae=300_000)
    item = meeting_service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    hold(meeting, secretariat, users)
    bad = [decision_service.AmountLine("2027", "-5", "douze")]
    with pytest.raises(ValidationFailed) as error:
        decision_service.record_decision(
            item, outcome="accepte", mode="consensus", amounts=bad, actor=secretariat
        )
    assert error.value.errors == {
        "amounts-0-ae": "Le montant AE ne peut pas être négatif.",
        "amounts-0-cp": "Le montant CP doit être un nombre entier (en euros, sans décimales) : « douze ».",
    }
    with pytest.raises(ValidationFailed, match="Listez les conditions"):
        decision_service.record_decision(
            item,
            outcome="accepte_sous_conditions",
            mode="consensus",
            amounts=[decision_service.AmountLine("2027", "100", "100")],
            actor=secretariat,
        )
    above = [
        decision_service.AmountLine("2027", "350 000", "200000"),
        decision_service.AmountLine("2028", "", "150000"),
    ]
    with pytest.raises(ValidationFailed) as error:
        decision_service.record_decision(
            item, outcome="accepte", mode="consensus", amounts=above, actor=secretariat
        )
    assert "dépasse la demande" in error.value.errors["confirm_above_request"]
    assert dossier.state == "inscrit_comite"
    above = [
        decision_service.AmountLine("2027", "350 000", "200000"),
        decision_service.AmountLine("2028", "0", "150000"),
    ]
    decision = decision_service.record_decision(
        item,
        outcome="accepte",
        mode="consensus",
        amounts=above,
        confirm_above_request=True,
        actor=secretariat,
    )
    assert [(a.year, a.ae, a.cp) for a in decision.amounts] == [(2027, 350000, 200000), (2028, 0, 150000)]
    assert decision.above_request_confirmed
    assert (dossier.state, dossier.decision_outcome, dossier.decision_id) == (
        "decide",
        "accepte",
        decision.id,
    )
    notices = db.session.scalars(select(Notification).where(Notification.user_id == porteur.id)).all()
    assert [n.kind for n in notices] == ["committee.agenda_published"]  # not told before the PV
    # a rectifying decision corrects the amount once the minutes are published
    minutes_service.review(meeting, actor=secretariat)
    minutes_service.publish(meeting, actor=secretariat)
    told = db.session.scalars(
        select(Notification).where(
            Notification.user_id == porteur.id, Notification.kind == "dossier.decision_communicated"
        )
    ).one()
    assert "Accepté" in told.subject and "350\u202f000\u00a0€ en AE" in told.body
    rectification = decision_service.rectify_decision(
        decision,
        motivation="Erreur de saisie sur 2027.",
        amounts=[
            decision_service.AmountLine("2027", "300000", "200000"),
            decision_service.AmountLine("2028", "0", "100000"),
        ],
        actor=secretariat,
    )
    assert rectification.total_ae == 300000 and dossier.state == "decide"


def test_adjourned_dossier_needs_expectations_and_can_come_back(invest, secretariat, make_user):
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    dossier = make_instructed_dossier(make_user("porteur"))
    item = meeting_service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    hold(meeting, secretariat, users)
    with pytest.raises(ValidationFailed, match="Indiquez ce qui est attendu"):
        decision_service.record_decision(
            item, outcome="ajourne", mode="consensus", motivation="Incomplet", actor=secretariat
        )
    decision_service.record_decision(
        item,
        outcome="ajourne",
        mode="consensus",
        motivation="Incomplet",
        expectations="Un plan de financement pluriannuel.",
        actor=secretariat,
    )
    assert (dossier.state, dossier.decision_outcome) == ("decide", "ajourne")
    later = make_committee_meeting("COMITE-INVEST-FTAP")
    meeting_service.add_item(later, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    meeting_service.publish_agenda(later, actor=secretariat)
    assert dossier.state == "inscrit_comite"


def test_undecided_dossiers_go_back_to_instruit_when_the_meeting_is_cancelled_or_closed(
    invest, secretariat, make_user
):
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    dossier = make_instructed_dossier(make_user("porteur"))
    meeting_service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    meeting_service.publish_agenda(meeting, actor=secretariat)
    assert dossier.state == "inscrit_comite"
    meeting_service.cancel_meeting(meeting, reason="Report", actor=secretariat)
    assert dossier.state == "instruit"
    later = make_committee_meeting("COMITE-INVEST-FTAP")
    meeting_service.add_item(later, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    hold(later, secretariat, users)
    minutes_service.review(later, actor=secretariat)
    minutes_service.publish(later, actor=secretariat)  # no decision taken on it
    assert dossier.state == "instruit"
    assert [t.to_state for t in dossier.transitions][-2:] == ["inscrit_comite", "instruit"]


def test_the_committee_president_records_an_opportunity_decision_without_being_secretariat(
    board, secretariat, make_opportunity
):
    committee_, president, secretary, m1, m2, guest = board
    meeting = make_committee_meeting("CSIC-TECH")
    opportunity = make_opportunity(brique="Qualifiée", state="retenue_criblage")
    item = meeting_service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=secretary)
    meeting_service.publish_agenda(meeting, actor=secretary)
    meeting_service.open_meeting(meeting, actor=president)
    present(meeting, president, president, m1)
    decision_service.record_decision(item, outcome="validee", mode="consensus", actor=president)
    assert opportunity.state == "validee_csic_tech"
    assert opportunity.transitions[-1].actor_id == president.id
    with pytest.raises(NotAllowed):  # outside a committee decision the secretariat rule still applies
        from app.services.portfolio import change_state

        change_state(opportunity, to="en_qualification", actor=president)
