"""Committee recurrence rules on `dateutil.rrule`.

A committee stores an RRULE-like text ("FREQ=MONTHLY;BYDAY=1TU", "FREQ=WEEKLY;BYDAY=MO",
"FREQ=MONTHLY;INTERVAL=4;BYDAY=2WE") and a Paris time ("14:00"). Occurrences are counted from the committee's
first meeting (DTSTART), so that « one Monday out of two » keeps the parity of the committee's first session.
Plain values in, values out (no database).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from ..formatting import PARIS

WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
WEEKDAY_LABELS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
ORDINAL_LABELS = {1: "premier", 2: "deuxième", 3: "troisième", 4: "quatrième", -1: "dernier"}
FREQUENCIES = ("MONTHLY", "WEEKLY")
BYDAY_PATTERN = re.compile(r"^(-1|[1-4])?(MO|TU|WE|TH|FR|SA|SU)$")
TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
UNKNOWN_RULE = (
    "Règle non reconnue : écrivez par exemple FREQ=MONTHLY;BYDAY=1TU (premier mardi "
    "du mois) ou FREQ=WEEKLY;BYDAY=WE (chaque mercredi)."
)
TIME_EXPECTED = "Heure attendue au format HH:MM, par exemple 14:00."


class InvalidRecurrence(ValueError):
    """A rule or time that cannot be used; `errors`: {field: French message} (recurrence, recurrence_time)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _parts(text: str) -> dict[str, str] | None:
    parts = {}
    for chunk in text.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep or not key or not value or key in parts:
            return None
        parts[key] = value
    return parts


def _rule_error(text: str) -> str | None:
    """The French message for a rule text that is not one of ours, else None."""
    parts = _parts(text)
    if not parts or set(parts) - {"FREQ", "INTERVAL", "BYDAY"} or parts.get("FREQ") not in FREQUENCIES:
        return UNKNOWN_RULE
    byday = BYDAY_PATTERN.match(parts.get("BYDAY", ""))
    interval = parts.get("INTERVAL", "1")
    if byday is None or not interval.isdigit() or len(interval) > 2:
        return UNKNOWN_RULE
    if parts["FREQ"] == "MONTHLY" and not byday.group(1):
        return "Une règle mensuelle précise le rang du jour : 1TU, 2TH, -1FR…"
    if parts["FREQ"] == "WEEKLY" and byday.group(1):
        return "Une règle hebdomadaire ne précise pas de rang : BYDAY=WE."
    if not 1 <= int(interval) <= 12:
        return "L'intervalle doit être compris entre 1 et 12."
    try:
        rrulestr(text, dtstart=datetime(2000, 1, 1))
    except ValueError:
        return UNKNOWN_RULE
    return None


def time_error(time_text: str | None) -> str | None:
    return None if TIME_PATTERN.match((time_text or "").strip()) else TIME_EXPECTED


@dataclass(frozen=True)
class Recurrence:
    rule: str  # normalised: "FREQ=MONTHLY;BYDAY=1TU"
    freq: str  # MONTHLY | WEEKLY
    interval: int
    weekday: int
    ordinal: int | None  # 1..4 or -1 for monthly rules
    hour: int
    minute: int

    @classmethod
    def parse(cls, rule: str | None, time_text: str | None) -> "Recurrence":
        """Read "FREQ=MONTHLY;BYDAY=1TU" + "14:00"; raises InvalidRecurrence with French messages."""
        text = (rule or "").strip().upper()
        errors = {}
        if message := _rule_error(text):
            errors["recurrence"] = message
        if message := time_error(time_text):
            errors["recurrence_time"] = message
        if errors:
            raise InvalidRecurrence(errors)
        parts = _parts(text)
        byday = BYDAY_PATTERN.match(parts["BYDAY"])
        hour, minute = (int(x) for x in time_text.strip().split(":"))
        return cls(
            text,
            parts["FREQ"],
            int(parts.get("INTERVAL", "1")),
            WEEKDAYS[byday.group(2)],
            int(byday.group(1)) if byday.group(1) else None,
            hour,
            minute,
        )

    @property
    def label(self) -> str:
        """In French: « le premier mardi de chaque mois à 14:00 (heure de Paris) », « chaque lundi à 10:00 »
        (the wording the pages show)."""
        at = f"{self.hour:02d}:{self.minute:02d}"
        weekday = WEEKDAY_LABELS[self.weekday]
        if self.freq == "WEEKLY":
            if self.interval == 1:
                return f"chaque {weekday} à {at}"
            return f"un {weekday} sur {self.interval}, à {at}"
        months = "de chaque mois" if self.interval == 1 else f"tous les {self.interval} mois"
        return f"le {ORDINAL_LABELS[self.ordinal]} {weekday} {months} à {at} (heure de Paris)"

    def dates(self, start: date, end: date, *, first: date | None = None) -> list[date]:
        """Occurrence dates in [start, end], counted from `first` (the committee's first meeting; default
        `start`): an INTERVAL of 2 weeks or 4 months keeps the parity of that first date."""
        anchor = first or start
        period = (
            relativedelta(weeks=self.interval)
            if self.freq == "WEEKLY"
            else relativedelta(months=self.interval)
        )
        while anchor > start:  # a first meeting still to come: step back whole periods, same parity
            anchor -= period
        anchor = datetime.combine(anchor, time())
        occurrences = rrulestr(self.rule, dtstart=anchor).between(
            datetime.combine(start, time()), datetime.combine(end, time()), inc=True
        )
        return [moment.date() for moment in occurrences]

    def starts_at(self, day: date) -> datetime:
        """The occurrence's start in UTC (14:00 in Paris, winter or summer time)."""
        return datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=PARIS).astimezone(UTC)
