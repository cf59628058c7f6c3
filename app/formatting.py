"""French formatting for people: Paris time, « 1er décembre 2026 », « 1 234 567 € », plurals.

Pure functions on top of Babel (CLDR data), imported by models, services, mails, exports and Jinja.
This module imports nothing of ours, so every layer may use it.
"""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_decimal, parse_pattern
from babel.numbers import format_percent as babel_format_percent

LOCALE = Locale.parse("fr_FR")
PARIS = ZoneInfo("Europe/Paris")
NARROW_NBSP = "\u202f"
NBSP = "\u00a0"
# What the pages print dozens of times, read from CLDR once: the month names and the number patterns.
MONTHS = dict(LOCALE.months["format"]["wide"])  # 12 → « décembre »


def paris(value: datetime) -> datetime:
    """An aware datetime seen from Paris (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(PARIS)


def paris_today(now: datetime | None = None) -> date:
    return paris(now or datetime.now(PARIS)).date()


@cache
def day_number(day: int) -> str:
    """« 1er », « 2 »: French writes the first day of a month as an ordinal (CLDR ordinal rule « one »)."""
    return f"{day}er" if LOCALE.ordinal_form(day) == "one" else str(day)


def format_date(value: date | datetime | None, *, with_year: bool = True) -> str:
    """« 1er décembre 2026 » (a datetime is shown as its Paris day)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = paris(value).date()
    text = f"{day_number(value.day)} {MONTHS[value.month]}"
    return f"{text} {value.year}" if with_year else text


def format_time(value: datetime) -> str:
    return f"{paris(value):%H:%M}"


def format_datetime(value: datetime | None, with_time: bool = True) -> str:
    """« 1er décembre 2026 à 14:00 » in Paris time."""
    if value is None:
        return ""
    text = format_date(value)
    return f"{text} à {format_time(value)}" if with_time else text


def format_number(value, *, decimals: int = 0) -> str:
    """« 1 234 567 » (narrow no-break space between thousands), « 1,5 » with decimals."""
    if value is None:
        return ""
    if not decimals:
        value = int(round(value))
    return _number_pattern(decimals).apply(value, LOCALE)


@cache
def _number_pattern(decimals: int):
    return parse_pattern("#,##0" + ("." + "#" * decimals if decimals else ""))


_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def parse_number(value) -> Decimal | None:
    """A number as people type it in French — « 1 275 000 », « 1,5 », « 1 275 000 € », « 0,5 ETP » kept to
    the figure, « 12,5 % » — the one parser of typed amounts and counts (the decimal separator is a comma,
    a point is accepted too; spaces group thousands). None when empty; ValueError when not a number."""
    if value is None:
        return None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    text = str(value).translate(_SPACES).removesuffix("€").removesuffix("%").strip()
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise ValueError(value)
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
        raise ValueError(value) from None


def format_megabytes(size: int | None) -> str:
    """A size limit in bytes as the French « 10 Mo » (one decimal when not a whole number: « 0,5 Mo »)."""
    if not size:
        return ""
    value = size / (1024 * 1024)
    return f"{format_number(value, decimals=0 if value == int(value) else 1)} Mo"


def format_euros(value) -> str:
    """« 1 234 567 € »: whole euros, the way the source contracts write amounts."""
    if value is None:
        return ""
    return f"{format_number(value)}{NBSP}€"


def format_cents(cents: int) -> str:
    """250 → « 2,50 € », 100 → « 1 € »: a ratio in euros per euro, kept to the cent."""
    euros = format_decimal(cents / 100, format="#,##0.00", locale=LOCALE).removesuffix(",00")
    return f"{euros}{NBSP}€"


def format_percent(value: float | None, *, decimals: int = 0) -> str:
    """0.33 → « 33 % »."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "") + "\u00a0%"
    return babel_format_percent(value, format=pattern, locale=LOCALE)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """« 1 jour », « 0 jour », « 2 jours »: French treats 0 and 1 as singular (CLDR plural rule « one »)."""
    word = singular if LOCALE.plural_form(abs(count)) == "one" else (plural_form or singular + "s")
    return f"{format_number(count)} {word}"


def in_days(days: int) -> str:
    """« aujourd'hui », « demain », « dans 3 jours », « il y a 2 jours »."""
    if days == 0:
        return "aujourd'hui"
    if days == 1:
        return "demain"
    if days == -1:
        return "hier"
    return f"dans {plural(days, 'jour')}" if days > 0 else f"il y a {plural(-days, 'jour')}"
