"""Voting pages: role × route, ballot round trips (htmx row + progress), refusals, visibility, exports,
queries, concurrency."""

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry
from app.models.base import utcnow
from app.models.voting import Campaign, Vote
from app.services import voting as service
from tests.factories import make_campaign

HX = {"HX-Request": "true"}


@pytest.fixture
def secretariat(make_user):
    return make_user("secretariat")


@pytest.fixture
def voter(make_user):
    return make_user("dsi", ministry="MI")


def post_vote(client, csrf, campaign, code, value, htmx=True, **extra):
    data = {
        "csrf_token": csrf(client),
        "value": value,
        "justification": extra.pop("justification", ""),
    } | extra
    return client.post(f"/campagnes/{campaign.id}/votes/{code}", data=data, headers=HX if htmx else {})


def votes_of(campaign):
    return db.session.scalars(select(Vote).where(Vote.campaign_id == campaign.id)).all()


# --- access -------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/campagnes")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


@pytest.mark.parametrize(
    ("role", "list_status", "new_status"),
    [
        ("secretariat", 200, 200),
        ("dsi", 200, 403),
        ("porteur", 200, 403),
        ("comite", 200, 403),
    ],
)
def test_role_by_route_matrix(client, login_as, make_user, role, list_status, new_status):
    login_as(make_user(role, ministry="MI"))
    draft = make_campaign(state="brouillon", title="Brouillon secret", opens_at=utcnow() + timedelta(days=1))
    open_campaign = make_campaign(title="Campagne ouverte")
    assert client.get("/campagnes").status_code == list_status
    assert client.get("/campagnes/nouvelle").status_code == new_status
    assert client.get(f"/campagnes/{open_campaign.id}").status_code == 200
    # drafts are invisible (404) to everyone but the secretariat
    assert client.get(f"/campagnes/{draft.id}").status_code == (200 if role == "secretariat" else 404)
    assert ("Brouillon secret" in client.get("/campagnes").get_data(as_text=True)) == (role == "secretariat")
    # results are hidden while open, for everyone: exports refused, the page says when they will be published
    for path in ("resultats.csv", "resultats.xlsx", "bulletins", "bulletins.csv"):
        assert client.get(f"/campagnes/{open_campaign.id}/{path}").status_code == 403
    page = client.get(f"/campagnes/{open_campaign.id}/resultats").get_data(as_text=True)
    assert 'id="results-pending"' in page and "Consensus" not in page
    assert client.get("/campagnes/999999").status_code == 404


# --- create / edit ------------------------------------------------------------------------------------------


def test_new_campaign_form_preselects_the_default_scope(client, login_as, secretariat, make_opportunity):
    login_as(secretariat)
    screening = make_opportunity(state="en_criblage")
    identified = make_opportunity(state="identifiee")
    html = client.get("/campagnes/nouvelle").get_data(as_text=True)
    assert re.search(
        rf'id="opportunite-{screening.id}" name="opportunities" value="{screening.id}" checked', html
    )
    assert not re.search(rf'id="opportunite-{identified.id}" [^>]*checked', html)


