"""/v1/schedules/{id}/pause, /resume, /backfill and /history: control over when a schedule runs, and
who changed it.

A pause makes the schedule inactive with a note, who and when, and optionally `until` (the ticker
resumes it then). Resuming computes the next run from the resume, so the occurrences it slept
through never come as a burst. Every change to a schedule (here, and create, PATCH, enable,
disable in api/schedules.py) is a version in its history, which GET .../history pages through.
"""
from __future__ import annotations


from flask import g

from api.auth import require_token
from api.db import tenant
from api.base import Blueprint
from api.errors import ApiError, not_found
from api.schemas import (BackfillAnswerSchema, BackfillSchema, HistoryArgsSchema, HistorySchema, NoteSchema,
                         PauseSchema, error_schema, schedule_schema)
from core.ops.clock import utcnow
from core.schedule import backfill as backfills
from core.schedule import history, pauses, schedules
from core.engine.timing import TimingError

blp = Blueprint("controls", __name__, url_prefix="/v1",
                description="Pause and resume a schedule, and its change history")
blp.before_request(require_token)


@blp.route("/schedules/<uuid:schedule_id>/pause", methods=["POST"])
@blp.arguments(PauseSchema, required=False)
@blp.response(200, schedule_schema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
@blp.alt_response(409, schema=error_schema, description="The schedule is disabled")
def pause(args, schedule_id):
    """Pause a schedule: no run until it is resumed (by hand, or by the ticker at `until`). Pausing a
    paused schedule replaces its note and `until`."""
    now = utcnow()
    try:  # an `until` not in the future is core's TimingError: a 400 naming it
        with tenant() as cur:
            row = pauses.pause(cur, g.account_id, schedule_id, now, actor=g.actor, note=args.get("note"),
                               until=args.get("until"))
    except pauses.PauseRefused as error:
        raise ApiError(409, "conflict", str(error), reason="disabled") from None
    return _found(row)


@blp.route("/schedules/<uuid:schedule_id>/resume", methods=["POST"])
@blp.arguments(NoteSchema, required=False)
@blp.response(200, schedule_schema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
@blp.alt_response(409, schema=error_schema, description="The schedule has no run left (end_at is past)")
def resume(args, schedule_id):
    """Resume a paused schedule: its next run is the first occurrence after now. A schedule that is
    not paused is answered as it is."""
    try:
        with tenant() as cur:
            row = pauses.resume(cur, g.account_id, schedule_id, utcnow(), actor=g.actor, note=args.get("note"))
    except TimingError as error:
        raise ApiError(409, "conflict", f"cannot resume this schedule: {error.message}",
                       fields=error.problems) from None
    return _found(row)


@blp.route("/schedules/<uuid:schedule_id>/history")
@blp.arguments(HistoryArgsSchema, location="query")
@blp.response(200, HistorySchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def schedule_history(args, schedule_id):
    """Every recorded change of a schedule, newest first: create, update (PATCH), enable, disable,
    pause, resume, with who, when, a note and each field's old and new value."""
    with tenant() as cur:
        if schedules.get(cur, g.account_id, schedule_id) is None:
            raise not_found()
        rows = history.list_changes(cur, g.account_id, schedule_id, limit=args["limit"], before=args.get("before"))
    more = len(rows) == args["limit"] and rows[-1]["version"] > 1
    return {"history": rows, "count": len(rows), "next_before": rows[-1]["version"] if more else None}


@blp.route("/schedules/<uuid:schedule_id>/backfill", methods=["POST"])
@blp.arguments(BackfillSchema)
@blp.response(200, BackfillAnswerSchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def backfill(args, schedule_id):
    """Run the schedule once for each of its occurrences from `from` to `to` (both included, in the
    past, at most 1,000): runs with trigger `backfill`, pushed at once, oldest first. An occurrence
    that already has a run gets none, so asking twice creates nothing new. Works on paused and
    disabled schedules too."""
    now = utcnow()
    with tenant() as cur:
        schedule = schedules.get(cur, g.account_id, schedule_id)
        if schedule is None:
            raise not_found()
        return backfills.backfill(cur, g.account_id, schedule, args["from_"], args["to"], now)


def _found(row):
    if row is None:
        raise not_found()
    return row
