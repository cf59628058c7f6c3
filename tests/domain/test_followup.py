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


# --- yearly indicator targets ([001] §5.2) -----------------------------------------------------------------


def test_targets_are_read_by_their_leading_number_through_parse_number():
    from decimal import Decimal

    from app.domain.followup import leading_number

    assert leading_number("123 000 (25 % du volume total de CertDC)") == Decimal("123000")
    assert leading_number("430\u202f000 (100 % de CertDC) + 4 millions") == Decimal("430000")
    assert leading_number("12,5 %") == Decimal("12.5") and leading_number("32") == Decimal("32")
    assert leading_number("12 2023") == Decimal("12")  # thousands are grouped by three digits only
    assert leading_number("Au moins trois ministères") is None and leading_number("") is None
    assert leading_number(None) is None and leading_number("1,2,3") is None


def test_status_per_year_reached_late_to_come_and_qualitative():
    from app.domain.followup import QUALITATIVE, TargetStatus, target_years

    targets = {  # the HUB's second indicator ([001] §5.2), moved to 2026…2029, plus a qualitative year
        2026: "0",
        2027: "123 000 (25 % du volume total de CertDC)",
        2028: "307 000 (50 % du volume total de CertDC) + 800 000 (20 % des télé-dossiers DILA)",
        2029: "Généralisation à tous les ministères",
    }
    values = [  # newest first, as the follow-up reads them; the latest value of each year counts
        (date(2028, 3, 1), "150 000"),
        (date(2027, 12, 15), "125 000 télé-dossiers"),
        (date(2027, 6, 1), "90 000"),
    ]
    rows = target_years(targets, values, baseline="0", today=date(2028, 4, 1))
    by_year = {row.year: row for row in rows}
    assert [row.year for row in rows] == [2026, 2027, 2028, 2029]
    # 2026: over, nothing reported → late, said so
    assert by_year[2026].status == TargetStatus.EN_RETARD and "aucune valeur" in by_year[2026].note
    # 2027: the December value (125 000 ≥ 123 000) counts, not the June one
    assert by_year[2027].status == TargetStatus.ATTEINTE
    assert (by_year[2027].value, by_year[2027].reported_on) == ("125 000 télé-dossiers", date(2027, 12, 15))
    # 2028: not reached yet, the year is not over
    assert by_year[2028].status == TargetStatus.A_VENIR and by_year[2028].value == "150 000"
    # 2029: no number to compare with
    assert by_year[2029].status is None and by_year[2029].note == QUALITATIVE
    # once 2028 is over, the same values make it late
    later = target_years(targets, values, baseline="0", today=date(2029, 1, 1))
    assert later[2].status == TargetStatus.EN_RETARD
    assert (TargetStatus.ATTEINTE.label, TargetStatus.EN_RETARD.label, TargetStatus.A_VENIR.label) == (
        "Atteinte",
        "En retard",
        "À venir",
    )


def test_an_indicator_meant_to_go_down_is_reached_at_or_below_its_target():
    from app.domain.followup import TargetStatus, target_years

    rows = target_years(  # a processing delay in days: 30 today, 20 then 10
        {2027: "20 jours", 2028: "10 jours"},
        [(date(2027, 11, 2), "18"), (date(2028, 5, 1), "12")],
        baseline="30 jours",
        today=date(2028, 6, 1),
    )
    assert [r.status for r in rows] == [TargetStatus.ATTEINTE, TargetStatus.A_VENIR]
    # no numeric initial value: targets falling from year to year say the same
    rows = target_years({2027: "20", 2028: "10"}, [(date(2027, 11, 2), "25")], today=date(2028, 1, 2))
    assert rows[0].status == TargetStatus.EN_RETARD


def test_a_value_that_is_not_a_number_is_shown_without_a_status_and_the_summary_counts():
    from app.domain.followup import TargetStatus, target_years, targets_summary

    rows = target_years(
        {2027: "100", 2028: "200", 2029: "Déploiement national"},
        [(date(2027, 5, 1), "en cours de mesure"), (date(2028, 2, 1), "210")],
        today=date(2028, 3, 1),
    )
    assert rows[0].status is None and rows[0].note == "valeur non chiffrée"
    assert rows[1].status == TargetStatus.ATTEINTE
    assert targets_summary(rows) == "1 cible atteinte, 2 sans comparaison chiffrée"
    assert targets_summary([]) == ""


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
