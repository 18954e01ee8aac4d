-- The worker's side of a run: take it, check the plan, record the outcome, keep the counters true.

-- start_run --
-- Compare-and-set pending/queued -> running for the expected attempt; no row means a duplicate delivery.
UPDATE schedule_runs
   SET status = 'running', started_at = now(), attempt = attempt + 1
 WHERE id = %(run_id)s
   AND status IN ('pending', 'queued')
   AND attempt = %(previous_attempt)s
RETURNING id, schedule_id, account_id, attempt, trigger, scheduled_for;

-- run_status --
-- Where a run stands (to explain a skipped duplicate in the log).
SELECT status, attempt FROM schedule_runs WHERE id = %(run_id)s;

-- schedule_for_run --
-- Everything the task and the delivery need about the run's schedule and its account's plan.
SELECT s.id, s.account_id, s.name, s.task, s.task_parameters, s.report_type, s.city, s.zip_codes,
       s.lookback_days, s.filters, s.recipients, s.include_attachment,
       p.monthly_run_limit
  FROM schedules s
  JOIN accounts a ON a.id = s.account_id
  JOIN plans p ON p.id = a.plan
 WHERE s.id = %(schedule_id)s;

-- take_usage_slot --
-- Count one run against this month's plan limit, only while under it; no row means the limit is reached.
INSERT INTO account_usage AS u (account_id, month, runs)
VALUES (%(account_id)s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, 1)
ON CONFLICT (account_id, month) DO UPDATE
   SET runs = u.runs + 1
 WHERE %(limit)s::int IS NULL OR u.runs < %(limit)s::int
RETURNING runs;

-- finish_run_skipped_limit --
-- The plan's monthly limit is reached: the run is recorded, not executed.
UPDATE schedule_runs
   SET status = 'skipped_limit', finished_at = now(), attempt = attempt - 1,
       error = %(error)s
 WHERE id = %(run_id)s AND status = 'running';

-- save_run_result --
-- The task succeeded: keep its result before delivery, so a delivery failure cannot lose it.
UPDATE schedule_runs SET result = %(result)s WHERE id = %(run_id)s AND status = 'running';

-- finish_run_succeeded --
-- Final state of a successful run.
UPDATE schedule_runs
   SET status = 'succeeded', finished_at = now(), error = NULL,
       duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
 WHERE id = %(run_id)s AND status = 'running';

-- count_success --
-- Schedule counters after a success.
UPDATE schedules
   SET run_count = run_count + 1, success_count = success_count + 1, consecutive_failures = 0,
       last_status = 'succeeded', last_error = NULL, updated_at = now()
 WHERE id = %(schedule_id)s;

-- requeue_run_for_retry --
-- The attempt failed and another is allowed: back to queued with the error, for the retry job.
UPDATE schedule_runs
   SET status = 'queued', error = %(error)s, job_id = %(job_id)s, queued_at = now()
 WHERE id = %(run_id)s AND status = 'running';

-- finish_run_failed --
-- Final state of a run whose last attempt failed.
UPDATE schedule_runs
   SET status = 'failed', finished_at = now(), error = %(error)s,
       duration_ms = (extract(epoch FROM now() - started_at) * 1000)::int
 WHERE id = %(run_id)s AND status = 'running';

-- count_failure --
-- Schedule counters after a final failure.
UPDATE schedules
   SET run_count = run_count + 1, failure_count = failure_count + 1,
       consecutive_failures = consecutive_failures + 1,
       last_status = 'failed', last_error = %(error)s, updated_at = now()
 WHERE id = %(schedule_id)s;

-- suppressed_emails --
-- The account's unsubscribed addresses among these recipients (compared case-insensitively).
SELECT lower(email) AS email FROM email_suppressions
 WHERE account_id = %(account_id)s AND lower(email) = ANY(%(emails)s);

-- log_email --
-- One delivery attempt, sent or failed.
INSERT INTO email_log (account_id, schedule_id, run_id, provider, to_emails, subject, response_code, error)
VALUES (%(account_id)s, %(schedule_id)s, %(run_id)s, %(provider)s, %(to_emails)s, %(subject)s,
        %(response_code)s, %(error)s);

-- note_skipped_limit --
-- The schedule's last run was skipped by the plan limit (counters count executed runs only).
UPDATE schedules SET last_status = 'skipped_limit', updated_at = now() WHERE id = %(schedule_id)s;

-- take_back_retry --
-- The retry job could not be pushed (Redis down): the run is running again, to be finished as failed.
UPDATE schedule_runs SET status = 'running' WHERE id = %(run_id)s AND status = 'queued';
