"""Field types and validators the API's schemas share: the checks that keep odd input out of SQL.

Everything here turns bad input into a marshmallow ValidationError (a 400 naming the field), never
into an error from PostgreSQL: text it cannot store (`unstorable`: NUL characters, which TEXT and JSONB
refuse, and lone UTF-16 surrogates such as a JSON "\ud800", which have no UTF-8 form), non-finite
numbers and deep nesting inside JSON objects, datetimes without an offset or outside the years the
time engine handles. Limits that are settings (the recipients cap, the task registry) are read from
the app; the channel types from their registry (core/deliveries/channel_types.py), at each check.

`refuse_unstorable` checks a whole JSON body at once, naming the top-level field: the API's JSON
parser (api/errors.py) and the unsubscribe route call it, so no string of any field, present or
future, reaches PostgreSQL or an encoder unchecked. `Text` and `JsonObject` check again for input
that does not come from a JSON body (query strings, forms).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

from flask import current_app
from marshmallow import ValidationError, fields, validate

from core.deliveries import channel_types

MAX_JSON_DEPTH = 16
MIN_YEAR, MAX_YEAR = 1900, 9000


def _settings():
    return current_app.config["SETTINGS"]


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store `text`, or None when it can."""
    if "\x00" in text:
        return "Must not contain NUL characters."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"Must not contain a lone UTF-16 surrogate (U+{ord(text[error.start]):04X})."
    return None


def storable(value: str) -> None:
    """Validator: text PostgreSQL can store."""
    problem = unstorable(value)
    if problem:
        raise ValidationError(problem)


def find_unstorable(document, where: str = "") -> tuple[str, str] | None:
    """(where, why) of the first string or key in a JSON document that PostgreSQL cannot store."""
    stack = [(document, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem:
                return at, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = unstorable(key)
                if problem:
                    return at, f"Keys: {problem[0].lower()}{problem[1:]}"
                stack.append((child, f"{at}.{key}" if at else key))
        elif isinstance(item, list):
            stack.extend((child, f"{at}[{index}]") for index, child in enumerate(item))
    return None


def refuse_unstorable(document) -> None:
    """Raise a ValidationError naming the top-level field of a JSON body that holds text PostgreSQL
    cannot store ("body" when the body is not an object or a field's own name is the problem)."""
    if not isinstance(document, dict):
        found = find_unstorable(document)
        if found:
            raise ValidationError({"body": [found[1]]})
        return
    for name, value in document.items():
        if unstorable(name):
            raise ValidationError({"body": [f"Field names: {unstorable(name)}"]})
        found = find_unstorable(value, name)
        if found:
            at, problem = found
            raise ValidationError({name: [problem if at == name else f"{problem[:-1]} (at {at})."]})


def Text(max_length: int, *, min_length: int = 0, **kwargs) -> fields.String:
    """A string of bounded length that PostgreSQL can store."""
    return fields.String(validate=[validate.Length(min=min_length, max=max_length), storable], **kwargs)


def json_object(value: dict) -> None:
    """A JSON object PostgreSQL's JSONB accepts: storable keys and strings, finite numbers, bounded depth."""
    found = find_unstorable(value)
    if found:
        raise ValidationError(found[1] if not found[0] else f"{found[1][:-1]} (at {found[0]}).")
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(f"Must not be nested more than {MAX_JSON_DEPTH} levels deep.")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError("Numbers must be finite.")


def JsonObject(**kwargs) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), validate=json_object, **kwargs)


def known_task(value: str) -> None:
    tasks = _settings().tasks
    if value not in tasks:
        raise ValidationError(f"Unknown task {value!r}; registered tasks: {', '.join(sorted(tasks))}.")


def channel_type(value: str) -> None:
    """A registered channel type."""
    validate.OneOf(channel_types.names())(value)


def ledger_channel(value: str) -> None:
    """A delivery ledger row's channel: email, or a registered channel type."""
    validate.OneOf(("email",) + channel_types.names())(value)


def recipients_limit(value: list) -> None:
    limit = _settings().max_recipients
    if len(value) > limit:
        raise ValidationError(f"At most {limit} recipients, got {len(value)}.")


def known_timezone(value: str) -> None:
    from core.engine.timing import TimingError, validate_timing  # the time engine owns the list of zones

    try:
        validate_timing({"cadence": "daily", "timezone": value})
    except TimingError as error:
        raise ValidationError(f"Unknown time zone {value!r}.") from error


def reasonable_year(value: datetime) -> None:
    # The year as written, so the OpenAPI document can state the rule as a pattern on the text; with
    # any offset the UTC year stays within a year of it, far inside what the time engine handles.
    year = value.year
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(f"Must be between the years {MIN_YEAR} and {MAX_YEAR}.")


class UtcDateTime(fields.AwareDateTime):
    """RFC 3339 in, with an offset (naive times are refused); RFC 3339 UTC out: 2025-11-17T09:00:00Z."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", reasonable_year)
        super().__init__(format="iso", **kwargs)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        # Validated as written (the year the client wrote), then kept in UTC: an offset beyond PostgreSQL's
        # +-15:59 (RFC 3339 allows -20:21) must not reach the database as written.
        instant = super().deserialize(value, attr, data, **kwargs)
        return instant.astimezone(timezone.utc) if isinstance(instant, datetime) else instant

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class StrictBoolean(fields.Boolean):
    """true or false, nothing else: JSON has booleans, so 0, 1 and "yes" are a client's mistake (and
    marshmallow's Boolean would take them, while the OpenAPI document says boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class JsonInteger(fields.Integer):
    """An integer as JSON Schema counts them: 3, or 3.0 (a number whose fraction is zero); never a
    string ("3"), a fraction (3.5) or a boolean. What the OpenAPI document's `type: integer` promises."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if type(value) is not int:
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


# An address as marshmallow's Email validator would take it, restricted to what every JSON Schema
# `format: email` checker takes too (ASCII, a local part of at most 64 characters, no quoted local
# part, no IP literal), so the OpenAPI
# document can state the rule exactly as a pattern and validation enforces that same pattern.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL_PATTERN = rf"^(?=[^@]{{1,64}}@){_ATOM}(\.{_ATOM})*@([A-Za-z0-9]([A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}$"


def EmailAddress(**kwargs) -> fields.String:
    checks = [validate.Length(max=254), validate.Regexp(EMAIL_PATTERN, error="Not a valid email address.")]
    metadata = {"format": "email", **kwargs.pop("metadata", {})}
    return fields.String(validate=checks, metadata=metadata, **kwargs)


def outbound_url(value: str) -> None:
    """A webhook or Slack URL the service may call (core/deliveries/outbound.py): https, resolving only
    to public addresses (loopback too with WEBHOOK_ALLOW_LOOPBACK in development). Checked again at
    each send."""
    from core.deliveries import outbound

    try:
        outbound.check(value, allow_loopback=_settings().webhook_allow_loopback)
    except outbound.UnsafeUrl as error:
        raise ValidationError(f"URL refused: {error}") from None
