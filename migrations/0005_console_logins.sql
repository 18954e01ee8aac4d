-- 0005: the console's sign-in links can be used once. A link is an HMAC-signed token (account, link
-- id, expiry) that the host application mints; the signature and the expiry are checked in Python,
-- but "used once" needs shared state that every web process sees, so each link id is inserted here
-- when it is used: the primary key refuses a second use, even from two requests at the same instant.
-- Rows are kept until a day past their expiry (pruned at the account's next sign-in); after that the
-- expiry alone refuses the link.
CREATE TABLE console_logins (
    link_id    UUID PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX console_logins_account_expires_idx ON console_logins (account_id, expires_at);

-- A sign-in is claimed as the link's tenant (core.ops.db.tenant_transaction), so the table is a tenant
-- table like the others: FORCEd row-level security, the app_tenant role sees its own account's rows.
ALTER TABLE console_logins ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_logins FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON console_logins TO app_tenant;
CREATE POLICY tenant_isolation ON console_logins TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON console_logins USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
