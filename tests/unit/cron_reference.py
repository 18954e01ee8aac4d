"""A deliberately simple, independent model of DESIGN.md's schedule rules, to test core.engine.timing with.

It walks minute by minute in UTC, converts each instant to the zone's wall time and applies the
rules as written:

1. wildcard (cron minute or hour field starts with `*`, or hourly) or fixed-time;
2. spring forward: when the wall clock jumps forward, a fixed-time rule matching one of the skipped
   wall minutes runs once, at the first instant after the jump; wildcard rules skip them;
3. fall back: a fixed-time rule runs only at a wall time not seen before; a wildcard one at both;
4. one run per instant (runs are a set); cron's day-of-month / day-of-week OR rule;
5. start_at <= run <= end_at.

It is slow on purpose (thousands of zone conversions per call) and shares no code with the engine:
it never imports core. It assumes only that a zone's offset changes at most once within a minute.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
# The largest backward jump of any zone since 1900 is 23 hours (Kwajalein, 1969): walking from 25
# hours before the window is enough to have seen the first copy of any repeated wall time.
LOOK_BACK = timedelta(hours=25)

MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAYS = "sun mon tue wed thu fri sat".split()
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass
class Rule:
    matches: Callable[[datetime], bool]  # takes a naive wall time (whole minute)
    wildcard: bool


def _cron_set(text: str, low: int, high: int, names: list[str] | None = None) -> set[int]:
    def number(token: str) -> int:
        if names and token in names:
            return names.index(token) + (1 if names is MONTHS else 0)
        return int(token)

    values: set[int] = set()
    for item in text.split(","):
        step = 1
        if "/" in item:
            item, step_text = item.split("/")
            step = int(step_text)
        if item == "*":
            first, last = low, high
        elif "-" in item:
            a, b = item.split("-")
            first, last = number(a), number(b)
        else:
            first = last = number(item)
        values.update(range(first, last + 1, step))
    return values


# ---- the day extensions (Quartz's L, W, #), each straight from its definition by walking the month


def _month_days(day: date) -> list[date]:
    return _days_of(day.year, day.month)


@lru_cache(maxsize=None)
def _days_of(year: int, month: int) -> list[date]:
    last = calendar.monthrange(year, month)[1]
    return [date(year, month, d) for d in range(1, last + 1)]


def _is_weekday(day: date) -> bool:
    return day.weekday() < 5


def last_minus(n: int) -> Callable[[date], bool]:
    """`L-n`: n days before the month's last day (`L` is n = 0)."""
    return lambda day: (_month_days(day)[-1] - day).days == n


def nearest_weekday(n: int) -> Callable[[date], bool]:
    """`nW`: of the month's Monday-to-Friday days, the one closest to day n (none without a day n)."""
    def matches(day: date) -> bool:
        month = _month_days(day)
        if n > len(month):
            return False
        nearest = min((d for d in month if _is_weekday(d)), key=lambda d: abs(d.day - n))
        return day == nearest
    return matches


def last_weekday(day: date) -> bool:
    """`LW`: the month's last Monday-to-Friday day."""
    return day == [d for d in _month_days(day) if _is_weekday(d)][-1]


def nth_weekday(weekday: int, n: int) -> Callable[[date], bool]:
    """`d#n`: the nth day of the month falling on cron weekday d (0 = Sunday)."""
    def matches(day: date) -> bool:
        same = [d for d in _month_days(day) if (d.weekday() + 1) % 7 == weekday]
        return len(same) >= n and same[n - 1] == day
    return matches


def last_of_weekday(weekday: int) -> Callable[[date], bool]:
    """`dL`: the last day of the month falling on cron weekday d."""
    return lambda day: [d for d in _month_days(day) if (d.weekday() + 1) % 7 == weekday][-1] == day


def _day_name(token: str) -> int:
    return (DAYS.index(token) if token in DAYS else int(token)) % 7


def _day_field(text: str, index: int) -> tuple[str, list[Callable[[date], bool]]]:
    """The field without its extension items, and a predicate per extension item."""
    plain, tests = [], []
    for item in text.split(","):
        if index == 2 and item == "lw":
            tests.append(last_weekday)
        elif index == 2 and item.startswith("l"):
            tests.append(last_minus(int(item[2:]) if item.startswith("l-") else 0))
        elif index == 2 and item.endswith("w"):
            tests.append(nearest_weekday(int(item[:-1])))
        elif index == 4 and "#" in item:
            weekday, n = item.split("#")
            tests.append(nth_weekday(_day_name(weekday), int(n)))
        elif index == 4 and item.endswith("l"):
            tests.append(last_of_weekday(_day_name(item[:-1])))
        else:
            plain.append(item)
    return ",".join(plain), tests


def cron_rule(expression: str) -> Rule:
    text = expression.strip().lower()
    text = MACROS.get(text, text)
    minute, hour, dom, month, dow = text.split()
    minutes = _cron_set(minute, 0, 59)
    hours = _cron_set(hour, 0, 23)
    dom_plain, dom_tests = _day_field(dom, 2)
    dow_plain, dow_tests = _day_field(dow, 4)
    doms = _cron_set(dom_plain, 1, 31) if dom_plain else set()
    months = _cron_set(month, 1, 12, MONTHS)
    dows = {d % 7 for d in _cron_set(dow_plain, 0, 7, DAYS)} if dow_plain else set()
    either = not dom.startswith("*") and not dow.startswith("*")

    def day_matches(day: date) -> bool:
        dom_ok = day.day in doms or any(test(day) for test in dom_tests)
        dow_ok = (day.weekday() + 1) % 7 in dows or any(test(day) for test in dow_tests)  # Monday=0 -> Sunday=0
        return (dom_ok or dow_ok) if either else (dom_ok and dow_ok)

    def matches(wall: datetime) -> bool:
        if wall.minute not in minutes or wall.hour not in hours or wall.month not in months:
            return False
        return day_matches(wall.date())

    rule = Rule(matches, wildcard=minute.startswith("*") or hour.startswith("*"))
    rule.day_matches = day_matches
    rule.months = months
    return rule


