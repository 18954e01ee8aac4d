"""The schedules row the ticker claims: only timing and activity changes wake the tickers (NOTIFY),
and a run's conclusion writes its counters elsewhere, so it never holds up a claim (migration 0011)."""
from __future__ import annotations

import select
from datetime import datetime, timedelta, timezone

import pytest

from core.ops import db
from core.runs import dispatch, lifecycle
from core.runs.dispatch import Advance, Batch
from core.runs.run import Run

LISTEN_CHANNEL = "schedules_changed"


class Listener:
    """A connection LISTENing to the tickers' channel."""

    def __init__(self, database_url):
        self.conn = db.connect(database_url, application_name="listener", autocommit=True)
        with self.conn.cursor() as cur:
            cur.execute(f"LISTEN {LISTEN_CHANNEL}")

    def notified(self, timeout: float = 0.5) -> bool:
        """Whether a NOTIFY came since the last call (waiting up to `timeout` for one)."""
        if select.select([self.conn], [], [], timeout)[0]:
            self.conn.poll()
        came = bool(self.conn.notifies)
        self.conn.notifies.clear()
        return came

    def drain(self) -> None:
        while self.notified(0.1):
            pass


@pytest.fixture
def listener(database_url):
    listening = Listener(database_url)
    yield listening
    listening.conn.close()


def sql(conn, statement, params=None):
    with db.service_transaction(conn) as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else None


def make_schedule(conn, account_id, **columns):
    values = {"name": "Weekly", "cadence": "weekly", "weekly_dow": 1,
              "next_run_at": datetime.now(timezone.utc) + timedelta(days=1), **columns}
    names = ", ".join(values)
    marks = ", ".join(f"%({name})s" for name in values)
    [row] = sql(conn, f"INSERT INTO schedules (account_id, {names}) VALUES (%(account_id)s, {marks})"
                      " RETURNING id::text", {"account_id": account_id, **values})
    return row["id"]


def running_run(conn, schedule_id) -> Run:
    """A run of the schedule that a worker holds (running, attempt 1)."""
    [row] = sql(conn, "INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt, started_at,"
                      " lease_expires_at) VALUES (%s, 'running', 'manual', now(), 1, now(), now() + interval '1 min')"
                      " RETURNING id::text, schedule_id::text, attempt", (schedule_id,))
    return Run.from_row(row)


def conclude(conn, schedule_id, status, error=None):
    """A run of the schedule ends as a worker ends it."""
    run = running_run(conn, schedule_id)
    with db.service_transaction(conn) as cur:
        assert lifecycle.finish(cur, run, status, error)


def test_inserting_a_schedule_notifies(conn, account_id, listener):
    make_schedule(conn, account_id)
    assert listener.notified()


@pytest.mark.parametrize("change", [
    "next_run_at = now() - interval '1 second'",
    "next_run_at = NULL",
    "active = FALSE",
    "paused_until = now() + interval '1 hour'",
])
def test_a_timing_or_activity_change_notifies(conn, account_id, listener, change):
    sid = make_schedule(conn, account_id)
    listener.drain()
    sql(conn, f"UPDATE schedules SET {change} WHERE id = %s", (sid,))
    assert listener.notified()


@pytest.mark.parametrize("status", ["succeeded", "failed", "delivery_failed"])
def test_a_run_concluding_does_not_notify(conn, account_id, listener, status):
    """Unless it is news for the account owner: a failure that opens an alert wakes the tickers to push
    its message (migration 0019); a failure counted into the open alert, or a success with none open, does not."""
    sid = make_schedule(conn, account_id, pause_after_failures=3)
    if status != "succeeded":
        first = running_run(conn, sid)
        with db.service_transaction(conn) as cur:
            assert lifecycle.finish(cur, first, status, "ValueError: down")
    run = running_run(conn, sid)
    listener.drain()  # the schedule's and the run's INSERT (as run now's) told the tickers
    with db.service_transaction(conn) as cur:
        assert lifecycle.finish(cur, run, status, None if status == "succeeded" else "ValueError: down")
    assert not listener.notified()


def test_a_failure_that_opens_an_alert_notifies_and_so_does_the_recovery(conn, account_id, listener):
    sid = make_schedule(conn, account_id)
    for status, news in (("failed", True), ("failed", False), ("succeeded", True), ("succeeded", False)):
        run = running_run(conn, sid)
        listener.drain()
        with db.service_transaction(conn) as cur:
            assert lifecycle.finish(cur, run, status, "ValueError: down" if status == "failed" else None)
        assert listener.notified() is news, status


def test_an_edit_of_other_columns_does_not_notify(conn, account_id, listener):
    sid = make_schedule(conn, account_id)
    listener.drain()
    sql(conn, "UPDATE schedules SET name = 'Renamed', description = 'x', updated_at = now() WHERE id = %s", (sid,))
    assert not listener.notified()


# --- counters off the claimed row ---------------------------------------------------------------

@pytest.fixture
def second_conn(database_url):
    other = db.connect(database_url, application_name="second")
    yield other
    other.close()


def claimed_ids(conn) -> set[str]:
    """What a ticker's claim (FOR UPDATE SKIP LOCKED) takes now; rolled back at once."""
    try:
        with conn.cursor() as cur:
            return {row["id"] for row in dispatch.claim_due(cur, datetime.now(timezone.utc), 100)}
    finally:
        conn.rollback()


