"""POST /v1/schedules/bulk: one action (pause, resume, enable, disable, delete, add or remove a
recipient) on every schedule of the caller's account that a filter picks, or, with `dry_run`, what it
would change. core/schedule/bulk.py does the work, one schedule at a time through the same functions as
the single-schedule routes, so each schedule changed gets its own history entry. One tenant
transaction: another account's schedules are never picked, whatever the filter says.
"""
from __future__ import annotations

import logging

from flask import current_app, g

from api.auth import require_token
from api.base import Blueprint
from api.db import tenant
from api.errors import ApiError
from api.schemas import BulkAnswerSchema, BulkSchema
from core.ops.clock import utcnow
from core.schedule import bulk

logger = logging.getLogger(__name__)

blp = Blueprint("bulk", __name__, url_prefix="/v1", description="Change many schedules at once")
blp.before_request(require_token)


@blp.route("/schedules/bulk", methods=["POST"])
@blp.arguments(BulkSchema)
@blp.response(200, BulkAnswerSchema)
def bulk_change(args):
    """Apply one action to every schedule the filter picks (ids, tag, q, state: all that are given must
    hold; at most 1,000 schedules), each answered with its outcome; `dry_run` writes nothing and
    answers what would change."""
    now = utcnow()
    criteria = args["filter"]
    try:
        with tenant() as cur:
            rows = bulk.match(cur, g.account_id, ids=criteria.get("ids"), tag=criteria.get("tag"),
                              q=criteria.get("q"), state=criteria.get("state"))
            answered = bulk.apply(cur, g.account_id, rows, args["action"], now=now, actor=g.actor,
                                  dry_run=args["dry_run"], note=args["note"], until=args["until"],
                                  email=args.get("email"),
                                  max_recipients=current_app.config["SETTINGS"].max_recipients)
    except bulk.TooMany as error:
        raise ApiError(400, "validation_error", "Invalid input", fields={"filter": [str(error)]}) from None
    counts = {outcome: sum(1 for a in answered if a["outcome"] == outcome)
              for outcome in ("changed", "would_change", "unchanged", "refused")}
    if not args["dry_run"] and counts["changed"]:
        logger.info("Bulk %s by %s: %d schedule(s) changed, %d unchanged, %d refused", args["action"], g.actor,
                    counts["changed"], counts["unchanged"], counts["refused"], extra={"account_id": g.account_id})
    return {"action": args["action"], "dry_run": args["dry_run"], "matched": len(answered),
            "changed": counts["would_change"] if args["dry_run"] else counts["changed"],
            "unchanged": counts["unchanged"], "refused": counts["refused"], "schedules": answered}
