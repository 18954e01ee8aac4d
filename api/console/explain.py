"""Schedules in words for the console: the cadence as a sentence, times relative to now, and which
runs daylight saving moved. Pure functions (no Flask, no clock: `now` is passed in), over the same
fields the API takes, so the preview and the schedule page say the same thing.

The daylight-saving notes follow the engine's rules (core/engine/timing.py): a fixed-time rule whose wall
time falls in a spring-forward gap runs at the end of the gap ("02:30 does not exist on 8 March;
runs at 03:00 EDT"); in a fall-back overlap it runs once, at the first of the two times; a wildcard
rule (hourly, `*/15 * * * *`) runs at both.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from core.engine import cron
from core.engine.timing import is_wildcard

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_SECOND = timedelta(seconds=1)


def _hhmm(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _day_month(moment: datetime) -> str:
    return f"{moment.day} {moment:%B}"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def duration(seconds: int) -> str:
    """90 -> '90 seconds', 7200 -> '2 hours', 86400 -> '1 day'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def _describe_cron(expression: str) -> str:
    text = expression.strip()
    try:
        spec = cron.parse(text)
    except cron.CronError:
        return f"Cron {text}"
    every_day = spec.days == frozenset(range(1, 32)) and spec.weekdays == frozenset(range(7))
    every_month = spec.months == frozenset(range(1, 13))
    if every_day and every_month and len(spec.hours) == 24:
        minutes = sorted(spec.minutes)
        steps = {b - a for a, b in zip(minutes, minutes[1:] + [minutes[0] + 60])}
        if len(minutes) == 60:
            return f"Every minute (cron {text})"
        if len(minutes) > 1 and len(steps) == 1:
            return f"Every {duration(steps.pop() * 60)} (cron {text})"
        if len(minutes) == 1:
            return f"Every hour at minute {minutes[0]} (cron {text})"
    if every_day and every_month and len(spec.hours) == 1 and len(spec.minutes) == 1:
        return f"Every day at {_hhmm(min(spec.hours), min(spec.minutes))} (cron {text})"
    return f"Cron {text}"


def describe(schedule) -> str:
    """The cadence as a sentence, ending with the zone: 'Every Monday at 09:00, America/New_York'."""
    cadence = schedule.get("cadence")
    zone = schedule.get("timezone") or "UTC"
    hour = schedule.get("send_hour")
    minute = schedule.get("send_minute")
    at = _hhmm(9 if hour is None else hour, 0 if minute is None else minute)
    dow = schedule.get("weekly_dow")
    day = DAYS[dow] if isinstance(dow, int) and 0 <= dow <= 6 else "?"
    if cadence == "once":
        start = schedule.get("start_at")
        when = start.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d at %H:%M") if start else "(no start time)"
        words = f"Once, on {when}"
    elif cadence == "hourly":
        words = f"Every hour at minute {0 if minute is None else minute}"
    elif cadence == "daily":
        words = f"Every day at {at}"
    elif cadence == "weekly":
        words = f"Every {day} at {at}"
    elif cadence == "biweekly":
        words = f"Every other {day} at {at}"
    elif cadence == "monthly":
        dom = schedule.get("monthly_dom")
        which = "the last day" if dom == -1 else f"the {_ordinal(dom)}" if isinstance(dom, int) else "?"
        week, weekday = schedule.get("monthly_week"), schedule.get("monthly_dow")
        if dom is None and isinstance(week, int) and isinstance(weekday, int) and 0 <= weekday <= 6:
            which = f"the {'last' if week == -1 else _ordinal(week)} {DAYS[weekday]}"
        words = f"Monthly on {which} at {at}"
    elif cadence == "cron":
        words = _describe_cron(schedule.get("cron_expression") or "")
    elif cadence == "interval":
        seconds = schedule.get("interval_seconds")
        words = f"Every {duration(seconds)}" if isinstance(seconds, int) and seconds > 0 else "At an interval"
    else:
        words = str(cadence)
    return f"{words}, {zone}"


def relative(moment: datetime | None, now: datetime) -> str:
    """'in 3 hours', '5 minutes ago', 'now'."""
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 45:
        return "now"
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if size >= length:
            count = round(size / length)
            text = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {text}" if seconds > 0 else f"{text} ago"
    return "now"  # unreachable: under a minute is handled above


def local(moment: datetime | None, zone: str) -> str:
    """'Mon 2026-03-09 09:00 EDT' in the schedule's zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def local_input(moment: datetime, zone: str) -> str:
    """A datetime-local input's value for `moment` in the zone: '2026-03-09T09:00'."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def _wanted_times(schedule) -> list[tuple[int, int]]:
    """The wall times (hour, minute) a fixed-time rule asks for, sorted."""
    if schedule.get("cadence") == "cron":
        spec = cron.parse(schedule["cron_expression"])
        return sorted((h, m) for h in spec.hours for m in spec.minutes)
    hour, minute = schedule.get("send_hour"), schedule.get("send_minute")
    return [(9 if hour is None else hour, 0 if minute is None else minute)]


def dst_note(schedule, run: datetime) -> str | None:
    """Why daylight saving changed this run, or None when it did not."""
    if schedule.get("cadence") in ("once", "interval", None):
        return None
    zone = ZoneInfo(schedule.get("timezone") or "UTC")
    at = run.astimezone(zone)
    before = (run - _SECOND).astimezone(zone)
    wildcard = is_wildcard(schedule)
    if at.utcoffset() > before.utcoffset() and not wildcard:
        # `run` is the end of a spring-forward gap: the wall clock jumped from `before` + 1 s to `at`.
        gap_start = (before + _SECOND).replace(tzinfo=None)
        gap_end = at.replace(tzinfo=None)
        if gap_end - gap_start >= timedelta(days=1):  # a whole day skipped (Pacific/Apia, 30 December 2011)
            return (f"{_day_month(gap_start)} does not exist (the clocks skipped the whole day); "
                    f"runs at {at:%H:%M %Z} on {_day_month(at)}")
        for hour, minute in _wanted_times(schedule):
            wall = gap_start.replace(hour=hour, minute=minute, second=0)
            if gap_start <= wall < gap_end:
                return (f"{_hhmm(hour, minute)} does not exist on {_day_month(at)} (clocks go forward); "
                        f"runs at {at:%H:%M %Z}")
        return None
    wall = at.replace(tzinfo=None)
    first = wall.replace(fold=0).replace(tzinfo=zone)
    second = wall.replace(fold=1).replace(tzinfo=zone)
    if first.utcoffset() == second.utcoffset():
        return None
    repeated = f"{at:%H:%M} happens twice on {_day_month(at)} (clocks go back)"
    if wildcard:
        which = "first" if at.utcoffset() == first.utcoffset() else "second"
        return f"{repeated}; this is the {which} ({at:%Z})"
    return f"{repeated}; runs once, at the first ({at:%Z})"


def upcoming(schedule, runs: list[datetime], now: datetime) -> list[dict]:
    """The runs as the console lists them: UTC instant, local time, relative time and any DST note."""
    zone = schedule.get("timezone") or "UTC"
    return [{"at": run.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
             "local": local(run, zone), "relative": relative(run, now), "note": dst_note(schedule, run)}
            for run in runs]
