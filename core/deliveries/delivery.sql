-- The delivery ledger (core/deliveries/delivery.py): one row per (run, channel target). A target is claimed
-- ('sending') by one attempt before it is sent and marked 'sent' after, each a compare-and-set, so a
-- target that was sent is never sent again, whichever process retries the run.

-- suppress_pending_deliveries --
-- Recipients who unsubscribed since the ledger was made are not sent to.
UPDATE deliveries AS d SET status = 'suppressed', updated_at = now()
 WHERE d.run_id = %(run_id)s AND d.status = 'pending' AND d.channel = 'email'
   AND EXISTS (SELECT 1 FROM email_suppressions s
                WHERE s.account_id = d.account_id AND lower(s.email) = lower(d.target));

-- open_deliveries --
-- The attempt that holds the run stores the task's result (when it ran the task: %(result)s is not NULL; a result is stored once, so a later attempt only delivers) and makes the run's ledger, once, from the recipients and channels at its first delivery (one pending row per target, suppressed ones marked so; a later attempt finds the rows there and adds none). Returns the targets still to send, in the order they were made, each row with `held`; one row with `held` and no target when none is left; `held` false: the attempt no longer holds the run (nothing was written). One statement for all three, as every run's first delivery needs them.
WITH held AS (
    UPDATE schedule_runs SET result = COALESCE(%(result)s, result)
     WHERE id = %(run_id)s AND status = 'running' AND attempt = %(attempt)s
    RETURNING id
), made AS (
    INSERT INTO deliveries (run_id, account_id, channel, target, status, message_id)
    SELECT %(run_id)s, %(account_id)s, t.channel, t.target,
           CASE WHEN t.channel = 'email' AND EXISTS (SELECT 1 FROM email_suppressions s
                              WHERE s.account_id = %(account_id)s AND lower(s.email) = lower(t.target))
                THEN 'suppressed' ELSE 'pending' END,
           t.message_id
      FROM unnest(%(channels)s::text[], %(targets)s::text[], %(message_ids)s::text[]) AS t (channel, target, message_id)
     WHERE EXISTS (SELECT 1 FROM held)
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = %(run_id)s)
    ON CONFLICT (run_id, channel, target) DO NOTHING
    RETURNING id, channel, target, attempts, message_id, created_at, status
), pending AS (
    SELECT id, channel, target, attempts, message_id, created_at FROM made WHERE status = 'pending'
     UNION ALL  -- the rows an earlier attempt made (this statement's snapshot does not hold `made`'s)
    SELECT id, channel, target, attempts, message_id, created_at FROM deliveries
     WHERE run_id = %(run_id)s AND status = 'pending' AND EXISTS (SELECT 1 FROM held)
)
SELECT EXISTS (SELECT 1 FROM held) AS held,
       p.id::text, p.channel, p.target, p.attempts, p.message_id, p.created_at
  FROM (SELECT 1) AS one
  LEFT JOIN pending p ON TRUE
 ORDER BY p.created_at, p.channel, p.target;

-- claim_delivery --
-- Compare-and-set pending -> sending for this attempt, only while the attempt still holds the run; no row: do not send.
UPDATE deliveries AS d
   SET status = 'sending', sending_attempt = %(attempt)s, attempts = d.attempts + 1, updated_at = now()
 WHERE d.id = %(delivery_id)s AND d.status = 'pending'
   AND EXISTS (SELECT 1 FROM schedule_runs r
                WHERE r.id = d.run_id AND r.status = 'running' AND r.attempt = %(attempt)s)
RETURNING d.attempts;

-- record_delivery --
-- The outcome of one send by the attempt that claimed it: sent, back to pending (a transient failure, to retry), or failed; with an email, its row in email_log (the log of every email attempt, sent or failed, written whether or not the attempt still holds the run: the message went out).
WITH logged AS (
    INSERT INTO email_log (account_id, schedule_id, run_id, provider, to_emails, subject, response_code, error)
    SELECT %(account_id)s::uuid, %(schedule_id)s::uuid, %(run_id)s::uuid, %(provider)s::text, ARRAY[%(to)s::text],
           %(subject)s::text, %(response_code)s::int, %(error)s::text
     WHERE %(provider)s::text IS NOT NULL
)
UPDATE deliveries
   SET status = %(status)s, last_error = %(error)s, updated_at = now(),
       sent_at = CASE WHEN %(status)s = 'sent' THEN now() ELSE sent_at END,
       sending_attempt = NULL
 WHERE id = %(delivery_id)s AND status = 'sending' AND sending_attempt = %(attempt)s;

-- abandon_unknown_deliveries --
-- Targets an attempt up to this one was sending when its worker was lost: whether they got it is unknown, so they are never sent again.
UPDATE deliveries
   SET status = 'failed', updated_at = now(), sending_attempt = NULL,
       last_error = 'outcome unknown: the worker sending it was lost mid-send; not sent again, to avoid a duplicate'
 WHERE run_id = %(run_id)s AND status = 'sending' AND sending_attempt <= %(through_attempt)s;

-- give_up_pending_deliveries --
-- The run may not be retried any more: what is still pending will not be sent.
UPDATE deliveries
   SET status = 'failed', updated_at = now(), last_error = COALESCE(last_error, '') || %(why)s
 WHERE run_id = %(run_id)s AND status = 'pending';

-- delivery_summary --
-- How the run's ledger stands, for its final status and log line (the function is migration 0014's).
SELECT total, sent, suppressed, failed, unfinished, pending_attempts, last_error FROM ledger_summary(%(run_id)s);
