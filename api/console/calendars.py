"""The account's business calendars in the console: the list with a form for a new one, a calendar's
page (its edit form, the schedules that follow it, its days off in the coming 12 months), save and
delete.

The form is validated by the API's schemas (CalendarSchema, CalendarPatchSchema) and the time engine
(core.engine.business_days: a CalendarError names the bad field), each message beside its field. A
save sends only the fields the person changed, as a PATCH does: a form submitted unchanged writes
nothing, so the calendar's updated_at and its schedules' next runs stay as they are. Deleting a
calendar schedules follow is refused, naming them, as the API's 409 does.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

from flask import abort, flash, g, redirect, render_template, request, url_for
from holidays import registry
from marshmallow import ValidationError

from api.console import bp
from api.console.forms import _messages
from api.db import tenant
from api.schemas import CalendarPatchSchema, CalendarSchema
from core.calendars import calendars
from core.engine import business_days
from core.engine.business_days import ISO_DAYS, CalendarError
from core.ops.clock import utcnow

create_schema, patch_schema = CalendarSchema(), CalendarPatchSchema()
DATE_FIELDS = ("add_dates", "remove_dates")
FIELDS = ("name", "country", "subdivision", "weekend") + DATE_FIELDS
AHEAD_DAYS = 365
_SPLIT = re.compile(r"[\s,]+")
_COUNTRY_NAMES: dict[str, str] = {}


def country_options() -> list[tuple[str, str]]:
    """(code, "United States (US)") for every country the holidays package knows, by name."""
    if not _COUNTRY_NAMES:
        words = {entry[1]: re.sub(r"(?<=[a-z])(?=[A-Z])", " ", entry[0]) for entry in registry.COUNTRIES.values()}
        _COUNTRY_NAMES.update({code: words.get(code, code) for code in business_days.countries()})
    return sorted(((code, f"{name} ({code})") for code, name in _COUNTRY_NAMES.items()), key=lambda o: o[1])


def weekend_words(weekend) -> str:
    return ", ".join(ISO_DAYS[day - 1] for day in sorted(weekend or [])) or "none"


# --- form text <-> the API's body -------------------------------------------------------------------

def from_row(row) -> dict:
    """A stored calendar as the form's values."""
    return {"name": row["name"], "country": row["country"], "subdivision": row["subdivision"] or "",
            "weekend": [str(day) for day in row["weekend"]],
            **{name: "\n".join(str(day) for day in row[name]) for name in DATE_FIELDS}}


def defaults() -> dict:
    return {"name": "", "country": "", "subdivision": "", "weekend": ["6", "7"], "add_dates": "", "remove_dates": ""}


def submitted(form) -> dict:
    return {**{name: form.get(name) or "" for name in FIELDS}, "weekend": form.getlist("weekend")}


def to_body(values: dict) -> dict:
    """Form values as the API's JSON body: subdivision "" is none, weekdays and dates as lists."""
    body = {name: (values.get(name) or "").strip() for name in ("name", "country")}
    body["subdivision"] = (values.get("subdivision") or "").strip() or None
    body["weekend"] = [int(day) if str(day).isdigit() else day for day in dict.fromkeys(values.get("weekend") or [])]
    for name in DATE_FIELDS:
        body[name] = [item for item in _SPLIT.split(values.get(name) or "") if item]
    return body


def _same(name: str, one, other) -> bool:
    if isinstance(one, list):  # the order of weekdays or dates means nothing
        return sorted(map(str, set(one))) == sorted(map(str, set(other)))
    return one == other


def _load(schema, body: dict) -> tuple[dict | None, dict]:
    """(the body as the schema loads it, None when refused; {field: [messages]})."""
    try:
        values = schema.load(body)
    except ValidationError as error:
        errors = _messages(error.messages)
        for name in DATE_FIELDS:  # name the dates that are not dates, rather than their places
            if isinstance(error.messages.get(name), dict):
                bad = [body[name][index] for index in sorted(error.messages[name]) if isinstance(index, int)]
                errors[name] = [f"“{item}” is not a date: write YYYY-MM-DD." for item in bad] or errors[name]
        if "weekend" in errors and len(body["weekend"]) == len(ISO_DAYS):  # the schema says "longer than 6"
            errors["weekend"] = ["Leave at least one working day in the week."]
        if "country" in body and not body["country"]:
            errors["country"] = ["Choose a country."]
        return None, errors
    return {name: ([day.isoformat() for day in value] if name in DATE_FIELDS else value)
            for name, value in values.items()}, {}


# --- pages --------------------------------------------------------------------------------------------

