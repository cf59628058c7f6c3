"""The portfolio in a real browser: search, filter, paginate, go back, open a page; without JavaScript;
axe-core on every page type; keyboard alone."""

import csv
import re

import pytest

from app.models.portfolio import fold

from .helpers import (
    ROOT,
    axe_check,
    count_text,
    describe_focus,
    focus_style,
    rows,
    tab_until,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

ANNEX = list(csv.DictReader((ROOT / "data" / "opportunities.csv").open(encoding="utf-8", newline="")))
MESSAGERIE = [r["code"] for r in ANNEX if "messagerie" in fold(f"{r['code']} {r['brique']} {r['besoin']}")]


def wait_for_results(page, url_part: str) -> None:
    """htmx pushed the URL and settled the swapped list."""
    page.wait_for_url(re.compile(url_part))
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


def wait_for_list(page, url_pattern: str, first_code: str) -> None:
    """After a history move: the URL matches and the table's first row is `first_code` (survives reloads)."""
    page.wait_for_function(
        """([pattern, code]) => {
            const cell = document.querySelector("#results tbody tr td");
            return new RegExp(pattern).test(location.href) && document.readyState === "complete"
                && !!cell && cell.innerText.trim() === code;
        }""",
        arg=[url_pattern, first_code],
    )


def tick(page, label: str) -> None:
    """Toggle a DSFR checkbox the way a user does: its label is what receives the click."""
    page.locator("#statuts label", has_text=label).click()


def test_search_filter_paginate_back_and_detail(page):
    page.goto("/opportunites")
    assert count_text(page).startswith("132 opportunités")
    assert rows(page)[0] == "M001"

    # Typing in the search box: htmx updates the list and pushes a shareable URL.
    page.locator("#q").press_sequentially("messagerie", delay=30)
    wait_for_results(page, r"[?&]q=messagerie")
    assert count_text(page).startswith(f"{len(MESSAGERIE)} opportunité")
    assert rows(page) == MESSAGERIE
    briques = page.locator("#results tbody tr td:nth-child(2)").all_inner_texts()
    assert any("Messagerie" in b for b in briques), briques
    assert page.locator("#q").input_value() == "messagerie"

    # Ticking a state narrows the list (every annex opportunity is still "identifiée").
    tick(page, "En criblage")
    wait_for_results(page, r"statut=en_criblage")
    assert "q=messagerie" in page.url
    assert count_text(page).startswith("0 opportunité")
    assert page.get_by_text("Aucune opportunité ne correspond à ces critères.").is_visible()
    tick(page, "En criblage")
    wait_for_results(page, r"^(?!.*statut=).*q=messagerie")
    assert rows(page) == MESSAGERIE

    # Clear everything.
    page.get_by_role("link", name="Réinitialiser").click()
    page.wait_for_url(re.compile(r"/opportunites$"))
    assert count_text(page).startswith("132 opportunités")
    assert page.locator("#q").input_value() == ""
    first_page = rows(page)
    assert len(first_page) == 20 and first_page[0] == "M001"

    # Page 2 through the pagination.
    page.locator("nav.fr-pagination").get_by_role("link", name="2", exact=True).click()
    wait_for_results(page, r"[?&]page=2")
    assert rows(page)[0] == "M021"
    assert "page 2 sur 7" in count_text(page)
    assert page.locator(".fr-pagination__link[aria-current=page]").inner_text() == "2"

    # Back: the previous list is restored (URL and rows), whether htmx restores it or reloads it.
    page.go_back()
    wait_for_list(page, r"/opportunites$", "M001")
    assert rows(page) == first_page
    assert count_text(page).startswith("132 opportunités")

    # Back again, to the list before "Réinitialiser": the filtered list as it was, form included.
    page.go_back()
    wait_for_list(page, r"q=messagerie", MESSAGERIE[0])
    assert rows(page) == MESSAGERIE
    assert page.locator("#q").input_value() == "messagerie"
    page.go_forward()
    wait_for_list(page, r"/opportunites$", "M001")
    assert rows(page) == first_page

    # Open a detail page from a search.
    page.locator("#q").fill("M043")
    page.locator("#q").press("Enter")
    wait_for_results(page, r"q=M043")
    page.locator("#results").get_by_role("link", name="M043", exact=True).click()
    page.wait_for_url(re.compile(r"/opportunites/M043$"))
    heading = " ".join(page.locator("main h1").text_content().split())
    assert heading == "Opportunité M043 — Gestion des bâtiments de l'administration"
    besoin = page.locator("#besoin")
    assert "Attention : cette mutualisation existe déjà dans Chorus DT" in besoin.inner_text()
    assert besoin.locator("li").first.inner_text().startswith("BIM : gestion immobilière")
    assert "Réservation de salles, visibilité commune de l'immobilier" in besoin.inner_text()

    page.goto("/opportunites/M115")
    assert "Envoi de SMS" in page.locator("main h1").inner_text()
    assert "A fusionner avec M102 ?" in page.locator("#besoin").inner_text()


def test_filters_work_as_a_plain_get_without_javascript(new_page):
    page = new_page(java_script_enabled=False)
    page.goto("/opportunites")
    assert count_text(page).startswith("132 opportunités")
    page.locator("#q").fill("messagerie")
    tick(page, "Identifiée")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"q=messagerie"))
    assert "statut=identifiee" in page.url
    assert rows(page) == MESSAGERIE
    assert page.get_by_label("Identifiée").is_checked()

    page.goto("/opportunites")
    page.locator("nav.fr-pagination").get_by_role("link", name="2", exact=True).click()
    page.wait_for_url(re.compile(r"page=2"))
    assert rows(page)[0] == "M021"

    page.locator("#results").get_by_role("link", name="M021", exact=True).click()
    page.wait_for_url(re.compile(r"/opportunites/M021$"))
    assert "Vitam as a Service" in page.locator("main h1").inner_text()


