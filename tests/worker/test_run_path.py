"""One run's path, traced: the project's modules a scheduled run delivered by email goes through, from
the ticker's claim to the worker's last write, are the ones docs/layout.md lists, and no more.

A new module on the path (or one gone) fails here until the page says so: the page is where a reader
learns which files one run crosses, and it stays true. The infrastructure every path stands on
(connections, the query loader, the pool's free list, logging, the clock) is left out, as the page says.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from core.ops.settings import load_settings
from tests.worker.conftest import fetch, make_schedule

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = {"core/ops/db.py", "core/ops/sql.py", "core/ops/freelist.py", "core/ops/logs.py",
                  "core/ops/clock.py"}
# The functions a run's path starts from: the ticker's batch, the worker's take, start, execution and end.
ROOTS = {("ticker/lanes.py", "dispatch_batch"), ("worker/threaded.py", "_dequeue"), ("worker/threaded.py", "_start"),
         ("worker/threaded.py", "_thread_loop"), ("worker/threaded.py", "_reap")}
TICKER_SIDE = {"ticker/lanes.py", "core/runs/dispatch.py", "core/engine/timing.py", "core/runs/run.py",
               "core/runs/lifecycle.py", "core/runs/rq_jobs.py"}
WORKER_SIDE = {"worker/threaded.py", "core/runs/rq_jobs.py", "worker/jobs.py", "core/runs/lifecycle.py",
               "core/runs/run.py", "core/deliveries/delivery.py", "core/deliveries/email.py"}
TASK = "core/runs/demo_tasks.py"  # the task's own module: not the service's path


class PathTrace:
    """The project's modules whose functions are entered below one of ROOTS, in every thread (not the
    code a first import runs, which depends on what ran before)."""

    def __init__(self):
        self.modules: set[str] = set()

    def _module(self, code) -> str | None:
        path = code.co_filename
        if not path.startswith(str(ROOT)) or "/.venv/" in path or "/tests/" in path:
            return None
        return os.path.relpath(path, ROOT)

    def _profile(self, frame, event, arg):
        if event != "call" or frame.f_code.co_name == "<module>":
            return
        module = self._module(frame.f_code)
        if module is None or module in INFRASTRUCTURE:
            return
        caller = frame
        while caller is not None:
            if (self._module(caller.f_code), caller.f_code.co_name) in ROOTS:
                self.modules.add(module)
                return
            if caller.f_code.co_name == "<module>":
                return  # a module being imported: not the run's path, wherever the first import happens
            caller = caller.f_back

    def __enter__(self):
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)
        threading.setprofile(None)


@contextmanager
def _process_state_kept():
    """worker.child.main, run in this process, sets the root logger up and RQ's worker installs its
    signal handlers: both are put back for the tests that follow in this process."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    signals = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for number, handler in signals.items():
            signal.signal(number, handler)


def test_a_scheduled_runs_path_crosses_the_modules_the_layout_page_lists(conn, account_id, worker_env, smtp_server,
                                                                         monkeypatch):
    from ticker.loop import Ticker
    from worker import child

    env = {**worker_env, "SMTP_URL": smtp_server.url, "EMAIL_FROM": "Schedules <reports@example.com>"}
    env.pop("OUTBOX_DIR")
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # worker.child reads its settings from the environment
    schedule_id = make_schedule(conn, account_id, task="generate_report")
    fetch(conn, "UPDATE schedules SET next_run_at = now() - interval '1 second' WHERE id = %s RETURNING id",
          schedule_id)

    ticker = Ticker(load_settings(env), heartbeat=False, repush_grace=0.0)
    try:
        with PathTrace() as ticker_trace:
            ticker.run_once()
    finally:
        ticker.close()
    with PathTrace() as worker_trace, _process_state_kept():
        assert child.main(["--queue", env["RQ_QUEUE"], "--concurrency", "1", "--burst"]) == 0

    [run] = fetch(conn, "SELECT status FROM schedule_runs WHERE schedule_id = %s", schedule_id)
    assert run["status"] == "succeeded" and len(smtp_server.messages) == 1
    assert ticker_trace.modules == TICKER_SIDE
    assert worker_trace.modules - {TASK} == WORKER_SIDE

    page = (ROOT / "docs" / "layout.md").read_text()
    section = page[page.index("One run's path"):]
    for module in TICKER_SIDE | WORKER_SIDE | INFRASTRUCTURE:
        assert f"`{module}`" in section, module
    assert re.search(rf"That is {len(TICKER_SIDE | WORKER_SIDE)} modules: {len(TICKER_SIDE)} on the ticker's "
                     rf"side, {len(WORKER_SIDE)} on the worker's", " ".join(section.split())), section[-400:]
