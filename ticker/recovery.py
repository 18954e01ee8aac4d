"""The ticker's recovery units: each finds one kind of run that would otherwise be stranded, moves it
on through core.runs.lifecycle, and returns how many it found (a full batch means: call again).

- `resume_paused`: schedules paused until an instant that has come are resumed (core.schedule.pauses), first,
  so that one whose next run is already due is dispatched in the same tick.

- `recover_lost_workers`: running runs whose lease ran out (worker killed, lost, hung) go to their
  next attempt, or end `failed` saying the worker was lost.
- `release_buffered`: buffered occurrences whose schedule has no run in flight any more (a safety
  net: ending a run releases its schedule's buffered one in the same transaction).
- `release_held`: held runs (over their account's cap on runs in flight, migration 0023) get the
  slots their account has free, when the release as runs leave flight missed one.
- `push_pending`: pending runs ready to push (manual runs, released runs, runs a crash or a Redis
  outage left pending).
- `push_due_retries`: retries whose time has come get their next attempt's job.
- `push_lost_queued`: queued runs whose job Redis no longer has (restarted empty, or the worker that
  took the job died before taking the run) get the same job again. This pass reads every queued run,
  so it runs at most every QUEUED_CHECK_EVERY_SECONDS, at once when Redis was seen emptied.
"""
from __future__ import annotations

import logging
import time

from core.ops.clock import utcnow
from core.ops import db
from core.ops.logs import stage
from core.runs import lifecycle
from core.schedule import pauses
from ticker.report import TickFigures

logger = logging.getLogger("ticker")

# A queued run younger than this is not asked about: its worker may be taking it right now.
QUEUED_CHECK_GRACE_SECONDS = 2.0
QUEUED_CHECK_EVERY_SECONDS = 30.0
# A key the ticker keeps in Redis: finding it gone means Redis lost its data (restarted empty).
REDIS_EPOCH_KEY = "schedules:ticker:redis-epoch"


