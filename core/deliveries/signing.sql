-- The account's webhook signing secrets (core/deliveries/signing.py): the current one and those rotated out, still
-- signing during their grace period.

-- signing_secrets --
-- The account's signing secrets not yet expired, the current one (no expires_at) first.
SELECT id, secret, created_at, expires_at FROM webhook_secrets
 WHERE account_id = %(account_id)s AND (expires_at IS NULL OR expires_at > now())
 ORDER BY expires_at IS NOT NULL, created_at DESC;

-- ensure_signing_secret --
-- The account's first secret, unless it has a current one (a concurrent first use adds none).
INSERT INTO webhook_secrets (account_id, secret) VALUES (%(account_id)s, %(secret)s)
ON CONFLICT (account_id) WHERE expires_at IS NULL DO NOTHING;

-- lock_signing_secrets --
-- Serialises rotations of one account's secret (two at once would both try to add a current one).
SELECT pg_advisory_xact_lock(hashtext('webhook_secrets:' || %(account_id)s::text));

-- retire_signing_secret --
-- A rotation: the current secret stays valid until now + the grace period; long-expired ones go.
WITH retired AS (
    UPDATE webhook_secrets SET expires_at = now() + make_interval(secs => %(grace_seconds)s)
     WHERE account_id = %(account_id)s AND expires_at IS NULL
)
DELETE FROM webhook_secrets WHERE account_id = %(account_id)s AND expires_at <= now();

-- insert_signing_secret --
-- The account's new current secret (after retire_signing_secret in the same transaction).
INSERT INTO webhook_secrets (account_id, secret) VALUES (%(account_id)s, %(secret)s)
RETURNING id, secret, created_at, expires_at;
