"""Criblage through HTTP: open over a filtered scope, three reviewers score, ranked list, two retained →
on the next CSIC-Tech agenda → decision → « validée CSIC-Tech »."""

import html as html_lib
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AgendaItem, Backing, Campaign, Opportunity, Organisation
from app.models.criblage import Criblage, CriblageItem
from tests.factories import make_committee_meeting, make_committee_members

CODES = [f"M{n:03d}" for n in range(1, 11)]
# (maturity, value) given by each of the three reviewers, per code: M004 and M007 come out on top.
MARKS = {
    "M001": [(1, 1), (2, 1), (1, 2)],
    "M002": [(2, 2), (2, 2), (3, 2)],
    "M003": [(3, 2), (3, 3), (2, 2)],
    "M004": [(4, 4), (3, 4), (4, 3)],
    "M005": [(2, 3), (2, 3), (1, 2)],
    "M006": [(1, 1), (1, 1), (1, 1)],
    "M007": [(3, 4), (4, 4), (2, 4)],
    "M008": [(2, 3), (3, 3), (3, 3)],
    "M009": [(2, 1), (2, 2), (2, 1)],
    "M010": [(4, 3), (3, 3), (4, 3)],  # same median value as M008, more mature
}


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def post(client, csrf, url, data=None):
    return client.post(url, data={"csrf_token": csrf(client), **(data or {})})


@pytest.fixture
def scope(db_session):
    """The ten first opportunities are backed by MI: the criblage's filter picks exactly them."""
    mi = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    for code in CODES:
        opportunity = db.session.scalar(select(Opportunity).where(Opportunity.code == code))
        db.session.add(Backing(opportunity=opportunity, organisation_id=mi.id, role="interesse"))
    db.session.commit()


def test_criblage_to_csic_tech_validation(client, csrf, login_as, make_user, scope):
    secretariat = make_user("secretariat")
    reviewers = [secretariat, make_user("dsi", ministry="MI"), make_user("dsi", ministry="MJ")]
    committee, (president, _secretary, m1, *_rest) = make_committee_members("CSIC-TECH")
    meeting = make_committee_meeting("CSIC-TECH")

    login_as(secretariat)
    preview = body(client.get("/criblages/nouveau?ministere=MI"))
    assert "10 opportunités dans le périmètre" in preview
    response = post(client, csrf, "/criblages/nouveau", {"title": "Criblage T1", "ministere": "MI"})
    assert response.status_code == 303
    criblage = db.session.scalar(select(Criblage))
    assert sorted(i.opportunity.code for i in criblage.items) == CODES
    assert {i.opportunity.state for i in criblage.items} == {"en_criblage"}

    items = {i.opportunity.code: i.id for i in criblage.items}
    for n, reviewer in enumerate(reviewers):
        login_as(reviewer)
        for code, marks in MARKS.items():
            maturity, value = marks[n]
            prefix = f"item-{items[code]}-"
            response = post(
                client,
                csrf,
                f"/criblages/{criblage.id}/notes/{code}",
                {prefix + "maturity": str(maturity), prefix + "value": str(value), prefix + "comment": "vu"},
            )
            assert response.status_code == 303, code
    # a mark outside the scale is refused in French, nothing saved
    response = post(
        client, csrf, f"/criblages/{criblage.id}/notes/M001", {f"item-{items['M001']}-maturity": "9"}
    )
    assert response.status_code == 422 and "Choisissez la valeur" in body(response)

    login_as(secretariat)
    page = body(client.get(f"/criblages/{criblage.id}"))
    ranked = re.findall(r'<tr id="rank-(M\d+)" data-position="(\d+)">', page)
    assert [code for code, _ in ranked][:4] == ["M004", "M007", "M010", "M008"]
    assert 'id="criblage-chart"' in page and 'id="chart-table"' in page
    assert "Prête à qualifier" in page  # the maturity scale's labels

    response = post(
        client, csrf, f"/criblages/{criblage.id}/retenir", {"items": [str(items["M004"]), str(items["M007"])]}
    )
    assert response.status_code == 303
    retained = {o.code: o for o in db.session.scalars(select(Opportunity).where(Opportunity.code.in_(CODES)))}
    assert retained["M004"].state == retained["M007"].state == "retenue_criblage"
    assert retained["M010"].state == "en_criblage"
    agenda = list(db.session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)))
    assert sorted(i.opportunity.code for i in agenda) == ["M004", "M007"]
    assert "M004" in body(client.get(f"/comites/seances/{meeting.id}"))

    # a manual POST to « validée CSIC-Tech » is refused in French
    response = post(client, csrf, "/opportunites/M004/statut", {"state": "validee_csic_tech"})
    assert response.status_code == 422
    assert "ce statut suit la décision du CSIC-Tech enregistrée en séance" in body(response)

    # the meeting: agenda published, opened, quorum, decision → validée CSIC-Tech
    assert post(client, csrf, f"/comites/seances/{meeting.id}/publier").status_code == 303
    assert post(client, csrf, f"/comites/seances/{meeting.id}/ouvrir").status_code == 303
    for user in (president, m1):
        post(
            client, csrf, f"/comites/seances/{meeting.id}/presence", {"user_id": user.id, "status": "present"}
        )
    item = next(i for i in agenda if i.opportunity.code == "M004")
    prefix = f"d{item.id}-"
    response = post(
        client,
        csrf,
        f"/comites/seances/{meeting.id}/points/{item.id}/decision",
        {prefix + "outcome": "validee", prefix + "mode": "consensus", prefix + "motivation": "Sujet mûr."},
    )
    assert response.status_code == 303
    m004 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M004"))
    assert m004.state == "validee_csic_tech"
    page = body(client.get("/opportunites/M004"))
    assert "Validée CSIC-Tech" in page and "Criblage T1" in page and 'id="last-screened"' in page

    # a campaign from the retained list
    response = post(client, csrf, f"/criblages/{criblage.id}/campagne")
    assert response.status_code == 303
    campaign = db.session.scalar(select(Campaign))
    assert sorted(o.code for o in campaign.opportunities) == ["M004", "M007"]


def test_dsi_scores_but_cannot_retain_and_ate_subjects_are_left_out(client, csrf, login_as, make_user, scope):
    secretariat = make_user("secretariat")
    login_as(secretariat)
    assert post(client, csrf, "/opportunites/M003/ate", {"ate": "1"}).status_code == 303
    assert "Sujet ATE" in body(client.get("/opportunites/M003"))
    post(client, csrf, "/criblages/nouveau", {"title": "Sans ATE", "ministere": "MI"})
    criblage = db.session.scalar(select(Criblage))
    assert "M003" not in [i.opportunity.code for i in criblage.items] and len(criblage.items) == 9
    login_as(make_user("dsi", ministry="MI"))
    item = db.session.scalar(select(CriblageItem).where(CriblageItem.criblage_id == criblage.id))
    assert (
        post(client, csrf, f"/criblages/{criblage.id}/retenir", {"items": [str(item.id)]}).status_code == 403
    )
    login_as(make_user("porteur"))
    assert client.get(f"/criblages/{criblage.id}").status_code == 403
