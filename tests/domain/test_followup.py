"""Follow-up arithmetic, without a database: months, numbers typed by people, savings by year."""

from datetime import date

import pytest

from app.domain.followup import (
    SavingsFigure,
    add_months,
    budget_milestone,
    cp_sequence_gaps,
    lags,
    no_progress_days,
    numeric,
    parse_date,
    parse_int,
    quarter_end,
    quarter_of,
    savings_by_year,
    tranche_decision_missing,
)


def test_months_are_added_with_the_day_clamped_to_the_month_end():
    assert add_months(date(2027, 1, 15), 6) == date(2027, 7, 15)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 31), 2) == date(2027, 2, 28)


def test_indicator_values_are_read_as_numbers_when_they_are():
    assert (numeric("1 200,5 %"), numeric("45"), numeric("1\u202f000 €")) == (1200.5, 45.0, 1000.0)
    assert (numeric("bon"), numeric(""), numeric(None)) == (None, None, None)


def test_integers_typed_by_people_and_their_french_refusals():
    assert parse_int("150 000") == 150_000 and parse_int("12\u202f000 €") == 12_000 and parse_int(7) == 7
    with pytest.raises(ValueError, match="^Le montant est obligatoire.$"):
        parse_int("")
    with pytest.raises(ValueError, match="doit être un nombre entier .* : « 12,5 »"):
        parse_int("12,5")
    with pytest.raises(ValueError, match="^Le montant ne peut pas être négatif.$"):
        parse_int("-1")
    with pytest.raises(ValueError, match="^L'année doit être au moins 2000.$"):
        parse_int("1990", label="L'année", minimum=2000, maximum=2100)
    with pytest.raises(ValueError, match="^L'année ne peut pas dépasser 2100.$"):
        parse_int("2101", label="L'année", minimum=2000, maximum=2100)
    with pytest.raises(ValueError, match="ne peut pas dépasser 2\u202f000\u202f000\u202f000."):
        parse_int("3 000 000 000")


def test_dates_are_iso_or_refused_in_french():
    assert parse_date(" 2027-03-31 ", label="Date") == date(2027, 3, 31)
    assert parse_date(date(2027, 1, 1), label="Date") == date(2027, 1, 1)
    with pytest.raises(ValueError, match="^Date de la mesure : date attendue au format AAAA-MM-JJ.$"):
        parse_date("31/03/2027", label="Date de la mesure")


def test_savings_by_year_put_the_forecast_next_to_what_is_reported():
    forecast = {(2027, "Licences"): 100_000, (2027, "Masse salariale"): 50_000, (2028, "Licences"): 200_000}
    reported = {(2027, "Licences"): (80_000, "Décalage"), (2029, "Autres"): (10_000, "Hébergement")}
    years = savings_by_year(forecast, reported, ["Licences", "Masse salariale", "Autres"])
    assert [(y.year, y.forecast, y.reported, y.gap, y.unreported) for y in years] == [
        (2027, 150_000, 80_000, -70_000, ["Masse salariale"]),
        (2028, 200_000, None, None, ["Licences"]),
        (2029, 0, 10_000, 10_000, []),
    ]
    assert years[0].natures[0] == SavingsFigure(2027, 100_000, 80_000, "Licences", "Décalage")


# --- budget milestones, CP sequence, tranches, progress ([000] §5.2, §8; [004] §6) -----------------------


def test_a_slight_variation_is_admitted_before_consumption_lags():
    # [000] §8 « une variation légère de l'échéancier […] pourra être admise »: a tenth, our reading
    assert not lags(100_000, 90_000) and lags(100_000, 89_999)
    assert not lags(None, 0) and not lags(0, 0)


def test_a_jalon_compares_what_was_planned_with_what_was_consumed_up_to_its_year():
    consumed = {2026: (300_000, 100_000), 2027: (200_000, 150_000), 2028: (900_000, 900_000)}
    milestone = budget_milestone(1, date(2027, 6, 30), 400_000, 300_000, consumed, today=date(2027, 9, 1))
    assert (milestone.ae_consumed, milestone.cp_consumed) == (500_000, 250_000)
    assert not milestone.ae_lagging and milestone.cp_lagging and milestone.lagging
    future = budget_milestone(2, date(2027, 12, 31), 10**9, 10**9, consumed, today=date(2027, 9, 1))
    assert not future.lagging  # its date has not come


def test_the_cp_sequence_is_read_cumulated_over_past_years():
    granted = {2026: (600_000, 200_000), 2027: (0, 400_000), 2028: (0, 0)}
    # CP paid in 2027 for what 2026 committed: cumulated, no gap in 2027
    consumed = {2026: (600_000, 150_000), 2027: (0, 450_000)}
    assert cp_sequence_gaps(granted, consumed, today=date(2028, 2, 1)) == [(2026, 200_000, 150_000)]
    assert cp_sequence_gaps(granted, consumed, today=date(2026, 11, 1)) == []  # the year is not over


def test_the_secretariat_decides_tranches_at_least_in_the_first_quarter():
    assert quarter_end(2027, 1) == date(2027, 3, 31) and quarter_end(2028, 4) == date(2028, 12, 31)
    assert (quarter_of(date(2027, 3, 31)), quarter_of(date(2027, 4, 1))) == (1, 2)
    signed = date(2026, 7, 1)
    assert tranche_decision_missing(date(2026, 12, 1), signed, []) is None  # the signature's year
    assert tranche_decision_missing(date(2027, 3, 31), signed, []) is None  # Q1 not over
    assert tranche_decision_missing(date(2027, 4, 1), signed, []) == 2027
    assert tranche_decision_missing(date(2027, 4, 1), signed, [date(2027, 2, 10)]) is None
    assert tranche_decision_missing(date(2027, 4, 1), signed, [date(2027, 4, 1)]) == 2027  # after Q1


def test_no_progress_counts_a_quarter_of_the_planned_duration():
    assert no_progress_days(date(2026, 1, 1), date(2027, 12, 31)) == 182
    assert no_progress_days(date(2026, 1, 1), date(2026, 6, 30)) == 90  # never under three months
    assert no_progress_days(None, date(2026, 6, 30)) is None
