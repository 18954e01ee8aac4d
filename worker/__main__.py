"""`python -m worker [--burst]`: the worker, a supervisor over WORKER_PROCESSES child processes that each
keep up to WORKER_CONCURRENCY runs in flight in threads (worker/supervisor.py, worker/child.py).

Checks the settings and imports every task in TASKS before starting a child, so a typo stops the
worker at start with one line. Waits for Redis with capped back-off instead of crash-looping.
`--burst`: the children run the jobs queued now (and the supervisor the quarantine's), then all exit.
"""
from __future__ import annotations

import argparse
import sys

from core.ops.logs import configure_logging
from core.ops.settings import SettingsError, load_settings
from core.runs.tasks import TaskImportError, TaskRegistry
from worker.child import wait_for_redis
from worker.supervisor import Supervisor


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="run the jobs queued now, then exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings.require("database_url", "redis_url")
        configure_logging(settings)
        TaskRegistry(settings.tasks).check_all()
    except (SettingsError, TaskImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wait_for_redis(settings.redis_url).close()
    return Supervisor(settings, burst=args.burst).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
