-- 0004: runs that always finish, deliveries that happen once. Until now a run reached a final status
-- only if its worker lived, its job stayed in Redis and the mail server answered. This adds what the
-- recovery needs: a lease the worker renews while it holds a run (past it, the ticker recovers the
-- run), retries that wait in PostgreSQL (`retrying` until `not_before`) instead of in Redis, the
-- overlap policy, and the delivery ledger: one row per (run, channel target), so a target that was
-- sent is never sent again and a delivery retry never re-runs the task.

ALTER TABLE schedule_runs DROP CONSTRAINT schedule_runs_status_check;
ALTER TABLE schedule_runs ADD CONSTRAINT schedule_runs_status_check CHECK (status IN (
    -- unfinished
    'pending', 'queued', 'running', 'retrying', 'buffered',
    -- final
    'succeeded', 'failed', 'delivery_failed', 'missed', 'skipped_limit', 'skipped_overlap'));

ALTER TABLE schedule_runs
    -- retrying: the next attempt is pushed at or after this instant.
    ADD COLUMN not_before       TIMESTAMPTZ,
    -- running: renewed by the worker while it holds the run; once past, the worker is presumed lost.
    ADD COLUMN lease_expires_at TIMESTAMPTZ,
    -- running: which worker process holds the run (hostname.pid), for operators.
    ADD COLUMN worker           TEXT,
    -- The plan's monthly limit counted this run already (so a re-executed run is not counted twice).
    ADD COLUMN usage_counted    BOOLEAN NOT NULL DEFAULT FALSE;

-- The run that a re-executed run must not redo: `result` is stored once, by the attempt that ran the task.
COMMENT ON COLUMN schedule_runs.result IS 'the task''s result, stored once; delivery retries reuse it';

-- Serves the overlap check in claim_due_schedules ("has this schedule an unfinished run?") and the
-- release of buffered runs. Small: only unfinished runs are in it.
CREATE INDEX schedule_runs_unfinished_idx ON schedule_runs (schedule_id, status)
    WHERE status IN ('pending', 'queued', 'running', 'retrying', 'buffered');
-- Serves the ticker's recovery units: expired leases (running), due retries (retrying) and the
-- check of queued runs against Redis, each oldest first.
CREATE INDEX schedule_runs_lease_idx ON schedule_runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX schedule_runs_retry_idx ON schedule_runs (not_before) WHERE status = 'retrying';
CREATE INDEX schedule_runs_queued_idx ON schedule_runs (queued_at, id) WHERE status = 'queued';

-- What happens when an occurrence falls due while an earlier run of the schedule is unfinished:
-- skip (record it as skipped_overlap), buffer_one (keep one to run when the earlier finishes), allow.
ALTER TABLE schedules ADD COLUMN overlap_policy TEXT NOT NULL DEFAULT 'skip'
    CHECK (overlap_policy IN ('skip', 'buffer_one', 'allow'));

-- The delivery ledger: one row per (run, channel target). `message_id` is stable for the row (the
-- email's Message-ID), so a receiver can drop a repeat. A 'sending' row belongs to the attempt in
-- `sending_attempt`; if that attempt's worker is lost, whether the target got it is unknown, and the
-- row is never sent again (it ends 'failed', saying so).
CREATE TABLE deliveries (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id          UUID NOT NULL REFERENCES schedule_runs (id) ON DELETE CASCADE,
    account_id      UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    channel         TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    target          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'suppressed', 'failed')),
    attempts        INT NOT NULL DEFAULT 0,
    sending_attempt INT,
    last_error      TEXT,
    message_id      TEXT NOT NULL,
    sent_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (run_id, channel, target)
);
CREATE INDEX deliveries_account_created_idx ON deliveries (account_id, created_at);

ALTER TABLE deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE deliveries FORCE ROW LEVEL SECURITY;
GRANT SELECT ON deliveries TO app_tenant;
CREATE POLICY tenant_isolation ON deliveries TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON deliveries USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

-- Runs already running when this is applied were started by a worker that kept no lease: give them
-- one as long as the default JOB_TIMEOUT and a margin, so they are recovered if that worker is gone.
UPDATE schedule_runs SET lease_expires_at = now() + interval '15 minutes' WHERE status = 'running';