def test_a_shared_filtered_url_renders_the_same_list(page):
    page.goto("/opportunites?q=MESSAGERIE&statut=identifiee&page=1&tri=code")  # a search ranks by default
    assert rows(page) == MESSAGERIE
    assert page.get_by_label("Identifiée").is_checked()


# --- accessibility ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/opportunites",
        "/opportunites?q=messagerie&statut=identifiee",
        "/opportunites?page=7",
        "/opportunites/M043",
        "/opportunites/M115",
        "/accessibilite",
        "/plan-du-site",
        "/mentions-legales",
        "/donnees-personnelles",
        "/connexion",
        "/page-inexistante",
        "/opportunites/M999",
    ],
)
def test_axe_finds_no_serious_violation(page, path):
    response = page.goto(path)
    assert response.status in (200, 404)
    wait_until_ready(page)
    axe_check(page)


def test_axe_after_an_htmx_swap(page):
    page.goto("/opportunites")
    page.locator("#q").fill("cloud")
    wait_for_results(page, r"q=cloud")
    page.locator("nav.fr-pagination, #results").first.wait_for()
    axe_check(page)


def test_error_page_is_a_404_with_the_shell(page):
    response = page.goto("/opportunites/M9999")
    assert response.status == 404
    assert page.locator("main h1").inner_text() == "Page non trouvée"
    assert page.locator("footer a[href='/accessibilite']").count() == 1


def test_footer_links_the_legal_pages(page):
    page.goto("/")
    footer = page.locator("footer")
    for name, path in [
        ("accessibilité", "/accessibilite"),
        ("Mentions légales", "/mentions-legales"),
        ("Données personnelles", "/donnees-personnelles"),
    ]:
        link = footer.get_by_role("link", name=re.compile(name, re.I)).first
        assert link.get_attribute("href") == path
    page.goto("/accessibilite")
    assert "RGAA" in page.locator("main").inner_text()


# --- keyboard -----------------------------------------------------------------------------------------


def test_skip_link_is_first_and_moves_focus_to_main(page):
    page.goto("/opportunites")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => [document.activeElement.innerText.trim(), document.activeElement.getAttribute('href')]"
    )
    assert focused == ["Contenu", "#contenu"]
    assert page.locator(".fr-skiplinks a[href='#contenu']").is_visible()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'contenu'")
    # The next Tab continues inside the main content, not back at the header.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.getElementById('contenu').contains(document.activeElement)")


@pytest.mark.parametrize(
    "selector",
    [
        "#q",
        "#chantier",
        "input[name=statut]",
        "#filters button[type=submit]",
        ".fr-pagination__link[href]",
        "#results tbody a",
    ],
)
def test_controls_are_reachable_by_tab_with_a_visible_focus(page, selector):
    page.goto("/opportunites")
    tab_until(page, selector)
    focused = focus_style(page)
    page.evaluate("() => document.activeElement.blur()")
    unfocused = focus_style(page)
    assert focused != unfocused, f"no visible focus indicator on {selector}: {focused}"


@pytest.mark.parametrize("path", ["/opportunites", "/opportunites/M043", "/"])
def test_no_keyboard_trap(page, path):
    page.goto(path)
    stops = []
    for _ in range(60):
        page.keyboard.press("Tab")
        stops.append(describe_focus(page))
    repeats = [(stop, i) for i, stop in enumerate(stops[1:], start=1) if stop == stops[i - 1] != "body"]
    assert not repeats, f"focus stuck: {repeats}"
    distinct = len(set(stops))
    # Either 60 distinct stops, or the page has fewer and focus cycled back through the browser.
    assert distinct >= min(20, len(stops)) or stops[0] in stops[1:], stops


def test_htmx_swap_keeps_keyboard_flow(page):
    """After a search swap the focus stays in the search box and Tab continues through the form."""
    page.goto("/opportunites")
    tab_until(page, "#q")
    page.keyboard.type("cloud")
    wait_for_results(page, r"q=cloud")
    assert page.evaluate("() => document.activeElement.id") == "q"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "chantier"
