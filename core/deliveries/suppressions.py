"""An account's suppressed email addresses (unsubscribes): list them, add one, resubscribe one.

Each function takes a cursor opened by `core.ops.db.tenant_transaction`. Addresses are stored in lower
case and compared case-insensitively, as the worker does when it leaves suppressed recipients out.
"""
from __future__ import annotations

from core.ops.sql import queries

MAX_REASON = 200


def normalize(email: str) -> str:
    return email.strip().lower()


def suppress(cur, account_id, email: str, reason: str | None = None):
    """Stop emailing `email` for this account. Returns (row, created): the suppression as stored, and
    whether this call added it (suppressing twice changes nothing, the first reason stays)."""
    params = {"account_id": account_id, "email": normalize(email),
              "reason": (reason or "unsubscribe_link").replace("\x00", "")[:MAX_REASON]}
    cur.execute(queries["suppress_email"], params)
    row = cur.fetchone()
    if row is not None:
        return row, True
    cur.execute(queries["get_suppression"], params)
    return cur.fetchone(), False


def list_page(cur, account_id, *, q: str | None = None, page: int = 1, page_size: int = 50):
    """(rows, total): one page of suppressed addresses, newest first; `q` filters by a part of the address."""
    params = {"account_id": account_id, "q": q or None, "limit": page_size, "offset": (page - 1) * page_size}
    cur.execute(queries["count_suppressions"], params)
    total = cur.fetchone()["total"]
    cur.execute(queries["list_suppressions"], params)
    return cur.fetchall(), total


def remove(cur, account_id, email: str) -> bool:
    """Resubscribe `email` (any case): True when it was suppressed."""
    cur.execute(queries["delete_suppression"], {"account_id": account_id, "email": normalize(email)})
    return cur.fetchone() is not None
