"""One bad task costs its own run, never its neighbours', and a lost run is back in seconds: real
processes (`python -m ticker`, `python -m worker`: a supervisor and its child processes), real
PostgreSQL, Redis, SMTP and HTTP receivers on loopback.

- Tasks that loop for ever (in pure Python, or asleep) beyond the concurrency, beside a trickle of normal
  runs: the normal runs keep flowing and succeed on their first attempt, the looping ones fail with a
  timeout, and the worker's CPU returns to idle.
- Tasks that end their process (`os._exit`, a segfault) beside normal runs: only they fail, naming the
  exit code or signal; no neighbour fails, loses an attempt or a message.
- kill -9 of a child (handed back at once), of the supervisor alone (its children finish and leave), of
  the whole worker with short and default leases (recovered within the lease + 2 s, with the default
  TICK_INTERVAL of 60 s).
- Redis emptied (FLUSHDB of the service's database) and PostgreSQL unreachable mid-flow: nothing lost,
  no false delivery_failed, nothing left in RQ's failed registry.
- A worker killed between the receiver taking a message and the ledger recording it: the message is
  sent again with the same Message-ID / webhook-id, never lost.
"""
from __future__ import annotations

import email
import email.policy
import os
import signal
import statistics
import time

import pytest
import redis

from core.deliveries import channels
from core.ops import db
from tests.acceptance.processes import (PostgresProxy, Workers, all_final, check_delivered, cpu_seconds,
                                        make_due_schedules, process_env, received)
from tests.receivers import Receiver
from tests.ticker.conftest import TickerProcess, fetch, wait_until
from tests.worker.conftest import SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def wait_final(conn, runs: int, timeout: float) -> None:
    """Wait until `runs` runs exist and every one is final."""
    wait_until(lambda: len(fetch(conn, "SELECT id FROM schedule_runs")) == runs and all_final(conn), timeout,
               interval=0.2, message=f"{runs} runs to reach a final status")


def runs_of(conn, name_prefix: str) -> list[dict]:
    return fetch(conn, """SELECT r.id::text, r.status, r.attempt, r.error, r.crashes, r.scheduled_for, r.finished_at
                            FROM schedule_runs r JOIN schedules s ON s.id = r.schedule_id
                           WHERE s.name LIKE %s""", (name_prefix + " %",))


def running(conn, run_ids) -> set[str]:
    return {row["id"] for row in fetch(conn, "SELECT id::text FROM schedule_runs WHERE status = 'running' "
                                             "AND id = ANY(%s::uuid[])", (list(run_ids),))}


class Stack:
    """A ticker and one worker (supervisor + children) on the test's servers."""

    def __init__(self, env, tmp_path, *, start_worker=True):
        self.ticker = TickerProcess(env, (), tmp_path / "ticker.log")
        self.workers = Workers(env, tmp_path)
        self.worker = self.workers.start() if start_worker else None

    def children(self) -> list[int]:
        return self.workers.children(self.worker)

    def close(self):
        self.workers.close()
        self.ticker.close()


