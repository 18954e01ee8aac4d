"""The ticker's chores between ticks: the hourly schedule health check and a retention pass every few
minutes. Neither may stop dispatch: a failure is logged and the chore waits for its next turn."""
from __future__ import annotations

import logging
import time

import psycopg2

from core.observe import health
from core.ops import db
from core.ops.logs import stage, stage_of
from core.retention.sweep import Pruned, RetentionSweep
from ticker.report import cause_line

logger = logging.getLogger("ticker")

# The health check logs each problem schedule at most this often (per ticker). Retention runs a pass
# (at most core.retention.sweep.PASS_SECONDS) this often, and more often while a backlog remains.
HEALTH_CHECK_EVERY_SECONDS = 3600
HEALTH_LOG_LIMIT = 100
RETENTION_EVERY_SECONDS = 60
RETENTION_BACKLOG_EVERY_SECONDS = 5


class Chores:
    def __init__(self, settings, metrics, clock):
        self.settings, self.metrics, self.clock = settings, metrics, clock
        self.retention = RetentionSweep()
        self.next_health_check = 0.0  # monotonic instants; 0: after the first tick
        self.next_retention = 0.0

    def run_due(self, conn, should_stop) -> None:
        now = time.monotonic()
        if now >= self.next_health_check and not should_stop():
            self.next_health_check = now + HEALTH_CHECK_EVERY_SECONDS
            self._chore(self.check_health, conn, HEALTH_CHECK_EVERY_SECONDS)
        if now >= self.next_retention and not should_stop():
            self.next_retention = now + RETENTION_EVERY_SECONDS
            pruned = self._chore(self.prune_history, conn, RETENTION_EVERY_SECONDS)
            if pruned is not None and pruned.more:
                self.next_retention = now + RETENTION_BACKLOG_EVERY_SECONDS

    def check_health(self, conn) -> list[dict]:
        """Log one WARNING per problem schedule (core/observe/health.py's rules); returns them.

        At most HEALTH_LOG_LIMIT lines, then one saying how many more there are.
        """
        with stage("check schedule health"), db.service_transaction(conn) as cur:
            issues = health.issues(cur, self.clock(), limit=HEALTH_LOG_LIMIT)
        for issue in issues:
            logger.warning("Schedule %s ('%s') is %s: %s", issue["schedule_id"], issue["name"],
                           health.state_words(issue["kind"]), issue["detail"],
                           extra={"schedule_id": issue["schedule_id"], "account_id": issue["account_id"]})
        if issues and issues[0]["total_issues"] > len(issues):
            logger.warning("... and %d more schedule health issue(s): GET /v1/schedules/health lists an "
                           "account's, the schedules_health_issues gauge counts them",
                           issues[0]["total_issues"] - len(issues))
        return issues

    def prune_history(self, conn) -> Pruned:
        """One retention pass (core/retention/sweep.py): runs and email_log rows past RUN_RETENTION_DAYS."""
        days = self.settings.run_retention_days
        with stage("delete old runs"):
            pruned = self.retention.run_pass(conn, self.clock(), days)
        self.metrics.retention_deleted.labels("schedule_runs").inc(pruned.runs)
        self.metrics.retention_deleted.labels("email_log").inc(pruned.emails)
        if pruned.runs or pruned.emails:
            logger.info("Retention: deleted %d run(s) and %d email log row(s) older than %d days",
                        pruned.runs, pruned.emails, days)
        return pruned

    def _chore(self, chore, conn, period: int):
        try:
            return chore(conn)
        except Exception as exc:
            logger.error("Failed to %s: %s (next attempt in %ds)", stage_of(exc), cause_line(exc), period,
                         exc_info=not isinstance(exc, psycopg2.Error))

