"""Unsubscribe links: no bearer token, the signed link is the authority.

The token is the hex HMAC-SHA256 of "{email}:{account_id}" keyed with UNSUBSCRIBE_SECRET,
compared in constant time. GET shows a confirmation page and changes nothing, because mail scanners
follow links; POST suppresses: the page's button, an RFC 8058 one-click POST
(`List-Unsubscribe=One-Click` to the link itself), or JSON `{email, account_id, token, reason}`.
Suppressing twice is fine. A bad token is refused without saying whether the address is known, and
a valid token for an account that does not exist (any more) is refused the same way.
"""
from __future__ import annotations

import html
import uuid

import psycopg2.errors
from flask import current_app, request, url_for
from marshmallow import EXCLUDE, ValidationError

from api import security
from api.db import get_db
from api.base import Blueprint
from api.errors import ApiError
from api.fields import refuse_unstorable, unstorable
from api.schemas import (UnsubscribedSchema, UnsubscribeFormSchema, UnsubscribeLinkQuerySchema, UnsubscribeLinkSchema,
                         UnsubscribeRequestSchema, UnsubscribeTokenArgsSchema, UnsubscribeTokenSchema, error_schema)
from core.ops import db
from core.deliveries import suppressions
from core.deliveries.email import unsubscribe_token, unsubscribe_token_is_valid

blp = Blueprint("unsubscribe", __name__, url_prefix="/v1/email", description="Email unsubscribes")

_FIELDS = ("email", "account_id", "token")
_link_schema = UnsubscribeLinkSchema()
_token_args_schema = UnsubscribeTokenArgsSchema(unknown=EXCLUDE)  # like every query: other arguments are ignored


class InvalidLink(Exception):
    """Missing fields or a token that does not match: the only thing the caller learns."""

    def __init__(self, fields: dict[str, list[str]] | None = None):
        self.fields = fields or {}


def _checked(values: dict) -> tuple[str, uuid.UUID]:
    missing = {name: ["Missing data for required field."] for name in _FIELDS if not values.get(name)}
    if missing:
        raise InvalidLink(missing)
    bad = {name: [unstorable(str(values[name]))] for name in _FIELDS if unstorable(str(values[name]))}
    if bad:  # NUL from a form or query string; never hashed, stored or shown
        raise InvalidLink(bad)
    values = {name: values[name] for name in _FIELDS}
    if isinstance(values["email"], str):
        values["email"] = values["email"].strip()
    try:  # the same schema documents the link in the OpenAPI document
        link = _link_schema.load(values)
    except ValidationError as error:
        raise InvalidLink(error.messages) from None
    email, account_id = link["email"], link["account_id"]
    if not unsubscribe_token_is_valid(_secret(), email, account_id, link["token"]):
        raise InvalidLink()
    return email, account_id


def _secret() -> str:
    settings = current_app.config["SETTINGS"]
    if not settings.unsubscribe_secret:
        raise ApiError(503, "not_configured", "unsubscribes are not configured: set UNSUBSCRIBE_SECRET")
    return settings.unsubscribe_secret


def _suppress(email: str, account_id: uuid.UUID, reason: str | None) -> None:
    # The link's account is the tenant: the signed token proved it, there is no bearer token here.
    try:
        with db.tenant_transaction(get_db(), account_id) as cur:
            suppressions.suppress(cur, account_id, email, reason)
    except psycopg2.errors.ForeignKeyViolation:
        raise InvalidLink() from None  # signed for an account that does not exist (any more)



