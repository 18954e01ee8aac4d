"""The RQ job every scheduled or manual run executes: `execute_run(run_id, attempt=1)`.

A run moves pending/queued -> running with a compare-and-set on (status, attempt), so a job delivered
twice executes once and a late duplicate of attempt 1 cannot start while attempt 2 waits. Then: the
plan limit (first attempt only), the registered task, the result stored, delivery by email, and the
final status with the schedule's counters. A failed attempt is retried with exponential back-off up
to WORKER_MAX_ATTEMPTS, as a new job whose id is derived from the run id and the attempt.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import redis
from psycopg2.extras import Json
from rq import Queue

from core import db
from core.email import Mailer, build_report_email
from core.jobs import RESULT_TTL_SECONDS, RUN_JOB_FUNC, job_id_for
from core.settings import load_settings
from core.sql import queries
from core.tasks import TaskImportError, TaskNotRegistered, TaskRegistry

logger = logging.getLogger("worker")

ERROR_LIMIT = 2000
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
_context: tuple | None = None


def worker_context():
    """Settings and task registry, loaded once per worker process (RQ's work horses inherit them)."""
    global _context
    if _context is None:
        settings = load_settings()
        settings.require("database_url", "redis_url")
        _context = (settings, TaskRegistry(settings.tasks))
    return _context


def execute_run(run_id: str, attempt: int = 1) -> dict:
    settings, registry = worker_context()
    conn = db.connect(settings.database_url, application_name="worker")
    try:
        return RunExecution(conn, settings, registry, run_id, attempt).execute()
    finally:
        conn.close()


def retry_job_id(run_id, attempt: int) -> str:
    return f"{job_id_for(run_id)}-a{attempt}"


def retry_delay(attempt_failed: int) -> int:
    return min(RETRY_BASE_SECONDS * 2 ** (attempt_failed - 1), RETRY_MAX_SECONDS)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]


