"""Retention: runs and email_log rows older than RUN_RETENTION_DAYS go, in small batches, but each
schedule's newest 20 runs stay whatever their age; unfinished runs stay too."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from core.ops import db
from core.retention.sweep import RetentionSweep
from core.ops.sql import queries
from tests.ticker.conftest import fetch, make_schedule, scalar

NOW = datetime.now(timezone.utc)


def add_runs(conn, schedule_id, ages_in_days, status="succeeded"):
    """One run per age, created that many days before NOW; returns {run id: age}."""
    rows = fetch(conn, """
        INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, created_at)
        SELECT %(schedule_id)s, %(status)s, 'manual', %(now)s - make_interval(secs => age * 86400),
               %(now)s - make_interval(secs => age * 86400)
          FROM unnest(%(ages)s::float[]) AS age
        RETURNING id, created_at
    """, {"schedule_id": schedule_id, "status": status, "now": NOW, "ages": list(ages_in_days)})
    return {row["id"]: (NOW - row["created_at"]).total_seconds() / 86400 for row in rows}


def run_ages(conn, schedule_id) -> list[float]:
    rows = fetch(conn, "SELECT created_at FROM schedule_runs WHERE schedule_id = %s ORDER BY created_at DESC",
                 (schedule_id,))
    return [round((NOW - row["created_at"]).total_seconds() / 86400) for row in rows]


def add_emails(conn, account_id, ages_in_days):
    fetch(conn, """
        INSERT INTO email_log (account_id, to_emails, created_at)
        SELECT %(account_id)s, ARRAY['a@example.com'], %(now)s - make_interval(secs => age * 86400)
          FROM unnest(%(ages)s::float[]) AS age
    """, {"account_id": account_id, "now": NOW, "ages": list(ages_in_days)})


def test_old_runs_go_but_each_schedules_newest_twenty_stay(conn, account_id, make_ticker):
    all_old = make_schedule(conn, account_id, name="All old")
    add_runs(conn, all_old, range(100, 130))                       # 30 runs, 100..129 days old
    mixed = make_schedule(conn, account_id, name="Mixed")
    add_runs(conn, mixed, [1, 2, 3] + list(range(95, 117)))        # 3 recent, 22 old
    few = make_schedule(conn, account_id, name="Few")
    add_runs(conn, few, range(200, 210))                           # 10 runs, all old
    recent = make_schedule(conn, account_id, name="Busy")
    add_runs(conn, recent, [day / 10 for day in range(300)])       # 300 runs, all within 30 days

    ticker = make_ticker(clock=lambda: NOW)
    pruned = ticker.prune_history()

    assert run_ages(conn, all_old) == list(range(100, 120))        # the newest 20, though older than 90 days
    assert run_ages(conn, mixed) == [1, 2, 3] + list(range(95, 112))
    assert run_ages(conn, few) == list(range(200, 210))
    assert len(run_ages(conn, recent)) == 300
    assert pruned.runs == 10 + 5
    assert ticker.metrics.registry.get_sample_value("schedules_retention_deleted_rows_total",
                                                    {"table": "schedule_runs"}) == 15


def test_unfinished_runs_are_never_deleted(conn, account_id, make_ticker):
    schedule = make_schedule(conn, account_id)
    add_runs(conn, schedule, range(1, 21))
    add_runs(conn, schedule, [150], status="pending")
    add_runs(conn, schedule, [151], status="running")
    add_runs(conn, schedule, [152], status="failed")
    make_ticker(clock=lambda: NOW).prune_history()
    statuses = [row["status"] for row in fetch(conn, "SELECT status FROM schedule_runs WHERE created_at < %s",
                                               (NOW - timedelta(days=100),))]
    assert sorted(statuses) == ["pending", "running"]


def test_old_email_log_rows_go(conn, account_id, make_ticker, caplog):
    add_emails(conn, account_id, [1, 50, 89, 91, 120, 400])
    with caplog.at_level(logging.INFO, logger="ticker"):
        pruned = make_ticker(clock=lambda: NOW).prune_history()
    assert pruned.emails == 3
    assert scalar(conn, "SELECT count(*) FROM email_log") == 3
    assert "Retention: deleted 0 run(s) and 3 email log row(s) older than 90 days" in caplog.messages


def test_run_retention_days_is_the_setting(conn, account_id, make_ticker):
    schedule = make_schedule(conn, account_id)
    add_runs(conn, schedule, range(20, 60))
    add_emails(conn, account_id, [20, 40])
    make_ticker(clock=lambda: NOW, run_retention_days=30).prune_history()
    assert run_ages(conn, schedule) == list(range(20, 40))  # 20 kept: the 10 under 30 days and 10 older
    assert scalar(conn, "SELECT count(*) FROM email_log") == 1


def test_a_pass_is_a_few_small_statements_and_passes_add_up(conn, account_id):
    schedules = [make_schedule(conn, account_id, name=f"S{i}") for i in range(5)]
    for schedule in schedules:
        add_runs(conn, schedule, range(100, 125))  # 5 to delete in each
    add_emails(conn, account_id, range(100, 107))
    sweep = RetentionSweep(batch_rows=3, schedules_per_statement=2, run_statements=2, email_statements=2)
    passes = []
    while not passes or passes[-1] != (0, 0):
        pruned = sweep.run_pass(conn, NOW, 90)
        assert pruned.runs <= 2 * 3 and pruned.emails <= 2 * 3
        passes.append((pruned.runs, pruned.emails))
        assert len(passes) < 50
    assert sum(runs for runs, _ in passes) == 25 and sum(emails for _, emails in passes) == 7
    for schedule in schedules:
        assert run_ages(conn, schedule) == list(range(100, 120))


def test_the_statements_are_served_by_indexes(conn, account_id):
    fetch(conn, "INSERT INTO schedules (account_id, name, weekly_dow)"
                " SELECT %s, 'S' || i, 1 FROM generate_series(1, 400) AS i", (account_id,))
    fetch(conn, "INSERT INTO schedule_runs (schedule_id, account_id, status, created_at)"
                " SELECT id, account_id, 'succeeded', now() - make_interval(days => d)"
                "   FROM schedules, generate_series(1, 25) AS d")
    add_emails(conn, account_id, range(5000))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ANALYZE schedules, schedule_runs, email_log")
    conn.autocommit = False
    with db.service_transaction(conn) as cur:
        cur.execute("EXPLAIN " + queries["prune_runs"], {"after": None, "cutoff": NOW, "keep": 20, "limit": 1000,
                                                         "schedules": 100})
        runs_plan = "\n".join(row["QUERY PLAN"] for row in cur.fetchall())
        cur.execute("EXPLAIN " + queries["prune_email_log"], {"cutoff": NOW, "limit": 1000})
        email_plan = "\n".join(row["QUERY PLAN"] for row in cur.fetchall())
    assert "schedules_pkey" in runs_plan and "schedule_runs_schedule_created_idx" in runs_plan, runs_plan
    assert "Seq Scan on schedule" not in runs_plan, runs_plan
    assert "email_log_created_idx" in email_plan and "Seq Scan" not in email_plan, email_plan


def test_the_daemon_prunes_after_its_first_tick(conn, account_id, start_ticker):
    schedule = make_schedule(conn, account_id)
    add_runs(conn, schedule, range(100, 121))
    process = start_ticker()
    process.wait_for("Retention: deleted 1 run(s) and 0 email log row(s) older than 90 days")
    assert process.stop() == 0
    assert len(run_ages(conn, schedule)) == 20


class StepClock:
    """A clock that moves one second each time it is read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_pass_goes_on_while_there_is_more_until_its_time_is_out(conn, account_id):
    """No statement count: a backlog goes in as many statements as the pass's seconds allow, runs first
    (60% of the time), then email_log, and the next pass goes on where this one stopped."""
    schedules = [make_schedule(conn, account_id, name=f"S{i}") for i in range(4)]
    for schedule in schedules:
        add_runs(conn, schedule, range(100, 130))  # 10 to delete in each: 40
    add_emails(conn, account_id, range(100, 120))  # 20
    sweep = RetentionSweep(batch_rows=3, schedules_per_statement=1, seconds=10, clock=StepClock())
    first = sweep.run_pass(conn, NOW, 90)
    # The clock moves a second per read: runs get the reads before 6 s, email_log those before 10 s.
    assert 0 < first.runs < 40 and 0 < first.emails < 20 and first.more
    passes = [(first.runs, first.emails)]
    while passes[-1] != (0, 0):
        pruned = sweep.run_pass(conn, NOW, 90)
        passes.append((pruned.runs, pruned.emails))
        assert len(passes) < 60
    assert not pruned.more
    assert sum(r for r, _ in passes) == 40 and sum(e for _, e in passes) == 20
    big = RetentionSweep(batch_rows=1000, seconds=60)
    add_runs(conn, schedules[0], range(200, 260))
    assert big.run_pass(conn, NOW, 90).runs == 60  # one pass, when its time allows


def test_the_ticker_comes_back_soon_while_a_backlog_remains(conn, account_id, make_ticker, monkeypatch):
    from ticker import chores
    schedule = make_schedule(conn, account_id)
    add_runs(conn, schedule, range(100, 150))  # 30 to delete
    ticker = make_ticker(clock=lambda: NOW)
    sweep = ticker.housekeeping.retention
    monkeypatch.setattr(sweep, "batch_rows", 10)
    monkeypatch.setattr(sweep, "run_statements", 1)  # one statement a pass: 10 of the 30
    ticker.housekeeping.next_health_check = float("inf")
    started = chores.time.monotonic()
    ticker.chores()
    assert len(run_ages(conn, schedule)) == 40
    assert ticker.housekeeping.next_retention <= started + chores.RETENTION_BACKLOG_EVERY_SECONDS + 1
    monkeypatch.setattr(sweep, "run_statements", None)  # the rest, then nothing left: back to a minute
    ticker.housekeeping.next_retention = 0.0
    ticker.chores()
    assert len(run_ages(conn, schedule)) == 20
    assert ticker.housekeeping.next_retention >= started + chores.RETENTION_EVERY_SECONDS