def _page(title: str, body: str, status: int = 200):
    # Styled by the console's stylesheet: the CSP (api/security.py) allows no inline style.
    stylesheet = html.escape(url_for("console.static", filename="console.css"), quote=True)
    document = (f"<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                f"<title>{html.escape(title)}</title><link rel=stylesheet href='{stylesheet}'></head>"
                f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return document, status, security.page_headers()


INVALID_LINK_TEXT = "<p>This unsubscribe link is invalid. Please use the link from a recent email.</p>"


HTML = {"text/html": {"schema": {"type": "string"}}}
ERROR_JSON = {"application/json": {"schema": error_schema}}


@blp.route("/unsubscribe", methods=["GET"])
@blp.doc(security=[], summary="Confirmation page for an unsubscribe link (changes nothing)",
         parameters=[{"in": "query", "schema": UnsubscribeLinkSchema}],
         responses={"200": {"description": "The page, with a button that posts the form", "content": HTML},
                    "400": {"description": "A page saying the link is invalid (fields missing, token wrong)",
                            "content": HTML}})
def confirm_page():
    try:
        email, account_id = _checked(request.args)
    except InvalidLink:
        return _page("Unsubscribe", INVALID_LINK_TEXT, 400)
    hidden = "".join(f"<input type=hidden name={name} value='{html.escape(str(value), quote=True)}'>"
                     for name, value in (("email", email), ("account_id", account_id), ("token", request.args["token"])))
    return _page("Unsubscribe", f"<p>Stop emails to <b>{html.escape(email)}</b> from these scheduled reports?</p>"
                                f"<form method=post>{hidden}<button type=submit>Unsubscribe</button></form>")


@blp.route("/unsubscribe", methods=["POST"])
@blp.doc(security=[], summary="Unsubscribe: JSON {email, account_id, token, reason}, the page's form, or an "
                              "RFC 8058 one-click POST (List-Unsubscribe=One-Click) to the link itself",
         parameters=[{"in": "query", "schema": UnsubscribeLinkQuerySchema}],
         requestBody={"required": False, "content": {
             "application/json": {"schema": UnsubscribeRequestSchema},
             "application/x-www-form-urlencoded": {"schema": UnsubscribeFormSchema}}},
         responses={"200": {"description": "Suppressed (again is fine): JSON for JSON, else a page", "content": {
                        "application/json": {"schema": UnsubscribedSchema}, **HTML}},
                    "400": {"description": "Fields missing or malformed, or the token is wrong: JSON for JSON "
                                           "(`invalid_token` or `validation_error`), else a page",
                            "content": {**ERROR_JSON, **HTML}}})
def unsubscribe():
    if request.is_json:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            raise ApiError(400, "validation_error", "Invalid input", fields={"_schema": ["Expected a JSON object."]})
        refuse_unstorable(payload)  # a NUL or a lone surrogate anywhere: a 400 naming the field
        reason = payload.get("reason")  # optional: one that is not text is ignored, never refused
        reason = reason if isinstance(reason, str) else None
        try:
            email, account_id = _checked(payload)
            _suppress(email, account_id, reason)
        except InvalidLink as exc:
            if exc.fields:
                raise ApiError(400, "validation_error", "Invalid input", fields=exc.fields) from None
            raise ApiError(400, "invalid_token", "the unsubscribe token is invalid") from None
        return {"status": "unsubscribed", "email": email}
    values = {name: request.form.get(name) or request.args.get(name) for name in _FIELDS}
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    try:
        email, account_id = _checked(values)
        _suppress(email, account_id, "one_click" if one_click else "unsubscribe_page")
    except InvalidLink:
        return _page("Unsubscribe", INVALID_LINK_TEXT, 400)
    return _page("Unsubscribed", f"<p>{html.escape(email)} will not receive these reports any more.</p>")


@blp.route("/unsubscribe/token", methods=["GET"])
@blp.doc(security=[], summary="Development only: the unsubscribe token for an address (404 in production)",
         parameters=[{"in": "query", "schema": UnsubscribeTokenArgsSchema}])
@blp.response(200, UnsubscribeTokenSchema)
@blp.alt_response(404, schema=error_schema, description="ENVIRONMENT=production: the route does not exist")
@blp.alt_response(503, schema=error_schema, description="UNSUBSCRIBE_SECRET is not set")
def token_for_testing():
    if current_app.config["SETTINGS"].is_production:
        raise ApiError(404, "not_found", "not found")
    args = _token_args_schema.load(request.args)  # a ValidationError is a 400 naming the field
    token = unsubscribe_token(_secret(), args["email"], args["account_id"])
    return {"email": args["email"], "account_id": str(args["account_id"]), "token": token}
