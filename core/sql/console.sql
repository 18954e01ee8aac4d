-- The console's own queries: sign-in links used once, and what its pages show beyond the API's reads.

-- claim_console_login --
-- Record a sign-in link as used; returns the row only the first time (a second use gets nothing).
INSERT INTO console_logins (link_id, account_id, expires_at, used_at)
VALUES (%(link_id)s, %(account_id)s, %(expires_at)s, %(now)s)
ON CONFLICT (link_id) DO NOTHING
RETURNING link_id;

-- prune_console_logins --
-- Forget the account's used links a day past their expiry (the expiry alone refuses them then).
DELETE FROM console_logins
WHERE account_id = %(account_id)s AND expires_at < %(now)s::timestamptz - INTERVAL '1 day';

-- list_schedule_tags --
-- Every tag the account's schedules carry, for the console's tag filter.
SELECT DISTINCT tag FROM schedules, unnest(tags) AS tag
WHERE account_id = %(account_id)s
ORDER BY tag;

-- list_runs_deliveries --
-- The delivery ledger of several runs at once (a page of run history), in the order they were made.
SELECT run_id, id, channel, target, status, attempts, last_error, message_id, sent_at, created_at, updated_at
FROM deliveries
WHERE run_id = ANY(%(run_ids)s) AND account_id = %(account_id)s
ORDER BY created_at, channel, target;
