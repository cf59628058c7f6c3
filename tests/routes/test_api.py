"""Open-data JSON API: access, pagination, filters, bad input, ETag, CORS, no personal data, query counts."""

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Backing, Opportunity, Organisation


@pytest.fixture
def public_api(app):
    app.config["PUBLIC_API"] = True
    yield
    app.config["PUBLIC_API"] = False


def test_anonymous_json_clients_get_401_when_the_api_is_not_public(client):
    response = client.get("/api/v1/opportunities", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.is_json and response.get_json()["status"] == 401
    assert "Connexion requise" in response.get_json()["error"]


def test_anonymous_browsers_are_sent_to_login_like_for_any_page(client):
    response = client.get("/api/v1/stats", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=/api/v1/stats")


def test_signed_in_users_read_the_api_when_it_is_not_public(client, make_user, login_as):
    login_as(make_user("porteur"))
    response = client.get("/api/v1/opportunities")
    assert response.status_code == 200
    assert response.get_json()["meta"]["total"] == 132


def test_public_api_is_readable_anonymously_and_the_docs_always_are(client, public_api):
    assert client.get("/api/v1/opportunities").status_code == 200
    assert client.get("/api/v1/stats").status_code == 200


def test_documentation_and_openapi_are_public(client):
    page = client.get("/api/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "API open data" in html and "/api/v1/openapi.json" in html and "per_page" in html
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert {"/opportunities", "/opportunities/{code}", "/actions", "/guichets", "/stats"} <= set(
        document["paths"]
    )


def test_opportunities_are_paginated_with_links(client, public_api):
    body = client.get("/api/v1/opportunities?per_page=50&page=2").get_json()
    assert [o["code"] for o in body["data"]][:2] == ["M051", "M052"]
    assert body["meta"] == {"page": 2, "per_page": 50, "total": 132, "pages": 3, "notices": []}
    assert body["links"]["next"].endswith("/api/v1/opportunities?page=3&per_page=50")
    assert body["links"]["prev"].endswith("page=1&per_page=50")
    last = client.get(body["links"]["last"]).get_json()
    assert [o["code"] for o in last["data"]][-1] == "M132" and last["links"]["next"] is None


def test_per_page_above_the_limit_is_clamped_and_said(client, public_api):
    response = client.get("/api/v1/opportunities?per_page=1000")
    body = response.get_json()
    assert response.status_code == 200
    assert body["meta"]["per_page"] == 200 and len(body["data"]) == 132
    assert body["meta"]["notices"] == ["per_page ramené de 1000 à 200 (maximum)."]
    assert response.headers["X-Total-Count"] == "132"


def test_filters_match_the_portfolio_page(client, public_api, make_user, login_as):
    api = client.get("/api/v1/opportunities?moscow=must&per_page=200").get_json()
    login_as(make_user("dsi", ministry="MI"))
    page = client.get("/opportunites?moscow=must").get_data(as_text=True)
    assert f"<strong>{api['meta']['total']}</strong>" in page
    assert "M002" in [o["code"] for o in api["data"]]
    chantier = client.get("/api/v1/opportunities?chantier=2.2 France-Cloud").get_json()
    assert [o["code"] for o in chantier["data"]] == ["M001"]
    search = client.get("/api/v1/opportunities?q=batiments").get_json()
    assert "M043" in [o["code"] for o in search["data"]]


def test_status_filter_repeats_and_sort_applies(client, public_api, make_opportunity):
    make_opportunity(brique="Écartée", state="ecartee", state_reason="Hors périmètre")
    body = client.get("/api/v1/opportunities?statut=ecartee&statut=lancee").get_json()
    assert [(o["code"], o["status"], o["status_reason"]) for o in body["data"]] == [
        ("M133", "ecartee", "Hors périmètre")
    ]
    ordered = client.get("/api/v1/opportunities?tri=-code&per_page=1").get_json()
    assert ordered["data"][0]["code"] == "M133"


def test_unknown_parameter_is_a_400_listing_the_valid_ones(client, public_api):
    response = client.get("/api/v1/opportunities?status=lancee")
    assert response.status_code == 400
    body = response.get_json()
    assert body["unknown_parameters"] == ["status"]
    assert {"q", "statut", "chantier", "moscow", "priorite", "ministere", "tri", "page", "per_page"} == set(
        body["valid_parameters"]
    )
    assert client.get("/api/v1/actions?foo=1").get_json()["valid_parameters"] == [
        "chantier",
        "moscow",
        "page",
        "per_page",
    ]


def test_unknown_filter_value_is_a_400_listing_the_valid_values(client, public_api):
    body = client.get("/api/v1/opportunities?statut=inconnu").get_json()
    assert body["status"] == 400 and "lancee" in body["valid_values"]["statut"]
    body = client.get("/api/v1/actions?moscow=peut-etre").get_json()
    assert body["invalid"] == {"moscow": "Valeur inconnue : « peut-etre »."}
    assert body["valid_values"] == {"moscow": ["must", "should", "could", "wont"]}
    assert client.get("/api/v1/opportunities?tri=hasard").status_code == 400


def test_a_chantier_ministry_or_guichet_that_does_not_exist_matches_nothing_and_says_so(client, public_api):
    body = client.get("/api/v1/opportunities?ministere=NOPE").get_json()
    assert body["data"] == [] and body["meta"]["total"] == 0
    assert body["meta"]["notices"] == ["Ministère inconnu : « NOPE ». Aucun résultat."]
    body = client.get("/api/v1/actions?chantier=9.9 Rien").get_json()
    assert body["data"] == [] and "Chantier inconnu" in body["meta"]["notices"][0]
    body = client.get("/api/v1/guichets?parent=NOPE").get_json()
    assert body["data"] == [] and "Guichet parent inconnu" in body["meta"]["notices"][0]


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=abc",
        "page=-1",
        "per_page=0",
        "per_page=1.5",
        "page=100001",
        "page=99999999999999999999999",
        "q=%00",
        "per_page=%EF%BC%91",
    ],
)
def test_bad_pagination_or_values_are_400_never_500(client, public_api, query):
    response = client.get(f"/api/v1/opportunities?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.is_json


def test_page_beyond_the_last_is_empty_with_links(client, public_api):
    body = client.get("/api/v1/opportunities?page=50").get_json()
    assert body["data"] == [] and body["meta"]["pages"] == 3 and body["links"]["next"] is None


def test_unknown_codes_are_404_json(client, public_api):
    for url in (
        "/api/v1/opportunities/M999",
        "/api/v1/actions/9.9.9",
        "/api/v1/guichets/NOPE",
        "/api/v1/opportunities/" + "x" * 300,
        "/api/v1/nothing-here",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.is_json, url


def test_opportunity_detail_carries_links_backings_and_merge_target(
    client, public_api, make_opportunity, make_user
):
    kept = db.session.scalar(select(Opportunity).where(Opportunity.code == "M002"))
    merged = make_opportunity(brique="Doublon", state="fusionnee", target_id=kept.id)
    organisation = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    db.session.add(Backing(opportunity_id=kept.id, organisation_id=organisation.id, role="pilote"))
    db.session.commit()
    body = client.get("/api/v1/opportunities/M002").get_json()
    assert body["backings"] == [{"ministry": "MI", "name": organisation.name, "role": "pilote"}]
    assert "2.1.1" in body["actions"]
    assert client.get(f"/api/v1/opportunities/{merged.code}").get_json()["merged_into"] == "M002"


def test_actions_and_guichets(client, public_api):
    action = client.get("/api/v1/actions/2.1.1").get_json()
    assert {"M002", "M003", "M004", "M005", "M022", "M051"} <= set(action["opportunities"])
    musts = client.get("/api/v1/actions?moscow=must&per_page=200").get_json()
    assert musts["data"] and all(a["moscow"] == "must" for a in musts["data"])
    ftap = client.get("/api/v1/guichets/FTAP").get_json()
    assert ftap["parent"] is None and "FTAP-LEAN" in ftap["children"]
    children = client.get("/api/v1/guichets?parent=FTAP").get_json()
    assert {g["code"] for g in children["data"]} == set(ftap["children"])


def test_no_personal_data_is_ever_sent(client, public_api, make_opportunity, make_user):
    author = make_user(
        "dsi", ministry="MI", email="jeanne.secret@example.gouv.fr", given_name="Jeanne", usual_name="Secrète"
    )
    make_opportunity(brique="Créée par un agent", created_by_id=author.id)
    for url in (
        "/api/v1/opportunities?per_page=200",
        "/api/v1/opportunities/M133",
        "/api/v1/stats",
        "/api/v1/actions?per_page=200",
        "/api/v1/guichets?per_page=200",
    ):
        text = json.dumps(client.get(url).get_json(), ensure_ascii=False)
        assert "jeanne" not in text.lower() and "Secrète" not in text, url
        assert "created_by" not in text and "email" not in text, url


def test_etag_and_if_none_match(client, public_api, make_opportunity):
    first = client.get("/api/v1/opportunities?per_page=5")
    etag = first.headers["ETag"]
    again = client.get("/api/v1/opportunities?per_page=5", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    make_opportunity(brique="Nouvelle")  # total changes → the page's content changes
    changed = client.get("/api/v1/opportunities?per_page=5", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_cors_headers_for_get_and_preflight(client, public_api):
    response = client.get("/api/v1/guichets", headers={"Origin": "https://exemple.fr"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/api/v1/guichets", headers={"Origin": "https://exemple.fr", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_writes_are_refused_with_405_and_allow(client, public_api, csrf):
    response = client.post("/api/v1/opportunities", data={"csrf_token": csrf(client)})
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_stats_match_the_dashboard_figures(client, public_api, make_opportunity):
    make_opportunity(brique="Lancée", state="lancee")
    stats = client.get("/api/v1/stats").get_json()
    pipeline = {s["status"]: s for s in stats["pipeline"]}
    assert pipeline["identifiee"]["reached"] == 133 and pipeline["lancee"]["at_stage"] == 1
    assert pipeline["lancee"]["reached"] == 1
    assert sum(row["actions"] for row in stats["priorities"]) == 51


def test_queries_per_page_do_not_grow_with_the_number_of_opportunities(
    client, public_api, queries, make_opportunity
):
    with queries() as small:
        assert client.get("/api/v1/opportunities?per_page=10").status_code == 200
    with queries() as large:
        assert client.get("/api/v1/opportunities?per_page=200").status_code == 200
    assert len(small) == len(large) <= 4
    for _ in range(5):
        make_opportunity()
    with queries() as grown:
        client.get("/api/v1/opportunities?per_page=200&ministere=MI")
    assert len(grown) <= len(large) + 1  # + the list of ministries used to check the filter value


# --- campaigns and committees: published data only ----------------------------------------------------------


@pytest.fixture
def published_data(make_user, make_opportunity):
    """A published campaign with results, a draft one; a session with published minutes and one decision, a
    planned (unpublished) session with a draft decision."""
    from datetime import UTC, datetime, timedelta

    from app.models import CampaignParticipation, CampaignResult, Committee, Meeting
    from app.models.committees import AgendaItem, Decision, DecisionAmount
    from tests.factories import make_campaign

    secretary = make_user("secretariat", email="camille.secret@example.gouv.fr", usual_name="Secretissime")
    opportunity = db.session.scalar(select(Opportunity).where(Opportunity.code == "M043"))
    now = datetime.now(UTC)
    published = make_campaign(
        [opportunity],
        state="publiee",
        title="Campagne 2026",
        created_by_id=secretary.id,
        opens_at=now - timedelta(days=9),
        closes_at=now - timedelta(days=2),
        closed_at=now - timedelta(days=2),
        published_at=now,
    )
    db.session.add(
        CampaignResult(
            campaign_id=published.id,
            opportunity_id=opportunity.id,
            must=3,
            should=1,
            could=0,
            wont=0,
            median="must",
            rank=1,
            override_by_id=secretary.id,
        )
    )
    ministry = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    db.session.add(
        CampaignParticipation(campaign_id=published.id, organisation_id=ministry.id, electors=5, voters=4)
    )
    draft = make_campaign(
        [opportunity],
        state="close",
        title="Campagne close non publiée",
        opens_at=now - timedelta(days=9),
        closes_at=now - timedelta(days=2),
        closed_at=now - timedelta(days=2),
    )
    committee = db.session.scalar(select(Committee).where(Committee.code == "CSIC-TECH"))
    held = Meeting(
        committee=committee,
        starts_at=datetime.now(UTC) - timedelta(days=3),
        state="pv_publie",
        title="Séance de novembre",
        created_by_id=secretary.id,
    )
    planned = Meeting(
        committee=committee,
        starts_at=datetime.now(UTC) + timedelta(days=3),
        state="planifiee",
        title="Séance prévue",
    )
    db.session.add_all([held, planned])
    db.session.flush()
    item = AgendaItem(
        meeting_id=held.id,
        position=1,
        kind="opportunite",
        title="M043 — qualification",
        opportunity_id=opportunity.id,
    )
    draft_item = AgendaItem(meeting_id=planned.id, position=1, kind="libre", title="Point secret")
    db.session.add_all([item, draft_item])
    db.session.flush()
    decision = Decision(
        item_id=item.id,
        meeting_id=held.id,
        committee_id=committee.id,
        outcome="validee",
        mode="vote",
        motivation="Besoin partagé",
        votes_for=5,
        votes_against=1,
        locked=True,
        recorded_by_id=secretary.id,
    )
    hidden = Decision(
        item_id=draft_item.id,
        meeting_id=planned.id,
        committee_id=committee.id,
        outcome="adopte",
        mode="consensus",
        locked=False,
        recorded_by_id=secretary.id,
    )
    db.session.add_all([decision, hidden])
    db.session.flush()
    db.session.add(DecisionAmount(decision_id=decision.id, year=2026, ae=100_000, cp=50_000))
    db.session.commit()
    return {
        "campaign": published,
        "draft": draft,
        "held": held,
        "planned": planned,
        "decision": decision,
        "hidden": hidden,
    }


def test_only_published_campaigns_with_aggregated_results(client, public_api, published_data):
    body = client.get("/api/v1/campaigns").get_json()
    assert [c["title"] for c in body["data"]] == ["Campagne 2026"]
    detail = client.get(f"/api/v1/campaigns/{published_data['campaign'].id}").get_json()
    assert detail["results"] == [
        {
            "opportunity": "M043",
            "rank": 1,
            "must": 3,
            "should": 1,
            "could": 0,
            "wont": 0,
            "median": "must",
            "retained": "must",
        }
    ]
    assert detail["participation"] == [{"ministry": "MI", "electors": 5, "voters": 4}]
    assert client.get(f"/api/v1/campaigns/{published_data['draft'].id}").status_code == 404


def test_only_decisions_of_published_minutes_without_personal_data(client, public_api, published_data):
    body = client.get("/api/v1/decisions").get_json()
    assert [d["id"] for d in body["data"]] == [published_data["decision"].id]
    decision = body["data"][0]
    assert decision["committee"] == "CSIC-TECH" and decision["opportunity"] == "M043"
    assert decision["votes"] == {"for": 5, "against": 1, "abstention": 0}
    assert decision["amounts"] == [{"year": 2026, "ae": 100_000, "cp": 50_000}]
    assert client.get(f"/api/v1/decisions/{published_data['hidden'].id}").status_code == 404
    assert client.get("/api/v1/decisions?outcome=adopte").get_json()["data"] == []
    assert client.get("/api/v1/decisions?outcome=peut-etre").status_code == 400
    text = json.dumps(
        [client.get(u).get_json() for u in ("/api/v1/decisions", "/api/v1/campaigns", "/api/v1/sessions")],
        ensure_ascii=False,
    )
    assert "secret" not in text.lower() and "recorded_by" not in text


def test_only_sessions_with_a_published_agenda(client, public_api, published_data):
    body = client.get("/api/v1/sessions?committee=CSIC-TECH").get_json()
    assert [s["title"] for s in body["data"]] == ["Séance de novembre"]
    assert body["data"][0]["agenda"] == [
        {"position": 1, "kind": "opportunite", "title": "M043 — qualification", "opportunity": "M043"}
    ]
    assert client.get(f"/api/v1/sessions/{published_data['planned'].id}").status_code == 404
    assert client.get("/api/v1/sessions?state=planifiee").status_code == 400
