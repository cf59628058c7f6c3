"""Voting queries: frozen results, participation and the voter's ballot in a constant number of statements."""

import pytest

from app.extensions import db
from app.queries import voting as queries_module
from app.services import voting as service
from tests.factories import make_campaign


@pytest.fixture(autouse=True)
def _database(db_session):
    return db_session


def _read(campaign, user):
    queries_module.results(campaign, with_ministries=True)
    queries_module.frozen_participation(campaign)
    queries_module.live_participation(campaign)
    queries_module.progress(campaign, user.id)
    queries_module.my_votes(campaign.id, user.id)
    queries_module.named_ballots(campaign)


def test_results_and_participation_statements_do_not_grow_with_the_voters(queries, make_user):
    secretariat = make_user("secretariat")
    few_voters, many_voters = make_campaign(), make_campaign()
    voter = make_user("dsi", ministry="MI")
    for o in few_voters.opportunities:
        service.cast_vote(few_voters, o, value="must", actor=voter)
    for n in range(12):
        other = make_user("dsi", ministry=["MI", "MJ", "MEN", "MC"][n % 4])
        for o in many_voters.opportunities:
            service.cast_vote(many_voters, o, value=["must", "should", "could", "wont"][n % 4], actor=other)
    service.transition(few_voters, to="close", actor=secretariat)
    service.transition(many_voters, to="close", actor=secretariat)
    _read(few_voters, voter)
    db.session.expire_all()
    with queries() as few:
        _read(few_voters, voter)
    db.session.expire_all()
    with queries() as many:
        _read(many_voters, voter)
    assert len(few) == len(many)


def test_results_rows_carry_the_domain_statistics(make_user):
    secretariat = make_user("secretariat")
    campaign = make_campaign()
    first = campaign.opportunities[0]
    for value in ("must", "must", "could"):
        service.cast_vote(campaign, first, value=value, actor=make_user("dsi", ministry="MI"))
    service.transition(campaign, to="close", actor=secretariat)
    row = next(r for r in queries_module.results(campaign).rows if r.opportunity_id == first.id)
    assert (row.total, row.median.value, row.at_or_above, row.modal_share, row.dispersion) == (
        3,
        "must",
        67,
        67,
        2,
    )
    assert row.cells[0] == "2 (67 %)"


def test_live_voters_per_ministry_are_the_distinct_voters_of_the_votes(make_user):
    from app.models.voting import voters_by_ministry

    campaign = make_campaign()
    for n in range(7):
        voter = make_user("dsi", ministry=["MI", "MJ", "MEN"][n % 3])
        for o in campaign.opportunities[: 1 + n % 3]:
            service.cast_vote(campaign, o, value="must", actor=voter)
    make_user("dsi", ministry="MI")  # an elector who has not voted
    live = queries_module.live_voters_by_ministry(campaign.id)
    assert live == voters_by_ministry(campaign.id)
    assert sorted(live.values()) == [2, 2, 3]
