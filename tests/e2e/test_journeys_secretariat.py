"""The secretariat's journey in a real browser, and the keyboard walks of issue 19.

The secretariat plans a committee meeting, builds its agenda (accepts the instructeur's proposal, adds a free
point), publishes it, marks « tous présents » then an exception, opens the meeting, records the decision after
the president voted from her own browser, writes, has reviewed and publishes the minutes, and reads the
decision register. Everything by keyboard (Tab, Enter, Space, arrows) except the date pickers, which are
filled. After each htmx action the focused element and the live region's announcement are asserted.

Nothing is written by a factory: the accounts are pre-registered with `flask users add` (as in a deployment)
and log in through the ProConnect test provider; the porteur fills and deposits the dossier, the instructeur
instructs it and proposes it, through HTTP requests of their own signed-in browsers (the forms' URLs, their
CSRF token). Every page type passed through is checked with axe (0 serious/critical). The waits are on
elements, URLs and the live region, never on network silence or sleeps.
"""

import re
import uuid
from datetime import timedelta

import pytest
import requests
from flask import has_app_context
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import func, select

from app.extensions import db
from app.formatting import paris, paris_today
from app.models import Committee, Role, User, UserRole
from app.models.base import utcnow
from tests.routes.journey_steps import fill_dossier
from tests.routes.test_auth import CLAIMS

from .helpers import axe_check, wait_until_ready

pytestmark = pytest.mark.e2e

COMMITTEE = "COPIL-SUITE"  # decides on FTAP-DINUM-OPI
GUICHET = "FTAP-DINUM-OPI"

ACTIVE = """() => { const a = document.activeElement;
  if (!a || a === document.body) return {tag: 'BODY'};
  return {tag: a.tagName, id: a.id, text: (a.innerText || a.value || '').trim().slice(0, 80),
          label: a.getAttribute('aria-label') || '', pressed: a.getAttribute('aria-pressed'),
          role: a.getAttribute('role') || ''}; }"""


# --- people: pre-registered with the CLI, signed in through the provider ---------------------------------


@pytest.fixture
def cast(live_app, proconnect):
    """email(key) of the people of the journey, unique to this test; each registered on the provider."""
    tag = uuid.uuid4().hex[:6]
    runner = live_app.test_cli_runner()
    people = {}

    def agent(key: str, name: str, *grants: list[str]) -> str:
        email = f"{key}-{tag}@parcours.gouv.fr"
        for grant in grants:
            result = runner.invoke(args=["users", "add", email, *grant])
            assert result.exit_code == 0, result.output
        given, usual = name.split(" ", 1)
        claims = {**CLAIMS, "email": email, "given_name": given, "usual_name": usual, "uid": email}
        assert requests.put(f"{proconnect}/users/{email}", json=claims, timeout=5).status_code == 204
        people[key] = email
        return email

    agent("secretariat", "Camille Martin", ["--role", "secretariat"])
    agent("instructeur", "Sacha Durand", ["--role", "instructeur", "--guichet", GUICHET])
    agent(
        "presidente",
        "Sophie Girard",
        ["--role", "comite", "--committee", COMMITTEE, "--function", "president"],
    )
    agent("membre", "Marc Blanc", ["--role", "comite", "--committee", COMMITTEE, "--function", "membre"])
    agent("membre2", "Julie Faure", ["--role", "comite", "--committee", COMMITTEE, "--function", "membre"])
    agent("dsi", "Dominique Bernard", ["--role", "dsi", "--ministry", "MI"])
    agent("porteur", "Alex Petit")  # no grant: the first login makes a porteur
    return people


# --- the keyboard ---------------------------------------------------------------------------------------

_MATCHES = """([css, text]) => { const a = document.activeElement;
  if (!a || a === document.body || !a.matches(css)) return false;
  if (!text) return true;
  const said = [(a.innerText || ''), (a.value || ''), a.getAttribute('aria-label') || '',
                (a.labels && a.labels[0] ? a.labels[0].innerText : '')].join(' ');
  return said.includes(text); }"""


