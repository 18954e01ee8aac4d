"""`python -m ticker` as a process: settings errors, --once, wake-up on NOTIFY, SIGTERM, replicas."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

from rq.job import Job

from core.engine import tzdb
from tests.ticker.conftest import (REPO, assert_exactly_once, ensure_seed_account, fetch,
                                   insert_due_schedules, make_schedule, scalar, settled, wait_until)
from tests.seeds import SEED_000_TEST_SCHEDULE
from tests.ticker.test_dispatch import next_monday_0900
from worker import entry_points


def test_missing_database_url_prints_one_line_and_exits_2(ticker_env):
    env = {k: v for k, v in ticker_env.items() if k != "DATABASE_URL"}
    result = subprocess.run([sys.executable, "-m", "ticker"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: DATABASE_URL is not set")
    assert result.stderr.count("\n") == 1


def test_bad_tick_interval_prints_one_line_and_exits_2(ticker_env):
    result = subprocess.run([sys.executable, "-m", "ticker", "--once"], cwd=REPO,
                            env={**ticker_env, "TICK_INTERVAL": "soon"}, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr == "error: TICK_INTERVAL must be a number of seconds, got 'soon'\n"


def test_preview_is_handed_its_arguments_and_needs_no_settings(ticker_env):
    env = {k: v for k, v in ticker_env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run([sys.executable, "-m", "ticker", "preview", "--cron", "0 9 * * 1", "--tz", "UTC",
                             "--after", "2026-03-09T00:00:00Z", "--count", "2"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["2026-03-09T09:00:00Z",
                                                                        "2026-03-16T09:00:00Z"]


def test_once_dispatches_the_seed_test_schedule_and_exits_0(conn, redis_client, start_ticker):
    ensure_seed_account(conn)
    fetch(conn, SEED_000_TEST_SCHEDULE)
    before = datetime.now(timezone.utc)
    process = start_ticker("--once")
    assert process.proc.wait(timeout=30) == 0
    after = datetime.now(timezone.utc)

    [run] = fetch(conn, "SELECT * FROM schedule_runs")
    assert run["status"] == "queued" and run["job_id"] == f"run-{run['id']}"
    job = Job.fetch(run["job_id"], connection=redis_client)
    assert job.func_name == entry_points.RUN and job.args == (str(run["id"]),)
    next_run_at = scalar(conn, "SELECT next_run_at FROM schedules")
    assert next_run_at in (next_monday_0900(before), next_monday_0900(after))
    lines = process.output.splitlines()
    assert any(" - ticker - INFO - Found 1 due schedule(s)" in line for line in lines)
    assert any(f" - ticker - INFO - Processed schedule 'Test Weekly Snapshot': run_id={run['id']}, "
               f"task_id=run-{run['id']}, next_run_at={next_run_at.isoformat()}" in line for line in lines)

    assert start_ticker("--once").proc.wait(timeout=30) == 0  # a second tick does nothing
    assert scalar(conn, "SELECT count(*) FROM schedule_runs") == 1


def test_notify_wakes_a_sleeping_ticker_and_sigterm_stops_it(conn, account_id, start_ticker):
    process = start_ticker(TICK_INTERVAL=60)
    process.wait_for(f"Schedules ticker started (interval: 60s, tz database {tzdb.in_use()})")
    wait_until(lambda: scalar(conn, "SELECT count(*) FROM ticker_heartbeats") == 1, 10, message="heartbeat")
    time.sleep(0.3)  # asleep now, for up to a minute

    # Created due: dispatched at once, not at the next minute.
    # overlap_policy allow: no worker runs here, so the schedule's first run stays queued.
    sid = make_schedule(conn, account_id, cadence="daily", next_run_at=datetime.now(timezone.utc),
                        overlap_policy="allow")
    wait_until(lambda: scalar(conn, "SELECT count(*) FROM schedule_runs WHERE status = 'queued'") == 1, 2,
               message="the schedule created due to be dispatched")
    # Created due in a second or two: the NOTIFY shortens the sleep to that instant.
    due = datetime.fromtimestamp(int(time.time()) + 2, timezone.utc)
    make_schedule(conn, account_id, cadence="daily", next_run_at=due)
    wait_until(lambda: scalar(conn, "SELECT count(*) FROM schedule_runs WHERE status = 'queued'") == 2, 5,
               message="the schedule due in 2 s")
    [late] = fetch(conn, "SELECT queued_at - scheduled_for AS lag FROM schedule_runs"
                         " WHERE scheduled_for = %s", (due,))
    assert 0 <= late["lag"].total_seconds() < 1.0
    # psql's `NOTIFY schedules_changed;` after an UPDATE made by some path without the trigger.
    fetch(conn, "ALTER TABLE schedules DISABLE TRIGGER schedules_changed")
    fetch(conn, "UPDATE schedules SET next_run_at = now() - interval '1 second' WHERE id = %s", (sid,))
    fetch(conn, "ALTER TABLE schedules ENABLE TRIGGER schedules_changed")
    fetch(conn, "NOTIFY schedules_changed")
    wait_until(lambda: scalar(conn, "SELECT count(*) FROM schedule_runs WHERE status = 'queued'") == 3, 2,
               message="a dispatch after a hand-made NOTIFY")

    started = time.monotonic()
    assert process.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
    assert process.output.rstrip().endswith("Schedules ticker stopped")
    assert scalar(conn, "SELECT count(*) FROM ticker_heartbeats") == 0


def test_unreachable_postgres_at_start_is_retried_one_line_per_attempt(start_ticker):
    process = start_ticker(DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing")
    wait_until(lambda: process.output.count("(retrying in") >= 2, 10, message="two attempts")
    assert process.proc.poll() is None
    lines = process.output.splitlines()
    assert " - ticker - ERROR - Failed to connect to PostgreSQL: OperationalError: " in lines[1]
    assert lines[1].endswith("(retrying in 1s)") and lines[2].endswith("(retrying in 2s)")
    assert "Traceback" not in process.output
    assert process.stop() == 0
    assert process.output.rstrip().endswith("Schedules ticker stopped")


def test_three_tickers_share_2000_due_schedules_without_duplicates(conn, account_id, redis_client,
                                                                   start_ticker):
    processes = [start_ticker(TICK_BATCH_SIZE=100) for _ in range(3)]
    for process in processes:
        process.wait_for("Schedules ticker started")
    time.sleep(0.3)
    insert_due_schedules(conn, account_id, 2000)  # one NOTIFY wakes all three at once
    wait_until(lambda: settled(conn), 60, interval=0.1, message="2,000 schedules dispatched")
    for process in processes:
        assert process.stop() == 0
    assert_exactly_once(conn, redis_client, 2000)
    assert "Failed" not in "".join(p.output for p in processes)
