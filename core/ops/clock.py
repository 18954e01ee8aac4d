"""The clock every process reads: the current instant, in UTC.

Code that needs "now" takes it from here, or as an argument (the time engine is pure and takes it
from its callers); tests freeze it with freezegun or pass a fixed instant where a clock is injected.
"""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current instant, timezone-aware, UTC."""
    return datetime.now(timezone.utc)