def never_fires(expression: str) -> bool:
    """True when no date can match the day fields (the rule would never run)."""
    text = expression.strip().lower()
    _, _, dom, month, dow = MACROS.get(text, text).split()
    if _day_field(dom, 2)[1] or _day_field(dow, 4)[1]:
        # With an extension: walk every day of a whole 400-year Gregorian cycle.
        rule = cron_rule(text)
        day = date(2000, 1, 1)
        while day.year < 2400:
            if day.month in rule.months and rule.day_matches(day):
                return False
            day += timedelta(days=1)
        return True
    if not dom.startswith("*") and not dow.startswith("*"):
        return False
    days = _cron_set(dom, 1, 31)
    leap_year = 2024
    return not any(
        day <= calendar.monthrange(leap_year, m)[1]
        for m in _cron_set(month, 1, 12, MONTHS)
        for day in days
    )


def cadence_rule(fields: dict) -> Rule:
    """hourly, daily, weekly and monthly straight from their definitions (biweekly: see below)."""
    cadence = fields["cadence"]
    hour = fields.get("send_hour", 9)
    minute = fields.get("send_minute", 0)
    if cadence == "hourly":
        return Rule(lambda w: w.minute == minute, wildcard=True)

    def at_time(w: datetime) -> bool:
        return w.hour == hour and w.minute == minute

    if cadence == "daily":
        return Rule(at_time, wildcard=False)
    if cadence == "weekly":
        dow = fields["weekly_dow"]
        return Rule(lambda w: at_time(w) and (w.weekday() + 1) % 7 == dow, wildcard=False)
    if cadence == "monthly":
        dom = fields["monthly_dom"]

        def monthly(w: datetime) -> bool:
            last = calendar.monthrange(w.year, w.month)[1]
            return at_time(w) and w.day == (last if dom == -1 else min(dom, last))

        return Rule(monthly, wildcard=False)
    raise ValueError(cadence)


def biweekly_runs(fields: dict, anchor: datetime, after: datetime, until: datetime) -> list[datetime]:
    """The first weekly run at or after the anchor, then every 14th local day from its date."""
    weekly = cadence_rule({**fields, "cadence": "weekly"})
    zone = ZoneInfo(fields.get("timezone", "UTC"))
    first_wall = next(
        w for r, w in runs_with_walls(weekly, zone, anchor - SECOND, anchor + timedelta(days=8))
        if r >= anchor
    )

    def every_other(w: datetime) -> bool:
        days = (w.date() - first_wall.date()).days
        return weekly.matches(w) and days >= 0 and days % 14 == 0

    found = runs_with_walls(Rule(every_other, False), zone, after, until)
    return [r for r, _ in found if r >= anchor]


def runs(rule: Rule, zone: ZoneInfo, after: datetime, until: datetime,
         start_at: datetime | None = None, end_at: datetime | None = None) -> list[datetime]:
    """Runs in (after, until], within [start_at, end_at]."""
    found = [r for r, _ in runs_with_walls(rule, zone, after, until)]
    return [r for r in found if (start_at is None or r >= start_at) and (end_at is None or r <= end_at)]


def runs_with_walls(rule: Rule, zone: ZoneInfo, after: datetime, until: datetime):
    """(instant, wall time it ran for) in (after, until], walking from LOOK_BACK before `after`."""
    fired: dict[datetime, datetime] = {}
    seen: set[datetime] = set()
    previous = None
    # A gap's run lies less than a minute before the first wall minute after it: hence the margin.
    for instant, wall in wall_minutes(zone, after - LOOK_BACK, until + 2 * MINUTE):
        if previous is not None and wall - previous[1] > MINUTE and not rule.wildcard:
            skipped = previous[1] + MINUTE
            while skipped < wall:
                if rule.matches(skipped):
                    fired.setdefault(_end_of_jump(zone, previous[0], instant), skipped)
                    break
                skipped += MINUTE
        if rule.matches(wall) and (rule.wildcard or wall not in seen):
            fired.setdefault(instant, wall)
        seen.add(wall)
        previous = (instant, wall)
    return sorted((r, w) for r, w in fired.items() if after < r <= until)


def wall_minutes(zone: ZoneInfo, start: datetime, stop: datetime):
    """Yield (instant, naive wall time) for every instant in the range at which the zone's clock
    shows a whole minute, in order. Offsets need not be whole minutes (local mean time was not),
    so in each UTC minute (u - 60 s, u] the instant is worked out for each offset in force."""
    u = start.astimezone(UTC).replace(second=0, microsecond=0)
    offset_before = u.astimezone(zone).utcoffset()
    while u < stop:
        u += MINUTE
        offset = u.astimezone(zone).utcoffset()
        candidates = set()
        for o in {offset_before, offset}:
            wall = (u + o).replace(tzinfo=None)
            instant = u - timedelta(seconds=wall.second)
            if instant.astimezone(zone).utcoffset() == o:
                candidates.add((instant, wall.replace(second=0)))
        yield from sorted(candidates)
        offset_before = offset


def _end_of_jump(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first instant (to the second) after `before` whose offset is already `after`'s."""
    target = after.astimezone(zone).utcoffset()
    t = before + SECOND
    while t.astimezone(zone).utcoffset() != target:
        t += SECOND
    return t
