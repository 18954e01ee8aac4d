"""The RQ side of a run: the job that executes it, its id, and pushing jobs to Redis.

A run's job id is derived from the run id, so pushing the same run twice never makes a second job: a
re-push first asks Redis whether the job is already there. The job names the worker's entry point by
import path and carries only the run id; the worker reads everything else from PostgreSQL, so nothing
in Redis can make the worker import a path taken from a schedule.
"""
from __future__ import annotations

from typing import Iterable

from rq import Queue

RUN_JOB_FUNC = "worker.jobs.execute_run"
# A finished job's hash is kept a day for `rq info` and debugging; the run row is the real record.
RESULT_TTL_SECONDS = 24 * 3600


def job_id_for(run_id) -> str:
    return f"run-{run_id}"


def push_runs(redis_conn, queue_name: str, run_ids: Iterable, *, job_timeout: int = 600,
              skip_existing: bool = False) -> list[str]:
    """Enqueue one job per run in a single pipelined round trip; returns the job ids now in Redis.

    `skip_existing` is for re-pushing runs left `pending` (the ticker died between pushing and marking
    them queued): a job already in Redis is not pushed again, only reported.
    """
    run_ids = [str(run_id) for run_id in run_ids]
    if not run_ids:
        return []
    job_ids = [job_id_for(run_id) for run_id in run_ids]
    queue = Queue(queue_name, connection=redis_conn)
    to_push = list(zip(run_ids, job_ids))
    if skip_existing:
        with redis_conn.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(f"rq:job:{job_id}")
            present = pipe.execute()
        to_push = [pair for pair, exists in zip(to_push, present) if not exists]
    if to_push:
        with redis_conn.pipeline() as pipe:
            queue.enqueue_many(
                [Queue.prepare_data(RUN_JOB_FUNC, args=(run_id,), job_id=job_id, timeout=job_timeout,
                                    result_ttl=RESULT_TTL_SECONDS, description=f"schedule run {run_id}")
                 for run_id, job_id in to_push],
                pipeline=pipe,
            )
            pipe.execute()
    return job_ids
