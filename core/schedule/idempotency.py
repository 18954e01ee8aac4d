"""Idempotency keys: the same POST sent twice with the same `Idempotency-Key` is answered once.

The key is taken in the request's own tenant transaction, before the work, and the answer is saved
in the same transaction, so "the key is known" and "the work was done" commit together: a request
that fails (rolls back) leaves the key free, and a concurrent repeat waits on the key's row until
the first commits, then gets its answer. A key lives KEY_LIFETIME; the same key with a different
body (compared as JSON with sorted keys) is refused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.ops.sql import queries

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was used for a different request within its lifetime."""


@dataclass
class Stored:
    status: int
    response: str
    location: str | None


def valid_key(key: str) -> bool:
    """1..255 visible ASCII characters (what fits an HTTP header and a log line)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(33 <= ord(c) <= 126 for c in key)


def request_hash(body) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def claim(cur, account_id, route: str, key: str, digest: str, now: datetime) -> Stored | None:
    """Take `key` for this request (None: go ahead, then `save`), or the stored first answer.

    Raises KeyReused when the key was used within its lifetime for a different body.
    """
    params = {"account_id": account_id, "route": route, "key": key, "request_hash": digest, "now": now}
    cur.execute(queries["claim_idempotency_key"], params)
    if cur.fetchone() is not None:
        return None
    cur.execute(queries["get_idempotency_key"], params)
    known = cur.fetchone()
    if known is None or known["created_at"] <= now - KEY_LIFETIME or known["response"] is None:
        cur.execute(queries["renew_idempotency_key"], params)
        return None
    if known["request_hash"] != digest:
        raise KeyReused(f"Idempotency-Key {key!r} was used with a different request body in the last 24 hours")
    return Stored(known["status"], known["response"], known["location"])


def save(cur, account_id, route: str, key: str, *, status: int, response: str, location: str | None = None):
    cur.execute(queries["save_idempotent_response"], {"account_id": account_id, "route": route, "key": key,
                                                      "status": status, "response": response,
                                                      "location": location})


def delete_expired(cur, now: datetime, *, limit: int) -> int:
    """Forget up to `limit` keys older than KEY_LIFETIME (retention, core/retention/sweep.py)."""
    cur.execute(queries["delete_expired_idempotency_keys"], {"before": now - KEY_LIFETIME, "limit": limit})
    return cur.rowcount
