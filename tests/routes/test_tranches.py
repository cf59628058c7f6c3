"""Tranches and avenants on the follow-up page: the secretariat plans, releases and suspends tranches and
records avenants (303), bad input answers 422 with the French message at the field and the input kept, the
porteur and the instructeur read them but may not post (403); a signed avenant is listed in the contract's §8
(dossier page and PDF)."""

import html as html_lib
import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.formatting import paris_today
from app.models.dossiers import Jalon
from app.models.followup import AvenantState, TrancheState
from app.services import avenants, tranches
from tests.factories import make_followed_dossier, make_instructor

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")


def text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def post(client, csrf, url, data=None):
    return client.post(url, data={"csrf_token": csrf(client), **(data or {})})


@pytest.fixture
def world(make_user):
    porteur = make_user("porteur")
    jalon = Jalon(
        number=1,
        due_on=paris_today() - timedelta(days=5),
        description="Recette",
        ae_planned=400_000,
        cp_planned=200_000,
    )
    dossier = make_followed_dossier(
        porteur,
        jalons=[jalon],
        amounts={paris_today().year: (600_000, 300_000)},
        starts_on=paris_today() - timedelta(days=60),
        ends_on=paris_today() + timedelta(days=300),
    )
    return {
        "porteur": porteur,
        "secretariat": make_user("secretariat"),
        "instructeur": make_instructor("FTAP-DINUM-OPI"),
        "dossier": dossier,
        "jalon": jalon,
        "url": f"/dossiers/{dossier.id}/suivi",
    }


