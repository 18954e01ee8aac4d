"""The ticker's own Prometheus metrics, served on METRICS_PORT by `python -m ticker` (ticker/__main__.py).

Tick duration, dispatch lag, runs dispatched / missed / re-pushed (and the rest of TICKER_RUN_STATUSES),
schedules it could not compute, failed ticks, rows deleted by retention, the time of its last tick.
Labels are few and bounded (a status, a table): never a schedule or an account. The gauges every
process can read from PostgreSQL are core/observe/gauges.py's; the web process's are api/metrics.py's.
"""
from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# No `*_created` twin of every counter and histogram series: Prometheus does not need them.
disable_created_metrics()

# What the ticker did with runs: dispatched (queued), missed, skipped_overlap, buffered, and its
# recovery: re-pushed (left pending), retried (a retry came due), recovered (worker lost),
# requeued (Redis lost the job), released (a buffered run whose schedule is free again).
TICKER_RUN_STATUSES = ("dispatched", "missed", "skipped_overlap", "buffered", "repushed", "retried", "recovered",
                       "requeued", "released")
RETENTION_TABLES = ("schedule_runs", "email_log")

# From a run dispatched at its instant (tens of ms) to one dispatched after an outage (an hour).
DISPATCH_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# An idle tick takes a millisecond or two; one that dispatches 10,000 runs, about a second.
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class TickerMetrics:
    """One ticker's metrics, on a registry of its own (tests build several tickers in one process)."""

    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.tick_duration = Histogram(
            "schedules_tick_duration_seconds", "Time one tick took: re-push pending runs, dispatch every due schedule.",
            buckets=TICK_BUCKETS, registry=registry)
        self.dispatch_lag = Histogram(
            "schedules_dispatch_lag_seconds", "Seconds from a run's scheduled_for to its job being queued in Redis.",
            buckets=DISPATCH_LAG_BUCKETS, registry=registry)
        self.runs = Counter(
            "schedules_runs",
            "Runs the ticker dispatched (queued), recorded as missed, skipped or buffered by the overlap "
            "policy, or recovered: re-pushed, retried, recovered from a lost worker, requeued, released.",
            ["status"], registry=registry)
        self.dispatch_errors = Counter(
            "schedules_dispatch_errors", "Due schedules whose next run could not be computed (pushed back, retried).",
            registry=registry)
        self.tick_failures = Counter(
            "schedules_tick_failures", "Ticks that failed (PostgreSQL or Redis unreachable); the ticker retries.",
            registry=registry)
        self.retention_deleted = Counter(
            "schedules_retention_deleted_rows", "Rows deleted by retention (older than RUN_RETENTION_DAYS).",
            ["table"], registry=registry)
        self.last_tick = Gauge(
            "schedules_ticker_last_tick_timestamp_seconds", "Unix time at which this ticker last finished a tick.",
            registry=registry)
        for status in TICKER_RUN_STATUSES:  # every series exists from the start, so rate() sees the first one
            self.runs.labels(status)
        for table in RETENTION_TABLES:
            self.retention_deleted.labels(table)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
