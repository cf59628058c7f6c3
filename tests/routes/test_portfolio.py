"""Portfolio pages: list, filters, detail, forms, htmx fragments, exports."""

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Opportunity

HX = {"HX-Request": "true"}


@pytest.fixture
def secretariat(make_user, login_as):
    return login_as(make_user("secretariat"))


@pytest.fixture
def dsi(make_user, login_as):
    return login_as(make_user("dsi", ministry="MI"))


def codes(html: str) -> list[str]:
    return re.findall(r'<tr id="row-(M\d+)"', html)


def test_anonymous_users_are_sent_to_login_and_come_back(client):
    response = client.get("/opportunites?q=cloud")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=/opportunites?q%3Dcloud"


def test_public_portfolio_is_readable_anonymously(app, client):
    app.config["PUBLIC_PORTFOLIO"] = True
    try:
        assert client.get("/opportunites").status_code == 200
        assert client.get("/opportunites/M043").status_code == 200
        assert client.get("/opportunites/nouvelle").status_code == 302
    finally:
        app.config["PUBLIC_PORTFOLIO"] = False


def test_list_shows_the_132_opportunities_twenty_per_page(client, dsi):
    html = client.get("/opportunites").get_data(as_text=True)
    assert "<strong>132</strong> opportunités" in html
    assert codes(html) == [f"M{n:03d}" for n in range(1, 21)]
    page2 = client.get("/opportunites?page=2").get_data(as_text=True)
    assert codes(page2)[0] == "M021"


def test_search_ignores_accents_and_case(client, dsi):
    lower = codes(client.get("/opportunites?q=messagerie").get_data(as_text=True))
    upper = codes(client.get("/opportunites?q=MESSAGERIE").get_data(as_text=True))
    assert lower == upper and lower
    stored = db.session.scalars(select(Opportunity.code).where(Opportunity.brique.like("%essagerie%"))).all()
    assert set(stored) <= set(lower)
    accented = codes(client.get("/opportunites?q=bâtiments").get_data(as_text=True))
    assert "M043" in accented
    assert codes(client.get("/opportunites?q=batiments").get_data(as_text=True)) == accented


def test_search_with_like_wildcards_is_literal(client, dsi):
    html = client.get("/opportunites?q=%25_").get_data(as_text=True)
    assert "<strong>0</strong> opportunité" in html


def test_filters_by_state_chantier_moscow_and_ministry(client, dsi, make_opportunity):
    html = client.get("/opportunites?chantier=2.2 France-Cloud").get_data(as_text=True)
    assert codes(html) == ["M001"]
    musts = codes(client.get("/opportunites?moscow=must").get_data(as_text=True))
    assert "M002" in musts and "M008" not in musts
    make_opportunity(brique="Écartée", state="ecartee")
    assert codes(client.get("/opportunites?statut=ecartee").get_data(as_text=True)) == ["M133"]


def test_unknown_filter_values_are_ignored_with_a_notice(client, dsi):
    response = client.get("/opportunites?statut=inventé&moscow=maybe&tri=hasard&page=abc")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Statut inconnu ignoré : « inventé »." in html
    assert (
        "Priorité MoSCoW d&#39;action inconnu ignoré" in html
        or "Priorité MoSCoW d'action inconnu ignoré" in html
    )
    assert "<strong>132</strong>" in html


def test_htmx_request_gets_the_results_block_only_and_it_equals_the_full_page_region(client, dsi):
    full = client.get("/opportunites?q=cloud").get_data(as_text=True)
    fragment = client.get("/opportunites?q=cloud", headers=HX)
    assert fragment.headers["Vary"].startswith("HX-Request")
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="results"')
    assert "<html" not in body
    start = full.index('<div id="results"')
    assert full[start : start + len(body.strip())] == body.strip()


def test_malformed_or_unknown_codes_are_404(client, dsi):
    assert client.get("/opportunites/M43").status_code == 404
    assert client.get("/opportunites/X043").status_code == 404
    assert client.get("/opportunites/M999").status_code == 404