def test_invalid_campaign_is_refused_with_422_and_input_kept(client, csrf, login_as, secretariat):
    login_as(secretariat)
    response = client.post(
        "/campagnes/nouvelle",
        headers=HX,
        data={
            "csrf_token": csrf(client),
            "title": "Ma campagne",
            "opens_at": "2026-13-40T10:00",
            "closes_at": "",
            "visibility": "named",
            "must_budget": "zéro",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith('<div id="form">')  # the form block only
    assert 'value="Ma campagne"' in html and 'value="2026-13-40T10:00"' in html
    assert "Date et heure invalides" in html
    assert "Indiquez la date et l&#39;heure de clôture." in html
    assert "Not a valid" not in html
    assert "Choisissez au moins une opportunité à prioriser." in html
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


def test_secretariat_creates_then_edits_a_draft(client, csrf, login_as, secretariat, make_opportunity):
    login_as(secretariat)
    a, b = make_opportunity(), make_opportunity()
    response = client.post(
        "/campagnes/nouvelle",
        data={
            "csrf_token": csrf(client),
            "title": "Priorisation du T1",
            "description": "Consignes",
            "opens_at": "2030-01-06T09:00",
            "closes_at": "2030-01-20T18:00",
            "visibility": "named",
            "must_budget": "1",
            "opportunities": [a.id, b.id],
        },
    )
    assert response.status_code == 303
    campaign = db.session.scalar(select(Campaign).where(Campaign.title == "Priorisation du T1"))
    assert response.headers["Location"] == f"/campagnes/{campaign.id}"
    assert (
        campaign.opens_at.isoformat() == "2030-01-06T08:00:00+00:00"
    )  # typed in Paris time (UTC+1 in winter)
    assert (campaign.visibility, campaign.must_budget, campaign.state) == ("named", 1, "brouillon")
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert "6 janvier 2030 à 09:00" in page
    response = client.post(
        f"/campagnes/{campaign.id}/modifier",
        data={
            "csrf_token": csrf(client),
            "title": "Priorisation du T1 (v2)",
            "opens_at": "2030-01-06T09:00",
            "closes_at": "2030-01-20T18:00",
            "visibility": "anonymous",
            "opportunities": [a.id],
        },
    )
    assert response.status_code == 303
    db.session.refresh(campaign)
    assert campaign.title.endswith("(v2)") and [o.id for o in campaign.opportunities] == [a.id]


def test_a_stale_edit_is_refused_with_409_and_the_input_kept(client, csrf, login_as, secretariat):
    login_as(secretariat)
    campaign = make_campaign(
        state="brouillon", opens_at=utcnow() + timedelta(days=1), closes_at=utcnow() + timedelta(days=2)
    )
    form = client.get(f"/campagnes/{campaign.id}/modifier").get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', form).group(1)
    campaign.title = "Renommée entre-temps"
    db.session.commit()  # somebody else saved the draft meanwhile
    data = {
        "csrf_token": csrf(client),
        "title": "Mon titre",
        "opens_at": "2030-01-06T09:00",
        "closes_at": "2030-01-20T18:00",
        "visibility": "anonymous",
        "version": version,
        "opportunities": [o.id for o in campaign.opportunities],
    }
    response = client.post(f"/campagnes/{campaign.id}/modifier", data=data, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Modification concurrente" in html
    assert 'value="Mon titre"' in html
    db.session.refresh(campaign)
    assert campaign.title == "Renommée entre-temps"
    # saving again from the refreshed form (new version) goes through
    data["version"] = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    assert client.post(f"/campagnes/{campaign.id}/modifier", data=data).status_code == 303


def test_open_campaign_cannot_be_edited(client, login_as, secretariat):
    login_as(secretariat)
    assert client.get(f"/campagnes/{make_campaign().id}/modifier").status_code == 403


# --- states -------------------------------------------------------------------------------------------------


def test_due_campaigns_open_and_close_on_the_next_request(client, login_as, voter):
    login_as(voter)
    now = utcnow()
    draft = make_campaign(
        state="brouillon", opens_at=now - timedelta(minutes=5), closes_at=now + timedelta(days=1)
    )
    ending = make_campaign(opens_at=now - timedelta(days=1), closes_at=now - timedelta(seconds=1))
    assert client.get("/campagnes").status_code == 200
    db.session.expire_all()
    assert (db.session.get(Campaign, draft.id).state, db.session.get(Campaign, ending.id).state) == (
        "ouverte",
        "close",
    )


def test_secretariat_moves_a_campaign_and_bad_moves_are_422(client, csrf, login_as, secretariat):
    login_as(secretariat)
    campaign = make_campaign()
    response = client.post(
        f"/campagnes/{campaign.id}/etat", data={"csrf_token": csrf(client), "to": "publiee"}
    )
    assert response.status_code == 422
    assert "Passage de « Ouverte » à « Publiée » non autorisé." in response.get_data(as_text=True)
    response = client.post(f"/campagnes/{campaign.id}/etat", data={"csrf_token": csrf(client), "to": "close"})
    assert response.status_code == 303
    db.session.refresh(campaign)
    assert campaign.state == "close"


def test_dsi_members_cannot_move_campaigns(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign()
    assert (
        client.post(
            f"/campagnes/{campaign.id}/etat", data={"csrf_token": csrf(client), "to": "close"}
        ).status_code
        == 403
    )


# --- ballot -------------------------------------------------------------------------------------------------


def test_vote_round_trip_returns_the_row_and_an_out_of_band_progress_under_2_kb(
    client, csrf, login_as, voter
):
    login_as(voter)
    campaign = make_campaign()
    code = campaign.opportunities[0].code
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert (
        f'<tr id="vote-{code}">' in page and "Vous avez voté sur <strong>0</strong> opportunité sur 3" in page
    )
    response = post_vote(
        client, csrf, campaign, code, "should", justification="Besoin partagé", contexte="vote"
    )
    body = response.get_data()
    html = body.decode()
    assert response.status_code == 200 and len(body) < 2048
    assert html.startswith(f'<tr id="vote-{code}">')
    assert re.search(r'value="should" class="fr-btn fr-btn--sm fr-mr-1v" aria-pressed="true"', html)
    assert (
        'hx-swap-oob="innerHTML"' in html
        and "Vous avez voté sur <strong>1</strong> opportunité sur 3 (33 %)" in html
    )
    assert 'value="Besoin partagé"' in html
    assert "<html" not in html and "HX-Request" in response.headers["Vary"]
    assert [(v.value, v.justification) for v in votes_of(campaign)] == [("should", "Besoin partagé")]


def test_the_swapped_row_and_progress_equal_a_fresh_full_render(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign(must_budget=2)
    code = campaign.opportunities[2].code
    reply = post_vote(client, csrf, campaign, code, "must", justification="Vu en CSIC").get_data(as_text=True)
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    row = re.compile(rf'<tr id="vote-{code}">.*?</tr>', re.S)
    progress = re.compile(r'<div id="vote-progress" aria-live="polite"[^>]*>(.*?)</div>', re.S)
    token = re.compile(r'name="csrf_token" value="[^"]+"')
    assert token.sub("", row.search(reply).group()) == token.sub("", row.search(page).group())
    assert progress.search(reply).group(1) == progress.search(page).group(1)
    assert "« Must » attribués : 1 sur 2" in progress.search(page).group(1)


def test_vote_without_javascript_redirects_back_to_the_row(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign()
    code = campaign.opportunities[1].code
    response = post_vote(client, csrf, campaign, code, "must", htmx=False)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/campagnes/{campaign.id}#vote-{code}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'value="must" class="fr-btn fr-btn--sm fr-mr-1v" aria-pressed="true"', page)


def test_double_click_stores_one_vote(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign()
    code = campaign.opportunities[0].code
    assert post_vote(client, csrf, campaign, code, "could").status_code == 200
    assert post_vote(client, csrf, campaign, code, "could").status_code == 200
    assert len(votes_of(campaign)) == 1


def test_change_then_withdraw(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign()
    code = campaign.opportunities[0].code
    post_vote(client, csrf, campaign, code, "could")
    post_vote(client, csrf, campaign, code, "wont")
    assert [v.value for v in votes_of(campaign)] == ["wont"]
    response = client.post(
        f"/campagnes/{campaign.id}/votes/{code}/retirer",
        headers=HX,
        data={"csrf_token": csrf(client), "contexte": "vote"},
    )
    assert response.status_code == 200 and 'aria-pressed="true"' not in response.get_data(as_text=True)
    assert "Vous avez voté sur <strong>0</strong>" in response.get_data(as_text=True)
    assert votes_of(campaign) == []
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("vote.%")).order_by(AuditEntry.id)
    ).all()
    assert actions == ["vote.cast", "vote.changed", "vote.withdrawn"]


def test_budget_exceeded_is_a_422_row_with_a_french_message(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign(must_budget=1)
    first, second = campaign.opportunities[0].code, campaign.opportunities[1].code
    post_vote(client, csrf, campaign, first, "must")
    response = post_vote(client, csrf, campaign, second, "must", justification="Je tiens à ce Must")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.startswith(f'<tr id="vote-{second}">')
    assert "Vous avez déjà attribué vos 1 « Must » autorisés" in html
    assert 'value="Je tiens à ce Must"' in html  # input kept
    assert [v.value for v in votes_of(campaign)] == ["must"]
    # without JavaScript: the campaign page with the message at the row, status 422
    response = post_vote(client, csrf, campaign, second, "must", htmx=False)
    assert response.status_code == 422 and "Vous avez déjà attribué vos 1" in response.get_data(as_text=True)


def test_refusals_store_nothing(client, csrf, login_as, make_user, make_opportunity):
    campaign = make_campaign(ministries=["MI"])
    code = campaign.opportunities[0].code
    login_as(make_user("dsi", ministry="MJ"))  # not in the electorate
    response = post_vote(client, csrf, campaign, code, "must")
    assert response.status_code == 403
    assert "Vous ne faites pas partie du collège" in response.get_data(as_text=True)
    login_as(make_user("porteur"))
    assert post_vote(client, csrf, campaign, code, "must").status_code == 403
    login_as(make_user("dsi", ministry="MI"))
    response = post_vote(client, csrf, campaign, make_opportunity().code, "must")  # out of scope
    assert response.status_code == 422 and "n&#39;est pas soumise au vote" in response.get_data(as_text=True)
    assert post_vote(client, csrf, campaign, "M99999", "must").status_code == 404
    response = post_vote(client, csrf, campaign, code, "peut-etre")
    assert response.status_code == 422 and "Choisissez Must, Should, Could ou Won" in response.get_data(
        as_text=True
    )
    response = post_vote(client, csrf, campaign, code, "must", justification="x" * 281)
    assert response.status_code == 422 and "280 caractères au maximum" in response.get_data(as_text=True)
    response = client.post(f"/campagnes/{campaign.id}/votes/{code}", data={"value": "must"}, headers=HX)
    assert response.status_code in (400, 422)  # no CSRF token
    assert votes_of(campaign) == []


def test_voting_after_the_closing_time_is_refused(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign(closes_at=utcnow() + timedelta(days=1))
    code = campaign.opportunities[0].code
    csrf_token = csrf(client)
    campaign.closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.post(
        f"/campagnes/{campaign.id}/votes/{code}", headers=HX, data={"csrf_token": csrf_token, "value": "must"}
    )
    assert response.status_code == 422 and "pas ouvert" in response.get_data(as_text=True)
    assert votes_of(campaign) == []


def test_while_open_nobody_sees_the_others_votes(client, csrf, login_as, make_user, secretariat):
    first, second = make_user("dsi", ministry="MI"), make_user("dsi", ministry="MJ")
    campaign = make_campaign()
    code = campaign.opportunities[0].code
    login_as(first)
    post_vote(client, csrf, campaign, code, "must", justification="Justification confidentielle")
    login_as(second)
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert "Justification confidentielle" not in page
    assert 'aria-pressed="true"' not in page
    assert "Vous avez voté sur <strong>0</strong>" in page
    # participation per ministry is shown: MI 1 voter
    assert re.search(r'<a href="/ministeres/MI" title="[^"]+">MI</a></td><td>\d+</td><td>1</td>', page)
    login_as(secretariat)
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert "Justification confidentielle" not in page and "Journal des votes" not in page
    assert client.get(f"/campagnes/{campaign.id}/resultats.csv").status_code == 403


# --- results, visibility, exports ---------------------------------------------------------------------------


def _closed(secretariat, make_user, visibility="anonymous", publish=False):
    campaign = make_campaign(visibility=visibility)
    a, b, _ = campaign.opportunities
    voters = [make_user("dsi", ministry=m) for m in ("MI", "MI", "MJ")]
    for voter, (va, vb) in zip(
        voters, [("must", "could"), ("must", "wont"), ("should", "wont")], strict=True
    ):
        service.cast_vote(campaign, a, value=va, justification=f"avis de {voter.usual_name}", actor=voter)
        service.cast_vote(campaign, b, value=vb, actor=voter)
    service.transition(campaign, to="close", actor=secretariat)
    if publish:
        service.transition(campaign, to="publiee", actor=secretariat)
    db.session.commit()
    return campaign, voters


def test_closed_results_are_for_the_secretariat_until_published(client, login_as, secretariat, make_user):
    campaign, voters = _closed(secretariat, make_user)
    login_as(voters[0])
    response = client.get(f"/campagnes/{campaign.id}/resultats")  # not a bare 403: when they will be there
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "seront publiés par le secrétariat" in page
    assert f'id="result-{campaign.opportunities[0].code}"' not in page and "avis de" not in page
    assert client.get(f"/campagnes/{campaign.id}/resultats.csv").status_code == 403
    login_as(secretariat)
    html = client.get(f"/campagnes/{campaign.id}/resultats").get_data(as_text=True)
    a = campaign.opportunities[0].code
    row = re.search(rf'<tr id="result-{a}">(.*?)</tr>', html, re.S).group(1)
    assert "2 (67 %)" in row and "1 (33 %)" in row  # Must 2, Should 1
    assert "Règle de départage" in html and "plus basse" in html
    # anonymous: the vote journal is the secretariat's, and there are no named ballots
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert "Journal des votes" in page
    assert client.get(f"/campagnes/{campaign.id}/bulletins").status_code == 403
    assert "avis de" not in html


def test_published_anonymous_results_show_counts_not_names(client, login_as, secretariat, make_user):
    campaign, voters = _closed(secretariat, make_user, publish=True)
    login_as(voters[2])
    html = client.get(f"/campagnes/{campaign.id}/resultats").get_data(as_text=True)
    assert "Classement" in html
    for voter in voters[:2]:  # the other voters' names appear nowhere
        assert voter.usual_name not in html
    assert "Journal des votes" not in client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/campagnes/{campaign.id}/resultats.csv?format=rfc4180").get_data(as_text=True)
            )
        )
    )
    assert rows[0][:9] == ["rang", "code", "brique", "must", "should", "could", "wont", "votes", "mediane"]
    first = rows[1]
    assert first[1] == campaign.opportunities[0].code and first[3:9] == ["2", "1", "0", "0", "3", "Must"]
    workbook = load_workbook(io.BytesIO(client.get(f"/campagnes/{campaign.id}/resultats.xlsx").data))
    assert workbook.sheetnames == ["Résultats", "Lisez-moi"]  # no ballots sheet for an anonymous campaign
    assert client.get(f"/campagnes/{campaign.id}/bulletins.csv").status_code == 403


def test_named_campaign_publishes_ballots_in_pages_and_exports(client, login_as, secretariat, make_user):
    campaign, voters = _closed(secretariat, make_user, visibility="named", publish=True)
    login_as(voters[0])
    html = client.get(f"/campagnes/{campaign.id}/bulletins?code={campaign.opportunities[0].code}").get_data(
        as_text=True
    )
    assert voters[1].full_name in html and f"avis de {voters[1].usual_name}" in html
    workbook = load_workbook(io.BytesIO(client.get(f"/campagnes/{campaign.id}/resultats.xlsx").data))
    assert workbook.sheetnames == ["Résultats", "Bulletins", "Lisez-moi"]
    assert workbook["Bulletins"].max_row == 1 + 6
    assert "Journal des votes" in client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)


def test_publication_sets_priorities_shown_and_filterable_in_the_portfolio(
    client, csrf, login_as, secretariat, make_user
):
    campaign, voters = _closed(secretariat, make_user)
    login_as(secretariat)
    response = client.post(
        f"/campagnes/{campaign.id}/etat", data={"csrf_token": csrf(client), "to": "publiee"}
    )
    assert response.status_code == 303
    a, b, _ = campaign.opportunities
    listing = client.get("/opportunites?priorite=must").get_data(as_text=True)
    assert f'id="row-{a.code}"' in listing and f'id="row-{b.code}"' not in listing
    assert f'id="row-{b.code}"' in client.get("/opportunites?priorite=wont").get_data(as_text=True)


def test_override_requires_a_reason_and_is_recorded(client, csrf, login_as, secretariat, make_user):
    campaign, _ = _closed(secretariat, make_user, publish=True)
    login_as(secretariat)
    b = campaign.opportunities[1]
    response = client.post(
        f"/campagnes/{campaign.id}/priorites",
        headers=HX,
        data={"csrf_token": csrf(client), "code": b.code, "value": "should", "reason": ""},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.lstrip().startswith('<section id="override"')
    assert "Le motif de la correction est obligatoire." in html
    assert f'<option value="{b.code}" selected>' in html
    response = client.post(
        f"/campagnes/{campaign.id}/priorites",
        data={"csrf_token": csrf(client), "code": b.code, "value": "should", "reason": "Arbitrage CSIC-Tech"},
    )
    assert response.status_code == 303
    db.session.refresh(b)
    assert b.priority == "should"
    show = client.get(f"/opportunites/{b.code}").get_data(as_text=True)
    assert "Arbitrage CSIC-Tech" in show  # in the opportunity's history


def test_results_page_query_count_is_constant_in_the_number_of_voters(
    client, login_as, queries, secretariat, make_user
):
    small, _ = _closed(secretariat, make_user)
    big = make_campaign()
    for n in range(12):
        voter = make_user("dsi", ministry=["MI", "MJ", "MEN", "MC"][n % 4])
        for o in big.opportunities:
            service.cast_vote(big, o, value=["must", "should", "could", "wont"][n % 4], actor=voter)
    service.transition(big, to="close", actor=secretariat)
    db.session.commit()
    small_url, big_url = f"/campagnes/{small.id}/resultats", f"/campagnes/{big.id}/resultats"
    login_as(secretariat)
    client.get(small_url)
    with queries() as few:
        assert client.get(small_url).status_code == 200
    with queries() as many:
        assert client.get(big_url).status_code == 200
    assert len(few) == len(many) <= 10


# --- inline ballot in the portfolio list --------------------------------------------------------------------


def test_portfolio_list_offers_the_inline_ballot_to_electors_only(client, csrf, login_as, make_user, voter):
    campaign = make_campaign(ministries=["MI"])
    code = campaign.opportunities[0].code
    login_as(voter)
    html = client.get(f"/opportunites?q={code}").get_data(as_text=True)
    assert f'<td id="ballot-{code}">' in html and 'id="vote-progress"' in html
    response = post_vote(
        client, csrf, campaign, code, "must", contexte="ballot", next=f"/opportunites?q={code}"
    )
    reply = response.get_data(as_text=True)
    assert response.status_code == 200 and reply.startswith(f'<td id="ballot-{code}">') and len(reply) < 2048
    response = post_vote(
        client, csrf, campaign, code, "should", htmx=False, contexte="ballot", next=f"/opportunites?q={code}"
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/opportunites?q={code}"
    login_as(make_user("dsi", ministry="MJ"))
    assert "ballot-" not in client.get(f"/opportunites?q={code}").get_data(as_text=True)


# --- concurrency (real commits on the live database) --------------------------------------------------------

VOTERS = 100


def test_concurrent_votes_from_100_voters_give_100_rows_and_the_right_counts(live_app):
    """100 DSI members vote at the same instant on the same opportunity (and 10 of them double-click)."""
    import threading

    from sqlalchemy import delete

    from app.models import Opportunity, Organisation, Role, User, UserRole

    values = ["must", "should", "could", "wont"]
    with live_app.app_context():
        organisations = {
            c: db.session.scalar(select(Organisation.id).where(Organisation.code == c)) for c in ("MI", "MJ")
        }
        number = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
        opportunity = Opportunity(
            number=number, code=Opportunity.code_for(number), brique="Concurrence", state="en_criblage"
        )
        users = []
        for n in range(VOTERS):
            user = User(email=f"vote-concurrent-{n}@example.gouv.fr", given_name="Vote", usual_name=f"C{n}")
            user.roles.append(UserRole(role=Role.DSI, organisation_id=organisations["MI" if n % 2 else "MJ"]))
            users.append(user)
        campaign = Campaign(
            title="Concurrence",
            state="ouverte",
            opens_at=utcnow() - timedelta(hours=1),
            closes_at=utcnow() + timedelta(days=1),
            opened_at=utcnow(),
        )
        campaign.opportunities = [opportunity]
        db.session.add_all([opportunity, campaign, *users])
        db.session.commit()
        user_ids, campaign_id, opportunity_id, code = (
            [u.id for u in users],
            campaign.id,
            opportunity.id,
            opportunity.code,
        )

    clients, tokens = [], []
    for user_id in user_ids:
        client = live_app.test_client()
        with client.session_transaction() as session_data:
            session_data["_user_id"] = str(user_id)
        page = client.get(f"/campagnes/{campaign_id}").get_data(as_text=True)
        tokens.append(re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1))
        clients.append(client)
    jobs = [(i, clients[i], tokens[i]) for i in range(VOTERS)] + [
        (i, clients[i], tokens[i]) for i in range(10)
    ]
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []

    def vote(i, client, token):
        barrier.wait()
        response = client.post(
            f"/campagnes/{campaign_id}/votes/{code}",
            headers=HX,
            data={"csrf_token": token, "value": values[i % 4], "contexte": "vote"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=vote, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    try:
        with live_app.app_context():
            rows = db.session.execute(
                select(Vote.value, func.count()).where(Vote.campaign_id == campaign_id).group_by(Vote.value)
            ).all()
            cast = db.session.scalar(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.action == "vote.cast",
                    AuditEntry.object_id == str(campaign_id),
                    AuditEntry.object_type == "campaigns",
                )
            )
        assert statuses == [200] * len(jobs)
        assert dict(rows) == {"must": 25, "should": 25, "could": 25, "wont": 25}
        assert cast == VOTERS  # the double clicks changed nothing
    finally:
        with live_app.app_context():
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id.in_(user_ids)))
            db.session.execute(delete(Vote).where(Vote.campaign_id == campaign_id))
            db.session.execute(delete(Campaign).where(Campaign.id == campaign_id))
            db.session.execute(delete(Opportunity).where(Opportunity.id == opportunity_id))
            db.session.execute(delete(UserRole).where(UserRole.user_id.in_(user_ids)))
            db.session.execute(delete(User).where(User.id.in_(user_ids)))
            db.session.commit()


def test_per_ministry_matrix_page(client, login_as, secretariat, make_user):
    campaign, _ = _closed(secretariat, make_user)
    login_as(secretariat)
    html = client.get(f"/campagnes/{campaign.id}/resultats?vue=ministeres").get_data(as_text=True)
    a = campaign.opportunities[0].code
    # MI: Must, Must → Must; MJ: Should → Should; median of ministries (S, M) → Should (lower middle)
    assert re.search(rf'<th scope="row">{a}</th><td>Must</td><td>Should</td><td>Should</td>', html)


def test_exports_neutralise_formulas_typed_by_users(client, login_as, secretariat, make_user):
    campaign = make_campaign(visibility="named")
    voter = make_user("dsi", ministry="MI")
    service.cast_vote(
        campaign, campaign.opportunities[0], value="must", justification='=HYPERLINK("x")', actor=voter
    )
    service.transition(campaign, to="close", actor=secretariat)
    db.session.commit()
    login_as(secretariat)
    body = client.get(f"/campagnes/{campaign.id}/bulletins.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff")), delimiter=";"))
    assert rows[1][4] == '\'=HYPERLINK("x")'


def test_withdraw_without_javascript(client, csrf, login_as, voter):
    login_as(voter)
    campaign = make_campaign()
    code = campaign.opportunities[0].code
    post_vote(client, csrf, campaign, code, "could", htmx=False)
    url = f"/campagnes/{campaign.id}/votes/{code}/retirer"
    response = client.post(url, data={"csrf_token": csrf(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"#vote-{code}")
    assert votes_of(campaign) == []


def test_an_htmx_vote_announces_its_result(client, csrf, make_user, login_as):
    import json

    from tests.factories import make_campaign

    campaign = make_campaign()
    code = campaign.opportunities[0].code
    login_as(make_user("dsi", ministry="MI"))
    headers = {"HX-Request": "true"}
    response = client.post(
        f"/campagnes/{campaign.id}/votes/{code}",
        data={"value": "must", "csrf_token": csrf(client)},
        headers=headers,
    )
    assert json.loads(response.headers["HX-Trigger"]) == {"announce": f"Vote enregistré : Must pour {code}"}
    response = client.post(
        f"/campagnes/{campaign.id}/votes/{code}/retirer", data={"csrf_token": csrf(client)}, headers=headers
    )
    assert json.loads(response.headers["HX-Trigger"]) == {"announce": f"Vote retiré pour {code}"}


def test_results_of_an_open_campaign_say_when_they_will_be_published(client, make_user, login_as):
    campaign = make_campaign()
    login_as(make_user("dsi", ministry="MI"))
    response = client.get(f"/campagnes/{campaign.id}/resultats")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "résultats seront publiés après la clôture le" in page
    assert "Accès refusé" not in page


def test_a_closed_campaign_is_called_cloturee(client, login_as, secretariat, make_user):
    campaign, _ = _closed(secretariat, make_user)
    login_as(secretariat)
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert "Clôturée" in page and ">Close<" not in page


def test_the_justification_box_has_a_visible_label(client, make_user, login_as):
    campaign = make_campaign()
    code = campaign.opportunities[0].code
    login_as(make_user("dsi", ministry="MI"))
    page = client.get(f"/campagnes/{campaign.id}").get_data(as_text=True)
    assert f'<label class="fr-label fr-text--sm fr-mt-1v fr-mb-0" for="justification-vote-{code}">' in page
    assert f'id="justification-vote-{code}" name="justification"' in page
    assert "Enregistrée avec la classe choisie" in page
