"""Guichet services: defaults from the source documents, rules edited by the secretariat, instructors."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Guichet, Role
from app.models.base import utcnow
from app.services import guichets as service
from app.services.errors import NotAllowed, StaleVersion, ValidationFailed
from tests.factories import make_user


def _guichet(code):
    return db.session.scalar(select(Guichet).where(Guichet.code == code))


@pytest.fixture
def secretariat(db_session):
    return make_user(Role.SECRETARIAT)


def _update(guichet, actor, **kw):
    values = dict(
        mode=guichet.mode,
        opens_at=guichet.opens_at,
        closes_at=guichet.closes_at,
        committee_id=guichet.committee_id,
        max_total_amount="",
        min_cofinancing_pct="",
        roi_min="",
        required_attachments="",
        version=guichet.version,
    )
    values.update(kw)
    return service.update_rules(guichet, actor=actor, **values)


def test_reference_defaults_from_the_seeds(db_session):
    ftap, lean, snap4, relance = (_guichet(c) for c in ("FTAP", "FTAP-LEAN", "SNAP4", "FR-MTFP"))
    assert ftap.roi_min_cents == 100 and ftap.committee.code == "COMITE-INVEST-FTAP"
    assert (lean.max_total_amount, lean.min_cofinancing_pct) == (2_000_000, 50)
    assert lean.committee.code == "COPIL-DISPOSITIF"
    assert snap4.mode == "guichet_continu" and snap4.roi_min_cents is None and snap4.is_open()
    # [003] §1: the themes' DINUM / DITP owners select the laureates; the documents name neither body
    assert snap4.committee is None and snap4.selection_body_label == snap4.owner_label == "à préciser"
    assert snap4.fund_label == "France Relance" and ftap.fund_label == "FTAP"
    assert relance.mode == "" and not relance.is_open()
    communs, opi = _guichet("DINUM-COMMUNS"), _guichet("FTAP-DINUM-OPI")
    assert communs.committee.code == "COPIL-SUITE"
    assert communs.is_open() and opi.is_open()  # they accept dossiers ([000] §2)
    # the note explicative is the DITP's, handed over with the contract ([000] §3): not a porteur piece
    assert ftap.required_attachment_list == [
        "Dossier de candidature du projet",
        "Liste des référents FTAP du projet",
    ]


def test_reference_rules_quote_their_source_with_a_kind(db_session):
    lean = {(r.code, r.kind): r for r in _guichet("FTAP-LEAN").rules}
    assert (
        lean["max_total", "blocking"].source == "004_937e479d7f054f91.txt §4.3 (critères liés au financement)"
    )
    assert ("cofinancing_present", "blocking") in lean and ("cofinancing_share", "criterion") in lean
    assert lean["roi_min", "warning"].source.endswith("004_937e479d7f054f91.txt §3 et §4.3")
    assert "operateur" in lean["porteur_status", "blocking"].parameter
    assert [r.code for r in _guichet("FTAP-LEAN").rules].count("criterion") == 5
    snap4 = [(r.code, r.kind) for r in _guichet("SNAP4").rules]
    assert ("declaration", "blocking") in snap4 and ("roi_min", "warning") not in snap4
    assert all(r.source for g in ("FTAP", "SNAP4", "ITN2", "FTAP-LEAN") for r in _guichet(g).rules)


def test_secretariat_opens_an_appel_a_projets(secretariat):
    guichet = _guichet("SNAP3")
    opens, closes = utcnow() - timedelta(days=1), utcnow() + timedelta(days=30)
    _update(
        guichet,
        secretariat,
        mode="appel_a_projets",
        opens_at=opens,
        closes_at=closes,
        max_total_amount="3 000 000",
        min_cofinancing_pct="30",
        roi_min="1,2",
        required_attachments="Note explicative\n\n  Lettre d'engagement  ",
    )
    assert guichet.is_open() and guichet.max_total_amount == 3_000_000 and guichet.roi_min_cents == 120
    assert guichet.required_attachment_list == ["Note explicative", "Lettre d'engagement"]
    assert guichet.rules_edited_at is not None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "guichet.rules_updated")).one()
    assert "max_total_amount" in entry.changes


def test_rules_refuse_bad_input(secretariat):
    guichet = _guichet("SNAP3")
    with pytest.raises(ValidationFailed) as error:
        _update(
            guichet,
            secretariat,
            mode="appel_a_projets",
            opens_at=None,
            closes_at=None,
            max_total_amount="beaucoup",
            min_cofinancing_pct="120",
            roi_min="un",
        )
    assert set(error.value.errors) == {
        "opens_at",
        "closes_at",
        "max_total_amount",
        "min_cofinancing_pct",
        "roi_min",
    }
    opens = utcnow()
    with pytest.raises(ValidationFailed) as error:
        _update(
            guichet, secretariat, mode="appel_a_projets", opens_at=opens, closes_at=opens - timedelta(hours=1)
        )
    assert error.value.errors["closes_at"] == "La clôture doit être postérieure à l'ouverture."
    assert guichet.mode == "guichet_continu"


def test_only_the_secretariat_edits_and_stale_version_is_refused(secretariat):
    guichet = _guichet("SNAP3")
    with pytest.raises(NotAllowed):
        _update(guichet, make_user(Role.INSTRUCTEUR), max_total_amount="1")
    with pytest.raises(StaleVersion):
        _update(guichet, secretariat, max_total_amount="5", version=guichet.version - 1)


def test_instructors_are_added_by_email_and_removed(secretariat):
    guichet = _guichet("SNAP4")
    agent = make_user(Role.PORTEUR, email="instructrice@dinum.gouv.fr")
    with pytest.raises(ValidationFailed):
        service.add_instructor(guichet, email="inconnu@x.fr", actor=secretariat)
    service.add_instructor(guichet, email="  INSTRUCTRICE@dinum.gouv.fr ", actor=secretariat)
    service.add_instructor(guichet, email="instructrice@dinum.gouv.fr", actor=secretariat)  # idempotent
    assert service.instructors(guichet) == [agent]
    service.remove_instructor(guichet, user=agent, actor=secretariat)
    db.session.flush()
    assert service.instructors(guichet) == []


def test_guichet_reference_rules_do_not_override_edits(db_session):
    secretariat = make_user(Role.SECRETARIAT)
    lean = _guichet("FTAP-LEAN")
    assert (lean.max_total_amount, lean.min_cofinancing_pct, lean.roi_min_cents) == (2_000_000, 50, 100)
    assert service.apply_reference_rules(lean) is False  # idempotent
    service.update_rules(
        lean,
        mode="guichet_continu",
        opens_at=None,
        closes_at=None,
        committee_id=lean.committee_id,
        max_total_amount="1 500 000",
        min_cofinancing_pct="40",
        roi_min="1,5",
        required_attachments="",
        version=lean.version,
        actor=secretariat,
    )
    assert service.apply_reference_rules(lean) is False
    assert (lean.max_total_amount, lean.min_cofinancing_pct, lean.roi_min_cents) == (1_500_000, 40, 150)
