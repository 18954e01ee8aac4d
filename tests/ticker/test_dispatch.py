"""One tick at a time, in process, with the clock injected: what a due schedule becomes."""
from __future__ import annotations

import logging
import time as pytime
from datetime import datetime, time, timedelta, timezone

from rq import Queue
from rq.job import Job

from core.runs.dispatch import backoff_seconds
from core.runs.rq_jobs import job_id_for, push_runs
from tests.seeds import SEED_000_TEST_SCHEDULE
from tests.ticker.conftest import (QUEUE, ensure_seed_account, fetch, insert_due_schedules, make_schedule,
                                   redis_jobs, scalar, utc)
from ticker.lanes import LANES
from worker import entry_points


NOW = utc(2026, 3, 11, 12, 0)  # a Wednesday


def next_monday_0900(after: datetime) -> datetime:
    monday = after.date() + timedelta(days=(0 - after.weekday()) % 7)
    candidate = datetime.combine(monday, time(9), tzinfo=timezone.utc)
    return candidate if candidate > after else candidate + timedelta(days=7)


def schedule(conn, schedule_id) -> dict:
    return fetch(conn, "SELECT * FROM schedules_with_stats WHERE id = %s", (schedule_id,))[0]


def runs(conn, schedule_id=None) -> list[dict]:
    if schedule_id is None:
        return fetch(conn, "SELECT * FROM schedule_runs ORDER BY scheduled_for")
    return fetch(conn, "SELECT * FROM schedule_runs WHERE schedule_id = %s ORDER BY scheduled_for",
                 (schedule_id,))


def test_seed_test_schedule_runs_once_and_moves_to_next_monday(conn, make_ticker, redis_client, caplog):
    ensure_seed_account(conn)
    fetch(conn, SEED_000_TEST_SCHEDULE)
    row = fetch(conn, "SELECT * FROM schedules")[0]
    now = datetime.now(timezone.utc)
    ticker = make_ticker(clock=lambda: now)

    with caplog.at_level(logging.INFO, logger="ticker"):
        assert ticker.tick() is True

    [run] = runs(conn)
    assert run["status"] == "queued" and run["trigger"] == "schedule"
    assert run["scheduled_for"] == row["next_run_at"]
    assert str(run["account_id"]) == "912014c3-6deb-4b40-a28d-489ef3923a3a"
    assert run["job_id"] == job_id_for(run["id"]) and run["queued_at"] is not None
    job = Job.fetch(run["job_id"], connection=redis_client)
    assert job.func_name == entry_points.RUN and job.args == (str(run["id"]),)
    assert Queue(QUEUE, connection=redis_client).job_ids == [run["job_id"]]
    after = schedule(conn, row["id"])
    assert after["next_run_at"] == next_monday_0900(now)
    assert after["last_run_at"] == now and after["active"]
    messages = [r.getMessage() for r in caplog.records]
    assert "Found 1 due schedule(s)" in messages
    assert (f"Processed schedule 'Test Weekly Snapshot': run_id={run['id']}, task_id=run-{run['id']}, "
            f"next_run_at={next_monday_0900(now).isoformat()}") in messages
    assert any(m.startswith("Tick: dispatched 1, missed 0, failed 0, re-pushed 0 in ") for m in messages)

    assert ticker.tick() is False  # the second tick finds nothing
    assert len(runs(conn)) == 1
    assert redis_jobs(redis_client) == ([run["job_id"]], [run["job_id"]])


def test_idle_tick_logs_only_at_debug(conn, make_ticker, caplog):
    ticker = make_ticker(clock=lambda: NOW)
    with caplog.at_level(logging.DEBUG, logger="ticker"):
        assert ticker.tick() is False
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DEBUG", "Tick: Checking for due schedules..."), ("DEBUG", "No due schedules found")]


def test_run_later_than_misfire_grace_is_recorded_missed_without_a_job(conn, account_id, make_ticker,
                                                                       redis_client):
    late = make_schedule(conn, account_id, cadence="daily", misfire_grace_seconds=300,
                         next_run_at=NOW - timedelta(minutes=10))
    in_grace = make_schedule(conn, account_id, cadence="daily", misfire_grace_seconds=900,
                             next_run_at=NOW - timedelta(minutes=10))
    make_ticker(clock=lambda: NOW).tick()

    [missed] = runs(conn, late)
    assert missed["status"] == "missed" and missed["job_id"] is None
    assert missed["scheduled_for"] == NOW - timedelta(minutes=10)
    assert "600s late" in missed["error"]
    assert schedule(conn, late)["next_run_at"] == utc(2026, 3, 12, 9, 0)
    assert schedule(conn, late)["last_status"] == "missed"
    [ran] = runs(conn, in_grace)
    assert ran["status"] == "queued"
    assert redis_jobs(redis_client)[0] == [ran["job_id"]]


