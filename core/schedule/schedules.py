"""Schedules as tenants manage them: create, edit, enable, run now, list, count. No Flask here.

Each function takes a cursor opened by `core.ops.db.tenant_transaction` and the caller's `now` (one
instant per request, and a clock tests can freeze). The rule that matters (DESIGN.md, "When a
schedule runs", 7): creating a schedule, changing a timing field or turning it on computes
`next_run_at` from now at once; any other edit leaves `next_run_at` exactly as it was, so renaming a
schedule can never make it due (or skip a run that is due).
"""
from __future__ import annotations

import logging
import math
import uuid
from datetime import datetime, timezone
from typing import NamedTuple

from psycopg2.extras import Json

from core import model
from core.calendars import calendars
from core.deliveries import channels
from core.engine.business_days import CalendarError
from core.engine.timing import TIMING_FIELDS, TimingError, check_timing, timing_problems
from core.engine.when import SharedOccurrences, next_dispatch, validate_controls
from core.ops.clock import utcnow
from core.ops.sql import queries
from core.runs.run import manual_run
from core.schedule import counts, history

logger = logging.getLogger(__name__)

# Every column a client may set, in the order of the schedules table.
CLIENT_FIELDS = (
    "name", "description", "task", "task_parameters", "report_type", "city", "zip_codes",
    "lookback_days", "filters", "recipients", "include_attachment", "cadence", "weekly_dow",
    "monthly_dom", "send_hour", "send_minute", "cron_expression", "interval_seconds", "timezone",
    "start_at", "end_at", "misfire_grace_seconds", "active", "tags", "overlap_policy",
    "pause_after_failures", "catchup", "catchup_window_seconds", "window_seconds",
    "monthly_week", "monthly_dow", "calendar_id", "on_holiday", "deliver_when",
)
# Client fields added after the first version, with their defaults, for callers that build a body by
# hand (make dev's demo schedule) rather than through the API's schema.
LATER_FIELD_DEFAULTS = {"pause_after_failures": None, "catchup": "latest", "catchup_window_seconds": None,
                        "window_seconds": None, "deliver_when": "always",
                        "monthly_week": None, "monthly_dow": None, "calendar_id": None, "on_holiday": "run"}
# What the change history compares: every client field and the pause.
HISTORY_FIELDS = CLIENT_FIELDS + history.PAUSE_FIELDS
_JSON_FIELDS = ("task_parameters", "filters")
# Schedules doing the same work whose occurrences a create or edit compares with its own.
SAME_WORK_CANDIDATES = 50


def first_dispatch(fields, now: datetime) -> tuple[datetime, datetime]:
    """(next occurrence after `now`, the instant it is dispatched: later inside a delivery window) of a
    schedule about to be written; TimingError if it has none.

    A schedule that would never run (a `once` in the past, an `end_at` already gone) is refused
    rather than stored as a row the ticker can never pick up.
    """
    check_timing(fields)  # every timing problem at once, each field named
    validate_controls(fields)
    occurrence, dispatch = next_dispatch(fields, now)
    if occurrence is not None:
        return occurrence, dispatch
    if fields.get("cadence") == "once":
        raise TimingError("start_at", "start_at is in the past: a once schedule would never run")
    end_at = fields.get("end_at")
    if end_at is not None and end_at <= now:
        raise TimingError("end_at", "end_at is in the past: the schedule would never run")
    raise TimingError("end_at" if end_at is not None else "cadence", "the schedule has no run left")


def with_calendar(cur, account_id, fields):
    """`fields` with the business calendar its calendar_id names loaded as `calendar` (what the time
    engine follows); TimingError naming calendar_id when this account has no such calendar."""
    calendar_id = fields.get("calendar_id")
    if calendar_id is None:
        return fields
    try:
        return {**fields, "calendar": calendars.business_calendar(cur, account_id, calendar_id)}
    except CalendarError as error:
        raise TimingError("calendar_id", error.message) from None


def _params(values, account_id, **extra) -> dict:
    params = {name: values[name] if name in values else LATER_FIELD_DEFAULTS[name] for name in CLIENT_FIELDS}
    for name in _JSON_FIELDS:
        params[name] = Json(params[name])
    return {**params, "account_id": account_id, **extra}


