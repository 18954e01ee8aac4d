"""Create and edit a schedule, with every field the API takes, and the live preview.

The form is validated by the API's schemas (api/console/forms.py), so the messages beside the fields
are the API's 400 `fields`, every one at once. The write goes through core.schedule.schedules.create /
patch in one tenant transaction, exactly as the API's POST and PATCH do; an edit sends only the fields
the person changed (forms.changes), so saving never touches what the form does not show: the pause,
a channel's state. POST /console/preview answers the next runs of the form as it stands (JSON, for
static/console.js), each marked when daylight saving moved it, and for a saved schedule that is
paused or off, what that state does to them.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from api.console import bp, forms, words
from api.console.schedules import utcnow
from api.console.who import actor
from api.db import tenant
from core import model
from core.calendars import calendars
from core.deliveries import channels
from core.engine.explain import explained_runs
from core.engine.timing import TIMING_FIELDS, TimingError
from core.schedule import schedules

PREVIEW_COUNT = 6
_MICROSECOND = timedelta(microseconds=1)
_ZONES: list[str] = []


def zones() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))
    return _ZONES


def _calendar_options(chosen) -> list[tuple[str, str]]:
    """The calendar select's options: none, then the account's calendars by name (and an id the form
    holds that is none of them, so the error beside it names what was sent)."""
    with tenant() as cur:
        rows = calendars.list_all(cur, g.account_id)
    options = [("", "None")] + [(str(row["id"]), row["name"]) for row in rows]
    if chosen and str(chosen) not in {value for value, _ in options}:
        options.append((str(chosen), f"{chosen} (not a calendar of this account)"))
    return options


def _render(values, errors, *, schedule=None, status=200):
    now = utcnow()
    form = request.form if request.method == "POST" else forms.as_form(values)
    preview, preview_errors, state = _preview(form, schedule, now)
    return render_template(
        "console/edit.html", v=values, errors=errors, s=schedule, cadences=list(model.CADENCE_LABELS.items()),
        calendars=_calendar_options(values.get("calendar_id")),
        zones=zones(), tasks=sorted(current_app.config["SETTINGS"].tasks), overlap_policies=model.OVERLAP_POLICIES,
        catchup_policies=model.CATCHUP_POLICIES, days=words.DAYS, words=words,
        preview=preview, preview_errors=preview_errors, preview_state=state), status


def _preview_after(form, zone: str, now):
    """The preview's "Show runs from" date (midnight in the schedule's zone), else now."""
    text = (form.get("preview_from") or "").strip()
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
        return day.replace(tzinfo=ZoneInfo(zone)) - timedelta(microseconds=1)
    except (ValueError, KeyError, OSError):
        return now


def _held(form, schedule) -> tuple[bool, datetime | None, str | None]:
    """(whether the saved schedule's state holds its runs back, until when, the words for it): a pause
    or off stays as it is unless the form turns the schedule on."""
    if schedule is None or schedule["active"] or form.get("active") in ("on", "true", "1"):
        return False, None, None
    until = schedule.get("paused_until")
    if schedule.get("paused_at") is None:
        return True, None, "Off: no runs until it is turned on."
    if until is None:
        return True, None, "Paused until someone resumes it: no runs meanwhile."
    return True, until, f"Paused until {words.local(until, schedule['timezone'])}: the runs before it are skipped."


def _preview(form, schedule, now):
    """(next runs of the form, errors, what the saved schedule's pause or off does to them)."""
    # Only the timing decides the runs: other fields' problems are shown when the form is saved.
    loaded, errors = forms.load({name: form.get(name) for name in TIMING_FIELDS if name in form}, preview=True)
    held, until, state = _held(form, schedule)
    if loaded is None:
        return [], errors, state
    if held and until is None:
        return [], {}, state
    try:
        after = _preview_after(form, loaded["timezone"], now)
        if until is not None:
            after = max(after, until - _MICROSECOND)
        return words.upcoming(loaded, explained_runs(loaded, after, PREVIEW_COUNT), now), {}, state
    except TimingError as error:
        return [], error.problems, state


def _flash_saved(verb: str, row, warnings) -> None:
    flash(f"{verb} “{row['name']}”.")
    for warning in warnings:
        flash(f"Note: this {warning}.", "warning")


def _channel_errors(error: channels.UnknownChannel) -> dict:
    return {"channels": [f"item {error.index + 1}: no channel of this schedule has this id"]}


@bp.route("/schedules/new", methods=["GET", "POST"])
def create():
    if request.method == "GET":
        return _render(forms.defaults(), {})
    values, errors = forms.load(request.form)
    if values is not None:
        try:
            with tenant() as cur:
                row = schedules.create(cur, g.account_id, values, utcnow(), actor())
                warnings = schedules.conflict_warnings(cur, g.account_id, row)
        except TimingError as error:
            errors = error.problems
        else:
            _flash_saved("Created", row, warnings)
            return redirect(url_for("console.schedule_page", schedule_id=row["id"]))
    return _render(_submitted(), errors, status=400)


@bp.route("/schedules/<uuid:schedule_id>/edit", methods=["GET", "POST"])
def edit(schedule_id):
    with tenant() as cur:
        row = schedules.get(cur, g.account_id, schedule_id)
    if row is None:
        abort(404)
    if request.method == "GET":
        return _render(forms.from_row(row), {}, schedule=row)
    changes, errors = forms.changes(request.form, row)
    if changes is not None:
        try:
            with tenant() as cur:
                saved = schedules.patch(cur, g.account_id, schedule_id, changes, utcnow(), actor())
                warnings = schedules.conflict_warnings(cur, g.account_id, saved) if saved else []
        except TimingError as error:
            errors = error.problems
        except channels.UnknownChannel as error:
            errors = _channel_errors(error)
        else:
            if saved is None:
                abort(404)
            if changes:
                _flash_saved("Saved", saved, warnings)
            else:
                flash(f"Nothing changed in “{saved['name']}”.")
            return redirect(url_for("console.schedule_page", schedule_id=schedule_id))
    return _render(_submitted(), errors, schedule=row, status=400)


def _submitted() -> dict:
    """The form as submitted, for a re-render: repeated fields (channel_keep) as lists."""
    values = request.form.to_dict()
    values["channel_keep"] = request.form.getlist("channel_keep")
    return values


@bp.route("/preview", methods=["POST"])
def preview():
    """The next runs of the form as typed: {"runs": [{at, local, relative, note}], "errors": {field: [...]},
    "state": what the saved schedule's pause or off does to them, or null}; from the form's
    `preview_from` date when given (to look at a past or future DST change)."""
    schedule = None
    try:
        schedule_id = uuid.UUID(request.form.get("schedule_id") or "")
    except ValueError:
        schedule_id = None
    if schedule_id is not None:
        with tenant() as cur:
            schedule = schedules.get(cur, g.account_id, schedule_id)
    runs, errors, state = _preview(request.form, schedule, utcnow())
    return jsonify({"runs": runs, "errors": errors, "state": state})
