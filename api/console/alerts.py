"""The account's alerts in the console: where they go and which events it wants (validated by the
API's schema, every error at once), the incidents with their messages and each message's deliveries,
and a schedule's alert switch (on the schedule's page)."""
from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from api.console import bp
from api.console.forms import NEW_CHANNEL_TYPE, _messages
from api.console.schedules import back, get_or_404
from api.db import tenant
from api.schemas import AlertSettingsSchema
from core.alerts import EVENTS, incidents
from core.alerts import settings as alert_settings

logger = logging.getLogger(__name__)
settings_schema = AlertSettingsSchema()

EVENT_WORDS = {"failed": "a run failed", "delivery_failed": "a run could not be delivered to someone",
               "missed": "a run was missed", "paused": "a schedule paused itself after failures",
               "channel_disabled": "a receiver disabled a channel (410 Gone)",
               "stale": "a schedule stopped running"}
STATUSES = ("open", "closed")


@bp.route("/alerts")
def alert_list():
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    with tenant() as cur:
        current = alert_settings.get(cur, g.account_id)
        rows = incidents.list_alerts(cur, g.account_id, status=status, limit=100)
    return _page(current, rows, status, form=None, errors={})


def _page(current, rows, status, *, form, errors, code=200):
    values = form or {"emails": "\n".join(current["emails"]), "events": current["events"],
                      "keep": [c["id"] for c in current["channels"]], "new_type": NEW_CHANNEL_TYPE, "new_url": ""}
    return render_template("console/alerts.html", settings=current, alerts=rows, status=status, values=values,
                           errors=errors, event_words=EVENT_WORDS, events=EVENTS), code


@bp.route("/alerts/settings", methods=["POST"])
def save_alert_settings():
    form = request.form
    emails = [line.strip() for line in (form.get("emails") or "").replace(",", "\n").splitlines() if line.strip()]
    channels = [{"id": channel_id} for channel_id in form.getlist("keep")]
    if (form.get("new_url") or "").strip():
        channels.append({"type": form.get("new_type") or NEW_CHANNEL_TYPE, "url": form["new_url"].strip()})
    values = {"emails": form.get("emails") or "", "events": form.getlist("events"), "keep": form.getlist("keep"),
              "new_type": form.get("new_type") or NEW_CHANNEL_TYPE, "new_url": form.get("new_url") or ""}
    errors: dict = {}
    try:
        loaded = settings_schema.load({"emails": emails, "channels": channels, "events": form.getlist("events")})
    except ValidationError as error:
        errors = _messages(error.messages)
        loaded = None
    with tenant() as cur:
        if loaded is not None:
            try:
                alert_settings.save(cur, g.account_id, **{k: loaded[k] for k in ("emails", "channels", "events")})
            except alert_settings.UnknownChannel:
                errors = {"channels": ["a channel was removed meanwhile; look again"]}
        if errors:
            return _page(alert_settings.get(cur, g.account_id), incidents.list_alerts(cur, g.account_id, limit=100),
                         None, form=values, errors=errors, code=400)
    flash("Alert settings saved.")
    return redirect(url_for("console.alert_list"))


@bp.route("/schedules/<uuid:schedule_id>/alerts", methods=["POST"])
def schedule_alerts(schedule_id):
    """The schedule's alert switch; `to` says which way, so a double submit is harmless."""
    enabled = request.form.get("to") == "on"
    with tenant() as cur:
        row = get_or_404(cur, schedule_id)
        incidents.set_schedule_alerts(cur, g.account_id, schedule_id, enabled)
    flash(f"Alerts of “{row['name']}” are {'on' if enabled else 'off'}.")
    return redirect(back(schedule_id))
