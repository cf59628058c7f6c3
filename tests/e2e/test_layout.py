"""Pages that fit: every main page type, at 1 280 px and 390 px, is no wider than the viewport; its
scrollable regions can be reached by keyboard and are labelled."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, or_, select

from app.extensions import db
from app.models import (
    AuditEntry,
    Committee,
    Dossier,
    Guichet,
    Meeting,
    Opportunity,
    Role,
    User,
    UserRole,
)
from app.models.base import utcnow
from app.models.voting import Campaign

from .helpers import axe_check
from .test_voting import signed_in

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
OVERFLOW = """() => ({
  scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  wide: [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
          && e.getBoundingClientRect().width > 0
        && !e.closest('.fr-table__wrapper, .fr-table__container, [data-app-scroll]'))
        .slice(-3).map(e => e.tagName + '.' + e.className + '#' + e.id)
})"""
# Scrollable regions (content wider or taller than their box, overflow auto/scroll) a keyboard cannot reach.
UNREACHABLE = """() => [...document.querySelectorAll('main *')].filter(e => {
  const s = getComputedStyle(e);
  const scrolls = ['auto', 'scroll'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
  return scrolls && !(e.tabIndex >= 0 && (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))
    && !e.querySelector('a, button, input, select, textarea, [tabindex]');
}).map(e => e.tagName + '.' + e.className)"""


@pytest.fixture
def pages(live_app):
    """A secretariat member, a closed campaign, a session and a dossier; their URLs (removed after)."""
    with live_app.app_context():
        user = User(email="e2e-layout@example.gouv.fr", given_name="E2E", usual_name="Mise en page")
        user.roles.append(UserRole(role=Role.SECRETARIAT))
        db.session.add(user)
        db.session.flush()
        opportunities = db.session.scalars(select(Opportunity).order_by(Opportunity.id).limit(8)).all()
        now = utcnow()
        campaign = Campaign(
            title="Campagne de mise en page",
            state="close",
            visibility="anonymous",
            opens_at=now - timedelta(days=8),
            opened_at=now - timedelta(days=8),
            closes_at=now - timedelta(days=1),
            closed_at=now - timedelta(days=1),
            created_by_id=user.id,
        )
        campaign.opportunities = list(opportunities)
        committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC-TECH"))
        meeting = Meeting(
            committee_id=committee.id, starts_at=datetime.now(UTC) + timedelta(days=9), duration_minutes=120
        )
        dossier = Dossier(
            guichet_id=db.session.scalar(select(Guichet.id).where(Guichet.code == "SNAP4")),
            title="Dossier de mise en page",
            start_year=2027,
            created_by_id=user.id,
        )
        db.session.add_all([campaign, meeting, dossier])
        db.session.commit()
        data = {
            "user": user.id,
            "campaign": campaign.id,
            "meeting": meeting.id,
            "dossier": dossier.id,
            "urls": [
                "/",
                "/opportunites",
                f"/opportunites/{opportunities[0].code}",
                f"/campagnes/{campaign.id}/resultats",
                "/guichets",
                "/admin/rappels",
                "/comites",
                f"/comites/seances/{meeting.id}",
                f"/dossiers/{dossier.id}",
                f"/dossiers/{dossier.id}/sections/economies/modifier",  # a section's page, without JavaScript
            ],
        }
    yield data
    with live_app.app_context():
        db.session.execute(
            delete(AuditEntry).where(
                or_(AuditEntry.actor_id == data["user"], AuditEntry.object_id == str(data["campaign"]))
            )
        )
        db.session.execute(delete(Campaign).where(Campaign.id == data["campaign"]))
        db.session.execute(delete(Meeting).where(Meeting.id == data["meeting"]))
        db.session.execute(delete(Dossier).where(Dossier.id == data["dossier"]))
        db.session.execute(delete(UserRole).where(UserRole.user_id == data["user"]))
        db.session.execute(delete(User).where(User.id == data["user"]))
        db.session.commit()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_screen(new_page, live_app, base_url, pages, width):
    page = signed_in(new_page, live_app, base_url, pages["user"])
    page.set_viewport_size({"width": width, "height": 900})
    too_wide, unreachable = {}, {}
    for url in pages["urls"]:
        response = page.goto(url)
        assert response.status == 200, url
        page.wait_for_load_state("load")
        measure = page.evaluate(OVERFLOW)
        if measure["scroll"] > measure["inner"]:
            too_wide[url] = measure
        if found := page.evaluate(UNREACHABLE):
            unreachable[url] = found
    assert not too_wide, f"wider than {width} px: {too_wide}"
    assert not unreachable, f"scrollable regions without keyboard access or label: {unreachable}"


@pytest.mark.parametrize("width", WIDTHS)
def test_changed_pages_pass_axe(new_page, live_app, base_url, pages, width):
    page = signed_in(new_page, live_app, base_url, pages["user"])
    page.set_viewport_size({"width": width, "height": 900})
    for url in (
        "/",
        pages["urls"][2],
        f"/campagnes/{pages['campaign']}/resultats",
        "/guichets",
        "/admin/rappels",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
        axe_check(page)
