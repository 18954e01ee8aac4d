"""Time-ordered UUIDs (version 7, RFC 9562) for the runs the ticker inserts.

A run's id is the primary key of schedule_runs. Random (version 4) ids land on random pages of that
index, so every row of a batch dirties a different page; version 7 ids begin with the Unix time in
milliseconds, so a batch's ids go to the index's right edge together. The rest of each id is random
(74 bits), so ids made in the same millisecond, by any number of tickers, do not collide.
"""
from __future__ import annotations

import os
import time

_VARIANT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def time_ordered_ids(count: int, *, unix_ms: int | None = None) -> list[str]:
    """`count` version 7 UUIDs, as canonical strings, all stamped with `unix_ms` (default: now), in
    ascending order: handed out in turn, the first thing to get one sorts first (runs are pushed in id
    order, so a batch's queue order is the order its runs were made in)."""
    if unix_ms is None:
        unix_ms = time.time_ns() // 1_000_000
    stamp = (unix_ms & 0xFFFF_FFFF_FFFF).to_bytes(6, "big").hex()
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    noise = os.urandom(10 * count).hex()  # 20 hex digits per id: 12 + 62 random bits are kept
    return sorted(f"{head}{noise[i + 1:i + 4]}-{_VARIANT[noise[i + 4]]}{noise[i + 5:i + 8]}-{noise[i + 8:i + 20]}"
                  for i in range(0, 20 * count, 20))