def tab_to(page, css: str, text: str | None = None, limit: int = 250) -> None:
    """Tab (forwards) until the focused element matches `css` (and shows or is labelled `text`). On a page
    just loaded, first the skip link « Contenu », as keyboard users do (the header is not walked again)."""
    if page.evaluate("() => !document.activeElement || document.activeElement === document.body"):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('href') === '#contenu'"):
            page.keyboard.press("Enter")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(_MATCHES, [css, text]):
            return
    pytest.fail(f"{css!r} {text!r} not reached by Tab on {page.url}", pytrace=False)


def press(page, css: str, text: str | None = None, key: str = "Enter") -> None:
    """Tab to the control and press it. The control is marked first: after an htmx swap, `focused` only
    accepts an element of the new content (not the old control, still focused until the swap)."""
    tab_to(page, css, text)
    page.evaluate("() => document.activeElement.setAttribute('data-pressed', '')")
    page.keyboard.press(key)


def choose(page, css: str, label: str, limit: int = 12) -> None:
    """A radio group by keyboard: Tab into it, then the arrows until `label` is checked."""
    tab_to(page, css)
    page.keyboard.press("Space")
    for _ in range(limit):
        checked = page.evaluate(
            "() => { const a = document.activeElement; return a.checked && a.labels[0].innerText.trim(); }"
        )
        if checked == label:
            return
        page.keyboard.press("ArrowDown")
    pytest.fail(f"radio {label!r} not reached with the arrows on {page.url}", pytrace=False)


def type_into(page, css: str, text: str) -> None:
    tab_to(page, css)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def announced(page, text: str) -> None:
    try:
        page.wait_for_function(
            "(t) => document.getElementById('app-announcer').textContent.includes(t)",
            arg=text,
            timeout=15_000,
        )
    except PlaywrightTimeout:
        said = page.locator("#app-announcer").text_content()
        alerts = page.locator("main [role=alert]").all_inner_texts()
        pytest.fail(
            f"not announced: {text!r}; the live region says {said!r}; alerts: {alerts}", pytrace=False
        )


def focused(page, predicate: str) -> dict:
    """Wait until the focused element, one of the swapped content, satisfies the JS `predicate(a)`."""
    page.wait_for_function(
        "() => { const a = document.activeElement; return !!a && a !== document.body && a.isConnected"
        f" && !a.hasAttribute('data-pressed') && ({predicate}); }}"
    )
    return page.evaluate(ACTIVE)


def idle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('main .htmx-request, main .htmx-settling, main .htmx-swapping')"
    )


_checked = set()


def account(live_app, email: str) -> tuple[int, str]:
    """The id and the name the pages show of a user (read only)."""
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        found = user.id, user.full_name
        db.session.remove()
    return found


def sign_in(page, email: str) -> None:
    """The ProConnect button, then the test provider's form: by keyboard."""
    page.goto("/connexion")
    wait_until_ready(page)
    if "connexion" not in _checked:
        axe_check(page)
        _checked.add("connexion")
    press(page, "button", "ProConnect")
    page.locator("input[name=sub]").wait_for()
    type_into(page, "input[name=sub]", email)
    press(page, "button", "Autoriser")
    page.locator("#current-user").wait_for()


WALK = """() => {
  const wanted = [...document.querySelectorAll('main a[href], main button, main input:not([type=hidden]),'
      + ' main select, main textarea, main summary, main [tabindex="0"]')]
    .filter(e => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .filter(e => e.matches('summary') || !e.closest('details:not([open])'));  // a closed disclosure's content
  return wanted.filter(e => {  // a radio group is one Tab stop: its checked radio, else its first
    if (e.type !== 'radio') return true;
    const group = wanted.filter(o => o.type === 'radio' && o.name === e.name && o.form === e.form);
    return e === (group.find(o => o.checked) || group[0]);
  }).map((e, i) => { e.dataset.walk = String(i); return i; }).length; }"""