def test_looping_and_sleeping_tasks_cost_their_own_runs_and_the_cpu_returns_to_idle(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=2, WORKER_CONCURRENCY=5,
                      JOB_TIMEOUT=3, WORKER_TIMEOUT_GRACE=1, WORKER_MAX_ATTEMPTS=1)
    # 12 runs that never end, beyond the 10 slots, then a trickle of normal runs beside them.
    make_due_schedules(conn, account_id, 6, '{}', task="spin", name="Spin", recipients=["spin@example.com"])
    make_due_schedules(conn, account_id, 6, '{}', task="hang", name="Hang", recipients=["hang@example.com"])
    stack = Stack(env, tmp_path)
    try:
        for wave in range(8):
            make_due_schedules(conn, account_id, 10, '{"sleep": 0.05}', name=f"Normal{wave}")
            time.sleep(1)
        wait_final(conn, 92, 90)
        time.sleep(2)  # the last replaced processes settle
        pids = [stack.worker.pid, *stack.children()]
        before = cpu_seconds(pids)
        time.sleep(3)
        idle_cpu = cpu_seconds(pids) - before
        output = stack.workers.output()
    finally:
        stack.close()
    normal = [r for wave in range(8) for r in runs_of(conn, f"Normal{wave}")]
    stuck = runs_of(conn, "Spin") + runs_of(conn, "Hang")
    latency = [(r["finished_at"] - r["scheduled_for"]).total_seconds() for r in normal]
    print(f"\n12 endless tasks beside 80 normal runs: normal latency p50 {statistics.median(latency):.1f}s, "
          f"max {max(latency):.1f}s; worker CPU once idle {idle_cpu:.2f}s in 3s")
    assert len(normal) == 80 and {(r["status"], r["attempt"]) for r in normal} == {("succeeded", 1)}
    assert len(stuck) == 12 and {r["status"] for r in stuck} == {"failed"}
    assert [r["error"] for r in stuck
            if not r["error"].startswith("JobTimeoutException: Task exceeded maximum timeout value (3 seconds)")] == []
    # A normal run waits at most for a stuck neighbour's timeout and grace, and its own hand-back.
    assert max(latency) < 20, sorted(latency)
    assert idle_cpu < 0.5  # no thread spins on in a process that should be idle
    assert "ran past its timeout; stopping this process" in output


def test_a_task_that_kills_its_process_costs_only_its_own_run(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=2, WORKER_CONCURRENCY=5,
                      WORKER_MAX_ATTEMPTS=3)
    make_due_schedules(conn, account_id, 40, '{"sleep": 0.2}', name="Normal")
    make_due_schedules(conn, account_id, 3, '{}', task="exit_process", name="Exit", recipients=["x@example.com"])
    make_due_schedules(conn, account_id, 3, '{}', task="segfault", name="Segv", recipients=["s@example.com"])
    stack = Stack(env, tmp_path)
    try:
        wait_final(conn, 46, 120)
        output = stack.workers.output()
    finally:
        stack.close()
    normal, exits, segvs = runs_of(conn, "Normal"), runs_of(conn, "Exit"), runs_of(conn, "Segv")
    deaths = output.count("ended (")
    print(f"\n6 process-killing tasks beside 40 normal runs: {deaths} process deaths; "
          f"normal runs {sorted({(r['status'], r['attempt']) for r in normal})}; "
          f"crashing runs' errors: {sorted({r['error'] for r in exits + segvs})}")
    assert {(r["status"], r["attempt"]) for r in normal} == {("succeeded", 1)}  # no neighbour lost an attempt
    assert {r["status"] for r in exits + segvs} == {"failed"}
    assert all(r["error"].startswith("the task's process exited with code 1; the run was in flight in each of")
               for r in exits), [r["error"] for r in exits]
    assert all(r["error"].startswith("the task's process was killed by SIGSEGV; the run was in flight in each of")
               for r in segvs), [r["error"] for r in segvs]
    figures = check_delivered(conn, smtp, 46, recipients=[])
    copies = received(smtp)
    for run in normal:
        for rcpt in ("a@example.com", "b@example.com", "c@example.com"):
            assert copies.get((run["id"], rcpt)), (run["id"], rcpt)  # every neighbour's message arrived
    print(f"figures: {figures}")


