"""`catchup: all` in the ticker: after an outage, one run per missed occurrence inside the window,
each with its own scheduled_for, oldest first, none twice; `latest` (the default) stays one run."""
from __future__ import annotations

from tests.ticker.conftest import Clock, QUEUE, fetch, make_schedule, redis_jobs, utc


def runs(conn, sid):
    return fetch(conn, "SELECT id::text, status, trigger, scheduled_for FROM schedule_runs WHERE schedule_id = %s"
                       " ORDER BY scheduled_for", (sid,))


def test_catchup_all_after_an_outage_over_the_fall_back_night(conn, account_id, make_ticker, redis_client):
    # Daily 01:30 New York, down from 10-29 until 11-03 12:00Z, a 3-day window: 10-31 12:00Z onwards.
    sid = make_schedule(conn, account_id, cadence="daily", send_hour=1, send_minute=30, timezone="America/New_York",
                        catchup="all", catchup_window_seconds=3 * 86400, next_run_at=utc(2026, 10, 29, 5, 30))
    ticker = make_ticker(clock=Clock(utc(2026, 11, 3, 12)))
    ticker.tick()
    made = runs(conn, sid)
    assert [r["scheduled_for"] for r in made] == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30),
                                                  utc(2026, 11, 3, 6, 30)]
    assert {r["status"] for r in made} == {"queued"} and {r["trigger"] for r in made} == {"schedule"}
    _, queued = redis_jobs(redis_client, QUEUE)
    assert queued == [f"run-{r['id']}" for r in made]  # oldest first
    assert fetch(conn, "SELECT next_run_at FROM schedules WHERE id = %s", (sid,))[0]["next_run_at"] == \
        utc(2026, 11, 4, 6, 30)
    ticker.tick()
    assert len(runs(conn, sid)) == 3  # none twice


def test_catchup_all_over_the_spring_forward_night(conn, account_id, make_ticker):
    sid = make_schedule(conn, account_id, cadence="daily", send_hour=2, send_minute=30, timezone="America/New_York",
                        catchup="all", catchup_window_seconds=7 * 86400, next_run_at=utc(2026, 3, 7, 7, 30))
    make_ticker(clock=Clock(utc(2026, 3, 9, 12))).tick()
    assert [r["scheduled_for"] for r in runs(conn, sid)] == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7),
                                                             utc(2026, 3, 9, 6, 30)]


def test_latest_stays_one_run_and_a_window_with_no_occurrence_falls_back_to_it(conn, account_id, make_ticker):
    latest = make_schedule(conn, account_id, cadence="daily", timezone="UTC", next_run_at=utc(2026, 4, 1, 9))
    narrow = make_schedule(conn, account_id, name="Narrow", cadence="daily", timezone="UTC", catchup="all",
                           catchup_window_seconds=3600, next_run_at=utc(2026, 4, 1, 9))
    make_ticker(clock=Clock(utc(2026, 4, 5, 12))).tick()
    assert [r["scheduled_for"] for r in runs(conn, latest)] == [utc(2026, 4, 1, 9)]
    assert [r["scheduled_for"] for r in runs(conn, narrow)] == [utc(2026, 4, 1, 9)]


def test_catchup_all_against_a_run_in_flight_follows_the_overlap_policy(conn, account_id, make_ticker):
    sid = make_schedule(conn, account_id, cadence="daily", timezone="UTC", catchup="all", overlap_policy="buffer_one",
                        catchup_window_seconds=7 * 86400, next_run_at=utc(2026, 4, 3, 9))
    fetch(conn, "INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for)"
                " VALUES (%s, 'running', 'manual', %s)", (sid, utc(2026, 4, 3, 8)))
    make_ticker(clock=Clock(utc(2026, 4, 5, 12))).tick()
    made = [r for r in runs(conn, sid) if r["trigger"] == "schedule"]
    assert [r["status"] for r in made] == ["buffered", "skipped_overlap", "skipped_overlap"]
