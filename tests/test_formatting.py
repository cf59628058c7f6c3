"""French formatting as people read it (app/formatting.py)."""

from datetime import UTC, date, datetime

from app.formatting import (
    format_cents,
    format_date,
    format_datetime,
    format_euros,
    format_number,
    format_percent,
    in_days,
    paris_today,
    plural,
)


def test_the_first_of_the_month_is_an_ordinal():
    assert format_date(date(2026, 12, 1)) == "1er décembre 2026"
    assert format_date(date(2026, 12, 2)) == "2 décembre 2026"
    assert format_date(date(2027, 8, 21), with_year=False) == "21 août"


def test_datetimes_are_shown_in_paris_time():
    # 23:30 UTC on 30 November is already 1 December in Paris (UTC+1 in winter)
    assert format_datetime(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == "1er décembre 2026 à 00:30"
    assert format_datetime(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "1er juillet 2026 à 14:00"
    assert format_datetime(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), with_time=False) == "1er juillet 2026"
    assert format_datetime(None) == "" and format_date(None) == ""


def test_paris_today_follows_the_paris_calendar():
    assert paris_today(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == date(2026, 12, 1)


def test_numbers_and_euros_use_french_separators():
    assert format_number(1234567) == "1\u202f234\u202f567"
    assert format_number(1.5, decimals=1) == "1,5"
    assert format_euros(1275000) == "1\u202f275\u202f000\u00a0€"
    assert format_euros(None) == ""
    assert format_percent(0.3311) == "33\u00a0%"


def test_plurals_follow_french_rules():
    assert plural(0, "jour") == "0 jour"
    assert plural(1, "jour") == "1 jour"
    assert plural(2, "jour") == "2 jours"
    assert plural(3, "travail", "travaux") == "3 travaux"


def test_relative_days_read_naturally():
    assert in_days(0) == "aujourd'hui"
    assert in_days(1) == "demain"
    assert in_days(5) == "dans 5 jours"
    assert in_days(-2) == "il y a 2 jours"


def test_cents_of_a_euro():
    assert (format_cents(250), format_cents(100), format_cents(7)) == (
        "2,50\u00a0€",
        "1\u00a0€",
        "0,07\u00a0€",
    )