def test_null_next_run_at_is_computed_without_a_run(conn, account_id, make_ticker, redis_client):
    sid = make_schedule(conn, account_id, cadence="daily", send_hour=15, next_run_at=None)
    assert make_ticker(clock=lambda: NOW).tick() is True
    assert runs(conn) == []
    assert schedule(conn, sid)["next_run_at"] == utc(2026, 3, 11, 15, 0)
    assert schedule(conn, sid)["last_run_at"] is None
    assert redis_jobs(redis_client) == ([], [])


def test_once_schedule_runs_then_becomes_inactive(conn, account_id, make_ticker):
    at = NOW - timedelta(seconds=30)
    sid = make_schedule(conn, account_id, cadence="once", start_at=at, next_run_at=at)
    make_ticker(clock=lambda: NOW).tick()
    assert [r["status"] for r in runs(conn, sid)] == ["queued"]
    after = schedule(conn, sid)
    assert after["active"] is False and after["next_run_at"] is None


def test_schedule_past_end_at_becomes_inactive(conn, account_id, make_ticker):
    # Its last run is due now; the next Wednesday would be past end_at.
    last = utc(2026, 3, 11, 9, 0)
    sid = make_schedule(conn, account_id, cadence="weekly", weekly_dow=3, end_at=utc(2026, 3, 15),
                        next_run_at=last)
    # next_run_at written before end_at was moved earlier: that occurrence must not run.
    stale = make_schedule(conn, account_id, cadence="daily", end_at=utc(2026, 3, 10), next_run_at=last)
    make_ticker(clock=lambda: NOW).tick()
    assert [r["scheduled_for"] for r in runs(conn, sid)] == [last]
    assert schedule(conn, sid)["active"] is False and schedule(conn, sid)["next_run_at"] is None
    assert runs(conn, stale) == []
    assert schedule(conn, stale)["active"] is False


def test_schedule_late_after_downtime_runs_once_then_first_occurrence_after_now(conn, account_id,
                                                                                make_ticker):
    # Daily at 09:00, last computed for a week ago: seven occurrences slept through, one run.
    week_ago = utc(2026, 3, 4, 9, 0)
    sid = make_schedule(conn, account_id, cadence="daily", next_run_at=week_ago)
    make_ticker(clock=lambda: NOW).tick()
    [run] = runs(conn, sid)
    assert run["scheduled_for"] == week_ago and run["status"] == "queued"
    assert schedule(conn, sid)["next_run_at"] == utc(2026, 3, 12, 9, 0)


def test_one_tick_drains_every_due_schedule_in_batches(conn, account_id, make_ticker, redis_client, caplog):
    insert_due_schedules(conn, account_id, 25)
    ticker = make_ticker(tick_batch_size=10)
    with caplog.at_level(logging.INFO, logger="ticker"):
        assert ticker.tick() is True
    assert scalar(conn, "SELECT count(*) FROM schedule_runs WHERE status = 'queued'") == 25
    assert len(redis_jobs(redis_client)[1]) == 25
    found = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Found")]
    assert sorted(found) == ["Found 10 due schedule(s)"] * 2 + ["Found 5 due schedule(s)"]
    assert ticker.last_tick.dispatched == 25 and ticker.last_tick.due == 25


def test_poison_schedule_at_the_head_does_not_block_the_others(conn, account_id, make_ticker, caplog):
    poison = make_schedule(conn, account_id, cadence="weekly", weekly_dow=None,
                           next_run_at=NOW - timedelta(days=30))
    bad_zone = make_schedule(conn, account_id, cadence="daily", timezone="Mars/Olympus_Mons",
                             next_run_at=NOW - timedelta(days=29))
    fine = make_schedule(conn, account_id, cadence="daily", next_run_at=NOW - timedelta(minutes=5))
    ticker = make_ticker(clock=lambda: NOW, tick_batch_size=2)  # the poison rows fill the first batch
    with caplog.at_level(logging.INFO, logger="ticker"):
        ticker.tick()

    assert [r["status"] for r in runs(conn, fine)] == ["queued"]
    assert runs(conn, poison) == [] and runs(conn, bad_zone) == []
    row = schedule(conn, poison)
    assert row["last_error"] == "TimingError: weekly_dow required for weekly cadence"
    assert row["dispatch_errors"] == 1 and row["active"]
    assert row["next_run_at"] == NOW + timedelta(minutes=1)
    assert schedule(conn, bad_zone)["last_error"] == "TimingError: unknown time zone 'Mars/Olympus_Mons'"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors[0].getMessage().startswith(
        f"Failed to process schedule {poison}: TimingError: weekly_dow required for weekly cadence")
    assert ticker.last_tick.errors == 2

    # Still broken a minute later: the back-off doubles. Never a crash, never a run.
    later = NOW + timedelta(minutes=1)
    make_ticker(clock=lambda: later).tick()
    row = schedule(conn, poison)
    assert row["dispatch_errors"] == 2 and row["next_run_at"] == later + timedelta(minutes=2)