def _list_page(values, errors, status=200):
    with tenant() as cur:
        rows = calendars.list_all(cur, g.account_id)
        counts = calendars.follower_counts(cur, g.account_id)
    return render_template("console/calendars.html", calendars=rows, counts=counts, v=values, errors=errors,
                           countries=country_options(), weekdays=list(enumerate(ISO_DAYS, 1)),
                           weekend_words=weekend_words), status


def _calendar_page(row, values, errors, status=200):
    with tenant() as cur:
        followers = calendars.followers(cur, g.account_id, row["id"])
    today = utcnow().date()
    days_off, worked = ahead(row, today)
    return render_template("console/calendar.html", c=row, v=values, errors=errors, followers=followers,
                           days_off=days_off, worked=worked, today=today, last=today + timedelta(days=AHEAD_DAYS),
                           countries=country_options(), weekdays=list(enumerate(ISO_DAYS, 1)),
                           weekend_words=weekend_words), status


def ahead(row, today: date) -> tuple[list[dict], list[dict]]:
    """(the days off from `today` for AHEAD_DAYS, weekends aside: {day, weekday, reason, own}; the
    days worked although a holiday or weekend day: {day, weekday, reason})."""
    calendar = business_days.from_mapping(row)
    days_off, worked = [], []
    for offset in range(AHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        entry = {"day": day, "weekday": ISO_DAYS[day.isoweekday() - 1]}
        if day in calendar.remove_dates:
            holiday = calendar.holiday(day)
            weekend = day.isoweekday() in calendar.weekend
            entry["reason"] = holiday or ("a weekend day" if weekend else "a business day anyway")
            worked.append(entry)
        elif day in calendar.add_dates:
            days_off.append({**entry, "reason": "own day off", "own": True})
        elif (holiday := calendar.holiday(day)) is not None:
            days_off.append({**entry, "reason": holiday, "own": False})
    return days_off, worked


def _get_or_404(cur, calendar_id):
    row = calendars.get(cur, g.account_id, calendar_id)
    if row is None:
        abort(404)
    return row


@bp.route("/calendars")
def calendar_list():
    return _list_page(defaults(), {})


@bp.route("/calendars", methods=["POST"])
def create_calendar():
    values = submitted(request.form)
    loaded, errors = _load(create_schema, to_body(values))
    if loaded is not None:
        try:
            with tenant() as cur:
                row = calendars.create(cur, g.account_id, loaded, utcnow())
        except CalendarError as error:
            errors = {error.field: [error.message]}
        else:
            flash(f"Created the calendar “{row['name']}”.")
            return redirect(url_for("console.calendar_page", calendar_id=row["id"]))
    return _list_page(values, errors, status=400)


@bp.route("/calendars/<uuid:calendar_id>")
def calendar_page(calendar_id):
    with tenant() as cur:
        row = _get_or_404(cur, calendar_id)
    return _calendar_page(row, from_row(row), {})


@bp.route("/calendars/<uuid:calendar_id>", methods=["POST"])
def save_calendar(calendar_id):
    with tenant() as cur:
        row = _get_or_404(cur, calendar_id)
    values = submitted(request.form)
    body, before = to_body(values), to_body(from_row(row))
    changed = {name: body[name] for name in FIELDS if not _same(name, body[name], before[name])}
    loaded, errors = _load(patch_schema, changed)
    if loaded is not None and not loaded:
        flash(f"Nothing changed in “{row['name']}”.")
        return redirect(url_for("console.calendar_page", calendar_id=calendar_id))
    if loaded is not None:
        try:
            with tenant() as cur:
                saved = calendars.patch(cur, g.account_id, calendar_id, loaded, utcnow())
        except CalendarError as error:
            errors = {error.field: [error.message]}
        else:
            if saved is None:
                abort(404)
            flash(f"Saved “{saved['name']}”: the schedules that follow it get their next runs computed again.")
            return redirect(url_for("console.calendar_page", calendar_id=calendar_id))
    return _calendar_page(row, values, errors, status=400)


@bp.route("/calendars/<uuid:calendar_id>/delete", methods=["POST"])
def delete_calendar(calendar_id):
    try:
        with tenant() as cur:
            row = _get_or_404(cur, calendar_id)
            calendars.delete(cur, g.account_id, calendar_id)
    except calendars.CalendarInUse as used:
        names = ", ".join(f"“{s['name']}”" for s in used.schedules)
        flash(f"“{row['name']}” was not deleted: {len(used.schedules)} schedule"
              f"{' follows' if len(used.schedules) == 1 else 's follow'} it ({names}). "
              f"Give them another calendar or none first.", "error")
        return redirect(url_for("console.calendar_page", calendar_id=calendar_id))
    flash(f"Deleted the calendar “{row['name']}”.")
    return redirect(url_for("console.calendar_list"))