def walk(page, awaited: str | None = None, link: str = "#awaiting a") -> None:
    """Walk the page by Tab from its top to its footer: every control of <main> is reached, each focused
    element is visible and keeps a focus ring; then, if given, the « awaited » link is followed by Enter."""
    wait_until_ready(page)
    # the sequential focus starting point at the top of the document (a blur would keep it where it was)
    page.evaluate(
        """() => { const start = document.createElement('span'); start.tabIndex = -1; start.id = 'walk-start';
          document.body.prepend(start); start.focus(); }"""
    )
    total = page.evaluate(WALK)
    reached = set()
    for step in range(total + 120):
        page.keyboard.press("Tab")
        if step == 0:
            page.evaluate("() => document.getElementById('walk-start').remove()")
        state = page.evaluate(
            """() => { const a = document.activeElement; const r = a.getBoundingClientRect();
              const s = getComputedStyle(a);
              return {walk: a.dataset.walk, footer: !!a.closest('footer'), body: a === document.body,
                      visible: r.width > 0 && r.height > 0,
                      ring: s.outlineStyle !== 'none' || (s.boxShadow && s.boxShadow !== 'none')
                            || a.matches('input[type=checkbox], input[type=radio]')}; }"""
        )
        assert not state["body"], f"the focus fell to <body> on {page.url}"
        assert state["visible"], f"an invisible element takes the focus on {page.url}"
        if state["walk"] is not None:
            assert state["ring"], f"no visible focus ring on {page.evaluate(ACTIVE)} ({page.url})"
            reached.add(state["walk"])
        if state["footer"] and reached:
            break
    missing = page.evaluate(
        "(reached) => [...document.querySelectorAll('[data-walk]')]"
        ".filter(e => !reached.includes(e.dataset.walk)).map(e => e.outerHTML.slice(0, 120))",
        sorted(reached),
    )
    assert not missing, f"controls of {page.url} not reachable by Tab: {missing}"
    axe_check(page)
    if awaited:
        page.evaluate("() => window.scrollTo(0, 0)")
        before = page.url
        press(page, link, awaited)
        page.wait_for_url(lambda url: url != before)
        wait_until_ready(page)


# --- the porteur and the instructeur, through HTTP from their signed-in browsers ---------------------------


def _end_reads() -> None:
    """No read transaction of the test thread left open on the live database while the server writes."""
    if has_app_context():
        db.session.rollback()


