"""The threaded worker (worker/threaded.py) against real PostgreSQL, Redis and SMTP: many runs in flight
in one process, RQ's own records of each job, and a job past its timeout given up while the other runs
in flight finish within the grace, after which the worker stops (its supervisor replaces the process:
tests/acceptance/test_isolation.py)."""
from __future__ import annotations

import time

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job

from core.runs.rq_jobs import job_id_for, push_runs
from tests.worker import sample_tasks
from tests.worker.conftest import fetch, make_run, make_schedule
from worker import jobs
from worker.child import end_late_job
from worker.jobs import killed_after
from worker.threaded import ThreadedWorker

QUEUE = "schedules-test"


@pytest.fixture
def worker_process_env(monkeypatch, worker_env, smtp_server):
    """The environment `python -m worker` would have; the process's WorkerContext is made from it."""
    for name, value in {**worker_env, "SMTP_URL": smtp_server.url, "JOB_TIMEOUT": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(jobs, "_context", None)
    yield
    if jobs._context is not None:
        jobs._context.close()


def threaded_worker(redis_url, concurrency=10) -> ThreadedWorker:
    connection = redis.Redis.from_url(redis_url)
    return ThreadedWorker([Queue(QUEUE, connection=connection)], connection=connection, concurrency=concurrency,
                          on_timeout=end_late_job, default_job_timeout=1)


def run_row(conn, run_id):
    return fetch(conn, "SELECT * FROM schedule_runs WHERE id = %s", run_id)[0]


def test_a_task_past_its_timeout_is_retried_while_another_run_in_the_same_process_succeeds(
        conn, account_id, redis_url, smtp_server, worker_process_env):
    stuck = make_run(conn, make_schedule(conn, account_id, name="Stuck", task="slow",
                                         task_parameters='{"sleep": 3}', recipients=["late@example.com"]))
    quick = [make_run(conn, make_schedule(conn, account_id, name=f"Quick {i}", task="slow",
                                          task_parameters='{"sleep": 0.3}', recipients=[f"q{i}@example.com"]))
             for i in range(3)]
    push_runs(redis.Redis.from_url(redis_url), QUEUE, [stuck, *quick], job_timeout=1)
    started = time.monotonic()
    worker = threaded_worker(redis_url)
    worker.work(burst=True)
    took = time.monotonic() - started

    # The worker gave up on the stuck job after its 1 s; the others ran beside it and finished in the grace.
    assert took < 2.8, took
    assert worker.stop_reason == f"job {job_id_for(stuck)} ran past its timeout; stopping this process"
    assert [run_row(conn, run_id)["status"] for run_id in quick] == ["succeeded"] * 3
    run = run_row(conn, stuck)
    assert (run["status"], run["attempt"]) == ("retrying", 1)
    assert run["error"] == "JobTimeoutException: Task exceeded maximum timeout value (1 seconds)"
    client = redis.Redis.from_url(redis_url)
    assert Job.fetch(job_id_for(stuck), connection=client).get_status() == "failed"
    assert {Job.fetch(job_id_for(r), connection=client).get_status() for r in quick} == {"finished"}

    # The abandoned thread finishes its task later: its writes find no row, and nothing is sent.
    time.sleep(max(0.0, 4.0 - (time.monotonic() - started)))
    run = run_row(conn, stuck)
    assert (run["status"], run["result"]) == ("retrying", None)
    assert sorted(e.rcpt_tos[0] for e in smtp_server.messages) == ["q0@example.com", "q1@example.com",
                                                                   "q2@example.com"]


def test_a_runs_lease_is_renewed_for_the_timeout_its_job_was_pushed_with_not_the_workers_own(
        conn, account_id, redis_url, smtp_server, worker_process_env, monkeypatch):
    """The ticker pushed the job with its JOB_TIMEOUT (60 s); this worker's JOB_TIMEOUT is 1 s. Its
    supervisor kills a process stuck in the run only 60 s + grace + margin after the start, so the
    lease is renewed until then: stopping at 1 s + grace + margin, as it did, let the ticker recover a
    run still rightly running and run its task a second time beside it."""
    monkeypatch.setattr(sample_tasks, "LEASE_LEFT", [])
    run_id = make_run(conn, make_schedule(conn, account_id, task="lease_left"))
    push_runs(redis.Redis.from_url(redis_url), QUEUE, [run_id], job_timeout=60)
    threaded_worker(redis_url).work(burst=True)

    assert run_row(conn, run_id)["status"] == "succeeded"
    grace = jobs.worker_context().settings.worker_timeout_grace
    [left] = sample_tasks.LEASE_LEFT
    assert killed_after(60, grace) - 5 < left <= killed_after(60, grace), (left, grace)


def test_runs_in_flight_at_once_share_the_process_and_rq_sees_each_job(
        conn, account_id, redis_url, smtp_server, worker_process_env):
    runs = [make_run(conn, make_schedule(conn, account_id, name=f"Report {i}", task="slow",
                                         task_parameters='{"sleep": 0.5}', recipients=[f"r{i}@example.com"]))
            for i in range(20)]
    client = redis.Redis.from_url(redis_url)
    push_runs(client, QUEUE, runs, job_timeout=60)
    worker = threaded_worker(redis_url, concurrency=20)
    started = time.monotonic()
    worker.work(burst=True)
    took = time.monotonic() - started
    # 20 tasks of 0.5 s in one process: together, not one after the other (10 s).
    assert took < 4, took
    assert {run_row(conn, run_id)["status"] for run_id in runs} == {"succeeded"}
    assert len(smtp_server.messages) == 20
    # RQ's records: each job finished, with its result, by this worker; the worker's counters.
    job = Job.fetch(job_id_for(runs[0]), connection=client)
    assert (job.get_status(), job.worker_name) == ("finished", worker.name)
    assert job.latest_result().return_value == {"status": "succeeded", "emails_sent": 1}
    assert Queue(QUEUE, connection=client).finished_job_registry.count == 20
    assert Queue(QUEUE, connection=client).started_job_registry.count == 0
    assert client.hget(worker.key, "successful_job_count") == b"20"
    assert Worker.find_by_key(worker.key, connection=client) is None or worker.get_state() != "busy"
    # One pool of connections served all 20 runs.
    assert fetch(conn, "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'worker'"
                 " AND datname = current_database()")[0]["n"] \
        <= jobs._context.settings.worker_db_connections


def test_a_lease_is_not_renewed_past_the_jobs_timeout_so_a_stuck_run_is_recovered(conn, account_id, settings):
    from core.ops import db
    from core.runs import lifecycle
    from worker.jobs import LeaseKeeper

    stuck, busy = (make_run(conn, make_schedule(conn, account_id, name=name)) for name in ("Stuck", "Busy"))
    with db.service_transaction(conn) as cur:
        for run_id in (stuck, busy):
            lifecycle.take(cur, run_id, 1, worker="host.1", lease_seconds=2)
    keeper = LeaseKeeper(settings.database_url, 2)  # renews every 2/3 s
    try:
        keeper.hold(stuck, 1, seconds=0.5)  # its job's timeout: renewed until then, never after
        keeper.hold(busy, 1)
        time.sleep(2.6)
        expired = {row["id"] for row in fetch(
            conn, "SELECT id::text FROM schedule_runs WHERE lease_expires_at < now()")}
    finally:
        keeper.stop()
    assert expired == {stuck}
    [recovered] = lifecycle.recover_expired_leases(conn, settings, limit=10)
    assert recovered.run_id == stuck and recovered.outcome == "retrying"
