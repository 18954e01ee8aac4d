"""/v1/email/suppressions: the addresses a tenant's reports are no longer sent to.

Recipients land here by unsubscribing (api/unsubscribe.py); a customer lists them, resubscribes a
client who asked to be back (DELETE) or suppresses an address by hand (POST). The address in the
DELETE path is URL-encoded (`client%40example.com`) and matched in any case. Each request is one
tenant transaction, so another tenant's suppression is a 404 like a missing one.
"""
from __future__ import annotations

import logging

from flask import g

from api.auth import require_token
from api.db import tenant
from api.base import Blueprint
from api.errors import not_found
from api.schemas import (SuppressionEntrySchema, SuppressionListArgsSchema, SuppressionListSchema, SuppressionSchema,
                         error_schema)
from core.schedule import schedules
from core.deliveries import suppressions

logger = logging.getLogger(__name__)

blp = Blueprint("suppressions", __name__, url_prefix="/v1/email",
                description="Suppressed addresses of the caller's account: list, add, resubscribe")
blp.before_request(require_token)

suppression_schema = SuppressionSchema()


@blp.route("/suppressions")
@blp.arguments(SuppressionListArgsSchema, location="query")
@blp.response(200, SuppressionListSchema)
def list_suppressions(args):
    """Suppressed addresses, newest first, a page at a time; `q` keeps those containing it (any case)."""
    with tenant() as cur:
        rows, total = suppressions.list_page(cur, g.account_id, **args)
    return {"suppressions": rows, "count": len(rows), "total": total, "page": args["page"],
            "page_size": args["page_size"], "pages": schedules.pages(total, args["page_size"])}


@blp.route("/suppressions", methods=["POST"])
@blp.arguments(suppression_schema)
@blp.response(201, SuppressionEntrySchema, description="Suppressed now")
@blp.alt_response(200, schema=SuppressionEntrySchema, description="Already suppressed: the row as it was, unchanged")
def add_suppression(values):
    """Stop emailing an address, as if it had unsubscribed (`reason` defaults to `manual`)."""
    with tenant() as cur:
        row, created = suppressions.suppress(cur, g.account_id, values["email"], values["reason"] or "manual")
    if created:
        logger.info("Suppressed %s by hand", row["email"], extra={"account_id": g.account_id})
    return row, 201 if created else 200


@blp.route("/suppressions/<path:email>", methods=["DELETE"])
@blp.response(204, description="Resubscribed: the address gets the account's reports again")
@blp.alt_response(404, schema=error_schema, description="The address is not suppressed in this account")
def remove_suppression(email):
    """Resubscribe an address (URL-encoded in the path, any case)."""
    # No stored address holds a NUL (PostgreSQL text cannot), and psycopg2 refuses to send one.
    removed = False
    if "\x00" not in email:
        with tenant() as cur:
            removed = suppressions.remove(cur, g.account_id, email)
    if not removed:
        raise not_found("suppression")
    logger.info("Resubscribed %s", suppressions.normalize(email), extra={"account_id": g.account_id})