class Http:
    """Posts and reads as the page's signed-in user (its cookies, its CSRF token): the forms' requests."""

    def __init__(self, page):
        self.page = page
        page.goto("/")
        self.csrf = page.locator("meta[name=csrf-token]").get_attribute("content")

    def post(self, url: str, data: dict | None = None, files: dict | None = None):
        _end_reads()
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in {**(data or {}), "csrf_token": self.csrf}.items():
            for one in value if isinstance(value, list) else [value]:
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{one}\r\n'.encode()
                )
        for name, (filename, content) in (files or {}).items():
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/pdf\r\n\r\n"
            )
            parts.append(head.encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        response = self.page.request.post(
            url,
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            max_redirects=0,
        )
        assert response.status in (200, 303), (url, response.status, response.text()[:500])
        return response

    def read(self, url: str) -> str:
        _end_reads()
        response = self.page.request.get(url)
        assert response.ok, (url, response.status)
        return response.text()


def deposit_and_propose(live_app, new_page, cast, title: str, walk_homes: bool = False) -> tuple[str, object]:
    """The porteur creates, fills and deposits a dossier; the instructeur instructs it, scores the grid and
    proposes it to the committee (`walk_homes`: each home, which lists the dossier, walked by keyboard and
    the dossier followed from it). Returns the dossier's URL and the porteur's page."""
    porteur = new_page()
    sign_in(porteur, cast["porteur"])
    as_porteur = Http(porteur)
    year = str(paris_today().year)
    response = as_porteur.post("/dossiers/nouveau", {"guichet": GUICHET, "title": title, "start_year": year})
    url = response.headers["location"].split("#")[0].split("/etapes/")[0]  # creation opens the first step
    dossier_id = int(url.rsplit("/", 1)[1])
    with live_app.app_context():
        account = db.session.scalar(select(User).where(User.email == cast["porteur"]))
        fill_dossier(as_porteur.post, as_porteur.read, dossier_id, account)
        db.session.remove()
    as_porteur.post(f"{url}/deposer", {"confirm": "oui"})
    if walk_homes:
        porteur.goto("/")
        walk(porteur, awaited=title)  # the porteur's home lists the deposited dossier
        assert porteur.url.split("#")[0].endswith(url)
        axe_check(porteur)

    instructeur = new_page()
    sign_in(instructeur, cast["instructeur"])
    if walk_homes:
        instructeur.goto("/")
        walk(instructeur, awaited=title)  # what waits for instruction
        assert instructeur.url.split("#")[0].endswith(url)
    as_instructeur = Http(instructeur)
    as_instructeur.post(f"{url}/instruire")
    grid = re.findall(r'name="grid-(\d+)-score"', as_instructeur.read(url))
    assert grid, "the avis form shows the guichet's selection grid"
    avis = {"avis": "favorable", "motivation": "Projet solide.", **{f"grid-{g}-score": "4" for g in grid}}
    as_instructeur.post(f"{url}/avis", avis)
    as_instructeur.post(f"{url}/proposer", {"reason": "Prêt pour la séance."})
    return url, porteur


# --- the secretariat's journey, with the committee member's decision journey --------------------------------


def test_secretariat_runs_a_meeting_by_keyboard_from_agenda_to_register(live_app, new_page, cast):
    title = f"Socle de messagerie {uuid.uuid4().hex[:4]}"
    dossier_url, porteur = deposit_and_propose(live_app, new_page, cast, title)

    # the secretariat: told of the proposal on its home, follows it, plans a meeting of the deciding committee
    page = new_page()
    sign_in(page, cast["secretariat"])
    press(page, "#awaiting a", f"Examiner les propositions d'inscription : {COMMITTEE}")
    page.wait_for_url(re.compile(rf"/comites/{COMMITTEE}$"))
    wait_until_ready(page)
    axe_check(page)
    press(page, "a", "Planifier une séance")
    page.locator("#starts_at").wait_for()
    wait_until_ready(page)
    axe_check(page)
    starts = paris(utcnow() + timedelta(days=7)).replace(hour=10, minute=0)
    page.fill("#starts_at", starts.strftime("%Y-%m-%dT%H:%M"))  # the date picker: filled, not typed
    page.locator("#starts_at").focus()
    press(page, "button", "Planifier la séance")
    page.wait_for_url(re.compile(r"/comites/seances/\d+"))
    meeting_url = page.url.split("#")[0]
    wait_until_ready(page)
    axe_check(page)

    # the agenda: the proposal accepted in one key press, a free point added by htmx
    proposal = page.locator("[id^=proposition-]", has_text=title)
    proposal.wait_for()
    assert "Prêt pour la séance." in proposal.inner_text()
    press(page, f"#{proposal.get_attribute('id')} button", "Inscrire à l'ordre du jour")
    items = page.locator("#ordre-du-jour ol > li")
    items.filter(has_text=title).wait_for()
    wait_until_ready(page)
    choose(page, "#ordre-du-jour input[name=kind]", "Point libre")
    type_into(page, "#ordre-du-jour input[name=title]", "Feuille de route de la suite")
    press(page, "#ordre-du-jour button[type=submit]", "Ajouter à l'ordre du jour")
    items.filter(has_text="Feuille de route de la suite").wait_for()
    announced(page, "Point ajouté à l'ordre du jour.")
    active = focused(page, "a.closest('#ordre-du-jour') !== null")
    assert active["tag"] == "BUTTON" and active["text"] == "Ajouter à l'ordre du jour", active
    idle(page)
    walk(page)  # every control of the agenda builder reachable by Tab; axe

    # published: the members are told
    press(page, "#actions button", "Publier l'ordre du jour")
    page.locator("#actions-title", has_text="Ordre du jour publié").wait_for()
    wait_until_ready(page)

    president = new_page()
    sign_in(president, cast["presidente"])  # told on her home; follows the notice by keyboard
    her_id, her_name = account(live_app, cast["presidente"])
    press(president, "#home-notifications a", "Ordre du jour publié")
    president.wait_for_url(re.compile(re.escape(meeting_url)))
    president.locator("#ordre-du-jour ol > li", has_text=title).wait_for()
    wait_until_ready(president)
    axe_check(president)

    # attendance: « tous présents », then an exception; the meeting opens
    page.goto(meeting_url)
    wait_until_ready(page)
    press(page, "#actions button", "Ouvrir la séance")
    page.wait_for_url(re.compile(r"/direct"))
    wait_until_ready(page)
    axe_check(page)
    with live_app.app_context():  # the committee's members (other tests of the session may have added some)
        members = db.session.scalar(
            select(func.count(UserRole.id))
            .join(Committee, Committee.id == UserRole.committee_id)
            .where(UserRole.role == Role.COMITE, Committee.code == COMMITTEE)
        )
        db.session.remove()
    press(page, "#presence-tous", "Tous présents")
    announced(page, f"Présence enregistrée : {members} membre(s) marqué(s) présent(s).")
    active = focused(page, "a.id === 'presence-tous'")
    assert active["text"] == "Tous présents"
    idle(page)
    absent, name = account(live_app, cast["membre2"])  # never logged in: known by its e-mail
    tab_to(page, f"#status-{absent}")
    page.keyboard.press("e")  # the closed select's type-ahead: « Excusé »
    assert page.locator(f"#status-{absent}").input_value() == "excuse"
    press(page, f"#presence-{absent} button")
    announced(page, f"Présence enregistrée : {name}, excusé.")
    active = focused(page, "a.tagName === 'BUTTON'")
    assert active["label"] == f"Enregistrer la présence de {name}", active  # the row's own button
    page.locator(f"#presence-{absent} td:nth-child(3)", has_text="Excusé").wait_for()
    idle(page)

    # the president votes from her own browser, by keyboard: a vote without a choice is refused at the point
    president.goto(meeting_url + "/direct")
    walk(president)  # the member's live page: every control reachable by Tab; axe
    card = president.locator("article[id^=point-]", has_text=title)
    item_id = card.get_attribute("id").removeprefix("point-")
    press(president, f"#vote-submit-{item_id}-{her_id}")
    president.locator(f"#point-{item_id} [role=alert]").wait_for()
    active = focused(president, "a.getAttribute('role') === 'alert'")
    assert "Choisissez pour, contre ou abstention" in active["text"]
    # the president runs the meeting too (she sees every voter's form): she votes with her own
    choose(president, f"#point-{item_id} input[id^=vote-{item_id}-{her_id}-]", "Pour")
    press(president, f"#vote-submit-{item_id}-{her_id}")
    announced(president, f"Vote de {her_name} enregistré sur le point 1 : pour.")
    active = focused(president, "a.tagName === 'BUTTON'")
    assert active["id"] == f"vote-submit-{item_id}-{her_id}", active
    president.locator(f"#tally-{item_id}", has_text="1 pour").wait_for()
    idle(president)
    # on the second point: the focus returns to that point's button, not to the same-named one of the first
    other = president.locator("article[id^=point-]", has_text="Feuille de route de la suite")
    other_id = other.get_attribute("id").removeprefix("point-")
    choose(president, f"#point-{other_id} input[id^=vote-{other_id}-{her_id}-]", "Abstention")
    press(president, f"#vote-submit-{other_id}-{her_id}")
    announced(president, f"Vote de {her_name} enregistré sur le point 2 : abstention.")
    active = focused(president, "a.tagName === 'BUTTON'")
    assert active["id"] == f"vote-submit-{other_id}-{her_id}", active
    idle(president)
    axe_check(president, "main")

    # the secretariat records the decision, by keyboard
    page.reload()
    wait_until_ready(page)
    page.locator(f"#tally-{item_id}", has_text="1 pour").wait_for()
    press(page, f"#point-{item_id} summary", "Enregistrer la décision")
    press(page, f"#decision-submit-{item_id}")  # nothing chosen: refused, the error summary takes the focus
    active = focused(page, f"a.id === 'decision-errors-{item_id}'")
    assert "Le formulaire contient des erreurs" in active["text"], active
    idle(page)
    choose(page, f"#point-{item_id} input[name=d{item_id}-outcome]", "Accepté")
    choose(page, f"#point-{item_id} input[name=d{item_id}-mode]", "Vote")
    type_into(page, f"#d{item_id}-motivation", "Projet mûr, financement accordé.")
    type_into(page, f"#d{item_id}-amounts-0-year", str(paris_today().year))
    type_into(page, f"#d{item_id}-amounts-0-ae", "300000")
    type_into(page, f"#d{item_id}-amounts-0-cp", "200000")
    press(page, f"#point-{item_id} button[type=submit]", "Enregistrer la décision")
    announced(page, "Décision enregistrée sur le point 1.")
    active = focused(page, f"a.id === 'point-title-{item_id}'")
    assert title in active["text"]
    summary = page.locator(f"#point-{item_id} [id^=decision-]", has_text="Décision n°").first
    summary.wait_for()
    decision_id = summary.get_attribute("id").removeprefix("decision-")
    idle(page)
    axe_check(page)

    # the minutes: written and saved by htmx, reviewed by the president, published
    press(page, "a", "Procès-verbal")
    page.wait_for_url(re.compile(r"/proces-verbal$"))
    walk(page)  # the minutes page: every control reachable by Tab; axe
    type_into(page, "#notes", "Séance ouverte à 10 h, quorum atteint.")
    press(page, "#minutes-form button[type=submit]", "Enregistrer le procès-verbal")
    announced(page, "Procès-verbal enregistré.")
    active = focused(page, "a.closest('#minutes-form') !== null")
    assert active["text"] == "Enregistrer le procès-verbal", active
    idle(page)
    president.goto(meeting_url + "/proces-verbal")
    wait_until_ready(president)
    press(president, "button", "Marquer comme relu")
    president.locator("#minutes-state", has_text="Relu").wait_for()
    page.reload()
    wait_until_ready(page)
    press(page, "button", "Publier le procès-verbal")
    page.locator("#minutes-state", has_text="Publié").wait_for()
    wait_until_ready(page)
    axe_check(page)

    # the decision register lists it; the porteur is told at the publication
    page.goto("/comites/registre")
    wait_until_ready(page)
    entry = page.locator("tr", has=page.get_by_role("link", name=f"n° {decision_id}", exact=True))
    assert f"{COMMITTEE} : Accepté" in entry.inner_text()
    walk(page)  # the register: every control reachable by Tab; axe
    press(page, "a", f"n° {decision_id}")
    page.wait_for_url(re.compile(rf"/decisions/{decision_id}$"))
    page.get_by_text(title).first.wait_for()
    wait_until_ready(page)
    axe_check(page)
    porteur.goto("/notifications")
    porteur.get_by_role("link", name=re.compile("Décision du")).first.wait_for()
    axe_check(porteur)
    porteur.goto(dossier_url)
    wait_until_ready(porteur)
    axe_check(porteur)


# --- the DSI member's vote journey, by keyboard ------------------------------------------------------------


def test_dsi_member_votes_by_keyboard_from_its_home(new_page, cast):
    title = f"Priorisation au clavier {uuid.uuid4().hex[:4]}"

    # the secretariat prepares and opens the campaign by keyboard (the date pickers filled)
    secretariat = new_page()
    sign_in(secretariat, cast["secretariat"])
    secretariat.goto("/campagnes/nouvelle")
    wait_until_ready(secretariat)
    axe_check(secretariat)
    type_into(secretariat, "#title", title)
    now = utcnow()
    secretariat.fill("#opens_at", paris(now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    secretariat.fill("#closes_at", paris(now + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"))
    secretariat.locator("#closes_at").focus()
    boxes = secretariat.locator("input[name=opportunities]")
    for index in range(2):
        box = boxes.nth(index)
        tab_to(secretariat, f"#{box.get_attribute('id')}")
        if not box.is_checked():
            secretariat.keyboard.press("Space")
        assert box.is_checked()
    press(secretariat, "button[type=submit]", "Enregistrer le brouillon")
    secretariat.wait_for_url(re.compile(r"/campagnes/\d+$"))
    campaign_url = secretariat.url
    wait_until_ready(secretariat)
    axe_check(secretariat)
    press(secretariat, "button", "Ouvrir le vote maintenant")
    secretariat.get_by_text(f"Campagne « {title} » : ouverte.").wait_for()

    # the member's home says a vote awaits; Enter on it; votes by keyboard
    dsi = new_page()
    sign_in(dsi, cast["dsi"])
    dsi.goto("/")
    walk(dsi, awaited=title)
    assert dsi.url.split("?")[0].split("#")[0] == campaign_url
    axe_check(dsi)
    row_id = dsi.locator("[id^=vote-]:has(button[aria-label='Must'])").first.get_attribute("id")
    code = row_id.removeprefix("vote-")
    press(dsi, f"#{row_id} button[aria-label=Must]")
    announced(dsi, f"Vote enregistré : Must pour {code}")
    active = focused(dsi, f"a.closest('#{row_id}') !== null && a.getAttribute('aria-pressed') === 'true'")
    assert active["text"] == "M", active
    # another class for the same row (the next Tab stop): the focus is on that control after the swap
    press(dsi, f"#{row_id} button[aria-label=Should]")
    announced(dsi, f"Vote enregistré : Should pour {code}")
    active = focused(dsi, f"a.closest('#{row_id}') !== null && a.getAttribute('aria-pressed') === 'true'")
    assert active["label"] == "Should", active
    idle(dsi)
    # withdrawn: the button used is gone, the focus goes to the row's heading (its opportunity link)
    press(dsi, f"#{row_id} button", "Retirer")
    announced(dsi, f"Vote retiré pour {code}")
    active = focused(dsi, f"a.tagName === 'A' && a.closest('#{row_id}') !== null")
    assert active["text"] == code, active
    idle(dsi)
    press(dsi, f"#{row_id} button[aria-label=Must]")
    announced(dsi, f"Vote enregistré : Must pour {code}")
    idle(dsi)
    axe_check(dsi)

    # closed and published: the member reads the results
    secretariat.goto(campaign_url)
    wait_until_ready(secretariat)
    press(secretariat, "button", "Clore le vote maintenant")
    secretariat.get_by_role("button", name="Publier les résultats").wait_for()
    wait_until_ready(secretariat)
    press(secretariat, "button", "Publier les résultats")
    secretariat.get_by_role("link", name="Voir les résultats").wait_for()
    dsi.goto("/")
    wait_until_ready(dsi)
    press(dsi, "#home-notifications a", f"Résultats publiés : {title}")
    dsi.wait_for_url(re.compile(r"/resultats"))
    dsi.get_by_text("Règle de départage").first.wait_for()
    wait_until_ready(dsi)
    axe_check(dsi)


# --- each role's home, walked by keyboard ------------------------------------------------------------------


def test_each_role_s_home_is_walked_by_keyboard_and_leads_to_what_awaits(live_app, new_page, cast):
    """The porteur, the instructeur, the secretariat and the committee member (the DSI member's home: in its
    vote journey above): every control of each home reachable by Tab with a visible focus, axe clean, and
    what awaits the role followed by Enter."""
    title = f"Annuaire commun {uuid.uuid4().hex[:4]}"
    deposit_and_propose(live_app, new_page, cast, title, walk_homes=True)

    secretariat = new_page()
    sign_in(secretariat, cast["secretariat"])
    walk(secretariat, awaited=f"Examiner les propositions d'inscription : {COMMITTEE}")
    secretariat.wait_for_url(re.compile(rf"/comites/{COMMITTEE}$"))
    axe_check(secretariat)
    starts = paris(utcnow() + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M")
    Http(secretariat).post(
        f"/comites/{COMMITTEE}/seances/nouvelle", {"starts_at": starts, "duration_minutes": "90"}
    )

    member = new_page()
    sign_in(member, cast["membre"])
    walk(member, awaited=COMMITTEE, link="#home-sessions a")  # her next meeting
    member.wait_for_url(re.compile(r"/comites/seances/\d+$"))
    axe_check(member)
