"""What a tick did: its figures (the summary line, the heartbeat, the metrics), the log lines of a
dispatched batch, and the label every unit puts on its own errors.

A small batch logs one line per schedule, as operators tailing the log expect ("Processed schedule
'Weekly Market Snapshot': run_id=..."); a large one (a Monday 9:00 burst) logs one summary line at
INFO and the per-run lines at DEBUG, so the log stays readable and logging costs nothing per run.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime

import psycopg2

from core.runs.dispatch import error_line

logger = logging.getLogger("ticker")

# Batches up to this many runs log one line per run at INFO; larger ones summarise.
PER_RUN_INFO_LIMIT = 20


@contextmanager
def stage(name: str):
    """Label an error raised inside with what the ticker was doing ("push retries"), once: the
    innermost label wins, and the loop's log line says "Failed to <stage>: <error>"."""
    try:
        yield
    except BaseException as exc:
        if not hasattr(exc, "ticker_stage"):
            try:
                exc.ticker_stage = name
            except AttributeError:
                pass  # an exception type that takes no attributes: the loop says "tick"
        raise


def stage_of(exc: BaseException) -> str:
    return getattr(exc, "ticker_stage", "tick")


@dataclass
class TickFigures:
    """What one tick did: logged as its summary line and stored in the heartbeat."""

    due: int = 0
    dispatched: int = 0
    missed: int = 0
    skipped: int = 0
    buffered: int = 0
    errors: int = 0
    repushed: int = 0
    retried: int = 0
    recovered: int = 0
    requeued: int = 0
    released: int = 0
    resumed: int = 0
    worst_lag_seconds: float = 0.0
    duration_ms: int = 0

    @property
    def did_work(self) -> bool:
        return bool(self.due or self.repushed or self.retried or self.recovered or self.requeued or self.released
                    or self.resumed)

    def add(self, other: TickFigures) -> None:
        for f in fields(self):
            if f.name == "worst_lag_seconds":
                self.worst_lag_seconds = max(self.worst_lag_seconds, other.worst_lag_seconds)
            elif f.name != "duration_ms":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> str:
        """`Tick: dispatched 2, missed 0, failed 0, re-pushed 0 in 14 ms (worst lag 0.3s)`, plus the
        overlap and recovery figures when they are not zero."""
        extra = "".join(f", {label} {value}" for label, value in (
            ("skipped (overlap)", self.skipped), ("buffered", self.buffered), ("retried", self.retried),
            ("recovered (worker lost)", self.recovered), ("requeued (job lost)", self.requeued),
            ("released", self.released), ("resumed (pause ended)", self.resumed)) if value)
        return (f"Tick: dispatched {self.dispatched}, missed {self.missed}, failed {self.errors}, "
                f"re-pushed {self.repushed}{extra} in {self.duration_ms} ms "
                f"(worst lag {self.worst_lag_seconds:.1f}s)")


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


def cause_line(exc: BaseException) -> str:
    """The error as one line, naming the cause rather than its echo: a query on a connection the
    server killed fails with OperationalError, then the rollback with "connection already closed"."""
    while isinstance(exc, psycopg2.InterfaceError) and isinstance(exc.__context__, psycopg2.Error):
        exc = exc.__context__
    return error_line(exc)
