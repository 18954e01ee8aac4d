"""Health of schedules (seed 003's monitoring) and of the ticker, for the API, the ticker and /metrics.

A schedule's problems (kinds), found in SQL over active schedules only (core/sql/health.sql):
- `failing`: 10 or more finished runs and under half of them succeeded;
- `stale`: not `once`, created more than 7 days ago, and no run for 7 days (for a biweekly, monthly
  or longer-interval schedule: no run for a day more than its own period, so waiting for next month
  is not a problem);
- `consecutive_failures`: its last 3 or more runs failed;
- `paused_after_failures`: it paused itself after `pause_after_failures` failed runs in a row (inactive,
  listed until someone resumes, enables or disables it).
A schedule with two problems is listed once per kind.

The ticker is alive while its heartbeat (ticker/loop.py writes it at least once per TICK_INTERVAL) is
younger than `heartbeat_stale_after(TICK_INTERVAL)`.
"""
from __future__ import annotations

from datetime import datetime

from core.sql import queries

KINDS = ("failing", "stale", "consecutive_failures", "paused_after_failures")
# How each kind reads in a sentence: "Schedule <id> ('name') is failing: 3 of 12 runs succeeded".
_STATE = {"failing": "failing", "stale": "stale", "consecutive_failures": "failing repeatedly",
          "paused_after_failures": "paused after failures"}
ERROR_EXCERPT = 200


def issues(cur, now: datetime, *, account_id=None, limit: int | None = None) -> list[dict]:
    """Problem schedules as {schedule_id, account_id, name, kind, detail, total_issues, ...}.

    One tenant's (run it in its tenant transaction) or, with account_id None, every tenant's.
    `total_issues` on each row counts every issue, including those past `limit`.
    """
    cur.execute(queries["schedule_health_issues"], {"account_id": account_id, "now": now, "limit": limit})
    rows = cur.fetchall()
    for row in rows:
        row["detail"] = detail(row, now)
    return rows


def detail(row, now: datetime) -> str:
    """What is wrong, in a few words: `3 of 12 runs succeeded`, `no run for 9 days`, ..."""
    kind = row["kind"]
    if kind == "failing":
        return f"{row['success_count']} of {row['run_count']} runs succeeded"
    if kind == "stale":
        if row["last_run_at"] is None:
            return f"no run since it was created {(now - row['created_at']).days} days ago"
        return f"no run for {(now - row['last_run_at']).days} days"
    if kind == "consecutive_failures":
        error = " ".join((row["last_error"] or "").split())
        if len(error) > ERROR_EXCERPT:
            error = error[:ERROR_EXCERPT - 1] + "…"
        return f"{row['consecutive_failures']} failures in a row" + (f" (last error: {error})" if error else "")
    if kind == "paused_after_failures":
        return row["pause_note"] or "paused after failed runs"
    raise AssertionError(f"unknown health kind {kind!r}")


def state_words(kind: str) -> str:
    """How a kind reads after "is": `Schedule <id> ('name') is failing repeatedly: ...`."""
    return _STATE[kind]


def heartbeat_stale_after(tick_interval: float) -> float:
    """Seconds after which a ticker's heartbeat means it is gone.

    A live ticker beats at least once per TICK_INTERVAL; three missed intervals is the readiness rule,
    and the ticker's own guidance (2 x TICK_INTERVAL + 10 s, room for a slow tick on a short
    interval) is the floor.
    """
    return max(3 * tick_interval, 2 * tick_interval + 10)


def ticker_heartbeat_age(cur) -> float | None:
    """Seconds since the freshest heartbeat of any ticker; None when there is none."""
    cur.execute(queries["ticker_heartbeat_age"])
    return cur.fetchone()["age_seconds"]