def test_a_process_is_replaced_after_its_run_limit_or_past_its_memory_limit(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=1, WORKER_CONCURRENCY=1,
                      WORKER_MAX_RUNS=5, WORKER_MAX_MEMORY_MB=75)
    # A process starts at about 50 MB; one 40 MB leak takes it past 75 MB.
    make_due_schedules(conn, account_id, 4, '{}', task="leak", name="Leak", recipients=["l@example.com"])
    fetch(conn, "UPDATE schedules SET next_run_at = next_run_at - interval '1 minute'")  # due first
    make_due_schedules(conn, account_id, 12, '{"sleep": 0.05}', name="Plain", recipients=["p@example.com"])
    stack = Stack(env, tmp_path)
    try:
        wait_final(conn, 16, 90)
        output = stack.workers.output()
    finally:
        stack.close()
    workers = {row["worker"] for row in fetch(conn, "SELECT worker FROM schedule_runs")}
    print(f"\n16 runs, WORKER_MAX_RUNS=5, WORKER_MAX_MEMORY_MB=75: {len(workers)} processes ran them; "
          f"{output.count('stopped (recycled after')} recycled by count, "
          f"{output.count('stopped (recycled at')} by memory")
    assert {(r["status"], r["attempt"]) for r in runs_of(conn, "Plain") + runs_of(conn, "Leak")} == {("succeeded", 1)}
    assert "recycled after 5 jobs (WORKER_MAX_RUNS)" in output
    assert "MB resident (WORKER_MAX_MEMORY_MB=75)" in output
    assert len(workers) >= 4  # 16 runs at most 5 to a process, fewer for a process that grew too large


def test_kill_9_of_a_child_hands_its_runs_back_at_once(conn, account_id, database_url, redis_url, smtp, tmp_path):
    # The default lease (15 s) and tick interval (60 s): a child's death does not wait for either.
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=2, WORKER_CONCURRENCY=5,
                      TICK_INTERVAL=60, RUN_LEASE_SECONDS=15)
    make_due_schedules(conn, account_id, 80, '{"sleep": 1.5}')
    stack = Stack(env, tmp_path)
    handed_back, resumed = [], []
    try:
        for _ in range(2):
            victim, held = wait_until(lambda: _child_holding_runs(conn, stack), 60, message="a child with runs")
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            wait_until(lambda: not running(conn, held), 10, interval=0.02, message="the runs handed back")
            handed_back.append(time.monotonic() - killed)
            wait_until(lambda: all(r["status"] in ("running", "succeeded") for r in fetch(
                conn, "SELECT status FROM schedule_runs WHERE id = ANY(%s::uuid[])", (held,))), 30, interval=0.05,
                message="the runs running again")
            resumed.append(time.monotonic() - killed)
        wait_final(conn, 80, 120)
    finally:
        stack.close()
    figures = check_delivered(conn, smtp, 80)
    print(f"\nkill -9 of a child (lease 15s, tick 60s): runs handed back {min(handed_back):.2f}-"
          f"{max(handed_back):.2f}s after the kill, running again (each alone, in quarantine) after "
          f"{min(resumed):.1f}-{max(resumed):.1f}s; {figures}")
    assert max(handed_back) < 2.0
    assert max(resumed) < 15 + 2  # within the lease + 2 s, though no lease had run out
    assert figures["statuses"] == {"succeeded": 80} and figures["max_attempt"] == 1


def _child_holding_runs(conn, stack):
    for pid in stack.children():
        held = [row["id"] for row in fetch(conn, "SELECT id::text FROM schedule_runs WHERE status = 'running' "
                                                 "AND worker = %s", (stack.workers.names([pid])[0],))]
        if len(held) >= 2:
            return pid, held
    return None