@pytest.mark.parametrize("conclude", [
    lambda cur, run: lifecycle.finish(cur, run, "succeeded"),
    lambda cur, run: lifecycle.finish(cur, run, "failed", "ValueError: down"),
    lambda cur, run: lifecycle.skip_for_limit(cur, run, "monthly run limit reached"),
], ids=["succeeded", "failed", "skipped_limit"])
def test_a_concurrent_claim_still_takes_the_schedule_while_a_conclusion_is_open(
        conn, second_conn, account_id, conclude):
    sid = make_schedule(conn, account_id, next_run_at=datetime.now(timezone.utc) - timedelta(minutes=1),
                        pause_after_failures=5, overlap_policy="allow")
    run = running_run(conn, sid)
    with conn:  # the worker's conclusion, held open while a ticker claims
        with conn.cursor() as cur:
            assert conclude(cur, run)
            assert claimed_ids(second_conn) == {sid}
    assert claimed_ids(second_conn) == {sid}


def test_the_failure_that_reaches_pause_after_failures_pauses_in_its_own_transaction(conn, account_id):
    sid = make_schedule(conn, account_id, pause_after_failures=2)
    for attempt in (1, 2):
        run = running_run(conn, sid)
        with conn:
            with conn.cursor() as cur:
                assert lifecycle.finish(cur, run, "failed", f"ValueError: down {attempt}")
                cur.execute("SELECT active, paused_by, consecutive_failures FROM schedules_with_stats WHERE id = %s",
                            (sid,))
                seen = cur.fetchone()
                if attempt == 1:
                    assert (seen["active"], seen["consecutive_failures"]) == (True, 1)
                else:  # counted and paused together, before the commit
                    assert (seen["active"], seen["paused_by"], seen["consecutive_failures"]) == (False, "system", 2)
                    conn.rollback()
    [row] = sql(conn, "SELECT active, paused_at, consecutive_failures FROM schedules_with_stats WHERE id = %s",
                (sid,))
    assert (row["active"], row["paused_at"], row["consecutive_failures"]) == (True, None, 1)  # both undone


def test_counters_and_the_last_outcome_read_as_one_schedule_row(conn, account_id):
    sid = make_schedule(conn, account_id)
    [fresh] = sql(conn, "SELECT * FROM schedules_with_stats WHERE id = %s", (sid,))
    assert (fresh["run_count"], fresh["success_count"], fresh["failure_count"], fresh["consecutive_failures"],
            fresh["last_status"], fresh["last_error"]) == (0, 0, 0, 0, None, None)
    for status, error in [("failed", "ValueError: down"), ("succeeded", None), ("failed", "OSError: full")]:
        conclude(conn, sid, status, error)
    [row] = sql(conn, "SELECT * FROM schedules_with_stats WHERE id = %s", (sid,))
    assert (row["run_count"], row["success_count"], row["failure_count"], row["consecutive_failures"]) == (3, 1, 2, 1)
    assert (row["last_status"], row["last_error"]) == ("failed", "OSError: full")
    assert row["updated_at"] > fresh["updated_at"]  # a conclusion updates the schedule, as before


def test_the_newer_of_dispatch_and_a_run_gives_last_status_and_last_error(conn, account_id):
    sid = make_schedule(conn, account_id)
    later = datetime.now(timezone.utc) + timedelta(days=7)

    def advance(last_status=None, error=None, dispatch_errors=0):
        sql(conn, "UPDATE schedules SET dispatch_errors = %s WHERE id = %s", (dispatch_errors, sid))
        with db.service_transaction(conn) as cur:
            dispatch.record_batch(cur, Batch(updates=[Advance(sid, later, True, None, last_status, error, None)]))

    def last():
        return sql(conn, "SELECT last_status, last_error FROM schedules_with_stats WHERE id = %s", (sid,))[0]

    conclude(conn, sid, "failed", "ValueError: down")
    advance(last_status="missed")
    assert last() == {"last_status": "missed", "last_error": "ValueError: down"}
    conclude(conn, sid, "succeeded")
    assert last() == {"last_status": "succeeded", "last_error": None}
    advance(error="TimingError: bad zone")
    assert last() == {"last_status": "succeeded", "last_error": "TimingError: bad zone"}
    advance(dispatch_errors=1)  # dispatch works again: its error is cleared
    assert last() == {"last_status": "succeeded", "last_error": None}


def test_the_view_has_every_column_of_schedules(conn):
    """schedules_with_stats lists its columns: one added to schedules must be added to it too."""
    def columns(relation):
        return {row["column_name"] for row in sql(
            conn, "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (relation,))}
    notes = {"dispatch_status", "dispatch_status_at", "dispatch_error", "dispatch_error_at"}
    outcomes = {"run_count", "success_count", "failure_count", "consecutive_failures", "last_status", "last_error"}
    assert columns("schedules_with_stats") == (columns("schedules") - notes) | outcomes


def test_a_schedule_inserted_by_hand_gets_its_stats_row(conn, account_id):
    sql(conn, "INSERT INTO schedules (account_id, name) SELECT %s, 'Bulk ' || i FROM generate_series(1, 3) AS i",
        (account_id,))
    assert sql(conn, "SELECT count(*) AS n FROM schedule_stats")[0]["n"] == 3
