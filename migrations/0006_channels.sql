-- 0006: delivery channels beside email. A schedule keeps its `recipients` (email) and gains a list of
-- channels, each a signed webhook or a Slack incoming webhook; the delivery ledger takes one row per
-- (run, channel, URL) as it does per (run, email). Webhooks are signed with the account's signing
-- secret (Standard Webhooks); a rotated secret stays valid until `expires_at`, so both signatures are
-- sent during the grace period and receivers can switch without losing a message.

ALTER TABLE deliveries DROP CONSTRAINT deliveries_channel_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_channel_check CHECK (channel IN ('email', 'webhook', 'slack'));

-- A schedule's webhook and Slack channels. `url` is a secret for Slack (the API masks it). A receiver
-- that answers 410 Gone disables its channel (`disabled_at`, `disabled_reason`): no later run sends to
-- it until it is enabled again (POST /v1/schedules/{id}/channels/{channel_id}/enable).
CREATE TABLE schedule_channels (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id     UUID NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    account_id      UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type            TEXT NOT NULL CHECK (type IN ('webhook', 'slack')),
    url             TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    position        INT NOT NULL DEFAULT 0,
    disabled_at     TIMESTAMPTZ,
    disabled_reason TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (schedule_id, type, url)
);
CREATE INDEX schedule_channels_account_idx ON schedule_channels (account_id);

-- The account's webhook signing secrets (`whsec_` + base64, as Standard Webhooks has them). The current
-- one has no `expires_at`; a rotation gives the previous one an `expires_at` (the grace period) and
-- adds a new current one. Every secret not yet expired signs each webhook.
CREATE TABLE webhook_secrets (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ
);
-- At most one current secret per account (also what a concurrent first use conflicts on).
CREATE UNIQUE INDEX webhook_secrets_current_idx ON webhook_secrets (account_id) WHERE expires_at IS NULL;
CREATE INDEX webhook_secrets_account_idx ON webhook_secrets (account_id, created_at);

ALTER TABLE schedule_channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_channels FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON schedule_channels TO app_tenant;
CREATE POLICY tenant_isolation ON schedule_channels TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON schedule_channels USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');

ALTER TABLE webhook_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_secrets FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_secrets TO app_tenant;
CREATE POLICY tenant_isolation ON webhook_secrets TO app_tenant
    USING (account_id = NULLIF(current_setting('app.current_account_id', true), '')::uuid);
CREATE POLICY service_access ON webhook_secrets USING (current_user <> 'app_tenant') WITH CHECK (current_user <> 'app_tenant');
