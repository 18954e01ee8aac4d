"""`python -m worker [--burst]`: the project's RQ worker, configured from the environment.

It keeps up to WORKER_CONCURRENCY runs in flight in threads of one process (worker/threaded.py), all
sharing one PostgreSQL pool, one lease keeper and a few SMTP connections (worker/jobs.py). Checks the
settings and imports every task in TASKS before taking a job, so a typo stops the worker at start
with one line. Waits for Redis with capped back-off instead of crash-looping.
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
from worker.jobs import expire_run, worker_context
from worker.threaded import ThreadedWorker

logger = logging.getLogger("worker")


def wait_for_redis(url: str) -> redis.Redis:
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
    run_id, *rest = job.args
    expire_run(run_id, rest[0] if rest else job.kwargs.get("attempt", 1), error)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
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
    queue = Queue(settings.queue_name, connection=connection)
    worker = ThreadedWorker([queue], connection=connection, name=f"{socket.gethostname()}.{os.getpid()}",
                            concurrency=settings.worker_concurrency, on_timeout=end_late_job,
                            default_job_timeout=settings.job_timeout)
    logger.info("Worker started on queue '%s' with up to %d runs in flight (tasks: %s)", settings.queue_name,
                settings.worker_concurrency, ", ".join(context.registry.names()))
    try:
        worker.work(burst=args.burst, logging_level=settings.log_level)
    finally:
        context.close()
    logger.info("Worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
