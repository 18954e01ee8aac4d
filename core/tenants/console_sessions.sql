-- The console's sessions (core/tenants/console_sessions.py): a row per signed-in browser.

-- start_console_session --
-- A new session; the id's SHA-256 only (the cookie holds the id itself).
INSERT INTO console_sessions (id_hash, account_id, created_at, last_seen_at)
VALUES (%(id_hash)s, %(account_id)s, %(now)s, %(now)s);

-- touch_console_session --
-- The session, when it is still alive (neither idle too long nor too old), marked as seen now;
-- nothing when it was ended, expired or never existed.
UPDATE console_sessions
   SET last_seen_at = %(now)s
 WHERE id_hash = %(id_hash)s
   AND account_id = %(account_id)s
   AND last_seen_at > %(now)s::timestamptz - make_interval(secs => %(idle_seconds)s)
   AND created_at > %(now)s::timestamptz - make_interval(secs => %(max_age_seconds)s)
RETURNING created_at;

-- end_console_session --
-- Sign-out: this session only.
DELETE FROM console_sessions WHERE id_hash = %(id_hash)s AND account_id = %(account_id)s;

-- end_all_console_sessions --
-- "Sign out everywhere": every session of the account.
DELETE FROM console_sessions WHERE account_id = %(account_id)s;

-- prune_console_sessions --
-- Forget the account's sessions that can no longer sign anyone in (run at each sign-in).
DELETE FROM console_sessions
 WHERE account_id = %(account_id)s
   AND (last_seen_at <= %(now)s::timestamptz - make_interval(secs => %(idle_seconds)s)
        OR created_at <= %(now)s::timestamptz - make_interval(secs => %(max_age_seconds)s));