def test_the_secretariat_plans_and_releases_a_tranche(client, csrf, login_as, world):
    url = world["url"]
    login_as(world["secretariat"])
    html = body(client.get(url))
    assert "Tranches de financement" in html and "Montant accordé : 600 000 €" in text(html)
    response = post(
        client,
        csrf,
        f"{url}/tranches",
        {"planned_amount": "700 000", "planned_year": "2027", "planned_quarter": "1"},
    )
    assert response.status_code == 422
    html = body(response)
    assert (
        "dépasseraient le montant accordé par la décision (600 000 €)" in html and 'value="700 000"' in html
    )
    assert 'id="tranche-planned_amount-messages"' in html
    response = post(
        client,
        csrf,
        f"{url}/tranches",
        {
            "planned_amount": "400 000",
            "planned_year": "2027",
            "planned_quarter": "1",
            "conditions": "Jalon 1",
        },
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("#tranches")
    tranche = tranches.tranches_of(world["dossier"])[0]
    action = f"{url}/tranches/{tranche.id}/deblocage"
    prefix = f"tranche-{tranche.id}-deblocage-"
    response = post(client, csrf, action, {prefix + "amount": "cent", prefix + "released_on": "hier"})
    assert response.status_code == 422
    html = body(response)
    assert "Date du déblocage : date attendue au format AAAA-MM-JJ." in html and 'value="cent"' in html
    response = post(
        client, csrf, action, {prefix + "amount": "", prefix + "released_on": paris_today().isoformat()}
    )
    assert response.status_code == 303
    assert tranche.state_enum == TrancheState.DEBLOQUEE and tranche.amount == 400_000
    html = body(client.get(url))
    assert "400 000 € débloqués le" in html and "reste à répartir : 200 000 €" in text(html)
    # suspend a second one: the reason is required
    tranches.plan(
        world["dossier"],
        planned_amount=100_000,
        planned_year=2027,
        planned_quarter=2,
        actor=world["secretariat"],
    )
    db.session.commit()
    second = tranches.tranches_of(world["dossier"])[1]
    response = post(
        client, csrf, f"{url}/tranches/{second.id}/suspension", {f"tranche-{second.id}-suspension-reason": ""}
    )
    assert response.status_code == 422 and "Indiquez la raison de la suspension." in body(response)
    response = post(
        client,
        csrf,
        f"{url}/tranches/{second.id}/suspension",
        {f"tranche-{second.id}-suspension-reason": "Retard"},
    )
    assert response.status_code == 303 and second.state_enum == TrancheState.SUSPENDUE


def test_porteur_and_instructeur_read_tranches_and_avenants_but_may_not_decide(client, csrf, login_as, world):
    url = world["url"]
    tranches.plan(
        world["dossier"],
        planned_amount=100_000,
        planned_year=2027,
        planned_quarter=2,
        actor=world["secretariat"],
    )
    db.session.commit()
    tranche = tranches.tranches_of(world["dossier"])[0]
    for role in ("porteur", "instructeur"):
        login_as(world[role])
        html = body(client.get(url))
        assert "T2 2027" in html and "Prévoir la tranche" not in html and "Enregistrer l'avenant" not in html
        assert post(client, csrf, f"{url}/tranches", {"planned_amount": "1"}).status_code == 403
        assert post(client, csrf, f"{url}/tranches/{tranche.id}/deblocage").status_code == 403
        assert post(client, csrf, f"{url}/avenants", {"object": "x"}).status_code == 403
    assert client.post(f"{url}/tranches", data={"planned_amount": "1"}).status_code in (400, 403)


def test_jalons_show_planned_against_consumed_credits(client, login_as, world):
    login_as(world["porteur"])
    html = body(client.get(world["url"]))
    assert "AE 400 000 € / CP 200 000 €" in html and "En retard sur la consommation prévue" in html
    assert "jalon de consommation budgétaire (000_fdd5893ed6c59cba.txt §5.2)" in html


def test_an_avenant_signed_changes_the_contract_and_is_listed_in_its_section_8(client, csrf, login_as, world):
    url, dossier = world["url"], world["dossier"]
    login_as(world["secretariat"])
    response = post(client, csrf, f"{url}/avenants", {"object": "", "new_amount": "beaucoup"})
    assert response.status_code == 422
    html = body(response)
    assert "Indiquez l'objet de l'avenant" in html and 'value="beaucoup"' in html
    new_end = paris_today() + timedelta(days=500)
    response = post(
        client,
        csrf,
        f"{url}/avenants",
        {
            "object": "Prolongation du projet",
            "new_amount": "750 000",
            "new_ends_on": new_end.isoformat(),
            "jalon": "",
        },
    )
    assert response.status_code == 303
    avenant = avenants.avenants_of(dossier)[0]
    prefix = f"avenant-{avenant.id}-signature-"
    response = post(
        client,
        csrf,
        f"{url}/avenants/{avenant.id}/signature",
        {prefix + "signed_on": paris_today().isoformat()},
    )
    assert response.status_code == 422 and "Joignez l'avenant signé (PDF)." in body(response)
    response = client.post(
        f"{url}/avenants/{avenant.id}/signature",
        data={
            "csrf_token": csrf(client),
            prefix + "signed_on": paris_today().isoformat(),
            prefix + "signed_file": (io.BytesIO(PDF), "avenant-1.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert avenant.state_enum == AvenantState.SIGNE and dossier.ends_on == new_end
    html = body(client.get(url))
    assert "Montant accordé : 750 000 € (avenant n° 1 signé le" in text(html) and "avenant-1.pdf" in html
    assert "Montant total accordé porté à 750 000 € par l'avenant n° 1" in html
    login_as(world["porteur"])
    page = body(client.get(f"/dossiers/{dossier.id}"))
    assert "Avenant n° 1 signé le" in page and "montant total accordé porté à 750 000 €" in page
    pdf = client.get(f"/dossiers/{dossier.id}/pdf")
    content = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Avenant n° 1 signé le" in content and "Prolongation du projet" in content


def test_a_closed_follow_up_refuses_tranche_moves_in_french(client, csrf, login_as, world):
    from app.services import contracts

    secretariat, dossier = world["secretariat"], world["dossier"]
    tranches.plan(dossier, planned_amount=100_000, planned_year=2027, planned_quarter=2, actor=secretariat)
    contracts.close(dossier, assessment="Bilan.", reason="Clos par anticipation", actor=secretariat)
    db.session.commit()
    tranche = tranches.tranches_of(dossier)[0]
    login_as(secretariat)
    prefix = f"tranche-{tranche.id}-deblocage-"
    response = post(
        client,
        csrf,
        f"{world['url']}/tranches/{tranche.id}/deblocage",
        {prefix + "released_on": "2026-01-05"},
    )
    assert response.status_code == 422
    assert "les tranches se décident une fois la convention signée, jusqu'à la clôture du suivi" in body(
        response
    )
