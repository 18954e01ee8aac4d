"""The overlap policy: what happens when an occurrence falls due while an earlier run of the schedule
is unfinished. skip (the default) records it as skipped_overlap; buffer_one keeps one to run when the
earlier ends; allow runs both. Real PostgreSQL and Redis, an injected clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq import Queue

from core.ops import db
from core.runs import lifecycle
from tests.ticker.conftest import Clock, QUEUE, fetch, make_schedule

T0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=5)


def runs(conn, sid):
    return fetch(conn, "SELECT id::text, status, scheduled_for, error, attempt FROM schedule_runs"
                       " WHERE schedule_id = %s ORDER BY scheduled_for", (sid,))


def every_minute(conn, account_id, policy):
    return make_schedule(conn, account_id, cadence="cron", cron_expression="* * * * *", next_run_at=T0,
                         overlap_policy=policy)


def finish(conn, run_id, attempt=1, status="succeeded"):
    """What a worker does with a run: take it, end it (core.runs.lifecycle, as worker/jobs.py does)."""
    with db.service_transaction(conn) as cur:
        run = lifecycle.take(cur, run_id, attempt, worker="test", lease_seconds=60).run
        assert lifecycle.finish(cur, run, status)


def test_skip_is_the_default_and_records_the_overlapping_occurrence_without_running_it(conn, account_id,
                                                                                      make_ticker):
    sid = make_schedule(conn, account_id, cadence="cron", cron_expression="* * * * *", next_run_at=T0)
    assert fetch(conn, "SELECT overlap_policy FROM schedules WHERE id = %s", (sid,))[0]["overlap_policy"] == "skip"
    clock = Clock(T0 + timedelta(seconds=1))
    ticker = make_ticker(clock=clock)
    ticker.tick()
    clock.at += timedelta(minutes=1)
    ticker.tick()
    first, second = runs(conn, sid)
    assert (first["status"], second["status"]) == ("queued", "skipped_overlap")
    assert second["scheduled_for"] == T0 + timedelta(minutes=1)
    assert second["error"] == "skipped: an earlier run of this schedule is unfinished (overlap policy skip)"
    assert ticker.last_tick.skipped == 1 and ticker.last_tick.dispatched == 0
    schedule = fetch(conn, "SELECT next_run_at, last_status FROM schedules_with_stats WHERE id = %s", (sid,))[0]
    assert schedule["next_run_at"] == T0 + timedelta(minutes=2) and schedule["last_status"] == "skipped_overlap"

    finish(conn, first["id"])
    clock.at += timedelta(minutes=1)
    ticker.tick()
    assert [r["status"] for r in runs(conn, sid)] == ["succeeded", "skipped_overlap", "queued"]


def test_buffer_one_keeps_one_occurrence_and_runs_it_when_the_earlier_run_ends(conn, account_id, make_ticker,
                                                                              redis_client):
    sid = every_minute(conn, account_id, "buffer_one")
    clock = Clock(T0 + timedelta(seconds=1))
    ticker = make_ticker(clock=clock)
    for _ in range(3):
        ticker.tick()
        clock.at += timedelta(minutes=1)
    first, buffered, skipped = runs(conn, sid)
    assert (first["status"], buffered["status"], skipped["status"]) == ("queued", "buffered", "skipped_overlap")
    assert Queue(QUEUE, connection=redis_client).job_ids == [f"run-{first['id']}"]

    finish(conn, first["id"])  # ending the run releases the buffered one, in the same transaction ...
    assert runs(conn, sid)[1]["status"] == "pending"
    ticker.tick()  # ... and the next tick pushes it, though its schedule's next run is not due yet
    assert runs(conn, sid)[1]["status"] == "queued"
    assert Queue(QUEUE, connection=redis_client).job_ids[-1] == f"run-{buffered['id']}"


def test_buffer_one_releases_when_the_earlier_run_is_recovered_after_its_worker_died(conn, account_id,
                                                                                    make_ticker):
    sid = every_minute(conn, account_id, "buffer_one")
    clock = Clock(T0 + timedelta(seconds=1))
    ticker = make_ticker(clock=clock, worker_max_attempts=1)
    ticker.tick()
    clock.at += timedelta(minutes=1)
    ticker.tick()
    first, buffered = runs(conn, sid)
    with db.service_transaction(conn) as cur:  # a worker takes the first run, then is killed
        lifecycle.take(cur, first["id"], 1, worker="host.1", lease_seconds=60)
        cur.execute("UPDATE schedule_runs SET lease_expires_at = now() - interval '1 second' WHERE id = %s",
                    (first["id"],))
    ticker.tick()  # recovered (failed: no attempt left), which frees the schedule; the buffered run goes
    statuses = {r["id"]: r["status"] for r in runs(conn, sid)}
    assert statuses[first["id"]] == "failed" and statuses[buffered["id"]] == "queued"
    assert ticker.last_tick.recovered == 1


def test_allow_runs_every_occurrence_beside_the_unfinished_one(conn, account_id, make_ticker):
    sid = every_minute(conn, account_id, "allow")
    clock = Clock(T0 + timedelta(seconds=1))
    ticker = make_ticker(clock=clock)
    for _ in range(3):
        ticker.tick()
        clock.at += timedelta(minutes=1)
    assert [r["status"] for r in runs(conn, sid)] == ["queued", "queued", "queued"]


@pytest.mark.parametrize("policy", ["skip", "buffer_one"])
def test_a_retrying_run_counts_as_unfinished(conn, account_id, make_ticker, policy):
    sid = every_minute(conn, account_id, policy)
    clock = Clock(T0 + timedelta(seconds=1))
    ticker = make_ticker(clock=clock)
    ticker.tick()
    [first] = runs(conn, sid)
    with db.service_transaction(conn) as cur:
        run = lifecycle.take(cur, first["id"], 1, worker="test", lease_seconds=60).run
        lifecycle.retry(cur, run, "ValueError: flaky", delay=3600)
    clock.at += timedelta(minutes=1)
    ticker.tick()
    assert runs(conn, sid)[1]["status"] == ("skipped_overlap" if policy == "skip" else "buffered")
