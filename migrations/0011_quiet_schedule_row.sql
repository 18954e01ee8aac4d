-- 0011: the schedules row the ticker claims is written only for what decides when a schedule runs.
-- The NOTIFY that wakes sleeping tickers fired on every UPDATE of schedules, so each finished run
-- (the worker's counter update) woke every ticker to find nothing new. It now fires on INSERT and
-- only for statements that write a column the ticker's due and wake-up queries read: next_run_at,
-- active (the due index's condition) and paused_until (a pause ending); run now's wake-up is the
-- schedule_runs INSERT trigger of 0001, unchanged.

-- Statement-level with a column list rather than a row-level WHEN (OLD IS DISTINCT FROM NEW): the
-- ticker's own batch UPDATE writes next_run_at on hundreds of rows at once, and a row trigger would
-- cost it one call per row. A statement that writes one of these columns without changing its value
-- (a PATCH of the name writes every column) still notifies: a wake-up too many is only a cheap query.
DROP TRIGGER schedules_changed ON schedules;
CREATE TRIGGER schedules_added AFTER INSERT ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules_changed();
CREATE TRIGGER schedules_changed AFTER UPDATE OF next_run_at, active, paused_until ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules_changed();

-- A run's conclusion counted it on the same row, so a worker finishing a run held the row's lock
-- while the ticker's FOR UPDATE SKIP LOCKED claim passed over it: a finishing run could make a due
-- schedule wait a tick. The counters and the last outcome move to schedule_stats, one row per
-- schedule, written only by a run's conclusion (core/runs/lifecycle.py); the schedules row keeps what
-- dispatch itself notes (a missed or skipped occurrence, a timing that cannot be computed).
-- Made with the schedule (by the trigger below, whoever inserts it), so a conclusion only ever
-- UPDATEs it: an INSERT would check its foreign key with a KEY SHARE lock on the schedules row,
-- which the claim's FOR UPDATE would skip too.
CREATE TABLE schedule_stats (
    schedule_id          UUID PRIMARY KEY REFERENCES schedules (id) ON DELETE CASCADE,
    account_id           UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    run_count            INT NOT NULL DEFAULT 0,
    success_count        INT NOT NULL DEFAULT 0,
    failure_count        INT NOT NULL DEFAULT 0,
    consecutive_failures INT NOT NULL DEFAULT 0,
    -- The last run's final status and error, and when each was written: the schedule's last_status
    -- and last_error are the newer of these and dispatch's own (schedules.dispatch_status/_error).
    last_status          TEXT,
    last_status_at       TIMESTAMPTZ,
    last_error           TEXT,
    last_error_at        TIMESTAMPTZ,
    -- When a conclusion last wrote here: the schedule's updated_at is the later of this and its own.
    updated_at           TIMESTAMPTZ
);

INSERT INTO schedule_stats (schedule_id, account_id, run_count, success_count, failure_count, consecutive_failures)
SELECT id, account_id, run_count, success_count, failure_count, consecutive_failures FROM schedules;

ALTER TABLE schedules
    DROP COLUMN run_count,
    DROP COLUMN success_count,
    DROP COLUMN failure_count,
    DROP COLUMN consecutive_failures;
-- What dispatch notes on the row it holds anyway; the values so far stay, as the latest known, with
-- no time (any later write of either side is newer).
ALTER TABLE schedules RENAME COLUMN last_status TO dispatch_status;
ALTER TABLE schedules RENAME COLUMN last_error TO dispatch_error;
ALTER TABLE schedules
    ADD COLUMN dispatch_status_at TIMESTAMPTZ,
    ADD COLUMN dispatch_error_at  TIMESTAMPTZ;

CREATE FUNCTION schedule_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO schedule_stats (schedule_id, account_id) SELECT id, account_id FROM added;
    RETURN NULL;
END $$;
CREATE TRIGGER schedule_stats_add AFTER INSERT ON schedules REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION schedule_stats_add();

ALTER TABLE schedule_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_stats FORCE ROW LEVEL SECURITY;
-- INSERT for the trigger above, which runs as whoever inserts the schedule (the API as app_tenant).
GRANT SELECT, INSERT ON schedule_stats TO app_tenant;
CREATE POLICY tenant_isolation ON schedule_stats TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON schedule_stats USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

-- A schedule as the API, the console, the health checks and the metrics read it: every column of
-- schedules but dispatch's notes, with its counters and last outcome. security_invoker, so the
-- reader's row-level security applies (a view otherwise reads as its owner). The columns are listed
-- because a view's `s.*` is fixed when it is made: a migration that adds a column to schedules
-- recreates this view with it (tests/integration/test_schedule_row.py checks that none is missing).
CREATE VIEW schedules_with_stats WITH (security_invoker = true) AS
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
       -- The newer write wins, as when both wrote the one column: a time is NULL for a value older
       -- than this migration, or never written.
       CASE WHEN st.last_status_at IS NULL OR s.dispatch_status_at > st.last_status_at
            THEN s.dispatch_status ELSE st.last_status END AS last_status,
       CASE WHEN st.last_error_at IS NULL OR s.dispatch_error_at > st.last_error_at
            THEN s.dispatch_error ELSE st.last_error END AS last_error,
       GREATEST(s.updated_at, st.updated_at) AS updated_at
  FROM schedules AS s
  LEFT JOIN schedule_stats AS st ON st.schedule_id = s.id;
GRANT SELECT ON schedules_with_stats TO app_tenant;
