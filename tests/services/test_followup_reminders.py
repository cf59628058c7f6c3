"""The follow-up reminder kinds of a funded dossier (app/services/followup_reminders.py): jalon due J-15 and
overdue J+1, indicators at their frequency, credits 150 days after signature, savings each January."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Reminder, ReminderStatus, Role
from app.services import reminders
from tests.services.test_dossiers_reminders import make_dossier, new_call_for_projects
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401


@pytest.fixture
def signed_dossier(db_session, make_user):
    from app.models import DossierIndicator, DossierTransition, Jalon

    call_for_projects = new_call_for_projects()
    porteur = make_user(Role.PORTEUR, email="suivi@example.gouv.fr", given_name="Sol", usual_name="Suivi")
    dossier = make_dossier(call_for_projects, porteur, state="conventionne", title="Plateforme de suivi")
    dossier.jalons = [
        Jalon(
            number=1, due_on=datetime(2027, 9, 15).date(), description="Marché notifié", is_procurement=True
        ),
        Jalon(number=2, due_on=datetime(2027, 9, 15).date(), description="Kick-off"),
        Jalon(number=3, due_on=datetime(2028, 1, 10).date(), description="Mise en production"),
    ]
    dossier.indicators = [
        DossierIndicator(
            position=1,
            objective="Usage",
            indicator="Utilisateurs actifs",
            frequency="Trimestrielle",
            target_value="5 000",
        ),
        DossierIndicator(position=2, objective="Coût", indicator="Coût par dossier", frequency="annuelle"),
    ]
    db.session.add(
        DossierTransition(
            dossier_id=dossier.id,
            from_state="decide",
            to_state="conventionne",
            created_at=datetime(2027, 4, 1, 10, 0, tzinfo=UTC),
        )
    )
    db.session.commit()
    return dossier


def kinds_of(ids) -> list[str]:
    return sorted(db.session.scalars(select(Reminder.kind).where(Reminder.id.in_(ids))))


def test_jalons_due_and_overdue(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2027, 8, 31, 7, 0, tzinfo=UTC)  # 15 days before 15 September, 9:00 in Paris
    assert kinds_of(reminders.send_due(due - timedelta(minutes=1)).sent) == ["dossier.credits"]  # 29 August
    inbox.store.clear()
    assert kinds_of(reminders.send_due(due).sent) == ["jalon.due"]  # the two jalons of that day share one
    [message] = inbox.messages()
    assert message["Subject"] == f"D{signed_dossier.id:04d} : jalon à échéance le 15 septembre 2027"
    text = body_text(message)
    assert "Jalon n° 1 (marché public) : Marché notifié" in text and "Jalon n° 2 : Kick-off" in text
    assert "Mise en production" not in text
    inbox.store.clear()
    sent = reminders.send_due(datetime(2027, 9, 16, 7, 0, tzinfo=UTC)).sent
    assert kinds_of(sent) == ["dossier.indicators", "jalon.overdue"]  # the indicators of 1 October too
    [overdue] = [m for m in inbox.messages() if "jalon" in m["Subject"]]
    assert overdue["Subject"] == f"D{signed_dossier.id:04d} : jalon échu le 15 septembre 2027"


def test_jalon_reminder_after_its_date_is_skipped(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    report = reminders.send_due(datetime(2027, 9, 16, 8, 0, tzinfo=UTC))  # down from J-15 to the day after
    assert kinds_of(report.sent) == ["dossier.credits", "dossier.indicators", "jalon.overdue"]  # 1 Oct
    assert kinds_of(report.skipped) == ["dossier.indicators", "jalon.due"]  # 1 July and 15 Sept have passed


def test_indicator_reporting_follows_each_frequency(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    # Quarterly from the 1 April 2027 signature: 1 July 2027, reminded 15 days before.
    assert len(reminders.send_due(datetime(2027, 6, 16, 7, 0, tzinfo=UTC)).sent) == 1
    [message] = inbox.messages()
    assert (
        message["Subject"] == f"D{signed_dossier.id:04d} : indicateurs à transmettre pour le 1er juillet 2027"
    )
    assert "Utilisateurs actifs (Trimestrielle)" in body_text(message)
    assert "Coût par dossier" not in body_text(message)
    inbox.store.clear()
    # 1 April 2028: both the quarterly and the yearly indicator, in one reminder.
    reminders.send_due(datetime(2028, 3, 17, 8, 0, tzinfo=UTC))  # 9:00 in Paris, winter time
    [yearly] = [m for m in inbox.messages() if "1er avril 2028" in m["Subject"]]
    assert "Utilisateurs actifs" in body_text(yearly) and "Coût par dossier" in body_text(yearly)


def test_periodic_kinds_do_not_flood_past_dates(signed_dossier, inbox):
    """Planned late (the dossier was signed long ago): only future dates get reminders."""
    reminders.reschedule_for(signed_dossier, now=datetime(2028, 2, 1, tzinfo=UTC))
    db.session.commit()
    report = reminders.send_due(datetime(2028, 2, 1, 1, 0, tzinfo=UTC))
    assert report.sent == [] and len(inbox) == 0


def test_credits_reminder_five_months_after_signature(signed_dossier, inbox):
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2027, 8, 29, 7, 0, tzinfo=UTC)  # 150 days after 1 April, 9:00 in Paris
    assert "dossier.credits" not in kinds_of(reminders.send_due(due - timedelta(minutes=1)).sent)
    assert kinds_of(reminders.send_due(due).sent) == ["dossier.credits"]
    [message] = [m for m in inbox.messages() if "crédits" in m["Subject"]]
    assert message["Subject"] == f"D{signed_dossier.id:04d} : crédits à engager avant le 1er octobre 2027"
    assert "signé le 1er avril 2027" in body_text(message)


def test_credits_reminder_is_dropped_once_consumption_is_reported(signed_dossier, inbox):
    from app.services import followup as committees

    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    committees.report_consumption(
        signed_dossier, year=2027, ae="0", cp="0", actor=signed_dossier.created_by
    )  # nothing consumed yet: still reminded
    db.session.commit()
    due = datetime(2027, 8, 29, 7, 0, tzinfo=UTC)
    assert reminders.wanted(reminders.KINDS["dossier.credits"], signed_dossier)
    committees.report_consumption(
        signed_dossier, year=2027, ae="40 000", cp="10 000", actor=signed_dossier.created_by
    )
    db.session.commit()
    assert "dossier.credits" not in kinds_of(reminders.send_due(due).sent)


def test_savings_of_the_past_year_are_asked_for_in_january_until_reported(signed_dossier, inbox):
    from app.models import SavingsAmount, SavingsLine
    from app.services import followup as committees

    line = SavingsLine(position=1, nature="Licences mutualisées", category="T3", programme="129")
    line.amounts = [SavingsAmount(year=2027, amount=100_000), SavingsAmount(year=2028, amount=200_000)]
    signed_dossier.savings_lines = [line]
    db.session.commit()
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2028, 1, 16, 8, 0, tzinfo=UTC)  # 15 days after the end of 2027, 9:00 in Paris
    assert "dossier.savings" not in kinds_of(reminders.send_due(due - timedelta(minutes=1)).sent)
    inbox.store.clear()
    assert kinds_of(reminders.send_due(due).sent) == ["dossier.savings"]
    [message] = inbox.messages()
    assert message["Subject"] == f"D{signed_dossier.id:04d} : économies constatées 2027 à déclarer"
    assert "- Licences mutualisées" in body_text(message)
    assert f"/dossiers/{signed_dossier.id}/suivi#economies" in body_text(message)
    # 2028 reported early: its January reminder is no longer wanted
    committees.report_savings(
        signed_dossier,
        year=2028,
        nature="Licences mutualisées",
        amount="200 000",
        actor=signed_dossier.created_by,
    )
    db.session.commit()
    report = reminders.send_due(datetime(2029, 1, 16, 8, 0, tzinfo=UTC))
    assert "dossier.savings" not in kinds_of(report.sent)


def test_the_secretariat_is_reminded_of_the_first_quarter_tranche_decision(signed_dossier, inbox, make_user):
    """[004] §6: the secretariat decides new tranches « a minima au 1er trimestre de chaque année », from the
    year after the signature's; a tranche released in a first quarter drops that year's reminder."""
    from datetime import date

    from app.models.followup import Tranche

    secretariat = make_user(Role.SECRETARIAT, email="secretariat.tranches@example.gouv.fr")
    reminders.reschedule_for(signed_dossier, now=datetime(2027, 4, 2, tzinfo=UTC))
    db.session.commit()
    due = datetime(2028, 3, 1, 8, 0, tzinfo=UTC)  # 31 days before 1 April 2028, 9:00 in Paris
    sent = reminders.send_due(due).sent
    assert "dossier.tranches" in kinds_of(sent)
    [message] = [m for m in inbox.messages() if "tranches" in m["Subject"]]
    assert message["Subject"] == f"D{signed_dossier.id:04d} : tranches 2028 à décider avant le 31/03/2028"
    assert message["To"].endswith("secretariat.tranches@example.gouv.fr>") and "§6" in body_text(message)
    planned = lambda: {  # noqa: E731
        r.due_at.year
        for r in db.session.scalars(
            select(Reminder).where(
                Reminder.kind == "dossier.tranches",
                Reminder.recipient_id == secretariat.id,
                Reminder.status == ReminderStatus.PENDING,
            )
        )
    }
    assert {2029, 2030} <= planned() and 2028 not in planned()  # 2028's is sent
    db.session.add(
        Tranche(
            dossier_id=signed_dossier.id,
            number=1,
            planned_amount=100_000,
            planned_year=2029,
            planned_quarter=1,
            state="debloquee",
            amount=100_000,
            released_on=date(2029, 2, 1),
        )
    )
    db.session.commit()
    reminders.reschedule_for(signed_dossier, now=datetime(2028, 4, 2, tzinfo=UTC))
    db.session.commit()
    assert 2029 not in planned() and 2030 in planned()
