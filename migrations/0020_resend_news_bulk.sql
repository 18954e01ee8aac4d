-- 0020: the account owner can act. Three things a customer could not do:
-- * resend a run's stored result to all or some of its recipients and channels, without running the
--   task again. A resend is a run of its own (trigger 'resend', `resend_of` the run it resends, the
--   original's result copied in, `requested_by` who asked), so the worker delivers it like any run,
--   through the delivery ledger: its ledger rows are made when it is asked for, one per target, and
--   the original run's deliveries list them with who asked. It is not counted: no plan usage, no
--   schedule counters, no overlap with the schedule's own runs;
-- * deliver only when there is news: `deliver_when` `always` (as before), `not_empty` (the task said
--   its result is empty: core/runs/tasks.py) or `changed` (the result's content hash differs from
--   the last delivered one's, kept in schedule_stats.delivered_hash). A run that delivers nothing for
--   this reason succeeds, its ledger rows `skipped` with the reason (deliveries.skip_reason, and
--   schedule_runs.skip_reason);
-- * bulk changes need no column: each schedule changed is a history entry like any other.
-- Numbered 0020: the numbers between are taken by work in progress beside this one.

ALTER TABLE schedules ADD COLUMN deliver_when TEXT NOT NULL DEFAULT 'always'
    CHECK (deliver_when IN ('always', 'not_empty', 'changed'));

ALTER TABLE schedule_stats ADD COLUMN delivered_hash TEXT;

ALTER TABLE schedule_runs
    ADD COLUMN resend_of UUID REFERENCES schedule_runs (id) ON DELETE CASCADE,
    ADD COLUMN requested_by TEXT,
    ADD COLUMN result_hash TEXT,
    ADD COLUMN skip_reason TEXT;
ALTER TABLE schedule_runs DROP CONSTRAINT schedule_runs_trigger_check;
ALTER TABLE schedule_runs ADD CONSTRAINT schedule_runs_trigger_check
    CHECK (trigger IN ('schedule', 'manual', 'backfill', 'resend'));
ALTER TABLE schedule_runs ADD CONSTRAINT schedule_runs_resend_check
    CHECK ((trigger = 'resend') = (resend_of IS NOT NULL));
-- Serves a run's detail: the resends of a run.
CREATE INDEX schedule_runs_resend_of_idx ON schedule_runs (resend_of) WHERE resend_of IS NOT NULL;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'suppressed', 'failed', 'skipped'));
ALTER TABLE deliveries ADD COLUMN skip_reason TEXT;

-- A resend's ledger is written by the API, in the tenant's transaction (row-level security's
-- tenant_isolation policy checks the account of each row).
GRANT INSERT ON deliveries TO app_tenant;

-- schedules_with_stats (0011) lists its columns: deliver_when joins them, at the end (after 0018's).
CREATE OR REPLACE VIEW schedules_with_stats WITH (security_invoker = true) AS
SELECT s.id, s.account_id, s.name, s.description, s.task, s.task_parameters, s.report_type, s.city,
       s.zip_codes, s.lookback_days, s.filters, s.recipients, s.include_attachment, s.cadence, s.weekly_dow,
       s.monthly_dom, s.send_hour, s.send_minute, s.cron_expression, s.interval_seconds, s.timezone,
       s.start_at, s.end_at, s.misfire_grace_seconds, s.active, s.tags, s.last_run_at, s.next_run_at,
       s.dispatch_errors, s.created_at, s.overlap_policy, s.paused_at, s.paused_until, s.paused_by,
       s.pause_note, s.pause_after_failures, s.version, s.catchup, s.catchup_window_seconds,
       s.window_seconds, s.next_occurrence_at,
       COALESCE(st.run_count, 0) AS run_count,
       COALESCE(st.success_count, 0) AS success_count,
       COALESCE(st.failure_count, 0) AS failure_count,
       COALESCE(st.consecutive_failures, 0) AS consecutive_failures,
       CASE WHEN st.last_status_at IS NULL OR s.dispatch_status_at > st.last_status_at
            THEN s.dispatch_status ELSE st.last_status END AS last_status,
       CASE WHEN st.last_error_at IS NULL OR s.dispatch_error_at > st.last_error_at
            THEN s.dispatch_error ELSE st.last_error END AS last_error,
       GREATEST(s.updated_at, st.updated_at) AS updated_at,
       s.monthly_week, s.monthly_dow, s.calendar_id, s.on_holiday,
       s.deliver_when
  FROM schedules AS s
  LEFT JOIN schedule_stats AS st ON st.schedule_id = s.id;
