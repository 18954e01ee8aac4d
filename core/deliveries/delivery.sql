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
-- The first step of a delivery pass, in one statement, by the attempt that holds the run: store the task's result (when this attempt ran it: %(result)s is not NULL; a result is stored once, so a later attempt only delivers) and its content hash; make the run's ledger, once, from the recipients and channels at its first delivery (one row per target, suppressed ones marked so; a later attempt finds the rows there and adds none); and claim its first target to send (`sending` for this attempt: committed before it is sent, as claim_delivery does for the next ones). The schedule's deliver_when is judged once, when the ledger is made: `not_empty` and a result the task said is empty, or `changed` and a content hash equal to the last delivered one's (schedule_stats.delivered_hash), make every target not suppressed `skipped`, with the reason on the rows and the run. A resend's ledger was made when it was asked for, so it is never judged. Returns the targets still to send, the claimed one first (`claimed`), then the rest in the order they were made, each row with `held`; one row with `held` and no target when none is left; `held` false: the attempt no longer holds the run (nothing was written).
WITH held AS (
    UPDATE schedule_runs AS r
       SET result = COALESCE(%(result)s, r.result),
           result_hash = COALESCE(%(result_hash)s::text, r.result_hash),
           skip_reason = CASE
               WHEN r.skip_reason IS NOT NULL OR EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = r.id)
               THEN r.skip_reason
               WHEN %(deliver_when)s::text = 'not_empty' AND %(empty)s::boolean
               THEN 'the task said its result is empty (deliver_when: not_empty)'
               WHEN %(deliver_when)s::text = 'changed'
                AND COALESCE(%(result_hash)s::text, r.result_hash) = (SELECT st.delivered_hash FROM schedule_stats st
                                                                       WHERE st.schedule_id = r.schedule_id)
               THEN 'the result is the same as the last delivered one (deliver_when: changed)'
           END
     WHERE id = %(run_id)s AND status = 'running' AND attempt = %(attempt)s
    RETURNING id, skip_reason
), new_ledger AS (
    SELECT t.channel, t.target, t.message_id, t.suppressed, t.skipped,
           NOT t.suppressed AND NOT t.skipped
               AND row_number() OVER (PARTITION BY t.suppressed ORDER BY t.channel, t.target) = 1 AS first
      FROM (SELECT u.channel, u.target, u.message_id,
                   u.channel = 'email' AND EXISTS (SELECT 1 FROM email_suppressions s
                                                    WHERE s.account_id = %(account_id)s
                                                      AND lower(s.email) = lower(u.target)) AS suppressed,
                   (SELECT skip_reason FROM held) IS NOT NULL AS skipped
              FROM unnest(%(channels)s::text[], %(targets)s::text[], %(message_ids)s::text[])
                   AS u (channel, target, message_id)) AS t
     WHERE EXISTS (SELECT 1 FROM held)
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.run_id = %(run_id)s)
), made AS (
    INSERT INTO deliveries (run_id, account_id, channel, target, message_id, status, attempts, sending_attempt,
                            skip_reason)
    SELECT %(run_id)s, %(account_id)s, channel, target, message_id,
           CASE WHEN suppressed THEN 'suppressed' WHEN skipped THEN 'skipped' WHEN first THEN 'sending' ELSE 'pending' END,
           CASE WHEN first THEN 1 ELSE 0 END, CASE WHEN first THEN %(attempt)s END,
           CASE WHEN skipped AND NOT suppressed THEN (SELECT skip_reason FROM held) END
      FROM new_ledger
    ON CONFLICT (run_id, channel, target) DO NOTHING
    RETURNING id, channel, target, message_id, created_at, status
), claimed AS (  -- a ledger an earlier attempt made: its first pending target
    UPDATE deliveries AS d
       SET status = 'sending', sending_attempt = %(attempt)s, attempts = d.attempts + 1, updated_at = now()
     WHERE d.id = (SELECT p.id FROM deliveries p WHERE p.run_id = %(run_id)s AND p.status = 'pending'
                    ORDER BY p.created_at, p.channel, p.target LIMIT 1)
       AND d.status = 'pending'
       AND EXISTS (SELECT 1 FROM held)
    RETURNING d.id, d.channel, d.target, d.message_id, d.created_at, d.status
), pending AS (
    SELECT * FROM made WHERE status IN ('pending', 'sending')
     UNION ALL
    SELECT * FROM claimed
     UNION ALL  -- the rest of an earlier attempt's ledger (this statement's snapshot holds neither `made`'s rows nor `claimed`'s change)
    SELECT id, channel, target, message_id, created_at, status FROM deliveries
     WHERE run_id = %(run_id)s AND status = 'pending' AND EXISTS (SELECT 1 FROM held)
       AND id NOT IN (SELECT id FROM claimed)
)
SELECT EXISTS (SELECT 1 FROM held) AS held,
       p.id::text, p.channel, p.target, p.message_id, p.created_at, p.status = 'sending' AS claimed
  FROM (SELECT 1) AS one
  LEFT JOIN pending p ON TRUE
 ORDER BY p.status = 'sending' DESC, p.created_at, p.channel, p.target;

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
-- Targets an attempt up to this one was sending when its worker was lost, between handing the message over and recording the answer: whether they got it is unknown. With %(resend)s (UNKNOWN_OUTCOME=resend) they go back to pending, to be sent again with the same message id (the Message-ID or webhook-id receivers drop a repeat by); else they fail, never sent again. Either way `unknown_outcomes` records it.
UPDATE deliveries
   SET status = CASE WHEN %(resend)s THEN 'pending' ELSE 'failed' END,
       unknown_outcomes = unknown_outcomes + 1, updated_at = now(), sending_attempt = NULL,
       last_error = CASE WHEN %(resend)s
                         THEN 'outcome unknown: the worker sending it was lost mid-send; sent again with the same message id'
                         ELSE 'outcome unknown: the worker sending it was lost mid-send; not sent again, to avoid a duplicate'
                    END
 WHERE run_id = %(run_id)s AND status = 'sending' AND sending_attempt <= %(through_attempt)s;

-- give_up_pending_deliveries --
-- The run may not be retried any more: what is still pending will not be sent.
UPDATE deliveries
   SET status = 'failed', updated_at = now(), last_error = COALESCE(last_error, '') || %(why)s
 WHERE run_id = %(run_id)s AND status = 'pending';

-- delivery_summary --
-- How the run's ledger stands, for its final status and log line (the function is migration 0014's).
SELECT total, sent, suppressed, failed, unfinished, pending_attempts, last_error FROM ledger_summary(%(run_id)s);
