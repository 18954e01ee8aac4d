"""Explained previews: a schedule's next runs, each with why it is where it is when that is not a
plain match of its rule (a spring-forward gap, a skipped day, a repeated hour, a short month, a
business calendar's day off, a delivery window, start_at/end_at, the end of a pause).

Each reason is {code, detail}: the API's previews and `python -m ticker preview` show the detail; the
console words the daylight-saving ones itself (api/console/words.py) from the facts they also carry:
`wall` (spring_forward, skipped_day: the rule's wall time that did not exist, naive) and `wildcard`
(repeated_hour_first: whether the rule runs at both of the repeated times).

Pure, like core/engine/timing.py and core/engine/when.py: UTC instants in and out, no clock, no I/O. The API's
preview routes and `python -m ticker preview` print what this returns.
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from core import model
from core.engine import cron
from core.engine.timing import calendar_moves, is_wildcard, next_run_after, wall_matches
from core.engine.when import next_dispatch

_MICROSECOND = timedelta(microseconds=1)
# Every reason's code (docs/semantics.md, "Explained previews"; the API's schema lists them).
REASON_CODES = ("spring_forward", "skipped_day", "holiday_moved", "holiday_skipped", "repeated_hour_first",
                "repeated_hour_second", "month_end", "window", "start_at", "end_at", "after_pause")


def _rule_times(fields: Mapping[str, Any]) -> tuple[frozenset[int], frozenset[int]] | None:
    """(minutes, hours) a wall-clock rule matches; None for interval and once (no wall clock)."""
    cadence = fields.get("cadence")
    minute = fields.get("send_minute")
    minute = model.DEFAULT_SEND_MINUTE if minute is None else minute
    hour = fields.get("send_hour")
    hour = model.DEFAULT_SEND_HOUR if hour is None else hour
    if cadence == "cron":
        spec = cron.parse(fields["cron_expression"])
        return spec.minutes, spec.hours
    if cadence == "hourly":
        return frozenset([minute]), frozenset(range(24))
    if cadence in ("daily", "weekly", "biweekly", "monthly"):
        return frozenset([minute]), frozenset([hour])
    return None


def _reason(code: str, detail: str, **facts) -> dict:
    return {"code": code, "detail": detail, **facts}


def _missing_wall(times: tuple[frozenset[int], frozenset[int]], start: datetime, end: datetime) -> datetime:
    """The first of the rule's wall times in the gap [start, end) (naive wall clocks): the one that did
    not exist; the gap's start when none of them falls in it."""
    minutes, hours = times
    day = start.date()
    while day <= end.date():
        for hour in sorted(hours):
            for minute in sorted(minutes):
                wall = datetime.combine(day, time(hour, minute))
                if start <= wall < end:
                    return wall
        day += timedelta(days=1)
    return start


def _long(day) -> str:
    return f"{day.day} {day:%B} {day.year}"


def calendar_reasons(fields: Mapping[str, Any], occurrence: datetime, since: datetime) -> list[dict]:
    """The business calendar's part (core/engine/business_days.py): the days off whose runs were
    skipped since `since` (the previous run, or the preview's start), or moved to this run's day."""
    zone = ZoneInfo(fields.get("timezone") or "UTC")
    day = occurrence.astimezone(zone).date()
    found = []
    for code, off_day, why in calendar_moves(fields, since.astimezone(zone).date(), day, occurrence):
        if code == "holiday_moved":
            policy = "next" if off_day < day else "previous"
            found.append(_reason(code, f"{_long(off_day)} {why}: moved to the {policy} business day, {_long(day)}"))
        else:
            found.append(_reason(code, f"{_long(off_day)} {why}"))
    return found


