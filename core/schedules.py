"""Schedules as tenants manage them: create, edit, enable, run now, list, count. No Flask here.

Each function takes a cursor opened by `core.db.tenant_transaction` and the caller's `now` (one
instant per request, and a clock tests can freeze). The rule that matters (DESIGN.md, "When a
schedule runs", 7): creating a schedule, changing a timing field or turning it on computes
`next_run_at` from now at once; any other edit leaves `next_run_at` exactly as it was, so renaming a
schedule can never make it due (or skip a run that is due).
"""
from __future__ import annotations

import math
from datetime import datetime

from psycopg2.extras import Json

from core import channels
from core.sql import queries
from core.timing import TIMING_FIELDS, TimingError, next_run_after, validate_timing

# Every column a client may set, in the order of the schedules table.
CLIENT_FIELDS = (
    "name", "description", "task", "task_parameters", "report_type", "city", "zip_codes",
    "lookback_days", "filters", "recipients", "include_attachment", "cadence", "weekly_dow",
    "monthly_dom", "send_hour", "send_minute", "cron_expression", "interval_seconds", "timezone",
    "start_at", "end_at", "misfire_grace_seconds", "active", "tags", "overlap_policy",
)
_JSON_FIELDS = ("task_parameters", "filters")


def first_run(fields, now: datetime) -> datetime:
    """The next run after `now` of a schedule about to be written; TimingError if it has none.

    A schedule that would never run (a `once` in the past, an `end_at` already gone) is refused
    rather than stored as a row the ticker can never pick up.
    """
    validate_timing(fields)
    run = next_run_after(fields, now)
    if run is not None:
        return run
    if fields.get("cadence") == "once":
        raise TimingError("start_at", "start_at is in the past: a once schedule would never run")
    end_at = fields.get("end_at")
    if end_at is not None and end_at <= now:
        raise TimingError("end_at", "end_at is in the past: the schedule would never run")
    raise TimingError("end_at" if end_at is not None else "cadence", "the schedule has no run left")


def _params(values, account_id, **extra) -> dict:
    params = {name: values[name] for name in CLIENT_FIELDS}
    for name in _JSON_FIELDS:
        params[name] = Json(params[name])
    return {**params, "account_id": account_id, **extra}


def create(cur, account_id, values, now: datetime):
    """Insert a schedule from a full, validated body (defaults filled in); returns the row."""
    next_run = first_run({**values, "created_at": now}, now)
    cur.execute(queries["insert_schedule"], _params(values, account_id, next_run_at=next_run, now=now))
    row = cur.fetchone()
    channels.save(cur, account_id, row["id"], values.get("channels") or [])
    return channels.attach(cur, account_id, row)


def get(cur, account_id, schedule_id, *, for_update: bool = False):
    """One schedule with its channels (None when there is no such schedule for this tenant)."""
    query = queries["get_schedule_for_update" if for_update else "get_schedule"]
    cur.execute(query, {"id": schedule_id, "account_id": account_id})
    return channels.attach(cur, account_id, cur.fetchone())


def needs_new_next_run(row, merged) -> bool:
    """True when a timing field changed value or the schedule is being turned on."""
    return any(merged.get(name) != row.get(name) for name in TIMING_FIELDS) or (
        bool(merged["active"]) and not row["active"])


def patch(cur, account_id, schedule_id, changes, now: datetime):
    """Apply a partial edit; returns the row, or None when there is no such schedule (for this tenant)."""
    row = get(cur, account_id, schedule_id, for_update=True)
    if row is None:
        return None
    merged = {**{name: row[name] for name in CLIENT_FIELDS}, **changes}
    next_run = row["next_run_at"]
    if needs_new_next_run(row, merged):
        next_run = first_run({**merged, "created_at": row["created_at"]}, now)
    cur.execute(queries["patch_schedule"],
                _params(merged, account_id, id=schedule_id, next_run_at=next_run, now=now))
    row = cur.fetchone()
    if "channels" in changes:  # an edit that leaves channels out keeps them
        channels.save(cur, account_id, schedule_id, changes["channels"] or [])
    return channels.attach(cur, account_id, row)


def enable(cur, account_id, schedule_id, now: datetime):
    """Turn a schedule on, its next run computed from now; one already on is left as it is."""
    row = get(cur, account_id, schedule_id, for_update=True)
    if row is None or row["active"]:
        return row
    next_run = first_run(row, now)
    cur.execute(queries["enable_schedule"],
                {"id": schedule_id, "account_id": account_id, "next_run_at": next_run, "now": now})
    return channels.attach(cur, account_id, cur.fetchone())


def disable(cur, account_id, schedule_id, now: datetime):
    cur.execute(queries["disable_schedule"], {"id": schedule_id, "account_id": account_id, "now": now})
    return channels.attach(cur, account_id, cur.fetchone())