def create(cur, account_id, values, now: datetime, actor: str = "api"):
    """Insert a schedule from a full, validated body (defaults filled in); returns the row."""
    schedule_id = uuid.uuid4()  # chosen here: a delivery window's offsets derive from it
    occurrence, next_run = first_dispatch({**with_calendar(cur, account_id, values), "created_at": now,
                                           "id": schedule_id}, now)
    cur.execute(queries["insert_schedule"], _params(values, account_id, id=schedule_id, next_run_at=next_run,
                                                    next_occurrence_at=_windowed(values, occurrence), now=now))
    row = cur.fetchone()
    history.record(cur, row, action="create", actor=actor, changes=history.diff(None, row, CLIENT_FIELDS), now=now)
    entries = values.get("channels") or []
    if not entries:  # a schedule made without channels has none: nothing to write or read back
        return {**as_read(cur, account_id, row), "channels": []}
    channels.save(cur, account_id, row["id"], entries)
    return channels.attach(cur, account_id, as_read(cur, account_id, row))


def get(cur, account_id, schedule_id, *, for_update: bool = False):
    """One schedule with its counters and channels (None when there is no such schedule for this
    tenant); `for_update` locks its row until the transaction ends."""
    params = {"id": schedule_id, "account_id": account_id}
    if for_update:
        cur.execute(queries["lock_schedule"], params)
        if cur.fetchone() is None:
            return None
    cur.execute(queries["get_schedule"], params)
    return channels.attach(cur, account_id, cur.fetchone())


def as_read(cur, account_id, written):
    """A row a write returned (schedules' own columns) as the API reads it: with its counters."""
    cur.execute(queries["get_schedule"], {"id": written["id"], "account_id": account_id})
    return cur.fetchone()


def needs_new_next_run(row, merged) -> bool:
    """True when a timing field (or the delivery window) changed value or the schedule is being turned on."""
    return any(merged.get(name) != row.get(name) for name in TIMING_FIELDS + ("window_seconds",)) or (
        bool(merged["active"]) and not row["active"])


def patch(cur, account_id, schedule_id, changes, now: datetime, actor: str = "api"):
    """Apply a partial edit; returns the row, or None when there is no such schedule (for this tenant).

    An edit that changes no value writes nothing (and records nothing). Setting `active` on a paused
    schedule ends the pause: true resumes it, false disables it.
    """
    row = get(cur, account_id, schedule_id, for_update=True)
    if row is None:
        return None
    merged, occurrence, next_run = merge(row, changes, now, lambda fields: with_calendar(cur, account_id, fields))
    changed = history.diff(row, merged, HISTORY_FIELDS)
    if not changed:
        return _save_channels(cur, account_id, schedule_id, changes, row)
    cur.execute(queries["patch_schedule"],
                {**_params(merged, account_id, id=schedule_id, next_run_at=next_run, now=now,
                           next_occurrence_at=_windowed(merged, occurrence)),
                 **{name: merged[name] for name in history.PAUSE_FIELDS}})
    written = cur.fetchone()
    history.record(cur, written, action="update", actor=actor, changes=changed, now=now)
    return _save_channels(cur, account_id, schedule_id, changes, as_read(cur, account_id, written))


def edit_problems(row, changes, *, refused=()) -> dict[str, list[str]]:
    """Every timing problem the schedule would have with `changes` applied ({field: [messages]}),
    those of the fields in `refused` (already refused by their own checks) left out: what a PATCH
    would answer, gathered before it is tried, so one answer names every problem."""
    merged = {**{name: row[name] for name in HISTORY_FIELDS}, **changes}
    problems = timing_problems({**merged, "created_at": row["created_at"], "id": row["id"]})
    try:
        validate_controls(merged)
    except TimingError as error:
        problems.setdefault(error.field, []).append(error.message)
    return {name: messages for name, messages in problems.items() if name not in refused}


def patch_dry_run(cur, account_id, schedule_id, changes, now: datetime):
    """What `patch` would write, writing nothing: (the row now, the row as it would be, the changes);
    None when there is no such schedule. Bad values raise as they would for a real edit."""
    row = get(cur, account_id, schedule_id)
    if row is None:
        return None
    merged, occurrence, next_run = merge(row, changes, now, lambda fields: with_calendar(cur, account_id, fields))
    changed = history.diff(row, merged, HISTORY_FIELDS)
    if not changed:
        return row, dict(row), changed
    would_be = {**row, **merged, "next_run_at": next_run, "next_occurrence_at": _windowed(merged, occurrence),
                "version": row["version"] + 1, "updated_at": now}
    return row, would_be, changed


def _save_channels(cur, account_id, schedule_id, changes, row):
    """The row with its channels, after saving those the edit set (an edit that leaves channels out
    keeps them)."""
    if "channels" in changes:
        channels.save(cur, account_id, schedule_id, changes["channels"] or [])
    return channels.attach(cur, account_id, row)