@pytest.mark.parametrize("lease", [3, 15])
def test_kill_9_of_the_whole_worker_is_recovered_within_the_lease_and_2_seconds(
        lease, conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=2, WORKER_CONCURRENCY=5,
                      TICK_INTERVAL=60, RUN_LEASE_SECONDS=lease)
    make_due_schedules(conn, account_id, 20, '{"sleep": 3}')
    stack = Stack(env, tmp_path)
    try:
        wait_until(lambda: len(fetch(conn, "SELECT id FROM schedule_runs WHERE status = 'running'")) >= 8, 30,
                   message="runs in flight")
        held = fetch(conn, "SELECT id FROM schedule_runs WHERE status = 'running'")
        dead = stack.workers.names(stack.children())
        stack.workers.kill(stack.worker)  # a machine lost: nobody is left to hand the runs back
        killed = time.monotonic()
        stack.workers.start()
        # Recovered: no run is held by a dead process any more (each is retrying, or running elsewhere).
        wait_until(lambda: not fetch(conn, "SELECT id FROM schedule_runs WHERE status = 'running' AND "
                                           "worker = ANY(%s)", (dead,)), lease + 10, interval=0.05,
                   message="recovery")
        recovered = time.monotonic() - killed
        wait_final(conn, 20, 90)
    finally:
        stack.close()
    figures = check_delivered(conn, smtp, 20)
    print(f"\nkill -9 of the whole worker (lease {lease}s, tick 60s): {len(held)} runs recovered "
          f"{recovered:.1f}s after the kill; {figures}")
    assert recovered <= lease + 2 + 0.5  # the lease, the ticker's 2 s look, and the recovery's own statement
    assert figures["statuses"] == {"succeeded": 20}


def test_kill_9_of_the_supervisor_alone_lets_its_children_finish_and_leave(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=2, WORKER_CONCURRENCY=5,
                      WORKER_TIMEOUT_GRACE=3)
    make_due_schedules(conn, account_id, 30, '{"sleep": 1}')
    stack = Stack(env, tmp_path, start_worker=True)
    try:
        wait_until(lambda: len(fetch(conn, "SELECT id FROM schedule_runs WHERE status = 'running'")) >= 5, 30,
                   message="runs in flight")
        children = stack.children()
        os.kill(stack.worker.pid, signal.SIGKILL)
        stack.worker.wait()
        killed = time.monotonic()
        wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in children), 15,
                   interval=0.1, message="the orphaned children to leave")
        left_after = time.monotonic() - killed
        stack.workers.start()
        wait_final(conn, 30, 90)
    finally:
        stack.close()
    figures = check_delivered(conn, smtp, 30)
    print(f"\nkill -9 of the supervisor: its children finished their runs and left {left_after:.1f}s later; {figures}")
    assert left_after < 3 + 5 + 2  # the grace, a loop turn's longest wait, a margin
    assert figures["statuses"] == {"succeeded": 30}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_redis_emptied_mid_flow_is_noticed_within_5_seconds_and_loses_nothing(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=1, WORKER_CONCURRENCY=5,
                      TICK_INTERVAL=60)
    make_due_schedules(conn, account_id, 300, '{"sleep": 0.05}')
    stack = Stack(env, tmp_path)
    client = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: len(fetch(conn, "SELECT id FROM schedule_runs WHERE status = 'succeeded'")) >= 20, 60,
                   message="the flow to start")
        client.flushdb()  # the service's database alone: TEST_REDIS_URL's other databases are other runs'
        flushed = time.monotonic()
        stack.ticker.wait_for("whose job Redis no longer had", timeout=15)
        pushed_again = time.monotonic() - flushed
        wait_final(conn, 300, 120)
    finally:
        stack.close()
    figures = check_delivered(conn, smtp, 300)
    print(f"\nFLUSHDB mid-flow (tick 60s): queued runs pushed again {pushed_again:.1f}s later; {figures}")
    assert pushed_again <= 5
    assert figures["statuses"] == {"succeeded": 300}


