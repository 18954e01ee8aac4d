"""core.runs.rq_jobs pushes jobs in RQ's own format (a job hash RQ builds, filled per run): RQ must write the
same hash for the same job, and read those jobs exactly as its own. The worker takes and records jobs as
RQ's own worker does: both run the same job, and leave the same in Redis. Against the pinned RQ: an
upgrade that changes any of it fails here."""
import pickle
import subprocess
import sys
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.results import Result

from core.runs.rq_jobs import (RESULT_TTL_SECONDS, forget_worker, job_data, job_id_for, lost_jobs, push_runs,
                               record_started, take_jobs)
from worker import entry_points
from worker.threaded import ThreadedWorker

QUEUE = "schedules-format"


# Each job's own: its run (data, description) and when it was made and queued.
PER_JOB = {b"data", b"description", b"created_at", b"enqueued_at"}


@pytest.mark.parametrize("position", [0, 1, 2])  # the batch's first job is RQ's own; the others are filled in
def test_pushed_jobs_have_the_hash_rq_itself_writes(redis_client, position):
    ours = [str(uuid.uuid4()) for _ in range(3)]
    theirs = str(uuid.uuid4())
    push_runs(redis_client, QUEUE, ours, job_timeout=321)
    Queue(QUEUE, connection=redis_client).enqueue_many([Queue.prepare_data(
        entry_points.RUN, args=(theirs,), job_id=job_id_for(theirs), timeout=321,
        result_ttl=RESULT_TTL_SECONDS, description=f"schedule run {theirs}")])
    mine = redis_client.hgetall(f"rq:job:{job_id_for(ours[position])}")
    rqs = redis_client.hgetall(f"rq:job:{job_id_for(theirs)}")
    assert set(mine) == set(rqs)
    assert {k: v for k, v in mine.items() if k not in PER_JOB} == {k: v for k, v in rqs.items() if k not in PER_JOB}
    assert zlib.decompress(mine[b"data"]) == zlib.decompress(job_data(ours[position]))
    assert mine[b"description"] == f"schedule run {ours[position]}".encode()
    assert pickle.loads(zlib.decompress(mine[b"data"])) == (entry_points.RUN, None, (ours[position],), {})
    assert pickle.loads(zlib.decompress(rqs[b"data"])) == (entry_points.RUN, None, (theirs,), {})


def test_a_retry_is_its_own_job_at_the_head_of_the_queue(redis_client):
    first, retried = str(uuid.uuid4()), str(uuid.uuid4())
    push_runs(redis_client, QUEUE, [first])
    push_runs(redis_client, QUEUE, [(retried, 3)], at_front=True, skip_existing=True)
    assert Queue(QUEUE, connection=redis_client).job_ids == [f"run-{retried}-a3", f"run-{first}"]
    job = Job.fetch(f"run-{retried}-a3", connection=redis_client)
    assert (job.func_name, job.args, job.description) == (entry_points.RUN, (retried, 3),
                                                           f"schedule run {retried} attempt 3")


