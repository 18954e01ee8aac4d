"""Bulk changes: one action on every schedule of the tenant a filter picks, or, with `dry_run`, what it
would change, writing nothing.

The filter is any of `ids`, `tag`, `q` (a part of the name, any case) and `state` (active, paused,
disabled); every criterion given must hold, and at least one must be given. The actions are those of
the single-schedule routes, done by the same functions, so each schedule changed gets its own entry in
its change history (who, the note): pause (`note`, `until`), resume, enable, disable (`note`), delete,
and add_recipient / remove_recipient (`email`, an edit of `recipients`). Each picked schedule is
answered with its outcome: `changed` (`would_change` on a dry run), `unchanged` (already so), or
`refused` with why (a disabled schedule cannot be paused, one with no run left cannot be turned on,
a full recipient list). One transaction: every change, or none if the request fails.
"""
from __future__ import annotations

from datetime import datetime

from core import model
from core.engine.timing import TimingError
from core.ops.sql import queries
from core.schedule import pauses, schedules

ACTIONS = model.BULK_ACTIONS
MAX_SCHEDULES = 1000


class TooMany(Exception):
    """The filter picks more than MAX_SCHEDULES schedules."""


def match(cur, account_id, *, ids=None, tag=None, q=None, state=None) -> list[dict]:
    """The tenant's schedules the filter picks, in id order; TooMany past MAX_SCHEDULES."""
    cur.execute(queries["bulk_match_schedules"], {
        "account_id": account_id, "ids": [str(i) for i in ids] if ids is not None else None, "tag": tag,
        "name": q or None, "state": state, "limit": MAX_SCHEDULES + 1})
    rows = cur.fetchall()
    if len(rows) > MAX_SCHEDULES:
        raise TooMany(f"the filter picks more than {MAX_SCHEDULES} schedules: narrow it")
    return rows


def apply(cur, account_id, rows: list[dict], action: str, *, now: datetime, actor: str, dry_run: bool,
          note: str | None = None, until: datetime | None = None, email: str | None = None,
          max_recipients: int = 50) -> list[dict]:
    """`action` on each of `rows` (from `match`), or what it would do (`dry_run`); one entry per schedule:
    {id, name, state (before), outcome, detail}."""
    if action == "pause" and until is not None and until <= now:
        raise TimingError("until", "until must be in the future (to resume now, resume it)")
    answered = []
    for row in rows:
        outcome, detail = _judge(row, action, note=note, until=until, email=email, max_recipients=max_recipients)
        if outcome == "changed" and dry_run:
            outcome = "would_change"
        elif outcome == "changed":
            try:
                _do(cur, account_id, row, action, now=now, actor=actor, note=note, until=until, email=email)
            except TimingError as error:  # enabling a schedule with no run left
                outcome, detail = "refused", error.message
        answered.append({"id": row["id"], "name": row["name"], "state": row["state"], "outcome": outcome,
                         "detail": detail})
    return answered


def _judge(row, action: str, *, note, until, email, max_recipients) -> tuple[str, str | None]:
    """Whether `action` changes the schedule: (changed | unchanged | refused, why)."""
    state = row["state"]
    if action == "pause":
        if state == "disabled":
            return "refused", "the schedule is disabled: enable it first, or leave it off"
        if state == "paused" and row["paused_until"] == until and row["pause_note"] == note:
            return "unchanged", "already paused so"
        return "changed", None
    if action == "resume":
        return ("changed", None) if state == "paused" else ("unchanged", f"not paused ({state})")
    if action == "enable":
        return ("unchanged", "already on") if state == "active" else ("changed", None)
    if action == "disable":
        return ("unchanged", "already off") if state == "disabled" else ("changed", None)
    if action == "delete":
        return "changed", None
    present = email.lower() in {r.lower() for r in row["recipients"] or []}
    if action == "add_recipient":
        if present:
            return "unchanged", "already a recipient"
        if len(row["recipients"] or []) >= max_recipients:
            return "refused", f"the schedule has {max_recipients} recipients already (MAX_RECIPIENTS)"
        return "changed", None
    return ("changed", None) if present else ("unchanged", "not a recipient")


def _do(cur, account_id, row, action: str, *, now, actor, note, until, email) -> None:
    schedule_id = row["id"]
    if action == "pause":
        pauses.pause(cur, account_id, schedule_id, now, actor=actor, note=note, until=until)
    elif action == "resume":
        pauses.resume(cur, account_id, schedule_id, now, actor=actor, note=note)
    elif action == "enable":
        schedules.enable(cur, account_id, schedule_id, now, actor, note)
    elif action == "disable":
        schedules.disable(cur, account_id, schedule_id, now, actor, note)
    elif action == "delete":
        schedules.delete(cur, account_id, schedule_id, actor)
    else:
        recipients = list(row["recipients"] or [])
        if action == "add_recipient":
            recipients.append(email)
        else:
            recipients = [r for r in recipients if r.lower() != email.lower()]
        schedules.patch(cur, account_id, schedule_id, {"recipients": recipients}, now, actor)
