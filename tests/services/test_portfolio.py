"""Portfolio services: transitions, refusals, audit entries, versions, import."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Opportunity, OpportunityState, OpportunityTransition, Organisation
from app.models.portfolio import BY_CRIBLAGE, BY_DECISION, TRANSITIONS
from app.services import portfolio as service
from app.services.errors import NotAllowed, StaleVersion, ValidationFailed


def audit_actions(obj) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "opportunities", AuditEntry.object_id == str(obj.id))
            .order_by(AuditEntry.id)
        )
    )


@pytest.fixture
def secretariat(make_user):
    return make_user("secretariat")


@pytest.fixture
def dsi(make_user):
    return make_user("dsi", ministry="MI")


def test_create_takes_the_next_free_code_and_is_audited(db_session, dsi):
    opportunity = service.create_opportunity(brique="Parapheur électronique", besoin="Signer", actor=dsi)
    assert opportunity.code == "M133"
    again = service.create_opportunity(brique="Autre", besoin="", actor=dsi)
    assert again.code == "M134"
    assert audit_actions(opportunity) == ["opportunity.created"]


def test_create_refuses_empty_and_overlong_fields(db_session, dsi):
    with pytest.raises(ValidationFailed) as error:
        service.create_opportunity(brique="  ", besoin="", actor=dsi)
    assert error.value.errors == {"brique": "La brique est obligatoire."}
    with pytest.raises(ValidationFailed) as error:
        service.create_opportunity(brique="x" * 201, besoin="y" * 10_001, actor=dsi)
    assert set(error.value.errors) == {"brique", "besoin"}
    assert db.session.scalar(select(Opportunity).where(Opportunity.number > 132)) is None


def test_a_porteur_cannot_propose(db_session, make_user):
    with pytest.raises(NotAllowed):
        service.create_opportunity(brique="Idée", besoin="", actor=make_user("porteur"))


@pytest.mark.parametrize("source,target", [(s, t) for s, targets in TRANSITIONS.items() for t in targets])
def test_every_allowed_transition_is_logged_and_audited(
    db_session, secretariat, make_opportunity, source, target
):
    other = make_opportunity(brique="Cible")
    opportunity = make_opportunity(state=source.value)
    act = {"committee_act": object()} if target in BY_DECISION else {}  # the decision recorded in session
    act |= {"criblage": object()} if target in BY_CRIBLAGE else {}
    service.change_state(
        opportunity,
        to=target.value,
        actor=secretariat,
        reason="Motif documenté",
        target_code=other.code,
        **act,
    )
    db.session.flush()
    assert opportunity.state == target
    transition = db.session.scalar(
        select(OpportunityTransition).where(OpportunityTransition.opportunity_id == opportunity.id)
    )
    assert (transition.from_state, transition.to_state, transition.actor_id) == (
        source,
        target,
        secretariat.id,
    )
    assert audit_actions(opportunity)[-1] == "opportunity.status_changed"
    assert (opportunity.target_id == other.id) == (
        target in {OpportunityState.FUSIONNEE, OpportunityState.DOUBLON}
    )


@pytest.mark.parametrize(
    "source,target", [(s, t) for s in OpportunityState for t in OpportunityState if t not in TRANSITIONS[s]]
)
def test_every_forbidden_transition_is_refused_and_nothing_changes(
    db_session, secretariat, make_opportunity, source, target
):
    opportunity = make_opportunity(
        state=source.value,
        target=make_opportunity()
        if source in {OpportunityState.FUSIONNEE, OpportunityState.DOUBLON}
        else None,
    )
    with pytest.raises(ValidationFailed):
        service.change_state(opportunity, to=target.value, actor=secretariat, reason="x", target_code="M001")
    assert opportunity.state == source
    assert audit_actions(opportunity) == []


@pytest.mark.parametrize(
    "source,target,message",
    [
        ("retenue_criblage", "validee_csic_tech", "suit la décision du CSIC-Tech enregistrée en séance"),
        ("proposee_csic", "lancee", "suit la décision du CSIC enregistrée en séance"),
        ("en_criblage", "retenue_criblage", "retenez l'opportunité dans un criblage"),
    ],
)
def test_cascade_states_are_never_a_manual_move(
    db_session, secretariat, make_opportunity, source, target, message
):
    opportunity = make_opportunity(state=source)
    with pytest.raises(ValidationFailed) as error:
        service.change_state(opportunity, to=target, actor=secretariat)
    assert message in error.value.errors["state"]
    assert opportunity.state == source and audit_actions(opportunity) == []


def test_every_side_exit_needs_a_reason(db_session, secretariat, make_opportunity):
    for exit_state in ("ecartee", "deja_couverte", "fusionnee", "doublon"):
        opportunity = make_opportunity()
        with pytest.raises(ValidationFailed) as error:
            service.change_state(opportunity, to=exit_state, actor=secretariat, target_code="M001")
        assert "motif" in error.value.errors["reason"].lower()


def test_only_the_secretariat_changes_state(db_session, dsi, make_opportunity):
    opportunity = make_opportunity()
    with pytest.raises(NotAllowed):
        service.change_state(opportunity, to="en_criblage", actor=dsi)


def test_reason_and_target_are_required(db_session, secretariat, make_opportunity):
    opportunity = make_opportunity()
    with pytest.raises(ValidationFailed) as error:
        service.change_state(opportunity, to="ecartee", actor=secretariat)
    assert "motif" in error.value.errors["reason"].lower()
    with pytest.raises(ValidationFailed) as error:
        service.change_state(opportunity, to="fusionnee", actor=secretariat, target_code="M999")
    assert error.value.errors["target_code"] == "L'opportunité M999 n'existe pas."
    with pytest.raises(ValidationFailed):
        service.change_state(opportunity, to="fusionnee", actor=secretariat, target_code=opportunity.code)
    assert opportunity.state == "identifiee"


def test_merge_links_both_ways(db_session, secretariat):
    m115 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M115"))
    service.change_state(m115, to="fusionnee", actor=secretariat, target_code="m102", reason="Même besoin")
    db.session.flush()
    m102 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M102"))
    db.session.refresh(m102)
    assert m115.target.code == "M102"
    assert [o.code for o in m102.absorbed] == ["M115"]


def test_update_with_a_stale_version_is_refused(db_session, secretariat, make_opportunity):
    opportunity = make_opportunity(brique="Avant")
    version = opportunity.version
    service.update_opportunity(opportunity, brique="Après", besoin="", version=version, actor=secretariat)
    db.session.flush()
    assert opportunity.version == version + 1
    with pytest.raises(StaleVersion) as error:
        service.update_opportunity(
            opportunity, brique="Mon texte", besoin="", version=version, actor=secretariat
        )
    assert error.value.current.brique == "Après"
    assert audit_actions(opportunity)[-1] == "opportunity.updated"


def test_update_records_the_diff(db_session, secretariat, make_opportunity):
    opportunity = make_opportunity(brique="Avant", besoin="Texte")
    service.update_opportunity(
        opportunity, brique="Après", besoin="Texte", version=opportunity.version, actor=secretariat
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "opportunity.updated"))
    assert entry.changes == {"brique": ["Avant", "Après"]}


def test_backing_is_limited_to_the_dsi_ministry(db_session, dsi, make_opportunity):
    opportunity = make_opportunity()
    mi = db.session.scalar(select(Organisation).where(Organisation.code == "MI"))
    men = db.session.scalar(select(Organisation).where(Organisation.code == "MEN"))
    service.set_backing(opportunity, organisation=mi, role="pilote", actor=dsi)
    service.set_backing(opportunity, organisation=mi, role="contributeur", actor=dsi)  # changes the role
    db.session.flush()
    db.session.refresh(opportunity)
    assert [(b.organisation.code, b.role) for b in opportunity.backings] == [("MI", "contributeur")]
    with pytest.raises(NotAllowed):
        service.set_backing(opportunity, organisation=men, role="pilote", actor=dsi)
    service.remove_backing(opportunity, organisation=mi, actor=dsi)
    db.session.flush()
    db.session.refresh(opportunity)
    assert opportunity.backings == []


def test_comment_requires_text(db_session, make_user, make_opportunity):
    opportunity = make_opportunity()
    with pytest.raises(ValidationFailed):
        service.add_comment(opportunity, body="   ", actor=make_user())
    comment = service.add_comment(opportunity, body="**Utile** pour nous", actor=make_user())
    assert comment.id is not None


# --- import ------------------------------------------------------------------------------------------


def rows(*items):
    return [
        (i + 2, dict(zip(("code", "brique", "besoin"), item, strict=True))) for i, item in enumerate(items)
    ]


def test_import_creates_updates_and_leaves_unchanged(db_session):
    m001 = db.session.scalar(select(Opportunity).where(Opportunity.code == "M001"))
    report = service.import_rows(
        rows(("M001", m001.brique, m001.besoin), ("M002", "Renommée", "x"), ("M200", "Nouvelle", "")),
        actor=None,
    )
    assert (report.unchanged, report.updated, report.created) == (["M001"], ["M002"], ["M200"])


def test_import_rejects_everything_when_one_row_is_bad(db_session):
    with pytest.raises(service.ImportRejected) as error:
        service.import_rows(
            rows(
                ("M300", "Bonne", ""),
                ("", "Sans code", ""),
                ("X12", "Mal formé", ""),
                ("M300", "Doublon", ""),
                ("M301", "b" * 201, ""),
                ("M0043", "Ambigu", ""),
            ),
            actor=None,
        )
    rejected = dict(error.value.report.rejected)
    assert rejected[3] == "code manquant"
    assert "mal formé" in rejected[4]
    assert "en double" in rejected[5] and "ligne 2" in rejected[5]
    assert "trop long" in rejected[6]
    assert "mal formé" in rejected[7]
    assert db.session.scalar(select(Opportunity).where(Opportunity.code == "M300")) is None
