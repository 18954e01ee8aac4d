"""The schedule form: HTML form fields to the API's JSON body and back.

The console validates with the API's own marshmallow schemas (api/schemas.py) and the time engine,
so a field refused here is refused with the API's message, shown beside the field. This module only
turns text into JSON types: "" means "not given" (the schema's default, or null), numbers written
as digits become integers (anything else is left as text, for the schema to refuse by name), lists
are split on commas or new lines, and start_at/end_at are wall times in the schedule's own zone.

Channels: each existing channel is a `channel_keep` checkbox holding its id (unchecked: removed),
and `new_channel_type` / `new_channel_url` add one; the API's `channels` list is built from them
(`{"id": ...}` keeps a channel as it is, so a masked Slack URL never has to come back).

An edit (`changes`) sends only what the person changed, as a PATCH does: the form as submitted and
the form as the schedule would render are turned into bodies the same way, and only the fields whose
values differ are validated and saved. Nothing the form shows imprecisely (a start time's seconds)
and nothing it does not show (the pause, a channel's state) can be lost by saving it.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from marshmallow import ValidationError

from api.schemas import schedule_patch_schema, schedule_preview_schema, schedule_schema
from core.deliveries import channel_types
from core.engine.timing import TIMING_FIELDS
from core.schedule import schedules

INTEGER_FIELDS = ("lookback_days", "weekly_dow", "monthly_dom", "monthly_week", "monthly_dow", "send_hour", "send_minute",
                  "interval_seconds", "misfire_grace_seconds", "window_seconds", "catchup_window_seconds",
                  "pause_after_failures")
TEXT_FIELDS = ("name", "description", "task", "report_type", "city", "cadence", "cron_expression",
               "timezone", "overlap_policy", "catchup", "deliver_when", "calendar_id", "on_holiday")
LIST_FIELDS = ("zip_codes", "recipients", "tags")
JSON_FIELDS = ("task_parameters", "filters")
TIME_FIELDS = ("start_at", "end_at")
BOOLEAN_FIELDS = ("include_attachment", "active")
# The channel type a form offers first: the first registered (webhook).
NEW_CHANNEL_TYPE = channel_types.names()[0]
# Text fields typed in an <input> (one line); the others are <textarea>s.
SINGLE_LINE = tuple(name for name in TEXT_FIELDS if name != "description")
# Nullable fields: left empty, they are sent as null (so clearing one on edit clears it).
NULLABLE = ("description", "report_type", "city", "zip_codes", "lookback_days", "weekly_dow", "monthly_dom",
            "monthly_week", "monthly_dow", "calendar_id",
            "cron_expression", "interval_seconds", "start_at", "end_at", "misfire_grace_seconds",
            "window_seconds", "catchup_window_seconds", "pause_after_failures")
# Beside the timing, the fields whose fit together the time engine judges (core.engine.when.validate_controls).
CONTROL_FIELDS = ("catchup", "catchup_window_seconds")
_SPLIT = re.compile(r"[,\n]")
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


def _local_time(text: str, zone_name: str):
    """A datetime-local value read in the schedule's zone; returned as text when it cannot be read."""
    for fmt in _LOCAL_FORMATS:
        try:
            wall = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    else:
        return text
    try:
        zone = ZoneInfo(zone_name)
    except (ValueError, KeyError, OSError):
        zone = timezone.utc
    return wall.replace(tzinfo=zone).astimezone(timezone.utc).isoformat()


def _one_line(value) -> str:
    """An <input>'s text as the browser sends it: line breaks removed (HTML's value sanitization)."""
    return (value or "").replace("\r", "").replace("\n", "").strip()


