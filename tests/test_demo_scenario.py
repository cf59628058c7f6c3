"""`flask demo scenario`: the living demo, loaded through the services by the real CLI; idempotent; never in
production. Its mails reach a real SMTP server (aiosmtpd)."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Committee, Dossier, Meeting, Notification, User
from app.models.committees import MeetingState
from app.models.dossiers import DossierState
from app.models.voting import Campaign, CampaignState, Vote
from app.services import followup
from tests.services.test_mail import body_text, inbox_fixture, smtp_server_fixture  # noqa: F401


@pytest.fixture
def cli(app, db_session):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def snapshot() -> dict:
    """Rows per table, and every dossier's (title, state): what a second run must leave unchanged."""
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }
    states = sorted(db.session.execute(select(Dossier.title, Dossier.state)).tuples())
    return {"counts": counts, "states": states}


def test_the_scenario_walks_every_journey_and_loads_once(cli, inbox):
    first = cli("demo", "scenario")
    assert first.exit_code == 0, first.output
    assert "un dossier dans chaque état du cycle de vie" in first.output

    # every state of the dossier's life cycle, on FTAP, FTAP-LEAN, SNAP and ITN guichets
    rows = db.session.scalars(select(Dossier)).all()
    assert {d.state for d in rows} == {s.value for s in DossierState}
    assert any(d.chantier and d.chantier.code == "2.4" for d in rows)  # the chantier 2.4 page rolls them up
    roots = {(d.guichet.ancestors()[0] if d.guichet.parent else d.guichet).code for d in rows}
    assert {"FTAP", "FR-MTFP"} <= roots and any(d.guichet.code == "FTAP-LEAN" for d in rows)
    assert any(d.guichet.code.startswith("SNAP") for d in rows) and any(
        d.guichet.code.startswith("ITN") for d in rows
    )

    # an open campaign with ballots from at least 4 ministries, a campaign with published results
    campaigns = {c.state: c for c in db.session.scalars(select(Campaign))}
    assert set(campaigns) == {CampaignState.OUVERTE, CampaignState.PUBLIEE}
    ministries = db.session.scalar(
        select(func.count(func.distinct(Vote.organisation_id))).where(
            Vote.campaign_id == campaigns[CampaignState.OUVERTE].id
        )
    )
    assert ministries >= 4

    # a CSIC-Tech meeting held, with decisions and a published PV
    csic_tech = db.session.scalar(
        select(Meeting)
        .join(Committee)
        .where(Committee.code == "CSIC-TECH", Meeting.state == MeetingState.PV_PUBLIE)
    )
    assert csic_tech is not None and all(item.decision for item in csic_tech.items) and csic_tech.items

    # a funded dossier in follow-up: one jalon reached, one late
    followed = db.session.scalar(select(Dossier).where(Dossier.state == DossierState.EN_SUIVI))
    labels = [label for _, _, label in followup.followup(followed).jalons]
    assert any(label.startswith("Atteint") for label in labels) and "En retard" in labels

    # what the steps told people: in the app and in the mail catcher
    porteur = db.session.scalar(select(User).where(User.email == "porteur@demo.gouv.fr"))
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.user_id == porteur.id)))
    assert {"dossier.receipt", "dossier.complements_requested", "dossier.decision_communicated"} <= kinds
    dsi = db.session.scalar(select(User).where(User.email == "dsi@demo.gouv.fr"))
    dsi_kinds = set(db.session.scalars(select(Notification.kind).where(Notification.user_id == dsi.id)))
    assert {"campaign.opened", "campaign.results_published"} <= dsi_kinds
    receipts = [m for m in inbox.to("porteur@demo.gouv.fr") if m["Subject"].startswith("Accusé de réception")]
    assert receipts and any(part.get_filename("").endswith(".pdf") for part in receipts[0].iter_attachments())
    assert "Courriels envoyés" in first.output

    before = snapshot()
    mails = len(inbox)
    second = cli("demo", "scenario")
    assert second.exit_code == 0 and "déjà chargé" in second.output
    assert snapshot() == before and len(inbox) == mails


def test_the_scenario_never_loads_in_production(app, cli):
    saved, app.config["ENV_NAME"] = app.config["ENV_NAME"], "production"
    try:
        result = cli("demo", "scenario")
    finally:
        app.config["ENV_NAME"] = saved
    assert result.exit_code != 0 and "jamais en production" in result.output
    assert db.session.scalar(select(func.count(Campaign.id))) == 0
