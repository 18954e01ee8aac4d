"""What a run is, in one place: its shape (`Run`), its policy (how many attempts it gets, how long each
retry waits), and the only code that makes one, whatever its trigger (one INSERT each, run.sql, in the
caller's transaction):

- `scheduled_runs`: a ticker's batch (core.runs.dispatch), `pending`, or made final or held by dispatch
  (`missed`, `skipped_overlap`, `buffered`); an occurrence that already has one gets none.
- `manual_run`: a person's "run now" (core.schedule.schedules), pending and ready to push at once.
- `backfill_runs`: past occurrences (core.schedule.backfill), pending, ids ordered by occurrence; an
  occurrence that already has a backfill or a scheduled run gets none.
- `resend_run`: a stored result delivered again (core.runs.resend), pending, not counted.

Every pending run is then pushed by the tickers, and moves by core.runs.lifecycle, which reads the
shape and the policy here, as the worker and the ticker do.

A scheduled run's id is made here too (`time_ordered_ids`), before its INSERT: a time-ordered UUID
(version 7, RFC 9562). A run's id is the primary key of schedule_runs. Random (version 4) ids land on
random pages of that index, so every row of a batch dirties a different page; version 7 ids begin with
the Unix time in milliseconds, so a batch's ids go to the index's right edge together. The rest of
each id is random (74 bits), so ids made in the same millisecond, by any number of tickers, do not
collide.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Mapping, NamedTuple

from core.ops.sql import queries

# A failed attempt is retried after 30 s, then 60 s, 120 s, ... at most an hour.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


@dataclass(frozen=True)
class Run:
    """One attempt's view of a run: which run, of which schedule and account, at which attempt (every
    transition is a compare-and-set on it), and what the worker needs to execute it (the trigger, the
    occurrence, the result an earlier attempt stored). A statement that only moves a run returns the
    first three; core.runs.lifecycle.take returns them all."""

    id: str
    schedule_id: str
    attempt: int
    account_id: str | None = None
    trigger: str | None = None
    scheduled_for: datetime | None = None
    result: dict | None = None

    @classmethod
    def from_row(cls, row: Mapping) -> "Run":
        """The run of a row that names its columns as schedule_runs does (id, schedule_id, attempt and
        whichever of the others its statement returns); the row's other columns are not the run's."""
        return cls(**{field.name: row[field.name] for field in fields(cls) if field.name in row})


def attempt_budget(settings, has_result: bool) -> int:
    """How many attempts a run gets: WORKER_MAX_ATTEMPTS to run its task, and once its result is stored
    DELIVERY_MAX_ATTEMPTS more to deliver it (a later attempt never runs the task again)."""
    return settings.worker_max_attempts + (settings.delivery_max_attempts if has_result else 0)


def retry_delay(attempt_failed: int) -> int:
    """Seconds before the attempt after `attempt_failed` (1-based) is pushed."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempt_failed - 1, 0), RETRY_MAX_SECONDS)


_VARIANT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def time_ordered_ids(count: int, *, unix_ms: int | None = None) -> list[str]:
    """`count` version 7 UUIDs, as canonical strings, all stamped with `unix_ms` (default: now), in
    ascending order: handed out in turn, the first thing to get one sorts first (runs are pushed in id
    order, so a batch's queue order is the order its runs were made in)."""
    if unix_ms is None:
        unix_ms = time.time_ns() // 1_000_000
    stamp = (unix_ms & 0xFFFF_FFFF_FFFF).to_bytes(6, "big").hex()
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    noise = os.urandom(10 * count).hex()  # 20 hex digits per id: 12 + 62 random bits are kept
    return sorted(f"{head}{noise[i + 1:i + 4]}-{_VARIANT[noise[i + 4]]}{noise[i + 5:i + 8]}-{noise[i + 8:i + 20]}"
                  for i in range(0, 20 * count, 20))


class ScheduledRun(NamedTuple):
    """One run a ticker's batch makes (insert_scheduled_runs takes them transposed: an array per field)."""

    id: str
    schedule_id: str
    account_id: str
    status: str  # pending, or missed / skipped_overlap / buffered
    scheduled_for: datetime
    error: str | None
    finished_at: datetime | None  # set for the runs that end as they are made (missed, skipped_overlap)
    schedule_version: int
    reasons: str | None = None  # JSON [{code, detail}]: a business calendar's moves and skips before it


def scheduled_runs(plain, runs: list[ScheduledRun]) -> set[str]:
    """Insert a batch's runs on `plain`, a tuple cursor in the batch's transaction
    (core.ops.db.tuple_cursor); returns the ids inserted (an occurrence that had a run already is not)."""
    plain.execute(queries["insert_scheduled_runs"],
                  {name: [getattr(run, name) for run in runs] for name in ScheduledRun._fields})
    return {run_id for run_id, in plain.fetchall()}


def manual_run(cur, account_id, schedule_id, now: datetime) -> dict:
    """A pending manual run of the schedule under its current version, ready to push at once."""
    cur.execute(queries["insert_manual_run"], {"account_id": account_id, "schedule_id": schedule_id, "now": now})
    return cur.fetchone()


def backfill_runs(cur, account_id, schedule, occurrences: list[datetime], now: datetime) -> list[dict]:
    """A pending backfill run per occurrence that has none yet (backfill or scheduled); returns the runs
    made, in no particular order."""
    cur.execute(queries["insert_backfill_runs"], {
        "schedule_id": schedule["id"], "account_id": account_id, "now": now, "version": schedule["version"],
        "occurrences": occurrences})
    return cur.fetchall()


def resend_run(cur, account_id, schedule_id: str, source: dict, *, requested_by: str, now: datetime) -> dict:
    """A pending resend of `source` (the original run: its id, occurrence and stored result), not counted
    against the plan; its ledger is the caller's to make (core.runs.resend)."""
    cur.execute(queries["insert_resend_run"], {
        "account_id": account_id, "schedule_id": schedule_id, "run_id": source["id"], "now": now,
        "scheduled_for": source["scheduled_for"], "requested_by": requested_by})
    return cur.fetchone()
