"""Cron expressions in cronie's 5-field dialect, parsed once into sets that are cheap to match.

Accepted: numbers, month and day-of-week names (`jan`, `MON`; three letters, any case), `*`, lists,
ranges `a-b`, steps `a-b/n` and `*/n`, day-of-week 0-7 (0 and 7 are Sunday) and the macros @yearly,
@annually, @monthly, @weekly, @daily, @midnight and @hourly (lower case only, as in cronie, whose
macro names are case-sensitive). Refused, as cronie refuses them: @reboot (there is no reboot to run
at), 6-field (seconds) expressions, `a/n` without a range, wrapping ranges such as `5-1`, and the
extensions of other crons (`L`, `W`, `#`, `?`, `H`, `~`). Refused as well: a step larger than the
field's number of values (`*/99999999999999999999`: cronie reads it with atoi, whose overflow is
undefined), and a rule that can never fire (`0 0 30 2 *`), so no caller ever searches for it forever.
Error messages quote the expression as it was written.

This module only knows about sets; when a rule fires in a given time zone is `core.engine.timing`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
# Marks of other crons' extensions (Quartz's L, W and #, ?), named when a field cannot be read.
_EXTENSIONS = ("#", "?", "L", "W")


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

    parsed, problems = [], []
    for index, part in enumerate(parts):  # every field is read, so every bad one is named at once
        try:
            parsed.append(_parse_field(part, index))
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
    )
    _check_fires(spec)
    return spec


def _parse_field(text: str, index: int) -> frozenset[int]:
    name, low, high = FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            extension = next((mark for mark in _EXTENSIONS if mark in item.upper()), None)
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
    return frozenset(values)


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


def _check_fires(spec: CronSpec) -> None:
    # With the OR rule every month has days of every weekday, so a restricted day-of-week always
    # fires. Otherwise a day must match day-of-month in some allowed month; any such date falls
    # on every weekday in the 400-year Gregorian cycle (Feb 29 included), so that is enough.
    if spec.day_or:
        return
    if any(day <= MAX_MONTH_DAYS[month] for month in spec.months for day in spec.days):
        return
    days = ",".join(str(d) for d in sorted(spec.days))
    months = ",".join(MONTH_NAMES[m - 1] for m in sorted(spec.months))
    raise CronError(f"never fires: no month in {months} has day {days}")
