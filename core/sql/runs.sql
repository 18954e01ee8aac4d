-- Runs (the audit trail) as the API reads and creates them, inside a tenant transaction.

-- insert_manual_run --
-- A "run now": a pending manual run of one schedule (under its current version), ready to push at once (not_before). Its insert notifies the tickers (schedule_runs_added), and the first awake pushes its job.
INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for, created_at, not_before,
                           schedule_version)
SELECT %(schedule_id)s, %(account_id)s, 'pending', 'manual', %(now)s, %(now)s, %(now)s, version
  FROM schedules WHERE id = %(schedule_id)s
RETURNING *;

-- list_schedule_runs --
-- A schedule's runs, newest first, optionally of one status and trigger, for occurrences (scheduled_for) from..to, and older than the run `before` (a cursor: the previous page's last run; one of another schedule matches nothing). Served by schedule_runs_schedule_created_idx.
SELECT * FROM schedule_runs
WHERE schedule_id = %(schedule_id)s AND account_id = %(account_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(trigger)s::text IS NULL OR trigger = %(trigger)s)
  AND (%(from)s::timestamptz IS NULL OR scheduled_for >= %(from)s::timestamptz)
  AND (%(to)s::timestamptz IS NULL OR scheduled_for <= %(to)s::timestamptz)
  AND (%(before)s::uuid IS NULL OR (created_at, id) < (
        SELECT c.created_at, c.id FROM schedule_runs c
         WHERE c.id = %(before)s::uuid AND c.schedule_id = %(schedule_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- run_stats --
-- The tenant's runs in all, succeeded and failed, for GET /v1/schedules/stats.
SELECT count(*) AS total_runs,
       count(*) FILTER (WHERE status = 'succeeded') AS successful_runs,
       count(*) FILTER (WHERE status IN ('failed', 'delivery_failed')) AS failed_runs
FROM schedule_runs
WHERE account_id = %(account_id)s;

-- get_run --
-- One run of one schedule (none when it is another tenant's or another schedule's).
SELECT * FROM schedule_runs
WHERE id = %(run_id)s AND schedule_id = %(schedule_id)s AND account_id = %(account_id)s;

-- list_run_deliveries --
-- The delivery ledger of one run: one row per (channel, target), in the order they were made.
SELECT id, channel, target, status, attempts, last_error, message_id, sent_at, created_at, updated_at
FROM deliveries
WHERE run_id = %(run_id)s AND account_id = %(account_id)s
ORDER BY created_at, channel, target;

-- insert_backfill_runs --
-- Backfill: one pending run per occurrence (ready to push at once), marked trigger backfill, under the schedule's current version; an occurrence that already has a backfill run (schedule_runs_backfill_uniq) or a scheduled one is left alone, so asking twice creates nothing new. Returns the runs made.
INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for, created_at, not_before,
                           schedule_version)
SELECT %(schedule_id)s, %(account_id)s, 'pending', 'backfill', o.at, %(now)s, %(now)s, %(version)s
  FROM unnest(%(occurrences)s::timestamptz[]) AS o (at)
 WHERE NOT EXISTS (SELECT 1 FROM schedule_runs r
                    WHERE r.schedule_id = %(schedule_id)s AND r.scheduled_for = o.at AND r.trigger = 'schedule')
 ORDER BY o.at
ON CONFLICT (schedule_id, scheduled_for) WHERE trigger = 'backfill' DO NOTHING
RETURNING *;
