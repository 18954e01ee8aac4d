"""The RQ job every run executes: `execute_run(run_id, attempt=1)`.

The worker takes the run for its attempt (a compare-and-set queued -> running, with a lease renewed
while it works: LeaseKeeper, below), checks the plan limit once per run, runs the registered task unless
an earlier attempt stored its result already, stores the result, delivers to every pending target of
the run's ledger (core/deliveries/delivery.py), and ends the run through core.runs.lifecycle:
succeeded, failed, delivery_failed, or `retrying`, which the ticker pushes again when due. Every write is a
compare-and-set on the attempt, so a job delivered twice executes once and a worker presumed dead
cannot finish a run that moved on. Nothing here talks to Redis: retries wait in PostgreSQL.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from core.deliveries import delivery
from core.deliveries.email import MailerPool
from core.ops import db
from core.ops.settings import Settings, load_settings
from core.runs import lifecycle, rq_jobs
from core.runs.run import Run, attempt_budget, retry_delay
from core.runs.tasks import TaskImportError, TaskNotRegistered, TaskRegistry

logger = logging.getLogger("worker")

# Seconds past a job's timeout + WORKER_TIMEOUT_GRACE before the supervisor kills a child that did not
# stop (worker/supervisor.py), and until which the run's lease is still renewed.
KILL_MARGIN = 5.0


def killed_after(timeout: float, grace: float) -> float:
    """Seconds after a job starts at which the supervisor kills a process still stuck in it (the job's
    timeout, WORKER_TIMEOUT_GRACE and KILL_MARGIN): the run's lease is renewed until then, never after."""
    return timeout + grace + KILL_MARGIN


@dataclass
class WorkerContext:
    """What every run in a worker process shares, made once: settings, the task registry (each task
    imported once), a PostgreSQL connection pool, the lease keeper (one renewal thread for every run
    in flight), a few SMTP connections reused from message to message and the channels' senders."""

    settings: Settings
    registry: TaskRegistry
    pool: db.ConnectionPool
    lease: LeaseKeeper
    mailers: MailerPool
    senders: delivery.Senders
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def build(cls, settings: Settings, registry: TaskRegistry | None = None) -> "WorkerContext":
        pool = db.ConnectionPool(settings.database_url, settings.worker_db_connections,
                                 wait_seconds=60, application_name="worker", plans="generic")
        mailers = MailerPool(settings, settings.smtp_connections)
        return cls(settings, registry if registry is not None else TaskRegistry(settings.tasks), pool,
                   LeaseKeeper(settings.database_url, settings.run_lease_seconds), mailers,
                   delivery.Senders(settings, mailers, pool))

    @contextmanager
    def transaction(self):
        """One service transaction on a pooled connection, given back at once."""
        with self.pool.connection() as conn, db.service_transaction(conn) as cur:
            yield cur

    @contextmanager
    def statements(self):
        """Statements on a pooled connection, each its own transaction (core.ops.db.service_statements)."""
        with self.pool.connection() as conn, db.service_statements(conn) as cur:
            yield cur

    def close(self) -> None:
        self.lease.stop()
        self.mailers.close()
        self.pool.close()


_context: WorkerContext | None = None


def worker_context() -> WorkerContext:
    """The process's WorkerContext, made on first use. A process forked from one that has it (RQ's
    fork-per-job work horse) makes its own: sockets are never shared across a fork."""
    global _context
    if _context is None or _context.pid != os.getpid():
        settings = load_settings()
        settings.require("database_url", "redis_url")
        _context = WorkerContext.build(settings)
    return _context