def merge(row, changes, now: datetime, resolve=lambda fields: fields):
    """(the row's client fields and pause with `changes` applied, the occurrence its next_run_at is
    for, its next_run_at): what a PATCH writes."""
    merged = {**{name: row[name] for name in HISTORY_FIELDS}, **changes}
    if row["paused_at"] is not None and "active" in changes:
        merged.update(dict.fromkeys(history.PAUSE_FIELDS))
    occurrence, next_run = row["next_occurrence_at"] or row["next_run_at"], row["next_run_at"]
    if needs_new_next_run(row, merged):
        occurrence, next_run = first_dispatch(resolve({**merged, "created_at": row["created_at"], "id": row["id"]}), now)
    return merged, occurrence, next_run


def _windowed(fields, occurrence):
    """What next_occurrence_at holds: the occurrence with a delivery window, else NULL."""
    return occurrence if fields.get("window_seconds") else None


def enable(cur, account_id, schedule_id, now: datetime, actor: str = "api", note: str | None = None,
           action: str = "enable"):
    """Turn a schedule on (ending a pause), its next run computed from now; one already on is left as it is."""
    row = get(cur, account_id, schedule_id, for_update=True)
    if row is None or row["active"]:
        return row
    occurrence, next_run = first_dispatch(with_calendar(cur, account_id, row), now)
    cur.execute(queries["enable_schedule"], {"id": schedule_id, "next_run_at": next_run, "now": now,
                                             "next_occurrence_at": _windowed(row, occurrence)})
    written = cur.fetchone()
    history.record(cur, written, action=action, actor=actor, note=note, now=now,
                   changes=history.diff(row, written, ("active",) + history.PAUSE_FIELDS))
    return channels.attach(cur, account_id, as_read(cur, account_id, written))


def disable(cur, account_id, schedule_id, now: datetime, actor: str = "api", note: str | None = None):
    """Turn a schedule off (a paused one too: the pause ends, it stays off); one already off is left as it is."""
    row = get(cur, account_id, schedule_id, for_update=True)
    if row is None or (not row["active"] and row["paused_at"] is None):
        return row
    cur.execute(queries["disable_schedule"], {"id": schedule_id, "account_id": account_id, "now": now})
    written = cur.fetchone()
    history.record(cur, written, action="disable", actor=actor, note=note, now=now,
                   changes=history.diff(row, written, ("active",) + history.PAUSE_FIELDS))
    return channels.attach(cur, account_id, as_read(cur, account_id, written))


def delete(cur, account_id, schedule_id, actor: str = "api") -> bool:
    """Delete a schedule, its runs and its history (they go with it); the log says who."""
    cur.execute(queries["delete_schedule"], {"id": schedule_id, "account_id": account_id})
    deleted = cur.fetchone() is not None
    if deleted:
        logger.info("Deleted schedule %s (by %s)", schedule_id, actor,
                    extra={"schedule_id": schedule_id, "account_id": account_id})
    return deleted


def state_of(row) -> str:
    """active, paused or disabled (core.model.SCHEDULE_STATES)."""
    if row["active"]:
        return "active"
    return "paused" if row.get("paused_at") is not None else "disabled"


class SchedulePage(NamedTuple):
    """One page of schedules and the total over all pages: None after a cursor (not counted); for a
    name search that matches more than model.SEARCH_COUNT_LIMIT schedules, that limit, and `exact` False."""

    rows: list[dict]
    total: int | None
    exact: bool = True


def list_page(cur, account_id, *, active_only=True, cadence=None, task=None, tag=None, active=None,
              state=None, name=None, q=None, page=1, page_size=50, cursor=None) -> SchedulePage:
    """One page of schedules and how many there are over all pages (SchedulePage).

    `state` (active, paused, disabled) keeps only schedules in it; `active` (True/False) those that
    are on/off; `name` (the console's search) or `q` (the API's) those whose name contains it, in
    any case. `cursor` (a previous page's `next_cursor(rows)`): the page after that one, read from
    its last row on (keyset), instead of `page`.
    """
    after_created_at, after_id = parse_cursor(cursor) if cursor else (None, None)
    text = name or q or None
    count_limit = model.SEARCH_COUNT_LIMIT if text else None
    params = {"account_id": account_id, "active_only": active_only and state is None, "cadence": cadence,
              "task": task, "tag": tag, "active": active, "state": state,
              "name_pattern": f"%{_like_escaped(text)}%" if text else None, "limit": page_size,
              "offset": 0 if cursor else (page - 1) * page_size,
              "after_created_at": after_created_at, "after_id": after_id, "count_limit": count_limit}
    other_filters = any((cadence, task, tag, active is not None, state))
    # A search and nothing else reads only the account's names (list_schedules_named). With other
    # filters, a name matching few schedules is looked up by their ids, one matching many on each row.
    named_only = text is not None and not other_filters
    params["name_few"] = False
    if text is not None and other_filters:
        cur.execute(queries["count_schedules_named"], params)
        params["name_few"] = cur.fetchone()["total"] < count_limit
    cur.execute(queries["list_schedules_named" if named_only else "list_schedules"], params)
    rows = channels.attach(cur, account_id, cur.fetchall())
    if cursor:
        return SchedulePage(rows, None)
    if len(rows) < page_size and (rows or params["offset"] == 0):
        return SchedulePage(rows, params["offset"] + len(rows))  # the last page: nothing to count
    if not other_filters and text is None:
        return SchedulePage(rows, counts.total(cur, account_id, active_only=params["active_only"]))
    cur.execute(queries["count_schedules_named" if named_only else "count_schedules"], params)
    total = cur.fetchone()["total"]
    return SchedulePage(rows, total, exact=count_limit is None or total < count_limit)


