-- An account's alert settings (core/alerts/settings.py): where its alerts go, which events it wants.

-- get_alert_settings --
-- The account's settings; no row: the defaults (every event, no destination).
SELECT emails, channels, events, updated_at FROM alert_settings WHERE account_id = %(account_id)s;

-- save_alert_settings --
-- Replace the account's settings.
INSERT INTO alert_settings AS a (account_id, emails, channels, events, updated_at)
VALUES (%(account_id)s, %(emails)s, %(channels)s, %(events)s, now())
ON CONFLICT (account_id) DO UPDATE
   SET emails = EXCLUDED.emails, channels = EXCLUDED.channels, events = EXCLUDED.events, updated_at = now()
RETURNING emails, channels, events, updated_at;
