"""The issue's journey in Chromium: a porteur builds a SNAP4 dossier section by section (two financing
lines over three years, two indicators), watches the eligibility verdict change with the amounts, uploads
a PDF and submits; the instructor asks for complements on the financing; the porteur fixes it and
resubmits; the instructor records a favourable avis. Signed in through the real ProConnect flow."""

import re

import pytest
from playwright.sync_api import expect

from .helpers import axe_check, sign_in

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def edit(page, key: str) -> None:
    """« Modifier la section »: its form opens in place of its saved content."""
    page.locator(f"#edit-{key}").click()
    page.locator(f"#section-{key} form").first.wait_for()


def save(page, key: str) -> None:
    section = page.locator(f"#section-{key}")
    section.get_by_role("button", name="Enregistrer la section").click()
    page.locator(f"#section-{key}").get_by_text("Section enregistrée.").wait_for()


def fill_line(page, n: int, nature: str, category: str, financer: str, amounts: dict[int, str]) -> None:
    page.get_by_label(f"Ligne {n} : nature de dépense").fill(nature)
    page.get_by_label(f"Ligne {n} : catégorie").select_option(category)
    page.get_by_label(f"Ligne {n} : programme budgétaire").fill("P349" if financer == "ftap" else "P129")
    page.get_by_label(f"Ligne {n} : financeur").select_option(financer)
    page.get_by_label(f"Ligne {n} : phase").select_option("experimentation")
    for year, value in amounts.items():
        page.get_by_label(f"Ligne {n} : AE {year}", exact=True).fill(value)
        page.get_by_label(f"Ligne {n} : CP {year}", exact=True).fill(value)


