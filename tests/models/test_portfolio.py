"""Constraints and computed properties of the portfolio models."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Opportunity, OpportunityState
from app.models.portfolio import TRANSITIONS, fold


def test_fold_ignores_accents_and_case():
    assert fold("Messagerie Électronique") == "messagerie electronique"
    assert fold("ÉTAT") == fold("état") == "etat"


def test_database_refuses_a_merged_opportunity_without_target(db_session, make_opportunity):
    opportunity = make_opportunity()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(
                text("UPDATE opportunities SET status = 'fusionnee' WHERE id = :id"), {"id": opportunity.id}
            )


def test_database_refuses_an_unknown_state(db_session, make_opportunity):
    opportunity = make_opportunity()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(
                text("UPDATE opportunities SET status = 'inventee' WHERE id = :id"), {"id": opportunity.id}
            )


def test_codes_are_unique(db_session):
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(Opportunity(number=9001, code="M043", brique="Autre"))


def test_search_text_is_refreshed_on_every_save(db_session, make_opportunity):
    opportunity = make_opportunity(brique="Réservation de salles")
    assert "reservation de salles" in opportunity.search_text
    opportunity.brique = "Équipements partagés"
    db.session.flush()
    assert "equipements partages" in opportunity.search_text


def test_every_state_has_a_transition_entry_and_terminal_states_have_none():
    assert set(TRANSITIONS) == set(OpportunityState)
    for terminal in (
        OpportunityState.LANCEE,
        OpportunityState.FUSIONNEE,
        OpportunityState.DOUBLON,
        OpportunityState.DEJA_COUVERTE,
    ):
        assert TRANSITIONS[terminal] == set()


def test_annex_is_loaded_exactly(db_session):
    import csv
    from pathlib import Path

    rows = list(
        csv.DictReader((Path(__file__).parents[2] / "data" / "opportunities.csv").open(encoding="utf-8"))
    )
    stored = {o.code: o for o in db.session.scalars(select(Opportunity).where(Opportunity.number <= 132))}
    assert len(rows) == len(stored) == 132
    for row in rows:
        assert (stored[row["code"]].brique, stored[row["code"]].besoin) == (row["brique"], row["besoin"])
