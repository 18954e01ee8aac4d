"""Each account's schedules counted by cadence and on/off as they change (migration 0026's triggers),
for GET /v1/schedules/stats and the `total` of an unfiltered page, without reading the account's
every schedule. A count is its folded value plus the deltas appended since; `fold` (the ticker's
retention pass) moves deltas into the folded values so that a read stays a few rows."""
from __future__ import annotations

from core.ops.sql import queries

FOLD_ROWS = 10_000


def by_cadence(cur, account_id) -> list[dict]:
    """[{cadence, total, enabled}], by cadence, for cadences with at least one schedule."""
    cur.execute(queries["schedule_counts_by_cadence"], {"account_id": account_id})
    return cur.fetchall()


def total(cur, account_id, *, active_only: bool) -> int:
    """How many schedules the account has (only the active ones with `active_only`)."""
    rows = by_cadence(cur, account_id)
    return sum(row["enabled"] if active_only else row["total"] for row in rows)


def fold(cur, limit: int = FOLD_ROWS) -> int:
    """Fold up to `limit` deltas into the counts; returns how many were moved (limit: maybe more)."""
    cur.execute(queries["fold_schedule_count_deltas"], {"limit": limit})
    return cur.fetchone()["moved"]
