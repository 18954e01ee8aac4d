"""Retention at a year of runs: how fast the ticker's sweep (core/retention/sweep.py) deletes old runs
(each with its delivery ledger row, which goes with it) and email_log rows, one statement at a time as
the ticker runs them, and what a day of 10,000,000 runs costs it in database time.

The data is built with SQL: SCHEDULES schedules with RUNS_EACH finished runs each, all older than the
retention period, one `sent` delivery per run, and as many email_log rows. The sweep keeps each
schedule's newest 20 runs (whatever their age), so (RUNS_EACH - 20) x SCHEDULES runs go; the counts
are checked after. Each statement is timed: the figures are rows per second of statement time (the
bench waits on PostgreSQL alone meanwhile) and the longest statement (how long its locks are held).
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from bench.common import BenchDatabases
from core.ops import db
from core.retention.sweep import KEEP_RUNS, PASS_SECONDS, RetentionSweep
from ticker.chores import RETENTION_BACKLOG_EVERY_SECONDS, RETENTION_EVERY_SECONDS

DAY_OF_RUNS = 10_000_000
TARGET_SECONDS = 600.0
RETENTION_DAYS = 90


def build(url: str, schedules: int, runs_each: int) -> None:
    conn = db.connect(url)
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (name, plan) VALUES ('retention', 'unlimited') RETURNING id")
        account = cur.fetchone()["id"]
        cur.execute("""
            INSERT INTO schedules (account_id, account_seq, name, cadence, weekly_dow, send_hour, next_run_at)
            SELECT %(account)s, i, 'Weekly ' || i, 'weekly', 1, 9, now() + interval '1 day'
              FROM generate_series(1, %(n)s) i""", {"account": account, "n": schedules})
        # Weekly runs going back from 100 days ago, one a week per schedule.
        cur.execute("""
            INSERT INTO schedule_runs (id, schedule_id, account_id, status, trigger, scheduled_for, created_at,
                                       started_at, finished_at)
            SELECT uuid_v7(t), s.id, s.account_id, 'succeeded', 'schedule', t, t, t, t
              FROM schedules s, generate_series(0, %(each)s - 1) k,
                   LATERAL (SELECT now() - interval '100 days' - k * interval '7 days') AS at (t)""",
                    {"each": runs_each})
        cur.execute("""
            INSERT INTO deliveries (run_id, account_id, target, status, attempts, message_id, sent_at, created_at)
            SELECT id, account_id, 'client@example.com', 'sent', 1, '<' || id || '@bench>', created_at, created_at
              FROM schedule_runs""")
        cur.execute("""
            INSERT INTO email_log (account_id, run_id, to_emails, subject, created_at)
            SELECT account_id, id, ARRAY['client@example.com'], 'Weekly report', created_at FROM schedule_runs""")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")
    conn.close()


def _sweep(conn, sweep: RetentionSweep, now: datetime, field: str) -> tuple[int, float, float]:
    """Passes of one statement each until one deletes nothing: (rows, seconds in statements, longest)."""
    total, spent, longest = 0, 0.0, 0.0
    while True:
        started = time.perf_counter()
        pruned = sweep.run_pass(conn, now, RETENTION_DAYS)
        elapsed = time.perf_counter() - started
        deleted = getattr(pruned, field)
        if not deleted and sweep.after is None:
            return total, spent, longest
        total, spent, longest = total + deleted, spent + elapsed, max(longest, elapsed)


def measure(servers, log_dir: Path, *, quick: bool = False) -> dict:
    schedules, runs_each = (2_000, 120) if quick else (20_000, 120)
    dbs = BenchDatabases(servers.pg_admin_url)
    try:
        _, url = dbs.create()
        started = time.perf_counter()
        build(url, schedules, runs_each)
        built = time.perf_counter() - started
        conn = db.connect(url, application_name="bench-retention")
        now = datetime.now(timezone.utc)
        runs = _sweep(conn, RetentionSweep(run_statements=1, email_statements=0, seconds=1e9), now, "runs")
        emails = _sweep(conn, RetentionSweep(run_statements=0, email_statements=1, seconds=1e9), now, "emails")
        with db.service_transaction(conn) as cur:
            cur.execute("SELECT (SELECT count(*) FROM schedule_runs) AS runs, (SELECT count(*) FROM deliveries)"
                        " AS deliveries, (SELECT count(*) FROM email_log) AS emails")
            left = cur.fetchone()
        conn.close()
        expected_runs = schedules * (runs_each - KEEP_RUNS)
        problems = []
        if runs[0] != expected_runs or left["runs"] != schedules * KEEP_RUNS or left["deliveries"] != left["runs"]:
            problems.append(f"deleted {runs[0]} runs (expected {expected_runs}); left {left['runs']} runs, "
                            f"{left['deliveries']} deliveries")
        if emails[0] != schedules * runs_each or left["emails"]:
            problems.append(f"deleted {emails[0]} email_log rows, {left['emails']} left")
        return {"schedules": schedules, "runs_each": runs_each, "build_seconds": built,
                "runs": {"rows": runs[0], "seconds": runs[1], "longest_ms": runs[2] * 1000},
                "emails": {"rows": emails[0], "seconds": emails[1], "longest_ms": emails[2] * 1000},
                "problem": "; ".join(problems) or None}
    finally:
        dbs.drop_all()


def report(r: dict) -> None:
    print(f"{r['schedules']:,} schedules x {r['runs_each']} old runs (one delivery and one email_log row each), "
          f"built in {r['build_seconds']:.0f} s; each schedule keeps its newest {KEEP_RUNS}")
    day = 0.0
    for key, what in (("runs", "runs (and their deliveries)"), ("emails", "email_log rows")):
        row = r[key]
        rate = row["rows"] / row["seconds"] if row["seconds"] else float("nan")
        day += DAY_OF_RUNS / rate
        print(f"  {what:<30} {row['rows']:>10,} deleted in {row['seconds']:6.1f} s of statements: {rate:>8,.0f}/s;"
              f" longest statement {row['longest_ms']:.0f} ms")
    verdict = "meets" if day <= TARGET_SECONDS else "MISSES"
    steady = PASS_SECONDS * 86_400 / RETENTION_EVERY_SECONDS
    backlog = PASS_SECONDS * 86_400 / (RETENTION_BACKLOG_EVERY_SECONDS + PASS_SECONDS)
    print(f"A day of {DAY_OF_RUNS:,} runs (and as many email_log rows): {day:,.0f} s of statements "
          f"(target <= {TARGET_SECONDS:g} s: {verdict}). The ticker gives retention passes of up to {PASS_SECONDS:g} s "
          f"every {RETENTION_EVERY_SECONDS} s ({steady:,.0f} s a day), every {RETENTION_BACKLOG_EVERY_SECONDS} s "
          f"while a backlog remains ({backlog:,.0f} s a day)   {r['problem'] or 'ok'}")
