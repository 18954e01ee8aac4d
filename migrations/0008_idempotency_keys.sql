-- 0008: safe retries from clients. A client that lost the answer to POST /v1/schedules or POST
-- .../run (a timeout, a dropped connection) could only send it again and risk a second schedule or
-- run. With an Idempotency-Key header the first answer is kept here for 24 hours and returned to
-- every repeat of the same request; the same key with a different body is refused.

CREATE TABLE idempotency_keys (
    account_id   UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Which operation the key was used for ("POST /v1/schedules", "POST /v1/schedules/<id>/run"):
    -- the same key on two routes is two keys.
    route        TEXT NOT NULL,
    key          TEXT NOT NULL,
    -- SHA-256 of the request body as JSON with sorted keys: a repeat must be the same request.
    request_hash TEXT NOT NULL,
    status       INT,
    -- The first answer exactly as sent (text, not JSONB, so its bytes and key order are kept).
    response     TEXT,
    location     TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, route, key)
);
-- Serves the retention pass that deletes keys older than a day.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE ON idempotency_keys TO app_tenant;
CREATE POLICY tenant_isolation ON idempotency_keys TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid)
    WITH CHECK (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON idempotency_keys USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
