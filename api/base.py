"""The base classes the API is built on: flask-smorest's Blueprint and Api, and the webargs parser
they read requests with, made to answer in the API's one error shape (api/errors.py).

Every blueprint is an `api.base.Blueprint` and the app has one `api.base.Api` (api/__init__.py).
"""
from __future__ import annotations

import re

import flask_smorest
from marshmallow import RAISE
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from api import jsonbody
from api.errors import body, validation_body
from api.fields import refuse_unstorable
from api.schemas import ErrorSchema


class JsonParser(FlaskParser):
    """webargs' parser, with 400 for bad input and stricter JSON: no NaN/Infinity, no huge or
    too-deep documents (Python's own limits raise ValueError/RecursionError, which would be 500s),
    no text PostgreSQL cannot store (NUL, lone surrogates: a 400 naming the field), and a body is
    read as JSON whatever its Content-Type says (the API speaks nothing else)."""

    DEFAULT_VALIDATION_STATUS = 400
    # An unknown query parameter is a 400 naming it, as an unknown body field is: a typo
    # (`?stauts=failed`) must not silently return everything.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        if not data:
            return webargs_core.missing
        document = jsonbody.loads(data)  # a JSONDecodeError: webargs answers it as a 400
        refuse_unstorable(document)  # a ValidationError: webargs answers it as a 400 naming the field
        return document


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonParser()


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema  # what the OpenAPI document shows for error responses

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        if error.code == 400 and "messages" in data:
            return validation_body(data["messages"], by_location=True), 400, headers
        if error.code == 413:
            limit = self._app.config.get("MAX_CONTENT_LENGTH")
            return body("payload_too_large", f"request body is larger than {limit} bytes"), 413, headers
        for name, value in error.get_headers():  # keeps werkzeug's Allow header on 405s
            if name.lower() == "allow":
                headers["Allow"] = value
        kind = re.sub(r"[^a-z0-9]+", "_", (error.name or "error").lower()).strip("_")
        message = data.get("message") or ("not found" if error.code == 404 else error.description or error.name)
        return body(kind, message), error.code, headers
