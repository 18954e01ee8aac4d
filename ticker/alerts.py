"""The ticker's alert units (core/alerts): after each tick's dispatch, messages whose sender was lost
are recovered and every alert message with a row due gets its job; every ALERT_SCAN_EVERY_SECONDS the
schedules that stopped running open their incident. Incidents of failed, missed and paused runs and
disabled channels are opened by the statements that record those events (migration 0019), so the
only wait between a run's end and its alert is the ticker's wake-up (the message's NOTIFY) and the
worker's queue."""
from __future__ import annotations

import logging
import time

from core.alerts import incidents, ledger
from core.ops import db
from core.ops.logs import stage

logger = logging.getLogger("ticker")

ALERT_SCAN_EVERY_SECONDS = 300


class AlertUnits:
    def __init__(self, settings, clock):
        self.settings, self.clock = settings, clock
        self.batch_size = settings.tick_batch_size
        self.next_scan = 0.0

    def run_all(self, conn, redis_conn, should_stop) -> int:
        """Recover lost sends, find stale schedules when a scan is due, push due messages; returns how
        many messages were pushed."""
        with stage("recover alert deliveries whose worker was lost"):
            recovered = ledger.recover_sends(conn, resend=self.settings.unknown_outcome == "resend")
        if recovered:
            logger.warning("Recovered the deliveries of %d alert message(s) whose worker was lost mid-send",
                           recovered)
        if time.monotonic() >= self.next_scan and not should_stop():
            self.next_scan = time.monotonic() + ALERT_SCAN_EVERY_SECONDS
            with stage("look for stale schedules"), db.service_transaction(conn) as cur:
                stale = incidents.open_stale(cur, self.clock(), limit=self.batch_size)
            for row in stale:  # the hourly health check says it too, as a warning
                logger.info("Opened an alert for schedule %s ('%s'): it stopped running", row["schedule_id"],
                            row["name"], extra={"schedule_id": row["schedule_id"]})
        pushed = 0
        while not should_stop():
            with stage("push alert messages"):
                ids = ledger.push_due(conn, redis_conn, self.settings.queue_name,
                                      job_timeout=self.settings.job_timeout, limit=self.batch_size)
            pushed += len(ids)
            if len(ids) < self.batch_size:
                break
        if pushed:
            logger.info("Pushed %d alert message(s)", pushed)
        return pushed
