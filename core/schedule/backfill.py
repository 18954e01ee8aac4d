"""Backfill: run a schedule for each of its occurrences in a past range, once.

The occurrences come from the time engine (core.engine.when.occurrences_between, so daylight-saving rules
hold as for scheduled runs); each becomes a `pending` run with trigger `backfill` and its occurrence
as `scheduled_for`, pushed by a ticker at once, oldest first. An occurrence that already has a
backfill run or a scheduled run gets nothing new, so asking twice creates nothing.
"""
from __future__ import annotations

from datetime import datetime

from core.engine.timing import TimingError
from core.engine.when import MAX_BACKFILL_RUNS, occurrences_between
from core.runs.run import backfill_runs


def backfill(cur, account_id, schedule, start: datetime, end: datetime, now: datetime) -> dict:
    """{occurrences, created, existing, runs}; TimingError naming `from`/`to` when the range is not
    usable (not in the past, empty, more than MAX_BACKFILL_RUNS occurrences)."""
    if end <= start:
        raise TimingError("to", "to must be after from")
    if end > now:
        raise TimingError("to", "to must not be in the future (the schedule itself runs what is to come)")
    occurrences = occurrences_between(schedule, start, end, MAX_BACKFILL_RUNS)
    if len(occurrences) > MAX_BACKFILL_RUNS:
        raise TimingError("to", f"the range holds more than {MAX_BACKFILL_RUNS} occurrences: ask for a shorter one")
    runs = []
    if occurrences:
        runs = sorted(backfill_runs(cur, account_id, schedule, occurrences, now),
                      key=lambda run: run["scheduled_for"])
    return {"occurrences": len(occurrences), "created": len(runs), "existing": len(occurrences) - len(runs),
            "runs": runs}
