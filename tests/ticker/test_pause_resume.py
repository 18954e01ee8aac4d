"""The ticker resumes a paused schedule at its paused_until: the next run is the first occurrence at
or after that instant, never a burst of the occurrences the pause covered; and it wakes up for it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.runs import dispatch
from tests.ticker.conftest import Clock, fetch, make_schedule, utc


def paused_daily(conn, account_id, until, **fields):
    """Daily 09:00 New York, paused on 2026-03-02 (EST) until `until`, its next_run_at long past."""
    return make_schedule(conn, account_id, cadence="daily", send_hour=9, timezone="America/New_York",
                         active=False, next_run_at=utc(2026, 3, 3, 14), paused_at=utc(2026, 3, 2, 15),
                         paused_until=until, paused_by="alice", pause_note="holiday", **fields)


def state(conn, sid):
    return fetch(conn, "SELECT active, next_run_at, paused_at, paused_until, version FROM schedules WHERE id = %s",
                 (sid,))[0]


def test_a_pause_across_the_spring_forward_night_resumes_at_the_first_occurrence_after_until(
        conn, account_id, make_ticker):
    # until 2026-03-08 12:00Z is 08:00 EDT, after the change at 02:00 local: the next 09:00 is 13:00Z.
    sid = paused_daily(conn, account_id, utc(2026, 3, 8, 12))
    ticker = make_ticker(clock=Clock(utc(2026, 3, 8, 11, 59)))
    ticker.tick()
    assert state(conn, sid)["active"] is False  # not yet
    ticker.clock.at = utc(2026, 3, 8, 12, 0, 1)
    ticker.tick()
    row = state(conn, sid)
    assert row["active"] is True and row["paused_at"] is None and row["paused_until"] is None
    assert row["next_run_at"] == utc(2026, 3, 8, 13)
    assert fetch(conn, "SELECT count(*) AS n FROM schedule_runs WHERE schedule_id = %s", (sid,))[0]["n"] == 0
    change = fetch(conn, "SELECT version, action, actor, note, changes FROM schedule_changes"
                         " WHERE schedule_id = %s ORDER BY version DESC LIMIT 1", (sid,))[0]
    assert change["action"] == "resume" and change["actor"] == "ticker" and change["version"] == row["version"]
    assert change["changes"]["active"] == {"old": False, "new": True}
    assert "2026-03-08T12:00:00Z" in change["note"]


def test_a_ticker_that_was_down_at_until_runs_the_first_occurrence_after_it_once(conn, account_id, make_ticker):
    sid = paused_daily(conn, account_id, utc(2026, 3, 10, 12))
    ticker = make_ticker(clock=Clock(utc(2026, 3, 12, 20)))  # two days late
    ticker.tick()
    runs = fetch(conn, "SELECT scheduled_for, status FROM schedule_runs WHERE schedule_id = %s", (sid,))
    # One run (the late schedule runs once, as after any downtime), for 03-10 09:00 EDT; next: 03-13.
    assert [r["scheduled_for"] for r in runs] == [utc(2026, 3, 10, 13)]
    assert state(conn, sid)["next_run_at"] == utc(2026, 3, 13, 13)


def test_an_occurrence_at_until_itself_runs(conn, account_id, make_ticker):
    sid = paused_daily(conn, account_id, utc(2026, 3, 10, 13))
    make_ticker(clock=Clock(utc(2026, 3, 10, 13))).tick()  # resumed, then dispatched in the same tick
    runs = fetch(conn, "SELECT scheduled_for FROM schedule_runs WHERE schedule_id = %s", (sid,))
    assert [r["scheduled_for"] for r in runs] == [utc(2026, 3, 10, 13)]


def test_a_pause_that_ends_after_end_at_leaves_the_schedule_off(conn, account_id, make_ticker):
    sid = paused_daily(conn, account_id, utc(2026, 3, 10, 12), end_at=utc(2026, 3, 9))
    make_ticker(clock=Clock(utc(2026, 3, 10, 12, 0, 1))).tick()
    row = state(conn, sid)
    assert row["active"] is False and row["paused_at"] is None


def test_the_ticker_wakes_up_for_a_pause_ending(conn, account_id):
    until = datetime.now(timezone.utc) + timedelta(seconds=30)
    paused_daily(conn, account_id, until)
    assert dispatch.next_wake_at(conn) == until
