"""When a schedule runs: validation of its timing fields and its next runs, as UTC instants.

A pure module: no database, no clock (callers pass the instant to count from), no Flask. The rules
are docs/semantics.md's; the ones that need care are cronie's daylight-saving rules.
Runs are computed up to RANGE_END (9998-12-31T00:00:00Z) and never after it: the ticker simply finds
no next run there, and `next_runs_in_range` (for previews, where a person asked for N runs) says so
with a RangeEndError instead of printing fewer.
Wall-clock rules match local wall times (whole minutes) in the schedule's IANA zone, and then:

* a *wildcard* rule (minute or hour field starting with `*`; `hourly`) runs at every instant whose
  wall clock shows a matching time: twice in a fall-back overlap, never inside a gap;
* a *fixed-time* rule (everything else) runs at g(W), the first instant at which the wall clock
  reads W or later. That single definition gives both DST rules at once: in an overlap it is the
  first of the two occurrences, in a gap it is the end of the gap (the clock jumped over W there),
  and since g never decreases, wall times mapping to one instant make one run.

How it stays fast (the ticker asks for tens of thousands of next runs a second):

* A zone's offsets are kept as constant-offset segments, found once per zone and ~388-day chunk by
  probing zoneinfo a day apart and bisecting each change to the second (every change in tzdata is
  more than four days from the next, so a daily probe misses none). Inside a segment local time is
  UTC plus a constant, so instants and wall times convert with one addition.
* Rules are compiled once (lru caches keyed by the timing fields) into sorted minutes of the day and
  per-month bitmasks of matching days, so the next matching wall time is a bisect and a few bit
  operations; nothing ever steps minute by minute.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from core.engine import cron
from core.engine.business_days import MAX_MOVE_DAYS, BusinessCalendar
from core.model import (
    BOUNDS,
    CADENCES,
    DEFAULT_ON_HOLIDAY,
    DEFAULT_SEND_HOUR,
    DEFAULT_SEND_MINUTE,
    DEFAULT_TIMEZONE,
    LAST_DAY,
    ON_HOLIDAY_POLICIES,
    REQUIRED_BY_CADENCE,
)

TIMING_FIELDS: tuple[str, ...] = (
    "cadence",
    "weekly_dow",
    "monthly_dom",
    "monthly_week",
    "monthly_dow",
    "send_hour",
    "send_minute",
    "cron_expression",
    "interval_seconds",
    "timezone",
    "start_at",
    "end_at",
    "calendar_id",
    "on_holiday",
)
# The vocabulary (cadences, the fields each requires, the fields' bounds and defaults) is core/model.py's;
# this module gives it its meaning in time.
_WEEKLY_DOW = BOUNDS["weekly_dow"]
_MONTHLY_DOM = BOUNDS["monthly_dom"]
_MONTHLY_WEEK = BOUNDS["monthly_week"]
_MONTHLY_DOW = BOUNDS["monthly_dow"]
_SEND_HOUR = BOUNDS["send_hour"]
_SEND_MINUTE = BOUNDS["send_minute"]
MIN_INTERVAL_SECONDS = BOUNDS["interval_seconds"].low
MAX_INTERVAL_SECONDS = BOUNDS["interval_seconds"].high

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_MICROS = 1_000_000
_DAY = 86400
# Python bounds every UTC offset strictly inside one day, so no instant more than a day before W
# can show wall time W, and the wall clock never runs more than a day behind or ahead.
_MAX_OFFSET = _DAY
# The engine's range, in seconds since the epoch: years 2 to 9998, so that converting any instant
# in it to any zone's local time stays inside datetime's years 1 to 9999.
_MIN_T = (date(2, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY
_MAX_T = (date(9998, 12, 31).toordinal() - _EPOCH_ORDINAL) * _DAY
# The last instant runs are computed for (see the module's docstring).
RANGE_END = _EPOCH + timedelta(seconds=_MAX_T)
RANGE_END_TEXT = RANGE_END.strftime("%Y-%m-%dT%H:%M:%SZ")
# The first and last microseconds a UTC datetime can hold.
_MIN_MICROS = (datetime.min.replace(tzinfo=_UTC) - _EPOCH) // _MICROSECOND
_MAX_MICROS = (datetime.max.replace(tzinfo=_UTC) - _EPOCH) // _MICROSECOND


class TimingError(ValueError):
    """A timing field that cannot be used; `field` names it (for a 400 naming the field).

    `problems` is {field: [messages]}: every problem found, this one first (a cron expression with
    three bad fields has three messages; `timing_problems` gathers those of every field)."""

    def __init__(self, field: str, message: str, problems: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.problems = problems or {field: [message]}

    def __str__(self) -> str:
        return self.message


class RangeEndError(TimingError):
    """Fewer runs than asked for come before RANGE_END, where the engine stops computing them.
    `runs` holds those that do; the field is `after` when there are none, else `count`."""

    def __init__(self, runs: list[datetime]):
        self.runs = runs
        if runs:
            super().__init__("count", f"only {len(runs)} run(s) come at or before {RANGE_END_TEXT}, "
                                      "the last instant runs are computed for")
        else:
            super().__init__("after", f"no runs are computed after {RANGE_END_TEXT}")


# --------------------------------------------------------------------------- time zones


@lru_cache(maxsize=None)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def _zone(key: str) -> ZoneInfo:
    """The ZoneInfo for a validated key (membership first: ZoneInfo() would also open odd paths)."""
    if key not in _zone_names():
        raise TimingError("timezone", f"unknown time zone {key!r}")
    return ZoneInfo(key)


def _offset_at(tz: ZoneInfo, t: int) -> int:
    """UTC offset in seconds at instant t (seconds since the epoch)."""
    local = (_EPOCH + timedelta(seconds=t)).astimezone(tz)
    return local.utcoffset() // _SECOND


_CHUNK_BITS = 25  # chunks of 2**25 s, about 388 days
_PROBE_STEP = _DAY


@lru_cache(maxsize=8192)
def _chunk(key: str, index: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The constant-offset segments of one chunk of UTC time in zone `key`.

    Returns (starts, offsets): segment i begins at starts[i] (the first is the chunk's own start,
    not necessarily a change) and has offsets[i] until the next start or the end of the chunk.
    """
    tz = _zone(key)

    def offset(t: int) -> int:
        # Chunks reach a little past the engine's range; probe them at its edge.
        return _offset_at(tz, min(max(t, _MIN_T - _DAY), _MAX_T + _DAY))

    low = index << _CHUNK_BITS
    high = low + (1 << _CHUNK_BITS) - 1
    starts = [low]
    offsets = [offset(low)]
    p, p_offset = low, offsets[0]
    while p < high:
        q = min(p + _PROBE_STEP, high)
        q_offset = offset(q)
        # Bisect every change in (p, q]; a second change in the same day would surface as the
        # offset at the found change still differing from q's.
        while p_offset != q_offset:
            before, after = p, q
            while after - before > 1:
                middle = (before + after) // 2
                if offset(middle) == p_offset:
                    before = middle
                else:
                    after = middle
            p, p_offset = after, offset(after)
            starts.append(p)
            offsets.append(p_offset)
        p, p_offset = q, q_offset
    return tuple(starts), tuple(offsets)


