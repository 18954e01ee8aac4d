"""The ticker's health check: one WARNING per problem schedule, at most once an hour per ticker."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

from tests.ticker.conftest import fetch, make_schedule, wait_until
from ticker import chores


def problem_schedules(conn, account_id) -> dict:
    failing = make_schedule(conn, account_id, name="Failing", run_count=12, success_count=3)
    stale = make_schedule(conn, account_id, name="Stale", created_at="2020-01-01T00:00:00Z")
    repeated = make_schedule(conn, account_id, name="Flaky", consecutive_failures=4, last_error="OSError: disk full")
    make_schedule(conn, account_id, name="Fine", run_count=12, success_count=12)
    return {"failing": failing, "stale": stale, "repeated": repeated}


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ticker" and r.levelno == logging.WARNING]


def test_each_problem_schedule_is_one_warning(conn, account_id, make_ticker, caplog):
    ids = problem_schedules(conn, account_id)
    ticker = make_ticker()
    ticker.tick()
    with caplog.at_level(logging.INFO, logger="ticker"):
        ticker.check_health()
    days = (datetime.now(timezone.utc) - datetime(2020, 1, 1, tzinfo=timezone.utc)).days
    assert warnings(caplog) == [  # by kind, then name
        f"Schedule {ids['repeated']} ('Flaky') is failing repeatedly: 4 failures in a row"
        " (last error: OSError: disk full)",
        f"Schedule {ids['failing']} ('Failing') is failing: 3 of 12 runs succeeded",
        f"Schedule {ids['stale']} ('Stale') is stale: no run since it was created {days} days ago",
    ]
    record = next(r for r in caplog.records if r.getMessage().startswith(f"Schedule {ids['failing']}"))
    assert record.schedule_id == ids["failing"] and str(record.account_id) == str(account_id)


def test_the_check_runs_at_most_hourly(conn, account_id, make_ticker, caplog):
    problem_schedules(conn, account_id)
    ticker = make_ticker()
    ticker.tick()
    with caplog.at_level(logging.INFO, logger="ticker"):
        ticker.chores()
        ticker.chores()
        ticker.tick()
        ticker.chores()
    assert len(warnings(caplog)) == 3  # once, not once per call
    assert ticker.housekeeping.next_health_check - time.monotonic() > chores.HEALTH_CHECK_EVERY_SECONDS - 60
    ticker.housekeeping.next_health_check = time.monotonic()  # an hour later
    with caplog.at_level(logging.INFO, logger="ticker"):
        ticker.chores()
    assert len(warnings(caplog)) == 6


def test_a_long_list_is_cut_with_a_count_of_the_rest(conn, account_id, make_ticker, caplog, monkeypatch):
    problem_schedules(conn, account_id)
    monkeypatch.setattr(chores, "HEALTH_LOG_LIMIT", 2)
    ticker = make_ticker()
    ticker.tick()
    with caplog.at_level(logging.INFO, logger="ticker"):
        issues = ticker.check_health()
    assert len(issues) == 2
    assert warnings(caplog)[-1].startswith("... and 1 more schedule health issue(s)")


def test_a_failing_check_does_not_stop_the_ticker(conn, account_id, make_ticker, caplog, monkeypatch):
    ticker = make_ticker()
    ticker.tick()

    def broken(*args, **kwargs):
        raise RuntimeError("the check broke")

    monkeypatch.setattr(chores.health, "issues", broken)
    with caplog.at_level(logging.INFO, logger="ticker"):
        ticker.chores()
    assert ("Failed to check schedule health: RuntimeError: the check broke (next attempt in 3600s)"
            in caplog.messages)
    make_schedule(conn, account_id, cadence="daily", next_run_at="2020-01-01T00:00:00Z")
    assert ticker.tick()  # dispatch goes on


def test_the_daemon_checks_once_after_starting(conn, account_id, start_ticker):
    ids = problem_schedules(conn, account_id)
    process = start_ticker(LOG_FORMAT="json")
    process.wait_for("is failing: 3 of 12 runs succeeded")
    wait_until(lambda: fetch(conn, "SELECT count(*) AS n FROM ticker_heartbeats")[0]["n"] == 1, 10, message="heartbeat")
    assert process.stop() == 0
    lines = [json.loads(line) for line in process.output.splitlines()]
    health = [line for line in lines if line["message"].startswith("Schedule ")]
    assert sorted(line["schedule_id"] for line in health) == sorted(str(i) for i in ids.values())
    assert {line["level"] for line in health} == {"WARNING"}
