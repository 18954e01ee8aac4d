"""/v1/calendars: an account's business calendars (public holidays of a country and subdivision,
weekend days, the office's own days off and worked days), which schedules follow through
`calendar_id` and `on_holiday`. Each request is one tenant transaction: another tenant's calendar is
a 404 like a missing one. Deleting a calendar a schedule follows is a 409 naming the schedules.
"""
from __future__ import annotations

import logging

from flask import g
from flask.views import MethodView

from api.auth import require_token
from api.base import Blueprint
from api.db import tenant
from api.errors import ApiError, not_found, validation_body
from api.schemas import CalendarListSchema, CalendarPatchSchema, CalendarSchema, error_schema
from core.calendars import calendars
from core.engine.business_days import CalendarError
from core.ops.clock import utcnow

logger = logging.getLogger(__name__)

blp = Blueprint("calendars", __name__, url_prefix="/v1",
                description="Business calendars of the caller's account: days off that schedules skip or move around")
blp.before_request(require_token)


def _bad(error: CalendarError) -> ApiError:
    answer = validation_body({error.field: [error.message]})
    return ApiError(400, answer["error"], answer["message"], fields=answer["fields"])


def _dates(values: dict) -> dict:
    return {k: ([d.isoformat() for d in v] if k in ("add_dates", "remove_dates") else v) for k, v in values.items()}


@blp.route("/calendars")
class Calendars(MethodView):
    @blp.doc(operationId="list_calendars")
    @blp.response(200, CalendarListSchema)
    def get(self):
        """The account's calendars, by name."""
        with tenant() as cur:
            rows = calendars.list_all(cur, g.account_id)
        return {"calendars": rows, "count": len(rows)}

    @blp.doc(operationId="create_calendar")
    @blp.arguments(CalendarSchema)
    @blp.response(201, CalendarSchema)
    def post(self, values):
        """Create a calendar; `country` and `subdivision` must be known to the pinned holidays package."""
        try:
            with tenant() as cur:
                row = calendars.create(cur, g.account_id, _dates(values), utcnow())
        except CalendarError as error:
            raise _bad(error) from None
        logger.info("Created calendar %s (%s)", row["id"], row["name"], extra={"account_id": g.account_id})
        return row


@blp.route("/calendars/<uuid:calendar_id>")
class CalendarItem(MethodView):
    @blp.doc(operationId="get_calendar")
    @blp.response(200, CalendarSchema)
    @blp.alt_response(404, schema=error_schema, description="No such calendar in this account")
    def get(self, calendar_id):
        """One calendar."""
        with tenant() as cur:
            row = calendars.get(cur, g.account_id, calendar_id)
        if row is None:
            raise not_found("calendar")
        return row

    @blp.doc(operationId="patch_calendar")
    @blp.arguments(CalendarPatchSchema, required=False)  # no body changes nothing, as {} does
    @blp.response(200, CalendarSchema)
    @blp.alt_response(404, schema=error_schema, description="No such calendar in this account")
    def patch(self, changes, calendar_id):
        """Change a calendar; the schedules that follow it get their next runs computed again."""
        try:
            with tenant() as cur:
                row = calendars.patch(cur, g.account_id, calendar_id, _dates(changes or {}), utcnow())
        except CalendarError as error:
            raise _bad(error) from None
        if row is None:
            raise not_found("calendar")
        return row

    @blp.doc(operationId="delete_calendar")
    @blp.response(204, description="Deleted")
    @blp.alt_response(404, schema=error_schema, description="No such calendar in this account")
    @blp.alt_response(409, schema=error_schema, description="Schedules follow this calendar (named in `schedules`)")
    def delete(self, calendar_id):
        """Delete a calendar no schedule follows."""
        try:
            with tenant() as cur:
                deleted = calendars.delete(cur, g.account_id, calendar_id)
        except calendars.CalendarInUse as used:
            names = ", ".join(f"'{s['name']}' ({s['id']})" for s in used.schedules)
            raise ApiError(409, "calendar_in_use", f"calendar in use by schedule(s) {names}: "
                                                   f"give them another calendar_id or none first",
                           schedules=used.schedules) from None
        if not deleted:
            raise not_found("calendar")
        return "", 204
