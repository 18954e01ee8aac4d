"""Health of schedules (seed 003's monitoring) and of the ticker, for the API, the ticker and /metrics.

A schedule's problems (kinds) are core/model.py's health rules, found in SQL over active schedules
only (core/observe/health.sql, with model.health_parameters()); this module runs the query and says in a
few words what is wrong. A schedule with two problems is listed once per kind. A ticker is alive while
its heartbeat is younger than model.ticker_alive_within(TICK_INTERVAL).
"""
from __future__ import annotations

from datetime import datetime

from core import model
from core.ops.sql import queries

# How each kind reads in a sentence: "Schedule <id> ('name') is failing: 3 of 12 runs succeeded".
_STATE = {"failing": "failing", "stale": "stale", "consecutive_failures": "failing repeatedly",
          "paused_after_failures": "paused after failures"}
ERROR_EXCERPT = 200


def issues(cur, now: datetime, *, account_id=None, limit: int | None = None) -> list[dict]:
    """Problem schedules as {schedule_id, account_id, name, kind, detail, total_issues, ...}.

    One tenant's (run it in its tenant transaction) or, with account_id None, every tenant's.
    `total_issues` on each row counts every issue, including those past `limit`.
    """
    cur.execute(queries["schedule_health_issues"],
                {"account_id": account_id, "now": now, "limit": limit, **model.health_parameters()})
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


def ticker_heartbeat_age(cur) -> float | None:
    """Seconds since the freshest heartbeat of any ticker; None when there is none."""
    cur.execute(queries["ticker_heartbeat_age"])
    return cur.fetchone()["age_seconds"]
