-- A schedule's runs as the API and the console read them (core/runs/reads.py): pages of history, one run with
-- its delivery ledger and resends. Every query runs inside core.ops.db.tenant_transaction (row-level
-- security confines it to one tenant); the explicit account_id keeps the plans on the (account_id, ...) indexes.

-- list_schedule_runs --
-- A schedule's runs, the latest due first (scheduled_for; one without, by when it was made), optionally of one status and trigger (resends, trigger resend, only when asked for: they show under the run they resend), for occurrences (scheduled_for) from..to, and after the run `before` in that order (a cursor: the previous page's last run; one of another schedule matches nothing). Served by schedule_runs_schedule_due_idx (migration 0017).
SELECT * FROM schedule_runs
WHERE schedule_id = %(schedule_id)s AND account_id = %(account_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (trigger = %(trigger)s OR %(trigger)s::text IS NULL AND trigger <> 'resend')
  AND (%(from)s::timestamptz IS NULL OR scheduled_for >= %(from)s::timestamptz)
  AND (%(to)s::timestamptz IS NULL OR scheduled_for <= %(to)s::timestamptz)
  AND (%(before)s::uuid IS NULL OR (COALESCE(scheduled_for, created_at), id) < (
        SELECT COALESCE(c.scheduled_for, c.created_at), c.id FROM schedule_runs c
         WHERE c.id = %(before)s::uuid AND c.schedule_id = %(schedule_id)s))
ORDER BY COALESCE(scheduled_for, created_at) DESC, id DESC
LIMIT %(limit)s;

-- get_run --
-- One run of one schedule (none when it is another tenant's or another schedule's).
SELECT * FROM schedule_runs
WHERE id = %(run_id)s AND schedule_id = %(schedule_id)s AND account_id = %(account_id)s;

-- list_run_deliveries --
-- The delivery ledger of one run: one row per (channel, target), in the order they were made, then its resends' rows (runs with trigger resend), each with `resend_id` and who asked (`requested_by`).
SELECT d.id, d.channel, d.target, d.status, d.attempts, d.unknown_outcomes, d.last_error, d.skip_reason,
       d.message_id, d.sent_at, d.created_at, d.updated_at,
       CASE WHEN r.resend_of IS NOT NULL THEN r.id END AS resend_id,
       CASE WHEN r.resend_of IS NOT NULL THEN r.requested_by END AS requested_by
FROM deliveries d
JOIN schedule_runs r ON r.id = d.run_id
WHERE (r.id = %(run_id)s OR r.resend_of = %(run_id)s) AND d.account_id = %(account_id)s
ORDER BY d.created_at, d.channel, d.target;

-- list_run_resends --
-- The resends of one run (runs with trigger resend), oldest first.
SELECT id, status, requested_by, created_at, finished_at, error
FROM schedule_runs
WHERE resend_of = %(run_id)s AND account_id = %(account_id)s
ORDER BY created_at, id;

-- list_runs_deliveries --
-- The delivery ledger of several runs at once (a page of run history), in the order they were made; a run's resends' rows (trigger resend) come under the run they resend, with `resend_id` and who asked (`requested_by`).
SELECT COALESCE(r.resend_of, d.run_id) AS run_id, d.id, d.channel, d.target, d.status, d.attempts,
       d.unknown_outcomes, d.last_error, d.skip_reason, d.message_id, d.sent_at, d.created_at, d.updated_at,
       r.resend_of IS NOT NULL AS resent, CASE WHEN r.resend_of IS NOT NULL THEN r.id END AS resend_id,
       CASE WHEN r.resend_of IS NOT NULL THEN r.requested_by END AS requested_by
FROM deliveries d
JOIN schedule_runs r ON r.id = d.run_id
WHERE (r.id = ANY(%(run_ids)s) OR r.resend_of = ANY(%(run_ids)s)) AND d.account_id = %(account_id)s
ORDER BY d.created_at, d.channel, d.target;
