"""Schedules in words for the console: the cadence as a sentence, durations, times relative to now
and in the schedule's zone, and the notes on runs daylight saving moved. Pure functions (no Flask, no
clock: `now` is passed in), over the same fields the API takes, so the preview and the schedule page
say the same thing.

The engine alone says why a run is where it is (core/engine/explain.py's reasons, which the API's
previews return); the notes only word its daylight-saving reasons: "02:30 does not exist on 8 March
(clocks go forward); runs at 03:00 EDT", "01:30 happens twice on 1 November (clocks go back); runs
once, at the first (EDT)".
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from core.engine import cron

DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


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


def _cron_in_words(expression: str) -> str:
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


def cadence_in_words(schedule) -> str:
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
        words = _cron_in_words(schedule.get("cron_expression") or "")
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


def dst_note(reasons: list[dict], at: datetime, zone: str) -> str | None:
    """The note on a run at `at` that daylight saving moved, worded from the engine's reasons for it
    (core/engine/explain.py); None when it gives none about daylight saving."""
    at_local = at.astimezone(ZoneInfo(zone))
    for reason in reasons:
        code = reason["code"]
        if code == "spring_forward":
            return (f"{reason['wall']:%H:%M} does not exist on {_day_month(reason['wall'])} (clocks go forward); "
                    f"runs at {at_local:%H:%M %Z}")
        if code == "skipped_day":
            return (f"{_day_month(reason['wall'])} does not exist (the clocks skipped the whole day); "
                    f"runs at {at_local:%H:%M %Z} on {_day_month(at_local)}")
        if code in ("repeated_hour_first", "repeated_hour_second"):
            which = ("this is the second" if code == "repeated_hour_second"
                     else "this is the first" if reason["wildcard"] else "runs once, at the first")
            return f"{at_local:%H:%M} happens twice on {_day_month(at_local)} (clocks go back); {which} ({at_local:%Z})"
    return None


def upcoming(schedule, runs: list[dict], now: datetime) -> list[dict]:
    """The runs (each {at, reasons}, as core.engine.explain.explained_runs gives them) as the console
    lists them: UTC instant, local time, relative time and any daylight-saving note."""
    zone = schedule.get("timezone") or "UTC"
    return [{"at": run["at"].astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
             "local": local(run["at"], zone), "relative": relative(run["at"], now),
             "note": dst_note(run["reasons"], run["at"], zone)}
            for run in runs]
