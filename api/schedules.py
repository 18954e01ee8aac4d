"""/v1/schedules: create, list, read, edit, delete, enable and disable a tenant's schedules; and the
read-only views over them: preview (next runs of a body), stats and health (seed 003's summary and
problem schedules) and due.

Item routes take the id through werkzeug's `uuid` converter, so a malformed id is a plain 404 and
the fixed paths (/schedules/stats, /health, /due, /preview) can never be taken for an id. Each
request is one tenant transaction; another tenant's schedule is a 404 like a missing one.

The answers to the writes that can make a schedule duplicate another (create, edit, enable) carry
`warnings`: seed 003's conflict detection, another active schedule of the account doing exactly the
same (same task, parameters, report fields and timing). A warning never refuses anything. Reads and
disable do not look for conflicts: that query would cost every GET a scan of the tenant's schedules.
"""
from __future__ import annotations

import logging

import psycopg2.errors
from flask import g, url_for
from flask.views import MethodView

from api import idempotency as idempotent
from api.auth import require_token, unauthorized
from api.db import tenant
from api.base import Blueprint
from api.errors import ApiError, not_found
from api.schemas import (ChannelSchema, DueArgsSchema, HealthIssuesSchema, NoteSchema, PreviewArgsSchema,
                         PreviewSchema, PatchArgsSchema, SchedulePreviewArgsSchema, schedule_edit_schema,
                         ScheduleListArgsSchema, ScheduleListSchema, StatsSchema, error_schema,
                         schedule_patch_schema, schedule_preview_schema, schedule_schema,
                         schedule_with_warnings_schema, schedules_schema)
from core.deliveries import channels
from core.observe import health
from core.ops.clock import utcnow
from core.schedule import schedules
from core.engine.explain import explained_runs
from core.engine.timing import TimingError, next_runs_in_range, validate_timing

logger = logging.getLogger(__name__)

blp = Blueprint("schedules", __name__, url_prefix="/v1", description="Schedules of the caller's account")
blp.before_request(require_token)


@blp.route("/schedules")
class ScheduleCollection(MethodView):
    @blp.doc(operationId="list_schedules")
    @blp.arguments(ScheduleListArgsSchema, location="query")
    @blp.response(200, ScheduleListSchema)
    def get(self, args):
        """List schedules (active only unless active_only=false), newest first, a page at a time."""
        try:
            with tenant() as cur:
                rows, total, exact = schedules.list_page(cur, g.account_id, **args)
        except schedules.BadCursor as error:
            raise ApiError(400, "validation_error", "Invalid input", fields={"cursor": [str(error)]}) from None
        counted = total is not None
        return {"schedules": rows, "count": len(rows), "total": total, "total_exact": exact if counted else None,
                "page": args["page"] if counted else None, "page_size": args["page_size"],
                "pages": schedules.pages(total, args["page_size"]) if counted and exact else None,
                "next_cursor": schedules.next_cursor(rows, args["page_size"])}

    @blp.doc(operationId="create_schedule")
    @blp.arguments(schedule_schema)
    @blp.doc(parameters=[idempotent.PARAMETER])
    @blp.response(201, schedule_with_warnings_schema,
                  headers={"Location": {"description": "the schedule's URL", "schema": {"type": "string"}}})
    @blp.alt_response(422, schema=error_schema, description="The Idempotency-Key was used with another body")
    def post(self, values):
        """Create a schedule; its next_run_at is computed at once. `warnings` names active duplicates.

        With an `Idempotency-Key` header, a repeat within 24 hours gets the first answer (and
        `Idempotent-Replayed: true`) and creates nothing; the same key with another body is a 422."""
        key = idempotent.key_from_header()
        route = "POST /v1/schedules"
        now = utcnow()
        try:
            with tenant() as cur:
                if key and (replay := idempotent.claim(cur, g.account_id, route, key, now)) is not None:
                    return replay
                row = _with_warnings(cur, schedules.create(cur, g.account_id, values, now, g.actor))
                location = url_for("schedules.ScheduleItem", schedule_id=row["id"])
                if key:
                    response = idempotent.answer(cur, g.account_id, route, key, schedule_with_warnings_schema,
                                                 row, 201, location)
        except channels.UnknownChannel as error:
            raise _unknown_channel(error) from None
        except psycopg2.errors.ForeignKeyViolation:
            raise unauthorized("the token's account does not exist") from None
        logger.info("Created schedule %s (%s) with next run at %s", row["id"], row["name"], row["next_run_at"],
                    extra={"schedule_id": row["id"], "account_id": g.account_id})
        return response if key else (row, {"Location": location})


