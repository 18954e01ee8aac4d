"""The RQ side of a run: the job that executes it, its id, and pushing jobs to Redis.

A run's job id is derived from the run id, so pushing the same run twice never makes a second job: a
re-push first asks Redis whether the job is already there. The job names the worker's entry point by
import path and carries only the run id; the worker reads everything else from PostgreSQL, so nothing
in Redis can make the worker import a path taken from a schedule.

`push_runs` writes what RQ 2's `Queue.enqueue_many` writes (one hash per job in RQ's format, the job
ids appended to the queue's list, the queue registered in `rq:queues`) but in one small Lua script
instead of building an RQ Job per run and packing each of its fields as a pipelined command: the ticker
pushes tens of thousands of jobs a second, and that packing was most of its time. The script also makes
`skip_existing` atomic (check and push in one step). RQ itself is not imported (it was a sixth of the
ticker's start-up); tests/integration/test_jobs.py and tests/ticker/test_jobs_format.py read the jobs
back with RQ's own Job.fetch, Queue and Worker, which keeps the two formats the same.
"""
from __future__ import annotations

import pickle
import struct
import zlib
from datetime import datetime, timezone
from typing import Iterable

RUN_JOB_FUNC = "worker.jobs.execute_run"
# A finished job's hash is kept a day for `rq info` and debugging; the run row is the real record.
RESULT_TTL_SECONDS = 24 * 3600
JOB_ID_PREFIX = "run-"
# RQ's names and formats (rq.job.Job.redis_job_namespace_prefix, rq.Queue.redis_queue_namespace_prefix
# and redis_queues_keys, rq.utils.utcformat).
RQ_JOB_PREFIX = "rq:job:"
RQ_QUEUE_PREFIX = "rq:queue:"
RQ_QUEUES_KEY = "rq:queues"
RQ_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# KEYS: the queue's list, the set of queues, then one job hash key per run.
# ARGV: timestamp, queue name, timeout, result ttl, skip_existing ("1" or "0"), at_front ("1": LPUSH,
# as RQ's enqueue(at_front=True)), then each job's data and description. Fields RQ's Job.to_dict() writes as '' are left out (the same to Job.restore).
_PUSH_SCRIPT = """
local pushed = 0
for i = 3, #KEYS do
  local key = KEYS[i]
  if ARGV[5] == '0' or redis.call('EXISTS', key) == 0 then
    local j = 2 * i + 1  -- the first job, KEYS[3], has ARGV[7] and ARGV[8]
    redis.call('HSET', key, 'created_at', ARGV[1], 'enqueued_at', ARGV[1], 'origin', ARGV[2],
               'status', 'queued', 'timeout', ARGV[3], 'result_ttl', ARGV[4],
               'data', ARGV[j], 'description', ARGV[j + 1])
    -- the job id: the key less its prefix
    redis.call(ARGV[6] == '1' and 'LPUSH' or 'RPUSH', KEYS[1], string.sub(key, %(id_starts_at)d))
    pushed = pushed + 1
  end
end
if pushed > 0 then
  redis.call('SADD', KEYS[2], KEYS[1])
end
return pushed
""" % {"id_starts_at": len(RQ_JOB_PREFIX) + 1}


def job_id_for(run_id, attempt: int = 1) -> str:
    """`run-<run id>` for a run's first attempt, `run-<run id>-a<N>` for attempt N: one job per
    attempt, so pushing the same attempt twice never makes a second job."""
    return f"{JOB_ID_PREFIX}{run_id}" if attempt == 1 else f"{JOB_ID_PREFIX}{run_id}-a{attempt}"


def job_data(run_id: str, attempt: int = 1) -> bytes:
    """RQ's `data` field for `execute_run(run_id[, attempt])`: (func, instance, args, kwargs), pickled,
    in a zlib stream (RQ's Job.restore reads it with zlib.decompress, as RQ writes it).

    The ticker builds tens of thousands of these a second, so neither step is done in full: every
    run id is a 36-character UUID string, so the pickle is the same bytes around the id, and the
    zlib stream is one stored (uncompressed) deflate block: a 100-byte pickle gains nothing from
    compression, and setting up a compressor cost 5 us a call. Any other id goes the long way.
    """
    run_id = str(run_id)
    if attempt == 1 and len(run_id) == _UUID_LENGTH and run_id.isascii():
        data = _PICKLE_HEAD + run_id.encode() + _PICKLE_TAIL
    else:  # a retry (rare) or an id of another shape: the long way
        data = _pickle_call(run_id, attempt)
    return (_ZLIB_STORED_HEAD + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data
            + struct.pack(">I", zlib.adler32(data)))


def _pickle_call(run_id: str, attempt: int = 1) -> bytes:
    args = (run_id,) if attempt == 1 else (run_id, attempt)
    return pickle.dumps((RUN_JOB_FUNC, None, args, {}), protocol=pickle.HIGHEST_PROTOCOL)


_UUID_LENGTH = 36
_PICKLE_HEAD, _PICKLE_TAIL = _pickle_call("0" * _UUID_LENGTH).split(b"0" * _UUID_LENGTH)
# A zlib header (deflate, 32 KiB window, no dictionary; 0x7801 is a multiple of 31 as RFC 1950
# requires) and the header byte of a final stored block; its LEN and NLEN follow.
_ZLIB_STORED_HEAD = b"\x78\x01\x01"


def push_runs(redis_conn, queue_name: str, runs: Iterable, *, job_timeout: int = 600,
              skip_existing: bool = False, at_front: bool = False) -> list[str]:
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
    keys = [RQ_QUEUE_PREFIX + queue_name, RQ_QUEUES_KEY] + [RQ_JOB_PREFIX + job_id for job_id in job_ids]
    stamp = datetime.now(timezone.utc).strftime(RQ_TIME_FORMAT)
    args = [stamp, queue_name, job_timeout, RESULT_TTL_SECONDS, "1" if skip_existing else "0",
            "1" if at_front else "0"]
    for run_id, attempt in pairs:
        args += (job_data(run_id, attempt), f"schedule run {run_id}" if attempt == 1
                 else f"schedule run {run_id} attempt {attempt}")
    redis_conn.register_script(_PUSH_SCRIPT)(keys=keys, args=args)
    return job_ids


# What a job's hash says about it, for telling a live job from a lost one (RQ's JobStatus values).
JOB_GONE = "gone"


def job_states(redis_conn, job_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """{job id: (status, started_at)} in one round trip; status JOB_GONE when Redis has no such job."""
    if not job_ids:
        return {}
    pipe = redis_conn.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(RQ_JOB_PREFIX + job_id, "status", "started_at")
    states = {}
    for job_id, (status, started_at) in zip(job_ids, pipe.execute()):
        states[job_id] = ((status.decode() if status else JOB_GONE),
                          started_at.decode() if started_at else None)
    return states
