"""The schedule's actions in the API's words: pause (until a wall time in the schedule's zone, with a
note) and resume, disable and enable, the list's switch, re-enable a channel a 410 disabled,
backfill a past range, and resend a run's stored result. Each is one call of the core operation the API's route calls, with the
person signed in as the actor (api/console/who.py), and redirects back with a one-line message.
"""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, g, redirect, request

from api.console import bp, forms, words
from api.console.schedules import back, get_or_404, utcnow
from api.console.who import actor
from api.db import tenant
from core.deliveries import channels
from core.engine.timing import TimingError
from core.runs import resend as resends
from core.schedule import backfill as backfills
from core.schedule import pauses, schedules

logger = logging.getLogger(__name__)


@bp.route("/schedules/<uuid:schedule_id>/toggle", methods=["POST"])
def toggle(schedule_id):
    """The list's switch: pause an active schedule (no end: resumed by hand), resume a paused one, turn
    a disabled one on. `to` says which way, so a double submit is harmless."""
    turn_on = request.form.get("to") == "on"
    now = utcnow()
    try:
        with tenant() as cur:
            row = get_or_404(cur, schedule_id)
            if turn_on and row["paused_at"] is not None:
                row = pauses.resume(cur, g.account_id, schedule_id, now, actor=actor())
            elif turn_on:
                row = schedules.enable(cur, g.account_id, schedule_id, now, actor())
            elif row["active"]:
                row = pauses.pause(cur, g.account_id, schedule_id, now, actor=actor())
    except TimingError as error:
        flash(f"Cannot turn this schedule on: {error.message}", "error")
        return redirect(back(schedule_id))
    flash(f"“{row['name']}” is {_STATE_WORDS[schedules.state_of(row)]}.")
    return redirect(back(schedule_id))


_STATE_WORDS = {"active": "on", "paused": "paused", "disabled": "off"}


def _note() -> str | None:
    return (request.form.get("note") or "").strip()[:pauses.NOTE_LIMIT] or None


@bp.route("/schedules/<uuid:schedule_id>/pause", methods=["POST"])
def pause(schedule_id):
    """Pause, as POST /v1/schedules/{id}/pause: a note, and optionally until a wall time in the
    schedule's zone (the ticker resumes it then)."""
    now = utcnow()
    with tenant() as cur:
        row = get_or_404(cur, schedule_id)
        until, problem = forms.pause_until(request.form.get("until"), row["timezone"])
        if problem:
            flash(f"Not paused: {problem}", "error")
            return redirect(back(schedule_id))
        try:
            row = pauses.pause(cur, g.account_id, schedule_id, now, actor=actor(), note=_note(), until=until)
        except (pauses.PauseRefused, TimingError) as error:
            flash(f"Not paused: {error}.", "error")
            return redirect(back(schedule_id))
    flash(f"“{row['name']}” is paused" + (f" until {words.local(until, row['timezone'])}." if until else
                                          ": no runs until it is resumed."))
    return redirect(back(schedule_id))


@bp.route("/schedules/<uuid:schedule_id>/resume", methods=["POST"])
def resume(schedule_id):
    return _turn_on(schedule_id, lambda cur, now: pauses.resume(cur, g.account_id, schedule_id, now,
                                                                actor=actor(), note=_note()))


@bp.route("/schedules/<uuid:schedule_id>/enable", methods=["POST"])
def enable(schedule_id):
    return _turn_on(schedule_id, lambda cur, now: schedules.enable(cur, g.account_id, schedule_id, now, actor(),
                                                                   _note()))


def _turn_on(schedule_id, operation):
    try:
        with tenant() as cur:
            get_or_404(cur, schedule_id)
            row = operation(cur, utcnow())
    except TimingError as error:
        flash(f"Cannot turn this schedule on: {error.message}", "error")
        return redirect(back(schedule_id))
    flash(f"“{row['name']}” is {_STATE_WORDS[schedules.state_of(row)]}.")
    return redirect(back(schedule_id))


