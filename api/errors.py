"""Every error the API returns is JSON of one shape, and no input, however malformed, is a 500.

    {"error": "validation_error", "message": "Invalid input", "fields": {"weekly_dow": ["..."]}}
    {"error": "not_found", "message": "schedule not found"}

flask-smorest answers bad arguments with 422 and its own shape; api/base.py's `Blueprint` parses
with a webargs parser whose errors are 400s, and its `Api` renders every HTTPException (webargs'
included) in the shape above, with `validation_body` and `body` from here. Whatever else escapes a
view is logged with its traceback and answered with a bare 500 that says nothing about the internals.
"""
from __future__ import annotations

import io
import logging
import re

import psycopg2
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from api.db import PoolTimeout
from core.engine.timing import TimingError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise from a view for any non-2xx answer: status, a machine-readable kind, a message, extras."""

    def __init__(self, status: int, error: str, message: str, *, headers=None, **extra):
        super().__init__(message)
        self.status, self.error, self.message, self.headers, self.extra = status, error, message, headers, extra


def not_found(what: str = "schedule") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def body(error: str, message: str, **extra) -> dict:
    return {"error": error, "message": message, **extra}


def _stringify_keys(value):
    # marshmallow keys list errors by index; JSON (and sorting) want strings.
    if isinstance(value, dict):
        return {str(key): _stringify_keys(item) for key, item in value.items()}
    return value


def validation_body(messages, *, by_location: bool = False) -> dict:
    """marshmallow messages ({field: [...]}, or webargs' {location: {field: [...]}}) -> the 400 body."""
    fields: dict = {}
    items = list(messages.values()) if by_location and isinstance(messages, dict) else [messages]
    for item in items:
        if isinstance(item, dict):
            for name, problems in item.items():
                if name == "_schema":
                    name = "body"
                    if problems == ["Invalid input type."]:
                        problems = ["The body must be a JSON object."]
                fields[str(name)] = _stringify_keys(problems)
        else:
            fields["body"] = item if isinstance(item, list) else [str(item)]
    return body("validation_error", "Invalid input", fields=fields)


def _constraint_field(error: psycopg2.Error) -> str:
    diag = error.diag
    if diag.column_name:
        return diag.column_name
    name = diag.constraint_name or ""
    return re.sub(r"^(schedules|schedule_runs)_|_(check|fkey|key)$", "", name) or "body"


def limit_chunked_body() -> None:
    """A chunked body (no Content-Length) larger than MAX_CONTENT_LENGTH is a 413, like any other, and
    one the server cannot de-chunk (a bad chunk size, a body cut off) is a 400.

    werkzeug caps such a stream at the limit without a word, so a 2 MB JSON body was read as its first
    64 KiB and answered "Invalid JSON body". Read it here, up to one byte past the limit, and hand
    what was read back to werkzeug as the request's input."""
    from flask import current_app, request

    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or request.content_length is not None:
        return
    if not request.environ.get("wsgi.input_terminated"):
        return  # a server that does not de-chunk: werkzeug reads no body at all then
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    try:
        data = request.environ["wsgi.input"].read(limit + 1)
    except Exception as error:  # noqa: BLE001 (each server has its own: gunicorn's InvalidChunkSize, NoMoreData...)
        # A chunk size of `zz`, a missing CRLF, a body cut off by the client: the client's fault, a 400.
        logger.info("unreadable chunked body in %s: %r", _where(), error)
        raise ApiError(400, "malformed_body", "the request body is malformed or incomplete (chunked encoding)") from None
    if len(data) > limit:
        raise RequestEntityTooLarge()
    request.environ["wsgi.input"] = io.BytesIO(data)


def register_error_handlers(app) -> None:
    app.before_request(limit_chunked_body)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return body(error.error, error.message, **error.extra), error.status, error.headers or {}

    @app.errorhandler(ValidationError)
    def marshmallow_error(error: ValidationError):
        return validation_body(error.messages), 400

    @app.errorhandler(TimingError)
    def timing_error(error: TimingError):
        return validation_body(error.problems), 400

    @app.errorhandler(psycopg2.DataError)
    @app.errorhandler(psycopg2.IntegrityError)
    def database_refused(error: psycopg2.Error):
        # Validation should have caught it; the database is the last line, not a crash.
        logger.error("database refused a request's data: %s", error, exc_info=error)
        return validation_body({_constraint_field(error): ["Rejected by the database."]}), 400

    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error: Exception):
        logger.error("database unavailable: %s", error)
        return body("service_unavailable", "database unavailable, try again shortly"), 503, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        logger.exception("unhandled error in %s", _where())
        return body("internal_error", "Internal server error"), 500


def _where() -> str:
    from flask import request

    return f"{request.method} {request.path}"