def _segment(key: str, t: int) -> tuple[int, int, int]:
    """(start, end, offset): the segment holding instant t, start <= t < end."""
    index = t >> _CHUNK_BITS
    starts, offsets = _chunk(key, index)
    i = bisect_right(starts, t) - 1
    end = starts[i + 1] if i + 1 < len(starts) else (index + 1) << _CHUNK_BITS
    return starts[i], end, offsets[i]


# --------------------------------------------------------------------------- wall-clock rules


@lru_cache(maxsize=4096)
def _month(year: int, month: int) -> tuple[int, int, int]:
    """(ordinal of the 1st, number of days, weekday of the 1st with 0=Sunday)."""
    first = date(year, month, 1).toordinal()
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, following.toordinal() - first, first % 7


def _bits(days) -> int:
    mask = 0
    for day in days:
        mask |= 1 << day
    return mask


class _CronDays:
    """Days matched by cron's day-of-month, month and day-of-week fields (daily and weekly too),
    with cron's day extensions (`L`, `nW`, `d#n`...: core.engine.cron.month_days) when it has any."""

    __slots__ = ("dom_mask", "month_mask", "dow_masks", "day_or", "dom_special", "dow_special")

    def __init__(self, days, months, weekdays, day_or: bool, dom_special=(), dow_special=()):
        self.dom_mask = _bits(days)
        self.month_mask = _bits(months)
        # dow_masks[w]: the days of a month whose 1st is weekday w that fall on a matching weekday.
        self.dow_masks = tuple(
            _bits(d for d in range(1, 32) if (w + d - 1) % 7 in weekdays) for w in range(7)
        )
        self.day_or = day_or
        self.dom_special = tuple(dom_special)
        self.dow_special = tuple(dow_special)

    def __call__(self, year: int, month: int) -> int:
        if not self.month_mask >> month & 1:
            return 0
        _, length, first_weekday = _month(year, month)
        dom = self.dom_mask
        dow = self.dow_masks[first_weekday]
        if self.dom_special or self.dow_special:
            special_dom, special_dow = cron.month_days(self.dom_special, self.dow_special, length, first_weekday)
            dom |= special_dom
            dow |= special_dow
        days = (dom | dow) if self.day_or else (dom & dow)
        return days & ((2 << length) - 2)


