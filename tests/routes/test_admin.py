"""Administration pages: search, grant/revoke roles, deactivate/reactivate, audit trail."""

import html

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, User
from app.services import users as users_service


@pytest.fixture
def admin(client, login_as, make_user):
    return login_as(
        make_user("secretariat", email="admin@test.gouv.fr", given_name="Anne", usual_name="Admin")
    )


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_search_users(client, admin, make_user):
    make_user(email="zoe.lambert@culture.gouv.fr", given_name="Zoé", usual_name="Lambert")
    make_user(email="autre@test.gouv.fr")
    page = text(client.get("/admin/utilisateurs?q=lambert"))
    assert "zoe.lambert@culture.gouv.fr" in page and "autre@test.gouv.fr" not in page
    assert 'value="lambert"' in page
    assert "Aucun utilisateur" in text(client.get("/admin/utilisateurs?q=personne-de-ce-nom"))
    assert "autre@test.gouv.fr" in text(client.get("/admin/utilisateurs"))


def test_user_page_shows_identity_roles_and_actions(client, admin, make_user):
    user = make_user("dsi", email="dsi.mi@interieur.gouv.fr", ministry="MI", siret="13000000000000")
    page = text(client.get(f"/admin/utilisateurs/{user.id}"))
    assert "dsi.mi@interieur.gouv.fr" in page and "SIRET 13000000000000" in page
    assert 'Membre DSI — <a href="/ministeres/MI">MI</a>' in page and "Désactiver le compte" in page
    assert "Attribuer un rôle" in page
    assert client.get("/admin/utilisateurs/999999").status_code == 404


def test_grant_role(client, admin, csrf, make_user):
    user = make_user("porteur", email="futur.instructeur@test.gouv.fr")
    response = client.post(
        f"/admin/utilisateurs/{user.id}/roles",
        data={"csrf_token": csrf(client), "role": "instructeur", "guichet": "SNAP4"},
    )
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/utilisateurs/{user.id}"
    page = text(client.get(response.headers["Location"]))
    assert "Rôle « Instructeur — SNAP4 » attribué" in page
    db.session.refresh(user)
    assert user.role_names == {"porteur", "instructeur"}
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "role.granted").order_by(AuditEntry.id.desc())
    ).first()
    assert entry.actor_id == admin.id and entry.object_id == str(user.id)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"role": "dsi"}, "Indiquez le ministère de ce membre DSI."),
        ({"role": "comite", "committee": "CSIC-TECH"}, "Choisissez la fonction au sein du comité."),
        (
            {"role": "porteur", "guichet": "SNAP4"},
            "Ce champ ne s'applique pas au rôle « Porteur de projet ».",
        ),
        ({"role": ""}, "Ce champ est obligatoire."),
        ({"role": "dsi", "ministry": "INCONNU"}, "Ministère inconnu : « INCONNU »."),
        ({"role": "roi"}, "Rôle inconnu : « roi »."),
    ],
)
def test_grant_role_bad_input_is_422_with_the_form_kept(client, admin, csrf, make_user, data, message):
    user = make_user("porteur")
    response = client.post(f"/admin/utilisateurs/{user.id}/roles", data={"csrf_token": csrf(client), **data})
    page = text(response)
    assert response.status_code == 422
    assert "Le formulaire contient des erreurs" in page and message in page
    if data["role"] in ("dsi", "comite", "porteur"):
        assert f'<option selected value="{data["role"]}">' in page
    db.session.refresh(user)
    assert user.role_names == {"porteur"}


def test_grant_a_role_already_held_is_422(client, admin, csrf, make_user):
    user = make_user("dsi", ministry="MI")
    response = client.post(
        f"/admin/utilisateurs/{user.id}/roles",
        data={"csrf_token": csrf(client), "role": "dsi", "ministry": "MI"},
    )
    assert response.status_code == 422 and "a déjà le rôle « Membre DSI — MI »" in text(response)


def test_revoke_role(client, admin, csrf, make_user):
    user = make_user("dsi", "porteur", ministry="MI")
    dsi = next(r for r in user.roles if r.role == "dsi")
    other = make_user("porteur")
    assert (
        client.post(
            f"/admin/utilisateurs/{other.id}/roles/{dsi.id}/retirer", data={"csrf_token": csrf(client)}
        ).status_code
        == 404
    )
    response = client.post(
        f"/admin/utilisateurs/{user.id}/roles/{dsi.id}/retirer", data={"csrf_token": csrf(client)}
    )
    assert response.status_code == 303
    assert "Rôle « Membre DSI — MI » retiré" in text(client.get(response.headers["Location"]))
    db.session.refresh(user)
    assert user.role_names == {"porteur"}


