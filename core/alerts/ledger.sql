-- The delivery of alert messages (core/alerts/ledger.py): their rows in the delivery ledger
-- (`deliveries` with `alert_message_id`), made with the message by migration 0019's alert_event.
-- A row is claimed (`sending`, with a lease) before it is sent and recorded after, each a
-- compare-and-set, so a row that was sent is never sent again.

-- claim_alert_messages_to_push --
-- Lock up to %(limit)s alert messages with a row due to send whose job is not in flight: never pushed, pushed before that row's retry came due, or pushed longer ago than %(repush)s seconds (the job was lost with Redis, or is still waiting behind a backlog: a second job finds nothing left to claim). Served by alert_messages_undone_idx.
SELECT m.id::text
  FROM alert_messages m
 WHERE m.done_at IS NULL
   AND EXISTS (SELECT 1 FROM deliveries d
                WHERE d.alert_message_id = m.id AND d.status = 'pending' AND d.not_before <= now()
                  AND (m.pushed_at IS NULL OR m.pushed_at < d.not_before
                       OR m.pushed_at < now() - make_interval(secs => %(repush)s)))
 ORDER BY m.created_at
 LIMIT %(limit)s
   FOR UPDATE OF m SKIP LOCKED;

-- mark_alert_messages_pushed --
-- Their jobs are pushed in this transaction.
UPDATE alert_messages SET pushed_at = now() WHERE id = ANY(%(ids)s::uuid[]);

-- recover_alert_sends --
-- Rows whose sender's lease ran out (its worker was killed or lost mid-send): whether the receiver got it is unknown. With %(resend)s (UNKNOWN_OUTCOME=resend) back to pending, due now, sent again with the same message id; else failed, never sent again. Returns their messages.
UPDATE deliveries
   SET status = CASE WHEN %(resend)s THEN 'pending' ELSE 'failed' END,
       unknown_outcomes = unknown_outcomes + 1, lease_expires_at = NULL, not_before = now(), updated_at = now(),
       last_error = CASE WHEN %(resend)s
                         THEN 'outcome unknown: the worker sending it was lost mid-send; sent again with the same message id'
                         ELSE 'outcome unknown: the worker sending it was lost mid-send; not sent again, to avoid a duplicate'
                    END
 WHERE alert_message_id IS NOT NULL AND status = 'sending' AND lease_expires_at < now()
RETURNING alert_message_id::text;

-- mark_alert_messages_done --
-- Messages none of whose rows is unfinished any more.
UPDATE alert_messages m SET done_at = now()
 WHERE m.id = ANY(%(ids)s::uuid[]) AND m.done_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_message_id = m.id AND d.status IN ('pending', 'sending'));

-- alert_message_for_delivery --
-- One alert message with what composing it needs: its incident, its schedule, its run, and the run's failed targets (a delivery_failed run names them).
SELECT m.id::text, m.event, m.cause, m.detail, m.failures, m.created_at, m.run_id::text,
       a.id::text AS alert_id, a.opened_by, a.opened_at, a.closed_at, a.failures AS alert_failures,
       a.last_error AS alert_last_error,
       s.id::text AS schedule_id, s.account_id::text, s.name AS schedule_name, s.timezone, s.task, s.cadence,
       r.scheduled_for, r.trigger, r.status AS run_status, r.attempt AS run_attempt, r.finished_at AS run_finished_at,
       (SELECT json_agg(json_build_object('channel', d.channel, 'target', d.target, 'error', d.last_error)
                        ORDER BY d.channel, d.target)
          FROM deliveries d WHERE d.run_id = m.run_id AND d.status = 'failed') AS failed_targets
  FROM alert_messages m
  JOIN alerts a ON a.id = m.alert_id
  JOIN schedules s ON s.id = m.schedule_id
  LEFT JOIN schedule_runs r ON r.id = m.run_id
 WHERE m.id = %(id)s;

-- claim_alert_delivery --
-- Claim the message's next row due to send (pending -> sending, with a lease, one more attempt), committed before it is sent. No row: nothing is left to send now.
UPDATE deliveries AS d
   SET status = 'sending', attempts = d.attempts + 1, lease_expires_at = now() + make_interval(secs => %(lease)s),
       updated_at = now()
 WHERE d.id = (SELECT p.id FROM deliveries p
                WHERE p.alert_message_id = %(id)s AND p.status = 'pending' AND p.not_before <= now()
                ORDER BY p.created_at, p.channel, p.target
                LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING d.id::text, d.channel, d.target, d.message_id, d.attempts, d.created_at;

-- record_alert_delivery --
-- The outcome of one send by the claim that holds the row (its attempt): sent, pending again after %(delay)s seconds (a transient failure), or failed.
UPDATE deliveries
   SET status = %(status)s, last_error = %(error)s, updated_at = now(), lease_expires_at = NULL,
       sent_at = CASE WHEN %(status)s = 'sent' THEN now() ELSE sent_at END,
       not_before = CASE WHEN %(status)s = 'pending' THEN now() + make_interval(secs => %(delay)s) ELSE not_before END
 WHERE id = %(delivery_id)s AND status = 'sending' AND attempts = %(attempts)s;
