"""/v1/webhooks/secret: the account's webhook signing secret (Standard Webhooks), read masked and rotated.

Reading never shows a secret whole. Rotating makes a new one and answers it whole, that once: keep it
in the receiver's configuration. The previous secret keeps signing for `grace_seconds` (default a
day), so a receiver that still checks with it accepts every webhook meanwhile.
core/deliveries/signing.py holds the rules.
"""
from __future__ import annotations

import logging

from flask import g

from api.auth import require_token
from api.base import Blueprint
from api.db import tenant
from api.schemas import RotateArgsSchema, RotatedSecretSchema, SigningSecretsSchema
from core.deliveries import signing

logger = logging.getLogger(__name__)

blp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks",
                description="The account's webhook signing secret: read (masked) and rotate")
blp.before_request(require_token)


@blp.route("/secret")
@blp.response(200, SigningSecretsSchema)
def read_secret():
    """The account's signing secrets, masked: the current one and rotated ones still valid."""
    with tenant() as cur:
        return signing.masked_view(signing.valid_secrets(cur, g.account_id))


@blp.route("/secret/rotate", methods=["POST"])
@blp.arguments(RotateArgsSchema, required=False)
@blp.response(201, RotatedSecretSchema)
def rotate_secret(args):
    """A new signing secret, answered whole this once; the previous one signs too for `grace_seconds`."""
    with tenant() as cur:
        new = signing.rotate(cur, g.account_id, args["grace_seconds"])
        view = signing.masked_view(signing.valid_secrets(cur, g.account_id))
    logger.info("Rotated the webhook signing secret; the previous one is valid for %ds more",
                args["grace_seconds"], extra={"account_id": g.account_id})
    return {"secret": new["secret"], **view}
