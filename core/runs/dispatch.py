"""Dispatch: turning due schedules into runs and RQ jobs, exactly once, whatever dies when.

One batch goes through two transactions:

1. `claim_due` locks up to `limit` due schedules with FOR UPDATE SKIP LOCKED (so tickers share the
   work without waiting on each other), `plan_batch` decides each row's fate in pure Python, and
   `record_batch` inserts the runs (core.runs.run) and advances the schedules; the caller commits. A crash before
   the commit leaves the schedules due and no run; after it, every run exists, `pending`.
2. `core.runs.lifecycle.queue_runs` moves the runs pending -> queued (compare-and-set, which also locks
   them), pushes their jobs in one Redis round trip and commits. A crash or a Redis error before the
   commit leaves them pending, possibly with their jobs already in Redis; `core.runs.lifecycle.push_pending`
   later claims runs pending longer than a short grace and pushes them with `skip_existing`, so a
   job id that is already in Redis is never pushed twice. Whoever holds a run's lock is the only one
   pushing it. What happens to a run after that is core.runs.lifecycle's.

The unique index on (schedule_id, scheduled_for) is the last line of defence: an occurrence that
already has a run is skipped (ON CONFLICT DO NOTHING), never a failed batch.

Everything here is a function of its arguments (cursors, connections, the instant `now`); the
ticker owns the clock, the connections and the logging.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from core.engine import business_days
from core.engine.explain import calendar_reasons
from core.engine.timing import next_run_after
from core.engine.when import catchup_occurrences, next_dispatch
from core.ops import db
from core.ops.sql import queries
from core.runs.lifecycle import REPUSH_GRACE_SECONDS
from core.runs.rq_jobs import job_id_for
from core.runs.run import ScheduledRun, scheduled_runs, time_ordered_ids

# An invalid row is retried after 1 minute, then 2, 4, ... up to an hour.
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
ERROR_LIMIT = 1000

_MICROSECOND = timedelta(microseconds=1)


class Outcome(NamedTuple):
    """What dispatch did with one claimed schedule, for the ticker's log lines."""

    kind: str  # "run" | "missed" | "skipped" | "buffered" (overlap policy) | "computed" (no run) | "failed" (invalid timing)
    schedule_id: str
    name: str
    next_run_at: datetime | None
    run_id: str | None = None
    scheduled_for: datetime | None = None
    error: str | None = None
    late_seconds: float = 0.0
    grace_seconds: int | None = None

    @property
    def job_id(self) -> str | None:
        return job_id_for(self.run_id) if self.run_id else None


class Advance(NamedTuple):
    """How a batch moves one claimed schedule on (advance_schedules)."""

    id: str
    next_run_at: datetime | None  # None: no run left, the schedule becomes inactive
    active: bool
    ran_at: datetime | None  # last_run_at, when a run was made for it
    last_status: str | None  # missed / skipped_overlap, when that is what dispatch made of it
    error: str | None  # a dispatch error (its timing cannot be computed): back-off
    next_occurrence_at: datetime | None  # with a delivery window: the occurrence next_run_at is for


def _columns(rows: list[tuple], fields: tuple[str, ...]) -> dict[str, list]:
    """Named rows as one list per field: the arrays the batch statements unnest."""
    columns = list(zip(*rows)) if rows else [()] * len(fields)
    return {name: list(column) for name, column in zip(fields, columns)}


@dataclass
class Batch:
    """One claimed batch: the rows to write and the outcome of every schedule in it."""

    claimed: int = 0
    runs: list[ScheduledRun] = field(default_factory=list)
    updates: list[Advance] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    duplicates: list[Outcome] = field(default_factory=list)  # occurrences that already had a run

    @property
    def to_push(self) -> list[str]:
        return [o.run_id for o in self.outcomes if o.kind == "run"]

    @property
    def accounts(self) -> dict[str, str]:
        """{run id: account id} of the batch's runs (the cap on runs in flight is per account)."""
        return {run.id: run.account_id for run in self.runs}


def backoff_seconds(dispatch_errors: int) -> int:
    """Delay before retrying a row that has failed `dispatch_errors` times in a row already."""
    return min(BACKOFF_BASE_SECONDS * 2 ** min(dispatch_errors, 16), BACKOFF_MAX_SECONDS)


