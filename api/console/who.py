"""Who a console action is recorded as in a schedule's change history: the person signed in.

The sign-in link names them (its `s` claim, core/tenants/console_links.py: the host application's
user id or address, `dev` for make dev's links); a link without one is recorded as `console`.
"""
from __future__ import annotations

from flask import session


def actor() -> str:
    subject = session.get("subject")
    return f"console:{subject}" if subject else "console"
