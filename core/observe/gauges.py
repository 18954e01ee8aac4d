"""The gauges every process can read from PostgreSQL for Prometheus (`SqlCollector`), and where
prometheus_client keeps a multi-process web server's figures (`multiprocess_dir`).

The process-specific metrics live beside their process: the ticker's in ticker/metrics.py (served on
METRICS_PORT), the web process's HTTP requests in api/metrics.py (served with these gauges on
GET /metrics). Labels are few and bounded (a status, a state, a kind, an HTTP method and route
template): never a schedule or an account, so 100,000 schedules make the same handful of series as ten.

`SqlCollector`: gauges computed from PostgreSQL when scraped, cached: due schedules and how late the
oldest is, runs left pending, schedules by state, health issues by kind, runs of the last 24 h by
status, emails of the last 24 h by result, the age of the freshest ticker heartbeat.

Why the worker's outcomes (succeeded, failed, skipped_limit; emails sent or failed) are gauges read
from SQL rather than counters: worker processes come and go (every deploy, every crash, and RQ's own
fork-per-job worker runs each job in a process that exits when it ends); a counter incremented there
dies with the process, and prometheus_client's multi-process mode would leave files behind for every
scrape to read. The runs and email_log rows already
record every outcome, so counting them needs no exposition in the worker and survives restarts.

Gunicorn runs several worker processes. With PROMETHEUS_MULTIPROC_DIR set (to an empty directory:
gunicorn.conf.py empties it at start and marks exited workers dead), the request metrics are written
to files there and /metrics adds every process's up. Without it each process reports its own requests
only, which is right for a single worker process and for tests. Set it for the web process only.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from contextlib import AbstractContextManager
from typing import Callable

from prometheus_client.core import GaugeMetricFamily

from core.ops import db
from core import model
from core.ops.clock import utcnow
from core.ops.sql import queries

logger = logging.getLogger(__name__)

SCHEDULE_STATES = ("active", "inactive", "paused", "failing", "stale", "erroring")
EMAIL_RESULTS = ("sent", "failed")
RECENT_SECONDS = 24 * 3600

# SqlCollector: the backlog query is cheap (index ranges); the counts read more, so less often.
BACKLOG_CACHE_SECONDS = 5.0
COUNTS_CACHE_SECONDS = 60.0
STATEMENT_TIMEOUT_MS = 10_000
WARN_EVERY_SECONDS = 60.0


def multiprocess_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR (or its old lower-case spelling), as prometheus_client reads it."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


class SqlCollector:
    """Gauges read from PostgreSQL when scraped, cached (backlog a few seconds, counts a minute).

    `connection` is called for each refresh and returns a context manager giving a psycopg2
    connection (the API lends one from its pool). If PostgreSQL cannot be read, the scrape says
    `schedules_metrics_database_up 0` and no stale figure; the failure is cached like a result, so a
    database outage costs one attempt per cache period, not one per scrape.
    """

    def __init__(self, connection: Callable[[], AbstractContextManager], *,
                 backlog_seconds: float = BACKLOG_CACHE_SECONDS, counts_seconds: float = COUNTS_CACHE_SECONDS,
                 monotonic=time.monotonic, now=utcnow):
        self._connection = connection
        self.backlog_seconds = backlog_seconds
        self.counts_seconds = counts_seconds
        self._monotonic = monotonic
        self._now = now
        self._lock = threading.Lock()
        self._backlog: dict | None = None
        self._counts: dict | None = None
        self._backlog_at = self._counts_at = -math.inf
        self._warned_at = -math.inf

    def invalidate(self) -> None:
        """Forget the cache: the next scrape reads PostgreSQL again."""
        with self._lock:
            self._backlog_at = self._counts_at = -math.inf

    def collect(self):
        with self._lock:
            backlog, counts = self._refresh()
        up = GaugeMetricFamily("schedules_metrics_database_up",
                               "1 when /metrics could read PostgreSQL for the gauges below, else 0.",
                               value=1 if backlog is not None else 0)
        yield up
        if backlog is None:
            return
        yield GaugeMetricFamily("schedules_due", "Active schedules whose next run is now or past (or not yet "
                                "computed): what the ticker has to dispatch; near 0 when it keeps up.",
                                value=backlog["due"])
        yield GaugeMetricFamily("schedules_due_oldest_seconds",
                                "How late the most overdue due schedule is (0 when none is due).",
                                value=backlog["oldest_due_seconds"])
        yield GaugeMetricFamily("schedules_runs_pending",
                                "Runs recorded but not yet pushed to Redis (the ticker re-pushes them).",
                                value=backlog["pending"])
        yield GaugeMetricFamily("schedules_runs_held",
                                "Runs waiting in PostgreSQL for a slot of their account's plan cap on runs in flight "
                                "(pushed as the account's runs finish).", value=backlog["held"])
        yield GaugeMetricFamily("schedules_runs_retrying",
                                "Runs waiting in PostgreSQL for their next attempt (task or delivery retries).",
                                value=backlog["retrying"])
        yield GaugeMetricFamily("schedules_runs_lease_expired",
                                "Running runs whose worker stopped renewing the lease, not yet recovered by a "
                                "ticker (near 0 while a ticker runs).", value=backlog["lease_expired"])
        yield GaugeMetricFamily("schedules_queued_oldest_seconds",
                                "How long the oldest queued run has waited for a worker (0 when none waits): "
                                "the workers' backlog.", value=backlog["oldest_queued_seconds"])
        age = backlog["heartbeat_age_seconds"]
        yield GaugeMetricFamily("schedules_ticker_heartbeat_age_seconds",
                                "Seconds since the freshest ticker heartbeat (+Inf when no ticker has one).",
                                value=math.inf if age is None else max(age, 0.0))
        if counts is None:
            return
        yield _labelled("schedules_by_state", "Schedules by state; paused ones are inactive too; the last three "
                        "count active schedules only "
                        "and overlap (failing and stale as in GET /v1/schedules/health; erroring: the last "
                        "run or dispatch attempt left an error).", "state", counts["states"])
        yield _labelled("schedules_health_issues", "Active schedules with each health problem of seed 003 "
                        "(failing, stale, consecutive_failures), and schedules that paused themselves "
                        "(paused_after_failures).", "kind", counts["kinds"])
        yield _labelled("schedules_runs_by_status", "Runs created in the last 24 hours, by their status now "
                        "(the worker's outcomes: succeeded, failed, skipped_limit).", "status", counts["runs"])
        yield _labelled("schedules_emails_by_result", "Report emails logged in the last 24 hours, by result.",
                        "result", counts["emails"])

    def _refresh(self) -> tuple[dict | None, dict | None]:
        clock = self._monotonic()
        backlog_due = clock - self._backlog_at >= self.backlog_seconds
        # After a failure the counts come back with the backlog, not a whole counts period later.
        counts_due = clock - self._counts_at >= self.counts_seconds or (self._counts is None and backlog_due)
        if backlog_due or counts_due:
            try:
                with (self._connection() as conn,
                      db.service_transaction(conn, statement_timeout_ms=STATEMENT_TIMEOUT_MS) as cur):
                    if backlog_due:
                        cur.execute(queries["metrics_backlog"])
                        self._backlog = dict(cur.fetchone())
                    if counts_due:
                        self._counts = self._read_counts(cur)
            except Exception as exc:  # a scrape must never fail because the database did
                self._backlog = self._counts = None
                backlog_due = counts_due = True
                if clock - self._warned_at >= WARN_EVERY_SECONDS:
                    self._warned_at = clock
                    logger.warning("Metrics could not read PostgreSQL: %s: %s", type(exc).__name__,
                                   " ".join(str(exc).split()))
            if backlog_due:
                self._backlog_at = clock
            if counts_due:
                self._counts_at = clock
        return self._backlog, (self._counts if self._backlog is not None else None)

    def _read_counts(self, cur) -> dict:
        cur.execute(queries["count_schedules_by_state"], {"now": self._now(), **model.health_parameters()})
        row = cur.fetchone()
        cur.execute(queries["count_recent_runs_by_status"], {"window": RECENT_SECONDS})
        runs = {r["status"]: r["runs"] for r in cur.fetchall()}
        cur.execute(queries["count_recent_emails_by_result"], {"window": RECENT_SECONDS})
        emails = {r["result"]: r["emails"] for r in cur.fetchall()}
        return {
            "states": {state: row[state] for state in SCHEDULE_STATES},
            "kinds": {kind: row[kind] for kind in model.HEALTH_KINDS},
            "runs": {status: runs.get(status, 0) for status in model.RUN_STATUSES},
            "emails": {result: emails.get(result, 0) for result in EMAIL_RESULTS},
        }


def _labelled(name: str, documentation: str, label: str, values: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], value)
    return family
