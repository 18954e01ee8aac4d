"""Fair shares at the spike: one big account's backlog and many small accounts due at one instant
(and, in a second spike, the small accounts due SMALL_AFTER seconds after the big one, when its
backlog is already dispatched), through `python -m ticker`, `python -m worker` (2 processes x 50 runs
in flight) and a real SMTP server on loopback, twice each in the same run: every account on the `pro`
plan (a cap of 50 runs in flight each, migration 0023) and every account on `unlimited` (no cap:
dispatch still takes accounts in turn at one instant, but every run goes to Redis at once).

For the small accounts' runs: p50/p99 from the due instant to started (the worker took the run) and
to delivered (the SMTP server got the message), and how many of the big account's runs were still to
be delivered when the last small one was (its backlog still draining). For the big account: when
its last run was delivered. Counts checked first, as in bench/e2e.py: every run succeeded, each
recipient got one message, the ledger agrees.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import redis

from bench.common import BenchDatabases, due_instant, vacuum_and_close
from bench.e2e import LEAD_SECONDS, ROOT, _check_runs, _percentile, _stop, _wait, service_env, start_mailbox
from core.ops import db

QUEUE = "bench-fair"
WORKERS, CONCURRENCY = 2, 50
SMALL_P99_STARTED_TARGET_SECONDS = 10.0
# The second spike: the small accounts' runs come due this long after the big account's, when its
# backlog is already queued (without caps, all of it in Redis ahead of them).
SMALL_AFTER = 5.0


def _insert(url: str, plan: str, big: int, small_accounts: int, small_each: int, task: str, params: str,
            small_after: float) -> tuple:
    """The accounts and their schedules: the big account's due LEAD_SECONDS from now, the small accounts'
    `small_after` seconds later; (the big account's due instant, big account id)."""
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (name, plan) VALUES ('big', %s) RETURNING id", (plan,))
        big_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO accounts (name, plan) SELECT 'small ' || i, %s FROM generate_series(1, %s) i",
                    (plan, small_accounts))
        # The big account's schedules first: in due order (and id order) they come before the others.
        cur.execute(
            """
            INSERT INTO schedules (account_id, name, task, task_parameters, report_type, city, recipients,
                                   cadence, weekly_dow, send_hour, send_minute, next_run_at)
            SELECT CASE WHEN i <= %(big)s THEN %(big_id)s::uuid ELSE s.ids[1 + (i - %(big)s - 1) / %(each)s] END,
                   'Weekly report ' || i, %(task)s, %(params)s::jsonb, 'market_snapshot', 'San Diego',
                   ARRAY['client' || i || '@example.com'], 'weekly', extract(dow FROM now())::int, 9, 0,
                   date_trunc('second', now()) + make_interval(secs => %(lead)s)
                   + CASE WHEN i <= %(big)s THEN interval '0' ELSE make_interval(secs => %(after)s) END
              FROM generate_series(1, %(n)s) i,
                   (SELECT array_agg(id ORDER BY name) AS ids FROM accounts WHERE name LIKE 'small %%') s
            """, {"big": big, "big_id": big_id, "each": small_each, "n": big + small_accounts * small_each,
                  "task": task, "params": params, "lead": LEAD_SECONDS, "after": small_after})
        due_at = due_instant(cur)
    vacuum_and_close(conn)
    return due_at, big_id


