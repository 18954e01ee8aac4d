"""Dispatch lag: 1,000 schedules due at instants spread over a minute, with the ticker running as
deployed (`python -m ticker`, default TICK_INTERVAL); lag = queued_at - scheduled_for per run."""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import QUEUE, BenchDatabases, flush_queue
from core.ops import db

ROOT = Path(__file__).resolve().parent.parent


def measure(servers, log_dir: Path, n: int = 1000, spread_seconds: float = 60.0) -> dict:
    dbs = BenchDatabases(servers.pg_admin_url)
    try:
        _, url = dbs.create()
        flush_queue(servers.redis_url)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": servers.redis_url, "RQ_QUEUE": QUEUE,
               "PYTHONPATH": str(ROOT)}
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "ticker-lag.log", "w") as log:
            ticker = subprocess.Popen([sys.executable, "-m", "ticker"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT)
            try:
                time.sleep(2)  # started and sleeping: the schedules arrive while it waits, as in production
                conn = db.connect(url)
                with db.service_transaction(conn) as cur:
                    cur.execute("INSERT INTO accounts (name, plan) VALUES ('lag', 'unlimited') RETURNING id")
                    account = cur.fetchone()["id"]
                    cur.execute(
                        "INSERT INTO schedules (account_id, name, cadence, send_hour, send_minute, next_run_at)"
                        " SELECT %(account)s, 'lag ' || i, 'daily', 9, 0,"
                        "        now() + interval '3 seconds' + (random() * %(spread)s) * interval '1 second'"
                        "   FROM generate_series(1, %(n)s) i",
                        {"account": account, "spread": spread_seconds, "n": n})
                deadline = time.monotonic() + spread_seconds + 60
                while time.monotonic() < deadline:
                    with db.service_transaction(conn) as cur:
                        cur.execute("SELECT count(*) AS done FROM schedule_runs WHERE status = 'queued'")
                        if cur.fetchone()["done"] >= n:
                            break
                    time.sleep(0.5)
                with db.service_transaction(conn) as cur:
                    cur.execute("SELECT extract(epoch FROM queued_at - scheduled_for) AS lag FROM schedule_runs"
                                " WHERE status = 'queued' ORDER BY 1")
                    lags = [float(row["lag"]) for row in cur.fetchall()]
                conn.close()
            finally:
                ticker.send_signal(signal.SIGTERM)
                ticker.wait(timeout=30)
        if len(lags) != n:
            return {"n": n, "problem": f"only {len(lags)} of {n} runs were queued in time"}
        return {"n": n, "p50_seconds": statistics.median(lags), "p99_seconds": lags[int(0.99 * (n - 1))],
                "max_seconds": lags[-1], "problem": None}
    finally:
        dbs.drop_all()
