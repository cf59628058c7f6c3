"""Every committee mail (agenda, meeting changed, decision, minutes, extract) as a mail client receives it:
parsed with Python's `email` parser in `policy.strict`, Date and Message-ID (our domain), absolute links,
and the one-click List-Unsubscribe (RFC 8058) of optional kinds, which really turns the kind off.

The same strict check runs on every mail any test sends through the test SMTP server (the `inbox`
fixture's teardown, tests/services/test_mail.py): the reminder kinds and notifications are covered there.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import OutboxMail, Role
from app.services import decisions as decision_service
from app.services import mail, notifications
from app.services import meetings as meeting_service
from app.services import minutes as minutes_service
from tests.factories import make_committee_meeting, make_committee_members
from tests.services.test_mail import body_text, check_message, inbox_fixture, smtp_server_fixture  # noqa: F401


def committee_cycle(make_user, make_opportunity):
    committee, (president, secretary, m1, m2, guest) = make_committee_members("CSIC-TECH")
    secretariat = make_user(Role.SECRETARIAT)
    porteur = make_user(Role.PORTEUR, email="porteuse@example.gouv.fr")
    meeting = make_committee_meeting("CSIC-TECH", starts_at=datetime.now(UTC) + timedelta(days=8))
    opportunity = make_opportunity(brique="Annuaire", state="retenue_criblage", created_by_id=porteur.id)
    item = meeting_service.add_item(meeting, kind="opportunite", opportunity=opportunity, actor=secretariat)
    meeting_service.publish_agenda(meeting, actor=secretariat)
    db.session.commit()
    meeting_service.update_meeting(
        meeting,
        starts_at=meeting.starts_at + timedelta(days=1),
        duration_minutes=90,
        place="Salle Ségur",
        visio_url="",
        title="",
        version=meeting.version,
        actor=secretariat,
    )
    db.session.commit()
    meeting_service.open_meeting(meeting, actor=secretariat)
    for user in (president, m1):
        meeting_service.record_attendance(meeting, user=user, status="present", actor=secretariat)
    decision_service.record_decision(
        item, outcome="validee", mode="consensus", motivation="Mûr", actor=secretariat
    )
    minutes_service.save(
        meeting,
        notes="Séance.",
        item_notes={item.id: "Débat."},
        version=meeting.minutes.version,
        actor=secretariat,
    )
    minutes_service.review(meeting, actor=president)
    minutes_service.publish(meeting, actor=secretariat)
    db.session.commit()
    mail.deliver_committed()
    return meeting, porteur


def test_every_committee_mail_is_strict_rfc5322_with_absolute_links(
    app, db_session, make_user, make_opportunity, inbox
):
    meeting, porteur = committee_cycle(make_user, make_opportunity)
    kinds = set(db.session.scalars(select(OutboxMail.kind)))
    # the decision itself is told at the minutes' publication (issue « Every journey closes »)
    assert {"committee.agenda_published", "committee.minutes_published"} <= kinds
    raw = [m["raw"] for m in inbox.store.messages()]
    messages = [check_message(r, app.config["BASE_URL"]) for r in raw]
    subjects = {m["Subject"] for m in messages}
    assert any(s.startswith("Séance modifiée") for s in subjects)
    assert any(s.startswith("Extrait du procès-verbal") for s in subjects)
    assert any(s.startswith("Procès-verbal publié") for s in subjects)
    seance = f"https://mutualisation.example.gouv.fr/comites/seances/{meeting.id}"
    assert all(seance in body_text(m) for m in messages if "Séance modifiée" in m["Subject"])
    # Message-IDs are unique, Date is the sending time.
    assert len({m["Message-ID"] for m in messages}) == len(messages)
    dates = [m["Date"].datetime for m in messages]
    assert all(abs(d - datetime.now(UTC)) < timedelta(minutes=5) for d in dates)


def test_optional_kinds_carry_a_one_click_unsubscribe_that_works(
    app, db_session, client, make_user, make_opportunity, inbox
):
    meeting, porteur = committee_cycle(make_user, make_opportunity)
    [extract] = [
        check_message(m["raw"], app.config["BASE_URL"])
        for m in inbox.store.messages()
        if "porteuse@example.gouv.fr" in m["rcpt_tos"] and "Extrait" in m["subject"]
    ] or [None]
    assert extract is not None
    header = extract["List-Unsubscribe"].strip()
    assert header.startswith(
        "<https://mutualisation.example.gouv.fr/notifications/preferences/desabonnement/"
    )
    assert extract["List-Unsubscribe-Post"].strip() == "List-Unsubscribe=One-Click"
    # A person following the link lands on the preferences page; the mail client's POST turns it off.
    path = header.strip("<>").removeprefix("https://mutualisation.example.gouv.fr")
    assert client.get(path).headers["Location"].endswith("/notifications/preferences")
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "Procès-verbal de comité publié" in response.get_data(as_text=True)
    db.session.expire_all()
    assert notifications.preferences(porteur)["committee.minutes_published"] is False
    assert client.post(path[:-3] + "xyz").status_code == 404


def test_mandatory_kinds_have_no_unsubscribe_header(app, db_session, make_user, inbox):
    notifications.declare_kind("test.mandatory", "Obligatoire", mandatory=True)
    user = make_user(Role.PORTEUR)
    notifications.notify(user, "test.mandatory", subject="Convocation", body="Venez.", url="/comites")
    notifications.notify(user, "mail.delivery_failed", subject="Facultatif", body="Lisez.", url="/comites")
    db.session.commit()
    mail.deliver_committed()
    by_subject = {
        m["subject"]: check_message(m["raw"], app.config["BASE_URL"]) for m in inbox.store.messages()
    }
    assert by_subject["Convocation"]["List-Unsubscribe"] is None
    assert "Choisir les courriels reçus" not in body_text(by_subject["Convocation"])
    assert by_subject["Facultatif"]["List-Unsubscribe"] is not None
    assert "Voir : https://mutualisation.example.gouv.fr/comites" in body_text(by_subject["Facultatif"])
    notifications.KINDS.pop("test.mandatory")
