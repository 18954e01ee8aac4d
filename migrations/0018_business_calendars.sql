-- Business calendars (issue 27): an account's calendars of days off, the schedules that follow one,
-- and the monthly "nth weekday" rule. core/engine/business_days.py gives them their meaning.

CREATE TABLE IF NOT EXISTS calendars (
    id            UUID PRIMARY KEY,
    account_id    UUID NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    country       TEXT NOT NULL CHECK (length(country) BETWEEN 2 AND 3),
    subdivision   TEXT CHECK (length(subdivision) BETWEEN 1 AND 20),
    weekend       INT[] NOT NULL DEFAULT '{6,7}',
    add_dates     DATE[] NOT NULL DEFAULT '{}',
    remove_dates  DATE[] NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS calendars_account_idx ON calendars (account_id, name, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON calendars TO app_tenant;
ALTER TABLE calendars ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendars FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON calendars;
CREATE POLICY tenant_isolation ON calendars TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
DROP POLICY IF EXISTS service_access ON calendars;
CREATE POLICY service_access ON calendars USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE schedules
    ADD COLUMN IF NOT EXISTS monthly_week INT CHECK (monthly_week BETWEEN 1 AND 5 OR monthly_week = -1),
    ADD COLUMN IF NOT EXISTS monthly_dow  INT CHECK (monthly_dow BETWEEN 0 AND 6),
    -- RESTRICT: a calendar in use cannot be deleted (the API names the schedules first).
    ADD COLUMN IF NOT EXISTS calendar_id  UUID REFERENCES calendars(id) ON DELETE RESTRICT,
    ADD COLUMN IF NOT EXISTS on_holiday   TEXT NOT NULL DEFAULT 'run'
        CHECK (on_holiday IN ('run', 'skip', 'next_business_day', 'previous_business_day'));
CREATE INDEX IF NOT EXISTS schedules_calendar_idx ON schedules (calendar_id) WHERE calendar_id IS NOT NULL;

-- Why a run is where it is, when a calendar moved it or skipped days before it ([{code, detail}]).
ALTER TABLE schedule_runs ADD COLUMN IF NOT EXISTS reasons JSONB;

-- The view lists schedules' columns (0011): the new ones go at its end, where CREATE OR REPLACE adds them.
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
       -- The newer write wins, as when both wrote the one column: a time is NULL for a value older
       -- than this migration, or never written.
       CASE WHEN st.last_status_at IS NULL OR s.dispatch_status_at > st.last_status_at
            THEN s.dispatch_status ELSE st.last_status END AS last_status,
       CASE WHEN st.last_error_at IS NULL OR s.dispatch_error_at > st.last_error_at
            THEN s.dispatch_error ELSE st.last_error END AS last_error,
       GREATEST(s.updated_at, st.updated_at) AS updated_at,
       s.monthly_week, s.monthly_dow, s.calendar_id, s.on_holiday
  FROM schedules AS s
  LEFT JOIN schedule_stats AS st ON st.schedule_id = s.id;
