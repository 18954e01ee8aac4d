"""Idle tick cost: one tick with nothing due, with 1,000 and with 1,000,000 schedules in the table.
The due query is served by a partial index, so the two should cost about the same."""
from __future__ import annotations

import statistics
import time

from bench.common import BenchDatabases, insert_schedules
from core.settings import load_settings


def _tick_ms(url: str, redis_url: str, ticks: int) -> float:
    from ticker.loop import Ticker

    ticker = Ticker(load_settings({"DATABASE_URL": url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}),
                    heartbeat=False)
    try:
        ticker.tick()  # connects and warms the caches
        samples = []
        for _ in range(ticks):
            start = time.perf_counter()
            did_work = ticker.tick()
            samples.append((time.perf_counter() - start) * 1000)
            assert not did_work, "an idle tick found work"
        return statistics.median(samples)
    finally:
        ticker.close()


def measure(servers, small: int = 1_000, large: int = 1_000_000, ticks: int = 200) -> dict:
    dbs = BenchDatabases(servers.pg_admin_url)
    try:
        figures = {}
        for n in (small, large):
            _, url = dbs.create()
            insert_schedules(url, n, due=False, accounts=max(1, n // 1000))
            figures[n] = _tick_ms(url, servers.redis_url, ticks)
        return {"small": small, "large": large, "small_ms": figures[small], "large_ms": figures[large],
                "ratio": figures[large] / figures[small]}
    finally:
        dbs.drop_all()
