"""Cron expressions in cronie's 5-field dialect, parsed once into sets that are cheap to match.

Accepted: numbers, month and day-of-week names (`jan`, `MON`; three letters, any case), `*`, lists,
ranges `a-b`, steps `a-b/n` and `*/n`, day-of-week 0-7 (0 and 7 are Sunday) and the macros @yearly,
@annually, @monthly, @weekly, @daily, @midnight and @hourly (lower case only, as in cronie, whose
macro names are case-sensitive). Refused, as cronie refuses them: @reboot (there is no reboot to run
at), 6-field (seconds) expressions, `a/n` without a range, wrapping ranges such as `5-1`, and the
extensions of other crons that have no meaning here (`?`, `H`, `~`). Refused as well: a step larger
than the field's number of values (`*/99999999999999999999`: cronie reads it with atoi, whose overflow
is undefined), and a rule that can never fire (`0 0 30 2 *`, `0 0 L-29 2 *`), so no caller ever
searches for it forever. Error messages quote the expression as it was written.

The day extensions of Quartz, Spring and AWS EventBridge are accepted as list items of the two day
fields (any case; each is a day of its own month, never one of the next):

* day of month: `L` (the last day), `L-n` (n days before the last, 0 <= n <= 30; none in a month
  with n days or fewer), `nW` (the weekday, Monday to Friday, nearest the nth: a Saturday moves to
  the Friday before and a Sunday to the Monday after, but never out of the month, so `1W` on a
  Saturday is Monday the 3rd; none when the month has no nth), `LW` (the last weekday);
* day of week: `d#n` (the nth d of the month, 1 <= n <= 5; none in a month without one), `dL` (the
  last d of the month), d a number 0-7 or a name (`MON#1`, `5L`, `FRIL`).

They join the field's other values, and cron's day rule is unchanged: when both day fields are
restricted (neither starts with `*`), a day matches if either does.

This module only knows about sets; when a rule fires in a given time zone is `core.engine.timing`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

# (name used in messages, lowest value, highest value) for the five fields, in order.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# The most days each month can have: February counts its leap day, which does come round.
MAX_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Long enough for any real rule (every minute listed is 170 characters), short enough that a hostile
# value costs nothing to refuse.
MAX_LENGTH = 1000

# One list item: `*` or a value or a range `a-b`, then an optional `/step`. Names are letters; what
# they mean (and whether the field takes names at all) is checked after the match.
_ITEM = re.compile(r"(?:(\*)|([0-9]+|[A-Za-z]+)(?:-([0-9]+|[A-Za-z]+))?)(?:/([0-9]+))?", re.ASCII)
_BAD_CHAR = re.compile(r"[^\x21-\x7e \t]")
# The day extensions (see the module's docstring), tried before a plain item.
_DOM_LAST = re.compile(r"L(?:-([0-9]+))?", re.ASCII | re.IGNORECASE)
_DOM_NEAREST = re.compile(r"([0-9]+)W", re.ASCII | re.IGNORECASE)
_DOM_LAST_WEEKDAY = re.compile(r"LW", re.ASCII | re.IGNORECASE)
_DOW_NTH = re.compile(r"([0-9]+|[A-Za-z]{3})#([0-9]+)", re.ASCII)
_DOW_LAST = re.compile(r"([0-9]+|[A-Za-z]{3})L", re.ASCII | re.IGNORECASE)
# Marks of other crons' extensions, named when a field cannot be read.
_EXTENSIONS = ("#", "?", "L", "W", "H", "~")
# The Gregorian calendar repeats every 400 years (146,097 days, a whole number of weeks): a rule
# that matches no day in one such cycle never fires.
_CYCLE_START = 2000


class CronError(ValueError):
    """A cron expression that cronie would refuse, or that never fires. The message reads after
    the words "cron_expression" (e.g. "must have 5 fields, got 6"); `problems` lists each problem
    apart (one per bad field, each naming its field), so a person fixes them all in one go."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True)
