-- Resends (core/runs/resend.py): a run's stored result delivered again, to all or some of the targets
-- of its ledger, as a run of its own (trigger 'resend') that the worker delivers like any run, with a
-- ledger made here. Every query runs in the tenant's transaction.

-- resend_source --
-- The run to resend, of this schedule and tenant, locked (two resends of one run at once are made one after the other): the original when it is itself a resend (its resend_of), with its stored result.
SELECT o.id::text, o.schedule_id::text, o.status, o.scheduled_for, o.result, o.result_hash, o.result IS NOT NULL AS has_result
  FROM schedule_runs r
  JOIN schedule_runs o ON o.id = COALESCE(r.resend_of, r.id)
 WHERE r.id = %(run_id)s AND r.schedule_id = %(schedule_id)s AND r.account_id = %(account_id)s
   FOR UPDATE OF o;

-- resend_targets --
-- The targets of a run's own ledger (its resends' rows aside), each once, with the id of the schedule's channel it went to (NULL for email, or for a channel removed since).
SELECT d.channel, d.target,
       (SELECT c.id::text FROM schedule_channels c
         WHERE c.schedule_id = %(schedule_id)s AND c.type = d.channel AND c.url = d.target
         ORDER BY c.position LIMIT 1) AS channel_id
  FROM deliveries d
 WHERE d.run_id = %(run_id)s AND d.account_id = %(account_id)s
 ORDER BY d.created_at, d.channel, d.target;

-- insert_resend_deliveries --
-- The resend's ledger, made now: one row per target, pending, or suppressed for an address that unsubscribed (the worker checks again before sending).
INSERT INTO deliveries (run_id, account_id, channel, target, message_id, status)
SELECT %(run_id)s, %(account_id)s, u.channel, u.target, u.message_id,
       CASE WHEN u.channel = 'email' AND EXISTS (SELECT 1 FROM email_suppressions s
                                                  WHERE s.account_id = %(account_id)s
                                                    AND lower(s.email) = lower(u.target))
            THEN 'suppressed' ELSE 'pending' END
  FROM unnest(%(channels)s::text[], %(targets)s::text[], %(message_ids)s::text[]) AS u (channel, target, message_id)
RETURNING id, channel, target, status;
