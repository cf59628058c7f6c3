"""The live meeting and the minutes by htmx: « tous présents » then the exceptions, each action swapped in
place and announced (HX-Trigger announce, not a flash left for the next page), the decided point's heading
focused."""

import json

from app.extensions import db
from app.services import meetings as meeting_service
from tests.routes import test_committees as committees_tests

secretariat, board, opened = committees_tests.secretariat, committees_tests.board, committees_tests.opened
body, post, HX = committees_tests.body, committees_tests.post, committees_tests.HX


def announced(response) -> str:
    return json.loads(response.headers.get("HX-Trigger", "{}")).get("announce", "")


def test_all_present_then_an_exception_each_announced(client, csrf, login_as, board, secretariat, opened):
    committee, president, secretary, m1, m2, guest = board
    meeting, item, _ = opened
    meeting_service.record_attendance(meeting, user=m2, status="excuse", actor=secretariat)
    db.session.commit()
    login_as(secretariat)
    base = f"/comites/seances/{meeting.id}"
    assert 'id="presence-tous"' in body(client.get(f"{base}/direct"))
    response = post(client, csrf, f"{base}/presence/tous", headers=HX)
    assert response.status_code == 200
    assert body(response).lstrip().startswith('<div id="seance-direct">')
    assert announced(response) == "Présence enregistrée : 4 membre(s) marqué(s) présent(s)."
    db.session.expire_all()
    status = {a.user_id: a.status for a in meeting.attendances}
    assert status[m2.id] == "excuse"  # an exception already told is kept
    assert {status[u.id] for u in (president, secretary, m1, guest)} == {"present"}
    # the exception, row by row
    response = post(client, csrf, f"{base}/presence", {"user_id": m1.id, "status": "absent"}, headers=HX)
    assert announced(response) == f"Présence enregistrée : {m1.full_name}, absent."
    # no flash left over for the next page
    assert "Présence enregistrée" not in body(client.get(f"{base}/direct"))
    # without JavaScript: the redirect and the flash
    response = post(client, csrf, f"{base}/presence/tous")
    assert response.status_code == 303


def test_all_present_is_the_runner_s(client, csrf, login_as, board, opened):
    committee, president, *_ = board
    meeting, *_ = opened
    login_as(board[3])  # a member, not the secretariat
    assert post(client, csrf, f"/comites/seances/{meeting.id}/presence/tous").status_code == 403


def test_a_vote_and_a_decision_are_announced_and_the_point_heading_takes_the_focus(
    client, csrf, login_as, board, secretariat, opened
):
    committee, president, *_ = board
    meeting, item, _ = opened
    login_as(secretariat)
    base = f"/comites/seances/{meeting.id}"
    post(client, csrf, f"{base}/presence/tous", headers=HX)
    response = post(
        client,
        csrf,
        f"{base}/points/{item.id}/votes",
        {"voter_id": president.id, "choice": "pour"},
        headers=HX,
    )
    assert announced(response) == f"Vote de {president.full_name} enregistré sur le point 1 : pour."
    # each point's and row's buttons have their own id: the focus returns to the one used (app.js)
    fragment = body(response)
    assert f'id="vote-submit-{item.id}-{president.id}"' in fragment
    assert (
        f'id="presence-submit-{president.id}"' in fragment and f'id="decision-submit-{item.id}"' in fragment
    )
    # a decision without its outcome: an error summary that takes the focus, the disclosure open
    response = post(client, csrf, f"{base}/points/{item.id}/decision", {}, headers=HX)
    assert response.status_code == 422
    fragment = body(response)
    assert f'id="decision-errors-{item.id}"' in fragment and "data-app-focus" in fragment
    assert '<details class="fr-mt-2w" open>' in fragment
    response = post(
        client,
        csrf,
        f"{base}/points/{item.id}/decision",
        {f"d{item.id}-outcome": "validee", f"d{item.id}-mode": "vote"},
        headers=HX,
    )
    assert response.status_code == 200
    assert announced(response) == "Décision enregistrée sur le point 1."
    assert f'id="point-title-{item.id}" tabindex="-1" data-app-focus' in body(response)
    # a refused vote: the message takes the focus
    response = post(client, csrf, f"{base}/points/{item.id}/votes", {"voter_id": president.id}, headers=HX)
    assert response.status_code == 422


def test_minutes_saved_by_htmx_are_swapped_against_the_new_version(
    client, csrf, login_as, board, secretariat, opened
):
    meeting, item, _ = opened
    login_as(secretariat)
    url = f"/comites/seances/{meeting.id}/proces-verbal"
    version = meeting.minutes.version
    response = post(client, csrf, url, {"notes": "Ouverture.", "version": version}, headers=HX)
    assert response.status_code == 200 and announced(response) == "Procès-verbal enregistré."
    db.session.expire_all()
    fragment = body(response)
    assert fragment.lstrip().startswith('<div id="minutes-form">')
    assert f'value="{meeting.minutes.version}"' in fragment and meeting.minutes.version != version
    response = post(
        client, csrf, url, {"notes": "Ouverture, 14 h.", "version": meeting.minutes.version}, headers=HX
    )
    assert response.status_code == 200  # the second save is against the version the swap carried


def test_each_point_has_a_document_form_of_its_own(client, csrf, login_as, board, secretariat):
    meeting = committees_tests.make_committee_meeting("CSIC-TECH")
    first, second = (
        meeting_service.add_item(meeting, kind="libre", title=title, actor=secretariat)
        for title in ("Point A", "Point B")
    )
    db.session.commit()
    login_as(secretariat)
    html = body(client.get(f"/comites/seances/{meeting.id}"))
    for item in (first, second):  # each point links to the page of its own document form
        assert f'href="/comites/seances/{meeting.id}/points/{item.id}/documents"' in html
    url = f"/comites/seances/{meeting.id}/points/{second.id}/documents"
    form = body(client.get(url))
    assert "Point B" in form and 'for="label"' in form
    response = post(client, csrf, url, {"label": "Note de cadrage", "url": "ftp://x"})
    assert response.status_code == 422
    html = body(response)
    assert "L'adresse doit commencer par https://" in html and 'value="Note de cadrage"' in html
    response = post(client, csrf, url, {"label": "Note de cadrage", "url": "https://exemple.gouv.fr/note"})
    assert response.status_code == 303
    db.session.expire_all()
    assert [d.label for d in second.documents] == ["Note de cadrage"] and not first.documents
