"""The ticker's metrics move when their events happen, in process (clock injected) and on METRICS_PORT."""
from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from core.ops.settings import load_settings
from tests.ticker.conftest import REPO, fetch, insert_due_schedules, make_schedule, utc, wait_until
from ticker.loop import Ticker

NOW = utc(2026, 3, 11, 12, 0)


def sample(ticker, name, **labels) -> float:
    return ticker.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_tick_counts_dispatched_runs_their_lag_and_its_own_duration(conn, account_id, make_ticker):
    for _ in range(3):
        make_schedule(conn, account_id, cadence="daily", next_run_at=NOW - timedelta(seconds=2))
    ticker = make_ticker(clock=lambda: NOW)
    assert sample(ticker, "schedules_runs_total", status="dispatched") == 0
    assert ticker.tick()
    assert sample(ticker, "schedules_runs_total", status="dispatched") == 3
    assert sample(ticker, "schedules_dispatch_lag_seconds_count") == 3
    assert sample(ticker, "schedules_dispatch_lag_seconds_sum") == 6.0
    assert sample(ticker, "schedules_dispatch_lag_seconds_bucket", le="1.0") == 0
    assert sample(ticker, "schedules_dispatch_lag_seconds_bucket", le="2.5") == 3
    assert sample(ticker, "schedules_tick_duration_seconds_count") == 1
    assert sample(ticker, "schedules_ticker_last_tick_timestamp_seconds") > 0

    assert not ticker.tick()  # an idle tick is timed too, and dispatches nothing
    assert sample(ticker, "schedules_tick_duration_seconds_count") == 2
    assert sample(ticker, "schedules_runs_total", status="dispatched") == 3


def test_missed_runs_dispatch_errors_and_repushes_are_counted(conn, account_id, make_ticker):
    make_schedule(conn, account_id, cadence="daily", misfire_grace_seconds=60, next_run_at=NOW - timedelta(hours=1))
    make_schedule(conn, account_id, cadence="weekly", weekly_dow=None, next_run_at=NOW - timedelta(minutes=1))
    stuck = make_schedule(conn, account_id, cadence="daily", next_run_at=NOW + timedelta(days=1))
    fetch(conn, "INSERT INTO schedule_runs (schedule_id, status, created_at)"
                " VALUES (%s, 'pending', now() - interval '1 minute')", (stuck,))
    ticker = make_ticker(clock=lambda: NOW)
    ticker.tick()
    assert sample(ticker, "schedules_runs_total", status="missed") == 1
    assert sample(ticker, "schedules_dispatch_errors_total") == 1
    assert sample(ticker, "schedules_runs_total", status="repushed") == 1
    assert sample(ticker, "schedules_runs_total", status="dispatched") == 0


def test_failed_ticks_are_counted_while_the_loop_retries(redis_url):
    settings = load_settings({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nowhere", "REDIS_URL": redis_url})
    ticker = Ticker(settings, heartbeat=False)
    loop = threading.Thread(target=ticker.run)
    loop.start()
    try:
        wait_until(lambda: sample(ticker, "schedules_tick_failures_total") >= 1, 10, message="a failed tick")
    finally:
        ticker.request_stop()
        loop.join(10)
    assert not loop.is_alive()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(port) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
    finally:
        conn.close()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_metrics_port_serves_the_daemons_metrics(conn, account_id, start_ticker):
    port = _free_port()
    process = start_ticker(METRICS_PORT=port)
    process.wait_for(f"Metrics served on port {port} at /metrics")
    wait_until(lambda: _scrape(port).get(("schedules_tick_duration_seconds_count", ()), 0) >= 1, 10,
               message="a first tick on /metrics")
    insert_due_schedules(conn, account_id, 2)
    wait_until(lambda: _scrape(port).get(("schedules_runs_total", (("status", "dispatched"),))) == 2, 10,
               message="two dispatched runs on /metrics")
    samples = _scrape(port)
    assert samples[("schedules_dispatch_lag_seconds_count", ())] == 2
    assert ("process_resident_memory_bytes", ()) in samples
    assert not any(dict(labels).get("schedule_id") for _, labels in samples)
    assert process.stop() == 0


def test_a_metrics_port_in_use_stops_the_ticker_with_one_line(ticker_env):
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "ticker"], cwd=REPO, capture_output=True, text=True,
                                env={**ticker_env, "METRICS_PORT": str(port)}, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: METRICS_PORT {port} cannot be served")
    assert result.stderr.count("\n") == 1


def test_lag_is_measured_from_scheduled_for_to_queued(conn, account_id, make_ticker):
    due = datetime(2026, 3, 11, 11, 59, 30, tzinfo=timezone.utc)
    make_schedule(conn, account_id, cadence="daily", next_run_at=due)
    ticker = make_ticker(clock=lambda: NOW)
    ticker.tick()
    assert sample(ticker, "schedules_dispatch_lag_seconds_sum") == 30.0
    assert sample(ticker, "schedules_dispatch_lag_seconds_bucket", le="10.0") == 0
    assert sample(ticker, "schedules_dispatch_lag_seconds_bucket", le="30.0") == 1
