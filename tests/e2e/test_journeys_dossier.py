"""The porteur's and the instructeur's journeys in Chromium, from the ProConnect login (the local test
provider) to each role's last step, with nothing written by a factory or into the database: every account
is created by its first login and given its role from the product's pages, every state is reached by a
person's action in a browser or by the request a page's form sends (the in-between steps of the other
roles, from their own signed-in browser contexts).

The role a test is about walks by keyboard only (Tab, Enter, Space, the arrows and typing; two exceptions a
keyboard cannot script headless: a file is given to its file input, a date field reached by Tab gets its value
with fill(), see key_date); after each htmx action the test checks where the focus lands (the control used
or the error summary) and what the page's polite live region (#app-announcer) says; after a full-page
action, the French confirmation the page announces (its #flash status, data-app-announced). Every new page
type passed through is checked with axe-core. Waits are on elements, URLs and DOM conditions, never on
network silence or sleeps.

Guichet « Opérer en confiance » (FTAP-DINUM-OPI): its deciding body is the COPIL-SUITE, it has selection
criteria (the grid) and required pieces, and no DNUM visa (France Relance guichets only).
"""

import itertools
import re
import uuid
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.formatting import paris, paris_today
from app.models import Committee, Dossier, Meeting
from app.models.base import utcnow
from app.services.committees import members as committee_members
from app.services.dossier_sections import SECTION_LABELS

from .helpers import axe_check, sign_in, wait_until_ready

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
GUICHET = "FTAP-DINUM-OPI"
COMMITTEE = "COPIL-SUITE"
_seq = itertools.count(1)

ACTIVE = """() => { const a = document.activeElement; if (!a || a === document.body) return null; return {
  tag: a.tagName, id: a.id, text: (a.textContent || '').trim().replace(/\\s+/g, ' '),
  section: a.closest('[id^=section-]') && a.closest('[id^=section-]').id }; }"""


# --- people -----------------------------------------------------------------------------------------------


def person(provider: str, role: str) -> tuple[str, str]:
    """A new agent on the ProConnect test provider (its `sub` is its e-mail); the app creates the account at
    its first login."""
    n = next(_seq)
    email = f"parcours-{role}-{n}-{uuid.uuid4().hex[:6]}@dossier.gouv.fr"
    claims = {
        "email": email,
        "given_name": role.capitalize(),
        "usual_name": f"Parcours{n}",
        "uid": email,
        "siret": "13002526500013",
        "idp_id": "fia1v2",
        "organization_label": "DINUM",
    }
    assert requests.put(f"{provider}/users/{email}", json=claims, timeout=10).status_code == 204
    return email, f"{claims['given_name']} {claims['usual_name']}"


TIMEOUT_MS = 30_000  # a busy machine: each wait is on a condition, this is only its ceiling


def fresh(new_page):
    page = new_page()
    page.context.set_default_timeout(TIMEOUT_MS)
    return page


def logged_in(new_page, provider: str, role: str):
    page = fresh(new_page)
    email, name = person(provider, role)
    sign_in(page, email)
    page.email, page.full_name = email, name
    return page


# --- what a page's form sends, from a signed-in browser context ---------------------------------------------


def send(page, url: str, data: dict | None = None, files: dict | None = None, expect_status=303):
    """POST `data` (and `files`: name → (filename, bytes)) as the page's form would, with the page's own
    session and CSRF token; returns the response (redirects not followed)."""
    token = page.evaluate("() => document.querySelector('meta[name=csrf-token]').content")
    payload: dict = {"csrf_token": token, **{k: str(v) for k, v in (data or {}).items()}}
    for name, (filename, content) in (files or {}).items():
        payload[name] = {"name": filename, "mimeType": "application/pdf", "buffer": content}
    response = page.request.post(url, multipart=payload, max_redirects=0)
    assert response.status == expect_status, (url, response.status, response.text()[:2000])
    return response


# --- keyboard ----------------------------------------------------------------------------------------------


def active(page) -> dict | None:
    return page.evaluate(ACTIVE)


def tab_to(page, target, limit: int = 400, back: bool = False) -> None:
    """Tab (or Shift+Tab) from the current focus until `target` (a CSS selector or a locator) has it."""
    key = "Shift+Tab" if back else "Tab"
    handle = None if isinstance(target, str) else target.element_handle()
    for _ in range(limit):
        page.keyboard.press(key)
        if handle is not None:
            if handle.evaluate("el => el === document.activeElement"):
                return
        elif page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", target):
            return
    pytest.fail(f"{target!r} not reached by keyboard ({key} ×{limit}) on {page.url}", pytrace=False)


def button(page, name: str, scope: str = "main"):
    return page.locator(scope).get_by_role("button", name=name, exact=True)


def link(page, name: str, scope: str = "main"):
    return page.locator(scope).get_by_role("link", name=name, exact=True)


