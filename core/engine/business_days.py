"""Business calendars: which local days are days off (a public holiday, a weekend day, one of the
office's own days off) and why, and what a schedule's `on_holiday` policy does with them.

Pure, like the rest of core/engine: public holidays come from the pinned `holidays` package (data in
the wheel, no I/O), everything else from the calendar's own fields. A calendar is a frozen, hashable
value, so the time engine caches what it compiles from one; changing a calendar makes a new value.

A day is a business day unless it is one of `add_dates`, a public holiday of the country (and
subdivision), or a `weekend` day (ISO weekdays, 1 = Monday .. 7 = Sunday); `remove_dates` are
worked whatever else they are (a holiday the office works, a Saturday opening).

`on_holiday` (core.model.ON_HOLIDAY_POLICIES) says what happens to an occurrence whose day is a day
off: `run` (nothing), `skip` (no run that day), `next_business_day` / `previous_business_day` (the
day's runs move, at the same wall times, to the nearest business day after / before it). Several
occurrences moving onto one day, or onto a day that runs anyway, make that day's runs once: a move
never makes two runs on the same day at the same time. `core.engine.timing` applies the policy to
whole days, before its daylight-saving rule picks the instant on the day.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import holidays

# ISO weekdays, as the API takes them.
ISO_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_WEEKEND = (6, 7)
# The longest run of days off a move looks across (a calendar may list at most MAX_DATES dates, and
# a weekend leaves at least one working day a week, so no real run of days off comes near it).
MAX_MOVE_DAYS = 400
MAX_DATES = 366
HOLIDAYS_VERSION = holidays.__version__


class CalendarError(ValueError):
    """A calendar field that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@lru_cache(maxsize=None)
def _supported() -> dict[str, tuple[str, ...]]:
    return {code.upper(): tuple(subdivisions) for code, subdivisions in holidays.list_supported_countries().items()}


def countries() -> dict[str, tuple[str, ...]]:
    """Every ISO 3166 country code the `holidays` package knows, with its subdivision codes."""
    return dict(_supported())


def check_place(country: Any, subdivision: Any) -> tuple[str, str | None]:
    """(country, subdivision) spelled as the package spells them, or CalendarError naming the field."""
    if not isinstance(country, str) or country.upper() not in _supported():
        raise CalendarError("country", f"unknown country {country!r}: an ISO 3166 alpha-2 code the holidays "
                                       f"package {HOLIDAYS_VERSION} knows, e.g. US, GB, DE")
    code = country.upper()
    if subdivision is None or subdivision == "":
        return code, None
    known = _supported()[code]
    match = next((s for s in known if isinstance(subdivision, str) and s.upper() == subdivision.upper()), None)
    if match is None:
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise CalendarError("subdivision", f"unknown subdivision {subdivision!r} of {code}"
                                           + (f" (known: {shown})" if known else " (it has none)"))
    return code, match


@lru_cache(maxsize=4096)
def _holidays(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    kind = holidays.country_holidays(country, subdiv=subdivision, years=year)
    if "en_US" in (kind.supported_languages or ()):
        kind = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    return {day: name for day, name in kind.items() if day.year == year}


@dataclass(frozen=True)
class BusinessCalendar:
    """One account's calendar, as the engine needs it (see the module's docstring)."""

    country: str
    subdivision: str | None = None
    weekend: frozenset[int] = frozenset(DEFAULT_WEEKEND)
    add_dates: frozenset[date] = frozenset()
    remove_dates: frozenset[date] = frozenset()

    @property
    def place(self) -> str:
        """`US`, `GB-SCT`: how a reason names the calendar's holidays."""
        return self.country if self.subdivision is None else f"{self.country}-{self.subdivision}"

    def holiday(self, day: date) -> str | None:
        """The public holiday's name on `day`, or None."""
        if not 1 <= day.year <= 9999:
            return None
        return _holidays(self.country, self.subdivision, day.year).get(day)

    def day_off(self, day: date) -> str | None:
        """Why `day` is not a business day ('is Christmas Day (US)'), or None when it is one."""
        if day in self.remove_dates:
            return None
        if day in self.add_dates:
            return "is a day off of this calendar (add_dates)"
        name = self.holiday(day)
        if name is not None:
            return f"is {name} ({self.place})"
        if day.isoweekday() in self.weekend:
            return f"is a {ISO_DAYS[day.isoweekday() - 1]}, a weekend day"
        return None

    def is_business_day(self, day: date) -> bool:
        return self.day_off(day) is None


def check_dates(field: str, values: Any) -> frozenset[date]:
    """A list of ISO dates ('2027-12-24'), or CalendarError naming the field."""
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise CalendarError(field, f"{field} must be a list of dates (YYYY-MM-DD)")
    if len(values) > MAX_DATES:
        raise CalendarError(field, f"{field} holds at most {MAX_DATES} dates, got {len(values)}")
    days = set()
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            days.add(value)
            continue
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError(value)
            days.add(date.fromisoformat(value))
        except ValueError:
            raise CalendarError(field, f"{field} must hold dates as YYYY-MM-DD, got {value!r}") from None
    return frozenset(days)


def check_weekend(values: Any) -> frozenset[int]:
    if not isinstance(values, (list, tuple, set, frozenset)) or not all(
            type(v) is int and 1 <= v <= 7 for v in values):
        raise CalendarError("weekend", "weekend must be a list of ISO weekdays, 1 (Monday) to 7 (Sunday)")
    if len(set(values)) == 7:
        raise CalendarError("weekend", "weekend must leave at least one working day in the week")
    return frozenset(values)


def from_mapping(fields: Mapping[str, Any]) -> BusinessCalendar:
    """A BusinessCalendar from a calendar's fields (a row, a JSON object); CalendarError when bad."""
    key = (fields.get("country"), fields.get("subdivision"),
           tuple(fields.get("weekend") or ()) if fields.get("weekend") is not None else None,
           _as_tuple(fields.get("add_dates")), _as_tuple(fields.get("remove_dates")))
    try:
        hash(key)
    except TypeError:
        return _build.__wrapped__(*key)
    return _build(*key)


def _as_tuple(value: Any) -> Any:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else value


@lru_cache(maxsize=1024)
def _build(country, subdivision, weekend, add_dates, remove_dates) -> BusinessCalendar:
    country, subdivision = check_place(country, subdivision)
    weekend_days = frozenset(DEFAULT_WEEKEND) if weekend is None else check_weekend(list(weekend))
    added = check_dates("add_dates", list(add_dates) if isinstance(add_dates, tuple) else add_dates)
    removed = check_dates("remove_dates", list(remove_dates) if isinstance(remove_dates, tuple) else remove_dates)
    both = sorted(added & removed)
    if both:
        raise CalendarError("remove_dates", f"{both[0].isoformat()} is in both add_dates and remove_dates")
    return BusinessCalendar(country, subdivision, weekend_days, added, removed)
