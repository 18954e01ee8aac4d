"""The ticker's recovery units (ticker/recovery.py) against real PostgreSQL and Redis: runs whose
worker was lost, retries that came due, queued runs whose job Redis lost, an emptied Redis."""
from __future__ import annotations

from datetime import timedelta

from rq import Queue
from rq.job import Job

from core.runs.rq_jobs import job_id_for, push_runs
from tests.ticker.conftest import QUEUE, fetch, make_schedule, scalar


def run_in(conn, schedule_id, status, **columns):
    values = {"schedule_id": schedule_id, "status": status, "trigger": "manual", **columns}
    names = ", ".join(values)
    placeholders = ", ".join(f"%({name})s" for name in values)
    return fetch(conn, f"INSERT INTO schedule_runs ({names}, scheduled_for) VALUES ({placeholders}, now())"
                       " RETURNING id::text", values)[0]["id"]


def status(conn, run_id):
    return fetch(conn, "SELECT status, attempt, job_id, error FROM schedule_runs WHERE id = %s", (run_id,))[0]


def test_a_run_whose_lease_ran_out_goes_to_its_next_attempt_at_once(conn, account_id, make_ticker, redis_client):
    sid = make_schedule(conn, account_id, cadence="daily", next_run_at=None, active=False)
    run_id = run_in(conn, sid, "running", attempt=1, worker="host.7", started_at=fetch(conn, "SELECT now()")[0]["now"],
                    lease_expires_at=fetch(conn, "SELECT now() - interval '1 second' AS t")[0]["t"])
    ticker = make_ticker()
    assert ticker.tick()
    assert ticker.last_tick.recovered == 1 and ticker.last_tick.retried == 1
    row = status(conn, run_id)
    assert row["status"] == "queued" and row["attempt"] == 1 and row["job_id"] == job_id_for(run_id, 2)
    assert row["error"].startswith("worker lost: host.7 stopped renewing its lease")
    job = Job.fetch(job_id_for(run_id, 2), connection=redis_client)
    assert job.args == (run_id, 2)
    assert Queue(QUEUE, connection=redis_client).job_ids == [job_id_for(run_id, 2)]
    assert not ticker.tick()  # once


def test_a_retry_waits_in_postgresql_until_it_is_due(conn, account_id, make_ticker, redis_client):
    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    later = run_in(conn, sid, "retrying", attempt=1, not_before=fetch(conn, "SELECT now() + interval '1 hour' AS t")[0]["t"])
    due = run_in(conn, sid, "retrying", attempt=2, not_before=fetch(conn, "SELECT now() AS t")[0]["t"])
    ticker = make_ticker()
    ticker.tick()
    assert status(conn, later)["status"] == "retrying"
    assert status(conn, due)["status"] == "queued" and status(conn, due)["job_id"] == job_id_for(due, 3)
    assert Queue(QUEUE, connection=redis_client).job_ids == [job_id_for(due, 3)]


def test_a_queued_run_whose_job_redis_lost_is_pushed_again_with_the_same_id(conn, account_id, make_ticker,
                                                                            redis_client):
    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    old = fetch(conn, "SELECT now() - interval '1 minute' AS t")[0]["t"]
    lost = run_in(conn, sid, "queued", queued_at=old, job_id=None)
    fetch(conn, "UPDATE schedule_runs SET job_id = 'run-' || id WHERE id = %s", (lost,))
    kept = run_in(conn, sid, "queued", queued_at=old)
    fetch(conn, "UPDATE schedule_runs SET job_id = 'run-' || id WHERE id = %s", (kept,))
    fresh = run_in(conn, sid, "queued", queued_at=fetch(conn, "SELECT now() AS t")[0]["t"])
    push_runs(redis_client, QUEUE, [kept])
    ticker = make_ticker()
    ticker.tick()
    assert ticker.last_tick.requeued == 1
    assert sorted(Queue(QUEUE, connection=redis_client).job_ids) == sorted([job_id_for(kept), job_id_for(lost)])
    assert fresh not in str(redis_client.keys("*"))  # too young to ask about: its worker may be taking it
    # The pass runs again only after QUEUED_CHECK_EVERY_SECONDS (or when Redis is seen emptied).
    redis_client.delete(f"rq:job:{job_id_for(kept)}")
    ticker.tick()
    assert ticker.last_tick.requeued == 0


