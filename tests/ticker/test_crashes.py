"""Tickers killed, Redis stopped, PostgreSQL connections killed, in the middle of a burst: no run is
lost and none is duplicated, in PostgreSQL or in Redis."""
from __future__ import annotations

import random
import time

import pytest

from core.ops import db
from tests.ticker.conftest import (assert_exactly_once, fetch, insert_due_schedules, redis_jobs, settled,
                                   wait_until)

pytestmark = pytest.mark.slow


def test_ticker_killed_at_random_moments_loses_and_duplicates_nothing(conn, account_id, redis_client,
                                                                     start_ticker):
    seed = random.randrange(1 << 30)
    print(f"random seed {seed}")  # shown by pytest if this fails
    rng = random.Random(seed)
    kills, burst, batch, total, mid_burst = 20, 300, 15, 0, 0
    for _ in range(kills):
        # Small batches: many claim/commit/push/mark steps inside one burst for the kill to land on.
        insert_due_schedules(conn, account_id, burst, name=f"Burst {total}")
        total += burst
        process = start_ticker(TICK_BATCH_SIZE=batch)
        nth_batch = rng.randint(1, burst // batch)
        wait_until(lambda: process.output.count("Found ") >= nth_batch, 15, interval=0.002,
                   message=f"batch {nth_batch}")
        time.sleep(rng.uniform(0, 0.008))  # somewhere inside that batch's steps
        process.kill()  # SIGKILL: no finally, no clean-up
        mid_burst += "Tick: dispatched" not in process.output
    assert mid_burst >= kills // 2, f"only {mid_burst} of {kills} kills landed inside a burst"

    survivor = start_ticker(TICK_BATCH_SIZE=15)
    # Runs left pending are re-pushed once out of their grace (5 s).
    wait_until(lambda: settled(conn), 30, interval=0.1, message="the survivor to finish")
    assert survivor.stop() == 0
    assert_exactly_once(conn, redis_client, total)


def test_redis_stopped_mid_burst_then_restarted_leaves_every_run_queued_once(conn, account_id, private_redis,
                                                                           start_ticker):
    # 3,000 schedules falling due over 4 seconds: the ticker is dispatching throughout the outage.
    insert_due_schedules(conn, account_id, 3000, offset_seconds=-0.5, spread_seconds=4)
    process = start_ticker(REDIS_URL=private_redis.url, TICK_BATCH_SIZE=50)
    process.wait_for("Processed schedule")
    private_redis.stop()
    process.wait_for("(retrying in")
    time.sleep(2.5)
    assert process.proc.poll() is None  # waiting, not crashed
    private_redis.start()  # a new redis-server on the same socket, with what was pushed before
    wait_until(lambda: settled(conn), 40, interval=0.1, message="the ticker to catch up")
    assert process.stop() == 0
    output = process.output
    assert "Recovered after" in output and "Traceback" not in output
    client = private_redis.client()
    assert_exactly_once(conn, client, 3000)
    client.close()


def test_postgres_connections_killed_mid_burst_are_reopened(conn, account_id, pg_admin_url, database_url,
                                                            redis_client, start_ticker):
    insert_due_schedules(conn, account_id, 3000, offset_seconds=-0.5, spread_seconds=3)
    process = start_ticker(TICK_BATCH_SIZE=50)
    process.wait_for("Processed schedule")
    database = fetch(conn, "SELECT current_database() AS name")[0]["name"]
    admin = db.connect(pg_admin_url, application_name="tests-admin", autocommit=True)
    try:
        for attempt in range(1, 3):
            with admin.cursor() as cur:
                cur.execute("SELECT count(pg_terminate_backend(pid)) AS killed FROM pg_stat_activity"
                            " WHERE datname = %s AND application_name LIKE 'ticker%%'", (database,))
                assert cur.fetchone()["killed"] >= 1
            wait_until(lambda: process.output.count("Recovered after") == attempt, 15, message="reconnection")
            time.sleep(0.3)
    finally:
        admin.close()
    wait_until(lambda: settled(conn), 40, interval=0.1, message="the ticker to finish")
    assert process.stop() == 0
    assert "Failed to" in process.output and "Traceback" not in process.output
    assert_exactly_once(conn, redis_client, 3000)
    assert redis_jobs(redis_client)[0]  # jobs were pushed by the reconnected ticker
