"""Dossier and guichet models: CHECK constraints tie states to the columns they need; transitions table."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Guichet, Role
from app.models.base import utcnow
from app.models.dossiers import TRANSITIONS, DossierState, FinancingAmount, FinancingLine
from tests.factories import make_dossier, make_user


@pytest.fixture
def dossier(db_session):
    return make_dossier(make_user(Role.PORTEUR))


def _fails(**changes):
    def run(obj):
        for key, value in changes.items():
            setattr(obj, key, value)
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.flush()

    return run


def test_a_submitted_dossier_needs_a_submission_date(dossier):
    _fails(state="depose")(dossier)


def test_instruit_needs_an_avis_and_decide_an_outcome(dossier):
    _fails(state="instruit", submitted_at=utcnow())(dossier)
    db.session.rollback()
    _fails(state="decide", submitted_at=utcnow(), avis="favorable")(dossier)


def test_classement_needs_a_reason(dossier):
    _fails(state="classe_sans_suite", submitted_at=utcnow())(dossier)


def test_unknown_state_and_avis_are_refused(dossier):
    _fails(state="perdu")(dossier)
    db.session.rollback()
    _fails(avis="mitige")(dossier)


def test_financing_amounts_are_positive_and_unique_per_year(dossier):
    line = FinancingLine(
        dossier=dossier,
        position=0,
        nature="Dev",
        category="T5",
        programme="P349",
        financer="ftap",
        phase="cadrage",
    )
    line.amounts = [FinancingAmount(year=2026, ae=-1, cp=0)]
    db.session.add(line)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()
    db.session.rollback()
    line = FinancingLine(
        dossier=dossier,
        position=0,
        nature="Dev",
        category="T5",
        programme="P349",
        financer="ftap",
        phase="cadrage",
        amounts=[FinancingAmount(year=2026, ae=1, cp=0), FinancingAmount(year=2026, ae=2, cp=0)],
    )
    db.session.add(line)
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_co_porteur_line_names_the_organisation(dossier):
    db.session.add(
        FinancingLine(
            dossier=dossier,
            position=0,
            nature="Dev",
            category="T5",
            programme="P349",
            financer="co_porteur",
            phase="cadrage",
        )
    )
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_an_appel_a_projets_has_a_window(db_session):
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP3"))
    _fails(mode="appel_a_projets", opens_at=None, closes_at=None)(guichet)
    db.session.rollback()
    guichet = db.session.scalar(select(Guichet).where(Guichet.code == "SNAP3"))
    _fails(mode="appel_a_projets", opens_at=utcnow(), closes_at=utcnow() - timedelta(days=1))(guichet)


def test_guichet_open_window(db_session):
    guichet = Guichet(
        code="T",
        name="T",
        mode="appel_a_projets",
        opens_at=utcnow() + timedelta(days=1),
        closes_at=utcnow() + timedelta(days=10),
    )
    assert not guichet.is_open()
    assert guichet.is_open(utcnow() + timedelta(days=2))
    assert not guichet.is_open(utcnow() + timedelta(days=11))
    assert not Guichet(code="U", name="U", mode="").is_open()


def test_transitions_table_covers_every_state_and_terminal_states():
    assert set(TRANSITIONS) == set(DossierState)
    for state in (DossierState.CLOS, DossierState.RETIRE, DossierState.CLASSE_SANS_SUITE):
        assert TRANSITIONS[state] == set()
    assert DossierState.RETIRE not in TRANSITIONS[DossierState.DECIDE]  # withdrawn only before the decision


def test_years_and_reference(dossier):
    assert dossier.years == [2026, 2027, 2028, 2029]
    assert dossier.savings_years[-1] == 2032
    assert dossier.reference == f"D{dossier.id:04d}"
