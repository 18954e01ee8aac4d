"""`python -m worker.child`: one worker process under a supervisor (worker/supervisor.py starts it).

It runs up to WORKER_CONCURRENCY runs in threads (worker/threaded.py), all sharing one PostgreSQL pool,
one lease keeper and a few SMTP connections (worker/jobs.py), and tells its supervisor through the
pipe `--link-fd` which jobs it takes and which end (worker/link.py). It leaves with exit code 0 when it
stopped on its own (asked to, a job past its timeout, recycled, its supervisor gone); whatever it still
held then, the supervisor hands back. It never lingers: an abandoned thread spinning in a task cannot
hold the process open.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time

import redis
from rq import Queue

from core.ops.logs import configure_logging
from core.ops.settings import SettingsError
from core.runs.tasks import TaskImportError
from worker.jobs import DatabaseUnavailable, database_answers, expire_run, worker_context
from worker.link import NOT_A_RUN, ChildLink, run_of
from worker.threaded import ThreadedWorker

logger = logging.getLogger("worker")


def wait_for_redis(url: str) -> redis.Redis:
    """A Redis connection that answers, waiting with capped back-off (never a crash loop)."""
    delay = 1
    while True:
        conn = redis.Redis.from_url(url)
        try:
            conn.ping()
            return conn
        except redis.RedisError as exc:
            logger.error("Cannot reach Redis: %s: %s (retrying in %ds)", type(exc).__name__, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)


def end_late_job(job, error: str) -> None:
    """ThreadedWorker's on_timeout: end the run's attempt that the job was executing."""
    run_id, attempt = run_of(job)
    if run_id != NOT_A_RUN:
        expire_run(run_id, attempt, error)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.child", description=__doc__.splitlines()[0])
    parser.add_argument("--queue", required=True, help="the RQ queue to take jobs from")
    parser.add_argument("--concurrency", type=int, required=True, help="runs in flight at once")
    parser.add_argument("--link-fd", type=int, help="the pipe to the supervisor (none: run alone)")
    parser.add_argument("--burst", action="store_true", help="run the jobs queued now, then exit")
    args = parser.parse_args(argv)
    try:
        context = worker_context()
        settings = context.settings
        configure_logging(settings)
        context.registry.check_all()
    except (SettingsError, TaskImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    connection = wait_for_redis(settings.redis_url)
    link = ChildLink(args.link_fd, settings.job_timeout) if args.link_fd is not None else None
    worker = ThreadedWorker(
        [Queue(args.queue, connection=connection)], connection=connection,
        name=f"{socket.gethostname()}.{os.getpid()}", concurrency=args.concurrency, on_timeout=end_late_job,
        default_job_timeout=settings.job_timeout, timeout_grace=settings.worker_timeout_grace, link=link,
        max_jobs_per_process=settings.worker_max_runs, memory_limit_mb=settings.worker_max_memory_mb,
        unavailable=DatabaseUnavailable, database_answers=database_answers)
    logger.info("Worker process %d started on queue '%s' with up to %d runs in flight", os.getpid(), args.queue,
                args.concurrency)
    try:
        worker.work(burst=args.burst, logging_level=settings.log_level)
    finally:
        if worker.stop_reason is None:  # asked to stop: nothing is left in flight, close cleanly
            context.close()
    logger.info("Worker process %d stopped%s", os.getpid(), f" ({worker.stop_reason})" if worker.stop_reason else "")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not sys.exit: a thread stuck in a task must not keep the process alive
