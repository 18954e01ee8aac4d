"""/v1/alerts: the account's alerts. Where they go and which events it wants (`/v1/alerts/settings`),
the incidents with their messages and each message's deliveries (`/v1/alerts`, `/v1/alerts/{id}`), and
a schedule's switch (`/v1/schedules/{id}/alerts`). core/alerts holds the rules; the incidents
themselves are written by the events (migration 0019), never by these routes.
"""
from __future__ import annotations

import logging

from flask import g

from api.auth import require_token
from api.base import Blueprint
from api.db import tenant
from api.errors import ApiError, not_found
from api.schemas import (AlertListArgsSchema, AlertListSchema, AlertSchema, AlertSettingsSchema,
                         ScheduleAlertsSchema, error_schema)
from core.alerts import incidents
from core.alerts import settings as alert_settings

logger = logging.getLogger(__name__)

blp = Blueprint("alerts", __name__, url_prefix="/v1",
                description="Alerts to the account owner: settings, incidents, a schedule's switch")
blp.before_request(require_token)


@blp.route("/alerts/settings")
@blp.response(200, AlertSettingsSchema)
def read_settings():
    """Where the account's alerts go (emails, webhook and Slack URLs; Slack masked) and which events it wants."""
    with tenant() as cur:
        return alert_settings.get(cur, g.account_id)


@blp.route("/alerts/settings", methods=["PUT"])
@blp.arguments(AlertSettingsSchema)
@blp.response(200, AlertSettingsSchema)
def save_settings(values):
    """Replace the settings: `emails`, `channels` (`{"id"}` keeps a saved one), `events`."""
    with tenant() as cur:
        try:
            saved = alert_settings.save(cur, g.account_id, emails=values["emails"], channels=values["channels"],
                                        events=values["events"])
        except alert_settings.UnknownChannel as error:
            raise ApiError(400, "validation_error", "Invalid input",
                           fields={"channels": {str(error.index): {"id": ["no alert channel has this id"]}}})
    logger.info("Alert settings saved: %d address(es), %d channel(s), events %s", len(saved["emails"]),
                len(saved["channels"]), ",".join(saved["events"]), extra={"account_id": g.account_id})
    return saved


@blp.route("/alerts")
@blp.arguments(AlertListArgsSchema, location="query")
@blp.response(200, AlertListSchema)
def list_alerts(args):
    """The account's alerts (one per incident), newest first, with their messages and deliveries;
    `status` (open, closed), `schedule_id`, `limit` (default 50, at most 200), `before`."""
    with tenant() as cur:
        rows = incidents.list_alerts(cur, g.account_id, status=args.get("status"),
                                     schedule_id=args.get("schedule_id"), before=args.get("before"),
                                     limit=args["limit"])
    return {"alerts": rows, "count": len(rows),
            "next_before": rows[-1]["id"] if len(rows) == args["limit"] else None}


@blp.route("/alerts/<uuid:alert_id>")
@blp.response(200, AlertSchema)
@blp.alt_response(404, schema=error_schema, description="No such alert in this account")
def get_alert(alert_id):
    """One alert with its messages and each message's deliveries."""
    with tenant() as cur:
        row = incidents.get_alert(cur, g.account_id, alert_id)
    if row is None:
        raise not_found("alert")
    return row


@blp.route("/schedules/<uuid:schedule_id>/alerts")
@blp.response(200, ScheduleAlertsSchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def read_schedule_alerts(schedule_id):
    """Whether this schedule's events alert the account."""
    with tenant() as cur:
        row = incidents.schedule_alerts(cur, g.account_id, schedule_id)
    if row is None:
        raise not_found()
    return row


@blp.route("/schedules/<uuid:schedule_id>/alerts", methods=["PUT"])
@blp.arguments(ScheduleAlertsSchema)
@blp.response(200, ScheduleAlertsSchema)
@blp.alt_response(404, schema=error_schema, description="No such schedule in this account")
def set_schedule_alerts(values, schedule_id):
    """Turn this schedule's alerts off (`{"enabled": false}`: its events open no alert) or on again."""
    with tenant() as cur:
        row = incidents.set_schedule_alerts(cur, g.account_id, schedule_id, values["enabled"])
    if row is None:
        raise not_found()
    logger.info("Alerts of schedule %s turned %s", schedule_id, "on" if row["enabled"] else "off",
                extra={"account_id": g.account_id, "schedule_id": str(schedule_id)})
    return row
