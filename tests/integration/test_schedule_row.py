"""The schedules row the ticker claims: only timing and activity changes wake the tickers (NOTIFY),
and a run's conclusion writes its counters elsewhere, so it never holds up a claim (migration 0011)."""
from __future__ import annotations

import select
from datetime import datetime, timedelta, timezone

import pytest

from core import db, lifecycle
from core.sql import queries

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


def running_run(conn, schedule_id) -> dict:
    """A run of the schedule that a worker holds (running, attempt 1)."""
    [row] = sql(conn, "INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt, started_at,"
                      " lease_expires_at) VALUES (%s, 'running', 'manual', now(), 1, now(), now() + interval '1 min')"
                      " RETURNING id::text, schedule_id::text, attempt", (schedule_id,))
    return dict(row)


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


def test_a_run_concluding_does_not_notify(conn, account_id, listener):
    sid = make_schedule(conn, account_id)
    run = running_run(conn, sid)
    listener.drain()  # the schedule's and the run's INSERT (as run now's) told the tickers
    with db.service_transaction(conn) as cur:
        assert lifecycle.finish(cur, run, "succeeded")
    assert not listener.notified()


def test_an_edit_of_other_columns_does_not_notify(conn, account_id, listener):
    sid = make_schedule(conn, account_id)
    listener.drain()
    sql(conn, "UPDATE schedules SET name = 'Renamed', description = 'x', updated_at = now() WHERE id = %s", (sid,))
    assert not listener.notified()
