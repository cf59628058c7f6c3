"""Tranches and avenants of a funded dossier: the secretariat plans and decides tranches within the amount
granted ([004] §6, [000] §5.1), records avenants whose signature changes the amount, the end date and a
jalon's date ([000] §8); every move logged (transition rows with the actor), audited and told to the
porteurs and instructeurs; refusals in French at the field."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.formatting import paris_today
from app.models import Notification
from app.models.dossiers import Jalon
from app.models.followup import AvenantState, TrancheState, TrancheTransition
from app.services import avenants, tranches
from app.services.errors import DomainError, NotAllowed, ValidationFailed
from tests.factories import audit_entries, make_followed_dossier, make_instructed_dossier

PDF = ("avenant.pdf", b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")


@pytest.fixture
def people(make_user):
    return {"secretariat": make_user("secretariat"), "porteur": make_user("porteur")}


def plain(text: str) -> str:
    """French formatting's narrow and non-breaking spaces as plain spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _kinds(user) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(Notification.user_id == user.id)))


def test_tranches_stay_within_the_amount_granted_and_are_decided_by_the_secretariat(people):
    secretariat, porteur = people["secretariat"], people["porteur"]
    dossier = make_followed_dossier(porteur, amounts={2027: (600_000, 300_000)})
    first = tranches.plan(
        dossier,
        planned_amount="400 000",
        planned_year="2027",
        planned_quarter="1",
        conditions="",
        actor=secretariat,
    )
    assert (first.number, first.state_enum, first.quarter_label) == (1, TrancheState.PREVUE, "T1 2027")
    with pytest.raises(ValidationFailed) as error:
        tranches.plan(
            dossier, planned_amount="300000", planned_year="2027", planned_quarter="3", actor=secretariat
        )
    assert "dépasseraient le montant accordé par la décision (600 000 €)" in plain(
        error.value.errors["planned_amount"]
    )
    assert "il reste 200 000 €" in plain(error.value.errors["planned_amount"])
    with pytest.raises(ValidationFailed) as error:
        tranches.plan(dossier, planned_amount="", planned_year="deux", planned_quarter="5", actor=secretariat)
    assert set(error.value.errors) == {"planned_amount", "planned_year", "planned_quarter"}
    with pytest.raises(NotAllowed):
        tranches.plan(dossier, planned_amount="1", planned_year="2027", planned_quarter="1", actor=porteur)
    # released with the definitive amount: logged with who decided, audited, told
    released = tranches.release(
        dossier,
        tranche_id=first.id,
        amount="350 000",
        released_on=paris_today().isoformat(),
        actor=secretariat,
    )
    assert (released.state_enum, released.amount, released.released_by_id) == (
        TrancheState.DEBLOQUEE,
        350_000,
        secretariat.id,
    )
    log = db.session.scalars(select(TrancheTransition).where(TrancheTransition.tranche_id == first.id)).all()
    assert [(r.from_state, r.to_state, r.actor_id) for r in log] == [("prevue", "debloquee", secretariat.id)]
    assert audit_entries(first, "tranche.released")[0].changes == {
        "state": ["prevue", "debloquee"],
        "amount": [None, 350_000],
    }
    assert "followup.tranche_moved" in _kinds(porteur)
    with pytest.raises(ValidationFailed, match="non autorisé"):
        tranches.suspend(dossier, tranche_id=first.id, reason="x", actor=secretariat)
    # the released amount frees what the plan held: 250 000 € left
    second = tranches.plan(
        dossier, planned_amount="250000", planned_year="2028", planned_quarter="1", actor=secretariat
    )
    with pytest.raises(ValidationFailed) as error:
        tranches.suspend(dossier, tranche_id=second.id, reason="  ", actor=secretariat)
    assert error.value.errors == {"reason": "Indiquez la raison de la suspension."}
    tranches.suspend(dossier, tranche_id=second.id, reason="Jalon n° 2 non atteint", actor=secretariat)
    assert second.state_enum == TrancheState.SUSPENDUE and second.state_reason == "Jalon n° 2 non atteint"
    tranches.resume(dossier, tranche_id=second.id, reason="Jalon atteint", actor=secretariat)
    tranches.cancel(dossier, tranche_id=second.id, reason="Projet réduit", actor=secretariat)
    assert second.state_enum == TrancheState.ANNULEE
    assert tranches.committed(tranches.tranches_of(dossier)) == 350_000
    with pytest.raises(ValidationFailed, match="future"):
        third = tranches.plan(
            dossier, planned_amount="10", planned_year="2028", planned_quarter="2", actor=secretariat
        )
        tranches.release(
            dossier,
            tranche_id=third.id,
            amount="",
            released_on=(paris_today() + timedelta(days=1)).isoformat(),
            actor=secretariat,
        )
    closed = make_instructed_dossier(porteur, state="clos", decision_outcome="accepte")
    with pytest.raises(DomainError, match="convention signée"):
        tranches.plan(closed, planned_amount="1", planned_year="2027", planned_quarter="1", actor=secretariat)


