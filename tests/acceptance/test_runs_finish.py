"""Every dispatched run finishes and every recipient gets one message, whatever dies: real processes
(`python -m ticker`, `python -m worker`), real PostgreSQL and Redis, a real SMTP server on loopback.

- Workers killed with SIGKILL, each with several runs in flight (mid-task and mid-delivery), many times
  over 300 runs of 3 recipients: afterwards every run is final, and the SMTP server got each (run,
  recipient) at most once, and exactly once for every succeeded run.
- Redis restarted empty with runs queued and retries waiting: nothing is lost.
"""
from __future__ import annotations

import asyncio
import collections
import email
import email.policy
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import model
from tests.ticker.conftest import PrivateRedis, TickerProcess, fetch, wait_until
from tests.worker.conftest import TASKS, SmtpServer
from ticker.recovery import QUEUED_CHECK_GRACE_SECONDS

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = ["a@example.com", "b@example.com", "c@example.com"]
LEASE_SECONDS = 3
TICK_SECONDS = 1


class SlowInbox:
    """The mailbox of a mail server that takes 15 ms to accept a message: a window to die in mid-delivery."""

    def __init__(self, inbox):
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.015)
        return await self.inbox.handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():
    server = SmtpServer()
    real = server.inbox
    server.inbox = SlowInbox(real)
    server.start()
    server.inbox = real  # `messages` reads the real mailbox
    yield server
    server.stop()


def process_env(database_url, redis_url, smtp_url, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "TEST_", "TICK_", "LOG_", "RQ_", "SMTP_"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SMTP_URL": smtp_url, "TASKS": TASKS,
                "TICK_INTERVAL": str(TICK_SECONDS), "RUN_LEASE_SECONDS": str(LEASE_SECONDS),
                "WORKER_MAX_ATTEMPTS": "6", "WORKER_CONCURRENCY": "4", "UNSUBSCRIBE_SECRET": "u" * 32,
                "EMAIL_FROM": "r@example.com",
                "OUTBOX_DIR": str(tmp_path / "outbox"), "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1"})
    return env


class Workers:
    """`python -m worker` processes, each in a process group of its own."""

    def __init__(self, env, tmp_path):
        self.env, self.tmp_path = env, tmp_path
        self.procs: list[subprocess.Popen] = []
        self.logs = []

    def start(self) -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{len(self.logs)}.log", "wb")
        self.logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self.logs:
            log.close()


def make_due_schedules(conn, account_id, count: int, task_parameters='{"sleep": 0.04}') -> None:
    """`count` schedules due now, 3 recipients each, whose next occurrence is 12 hours away."""
    fetch(conn, """
        INSERT INTO schedules (account_id, name, task, task_parameters, cadence, send_hour, send_minute,
                               recipients, next_run_at)
        SELECT %(account_id)s, 'Report ' || i, 'slow', %(params)s, 'daily',
               (extract(hour FROM now() AT TIME ZONE 'UTC')::int + 12) %% 24, i %% 60,
               %(recipients)s, now() - interval '1 second'
          FROM generate_series(1, %(count)s) AS i
    """, {"account_id": account_id, "count": count, "params": task_parameters, "recipients": RECIPIENTS})


def received(smtp) -> collections.Counter:
    counts = collections.Counter()
    for envelope in list(smtp.messages):
        message = email.message_from_bytes(envelope.content, policy=email.policy.compat32)
        for rcpt in envelope.rcpt_tos:
            counts[(message["X-Schedule-Run-ID"], rcpt)] += 1
    return counts


def all_final(conn) -> bool:
    row = fetch(conn, "SELECT count(*) FILTER (WHERE status <> ALL(%s)) AS open FROM schedule_runs",
                (list(model.FINAL),))[0]
    return row["open"] == 0


def check_exactly_once(conn, smtp, expected_runs: int) -> dict:
    """The invariants after the dust settles; returns the figures for the report."""
    runs = fetch(conn, "SELECT id::text, status, attempt, error FROM schedule_runs")
    assert len(runs) == expected_runs
    assert {r["status"] for r in runs} <= set(model.FINAL), collections.Counter(r["status"] for r in runs)
    counts = received(smtp)
    duplicates = {key: n for key, n in counts.items() if n > 1}
    assert duplicates == {}, duplicates
    succeeded = [r["id"] for r in runs if r["status"] == "succeeded"]
    missing = [(run_id, rcpt) for run_id in succeeded for rcpt in RECIPIENTS if counts[(run_id, rcpt)] != 1]
    assert missing == []
    sent = fetch(conn, "SELECT run_id::text, target FROM deliveries WHERE status = 'sent'")
    assert all(counts[(row["run_id"], row["target"])] == 1 for row in sent)  # the ledger never lies "sent"
    return {"runs": len(runs), "statuses": dict(collections.Counter(r["status"] for r in runs)),
            "messages": sum(counts.values()), "duplicates": len(duplicates),
            "max_attempt": max(r["attempt"] for r in runs)}


