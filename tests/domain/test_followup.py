"""Follow-up arithmetic, without a database: months, numbers typed by people, savings by year."""

from datetime import date

import pytest

from app.domain.followup import (
    SavingsFigure,
    add_months,
    numeric,
    parse_date,
    parse_int,
    savings_by_year,
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
