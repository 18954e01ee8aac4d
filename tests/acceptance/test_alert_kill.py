"""An alert whose sender is killed mid-send is neither lost nor doubled: real `python -m ticker` and
`python -m worker` processes, real PostgreSQL and Redis, a real SMTP server on loopback that holds the
alert's SMTP transaction open while the test kills the whole worker (supervisor and children) with
SIGKILL.

- Killed before the mail server took the message: the ticker recovers the row once its lease ran out,
  a new worker sends it, and the mailbox has exactly one copy.
- Killed after the mail server took it, before the worker recorded that: with UNKNOWN_OUTCOME=resend
  the second copy carries the same Message-ID (a mailbox drops it by that); with give_up there is no
  second copy and the ledger says the outcome is unknown.
Either way the alert message itself is made once: one incident, one `opened` message, one ledger row.
"""
from __future__ import annotations

import asyncio
import email
import email.policy

import pytest

from core.ops import db
from tests.acceptance.processes import Workers, process_env
from tests.ticker.conftest import PrivateRedis, TickerProcess, fetch, wait_until
from tests.worker.conftest import SmtpServer, make_schedule

OWNER = "owner@example.com"


class HoldingInbox:
    """A mailbox that holds an SMTP transaction open at RCPT (before it takes the message) or after it
    took the message (before answering DATA), while `hold` is set."""

    def __init__(self, where: str):
        self.where, self.hold, self.holding, self.messages = where, True, False, []

    async def _wait(self):
        self.holding = True
        while self.hold:
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.where == "before_accept":
            await self._wait()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        if self.where == "after_accept":
            await self._wait()
        return "250 OK"


def alert_row(conn):
    return fetch(conn, "SELECT d.*, m.done_at FROM deliveries d JOIN alert_messages m ON m.id = d.alert_message_id")


@pytest.mark.parametrize("where, unknown_outcome", [("before_accept", "resend"), ("after_accept", "resend"),
                                                    ("after_accept", "give_up")])
def test_a_worker_killed_while_sending_an_alert_neither_loses_nor_doubles_it(
        conn, account_id, database_url, tmp_path, where, unknown_outcome):
    smtp = SmtpServer()
    smtp.inbox = HoldingInbox(where)
    smtp.start()
    redis_server = PrivateRedis()  # its own: no other test's worker takes the alert's job
    env = process_env(database_url, redis_server.url, smtp.url, tmp_path, RUN_LEASE_SECONDS=2,
                      UNKNOWN_OUTCOME=unknown_outcome, EMAIL_FROM="Schedules <alerts@example.com>")
    fetch(conn, "INSERT INTO alert_settings (account_id, emails) VALUES (%s, %s)", (account_id, [OWNER]))
    schedule_id = make_schedule(conn, account_id)
    with db.service_transaction(conn) as cur:  # a run ends failed, as a worker ends it: the alert opens
        cur.execute("INSERT INTO schedule_runs (schedule_id, status, trigger, scheduled_for, attempt)"
                    " VALUES (%s, 'running', 'manual', now(), 1) RETURNING id", (schedule_id,))
        cur.execute("UPDATE schedule_runs SET status = 'failed', error = 'ValueError: the report source is down'"
                    " WHERE id = %s", (cur.fetchone()["id"],))
    ticker = TickerProcess(env, (), tmp_path / "ticker.log")
    workers = Workers(env, tmp_path)
    try:
        first = workers.start()
        wait_until(lambda: smtp.inbox.holding, 30, message="the alert's SMTP transaction")
        [row] = alert_row(conn)
        assert row["status"] == "sending" and row["attempts"] == 1
        workers.kill(first)
        smtp.inbox.hold = False
        workers.start()
        final = "failed" if unknown_outcome == "give_up" else "sent"
        wait_until(lambda: alert_row(conn)[0]["status"] == final, 40, message=f"the alert row {final}")
        wait_until(lambda: alert_row(conn)[0]["done_at"] is not None, 10, message="the alert message done")
        ticker.wait_for("Recovered the deliveries of 1 alert message(s) whose worker was lost mid-send")
    finally:
        workers.close()
        ticker.close()
        smtp.stop()
        redis_server.close()
    [row] = alert_row(conn)
    assert row["unknown_outcomes"] == 1
    copies = [email.message_from_bytes(e.content, policy=email.policy.default) for e in smtp.inbox.messages]
    assert {m["To"] for m in copies} == {OWNER}
    assert {m["Subject"] for m in copies} == {'Failing: "Weekly Market Snapshot"'}
    assert len({m["Message-ID"] for m in copies}) == 1  # one message, whatever the number of copies
    if where == "before_accept":
        assert len(copies) == 1 and row["attempts"] == 2
    elif unknown_outcome == "resend":
        assert len(copies) == 2 and row["attempts"] == 2  # the same Message-ID: the mailbox drops the repeat
    else:
        assert len(copies) == 1 and row["attempts"] == 1 and "outcome unknown" in row["last_error"]
    assert len(fetch(conn, "SELECT 1 FROM alerts")) == 1
    assert len(fetch(conn, "SELECT 1 FROM alert_messages")) == 1