def error_line(exc: BaseException) -> str:
    """`TimingError: weekly_dow required for weekly cadence`, on one line."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:ERROR_LIMIT]


# The outcome kind (Outcome.kind) of each status the overlap policy gives a run.
_KINDS = {"pending": "run", "buffered": "buffered", "skipped_overlap": "skipped"}


def _overlap(row, *, buffered: bool) -> tuple[str, str | None]:
    """The overlap policy: the status (and error) of a run for an occurrence of the claimed schedule
    `row`. `pending` when no earlier run is in flight (`busy`; always false under `allow`); under
    `buffer_one`, `buffered` (kept, to run once the run in flight ends: core.runs.lifecycle releases it)
    unless one waits already (`buffered`); else `skipped_overlap`, with the error saying why."""
    if not row["busy"]:
        return "pending", None
    if row["overlap_policy"] == "buffer_one" and not buffered:
        return "buffered", None
    return "skipped_overlap", (f"skipped: an earlier run of this schedule is unfinished (overlap policy "
                               f"{row['overlap_policy']})")


def plan_batch(rows, now: datetime) -> Batch:
    """Decide, without I/O, what happens to each claimed row at instant `now`.

    A due row gets one run for its next_run_at (`missed` if later than its misfire grace; while an
    earlier run is in flight, `skipped_overlap`, or `buffered` under the buffer_one policy when none
    waits yet) and its next run after `now`, so a schedule late after downtime runs once, not once
    per occurrence it slept through (under `catchup: all`, one run per occurrence in its catch-up window:
    `_plan_catchup`). A row with no next_run_at gets one computed without a run. A row whose timing
    cannot be computed gets no run and is pushed forward with back-off. No next run: inactive.
    """
    batch = Batch(claimed=len(rows))
    # Ascending (core.runs.run.time_ordered_ids), and the jobs are pushed in id order: the claim's order
    # (most overdue first, accounts in turn) is the queue's.
    run_ids = iter(time_ordered_ids(len(rows)))
    for row in rows:
        sid, name, due = row["id"], row["name"], row["next_run_at"]
        # With a delivery window next_run_at is the dispatch instant; the run is for the occurrence.
        occurrence = row["next_occurrence_at"] or due
        try:
            if row["window_seconds"]:
                nocc, following = next_dispatch(row, now)
            else:
                nocc, following = None, next_run_after(row, now)
            runs = due is not None and _is_occurrence(row, occurrence)
        except Exception as exc:  # one bad row must never stop the batch, whatever it raises
            error = error_line(exc)
            retry_at = now + timedelta(seconds=backoff_seconds(row["dispatch_errors"]))
            batch.updates.append(Advance(sid, retry_at, True, None, None, error, None))
            batch.outcomes.append(Outcome("failed", sid, name, retry_at, error=error))
            continue
        active = following is not None
        if not runs:
            batch.updates.append(Advance(sid, following, active, None, None, None, nocc))
            batch.outcomes.append(Outcome("computed", sid, name, following, scheduled_for=occurrence))
            continue
        if row["catchup"] == "all" and row["catchup_window_seconds"] and occurrence < now:
            occurrences = catchup_occurrences(row, occurrence, now)
            if occurrences:
                _plan_catchup(batch, row, occurrences, following, nocc, active, now)
                continue
        run_id = next(run_ids)
        late = (now - due).total_seconds()
        grace = row["misfire_grace_seconds"]
        if grace is not None and late > grace:
            error = f"missed: {late:.0f}s late, beyond the misfire grace of {grace}s"
            batch.runs.append(ScheduledRun(run_id, sid, row["account_id"], "missed", occurrence, error, now,
                                           row["version"]))
            batch.updates.append(Advance(sid, following, active, None, "missed", None, nocc))
            kind = "missed"
        else:
            status, error = _overlap(row, buffered=row["buffered"])
            batch.runs.append(ScheduledRun(run_id, sid, row["account_id"], status, occurrence, error,
                                           now if error else None, row["version"]))
            if status == "skipped_overlap":
                batch.updates.append(Advance(sid, following, active, None, "skipped_overlap", None, nocc))
            else:
                batch.updates.append(Advance(sid, following, active, now, None, None, nocc))
            kind = _KINDS[status]
        batch.outcomes.append(Outcome(kind, sid, name, following, run_id=run_id, scheduled_for=occurrence,
                                      late_seconds=late, grace_seconds=grace))
    if any(row.get("calendar") is not None for row in rows):
        _add_calendar_reasons(batch, rows)
    return batch


def _add_calendar_reasons(batch: Batch, rows) -> None:
    """Record on each run of a schedule that follows a calendar why the calendar moved it, or which
    days off it skipped since the schedule's last run (core.engine.explain's holiday reasons)."""
    followed = {row["id"]: row for row in rows if row.get("calendar") is not None}
    for index, run in enumerate(batch.runs):
        row = followed.get(run.schedule_id)
        if row is None:
            continue
        try:
            found = calendar_reasons(row, run.scheduled_for, row.get("last_run_at") or run.scheduled_for)
        except Exception:  # an explanation never stops a run
            found = []
        if found:
            batch.runs[index] = run._replace(reasons=json.dumps(found))


def _plan_catchup(batch: Batch, row, occurrences, following, next_occurrence, active: bool, now: datetime) -> None:
    """`catchup: all`: one run per missed occurrence in the window, oldest first (their ids are sorted
    in that order, and core.runs.lifecycle.queue_runs pushes a batch in id order). The window replaces the
    misfire grace.
    Runs made together do not block each other; against a run already in flight the overlap policy
    applies to each, as to an occurrence coming due alone."""
    sid, name = row["id"], row["name"]
    buffered, ran = row["buffered"], False
    for run_id, occurrence in zip(time_ordered_ids(len(occurrences)), occurrences):
        status, error = _overlap(row, buffered=buffered)
        kind, buffered = _KINDS[status], buffered or status == "buffered"
        ran = ran or kind != "skipped"
        batch.runs.append(ScheduledRun(run_id, sid, row["account_id"], status, occurrence, error,
                                       now if error else None, row["version"]))
        batch.outcomes.append(Outcome(kind, sid, name, following, run_id=run_id, scheduled_for=occurrence,
                                      late_seconds=(now - occurrence).total_seconds()))
    batch.updates.append(Advance(sid, following, active, now if ran else None, None if ran else "skipped_overlap", None,
                          next_occurrence))


def _is_occurrence(row, due: datetime) -> bool:
    """Whether a due row's next_run_at is a run to execute.

    Normally yes, even a time written by hand (seed 000 tests with `next_run_at = NOW() - 1 hour`).
    But a row coming out of dispatch back-off holds a retry time, not an occurrence: it gets its
    next run computed without a run, unless someone has since set next_run_at to a real occurrence.
    And a time outside start_at/end_at (end_at moved earlier after it was computed) never runs.
    """
    if (row["start_at"] is not None and due < row["start_at"]) or (
            row["end_at"] is not None and due > row["end_at"]):
        return False
    if row["dispatch_errors"]:
        return next_run_after(row, due - _MICROSECOND) == due
    return True


def claim_due(cur, now: datetime, limit: int) -> list[dict]:
    """Lock and return up to `limit` due schedules (plus any with no next_run_at yet), as dicts."""
    with db.tuple_cursor(cur) as plain:
        plain.execute(queries["claim_due_schedules"], {"now": now, "limit": limit})
        names = [column.name for column in plain.description]
        rows = [dict(zip(names, row)) for row in plain.fetchall()]
    for row in rows:
        if row["calendar"] is not None:  # the business calendar the schedule follows, for the time engine
            try:
                row["calendar"] = business_days.from_mapping(row["calendar"])
            except business_days.CalendarError:
                row["calendar"] = None  # a stored calendar is checked when written; never fail a batch
    return rows


def record_batch(cur, batch: Batch) -> None:
    """Insert the batch's runs and advance its schedules: two statements, in the caller's transaction.

    An occurrence that already had a run (someone set next_run_at back to a time that ran) is moved
    from the batch's outcomes to `duplicates`: its schedule still advances, no second run is made.
    """
    with db.tuple_cursor(cur) as plain:
        if batch.runs:
            kept = scheduled_runs(plain, batch.runs)
            if len(kept) != len(batch.runs):
                batch.duplicates = [o for o in batch.outcomes if o.run_id and o.run_id not in kept]
                batch.outcomes = [o for o in batch.outcomes if not o.run_id or o.run_id in kept]
        if batch.updates:
            plain.execute(queries["advance_schedules"], _columns(batch.updates, Advance._fields))


def next_wake_at(conn, grace: float = REPUSH_GRACE_SECONDS) -> datetime | None:
    """The earliest instant at which there will be work, or None when no schedule is active."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["next_wake_at"], {"grace": grace})
        return cur.fetchone()["wake_at"]


def write_heartbeat(conn, *, instance_id: str, hostname: str, pid: int, started_at: datetime,
                    last_tick: dict, live_within: float) -> int:
    """Record this ticker's heartbeat; returns how many tickers (this one included) have beaten in
    the last `live_within` seconds."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["write_heartbeat"], {
            "instance_id": instance_id, "hostname": hostname, "pid": pid, "started_at": started_at,
            "last_tick": json.dumps(last_tick),
        })
        cur.execute(queries["count_live_tickers"], {"within": live_within})
        return cur.fetchone()["live"]


def delete_heartbeat(conn, instance_id: str) -> None:
    with db.service_transaction(conn) as cur:
        cur.execute(queries["delete_heartbeat"], {"instance_id": instance_id})


def prune_heartbeats(conn, older_than_seconds: float) -> None:
    with db.service_transaction(conn) as cur:
        cur.execute(queries["prune_heartbeats"], {"older_than": older_than_seconds})
