"""Role journeys in a real browser, from the ProConnect login (the local test provider, the demo accounts
registered with `flask demo accounts`) to the role's last step, with nothing written by a factory: every
state is reached by the people's clicks. Each page type reached is checked with axe; the waits are on
elements and URLs, never on network silence or sleeps.
"""

import re
from datetime import timedelta

from app.models.base import utcnow

from .helpers import axe_check, sign_in, wait_until_ready


def test_dsi_member_is_told_a_campaign_opened_votes_and_reads_its_results(new_page, proconnect):
    title = f"Parcours DSI {utcnow():%H%M%S%f}"

    # the secretariat creates and opens a campaign
    secretariat = new_page()
    sign_in(secretariat, "secretariat@demo.gouv.fr")
    secretariat.goto("/campagnes/nouvelle")
    secretariat.get_by_label("Titre").fill(title)
    now = utcnow()
    secretariat.locator("#opens_at").fill((now + timedelta(days=1)).astimezone().strftime("%Y-%m-%dT%H:%M"))
    secretariat.locator("#closes_at").fill((now + timedelta(days=8)).astimezone().strftime("%Y-%m-%dT%H:%M"))
    for index in range(2):  # the DSFR label covers its checkbox: the user clicks the label
        box = secretariat.locator("input[name=opportunities]").nth(index)
        if not box.is_checked():
            secretariat.locator(f"label[for={box.get_attribute('id')}]").click()
    secretariat.get_by_role("button", name="Enregistrer le brouillon").click()
    secretariat.wait_for_url(re.compile(r"/campagnes/\d+$"))
    campaign_url = secretariat.url
    secretariat.get_by_role("button", name="Ouvrir le vote maintenant").click()
    secretariat.get_by_text(f"Campagne « {title} » : ouverte.").wait_for()

    # the DSI member logs in, finds the notice in the centre, follows it and votes
    dsi = new_page()
    sign_in(dsi, "dsi@demo.gouv.fr")
    dsi.goto("/notifications")
    wait_until_ready(dsi)
    notice = dsi.get_by_role("link", name=re.compile(f"Campagne de priorisation ouverte : {title}"))
    notice.first.wait_for()
    axe_check(dsi)
    notice.first.click()
    dsi.wait_for_url(re.compile(re.escape(campaign_url.split("?")[0]) + r"(\?.*)?$"))
    wait_until_ready(dsi)
    axe_check(dsi)
    row = dsi.locator("[id^=vote-]:has(button[aria-label='Must'])").first
    row.get_by_role("button", name="Must", exact=True).click()
    row.locator("button[aria-label='Must'][aria-pressed=true]").wait_for()

    # closed and published: the member is told and reads the results
    secretariat.goto(campaign_url)
    secretariat.get_by_role("button", name="Clore le vote maintenant").click()
    secretariat.get_by_role("button", name="Publier les résultats").click()
    secretariat.get_by_role("link", name="Voir les résultats").wait_for()
    dsi.goto("/notifications")
    dsi.get_by_role("link", name=re.compile(f"Résultats publiés : {title}")).first.click()
    dsi.wait_for_url(re.compile(r"/resultats"))
    dsi.get_by_text("Règle de départage").first.wait_for()
    axe_check(dsi)
