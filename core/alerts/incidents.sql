-- Alert incidents and their messages as tenants read them (core/alerts/incidents.py), a schedule's
-- alert switch, and the ticker's pass for stale schedules. The incidents themselves are opened,
-- counted and closed by migration 0019's alert_event, in the transaction of each event.

-- list_alerts --
-- The account's incidents, newest first, with their schedule's name; filtered by status, schedule and incident (NULL: any); `before` an incident id (the previous page's last) for the next page. Served by alerts_account_idx.
SELECT a.id, a.schedule_id, s.name AS schedule_name, a.status, a.opened_by, a.failures, a.first_run_id,
       a.last_run_id, a.last_error, a.opened_at, a.updated_at, a.closed_at, a.closed_run_id
  FROM alerts a
  JOIN schedules s ON s.id = a.schedule_id
 WHERE a.account_id = %(account_id)s
   AND (%(status)s::text IS NULL OR a.status = %(status)s::text)
   AND (%(schedule_id)s::uuid IS NULL OR a.schedule_id = %(schedule_id)s::uuid)
   AND (%(alert_id)s::uuid IS NULL OR a.id = %(alert_id)s::uuid)
   AND (%(before)s::uuid IS NULL
        OR (a.opened_at, a.id) < (SELECT b.opened_at, b.id FROM alerts b
                                   WHERE b.id = %(before)s::uuid AND b.account_id = %(account_id)s))
 ORDER BY a.opened_at DESC, a.id DESC
 LIMIT %(limit)s;

-- alert_messages_of --
-- The messages of these incidents, oldest first, each with its delivery ledger rows (their targets as stored: core/alerts/incidents.py masks a secret URL).
SELECT m.id, m.alert_id, m.event, m.cause, m.run_id, m.detail, m.failures, m.created_at, m.done_at,
       COALESCE((SELECT json_agg(json_build_object(
                    'channel', d.channel,
                    'target', d.target,
                    'status', d.status, 'attempts', d.attempts, 'last_error', d.last_error,
                    'unknown_outcomes', d.unknown_outcomes, 'sent_at', d.sent_at, 'not_before', d.not_before)
                    ORDER BY d.channel, d.target)
                   FROM deliveries d WHERE d.alert_message_id = m.id), '[]') AS deliveries
  FROM alert_messages m
 WHERE m.account_id = %(account_id)s AND m.alert_id = ANY(%(alert_ids)s::uuid[])
 ORDER BY m.created_at, m.id;

-- schedule_alerts_enabled --
-- Whether the schedule's alerts are on; no row: no such schedule for this account.
SELECT s.id AS schedule_id,
       NOT EXISTS (SELECT 1 FROM schedule_alerts_off o WHERE o.schedule_id = s.id) AS enabled
  FROM schedules s
 WHERE s.id = %(schedule_id)s AND s.account_id = %(account_id)s;

-- turn_schedule_alerts_off --
-- The schedule's events open no incident and add no message from now on.
INSERT INTO schedule_alerts_off (schedule_id, account_id)
SELECT s.id, s.account_id FROM schedules s WHERE s.id = %(schedule_id)s AND s.account_id = %(account_id)s
ON CONFLICT (schedule_id) DO NOTHING;

-- turn_schedule_alerts_on --
-- The schedule's events alert again.
DELETE FROM schedule_alerts_off WHERE schedule_id = %(schedule_id)s AND account_id = %(account_id)s;

-- open_stale_alerts --
-- Active schedules that stopped running (schedule_is_stale, as the health check finds them: no run for %(stale_after_days)s days, or a period and a day for a slower one) and have no open incident: each opens one (alert_event, whose message says for how long). Up to %(limit)s; returns them.
SELECT s.id::text AS schedule_id, s.name,
       alert_event(s.id, 'stale', NULL,
                   CASE WHEN s.last_run_at IS NULL
                        THEN 'no run since it was created ' || floor(extract(epoch FROM %(now)s::timestamptz - s.created_at) / 86400) || ' days ago'
                        ELSE 'no run for ' || floor(extract(epoch FROM %(now)s::timestamptz - s.last_run_at) / 86400) || ' days'
                   END, 'stale') AS done
  FROM schedules s
 WHERE s.active
   AND schedule_is_stale(s.cadence, s.created_at, s.start_at, s.last_run_at, s.interval_seconds,
                         %(now)s::timestamptz, %(stale_after_days)s)
   AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.schedule_id = s.id AND a.status = 'open')
   AND NOT EXISTS (SELECT 1 FROM schedule_alerts_off o WHERE o.schedule_id = s.id)
 LIMIT %(limit)s;