def start_from_top(page) -> None:
    """Put the focus at the document's start, as a page load does (the next Tab reaches the skip links)."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.scrollTo(0, 0)")


def key_type(page, selector: str, text: str) -> None:
    """Tab to a text field, select what it holds, type `text`."""
    tab_to(page, selector)
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def key_date(page, selector: str, iso: str) -> None:
    """Tab to a date field, then set it. Chromium's date field takes the keyboard by segments (day, month,
    year, each its own Tab stop) and typing into a filled one is unreliable headless: the value is set with
    fill() once the field has been reached by keyboard."""
    tab_to(page, selector)
    page.locator(selector).fill(iso)
    assert page.locator(selector).input_value() == iso


def key_choose(page, selector: str, label: str) -> None:
    """Tab to a select and pick the option `label` with the arrow keys (a closed select changes its value
    with ArrowDown/ArrowUp in Chromium)."""
    tab_to(page, selector)
    options = page.locator(f"{selector} option").all_inner_texts()
    wanted = next(i for i, text in enumerate(options) if text.strip() == label)
    current = page.evaluate("s => document.querySelector(s).selectedIndex", selector)
    for _ in range(abs(wanted - current)):
        page.keyboard.press("ArrowDown" if wanted > current else "ArrowUp")
    assert page.evaluate("s => document.querySelector(s).selectedIndex", selector) == wanted


def key_check(page, selector: str) -> None:
    """Tab to a checkbox or radio and press Space."""
    tab_to(page, selector)
    page.keyboard.press("Space")
    assert page.locator(selector).is_checked()


def press_and_swap(page, region: str, key: str) -> None:
    """Press `key` on the focused control and wait until htmx has replaced `region` (the old element is
    marked first: the new one is the one without the mark) and settled."""
    page.evaluate("s => { document.querySelector(s).dataset.testOld = '1'; }", region)
    page.keyboard.press(key)
    page.locator(f"{region}:not([data-test-old])").wait_for(state="attached")
    page.wait_for_function(
        "() => !document.querySelector('main .htmx-request, main .htmx-settling, main .htmx-swapping')"
    )


def announced(page, text: str) -> None:
    page.wait_for_function(
        "(t) => document.getElementById('app-announcer').textContent.includes(t)", arg=text
    )


def focus_on(page, condition: str, arg=None) -> dict:
    """Wait until the focused element satisfies `condition` (JS, `a` the active element), return it."""
    page.wait_for_function(
        "(arg) => { const a = document.activeElement;"
        f" return !!a && a !== document.body && ({condition}); }}",
        arg=arg,
    )
    return active(page)


def flash(page, text: str) -> None:
    """A full-page action's French confirmation: the page's status message (a live region), its text put
    back into it once the page has loaded so that screen readers announce it (app.js)."""
    page.locator("#flash [role=status][data-app-announced]").filter(has_text=text).first.wait_for()


# --- the porteur's keyboard steps ---------------------------------------------------------------------------


def open_section_by_keyboard(page, key: str) -> None:
    """Tab to the section's « Modifier la section », Enter: its form replaces its saved content in place and
    the focus is on the section's heading (the next Tab reaches its first field)."""
    tab_to(page, f"#edit-{key}")
    press_and_swap(page, f"#section-{key}", "Enter")
    page.locator(f"#section-{key} form").first.wait_for()
    focus_on(page, "a.id === arg", f"section-{key}-title")


def save_section_by_keyboard(page, key: str) -> None:
    """From a field of the section: Tab to « Enregistrer la section », Enter; the section swaps in place,
    shown as saved, the live region says so and the focus is on the section's heading."""
    tab_to(page, f"#section-{key} button[type=submit]")
    press_and_swap(page, f"#section-{key}", "Enter")
    section = page.locator(f"#section-{key}")
    assert section.get_by_text("Section enregistrée.").count(), section.inner_text()[:3000]
    assert section.locator("form").count() == 0 and section.locator(f"#edit-{key}").count() == 1
    announced(page, f"Section enregistrée : {SECTION_LABELS[key]}")
    focus_on(page, "a.id === arg", f"section-{key}-title")