def test_the_last_secretariat_role_cannot_be_revoked(client, admin, csrf, make_user):
    for user in db.session.scalars(select(User).where(User.id != admin.id)):
        user.active = False
    db.session.commit()
    response = client.post(
        f"/admin/utilisateurs/{admin.id}/roles/{admin.roles[0].id}/retirer", data={"csrf_token": csrf(client)}
    )
    assert response.status_code == 403
    assert "Impossible de retirer le dernier compte du secrétariat" in text(response)
    db.session.refresh(admin)
    assert admin.has_role("secretariat")


def test_deactivate_then_reactivate(app, client, admin, csrf, make_user):
    user = make_user("porteur", email="bientot.parti@test.gouv.fr")
    their_client = app.test_client()
    with their_client.session_transaction() as session_data:
        session_data["_user_id"] = str(user.id)
    assert their_client.get("/opportunites/nouvelle").status_code == 403  # logged in (porteur may not create)

    response = client.post(f"/admin/utilisateurs/{user.id}/desactiver", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert "est désactivé" in page and "Réactiver le compte" in page
    assert their_client.get("/opportunites/nouvelle").status_code == 302  # their session no longer counts

    response = client.post(f"/admin/utilisateurs/{user.id}/reactiver", data={"csrf_token": csrf(client)})
    assert response.status_code == 303
    db.session.refresh(user)
    assert user.active
    actions = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_id == str(user.id), AuditEntry.object_type == "users"
        )
    ).all()
    assert actions[-2:] == ["user.deactivated", "user.reactivated"]


def test_cannot_deactivate_oneself(client, admin, csrf):
    response = client.post(f"/admin/utilisateurs/{admin.id}/desactiver", data={"csrf_token": csrf(client)})
    assert response.status_code == 403 and "votre propre compte" in text(response)


def test_admin_posts_need_the_csrf_token(client, admin, make_user):
    user = make_user("porteur")
    assert client.post(f"/admin/utilisateurs/{user.id}/desactiver").status_code == 400
    db.session.refresh(user)
    assert user.active


def test_audit_page_lists_and_filters(client, admin, make_user):
    user = make_user("porteur", email="journal@test.gouv.fr")
    users_service.record_failed_login("acr_insufficient", email="journal@test.gouv.fr")
    users_service.deactivate(user, actor=admin)
    db.session.commit()
    page = text(client.get("/admin/journal"))
    assert "Connexion refusée (acr_insufficient) : journal@test.gouv.fr" in page
    assert "journal@test.gouv.fr désactivé" in page
    filtered = text(client.get("/admin/journal?action=login.failed"))
    assert "Connexion refusée (acr_insufficient)" in filtered
    assert "journal@test.gouv.fr désactivé" not in filtered
    assert '<option selected value="login.failed">' in filtered
    unknown = text(client.get("/admin/journal?action=inconnue"))
    assert "0 entrée pour « inconnue »" in unknown


def test_audit_page_paginates(client, admin):
    for n in range(55):
        users_service.record_failed_login("state_unknown", detail=f"essai {n}")
    db.session.commit()
    first = text(client.get("/admin/journal?action=login.failed"))
    assert "1 / 2" in first and "Suivante" in first
    second = text(client.get("/admin/journal?action=login.failed&page=2"))
    assert "2 / 2" in second and "Précédente" in second


def test_audit_page_counts_up_to_its_cap_and_pages_on_beyond_it(client, admin, monkeypatch):
    from app.queries import audit as audit_queries

    monkeypatch.setattr(audit_queries, "COUNT_CAP", 60)  # a cap the test can pass with few entries
    for n in range(105):
        users_service.record_failed_login("state_unknown", detail=f"essai {n}")
    db.session.commit()
    first = text(client.get("/admin/journal?action=login.failed"))
    assert "Plus de 60 entrées pour « " in first
    assert "1 / " not in first and "fr-pagination__link--next" in first
    third = text(client.get("/admin/journal?action=login.failed&page=3"))
    assert "fr-pagination__link--prev" in third and "fr-pagination__link--next" not in third
    assert third.count("Connexion refusée (state_unknown)") == 5  # 105 entries, 50 a page


def test_the_audit_filter_offers_every_action_present_once(client, admin):
    from app.models import AuditEntry
    from app.queries.audit import distinct_actions as _distinct_actions

    for n, action in enumerate(["zz.custom", "aa.custom", "zz.custom", "mm.custom"]):
        db.session.add(
            AuditEntry(actor_id=admin.id, action=action, object_type="t", object_id=str(n), summary="x")
        )
    db.session.commit()
    present = sorted(set(db.session.scalars(db.select(AuditEntry.action))))
    assert list(db.session.scalars(_distinct_actions())) == present
    page = text(client.get("/admin/journal"))
    assert page.count('value="zz.custom"') == 1 and 'value="aa.custom"' in page