def test_the_first_quarter_decision_and_late_tranches_are_warned(people):
    secretariat = people["secretariat"]
    signed = paris_today() - timedelta(days=900)
    year = signed.year + 1  # a past year after the signature's: the first-quarter rule applies
    dossier = make_followed_dossier(
        people["porteur"], signed_days_ago=900, amounts={signed.year: (500_000, 500_000)}
    )
    tranche = tranches.plan(
        dossier,
        planned_amount="100000",
        planned_year=str(signed.year),
        planned_quarter="4",
        actor=secretariat,
    )
    in_may = date(year, 5, 2)
    texts = tranches.warnings(dossier, tranches.tranches_of(dossier), granted=500_000, today=in_may)
    assert any(f"Aucune tranche décidée au 1er trimestre {year}" in t and "§6" in t for t in texts)
    assert f"La tranche n° 1 était prévue au T4 {signed.year} et n'est pas débloquée." in texts
    assert tranches.warnings(
        dossier, tranches.tranches_of(dossier), granted=500_000, today=date(year, 3, 1)
    ) == [
        f"La tranche n° 1 était prévue au T4 {signed.year} et n'est pas débloquée."
    ]  # the first quarter is not over yet
    tranches.release(
        dossier, tranche_id=tranche.id, amount="", released_on=date(year, 3, 1), actor=secretariat
    )
    assert tranche.amount == 100_000  # empty: the planned amount
    assert tranches.warnings(dossier, tranches.tranches_of(dossier), granted=500_000, today=in_may) == []


def test_a_signed_avenant_changes_the_amount_the_end_and_a_jalon(people):
    secretariat, porteur = people["secretariat"], people["porteur"]
    jalon = Jalon(number=1, due_on=paris_today() + timedelta(days=30), description="Mise en service")
    dossier = make_followed_dossier(
        porteur,
        jalons=[jalon],
        starts_on=paris_today() - timedelta(days=100),
        ends_on=paris_today() + timedelta(days=200),
    )
    with pytest.raises(ValidationFailed) as error:
        avenants.draft(dossier, object="", jalon_id=str(jalon.id), new_amount="zéro", actor=secretariat)
    assert set(error.value.errors) == {"object", "new_amount", "jalon_new_due_on"}
    with pytest.raises(NotAllowed):
        avenants.draft(dossier, object="Prolongation", actor=porteur)
    with pytest.raises(ValidationFailed) as error:
        short = (paris_today() + timedelta(days=10)).isoformat()
        avenants.draft(dossier, object="Raccourcissement", new_ends_on=short, actor=secretariat)
    assert "Des jalons tomberaient après la nouvelle date de fin (n° 1)" in error.value.errors["new_ends_on"]
    new_end = paris_today() + timedelta(days=400)
    avenant = avenants.draft(
        dossier,
        object="Prolongation de six mois et crédits complémentaires",
        new_amount="800 000",
        new_ends_on=new_end.isoformat(),
        jalon_id=jalon.id,
        jalon_new_due_on=(paris_today() + timedelta(days=300)).isoformat(),
        actor=secretariat,
    )
    assert avenant.state_enum == AvenantState.PROJET and avenants.granted_total(dossier) == (600_000, None)
    assert dossier.ends_on != new_end  # nothing applies before the signature
    with pytest.raises(ValidationFailed) as error:
        avenants.sign(dossier, avenant_id=avenant.id, signed_on="", actor=secretariat)
    assert set(error.value.errors) == {"signed_on", "signed_file"}
    avenants.sign(
        dossier,
        avenant_id=avenant.id,
        signed_on=paris_today().isoformat(),
        signed_file=PDF,
        actor=secretariat,
    )
    assert avenant.state_enum == AvenantState.SIGNE and avenant.signed_attachment.filename == "avenant.pdf"
    assert avenants.granted_total(dossier) == (800_000, avenant)
    assert (dossier.ends_on, jalon.due_on) == (new_end, paris_today() + timedelta(days=300))
    assert (avenant.previous_amount, avenant.previous_jalon_due_on) == (
        600_000,
        paris_today() + timedelta(days=30),
    )
    changes = audit_entries(avenant, "avenant.signed")[0].changes
    assert changes["granted_amount"] == [600_000, 800_000] and changes["state"] == ["en_projet", "signe"]
    assert "followup.avenant_moved" in _kinds(porteur)
    assert "montant total accordé porté à 800 000 €" in plain(avenants.changes_text(avenant))
    # tranches now split 800 000 €
    tranches.plan(
        dossier, planned_amount="800000", planned_year="2027", planned_quarter="4", actor=secretariat
    )
    other = avenants.draft(dossier, object="Changement de référent", actor=secretariat)
    with pytest.raises(ValidationFailed, match="pourquoi"):
        avenants.abandon(dossier, avenant_id=other.id, reason="", actor=secretariat)
    avenants.abandon(dossier, avenant_id=other.id, reason="Sans objet", actor=secretariat)
    assert other.state_enum == AvenantState.ABANDONNE and other.number == 2
    with pytest.raises(ValidationFailed, match="Abandonné"):
        avenants.sign(
            dossier, avenant_id=other.id, signed_on=paris_today(), signed_file=PDF, actor=secretariat
        )