def test_workers_killed_with_runs_in_flight_mid_task_and_mid_delivery_lose_and_double_nothing(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path)
    make_due_schedules(conn, account_id, 300, task_parameters='{"sleep": 0.15}')
    ticker = TickerProcess(env, (), tmp_path / "ticker.log")
    workers = Workers(env, tmp_path)
    rng = random.Random(12)
    kills = []
    try:
        for _ in range(2):
            workers.start()
        wait_until(lambda: fetch(conn, "SELECT count(*) AS n FROM deliveries WHERE status = 'sent'")[0]["n"] >= 30,
                   60, message="deliveries to start")
        while len(kills) < 12:
            time.sleep(rng.uniform(0.2, 0.6))
            victim = rng.choice(workers.alive())
            held = [row["id"] for row in fetch(
                conn, "SELECT id::text FROM schedule_runs WHERE status = 'running' AND worker = %s",
                (f"{socket.gethostname()}.{victim.pid}",))]
            if not held:
                continue  # between jobs: a kill now would prove nothing
            # The whole worker and every run it has in flight, as when a task crashes the process or
            # its machine dies; another takes its place.
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            workers.start()
            kills.append(("worker", time.time(), held))
        last_kill = kills[-1][1]
        wait_until(lambda: all_final(conn), 120, interval=0.2, message="every run to reach a final status")
        settled_after = time.time() - last_kill
        figures = check_exactly_once(conn, smtp, 300)
    finally:
        workers.close()
        ticker.close()
    # How long each killed run took to reach its final status after the kill.
    finished = {row["id"]: row["finished_at"].timestamp() for row in fetch(
        conn, "SELECT id::text, finished_at FROM schedule_runs WHERE id = ANY(%s::uuid[])",
        ([run_id for _, _, held in kills for run_id in held],))}
    # A run can be in flight in two workers killed one after the other: count from its last kill.
    last_killed = {run_id: killed_at for _, killed_at, held in kills for run_id in held}
    recovery = [finished[run_id] - killed_at for run_id, killed_at in last_killed.items()]
    unknown_rows = fetch(conn, "SELECT run_id::text, target FROM deliveries WHERE last_error LIKE 'outcome unknown%%'")
    unknown = len(unknown_rows)
    arrived = sum(received(smtp)[(row["run_id"], row["target"])] for row in unknown_rows)
    print(f"\nkills: {len(kills)} workers, "
          f"killed runs: {len(recovery)}, final after the kill in {min(recovery):.1f}-{max(recovery):.1f}s "
          f"(lease {LEASE_SECONDS}s, tick {TICK_SECONDS}s), deliveries of unknown outcome: {unknown} "
          f"({arrived} of them had arrived), "
          f"all 300 final {settled_after:.1f}s after the last kill; {figures}")
    assert len(kills) == 12
    # A killed run is final within its lease, two ticks, and its own re-execution; unless a later kill
    # took the worker that had just taken its next attempt's job, before it could take the run: that
    # job counts as lost once it has been `started` for a lease, and the ticker's pass over queued runs
    # (every tick here, after a grace) pushes it again.
    prompt = LEASE_SECONDS + 2 * TICK_SECONDS + 5
    assert sum(seconds <= prompt for seconds in recovery) >= 0.8 * len(recovery), sorted(recovery)
    assert max(recovery) <= prompt + LEASE_SECONDS + QUEUED_CHECK_GRACE_SECONDS + 2 * TICK_SECONDS
    assert figures["statuses"].get("succeeded", 0) + unknown >= 300


def test_redis_restarted_empty_with_runs_queued_and_retries_waiting_loses_nothing(
        conn, account_id, database_url, smtp, tmp_path):
    redis_server = PrivateRedis()
    env = process_env(database_url, redis_server.url, smtp.url, tmp_path)
    make_due_schedules(conn, account_id, 200, task_parameters='{"sleep": 0}')
    ticker = TickerProcess(env, (), tmp_path / "ticker.log")
    workers = Workers(env, tmp_path)
    try:
        wait_until(lambda: fetch(conn, "SELECT count(*) AS n FROM schedule_runs WHERE status = 'queued'")[0]["n"]
                   == 200, 30, message="200 runs queued")
        # 20 of them failed once and wait for their retry, in PostgreSQL, due in 2 s.
        fetch(conn, """UPDATE schedule_runs SET status = 'retrying', attempt = 1, not_before = now() + interval '2 s'
                        WHERE id IN (SELECT id FROM schedule_runs ORDER BY id LIMIT 20)""")
        assert redis_server.client().llen("rq:queue:schedules") == 200
        redis_server.restart_empty()
        restarted = time.monotonic()
        assert redis_server.client().dbsize() == 0
        ticker.wait_for("Pushed again 180 queued run(s) whose job Redis no longer had", timeout=30)
        requeued_after = time.monotonic() - restarted
        for _ in range(2):
            workers.start()
        wait_until(lambda: all_final(conn), 90, interval=0.2, message="every run to reach a final status")
        settled_after = time.monotonic() - restarted
        figures = check_exactly_once(conn, smtp, 200)
    finally:
        workers.close()
        ticker.close()
        redis_server.close()
    print(f"\nRedis restarted empty: queued runs pushed again {requeued_after:.1f}s after the restart, "
          f"all final {settled_after:.1f}s after it; {figures}")
    assert figures["statuses"] == {"succeeded": 200} and figures["messages"] == 600
