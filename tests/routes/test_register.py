"""The register page (access, tampering detection) and `flask committees verify-register`."""

from sqlalchemy import select, text

from app import jobs
from app.extensions import db
from app.models import RegisterEntry, RegisterVerification
from app.queries import committees as committee_queries
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from app.services import register as register_service
from tests.routes import test_committees as committees_tests

# the fixtures and helpers of the committee page tests: a CSIC-Tech meeting opened with its board
secretariat, board, opened = committees_tests.secretariat, committees_tests.board, committees_tests.opened
body = committees_tests.body


def _decide(meeting, item, board, secretariat):
    meeting_service.record_attendance(meeting, user=board[1], status="present", actor=secretariat)
    meeting_service.record_attendance(meeting, user=board[3], status="present", actor=secretariat)
    decision = decision_service.record_decision(item, outcome="validee", mode="consensus", actor=secretariat)
    db.session.commit()
    return decision


def test_the_page_shows_the_latest_verification_and_the_secretariat_can_verify_now(
    client, csrf, login_as, make_user, board, secretariat, opened
):
    meeting, item, _ = opened
    decision = _decide(meeting, item, board, secretariat)
    login_as(make_user("dsi", ministry="MI"))
    assert client.get("/comites/registre").status_code == 403
    login_as(board[3])
    html = body(client.get("/comites/registre"))
    assert "Registre pas encore vérifié" in html and "Vérifier maintenant" not in html
    assert client.post("/comites/registre/verifier", data={"csrf_token": csrf(client)}).status_code == 403

    jobs.run_job(jobs.JOBS["register.verify"])  # the nightly job
    assert "Registre intègre" in body(client.get("/comites/registre"))

    db.session.execute(
        text("UPDATE decisions SET outcome = 'ecartee', motivation = 'x' WHERE id = :id"), {"id": decision.id}
    )
    assert "Registre intègre" in body(client.get("/comites/registre"))  # a view re-reads nothing
    login_as(secretariat)
    response = client.post("/comites/registre/verifier", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    html = body(client.get(response.headers["Location"]))
    assert "Registre vérifié : il a été altéré." in html
    assert "Registre altéré" in html and f"La décision n° {decision.id} a été modifiée hors registre." in html


def test_an_entry_tampered_with_is_caught_when_the_next_decision_is_written(
    db_session, board, secretariat, opened
):
    meeting, item, _ = opened
    _decide(meeting, item, board, secretariat)
    db.session.execute(text("UPDATE register_entries SET payload = payload || ' ' WHERE position = 1"))
    entry = db.session.scalar(select(RegisterEntry).where(RegisterEntry.position == 1))
    db.session.refresh(entry)
    register_service.append(entry.decision, "amended")
    latest = committee_queries.latest_register_verification()
    assert latest.trigger == "write" and not latest.ok
    assert "Contenu modifié : son empreinte ne correspond plus." in [m for _, m in latest.problems]


def test_the_register_is_paginated_in_a_constant_number_of_statements(
    client, login_as, queries, board, secretariat, opened
):
    meeting, item, _ = opened
    decision = _decide(meeting, item, board, secretariat)
    login_as(secretariat)
    client.get("/comites/registre")  # the first request of a client also loads what every later one reuses
    with queries() as few:
        assert client.get("/comites/registre").status_code == 200
    for _ in range(2, 121):  # 120 entries in all (rows of the chain, written as the service would)
        register_service.append(decision, "amended")
    db.session.commit()
    with queries() as many:
        html = body(client.get("/comites/registre"))
    assert len(many) == len(few)
    assert "120 en tout" in html and html.count("<tr><td>") == 50 and "<td>120</td>" in html
    last = body(client.get("/comites/registre?page=3"))
    assert last.count("<tr><td>") == 20 and "<td>1</td>" in last and 'aria-current="page"' in last


def test_a_register_missing_an_entry_still_lists_every_remaining_one_by_page(
    client, login_as, board, secretariat, opened
):
    """A page is a range of positions while the chain numbers its entries 1…N; with one deleted behind the
    application's back, the pages count from the newest entry and none is skipped."""
    meeting, item, _ = opened
    decision = _decide(meeting, item, board, secretariat)
    for _ in range(2, 61):
        register_service.append(decision, "amended")
    db.session.commit()
    login_as(secretariat)
    assert body(client.get("/comites/registre?page=2")).count("<tr><td>") == 10  # positions 10…1
    db.session.execute(text("DELETE FROM register_entries WHERE position = 30"))
    db.session.commit()
    second = body(client.get("/comites/registre?page=2"))
    assert "59 en tout" in second and second.count("<tr><td>") == 9 and "<td>1</td>" in second
    first = body(client.get("/comites/registre"))
    assert first.count("<tr><td>") == 50 and "<td>10</td>" in first and "<td>9</td>" not in first


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
    assert [v.trigger for v in db.session.scalars(select(RegisterVerification))] == ["cli", "cli"]


def test_the_readiness_check_reports_the_registers_last_verification(client, db_session, app):
    app.config["PROCONNECT_DISCOVERY_URL"], saved = (
        "http://127.0.0.1:9/.well-known",
        app.config["PROCONNECT_DISCOVERY_URL"],
    )
    try:
        assert "register" not in client.get("/healthz").get_json()  # the liveness probe stays local
        assert client.get("/healthz?deep=1").get_json()["register"] == {"status": "unchecked"}
        register_service.record_verification(trigger="cli", actor=None)
        db.session.commit()
        register = client.get("/healthz?deep=1").get_json()["register"]
        assert register["status"] == "ok" and register["entries"] == 0 and register["checked_at"]
    finally:
        app.config["PROCONNECT_DISCOVERY_URL"] = saved
