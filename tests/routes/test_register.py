"""The register page (access, tampering detection) and `flask committees verify-register`."""

from sqlalchemy import text

from app.extensions import db
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from tests.routes import test_committees as committees_tests

# the fixtures and helpers of the committee page tests: a CSIC-Tech meeting opened with its board
secretariat, board, opened = committees_tests.secretariat, committees_tests.board, committees_tests.opened
body = committees_tests.body


def test_register_page_access_and_tampering_detection(
    client, login_as, board, secretariat, opened, make_user
):
    meeting, item, _ = opened
    meeting_service.record_attendance(meeting, user=board[1], status="present", actor=secretariat)
    meeting_service.record_attendance(meeting, user=board[3], status="present", actor=secretariat)
    decision = decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    db.session.commit()
    login_as(make_user("dsi", ministry="MI"))
    assert client.get("/comites/registre").status_code == 403
    login_as(board[3])
    assert "Registre intègre" in body(client.get("/comites/registre"))
    db.session.execute(
        text("UPDATE decisions SET outcome = 'ecartee', motivation = 'x' WHERE id = :id"), {"id": decision.id}
    )
    html = body(client.get("/comites/registre"))
    assert "Registre altéré" in html and f"La décision n° {decision.id} a été modifiée hors registre." in html


def test_cli_verify_register(app, db_session, board, secretariat, opened):
    meeting, item, _ = opened
    meeting_service.record_attendance(meeting, user=board[1], status="present", actor=secretariat)
    meeting_service.record_attendance(meeting, user=board[3], status="present", actor=secretariat)
    decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["committees", "verify-register"])
    assert result.exit_code == 0 and "Registre intègre : 1 entrée(s)" in result.output
    db.session.execute(text("UPDATE register_entries SET content_hash = 'x' WHERE position = 1"))
    result = runner.invoke(args=["committees", "verify-register"])
    assert result.exit_code == 1 and "Registre altéré" in result.output
