"""The « plan du site » (RGAA 12.1: a second navigation system beside the menu), linked from every footer:
each of its links opens for the user it is shown to, and it lists no page the user may not open."""

import re

import pytest

from app.models import Role

LINK = re.compile(r'<a href="(/[^"#]*)"')


def links(html: str) -> list[str]:
    return LINK.findall(html.split('id="plan-du-site"', 1)[1].split("</main>", 1)[0])


@pytest.mark.parametrize("role", [Role.SECRETARIAT, Role.DSI, Role.PORTEUR, Role.INSTRUCTEUR, Role.COMITE])
def test_every_link_of_the_plan_opens_for_the_user_it_is_shown_to(client, login_as, make_user, role):
    login_as(make_user(role))
    page = client.get("/plan-du-site")
    assert page.status_code == 200
    found = links(page.get_data(as_text=True))
    assert "/" in found and "/accessibilite" in found and len(found) >= 10
    for path in found:
        assert client.get(path).status_code == 200, path
    assert ("/admin/utilisateurs" in found) == (role == Role.SECRETARIAT)
    assert ("/dossiers/instruction" in found) == (role in (Role.SECRETARIAT, Role.INSTRUCTEUR))


def test_the_plan_is_public_and_linked_from_every_footer(client):
    page = client.get("/plan-du-site")
    assert page.status_code == 200
    found = links(page.get_data(as_text=True))
    assert "/connexion" in found and "/admin/utilisateurs" not in found
    assert 'href="/plan-du-site">Plan du site</a>' in client.get("/mentions-legales").get_data(as_text=True)
