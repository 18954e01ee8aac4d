-- 0001: the whole data model of DESIGN.md in one step: tenants and plans, schedules, their audit
-- trail of runs, email delivery and suppressions, and the ticker's heartbeat. Seed 001's columns keep
-- their names and types so the seeds' own SQL (e.g. seed 000's test-schedule INSERT) works unchanged.

CREATE TABLE plans (
    id                TEXT PRIMARY KEY,               -- 'free', 'pro', ...
    name              TEXT NOT NULL,
    monthly_run_limit INT CHECK (monthly_run_limit IS NULL OR monthly_run_limit >= 0),  -- NULL: no limit
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO plans (id, name, monthly_run_limit) VALUES
    ('free', 'Free', 100),
    ('pro', 'Pro', 10000),
    ('unlimited', 'Unlimited', NULL);

CREATE TABLE accounts (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name       TEXT NOT NULL DEFAULT '',
    plan       TEXT NOT NULL DEFAULT 'pro' REFERENCES plans (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE schedules (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id            UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description           TEXT,
    -- What runs: a name in the TASKS registry, never an import path.
    task                  TEXT NOT NULL DEFAULT 'generate_report',
    task_parameters       JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(task_parameters) = 'object'),
    -- Seed 001's report fields, passed to generate_report as params.
    report_type           TEXT,
    city                  TEXT,
    zip_codes             TEXT[],
    lookback_days         INT DEFAULT 30 CHECK (lookback_days IS NULL OR lookback_days BETWEEN 1 AND 3650),
    filters               JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filters) = 'object'),
    recipients            TEXT[] NOT NULL DEFAULT '{}',
    include_attachment    BOOLEAN NOT NULL DEFAULT FALSE,
    -- Timing. Cross-field rules (weekly needs weekly_dow, ...) live in core/engine/timing.py, not here, so a
    -- row written by hand with a missing field reaches the ticker, which reports it on the row.
    cadence               TEXT NOT NULL DEFAULT 'weekly' CHECK (cadence IN
                              ('once', 'hourly', 'daily', 'weekly', 'biweekly', 'monthly', 'cron', 'interval')),
    weekly_dow            INT CHECK (weekly_dow BETWEEN 0 AND 6),          -- 0 = Sunday
    monthly_dom           INT CHECK (monthly_dom BETWEEN 1 AND 31 OR monthly_dom = -1),  -- -1: last day
    send_hour             INT NOT NULL DEFAULT 9 CHECK (send_hour BETWEEN 0 AND 23),
    send_minute           INT NOT NULL DEFAULT 0 CHECK (send_minute BETWEEN 0 AND 59),
    cron_expression       TEXT,
    interval_seconds      INT CHECK (interval_seconds >= 60),
    timezone              TEXT NOT NULL DEFAULT 'UTC',
    start_at              TIMESTAMPTZ,
    end_at                TIMESTAMPTZ CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at),
    misfire_grace_seconds INT CHECK (misfire_grace_seconds IS NULL OR misfire_grace_seconds >= 0),  -- NULL: no limit
    active                BOOLEAN NOT NULL DEFAULT TRUE,
    tags                  TEXT[] NOT NULL DEFAULT '{}',
    -- State kept by the ticker and the worker.
    last_run_at           TIMESTAMPTZ,
    next_run_at           TIMESTAMPTZ,
    last_status           TEXT,
    last_error            TEXT,
    run_count             INT NOT NULL DEFAULT 0,
    success_count         INT NOT NULL DEFAULT 0,
    failure_count         INT NOT NULL DEFAULT 0,
    consecutive_failures  INT NOT NULL DEFAULT 0,
    -- How many times in a row the ticker could not compute this row's next run (drives its back-off).
    dispatch_errors       INT NOT NULL DEFAULT 0,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Serves the ticker's due query (`active AND next_run_at <= now()`, oldest first) and its
-- "earliest next_run_at" wake-up query; rows with a NULL next_run_at are found through it too.
-- Partial, so inactive schedules cost nothing however many there are.
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE active;
CREATE INDEX schedules_account_created_idx ON schedules (account_id, created_at DESC, id);
CREATE INDEX schedules_tags_idx ON schedules USING gin (tags);

