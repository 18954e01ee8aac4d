"""The `Idempotency-Key` header of POST /v1/schedules and POST /v1/schedules/{id}/run, for the views:
read and check the header, claim the key in the view's tenant transaction, build the answer that is
both sent and kept, and replay a kept answer (with `Idempotent-Replayed: true`). core/schedule/idempotency.py
holds the rules."""
from __future__ import annotations

import json

from flask import current_app, request

from api.errors import ApiError
from core.schedule import idempotency

HEADER = "Idempotency-Key"
# idempotency.valid_key's rule as the document states it: visible ASCII (U+0021 to U+007E), no spaces.
KEY_PATTERN = "^[!-~]+$"
# The header as the OpenAPI document shows it (@blp.doc(parameters=[PARAMETER])).
PARAMETER = {"in": "header", "name": HEADER, "required": False,
             "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH,
                        "pattern": KEY_PATTERN},
             "description": "any unique string (a UUID): a repeat with the same key within 24 hours gets the "
                            "first answer, with Idempotent-Replayed: true, and does nothing again; the same "
                            "key with a different body is a 422"}


def key_from_header() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not idempotency.valid_key(key):
        raise ApiError(400, "validation_error", "Invalid input", fields={
            HEADER: [f"Must be 1 to {idempotency.MAX_KEY_LENGTH} visible ASCII characters."]})
    return key


def claim(cur, account_id, route: str, key: str, now):
    """The kept answer to replay, or None (go ahead); 422 when the key was used for another body."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:  # the view's own parsing refused it already; hash the bytes all the same
        body = raw.decode("utf-8", "replace")
    try:
        stored = idempotency.claim(cur, account_id, route, key, idempotency.request_hash(body), now)
    except idempotency.KeyReused as error:
        raise ApiError(422, "idempotency_key_reused", str(error)) from None
    if stored is None:
        return None
    response = current_app.response_class(stored.response, status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    if stored.location:
        response.headers["Location"] = stored.location
    return response


def answer(cur, account_id, route: str, key: str, schema, payload, status: int, location: str | None = None):
    """The response to send (dumped with `schema`, as flask-smorest would), kept under the key."""
    response = current_app.json.response(schema.dump(payload))
    response.status_code = status
    if location:
        response.headers["Location"] = location
    idempotency.save(cur, account_id, route, key, status=status, response=response.get_data(as_text=True),
                     location=location)
    return response