def fill_dossier_by_keyboard(page, year: int, due: str, tmp_path) -> None:
    start_from_top(page)
    open_section_by_keyboard(page, "projet")
    key_date(page, "#projet-starts_on", f"{year}-01-01")
    key_date(page, "#projet-ends_on", f"{year + 2}-12-31")
    save_section_by_keyboard(page, "projet")

    open_section_by_keyboard(page, "porteurs")
    key_choose(page, "#porteurs-porteur_organisation", "DINUM — Direction interministérielle du numérique")
    key_type(page, "#porteurs-porteur-projet_name", "Alex Parcours")
    key_type(page, "#porteurs-porteur-projet_email", page.email)
    save_section_by_keyboard(page, "porteurs")

    for key, text in (
        ("enjeu", "Les agents n'ont pas d'outil commun : chaque ministère développe le sien."),
        ("solution", "Une brique interministérielle mutualisée, opérée par la DINUM."),
    ):
        open_section_by_keyboard(page, key)
        key_type(page, f"#{key}-{key}", text)
        save_section_by_keyboard(page, key)

    row = "#financement-rows-{}-{}"
    open_section_by_keyboard(page, "financement")
    for n, (nature, category, programme, financer, ae_year, amount) in enumerate(
        (
            ("Développement", "T5", "P349", "FTAP", year, "300000"),
            ("Équipe projet", "T3", "P129", "Porteur", year + 1, "300000"),
        )
    ):
        key_type(page, row.format(n, "nature"), nature)
        tab_to(page, row.format(n, "category"))
        page.keyboard.type(category)  # type-ahead on a closed select
        assert page.locator(row.format(n, "category")).input_value() == category
        key_type(page, row.format(n, "programme"), programme)
        tab_to(page, row.format(n, "financer"))
        page.keyboard.type(financer[:3])
        key_type(page, row.format(n, f"ae-{ae_year}"), amount)
        key_type(page, row.format(n, f"cp-{ae_year}"), amount)
    assert page.locator(row.format(0, "financer")).input_value() == "ftap"
    assert page.locator(row.format(1, "financer")).input_value() == "porteur"
    # the phase forgotten: the error summary takes the focus, the input is kept, its link leads to the field
    tab_to(page, "#section-financement button[type=submit]")
    press_and_swap(page, "#section-financement", "Enter")
    page.locator("#section-financement").get_by_text("La section n'a pas été enregistrée").wait_for()
    focus_on(page, "a.hasAttribute('data-app-focus')")
    assert page.locator(row.format(0, "nature")).input_value() == "Développement"
    tab_to(page, "#section-financement [data-app-focus] a[href$='rows-0-phase']")
    page.keyboard.press("Enter")
    focus_on(page, "a.id === arg", "financement-rows-0-phase")
    page.keyboard.type("Exp")
    tab_to(page, row.format(1, "phase"))
    page.keyboard.type("Exp")
    assert page.locator(row.format(1, "phase")).input_value() == "experimentation"
    save_section_by_keyboard(page, "financement")

    open_section_by_keyboard(page, "beneficiaires")
    key_type(page, "#beneficiaires-rows-0-group", "Agents de l'État")
    key_type(page, "#beneficiaires-rows-0-population", "250000")
    save_section_by_keyboard(page, "beneficiaires")

    open_section_by_keyboard(page, "indicateurs")
    key_type(page, "#indicateurs-rows-0-objective", "Adoption")
    key_type(page, "#indicateurs-rows-0-indicator", "Utilisateurs actifs")
    key_type(page, "#indicateurs-rows-0-current_value", "0")
    key_type(page, "#indicateurs-rows-0-target_value", "50000")
    key_type(page, "#indicateurs-rows-0-frequency", "trimestrielle")
    # FTAP family: « au moins deux indicateurs de résultat » ([001] §5.2)
    key_type(page, "#indicateurs-rows-1-objective", "Qualité de service")
    key_type(page, "#indicateurs-rows-1-indicator", "Démarches traitées en ligne")
    key_type(page, "#indicateurs-rows-1-current_value", "0")
    key_type(page, "#indicateurs-rows-1-target_value", "1200")
    save_section_by_keyboard(page, "indicateurs")

    open_section_by_keyboard(page, "economies")
    key_type(page, "#economies-rows-0-nature", "Licences évitées")
    tab_to(page, "#economies-rows-0-category")
    page.keyboard.type("T3")
    key_type(page, "#economies-rows-0-programme", "P129")
    key_type(page, f"#economies-rows-0-y-{year + 1}", "300000")
    key_type(page, f"#economies-rows-0-y-{year + 2}", "300000")
    save_section_by_keyboard(page, "economies")

    open_section_by_keyboard(page, "jalons")
    key_type(page, "#jalons-rows-0-number", "1")
    key_date(page, "#jalons-rows-0-due_on", due)
    key_type(page, "#jalons-rows-0-description", "Mise en service")
    key_type(page, "#jalons-rows-0-deliverables", "Suite ouverte aux agents")
    save_section_by_keyboard(page, "jalons")

    open_section_by_keyboard(page, "gouvernance")
    key_type(page, "#gouvernance-gouvernance", "COPIL trimestriel avec les ministères utilisateurs.")
    save_section_by_keyboard(page, "gouvernance")

    # the guichet's required pieces: the kind by keyboard, the file through the chooser, Enter on « Ajouter »
    kinds = [
        text.strip()
        for text in page.locator("#pieces-kind option").all_inner_texts()
        if text.strip() and text.strip() != "—"
    ]
    for n, kind in enumerate(k for k in kinds if k != "Autre"):
        key_choose(page, "#pieces-kind", kind)
        pdf = tmp_path / f"piece-{n}.pdf"
        pdf.write_bytes(PDF)
        page.locator("#pieces-file").set_input_files(str(pdf))
        tab_to(page, "#section-pieces button[type=submit]")
        page.keyboard.press("Enter")
        page.locator("#section-pieces").get_by_role("link", name=re.compile(f"piece-{n}.pdf")).wait_for()
        announced(page, f"Section enregistrée : {SECTION_LABELS['pieces']}")
        focus_on(page, "!!a.closest('#section-pieces')")


