"""Committee services: quorum and majority (hand-computed), meetings and their generation, agenda, attendance,
votes, decisions and their effects, immutability, the hash-chained register, minutes."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditEntry, Committee, Decision, Meeting, Opportunity, RegisterEntry
from app.models.committees import DecisionLocked, MajorityRule, QuorumRule
from app.services import committees as service
from app.services import followup
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


# --- quorum and majority, computed by hand -------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, members, expected",
    [
        (QuorumRule.MOITIE, 4, 2),
        (QuorumRule.MOITIE, 5, 3),
        (QuorumRule.MAJORITE, 4, 3),
        (QuorumRule.MAJORITE, 5, 3),
        (QuorumRule.TIERS, 7, 3),
        (QuorumRule.DEUX_TIERS, 7, 5),
        (QuorumRule.DEUX_TIERS, 6, 4),
        (QuorumRule.AUCUN, 9, 1),
    ],
)
def test_quorum_required_by_rule(rule, members, expected):
    assert rule.required(members) == expected


def test_quorum_counts_proxies_only_when_the_committee_says_so():
    with_proxies = service.compute_quorum(QuorumRule.MOITIE, 5, present=2, represented=1, proxies_count=True)
    without = service.compute_quorum(QuorumRule.MOITIE, 5, present=2, represented=1, proxies_count=False)
    assert (with_proxies.counted, with_proxies.required, with_proxies.reached) == (3, 3, True)
    assert (without.counted, without.reached) == (2, False)
    assert without.text.startswith(
        "Quorum non atteint — 2 membre(s) votant(s) présent(s) et 1 représenté(s) sur 5"
    )


@pytest.mark.parametrize(
    "rule, pour, contre, abst, participants, casting, president, adopted",
    [
        # simple: more pour than contre, abstentions ignored
        (MajorityRule.SIMPLE, 3, 2, 4, 9, False, None, True),
        (MajorityRule.SIMPLE, 2, 2, 1, 5, False, "pour", False),  # tie without casting vote
        (MajorityRule.SIMPLE, 2, 2, 1, 5, True, "pour", True),  # président breaks the tie
        (MajorityRule.SIMPLE, 2, 2, 1, 5, True, "contre", False),
        (
            MajorityRule.SIMPLE,
            2,
            2,
            1,
            5,
            True,
            "abstention",
            False,
        ),  # an abstaining président has no casting vote
        (MajorityRule.SIMPLE, 0, 0, 3, 3, True, "abstention", False),  # nobody expressed a vote
        # absolute: pour > half of the participants (abstentions weigh against)
        (MajorityRule.ABSOLUE, 3, 1, 2, 6, True, "pour", False),  # 3 of 6 is not more than half
        (MajorityRule.ABSOLUE, 4, 1, 1, 6, False, None, True),
        (MajorityRule.ABSOLUE, 3, 3, 0, 6, True, "pour", True),  # exact tie, casting vote
        (MajorityRule.ABSOLUE, 3, 3, 0, 6, False, "pour", False),
        # two thirds of pour + contre
        (MajorityRule.DEUX_TIERS, 4, 2, 5, 11, True, "pour", True),  # 4 ≥ 2/3 × 6
        (MajorityRule.DEUX_TIERS, 5, 3, 0, 8, True, "pour", False),  # 5 < 2/3 × 8 (needs 6), no casting vote
        (MajorityRule.DEUX_TIERS, 0, 0, 2, 2, False, None, False),
    ],
)
def test_majority_verdicts(rule, pour, contre, abst, participants, casting, president, adopted):
    verdict = service.majority_verdict(
        rule,
        pour=pour,
        contre=contre,
        abstention=abst,
        participants=participants,
        casting_vote=casting,
        president_choice=president,
    )
    assert verdict.adopted is adopted
    assert verdict.text.startswith(rule.short)
    assert f"{pour} pour, {contre} contre" in verdict.text


def test_verdict_text_names_the_rule_and_the_casting_vote():
    verdict = service.majority_verdict(
        MajorityRule.SIMPLE,
        pour=2,
        contre=2,
        abstention=0,
        participants=4,
        casting_vote=True,
        president_choice="pour",
    )
    assert verdict.text == (
        "Majorité simple : 2 pour, 2 contre, 0 abstention(s) — partage égal des voix (2 = 2), "
        "voix prépondérante du président (pour) : adopté."
    )


# --- recurrence ----------------------------------------------------------------------------------------


def test_first_tuesday_monthly_at_14h_paris_in_winter_and_summer():
    rule = service.Recurrence.parse("FREQ=MONTHLY;BYDAY=1TU", "14:00")
    days = rule.dates(date(2026, 12, 1), date(2027, 7, 31))
    assert days[:3] == [date(2026, 12, 1), date(2027, 1, 5), date(2027, 2, 2)]
    assert days[-1] == date(2027, 7, 6)
    assert rule.starts_at(date(2027, 1, 5)) == datetime(2027, 1, 5, 13, 0, tzinfo=UTC)  # UTC+1
    assert rule.starts_at(date(2027, 7, 6)) == datetime(2027, 7, 6, 12, 0, tzinfo=UTC)  # UTC+2
    assert rule.label == "le premier mardi de chaque mois à 14:00 (heure de Paris)"


def test_last_friday_and_weekly_rules():
    last = service.Recurrence.parse("FREQ=MONTHLY;BYDAY=-1FR", "09:30")
    assert last.dates(date(2027, 1, 1), date(2027, 3, 31)) == [
        date(2027, 1, 29),
        date(2027, 2, 26),
        date(2027, 3, 26),
    ]
    weekly = service.Recurrence.parse("FREQ=WEEKLY;BYDAY=WE", "10:00")
    assert weekly.dates(date(2027, 1, 1), date(2027, 1, 20)) == [
        date(2027, 1, 6),
        date(2027, 1, 13),
        date(2027, 1, 20),
    ]


@pytest.mark.parametrize(
    "rule, time, field",
    [
        ("FREQ=DAILY", "14:00", "recurrence"),
        ("FREQ=MONTHLY;BYDAY=TU", "14:00", "recurrence"),
        ("FREQ=MONTHLY;BYDAY=1TU", "25:00", "recurrence_time"),
        ("FREQ=WEEKLY;BYDAY=2WE", "10:00", "recurrence"),
    ],
)
def test_bad_recurrence_rules_are_refused_in_french(rule, time, field):
    with pytest.raises(ValidationFailed) as error:
        service.Recurrence.parse(rule, time)
    assert field in error.value.errors


def test_reference_load_gives_cinum_its_monthly_rule(db_session):
    cinum = committee("CINUM")
    assert (cinum.recurrence, cinum.recurrence_time) == ("FREQ=MONTHLY;BYDAY=1TU", "14:00")
    assert committee("CSIC-TECH").opportunity_stages == ["qualifiee"]
    assert [g.code for g in committee("COMITE-INVEST-FTAP").guichets] == ["FTAP"]


def test_generation_is_idempotent_and_respects_moved_and_cancelled_meetings(secretariat):
    cinum = committee("CINUM")
    created = service.generate_meetings(
        cinum, until=date(2027, 3, 31), actor=secretariat, today=date(2026, 11, 22)
    )
    assert [s.occurrence for s in created] == ["2026-12-01", "2027-01-05", "2027-02-02", "2027-03-02"]
    assert created[1].starts_at == datetime(2027, 1, 5, 13, 0, tzinfo=UTC)
    service.cancel_meeting(created[0], reason="Trêve des confiseurs", actor=secretariat)
    service.update_meeting(
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
        make_opportunity(brique=f"Qualifiée {i}", status="qualifiee", created_by_id=porteur.id)
        for i in range(2)
    ]
    items = [
        service.add_item(meeting, kind="opportunite", opportunity=o, actor=secretariat) for o in opportunities
    ]
    service.publish_agenda(meeting, actor=secretariat)
    service.open_meeting(meeting, actor=secretariat)
    return meeting, items, board


def present(meeting, actor, *users):
    for user in users:
        service.record_attendance(meeting, user=user, status="present", actor=actor)


def test_agenda_refuses_opportunities_at_the_wrong_stage(board, secretariat, make_opportunity):
    meeting = make_committee_meeting("CSIC-TECH")
    identified = make_opportunity(brique="Trop tôt")
    with pytest.raises(ValidationFailed) as error:
        service.add_item(meeting, kind="opportunite", opportunity=identified, actor=secretariat)
    assert "ne décide que sur les opportunités au stade : qualifiée" in error.value.errors["opportunity"]
    with pytest.raises(DomainError, match="L'ordre du jour est vide"):
        service.publish_agenda(meeting, actor=secretariat)


def test_free_item_and_removal_renumber_the_agenda(board, secretariat):
    meeting = make_committee_meeting("CSIC-TECH")
    for title in ("Un", "Deux", "Trois"):
        service.add_item(meeting, kind="libre", title=title, actor=secretariat)
    service.remove_item(meeting.items[0], actor=secretariat)
    assert [(i.position, i.title) for i in meeting.items] == [(1, "Deux"), (2, "Trois")]
    with pytest.raises(ValidationFailed):
        service.add_item(meeting, kind="libre", title="", actor=secretariat)


def test_members_only_the_president_or_secretary_runs_a_meeting(board, make_user):
    committee_, president, secretary, m1, m2, guest = board
    meeting = make_committee_meeting("CSIC-TECH")
    service.add_item(meeting, kind="libre", title="Point", actor=secretary)
    with pytest.raises(NotAllowed):
        service.add_item(meeting, kind="libre", title="Point", actor=m1)
    with pytest.raises(NotAllowed):
        service.publish_agenda(meeting, actor=make_user("dsi"))


def test_decision_refused_without_quorum_then_recorded_when_a_member_arrives(held, secretariat):
    meeting, (item, _), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, guest)  # 1 voting member of 4 (the invité does not count)
    q = service.quorum(meeting)
    assert (q.voting_members, q.counted, q.required, q.reached) == (4, 1, 2, False)
    with pytest.raises(DomainError, match="Quorum non atteint"):
        service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    assert item.opportunity.status == "qualifiee"
    assert db.session.scalar(select(func.count(Decision.id))) == 0
    present(meeting, secretariat, m1)
    decision = service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    assert item.opportunity.status == "validee_csic_tech"
    assert decision.verdict == "Consensus des 2 membres votants présents ou représentés."
    assert item.opportunity.transitions[-1].to_status == "validee_csic_tech"
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "decision.recorded")) is not None


def test_votes_by_invite_absent_or_non_member_are_refused(held, secretariat, make_user):
    meeting, (item, _), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1, guest)
    with pytest.raises(NotAllowed, match="invité"):
        service.cast_vote(item, voter=guest, choice="pour", actor=secretariat)
    with pytest.raises(NotAllowed, match="ni présent"):
        service.cast_vote(item, voter=m2, choice="pour", actor=secretariat)
    outsider = make_user("dsi")
    with pytest.raises(NotAllowed, match="n'est pas membre"):
        service.cast_vote(item, voter=outsider, choice="pour", actor=secretariat)
    with pytest.raises(NotAllowed):
        service.cast_vote(item, voter=president, choice="pour", actor=m1)  # m1 votes only for m1
    service.cast_vote(item, voter=m1, choice="contre", actor=m1)
    assert service.tally(item) == {"pour": 0, "contre": 1, "abstention": 0}


def test_proxy_counts_for_quorum_and_its_holder_votes(held, secretariat):
    meeting, (item, _), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president)
    with pytest.raises(ValidationFailed, match="membre votant présent"):
        service.record_attendance(meeting, user=m2, status="represente", proxy=m1, actor=secretariat)
    service.record_attendance(meeting, user=m2, status="represente", proxy=president, actor=secretariat)
    with pytest.raises(ValidationFailed, match="n'en reçoit qu'un seul"):
        service.record_attendance(meeting, user=m1, status="represente", proxy=president, actor=secretariat)
    assert service.quorum(meeting).reached
    service.cast_vote(item, voter=m2, choice="pour", actor=president)  # the holder votes for m2
    service.cast_vote(item, voter=president, choice="pour", actor=president)
    decision = service.record_decision(item, outcome="validee", actor=secretariat)
    assert (decision.votes_for, decision.votes_against) == (2, 0)
    assert decision.verdict.startswith("Majorité simple : 2 pour, 0 contre")


def test_vote_outcome_must_follow_the_verdict_and_casting_vote_applies(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, secretary, m1, m2)
    for voter, choice in ((president, "pour"), (secretary, "contre"), (m1, "pour"), (m2, "contre")):
        service.cast_vote(item, voter=voter, choice=choice, actor=secretariat)
    with pytest.raises(ValidationFailed) as error:
        service.record_decision(item, outcome="renvoyee", motivation="Pas mûr", actor=secretariat)
    assert "voix prépondérante du président (pour) : adopté." in error.value.errors["outcome"]
    decision = service.record_decision(item, outcome="validee", actor=secretariat)
    assert "partage égal" in decision.verdict
    with pytest.raises(DomainError, match="les votes sont clos"):
        service.cast_vote(item, voter=m1, choice="contre", actor=secretariat)
    # a rejection needs a motivation, and écarte the opportunity with it
    for voter in (president, secretary, m1):
        service.cast_vote(other, voter=voter, choice="contre", actor=secretariat)
    with pytest.raises(ValidationFailed) as error:
        service.record_decision(other, outcome="ecartee", actor=secretariat)
    assert "motivation" in error.value.errors
    service.record_decision(
        other, outcome="ecartee", motivation="Déjà couvert par un marché.", actor=secretariat
    )
    assert (other.opportunity.status, other.opportunity.status_reason) == (
        "ecartee",
        "Déjà couvert par un marché.",
    )


def test_decisions_are_immutable_once_the_minutes_are_published(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    decision = service.record_decision(
        item, outcome="validee", mode="consensus", motivation="Mûr", actor=secretariat
    )
    service.amend_decision(
        decision, motivation="Mûr et porteur", conditions="", expectations="", amounts=[], actor=secretariat
    )
    with pytest.raises(DomainError, match="doit être relu"):
        service.publish_minutes(meeting, actor=secretariat)
    service.save_minutes(
        meeting,
        notes="Séance courtoise.",
        item_notes={item.id: "Débat **nourri**."},
        version=meeting.minutes.version,
        actor=secretariat,
    )
    with pytest.raises(NotAllowed):
        service.review_minutes(meeting, actor=m1)
    service.review_minutes(meeting, actor=president)
    service.publish_minutes(meeting, actor=secretariat)
    assert meeting.state == "pv_publie" and decision.locked
    with pytest.raises(DomainError, match="ne se modifie plus"):
        service.amend_decision(
            decision, motivation="Autre", conditions="", expectations="", amounts=[], actor=secretariat
        )
    decision.motivation = "Changé en douce"
    with pytest.raises(DecisionLocked):
        db.session.flush()
    db.session.rollback()


def test_rectifying_decision_is_linked_and_keeps_the_register_valid(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    decision = service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    with pytest.raises(DomainError, match="pas encore publié"):
        service.rectify_decision(decision, motivation="Erreur", actor=secretariat)
    service.review_minutes(meeting, actor=secretariat)
    service.publish_minutes(meeting, actor=secretariat)
    with pytest.raises(ValidationFailed, match="ne renverse pas"):
        service.rectify_decision(decision, outcome="ecartee", motivation="Erreur", actor=secretariat)
    rectification = service.rectify_decision(
        decision, motivation="Erreur matérielle sur l'intitulé.", actor=secretariat
    )
    assert rectification.rectifies_id == decision.id and rectification.locked
    db.session.expire_all()
    assert item.decision.id == rectification.id and decision.rectified_by.id == rectification.id
    with pytest.raises(DomainError, match="déjà été rectifiée"):
        service.rectify_decision(decision, motivation="Encore", actor=secretariat)
    check = service.verify_register()
    assert check.ok and check.entries == 2
    assert [e.event for e in db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position))] == [
        "recorded",
        "rectified",
    ]


def test_register_detects_edits_made_directly_in_the_database(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    first = service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    service.record_decision(
        other, outcome="renvoyee", mode="consensus", motivation="À préciser", actor=secretariat
    )
    assert service.verify_register().ok
    entries = db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position)).all()
    assert entries[1].prev_hash == entries[0].entry_hash and entries[0].prev_hash == "0" * 64
    # someone edits a decision row behind the application's back
    db.session.execute(text("UPDATE decisions SET motivation = 'falsifié' WHERE id = :id"), {"id": first.id})
    db.session.expire_all()
    check = service.verify_register()
    assert not check.ok
    assert check.problems == [(1, f"La décision n° {first.id} a été modifiée hors registre.")]
    # …and then tries to cover it by rewriting the register payload
    db.session.execute(
        text(
            'UPDATE register_entries SET payload = replace(payload, \'"motivation":""\', '
            '\'"motivation":"falsifié"\') WHERE position = 1'
        )
    )
    db.session.expire_all()
    messages = [m for _, m in service.verify_register().problems]
    assert "Contenu modifié : son empreinte ne correspond plus." in messages


def test_register_detects_a_recomputed_entry_by_the_broken_chain(held, secretariat):
    meeting, (item, other), (_, president, secretary, m1, m2, guest) = held
    present(meeting, secretariat, president, m1)
    service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    service.record_decision(other, outcome="validee", mode="consensus", actor=secretariat)
    entry = db.session.scalar(select(RegisterEntry).where(RegisterEntry.position == 1))
    forged = entry.payload.replace('"outcome":"validee"', '"outcome":"ecartee"')
    content = service.sha256(forged)
    db.session.execute(
        text("UPDATE register_entries SET payload = :p, content_hash = :c WHERE position = 1"),
        {"p": forged, "c": content},
    )
    db.session.expire_all()
    messages = [m for _, m in service.verify_register().problems]
    assert "Empreinte de l'entrée incorrecte." in messages


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


def test_opportunity_validated_by_csic_tech_is_proposed_then_launched_by_csic(secretariat, make_opportunity):
    make_committee_members("CSIC", ("president", "membre"))
    opportunity = make_opportunity(brique="Validée", status="validee_csic_tech")
    meeting = make_committee_meeting("CSIC")
    item = service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=secretariat)
    assert item.proposal == "Lancer le projet mutualisé"
    service.publish_agenda(meeting, actor=secretariat)
    assert opportunity.status == "proposee_csic"
    service.open_meeting(meeting, actor=secretariat)
    president = next(a.user for a in meeting.attendances if a.function == "president")
    service.record_attendance(meeting, user=president, status="present", actor=secretariat)
    service.record_decision(item, outcome="lancee", mode="consensus", actor=secretariat)
    assert db.session.get(Opportunity, opportunity.id).status == "lancee"


def test_meeting_cannot_skip_states(board, secretariat):
    meeting = make_committee_meeting("CSIC-TECH")
    with pytest.raises(DomainError, match="non autorisé"):
        service.open_meeting(meeting, actor=secretariat)
    with pytest.raises(ValidationFailed):
        service.cancel_meeting(meeting, reason=" ", actor=secretariat)
    assert meeting.state == "planifiee"
    assert meeting.starts_at > datetime.now(UTC) + timedelta(days=6)


# --- dossiers: agenda, decisions with amounts, follow-up -----------------------------------------------


@pytest.fixture
def invest(db_session, secretariat):
    """The FTAP investment committee with a président and two membres, a planned meeting."""
    committee_, users = make_committee_members("COMITE-INVEST-FTAP", ("president", "membre", "membre"))
    return make_committee_meeting("COMITE-INVEST-FTAP"), users


def hold(meeting, secretariat, users):
    service.publish_agenda(meeting, actor=secretariat)
    service.open_meeting(meeting, actor=secretariat)
    for user in users:
        service.record_attendance(meeting, user=user, status="present", actor=secretariat)


def test_only_instructed_dossiers_of_the_committees_guichets_go_on_the_agenda(invest, secretariat, make_user):
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    porteur = make_user("porteur")
    submitted = make_instructed_dossier(porteur, state="depose", avis=None, avis_motivation=None)
    with pytest.raises(ValidationFailed) as error:
        service.add_item(meeting, kind="dossier", dossier_id=submitted.id, actor=secretariat)
    assert "seuls les dossiers instruits (ou ajournés)" in error.value.errors["dossier"]
    elsewhere = make_instructed_dossier(porteur, guichet="SNAP1")
    with pytest.raises(ValidationFailed, match="ne décide pas"):
        service.add_item(meeting, kind="dossier", dossier_id=elsewhere.id, actor=secretariat)
    dossier = make_instructed_dossier(porteur)
    assert [d.id for d, _ in service.dossier_bridge.candidates(meeting)] == [dossier.id]
    item = service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    assert item.title == f"Dossier {dossier.reference} — Dossier de test"
    assert any(
        "Avis de l'instructeur : Favorable" in label
        for label, _ in service.dossier_bridge.documents(dossier.id)
    )
    service.publish_agenda(meeting, actor=secretariat)
    assert dossier.state == "inscrit_comite"


def test_dossier_decision_amounts_are_checked_and_move_the_dossier(invest, secretariat, make_user):
    from app.models import Notification
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, requested_ae=300_000)
    item = service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    hold(meeting, secretariat, users)
    bad = [service.AmountLine("2027", "-5", "douze")]
    with pytest.raises(ValidationFailed) as error:
        service.record_decision(item, outcome="accepte", mode="consensus", amounts=bad, actor=secretariat)
    assert error.value.errors == {
        "amounts-0-ae": "Le montant AE ne peut pas être négatif.",
        "amounts-0-cp": "Le montant CP doit être un nombre entier (en euros, sans décimales) : « douze ».",
    }
    with pytest.raises(ValidationFailed, match="Listez les conditions"):
        service.record_decision(
            item,
            outcome="accepte_sous_conditions",
            mode="consensus",
            amounts=[service.AmountLine("2027", "100", "100")],
            actor=secretariat,
        )
    above = [service.AmountLine("2027", "350 000", "200000"), service.AmountLine("2028", "", "150000")]
    with pytest.raises(ValidationFailed) as error:
        service.record_decision(item, outcome="accepte", mode="consensus", amounts=above, actor=secretariat)
    assert "dépasse la demande" in error.value.errors["confirm_above_request"]
    assert dossier.state == "inscrit_comite"
    above = [service.AmountLine("2027", "350 000", "200000"), service.AmountLine("2028", "0", "150000")]
    decision = service.record_decision(
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
    assert [n.kind for n in notices] == ["committee.agenda_published", "committee.decision_recorded"]
    # a rectifying decision corrects the amount once the minutes are published
    service.review_minutes(meeting, actor=secretariat)
    service.publish_minutes(meeting, actor=secretariat)
    rectification = service.rectify_decision(
        decision,
        motivation="Erreur de saisie sur 2027.",
        amounts=[service.AmountLine("2027", "300000", "200000"), service.AmountLine("2028", "0", "100000")],
        actor=secretariat,
    )
    assert rectification.total_ae == 300000 and dossier.state == "decide"
    assert followup.granted_amounts(dossier.id) == {2027: (300000, 200000), 2028: (0, 100000)}
    assert service.verify_register().ok


def test_adjourned_dossier_needs_expectations_and_can_come_back(invest, secretariat, make_user):
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    dossier = make_instructed_dossier(make_user("porteur"))
    item = service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    hold(meeting, secretariat, users)
    with pytest.raises(ValidationFailed, match="Indiquez ce qui est attendu"):
        service.record_decision(
            item, outcome="ajourne", mode="consensus", motivation="Incomplet", actor=secretariat
        )
    service.record_decision(
        item,
        outcome="ajourne",
        mode="consensus",
        motivation="Incomplet",
        expectations="Un plan de financement pluriannuel.",
        actor=secretariat,
    )
    assert (dossier.state, dossier.decision_outcome) == ("decide", "ajourne")
    later = make_committee_meeting("COMITE-INVEST-FTAP")
    service.add_item(later, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    service.publish_agenda(later, actor=secretariat)
    assert dossier.state == "inscrit_comite"


def test_undecided_dossiers_go_back_to_instruit_when_the_meeting_is_cancelled_or_closed(
    invest, secretariat, make_user
):
    from tests.factories import make_instructed_dossier

    meeting, users = invest
    dossier = make_instructed_dossier(make_user("porteur"))
    service.add_item(meeting, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    service.publish_agenda(meeting, actor=secretariat)
    assert dossier.state == "inscrit_comite"
    service.cancel_meeting(meeting, reason="Report", actor=secretariat)
    assert dossier.state == "instruit"
    later = make_committee_meeting("COMITE-INVEST-FTAP")
    service.add_item(later, kind="dossier", dossier_id=dossier.id, actor=secretariat)
    hold(later, secretariat, users)
    service.review_minutes(later, actor=secretariat)
    service.publish_minutes(later, actor=secretariat)  # no decision taken on it
    assert dossier.state == "instruit"
    assert [t.to_state for t in dossier.transitions][-2:] == ["inscrit_comite", "instruit"]


def test_the_committee_president_records_an_opportunity_decision_without_being_secretariat(
    board, secretariat, make_opportunity
):
    committee_, president, secretary, m1, m2, guest = board
    meeting = make_committee_meeting("CSIC-TECH")
    opportunity = make_opportunity(brique="Qualifiée", status="qualifiee")
    item = service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=secretary)
    service.publish_agenda(meeting, actor=secretary)
    service.open_meeting(meeting, actor=president)
    present(meeting, president, president, m1)
    service.record_decision(item, outcome="validee", mode="consensus", actor=president)
    assert opportunity.status == "validee_csic_tech"
    assert opportunity.transitions[-1].actor_id == president.id
    with pytest.raises(NotAllowed):  # outside a committee decision the secretariat rule still applies
        from app.services.portfolio import change_status

        change_status(opportunity, to="qualifiee", actor=president)