class CronSpec:
    """What a parsed expression matches. Day-of-week uses 0=Sunday..6=Saturday (7 folded into 0)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    # cron's day rule: when both day fields are restricted (neither starts with `*`), a day matches
    # if EITHER matches; otherwise both must match.
    day_or: bool
    # cronie's daylight-saving rule applies to fixed-time jobs only; a job whose minute or hour
    # field starts with `*` runs by the wall clock, with no catch-up in a gap.
    wildcard: bool
    # The day extensions, each a tuple: day of month ("L", n) for L and L-n, ("W", n) for nW,
    # ("LW",); day of week ("#", d, n) for d#n and ("L", d) for dL (d with 0=Sunday).
    dom_special: tuple[tuple[str, ...], ...] = ()
    dow_special: tuple[tuple[str, ...], ...] = ()


def month_days(dom_special, dow_special, length: int, first_weekday: int) -> tuple[int, int]:
    """The days (bit d set for day d) the extensions match in a month of `length` days whose 1st is
    `first_weekday` (0=Sunday): (day-of-month field's, day-of-week field's)."""
    dom = 0
    for item in dom_special:
        kind = item[0]
        if kind == "L":
            day = length - item[1]
        elif kind == "W":
            day = _nearest_weekday(item[1], length, first_weekday)
        else:  # LW
            day = _nearest_weekday(length, length, first_weekday)
        if day >= 1:
            dom |= 1 << day
    dow = 0
    for item in dow_special:
        first = 1 + (item[1] - first_weekday) % 7  # the month's first such weekday
        if item[0] == "#":
            day = first + 7 * (item[2] - 1)
        else:  # L: the last one
            day = first + 7 * ((length - first) // 7)
        if day <= length:
            dow |= 1 << day
    return dom, dow


def _nearest_weekday(day: int, length: int, first_weekday: int) -> int:
    """The Monday-to-Friday day nearest `day` inside the month (0 when the month has no such day)."""
    if day > length:
        return 0
    weekday = (first_weekday + day - 1) % 7
    if weekday == 6:  # Saturday: the Friday before, or Monday the 3rd when it is the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 0:  # Sunday: the Monday after, or the Friday before when it is the last day
        return day + 1 if day < length else day - 2
    return day


@lru_cache(maxsize=4096)
def parse(expression: str) -> CronSpec:
    """Parse a cron expression or raise CronError saying what is wrong with it."""
    text = expression.strip()
    if not text:
        raise CronError("is empty")
    if len(text) > MAX_LENGTH:
        raise CronError(f"is longer than {MAX_LENGTH} characters")
    if _BAD_CHAR.search(text):
        raise CronError("contains a character that is not printable ASCII")
    if text.startswith("@"):
        if text == "@reboot":
            raise CronError("@reboot is not supported: a schedule has no reboot to run at")
        if text not in MACROS:
            hint = f"; macro names are lower case: {text.lower()}" if text.lower() in MACROS else ""
            raise CronError(f"has an unknown macro {text!r} (known: {', '.join(MACROS)}){hint}")
        text = MACROS[text]
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"must have 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")

    parsed, specials, problems = [], [], []
    for index, part in enumerate(parts):  # every field is read, so every bad one is named at once
        try:
            values, special = _parse_field(part, index)
            parsed.append(values)
            specials.append(special)
        except CronError as error:
            problems.append(str(error))
    if problems:
        raise CronError("; ".join(problems), problems)
    minutes, hours, days, months, weekdays = parsed
    weekdays = frozenset(d % 7 for d in weekdays)
    day_or = not parts[2].startswith("*") and not parts[4].startswith("*")
    spec = CronSpec(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        day_or=day_or,
        wildcard=parts[0].startswith("*") or parts[1].startswith("*"),
        dom_special=specials[2],
        dow_special=specials[4],
    )
    _check_fires(spec, parts[2], parts[4])
    return spec


def _parse_field(text: str, index: int) -> tuple[frozenset[int], tuple[tuple, ...]]:
    """The field's plain values, and its day extensions (a tuple of items, see CronSpec)."""
    name, low, high = FIELDS[index]
    values: set[int] = set()
    special: list[tuple] = []
    for item in text.split(","):
        extension = _special(item, index, text) if index in (2, 4) else None
        if extension is not None:
            if extension not in special:
                special.append(extension)
            continue
        match = _ITEM.fullmatch(item)
        if match is None:
            extension = next((mark for mark in _EXTENSIONS if mark in item.upper()), None)
            if extension in ("L", "W", "#"):
                hint = (" (the day fields take `L`, `L-n`, `nW` and `LW` in day-of-month, `d#n` and `dL` "
                        "in day-of-week)")
            else:
                hint = f" (`{extension}` is another cron's extension, not cron's)" if extension else ""
            raise CronError(f"has a bad {name} field {text!r}: cannot read {item!r}{hint}")
        star, first, last, step_text = match.groups()
        if star:
            start, stop = low, high
        else:
            start = _value(first, index, text)
            stop = start if last is None else _value(last, index, text)
            if last is None and step_text is not None:
                # cronie reads `5/15` as an error, not as "from 5 every 15": say what it means.
                raise CronError(
                    f"has a bad {name} field {text!r}: a step needs a range, "
                    f"e.g. {first}-{high}/{step_text}"
                )
            if start > stop:
                raise CronError(f"has a bad {name} field {text!r}: range {item!r} runs backwards")
        step = 1 if step_text is None else int(step_text)
        if step == 0:
            raise CronError(f"has a bad {name} field {text!r}: step 0")
        if step > high - low + 1:  # a step past the field's span matches its first value only
            raise CronError(f"has a bad {name} field {text!r}: step {step_text} is more than {high - low + 1}")
        values.update(range(start, stop + 1, step))
    return frozenset(values), tuple(special)


