"""Pausing a schedule: by hand (with a note, and optionally until an instant), by itself after too
many failed runs in a row (`pause_after_failures`), and the resume, by hand or by the ticker at
`paused_until`.

A paused schedule is inactive (`active` false, so the due index never sees it and dispatch pays
nothing for pauses) and carries who paused it, when, why and until when. Resuming computes its next
run from the resume instant, so the occurrences it slept through never come as a burst: by hand,
the first occurrence after now; at `paused_until`, the first at or after that instant (a ticker that
was down meanwhile then finds it late and runs it once, as after any downtime). Every pause and
resume is a version in the change history (core/schedule/history.py).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from core.engine.timing import TimingError
from core.engine.when import next_dispatch
from core.ops.sql import queries
from core.schedule import history, schedules

NOTE_LIMIT = 500
_MICROSECOND = timedelta(microseconds=1)
_CHANGED_BY_PAUSE = ("active",) + history.PAUSE_FIELDS


class PauseRefused(Exception):
    """The schedule cannot be paused as asked (it is disabled); the message says why."""


def next_run_shown(row) -> tuple[datetime | None, datetime | None]:
    """(next occurrence, next run) as it is true to tell a person: the stored ones while the schedule is
    on; while it is paused until an instant, the first run at or after that instant (what the preview
    lists, and what the ticker's resume will compute); None while it is paused with no end or off.

    The stored next_run_at of an inactive schedule is the one it had when it stopped: the due index
    ignores it, and enabling or resuming computes a new one, so it is never shown as it is."""
    if row["active"]:
        return row.get("next_occurrence_at") or row["next_run_at"], row["next_run_at"]
    until = row.get("paused_until")
    if row.get("paused_at") is None or until is None:
        return None, None
    try:
        return next_dispatch(row, until - _MICROSECOND)
    except ValueError:  # a timing written by hand that cannot be computed: nothing to promise
        return None, None


def pause(cur, account_id, schedule_id, now: datetime, *, actor: str, note: str | None = None,
          until: datetime | None = None):
    """Pause an active (or already paused: note and until are replaced) schedule; None if there is none.
    TimingError naming `until` when it is not in the future."""
    if until is not None and until <= now:
        raise TimingError("until", "until must be in the future (to resume now, resume it)")
    row = schedules.get(cur, account_id, schedule_id, for_update=True)
    if row is None:
        return None
    if not row["active"] and row["paused_at"] is None:
        raise PauseRefused("the schedule is disabled: enable it first, or leave it off")
    cur.execute(queries["pause_schedule"], {"id": schedule_id, "now": now, "until": until, "actor": actor,
                                           "note": note})
    written = cur.fetchone()
    history.record(cur, written, action="pause", actor=actor, note=note, now=now,
                   changes=history.diff(row, written, _CHANGED_BY_PAUSE))
    return schedules.as_read(cur, account_id, written)


def resume(cur, account_id, schedule_id, now: datetime, *, actor: str, note: str | None = None):
    """Resume a paused schedule, its next run the first occurrence after now; a schedule that is not
    paused is returned as it is. TimingError when it has no run left (its end_at passed)."""
    row = schedules.get(cur, account_id, schedule_id, for_update=True)
    if row is None or row["paused_at"] is None:
        return row
    return schedules.enable(cur, account_id, schedule_id, now, actor=actor, note=note, action="resume")


def resume_due(cur, now: datetime, *, limit: int) -> list[dict]:
    """The ticker's unit: resume up to `limit` schedules whose paused_until has come (service
    transaction); returns them as written. Their next run is the first occurrence at or after
    paused_until; one with no run left stays inactive, its pause cleared."""
    cur.execute(queries["claim_paused_to_resume"], {"now": now, "limit": limit})
    resumed = []
    for row in cur.fetchall():
        until = row["paused_until"]
        note = f"the pause ended (paused until {history.plain(until)})"
        try:
            occurrence, next_run = next_dispatch(row, until - _MICROSECOND)
        except ValueError:  # a timing written by hand that cannot be computed: dispatch reports it
            occurrence = next_run = None
        if next_run is None:
            cur.execute(queries["end_pause_without_runs"], {"id": row["id"], "now": now})
            note += "; no run left, so the schedule stays off"
        else:
            cur.execute(queries["enable_schedule"], {
                "id": row["id"], "next_run_at": next_run, "now": now,
                "next_occurrence_at": occurrence if row["window_seconds"] else None})
        written = cur.fetchone()
        history.record(cur, written, action="resume", actor="ticker", note=note, now=now,
                       changes=history.diff(row, written, _CHANGED_BY_PAUSE))
        resumed.append(written)
    return resumed


def pause_for_failures(cur, schedule_id, error: str | None):
    """After a failed run: pause the schedule when its pause_after_failures is reached; returns the
    row when it was paused, else None. Runs inside the transaction that counted the failure."""
    suffix = f"; last error: {' '.join(error.split())}" if error else ""
    cur.execute(queries["pause_for_failures"], {"id": schedule_id, "suffix": suffix, "limit": NOTE_LIMIT})
    written = cur.fetchone()
    if written is None:
        return None
    before = {**written, "active": True, **dict.fromkeys(history.PAUSE_FIELDS)}
    history.record(cur, written, action="pause", actor="system", note=written["pause_note"],
                   now=written["paused_at"], changes=history.diff(before, written, _CHANGED_BY_PAUSE))
    return written