_EVERY_DAY = _CronDays(range(1, 32), range(1, 13), range(7), False)


class _MonthlyDays:
    """monthly_dom: 1..31, a day past the month's end meaning its last day; -1 is the last day."""

    __slots__ = ("dom",)

    def __init__(self, dom: int):
        self.dom = dom

    def __call__(self, year: int, month: int) -> int:
        _, length, _ = _month(year, month)
        return 1 << (length if self.dom == -1 else min(self.dom, length))


class _BiweeklyDays:
    """Every 14th local day counted from `first` (an ordinal already on the right weekday)."""

    __slots__ = ("first",)

    def __init__(self, first_ordinal: int):
        self.first = first_ordinal

    def __call__(self, year: int, month: int) -> int:
        first, length, _ = _month(year, month)
        day = 1 + (self.first - first) % 14
        mask = 0
        while day <= length:
            mask |= 1 << day
            day += 14
        return mask


class _CalendarDays:
    """Another day matcher's days with a business calendar's `on_holiday` policy applied
    (core/engine/business_days.py): days off dropped (`skip`), or their runs moved to the nearest
    business day after or before (a business day runs when it matches itself or when a matching day
    sits in the unbroken run of days off just before it, or just after it)."""

    __slots__ = ("inner", "calendar", "step", "masks", "raw")

    def __init__(self, inner, calendar: BusinessCalendar, policy: str):
        self.inner = inner
        self.calendar = calendar
        # Where a business day looks for days off whose runs it takes: none, those before it, after it.
        self.step = {"skip": 0, "next_business_day": -1, "previous_business_day": 1}[policy]
        self.masks: dict[int, int] = {}
        self.raw: dict[int, int] = {}

    def _raw_mask(self, year: int, month: int) -> int:
        key = year * 12 + month
        mask = self.raw.get(key)
        if mask is None:
            if len(self.raw) > 4096:
                self.raw.clear()
            mask = self.raw[key] = self.inner(year, month)
        return mask

    def matches_itself(self, day: date) -> bool:
        """Whether the rule, without the calendar, runs on `day`."""
        return bool(self._raw_mask(day.year, day.month) >> day.day & 1)

    def __call__(self, year: int, month: int) -> int:
        key = year * 12 + month
        mask = self.masks.get(key)
        if mask is None:
            if len(self.masks) > 4096:
                self.masks.clear()
            mask = self.masks[key] = self._compute(year, month)
        return mask

    def _compute(self, year: int, month: int) -> int:
        first, length, _ = _month(year, month)
        raw = self._raw_mask(year, month)
        business = self.calendar.is_business_day
        mask = 0
        for day in range(1, length + 1):
            if not business(date.fromordinal(first + day - 1)):
                continue
            if raw >> day & 1:
                mask |= 1 << day
            elif self.step and self.takes_moved(first + day - 1):
                mask |= 1 << day
        return mask

    def moved_here(self, ordinal: int) -> list[date]:
        """The matching days off whose runs move to business day `ordinal`, nearest first."""
        found = []
        if not self.step:
            return found
        o = ordinal + self.step
        for _ in range(MAX_MOVE_DAYS):
            if not _MIN_ORDINAL <= o <= _MAX_ORDINAL:
                break
            day = date.fromordinal(o)
            if self.calendar.is_business_day(day):
                break
            if self.matches_itself(day):
                found.append(day)
            o += self.step
        return found

    def takes_moved(self, ordinal: int) -> bool:
        o = ordinal + self.step
        for _ in range(MAX_MOVE_DAYS):
            if not _MIN_ORDINAL <= o <= _MAX_ORDINAL:
                return False
            day = date.fromordinal(o)
            if self.calendar.is_business_day(day):
                return False
            if self.matches_itself(day):
                return True
            o += self.step
        return False


_MIN_ORDINAL = date(1, 1, 1).toordinal()
_MAX_ORDINAL = date(9999, 12, 31).toordinal()


@lru_cache(maxsize=4096)
def _calendar_rule(rule: "_WallRule", calendar: BusinessCalendar, policy: str) -> "_WallRule":
    """`rule` with a business calendar's policy applied to its days (the same wall times)."""
    moved = _WallRule((), (), _CalendarDays(rule.days, calendar, policy), rule.wildcard)
    moved.times = rule.times
    return moved