def test_dossier_from_draft_to_favourable_avis(proconnect, new_page, tmp_path):
    porteur = new_page()
    sign_in(porteur, "porteur@demo.gouv.fr")
    porteur.goto("/guichets/SNAP4")
    porteur.get_by_role("link", name="Déposer un dossier").click()
    porteur.get_by_label("Intitulé du projet").fill("Suite collaborative des alliances")
    porteur.get_by_label("Première année du projet (N)").fill("2026")
    porteur.get_by_role("button", name="Créer le dossier").click()
    porteur.wait_for_url(re.compile(r"/dossiers/\d+/etapes/projet$"))  # created: the first step
    dossier_url = porteur.url.split("/etapes/")[0]
    porteur.goto(dossier_url)  # this journey fills the sections on the one-page dossier

    edit(porteur, "projet")
    porteur.get_by_label("Date de début").fill("2026-01-01")
    porteur.get_by_label("Date de fin").fill("2028-12-31")
    save(porteur, "projet")

    edit(porteur, "porteurs")
    porteur.get_by_label("Organisation porteuse").select_option("DINUM")
    porteur.get_by_label("Référent projet du porteur : nom").fill("Alex Petit")
    porteur.get_by_label("Référent projet du porteur : adresse électronique").fill("porteur@demo.gouv.fr")
    save(porteur, "porteurs")
    for key, text in (
        ("enjeu", "Les agents manquent d'outils collaboratifs."),
        ("solution", "Une suite commune aux ministères de l'alliance."),
        ("gouvernance", "COPIL mensuel de l'alliance."),
    ):
        edit(porteur, key)
        porteur.locator(f"#{key}-{key}").fill(text)
        save(porteur, key)

    # Two financing lines over three years: FTAP 70 % first, then rebalanced to 50 %.
    edit(porteur, "financement")
    fill_line(
        porteur,
        1,
        "Développement de la suite",
        "T5",
        "ftap",
        {2026: "300000", 2027: "250000", 2028: "150000"},
    )
    fill_line(porteur, 2, "Équipe produit", "T3", "porteur", {2026: "100000", 2027: "100000", 2028: "100000"})
    save(porteur, "financement")
    checks = porteur.locator("#checks")
    checks.get_by_text("part France Relance 70 %").wait_for()  # SNAP4 is France Relance money, not FTAP
    # [003] §2: no terminal equipment on SNAP, a blocking declaration the porteur has not ticked yet
    checks.get_by_text("à déclarer par le porteur").wait_for()
    assert "bloquant" in checks.inner_text().lower() and "FTAP" not in checks.inner_text()
    assert "700 000" in porteur.locator("#section-financement tfoot").inner_text().replace("\u202f", " ")
    edit(porteur, "financement")
    porteur.get_by_label("Ligne 2 : AE 2028", exact=True).fill("500000")
    porteur.get_by_label("Ligne 2 : CP 2028", exact=True).fill("500000")
    save(porteur, "financement")
    checks.get_by_text("part France Relance 50 %").wait_for()
    edit(porteur, "projet")
    porteur.locator("#section-projet label", has_text="équipements terminaux").click()
    save(porteur, "projet")
    checks.get_by_text("à déclarer par le porteur").wait_for(state="detached")

    edit(porteur, "beneficiaires")
    porteur.get_by_label("Groupe 1", exact=True).fill("Agents des ministères de l'alliance")
    porteur.get_by_label("Groupe 1 : population").fill("120000")
    save(porteur, "beneficiaires")
    edit(porteur, "indicateurs")
    for n, (objective, indicator) in enumerate(
        (("Adoption", "Utilisateurs actifs"), ("Qualité", "Satisfaction des agents")), start=1
    ):
        porteur.get_by_label(f"Indicateur {n} : Description de l'objectif d'impact").fill(objective)
        porteur.get_by_label(f"Indicateur {n} : Indicateur", exact=True).fill(indicator)
        porteur.get_by_label(f"Indicateur {n} : Cible à T+12 mois").fill("+30 %")
    save(porteur, "indicateurs")
    edit(porteur, "jalons")
    porteur.get_by_label("Jalon 1 : date").fill("2026-06-30")
    porteur.get_by_label("Jalon 1 : description").fill("Pilote dans deux ministères")
    save(porteur, "jalons")

    pdf = tmp_path / "note-explicative.pdf"
    pdf.write_bytes(PDF)
    porteur.get_by_label("Fichier").set_input_files(str(pdf))
    porteur.get_by_role("button", name="Ajouter la pièce").click()
    porteur.locator("#section-pieces").get_by_role("link", name=re.compile("note-explicative.pdf")).wait_for()
    checks.get_by_text("Aucun contrôle bloquant : le dossier peut être déposé.").wait_for()
    axe_check(porteur)
    porteur.get_by_role("link", name="Déposer le dossier").click()
    porteur.get_by_role("heading", name=re.compile("^Déposer le dossier")).wait_for()  # the recap first
    axe_check(porteur)
    porteur.locator("label[for=confirm-oui]").click()  # DSFR: the label carries the box
    porteur.get_by_role("button", name="Confirmer le dépôt").click()
    porteur.get_by_text("Dossier déposé").first.wait_for()
    assert "déposé" in porteur.locator("h1 + p .fr-badge").inner_text().lower()

    instructor = new_page()
    sign_in(instructor, "instructeur@demo.gouv.fr")
    instructor.goto("/dossiers/instruction")
    instructor.get_by_role("link", name=re.compile(r"^D\d{4}$")).first.wait_for()
    instructor.goto(dossier_url)
    instructor.get_by_role("button", name="Passer en instruction").click()
    instructor.get_by_text("Dossier passé en instruction.").wait_for()
    instructor.get_by_text("Demander des compléments").click()
    instructor.locator("label[for=complements-financement]").click()  # DSFR: the label carries the box
    instructor.locator("label[for=complements-reason-incomplet]").click()
    instructor.get_by_label("Message au porteur").fill("Ajoutez le cofinancement d'un co-porteur en 2027.")
    instructor.get_by_role("button", name="Envoyer la demande de compléments").click()
    instructor.get_by_text("Demande de compléments envoyée au porteur.").wait_for()

    porteur.goto(dossier_url)
    porteur.get_by_text("Ajoutez le cofinancement d'un co-porteur en 2027.").first.wait_for()
    # only the reopened section is editable
    assert porteur.locator("#section-enjeu form, #edit-enjeu").count() == 0
    edit(porteur, "financement")
    porteur.get_by_label("Ligne 2 : AE 2027", exact=True).fill("150000")
    porteur.get_by_label("Ligne 2 : CP 2027", exact=True).fill("150000")
    save(porteur, "financement")
    porteur.get_by_role("link", name="Déposer à nouveau avec les compléments").click()
    porteur.locator("label[for=confirm-oui]").click()
    porteur.get_by_role("button", name="Confirmer le dépôt").click()
    porteur.get_by_text("Dossier déposé").first.wait_for()

    instructor.goto(dossier_url)
    instructor.get_by_text("Donner un avis").click()
    instructor.locator("label[for=avis-favorable]").click()
    instructor.get_by_label("Motivation", exact=True).fill("Projet interministériel, cofinancement solide.")
    instructor.get_by_role("button", name=re.compile("Enregistrer l'avis")).click()
    instructor.get_by_text("Avis enregistré : le dossier est instruit.").wait_for()
    assert instructor.locator("h1 + p .fr-badge").inner_text().lower() == "instruit"
    assert "Avis favorable" in instructor.locator("#instruction").inner_text()
    # below the sections, the conversation, annotations and history load once scrolled to; the focus stays
    active = "() => { const a = document.activeElement; return a.tagName + '#' + a.id + ' ' + a.className; }"
    focused = instructor.evaluate(active)
    instructor.locator("#dossier-activite").scroll_into_view_if_needed()
    instructor.locator("#history-title").wait_for()
    assert "Instruit" in instructor.locator("#dossier-activite").inner_text()
    assert instructor.locator("#annotations-title").count() == 1  # the instructeur's private annotations
    expect(instructor.locator("#dossier-activite-statut")).to_have_text(
        "Messagerie et historique du dossier affichés."
    )
    assert instructor.evaluate(active) == focused
    axe_check(instructor)