def test_postgresql_unreachable_mid_flow_loses_nothing_and_fails_nothing(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    proxy = PostgresProxy(database_url)
    env = process_env(proxy.url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=2, WORKER_CONCURRENCY=10)
    make_due_schedules(conn, account_id, 400, '{"sleep": 0.02}')
    stack = Stack(env, tmp_path)
    client = redis.Redis.from_url(redis_url)
    try:
        for _ in range(2):
            wait_until(lambda: len(fetch(conn, "SELECT id FROM deliveries WHERE status = 'sent'")) >= 60, 60,
                       message="deliveries to flow")
            proxy.outage(1.5)  # as a restart looks to its clients: connections dropped, then refused
            time.sleep(4)
        wait_final(conn, 400, 120)
        failed_jobs = client.zcard("rq:failed:schedules")
        queued_left = client.llen("rq:queue:schedules")
    finally:
        stack.close()
        proxy.close()
    figures = check_delivered(conn, smtp, 400)
    print(f"\nPostgreSQL unreachable twice for 1.5s mid-flow: jobs left in RQ's failed registry: {failed_jobs}, "
          f"in the queue: {queued_left}; {figures}")
    assert figures["statuses"] == {"succeeded": 400}  # no false delivery_failed
    assert failed_jobs == 0 and queued_left == 0


def test_a_worker_killed_between_the_receivers_answer_and_the_ledger_sends_again_with_the_same_identity(
        conn, account_id, database_url, redis_url, smtp, tmp_path):
    env = process_env(database_url, redis_url, smtp.url, tmp_path, WORKER_PROCESSES=1, WORKER_CONCURRENCY=2,
                      WEBHOOK_ALLOW_LOOPBACK="true")
    stack = None
    victims = []

    def kill_the_sender(_request=None):
        """The receiver has the message: the process that sent it dies before it can record the answer."""
        if not victims:
            victims.extend(stack.children())
            for pid in victims:
                os.kill(pid, signal.SIGKILL)

    receiver = Receiver(on_request=lambda request: None).start()
    try:
        make_due_schedules(conn, account_id, 1, '{"sleep": 0}', name="Mail", recipients=["a@example.com"])
        stack = Stack(env, tmp_path)
        original = smtp.inbox.handle_DATA

        async def handle_data(server, session, envelope):
            reply = await original(server, session, envelope)
            if len(smtp.messages) == 1:
                kill_the_sender()
            return reply

        smtp.inbox.handle_DATA = handle_data
        wait_until(lambda: all_final(conn) and fetch(conn, "SELECT id FROM schedule_runs"), 60, interval=0.1,
                   message="the email run to end")
        mail = [email.message_from_bytes(e.content, policy=email.policy.compat32)["Message-ID"]
                for e in smtp.messages]

        victims.clear()
        receiver.on_request = kill_the_sender
        schedule = fetch(conn, """INSERT INTO schedules (account_id, name, task, cadence, send_hour, recipients,
                                                         next_run_at)
                                  VALUES (%s, 'Hook 1', 'echo', 'daily', 3, '{}', now()) RETURNING id""",
                         (account_id,))[0]["id"]
        with db.service_transaction(conn) as cur:
            channels.save(cur, account_id, schedule, [{"type": "webhook", "url": receiver.url()}])
        wait_until(lambda: all_final(conn) and len(fetch(conn, "SELECT id FROM schedule_runs")) == 2, 60,
                   interval=0.1, message="the webhook run to end")
        hooks = [request.headers["webhook-id"] for request in receiver.requests]
    finally:
        if stack is not None:
            stack.close()
        receiver.stop()
    ledger = {row["channel"]: row for row in fetch(conn, "SELECT channel, status, unknown_outcomes, message_id "
                                                         "FROM deliveries")}
    runs = fetch(conn, "SELECT status, attempt FROM schedule_runs")
    print(f"\nkilled after the receiver took the message: email copies {mail}, webhook copies {hooks}; "
          f"ledger {ledger}; runs {runs}")
    assert len(mail) == 2 and len(set(mail)) == 1 and mail[0] == ledger["email"]["message_id"]
    assert len(hooks) == 2 and len(set(hooks)) == 1 and hooks[0] == ledger["webhook"]["message_id"]
    assert {(row["status"], row["unknown_outcomes"]) for row in ledger.values()} == {("sent", 1)}
    assert {(run["status"], run["attempt"]) for run in runs} == {("succeeded", 1)}
