"""The worker's lease on the runs it holds: renewed while it works, so the ticker can tell a slow run
from a lost worker.

A run's lease is set when the worker takes it (core.runs.lifecycle.take) and must be renewed before it
runs out; a thread of the worker process renews every held run in one statement every third of a
lease, on a connection of its own (the task may hold the main thread for minutes). If the process
dies, renewals stop and the ticker recovers the run once the lease has run out. A renewal that no
longer finds a run means the run was taken from this worker (its lease ran out while it was stuck):
that is logged, and the worker's own later writes find no row and stop.

One LeaseKeeper serves the whole process (every run it has in flight, in one statement per round).
A hold is renewed at most until its `until`: the job's timeout, plus WORKER_TIMEOUT_GRACE and
KILL_MARGIN, when the supervisor kills a process that did not stop. Until then a run stuck past its
timeout is the worker's to end (as a timeout, by the process or its supervisor), even when its
spinning threads starve the process's main loop for seconds; the ticker's recovery ("worker lost")
is for a worker that is gone. Past it, the lease runs out, so the ticker recovers the run even if
neither ever acts.
"""
from __future__ import annotations

import logging
import threading
import time

from core.ops import db
from core.runs import lifecycle

logger = logging.getLogger("worker")

# Seconds past a job's timeout + WORKER_TIMEOUT_GRACE before the supervisor kills a child that did not
# stop (worker/supervisor.py), and until which the run's lease is still renewed.
KILL_MARGIN = 5.0


def killed_after(timeout: float, grace: float) -> float:
    """Seconds after a job starts at which the supervisor kills a process still stuck in it (the job's
    timeout, WORKER_TIMEOUT_GRACE and KILL_MARGIN): the run's lease is renewed until then, never after."""
    return timeout + grace + KILL_MARGIN


class LeaseKeeper:
    def __init__(self, database_url: str, lease_seconds: float):
        self.database_url = database_url
        self.lease_seconds = lease_seconds
        self._held: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._suspects: dict[str, int] = {}  # held runs the last renewal did not find
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = None
        self._stopping = False

    def hold(self, run_id: str, attempt: int, *, seconds: float | None = None) -> None:
        """Keep renewing the run's lease for `attempt`, for at most `seconds` (None: until released)."""
        with self._lock:
            self._held[run_id] = attempt
            if seconds is None:
                self._until.pop(run_id, None)
            else:
                self._until[run_id] = time.monotonic() + seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew_loop, name="lease-keeper", daemon=True)
                self._thread.start()

    def release(self, run_id: str, attempt: int | None = None) -> None:
        """Stop renewing the run's lease (only if held for `attempt`, when given)."""
        with self._lock:
            if attempt is None or self._held.get(run_id) == attempt:
                self._held.pop(run_id, None)
                self._until.pop(run_id, None)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def _renew_loop(self) -> None:
        while not self._wake.wait(self.lease_seconds / 3):
            with self._lock:
                now = time.monotonic()
                for run_id in [r for r, until in self._until.items() if until < now]:
                    logger.warning("Run %s is past its timeout: its lease is no longer renewed", run_id,
                                   extra={"run_id": run_id})
                    self._held.pop(run_id, None)
                    self._until.pop(run_id, None)
                held = dict(self._held)
            if not held:
                continue
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = db.connect(self.database_url, application_name="worker-lease")
                still = lifecycle.renew_leases(self._conn, held, self.lease_seconds)
            except Exception as exc:  # PostgreSQL away: try again next round, before the lease runs out
                logger.warning("Could not renew the lease of %d run(s): %s", len(held), lifecycle.error_text(exc))
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                continue
            # A run missing from the answer was taken from this worker, or has just been concluded by
            # it (between the copy of `held` above and the renewal): only one still held a round
            # later was taken.
            missing = {run_id: held[run_id] for run_id in set(held) - still}
            with self._lock:
                for run_id, attempt in missing.items():
                    if self._held.get(run_id) == attempt and self._suspects.get(run_id) == attempt:
                        logger.warning("Run %s was taken from this worker (its lease ran out); "
                                       "its attempt %d stops here", run_id, attempt, extra={"run_id": run_id})
                self._suspects = {run_id: attempt for run_id, attempt in missing.items()
                                  if self._held.get(run_id) == attempt and self._suspects.get(run_id) != attempt}
