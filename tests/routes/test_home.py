"""The signed-in home page: what awaits each role, next sessions, latest notifications."""

from datetime import timedelta

from app.extensions import db
from app.formatting import paris_today
from app.models import Jalon, Notification
from app.models.base import utcnow
from tests.factories import (
    make_campaign,
    make_committee_meeting,
    make_dossier,
    make_instructed_dossier,
    make_instructor,
)


def _home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_anonymous_keeps_the_public_home(client):
    page = _home(client)
    assert "Se connecter avec ProConnect" in page and "Ce qui m'attend" not in page


def test_dsi_member_sees_the_vote_to_cast_with_its_closing_date(client, make_user, login_as):
    campaign = make_campaign(title="Campagne d'hiver")
    login_as(make_user("dsi", ministry="MI"))
    page = _home(client)
    assert "Votes à exprimer" in page and "Voter : Campagne d&#39;hiver" in page
    assert f'href="/campagnes/{campaign.id}"' in page and "clôture le" in page


def test_porteur_sees_their_dossiers_and_what_is_asked(client, make_user, login_as):
    porteur = make_user("porteur")
    make_dossier(porteur, title="Mon brouillon")
    make_dossier(porteur, title="À compléter", state="complements_demandes", submitted_at=utcnow())
    make_dossier(make_user("porteur"), title="Dossier d'un autre")
    login_as(porteur)
    page = _home(client)
    assert "Mes dossiers" in page
    assert "Mon brouillon</a> — Brouillon — À compléter puis déposer" in page
    assert "Compléments demandés : répondre" in page and "Dossier d&#39;un autre" not in page


def test_porteur_sees_jalon_reports_due(client, make_user, login_as):
    porteur = make_user("porteur")
    dossier = make_instructed_dossier(porteur, title="Suivi", state="en_suivi", decision_outcome="accepte")
    db.session.add(
        Jalon(dossier_id=dossier.id, number=1, due_on=paris_today() + timedelta(days=5), description="x")
    )
    db.session.add(
        Jalon(dossier_id=dossier.id, number=2, due_on=paris_today() + timedelta(days=300), description="y")
    )
    db.session.commit()
    login_as(porteur)
    page = _home(client)
    assert "Rapports de suivi attendus" in page and "Déclarer le jalon 1 : Suivi" in page
    assert "Déclarer le jalon 2" not in page


def test_instructor_sees_dossiers_to_instruct_with_their_age(client, make_user, login_as):
    make_dossier(
        make_user("porteur"),
        "SNAP4",
        title="Déposé il y a 3 jours",
        state="depose",
        submitted_at=utcnow() - timedelta(days=3),
    )
    login_as(make_instructor("SNAP4"))
    page = _home(client)
    assert "Dossiers à instruire" in page and "Instruire : Déposé il y a 3 jours" in page
    assert "Déposé, déposé il y a 3 jours" in page


def test_secretariat_sees_agendas_to_publish_and_next_sessions(client, make_user, login_as):
    meeting = make_committee_meeting("CSIC-TECH", starts_at=utcnow() + timedelta(days=10))
    user = login_as(make_user("secretariat"))
    db.session.add(
        Notification(user_id=user.id, kind="test", subject="Ordre du jour à publier", url="/comites")
    )
    db.session.commit()
    page = _home(client)
    assert "Secrétariat des comités" in page and "Publier l&#39;ordre du jour : CSIC-TECH" in page
    assert f"/comites/seances/{meeting.id}" in page
    assert 'id="home-sessions"' in page
    assert "Ordre du jour à publier</a>" in page and "Non lue" in page


def test_nothing_waiting_says_so(client, make_user, login_as):
    login_as(make_user("porteur"))
    page = _home(client)
    assert "Rien ne vous attend pour l'instant" in page and "Aucune notification." in page