class RunExecution:
    def __init__(self, conn, settings, registry: TaskRegistry, run_id: str, attempt: int):
        self.conn, self.settings, self.registry = conn, settings, registry
        self.run_id, self.attempt = run_id, attempt
        self.run: dict = {}
        self.schedule: dict = {}

    def execute(self) -> dict:
        outcome = self._start()
        if outcome is not None:
            return outcome
        try:
            task = self.registry.resolve(self.schedule["task"])
        except (TaskNotRegistered, TaskImportError) as exc:
            return self._fail(exc, retry=False)  # retrying cannot make an unknown task known
        try:
            result = _jsonable(task(str(self.run["account_id"]), self._params()))
        except Exception as exc:  # the task's own failure, or RQ's JobTimeoutException
            return self._fail(exc, retry=True)
        with db.service_transaction(self.conn) as cur:
            cur.execute(queries["save_run_result"], {"run_id": self.run_id, "result": Json(result)})
        delivered = self._deliver(result)
        with db.service_transaction(self.conn) as cur:
            cur.execute(queries["finish_run_succeeded"], {"run_id": self.run_id})
            cur.execute(queries["count_success"], {"schedule_id": self.schedule["id"]})
        logger.info("Run %s of schedule '%s' succeeded (attempt %d, %d email(s) sent)",
                    self.run_id, self.schedule["name"], self.attempt, delivered,
                    extra={"run_id": self.run_id, "schedule_id": self.schedule["id"]})
        return {"status": "succeeded", "emails_sent": delivered}

    def _start(self) -> dict | None:
        """Take the run and check the plan in one transaction; returns an outcome when not to execute."""
        with db.service_transaction(self.conn) as cur:
            cur.execute(queries["start_run"], {"run_id": self.run_id, "previous_attempt": self.attempt - 1})
            self.run = cur.fetchone()
            if self.run is None:
                cur.execute(queries["run_status"], {"run_id": self.run_id})
                current = cur.fetchone()
                logger.info("Run %s not started: it is %s (attempt %s), so this delivery of attempt %d is a duplicate",
                            self.run_id, current["status"] if current else "gone",
                            current["attempt"] if current else "-", self.attempt, extra={"run_id": self.run_id})
                return {"status": "duplicate"}
            cur.execute(queries["schedule_for_run"], {"schedule_id": self.run["schedule_id"]})
            self.schedule = cur.fetchone()
            limit = self.schedule["monthly_run_limit"]
            if self.attempt == 1 and limit is not None:
                cur.execute(queries["take_usage_slot"], {"account_id": self.run["account_id"], "limit": limit})
                if cur.fetchone() is None:
                    error = f"monthly run limit of {limit} reached for this account's plan"
                    cur.execute(queries["finish_run_skipped_limit"], {"run_id": self.run_id, "error": error})
                    cur.execute(queries["note_skipped_limit"], {"schedule_id": self.schedule["id"]})
                    logger.warning("Run %s of schedule '%s' skipped: %s", self.run_id, self.schedule["name"], error,
                                   extra={"run_id": self.run_id, "schedule_id": self.schedule["id"]})
                    return {"status": "skipped_limit"}
            elif self.attempt == 1:
                cur.execute(queries["take_usage_slot"], {"account_id": self.run["account_id"], "limit": None})
        return None

    def _params(self) -> dict:
        s = self.schedule
        params = {
            "report_type": s["report_type"], "city": s["city"], "zips": s["zip_codes"] or [],
            "lookback_days": s["lookback_days"], "filters": s["filters"] or {},
            "schedule_id": str(s["id"]), "run_id": str(self.run_id),
        }
        params.update(s["task_parameters"] or {})
        return params

    def _fail(self, exc: BaseException, *, retry: bool) -> dict:
        error = describe(exc)
        if retry and self.attempt < self.settings.worker_max_attempts:
            delay = retry_delay(self.attempt)
            next_job = retry_job_id(self.run_id, self.attempt + 1)
            with db.service_transaction(self.conn) as cur:
                cur.execute(queries["requeue_run_for_retry"],
                            {"run_id": self.run_id, "error": error, "job_id": next_job})
            try:
                Queue(self.settings.queue_name, connection=redis.Redis.from_url(self.settings.redis_url)).enqueue_in(
                    timedelta(seconds=delay), RUN_JOB_FUNC, str(self.run_id), self.attempt + 1, job_id=next_job,
                    job_timeout=self.settings.job_timeout, result_ttl=RESULT_TTL_SECONDS)
            except redis.RedisError as redis_exc:
                error = f"{error} (retry could not be scheduled: {describe(redis_exc)})"[:ERROR_LIMIT]
                with db.service_transaction(self.conn) as cur:
                    cur.execute(queries["take_back_retry"], {"run_id": self.run_id})
                return self._finish_failed(error)
            logger.warning("Run %s of schedule '%s' failed (attempt %d of %d), retrying in %ds: %s",
                           self.run_id, self.schedule["name"], self.attempt, self.settings.worker_max_attempts,
                           delay, error, extra={"run_id": self.run_id, "schedule_id": self.schedule["id"]})
            return {"status": "retrying", "error": error}
        return self._finish_failed(error)

    def _finish_failed(self, error: str) -> dict:
        with db.service_transaction(self.conn) as cur:
            cur.execute(queries["finish_run_failed"], {"run_id": self.run_id, "error": error})
            cur.execute(queries["count_failure"], {"schedule_id": self.schedule["id"], "error": error})
        logger.error("Run %s of schedule '%s' failed after %d attempt(s): %s", self.run_id, self.schedule["name"],
                     self.attempt, error, extra={"run_id": self.run_id, "schedule_id": self.schedule["id"]})
        return {"status": "failed", "error": error}

    def _deliver(self, result: dict) -> int:
        """Email the report to each recipient not suppressed; every attempt is a row in email_log."""
        recipients = list(dict.fromkeys(self.schedule["recipients"] or []))
        if not recipients:
            return 0
        with db.service_transaction(self.conn) as cur:
            cur.execute(queries["suppressed_emails"], {"account_id": self.schedule["account_id"],
                                                       "emails": [r.lower() for r in recipients]})
            suppressed = {row["email"] for row in cur.fetchall()}
        sent = 0
        with Mailer(self.settings) as mailer:
            for recipient in recipients:
                if recipient.lower() in suppressed:
                    logger.info("Not emailing %s: unsubscribed", recipient, extra={"run_id": self.run_id})
                    continue
                message = build_report_email(self.settings, schedule=self.schedule, run_id=self.run_id,
                                             recipient=recipient, result=result)
                outcome = mailer.send(message)
                with db.service_transaction(self.conn) as cur:
                    cur.execute(queries["log_email"], {
                        "account_id": self.schedule["account_id"], "schedule_id": self.schedule["id"],
                        "run_id": self.run_id, "provider": outcome.provider, "to_emails": [recipient],
                        "subject": message["Subject"], "response_code": outcome.response_code,
                        "error": outcome.error})
                if outcome.ok:
                    sent += 1
                else:
                    logger.error("Email to %s for run %s failed: %s", recipient, self.run_id, outcome.error,
                                 extra={"run_id": self.run_id, "schedule_id": self.schedule["id"]})
        return sent


def _jsonable(result) -> dict:
    """A task's result as a JSON object (a non-dict result is wrapped; unknown types become strings)."""
    if not isinstance(result, dict):
        result = {"result": result}
    return json.loads(json.dumps(result, default=str))

