"""The minutes page: notes, review, publication, and the PDF."""

import io

from pypdf import PdfReader

from app.extensions import db
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from tests.routes import test_committees as committees_tests

# the fixtures and helpers of the committee page tests: a CSIC-Tech meeting opened with its board
secretariat, board, opened = committees_tests.secretariat, committees_tests.board, committees_tests.opened
body, post, HX = committees_tests.body, committees_tests.post, committees_tests.HX


def test_minutes_notes_review_publication_and_pdf(
    client, csrf, login_as, board, secretariat, opened, make_user
):
    committee, president, *_ = board
    meeting, item, _ = opened
    meeting_service.record_attendance(meeting, user=president, status="present", actor=secretariat)
    meeting_service.record_attendance(meeting, user=board[3], status="present", actor=secretariat)
    decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    db.session.commit()
    outsider = make_user("dsi", ministry="MI")
    login_as(outsider)
    assert client.get(f"/comites/seances/{meeting.id}/proces-verbal").status_code == 403
    login_as(secretariat)
    url = f"/comites/seances/{meeting.id}/proces-verbal"
    response = post(
        client,
        csrf,
        url,
        {
            "notes": "Ouverture à 14 h.",
            f"item-{item.id}": "Débat **nourri**.",
            "version": meeting.minutes.version,
        },
    )
    assert response.status_code == 303
    assert post(client, csrf, f"{url}/publier").status_code == 303  # refused: not reviewed (flash)
    assert meeting.state == "tenue"
    assert post(client, csrf, f"{url}/relire").status_code == 303
    assert post(client, csrf, f"{url}/publier").status_code == 303
    db.session.expire_all()
    assert meeting.state == "pv_publie"
    login_as(outsider)
    html = body(client.get(url))
    assert "<strong>nourri</strong>" in html and "Publié" in html
    pdf = client.get(f"{url}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text_ = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Procès-verbal" in text_ and "CSIC-Tech" in text_ and "Validée" in text_
