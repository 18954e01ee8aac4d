-- Every run is made here, whatever its trigger (core/runs/run.py): the ticker's batches (schedule), a
-- person's "run now" (manual), a backfill's past occurrences (backfill) and a resend of a stored result
-- (resend). Each is one INSERT in its caller's transaction; the tickers push the pending runs it makes
-- (core/runs/lifecycle.py). The API's runs take their times as %(now)s from the request's clock.

-- insert_scheduled_runs --
-- The batch's runs, each with the schedule version it is made under (pending; missed when later than the schedule's grace; skipped_overlap or buffered by the overlap policy). An occurrence that already has a run is skipped rather than failing the batch; RETURNING says which were inserted.
INSERT INTO schedule_runs (id, schedule_id, account_id, status, trigger, scheduled_for, error, finished_at,
                           schedule_version, reasons)
SELECT id, schedule_id, account_id, status, 'schedule', scheduled_for, error, finished_at, schedule_version, reasons
  FROM unnest(%(id)s::uuid[], %(schedule_id)s::uuid[], %(account_id)s::uuid[], %(status)s::text[],
              %(scheduled_for)s::timestamptz[], %(error)s::text[], %(finished_at)s::timestamptz[],
              %(schedule_version)s::int[], %(reasons)s::jsonb[])
       AS r (id, schedule_id, account_id, status, scheduled_for, error, finished_at, schedule_version, reasons)
ON CONFLICT (schedule_id, scheduled_for) WHERE trigger = 'schedule' DO NOTHING
RETURNING id::text;

-- insert_manual_run --
-- A "run now": a pending manual run of one schedule (under its current version), ready to push at once (not_before). Its insert notifies the tickers (schedule_runs_added), and the first awake pushes its job.
INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for, created_at, not_before,
                           schedule_version)
SELECT %(schedule_id)s, %(account_id)s, 'pending', 'manual', %(now)s, %(now)s, %(now)s, version
  FROM schedules WHERE id = %(schedule_id)s
RETURNING *;

-- insert_backfill_runs --
-- Backfill: one pending run per occurrence (ready to push at once), marked trigger backfill, under the schedule's current version, its id time-ordered by its occurrence (uuid_v7, migration 0017: the runs' ids sort as they were due); an occurrence that already has a backfill run (schedule_runs_backfill_uniq) or a scheduled one is left alone, so asking twice creates nothing new. Returns the runs made.
INSERT INTO schedule_runs (id, schedule_id, account_id, status, trigger, scheduled_for, created_at, not_before,
                           schedule_version)
SELECT uuid_v7(o.at), %(schedule_id)s, %(account_id)s, 'pending', 'backfill', o.at, %(now)s, %(now)s, %(version)s
  FROM unnest(%(occurrences)s::timestamptz[]) AS o (at)
 WHERE NOT EXISTS (SELECT 1 FROM schedule_runs r
                    WHERE r.schedule_id = %(schedule_id)s AND r.scheduled_for = o.at AND r.trigger = 'schedule')
 ORDER BY o.at
ON CONFLICT (schedule_id, scheduled_for) WHERE trigger = 'backfill' DO NOTHING
RETURNING *;

-- insert_resend_run --
-- The resend's run: pending and ready to push at once (not_before), the original's result and occurrence, not counted against the plan (usage_counted), who asked. Its insert notifies the tickers, as a run-now does.
INSERT INTO schedule_runs (schedule_id, account_id, status, trigger, scheduled_for, created_at, not_before,
                           schedule_version, result, result_hash, resend_of, requested_by, usage_counted)
SELECT %(schedule_id)s, %(account_id)s, 'pending', 'resend', %(scheduled_for)s, %(now)s, %(now)s, s.version,
       o.result, o.result_hash, o.id, %(requested_by)s, TRUE
  FROM schedules s, schedule_runs o
 WHERE s.id = %(schedule_id)s AND o.id = %(run_id)s
RETURNING *;
