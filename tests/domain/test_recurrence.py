"""Committee recurrence rules on dateutil.rrule (app/domain/recurrence.py): no database."""

from datetime import UTC, date, datetime

import pytest

from app.domain import recurrence


def test_first_tuesday_monthly_at_14h_paris_in_winter_and_summer():
    rule = recurrence.Recurrence.parse("FREQ=MONTHLY;BYDAY=1TU", "14:00")
    days = rule.dates(date(2026, 12, 1), date(2027, 7, 31))
    assert days[:3] == [date(2026, 12, 1), date(2027, 1, 5), date(2027, 2, 2)]
    assert days[-1] == date(2027, 7, 6)
    assert rule.starts_at(date(2027, 1, 5)) == datetime(2027, 1, 5, 13, 0, tzinfo=UTC)  # UTC+1
    assert rule.starts_at(date(2027, 7, 6)) == datetime(2027, 7, 6, 12, 0, tzinfo=UTC)  # UTC+2
    assert rule.label == "le premier mardi de chaque mois à 14:00 (heure de Paris)"


def test_last_friday_and_weekly_rules():
    last = recurrence.Recurrence.parse("FREQ=MONTHLY;BYDAY=-1FR", "09:30")
    assert last.dates(date(2027, 1, 1), date(2027, 3, 31)) == [
        date(2027, 1, 29),
        date(2027, 2, 26),
        date(2027, 3, 26),
    ]
    weekly = recurrence.Recurrence.parse("FREQ=WEEKLY;BYDAY=WE", "10:00")
    assert weekly.dates(date(2027, 1, 1), date(2027, 1, 20)) == [
        date(2027, 1, 6),
        date(2027, 1, 13),
        date(2027, 1, 20),
    ]


@pytest.mark.parametrize(
    "rule, time, field",
    [
        ("FREQ=DAILY", "14:00", "recurrence"),
        ("FREQ=MONTHLY;BYDAY=TU", "14:00", "recurrence"),
        ("FREQ=MONTHLY;BYDAY=1TU", "25:00", "recurrence_time"),
        ("FREQ=WEEKLY;BYDAY=2WE", "10:00", "recurrence"),
    ],
)
def test_bad_recurrence_rules_are_refused_in_french(rule, time, field):
    with pytest.raises(recurrence.InvalidRecurrence) as error:
        recurrence.Recurrence.parse(rule, time)
    assert field in error.value.errors


def test_every_other_week_counts_from_the_committees_first_meeting():
    """INTERVAL=2: the weeks follow the parity of the first meeting, not of a fixed date."""
    rule = recurrence.Recurrence.parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "10:00")
    assert rule.label == "un lundi sur 2, à 10:00"
    # first meeting on Monday 11 January 2027: then the 25th, 8 February, 22 February…
    assert rule.dates(date(2027, 1, 1), date(2027, 2, 28), first=date(2027, 1, 11)) == [
        date(2027, 1, 11),
        date(2027, 1, 25),
        date(2027, 2, 8),
        date(2027, 2, 22),
    ]
    # a committee whose first meeting was on Monday 4 January 2027 meets the other Mondays
    assert rule.dates(date(2027, 1, 1), date(2027, 2, 28), first=date(2027, 1, 4)) == [
        date(2027, 1, 4),
        date(2027, 1, 18),
        date(2027, 2, 1),
        date(2027, 2, 15),
    ]
    # counted from a first meeting long ago, or still to come: the same parity
    assert rule.dates(date(2027, 1, 1), date(2027, 1, 31), first=date(2026, 6, 8))[0] == date(2027, 1, 4)
    assert rule.dates(date(2027, 1, 1), date(2027, 1, 31), first=date(2027, 3, 8))[0] == date(2027, 1, 11)


def test_every_four_months_counts_from_the_first_meeting():
    rule = recurrence.Recurrence.parse("FREQ=MONTHLY;INTERVAL=4;BYDAY=2WE", "10:00")
    assert rule.label == "le deuxième mercredi tous les 4 mois à 10:00 (heure de Paris)"
    assert rule.dates(date(2027, 1, 1), date(2027, 12, 31), first=date(2027, 3, 10)) == [
        date(2027, 3, 10),
        date(2027, 7, 14),
        date(2027, 11, 10),
    ]
