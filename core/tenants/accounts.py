"""Accounts (tenants): made by `python -m api.cli create-account` and `make dev`, named in the console.

Each function takes a cursor opened by `core.ops.db` (a service transaction to make one, the tenant's own
to read its name); the queries are in core/tenants/accounts.sql.
"""
from __future__ import annotations

import uuid

from core.ops.sql import queries


def create(cur, name: str, plan: str) -> uuid.UUID:
    """A new account on `plan`; an unknown plan is a ForeignKeyViolation (the caller says so)."""
    cur.execute(queries["create_account"], {"name": name, "plan": plan})
    return cur.fetchone()["id"]


def ensure(cur, account_id, name: str, plan: str) -> uuid.UUID:
    """The account with this id, made if missing (an existing one keeps its name and plan)."""
    cur.execute(queries["ensure_account"], {"id": account_id, "name": name, "plan": plan})
    return cur.fetchone()["id"]


def get_name(cur, account_id) -> str | None:
    """The account's name; None when it does not exist (or is another tenant's)."""
    cur.execute(queries["get_account_name"], {"account_id": account_id})
    row = cur.fetchone()
    return row["name"] if row else None