def test_sections_save_without_javascript(proconnect, new_page):
    """Progressive enhancement: with JavaScript off, « Modifier la section » opens the section's form on a
    page of its own, posted plainly; a bad amount comes back on that page (422) with the input kept; a good
    one redirects to the section on the dossier page with a message."""
    signed = new_page()
    sign_in(signed, "porteur@demo.gouv.fr")
    signed.goto("/dossiers/nouveau?guichet=SNAP4")
    signed.get_by_label("Intitulé du projet").fill("Dossier sans JavaScript")
    signed.get_by_label("Première année du projet (N)").fill("2026")
    signed.get_by_role("button", name="Créer le dossier").click()
    signed.wait_for_url(re.compile(r"/dossiers/\d+/etapes/projet$"))
    plain = new_page(java_script_enabled=False)
    plain.context.add_cookies(signed.context.cookies())
    dossier_url = signed.url.split("/etapes/")[0]
    plain.goto(dossier_url)
    assert plain.locator("#section-financement form").count() == 0  # shown as saved
    plain.get_by_role("link", name="Modifier la section « 3. Besoins et modalités de financement »").click()
    plain.wait_for_url(re.compile(r"/sections/financement/modifier#section-financement$"))
    assert plain.locator("main section").count() == 1  # that section alone
    plain.get_by_label("Ligne 1 : Nature de dépense").fill("Développement")
    plain.get_by_label("Ligne 1 : AE 2026", exact=True).fill("mille")
    response_status = []
    plain.on("response", lambda r: response_status.append(r.status) if r.request.method == "POST" else None)
    plain.locator("#section-financement").get_by_role("button", name="Enregistrer la section").click()
    plain.get_by_text("La section n'a pas été enregistrée").wait_for()
    assert response_status == [422]
    assert plain.get_by_label("Ligne 1 : AE 2026", exact=True).input_value() == "mille"
    assert plain.get_by_label("Ligne 1 : Nature de dépense").input_value() == "Développement"
    plain.get_by_role("link", name="Retour au dossier").click()
    plain.locator("#edit-enjeu").click()
    plain.locator("#enjeu-enjeu").fill("Écrit sans JavaScript")
    plain.locator("#section-enjeu").get_by_role("button", name="Enregistrer la section").click()
    plain.get_by_text("Section « 1. Présentation de l'enjeu de transformation » enregistrée.").wait_for()
    assert plain.url.split("#")[0] == dossier_url  # back on the dossier page, the section as saved
    assert "Écrit sans JavaScript" in plain.locator("#section-enjeu").inner_text()
    # the history below the sections, loaded when scrolled to with JavaScript, is a link without it
    plain.get_by_role("link", name=re.compile("historique du dossier$")).click()
    plain.locator("#history-title").wait_for()
    assert "Brouillon créé le" in plain.locator("#dossier-activite").inner_text()