def delete(cur, account_id, schedule_id) -> bool:
    cur.execute(queries["delete_schedule"], {"id": schedule_id, "account_id": account_id})
    return cur.fetchone() is not None


def list_page(cur, account_id, *, active_only=True, cadence=None, task=None, tag=None, active=None,
              name=None, page=1, page_size=50):
    """One page of schedules and the total over all pages.

    `active` (True/False) keeps only schedules that are on/off; `name` keeps those whose name
    contains it, in any case (the console's search).
    """
    params = {"account_id": account_id, "active_only": active_only, "cadence": cadence, "task": task,
              "tag": tag, "active": active, "name": name or None,
              "limit": page_size, "offset": (page - 1) * page_size}
    cur.execute(queries["count_schedules"], params)
    total = cur.fetchone()["total"]
    cur.execute(queries["list_schedules"], params)
    return channels.attach(cur, account_id, cur.fetchall()), total


def due(cur, account_id, now: datetime, limit: int):
    cur.execute(queries["list_due_schedules"], {"account_id": account_id, "now": now, "limit": limit})
    return channels.attach(cur, account_id, cur.fetchall())


def stats(cur, account_id) -> dict:
    """Seed 003's summary; success_rate is the percent of finished (succeeded or failed) runs."""
    cur.execute(queries["schedule_stats"], {"account_id": account_id})
    by_cadence = cur.fetchall()
    cur.execute(queries["run_stats"], {"account_id": account_id})
    runs = cur.fetchone()
    total = sum(row["total"] for row in by_cadence)
    enabled = sum(row["enabled"] for row in by_cadence)
    finished = runs["successful_runs"] + runs["failed_runs"]
    return {
        "total_schedules": total,
        "enabled_schedules": enabled,
        "disabled_schedules": total - enabled,
        **runs,
        "success_rate": round(100 * runs["successful_runs"] / finished, 1) if finished else None,
        "by_cadence": {row["cadence"]: row["total"] for row in by_cadence},
    }


def runs(cur, account_id, schedule_id, *, limit=50, status=None):
    cur.execute(queries["list_schedule_runs"],
                {"account_id": account_id, "schedule_id": schedule_id, "limit": limit, "status": status})
    return cur.fetchall()


def run_detail(cur, account_id, schedule_id, run_id):
    """One run of a schedule with its deliveries (`deliveries`: the ledger rows), or None."""
    cur.execute(queries["get_run"], {"account_id": account_id, "schedule_id": schedule_id, "run_id": run_id})
    run = cur.fetchone()
    if run is None:
        return None
    cur.execute(queries["list_run_deliveries"], {"account_id": account_id, "run_id": run_id})
    deliveries = [{**row, "target": channels.mask_url(row["channel"], row["target"])} for row in cur.fetchall()]
    return {**run, "deliveries": deliveries}


def tags(cur, account_id) -> list[str]:
    """Every tag the account's schedules carry, sorted."""
    cur.execute(queries["list_schedule_tags"], {"account_id": account_id})
    return [row["tag"] for row in cur.fetchall()]


def deliveries_of_runs(cur, account_id, run_ids) -> dict:
    """{run id: [its delivery ledger rows]} for a page of runs, in one query."""
    if not run_ids:
        return {}
    cur.execute(queries["list_runs_deliveries"], {"account_id": account_id, "run_ids": list(run_ids)})
    found: dict = {run_id: [] for run_id in run_ids}
    for row in cur.fetchall():
        row["target"] = channels.mask_url(row["channel"], row["target"])  # a Slack URL is a credential
        found.setdefault(row.pop("run_id"), []).append(row)
    return found


def add_manual_run(cur, account_id, schedule_id, now: datetime):
    """A pending manual run, ready to push: once the caller commits, a ticker (woken by the insert's
    NOTIFY) pushes its job, as it pushes every run (core.lifecycle)."""
    cur.execute(queries["insert_manual_run"], {"account_id": account_id, "schedule_id": schedule_id, "now": now})
    return cur.fetchone()


def conflict_warnings(cur, account_id, row, *, limit: int = 5) -> list[str]:
    """Seed 003's conflict detection: other ACTIVE schedules of the account that do exactly what `row`
    does (same task, task_parameters, report fields and timing fields), as warnings for the client.

    Only warned about, never refused: two identical schedules may be on purpose (two recipients lists).
    """
    params = {name: row[name] for name in CLIENT_FIELDS}
    for name in _JSON_FIELDS:
        params[name] = Json(params[name])
    cur.execute(queries["find_duplicate_schedules"],
                {**params, "account_id": account_id, "id": row.get("id"), "limit": limit})
    return [f"duplicates schedule {other['id']} ('{other['name']}'): same task, parameters and timing"
            for other in cur.fetchall()]


def pages(total: int, page_size: int) -> int:
    return math.ceil(total / page_size) if total else 0
