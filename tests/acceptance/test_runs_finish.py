"""Every dispatched run finishes and every recipient gets one message, whatever dies: real processes
(`python -m ticker`, `python -m worker`), real PostgreSQL and Redis, a real SMTP server on loopback.

- Whole workers (supervisor and child processes, as when a machine dies) killed with SIGKILL, each with
  several runs in flight (mid-task and mid-delivery), many times over 300 runs of 3 recipients:
  afterwards every run is final and succeeded, every recipient got its message, and a second copy
  exists only where the sender died before recording the first one's outcome, with the same Message-ID.
- Redis restarted empty with runs queued and retries waiting: nothing is lost.
"""
from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.acceptance.processes import Workers, all_final, check_delivered, make_due_schedules, process_env
from tests.ticker.conftest import PrivateRedis, TickerProcess, fetch, wait_until
from tests.worker.conftest import SmtpServer
from ticker.recovery import QUEUED_CHECK_GRACE_SECONDS

LEASE_SECONDS = 3
TICK_SECONDS = 1
STARTUP = 5


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
                conn, "SELECT id::text FROM schedule_runs WHERE status = 'running' AND worker = ANY(%s)",
                (workers.names(workers.children(victim)),))]
            if not held:
                continue  # between jobs: a kill now would prove nothing
            # The whole worker, supervisor and child processes, with every run in flight, as when its
            # machine dies: nobody is left to hand the runs back, so their leases do; another takes its place.
            workers.kill(victim)
            workers.start()
            kills.append(("worker", time.time(), held))
        last_kill = kills[-1][1]
        wait_until(lambda: all_final(conn), 120, interval=0.2, message="every run to reach a final status")
        settled_after = time.time() - last_kill
        figures = check_delivered(conn, smtp, 300)
    finally:
        workers.close()
        ticker.close()
    # How long each killed run took to reach its final status after the kill.
    finished = {row["id"]: row["finished_at"].timestamp() for row in fetch(
        conn, "SELECT id::text, finished_at FROM schedule_runs WHERE id = ANY(%s::uuid[])",
        ([run_id for _, _, held in kills for run_id in held],))}
    # A run can be in flight in two workers killed one after the other: count from its last kill.
    last_killed = {run_id: killed_at for _, killed_at, held in kills for run_id in held}
    recovery = {run_id: finished[run_id] - killed_at for run_id, killed_at in last_killed.items()}
    # Its next attempt's job is pushed once its lease has run out; a kill after that, before the run is
    # final, may have taken the worker that had just taken that job (exposed: see below).
    exposed = {run_id for run_id, killed_at in last_killed.items()
               if any(killed_at + LEASE_SECONDS <= other < finished[run_id] for _, other, _ in kills)}
    print(f"\nkills: {len(kills)} workers, killed runs: {len(recovery)}, final after the kill in "
          f"{min(recovery.values()):.1f}-{max(recovery.values()):.1f}s (lease {LEASE_SECONDS}s, tick "
          f"{TICK_SECONDS}s; {len(exposed)} exposed to a later kill), deliveries of unknown outcome sent again "
          f"with the same Message-ID: {figures['unknown_outcomes']} ({figures['resent_same_id']} had arrived "
          f"the first time too), all 300 final {settled_after:.1f}s after the last kill; {figures}")
    assert len(kills) == 12
    # A killed run is final within its lease, two ticks, and its own re-execution; unless a later kill
    # took the worker that had just taken its next attempt's job, before it could take the run: that
    # job counts as lost once it has been `started` for a lease, and the ticker's pass over queued runs
    # (every tick here, after a grace) pushes it again. Only a run with a kill after its lease ran out
    # and before it was final (exposed) can be such a one: those are held to the bound of the last
    # line; of the others, 80% must be final within `prompt`. (Held to 80% of all killed runs, a
    # machine half as fast failed twice in five: 7 of 28 and 7 of 34 final 10-17.5 s after the kill.)
    # The worker started in the killed one's place needs a few seconds to start its processes on a
    # loaded machine: STARTUP.
    prompt = LEASE_SECONDS + 2 * TICK_SECONDS + STARTUP
    unexposed = sorted(seconds for run_id, seconds in recovery.items() if run_id not in exposed)
    assert sum(seconds <= prompt for seconds in unexposed) >= 0.8 * len(unexposed), \
        (unexposed, sorted(recovery[run_id] for run_id in exposed))
    assert max(recovery.values()) <= prompt + LEASE_SECONDS + QUEUED_CHECK_GRACE_SECONDS + 2 * TICK_SECONDS + STARTUP
    assert figures["statuses"] == {"succeeded": 300}  # nothing given up: an unknown outcome is sent again


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
        figures = check_delivered(conn, smtp, 200)
    finally:
        workers.close()
        ticker.close()
        redis_server.close()
    print(f"\nRedis restarted empty: queued runs pushed again {requeued_after:.1f}s after the restart, "
          f"all final {settled_after:.1f}s after it; {figures}")
    assert figures["statuses"] == {"succeeded": 200} and figures["messages"] == 600
