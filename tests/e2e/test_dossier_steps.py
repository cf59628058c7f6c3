"""The porteur fills a dossier step by step in Chromium, by keyboard: the DSFR stepper, « Suivant » giving
the focus to the next step's title, the draft autosaved while typing (« Brouillon enregistré à … », the focus
left in the field), found again after a reload; bad input refused at the field without losing it; a
colleague's save never overwritten; a file larger than the server's limit refused before it is sent. Signed
in through the real ProConnect flow; axe on the step pages."""

import re

import pytest

from .helpers import axe_check, sign_in, tab_until, wait_until_ready

pytestmark = pytest.mark.e2e

SAVED = re.compile(r"Brouillon enregistré à \d\d:\d\d")


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.id : ''")


def wait_focus(page, element_id: str) -> None:
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=element_id)


def go_by_keyboard(page, slug: str) -> None:
    """Tab to the step link towards `slug`, press Enter: the focus lands on the step title."""
    tab_until(page, f'a[data-app-step-nav][href$="/etapes/{slug}"]', limit=250)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/etapes/{slug}$"))
    wait_until_ready(page)
    wait_focus(page, "step-title")


def test_dossier_steps_by_keyboard_with_autosave(proconnect, live_app, page, tmp_path):
    sign_in(page, "porteur@demo.gouv.fr")
    page.goto("/guichets/SNAP4")
    page.get_by_role("link", name="Déposer un dossier").click()
    page.get_by_label("Intitulé du projet").fill("Messagerie des alliances")
    page.get_by_label("Première année du projet (N)").fill("2026")
    page.get_by_role("button", name="Créer le dossier").click()
    page.wait_for_url(re.compile(r"/dossiers/\d+/etapes/projet$"))  # creation lands on the first step
    wait_until_ready(page)
    stepper = page.locator(".fr-stepper")
    assert re.search(r"Étape 1 sur \d+", stepper.inner_text())
    assert "Étape suivante : L'enjeu et la solution" in re.sub(r"\s+", " ", stepper.inner_text())
    axe_check(page)

    # bad input: a French message at the field, the input kept, the focus where the user types
    tab_until(page, "#projet-start_year")
    page.keyboard.press("Control+A")
    page.keyboard.type("deux mille")
    message = page.locator("#projet-start_year-messages")
    message.wait_for()
    assert "nombre entier positif" in message.inner_text()
    assert page.locator("#projet-start_year").input_value() == "deux mille"
    assert page.locator("#projet-start_year").get_attribute("aria-invalid") == "true"
    assert "projet-start_year-messages" in page.locator("#projet-start_year").get_attribute(
        "aria-describedby"
    )
    assert focused_id(page) == "projet-start_year"
    assert page.locator("#projet-autosave").inner_text().startswith("Brouillon non enregistré")
    # « Suivant » does not leave a refused draft behind: it stays, on the field in error
    page.locator('a[data-app-step-nav][href$="/etapes/enjeu"]').click()
    wait_focus(page, "projet-start_year")
    assert page.url.endswith("/etapes/projet")
    page.keyboard.press("Control+A")
    page.keyboard.type("2026")
    page.locator("#projet-autosave", has_text=SAVED).wait_for()
    message.wait_for(state="detached")

    # next step by keyboard: the focus on the step's title
    go_by_keyboard(page, "enjeu")
    assert re.search(r"Étape 2 sur \d+", page.locator("#step-title").inner_text())
    axe_check(page)
    tab_until(page, "#enjeu-enjeu")
    page.keyboard.type("Les agents des alliances n'ont pas de messagerie commune.")
    page.locator("#enjeu-autosave", has_text=SAVED).wait_for()
    assert focused_id(page) == "enjeu-enjeu"  # the autosave never steals the focus
    page.keyboard.type(" Ils échangent par courriel.")  # typing goes on in the same field
    page.locator("#enjeu-autosave", has_text=SAVED).wait_for()
    page.wait_for_function("() => document.querySelector('#section-enjeu input[name=version]').value === '2'")
    page.reload()
    wait_until_ready(page)
    assert page.locator("#enjeu-enjeu").input_value() == (
        "Les agents des alliances n'ont pas de messagerie commune. Ils échangent par courriel."
    )

    # a colleague saves « solution » behind this page's back: the autosave refuses to overwrite it
    dossier_url = page.url.split("/etapes/")[0]
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    colleague = page.request.post(
        f"{dossier_url}/sections/solution/brouillon",
        form={"csrf_token": token, "version": "0", "solution": "La version du collègue."},
    )
    assert colleague.status == 200
    tab_until(page, "#solution-solution")
    page.keyboard.type("Ma version.")
    conflict = page.locator("#section-solution [data-app-conflict]")
    conflict.wait_for()
    assert "depuis que vous l'avez ouverte" in conflict.inner_text()
    assert focused_id(page) == "solution-solution"
    assert page.locator("#solution-solution").input_value() == "Ma version."  # the input is kept
    page.reload()
    wait_until_ready(page)
    assert page.locator("#solution-solution").input_value() == "La version du collègue."

    # back by keyboard, then the pieces step: a file over the server's limit never leaves the browser
    go_by_keyboard(page, "projet")
    assert page.locator("#projet-start_year").input_value() == "2026"
    saved = live_app.config["DOSSIER_ATTACHMENT_MAX_MB"]
    live_app.config["DOSSIER_ATTACHMENT_MAX_MB"] = 1
    try:
        page.goto(f"{dossier_url}/etapes/pieces")
        wait_until_ready(page)
        upload = page.locator("#pieces-file")
        assert upload.get_attribute("data-max-bytes") == str(1024 * 1024)
        assert "Taille maximale : 1 Mo." in page.locator("#pieces-file-group").inner_text()
        sent = []
        upload_url = re.compile(r"/dossiers/\d+/pieces$")
        page.on(
            "request", lambda request: sent.append(request.url) if upload_url.search(request.url) else None
        )
        big = tmp_path / "annexe-lourde.pdf"
        big.write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024))
        upload.set_input_files(str(big))
        refusal = page.locator("#pieces-file-messages")
        refusal.wait_for()
        assert "la taille maximale est de 1 Mo" in refusal.inner_text()
        assert page.locator("#pieces-file-group.fr-upload-group--error").count() == 1
        assert upload.get_attribute("aria-invalid") == "true"
        assert page.evaluate("() => document.getElementById('pieces-file').files.length") == 0
        assert focused_id(page) == "pieces-file"
        assert sent == []  # refused in the browser: the server was not asked
        axe_check(page)
    finally:
        live_app.config["DOSSIER_ATTACHMENT_MAX_MB"] = saved

    # the recap leads to « Déposer »
    page.goto(f"{dossier_url}/etapes/recapitulatif")
    page.get_by_role("link", name="Déposer le dossier").click()
    page.get_by_role("heading", name=re.compile("^Déposer le dossier")).wait_for()