class _WallRule:
    """Matching wall times: a day matcher plus sorted minutes of the day, and the DST flavour."""

    __slots__ = ("times", "days", "wildcard")

    def __init__(self, minutes, hours, days, wildcard: bool):
        self.times = tuple(sorted(h * 60 + m for h in hours for m in minutes))
        self.days = days
        self.wildcard = wildcard

    def next_wall(self, w: int, limit: int) -> int | None:
        """The first matching wall time >= w (seconds since the local epoch), None past limit."""
        w = -(-w // 60) * 60
        day, seconds = divmod(w, _DAY)
        minute_of_day = seconds // 60
        today = date.fromordinal(day + _EPOCH_ORDINAL)
        year, month, dom = today.year, today.month, today.day
        mask = self.days(year, month)
        if mask >> dom & 1:
            i = bisect_left(self.times, minute_of_day)
            if i < len(self.times):
                return w + (self.times[i] - minute_of_day) * 60
        first = day - dom + 1  # this month's 1st, in days since the epoch
        mask &= -(2 << dom)  # only days after today
        while not mask:
            month += 1
            if month == 13:
                year, month = year + 1, 1
            ordinal, _, _ = _month(year, month)
            first = ordinal - _EPOCH_ORDINAL
            if first * _DAY > limit:
                return None
            mask = self.days(year, month)
        matched = first + (mask & -mask).bit_length() - 2
        return matched * _DAY + self.times[0] * 60


def _next_fixed(rule: _WallRule, key: str, a: int, limit: int) -> tuple[int, int] | None:
    """(instant, wall time) of the first run of a fixed-time rule strictly after instant a."""
    # The latest wall time shown up to a: after a fall back it is the pre-transition one, so a
    # repeated wall time does not run again. Offsets differ by under a day, so a segment ending
    # more than two days before a cannot have shown a later wall time than a's own.
    start, _, offset = _segment(key, a)
    shown = a + offset
    t = start - 1
    while t > a - 2 * _DAY:
        start, _, offset = _segment(key, t)
        shown = max(shown, t + offset)
        t = start - 1
    w = rule.next_wall(shown + 1, limit + _MAX_OFFSET)
    if w is None:
        return None
    # g(w): no instant before w - _MAX_OFFSET can show w, and none up to a showed it (w > shown).
    t = max(a + 1, w - _MAX_OFFSET)
    while t <= limit:
        start, end, offset = _segment(key, t)
        if w < t + offset:
            return t, w  # t starts a segment and the clock jumped over w here: the gap rule
        if w < end + offset:
            return w - offset, w
        t = end
    return None


def _next_wildcard(rule: _WallRule, key: str, a: int, limit: int) -> tuple[int, int] | None:
    """(instant, wall time) of the first run of a wildcard rule strictly after instant a."""
    t = a + 1
    low = w = None
    while t <= limit:
        _, end, offset = _segment(key, t)
        # The first match at or after this segment's first wall time. The previous answer still
        # holds when the wall clock went on forward (a spring forward, a chunk edge) without
        # passing it; after a fall back the repeated wall times are searched again.
        if w is None or not low <= t + offset <= w:
            low = t + offset
            w = rule.next_wall(low, limit + _MAX_OFFSET)
            if w is None:
                return None
        if w < end + offset:
            return w - offset, w
        t = end
    return None


def _next_wall_run(rule: _WallRule, key: str, a: int, limit: int) -> tuple[int, int] | None:
    if a >= limit:
        return None
    found = (_next_wildcard if rule.wildcard else _next_fixed)(rule, key, a, limit)
    return found if found is not None and found[0] <= limit else None


# --------------------------------------------------------------------------- compiling fields


class _Timing:
    """A validated, compiled set of timing fields (everything but the per-row instants)."""

    __slots__ = ("cadence", "zone", "rule", "interval", "weekly")

    def __init__(self, cadence: str, zone: str, rule: _WallRule | None = None,
                 interval: int | None = None, weekly: tuple[int, int, int] | None = None):
        self.cadence = cadence
        self.zone = zone
        self.rule = rule
        self.interval = interval
        self.weekly = weekly  # (dow, hour, minute) for biweekly, whose rule needs the anchor


def _integer(field: str, value: Any, low: int, high: int, meaning: str) -> int:
    if type(value) is not int:  # bool is an int subclass, and True is not a day of the week
        raise TimingError(field, f"{field} must be an integer {meaning}")
    if not low <= value <= high:
        raise TimingError(field, f"{field} must be {meaning}, got {value}")
    return value


# Keyed by every scalar field, so a table of distinct schedules needs many entries; each is small,
# as the compiled rules themselves are shared (_cadence_rule, _cron_rule).
@lru_cache(maxsize=32768, typed=True)
def _compile(cadence, weekly_dow, monthly_dom, monthly_week, monthly_dow, send_hour, send_minute,
             cron_expression, interval_seconds, zone) -> _Timing:
    """Validate the scalar timing fields (in TIMING_FIELDS order) and compile them.

    Every field that is present is checked, whatever the cadence, so a bad value is refused when
    it is written rather than when someone switches cadence. typed=True keeps True apart from 1.
    """
    if cadence is None:
        raise TimingError("cadence", "cadence is required")
    if type(cadence) is not str or cadence not in CADENCES:
        raise TimingError(
            "cadence", f"unknown cadence {cadence!r} (expected one of: {', '.join(CADENCES)})"
        )
    if weekly_dow is None:
        if "weekly_dow" in REQUIRED_BY_CADENCE[cadence]:
            raise TimingError("weekly_dow", f"weekly_dow required for {cadence} cadence")
    else:
        _integer("weekly_dow", weekly_dow, _WEEKLY_DOW.low, _WEEKLY_DOW.high,
                 f"between {_WEEKLY_DOW.low} (Sunday) and {_WEEKLY_DOW.high} (Saturday)")
    if monthly_week is not None:
        _integer("monthly_week", monthly_week, -1, _MONTHLY_WEEK.high,
                 f"between {_MONTHLY_WEEK.low} and {_MONTHLY_WEEK.high}, or {LAST_DAY} for the last")
        if monthly_week == 0:
            raise TimingError("monthly_week", f"monthly_week must be between {_MONTHLY_WEEK.low} and "
                                              f"{_MONTHLY_WEEK.high}, or {LAST_DAY} for the last, got 0")
    if monthly_dow is not None:
        _integer("monthly_dow", monthly_dow, _MONTHLY_DOW.low, _MONTHLY_DOW.high,
                 f"between {_MONTHLY_DOW.low} (Sunday) and {_MONTHLY_DOW.high} (Saturday)")
    if cadence == "monthly" and monthly_week is not None:
        if monthly_dom is not None:
            raise TimingError("monthly_week", "monthly_week and monthly_dom cannot both be set: a monthly "
                                              "schedule runs on a day of the month or on the nth weekday")
        if monthly_dow is None:
            raise TimingError("monthly_dow", "monthly_dow required with monthly_week (the weekday, 0 = Sunday)")
    elif cadence == "monthly" and monthly_dow is not None and monthly_dom is None:
        raise TimingError("monthly_week", "monthly_week required with monthly_dow (1-5, or -1 for the last)")
    if monthly_dom is None:
        if cadence == "monthly" and monthly_week is None:
            # (or monthly_week with monthly_dow: the OpenAPI document and docs/semantics.md say so)
            raise TimingError("monthly_dom", f"monthly_dom required for {cadence} cadence")
    else:
        # -1 (the last day) sits below the range, so the check spans both and refuses what lies between.
        meaning = f"between {_MONTHLY_DOM.low} and {_MONTHLY_DOM.high}, or {LAST_DAY} for the last day"
        dom = _integer("monthly_dom", monthly_dom, min(LAST_DAY, _MONTHLY_DOM.low), _MONTHLY_DOM.high, meaning)
        if dom < _MONTHLY_DOM.low and dom not in _MONTHLY_DOM.also:
            raise TimingError("monthly_dom", f"monthly_dom must be {meaning}, got {dom}")
    hour = DEFAULT_SEND_HOUR if send_hour is None else _integer(
        "send_hour", send_hour, _SEND_HOUR.low, _SEND_HOUR.high, f"between {_SEND_HOUR.low} and {_SEND_HOUR.high}")
    minute = DEFAULT_SEND_MINUTE if send_minute is None else _integer(
        "send_minute", send_minute, _SEND_MINUTE.low, _SEND_MINUTE.high,
        f"between {_SEND_MINUTE.low} and {_SEND_MINUTE.high}")
    if cron_expression is None or (type(cron_expression) is str and not cron_expression.strip()):
        if "cron_expression" in REQUIRED_BY_CADENCE[cadence]:
            raise TimingError("cron_expression", f"cron_expression required for {cadence} cadence")
    elif type(cron_expression) is not str:
        raise TimingError("cron_expression", "cron_expression must be a string")
    else:
        try:
            cron.parse(cron_expression)
        except cron.CronError as e:
            raise TimingError("cron_expression", f"cron_expression {e}",
                              {"cron_expression": [f"cron_expression {problem}" for problem in e.problems]}) from None
    if interval_seconds is None:
        if "interval_seconds" in REQUIRED_BY_CADENCE[cadence]:
            raise TimingError("interval_seconds", f"interval_seconds required for {cadence} cadence")
    elif type(interval_seconds) is not int or interval_seconds < MIN_INTERVAL_SECONDS:
        raise TimingError(
            "interval_seconds", f"interval_seconds must be an integer of at least {MIN_INTERVAL_SECONDS}"
        )
    elif interval_seconds > MAX_INTERVAL_SECONDS:
        raise TimingError("interval_seconds", f"interval_seconds must be at most {MAX_INTERVAL_SECONDS}")
    if zone is None:
        zone = DEFAULT_TIMEZONE
    if type(zone) is not str:
        raise TimingError("timezone", f"unknown time zone {zone!r}")
    _zone(zone)

    if cadence == "hourly":
        return _Timing(cadence, zone, _cadence_rule(cadence, None, 0, minute))
    if cadence == "daily":
        return _Timing(cadence, zone, _cadence_rule(cadence, None, hour, minute))
    if cadence == "weekly":
        return _Timing(cadence, zone, _cadence_rule(cadence, weekly_dow, hour, minute))
    if cadence == "monthly" and monthly_week is not None:
        return _Timing(cadence, zone, _nth_weekday_rule(monthly_week, monthly_dow, hour, minute))
    if cadence == "monthly":
        return _Timing(cadence, zone, _cadence_rule(cadence, monthly_dom, hour, minute))
    if cadence == "biweekly":
        return _Timing(cadence, zone, weekly=(weekly_dow, hour, minute))
    if cadence == "cron":
        return _Timing(cadence, zone, _cron_rule(cron_expression))
    if cadence == "interval":
        return _Timing(cadence, zone, interval=interval_seconds)
    return _Timing(cadence, zone)  # once


@lru_cache(maxsize=4096)
def _cadence_rule(cadence: str, day: int | None, hour: int, minute: int) -> _WallRule:
    """The wall rule of a named cadence; `day` is weekly_dow or monthly_dom, else None."""
    if cadence == "hourly":
        return _WallRule([minute], range(24), _EVERY_DAY, wildcard=True)
    if cadence == "daily":
        days = _EVERY_DAY
    elif cadence == "weekly":
        days = _CronDays(range(1, 32), range(1, 13), [day], False)
    else:
        days = _MonthlyDays(day)
    return _WallRule([minute], [hour], days, wildcard=False)


@lru_cache(maxsize=4096)
def _nth_weekday_rule(week: int, dow: int, hour: int, minute: int) -> _WallRule:
    """monthly_week and monthly_dow: cron's `d#n`, or `dL` for the last (-1)."""
    special = ("L", dow) if week == LAST_DAY else ("#", dow, week)
    return _WallRule([minute], [hour], _CronDays(range(1, 32), range(1, 13), (), False, (), (special,)), wildcard=False)


@lru_cache(maxsize=4096)
def _cron_rule(expression: str) -> _WallRule:
    spec = cron.parse(expression)
    days = _CronDays(spec.days, spec.months, spec.weekdays, spec.day_or, spec.dom_special, spec.dow_special)
    return _WallRule(spec.minutes, spec.hours, days, spec.wildcard)


def _timing(fields: Mapping[str, Any]) -> _Timing:
    if not isinstance(fields, Mapping):
        raise TimingError("cadence", "schedule timing must be a mapping of field names to values")
    get = fields.get
    args = (get("cadence"), get("weekly_dow"), get("monthly_dom"), get("monthly_week"), get("monthly_dow"),
            get("send_hour"), get("send_minute"), get("cron_expression"), get("interval_seconds"), get("timezone"))
    try:
        hash(args)
    except TypeError:  # a list or dict where a number belongs: validate without the cache
        return _compile.__wrapped__(*args)
    return _compile(*args)


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch: the instant itself. Python compares and subtracts two aware
    datetimes sharing a tzinfo by their wall clocks (fold ignored, DST ignored), so every instant
    is turned into this integer first; subtracting the UTC epoch is always exact."""
    return (moment - _EPOCH) // _MICROSECOND


def _instant(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TimingError(name, f"{name} must be a datetime with a time zone")
    return _micros(value)


def _bounds(fields: Mapping[str, Any], timing: _Timing) -> tuple[int | None, int | None, int | None]:
    """start_at, end_at and created_at as microseconds since the epoch, checked: aware datetimes,
    end after start."""
    start_at = _instant(fields, "start_at")
    if start_at is None and "start_at" in REQUIRED_BY_CADENCE[timing.cadence]:
        raise TimingError("start_at", f"start_at required for {timing.cadence} cadence")
    end_at = _instant(fields, "end_at")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise TimingError("end_at", "end_at must be after start_at")
    created_at = _instant(fields, "created_at")
    _calendar(fields, timing)
    return start_at, end_at, created_at


def _calendar(fields: Mapping[str, Any], timing: _Timing) -> tuple[BusinessCalendar, str] | None:
    """(calendar, on_holiday) when the schedule follows a calendar with a policy other than `run`."""
    policy = fields.get("on_holiday")
    calendar = fields.get("calendar")
    if policy is None and calendar is None:
        return None
    if policy is None:
        policy = DEFAULT_ON_HOLIDAY
    elif type(policy) is not str or policy not in ON_HOLIDAY_POLICIES:
        raise TimingError("on_holiday", f"on_holiday must be one of: {', '.join(ON_HOLIDAY_POLICIES)}")
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        raise TimingError("calendar_id", "calendar must be a business calendar")
    if policy == DEFAULT_ON_HOLIDAY:
        return None
    if calendar is None:
        if fields.get("calendar_id") is not None:
            return None  # named but not loaded by this caller (a console form's check): the days alone
        raise TimingError("on_holiday", f"on_holiday {policy} needs a calendar_id (whose days off it follows)")
    if timing.rule is None and timing.cadence != "biweekly":
        raise TimingError("on_holiday", f"on_holiday {policy} applies to wall-clock cadences, not {timing.cadence}")
    return calendar, policy


# --------------------------------------------------------------------------- public interface


def validate_timing(fields: Mapping[str, Any]) -> None:
    """Raise TimingError naming the first bad timing field (in TIMING_FIELDS order), else None.

    Never raises anything else, whatever `fields` holds.
    """
    _bounds(fields, _timing(fields))


# A value each timing field can take without a problem of its own, put in place of a bad one so that
# timing_problems can go on and find the problems of the fields after it.
_HARMLESS = {"weekly_dow": 1, "monthly_dom": 1, "monthly_week": None, "monthly_dow": 1, "on_holiday": None,
             "calendar_id": None, "send_hour": DEFAULT_SEND_HOUR, "send_minute": DEFAULT_SEND_MINUTE,
             "cron_expression": "0 0 * * *", "interval_seconds": 3600, "timezone": DEFAULT_TIMEZONE,
             "start_at": datetime(2000, 1, 1, tzinfo=timezone.utc), "end_at": None}


def timing_problems(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every timing problem of `fields`, {field: [messages]} ({} when they are usable): a person who
    sends a bad cron expression and a bad zone hears of both at once. A bad cadence stops the search
    (what the other fields must hold depends on it)."""
    if not isinstance(fields, Mapping):
        fields = {}
    problems: dict[str, list[str]] = {}
    trial = dict(fields)
    while True:
        try:
            validate_timing(trial)
            return problems
        except TimingError as error:
            if error.field in problems:  # cannot happen (a harmless value has no problem): never loop
                return problems
            problems.update(error.problems)
            if error.field not in _HARMLESS:  # the cadence: the other fields cannot be judged without it
                return problems
            trial[error.field] = _HARMLESS[error.field]


def check_timing(fields: Mapping[str, Any]) -> None:
    """validate_timing, with every problem in the error's `problems` rather than the first alone."""
    problems = timing_problems(fields)
    if problems:
        field = next(iter(problems))
        raise TimingError(field, problems[field][0], problems)


def is_wildcard(fields: Mapping[str, Any]) -> bool:
    """True when the rule follows the wall clock through DST changes (no catch-up in a gap, both
    runs in an overlap): `hourly`, and cron rules whose minute or hour field starts with `*`."""
    rule = _timing(fields).rule
    return rule is not None and rule.wildcard


def next_run_after(fields: Mapping[str, Any], after: datetime) -> datetime | None:
    """The first run strictly after `after` (aware, any zone), as an aware UTC datetime.

    Honours start_at (no run before it) and end_at (none after it); None when no run is left.
    `created_at` anchors biweekly and interval schedules that have no start_at; without either
    the schedule is taken as created at `after` (what a preview of a new schedule wants).
    """
    runs = next_runs(fields, after, 1)
    return runs[0] if runs else None


def next_runs(fields: Mapping[str, Any], after: datetime, count: int) -> list[datetime]:
    """The next `count` runs strictly after `after` (fewer when the schedule ends)."""
    timing = _timing(fields)
    start_at, end_at, created_at = _bounds(fields, timing)
    if after.utcoffset() is None:
        raise ValueError("after must be a datetime with a time zone")
    if count <= 0:
        return []
    followed = _calendar(fields, timing)
    # From here on every instant is an integer: microseconds since the epoch.
    since = _micros(after)
    if timing.cadence == "once":
        return _as_datetimes([start_at] if start_at > since else [])
    anchor = start_at if start_at is not None else created_at if created_at is not None else since
    if timing.cadence == "interval":
        # Fixed real time: anchor + k * interval for k >= 0; wall clocks and DST play no part.
        step = timing.interval * _MICROS
        k = 0 if since < anchor else (since - anchor) // step + 1
        runs = (anchor + (k + i) * step for i in range(count))
        last = _MAX_T * _MICROS if end_at is None else min(end_at, _MAX_T * _MICROS)
        return _as_datetimes([r for r in runs if r <= last])

    # Wall-clock rules work in whole seconds: every run is a whole second (a wall minute minus a
    # whole-second offset, or a transition instant), so "after `since`" and "at or after start"
    # become "after floor(since)" and "after ceil(start) - 1".
    a = max(since // _MICROS, _MIN_T)
    limit = _MAX_T if end_at is None else min(end_at // _MICROS, _MAX_T)
    if start_at is not None:
        a = max(a, -(-start_at // _MICROS) - 1)
    rule = timing.rule
    if timing.cadence == "biweekly":
        first_second = -(-anchor // _MICROS)
        rule = _biweekly_rule(*timing.weekly, timing.zone, first_second)
        if rule is None:
            return []
        a = max(a, first_second - 1)
    if followed is not None:
        rule = _calendar_rule(rule, *followed)
    runs = []
    while len(runs) < count:
        found = _next_wall_run(rule, timing.zone, a, limit)
        if found is None:
            break
        a = found[0]
        runs.append(a * _MICROS)
    return _as_datetimes(runs)


def next_runs_in_range(fields: Mapping[str, Any], after: datetime, count: int) -> list[datetime]:
    """next_runs for a preview: raises RangeEndError when fewer than `count` runs come before
    RANGE_END and it is the range, not the schedule's own end (end_at, a once), that stopped them."""
    runs = next_runs(fields, after, count)
    if len(runs) < count and _timing(fields).cadence != "once":
        end_at = fields.get("end_at")
        if end_at is None or _micros(end_at) >= _MAX_T * _MICROS:
            raise RangeEndError(runs)
    return runs


def _as_datetimes(runs: list[int]) -> list[datetime]:
    """UTC datetimes for runs in microseconds, dropping any a datetime cannot hold (a `once` at
    year 1 with a +14:00 offset is in year 0 in UTC)."""
    return [_EPOCH + timedelta(microseconds=r) for r in runs if _MIN_MICROS <= r <= _MAX_MICROS]


@lru_cache(maxsize=16384)
def _biweekly_rule(dow: int, hour: int, minute: int, zone: str, anchor: int) -> _WallRule | None:
    """The rule for a biweekly schedule: its weekly rule restricted to every other week, counted
    from the first weekly run at or after the anchor (so the anchor's own week may run)."""
    weekly = _cadence_rule("weekly", dow, hour, minute)
    first = _next_wall_run(weekly, zone, max(anchor - 1, _MIN_T), _MAX_T)
    if first is None:
        return None
    # Count local days from the matched wall date, not the run instant's: a run moved by a gap
    # (Pacific/Apia skipped a whole Friday) still belongs to the day it was due.
    first_ordinal = first[1] // _DAY + _EPOCH_ORDINAL
    return _WallRule([minute], [hour], _BiweeklyDays(first_ordinal), False)


# --------------------------------------------------------------------------- for explanations


def _rules(fields: Mapping[str, Any], near: datetime) -> tuple[_WallRule | None, _WallRule | None]:
    """(the rule without its calendar, with it) of a wall-clock schedule; (None, None) otherwise.
    `near` anchors a biweekly schedule that has neither start_at nor created_at, as next_runs does."""
    timing = _timing(fields)
    start_at, _, created_at = _bounds(fields, timing)
    rule = timing.rule
    if timing.cadence == "biweekly":
        anchor = start_at if start_at is not None else created_at if created_at is not None else _micros(near)
        rule = _biweekly_rule(*timing.weekly, timing.zone, -(-anchor // _MICROS))
    if rule is None:
        return None, None
    followed = _calendar(fields, timing)
    return rule, (rule if followed is None else _calendar_rule(rule, *followed))


def wall_matches(fields: Mapping[str, Any], wall: datetime, near: datetime) -> bool:
    """Whether the naive local wall time `wall` (a whole minute) is one the rule asks for, its
    calendar applied; False for a run a daylight-saving gap (or a skipped day) moved."""
    _, rule = _rules(fields, near)
    if rule is None:
        return True
    mask = rule.days(wall.year, wall.month)
    return bool(mask >> wall.day & 1) and wall.hour * 60 + wall.minute in rule.times


def calendar_moves(fields: Mapping[str, Any], since: date, day: date, near: datetime) -> list[tuple[str, date, str]]:
    """What the calendar did on the way to a run on local `day`, the previous run (or the preview's
    start) being on `since`: [(code, day off, why)], code `holiday_skipped` (that day's runs were dropped)
    or `holiday_moved` (they moved to `day`). Empty without a calendar policy."""
    raw, rule = _rules(fields, near)
    if rule is None or rule is raw:
        return []
    days: _CalendarDays = rule.days
    calendar = days.calendar
    found = []
    for moved in days.moved_here(day.toordinal()):
        found.append(("holiday_moved", moved, calendar.day_off(moved) or ""))
    if not days.step:
        o = since.toordinal() + 1
        while o < day.toordinal() and len(found) < 31:
            off_day = date.fromordinal(o)
            why = calendar.day_off(off_day)
            if why is not None and days.matches_itself(off_day):
                found.append(("holiday_skipped", off_day, why))
            o += 1
    return found
