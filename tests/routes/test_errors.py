"""Error pages while the database is away: a signed-in user asking for a page gets the French 503 page (its
handler touches no table, its template is rendered without the user), never the server's bare English
« Internal Server Error »; the API answers JSON. The reverse proxy's static page ships with the app."""

import re

import pytest

from app import create_app
from config import TestConfig

UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-folder/absent/app.sqlite3",  # « unable to open database file »
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:1/absente",  # connection refused
}


@pytest.fixture(params=sorted(UNREACHABLE))
def without_database(request):
    app = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=UNREACHABLE[request.param], PROPAGATE_EXCEPTIONS=False
    )
    client = app.test_client()
    with client.session_transaction() as session_data:  # a signed-in user: the page would load them
        session_data["_user_id"] = "1"
        session_data["_fresh"] = True
    return client


def test_a_page_during_a_database_outage_is_the_french_503_page(without_database):
    response = without_database.get("/opportunites")
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:2000]
    assert "Service momentanément indisponible" in page and "réessayez dans quelques minutes" in page
    assert "Internal Server Error" not in page
    assert response.headers["Retry-After"] == "60"
    assert '<html lang="fr"' in page


def test_the_api_during_a_database_outage_answers_json_503(without_database):
    response = without_database.get("/api/v1/opportunities")
    assert response.status_code == 503
    assert response.json["status"] == 503 and response.json["error"] == "Service momentanément indisponible"


def test_the_static_page_for_the_reverse_proxy_is_french_and_its_styles_exist(client):
    response = client.get("/static/indisponible.html")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fr"' in page and "Service momentanément indisponible" in page
    for href in re.findall(r'href="(/static/[^"]+)"', page):
        assert client.get(href).status_code == 200, href
