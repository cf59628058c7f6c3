"""The reminder kind of voting campaigns (app/services/voting_reminders.py): closing J-3 to the electors who
have not classed every opportunity."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Role
from app.services import reminders
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401
from tests.services.test_reminders import sent_to


def test_campaign_closing_reminds_electors_who_have_not_voted_on_everything(
    db_session, make_user, make_opportunity, inbox
):
    from app.models import Campaign, Organisation, Vote

    ministry = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    done = make_user(Role.DSI, ministry="MI", email="fini@example.gouv.fr")
    half = make_user(Role.DSI, ministry="MI", email="moitie@example.gouv.fr")
    none = make_user(Role.DSI, ministry="MI", email="rien@example.gouv.fr")
    other = make_user(Role.DSI, ministry="MEF", email="autre-ministere@example.gouv.fr")
    first, second = make_opportunity(brique="Un"), make_opportunity(brique="Deux")
    closes = datetime(2027, 5, 20, 16, 0, tzinfo=UTC)
    campaign = Campaign(
        title="Priorisation 2027",
        state="ouverte",
        opens_at=closes - timedelta(days=20),
        closes_at=closes,
        opened_at=closes - timedelta(days=20),
    )
    campaign.opportunities = [first, second]
    campaign.ministries = [ministry]
    db.session.add(campaign)
    db.session.flush()
    for voter, opportunities in ((done, [first, second]), (half, [first])):
        for opportunity in opportunities:
            db.session.add(
                Vote(
                    campaign_id=campaign.id,
                    voter_id=voter.id,
                    opportunity_id=opportunity.id,
                    organisation_id=ministry.id,
                    value="must",
                )
            )
    reminders.reschedule_for(campaign)
    db.session.commit()
    j3 = datetime(2027, 5, 17, 7, 0, tzinfo=UTC)
    assert reminders.send_due(j3 - timedelta(minutes=1)).sent == []
    # Between planning and sending, "rien" votes on everything: not reminded.
    for opportunity in (first, second):
        db.session.add(
            Vote(
                campaign_id=campaign.id,
                voter_id=none.id,
                opportunity_id=opportunity.id,
                organisation_id=ministry.id,
                value="could",
            )
        )
    db.session.commit()
    report = reminders.send_due(j3)
    assert len(report.sent) == 1 and len(report.skipped) == 1
    [message] = inbox.messages()
    assert "moitie@example.gouv.fr" in message["To"]
    assert (
        message["Subject"]
        == "Campagne « Priorisation 2027 » : clôture le 20 mai 2027, 1 opportunité à classer"
    )
    assert "Il vous reste 1 opportunité à classer" in body_text(message)
    assert f"https://mutualisation.example.gouv.fr/campagnes/{campaign.id}" in body_text(message)
    assert not sent_to(inbox, other.email) and not sent_to(inbox, "fini@example.gouv.fr")
    # Closed campaign: any reminder left is obsolete.
    assert reminders.send_due(closes + timedelta(minutes=1)).sent == []