def deposit_by_keyboard(page, label: str) -> None:
    """The deposit link, the recap (checked by axe), the confirmation box and button — all by keyboard."""
    start_from_top(page)
    tab_to(page, link(page, label, "#submission"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("^Déposer (à nouveau )?le dossier")).wait_for()
    wait_until_ready(page)
    axe_check(page)
    start_from_top(page)
    key_check(page, "#confirm-oui")
    tab_to(page, button(page, "Confirmer le dépôt"))
    page.keyboard.press("Enter")
    flash(page, "Dossier déposé")
    expect(page.locator("h1 + p .fr-badge")).to_contain_text(re.compile("déposé", re.I), timeout=TIMEOUT_MS)


# --- the other roles' steps (their own contexts; not the subject of the test) -------------------------------


def set_up_roles(secretariat, instructeur_email: str, members: list) -> None:
    """The secretariat names the guichet's instructeur and the deciding body's members from their pages."""
    secretariat.goto(f"/guichets/{GUICHET}")
    secretariat.fill("#instructor-email", instructeur_email)
    secretariat.locator("#instructors").get_by_role("button", name="Ajouter").click()
    secretariat.locator("#instructors").get_by_text(instructeur_email).wait_for()
    secretariat.goto(f"/comites/{COMMITTEE}")
    for member in members:  # members (a president may already sit from another journey)
        section = secretariat.locator("#membres")
        section.get_by_label("Adresse électronique").fill(member.email)
        section.get_by_label("Fonction").select_option(label="Membre")
        section.get_by_role("button", name="Ajouter au comité").click()
        secretariat.locator("#membres").get_by_text(member.full_name).wait_for()


def plan_meeting(secretariat, days: int) -> int:
    secretariat.goto(f"/comites/{COMMITTEE}")
    starts = paris(utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")
    response = send(
        secretariat,
        f"/comites/{COMMITTEE}/seances/nouvelle",
        {"starts_at": starts, "duration_minutes": "90"},
    )
    return int(re.search(r"/seances/(\d+)", response.headers["location"]).group(1))


def committee_decides(secretariat, live_app, meeting_id: int, reference: str, year: int) -> None:
    """The secretariat inscribes the proposed dossier in one click, publishes the agenda, holds the meeting
    (every member present), records the decision with the amounts granted and publishes the minutes."""
    meeting_url = f"/comites/seances/{meeting_id}"
    secretariat.goto(meeting_url)
    proposal = secretariat.locator("[id^=proposition-]").filter(has_text=reference)
    proposal.get_by_role("button", name="Inscrire à l'ordre du jour").click()
    secretariat.locator("#ordre-du-jour").get_by_text(reference).first.wait_for()
    secretariat.get_by_role("button", name="Publier l'ordre du jour").click()
    secretariat.locator("#actions-title", has_text="Ordre du jour publié").wait_for()
    secretariat.get_by_role("button", name="Ouvrir la séance").click()
    secretariat.get_by_role("heading", name=re.compile("Séance en direct")).wait_for()
    with live_app.app_context():  # read only: who sits on the body, which point is the dossier's
        committee = db.session.scalar(select(Committee).where(Committee.code == COMMITTEE))
        members = [role.user_id for role in committee_members(committee)]
        item_id = next(i.id for i in db.session.get(Meeting, meeting_id).items if i.dossier_id)
        db.session.remove()
    for user_id in members:
        send(secretariat, f"{meeting_url}/presence", {"user_id": user_id, "status": "present"})
    fields = {
        "outcome": "accepte",
        "mode": "consensus",
        "motivation": "Projet utile à tous les ministères.",
        "amounts-0-year": str(year),
        "amounts-0-ae": "300000",
        "amounts-0-cp": "200000",
    }
    send(
        secretariat,
        f"{meeting_url}/points/{item_id}/decision",
        {f"d{item_id}-{k}": v for k, v in fields.items()},
    )
    secretariat.goto(f"{meeting_url}/proces-verbal")
    secretariat.fill("#notes", "Séance tenue ; le dossier est retenu.")
    secretariat.get_by_role("button", name="Enregistrer le procès-verbal").click()
    secretariat.locator("#app-announcer", has_text="Procès-verbal enregistré.").wait_for()
    secretariat.get_by_role("button", name="Marquer comme relu").click()
    secretariat.get_by_role("button", name="Publier le procès-verbal").click()
    secretariat.locator("#minutes-state", has_text="Publié").wait_for()


def contract_signed_and_followed(secretariat, dossier_url: str, tmp_path) -> None:
    secretariat.goto(dossier_url)
    secretariat.get_by_role("button", name="Préparer la convention").click()
    flash(secretariat, "Convention préparée")
    signed = tmp_path / "convention-signee.pdf"
    signed.write_bytes(PDF)
    secretariat.fill("#contract-signed_on", paris_today().isoformat())
    secretariat.fill("#contract-signatories", "La directrice de la DINUM ; le délégué de la DITP")
    secretariat.set_input_files("#contract-signed_file", str(signed))
    secretariat.get_by_role("button", name="Enregistrer la signature").click()
    expect(secretariat.locator("#convention-signee")).to_contain_text(
        "La directrice de la DINUM", timeout=TIMEOUT_MS
    )
    secretariat.get_by_role("button", name="Démarrer le suivi").click()
    flash(secretariat, "Suivi démarré")


def notice_followed(page, pattern: str) -> None:
    """The user opens the notification centre and follows the notice."""
    page.goto("/notifications")
    wait_until_ready(page)
    notice = page.get_by_role("link", name=re.compile(pattern)).first
    notice.wait_for()
    notice.click()


def cast(new_page, proconnect, *, meeting_in_days: int):
    """The four roles of a journey signed in, each in its own browser; the secretariat names the instructeur
    and the committee member and plans the COPIL-SUITE session the dossier will be proposed to."""
    porteur = logged_in(new_page, proconnect, "porteur")
    instructeur = logged_in(new_page, proconnect, "instructeur")
    member = logged_in(new_page, proconnect, "membre")
    secretariat = fresh(new_page)
    sign_in(secretariat, "secretariat@demo.gouv.fr")
    set_up_roles(secretariat, instructeur.email, [member])
    return porteur, instructeur, member, secretariat, plan_meeting(secretariat, meeting_in_days)


# --- the porteur -----------------------------------------------------------------------------------------


def test_porteur_journey_by_keyboard_from_login_to_the_closed_follow_up(
    new_page, proconnect, live_app, tmp_path
):
    year = paris_today().year
    due = (paris_today() + timedelta(days=60)).isoformat()
    title = f"Suite collaborative au clavier {uuid.uuid4().hex[:6]}"

    porteur, instructeur, member, secretariat, meeting_id = cast(new_page, proconnect, meeting_in_days=7)

    # the porteur: the guichet's page → « Déposer un dossier » → the creation form, by keyboard
    porteur.goto(f"/guichets/{GUICHET}")
    wait_until_ready(porteur)
    axe_check(porteur)
    start_from_top(porteur)
    tab_to(porteur, link(porteur, "Déposer un dossier"))
    porteur.keyboard.press("Enter")
    porteur.locator("#title").wait_for()
    wait_until_ready(porteur)
    axe_check(porteur)
    assert porteur.locator("#guichet").input_value() == GUICHET
    key_type(porteur, "#title", title)
    key_type(porteur, "#start_year", str(year))
    tab_to(porteur, button(porteur, "Créer le dossier"))
    porteur.keyboard.press("Enter")
    # creation opens the first step; this porteur fills the whole dossier on its one page
    porteur.wait_for_url(re.compile(r"/dossiers/\d+/etapes/projet$"))
    wait_until_ready(porteur)
    tab_to(porteur, porteur.get_by_role("link", name="Voir le dossier complet sur une page"))
    porteur.keyboard.press("Enter")
    porteur.wait_for_url(re.compile(r"/dossiers/\d+(#.*)?$"))
    dossier_url = porteur.url.split("#")[0]
    dossier_id = int(dossier_url.rsplit("/", 1)[1])
    wait_until_ready(porteur)
    axe_check(porteur)

    fill_dossier_by_keyboard(porteur, year, due, tmp_path)
    porteur.locator("#checks").get_by_text("Aucun contrôle bloquant").wait_for()
    deposit_by_keyboard(porteur, "Déposer le dossier")
    reference = porteur.locator("main h1").inner_text().split(" — ")[0]

    # the instructeur takes it and asks for compléments on the governance
    instructeur.goto(dossier_url)
    instructeur.get_by_role("button", name="Passer en instruction").click()
    flash(instructeur, "Dossier passé en instruction.")
    instructeur.locator("#instruction summary", has_text="Demander des compléments").click()
    instructeur.locator("label[for=complements-gouvernance]").click()
    instructeur.locator("label[for=complements-reason-incomplet]").click()
    instructeur.fill("#complements-message", "Précisez la fréquence du COPIL et ses membres.")
    instructeur.get_by_role("button", name="Envoyer la demande de compléments").click()
    flash(instructeur, "Demande de compléments envoyée au porteur.")

    # the porteur is told, follows the notice, answers the request by keyboard and deposits again
    notice_followed(porteur, "[Cc]ompléments")
    porteur.wait_for_url(re.compile(re.escape(dossier_url)))
    porteur.get_by_text("Précisez la fréquence du COPIL et ses membres.").first.wait_for()
    wait_until_ready(porteur)
    axe_check(porteur)
    # only the reopened section is editable
    assert porteur.locator("#section-enjeu form, #edit-enjeu").count() == 0
    start_from_top(porteur)
    open_section_by_keyboard(porteur, "gouvernance")
    key_type(
        porteur, "#gouvernance-gouvernance", "COPIL mensuel : la DINUM et les six ministères utilisateurs."
    )
    save_section_by_keyboard(porteur, "gouvernance")
    deposit_by_keyboard(porteur, "Déposer à nouveau avec les compléments")

    # the instructeur gives a favourable avis with the grid and proposes the dossier to the COPIL
    instructeur.goto(dossier_url)
    instructeur.locator("#instruction summary", has_text="Donner un avis").click()
    instructeur.locator("label[for=avis-favorable]").click()
    instructeur.fill("#avis-motivation", "Projet interministériel, cofinancé, jalons réalistes.")
    for score in instructeur.locator("#instruction select[id^=grid-]").all():
        score.select_option(index=3)
    instructeur.get_by_role("button", name=re.compile("Enregistrer l'avis")).click()
    flash(instructeur, "Avis enregistré : le dossier est instruit.")
    instructeur.fill("#propose-reason", "Dossier complet, avis favorable.")
    instructeur.get_by_role("button", name=f"Proposer au {COMMITTEE}").click()
    instructeur.locator("#proposition").get_by_text(f"Proposé pour l'ordre du jour du {COMMITTEE}").wait_for()

    # the committee decides; the porteur is told only once the minutes are published
    committee_decides(secretariat, live_app, meeting_id, reference, year)
    notice_followed(porteur, "Décision")
    porteur.wait_for_url(re.compile(re.escape(dossier_url)))
    porteur.locator("#convention").wait_for()

    # the contract is prepared, signed, the follow-up started; the porteur follows the notice
    contract_signed_and_followed(secretariat, dossier_url, tmp_path)
    notice_followed(porteur, "[Ss]uivi")
    porteur.wait_for_url(re.compile(re.escape(dossier_url) + "/suivi"))
    wait_until_ready(porteur)
    axe_check(porteur)

    # follow-up reports by keyboard: the jalon reached with its proof file, an indicator value, credits
    start_from_top(porteur)
    key_date(porteur, "#jalon-achieved_on", paris_today().isoformat())
    key_type(porteur, "#jalon-proof", "Procès-verbal de mise en service")
    proof = tmp_path / "pv-mise-en-service.pdf"
    proof.write_bytes(PDF)
    porteur.locator("#jalon-proof_file").set_input_files(str(proof))
    tab_to(porteur, button(porteur, "Déclarer le jalon atteint"))
    porteur.keyboard.press("Enter")
    flash(porteur, "Suivi enregistré.")
    proofs = porteur.locator("#jalon td").filter(has_text="Procès-verbal de mise en service")
    expect(proofs).to_have_count(1, timeout=TIMEOUT_MS)

    start_from_top(porteur)
    key_date(porteur, "#indicateur-reported_on", paris_today().isoformat())
    key_type(porteur, "#indicateur-value", "12000")
    key_type(porteur, "#indicateur-comment", "Premier relevé trimestriel")
    tab_to(porteur, button(porteur, "Transmettre la valeur"))
    porteur.keyboard.press("Enter")
    flash(porteur, "Suivi enregistré.")

    start_from_top(porteur)
    key_type(porteur, "#consommation-year", str(year))
    key_type(porteur, "#consommation-ae", "100000")
    key_type(porteur, "#consommation-cp", "50000")
    tab_to(porteur, button(porteur, "Enregistrer la consommation"))
    porteur.keyboard.press("Enter")
    flash(porteur, "Suivi enregistré.")
    expect(porteur.locator(f"#consommation-{year}")).to_contain_text("100\u202f000", timeout=TIMEOUT_MS)

    # the instructeur validates the jalon; the secretariat closes the follow-up with its assessment
    instructeur.goto(f"{dossier_url}/suivi#lectures")
    item = instructeur.locator("[id^=lecture-jalon-]")
    item.get_by_text("Valider", exact=True).click()
    item.get_by_role("button", name="Enregistrer la lecture").click()
    expect(instructeur.locator("[id^=lecture-jalon-]")).to_contain_text("Validé", timeout=TIMEOUT_MS)
    secretariat.goto(f"{dossier_url}/suivi")
    secretariat.fill("#close-assessment", "Suite livrée et adoptée.")
    secretariat.get_by_role("button", name="Clore le suivi").click()
    expect(secretariat.locator("#bilan")).to_contain_text("Suite livrée et adoptée.", timeout=TIMEOUT_MS)

    # the porteur's last step: told of the reading and of the closing, reads the final assessment
    notice_followed(porteur, "[Cc]los")
    porteur.wait_for_url(re.compile(re.escape(dossier_url)))
    porteur.goto(f"{dossier_url}/suivi")
    expect(porteur.locator("#bilan")).to_contain_text("Suite livrée et adoptée.", timeout=TIMEOUT_MS)
    expect(porteur.locator("[id^=lecture-jalon-]")).to_contain_text("Validé", timeout=TIMEOUT_MS)
    with live_app.app_context():
        assert db.session.get(Dossier, dossier_id).state == "clos"
        db.session.remove()


# --- the instructeur ---------------------------------------------------------------------------------------


def key_radio(page, name: str, value: str, scope: str = "main") -> None:
    """Tab into a radio group (it takes one Tab stop: the checked radio, or the first one), then the arrow
    keys check `value`."""
    group = f"{scope} input[type=radio][name='{name}']"
    tab_to(page, group)
    radios = page.locator(group)
    values = [radios.nth(i).get_attribute("value") for i in range(radios.count())]
    here = values.index(page.evaluate("() => document.activeElement.value"))
    if not page.evaluate("() => document.activeElement.checked"):
        page.keyboard.press("Space")  # the focus alone checks nothing when the group has no checked radio
    step = "ArrowRight" if values.index(value) > here else "ArrowLeft"
    for _ in range(abs(values.index(value) - here)):
        page.keyboard.press(step)
    assert page.locator(f"{group}[value='{value}']").is_checked()


def porteur_deposits_over_http(porteur, live_app, dossier_id: int, due: str) -> None:
    """The porteur's forms as the dossier page posts them (tests/routes/journey_steps.py), from its own
    signed-in context; then the recap's confirmation."""
    from app.models import User
    from tests.routes.journey_steps import fill_dossier

    # the read transaction ends before each request: an open SQLite reader would block the app's writes
    def post(url, data, files=None):
        db.session.rollback()
        data = {k: v for k, v in data.items() if not isinstance(v, list) or v}
        assert not any(isinstance(v, list) for v in data.values()), data  # no declaration on this guichet
        send(porteur, url, data, files)

    def read(url):
        db.session.rollback()
        return porteur.request.get(url).text()

    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == porteur.email))
        jalons = [(due, "Mise en service", "Suite ouverte aux agents")]
        fill_dossier(post, read, dossier_id, user, jalons=jalons)
        db.session.remove()
    send(porteur, f"/dossiers/{dossier_id}/deposer", {"confirm": "oui"})


