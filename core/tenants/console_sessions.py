"""Console sessions that the server can end (migration 0016). No Flask here.

A session is a random id kept in the browser's signed cookie, and a row in `console_sessions` holding
the id's SHA-256. The session is alive while its row exists, was seen within `idle` and is younger than
`max_age`; each request that finds it alive marks it seen. Sign-out deletes the row, "sign out
everywhere" every row of the account, so a copy of the cookie taken before sign-out signs no one in.
Every function takes a cursor of the account's tenant transaction (core.ops.db.tenant_transaction).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.ops.sql import queries


@dataclass(frozen=True)
class Lifetime:
    """How long a session may sit unused (`idle`) and how long it may last at all (`max_age`)."""

    idle: timedelta
    max_age: timedelta

    def params(self) -> dict:
        return {"idle_seconds": int(self.idle.total_seconds()), "max_age_seconds": int(self.max_age.total_seconds())}


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def start(cur, account_id, now: datetime, lifetime: Lifetime) -> str:
    """A new session for the account (its dead sessions are forgotten first); returns the id for the cookie."""
    cur.execute(queries["prune_console_sessions"], {"account_id": account_id, "now": now, **lifetime.params()})
    session_id = secrets.token_urlsafe(32)
    cur.execute(queries["start_console_session"], {"id_hash": _hash(session_id), "account_id": account_id, "now": now})
    return session_id


def touch(cur, account_id, session_id: str, now: datetime, lifetime: Lifetime) -> bool:
    """Whether the session is alive; if it is, it is marked as seen `now`."""
    cur.execute(queries["touch_console_session"], {"id_hash": _hash(session_id), "account_id": account_id,
                                                   "now": now, **lifetime.params()})
    return cur.fetchone() is not None


def end(cur, account_id, session_id: str) -> None:
    cur.execute(queries["end_console_session"], {"id_hash": _hash(session_id), "account_id": account_id})


def end_all(cur, account_id) -> int:
    """End every session of the account; how many there were."""
    cur.execute(queries["end_all_console_sessions"], {"account_id": account_id})
    return cur.rowcount
