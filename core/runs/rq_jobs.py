"""Everything the service knows of RQ's format (pinned: rq==2.12.0): the jobs it pushes, how the worker
takes them and records their starts and ends, and what it reads of them. No other module spells RQ's
keys or fields; the worker otherwise stands on RQ's own classes (BaseWorker, Queue).

A run's job id is derived from the run id, so pushing the same run twice never makes a second job: a
re-push first asks Redis whether the job is already there. The job names the worker's entry point by
import path and carries only the run id (an alert's job, only its message id); the worker reads
everything else from PostgreSQL, so nothing in Redis can make the worker import a path taken from a
schedule. Core names no worker function: the process that pushes jobs (the ticker) hands the worker's
entry points over when it starts (`use_entry_points`, worker/entry_points.py).

RQ writes the jobs' format: each push builds one job with RQ's own `Job.create` (the first run's)
and takes its hash from RQ's `Job.to_dict`, so a field RQ adds, renames or encodes differently comes
with it. The jobs of a batch differ only in their run, so the other runs take that same hash with
their own `data` (RQ's job tuple in RQ's serializer, zlib-compressed) and `description`, built the
way RQ built the first run's and checked against it on every push. One small Lua script then writes
the hashes, appends the ids to the queue's list and registers the queue in `rq:queues`, as
`Queue.enqueue_many` does, in one round trip: building and saving an RQ Job per run costs several times what the ticker spends on
a run. The script also makes `skip_existing` atomic (check and push in one step).
tests/ticker/test_jobs_format.py compares the hashes with RQ's `enqueue_many`'s and reads the jobs back
with RQ's Job.fetch, Queue.dequeue_any and `rq info`, and runs RQ's own worker beside the take script
and the recording of the worker's side (below) to compare what each leaves in Redis.
"""
from __future__ import annotations

import contextvars
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from redis.commands.core import Script
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job, JobStatus, get_current_job
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.serializers import DefaultSerializer
from rq.utils import now, utcformat, utcparse
from rq.worker import Worker

# A finished job's hash is kept a day for `rq info` and debugging; the run row is the real record.
RESULT_TTL_SECONDS = 24 * 3600
JOB_ID_PREFIX = "run-"
# RQ's key names.
RQ_JOB_PREFIX = Job.redis_job_namespace_prefix
RQ_QUEUE_PREFIX = Queue.redis_queue_namespace_prefix
RQ_QUEUES_KEY = Queue.redis_queues_keys
# The fields of RQ's job hash that differ from one run to another; every other field is what RQ
# writes for the batch's first job.
_PER_RUN_FIELDS = ("data", "description")

# KEYS: the queue's list, the set of queues, then one job hash key per run.
# ARGV: what to do with a job hash that exists already ("skip" it, "replace" it: delete it first, or
# "write" over it), at_front ("1": LPUSH, as RQ's enqueue(at_front=True)), the
# number of shared fields, the number of per-run fields, the shared fields as name, value pairs,
# the per-run field names, then each job's per-run values.
_PUSH_SCRIPT = """
local shared, per_run = tonumber(ARGV[3]), tonumber(ARGV[4])
local fields = {}
for f = 1, 2 * shared do fields[f] = ARGV[4 + f] end
local names = 4 + 2 * shared
for f = 1, per_run do fields[2 * shared + 2 * f - 1] = ARGV[names + f] end
local values = names + per_run
local pushed = 0
for i = 3, #KEYS do
  local key = KEYS[i]
  if ARGV[1] == 'replace' then redis.call('DEL', key) end
  if ARGV[1] ~= 'skip' or redis.call('EXISTS', key) == 0 then
    local first = values + (i - 3) * per_run
    for f = 1, per_run do fields[2 * shared + 2 * f] = ARGV[first + f] end
    redis.call('HSET', key, unpack(fields))
    -- the job id: the key less its prefix
    redis.call(ARGV[2] == '1' and 'LPUSH' or 'RPUSH', KEYS[1], string.sub(key, %(id_starts_at)d))
    pushed = pushed + 1
  end
end
if pushed > 0 then
  redis.call('SADD', KEYS[2], KEYS[1])
end
return pushed
""" % {"id_starts_at": len(RQ_JOB_PREFIX) + 1}
_PUSH = Script(None, _PUSH_SCRIPT.encode())  # bound to no client: each call names its connection