def _lines(value) -> str:
    """A <textarea>'s text with its line breaks as LF (browsers send CR LF)."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _getlist(form, name: str) -> list[str]:
    """Every value of a repeated form field (a MultiDict's getlist; a list or one value in a dict)."""
    if hasattr(form, "getlist"):
        return form.getlist(name)
    value = form.get(name)
    return list(value) if isinstance(value, (list, tuple)) else [] if value in (None, "", False) else [value]


def _channels(form) -> list[dict]:
    kept = [{"id": value.strip()} for value in _getlist(form, "channel_keep") if value.strip()]
    url = (form.get("new_channel_url") or "").strip()
    if url:
        kept.append({"type": (form.get("new_channel_type") or NEW_CHANNEL_TYPE).strip(), "url": url})
    return kept


def to_body(form) -> tuple[dict, dict]:
    """(body for the API's schemas, errors found before them {field: [message]})."""
    body: dict = {}
    errors: dict = {}
    for name in TEXT_FIELDS:
        value = _one_line(form.get(name)) if name in SINGLE_LINE else _lines(form.get(name))
        if value:
            body[name] = value
        elif name in NULLABLE:
            body[name] = None
    for name in INTEGER_FIELDS:
        value = (form.get(name) or "").strip()
        if value:
            body[name] = int(value) if re.fullmatch(r"-?[0-9]{1,12}", value) else value
        elif name in NULLABLE:
            body[name] = None
    for name in LIST_FIELDS:
        items = [item.strip() for item in _SPLIT.split(_lines(form.get(name))) if item.strip()]
        body[name] = items if items or name not in NULLABLE else None
    for name in JSON_FIELDS:
        text = _lines(form.get(name))
        if not text:
            body[name] = {}
            continue
        try:
            body[name] = json.loads(text)
        except ValueError as error:
            errors[name] = [f"Not valid JSON: {error}."]
    for name in BOOLEAN_FIELDS:
        body[name] = form.get(name) in ("on", "true", "1")
    zone = body.get("timezone") or "UTC"
    for name in TIME_FIELDS:
        value = (form.get(name) or "").strip()
        body[name] = _local_time(value, zone) if value else None
    body["channels"] = _channels(form)
    return body, errors


def _words(problems) -> str:
    """Nested marshmallow messages as one line: {"url": ["Bad."]} -> "url: Bad."."""
    if isinstance(problems, dict):
        return "; ".join(f"{name}: {_words(text)}" for name, text in problems.items())
    if isinstance(problems, (list, tuple)):
        return " ".join(_words(text) for text in problems)
    return str(problems)


def _messages(messages) -> dict:
    """marshmallow's messages, one list of strings per top-level field (list items named by number)."""
    flat: dict = {}
    for field, problems in messages.items():
        field = "name" if field == "_schema" else str(field)
        if isinstance(problems, dict):
            flat[field] = [f"item {int(index) + 1}: {_words(text)}" if str(index).isdigit()
                           else f"{index}: {_words(text)}" for index, text in problems.items()]
        else:
            flat[field] = [str(problem) for problem in problems]
    return flat


def load(form, *, preview: bool = False) -> tuple[dict | None, dict]:
    """(values as the API would store them, None when invalid; {field: [messages]}): a new schedule,
    judged as the API judges a POST (every problem at once, the time engine's included)."""
    body, errors = to_body(form)
    body = {name: value for name, value in body.items() if name not in errors}
    schema = schedule_preview_schema if preview else schedule_schema
    try:
        values = schema.load(body)
    except ValidationError as error:
        errors.update(_messages(error.messages))
        values = None
    return (None if errors else values), errors


def changes(form, row) -> tuple[dict | None, dict]:
    """(the fields the person changed, as a PATCH body the API's schema loaded; {field: [messages]}).

    A field counts as changed when the submitted form and the form `row` renders give it different
    values; a new time zone carries the start and end with it (they are wall times in that zone)."""
    body, errors = to_body(form)
    before, _ = to_body(as_form(from_row(row)))
    changed = {name: value for name, value in body.items() if name not in errors and value != before.get(name)}
    if "timezone" in changed:
        changed.update({name: body[name] for name in TIME_FIELDS if name not in errors})
    try:
        values = schedule_patch_schema.load(changed)
    except ValidationError as error:
        errors.update(_messages(error.messages))
        values = error.valid_data if isinstance(error.valid_data, dict) else {}
    if any(name in TIMING_FIELDS + CONTROL_FIELDS for name in changed):
        errors.update(schedules.edit_problems(row, values, refused=set(errors)))
    return (None if errors else values), errors


def pause_until(text, zone_name: str) -> tuple[datetime | None, str | None]:
    """(the pause form's `until`, a wall time in the schedule's zone, as an instant; why it cannot be
    read): empty is no end."""
    text = (text or "").strip()
    if not text:
        return None, None
    value = _local_time(text, zone_name)
    if value == text:  # _local_time gives back what it cannot read
        return None, "the date and time could not be read."
    return datetime.fromisoformat(value), None


def backfill_range(form, zone_name: str) -> tuple[datetime | None, datetime | None, str | None]:
    """(from, to, why refused) of the backfill form: two wall times in the schedule's zone."""
    instants = []
    for name in ("from", "to"):
        text = (form.get(name) or "").strip()
        value = _local_time(text, zone_name) if text else text
        if not text or value == text:
            return None, None, f"give “{name}” as a date and time."
        instants.append(datetime.fromisoformat(value))
    return instants[0], instants[1], None


def from_row(row) -> dict:
    """A stored schedule as the form's text values (start_at/end_at in its own zone)."""
    zone = ZoneInfo(row.get("timezone") or "UTC")
    values: dict = {}
    for name in TEXT_FIELDS:
        values[name] = str(row[name]) if row.get(name) else ""  # calendar_id is a UUID
    for name in INTEGER_FIELDS:
        values[name] = "" if row.get(name) is None else str(row[name])
    for name in LIST_FIELDS:
        values[name] = ", ".join(row.get(name) or []) if name != "recipients" else "\n".join(row.get(name) or [])
    for name in JSON_FIELDS:
        values[name] = json.dumps(row[name], indent=2) if row.get(name) else ""
    for name in BOOLEAN_FIELDS:
        values[name] = bool(row.get(name))
    for name in TIME_FIELDS:
        moment = row.get(name)
        values[name] = moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""
    values["channel_keep"] = [str(channel["id"]) for channel in row.get("channels") or []]
    values["new_channel_type"], values["new_channel_url"] = NEW_CHANNEL_TYPE, ""
    return values


def as_form(values) -> dict:
    """Form values (from_row's, defaults()) as a browser would submit them: a checked box is "on", an
    unchecked one is absent."""
    form = {name: value for name, value in values.items() if not isinstance(value, bool)}
    form.update({name: "on" for name, value in values.items() if value is True})
    return form


# The fields a new schedule's form fills in with the API's defaults (the create schema's load_default).
_DEFAULTED = ("task", "send_hour", "send_minute", "timezone", "lookback_days", "overlap_policy", "catchup",
              "deliver_when", "include_attachment", "active")


def defaults() -> dict:
    """The form of a new schedule: the API's defaults, and a daily cadence (the API has no default one)."""
    form = {name: "" for name in TEXT_FIELDS + INTEGER_FIELDS + LIST_FIELDS + JSON_FIELDS + TIME_FIELDS}
    for name in _DEFAULTED:
        value = schedule_schema.fields[name].load_default
        form[name] = value if isinstance(value, bool) else str(value)
    return {**form, "cadence": "daily", "channel_keep": [], "new_channel_type": NEW_CHANNEL_TYPE, "new_channel_url": ""}