def test_detail_page_shows_brique_besoin_actions_and_history(client, dsi):
    html = client.get("/opportunites/M043").get_data(as_text=True)
    assert (
        "Gestion des bâtiments de l&#39;administration" in html
        or "Gestion des bâtiments de l'administration" in html
    )
    assert "Réservation de salles" in html  # second half of the besoin
    assert "Chorus DT" in html
    m002 = client.get("/opportunites/M002").get_data(as_text=True)
    assert "2.1.1" in m002 and "FranceConnect-Plateforme" in m002
    assert "A fusionner avec M102 ?" in client.get("/opportunites/M115").get_data(as_text=True)


def test_besoin_markdown_is_sanitised(client, dsi, make_opportunity):
    make_opportunity(
        brique="XSS", besoin="Texte <script>alert(1)</script> [lien](javascript:alert(1))\n\n- un\n- deux"
    )
    html = client.get("/opportunites/M133").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "javascript:" not in html
    assert "<li>un</li>" in html


def test_create_gives_the_next_code_and_redirects(client, dsi, csrf):
    response = client.post(
        "/opportunites/nouvelle", data={"brique": "Parapheur", "besoin": "Signer", "csrf_token": csrf(client)}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/opportunites/M133"
    assert "Parapheur" in client.get("/opportunites/M133").get_data(as_text=True)


def test_create_with_empty_or_overlong_fields_is_422_and_keeps_the_input(client, dsi, csrf):
    response = client.post(
        "/opportunites/nouvelle",
        data={"brique": "", "besoin": "Mon besoin détaillé", "csrf_token": csrf(client)},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Ce champ est obligatoire." in html and "Mon besoin détaillé" in html
    response = client.post(
        "/opportunites/nouvelle", data={"brique": "x" * 250, "csrf_token": csrf(client)}, headers=HX
    )
    assert response.status_code == 422
    assert response.get_data(as_text=True).lstrip().startswith('<div id="form"')
    assert db.session.scalar(select(Opportunity).where(Opportunity.number > 132)) is None


def test_post_without_csrf_token_is_400(client, dsi):
    response = client.post("/opportunites/nouvelle", data={"brique": "Sans jeton"})
    assert response.status_code == 400
    assert "jeton de sécurité" in response.get_data(as_text=True)


def test_a_porteur_cannot_open_the_create_form(client, make_user, login_as):
    login_as(make_user("porteur"))
    assert client.get("/opportunites/nouvelle").status_code == 403


def test_stale_edit_is_refused_showing_both_texts(client, secretariat, csrf, make_opportunity):
    opportunity = make_opportunity(brique="Version initiale")
    version = opportunity.version
    token = csrf(client)
    first = client.post(
        "/opportunites/M133/modifier",
        data={"brique": "Version de Alice", "version": version, "csrf_token": token},
    )
    assert first.status_code == 303
    second = client.post(
        "/opportunites/M133/modifier",
        data={"brique": "Version de Bob", "version": version, "csrf_token": token},
    )
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "modifiée par quelqu&#39;un d&#39;autre" in html or "modifiée par quelqu'un d'autre" in html
    assert "Version de Alice" in html and "Version de Bob" in html
    db.session.refresh(opportunity)
    assert opportunity.brique == "Version de Alice"


def test_a_merged_opportunity_redirects_to_its_target_which_keeps_its_comments_and_backings(
    client, secretariat, csrf
):
    client.post(
        "/opportunites/M115/commentaires", data={"body": "Même besoin que M102.", "csrf_token": csrf(client)}
    )
    client.post(
        "/opportunites/M115/soutiens",
        data={"organisation": "MI", "role": "pilote", "csrf_token": csrf(client)},
    )
    response = client.post(
        "/opportunites/M115/statut",
        data={
            "state": "fusionnee",
            "target_code": "M102",
            "reason": "Même brique",
            "csrf_token": csrf(client),
        },
    )
    assert response.status_code == 303
    response = client.get("/opportunites/M115")
    assert response.status_code == 301
    assert response.headers["Location"] == "/opportunites/M102?depuis=M115"
    target = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Vous avez été redirigé depuis M115" in target and "Même brique" in target
    assert "Même besoin que M102." in target  # the absorbed one's comment
    assert '<a href="/ministeres/MI">MI</a> (pilote)' in target  # and its backing, linked to its ministry
    assert 'id="absorbed-M115"' in target


def test_state_change_without_reason_is_422_and_changes_nothing(client, secretariat, csrf):
    response = client.post(
        "/opportunites/M043/statut",
        data={"state": "deja_couverte", "reason": "", "csrf_token": csrf(client)},
        headers=HX,
    )
    assert response.status_code == 422
    assert "Un motif est obligatoire" in response.get_data(as_text=True)
    assert db.session.scalar(select(Opportunity.state).where(Opportunity.code == "M043")) == "identifiee"


def test_a_manual_post_to_validee_csic_tech_is_refused_in_french(client, secretariat, csrf):
    db.session.execute(
        Opportunity.__table__.update().where(Opportunity.code == "M043").values(status="retenue_criblage")
    )
    db.session.commit()
    page = client.get("/opportunites/M043").get_data(as_text=True)
    assert 'value="validee_csic_tech"' not in page  # not offered
    response = client.post(
        "/opportunites/M043/statut",
        data={"state": "validee_csic_tech", "csrf_token": csrf(client)},
        headers=HX,
    )
    assert response.status_code == 422
    assert "ne se décide pas à la main : ce statut suit la décision du CSIC-Tech" in response.get_data(
        as_text=True
    )
    assert (
        db.session.scalar(select(Opportunity.state).where(Opportunity.code == "M043")) == "retenue_criblage"
    )


def test_dsi_cannot_change_state(client, dsi, csrf):
    response = client.post(
        "/opportunites/M043/statut", data={"state": "en_criblage", "csrf_token": csrf(client)}
    )
    assert response.status_code == 403


def test_comment_and_backing(client, dsi, csrf):
    token = csrf(client)
    assert (
        client.post(
            "/opportunites/M007/commentaires", data={"body": "Le **MI** est intéressé", "csrf_token": token}
        ).status_code
        == 303
    )
    assert (
        client.post(
            "/opportunites/M007/soutiens", data={"organisation": "MI", "role": "pilote", "csrf_token": token}
        ).status_code
        == 303
    )
    html = client.get("/opportunites/M007").get_data(as_text=True)
    assert "<strong>MI</strong> est intéressé" in html
    assert "Ministère de l&#39;Intérieur : pilote" in html or "Ministère de l'Intérieur : pilote" in html
    assert (
        client.post(
            "/opportunites/M007/soutiens", data={"organisation": "MEN", "role": "pilote", "csrf_token": token}
        ).status_code
        == 422
    )
    assert codes(client.get("/opportunites?ministere=MI").get_data(as_text=True)) == ["M007"]


def test_audit_trail_is_shown_to_the_secretariat_only(client, secretariat, csrf, make_user, login_as):
    client.post("/opportunites/M010/statut", data={"state": "en_criblage", "csrf_token": csrf(client)})
    assert "opportunity.status_changed" in client.get("/opportunites/M010").get_data(as_text=True)
    login_as(make_user("dsi", ministry="MI"))
    assert "opportunity.status_changed" not in client.get("/opportunites/M010").get_data(as_text=True)


def test_similar_opportunities_hint(client, dsi):
    html = client.get("/opportunites/similaires?brique=Messagerie collaborative").get_data(as_text=True)
    assert "M007" in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_match_the_filtered_list(client, dsi, fmt):
    shown = codes(client.get("/opportunites?q=cloud").get_data(as_text=True))
    response = client.get(f"/opportunites/export.{fmt}?q=cloud")
    assert response.status_code == 200
    if fmt == "csv":
        text = response.get_data(as_text=True).removeprefix("\ufeff")
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    else:
        rows = [list(r) for r in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert rows[0][:3] == ["Code", "Brique", "Besoin"]
    assert [r[0] for r in rows[1:]] == shown


def test_search_stems_french_words_matches_word_prefixes_and_highlights(client, dsi):
    found = codes(client.get("/opportunites?q=messageries").get_data(as_text=True))
    assert {"M007", "M035", "M075", "M125"} <= set(found)
    visio = client.get("/opportunites?q=visio").get_data(as_text=True)
    assert "M001" not in codes(visio)  # « supervision » is not a word starting with « visio »
    assert "M017" in codes(visio)  # « visioconférence » is
    page = client.get("/opportunites?q=messageries").get_data(as_text=True)
    assert "<mark>Messagerie</mark>" in page or "<mark>messagerie</mark>" in page
