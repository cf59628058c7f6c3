"""The scheduler and its jobs: one runner at a time (lease), sweeps in parallel send each reminder once,
the CLI commands, restart after downtime — on committed data (live_app), real SMTP on 127.0.0.1."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from app import jobs
from app.extensions import db
from app.models import (
    AuditEntry,
    Notification,
    Opportunity,
    Reminder,
    Role,
    SchedulerJob,
    SchedulerLease,
    User,
    UserRole,
)
from app.services import reminders
from tests.services.test_mail import inbox_fixture, live_inbox_fixture, smtp_server_fixture  # noqa: F401
from tests.services.test_reminders import DEADLINE, DEADLINES, DUE, TEST_KIND

RECIPIENTS = 6


@pytest.fixture
def live_planned(live_app, live_inbox):
    """Committed: an opportunity with a deadline, RECIPIENTS recipients, their reminders planned."""
    reminders.register(TEST_KIND)
    with live_app.app_context():
        users = []
        for n in range(RECIPIENTS):
            user = User(email=f"rappel{n}@example.gouv.fr", given_name="Rappel", usual_name=str(n))
            user.roles.append(UserRole(role=Role.PORTEUR))
            db.session.add(user)
            users.append(user)
        number = (db.session.scalar(select(db.func.max(Opportunity.number))) or 0) + 1
        opportunity = Opportunity(
            number=number, code=Opportunity.code_for(number), brique="Rappels", besoin=""
        )
        db.session.add(opportunity)
        db.session.commit()
        DEADLINES[opportunity.id] = (DEADLINE, [u.id for u in users])
        reminders.reschedule_for(opportunity)
        db.session.commit()
        ids = dict(opportunity=opportunity.id, users=[u.id for u in users])
        db.session.remove()
    yield ids
    with live_app.app_context():
        db.session.execute(delete(Notification).where(Notification.user_id.in_(ids["users"])))
        db.session.execute(
            delete(Reminder).where(Reminder.object_id == ids["opportunity"], Reminder.kind == TEST_KIND.name)
        )
        db.session.execute(
            delete(AuditEntry).where(
                AuditEntry.object_type == "opportunities", AuditEntry.object_id == str(ids["opportunity"])
            )
        )
        db.session.execute(delete(Opportunity).where(Opportunity.id == ids["opportunity"]))
        db.session.execute(delete(User).where(User.id.in_(ids["users"])))
        db.session.execute(delete(SchedulerLease))
        db.session.execute(delete(SchedulerJob))
        db.session.commit()
        db.session.remove()
    reminders.unregister(TEST_KIND.name)
    DEADLINES.clear()


def statuses(live_app, opportunity_id):
    with live_app.app_context():
        try:
            return db.session.execute(
                select(Reminder.status, Reminder.sent_at).where(
                    Reminder.object_id == opportunity_id, Reminder.kind == TEST_KIND.name
                )
            ).all()
        finally:
            db.session.remove()


def test_two_sweeps_in_parallel_threads_send_each_reminder_exactly_once(live_app, live_planned, live_inbox):
    barrier = threading.Barrier(4)
    reports, errors = [], []

    def sweep():
        try:
            with live_app.app_context():
                barrier.wait()
                reports.append(reminders.send_due(DUE))
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with live_app.app_context():
        ours = set(
            db.session.scalars(
                select(Reminder.id).where(
                    Reminder.object_id == live_planned["opportunity"], Reminder.kind == TEST_KIND.name
                )
            )
        )
        db.session.remove()
    # each of ours sent by exactly one sweep (reminders and mails other tests left pending in the shared live
    # database may go out in the same sweeps)
    assert sorted(rid for r in reports for rid in r.sent if rid in ours) == sorted(ours)
    assert len(ours) == RECIPIENTS
    received = sorted(m["To"] for m in live_inbox.messages() if "<rappel" in m["To"])
    assert received == sorted(f"Rappel {n} <rappel{n}@example.gouv.fr>" for n in range(RECIPIENTS))
    assert {status for status, _ in statuses(live_app, live_planned["opportunity"])} == {"sent"}


def test_two_scheduler_instances_run_jobs_once(live_app, live_planned, live_inbox):
    job = jobs.Job("reminders.send_due", "Envoi des rappels", lambda now: reminders.send_due(now), 60)
    first = jobs.Scheduler(live_app, holder="instance-a", clock=lambda: DUE, interval_seconds=1, jobs=[job])
    second = jobs.Scheduler(live_app, holder="instance-b", clock=lambda: DUE, interval_seconds=1, jobs=[job])
    ran = {"instance-a": 0, "instance-b": 0}
    enough = threading.Event()  # every reminder delivered and three runs of the job: the thing awaited
    original_tick = jobs.Scheduler.tick

    def counting_tick(self, job):
        if original_tick(self, job):
            ran[self.holder] += 1
        if len(live_inbox) >= RECIPIENTS and sum(ran.values()) >= 3:
            enough.set()

    jobs.Scheduler.tick = counting_tick
    try:
        first.start()
        second.start()
        enough.wait(20)
    finally:
        # Stop every tick of both instances before either releases its lease: the other one would
        # otherwise take the lease over (as it should in production) and run the job once in the test.
        for instance in (first, second):
            instance.scheduler.shutdown(wait=True)
            instance.scheduler = None
        first.shutdown()
        second.shutdown()
        jobs.Scheduler.tick = original_tick
    assert len(live_inbox) == RECIPIENTS  # each reminder exactly once
    assert sorted(ran.values())[0] == 0 and sum(ran.values()) >= 3  # only one instance ever ran the job
    with live_app.app_context():
        row = db.session.get(SchedulerJob, "reminders.send_due")
        assert row.holder in ran and ran[row.holder] > 0
        assert row.last_error is None and "envoyé(s)" in row.last_result
        assert row.next_run_at is not None
        db.session.remove()


def test_lease_is_taken_over_when_the_holder_stops(live_app, live_planned):
    with live_app.app_context():
        now = datetime.now(UTC)
        assert jobs.acquire_lease("a", now)
        assert not jobs.acquire_lease("b", now + timedelta(seconds=10))
        assert jobs.acquire_lease("a", now + timedelta(seconds=20))  # renewal
        assert jobs.acquire_lease("b", now + timedelta(seconds=20 + jobs.LEASE_SECONDS + 1))  # a died
        assert not jobs.acquire_lease("a", now + timedelta(seconds=20 + jobs.LEASE_SECONDS + 2))
        jobs.release_lease("b")
        assert jobs.acquire_lease("a", datetime.now(UTC))
        db.session.remove()


def test_restart_after_downtime_sends_late_reminders_once(live_app, live_planned, live_inbox):
    """The scheduler was down at J-3; it restarts at J-1: the reminders still make sense and go once."""
    with live_app.app_context():
        report = reminders.send_due(DEADLINE - timedelta(days=1))
        assert len(report.sent) == RECIPIENTS
        again = reminders.send_due(DEADLINE - timedelta(days=1) + timedelta(minutes=1))
        assert again.sent == []
        db.session.remove()
    assert len(live_inbox) == RECIPIENTS


def test_cli_send_due_runs_one_sweep(app, db_session, make_user, make_opportunity, inbox):
    reminders.register(TEST_KIND)
    try:
        user = make_user(Role.PORTEUR, email="cli@example.gouv.fr")
        opportunity = make_opportunity()
        DEADLINES[opportunity.id] = (DEADLINE, [user.id])
        reminders.reschedule_for(opportunity)
        db.session.commit()
        runner = app.test_cli_runner()
        result = runner.invoke(args=["reminders", "send-due", "--now", "2027-03-17T08:30:00+00:00"])
        assert result.exit_code == 0, result.output
        assert "1 envoyé(s)" in result.output
        assert len(inbox.to("cli@example.gouv.fr")) == 1
        result = runner.invoke(args=["reminders", "send-due", "--now", "2027-03-17T08:31:00"])
        assert result.exit_code != 0 and "fuseau horaire" in result.output
    finally:
        reminders.unregister(TEST_KIND.name)
        DEADLINES.clear()


def test_run_job_records_result_errors_and_next_run(app, db_session):
    def broken(now):
        raise RuntimeError("panne simulée")

    now = datetime(2027, 1, 1, 12, tzinfo=UTC)
    jobs.run_job(jobs.Job("test.broken", "Tâche en panne", broken, 60), now=now, holder="moi")
    row = db.session.get(SchedulerJob, "test.broken")
    assert row.last_error == "RuntimeError: panne simulée" and row.next_run_at == now + timedelta(seconds=60)
    jobs.run_job(jobs.Job("test.ok", "Tâche", lambda now: "3 campagnes", 120), now=now)
    assert db.session.get(SchedulerJob, "test.ok").last_result == "3 campagnes"


def test_the_sweep_job_is_registered_and_the_cli_lists_it(app, db_session):
    assert "reminders.send_due" in jobs.JOBS
    result = app.test_cli_runner().invoke(args=["scheduler", "jobs"])
    assert result.exit_code == 0 and "reminders.send_due\t60s" in result.output


def test_recurring_sessions_job_creates_sessions_and_plans_their_reminders(app, db_session, make_user):
    from app.models import Committee, Meeting

    committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC"))
    committee.recurrence, committee.recurrence_time = "FREQ=MONTHLY;BYDAY=1TU", "14:00"
    member = make_user(Role.PORTEUR, email="membre.csic@example.gouv.fr")
    member.roles.append(UserRole(role=Role.COMITE, committee_id=committee.id, function="membre"))
    db.session.commit()
    now = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    jobs.register_domain_jobs()
    assert "committees.generate_meetings" in jobs.JOBS
    jobs.generate_recurring_meetings(now)
    sessions = db.session.scalars(
        select(Meeting).where(Meeting.committee_id == committee.id).order_by(Meeting.starts_at)
    ).all()
    assert [s.starts_at.date().isoformat() for s in sessions][:3] == [
        "2027-02-02",
        "2027-03-02",
        "2027-04-06",
    ]
    assert len(sessions) == 6  # first Tuesdays up to early July
    convocations = db.session.scalars(
        select(Reminder).where(Reminder.kind == "session.convocation", Reminder.recipient_id == member.id)
    ).all()
    assert len(convocations) == 6
    assert jobs.generate_recurring_meetings(now) == "0 séance(s) créée(s)"  # idempotent


def test_voting_transitions_are_a_registered_job(app, db_session):
    jobs.register_domain_jobs()
    assert jobs.JOBS["voting.apply_due_transitions"].seconds == 60