def spike(servers, dbs: BenchDatabases, log_dir: Path, *, plan: str, task: str, params: str, big: int,
          small_accounts: int, small_each: int, timeout: float, small_after: float = 0.0) -> dict:
    n = big + small_accounts * small_each
    inbox, smtp, port = start_mailbox()
    _, url = dbs.create()
    redis.Redis.from_url(servers.redis_url).flushdb()
    due_at, big_id = _insert(url, plan, big, small_accounts, small_each, task, params, small_after)
    env = service_env(url, servers.redis_url, port, QUEUE, workers=WORKERS, concurrency=CONCURRENCY)
    log_dir.mkdir(parents=True, exist_ok=True)
    logs = [open(log_dir / f"fair-{plan}-{task}-{small_after:g}-{name}.log", "w") for name in ("ticker", "worker")]
    procs = [subprocess.Popen([sys.executable, "-m", name], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
             for name, log in zip(("ticker", "worker"), logs)]
    client = redis.Redis.from_url(servers.redis_url)
    try:
        if not _wait(lambda: client.scard("rq:workers") >= WORKERS, LEAD_SECONDS, procs):
            raise RuntimeError(f"the workers did not start within {LEAD_SECONDS}s; see {log_dir}")
        time.sleep(max(0.0, due_at - time.time()))
        finished = _wait(lambda: inbox.count() >= n, timeout, procs, poll=0.1)
        time.sleep(1.0)  # a late duplicate would arrive now
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
        client.close()
        smtp.stop()
        for log in logs:
            log.close()
    problem = None if finished else f"only {inbox.count()} of {n} delivered within {timeout:.0f}s"
    problem = "; ".join(p for p in (problem, _check_runs(url, n, inbox)) if p) or None
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT id::text, account_id = %s AS big, extract(epoch FROM started_at) AS started"
                    " FROM schedule_runs", (big_id,))
        runs = cur.fetchall()
    conn.close()
    dbs.drop(url)
    delivered = {run_id: at for (run_id, _), at in inbox.first.items()}
    small = [r for r in runs if not r["big"]]
    big_delivered = [delivered[r["id"]] - due_at for r in runs if r["big"] and r["id"] in delivered]
    small_due = due_at + small_after
    small_started = [float(r["started"]) - small_due for r in small if r["started"] is not None]
    small_delivered = [delivered[r["id"]] - small_due for r in small if r["id"] in delivered]
    last_small = max(small_delivered, default=float("nan"))
    return {"plan": plan, "task": task, "small_after": small_after, "n": n, "big": big, "small": len(small),
            "problem": problem,
            "small_started_p50": _percentile(small_started, 0.5), "small_started_p99": _percentile(small_started, 0.99),
            "small_delivered_p50": _percentile(small_delivered, 0.5),
            "small_delivered_p99": _percentile(small_delivered, 0.99),
            "big_left_when_small_done": sum(1 for at in big_delivered if at > last_small),
            "big_all_delivered": max(big_delivered, default=float("nan"))}


def measure(servers, log_dir: Path, *, quick: bool = False) -> dict:
    big, small_accounts, small_each = (1_000, 50, 2) if quick else (3_000, 200, 2)
    dbs = BenchDatabases(servers.pg_admin_url)
    rows = []
    try:
        for task, params, after in (("wait_io", '{"wait": 1}', 0.0), ("wait_io", '{"wait": 1}', SMALL_AFTER),
                                    ("generate_report", "{}", 0.0)):
            for plan in ("pro", "unlimited"):
                rows.append(spike(servers, dbs, log_dir, plan=plan, task=task, params=params, big=big,
                                  small_accounts=small_accounts, small_each=small_each, timeout=600,
                                  small_after=after))
    finally:
        dbs.drop_all()
    return {"rows": rows}


def report(results: dict) -> None:
    rows = results["rows"]
    first = rows[0]
    print(f"One account with {first['big']:,} runs, {first['small']:,} runs of small accounts due at the same instant "
          f"or {SMALL_AFTER:g} s later; {WORKERS} worker processes x {CONCURRENCY}")
    print(f"{'task, small accounts due, plan of every account':<58}{'small: due->started':>20}{'due->delivered':>16}"
          f"{'big left':>10}{'big done':>10}   check")
    print(f"{'':<58}{'p50 s   p99 s':>20}{'p50 s   p99 s':>16}")
    for row in rows:
        label = ("task waiting 1 s" if row["task"] == "wait_io" else "demo task") + (
            ", at once" if not row["small_after"] else f", {row['small_after']:g} s later") + ", " + (
            "pro (cap 50)" if row["plan"] == "pro" else "unlimited (no cap)")
        print(f"{label:<58}{row['small_started_p50']:>12.1f}{row['small_started_p99']:>8.1f}"
              f"{row['small_delivered_p50']:>8.1f}{row['small_delivered_p99']:>8.1f}"
              f"{row['big_left_when_small_done']:>10,}{row['big_all_delivered']:>9.1f}s   {row['problem'] or 'ok'}")
    for task, after in (("wait_io", 0.0), ("wait_io", SMALL_AFTER), ("generate_report", 0.0)):
        capped, uncapped = [next(r for r in rows if r["task"] == task and r["plan"] == plan and r["small_after"] == after)
                            for plan in ("pro", "unlimited")]
        verdict = "meets" if capped["small_started_p99"] <= SMALL_P99_STARTED_TARGET_SECONDS else "MISSES"
        when = "at once" if not after else f"{after:g} s later"
        print(f"{task}, small accounts due {when}: their p99 due->started {capped['small_started_p99']:.1f} s with caps vs "
              f"{uncapped['small_started_p99']:.1f} s without "
              f"({uncapped['small_started_p99'] / max(capped['small_started_p99'], 1e-3):.1f}x); target <= "
              f"{SMALL_P99_STARTED_TARGET_SECONDS:g} s: {verdict}; the big account's last delivery "
              f"{capped['big_all_delivered']:.1f} s vs {uncapped['big_all_delivered']:.1f} s (the cap's cost)")
    print("big left: the big account's runs still to deliver when the small accounts' last run was delivered")