def _special(item: str, index: int, field_text: str) -> tuple | None:
    """The day extension `item` spells, None when it is not one (then it is read as a plain item)."""
    name = FIELDS[index][0]
    if index == 2:
        if _DOM_LAST_WEEKDAY.fullmatch(item):
            return ("LW",)
        match = _DOM_LAST.fullmatch(item)
        if match:
            before = int(match.group(1) or 0)
            if before > 30:
                raise CronError(f"has a bad {name} field {field_text!r}: {item!r} counts {before} days "
                                f"back from the last, at most 30")
            return ("L", before)
        match = _DOM_NEAREST.fullmatch(item)
        if match:
            day = int(match.group(1))
            if not 1 <= day <= 31:
                raise CronError(f"has a bad {name} field {field_text!r}: {item!r} names day {day}, "
                                f"out of range 1-31")
            return ("W", day)
        return None
    if item.upper() == "L":
        raise CronError(f"has a bad {name} field {field_text!r}: `L` alone is not a day of the week; "
                        f"`dL` is the last d of the month (`5L`, `FRIL`), `L` in day-of-month its last day")
    match = _DOW_NTH.fullmatch(item)
    if match:
        weekday = _value(match.group(1), index, field_text) % 7
        nth = int(match.group(2))
        if not 1 <= nth <= 5:
            raise CronError(f"has a bad {name} field {field_text!r}: {item!r} asks for occurrence {nth} "
                            f"of the month, out of range 1-5")
        return ("#", weekday, nth)
    match = _DOW_LAST.fullmatch(item)
    if match and (match.group(1).isdigit() or match.group(1).lower() in DOW_NAMES):
        return ("L", _value(match.group(1), index, field_text) % 7)
    return None


def _value(token: str, index: int, field_text: str) -> int:
    name, low, high = FIELDS[index]
    if token.isdigit():
        value = int(token)
        if not low <= value <= high:
            raise CronError(
                f"has a bad {name} field {field_text!r}: {value} is out of range {low}-{high}"
            )
        return value
    names = MONTH_NAMES if index == 3 else DOW_NAMES if index == 4 else ()
    if token.lower() in names:  # names are case-insensitive in cronie (strcasecmp)
        return names.index(token.lower()) + (1 if index == 3 else 0)
    raise CronError(f"has a bad {name} field {field_text!r}: unknown value {token!r}")


def _check_fires(spec: CronSpec, dom_text: str, dow_text: str) -> None:
    months = ",".join(MONTH_NAMES[m - 1] for m in sorted(spec.months))
    if spec.dom_special or spec.dow_special:
        # Walk the months of one 400-year cycle (the first match ends the walk at once for a
        # rule that fires: only one that never does walks all 4,800).
        if not any(_fires_in(spec, year, month)
                   for year in range(_CYCLE_START, _CYCLE_START + 400) for month in sorted(spec.months)):
            raise CronError(f"never fires: no day in {months} matches day-of-month {dom_text!r} "
                            f"{'or' if spec.day_or else 'and'} day-of-week {dow_text!r}")
        return
    # With the OR rule every month has days of every weekday, so a restricted day-of-week always
    # fires. Otherwise a day must match day-of-month in some allowed month; any such date falls
    # on every weekday in the 400-year Gregorian cycle (Feb 29 included), so that is enough.
    if spec.day_or:
        return
    if any(day <= MAX_MONTH_DAYS[month] for month in spec.months for day in spec.days):
        return
    days = ",".join(str(d) for d in sorted(spec.days))
    raise CronError(f"never fires: no month in {months} has day {days}")


def _fires_in(spec: CronSpec, year: int, month: int) -> bool:
    first = date(year, month, 1)
    length = (date(year + month // 12, month % 12 + 1, 1) - first).days
    first_weekday = first.toordinal() % 7
    special_dom, special_dow = month_days(spec.dom_special, spec.dow_special, length, first_weekday)
    dom = special_dom | sum(1 << d for d in spec.days if d <= length)
    dow = special_dow | sum(1 << d for d in range(1, length + 1) if (first_weekday + d - 1) % 7 in spec.weekdays)
    return bool((dom | dow) if spec.day_or else (dom & dow))