_SERIALIZER = DefaultSerializer


@dataclass(frozen=True)
class EntryPoints:
    """The worker's functions the jobs name, by import path."""

    run: str    # run(run_id[, attempt])
    alert: str  # alert(message_id)


_entry_points: EntryPoints | None = None


def use_entry_points(*, run: str, alert: str) -> None:
    """The worker's entry points, given once by the process that pushes jobs before its first push."""
    global _entry_points
    _entry_points = EntryPoints(run, alert)


def entry_points() -> EntryPoints:
    if _entry_points is None:
        raise RuntimeError("no worker entry points to name in a job: the process that pushes jobs calls "
                           "core.runs.rq_jobs.use_entry_points first (the ticker does, at start)")
    return _entry_points


def quarantine_queue(queue_name: str) -> str:
    """The queue of runs that were in flight when a worker process died: they run one at a time, in a
    process of their own (worker/supervisor.py), until the run that kills its process is known."""
    return f"{queue_name}-quarantine"


def job_id_for(run_id, attempt: int = 1) -> str:
    """`run-<run id>` for a run's first attempt, `run-<run id>-a<N>` for attempt N: one job per
    attempt, so pushing the same attempt twice never makes a second job."""
    return f"{JOB_ID_PREFIX}{run_id}" if attempt == 1 else f"{JOB_ID_PREFIX}{run_id}-a{attempt}"


def _args(run_id: str, attempt: int) -> tuple:
    return (run_id,) if attempt == 1 else (run_id, attempt)


def _description(run_id: str, attempt: int) -> str:
    return f"schedule run {run_id}" if attempt == 1 else f"schedule run {run_id} attempt {attempt}"


def rq_job(redis_conn, queue_name: str, run_id: str, attempt: int = 1, *, job_timeout: int) -> Job:
    """The job RQ itself makes for `execute_run(run_id[, attempt])`, queued on `queue_name` now
    (what `Queue.enqueue_job` sets up before saving it)."""
    job = Job.create(entry_points().run, args=_args(run_id, attempt), id=job_id_for(run_id, attempt),
                     connection=redis_conn, timeout=job_timeout, result_ttl=RESULT_TTL_SECONDS,
                     description=_description(run_id, attempt), origin=queue_name, status=JobStatus.QUEUED,
                     serializer=_SERIALIZER)
    job.enqueued_at = now()
    return job


def job_data(run_id: str, attempt: int = 1) -> bytes:
    """RQ's `data` field for `execute_run(run_id[, attempt])`: RQ's job tuple (func, instance, args,
    kwargs) in RQ's serializer, zlib-compressed, as `Job.data` and `Job.to_dict` make it.

    zlib writes it at level 0 (stored: a 100-byte pickle gains nothing from compression) with the
    smallest window and state, a stream RQ's `zlib.decompress` reads like any other: `zlib.compress`
    with its defaults sets up 256 KiB of state per call, which took longer than everything else the
    ticker does to push a run."""
    compressor = zlib.compressobj(0, zlib.DEFLATED, 9, 1)
    pickled = _SERIALIZER.dumps((entry_points().run, None, _args(str(run_id), attempt), {}))
    return compressor.compress(pickled) + compressor.flush()


def _per_run(run_id: str, attempt: int) -> tuple:
    return job_data(run_id, attempt), _description(run_id, attempt)


