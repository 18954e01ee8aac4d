"""Idle tick cost: one tick with nothing due, with 1,000 and with 1,000,000 schedules in the table.
The due query is served by a partial index, so the two should cost about the same."""
from __future__ import annotations

import statistics
import time

from bench.common import BenchDatabases, insert_schedules
from core.ops import db
from core.ops.settings import load_settings


def _ticker(url: str, redis_url: str):
    from ticker.loop import Ticker

    ticker = Ticker(load_settings({"DATABASE_URL": url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}),
                    heartbeat=False)
    ticker.tick()  # connects and warms the caches
    return ticker


def _tick_ms(ticker) -> float:
    start = time.perf_counter()
    did_work = ticker.tick()
    elapsed = (time.perf_counter() - start) * 1000
    assert not did_work, "an idle tick found work"
    return elapsed


def measure(servers, small: int = 1_000, large: int = 1_000_000, ticks: int = 400) -> dict:
    """Both tables are built first and checkpointed (so writing out a million fresh rows does not
    land on one side), then ticked alternately, one tick each in turn: a sub-millisecond tick moves
    with whatever else this shared machine is doing, and both sides must see the same. Each side
    reports its median tick."""
    dbs = BenchDatabases(servers.pg_admin_url)
    tickers = {}
    try:
        for n in (small, large):
            _, url = dbs.create()
            insert_schedules(url, n, due=False, accounts=max(1, n // 1000))
            tickers[n] = _ticker(url, servers.redis_url)
        admin = db.connect(servers.pg_admin_url, autocommit=True)
        with admin.cursor() as cur:
            cur.execute("CHECKPOINT")
        admin.close()
        samples: dict[int, list[float]] = {small: [], large: []}
        for _ in range(ticks):
            for n, ticker in tickers.items():
                samples[n].append(_tick_ms(ticker))
        small_ms, large_ms = statistics.median(samples[small]), statistics.median(samples[large])
        return {"small": small, "large": large, "small_ms": small_ms, "large_ms": large_ms,
                "ratio": large_ms / small_ms}
    finally:
        for ticker in tickers.values():
            ticker.close()
        dbs.drop_all()
