"""Every deciding body of a guichet is usable out of the box (issue 13): a recurrence rule (its next meeting
is generated from it), members assignable from its page, and an instructed dossier of its guichets can be
proposed to it."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.formatting import paris_today
from app.models import Committee, Guichet, Meeting
from app.services import guichets as guichet_rules
from app.services import proposals


@pytest.mark.parametrize("code", sorted(set(guichet_rules.REFERENCE_COMMITTEES.values())))
def test_deciding_body_gets_members_and_its_next_meeting_from_its_page(
    code, client, csrf, login_as, make_user
):
    committee = db.session.scalar(select(Committee).where(Committee.code == code))
    assert committee.recurrence, f"{code} has no recurrence rule: no meeting would ever be generated"
    secretariat, agent = make_user("secretariat"), make_user("porteur")
    login_as(secretariat)
    page = client.get(f"/comites/{code}").get_data(as_text=True)
    assert "membres" in page
    response = client.post(
        f"/comites/{code}/membres",
        data={"csrf_token": csrf(client), "email": agent.email, "function": "president"},
    )
    assert response.status_code == 303
    until = (paris_today() + timedelta(days=120)).isoformat()
    response = client.post(
        f"/comites/{code}/seances/generer", data={"csrf_token": csrf(client), "until": until}
    )
    assert response.status_code == 303
    upcoming = db.session.scalars(select(Meeting).where(Meeting.committee_id == committee.id)).all()
    assert upcoming, f"{code}: no meeting generated from {committee.recurrence}"
    db.session.expire_all()
    assert [r.committee_id for r in agent.roles if r.committee_id] == [committee.id]


@pytest.mark.parametrize("guichet", ["FTAP", "FTAP-LEAN", "FTAP-DINUM-OPI"])
def test_every_ftap_guichet_has_a_deciding_body(guichet, db_session):
    from tests.factories import make_dossier

    dossier = make_dossier(guichet_code=guichet)
    assert proposals.deciding_committee(dossier) is not None
    assert db.session.scalar(select(Guichet).where(Guichet.code == guichet)) is not None


@pytest.mark.parametrize("guichet", ["SNAP4", "ITN1"])
def test_a_france_relance_theme_is_decided_by_the_body_the_secretariat_sets(guichet, db_session):
    """[003] §1 names no selection body: « à préciser » (none) until the secretariat sets the theme's."""
    from tests.factories import make_dossier

    dossier = make_dossier(guichet_code=guichet)
    assert proposals.deciding_committee(dossier) is None
    body = db.session.scalar(select(Committee).where(Committee.code == "COPIL-SUITE"))
    dossier.guichet.committee_id = (
        body.id
    )  # what the secretariat's rules form stores (tests/routes/test_guichets)
    assert proposals.deciding_committee(dossier) == body