def push_runs(redis_conn, queue_name: str, runs: Iterable, *, job_timeout: int = 600,
              skip_existing: bool = False, replace: bool = False, at_front: bool = False) -> list[str]:
    """Enqueue one job per run in a single round trip; returns the job ids now in Redis.

    `runs` are run ids (first attempts) or (run id, attempt) pairs. `skip_existing` is for re-pushing
    runs whose push may have happened already (the ticker died between pushing and marking them
    queued): a job already in Redis is not pushed again, only reported. `at_front` puts the jobs at
    the head of the queue, as RQ's `enqueue(at_front=True)` does.
    """
    pairs = [(str(run[0]), int(run[1])) if isinstance(run, tuple) else (str(run), 1) for run in runs]
    if not pairs:
        return []
    job_ids = [job_id_for(run_id, attempt) for run_id, attempt in pairs]
    rqs = rq_job(redis_conn, queue_name, *pairs[0], job_timeout=job_timeout).to_dict()
    ours = _per_run(*pairs[0])
    if (zlib.decompress(rqs["data"]), rqs["description"]) != (zlib.decompress(ours[0]), ours[1]):
        raise RuntimeError(f"RQ's job format has changed: its {'/'.join(_PER_RUN_FIELDS)} for run {pairs[0][0]} "
                           f"is not what core.runs.rq_jobs builds for the other runs of a push")
    # The first job is RQ's hash as it is; the others take their own run's fields.
    per_run = [tuple(rqs[name] for name in _PER_RUN_FIELDS)] + [_per_run(*pair) for pair in pairs[1:]]
    shared = [item for name, value in rqs.items() if name not in _PER_RUN_FIELDS for item in (name, value)]
    keys = [RQ_QUEUE_PREFIX + queue_name, RQ_QUEUES_KEY] + [RQ_JOB_PREFIX + job_id for job_id in job_ids]
    existing = "skip" if skip_existing else "replace" if replace else "write"
    args = [existing, "1" if at_front else "0", len(shared) // 2, len(_PER_RUN_FIELDS), *shared, *_PER_RUN_FIELDS]
    for values in per_run:
        args += values
    _PUSH(keys=keys, args=args, client=redis_conn)
    return job_ids


def push_alerts(redis_conn, queue_name: str, message_ids: list[str], *, job_timeout: int) -> None:
    """One job per alert message, `alert(message_id)`, enqueued by RQ itself in one pipeline. A job's id
    carries the push's instant (ms): a message pushed again (its job lost, a row's retry due) gets a new
    job, and a job pushed twice finds nothing left to claim the second time."""
    stamp = int(datetime.now(timezone.utc).timestamp() * 1000)
    queue = Queue(queue_name, connection=redis_conn)
    with redis_conn.pipeline() as pipe:
        for message_id in message_ids:
            queue.enqueue_call(entry_points().alert, args=(message_id,), job_id=f"alert-{message_id}-{stamp}",
                               timeout=job_timeout, result_ttl=RESULT_TTL_SECONDS,
                               description=f"alert message {message_id}", pipeline=pipe)
        pipe.execute()


# RQ job statuses that mean the job will never run (again) by itself (this service never schedules
# or defers jobs in RQ: one that is so was left by an older version); `started` counts as lost only
# once it is older than a lease: the worker that took it died before it could take the run.
_DEAD_JOB_STATUSES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED,
                      JobStatus.SCHEDULED, JobStatus.DEFERRED}


def lost_jobs(redis_conn, job_ids: list[str], *, now: datetime, lease_seconds: float) -> set[str]:
    """Which of the jobs will never run by themselves, asked in one round trip: gone from Redis, ended,
    or `started` longer than `lease_seconds` before `now`."""
    if not job_ids:
        return set()
    pipe = redis_conn.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(RQ_JOB_PREFIX + job_id, "status", "started_at")
    return {job_id for job_id, (status, started_at) in zip(job_ids, pipe.execute())
            if _is_lost(status, started_at, now=now, lease_seconds=lease_seconds)}


def _is_lost(status: bytes | None, started_at: bytes | None, *, now: datetime, lease_seconds: float) -> bool:
    if not status or status.decode() in _DEAD_JOB_STATUSES:
        return True
    if status.decode() == JobStatus.STARTED and started_at:
        try:
            started = utcparse(started_at.decode())
        except ValueError:
            return False
        return (now - started).total_seconds() > lease_seconds
    return False