@blp.route("/schedules/<uuid:schedule_id>")
class ScheduleItem(MethodView):
    @blp.doc(operationId="get_schedule")
    @blp.response(200, schedule_schema)
    @blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
    def get(self, schedule_id):
        """One schedule."""
        with tenant() as cur:
            row = schedules.get(cur, g.account_id, schedule_id)
        return _found(row)

    @blp.doc(operationId="update_schedule")
    @blp.arguments(schedule_patch_schema, required=False)  # no body changes nothing, as {} does
    @blp.arguments(PatchArgsSchema, location="query")
    @blp.response(200, schedule_edit_schema)
    @blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
    def patch(self, changes, args, schedule_id):
        """Change some fields. A timing change (or turning it on) recomputes next_run_at; nothing else does.

        `?dry_run=true` answers with the schedule as it would be, `changes` and `next_runs_before` /
        `next_runs_after`, and writes nothing."""
        now = utcnow()
        if args["dry_run"]:
            with tenant() as cur:
                found = schedules.patch_dry_run(cur, g.account_id, schedule_id, changes, now)
                if found is None:
                    raise not_found()
                row, would_be, changed = found
                _with_warnings(cur, would_be)
            return {**would_be, "dry_run": True, "changes": changed,
                    "next_runs_before": _upcoming(row, now), "next_runs_after": _upcoming(would_be, now)}
        try:
            with tenant() as cur:
                row = _with_warnings(cur, schedules.patch(cur, g.account_id, schedule_id, changes, now, g.actor))
        except channels.UnknownChannel as error:
            raise _unknown_channel(error) from None
        return _found(row)

    @blp.doc(operationId="delete_schedule")
    @blp.response(204)
    @blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
    def delete(self, schedule_id):
        """Delete a schedule and its runs."""
        with tenant() as cur:
            deleted = schedules.delete(cur, g.account_id, schedule_id, g.actor)
        if not deleted:
            raise not_found()