def test_rq_info_sees_the_queue_and_its_jobs(redis_client, redis_url):
    push_runs(redis_client, QUEUE, [str(uuid.uuid4()) for _ in range(4)])
    rq = Path(sys.executable).with_name("rq")
    shown = subprocess.run([str(rq), "info", "--url", redis_url, "--only-queues", QUEUE],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert QUEUE in shown.stdout and "4 jobs total" in shown.stdout, shown.stdout


def test_rq_fetches_and_dequeues_pushed_jobs(redis_client):
    runs = [str(uuid.uuid4()) for _ in range(3)]
    push_runs(redis_client, QUEUE, runs, job_timeout=42)
    job = Job.fetch(job_id_for(runs[0]), connection=redis_client)
    assert (job.func_name, job.args, job.kwargs) == (entry_points.RUN, (runs[0],), {})
    assert job.get_status() == JobStatus.QUEUED and job.origin == QUEUE
    assert job.timeout == 42 and job.result_ttl == RESULT_TTL_SECONDS
    assert job.description == f"schedule run {runs[0]}"
    assert job.enqueued_at is not None and job.created_at is not None
    assert QUEUE in [q.name for q in Queue.all(connection=redis_client)]
    queue = Queue(QUEUE, connection=redis_client)
    assert queue.count == 3
    dequeued, from_queue = Queue.dequeue_any([queue], None, connection=redis_client)
    assert dequeued.id == job_id_for(runs[0]) and from_queue.name == QUEUE


def test_skip_existing_pushes_only_missing_jobs(redis_client):
    present, missing = str(uuid.uuid4()), str(uuid.uuid4())
    push_runs(redis_client, QUEUE, [present])
    assert push_runs(redis_client, QUEUE, [present, missing], skip_existing=True) == [
        job_id_for(present), job_id_for(missing)]
    assert Queue(QUEUE, connection=redis_client).job_ids == [job_id_for(present), job_id_for(missing)]


@pytest.mark.parametrize("run_id", [
    "0f4b7a3c-1111-4222-8333-944455556666",  # a UUID: the pickle is built around it
    "not-a-uuid", "é" * 36,                   # anything else: pickled in full
])
def test_job_data_is_what_rq_restores(redis_client, run_id):
    redis_client.hset("rq:job:data-check", mapping={"data": job_data(run_id), "status": "queued", "origin": QUEUE,
                                                    "created_at": "2026-11-23T00:00:00.000000Z"})
    job = Job.fetch("data-check", connection=redis_client)
    assert (job.func_name, job.instance, job.args, job.kwargs) == (entry_points.RUN, None, (run_id,), {})
    assert pickle.loads(zlib.decompress(job_data(run_id))) == (entry_points.RUN, None, (run_id,), {})


def test_lost_jobs_reads_the_states_rq_itself_writes(redis_client):
    queue = Queue(QUEUE, connection=redis_client)
    for job_id in ("finished", "started", "queued"):
        queue.enqueue_call(f"{__name__}.while_running", args=("unused", job_id), job_id=job_id)
    finished = queue.dequeue_any([queue], None, connection=redis_client)[0]
    finished.set_status(JobStatus.FINISHED)
    started = queue.dequeue_any([queue], None, connection=redis_client)[0]
    with redis_client.pipeline() as pipe:
        started.prepare_for_execution("a-worker", pipeline=pipe)
        pipe.execute()
    ids = ["finished", "started", "queued", "gone"]
    now = datetime.now(timezone.utc)
    assert lost_jobs(redis_client, ids, now=now, lease_seconds=15) == {"finished", "gone"}
    assert lost_jobs(redis_client, ids, now=now + timedelta(seconds=20), lease_seconds=15) == {
        "finished", "started", "gone"}


# ---------------------------------------------------------------------------- the worker's side
# The threaded worker (core.runs.rq_jobs's take script and recording) and RQ's own worker run the same
# job; what each leaves in Redis while the job runs and once it ended must be the same, but for the
# values that are each job's own (its id, its times, its worker).

# The job hash's fields whose values are each job's own.
EACH_JOBS = PER_JOB | {b"started_at", b"ended_at", b"last_heartbeat", b"worker_name"}


def while_running(redis_url, job_id):
    """A job that returns what Redis holds of it while it runs."""
    connection = redis.Redis.from_url(redis_url)
    job = Job.fetch(job_id, connection=connection)
    [execution] = job.get_executions()
    return {"hash": connection.hgetall(job.key), "ttl": connection.ttl(job.key), "execution": execution.id,
            "execution_fields": sorted(connection.hgetall(execution.key)),
            "started_registry": StartedJobRegistry(job.origin, connection=connection).get_job_ids(),
            "queued": Queue(job.origin, connection=connection).job_ids}


def fails(redis_url, job_id):
    raise ValueError("the task failed")


def _shape(fields: dict) -> dict:
    return {name: (b"<its own>" if value else b"") if name in EACH_JOBS else value for name, value in fields.items()}


def _run_under(kind: str, client, redis_url: str, func: str) -> dict:
    """What Redis holds of a job run by `kind` (RQ's SimpleWorker, or ours), made comparable."""
    job_id = f"{kind}-{func}"
    queue = Queue(QUEUE, connection=client)
    queue.enqueue_call(f"{__name__}.{func}", args=(redis_url, job_id), job_id=job_id, result_ttl=300)
    worker = (SimpleWorker([queue], connection=client) if kind == "rq"
              else ThreadedWorker([queue], connection=client, concurrency=2))
    worker.work(burst=True)
    job = Job.fetch(job_id, connection=client)
    [result] = Result.all(job)
    [(_, entry)] = client.xrange(Result.get_key(job_id))
    ended = client.hgetall(job.key)
    seen = {
        "status": job.get_status(), "hash": _shape(ended), "ttl in minutes": round(client.ttl(job.key) / 60),
        "last beat at the end": ended[b"last_heartbeat"] >= ended[b"ended_at"],
        "finished": job_id in queue.finished_job_registry, "failed": job_id in queue.failed_job_registry,
        "started": job_id in queue.started_job_registry or bool(job.get_executions()),
        "result": (result.type, result.worker_name == worker.name, sorted(entry)),
        "worker": (client.hget(worker.key, "successful_job_count"), client.hget(worker.key, "failed_job_count"),
                   float(client.hget(worker.key, "total_working_time")) > 0),
    }
    if result.type == Result.Type.SUCCESSFUL:
        running = result.return_value
        seen["while running"] = {**running, "hash": _shape(running["hash"]),
                                 "execution": running["execution"] == result.execution_id,
                                 "started_registry": running["started_registry"] == [job_id]}
        assert running["hash"][b"worker_name"] == worker.name.encode()
    else:
        seen["error"] = result.exc_string.strip().splitlines()[-1]
    return seen


@pytest.mark.parametrize("func", ["while_running", "fails"])
def test_the_threaded_worker_takes_and_records_a_job_as_rqs_own_worker_does(redis_client, redis_url, func):
    rqs = _run_under("rq", redis_client, redis_url, func)
    ours = _run_under("ours", redis_client, redis_url, func)
    assert ours == rqs
    assert rqs["status"] == (JobStatus.FINISHED if func == "while_running" else JobStatus.FAILED)


def test_a_dead_worker_process_is_forgotten_as_rq_would_have_it(redis_client):
    queue = Queue(QUEUE, connection=redis_client)
    queue.enqueue_call(f"{__name__}.fails", job_id="orphan")
    worker = ThreadedWorker([queue], connection=redis_client, concurrency=1)
    worker.register_birth()
    [job] = take_jobs(worker, queue, 1)
    with redis_client.pipeline() as pipe:
        execution = record_started(worker, job, 60, pipe)
        pipe.execute()
    assert queue.started_job_registry.get_job_ids() == ["orphan"]
    forget_worker(redis_client, worker.name, [(QUEUE, job.id, execution.id)])
    assert queue.started_job_registry.get_job_ids() == [] and job.get_executions() == []
    assert worker.name not in [w.name for w in Worker.all(connection=redis_client)]