class BadCursor(ValueError):
    """A `cursor` that no page of schedules answered."""


def next_cursor(rows: list[dict], page_size: int) -> str | None:
    """The cursor of the page after `rows` (its last row's created_at and id), None when it was the last."""
    if len(rows) < page_size:
        return None
    last = rows[-1]
    # UTC with a Z: nothing in it a query string would change (a '+' reads as a space).
    return f"{last['created_at'].astimezone(timezone.utc):%Y-%m-%dT%H:%M:%S.%fZ}_{last['id']}"


def parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    created_at, _, row_id = cursor.rpartition("_")
    try:
        at = datetime.fromisoformat(created_at)
        if at.tzinfo is None:
            raise ValueError("no offset")
        return at, uuid.UUID(row_id)
    except ValueError:
        raise BadCursor("cursor is not a next_cursor this API gave: start again without it") from None


def _like_escaped(text: str) -> str:
    """`text` with ILIKE's wildcards and escape character taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def due(cur, account_id, now: datetime, limit: int):
    cur.execute(queries["list_due_schedules"], {"account_id": account_id, "now": now, "limit": limit})
    return channels.attach(cur, account_id, cur.fetchall())


def stats(cur, account_id) -> dict:
    """Seed 003's summary; success_rate is the percent of finished (succeeded or failed) runs."""
    by_cadence = counts.by_cadence(cur, account_id)
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


def tags(cur, account_id) -> list[str]:
    """Every tag the account's schedules carry, sorted."""
    cur.execute(queries["list_schedule_tags"], {"account_id": account_id})
    return [row["tag"] for row in cur.fetchall()]


def add_manual_run(cur, account_id, schedule_id, now: datetime):
    """A pending manual run, ready to push: once the caller commits, a ticker (woken by the insert's
    NOTIFY) pushes its job, as it pushes every run (core.runs.lifecycle)."""
    return manual_run(cur, account_id, schedule_id, now)


def conflict_warnings(cur, account_id, row, *, limit: int = 5, now: datetime | None = None) -> list[str]:
    """Seed 003's conflict detection, by occurrence: other ACTIVE schedules of the account that do the
    same work (task, task_parameters, report fields) and share occurrences with `row`, however their
    rules are written (weekly Monday 9:00 and cron `0 9 * * 1` in the same zone), as warnings.

    Only warned about, never refused: two such schedules may be on purpose (two recipients lists).
    """
    params = {name: row[name] for name in CLIENT_FIELDS}
    for name in _JSON_FIELDS:
        params[name] = Json(params[name])
    cur.execute(queries["find_same_work_schedules"],
                {**params, "account_id": account_id, "id": row.get("id"), "limit": SAME_WORK_CANDIDATES})
    after = now or row.get("created_at") or utcnow()
    shared_with = SharedOccurrences(row, after)
    warnings = []
    for other in cur:  # rows are built as read: the loop often stops at `limit` warnings
        if all(row.get(name) == other[name] for name in TIMING_FIELDS):
            warnings.append(f"duplicates schedule {other['id']} ('{other['name']}'): same task, parameters and timing")
        else:
            shared = shared_with.with_(other)
            if shared is None:
                continue
            warnings.append(f"shares occurrences with schedule {other['id']} ('{other['name']}'): same task and "
                            f"parameters, both run at {history.plain(shared)}")
        if len(warnings) == limit:
            break
    return warnings


def pages(total: int, page_size: int) -> int:
    return math.ceil(total / page_size) if total else 0