def worker_name() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached while executing a run. `taken` False: before the run was taken,
    so the job goes back to its queue untouched; True: the run is left to its lease (released here), and
    the job is dropped without counting as a failure. Either way the worker backs off until PostgreSQL
    answers again (worker/threaded.py)."""

    def __init__(self, run_id: str, taken: bool, cause: BaseException):
        super().__init__(f"PostgreSQL unreachable while {'executing' if taken else 'taking'} run {run_id}: "
                         f"{type(cause).__name__}: {str(cause).strip()}")
        self.taken = taken


def execute_run(run_id: str, attempt: int = 1) -> dict:
    return RunExecution(worker_context(), str(run_id), attempt).execute()


def database_answers() -> bool:
    """Whether PostgreSQL answers a query on a pooled connection (the worker's back-off probe)."""
    return db.answers(worker_context().pool)


def expire_run(run_id: str, attempt: int, error: str) -> str | None:
    """End an attempt that ran past its job timeout (its thread is stuck in the task); returns the
    outcome (retrying, failed) or None when the attempt no longer held the run."""
    context = worker_context()
    with context.transaction() as cur:
        outcome = lifecycle.end_timed_out(cur, str(run_id), attempt, error, context.settings)
    context.lease.release(str(run_id), attempt)
    if outcome:
        logger.error("Run %s %s: attempt %d ran past its timeout (%s); its thread is abandoned",
                     run_id, "will be retried" if outcome == "retrying" else "failed", attempt, error,
                     extra={"run_id": str(run_id)})
    return outcome


class RunExecution:
    def __init__(self, context: WorkerContext, run_id: str, attempt: int):
        self.context = context
        self.settings, self.registry, self.lease = context.settings, context.registry, context.lease
        self.run_id, self.attempt = run_id, attempt
        self.run: Run | None = None
        self.schedule: dict = {}

    def _log(self):
        return {"run_id": self.run_id, "schedule_id": self.schedule.get("id")}

    def execute(self) -> dict:
        try:
            return self._execute()
        except db.CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(self.run_id, self.run is not None, exc) from exc

    def _execute(self) -> dict:
        with self.context.statements() as cur:  # taking the run is one statement (core.runs.lifecycle.take)
            taken = lifecycle.take(cur, self.run_id, self.attempt, worker=worker_name(),
                                   lease_seconds=self.settings.run_lease_seconds)
            current = lifecycle.status_of(cur, self.run_id) if taken is None else None
        if taken is None:
            logger.info("Run %s not started: it is %s (attempt %s), so this job for attempt %d is a duplicate",
                        self.run_id, current["status"] if current else "gone",
                        current["attempt"] if current else "-", self.attempt, extra={"run_id": self.run_id})
            return {"status": "duplicate"}
        self.run, self.schedule = taken.run, taken.schedule
        if taken.refused:
            # Not counted (usage_counted stays false), so an attempt after a crash here is refused again.
            with self.context.transaction() as cur:
                lifecycle.skip_for_limit(cur, self.run, taken.refused)
            logger.warning("Run %s of schedule '%s' skipped: %s", self.run_id, self.schedule["name"], taken.refused,
                           extra=self._log())
            return {"status": "skipped_limit"}
        # Renewed until the supervisor would kill a process stuck in this run (LeaseKeeper): the
        # supervisor counts from the timeout the job was pushed with, which may not be this process's
        # JOB_TIMEOUT (the ticker's was set apart from it).
        timeout = rq_jobs.current_job_timeout(self.settings.job_timeout)
        self.lease.hold(self.run_id, self.attempt,
                        seconds=killed_after(timeout, self.settings.worker_timeout_grace))
        try:
            return self._execute_held()
        finally:
            self.lease.release(self.run_id, self.attempt)

    def _execute_held(self) -> dict:
        result = self.run.result
        if result is not None:  # an earlier attempt ran the task and stored its result: deliver it
            return self._deliver(result, save=False)
        try:
            task = self.registry[self.schedule["task"]]
        except (TaskNotRegistered, TaskImportError) as exc:
            return self._fail(exc, retry=False)  # retrying cannot make an unknown task known
        try:
            result = _jsonable(task(self.run.account_id, self._params()))
        except Exception as exc:  # the task's own failure
            return self._fail(exc, retry=True)
        return self._deliver(result, save=True)

    def _params(self) -> dict:
        s = self.schedule
        params = {
            "report_type": s["report_type"], "city": s["city"], "zips": s["zip_codes"] or [],
            "lookback_days": s["lookback_days"], "filters": s["filters"] or {},
            "schedule_id": str(s["id"]), "run_id": self.run_id,
        }
        params.update(s["task_parameters"] or {})
        return params

    def _deliver(self, result: dict, *, save: bool) -> dict:
        """Store the task's result (once: `save`) with the run's ledger and send (a statement per step:
        core.deliveries.delivery.deliver_pending), then conclude the run (one statement, most often:
        core.runs.lifecycle.conclude_delivery)."""
        targets = delivery.ledger_targets(self.settings, self.schedule, self.run_id)
        pool = self.context.pool
        counts = delivery.deliver_pending(pool, self.run, self.schedule, result, self.context.senders,
                                          targets=targets, save=save,
                                          resend_unknown=self.settings.unknown_outcome == "resend")
        if counts["lost"]:
            return self._lost()
        with self.context.statements() as cur:
            concluded = lifecycle.conclude_delivery(cur, self.run, self.settings)
        if concluded.outcome == "lost":
            return self._lost()
        outcome, summary = concluded.outcome, concluded.summary
        level = logging.INFO if outcome == "succeeded" else logging.WARNING
        logger.log(level, "Run %s of schedule '%s' %s (attempt %d): %d sent now, %d sent in all, %d suppressed, "
                   "%d failed, %d to retry", self.run_id, self.schedule["name"], outcome, self.attempt,
                   counts["sent"], summary["sent"], summary["suppressed"], summary["failed"], summary["unfinished"],
                   extra=self._log())
        return {"status": outcome, "emails_sent": counts["sent"]}

    def _fail(self, exc: BaseException, *, retry: bool) -> dict:
        error = lifecycle.error_text(exc)
        with self.context.transaction() as cur:
            budget = attempt_budget(self.settings, has_result=False)  # its task failed: no result stored
            if retry and self.attempt < budget:
                delay = retry_delay(self.attempt)
                moved = lifecycle.retry(cur, self.run, error, delay=delay)
                outcome = "retrying"
            else:
                moved = lifecycle.finish(cur, self.run, "failed", error)
                outcome = "failed"
        if not moved:
            return self._lost()
        if outcome == "retrying":
            logger.warning("Run %s of schedule '%s' failed (attempt %d of %d), retrying in %ds: %s",
                           self.run_id, self.schedule["name"], self.attempt, budget,
                           delay, error, extra=self._log())
        else:
            logger.error("Run %s of schedule '%s' failed after %d attempt(s): %s", self.run_id,
                         self.schedule["name"], self.attempt, error, extra=self._log())
        return {"status": outcome, "error": error}

    def _lost(self) -> dict:
        logger.warning("Run %s moved on without this worker (attempt %d): its lease ran out, so the ticker "
                       "recovered it; this attempt's outcome is dropped", self.run_id, self.attempt, extra=self._log())
        return {"status": "lost"}


def _jsonable(result) -> dict:
    """A task's result as a JSON object (a non-dict result is wrapped; unknown types become strings)."""
    if not isinstance(result, dict):
        result = {"result": result}
    return json.loads(json.dumps(result, default=str))


class LeaseKeeper:
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
