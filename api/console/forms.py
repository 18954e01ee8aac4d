"""The schedule form: HTML form fields to the API's JSON body and back.

The console validates with the API's own marshmallow schemas (api/schemas.py) and the time engine,
so a field refused here is refused with the API's message, shown beside the field. This module only
turns text into JSON types: "" means "not given" (the schema's default, or null), numbers written
as digits become integers (anything else is left as text, for the schema to refuse by name), lists
are split on commas or new lines, and start_at/end_at are wall times in the schedule's own zone.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from marshmallow import ValidationError

from api.schemas import schedule_preview_schema, schedule_schema
from core.engine.timing import TimingError, validate_timing

INTEGER_FIELDS = ("lookback_days", "weekly_dow", "monthly_dom", "send_hour", "send_minute",
                  "interval_seconds", "misfire_grace_seconds")
TEXT_FIELDS = ("name", "description", "task", "report_type", "city", "cadence", "cron_expression",
               "timezone", "overlap_policy")
LIST_FIELDS = ("zip_codes", "recipients", "tags")
JSON_FIELDS = ("task_parameters", "filters")
TIME_FIELDS = ("start_at", "end_at")
BOOLEAN_FIELDS = ("include_attachment", "active")
# Nullable fields: left empty, they are sent as null (so clearing one on edit clears it).
NULLABLE = ("description", "report_type", "city", "zip_codes", "lookback_days", "weekly_dow", "monthly_dom",
            "cron_expression", "interval_seconds", "start_at", "end_at", "misfire_grace_seconds")
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


def to_body(form) -> tuple[dict, dict]:
    """(body for the API's schemas, errors found before them {field: [message]})."""
    body: dict = {}
    errors: dict = {}
    for name in TEXT_FIELDS:
        value = (form.get(name) or "").strip()
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
        items = [item.strip() for item in _SPLIT.split(form.get(name) or "") if item.strip()]
        body[name] = items if items or name not in NULLABLE else None
    for name in JSON_FIELDS:
        text = (form.get(name) or "").strip()
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
    return body, errors


def _messages(messages) -> dict:
    """marshmallow's messages, one list of strings per top-level field (list items named by number)."""
    flat: dict = {}
    for field, problems in messages.items():
        field = "name" if field == "_schema" else str(field)
        if isinstance(problems, dict):
            flat[field] = [f"item {int(index) + 1}: {' '.join(map(str, text))}" if str(index).isdigit()
                           else f"{index}: {text}" for index, text in problems.items()]
        else:
            flat[field] = [str(problem) for problem in problems]
    return flat


def load(form, *, preview: bool = False) -> tuple[dict | None, dict]:
    """(values as the API would store them, None when invalid; {field: [messages]})."""
    body, errors = to_body(form)
    body = {name: value for name, value in body.items() if name not in errors}
    schema = schedule_preview_schema if preview else schedule_schema
    try:
        values = schema.load(body)
    except ValidationError as error:
        errors.update(_messages(error.messages))
        values = None
    if values is not None and not errors:
        try:
            validate_timing(values)
        except TimingError as error:
            errors[error.field] = [error.message]
    return (None if errors else values), errors


def from_row(row) -> dict:
    """A stored schedule as the form's text values (start_at/end_at in its own zone)."""
    zone = ZoneInfo(row.get("timezone") or "UTC")
    values: dict = {}
    for name in TEXT_FIELDS:
        values[name] = row.get(name) or ""
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
    return values


def defaults() -> dict:
    """The form of a new schedule: the API's defaults."""
    return {**{name: "" for name in TEXT_FIELDS + INTEGER_FIELDS + LIST_FIELDS + JSON_FIELDS + TIME_FIELDS},
            "task": "generate_report", "cadence": "daily", "send_hour": "9", "send_minute": "0",
            "timezone": "UTC", "lookback_days": "30", "overlap_policy": "skip",
            "include_attachment": False, "active": True}