def section_version(live_app, dossier_id: int, key: str) -> int:
    with live_app.app_context():
        version = db.session.get(Dossier, dossier_id).section_version(key)
        db.session.remove()
    return version


def test_instructeur_journey_by_keyboard_from_login_to_the_reviewed_reports(
    new_page, proconnect, live_app, tmp_path
):
    year = paris_today().year
    due = (paris_today() + timedelta(days=60)).isoformat()
    title = f"Messagerie instantanée instruite au clavier {uuid.uuid4().hex[:6]}"

    porteur, instructeur, member, secretariat, meeting_id = cast(new_page, proconnect, meeting_in_days=8)

    # the porteur creates, fills and deposits the dossier through its forms (its own context, over HTTP)
    porteur.goto(f"/dossiers/nouveau?guichet={GUICHET}")
    response = send(
        porteur, "/dossiers/nouveau", {"guichet": GUICHET, "title": title, "start_year": str(year)}
    )
    dossier_id = int(re.search(r"/dossiers/(\d+)", response.headers["location"]).group(1))
    dossier_url = f"/dossiers/{dossier_id}"
    porteur_deposits_over_http(porteur, live_app, dossier_id, due)

    # the instructeur: the notice of the deposit, the instruction list, the dossier — by keyboard
    instructeur.goto("/notifications")
    wait_until_ready(instructeur)
    instructeur.get_by_role("link", name=re.compile("déposé", re.I)).first.wait_for()
    instructeur.goto("/dossiers/instruction")
    wait_until_ready(instructeur)
    axe_check(instructeur)
    row = instructeur.locator("tbody tr").filter(has_text=title)
    reference = row.locator("td a").first.inner_text()
    start_from_top(instructeur)
    tab_to(instructeur, row.get_by_role("link", name=reference, exact=True))
    instructeur.keyboard.press("Enter")
    instructeur.wait_for_url(re.compile(re.escape(dossier_url) + "$"))
    wait_until_ready(instructeur)
    axe_check(instructeur)

    start_from_top(instructeur)
    tab_to(instructeur, button(instructeur, "Passer en instruction"))
    instructeur.keyboard.press("Enter")
    flash(instructeur, "Dossier passé en instruction.")

    # compléments asked by keyboard: the details opened with Enter, a box ticked with Space, the reason
    # with the arrows; a request without a section first (its message at the fieldset, the input kept)
    start_from_top(instructeur)
    tab_to(instructeur, instructeur.locator("#instruction summary", has_text="Demander des compléments"))
    instructeur.keyboard.press("Enter")
    key_radio(instructeur, "reason", "incomplet", "#instruction")
    key_type(instructeur, "#complements-message", "Précisez la composition du COPIL.")
    tab_to(instructeur, button(instructeur, "Envoyer la demande de compléments"))
    press_and_swap(instructeur, "#instruction", "Enter")
    expect(instructeur.locator("#complements-sections-msg")).not_to_be_empty(timeout=TIMEOUT_MS)
    announced(instructeur, "Non enregistré : ")
    got = focus_on(instructeur, "!!a.closest('#instruction')")
    assert got["text"] == "Envoyer la demande de compléments", got  # the control used, in the new panel
    assert instructeur.locator("#complements-message").input_value() == "Précisez la composition du COPIL."
    start_from_top(instructeur)
    key_check(instructeur, "#complements-gouvernance")
    tab_to(instructeur, button(instructeur, "Envoyer la demande de compléments"))
    instructeur.keyboard.press("Enter")
    flash(instructeur, "Demande de compléments envoyée au porteur.")

    # the porteur answers (the reopened section, then the deposit again)
    version = section_version(live_app, dossier_id, "gouvernance")
    send(
        porteur,
        f"{dossier_url}/sections/gouvernance",
        {"gouvernance": "COPIL mensuel : la DINUM et six ministères.", "version": version},
    )
    send(porteur, f"{dossier_url}/deposer", {"confirm": "oui"})

    # the avis by keyboard: favourable, motivated, each criterion of the grid scored (type-ahead)
    instructeur.goto(dossier_url)
    wait_until_ready(instructeur)
    instructeur.get_by_text("COPIL mensuel : la DINUM et six ministères.").wait_for()
    start_from_top(instructeur)
    tab_to(instructeur, instructeur.locator("#instruction summary", has_text="Donner un avis"))
    instructeur.keyboard.press("Enter")
    key_radio(instructeur, "avis", "favorable", "#instruction")
    key_type(instructeur, "#avis-motivation", "Projet interministériel, cofinancé, jalons réalistes.")
    grid = instructeur.locator("#instruction select[id^=grid-]")
    assert grid.count() >= 1
    for n in range(grid.count()):
        tab_to(instructeur, grid.nth(n))
        instructeur.keyboard.type("3")
        assert grid.nth(n).input_value() == "3"
        instructeur.keyboard.press("Tab")
        instructeur.keyboard.type("Conforme au contrat type.")
    tab_to(instructeur, instructeur.locator("#instruction button", has_text="Enregistrer l'avis"))
    instructeur.keyboard.press("Enter")
    flash(instructeur, "Avis enregistré : le dossier est instruit.")
    expect(instructeur.locator("#instruction")).to_contain_text("Avis favorable", timeout=TIMEOUT_MS)
    axe_check(instructeur)

    # the hand-off to the committee: the agenda proposal, by keyboard
    start_from_top(instructeur)
    key_type(instructeur, "#propose-reason", "Dossier complet, avis favorable.")
    tab_to(instructeur, button(instructeur, f"Proposer au {COMMITTEE}"))
    instructeur.keyboard.press("Enter")
    flash(instructeur, "Dossier proposé au comité")
    instructeur.locator("#proposition").get_by_text(f"Proposé pour l'ordre du jour du {COMMITTEE}").wait_for()

    # the committee decides, the contract is signed, the follow-up starts; the porteur reports over HTTP
    committee_decides(secretariat, live_app, meeting_id, reference, year)
    contract_signed_and_followed(secretariat, dossier_url, tmp_path)
    suivi = f"{dossier_url}/suivi"
    porteur.goto(suivi)
    with live_app.app_context():
        dossier = db.session.get(Dossier, dossier_id)
        jalon, indicator = dossier.jalons[0].id, dossier.indicators[0].id
        db.session.remove()
    today = paris_today().isoformat()
    send(porteur, f"{suivi}/jalon", {"jalon": jalon, "achieved_on": today, "proof": "PV de mise en service"})
    send(
        porteur,
        f"{suivi}/indicateur",
        {"indicator": indicator, "reported_on": today, "value": "12000", "comment": "Premier relevé"},
    )

    # the instructeur's last step: told of the reports, reads them by keyboard — validates the jalon,
    # questions the indicator (a comment required first)
    notice_followed(instructeur, "[Cc]ompte rendu|[Ss]uivi")
    instructeur.wait_for_url(re.compile(re.escape(suivi)))
    wait_until_ready(instructeur)
    axe_check(instructeur)
    jalon_item = "[id^=lecture-jalon-]"
    start_from_top(instructeur)
    key_radio(
        instructeur,
        instructeur.locator(f"{jalon_item} input[type=radio]").first.get_attribute("name"),
        "valide",
        jalon_item,
    )
    tab_to(instructeur, button(instructeur, "Enregistrer la lecture", jalon_item))
    instructeur.keyboard.press("Enter")
    flash(instructeur, "Compte rendu")
    expect(instructeur.locator(jalon_item)).to_contain_text("Validé", timeout=TIMEOUT_MS)

    value_item = "[id^=lecture-indicateur-]"
    verdict = instructeur.locator(f"{value_item} input[type=radio]").first.get_attribute("name")
    start_from_top(instructeur)
    key_radio(instructeur, verdict, "questionne", value_item)
    tab_to(instructeur, button(instructeur, "Enregistrer la lecture", value_item))
    instructeur.keyboard.press("Enter")
    expect(instructeur.locator(f"{value_item} .fr-message--error")).to_contain_text(
        "Dites au porteur", timeout=TIMEOUT_MS
    )
    start_from_top(instructeur)
    key_radio(instructeur, verdict, "questionne", value_item)
    key_type(instructeur, f"{value_item} input[type=text]", "Quelle source pour ce relevé ?")
    tab_to(instructeur, button(instructeur, "Enregistrer la lecture", value_item))
    instructeur.keyboard.press("Enter")
    flash(instructeur, "Compte rendu")
    expect(instructeur.locator(value_item)).to_contain_text("Questionné", timeout=TIMEOUT_MS)

    # the porteur is told of the question
    notice_followed(porteur, "[Ll]ecture|[Qq]uestionn")
    porteur.wait_for_url(re.compile(re.escape(suivi)))
    expect(porteur.locator(value_item)).to_contain_text("Quelle source pour ce relevé ?", timeout=TIMEOUT_MS)
