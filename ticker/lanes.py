"""Dispatching every due schedule, in batches, on up to LANES connections at once, and the log lines
of each batch.

Each lane claims, records and commits a batch (core.runs.dispatch), then queues it (core.runs.lifecycle)
and reports it (`report_recorded`, `report_queued`), one batch after another on its own connection:
core.runs.dispatch's exactly-once argument is per batch and does not care which lane runs it, and SKIP
LOCKED keeps lanes off each other's rows. Lane 0 runs in the caller's thread, the others in helper
threads: while one waits on PostgreSQL or Redis, another runs its Python. The helpers start only once
lane 0's first batch came back full: most ticks find less than a batch (or nothing) and need no second
lane. A lane that fails makes the others stop after their batch in hand; its error is raised.

A small batch logs one line per schedule, as operators tailing the log expect ("Processed schedule
'Weekly Market Snapshot': run_id=..."); a large one (a Monday 9:00 burst) logs one summary line at
INFO and the per-run lines at DEBUG, so the log stays readable and logging costs nothing per run.
"""
from __future__ import annotations

import logging
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from core.ops import db
from core.ops.logs import stage
from core.runs import dispatch, lifecycle
from ticker.report import TickFigures

logger = logging.getLogger("ticker")

# Batches in flight at once: two keep both of a small machine's cores busy, more only add
# connections. A ticker that sees other tickers alive runs one lane: together they keep enough
# batches in flight, and each extra lane would only make them skip each other's locked rows
# (measured at N=100,000 with 4 tickers: 4% more runs/s with one lane each than with two).
LANES = 2
# Batches up to this many runs log one line per run at INFO; larger ones summarise.
PER_RUN_INFO_LIMIT = 20


@dataclass
class Lane:
    """One connection's share of a tick: what it did and how it failed."""

    conn: object
    figures: TickFigures = field(default_factory=TickFigures)
    error: BaseException | None = None


class Dispatcher:
    def __init__(self, settings, metrics, clock, should_stop: Callable[[], bool]):
        self.settings, self.metrics, self.clock, self.should_stop = settings, metrics, clock, should_stop
        self.batch_size = settings.tick_batch_size
        self._helpers = futures.ThreadPoolExecutor(max_workers=LANES - 1, thread_name_prefix="ticker-lane")
        self._halt = False
        self.redis = None

    def dispatch_due(self, conns, redis_conn, figures: TickFigures) -> None:
        """Dispatch everything due on the lanes of `conns`, adding what they did to `figures`."""
        self.redis = redis_conn
        lanes = [Lane(conn) for conn in conns]
        self._halt = False
        helpers = []
        try:
            if self._dispatch_next(lanes[0]):
                helpers = [self._helpers.submit(self._drain, lane) for lane in lanes[1:]]
                self._drain(lanes[0])
        finally:
            futures.wait(helpers)  # their connections may be closed next: let them finish first
            for lane in lanes:
                figures.add(lane.figures)
        for lane in lanes:
            if lane.error is not None:
                raise lane.error

    def _drain(self, lane: Lane) -> None:
        while self._dispatch_next(lane):
            pass

    def _dispatch_next(self, lane: Lane) -> bool:
        """One batch on `lane`; whether there may be more behind it (it was full: rows without
        next_run_at come on top) and no stop was asked for and no lane failed."""
        if self.should_stop() or self._halt:
            return False
        try:
            return self.dispatch_batch(lane) >= self.batch_size
        except Exception as exc:
            lane.error = exc
            self._halt = True
            return False

    def dispatch_batch(self, lane: Lane) -> int:
        """Claim, record and commit one batch of due schedules, then queue it; returns how many it claimed."""
        now = self.clock()
        with db.service_transaction(lane.conn) as cur:
            with stage("query due schedules"):
                rows = dispatch.claim_due(cur, now, self.batch_size)
            if not rows:
                return 0
            batch = dispatch.plan_batch(rows, now)
            with stage("record runs"):
                dispatch.record_batch(cur, batch)
        # The rows are pushed forward and committed; only now is each failure reported.
        report_recorded(batch, lane.figures, self.metrics)
        with stage("push jobs to Redis"):
            queued = set(lifecycle.queue_runs(lane.conn, self.redis, self.settings.queue_name, batch.to_push,
                                              job_timeout=self.settings.job_timeout, accounts=batch.accounts))
        report_queued(batch, queued, self.clock(), lane.figures, self.metrics)
        return batch.claimed

    def close(self) -> None:
        self._helpers.shutdown(wait=True)


