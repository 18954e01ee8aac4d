-- A schedule's webhook and Slack channels (core/channels.py) and the account's webhook signing
-- secrets (core/signing.py). The API runs these in a tenant transaction, the worker in a service one.

-- list_schedule_channels --
-- The channels of some schedules, in the order the client gave them.
SELECT id, schedule_id, type, url, disabled_at, disabled_reason, created_at, updated_at
  FROM schedule_channels
 WHERE schedule_id = ANY(%(schedule_ids)s::uuid[]) AND account_id = %(account_id)s
 ORDER BY schedule_id, position, created_at;

-- insert_schedule_channel --
-- One new channel of a schedule (or, if it is there already, its new position).
INSERT INTO schedule_channels (schedule_id, account_id, type, url, position)
VALUES (%(schedule_id)s, %(account_id)s, %(type)s, %(url)s, %(position)s)
ON CONFLICT (schedule_id, type, url) DO UPDATE SET position = EXCLUDED.position, updated_at = now();

-- keep_schedule_channel --
-- A channel the client named by id in an edit: kept as it is, at its new position; no row when it is not this schedule's.
UPDATE schedule_channels SET position = %(position)s, updated_at = now()
 WHERE id = %(id)s AND schedule_id = %(schedule_id)s AND account_id = %(account_id)s
RETURNING id;

-- delete_other_schedule_channels --
-- After an edit: the channels the new list no longer has.
DELETE FROM schedule_channels
 WHERE schedule_id = %(schedule_id)s AND account_id = %(account_id)s
   AND NOT (id = ANY(%(keep_ids)s::uuid[]))
   AND NOT ((type, url) IN (SELECT * FROM unnest(%(keep_types)s::text[], %(keep_urls)s::text[])));

-- enable_schedule_channel --
-- Send to a channel again after its receiver answered 410 Gone; returns the channel (none if it is not this schedule's).
UPDATE schedule_channels SET disabled_at = NULL, disabled_reason = NULL, updated_at = now()
 WHERE id = %(id)s AND schedule_id = %(schedule_id)s AND account_id = %(account_id)s
RETURNING id, schedule_id, type, url, disabled_at, disabled_reason, created_at, updated_at;

-- active_schedule_channels --
-- The channels a new run's ledger delivers to: every one of the schedule not disabled.
SELECT type, url FROM schedule_channels
 WHERE schedule_id = %(schedule_id)s AND disabled_at IS NULL
 ORDER BY position, created_at;

-- channel_for_delivery --
-- The schedule's channel a ledger row sends to, as it is now (removed: no row; disabled: disabled_at).
SELECT id, disabled_at, disabled_reason FROM schedule_channels
 WHERE schedule_id = %(schedule_id)s AND type = %(type)s AND url = %(url)s;

-- disable_schedule_channel --
-- The receiver answered 410 Gone: stop sending to it until the account enables it again.
UPDATE schedule_channels SET disabled_at = now(), disabled_reason = %(reason)s, updated_at = now()
 WHERE id = %(id)s AND disabled_at IS NULL;

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
