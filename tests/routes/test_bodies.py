"""Typed bodies: a committee meets (members, rules, recurrence); a one-off meeting is a historical record; a
person or role and a working group never hold séances; a project body stops generating séances after the
project's end. Quorum and majority read « règle par défaut (décret 2006-672) » until the secretariat
records the body's own rule."""

import html as html_lib
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app import jobs
from app.extensions import db
from app.models import BodyKind, Committee, Meeting
from app.services import committees as service
from app.services.errors import DomainError


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def committee(code: str) -> Committee:
    return db.session.scalar(select(Committee).where(Committee.code == code))


def test_reference_bodies_are_typed_as_the_documents_name_them(db_session):
    kinds = {c.code: c.kind_enum for c in db.session.scalars(select(Committee))}
    assert kinds["RIM-2019-03-06"] is kinds["COPIL-2022-03-29"] is BodyKind.REUNION
    assert kinds["DI-FTAP"] is BodyKind.PERSONNE
    assert {kinds[f"GT{i}"] for i in range(1, 9)} == {BodyKind.GROUPE}
    assert kinds["CSIC-TECH"] is kinds["COMITE-INVEST-FTAP"] is BodyKind.COMITE
    rim = committee("RIM-2019-03-06")
    assert rim.held_on == date(2019, 3, 6) and "certificats de décès" in rim.outcomes
    hub = committee("COPIL-HUB")
    assert hub.project.startswith("Nouveau HUB") and hub.ends_on == date(2022, 6, 30)


def test_a_one_off_meeting_is_a_record_without_seances(client, login_as, make_user):
    login_as(make_user("secretariat"))
    page = body(client.get("/comites/RIM-2019-03-06"))
    assert "Réunion ponctuelle" in page and "Compte rendu de la réunion" in page
    assert "6 mars 2019" in page and "certificats de décès" in page
    assert "Planifier une séance" not in page and 'id="seances"' not in page
    assert client.get("/comites/RIM-2019-03-06/seances/nouvelle").status_code in (403, 404)
    person = body(client.get("/comites/DI-FTAP"))
    assert "Personne ou fonction" in person and "Planifier une séance" not in person
    assert "Groupe de travail" in body(client.get("/comites/GT3"))
    listing = body(client.get("/comites"))
    assert 'id="committee-GT8"' in listing and "Réunion ponctuelle" in listing


def test_rules_are_the_decrees_defaults_until_the_secretariat_records_them(client, csrf, login_as, make_user):
    login_as(make_user("secretariat"))
    page = body(client.get("/comites/CINUM"))
    assert "règle par défaut (décret 2006-672)" in page
    token = html_lib.unescape(client.get("/comites/CINUM/regles").get_data(as_text=True))
    assert "csrf_token" in token
    response = client.post(
        "/comites/CINUM/regles",
        data={
            "quorum_rule": "majorite",
            "majority_rule": "absolue",
            "recurrence": "FREQ=MONTHLY;BYDAY=1TU",
            "recurrence_time": "14:00",
            "meeting_minutes": "120",
            "default_place": "",
            "csrf_token": csrf(client),
        },
    )
    assert response.status_code == 303
    page = body(client.get("/comites/CINUM"))
    assert "règle par défaut (décret 2006-672)" not in page and "règle propre au comité" in page


def test_only_committees_generate_seances_and_project_bodies_stop_at_their_end(db_session):
    with pytest.raises(DomainError) as error:
        service.generate_meetings(committee("RIM-2019-03-06"), until=date(2027, 1, 1), actor=None)
    assert "n'est pas un comité (réunion ponctuelle)" in error.value.message
    coproj = committee("COPROJ")  # weekly on Mondays; its project ends on a Wednesday
    coproj.ends_on = date(2027, 3, 17)
    created = service.generate_meetings(coproj, until=date(2027, 6, 30), actor=None, today=date(2027, 3, 1))
    assert [m.occurrence for m in created] == ["2027-03-01", "2027-03-08", "2027-03-15"]


def test_the_generate_job_and_command_skip_bodies_that_do_not_meet(app, db_session):
    for code in ("DI-FTAP", "GT1"):  # even with a recurrence set, they never meet
        committee(code).recurrence = "FREQ=WEEKLY;BYDAY=MO"
    db.session.commit()
    jobs.generate_recurring_meetings(datetime(2027, 1, 10, 9, 0, tzinfo=UTC))
    generated = set(
        db.session.scalars(
            select(Committee.code).join(Meeting, Meeting.committee_id == Committee.id).distinct()
        )
    )
    assert generated and not generated & {"DI-FTAP", "GT1", "COPIL-HUB", "COPROJ", "CREC"}
    result = app.test_cli_runner().invoke(
        args=["committees", "generate-meetings", "--committee", "GT1", "--until", "2027-02-01"]
    )
    assert result.exit_code != 0 and "GT1 n'est pas un comité (groupe de travail)" in result.output