class Recovery:
    def __init__(self, settings, metrics, *, repush_grace: float, instance_id: str, clock=None):
        self.settings, self.metrics = settings, metrics
        self.clock = clock or utcnow
        self.batch_size = settings.tick_batch_size
        self.repush_grace = repush_grace
        self.instance_id = instance_id
        self._queued_cursor = None        # where the pass over queued runs stands, None: at the start
        self._next_queued_pass = 0.0      # monotonic instant of the next pass
        self._queued_grace = QUEUED_CHECK_GRACE_SECONDS
        self._epoch_checked = False

    def run_all(self, conn, redis_conn, figures: TickFigures, should_stop) -> None:
        """Drain every unit, in an order where each feeds the next: recovered and released runs are
        pushed in the same tick."""
        for unit in (self.resume_paused, self.recover_lost_workers, self.release_buffered, self.release_held):
            while unit(conn, figures) == self.batch_size and not should_stop():
                pass
        for unit in (self.push_pending, self.push_due_retries, self.push_lost_queued):
            while unit(conn, redis_conn, figures) == self.batch_size and not should_stop():
                pass

    def resume_paused(self, conn, figures: TickFigures) -> int:
        with stage("resume paused schedules"), db.service_transaction(conn) as cur:
            resumed = pauses.resume_due(cur, self.clock(), limit=self.batch_size)
        for row in resumed:
            logger.info("Resumed schedule %s ('%s'): its pause ended; next run at %s", row["id"], row["name"],
                        row["next_run_at"] if row["active"] else "none (no run left)",
                        extra={"schedule_id": str(row["id"])})
        figures.resumed += len(resumed)
        return len(resumed)

    def recover_lost_workers(self, conn, figures: TickFigures) -> int:
        with stage("recover runs whose worker was lost"):
            recovered = lifecycle.recover_expired_leases(conn, self.settings, limit=self.batch_size)
        for r in recovered:
            logger.warning("Recovered run %s of schedule %s: %s -> %s", r.run_id, r.schedule_id, r.error,
                           r.outcome, extra={"run_id": r.run_id, "schedule_id": r.schedule_id})
        self._count(figures, "recovered", len(recovered))
        return len(recovered)

    def release_buffered(self, conn, figures: TickFigures) -> int:
        with stage("release buffered runs"), db.service_transaction(conn) as cur:
            released = lifecycle.release_buffered(cur)
        if released:
            logger.info("Released %d buffered run(s) whose schedule has no run in flight any more", len(released))
        self._count(figures, "released", len(released))
        return len(released)

    def release_held(self, conn, figures: TickFigures) -> int:
        with stage("release held runs"), db.service_transaction(conn) as cur:
            released = lifecycle.release_held(cur, limit=self.batch_size)
        if released:
            logger.info("Released %d held run(s) into free slots of their accounts' caps", len(released))
        return len(released)

    def push_pending(self, conn, redis_conn, figures: TickFigures) -> int:
        with stage("re-push pending runs"):
            run_ids = lifecycle.push_pending(conn, redis_conn, self.settings.queue_name,
                                             job_timeout=self.settings.job_timeout, limit=self.batch_size,
                                             grace=self.repush_grace)
        if run_ids:
            logger.info("Re-pushed %d run(s) left pending", len(run_ids))
        self._count(figures, "repushed", len(run_ids))
        return len(run_ids)

    def push_due_retries(self, conn, redis_conn, figures: TickFigures) -> int:
        with stage("push retries"):
            run_ids = lifecycle.push_due_retries(conn, redis_conn, self.settings.queue_name,
                                                 job_timeout=self.settings.job_timeout, limit=self.batch_size)
        if run_ids:
            logger.info("Queued the next attempt of %d run(s) whose retry came due", len(run_ids))
        self._count(figures, "retried", len(run_ids))
        return len(run_ids)

    def push_lost_queued(self, conn, redis_conn, figures: TickFigures) -> int:
        """One batch of the pass over queued runs, when a pass is due; returns the runs it checked."""
        with stage("check queued runs against Redis"):
            if self._redis_was_emptied(redis_conn):
                logger.warning("Redis has lost its data (restarted empty?): checking every queued run's job")
                # Every job queued before now is gone: ask about the youngest runs too.
                self._queued_cursor, self._next_queued_pass, self._queued_grace = None, 0.0, 0.0
            if self._queued_cursor is None and time.monotonic() < self._next_queued_pass:
                return 0
            check = lifecycle.push_lost_queued(
                conn, redis_conn, self.settings.queue_name, job_timeout=self.settings.job_timeout,
                limit=self.batch_size, grace=self._queued_grace,
                lease_seconds=self.settings.run_lease_seconds, after=self._queued_cursor)
        self._queued_cursor = check.after if check.checked == self.batch_size else None
        if self._queued_cursor is None:
            self._next_queued_pass = time.monotonic() + min(QUEUED_CHECK_EVERY_SECONDS, self.settings.tick_interval)
            self._queued_grace = QUEUED_CHECK_GRACE_SECONDS
        if check.repushed:
            logger.warning("Pushed again %d queued run(s) whose job Redis no longer had", len(check.repushed))
        self._count(figures, "requeued", len(check.repushed))
        return check.checked

    def redis_lost_data(self, redis_conn) -> bool:
        """A cheap look (one EXISTS) for the sleeping ticker: True when Redis lost the key this ticker
        keeps there, so the next tick checks every queued run's job at once."""
        return self._epoch_checked and not redis_conn.exists(REDIS_EPOCH_KEY)

    def _redis_was_emptied(self, redis_conn) -> bool:
        """True when the epoch key this ticker (or another) set is gone: Redis lost its data."""
        created = redis_conn.set(REDIS_EPOCH_KEY, self.instance_id, nx=True)
        first, self._epoch_checked = not self._epoch_checked, True
        return bool(created) and not first

    def _count(self, figures: TickFigures, what: str, n: int) -> None:
        if n:
            setattr(figures, what, getattr(figures, what) + n)
            self.metrics.runs.labels(what).inc(n)
