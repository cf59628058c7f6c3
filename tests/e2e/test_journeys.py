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


def _idle(page):
    page.wait_for_function(
        "() => !document.querySelector('main .htmx-request, main .htmx-settling, main .htmx-swapping')"
    )


def test_committee_member_is_told_the_agenda_votes_and_reads_the_published_pv(new_page, proconnect):
    # the secretariat plans a CSIC-Tech meeting with one point and publishes its agenda
    secretariat = new_page()
    sign_in(secretariat, "secretariat@demo.gouv.fr")
    secretariat.goto("/comites/CSIC-TECH")
    secretariat.get_by_role("link", name="Planifier une séance").click()
    secretariat.fill("#starts_at", "2027-03-09T10:00")
    secretariat.get_by_role("button", name="Planifier la séance").click()
    secretariat.get_by_role("heading", name=re.compile("CSIC-Tech — 9 mars 2027 à 10:00")).wait_for()
    meeting_url = secretariat.url.split("#")[0]
    items = secretariat.locator("#ordre-du-jour ol > li")
    secretariat.locator("#ordre-du-jour fieldset").get_by_text("Point libre", exact=True).click()
    secretariat.locator("#ordre-du-jour input[name=title]").fill("Feuille de route des briques communes")
    secretariat.get_by_role("button", name="Ajouter à l'ordre du jour").click()
    items.first.wait_for()
    _idle(secretariat)
    secretariat.get_by_role("button", name="Publier l'ordre du jour").click()
    secretariat.locator("#actions-title", has_text="Ordre du jour publié").wait_for()

    # the member (the CSIC-Tech's president) is told, follows the notice and reads the agenda
    member = new_page()
    sign_in(member, "comite@demo.gouv.fr")
    member.goto("/notifications")
    notice = member.get_by_role("link", name=re.compile("Ordre du jour publié")).first
    notice.wait_for()
    axe_check(member)
    notice.click()
    member.wait_for_url(re.compile(re.escape(meeting_url)))
    member.locator("#ordre-du-jour ol > li").first.wait_for()
    wait_until_ready(member)
    axe_check(member)

    # the meeting opens; the member is marked present and votes from their own browser
    secretariat.get_by_role("button", name="Ouvrir la séance").click()
    secretariat.get_by_role("heading", name=re.compile("Séance en direct")).wait_for()
    row = secretariat.locator("[id^=presence-]", has_text="Claude Leroy")
    row.get_by_label("Présence de Claude Leroy", exact=True).select_option("present")
    row.get_by_role("button", name="Enregistrer").click()
    row.locator("td:nth-child(3)", has_text="Présent").wait_for()
    _idle(secretariat)
    member.goto(meeting_url + "/direct")
    wait_until_ready(member)
    card = member.locator("article[id^=point-]").first
    fieldset = card.locator("fieldset", has_text="Vote de Claude Leroy")
    fieldset.get_by_text("Pour", exact=True).click()
    fieldset.get_by_role("button", name="Enregistrer le vote de Claude Leroy").click()
    card.filter(has_text="1 pour").wait_for()
    axe_check(member, "main")

    # the secretariat records the decision and publishes the PV; the member is told and reads it
    secretariat.reload()
    card = secretariat.locator("article[id^=point-]").first
    card.locator("summary", has_text="Enregistrer la décision").click()
    card.get_by_text("Adopté", exact=True).click()
    card.locator("fieldset", has_text="Mode").get_by_text("Vote", exact=True).click()
    card.get_by_role("button", name="Enregistrer la décision").click()
    card.locator("[id^=decision-]").filter(has_text="Décision n°").first.wait_for()
    secretariat.get_by_role("link", name="Procès-verbal").click()
    secretariat.fill("#notes", "Séance tenue.")
    secretariat.get_by_role("button", name="Enregistrer le procès-verbal").click()
    secretariat.locator("#app-announcer", has_text="Procès-verbal enregistré.").wait_for()
    secretariat.get_by_role("button", name="Marquer comme relu").click()
    secretariat.get_by_role("button", name="Publier le procès-verbal").click()
    secretariat.locator("#minutes-state", has_text="Publié").wait_for()
    member.goto("/notifications")
    member.get_by_role("link", name=re.compile("Procès-verbal publié")).first.click()
    member.wait_for_url(re.compile(r"/proces-verbal"))
    member.get_by_text("Séance tenue.").wait_for()
    axe_check(member)
