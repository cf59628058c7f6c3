"""The reminder kinds of dossiers and guichets (app/services/dossiers_reminders.py): compléments unanswered
J+7 (porteur, copy to the instructor), appel à projets closing J-7 (porteurs with a draft)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Guichet, Reminder, Role
from app.services import reminders
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401
from tests.services.test_reminders import sent_to


def new_call_for_projects():
    guichet = Guichet(
        code="AAP-RAPPELS",
        name="Appel à projets de test",
        mode="appel_a_projets",
        opens_at=datetime(2027, 1, 4, 8, 0, tzinfo=UTC),
        closes_at=datetime(2027, 6, 30, 15, 0, tzinfo=UTC),
    )
    db.session.add(guichet)
    db.session.commit()
    return guichet


@pytest.fixture
def call_for_projects(db_session):
    return new_call_for_projects()


def make_dossier(guichet, porteur, state="brouillon", **kw):
    from app.models import Dossier

    extra = {}
    if state != "brouillon":
        extra["submitted_at"] = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
    if state in ("conventionne", "en_suivi"):
        extra.update(avis="favorable", avis_motivation="Bon dossier", decision_outcome="accepte")
    dossier = Dossier(
        guichet_id=guichet.id,
        created_by_id=porteur.id,
        title=kw.pop("title", "Dossier de test"),
        start_year=2027,
        state=state,
        **extra,
        **kw,
    )
    db.session.add(dossier)
    db.session.commit()
    return dossier


def test_call_for_projects_closing_reminds_porteurs_with_a_draft(call_for_projects, make_user, inbox):
    drafter = make_user(Role.PORTEUR, email="brouillon@example.gouv.fr")
    submitter = make_user(Role.PORTEUR, email="depose@example.gouv.fr")
    draft = make_dossier(call_for_projects, drafter, title="Mon brouillon")
    make_dossier(call_for_projects, submitter, state="depose")
    reminders.reschedule_for(call_for_projects)
    db.session.commit()
    j7 = datetime(2027, 6, 23, 7, 0, tzinfo=UTC)
    assert reminders.send_due(j7 - timedelta(minutes=1)).sent == []
    assert len(reminders.send_due(j7).sent) == 1
    [message] = inbox.messages()
    assert "brouillon@example.gouv.fr" in message["To"]
    assert message["Subject"] == (
        "Appel à projets AAP-RAPPELS : clôture le 30 juin 2027 à 17:00, votre dossier n'est pas déposé"
    )
    assert f"D{draft.id:04d} « Mon brouillon »" in body_text(message)
    assert f"https://mutualisation.example.gouv.fr/dossiers/{draft.id}" in body_text(message)


def test_call_for_projects_draft_submitted_meanwhile_is_not_reminded(call_for_projects, make_user, inbox):
    drafter = make_user(Role.PORTEUR, email="brouillon2@example.gouv.fr")
    draft = make_dossier(call_for_projects, drafter)
    reminders.reschedule_for(call_for_projects)
    draft.state, draft.submitted_at = "depose", datetime(2027, 6, 20, tzinfo=UTC)
    db.session.commit()
    report = reminders.send_due(datetime(2027, 6, 23, 7, 0, tzinfo=UTC))
    assert report.sent == [] and len(report.skipped) == 1 and len(inbox) == 0


def test_complements_unanswered_after_7_days_to_porteur_with_copy_to_instructor(
    call_for_projects, make_user, inbox
):
    from app.models import ComplementRequest

    porteur = make_user(
        Role.PORTEUR, email="porteur.dossier@example.gouv.fr", given_name="Paul", usual_name="Porteur"
    )
    instructor = make_user(
        Role.INSTRUCTEUR, email="instructrice@example.gouv.fr", given_name="Inès", usual_name="Instructrice"
    )
    dossier = make_dossier(
        call_for_projects, porteur, state="complements_demandes", title="Cloud interministériel"
    )
    asked = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    db.session.add(
        ComplementRequest(
            dossier_id=dossier.id,
            sections="financement",
            reason="incomplet",
            message="Détaillez le plan de financement.",
            requested_by_id=instructor.id,
            created_at=asked,
        )
    )
    db.session.commit()
    db.session.refresh(dossier)
    reminders.reschedule_for(dossier)
    db.session.commit()
    due = datetime(2027, 3, 8, 8, 0, tzinfo=UTC)  # 7 days later, 9:00 in Paris
    assert reminders.send_due(due - timedelta(minutes=1)).sent == []
    assert len(reminders.send_due(due).sent) == 2
    [to_porteur] = sent_to(inbox, "porteur.dossier@example.gouv.fr")
    [to_instructor] = sent_to(inbox, "instructrice@example.gouv.fr")
    assert to_porteur["Subject"] == f"D{dossier.id:04d}, compléments demandés sans réponse depuis 7 jours"
    assert to_instructor["Subject"].startswith("Copie : ")
    assert "Détaillez le plan de financement." in body_text(to_porteur)
    assert "Motif : Incomplet" in body_text(to_porteur)


def test_complements_answered_before_the_reminder_are_not_reminded(call_for_projects, make_user, inbox):
    from app.models import ComplementRequest

    porteur = make_user(Role.PORTEUR, email="rapide@example.gouv.fr")
    dossier = make_dossier(call_for_projects, porteur, state="complements_demandes")
    request = ComplementRequest(
        dossier_id=dossier.id,
        sections="financement",
        reason="incomplet",
        message="…",
        created_at=datetime(2027, 3, 1, 10, 0, tzinfo=UTC),
    )
    db.session.add(request)
    db.session.commit()
    db.session.refresh(dossier)
    reminders.reschedule_for(dossier)
    request.answered_at, dossier.state = datetime(2027, 3, 4, tzinfo=UTC), "depose"
    reminders.reschedule_for(dossier)
    db.session.commit()
    assert reminders.send_due(datetime(2027, 3, 9, tzinfo=UTC)).sent == [] and len(inbox) == 0


def test_complements_subject_says_1_jour_not_1_jours(call_for_projects, make_user, inbox):
    from app.models import ComplementRequest

    porteur = make_user(Role.PORTEUR, email="presse@example.gouv.fr")
    secretary = make_user(Role.SECRETARIAT)
    reminders.set_setting("dossier.complements", offset_days=1, enabled=True, actor=secretary)
    dossier = make_dossier(call_for_projects, porteur, state="complements_demandes")
    db.session.add(
        ComplementRequest(
            dossier_id=dossier.id,
            sections="financement",
            reason="incomplet",
            message="…",
            created_at=datetime(2027, 3, 1, 10, 0, tzinfo=UTC),
        )
    )
    db.session.commit()
    db.session.refresh(dossier)
    reminders.reschedule_for(dossier)
    db.session.commit()
    assert len(reminders.send_due(datetime(2027, 3, 2, 8, 0, tzinfo=UTC)).sent) == 1
    [message] = inbox.messages()
    assert message["Subject"] == f"D{dossier.id:04d}, compléments demandés sans réponse depuis 1 jour"


def test_dossier_services_replan_their_reminders(call_for_projects, make_user, inbox):
    """The dossier service re-plans on each transition: a draft withdrawn drops its guichet's reminder."""
    from app.services import dossiers

    drafter = make_user(Role.PORTEUR, email="service@example.gouv.fr")
    draft = make_dossier(call_for_projects, drafter)
    reminders.reschedule_for(call_for_projects)
    db.session.commit()
    [row] = db.session.scalars(select(Reminder).where(Reminder.kind == "guichet.closing")).all()
    assert row.status == "pending"
    dossiers.withdraw(draft, actor=drafter, reason="Abandon")
    db.session.commit()
    db.session.refresh(row)
    assert row.status == "cancelled"
