-- 0016: the server ends console sessions. Until now a session was only Flask's signed cookie: signing
-- out cleared the browser's copy, but a copy taken before (a shared computer, a stolen cookie) stayed
-- signed in for CONSOLE_SESSION_HOURS. Each session is now a row here, which sign-out deletes ("sign
-- out everywhere" deletes all of the account's) and which stops counting once it has been idle for
-- CONSOLE_IDLE_MINUTES or is older than CONSOLE_SESSION_HOURS (core/tenants/console_sessions.sql).
-- The cookie carries a random session id; the row keeps only its SHA-256, so whoever reads this table
-- cannot sign in with what they read.
CREATE TABLE console_sessions (
    id_hash      BYTEA PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_account_idx ON console_sessions (account_id, last_seen_at);

-- A session is read and touched in its account's tenant transaction, like console_logins (0005):
-- FORCEd row-level security, the app_tenant role sees its own account's rows.
ALTER TABLE console_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_sessions FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO app_tenant;
CREATE POLICY tenant_isolation ON console_sessions TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON console_sessions USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