@blp.route("/schedules/<uuid:schedule_id>/enable", methods=["POST"])
@blp.arguments(NoteSchema, required=False)
@blp.response(200, schedule_with_warnings_schema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
@blp.alt_response(409, schema=error_schema, description="The schedule would never run (e.g. end_at is past)")
def enable(args, schedule_id):
    """Turn a schedule on (a paused one is resumed); its next run is computed from now. `note` goes
    to the change history."""
    try:
        with tenant() as cur:
            row = _with_warnings(cur, schedules.enable(cur, g.account_id, schedule_id, utcnow(), g.actor,
                                                       args.get("note")))
    except TimingError as error:
        raise ApiError(409, "conflict", f"cannot enable this schedule: {error.message}",
                       fields=error.problems) from None
    return _found(row)


@blp.route("/schedules/<uuid:schedule_id>/disable", methods=["POST"])
@blp.arguments(NoteSchema, required=False)
@blp.response(200, schedule_schema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def disable(args, schedule_id):
    """Turn a schedule off (a paused one stays off, its pause ended); it keeps its settings and
    history. `note` goes to the change history."""
    with tenant() as cur:
        row = schedules.disable(cur, g.account_id, schedule_id, utcnow(), g.actor, args.get("note"))
    return _found(row)


@blp.route("/schedules/<uuid:schedule_id>/channels/<uuid:channel_id>/enable", methods=["POST"])
@blp.response(200, ChannelSchema)
@blp.alt_response(404, schema=error_schema, description="No such channel of this schedule in this account")
def enable_channel(schedule_id, channel_id):
    """Send to a channel again after its receiver answered 410 Gone (which disabled it)."""
    with tenant() as cur:
        channel = channels.enable(cur, g.account_id, schedule_id, channel_id)
    if channel is None:
        raise not_found("channel")
    logger.info("Enabled %s channel %s of schedule %s", channel["type"], channel_id, schedule_id,
                extra={"schedule_id": schedule_id, "account_id": g.account_id})
    return channel


@blp.route("/schedules/preview", methods=["POST"])
@blp.arguments(schedule_preview_schema)
@blp.arguments(SchedulePreviewArgsSchema, location="query")
@blp.response(200, PreviewSchema)
def preview(values, args):
    """The next runs of a schedule body, without saving anything (`count` runs after `after`, default
    now), each with its dispatch instant and the reasons it is where it is."""
    with tenant() as cur:
        values = schedules.with_calendar(cur, g.account_id, values)
    validate_timing(values)
    after = args.get("after") or utcnow()
    next_runs_in_range(values, after, args["count"])  # past the engine's range: a 400 naming count or after
    runs = explained_runs({**values, "id": args.get("schedule_id")}, after, args["count"])
    return {"timezone": values["timezone"], "count": len(runs), "runs": runs}


@blp.route("/schedules/<uuid:schedule_id>/preview")
@blp.arguments(PreviewArgsSchema, location="query")
@blp.response(200, PreviewSchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def preview_saved(args, schedule_id):
    """The next runs of a saved schedule (after `after`, default now; a paused schedule's from the end of
    its pause, none while it is paused without `until`; none when disabled), explained."""
    with tenant() as cur:
        row = schedules.with_calendar(cur, g.account_id, _found(schedules.get(cur, g.account_id, schedule_id)))
    runs = _upcoming(row, args.get("after") or utcnow(), args["count"])
    return {"timezone": row["timezone"], "count": len(runs), "runs": runs}


@blp.route("/schedules/stats")
@blp.response(200, StatsSchema)
def stats():
    """Counts of schedules (by state and cadence) and runs, and the success rate of finished runs."""
    with tenant() as cur:
        return schedules.stats(cur, g.account_id)


@blp.route("/schedules/health")
@blp.response(200, HealthIssuesSchema)
def schedule_health():
    """Problem schedules (seed 003): failing (under 50% success after 10+ runs), stale (no run for 7
    days), consecutive failures (3+). One entry per schedule and kind."""
    with tenant() as cur:
        issues = health.issues(cur, utcnow(), account_id=g.account_id)
    return {"issues": issues, "count": len(issues)}


@blp.route("/schedules/due")
@blp.arguments(DueArgsSchema, location="query")
@blp.response(200, schedules_schema)
def due(args):
    """Active schedules whose next run is now or past, most overdue first."""
    with tenant() as cur:
        return schedules.due(cur, g.account_id, utcnow(), args["limit"])


def _upcoming(row, after, count: int = 5) -> list[dict]:
    """A saved (or would-be) schedule's next runs, explained: none while it is off or paused without
    an end, from the end of its pause when it has one."""
    if not row["active"] and (row.get("paused_at") is None or row.get("paused_until") is None):
        return []
    return explained_runs(row, after, count, paused_until=row.get("paused_until"))


def _with_warnings(cur, row):
    if row is not None:
        row["warnings"] = schedules.conflict_warnings(cur, g.account_id, row, now=utcnow())
    return row


def _unknown_channel(error: channels.UnknownChannel) -> ApiError:
    message = "no channel of this schedule has this id"
    return ApiError(400, "validation_error", "Invalid input",
                    fields={"channels": {str(error.index): {"id": [message]}}})


def _found(row):
    if row is None:
        raise not_found()
    return row
