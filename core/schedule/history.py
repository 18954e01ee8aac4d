"""A schedule's change history: who changed what, when, with each field's old and new value.

Every create, edit (PATCH), enable, disable, pause and resume bumps the schedule's `version` in the
same UPDATE that makes the change and records one `schedule_changes` row for that version. The
writers hold the schedule's row lock (SELECT ... FOR UPDATE, or the UPDATE itself) from reading the
old values to committing, so concurrent edits are recorded one after the other, each `old` being
the `new` of the change before; UNIQUE (schedule_id, version) is the last line of defence.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from psycopg2.extras import Json

from core.ops.sql import queries

# What the history compares, beside the client fields (core.schedule.schedules.CLIENT_FIELDS): the pause.
PAUSE_FIELDS = ("paused_at", "paused_until", "paused_by", "pause_note")


def plain(value):
    """A value as JSON shows it: instants in RFC 3339 UTC, like the API."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return value


def diff(old, new, names) -> dict:
    """{field: {"old": ..., "new": ...}} for each of `names` whose value differs (old None: created)."""
    changes = {}
    for name in names:
        before = None if old is None else old.get(name)
        after = new.get(name)
        if plain(before) != plain(after):
            changes[name] = {"old": plain(before), "new": plain(after)}
    return changes


def record(cur, row, *, action: str, actor: str, changes: dict, now: datetime, note: str | None = None) -> None:
    """One history row for the change that gave `row` (as written, with its new version)."""
    cur.execute(queries["insert_schedule_change"], {
        "schedule_id": row["id"], "account_id": row["account_id"], "version": row["version"],
        "action": action, "actor": actor, "changes": Json(changes), "note": note, "now": now})


def list_changes(cur, account_id, schedule_id, *, limit: int, before: int | None = None):
    """The schedule's changes, newest first; `before` is a version (cursor paging)."""
    cur.execute(queries["list_schedule_changes"], {"account_id": account_id, "schedule_id": schedule_id,
                                                   "limit": limit, "before": before})
    return cur.fetchall()
