"""Field types and validators the API's schemas share: the checks that keep odd input out of SQL.

Everything here turns bad input into a marshmallow ValidationError (a 400 naming the field), never
into an error from PostgreSQL: NUL characters (refused by TEXT and JSONB), non-finite numbers and
deep nesting inside JSON objects, datetimes without an offset or outside the years the time engine
handles. Limits that are settings (the recipients cap, the task registry) are read from the app.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

from flask import current_app
from marshmallow import ValidationError, fields, validate

MAX_JSON_DEPTH = 16
MIN_YEAR, MAX_YEAR = 1900, 9000


def _settings():
    return current_app.config["SETTINGS"]


def no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


def Text(max_length: int, *, min_length: int = 0, **kwargs) -> fields.String:
    """A string of bounded length without NUL characters."""
    return fields.String(validate=[validate.Length(min=min_length, max=max_length), no_nul], **kwargs)


def json_object(value: dict) -> None:
    """A JSON object PostgreSQL's JSONB accepts: no NUL in keys or strings, finite numbers, bounded depth."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(f"Must not be nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise ValidationError("Keys must not contain NUL characters.")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and "\x00" in item:
            raise ValidationError("Strings must not contain NUL characters.")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError("Numbers must be finite.")


def JsonObject(**kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), validate=json_object, **kwargs)


def known_task(value: str) -> None:
    tasks = _settings().tasks
    if value not in tasks:
        raise ValidationError(f"Unknown task {value!r}; registered tasks: {', '.join(sorted(tasks))}.")


def recipients_limit(value: list) -> None:
    limit = _settings().max_recipients
    if len(value) > limit:
        raise ValidationError(f"At most {limit} recipients, got {len(value)}.")


def known_timezone(value: str) -> None:
    from core.timing import TimingError, validate_timing  # the time engine owns the list of zones

    try:
        validate_timing({"cadence": "daily", "timezone": value})
    except TimingError as error:
        raise ValidationError(f"Unknown time zone {value!r}.") from error


def reasonable_year(value: datetime) -> None:
    try:
        year = value.astimezone(timezone.utc).year
    except (OverflowError, ValueError):
        year = 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(f"Must be between the years {MIN_YEAR} and {MAX_YEAR}.")


class UtcDateTime(fields.AwareDateTime):
    """RFC 3339 in, with an offset (naive times are refused); RFC 3339 UTC out: 2025-11-17T09:00:00Z."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", reasonable_year)
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def outbound_url(value: str) -> None:
    """A webhook or Slack URL the service may call (core/outbound.py): https, resolving only to public
    addresses (loopback too with WEBHOOK_ALLOW_LOOPBACK in development). Checked again at each send."""
    from core import outbound

    try:
        outbound.check(value, allow_loopback=_settings().webhook_allow_loopback)
    except outbound.UnsafeUrl as error:
        raise ValidationError(f"URL refused: {error}") from None
