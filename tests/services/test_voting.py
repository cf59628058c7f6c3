"""Voting services: the arithmetic by hand, campaign states, votes and their refusals, frozen results,
priorities."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Opportunity, Organisation
from app.models.base import utcnow
from app.models.portfolio import Moscow
from app.models.voting import (
    Campaign,
    CampaignMinistryResult,
    CampaignParticipation,
    CampaignResult,
    Vote,
)
from app.services import voting as service
from app.services.errors import DomainError, NotAllowed, ValidationFailed
from tests.factories import make_campaign

M, S, C, W = Moscow.MUST, Moscow.SHOULD, Moscow.COULD, Moscow.WONT


@pytest.fixture(autouse=True)
def _database(db_session):
    return db_session


# --- campaigns ------------------------------------------------------------------------------------------


def _input(**kw):
    now = utcnow()
    values = dict(
        title="Priorisation 2026",
        description="Voter **avant** vendredi.",
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=8),
        visibility="anonymous",
        must_budget=None,
        ministry_ids=[],
        opportunity_ids=[],
    )
    values.update(kw)
    return service.CampaignInput(**values)


def test_secretariat_creates_a_draft_with_its_scope_and_audit(make_user, make_opportunity):
    secretariat = make_user("secretariat")
    scope = [make_opportunity(state="en_criblage"), make_opportunity(state="retenue_criblage")]
    mi = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    campaign = service.create_campaign(
        _input(opportunity_ids=[o.id for o in scope], ministry_ids=[mi.id], must_budget=1), actor=secretariat
    )
    assert campaign.state == "brouillon"
    assert [o.code for o in campaign.opportunities] == [o.code for o in scope]
    assert [m.code for m in campaign.ministries] == ["MI"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "campaign.created"))
    assert entry.object_id == str(campaign.id) and entry.actor_id == secretariat.id


def test_default_scope_is_opportunities_in_screening_or_qualified(make_opportunity):
    screening = make_opportunity(state="en_criblage")
    qualified = make_opportunity(state="retenue_criblage")
    identified = make_opportunity(state="identifiee")
    ids = service.default_scope_ids()
    assert screening.id in ids and qualified.id in ids and identified.id not in ids


def test_campaign_creation_refuses_bad_input_with_french_messages(make_user, make_opportunity):
    secretariat = make_user("secretariat")
    opportunity = make_opportunity()
    now = utcnow()
    with pytest.raises(ValidationFailed) as error:
        service.create_campaign(
            _input(
                title=" ",
                opens_at=now,
                closes_at=now - timedelta(hours=1),
                visibility="x",
                must_budget=5,
                opportunity_ids=[opportunity.id],
            ),
            actor=secretariat,
        )
    assert error.value.errors == {
        "title": "Le titre est obligatoire.",
        "closes_at": "La clôture doit être postérieure à l'ouverture.",
        "visibility": "Choisissez la règle de visibilité des résultats.",
        "must_budget": "Le nombre de « Must » par votant ne peut pas dépasser le nombre d'opportunités "
        "soumises au "
        "vote (1).",
    }
    with pytest.raises(ValidationFailed) as error:
        service.create_campaign(_input(opportunity_ids=[]), actor=secretariat)
    assert error.value.errors == {"opportunities": "Choisissez au moins une opportunité à prioriser."}
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


def test_only_the_secretariat_creates_campaigns(make_user, make_opportunity):
    with pytest.raises(NotAllowed):
        service.create_campaign(
            _input(opportunity_ids=[make_opportunity().id]), actor=make_user("dsi", ministry="MI")
        )


def test_visibility_and_scope_are_fixed_once_open(make_user):
    secretariat = make_user("secretariat")
    campaign = make_campaign(state="ouverte")
    with pytest.raises(NotAllowed):
        service.update_campaign(
            campaign,
            _input(visibility="named", opportunity_ids=[o.id for o in campaign.opportunities]),
            actor=secretariat,
        )


def test_manual_transitions_follow_the_table_and_are_logged(make_user):
    secretariat = make_user("secretariat")
    campaign = make_campaign(
        state="brouillon", opens_at=utcnow() + timedelta(days=1), closes_at=utcnow() + timedelta(days=2)
    )
    with pytest.raises(ValidationFailed) as error:
        service.transition(campaign, to="publiee", actor=secretariat)
    assert error.value.errors["state"] == "Passage de « Brouillon » à « Publiée » non autorisé."
    service.transition(campaign, to="ouverte", actor=secretariat)
    assert campaign.state == "ouverte" and campaign.opens_at <= utcnow()  # opened early: window starts now
    service.transition(campaign, to="close", actor=secretariat)
    assert campaign.state == "close" and campaign.closed_at is not None and campaign.closes_at <= utcnow()
    service.transition(campaign, to="publiee", actor=secretariat)
    log = [(t.from_state, t.to_state, t.actor_id) for t in campaign.transitions]
    assert log == [
        ("brouillon", "ouverte", secretariat.id),
        ("ouverte", "close", secretariat.id),
        ("close", "publiee", secretariat.id),
    ]
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "campaigns").order_by(AuditEntry.id)
    ).all()
    assert actions == ["campaign.opened", "campaign.closed", "campaign.published"]


def test_non_secretariat_cannot_move_a_campaign(make_user):
    with pytest.raises(NotAllowed):
        service.transition(make_campaign(), to="close", actor=make_user("dsi", ministry="MI"))


def test_apply_due_transitions_opens_and_closes_at_the_set_times():
    now = utcnow()
    due_draft = make_campaign(
        state="brouillon", opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(days=1)
    )
    future_draft = make_campaign(
        state="brouillon", opens_at=now + timedelta(hours=1), closes_at=now + timedelta(days=1)
    )
    stale_draft = make_campaign(
        state="brouillon", opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1)
    )
    ending = make_campaign(
        state="ouverte", opens_at=now - timedelta(days=2), closes_at=now - timedelta(seconds=1)
    )
    done = service.apply_due_transitions(now)
    assert sorted(done) == sorted([(due_draft.id, "ouverte"), (ending.id, "close")])
    db.session.expire_all()
    assert (due_draft.state, future_draft.state, stale_draft.state, ending.state) == (
        "ouverte",
        "brouillon",
        "brouillon",
        "close",
    )
    assert [(t.to_state, t.actor_id) for t in ending.transitions] == [("close", None)]
    assert (
        db.session.scalar(
            select(func.count()).select_from(CampaignResult).where(CampaignResult.campaign_id == ending.id)
        )
        == 3
    )
    assert service.apply_due_transitions(now) == []  # idempotent


# --- votes ----------------------------------------------------------------------------------------------


def _votes(campaign, user=None):
    query = select(Vote).where(Vote.campaign_id == campaign.id)
    if user is not None:
        query = query.where(Vote.voter_id == user.id)
    return db.session.scalars(query).all()


def test_cast_change_and_withdraw_a_vote_with_audit(make_user):
    voter = make_user("dsi", ministry="MI")
    campaign = make_campaign()
    opportunity = campaign.opportunities[0]
    vote = service.cast_vote(
        campaign, opportunity, value="must", justification="  Urgent  pour tous ", actor=voter
    )
    assert (vote.value, vote.justification, vote.organisation_id) == (
        "must",
        "Urgent pour tous",
        db.session.scalar(select(Organisation.id).where(Organisation.code == "MI")),
    )
    service.cast_vote(campaign, opportunity, value="should", actor=voter)
    assert [(v.value, v.justification) for v in _votes(campaign)] == [("should", "")]
    service.withdraw_vote(campaign, opportunity, actor=voter)
    assert _votes(campaign) == []
    entries = db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.changes)
        .where(AuditEntry.action.like("vote.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert entries == [
        ("vote.cast", voter.id, {"value": [None, "must"]}),
        ("vote.changed", voter.id, {"value": ["must", "should"], "justification": ["Urgent pour tous", ""]}),
        ("vote.withdrawn", voter.id, {"value": ["should", None]}),
    ]


def test_the_same_vote_twice_stores_one_row_and_one_audit_entry(make_user):
    voter = make_user("dsi", ministry="MI")
    campaign = make_campaign()
    for _ in range(2):
        service.cast_vote(campaign, campaign.opportunities[0], value="could", actor=voter)
    assert len(_votes(campaign)) == 1
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action.like("vote.%"))) == 1


def test_unique_constraint_refuses_a_second_row_for_the_same_voter_and_opportunity(make_user):
    from sqlalchemy.exc import IntegrityError

    voter = make_user("dsi", ministry="MI")
    campaign = make_campaign()
    service.cast_vote(campaign, campaign.opportunities[0], value="could", actor=voter)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(
            Vote(
                campaign_id=campaign.id,
                voter_id=voter.id,
                opportunity_id=campaign.opportunities[0].id,
                value="must",
            )
        )


@pytest.mark.parametrize(
    "case", ["not_dsi", "other_ministry", "draft", "closed_window", "out_of_scope", "bad_value"]
)
def test_refused_votes_store_nothing(make_user, make_opportunity, case):
    voter = (
        make_user("porteur")
        if case == "not_dsi"
        else make_user("dsi", ministry="MJ" if case == "other_ministry" else "MI")
    )
    now = utcnow()
    kw = {"ministries": ["MI"]}
    if case == "draft":
        kw.update(state="brouillon", opens_at=now + timedelta(hours=1))
    if case == "closed_window":
        kw.update(opens_at=now - timedelta(days=2), closes_at=now - timedelta(minutes=1))
    campaign = make_campaign(**kw)
    opportunity = make_opportunity() if case == "out_of_scope" else campaign.opportunities[0]
    expected = {
        "not_dsi": NotAllowed,
        "other_ministry": NotAllowed,
        "draft": DomainError,
        "closed_window": DomainError,
        "out_of_scope": DomainError,
        "bad_value": ValidationFailed,
    }[case]
    with pytest.raises(expected) as error:
        service.cast_vote(
            campaign, opportunity, value="maybe" if case == "bad_value" else "must", actor=voter
        )
    assert error.value.message  # a French sentence for the user
    assert _votes(campaign) == []


def test_must_budget_is_enforced_server_side(make_user):
    voter = make_user("dsi", ministry="MI")
    campaign = make_campaign(must_budget=1)
    first, second, third = campaign.opportunities
    service.cast_vote(campaign, first, value="must", actor=voter)
    service.cast_vote(campaign, first, value="must", justification="toujours", actor=voter)  # same Must: fine
    with pytest.raises(ValidationFailed) as error:
        service.cast_vote(campaign, second, value="must", actor=voter)
    assert error.value.errors["value"].startswith("Vous avez déjà attribué vos 1 « Must » autorisés")
    service.cast_vote(campaign, second, value="should", actor=voter)
    service.cast_vote(campaign, first, value="could", actor=voter)  # frees the Must
    service.cast_vote(campaign, third, value="must", actor=voter)
    assert sorted(v.value for v in _votes(campaign)) == ["could", "must", "should"]


def test_votes_cannot_change_after_close(make_user):
    secretariat, voter = make_user("secretariat"), make_user("dsi", ministry="MI")
    campaign = make_campaign()
    service.cast_vote(campaign, campaign.opportunities[0], value="must", actor=voter)
    service.transition(campaign, to="close", actor=secretariat)
    with pytest.raises(DomainError):
        service.cast_vote(campaign, campaign.opportunities[0], value="wont", actor=voter)
    with pytest.raises(DomainError):
        service.withdraw_vote(campaign, campaign.opportunities[0], actor=voter)
    assert [v.value for v in _votes(campaign)] == ["must"]


def test_electorate_limited_to_ministries_and_attribution_rule(make_user):
    campaign = make_campaign(ministries=["MI", "MJ"])
    mi, mj = (db.session.scalar(select(Organisation.id).where(Organisation.code == c)) for c in ("MI", "MJ"))
    assert service.elector_ministry(make_user("dsi", ministry="MI"), campaign) == (True, mi)
    assert service.elector_ministry(make_user("dsi", ministry="MEN"), campaign) == (False, None)
    assert service.elector_ministry(make_user("dsi"), campaign) == (False, None)
    assert service.elector_ministry(make_user("secretariat"), campaign) == (False, None)
    inactive = make_user("dsi", ministry="MJ", active=False)
    assert service.elector_ministry(inactive, campaign) == (False, None)
    assert service.electorate_by_ministry(campaign) == {
        mi: 1
    }  # MEN, no-ministry and inactive members left out
    assert mj not in service.electorate_by_ministry(campaign)


# --- results and priorities -----------------------------------------------------------------------------


def _voters(make_user, ministry, n):
    return [make_user("dsi", ministry=ministry) for _ in range(n)]


def test_frozen_results_per_ministry_hand_computed_example(make_user):
    """MI: 5 × Must; MJ: 1 × Could; MEN: 1 × Could.
    Overall: C, C, M, M, M, M, M (7 votes) → 4th vote = Must.
    Per ministry: MI → Must, MJ → Could, MEN → Could; median of ministries (C, C, M) → Could."""
    secretariat = make_user("secretariat")
    campaign = make_campaign()
    target, other, untouched = campaign.opportunities
    for voter in _voters(make_user, "MI", 5):
        service.cast_vote(campaign, target, value="must", actor=voter)
        service.cast_vote(campaign, other, value="wont", actor=voter)
    for ministry in ("MJ", "MEN"):
        for voter in _voters(make_user, ministry, 1):
            service.cast_vote(campaign, target, value="could", actor=voter)
            service.cast_vote(campaign, other, value="should", actor=voter)
    service.transition(campaign, to="close", actor=secretariat)
    results = {
        r.opportunity_id: r
        for r in db.session.scalars(select(CampaignResult).where(CampaignResult.campaign_id == campaign.id))
    }
    r = results[target.id]
    assert (r.must, r.should, r.could, r.wont, r.median, r.ministry_median) == (5, 0, 2, 0, "must", "could")
    # other: W×5, S×2 → W, W, W, W, W, S, S → 4th = Won't; ministries MI W, MJ S, MEN S → Should
    o = results[other.id]
    assert (o.median, o.ministry_median) == ("wont", "should")
    assert results[untouched.id].median is None and results[untouched.id].total == 0
    assert [results[i].rank for i in (target.id, other.id, untouched.id)] == [1, 2, 3]
    per_ministry = {
        (m.opportunity_id, m.organisation_id): m.median
        for m in db.session.scalars(
            select(CampaignMinistryResult).where(CampaignMinistryResult.campaign_id == campaign.id)
        )
    }
    mi = db.session.scalar(select(Organisation.id).where(Organisation.code == "MI"))
    assert per_ministry[(target.id, mi)] == "must" and len(per_ministry) == 6
    participation = {
        p.organisation_id: (p.electors, p.voters)
        for p in db.session.scalars(
            select(CampaignParticipation).where(CampaignParticipation.campaign_id == campaign.id)
        )
    }
    assert participation[mi][1] == 5 and participation[mi][0] >= 5


def test_publishing_sets_the_portfolio_priority_with_history_and_override_needs_a_reason(make_user):
    secretariat, voter = make_user("secretariat"), make_user("dsi", ministry="MI")
    campaign = make_campaign()
    first, second, _ = campaign.opportunities
    service.cast_vote(campaign, first, value="should", actor=voter)
    service.cast_vote(campaign, second, value="wont", actor=voter)
    service.transition(campaign, to="close", actor=secretariat)
    with pytest.raises(NotAllowed):  # not before publication
        service.override_priority(campaign, first, value="must", reason="CSIC", actor=secretariat)
    service.transition(campaign, to="publiee", actor=secretariat)
    assert (first.priority, second.priority, campaign.opportunities[2].priority) == ("should", "wont", None)
    history = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "opportunities", AuditEntry.object_id == str(first.id)
        )
    ).all()
    assert [(e.action, e.changes) for e in history] == [
        ("opportunity.priority_set", {"priority": [None, "should"]})
    ]
    with pytest.raises(ValidationFailed) as error:
        service.override_priority(campaign, first, value="must", reason="  ", actor=secretariat)
    assert error.value.errors == {"reason": "Le motif de la correction est obligatoire."}
    with pytest.raises(NotAllowed):
        service.override_priority(campaign, first, value="must", reason="x", actor=voter)
    result = service.override_priority(
        campaign, first, value="must", reason="Arbitrage du CSIC", actor=secretariat
    )
    assert first.priority == "must" and result.retained == Moscow.MUST and result.median == "should"
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "opportunity.priority_overridden")
    )
    assert entry.changes == {"priority": ["should", "must"], "reason": [None, "Arbitrage du CSIC"]}
    assert "Arbitrage du CSIC" in entry.summary
    assert db.session.get(Opportunity, first.id).priority == "must"