def test_fixed_schedule_leaves_back_off_without_a_run_and_clears_its_error(conn, account_id, make_ticker):
    sid = make_schedule(conn, account_id, cadence="weekly", weekly_dow=None,
                        next_run_at=NOW - timedelta(hours=1))
    make_ticker(clock=lambda: NOW).tick()
    fetch(conn, "UPDATE schedules SET weekly_dow = 1 WHERE id = %s", (sid,))  # fixed by hand in psql
    retry = NOW + timedelta(minutes=1)
    make_ticker(clock=lambda: retry).tick()
    # The retry time is not an occurrence: no run for it, just the next Monday 09:00.
    assert runs(conn, sid) == []
    row = schedule(conn, sid)
    assert row["next_run_at"] == utc(2026, 3, 16, 9, 0)
    assert row["dispatch_errors"] == 0 and row["last_error"] is None


def test_fixed_schedule_given_a_real_occurrence_runs_it(conn, account_id, make_ticker):
    sid = make_schedule(conn, account_id, cadence="daily", timezone="Nowhere/Land",
                        next_run_at=NOW - timedelta(hours=1))
    make_ticker(clock=lambda: NOW).tick()
    # The API fixes the zone and recomputes next_run_at (a real occurrence), leaving dispatch_errors.
    fetch(conn, "UPDATE schedules SET timezone = 'UTC', next_run_at = %s WHERE id = %s",
          (utc(2026, 3, 12, 9, 0), sid))
    make_ticker(clock=lambda: utc(2026, 3, 12, 9, 0, 1)).tick()
    assert [r["scheduled_for"] for r in runs(conn, sid)] == [utc(2026, 3, 12, 9, 0)]
    assert schedule(conn, sid)["dispatch_errors"] == 0


def test_occurrence_that_already_ran_is_not_recorded_twice(conn, account_id, make_ticker, caplog):
    at = NOW - timedelta(minutes=1)
    sid = make_schedule(conn, account_id, cadence="daily", next_run_at=at)
    make_ticker(clock=lambda: NOW).tick()
    fetch(conn, "UPDATE schedules SET next_run_at = %s WHERE id = %s", (at, sid))  # set back by hand
    with caplog.at_level(logging.INFO, logger="ticker"):
        make_ticker(clock=lambda: NOW).tick()
    assert len(runs(conn, sid)) == 1
    assert schedule(conn, sid)["next_run_at"] == utc(2026, 3, 12, 9, 0)
    assert any("already has a run" in r.getMessage() for r in caplog.records)


def test_runs_left_pending_are_pushed_again_once(conn, account_id, make_ticker, redis_client):
    sid = make_schedule(conn, account_id, cadence="daily")
    # Runs left pending a minute ago: two by a ticker killed after its commit (one of which had its
    # job pushed already), one by the API's "run now" while Redis was down.
    ids = [row["id"] for row in fetch(conn, """
        INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, created_at)
        SELECT %s, 'pending', CASE WHEN i = 3 THEN 'manual' ELSE 'schedule' END,
               now() - make_interval(hours => i), now() - interval '1 minute'
          FROM generate_series(1, 3) AS i RETURNING id""", (sid,))]
    push_runs(redis_client, QUEUE, ids[:1])
    # A run younger than the grace belongs to a ticker between its commit and its push.
    young = fetch(conn, "INSERT INTO schedule_runs (schedule_id, status, trigger) VALUES (%s, 'pending', "
                        "'manual') RETURNING id", (sid,))[0]["id"]
    ticker = make_ticker(repush_grace=5.0)
    assert ticker.tick() is True
    assert ticker.last_tick.repushed == 3
    statuses = {r["id"]: r["status"] for r in runs(conn, sid)}
    assert [statuses[i] for i in ids] == ["queued"] * 3 and statuses[young] == "pending"
    hashes, entries = redis_jobs(redis_client)
    assert sorted(entries) == hashes == sorted(job_id_for(i) for i in ids)
    assert make_ticker(repush_grace=5.0).tick() is False


