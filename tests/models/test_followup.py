"""Follow-up models: real foreign keys to dossiers, jalons and indicators (orphans refused, reports go with
their jalon), one report per jalon, positive amounts, plausible years; the dossier's named state group."""

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.dossiers import DossierIndicator, DossierState, Jalon
from app.models.followup import CreditConsumption, IndicatorValue, JalonReport, SavingsReport
from tests.factories import make_instructed_dossier

MISSING = 987_654


def flush_fails(obj) -> None:
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(obj)
            db.session.flush()


@pytest.fixture
def dossier(make_user):
    dossier = make_instructed_dossier(make_user("porteur"), state="en_suivi", decision_outcome="accepte")
    dossier.jalons = [Jalon(number=1, due_on=date(2027, 6, 30), description="Recette")]
    dossier.indicators = [
        DossierIndicator(
            position=1, objective="Adoption", indicator="Agents", current_value="0", target_value="5"
        )
    ]
    db.session.commit()
    return dossier


def test_reports_must_name_an_existing_dossier_jalon_and_indicator(dossier):
    jalon, indicator = dossier.jalons[0], dossier.indicators[0]
    day = date(2027, 2, 1)
    flush_fails(JalonReport(dossier_id=MISSING, jalon_id=jalon.id, achieved_on=day, proof="PV"))
    flush_fails(JalonReport(dossier_id=dossier.id, jalon_id=MISSING, achieved_on=day, proof="PV"))
    flush_fails(IndicatorValue(dossier_id=MISSING, indicator_id=indicator.id, reported_on=day, value="1"))
    flush_fails(IndicatorValue(dossier_id=dossier.id, indicator_id=MISSING, reported_on=day, value="1"))
    flush_fails(CreditConsumption(dossier_id=MISSING, year=2027, ae=1, cp=1))
    flush_fails(SavingsReport(dossier_id=MISSING, year=2027, nature="Licences", amount=1))


def test_one_report_per_jalon_positive_amounts_and_plausible_years(dossier):
    jalon = dossier.jalons[0]
    db.session.add(
        JalonReport(dossier_id=dossier.id, jalon_id=jalon.id, achieved_on=date(2027, 2, 1), proof="PV")
    )
    db.session.flush()
    flush_fails(
        JalonReport(dossier_id=dossier.id, jalon_id=jalon.id, achieved_on=date(2027, 2, 2), proof="x")
    )
    flush_fails(CreditConsumption(dossier_id=dossier.id, year=2027, ae=-1, cp=0))
    flush_fails(CreditConsumption(dossier_id=dossier.id, year=1999, ae=0, cp=0))
    flush_fails(SavingsReport(dossier_id=dossier.id, year=2027, nature="Licences", amount=-5))


def test_a_removed_jalon_or_indicator_takes_its_reports(dossier):
    jalon, indicator = dossier.jalons[0], dossier.indicators[0]
    db.session.add(
        JalonReport(dossier_id=dossier.id, jalon_id=jalon.id, achieved_on=date(2027, 2, 1), proof="PV")
    )
    db.session.add(
        IndicatorValue(
            dossier_id=dossier.id, indicator_id=indicator.id, reported_on=date(2027, 2, 1), value="1"
        )
    )
    db.session.commit()
    dossier.jalons, dossier.indicators = [], []
    db.session.commit()
    assert db.session.scalar(select(func.count(JalonReport.id))) == 0
    assert db.session.scalar(select(func.count(IndicatorValue.id))) == 0


def test_the_followed_group_names_the_states_under_contract():
    assert DossierState.FOLLOWED == {DossierState.CONVENTIONNE, DossierState.EN_SUIVI}
    assert "FOLLOWED" not in DossierState.__members__