def reasons(fields: Mapping[str, Any], occurrence: datetime, dispatch: datetime, *, first: bool,
            after: datetime, paused_until: datetime | None = None, since: datetime | None = None) -> list[dict]:
    """Why `occurrence` (dispatched at `dispatch`) is where it is; empty for a plain match.

    `first`: it is the first run of the preview (start_at and a pause can only move the first one).
    `since`: the previous run (default `after`), from which skipped days off are counted.
    """
    zone = ZoneInfo(fields.get("timezone") or "UTC")
    local = occurrence.astimezone(zone)
    found = calendar_reasons(fields, occurrence, after if since is None else since)
    times = _rule_times(fields)
    if times is not None:
        # The whole wall time, date included: a skipped day (Pacific/Apia, 30 December 2011) moves a
        # run to the same hour and minute on the next day.
        if not is_wildcard(fields) and not wall_matches(fields, local.replace(tzinfo=None, second=0, microsecond=0),
                                                        occurrence):
            before = (occurrence - _MICROSECOND).astimezone(zone)
            jumped_from = occurrence.astimezone(timezone(before.utcoffset()))  # the wall clock the jump left
            gap_start, gap_end = jumped_from.replace(tzinfo=None), local.replace(tzinfo=None)
            wall = _missing_wall(times, gap_start, gap_end)
            if gap_end - gap_start >= timedelta(days=1):
                found.append(_reason("skipped_day", (
                    f"moved to the end of a skipped day: the clocks jumped from {_long(jumped_from)} "
                    f"{jumped_from.strftime('%H:%M')} {before.tzname()} to {_long(local)} {local.strftime('%H:%M')} "
                    f"{local.tzname()}, so the rule's day did not exist"), wall=wall))
            else:
                found.append(_reason("spring_forward", (
                    f"moved to the end of the spring-forward gap: the clocks jumped from "
                    f"{jumped_from.strftime('%H:%M')} {before.tzname()} to {local.strftime('%H:%M')} {local.tzname()}, "
                    f"so the rule's wall time did not exist that day"), wall=wall))
        other = local.replace(fold=1 - local.fold)
        if other.utcoffset() != local.utcoffset():  # this wall time happened twice that night
            if local.fold == 0:
                wildcard = is_wildcard(fields)
                text = "first of a repeated hour (clocks fall back): " + (
                    "the wall time comes twice and a wildcard rule runs at both" if wildcard
                    else "a fixed-time rule runs once, at the first")
                found.append(_reason("repeated_hour_first", text, wildcard=wildcard))
            else:
                found.append(_reason("repeated_hour_second",
                                     "second of a repeated hour (clocks fall back): a wildcard rule runs again"))
        dom = fields.get("monthly_dom")
        if fields.get("cadence") == "monthly" and dom is not None and dom > 0:
            length = calendar.monthrange(local.year, local.month)[1]
            if dom > length:
                found.append(_reason("month_end", f"day {dom} does not exist in {local.strftime('%B %Y')}: "
                                                  f"clamped to its last day, the {length}th"))
    if dispatch != occurrence:
        window = fields.get("window_seconds")
        seconds = int((dispatch - occurrence).total_seconds())
        found.append(_reason("window", f"dispatched {seconds} s after the occurrence, at its fixed offset inside "
                                       f"the {window} s delivery window"))
    start_at, end_at = fields.get("start_at"), fields.get("end_at")
    # For once, interval and biweekly start_at is the anchor the rule counts from, not a bound.
    bounded = fields.get("cadence") not in ("once", "interval", "biweekly")
    if first and bounded and start_at is not None and start_at > after:
        found.append(_reason("start_at", f"the first run at or after start_at ({_utc(start_at)})"))
    if first and paused_until is not None:
        found.append(_reason("after_pause", f"the first occurrence after the pause ends ({_utc(paused_until)})"))
    if end_at is not None and next_run_after(fields, occurrence) is None:
        found.append(_reason("end_at", f"the last run: end_at is {_utc(end_at)}"))
    return found


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def explained_runs(fields: Mapping[str, Any], after: datetime, count: int, *,
                   paused_until: datetime | None = None) -> list[dict]:
    """The next `count` runs after `after` (after `paused_until` for a paused schedule): each
    {at (the occurrence), dispatch_at, local (its wall time, RFC 3339), reasons}."""
    zone = ZoneInfo(fields.get("timezone") or "UTC")
    start = after if paused_until is None else max(after, paused_until - _MICROSECOND)
    runs = []
    at = start
    while len(runs) < count:
        occurrence, dispatch = next_dispatch(fields, at)
        if occurrence is None:
            break
        runs.append({"at": occurrence, "dispatch_at": dispatch, "local": occurrence.astimezone(zone).isoformat(),
                     "reasons": reasons(fields, occurrence, dispatch, first=not runs, after=start,
                                        paused_until=paused_until, since=at)})
        at = occurrence
    return runs
