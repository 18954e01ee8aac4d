"""Create and edit a schedule, with every field the API takes, and the live preview.

The form is validated by the API's schemas (api/console/forms.py), so the messages beside the fields
are the API's 400 `fields`; the write goes through core.schedule.schedules.create / patch in one tenant
transaction, exactly as the API's POST and PATCH do. POST /console/preview answers the next runs of
the form as it stands (JSON, for static/console.js), each marked when daylight saving moved it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from api.console import bp, explain, forms
from api.console.schedules import utcnow
from api.db import tenant
from core import model
from core.schedule import schedules
from core.engine.timing import TIMING_FIELDS, TimingError, next_runs

PREVIEW_COUNT = 6
_ZONES: list[str] = []


def zones() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))
    return _ZONES


def _render(values, errors, *, schedule=None, status=200):
    now = utcnow()
    preview, preview_errors = _preview(request.form if request.method == "POST" else None, values, now)
    return render_template(
        "console/edit.html", v=values, errors=errors, s=schedule, cadences=list(model.CADENCE_LABELS.items()), zones=zones(),
        tasks=sorted(current_app.config["SETTINGS"].tasks), overlap_policies=model.OVERLAP_POLICIES,
        days=explain.DAYS, preview=preview, preview_errors=preview_errors), status


def _preview_after(form, zone: str, now):
    """The preview's "Show runs from" date (midnight in the schedule's zone), else now."""
    text = (form.get("preview_from") or "").strip() if form is not None else ""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
        return day.replace(tzinfo=ZoneInfo(zone)) - timedelta(microseconds=1)
    except (ValueError, KeyError, OSError):
        return now


def _preview(form, values, now):
    """The next runs of the form (or of the stored values), for the page's first render."""
    source = form if form is not None else _as_form(values)
    # Only the timing decides the runs: other fields' problems are shown when the form is saved.
    loaded, errors = forms.load({name: source.get(name) for name in TIMING_FIELDS if name in source}, preview=True)
    if loaded is None:
        return [], errors
    try:
        after = _preview_after(form, loaded["timezone"], now)
        return explain.upcoming(loaded, next_runs(loaded, after, PREVIEW_COUNT), now), {}
    except TimingError as error:
        return [], {error.field: [error.message]}


def _as_form(values) -> dict:
    form = {name: value for name, value in values.items() if not isinstance(value, bool)}
    form.update({name: "on" for name, value in values.items() if value is True})
    return form


def _save_errors(error: TimingError) -> dict:
    return {error.field: [error.message]}


@bp.route("/schedules/new", methods=["GET", "POST"])
def create():
    if request.method == "GET":
        return _render(forms.defaults(), {})
    values, errors = forms.load(request.form)
    if values is not None:
        try:
            with tenant() as cur:
                row = schedules.create(cur, g.account_id, values, utcnow())
                warnings = schedules.conflict_warnings(cur, g.account_id, row)
        except TimingError as error:
            errors = _save_errors(error)
        else:
            flash(f"Created “{row['name']}”.")
            for warning in warnings:
                flash(f"Note: this {warning}.", "warning")
            return redirect(url_for("console.schedule_page", schedule_id=row["id"]))
    return _render(dict(request.form), errors, status=400)


@bp.route("/schedules/<uuid:schedule_id>/edit", methods=["GET", "POST"])
def edit(schedule_id):
    with tenant() as cur:
        row = schedules.get(cur, g.account_id, schedule_id)
    if row is None:
        abort(404)
    if request.method == "GET":
        return _render(forms.from_row(row), {}, schedule=row)
    values, errors = forms.load(request.form)
    if values is not None:
        try:
            with tenant() as cur:
                saved = schedules.patch(cur, g.account_id, schedule_id, values, utcnow())
                warnings = schedules.conflict_warnings(cur, g.account_id, saved) if saved else []
        except TimingError as error:
            errors = _save_errors(error)
        else:
            if saved is None:
                abort(404)
            flash(f"Saved “{saved['name']}”.")
            for warning in warnings:
                flash(f"Note: this {warning}.", "warning")
            return redirect(url_for("console.schedule_page", schedule_id=schedule_id))
    return _render(dict(request.form), errors, schedule=row, status=400)


@bp.route("/preview", methods=["POST"])
def preview():
    """The next runs of the form as typed: {"runs": [{at, local, relative, note}], "errors": {field: [...]}};
    from the form's `preview_from` date when given (to look at a past or future DST change)."""
    runs, errors = _preview(request.form, None, utcnow())
    return jsonify({"runs": runs, "errors": errors})