def test_a_job_whose_worker_died_before_taking_the_run_is_pushed_again(conn, account_id, make_ticker, redis_client):
    """RQ marked the job failed (its work horse was killed) while the run was still queued."""
    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    run_id = run_in(conn, sid, "queued", queued_at=fetch(conn, "SELECT now() - interval '1 minute' AS t")[0]["t"])
    push_runs(redis_client, QUEUE, [run_id])
    redis_client.lpop(f"rq:queue:{QUEUE}")  # a worker took it ...
    redis_client.hset(f"rq:job:{job_id_for(run_id)}", "status", "failed")  # ... and died with it
    ticker = make_ticker()
    ticker.tick()
    assert ticker.last_tick.requeued == 1
    assert Queue(QUEUE, connection=redis_client).job_ids == [job_id_for(run_id)]
    assert Job.fetch(job_id_for(run_id), connection=redis_client).get_status() == "queued"


def test_an_emptied_redis_is_noticed_and_every_queued_run_pushed_again_at_once(conn, account_id, make_ticker,
                                                                              redis_client):
    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    old = fetch(conn, "SELECT now() - interval '1 minute' AS t")[0]["t"]
    runs = [run_in(conn, sid, "queued", queued_at=old) for _ in range(5)]
    push_runs(redis_client, QUEUE, runs)
    ticker = make_ticker(tick_batch_size=2)
    ticker.tick()  # the first pass: every job is there
    assert ticker.last_tick.requeued == 0
    redis_client.flushdb()  # Redis restarted without persistence
    ticker.tick()
    assert ticker.last_tick.requeued == 5  # at once, not after QUEUED_CHECK_EVERY_SECONDS, in batches of 2
    assert sorted(Queue(QUEUE, connection=redis_client).job_ids) == sorted(job_id_for(r) for r in runs)
    assert scalar(conn, "SELECT count(*) FROM schedule_runs WHERE status = 'queued'") == 5


def test_next_wake_up_comes_at_the_next_retry_or_lease_expiry(conn, account_id, make_ticker):
    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    now = fetch(conn, "SELECT now() AS t")[0]["t"]
    run_in(conn, sid, "retrying", attempt=1, not_before=now + timedelta(seconds=7))
    run_in(conn, sid, "running", attempt=1, lease_expires_at=now + timedelta(seconds=4))
    ticker = make_ticker(tick_interval=60)
    ticker.tick()
    assert 2 < ticker._sleep_seconds(did_work=False) <= 4.1


def test_a_retry_goes_to_the_head_of_the_queue(conn, account_id, make_ticker, redis_client):
    """Behind a backlog, a run recovered from a lost worker must not wait for the whole queue again."""
    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    backlog = [run_in(conn, sid, "queued", queued_at=fetch(conn, "SELECT now() AS t")[0]["t"]) for _ in range(3)]
    push_runs(redis_client, QUEUE, backlog)
    retry = run_in(conn, sid, "retrying", attempt=1, not_before=fetch(conn, "SELECT now() AS t")[0]["t"])
    make_ticker().tick()
    assert Queue(QUEUE, connection=redis_client).job_ids == [job_id_for(retry, 2)] + [job_id_for(r) for r in backlog]


def test_a_job_reaches_redis_only_once_the_state_it_is_meant_for_is_committed(
        conn, account_id, database_url, make_ticker, redis_client):
    """A worker that takes a retry's job the moment it is pushed finds its run queued (committed), never
    still `retrying`: the job would be dropped as a duplicate. (A first attempt's job is pushed inside
    the transaction that marks it queued; the take waits on the row's lock: core.runs.lifecycle.queue_runs.)"""
    import threading

    from core.ops import db

    sid = make_schedule(conn, account_id, cadence="daily", active=False)
    now = fetch(conn, "SELECT now() AS t")[0]["t"]
    retries = [run_in(conn, sid, "retrying", attempt=1, not_before=now) for _ in range(40)]
    seen: dict[str, str] = {}
    watcher = db.connect(database_url, application_name="tests", autocommit=True)
    listening = threading.Event()

    def worker_that_takes_at_once():
        listening.set()
        while len(seen) < 40:
            popped = redis_client.blpop([f"rq:queue:{QUEUE}"], timeout=10)
            if popped is None:
                return
            run_id = popped[1].decode()[len("run-"):len("run-") + 36]  # run-<run id>[-a<attempt>]
            with watcher.cursor() as cur:
                cur.execute("SELECT status FROM schedule_runs WHERE id = %s", (run_id,))
                seen[run_id] = cur.fetchone()["status"]

    thread = threading.Thread(target=worker_that_takes_at_once)
    thread.start()
    listening.wait()
    make_ticker().tick()
    thread.join(timeout=15)
    watcher.close()
    assert sorted(seen) == sorted(retries)
    assert set(seen.values()) == {"queued"}
