"""Users service: sign-in reconciliation, registration, roles, activation, and the audit rows they write."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, User
from app.services import users as service
from app.services.errors import DomainError, NotAllowed, ValidationFailed

ISSUER = "https://fca.integ01.dev-agentconnect.fr/api/v2"


def entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


def claims(sub="sub-1", email="agent@test.gouv.fr", **extra):
    return {
        "sub": sub,
        "email": email,
        "given_name": "Jeanne",
        "usual_name": "Martin",
        "siret": "13002526500013",
        "uid": "jm",
        "idp_id": "fia1v2",
        "organization_label": "DINUM",
        **extra,
    }


def test_first_sign_in_creates_a_porteur(db_session):
    user = service.sign_in(claims(), issuer=ISSUER)
    db.session.flush()
    assert (user.email, user.sub, user.issuer, user.full_name) == (
        "agent@test.gouv.fr",
        "sub-1",
        ISSUER,
        "Jeanne Martin",
    )
    assert (user.siret, user.uid, user.idp_id, user.organization_label) == (
        "13002526500013",
        "jm",
        "fia1v2",
        "DINUM",
    )
    assert user.role_names == {"porteur"} and user.last_login_at is not None
    [registered] = entries("user.registered")
    [logged_in] = entries("user.logged_in")
    assert registered.actor_id == logged_in.actor_id == user.id
    assert registered.object_type == "users" and registered.object_id == str(user.id)


def test_sign_in_by_sub_updates_identity_with_a_diff(db_session):
    user = service.sign_in(claims(), issuer=ISSUER)
    again = service.sign_in(claims(usual_name="Martin-Durand", organization_label="DITP"), issuer=ISSUER)
    assert again.id == user.id
    assert entries("user.logged_in")[-1].changes == {
        "usual_name": ["Martin", "Martin-Durand"],
        "organization_label": ["DINUM", "DITP"],
    }
    assert db.session.scalar(select(func.count(User.id)).where(User.sub == "sub-1")) == 1


def test_sign_in_falls_back_on_email_case_insensitively_and_records_the_sub(db_session, make_user):
    known = make_user("dsi", email="jeanne.martin@interieur.gouv.fr", ministry="MI")
    user = service.sign_in(claims(sub="new-sub", email="Jeanne.Martin@Interieur.GOUV.fr"), issuer=ISSUER)
    assert user.id == known.id and user.sub == "new-sub" and user.role_names == {"dsi"}
    assert entries("user.logged_in")[-1].changes["sub"] == [None, "new-sub"]
    # the identity provider changed: a new sub for the same e-mail is attached to the same account
    user = service.sign_in(claims(sub="other-fi-sub", email="jeanne.martin@interieur.gouv.fr"), issuer=ISSUER)
    assert user.id == known.id and user.sub == "other-fi-sub"


def test_email_change_at_the_provider_follows_unless_taken(db_session, make_user):
    user = service.sign_in(claims(), issuer=ISSUER)
    service.sign_in(claims(email="nouvelle@test.gouv.fr"), issuer=ISSUER)
    assert user.email == "nouvelle@test.gouv.fr"
    make_user(email="prise@test.gouv.fr")
    service.sign_in(claims(email="prise@test.gouv.fr"), issuer=ISSUER)
    assert user.email == "nouvelle@test.gouv.fr"


def test_deactivated_user_is_refused_and_unchanged(db_session, make_user):
    user = make_user(email="parti@test.gouv.fr", active=False)
    with pytest.raises(service.LoginRefused) as refusal:
        service.sign_in(claims(email="parti@test.gouv.fr"), issuer=ISSUER)
    assert refusal.value.reason == "user_deactivated" and refusal.value.user.id == user.id
    assert entries("user.logged_in") == []


def test_record_failed_login(db_session, make_user):
    user = make_user(email="connu@test.gouv.fr")
    service.record_failed_login("acr_insufficient", email="CONNU@test.gouv.fr", detail="acr='eidas0'")
    service.record_failed_login("state_unknown")
    known, unknown = entries("login.failed")
    assert known.actor_id == user.id and known.object_id == str(user.id)
    assert known.changes == {"reason": [None, "acr_insufficient"], "detail": [None, "acr='eidas0'"]}
    assert unknown.actor_id is None and unknown.object_type == "system"
    assert "identité inconnue" in unknown.summary


def test_register_is_idempotent_and_validates(db_session, make_user):
    actor = make_user("secretariat")
    user, created = service.register(" Nouvel.Agent@Test.gouv.fr ", actor=actor)
    assert created and user.email == "nouvel.agent@test.gouv.fr" and user.roles == []
    again, created = service.register("nouvel.agent@test.gouv.fr", actor=actor)
    assert again.id == user.id and not created
    assert len(entries("user.registered")) == 1 and entries("user.registered")[0].actor_id == actor.id
    for bad in ("", "pas-une-adresse", "a b@test.fr"):
        with pytest.raises(ValidationFailed):
            service.register(bad, actor=actor)


@pytest.mark.parametrize(
    "role, scope, label",
    [
        ("secretariat", {}, "Secrétariat"),
        ("porteur", {}, "Porteur de projet"),
        ("dsi", {"ministry": "mi"}, "Membre DSI — MI"),
        ("instructeur", {"guichet": "SNAP4"}, "Instructeur — SNAP4"),
        (
            "comite",
            {"committee": "CSIC-TECH", "function": "president"},
            "Membre de comité — CSIC-TECH (Président)",
        ),
    ],
)
def test_grant_role_with_scope(db_session, make_user, role, scope, label):
    actor = make_user("secretariat")
    user, _ = service.register("cible@test.gouv.fr", actor=actor)
    granted = service.grant_role(user, role, actor=actor, **scope)
    assert granted.label == label and user.has_role(role)
    entry = entries("role.granted")[-1]
    assert entry.actor_id == actor.id and entry.object_id == str(user.id)
    assert entry.changes == {"role": [None, label]}


@pytest.mark.parametrize(
    "role, scope, field",
    [
        ("dsi", {}, "ministry"),
        ("dsi", {"ministry": "XX"}, "ministry"),
        ("instructeur", {}, "guichet"),
        ("instructeur", {"guichet": "NOPE"}, "guichet"),
        ("comite", {"committee": "CSIC-TECH"}, "function"),
        ("comite", {"function": "membre"}, "committee"),
        ("porteur", {"ministry": "MI"}, "ministry"),
        ("secretariat", {"function": "president"}, "function"),
        ("roi", {}, "role"),
    ],
)
def test_grant_role_refuses_bad_scopes(db_session, make_user, role, scope, field):
    actor = make_user("secretariat")
    user, _ = service.register("cible@test.gouv.fr", actor=actor)
    with pytest.raises(ValidationFailed) as error:
        service.grant_role(user, role, actor=actor, **scope)
    assert field in error.value.errors
    assert entries("role.granted") == []


def test_grant_role_twice_is_refused_but_a_function_change_is_recorded(db_session, make_user):
    actor = make_user("secretariat")
    user, _ = service.register("cible@test.gouv.fr", actor=actor)
    service.grant_role(user, "dsi", actor=actor, ministry="MI")
    service.grant_role(user, "dsi", actor=actor, ministry="MJ")  # another ministry is another role
    with pytest.raises(ValidationFailed, match="déjà"):
        service.grant_role(user, "dsi", actor=actor, ministry="MI")
    service.grant_role(user, "comite", actor=actor, committee="CINUM", function="membre")
    service.grant_role(user, "comite", actor=actor, committee="CINUM", function="secretaire")
    assert sorted(r.label for r in user.roles) == [
        "Membre DSI — MI",
        "Membre DSI — MJ",
        "Membre de comité — CINUM (Secrétaire)",
    ]
    assert entries("role.granted")[-1].changes == {"function": ["membre", "secretaire"]}


def test_revoke_role(db_session, make_user):
    actor = make_user("secretariat")
    user = make_user("dsi", "porteur", ministry="MI")
    dsi = next(r for r in user.roles if r.role == "dsi")
    service.revoke_role(dsi, actor=actor)
    assert user.role_names == {"porteur"}
    entry = entries("role.revoked")[-1]
    assert entry.changes == {"role": ["Membre DSI — MI", None]} and entry.actor_id == actor.id


def test_the_last_secretariat_cannot_be_removed(db_session, make_user):
    existing = db.session.scalars(select(User)).all()
    for user in existing:  # make the test independent of accounts left by other tests
        user.active = False
    only = make_user("secretariat")
    with pytest.raises(NotAllowed):
        service.revoke_role(only.roles[0], actor=only)
    with pytest.raises(NotAllowed):
        service.deactivate(only, actor=None)
    second = make_user("secretariat")
    service.revoke_role(only.roles[0], actor=second)
    assert not only.has_role("secretariat")


def test_deactivate_and_reactivate(db_session, make_user):
    actor = make_user("secretariat")
    user = make_user("porteur")
    with pytest.raises(NotAllowed, match="propre compte"):
        service.deactivate(actor, actor=actor)
    service.deactivate(user, actor=actor)
    assert not user.active and not user.is_active
    with pytest.raises(DomainError, match="déjà désactivé"):
        service.deactivate(user, actor=actor)
    service.reactivate(user, actor=actor)
    assert user.active
    with pytest.raises(DomainError, match="déjà actif"):
        service.reactivate(user, actor=actor)
    assert [e.changes for e in entries("user.deactivated")] == [{"active": [True, False]}]
    assert [e.changes for e in entries("user.reactivated")] == [{"active": [False, True]}]


def test_search(db_session, make_user):
    make_user(email="zoe.lambert@culture.gouv.fr", given_name="Zoé", usual_name="Lambert")
    make_user(email="autre@test.gouv.fr", organization_label="Ministère de la Culture")
    assert [u.email for u in service.search("LAMBERT")] == ["zoe.lambert@culture.gouv.fr"]
    found = {u.email for u in service.search("culture")}
    assert found == {"zoe.lambert@culture.gouv.fr", "autre@test.gouv.fr"}
    assert service.search("100%_sûr") == []
