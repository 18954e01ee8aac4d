"""The controls around a schedule's rule: delivery windows, catch-up after downtime, backfill ranges,
and their checks.

Pure, like core/engine/timing.py, which it builds on: UTC instants in and out, no clock (the caller passes
`now`), no I/O. The ticker, the API and the property tests call the same functions.
"""
from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from core.engine.timing import TimingError, next_run_after
from core.model import CATCHUP_POLICIES, DEFAULT_CATCHUP

# At most this many runs for one schedule in one catch-up, and in one backfill request.
MAX_CATCHUP_RUNS = 1000
MAX_BACKFILL_RUNS = 1000

_MICROSECOND = timedelta(microseconds=1)


def validate_controls(fields: Mapping[str, Any]) -> None:
    """TimingError naming the field when the controls do not fit together."""
    catchup = fields.get("catchup") or DEFAULT_CATCHUP
    if catchup not in CATCHUP_POLICIES:
        raise TimingError("catchup", f"catchup must be one of: {', '.join(CATCHUP_POLICIES)}")
    if catchup == "all" and fields.get("catchup_window_seconds") is None:
        raise TimingError("catchup_window_seconds",
                          "catchup_window_seconds required for catchup all (how far back to catch up)")


def window_offset(schedule_id, occurrence: datetime, window_seconds: int, following: datetime | None) -> int:
    """Whole seconds after `occurrence` at which a schedule with a delivery window dispatches it.

    A hash of (schedule, occurrence): the same every time it is asked, different from one occurrence
    to the next, and spread evenly over [0, span) across schedules, where span is the window, or the
    time to the following occurrence when that is shorter, so a dispatch is never past its window and
    never at or after the next occurrence.
    """
    span = window_seconds
    if following is not None:
        span = min(span, int((following - occurrence).total_seconds()))
    if span <= 1:
        return 0
    key = f"{schedule_id}/{occurrence.timestamp():.6f}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % span


def next_dispatch(fields: Mapping[str, Any], after: datetime) -> tuple[datetime | None, datetime | None]:
    """(the first occurrence strictly after `after`, the instant it is dispatched): the same instant
    without a delivery window; with one, the occurrence plus its window_offset (fields["id"] names
    the schedule). (None, None) when no run is left."""
    occurrence = next_run_after(fields, after)
    window = fields.get("window_seconds")
    if occurrence is None or not window:
        return occurrence, occurrence
    following = next_run_after(fields, occurrence)
    return occurrence, occurrence + timedelta(seconds=window_offset(fields.get("id"), occurrence, window, following))


def occurrences_between(fields: Mapping[str, Any], start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The occurrences t with start <= t <= end, oldest first; at most limit + 1 (so that a caller can
    tell "more than limit" from "exactly limit")."""
    found = []
    at = start - _MICROSECOND
    while len(found) <= limit:
        at = next_run_after(fields, at)
        if at is None or at > end:
            break
        found.append(at)
    return found


def catchup_occurrences(fields: Mapping[str, Any], due: datetime, now: datetime) -> list[datetime]:
    """Under `catchup: all`, the occurrences a late schedule runs at `now`, oldest first.

    `due` is its next_run_at (the first occurrence it missed). Every occurrence from `due` through
    `now` that is no older than catchup_window_seconds, `due` itself included when it is in the
    window, each once; the newest MAX_CATCHUP_RUNS when there are more. Empty when none is in the
    window (the caller then treats the schedule as `latest` would).
    """
    window = timedelta(seconds=fields["catchup_window_seconds"])
    oldest = max(due, now - window)
    runs: deque[datetime] = deque(maxlen=MAX_CATCHUP_RUNS)
    if due >= oldest:
        runs.append(due)
    at = max(due, oldest - _MICROSECOND)
    while True:
        at = next_run_after(fields, at)
        if at is None or at > now:
            break
        runs.append(at)
    return list(runs)


SHARED_OCCURRENCE_PROBES = 10


class SharedOccurrences:
    """An instant at which schedule `a` and another both run, for many others (a create compares
    itself with up to 50): `with_(b)` looks at each one's next SHARED_OCCURRENCE_PROBES occurrences
    after `after` and asks whether the other runs then too; None when none is shared (or a timing
    cannot be computed). Checking both ways finds a weekly rule inside a daily one, whichever is
    which. a's own probes, and whether a runs at an instant, are computed once for all of them."""

    def __init__(self, a: Mapping[str, Any], after: datetime):
        self.a, self.after = a, after
        self._runs_at: dict[datetime, bool] = {}
        try:
            self.probes: list[datetime] | None = _probes(a, after)
        except (ValueError, TypeError):
            self.probes = None  # a's timing cannot be computed: it shares nothing

    def with_(self, b: Mapping[str, Any]) -> datetime | None:
        if self.probes is None:
            return None
        try:
            for at in self.probes:
                if _runs_at(b, at):
                    return at
            for at in _probes(b, self.after):
                if at not in self._runs_at:
                    self._runs_at[at] = _runs_at(self.a, at)
                if self._runs_at[at]:
                    return at
        except (ValueError, TypeError):
            return None
        return None


def _probes(fields: Mapping[str, Any], after: datetime) -> list[datetime]:
    """The schedule's next SHARED_OCCURRENCE_PROBES occurrences after `after` (fewer when it ends)."""
    found, at = [], after
    for _ in range(SHARED_OCCURRENCE_PROBES):
        at = next_run_after(fields, at)
        if at is None:
            break
        found.append(at)
    return found


def _runs_at(fields: Mapping[str, Any], at: datetime) -> bool:
    return next_run_after(fields, at - _MICROSECOND) == at