# ---------------------------------------------------------------------------- the worker's side
#
# RQ's own worker (rq 2.12.0, rq/worker/base.py) takes one job at a time and records each start and
# end in a round trip or three of its own (Worker.prepare_job_execution, handle_job_success's WATCH /
# MULTI, handle_job_failure), around the one Execution it keeps in `worker.execution`; RQ has no
# worker that keeps several jobs in flight (a ThreadPoolWorker was proposed, rq/rq#1803 and #1804, and
# not merged), and calling those methods per job would cost each job its own round trips. So
# worker/threaded.py takes jobs in batches with the take script below and records their starts and
# ends here, in its pipelines, with the public pieces RQ's worker assembles (Execution.create and
# delete, Job.set_status / save / cleanup, the job's registries, Result.create, the worker's counters),
# in the order rq 2.12.0 calls them. tests/ticker/test_jobs_format.py runs RQ's own worker on the same
# jobs and compares what each leaves in Redis.

# Takes up to ARGV[1] jobs from the head of the queue (KEYS[1]) and marks each `started` by this
# worker in the same step, writing the fields RQ's Job.prepare_for_execution writes (status,
# started_at, last_heartbeat, worker_name), so a worker killed right after taking them loses none: the
# ticker pushes again the job of a queued run whose job has been `started` for longer than a lease.
# (RQ's own worker moves each job to an intermediate queue instead, which only its periodic
# maintenance cleans up.) A job id whose hash is gone is dropped, as RQ's dequeue does.
_TAKE = Script(None, b"""
local ids = {}
while #ids < tonumber(ARGV[1]) do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  local key = ARGV[4] .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'status', ARGV[5], 'started_at', ARGV[2], 'last_heartbeat', ARGV[2],
               'worker_name', ARGV[3])
    ids[#ids + 1] = id
  end
end
return ids
""")


def take_jobs(worker, queue, count: int) -> list[Job]:
    """Up to `count` jobs from the head of `queue`, each marked started by `worker` in the same atomic
    step, read back with RQ's Job.fetch_many (so each job's started_at is the one written)."""
    args = [count, utcformat(now()), worker.name, RQ_JOB_PREFIX, JobStatus.STARTED.value]
    ids = [job_id.decode() for job_id in _TAKE(keys=[queue.key], args=args, client=worker.connection)]
    if not ids:
        return []
    jobs = worker.job_class.fetch_many(ids, connection=worker.connection, serializer=worker.serializer)
    return [job for job in jobs if job is not None]


# The job the threaded worker's thread is executing: Job.perform's job stack without its round trip.
_executing: contextvars.ContextVar[Job | None] = contextvars.ContextVar("executing", default=None)


def perform(job: Job):
    """Call the job's function, as Job.perform does, in this thread (worker/threaded.py); meanwhile
    `current_job_timeout` answers with this job's timeout."""
    token = _executing.set(job)
    try:
        return job.func(*job.args, **job.kwargs)
    finally:
        _executing.reset(token)


def current_job_timeout(default: float) -> float:
    """The timeout the job being executed in this thread was pushed with (the ticker's JOB_TIMEOUT
    when it pushed it), or `default` outside a job or for a job pushed without one. The threaded
    worker's jobs (`perform`) and those of RQ's own workers (Job.perform) both answer."""
    job = _executing.get() or get_current_job()
    timeout = job.timeout if job is not None else None
    return timeout if timeout is not None and timeout > 0 else default


def record_started(worker, job: Job, ttl: int, pipe) -> Execution:
    """What RQ's worker records of a job it starts, the take script having written the job's own fields:
    an Execution (in the job's StartedJobRegistry) that lives `ttl` seconds unless renewed, and no
    expiry on the job's hash (Job.perform's PERSIST, here in the start's pipeline: the threaded worker
    calls the job's function with `perform`, without Job.perform's round trip)."""
    execution = Execution.create(job, ttl, pipeline=pipe, worker_name=worker.name)
    pipe.persist(job.key)
    return execution


