"""Scoped queries of app/permissions.py that span several domains."""

from flask_login import AnonymousUserMixin

from app.extensions import db
from app.permissions import dossiers_visible_to, instructs
from app.services import meetings as meeting_service
from tests.factories import (
    make_committee_meeting,
    make_committee_members,
    make_instructed_dossier,
    make_user,
)


def visible_ids(user) -> set[int]:
    return set(db.session.scalars(dossiers_visible_to(user).with_only_columns(db.text("dossiers.id"))))


def test_committee_members_see_the_dossiers_on_their_agendas_only(db_session, client, login_as):
    porteur = make_user("porteur")
    on_agenda = make_instructed_dossier(porteur, guichet="FTAP-DINUM-OPI", title="Inscrit")
    elsewhere = make_instructed_dossier(porteur, guichet="FTAP-DINUM-OPI", title="Pas inscrit")
    committee, (president, secretary, *_rest) = make_committee_members("COMITE-INVEST-FTAP")
    _other, (outsider, *_more) = make_committee_members("CSIC")
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    secretariat = make_user("secretariat")
    assert on_agenda.id not in visible_ids(president)

    meeting_service.add_item(meeting, kind="dossier", actor=secretariat, dossier_id=on_agenda.id)
    db.session.commit()

    assert on_agenda.id in visible_ids(president)
    assert elsewhere.id not in visible_ids(president)
    assert on_agenda.id not in visible_ids(outsider)
    login_as(president)
    assert client.get(f"/dossiers/{on_agenda.id}").status_code == 200
    assert client.get(f"/dossiers/{elsewhere.id}").status_code == 404


def test_function_of_and_elector_ministry_read_the_roles_only(db_session):
    from app import permissions
    from app.models.committees import MemberFunction
    from tests.factories import make_campaign

    committee, (president, secretary, member, *_rest) = make_committee_members("COMITE-INVEST-FTAP")
    assert permissions.function_of(president, committee) == MemberFunction.PRESIDENT
    assert permissions.function_of(secretary, committee) == MemberFunction.SECRETAIRE
    assert permissions.function_of(make_user("porteur"), committee) is None
    assert permissions.function_of(None, committee) is None
    campaign = make_campaign()
    assert permissions.elector_ministry(make_user("dsi"), campaign) == (True, None)
    assert permissions.elector_ministry(make_user("secretariat"), campaign) == (False, None)
    assert permissions.can_vote_in_campaign(make_user("dsi", ministry="MI"), campaign)


def test_who_instructs_somewhere(db_session):
    """The secretariat and the instructeurs see the follow button of a dossier they instruct; the others'
    pages do without it (queries.dossiers.by_id)."""
    assert instructs(make_user("secretariat")) and instructs(make_user("instructeur"))
    assert not instructs(make_user("porteur")) and not instructs(make_user("dsi"))
    assert not instructs(AnonymousUserMixin())