def report_recorded(batch, figures: TickFigures, metrics) -> None:
    """A batch is recorded and committed: count it and log what did not become a plain run."""
    logger.info("Found %d due schedule(s)", batch.claimed)
    figures.due += batch.claimed
    for o in batch.outcomes:
        if o.kind == "failed":
            figures.errors += 1
            metrics.dispatch_errors.inc()
            logger.error("Failed to process schedule %s: %s (retrying at %s)", o.schedule_id, o.error,
                         o.next_run_at.isoformat(), extra={"schedule_id": o.schedule_id})
        elif o.kind == "missed":
            figures.missed += 1
            metrics.runs.labels("missed").inc()
            logger.warning("Missed schedule '%s': run_id=%s, scheduled_for=%s is %.0fs late "
                           "(misfire grace %ss), next_run_at=%s", o.name, o.run_id,
                           o.scheduled_for.isoformat(), o.late_seconds, o.grace_seconds, instant(o.next_run_at),
                           extra={"schedule_id": o.schedule_id, "run_id": o.run_id})
        elif o.kind == "skipped":
            figures.skipped += 1
            metrics.runs.labels("skipped_overlap").inc()
            logger.info("Skipped schedule '%s' for %s: its previous run is unfinished (overlap policy), "
                        "run_id=%s, next_run_at=%s", o.name, o.scheduled_for.isoformat(), o.run_id,
                        instant(o.next_run_at), extra={"schedule_id": o.schedule_id, "run_id": o.run_id})
        elif o.kind == "buffered":
            figures.buffered += 1
            metrics.runs.labels("buffered").inc()
            logger.info("Buffered schedule '%s' for %s until its previous run ends: run_id=%s, next_run_at=%s",
                        o.name, o.scheduled_for.isoformat(), o.run_id, instant(o.next_run_at),
                        extra={"schedule_id": o.schedule_id, "run_id": o.run_id})
        elif o.kind == "computed":
            logger.info("Scheduled '%s' (%s) without a run: next_run_at=%s", o.name, o.schedule_id,
                        instant(o.next_run_at), extra={"schedule_id": o.schedule_id})
    for o in batch.duplicates:
        logger.warning("Schedule %s already has a run for %s; no second run recorded",
                       o.schedule_id, o.scheduled_for.isoformat(), extra={"schedule_id": o.schedule_id})


def report_queued(batch, queued: set[str], pushed_at: datetime, figures: TickFigures, metrics) -> None:
    """The batch's runs are queued: count them, observe their lag, log them (see the module's doc)."""
    runs = [o for o in batch.outcomes if o.kind == "run" and o.run_id in queued]  # else a re-push counted it
    per_run = logging.INFO if len(runs) <= PER_RUN_INFO_LIMIT else logging.DEBUG
    worst = 0.0
    for o in runs:
        lag = (pushed_at - o.scheduled_for).total_seconds()
        worst = max(worst, lag)
        metrics.dispatch_lag.observe(max(lag, 0.0))
        if logger.isEnabledFor(per_run):
            logger.log(per_run, "Processed schedule '%s': run_id=%s, task_id=%s, next_run_at=%s",
                       o.name, o.run_id, o.job_id, instant(o.next_run_at),
                       extra={"schedule_id": o.schedule_id, "run_id": o.run_id, "job_id": o.job_id})
    if per_run == logging.DEBUG:
        logger.info("Processed schedules: %d run(s) enqueued, worst lag %.1fs (LOG_LEVEL=DEBUG lists each)",
                    len(runs), worst)
    figures.dispatched += len(runs)
    figures.worst_lag_seconds = max(figures.worst_lag_seconds, worst)
    metrics.runs.labels("dispatched").inc(len(runs))


def instant(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "None (no further run: schedule deactivated)"