def test_back_off_doubles_from_a_minute_up_to_an_hour():
    assert [backoff_seconds(n) for n in range(8)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_seconds(10_000) == 3600


def test_heartbeat_carries_the_last_tick_figures(conn, account_id, make_ticker):
    insert_due_schedules(conn, account_id, 3)
    ticker = make_ticker(heartbeat=True)
    ticker.tick()
    [beat] = fetch(conn, "SELECT * FROM ticker_heartbeats")
    assert beat["instance_id"] == ticker.instance_id
    assert beat["last_tick"]["due"] == 3 and beat["last_tick"]["dispatched"] == 3
    assert set(beat["last_tick"]) == {"due", "dispatched", "missed", "skipped", "buffered", "errors", "repushed",
                                      "retried", "recovered", "requeued", "released", "resumed", "worst_lag_seconds",
                                      "duration_ms"}


def test_a_ticker_alone_uses_two_lanes_and_one_beside_other_live_tickers(conn, account_id, make_ticker, caplog):
    ticker = make_ticker(heartbeat=True, tick_batch_size=2, tick_interval=30)
    used = []
    dispatch_batch = ticker.dispatcher.dispatch_batch

    def slow_batch(lane):  # slow enough that a second lane, if running, gets batches too
        used.append(lane.conn)
        pytime.sleep(0.02)
        return dispatch_batch(lane)
    ticker.dispatcher.dispatch_batch = slow_batch

    insert_due_schedules(conn, account_id, 20)
    ticker.tick()
    assert ticker.live_tickers == 1 and ticker.lanes_in_use == LANES == 2
    assert len(set(used)) == 2  # 10 batches of 2: both lanes took some

    fetch(conn, "INSERT INTO ticker_heartbeats (instance_id, hostname, pid, started_at, last_tick_at, last_tick)"
                " VALUES ('other', 'elsewhere', 1, now(), now(), '{}')")
    used.clear()
    insert_due_schedules(conn, account_id, 20)
    with caplog.at_level(logging.INFO, logger="ticker"):
        ticker._last_heartbeat = 0  # a second later
        ticker.tick()
    assert ticker.live_tickers == 2 and ticker.lanes_in_use == 1
    assert len(used) >= 10 and len(set(used)) == 1
    assert "2 ticker(s) running: dispatching 1 batch(es) at a time" in caplog.text
    assert scalar(conn, "SELECT count(*) FROM schedule_runs WHERE status = 'queued'") == 40

    # The other ticker stops beating: past model.ticker_alive_within (3 intervals) it no longer counts.
    fetch(conn, "UPDATE ticker_heartbeats SET last_tick_at = now() - interval '92 seconds' WHERE instance_id = 'other'")
    ticker.beat(force=True)
    assert ticker.live_tickers == 1 and ticker.lanes_in_use == 2


def test_a_run_records_the_calendar_move_that_put_it_there(conn):
    """A schedule following a calendar: the ticker's run carries the holiday_moved reason."""
    import json
    import uuid
    from datetime import datetime, timezone

    from core.ops import db as dbmod
    from core.runs import dispatch
    account = uuid.uuid4()
    calendar = uuid.uuid4()
    schedule = uuid.uuid4()
    due = datetime(2027, 12, 27, 14, tzinfo=timezone.utc)  # 25 December 2027 09:00 New York, moved to Monday
    with dbmod.service_transaction(conn) as cur:
        cur.execute("INSERT INTO accounts (id, name) VALUES (%s, 'cal')", (account,))
        cur.execute("INSERT INTO calendars (id, account_id, name, country, created_at, updated_at)"
                    " VALUES (%s, %s, 'US', 'US', now(), now())", (calendar, account))
        cur.execute("INSERT INTO schedules (id, account_id, name, cadence, cron_expression, timezone, calendar_id,"
                    " on_holiday, next_run_at, active) VALUES (%s, %s, 'xmas', 'cron', '0 9 25 * *',"
                    " 'America/New_York', %s, 'next_business_day', %s, true)", (schedule, account, calendar, due))
    with dbmod.service_transaction(conn) as cur:
        rows = dispatch.claim_due(cur, due, 10)
        batch = dispatch.plan_batch(rows, due)
        dispatch.record_batch(cur, batch)
    with dbmod.service_transaction(conn) as cur:
        cur.execute("SELECT reasons, scheduled_for FROM schedule_runs WHERE schedule_id = %s", (schedule,))
        run = cur.fetchone()
        cur.execute("SELECT next_run_at FROM schedules WHERE id = %s", (schedule,))
        following = cur.fetchone()["next_run_at"]
    assert run["scheduled_for"] == due
    assert run["reasons"] == [{"code": "holiday_moved", "detail": "25 December 2027 is Christmas Day (US): "
                               "moved to the next business day, 27 December 2027"}]
    assert following == datetime(2028, 1, 25, 14, tzinfo=timezone.utc)
    json.dumps(run["reasons"])