def record_success(worker, job: Job, execution: Execution, return_value, pipe) -> None:
    """A job that returned `return_value` at job.ended_at, as Worker.handle_execution_ended,
    handle_job_success and Job._handle_success record it: the job's last heartbeat, the worker's
    counters, status `finished`, the job's hash, a successful Result, the FinishedJobRegistry, the
    job's expiry, its Execution gone."""
    job.heartbeat(job.ended_at, job.success_callback_timeout, pipeline=pipe)
    worker.increment_successful_job_count(pipeline=pipe)
    worker.increment_total_working_time(job.ended_at - job.started_at, pipe)
    result_ttl = job.get_result_ttl(worker.default_result_ttl)
    if result_ttl != 0:
        job.set_status(JobStatus.FINISHED, pipeline=pipe)
        job.save(pipeline=pipe, include_meta=False, include_result=False)
        Result.create(job, Result.Type.SUCCESSFUL, result_ttl, return_value=return_value, worker_name=worker.name,
                      pipeline=pipe, execution_id=execution.id, execution_started_at=execution.created_at,
                      execution_ended_at=job.ended_at)
        job.finished_job_registry.add(job, result_ttl, pipe)
    job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
    execution.delete(job=job, pipeline=pipe)


def record_failure(worker, job: Job, execution: Execution, exc_string: str, pipe) -> None:
    """A job that failed at job.ended_at, as Worker.handle_execution_ended, handle_job_failure and
    Job._handle_failure record it: the job's last heartbeat, status `failed`, its Execution gone, the
    FailedJobRegistry (which saves the job's hash), a failed Result, the worker's counters."""
    job.heartbeat(job.ended_at, job.failure_callback_timeout, pipeline=pipe)
    job.set_status(JobStatus.FAILED, pipeline=pipe)
    execution.delete(job=job, pipeline=pipe)
    job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=exc_string, pipeline=pipe)
    Result.create_failure(job, job.failure_ttl, exc_string=exc_string, worker_name=worker.name, pipeline=pipe,
                          execution_id=execution.id, execution_started_at=execution.created_at,
                          execution_ended_at=job.ended_at)
    worker.increment_failed_job_count(pipeline=pipe)
    worker.increment_total_working_time(job.ended_at - job.started_at, pipe)


def put_back(job: Job, execution: Execution, queue, pipe) -> None:
    """A job the worker started but did not execute, back at the head of `queue`, `queued` as it was,
    neither finished nor failed."""
    execution.delete(job=job, pipeline=pipe)
    job.set_status(JobStatus.QUEUED, pipeline=pipe)
    queue.push_job_id(job.id, pipeline=pipe, at_front=True)


def drop(worker, job: Job, execution: Execution, pipe) -> None:
    """A job the worker gives up without a verdict (its run is left to its lease): `stopped`, kept as long
    as a result, in no registry."""
    execution.delete(job=job, pipeline=pipe)
    job.set_status(JobStatus.STOPPED, pipeline=pipe)
    job.cleanup(job.get_result_ttl(worker.default_result_ttl), pipeline=pipe, remove_from_queue=False)


def forget_worker(connection, worker_name: str, executions: Iterable[tuple[str, str, str]]) -> None:
    """Drop what RQ keeps of a worker process that died: the Executions it left, as (queue, job id,
    execution id), in the StartedJobRegistry and the job's ExecutionRegistry (RQ's clean-up, and its
    Job.get_executions, would fail on a job pushed again under the same id), and its worker entry (`rq
    info` would show a ghost). What Execution.delete removes, without the job's hash it needs."""
    with connection.pipeline(transaction=False) as pipe:
        for queue_name, job_id, execution_id in executions:
            execution = Execution(execution_id, job_id, connection=connection)
            StartedJobRegistry(queue_name, connection=connection).remove_execution(execution, pipeline=pipe)
            ExecutionRegistry(job_id, connection=connection).remove(execution, pipeline=pipe)
            pipe.delete(execution.key)
        pipe.execute()
    ghost = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=connection)
    if ghost is not None:
        ghost.register_death()


def queued_count(connection, queue_name: str) -> int:
    """How many jobs wait in the queue."""
    return Queue(queue_name, connection=connection).count
