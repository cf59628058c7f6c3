"""Voting models: CHECK and UNIQUE constraints hold in the database, computed properties."""

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.base import utcnow
from app.models.portfolio import Moscow
from app.models.voting import TRANSITIONS, Campaign, CampaignResult, CampaignState, Vote
from tests.factories import make_campaign


def _refused(obj):
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(obj)
        db.session.flush()


def _campaign(**kw):
    now = utcnow()
    values = dict(title="T", opens_at=now, closes_at=now + timedelta(days=1))
    values.update(kw)
    return Campaign(**values)


def test_campaign_checks(db_session):
    now = utcnow()
    _refused(_campaign(state="archivee"))
    _refused(_campaign(visibility="public"))
    _refused(_campaign(closes_at=now - timedelta(minutes=1)))
    _refused(_campaign(must_budget=0))
    _refused(_campaign(state="close"))  # a closed campaign has its closing date
    _refused(_campaign(state="publiee", closed_at=now))  # a published one its publication date
    ok = _campaign(state="publiee", closed_at=now, published_at=now)
    db.session.add(ok)
    db.session.flush()
    assert ok.is_frozen and ok.state_enum.label == "Publiée" and ok.allowed_transitions() == []


def test_transitions_table_is_linear():
    assert TRANSITIONS == {
        CampaignState.BROUILLON: {CampaignState.OUVERTE},
        CampaignState.OUVERTE: {CampaignState.CLOSE},
        CampaignState.CLOSE: {CampaignState.PUBLIEE},
        CampaignState.PUBLIEE: set(),
    }


def test_vote_value_known_and_one_vote_per_voter_and_opportunity(make_user):
    voter = make_user("dsi", ministry="MI")
    campaign = make_campaign()
    opportunity = campaign.opportunities[0]
    _refused(Vote(campaign_id=campaign.id, voter_id=voter.id, opportunity_id=opportunity.id, value="maybe"))
    db.session.add(
        Vote(campaign_id=campaign.id, voter_id=voter.id, opportunity_id=opportunity.id, value="must")
    )
    db.session.flush()
    _refused(Vote(campaign_id=campaign.id, voter_id=voter.id, opportunity_id=opportunity.id, value="wont"))


def test_result_override_needs_a_reason_and_retained_prefers_it(make_user):
    campaign = make_campaign()
    opportunity = campaign.opportunities[0]
    _refused(
        CampaignResult(campaign_id=campaign.id, opportunity_id=opportunity.id, rank=1, override_value="must")
    )
    result = CampaignResult(
        campaign_id=campaign.id,
        opportunity_id=opportunity.id,
        rank=1,
        must=1,
        could=2,
        median="could",
        override_value="must",
        override_reason="Arbitrage",
    )
    db.session.add(result)
    db.session.flush()
    assert result.total == 3 and result.median_enum == Moscow.COULD and result.retained == Moscow.MUST
