"""Dispatch throughput: N schedules all due at once, through the full path (claim, audit row,
next_run_at, RQ job in Redis), for our ticker with 1, 2 and 4 running processes and for the two
baselines, each on its own copy of the same data. Counts are verified before a figure is reported."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from bench.baselines import batched_ticker, seed_ticker
from bench.common import (QUEUE, BenchDatabases, Timer, extra_runs, flush_queue, insert_schedules, make_due,
                          verify_dispatch)
from core.ops import db

ROOT = Path(__file__).resolve().parent.parent
# Time for the tickers to start and go idle before the schedules fall due.
LEAD_SECONDS = 8
TICKER_COUNTS = (1, 2, 4)


def run_our_tickers(database_url: str, redis_url: str, processes: int, n: int, log_dir: Path) -> tuple[float, int]:
    """Our ticker as deployed: `python -m ticker` daemons (INFO logs, a line per schedule, to a file),
    started and idle, sleeping until the instant at which all N schedules fall due; the clock runs from
    that instant until N runs are queued. Returns (seconds, peak RSS in KiB of any ticker)."""
    due_at = make_due(database_url, at_seconds_from_now=LEAD_SECONDS)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "RQ_QUEUE": QUEUE,
           "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = [open(log_dir / f"ticker-{n}-x{processes}-{i}.log", "w") for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, "-m", "ticker"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT) for log in logs]
    conn = db.connect(database_url, application_name="bench-watch")
    queue = redis.Redis.from_url(redis_url)
    try:
        _wait(lambda: _count(conn, "SELECT count(*) AS n FROM ticker_heartbeats"), processes,
              timeout=LEAD_SECONDS, procs=procs)
        if time.time() >= due_at:
            raise RuntimeError(f"the tickers took over {LEAD_SECONDS}s to start; raise LEAD_SECONDS")
        time.sleep(due_at - time.time())
        start = time.perf_counter()
        # Watch the queue's length (O(1)), not a count(*) of the runs: at 100,000 rows, counting
        # every 20 ms would take a good part of a core from the tickers being measured. A run's job is
        # pushed before its `queued` commits, so the clock stops at the first count of N queued runs
        # after N jobs are in Redis.
        _wait(lambda: queue.llen(f"rq:queue:{QUEUE}"), n, timeout=600, procs=procs, poll=0.005)
        _wait(lambda: _count(conn, "SELECT count(*) AS n FROM schedule_runs WHERE status = 'queued'"), n,
              timeout=60, procs=procs, poll=0.005)
        seconds = time.perf_counter() - start
    finally:
        conn.close()
        queue.close()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
    peak_kib = 0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kib = max(peak_kib, usage.ru_maxrss)
    for log in logs:
        log.close()
    failed = [p.returncode for p in procs if p.returncode != 0]
    if failed:
        raise RuntimeError(f"ticker exited with {failed}; see {log_dir}")
    return seconds, peak_kib


def _count(conn, sql: str) -> int:
    with db.service_transaction(conn) as cur:
        cur.execute(sql)
        return cur.fetchone()["n"]


def _wait(count, target: int, *, timeout: float, procs, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while count() < target:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"gave up waiting for {target} (last count {count()})")
        time.sleep(poll)


def measure(servers, n: int, log_dir: Path, rounds: int = 3) -> dict:
    """Our tickers x1, x2, x4, `rounds` times over, interleaved (x1, x2, x4, x1, ...) so that a slow
    spell of this shared machine lands on every count alike; each count reports its median round.
    Then the two baselines, once each."""
    dbs = BenchDatabases(servers.pg_admin_url)
    try:
        template, template_url = dbs.create()
        insert_schedules(template_url, n, due=False)
        results: dict = {"n": n, "rounds": rounds, "ours": {}}

        def fresh():
            _, url = dbs.create(template=template)
            flush_queue(servers.redis_url)
            return url

        measured: dict[int, list[dict]] = {processes: [] for processes in TICKER_COUNTS}
        for _ in range(rounds):
            for processes in TICKER_COUNTS:
                url = fresh()
                seconds, peak_kib = run_our_tickers(url, servers.redis_url, processes, n, log_dir)
                measured[processes].append({"seconds": seconds, "runs_per_second": n / seconds,
                                            "peak_rss_mb": peak_kib / 1024,
                                            "problem": verify_dispatch(url, servers.redis_url, n),
                                            "next_occurrences_also_run": extra_runs(url, n)})
                dbs.drop(url)
        for processes, runs in measured.items():
            middle = sorted(runs, key=lambda r: r["runs_per_second"])[len(runs) // 2]
            results["ours"][processes] = {
                **middle, "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "problem": "; ".join(r["problem"] for r in runs if r["problem"]) or None,
                "rounds_runs_per_second": [r["runs_per_second"] for r in runs]}
        for name, baseline in (("batched", batched_ticker), ("seed", seed_ticker)):
            url = fresh()
            make_due(url)
            with Timer() as timer:
                baseline(url, servers.redis_url, QUEUE)
            results[name] = {"seconds": timer.seconds, "runs_per_second": n / timer.seconds,
                             "problem": verify_dispatch(url, servers.redis_url, n),
                             "next_occurrences_also_run": extra_runs(url, n)}
            dbs.drop(url)
        return results
    finally:
        dbs.drop_all()
