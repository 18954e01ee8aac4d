-- 0002: plan limits (seed 002) need "how many runs has this account executed this calendar month?"
-- on every run. Counting schedule_runs gets slower as history grows; a per-account, per-month counter
-- answers in one row and lets the worker check and take a slot in one atomic statement.

CREATE TABLE account_usage (
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    month      DATE NOT NULL,            -- first day of the calendar month (UTC)
    runs       INT NOT NULL DEFAULT 0,   -- runs started (executed), not missed or skipped
    PRIMARY KEY (account_id, month)
);

ALTER TABLE account_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_usage FORCE ROW LEVEL SECURITY;
GRANT SELECT ON account_usage TO app_tenant;
CREATE POLICY tenant_isolation ON account_usage TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON account_usage USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