CREATE TABLE schedule_runs (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id   UUID NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    report_run_id UUID,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                      ('pending', 'queued', 'running', 'succeeded', 'failed', 'missed', 'skipped_limit')),
    trigger       TEXT NOT NULL DEFAULT 'schedule' CHECK (trigger IN ('schedule', 'manual')),
    scheduled_for TIMESTAMPTZ,
    job_id        TEXT,
    attempt       INT NOT NULL DEFAULT 0,
    error         TEXT,
    result        JSONB,
    duration_ms   INT,
    queued_at     TIMESTAMPTZ,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A schedule never runs twice for the same occurrence: the last line of defence of exactly-once.
CREATE UNIQUE INDEX schedule_runs_occurrence_uniq ON schedule_runs (schedule_id, scheduled_for)
    WHERE trigger = 'schedule';
-- Serves GET /v1/schedules/{id}/runs (newest first).
CREATE INDEX schedule_runs_schedule_created_idx ON schedule_runs (schedule_id, created_at DESC);
-- Serves the ticker's re-push of runs left pending by a crash or a Redis outage.
CREATE INDEX schedule_runs_pending_idx ON schedule_runs (created_at) WHERE status = 'pending';
CREATE INDEX schedule_runs_account_created_idx ON schedule_runs (account_id, created_at);

-- Seed 000's audit INSERT names only schedule_id; take the tenant from the schedule then.
CREATE FUNCTION schedule_runs_fill_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT account_id INTO NEW.account_id FROM schedules WHERE id = NEW.schedule_id;
    RETURN NEW;
END $$;
CREATE TRIGGER schedule_runs_fill_account BEFORE INSERT ON schedule_runs
    FOR EACH ROW WHEN (NEW.account_id IS NULL) EXECUTE FUNCTION schedule_runs_fill_account();

CREATE TABLE email_log (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    schedule_id   UUID,
    run_id        UUID,
    report_id     UUID,
    provider      TEXT,
    to_emails     TEXT[],
    subject       TEXT,
    response_code INT,
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX email_log_account_created_idx ON email_log (account_id, created_at);

CREATE TABLE email_suppressions (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    reason     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (account_id, email)
);

-- One row per running ticker: what /readyz and operators read to know the ticker is alive.
CREATE TABLE ticker_heartbeats (
    instance_id  TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          INT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_tick_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_tick    JSONB NOT NULL DEFAULT '{}'
);

-- Wake sleeping tickers when schedules change, whoever changes them (the API, the ticker, psql):
-- one notification per statement, and PostgreSQL folds repeats within a transaction.
-- `NOTIFY schedules_changed;` from psql does the same by hand.
CREATE FUNCTION notify_schedules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('schedules_changed', '');
    RETURN NULL;
END $$;
CREATE TRIGGER schedules_changed AFTER INSERT OR UPDATE ON schedules
    FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules_changed();
CREATE TRIGGER schedule_runs_added AFTER INSERT ON schedule_runs
    FOR EACH STATEMENT EXECUTE FUNCTION notify_schedules_changed();

-- Row-level security. API connections SET LOCAL ROLE to app_tenant (no BYPASSRLS, not the owner) and
-- SET LOCAL app.current_account_id, so a query that forgets its WHERE account_id still sees only
-- the caller's rows, even when DATABASE_URL is a superuser or the tables' owner. The ticker and the
-- worker run as the owner and see every tenant through the service policy.
DO $$
BEGIN
    CREATE ROLE app_tenant NOLOGIN NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide: another database (or a concurrent run) created it
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT app_tenant TO %I', current_user);
EXCEPTION WHEN duplicate_object OR unique_violation OR invalid_grant_operation THEN
    NULL;  -- already a member, or app_tenant is current_user's own role
END $$;
GRANT USAGE ON SCHEMA public TO app_tenant;
GRANT SELECT ON plans TO app_tenant;
GRANT SELECT ON accounts TO app_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON schedules, schedule_runs TO app_tenant;
GRANT SELECT, INSERT ON email_log TO app_tenant;
GRANT SELECT, INSERT, DELETE ON email_suppressions TO app_tenant;

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON accounts TO app_tenant
    USING (id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON accounts USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedules TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON schedules USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE schedule_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_runs TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON schedule_runs USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE email_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_log TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON email_log USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE email_suppressions ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_suppressions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_suppressions TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON email_suppressions USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
