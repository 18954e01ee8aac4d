"""The base classes the API is built on: flask-smorest's Blueprint and Api, and the webargs parser
they read requests with, made to answer in the API's one error shape (api/errors.py).

Every blueprint is an `api.base.Blueprint` and the app has one `api.base.Api` (api/__init__.py).
"""
from __future__ import annotations

import re
import threading
from functools import partial

import flask
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

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        """Put off until the document is first asked for (Api.document)."""
        api.document_later(partial(flask_smorest.Blueprint.register_views_in_doc, self, api, app, spec,
                                   name=name, parameters=parameters))


class Api(flask_smorest.Api):
    """flask-smorest's Api, whose OpenAPI document is made when first asked for (GET /openapi.json),
    not as each blueprint is registered: making it was two thirds of create_app's time (about 55 of
    85 ms), paid by every gunicorn worker at start and by every test that builds an app, though few
    ever read it. Routes, arguments and answers work the same either way: the document only
    describes them. The app serves it at /openapi.json (endpoint `openapi_json`)."""

    ERROR_SCHEMA = ErrorSchema  # what the OpenAPI document shows for error responses

    def __init__(self, app=None, *, spec_kwargs=None):
        self._later: list = []
        self._document: dict | None = None
        self._document_lock = threading.Lock()
        super().__init__(app, spec_kwargs=spec_kwargs)

    def init_app(self, app, *, spec_kwargs=None):
        app.config["OPENAPI_URL_PREFIX"] = None  # no flask-smorest doc blueprint: the route below serves it
        super().init_app(app, spec_kwargs=spec_kwargs)
        app.add_url_rule("/openapi.json", endpoint="openapi_json", view_func=self._serve_document)

    def document_later(self, step) -> None:
        self._later.append(step)

    def document(self) -> dict:
        """The OpenAPI document: every blueprint's routes described, once, on first use."""
        with self._document_lock:
            if self._document is None:
                for step in self._later:
                    step()
                self._later = []
                self._document = self.spec.to_dict()
            return self._document

    def _serve_document(self):
        return flask.current_app.response_class(flask.json.dumps(self.document(), indent=2, sort_keys=False),
                                                mimetype="application/json")

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
