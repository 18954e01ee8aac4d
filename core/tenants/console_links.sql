-- The sign-in links of the console (core/tenants/console_links.py): each used once.

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