@bp.route("/schedules/<uuid:schedule_id>/disable", methods=["POST"])
def disable(schedule_id):
    """Disable, as POST /v1/schedules/{id}/disable (a pause ends: off is the stronger state)."""
    with tenant() as cur:
        get_or_404(cur, schedule_id)
        row = schedules.disable(cur, g.account_id, schedule_id, utcnow(), actor(), _note())
    flash(f"“{row['name']}” is off: no runs until it is turned on.")
    return redirect(back(schedule_id))


@bp.route("/schedules/<uuid:schedule_id>/channels/<uuid:channel_id>/enable", methods=["POST"])
def enable_channel(schedule_id, channel_id):
    """Send to a channel again after its receiver answered 410 Gone, as the API's .../enable."""
    with tenant() as cur:
        channel = channels.enable(cur, g.account_id, schedule_id, channel_id)
    if channel is None:
        abort(404)
    logger.info("Enabled %s channel %s of schedule %s from the console", channel["type"], channel_id, schedule_id,
                extra={"schedule_id": schedule_id, "account_id": g.account_id})
    flash(f"The {channel['type']} channel {channel['url']} is sending again.")
    return redirect(back(schedule_id))


@bp.route("/schedules/<uuid:schedule_id>/backfill", methods=["POST"])
def backfill(schedule_id):
    """Backfill, as POST /v1/schedules/{id}/backfill: one run (trigger backfill) per occurrence from
    `from` to `to`, wall times in the schedule's zone, both included."""
    now = utcnow()
    with tenant() as cur:
        schedule = get_or_404(cur, schedule_id)
        start, end, problem = forms.backfill_range(request.form, schedule["timezone"])
        if problem:
            flash(f"Nothing backfilled: {problem}", "error")
            return redirect(back(schedule_id))
        try:
            done = backfills.backfill(cur, g.account_id, schedule, start, end, now)
        except TimingError as error:
            flash(f"Nothing backfilled: {error.message}.", "error")
            return redirect(back(schedule_id))
    flash(f"Backfill: {done['created']} run(s) made for {done['occurrences']} occurrence(s)"
          + (f"; {done['existing']} had a run already." if done["existing"] else "."))
    return redirect(back(schedule_id) + "#history")


@bp.route("/schedules/<uuid:schedule_id>/runs/<uuid:run_id>/resend", methods=["POST"])
def resend(schedule_id, run_id):
    """Resend, as POST /v1/schedules/{id}/runs/{run_id}/resend: the run's stored result to the deliveries
    ticked (`target`: `email:<address>` or `channel:<id>`), or to every one with `all`."""
    subset: dict = {}
    if not request.form.get("all"):
        picked = request.form.getlist("target")
        subset = {"recipients": [t[6:] for t in picked if t.startswith("email:")],
                  "channel_ids": [t[8:] for t in picked if t.startswith("channel:")]}
        if not picked:
            flash("Nothing resent: tick the deliveries to send again, or resend to all.", "error")
            return redirect(back(schedule_id) + "#history")
    try:
        with tenant() as cur:
            get_or_404(cur, schedule_id)
            run = resends.resend(cur, current_app.config["SETTINGS"], g.account_id, schedule_id, run_id,
                                 requested_by=actor(), now=utcnow(), **subset)
    except resends.ResendRefused as refused:
        flash(f"Nothing resent: {_refusal(refused)}", "error")
        return redirect(back(schedule_id) + "#history")
    if run is None:
        abort(404)
    logger.info("Run %s of schedule %s resent from the console as run %s", run_id, schedule_id, run["id"],
                extra={"run_id": str(run["id"]), "schedule_id": schedule_id, "account_id": g.account_id})
    waiting = [d["target"] for d in run["deliveries"] if d["status"] == "pending"]
    suppressed = [d["target"] for d in run["deliveries"] if d["status"] == "suppressed"]
    flash(f"Resending to {', '.join(waiting) or 'nobody'}" + (f"; {', '.join(suppressed)} unsubscribed: not sent"
                                                              if suppressed else "") + ".")
    return redirect(back(schedule_id) + "#history")


def _refusal(refused) -> str:
    if not refused.fields:
        return refused.message
    return "; ".join(message for messages in refused.fields.values()
                     for message in (messages.values() if isinstance(messages, dict) else [messages])
                     for message in (message if isinstance(message, list) else [message]))
