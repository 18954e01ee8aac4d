"""The account's webhook signing secrets (Standard Webhooks): read masked, rotate, sign.

A secret is `whsec_` + base64 of 32 random bytes, the form the `standardwebhooks` libraries take.
Rotating keeps the previous secret valid for a grace period: meanwhile every webhook carries one
signature per valid secret (`webhook-signature: v1,<new> v1,<old>`), which the specification allows
and receivers accept if any one matches, so a receiver can switch secrets without missing a message.

The API never returns a secret whole, except the new one in the answer to the rotation that made it:
that is the only moment the account can learn it (as with API keys). An account that sends a webhook
before it ever rotated gets a secret made for it; rotating then gives it one it knows, while the first
stays valid for the grace period.
"""
from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

from core.ops.sql import queries

PREFIX = "whsec_"
DEFAULT_GRACE_SECONDS = 24 * 3600
MAX_GRACE_SECONDS = 30 * 24 * 3600


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def mask(secret: str) -> str:
    """Enough to tell two secrets apart, never enough to use one: `whsec_…` and the last 4 characters."""
    return f"{PREFIX}…{secret[-4:]}"


def valid_secrets(cur, account_id) -> list[dict]:
    """The secrets that sign now: the current one first, then rotated ones still in their grace period."""
    cur.execute(queries["signing_secrets"], {"account_id": account_id})
    return cur.fetchall()


def ensure_secret(cur, account_id) -> list[dict]:
    """valid_secrets, making the account's first secret if it has none (service transaction)."""
    rows = valid_secrets(cur, account_id)
    if not rows:
        cur.execute(queries["ensure_signing_secret"], {"account_id": account_id, "secret": new_secret()})
        rows = valid_secrets(cur, account_id)
    return rows


def rotate(cur, account_id, grace_seconds: int) -> dict:
    """Make a new current secret; the previous one signs too until `grace_seconds` from now."""
    cur.execute(queries["lock_signing_secrets"], {"account_id": account_id})
    cur.execute(queries["retire_signing_secret"], {"account_id": account_id, "grace_seconds": grace_seconds})
    cur.execute(queries["insert_signing_secret"], {"account_id": account_id, "secret": new_secret()})
    return cur.fetchone()


def masked_view(rows: list[dict]) -> dict:
    """The API's masked view of the account's valid secrets."""
    current = next((r for r in rows if r["expires_at"] is None), None)
    return {
        "current": _masked(current) if current else None,
        "previous": [_masked(r) for r in rows if r["expires_at"] is not None],
    }


def _masked(row: dict) -> dict:
    return {"secret": mask(row["secret"]), "created_at": row["created_at"], "expires_at": row["expires_at"]}


def signature_header(secrets_: list[str], message_id: str, timestamp: datetime, payload: str) -> str:
    """`webhook-signature`: one `v1,<base64 HMAC-SHA256>` per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, payload) for secret in secrets_)
