"""/v1/schedules/{id}/runs[/{run_id}], .../runs/{run_id}/resend and /v1/schedules/{id}/run: a
schedule's audit trail, one run with its deliveries, resending a run's stored result, and running it now.

Running now records a `pending` manual run and nothing else: its insert wakes the tickers (NOTIFY),
and a ticker pushes its job within about a second, as it pushes every run (core.runs.lifecycle is the
only pusher), so a manual run gets the same guarantees as a scheduled one: recorded before anything
else, pushed once, retried, recovered. The API never talks to Redis for it.
"""
from __future__ import annotations

import logging

from flask import current_app, g

from api import idempotency as idempotent
from api.auth import require_token
from api.db import tenant
from api.base import Blueprint
from api.errors import ApiError, not_found
from api.schemas import (ResendAnswerSchema, ResendSchema, RunDetailSchema, RunListArgsSchema, RunListSchema,
                         RunNowArgsSchema, RunNowSchema, error_schema)
from core.ops.clock import utcnow
from core.runs import reads
from core.runs import resend as resends
from core.schedule import pauses, schedules

logger = logging.getLogger(__name__)
run_now_schema = RunNowSchema()

blp = Blueprint("runs", __name__, url_prefix="/v1",
                description="Runs of a schedule: history, one run with its deliveries, run-now")
blp.before_request(require_token)


@blp.route("/schedules/<uuid:schedule_id>/runs")
@blp.arguments(RunListArgsSchema, location="query")
@blp.response(200, RunListSchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def list_runs(args, schedule_id):
    """A schedule's runs, the latest due first (by `scheduled_for`, backfilled runs among the others;
    `limit` default 50, at most 500), a page at a time (`before`: the previous page's `next_before`);
    optional `status`, `trigger` and `from`/`to` (occurrences)."""
    with tenant() as cur:
        if schedules.get(cur, g.account_id, schedule_id) is None:
            raise not_found()
        rows = reads.runs(cur, g.account_id, schedule_id, **args)
    full = len(rows) == args["limit"]
    return {"runs": rows, "count": len(rows), "next_before": rows[-1]["id"] if full else None}


@blp.route("/schedules/<uuid:schedule_id>/runs/<uuid:run_id>")
@blp.response(200, RunDetailSchema)
@blp.alt_response(404, schema=error_schema, description="No such run of this schedule in this account")
def get_run(schedule_id, run_id):
    """One run with its deliveries: one ledger row per recipient, saying whether it was sent."""
    with tenant() as cur:
        run = reads.run_detail(cur, g.account_id, schedule_id, run_id)
    if run is None:
        raise not_found("run")
    return run


@blp.route("/schedules/<uuid:schedule_id>/runs/<uuid:run_id>/resend", methods=["POST"])
@blp.arguments(ResendSchema, required=False)
@blp.response(202, ResendAnswerSchema)
@blp.alt_response(404, schema=error_schema, description="No such run of this schedule in this account")
@blp.alt_response(409, schema=error_schema, description="The run has no stored result (its task did not finish)")
def resend(args, schedule_id, run_id):
    """Send a run's stored result again, without running its task: to every recipient and channel of
    the run (no body), or to those named (`recipients`, `channels`). The resend is a run of its own
    (trigger `resend`), delivered by a worker within about a second with new ledger rows, which the
    run's deliveries list with who asked; an address that unsubscribed stays suppressed."""
    try:
        with tenant() as cur:
            run = resends.resend(cur, current_app.config["SETTINGS"], g.account_id, schedule_id, run_id,
                                 recipients=args.get("recipients"), channel_ids=args.get("channels"),
                                 requested_by=g.actor, now=utcnow())
    except resends.ResendRefused as refused:
        if refused.status == 400:
            raise ApiError(400, "validation_error", refused.message, fields=refused.fields) from None
        raise ApiError(409, "conflict", refused.message, reason=refused.reason) from None
    if run is None:
        raise not_found("run")
    logger.info("Run %s of schedule %s resent by %s as run %s to %d target(s)", run_id, schedule_id, g.actor,
                run["id"], len(run["deliveries"]),
                extra={"run_id": str(run["id"]), "schedule_id": schedule_id, "account_id": g.account_id})
    return {**run, "message": "resend recorded: a ticker queues it within about a second"}


@blp.route("/schedules/<uuid:schedule_id>/run", methods=["POST"])
@blp.arguments(RunNowArgsSchema, required=False)
@blp.doc(parameters=[idempotent.PARAMETER])
@blp.response(202, RunNowSchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
@blp.alt_response(409, schema=error_schema, description="The schedule is inactive and force was not set")
@blp.alt_response(422, schema=error_schema, description="The Idempotency-Key was used with another body")
def run_now(args, schedule_id):
    """Run a schedule now, outside its cadence. An inactive schedule needs {"force": true}.

    With an `Idempotency-Key` header, a repeat within 24 hours gets the first answer (and
    `Idempotent-Replayed: true`) and records no second run; the same key with another body is a 422."""
    now = utcnow()
    key = idempotent.key_from_header()
    route = f"POST /v1/schedules/{schedule_id}/run"
    with tenant() as cur:
        schedule = schedules.get(cur, g.account_id, schedule_id)
        if schedule is None:
            raise not_found()
        if key and (replay := idempotent.claim(cur, g.account_id, route, key, now)) is not None:
            return replay
        if not schedule["active"] and not args["force"]:
            raise ApiError(409, "conflict", 'schedule is inactive: send {"force": true} to run it anyway',
                           reason="inactive")
        run = schedules.add_manual_run(cur, g.account_id, schedule_id, now)
        message = "run recorded: a ticker queues it within about a second"
        answer = {**run, "run_id": run["id"], "schedule_name": schedule["name"],
                  "next_run_at": pauses.next_run_shown(schedule)[1], "message": message}
        if key:
            answer = idempotent.answer(cur, g.account_id, route, key, run_now_schema, answer, 202)
    logger.info("Run %s of schedule %s requested by hand: %s", run["id"], schedule_id, run["status"],
                extra={"run_id": run["id"], "schedule_id": schedule_id, "account_id": g.account_id})
    return answer

