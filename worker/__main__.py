"""`python -m worker [--burst]`: an RQ worker on the project's queue, configured from the environment.

Checks the settings and imports every task in TASKS before taking a job, so a typo stops the worker
at start with one line. Waits for Redis with capped back-off instead of crash-looping.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time

import redis
from rq import Queue, Worker

from core.logs import configure_logging
from core.settings import SettingsError
from core.tasks import TaskImportError
from worker.jobs import worker_context

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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="run the jobs queued now, then exit")
    args = parser.parse_args(argv)
    try:
        settings, registry = worker_context()
        configure_logging(settings)
        registry.check_all()
    except (SettingsError, TaskImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    connection = wait_for_redis(settings.redis_url)
    queue = Queue(settings.queue_name, connection=connection)
    worker = Worker([queue], connection=connection, name=f"{socket.gethostname()}.{os.getpid()}")
    logger.info("Worker started on queue '%s' (tasks: %s)", settings.queue_name, ", ".join(registry.names()))
    worker.work(burst=args.burst, logging_level=settings.log_level)
    logger.info("Worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
